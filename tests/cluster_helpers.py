"""Helpers of the cluster tests and benchmark (imported explicitly by both).

``OriginProcess``: a web origin of many "hosts" (loopback addresses 127.0.0.2,
127.0.0.3, ...), each serving RSS feeds, counting every request. ``Cluster``: a
project with a ``[cluster]`` section on a throwaway database, its workers as processes,
and what its database says.

The origin runs as a process of its own (so that it does not share the test's or the
workers' interpreter)::

    python tests/cluster_helpers.py --hosts 50 --feeds 2000 --control-port-file PATH

Feed ``i`` is ``http://127.0.0.<2 + i % hosts>:<port>/feed/<i>.xml``: an RSS feed of
``ITEMS`` items, dated, with an ETag (a conditional GET gets a 304). Its *version* starts
at 0; ``POST /change?feeds=1,2`` on the control address raises it, which adds a newer
item. ``POST /stats`` gives every request seen (path, host, start and end times, status)
since the last ``POST /reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request, urlopen

ITEMS = 3  # items per feed
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: every item's date is after it


def host_address(feed: int, hosts: int) -> str:
    """The loopback address that serves feed ``feed``."""
    return f"127.0.0.{2 + feed % hosts}"


def feed_url(feed: int, hosts: int, port: int) -> str:
    """The URL of feed ``feed``."""
    return f"http://{host_address(feed, hosts)}:{port}/feed/{feed}.xml"


def item_date(feed: int, item: int) -> int:
    """The POSIX date of item ``item`` of feed ``feed`` (all distinct, in order)."""
    return T0 + feed * 3600 + item * 60


def render_feed(feed: int, version: int, base: str, dates: dict[tuple[int, int], int]) -> bytes:
    """The RSS of feed ``feed`` at ``version``: items version .. version + ITEMS - 1 (an
    item added by a change is dated when the change was made: it is the newest)."""
    items = []
    for item in range(version + ITEMS - 1, version - 1, -1):
        link = f"{base}/article/{feed}/{item}"
        when = dates.get((feed, item), item_date(feed, item))
        date = format_datetime(datetime.fromtimestamp(when, UTC), usegmt=True)
        items.append(
            f"<item><title>Feed {feed} story {item}</title><link>{link}</link>"
            f"<guid>{link}</guid><pubDate>{date}</pubDate>"
            f"<description>Story {item} of feed {feed}.</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>{base}/</link><description>Feed {feed}</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


@dataclass
class Origin:
    """The server's state."""

    hosts: int
    feeds: int
    port: int = 0
    versions: dict[int, int] = field(default_factory=dict)
    dates: dict[tuple[int, int], int] = field(default_factory=dict)  # items added by changes
    log: list[tuple[str, str, float, float, int]] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    delay: float = 0.0  # seconds each feed request takes (a slow origin)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve HTTP/1.1 requests on one connection (keep-alive)."""
        host = writer.get_extra_info("sockname")[0]
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _version = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                started = time.time()
                self.in_flight[host] = self.in_flight.get(host, 0) + 1
                self.max_in_flight[host] = max(
                    self.max_in_flight.get(host, 0), self.in_flight[host]
                )
                try:
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    status, head, body = self.respond(method, target, host, headers)
                finally:
                    self.in_flight[host] -= 1
                self.log.append((urlsplit(target).path, host, started, time.time(), status))
                lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *head]
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the client went, or the origin stops
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def respond(
        self, method: str, target: str, host: str, headers: dict[str, str]
    ) -> tuple[int, list[str], bytes]:
        """Status, headers and body of one request."""
        path = urlsplit(target).path
        if not path.startswith("/feed/") or not path.endswith(".xml"):
            return 404, [], b"not found"
        try:
            feed = int(path[len("/feed/") : -len(".xml")])
        except ValueError:
            return 404, [], b"not found"
        if not 0 <= feed < self.feeds or host_address(feed, self.hosts) != host:
            return 404, [], b"not found"
        version = self.versions.get(feed, 0)
        etag = f'"{feed}-{version}"'
        if headers.get("if-none-match") == etag:
            return 304, [f"ETag: {etag}"], b""
        body = render_feed(feed, version, f"http://{host}:{self.port}", self.dates)
        return 200, [f"ETag: {etag}", "Content-Type: application/rss+xml"], body

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The control address: stats, reset, change, delay."""
        try:
            line = await reader.readline()
            _method, target, _version = line.decode("latin-1").split(" ", 2)
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            parts = urlsplit(target)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            body: Any = {"ok": True}
            if parts.path == "/stats":
                body = {"log": self.log, "max_in_flight": self.max_in_flight}
            elif parts.path == "/reset":
                self.log = []
                self.max_in_flight = {}
            elif parts.path == "/change":
                feeds = [int(f) for f in query["feeds"].split(",")]
                for feed in feeds:
                    self.versions[feed] = self.versions.get(feed, 0) + 1
                    self.dates[(feed, self.versions[feed] + ITEMS - 1)] = int(time.time())
                body = {"changed": feeds, "at": time.time()}
            elif parts.path == "/delay":
                self.delay = float(query["seconds"])
            data = json.dumps(body).encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + data)
            await writer.drain()
        finally:
            writer.close()


async def _serve(origin: Origin, control_file: Path) -> None:
    servers = []
    first = await asyncio.start_server(origin.handle, host_address(0, origin.hosts), origin.port)
    origin.port = first.sockets[0].getsockname()[1]
    servers.append(first)
    for index in range(1, min(origin.hosts, origin.feeds)):
        servers.append(
            await asyncio.start_server(
                origin.handle, host_address(index, origin.hosts), origin.port
            )
        )
    control = await asyncio.start_server(origin.control, "127.0.0.1", 0)
    control_port = control.sockets[0].getsockname()[1]
    tmp = control_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"port": origin.port, "control": control_port}))
    tmp.replace(control_file)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in [*servers, control]:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--feeds", type=int, required=True)
    parser.add_argument("--control-port-file", type=Path, required=True)
    args = parser.parse_args()
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(Origin(args.hosts, args.feeds), args.control_port_file))


class OriginProcess:
    """The origin in a process of its own, with its control calls."""

    def __init__(self, hosts: int, feeds: int, folder: Path) -> None:
        self.hosts = hosts
        self.feeds = feeds
        ports = folder / "origin-ports.json"
        ports.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--hosts", str(hosts), "--feeds", str(feeds),
             "--control-port-file", str(ports)],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not ports.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the origin did not start")
            time.sleep(0.05)
        found = json.loads(ports.read_text())
        self.port: int = found["port"]
        self.control_port: int = found["control"]

    def url(self, feed: int) -> str:
        """The URL of feed ``feed``."""
        return feed_url(feed, self.hosts, self.port)

    def call(self, path: str) -> Any:
        """A control call (``/stats``, ``/reset``, ``/change?feeds=1,2``, ``/delay?seconds=``)."""
        request = Request(f"http://127.0.0.1:{self.control_port}{path}", method="POST")
        with urlopen(request, timeout=60) as response:  # our own loopback server
            return json.loads(response.read())

    def requests(self) -> list[tuple[str, str, float, float, int]]:
        """Every request since the last reset: (path, host, start, end, status)."""
        return [tuple(item) for item in self.call("/stats")["log"]]  # type: ignore[misc]

    def __enter__(self) -> OriginProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the process."""
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        if self.process.poll() is None:
            self.process.kill()


