"""``seedfeed worker``: one process that runs a cluster's jobs, on any machine.

It takes jobs from the queues it can serve (``app.py``): every worker fetches and runs
the periodic dispatch and recovery; a worker that sees the project's folders (the seeds,
the sources, the feeds folder; or started with ``--seeds PATH``) also scans and renders.
``concurrency`` jobs run at once, in threads (fetching and rendering are blocking code).

One process per name: the name is held by a PostgreSQL advisory lock on a connection
of its own for the worker's life (the database releases it when that connection dies,
however the process ends). A second worker of the same name is refused.

When the database goes away (a restart, a network cut), the worker says so, waits and
connects again; its jobs cut short run again (procrastinate's stalled-job recovery).
SIGTERM or SIGINT let the running jobs finish, then the worker exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import SeedfeedError, UsageError
from .app import ALL_QUEUES, FETCH_QUEUES, Runtime, make_app

log = logging.getLogger("seedfeed")

RECONNECT_MAX = 30.0  # seconds between attempts to reach the database, at most


class WorkerNameTaken(UsageError):
    """Another worker holds this name."""


@dataclass(frozen=True)
class WorkerPlan:
    """What a worker will do, decided before it starts."""

    name: str
    queues: tuple[str, ...]
    seeds: Path | None  # where it reads the seeds; None: it does not
    concurrency: int


def plan(
    config: Config,
    *,
    name: str | None = None,
    concurrency: int = 8,
    seeds: Path | None = None,
    fetch_only: bool = False,
) -> WorkerPlan:
    """The queues a worker takes and where it reads the seeds."""
    from ..outputs import bucket_url

    name = name or f"{socket.gethostname()}-{os.getpid()}"
    if fetch_only:
        return WorkerPlan(name, FETCH_QUEUES, None, concurrency)
    if seeds is not None:
        if not seeds.is_dir():
            raise UsageError(f"{seeds}: --seeds must name a folder")
        return WorkerPlan(name, ALL_QUEUES, seeds.resolve(), concurrency)
    paths = config.paths
    folders = [paths.seeds, paths.sources]
    if bucket_url(paths.feeds) is None:
        folders.append(paths.feeds)
    if not any(folder.is_dir() for folder in folders):
        log.info("the project's folders are not on this machine: fetching only")
        return WorkerPlan(name, FETCH_QUEUES, None, concurrency)
    return WorkerPlan(name, ALL_QUEUES, paths.seeds if paths.seeds.is_dir() else None, concurrency)


def run_worker(config: Config, worker: WorkerPlan) -> int:
    """Run a worker until SIGTERM or SIGINT; returns the exit code."""
    from .pgstore import connect, schema_version

    settings = config.cluster
    with connect(settings.database, settings.schema) as conn:
        if schema_version(conn, settings.schema) == 0:
            raise UsageError("the database has no seedfeed tables: run `seedfeed cluster init`")
    return asyncio.run(_serve(config, worker))


class NameLock:
    """A worker's name, held on a connection of its own (see the module's docstring),
    with a row in ``workers`` (host, pid, last seen) for ``seedfeed status``."""

    def __init__(self, config: Config, worker: WorkerPlan) -> None:
        self.config = config
        self.worker = worker
        self.conn: Any = None

    async def acquire(self) -> None:
        """Take the name, or raise ``WorkerNameTaken`` naming who has it."""
        import psycopg

        settings = self.config.cluster
        self.conn = await psycopg.AsyncConnection.connect(
            settings.database,
            autocommit=True,
            options=f"-c search_path={settings.schema},public",
        )
        row = await (
            await self.conn.execute(
                "SELECT pg_try_advisory_lock(hashtext('seedfeed worker'), hashtext(%s))",
                (self.worker.name,),
            )
        ).fetchone()
        if not row or not row[0]:
            holder = await (
                await self.conn.execute(
                    "SELECT host, pid FROM workers WHERE name = %s", (self.worker.name,)
                )
            ).fetchone()
            await self.conn.close()
            where = f" (on {holder[0]}, pid {holder[1]})" if holder else ""
            raise WorkerNameTaken(f"a worker named {self.worker.name} is already running{where}")
        now = time.time()
        await self.conn.execute(
            "INSERT INTO workers VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE"
            " SET host = excluded.host, pid = excluded.pid, queues = excluded.queues,"
            " started_at = excluded.started_at, seen_at = excluded.seen_at",
            (
                self.worker.name,
                socket.gethostname(),
                os.getpid(),
                " ".join(self.worker.queues),
                now,
                now,
            ),
        )

    async def keep(self) -> None:
        """Say every heartbeat that the worker lives; take the name again after the
        database came back (raises ``WorkerNameTaken`` if another worker took it)."""
        import psycopg

        while True:
            await asyncio.sleep(self.config.cluster.heartbeat)
            try:
                if self.conn is None or self.conn.closed:
                    await self.acquire()
                await self.conn.execute(
                    "UPDATE workers SET seen_at = %s WHERE name = %s",
                    (time.time(), self.worker.name),
                )
            except psycopg.Error as exc:
                log.warning("worker %s: database unreachable: %s", self.worker.name, _line(exc))
                if self.conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        await self.conn.close()
                self.conn = None

    async def release(self) -> None:
        """Let the name go (the row stays, for ``status`` to say when it was last seen)."""
        import psycopg

        if self.conn is not None and not self.conn.closed:
            with contextlib.suppress(psycopg.Error):
                await self.conn.close()


async def _serve(config: Config, worker: WorkerPlan) -> int:
    import psycopg
    from procrastinate.exceptions import ProcrastinateException
    from psycopg_pool import ConnectionPool

    from .. import harvest
    from ..outputs import outputs_for
    from .politeness import HostSlots

    # In a worker, jobs run in threads beside the event loop and open connections:
    # forking extractor processes there is unsafe. The cluster's parallelism is its jobs.
    harvest.PARALLEL_PAGES = 2**62

    loop = asyncio.get_running_loop()
    loop.set_default_executor(
        ThreadPoolExecutor(worker.concurrency + 2, thread_name_prefix="seedfeed-job")
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    settings = config.cluster
    name = NameLock(config, worker)
    await name.acquire()
    pool: ConnectionPool[Any] = ConnectionPool(
        settings.database,
        kwargs={"options": f"-c search_path={settings.schema},public"},
        min_size=1,
        max_size=2 * worker.concurrency + 2,
        # No check on each checkout (a round trip per statement of HostSlots, 5 % of a
        # worker's CPU): a connection that died with the database fails its job, which
        # procrastinate retries (DATABASE_ERRORS), and the pool drops it when it is given
        # back broken.
        open=False,
    )
    await loop.run_in_executor(None, pool.open)
    runtime = Runtime(
        config=config,
        pool=pool,
        seeds=worker.seeds,
        outputs=outputs_for(config.paths.feeds),
        slots=HostSlots(pool, settings.host_interval),
    )
    app = make_app(config, pool_size=worker.concurrency // 2 + 2)
    log.info(
        "worker %s: %s; %d at once; seeds: %s",
        worker.name,
        ", ".join(worker.queues),
        worker.concurrency,
        worker.seeds or "not read here",
    )
    keeper = asyncio.create_task(name.keep())
    delay = 1.0
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await _run_once(app, runtime, worker, stop, keeper)
            except (OSError, psycopg.Error, ProcrastinateException, _Ended) as exc:
                if stop.is_set():
                    break
                if time.monotonic() - started > 60:
                    delay = 1.0  # it ran a while: a new outage
                log.error(
                    "worker %s: database unreachable (%s); trying again in %.0f s",
                    worker.name,
                    _line(exc),
                    delay,
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, RECONNECT_MAX)
        return 0
    except WorkerNameTaken as exc:  # the database came back and another took the name
        log.error("worker %s: stopping: %s", worker.name, exc)
        return 1
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError, SeedfeedError):
            await keeper
        await loop.run_in_executor(None, pool.close)
        await name.release()
        log.info("worker %s: stopped", worker.name)


class _Ended(Exception):
    """procrastinate's worker ended by itself (its database connection failed)."""


