"""Benchmark a cluster: ``--workers`` worker processes (default 3) on this machine, a
throwaway PostgreSQL, ``--sources`` RSS sources (default 10,000) on a loopback origin of
``--hosts`` hosts (127.0.0.2, ...), every source due every minute (``[schedule] cron =
"* * * * *"``: 10,000 a minute is 167 fetches a second, sustained).

Phases:

* cold: every source is new; the time until all are fetched once (feeds parsed, three
  entries each stored, feeds rendered);
* steady: ``--minutes`` whole minutes after that. Meanwhile ``--changes`` sources a
  minute get a new item, at random moments; a watcher reads the feed files to see when
  each new item appears.

Printed: fetches per second (cold, and sustained in the steady minutes), duplicate
fetches (a URL fetched twice in one minute), lost sources (never fetched in a minute),
requests to one host at once (at most ``per_host`` = 1), the time from a source changing
to its feed changing (median, p95; and split into waiting for the next fetch and the
fetch-to-feed part), PostgreSQL rows written per fetch (``pg_stat_database``), and the
CPU seconds per fetch of the workers, PostgreSQL and the origin (``/proc``): what
bottlenecks first.

Usage: ``python bench/bench_cluster.py [--sources 10000] [--hosts 100] [--workers 3]
[--concurrency 8] [--minutes 3] [--changes 100] [--host-interval 0] [--tick 5]
[--render-delay 5] [--not-durable]``
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cluster_helpers import ITEMS, Cluster, OriginProcess, write_project
from pg_fixture import PgServer, start_postgres

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of processes (threads included), from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def postgres_pids(server: PgServer) -> list[int]:
    """The postmaster and its children."""
    try:
        master = int((server.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == master:
                pids.append(int(entry.name))
    return pids


def rows_written(cluster: Cluster) -> int:
    (row,) = cluster.query(
        "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database"
        " WHERE datname = current_database()"
    )
    return int(row[0])


def table_writes(cluster: Cluster) -> dict[str, int]:
    rows = cluster.query(
        "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
    )
    return {name: int(count) for name, count in rows}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Watcher(threading.Thread):
    """Sees when each changed source's new item appears in its host's feed file."""

    def __init__(self, feeds: Path, hosts: int) -> None:
        super().__init__(daemon=True)
        self.feeds = feeds
        self.hosts = hosts
        self.waiting: dict[tuple[int, int], float] = {}  # (feed, item) -> when changed
        self.seen: dict[tuple[int, int], float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def expect(self, feed: int, item: int, changed_at: float) -> None:
        with self.lock:
            self.waiting[(feed, item)] = changed_at

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                pending = dict(self.waiting)
            by_file: dict[Path, list[tuple[int, int]]] = defaultdict(list)
            for feed, item in pending:
                by_file[self.feeds / f"h{feed % self.hosts}.atom.xml"].append((feed, item))
            for path, keys in by_file.items():
                try:
                    text = path.read_text()
                except OSError:
                    continue
                now = time.time()
                for feed, item in keys:
                    if f"/article/{feed}/{item}<" in text or f'/article/{feed}/{item}"' in text:
                        with self.lock:
                            self.waiting.pop((feed, item), None)
                            self.seen[(feed, item)] = now
            self.stop.wait(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--changes", type=int, default=100, help="sources changed a minute")
    parser.add_argument("--host-interval", type=float, default=0.0)
    parser.add_argument("--tick", type=int, default=5)
    parser.add_argument("--render-delay", type=float, default=5.0)
    parser.add_argument("--not-durable", action="store_true", help="fsync=off (faster)")
    args = parser.parse_args()

    server = start_postgres(durable=not args.not_durable)
    folder = Path(tempfile.mkdtemp(prefix="seedfeed-bench-cluster-"))
    print(
        f"{args.sources:,} sources on {args.hosts} hosts, {args.workers} workers x"
        f" {args.concurrency} jobs, {os.cpu_count()} CPUs; PostgreSQL"
        f" {'durable (fsync, synchronous commits)' if not args.not_durable else 'fsync=off'}"
    )
    origin = OriginProcess(args.hosts, args.sources, folder)
    cluster: Cluster | None = None
    try:
        database = server.create_database("bench")
        root = write_project(
            folder / "project",
            origin,
            database=database,
            tick=args.tick,
            host_interval=args.host_interval,
            heartbeat=5,
            render_delay=args.render_delay,
        )
        config = root / "config.toml"
        config.write_text(config.read_text().replace('cron = "0 0 1 1 *"', 'cron = "* * * * *"'))
        cluster = Cluster(root, database)
        cluster.init()
        started = time.time()
        for number in range(args.workers):
            cluster.start(f"w{number + 1}", "--concurrency", str(args.concurrency), verbose=False)
        # --- cold --------------------------------------------------------------------
        while cluster.progress()["fetched"] < args.sources:
            time.sleep(0.5)
        cold = time.time() - started
        cold_requests = [r for r in origin.requests() if r[0].startswith("/feed/")]
        print(
            f"cold: {args.sources:,} sources fetched in {cold:.1f} s (workers started included):"
            f" {args.sources / cold:.0f} fetches/s"
        )
        # --- steady ------------------------------------------------------------------
        window_start = (int(time.time()) // 60 + 1) * 60
        time.sleep(max(0.0, window_start - time.time()))
        origin.call("/reset")
        workers = [process.pid for process in cluster.workers.values()]
        cpu_before = {
            "workers": cpu_seconds(workers),
            "postgres": cpu_seconds(postgres_pids(server)),
            "origin": cpu_seconds([origin.process.pid]),
        }
        rows_before, tables_before = rows_written(cluster), table_writes(cluster)
        watcher = Watcher(root / "feeds", args.hosts)
        watcher.start()
        versions: Counter[int] = Counter()
        changes: list[tuple[int, int, float]] = []
        rng = random.Random(7)
        window_end = window_start + 60 * args.minutes
        # Changes stop 60 s before the end: each has a fetch (and a render) to show.
        changes_end = window_end - 60
        interval = 60 / max(args.changes, 1)
        next_change = time.time()
        while time.time() < window_end:
            now = time.time()
            if now >= next_change and now < changes_end:
                feed = rng.randrange(args.sources)
                at = origin.call(f"/change?feeds={feed}")["at"]
                versions[feed] += 1
                item = versions[feed] + ITEMS - 1  # the newest item of the new version
                watcher.expect(feed, item, at)
                changes.append((feed, item, at))
                next_change += interval
            time.sleep(0.01)
        cpu_after = {
            "workers": cpu_seconds(workers),
            "postgres": cpu_seconds(postgres_pids(server)),
            "origin": cpu_seconds([origin.process.pid]),
        }
        time.sleep(1.5)  # statistics are reported by backends within a second
        rows_after, tables_after = rows_written(cluster), table_writes(cluster)
        deadline = time.time() + 90
        while watcher.waiting and time.time() < deadline:
            time.sleep(0.5)
        watcher.stop.set()
        requests = [r for r in origin.requests() if r[0].startswith("/feed/")]
        in_window = [r for r in requests if window_start <= r[2] < window_end]
        _report(args, in_window, cold_requests, window_start, window_end, changes, watcher)
        fetches = len(in_window)
        print(
            f"PostgreSQL rows written per fetch: {(rows_after - rows_before) / fetches:.1f}"
            " (inserted + updated + deleted, every table, procrastinate's included)"
        )
        per_table = {
            name: (tables_after.get(name, 0) - tables_before.get(name, 0)) / fetches
            for name in tables_after
        }
        print(
            "  by table: "
            + ", ".join(
                f"{name} {value:.2f}"
                for name, value in sorted(per_table.items(), key=lambda item: -item[1])
                if value >= 0.01
            )
        )
        seconds = window_end - window_start
        print(f"CPU per fetch (ms), and share of the {os.cpu_count()} CPUs over the window:")
        for name in cpu_before:
            used = cpu_after[name] - cpu_before[name]
            print(
                f"  {name:9s} {1000 * used / fetches:6.2f} ms"
                f"  {100 * used / seconds / (os.cpu_count() or 1):5.1f} %"
            )
        return 0
    finally:
        if cluster is not None:
            cluster.stop()
        origin.stop()
        server.remove()


def _report(
    args: Any,
    requests: list[tuple[str, str, float, float, int]],
    cold_requests: list[tuple[str, str, float, float, int]],
    window_start: float,
    window_end: float,
    changes: list[tuple[int, int, float]],
    watcher: Watcher,
) -> None:
    seconds = window_end - window_start
    statuses = Counter(status for *_rest, status in requests)
    print(
        f"steady, {args.minutes} minutes: {len(requests):,} fetches, {len(requests) / seconds:.0f}"
        f" fetches/s sustained ({statuses[304]:,} answered 304, {statuses[200]:,} 200)"
    )
    duplicates = 0
    missing = 0
    for minute in range(args.minutes):
        start = window_start + 60 * minute
        counts = Counter(r[0] for r in requests if start <= r[2] < start + 60)
        duplicates += sum(count - 1 for count in counts.values() if count > 1)
        missing += args.sources - len(counts)
    fetched = {r[0] for r in requests}
    print(
        f"duplicate fetches (a URL twice in one minute): {duplicates};"
        f" sources not fetched in a minute: {missing:,};"
        f" sources never fetched in the window (lost): {args.sources - len(fetched):,}"
    )
    by_host: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for _path, host, start, end, _status in [*cold_requests, *requests]:
        by_host[host].append((start, end))
    overlaps = 0
    gaps: list[float] = []
    for times in by_host.values():
        times.sort()
        for (start, end), (next_start, _end) in pairwise(times):
            overlaps += next_start < end
            gaps.append(next_start - start)
    print(
        f"requests to one host at once: {overlaps or 'never'}"
        f" (per_host = 1); smallest gap between two requests to a host: {min(gaps):.3f} s"
    )
    fetch_of: dict[tuple[int, int], float] = {}
    for feed, item, changed_at in changes:
        path = f"/feed/{feed}.xml"
        after = [r[2] for r in requests if r[0] == path and r[2] >= changed_at and r[4] == 200]
        if after:
            fetch_of[(feed, item)] = min(after)
    total, waiting, pipeline = [], [], []
    for feed, item, changed_at in changes:
        seen = watcher.seen.get((feed, item))
        if seen is None:
            continue
        total.append(seen - changed_at)
        if (feed, item) in fetch_of:
            waiting.append(fetch_of[(feed, item)] - changed_at)
            pipeline.append(seen - fetch_of[(feed, item)])
    if total:
        print(
            f"source change -> feed change ({len(total)} of {len(changes)} changes seen):"
            f" median {statistics.median(total):.1f} s, p95 {percentile(total, 0.95):.1f} s"
        )
        print(
            f"  of which waiting for the next fetch: median {statistics.median(waiting):.1f} s,"
            f" p95 {percentile(waiting, 0.95):.1f} s;"
            f" fetch -> feed file: median {statistics.median(pipeline):.2f} s,"
            f" p95 {percentile(pipeline, 0.95):.2f} s"
        )
    unseen = len(changes) - len(total)
    if unseen:
        print(f"  {unseen} changes never showed in their feed (a host feed shows 50 entries)")


if __name__ == "__main__":
    sys.exit(main())
