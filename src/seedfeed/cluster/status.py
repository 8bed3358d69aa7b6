"""What ``seedfeed status`` says of a cluster: the workers alive, the queues, the due
sources, the failures per host, the feeds waiting for a render, the last run of each
periodic job. ``cluster_status`` gathers it as plain data (``--json``);
``cluster_lines`` says it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from ..config import Config
from ..dates import from_timestamp
from ..store import StoreError
from .pgstore import connect, schema_version
from .politeness import host_of
from .render import SITE

__all__ = ["cluster_lines", "cluster_status"]

FAILING_HOSTS_SHOWN = 10


def _when(seconds: float | None) -> str:
    if not seconds:
        return "never"
    return from_timestamp(seconds).strftime("%Y-%m-%d %H:%M:%S UTC")


def cluster_status(config: Config, now: float | None = None) -> dict[str, Any]:
    """The state of a cluster, from its database."""
    import psycopg

    now = time.time() if now is None else now
    settings = config.cluster
    silence = 3 * settings.heartbeat
    result: dict[str, Any] = {"project": str(config.file or config.root), "cluster": True}
    try:
        with connect(settings.database, settings.schema) as conn:
            if schema_version(conn, settings.schema) == 0:
                raise StoreError("the database has no seedfeed tables: run `seedfeed cluster init`")
            workers = conn.execute(
                "SELECT name, host, pid, queues, started_at, seen_at FROM workers"
                " WHERE seen_at > %s ORDER BY name",
                (now - silence,),
            ).fetchall()
            result["workers"] = [
                {"name": n, "host": h, "pid": p, "queues": q.split(), "since": s, "seen": seen}
                for n, h, p, q, s, seen in workers
            ]
            jobs = conn.execute(
                "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs"
                " WHERE status IN ('todo', 'doing', 'failed') GROUP BY 1, 2 ORDER BY 1, 2"
            ).fetchall()
            queues: dict[str, dict[str, int]] = {}
            for queue, status, count in jobs:
                queues.setdefault(queue, {"todo": 0, "doing": 0, "failed": 0})[status] = count
            result["queues"] = queues
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE NOT f.disabled AND f.next_fetch <= %s),"
                " count(*) FILTER (WHERE f.failures > 0 AND NOT f.disabled),"
                " count(*) FILTER (WHERE f.disabled), count(*)"
                " FROM fetch_state AS f JOIN source_defs AS d ON d.name = f.source AND d.enabled",
                (now,),
            ).fetchone()
            due, failing, gone, total = row if row else (0, 0, 0, 0)
            result["sources"] = {"urls": total, "due": due, "failing": failing, "gone": gone}
            errors = conn.execute(
                "SELECT url, failures, last_error FROM fetch_state"
                " WHERE failures > 0 AND NOT disabled"
            ).fetchall()
            hosts: Counter[str] = Counter(host_of(url) for url, _f, _e in errors)
            last: dict[str, str] = {host_of(url): error or "" for url, _f, error in errors}
            result["failing_hosts"] = [
                {"host": host, "urls": count, "last_error": last[host]}
                for host, count in hosts.most_common(FAILING_HOSTS_SHOWN)
            ]
            stale = conn.execute(
                "SELECT name FROM renders WHERE rendered < generation ORDER BY name"
            ).fetchall()
            result["renders_waiting"] = [name for (name,) in stale]
    except psycopg.Error as exc:
        raise StoreError(f"database: {' '.join(str(exc).split())}") from None
    return result


def cluster_lines(data: dict[str, Any], now: float | None = None) -> Iterator[str]:
    """The lines ``seedfeed status`` prints for a cluster (from ``cluster_status``)."""
    yield f"project:      {data['project']} (cluster)"
    workers = data["workers"]
    yield f"workers:      {len(workers)} alive"
    for worker in workers:
        queues = ", ".join(queue.removeprefix("seedfeed.") for queue in worker["queues"])
        yield (
            f"  {worker['name']} on {worker['host']} (pid {worker['pid']}): {queues};"
            f" since {_when(worker['since'])}"
        )
    queues = data["queues"]
    if queues:
        yield "queues:       " + "; ".join(
            f"{name.removeprefix('seedfeed.')} {counts['todo']} waiting,"
            f" {counts['doing']} running, {counts['failed']} failed"
            for name, counts in sorted(queues.items())
        )
    else:
        yield "queues:       empty"
    sources = data["sources"]
    yield (
        f"sources:      {sources['urls']} URLs, {sources['due']} due now,"
        f" {sources['failing']} failing, {sources['gone']} gone"
    )
    for host in data["failing_hosts"]:
        yield f"  {host['host']}: {host['urls']} failing ({host['last_error']})"
    waiting = [name if name != SITE else "the index page" for name in data["renders_waiting"]]
    if waiting:
        shown = ", ".join(waiting[:5]) + (f" and {len(waiting) - 5} more" if waiting[5:] else "")
        yield f"renders:      {len(waiting)} feeds waiting ({shown})"
    else:
        yield "renders:      every feed up to date"
