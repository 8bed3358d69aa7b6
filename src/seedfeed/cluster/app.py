"""The procrastinate app of a cluster: its queues, its tasks, their locks and retries.

Who does what (every worker runs the same code; procrastinate hands out the jobs):

- ``dispatch`` (periodic, every ``[cluster] tick``, deferred once cluster-wide by the
  database however many workers run): claims the due sources (``FOR UPDATE SKIP
  LOCKED``, at most ``[cluster] batch``), leases them (``next_fetch`` moved ahead in
  the same transaction: the row is the queueing lock, a source is never queued twice)
  and defers ``fetch`` jobs of up to ``FETCH_BATCH`` sources of one host key, each job
  with that host lock (``politeness.py``).
- ``fetch``: fetches each of its source URLs as ``seedfeed publish`` would
  (harvest.py), one transaction each: what changed is stored and, in the same
  transaction, the generation of the feeds it fills raised and their ``render`` jobs
  deferred (a queueing lock per feed: a burst of changes gives one render). A source no
  longer under the job's lease is skipped: a job run again after its worker died does
  not fetch twice what it had fetched.
- ``render``: one feed, never two at once (a lock per feed), written through
  ``outputs.py`` with its generation; then the ``site`` job (index page, OPML, the
  stylesheet, the tag and author feeds).
- ``scan`` (periodic, on workers that see the project's files): the seeds folder into
  the store, the sources folder into ``source_defs``, and a check that re-renders any
  feed whose files are missing or older than what they are made of.
- ``recover`` (periodic): procrastinate's stalled-job recovery (jobs of a worker that
  stopped beating are run again) and the removal of old finished jobs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config

if TYPE_CHECKING:
    import procrastinate
    import psycopg
    from procrastinate.jobs import Job
    from psycopg_pool import ConnectionPool

    from ..outputs import Outputs
    from .pgstore import PgStore
    from .politeness import HostSlots, PacedFetcher
    from .render import Sources

log = logging.getLogger("seedfeed")

# Queues: any worker takes CONTROL and FETCH; RENDER and FILES only a worker that sees
# the project's folders (the seeds to read back, the feeds folder to write).
CONTROL = "seedfeed.control"
FETCH = "seedfeed.fetch"
RENDER = "seedfeed.render"
FILES = "seedfeed.files"
ALL_QUEUES = (CONTROL, FETCH, RENDER, FILES)
FETCH_QUEUES = (CONTROL, FETCH)

# Task names (what the jobs table says).
DISPATCH_TASK = "seedfeed.dispatch"
FETCH_TASK = "seedfeed.fetch"
RENDER_TASK = "seedfeed.render"
SITE_TASK = "seedfeed.site"
SCAN_TASK = "seedfeed.scan"
RECOVER_TASK = "seedfeed.recover"

# Job priorities: a worker takes the highest first, whatever its queue. The periodic jobs
# and the renders go before the thousands of fetch jobs a dispatch queues (else a change
# would wait behind the whole queue to reach its feed, and the next dispatch too).
PERIODIC_PRIORITY = 20
RENDER_PRIORITY = 10
FETCH_PRIORITY = 0

# A dispatched source is not dispatched again for this long while its job waits or runs.
# A job that takes longer (8 slow sources and their pages) fetches nothing twice: a source
# dispatched again has a new lease, which the old job skips. A source whose job was lost
# without trace (a bug) is dispatched again after it.
LEASE = 15 * 60.0


# Source URLs of one host key per fetch job: procrastinate's own work per job (taking
# it, its events, finishing it: 7 rows and a third of a worker's CPU) is shared by them.
FETCH_BATCH = 8


def render_lock(name: str) -> str:
    """The lock and queueing lock of a feed's render (``SITE`` for the site's files)."""
    return f"seedfeed:render:{name}"


def tick_cron(seconds: int) -> str:
    """A procrastinate cron (seconds as a 6th field) firing every ``seconds``."""
    if seconds < 60:
        return f"* * * * * */{seconds}"
    minutes = seconds // 60
    return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"


@dataclass
class Runtime:
    """What a worker's jobs share: the configuration, a pool of connections to seedfeed's
    tables, where this worker reads the seeds, where the feeds go. Jobs get it from
    procrastinate's job context (``additional_context["seedfeed"]``)."""

    config: Config
    pool: ConnectionPool[Any]
    seeds: Path | None  # the seeds folder this worker reads; None: it does not
    outputs: Outputs
    slots: HostSlots
    _local: threading.local = field(default_factory=threading.local)
    _sources: Sources | None = None
    _sources_lock: threading.Lock = field(default_factory=threading.Lock)

    @cached_property
    def fetching(self) -> Config:
        """The configuration a fetch job gives harvest.py: its sources folder is one that
        does not exist. Which sources exist is the scan's to say (``OneSourceStore``
        ignores ``sync_sources``), and harvest would list the whole folder, 100,000
        files, to know which to keep, for each fetch."""
        nowhere = self.config.paths.state / "fetch-jobs-read-no-sources-folder"
        return replace(self.config, paths=replace(self.config.paths, sources=nowhere))

    @property
    def project(self) -> Config:
        """The configuration with the seeds where this worker reads them."""
        if self.seeds is None or self.seeds == self.config.paths.seeds:
            return self.config
        return replace(self.config, paths=replace(self.config.paths, seeds=self.seeds))

    @contextmanager
    def store(self, *, render: bool = False) -> Iterator[PgStore]:
        """A store on a pooled connection, for one job (its changes are kept by
        ``commit``, as a publish's are); for a render, a ``RenderStore``."""
        from .pgstore import PgStore, RenderStore

        with self.pool.connection() as conn:
            kind = RenderStore if render else PgStore
            store = kind(conn, self.config.cluster.schema, check=False)
            try:
                yield store
            finally:
                store.close()

    def sources(self, conn: psycopg.Connection[Any]) -> Sources:
        """The sources as the last scan read them, with the feeds they make: read again
        only when a scan changed them (100,000 definitions are not read for each render)."""
        from .render import Sources

        row = conn.execute("SELECT value FROM meta WHERE key = 'sources_fingerprint'").fetchone()
        fingerprint = str(row[0]) if row else ""
        with self._sources_lock:
            cached = self._sources
            if cached is not None and cached.fingerprint == fingerprint:
                return cached
        fresh = Sources.read(conn, self.config, fingerprint)
        with self._sources_lock:
            self._sources = fresh
        return fresh

    def fetcher(self) -> PacedFetcher:
        """This thread's fetcher (its connections are kept between jobs)."""
        fetcher: PacedFetcher | None = getattr(self._local, "fetcher", None)
        if fetcher is None:
            from .politeness import PacedFetcher

            fetcher = self._local.fetcher = PacedFetcher(self.config.fetch, self.slots)
        fetcher.postponed = None
        return fetcher