# --- a cluster of worker processes -------------------------------------------------------

PYTHON = sys.executable
QUIET_CRON = "0 0 1 1 *"  # once a year: a source fetched in a test is not due again


def write_project(
    root: Path,
    origin: OriginProcess,
    *,
    database: str | None,
    tick: int = 1,
    host_interval: float = 0.02,
    heartbeat: float = 2.0,
    render_delay: float = 0.2,
    per_host: int = 1,
    feeds: str = "feeds",
) -> Path:
    """A project following every feed of ``origin`` (feed i fills ``all`` and the feed
    of its host, ``h<n>``); with ``[cluster]`` on ``database`` unless it is None."""
    (root / "sources").mkdir(parents=True, exist_ok=True)
    (root / "seeds").mkdir(exist_ok=True)
    for feed in range(origin.feeds):
        (root / "sources" / f"s{feed:05d}.toml").write_text(
            f'url = "{origin.url(feed)}"\nkind = "feed"\nfeed = ["all", "h{feed % origin.hosts}"]\n'
        )
    config = f"""[site]
title = "Cluster test"
base_url = "http://feeds.example.org/"

[paths]
feeds = "{feeds}"

[fetch]
allow_private = true
per_host = {per_host}
deadline = 60
read_timeout = 60

[schedule]
cron = "{QUIET_CRON}"
"""
    if database is not None:
        config += f"""
[cluster]
database = "{database}"
tick = {tick}
host_interval = {host_interval}
heartbeat = {heartbeat}
render_delay = {render_delay}
"""
    (root / "config.toml").write_text(config)
    # The date of an empty feed is the config file's: the same for every project.
    os.utime(root / "config.toml", (T0, T0))
    return root