async def _run_once(
    app: Any, runtime: Runtime, worker: WorkerPlan, stop: asyncio.Event, keeper: asyncio.Task[None]
) -> None:
    """Run procrastinate's worker until ``stop`` (then its jobs finish) or until it ends
    by itself (raises: the caller connects again)."""
    heartbeat = runtime.config.cluster.heartbeat
    async with app.open_async():
        running = asyncio.create_task(
            app.run_worker_async(
                queues=list(worker.queues),
                name=worker.name,
                concurrency=worker.concurrency,
                # Finished jobs are deleted at once: the table stays small (failed
                # ones stay, for `status` and for the hourly clean-up).
                delete_jobs="successful",
                additional_context={"seedfeed": runtime},
                install_signal_handlers=False,
                update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=3 * heartbeat,
                fetch_job_polling_interval=min(5.0, heartbeat),
                abort_job_polling_interval=min(5.0, heartbeat),
            )
        )
        stopping = asyncio.create_task(stop.wait())
        done, _pending = await asyncio.wait(
            {running, stopping, keeper}, return_when=asyncio.FIRST_COMPLETED
        )
        if keeper in done:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            keeper.result()  # raises WorkerNameTaken
        if running in done:
            stopping.cancel()
            running.result()  # raises what stopped it
            if not stop.is_set():
                raise _Ended("the worker stopped by itself")
            return
        # Stopping: procrastinate's worker lets the running jobs finish when cancelled.
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