def runtime_of(context: procrastinate.JobContext) -> Runtime:
    """The worker's ``Runtime``, from a job's context."""
    runtime = context.additional_context.get("seedfeed")
    if not isinstance(runtime, Runtime):
        raise RuntimeError("a seedfeed job ran outside a seedfeed worker")
    return runtime


# --- deferring jobs inside our own transactions -----------------------------------------


def _job_manager() -> Any:
    """procrastinate's job manager, used only with a connection we give it: the jobs go
    into the database in the transaction of the changes they are for."""
    from procrastinate import SyncPsycopgConnector, manager

    return manager.JobManager(connector=SyncPsycopgConnector())


_MANAGER: Any = None


def make_job(
    task: str,
    queue: str,
    kwargs: dict[str, Any],
    *,
    lock: str | None = None,
    queueing_lock: str | None = None,
    priority: int = FETCH_PRIORITY,
) -> Job:
    """A job to defer with ``defer_jobs``."""
    from procrastinate.jobs import Job

    return Job(
        queue=queue,
        task_name=task,
        task_kwargs=kwargs,
        lock=lock,
        queueing_lock=queueing_lock,
        priority=priority,
    )


def defer_jobs(conn: psycopg.Connection[Any], jobs: Sequence[Job]) -> int:
    """Defer ``jobs`` in ``conn``'s transaction; those whose queueing lock says an equal
    job already waits are left out (that job will do). Returns how many were deferred."""
    from procrastinate.exceptions import AlreadyEnqueued

    global _MANAGER
    if _MANAGER is None:
        _MANAGER = _job_manager()
    _begin(conn)
    # Most of the time an equal job waits already (a burst of changes to one feed):
    # asking first costs one query where a refused insert costs three.
    locks = [job.queueing_lock for job in jobs if job.queueing_lock]
    if locks:
        waiting = {
            row[0]
            for row in conn.execute(
                "SELECT queueing_lock FROM procrastinate_jobs"
                " WHERE status = 'todo' AND queueing_lock = ANY(%s)",
                (locks,),
            )
        }
        jobs = [job for job in jobs if job.queueing_lock not in waiting]
    if not jobs:
        return 0
    try:
        with conn.transaction():  # a savepoint: a conflict must not undo the caller's work
            _MANAGER.batch_defer_jobs(jobs=list(jobs), connection=conn)
        return len(jobs)
    except AlreadyEnqueued:
        pass
    deferred = 0
    for job in jobs:  # one of them waits already: one by one
        try:
            with conn.transaction():
                _MANAGER.defer_job(job=job, connection=conn)
            deferred += 1
        except AlreadyEnqueued:
            continue
    return deferred