def seedfeed(*args: str, check: bool = True, env: dict[str, str] | None = None) -> Any:
    """Run the seedfeed command with the cluster's commands (as cli.py will register them)."""
    result = subprocess.run(
        [PYTHON, "-m", "seedfeed", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"seedfeed {' '.join(args)}: {result.returncode}\n{result.stderr}")
    return result


@contextlib.contextmanager
def running_cluster(root: Path, database: str) -> Iterator[Cluster]:
    """``seedfeed cluster init`` for the project at ``root``; every worker it starts is
    stopped on the way out."""
    cluster = Cluster(root, database)
    cluster.init()
    try:
        yield cluster
    finally:
        cluster.stop()


class Cluster:
    """A project's workers and database."""

    def __init__(self, root: Path, database: str, schema: str = "seedfeed") -> None:
        self.root = root
        self.database = database
        self.schema = schema
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def init(self) -> str:
        """``seedfeed cluster init``; returns what it said."""
        return str(seedfeed("cluster", "init", "-c", str(self.root)).stdout)

    def start(
        self, name: str, *args: str, env: dict[str, str] | None = None, verbose: bool = True
    ) -> subprocess.Popen[bytes]:
        """Start a worker process (its output goes to a log file beside the project;
        ``verbose``: with -v, a line per job)."""
        log = self.root.parent / f"worker-{name}-{len(self.logs)}.log"
        self.logs[name] = log
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [PYTHON, "-m", "seedfeed", "worker", "-c", str(self.root),
                 "--name", name, *(["-v"] if verbose else []), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )  # fmt: skip
        self.workers[name] = process
        return process

    def log(self, name: str) -> str:
        """What a worker printed so far."""
        return self.logs[name].read_text(errors="replace")

    def stop(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL)."""
        for process in self.workers.values():
            if process.poll() is None:
                process.terminate()
        for process in self.workers.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows from the cluster's database (seedfeed's schema first)."""
        import psycopg

        with psycopg.connect(
            self.database, autocommit=True, options=f"-c search_path={self.schema},public"
        ) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    def progress(self) -> dict[str, int]:
        """How far the work is: sources known and fetched, jobs waiting or running (fetch
        and render), feeds waiting for a render, sources due."""
        (row,) = self.query(
            """SELECT
              (SELECT count(*) FROM fetch_state),
              (SELECT count(*) FROM fetch_state WHERE last_success IS NOT NULL),
              (SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')
                 AND queue_name IN ('seedfeed.fetch', 'seedfeed.render')),
              (SELECT count(*) FROM renders WHERE rendered < generation),
              (SELECT count(*) FROM fetch_state
                 WHERE next_fetch <= extract(epoch FROM clock_timestamp()))"""
        )
        names = ("sources", "fetched", "busy", "stale", "due")
        return dict(zip(names, (int(value) for value in row), strict=True))

    def wait_until_done(self, sources: int, timeout: float = 300) -> dict[str, int]:
        """Wait until every source is fetched and every feed rendered, nothing queued."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.progress()
            settled = state["busy"] == 0 and state["stale"] == 0 and state["due"] == 0
            if settled and state["sources"] == sources and state["fetched"] == sources:
                # Twice, a moment apart: a job may be between its commit and the next.
                time.sleep(0.5)
                again = self.progress()
                if again == state:
                    return state
            for name, process in self.workers.items():
                if process.poll() is not None and process.returncode not in (0, -9):
                    raise AssertionError(f"worker {name} died:\n{self.log(name)[-3000:]}")
            if time.monotonic() > deadline:
                logs = "\n".join(self.log(name)[-2000:] for name in self.workers)
                raise AssertionError(f"not done after {timeout} s: {state}\n{logs}")
            time.sleep(0.2)


def outputs(folder: Path) -> dict[str, bytes]:
    """Every published file below ``folder`` (not the writers' own hidden files)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


if __name__ == "__main__":
    main()