def _begin(conn: psycopg.Connection[Any]) -> None:
    """Make sure ``conn`` is inside a transaction, so that ``conn.transaction()`` is a
    savepoint of it rather than a transaction of its own."""
    from psycopg.pq import TransactionStatus

    if not conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        conn.execute("SELECT 1")


def render_job(name: str, delay: float = 0.0) -> Job:
    """The render job of one feed (``render.SITE``: of the site's own files), to run in
    ``delay`` seconds: the changes that come meanwhile are rendered with it (its queueing
    lock keeps them from queueing another), so a hot feed is rendered at most once a
    ``delay``, however fast its sources change."""
    from .render import SITE

    if name == SITE:
        task, kwargs = SITE_TASK, {}
    else:
        task, kwargs = RENDER_TASK, {"feed": name}
    job = make_job(
        task,
        RENDER,
        kwargs,
        lock=render_lock(name),
        queueing_lock=render_lock(name),
        priority=RENDER_PRIORITY,
    )
    if delay > 0:
        job = job.evolve(scheduled_at=datetime.now(UTC) + timedelta(seconds=delay))
    return job


# --- the app ------------------------------------------------------------------------------


def make_app(config: Config, *, pool_size: int = 4) -> procrastinate.App:
    """The procrastinate app of ``config``'s cluster, with seedfeed's tasks."""
    import procrastinate
    from procrastinate import RetryStrategy

    from . import tasks

    settings = config.cluster
    connector = procrastinate.PsycopgConnector(
        conninfo=settings.database, min_size=1, max_size=max(2, pool_size)
    )
    app = procrastinate.App(connector=connector)
    # A fetch that failed on the database (a restart, a serialization conflict) runs
    # again a little later; for anything else, the source's own backoff is harvest.py's.
    app.task(
        name=FETCH_TASK,
        queue=FETCH,
        pass_context=True,
        retry=RetryStrategy(
            max_attempts=5, exponential_wait=2, retry_exceptions=tasks.DATABASE_ERRORS
        ),
    )(tasks.fetch)
    # A render is not retried: the scan's check renders again, within a tick, any feed
    # whose files are older than what they are made of. (A retry could not wait in line
    # anyway: the next render of the feed, already queued, holds its queueing lock.)
    app.task(name=RENDER_TASK, queue=RENDER, pass_context=True, priority=RENDER_PRIORITY)(
        tasks.render
    )
    app.task(name=SITE_TASK, queue=RENDER, pass_context=True, priority=RENDER_PRIORITY)(tasks.site)
    cron = tick_cron(settings.tick)
    for name, queue, function in (
        (DISPATCH_TASK, CONTROL, tasks.dispatch),
        (SCAN_TASK, FILES, tasks.scan),
        (RECOVER_TASK, CONTROL, tasks.recover),
    ):
        task = app.task(name=name, queue=queue, pass_context=True)(function)
        # Deferred once per tick by whichever worker's deferrer comes first (the
        # database refuses the others); never two waiting, never two running.
        app.periodic(cron=cron, queueing_lock=name, lock=name, priority=PERIODIC_PRIORITY)(task)
    return app
