"""What each job of a cluster does (``app.py`` says which queue, lock and retry each has).

Every change to the store is one transaction with the generations it raises and the
jobs it defers (a fetch job makes one per source it carries): a job killed halfway
leaves nothing half done, and runs again (procrastinate's stalled-job recovery,
``recover``), skipping what it had finished.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from typing import Any

import procrastinate
import psycopg
import psycopg_pool

from ..dates import from_timestamp
from ..harvest import refresh_sources
from ..report import Report
from ..sources import kept_sources, load_sources
from .app import FETCH, FETCH_BATCH, FETCH_TASK, LEASE, defer_jobs, make_job, runtime_of
from .pgstore import OneSourceStore
from .politeness import host_lock, host_of
from .render import (
    SITE,
    check_renders,
    raise_generations,
    render_feed,
    render_site,
    source_definition,
    source_from_definition,
    sources_fingerprint,
)

log = logging.getLogger("seedfeed")

# What makes a job worth running again a little later: the database went away or
# refused a transaction (a restart, a deadlock, a serialization conflict).
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    procrastinate.exceptions.ConnectorException,
)

# Jobs of these kinds that ended are removed after this long (successful ones at once).
KEEP_FINISHED_HOURS = 72

_DUE = """
SELECT f.source, f.origin, f.url FROM fetch_state AS f
JOIN source_defs AS d ON d.name = f.source AND d.enabled
WHERE NOT f.disabled AND f.next_fetch <= %(now)s
ORDER BY f.next_fetch, f.source, f.origin
LIMIT %(batch)s
FOR UPDATE OF f SKIP LOCKED
"""
_LEASE = """
UPDATE fetch_state SET next_fetch = %(until)s
WHERE (source, origin) IN (SELECT * FROM unnest(%(sources)s::text[], %(origins)s::text[]))
"""


def _warn(origin: str, message: str) -> None:
    log.warning("%s: %s", origin, message)


def dispatch(context: procrastinate.JobContext, timestamp: int) -> None:
    """Queue fetch jobs for the due sources (at most ``[cluster] batch``): the sources of
    one host key in jobs of up to ``FETCH_BATCH``, each source leased in this
    transaction so that it is in one job only (the row is the queueing lock)."""
    runtime = runtime_of(context)
    settings = runtime.config.cluster
    per_host = runtime.config.fetch.per_host
    now = time.time()
    until = float(math.ceil(now + LEASE))  # whole seconds: equal however it is printed
    with runtime.pool.connection() as conn:
        rows = conn.execute(_DUE, {"now": now, "batch": settings.batch}).fetchall()
        by_lock: dict[str, list[list[str]]] = defaultdict(list)
        for source, origin, url in rows:
            lock = host_lock(host_of(url), f"{source} {origin}", per_host)
            by_lock[lock].append([source, origin])
        # Interleaved by host lock: the head of each host's line is near the front of
        # the queue, where a worker looking for a job whose lock is free finds it fast.
        chunks = sorted(
            (rank, lock, items[start : start + FETCH_BATCH])
            for lock, items in by_lock.items()
            for rank, start in enumerate(range(0, len(items), FETCH_BATCH))
        )
        jobs = [
            make_job(FETCH_TASK, FETCH, {"items": chunk, "lease": until}, lock=lock)
            for _rank, lock, chunk in chunks
        ]
        deferred = defer_jobs(conn, jobs)
        # Leased: not due again while its job waits or runs (the job sets the real time).
        conn.execute(
            _LEASE,
            {
                "until": until,
                "sources": [source for source, _o, _u in rows],
                "origins": [origin for _s, origin, _u in rows],
            },
        )
        conn.commit()
    if rows:
        log.info("dispatched %d due sources (%d jobs)", len(rows), deferred)


def fetch(context: procrastinate.JobContext, items: list[list[str]], lease: float) -> None:
    """Fetch the source URLs ``items`` (``[source, origin]`` pairs of one host key), one
    after the other, each in a transaction of its own."""
    runtime = runtime_of(context)
    failed: Exception | None = None
    for source, origin in items:
        try:
            _fetch_one(runtime, source, origin, lease)
        except DATABASE_ERRORS:
            raise  # the job runs again; the sources done are skipped then
        except Exception as exc:  # a bug on one source must not hold back the others
            log.exception("%s: %s: fetch failed", source, origin)
            failed = failed or exc
    if failed is not None:
        raise failed  # the job is marked failed; the source's lease runs out, then again


def _fetch_one(runtime: Any, source: str, origin: str, lease: float) -> None:
    """Fetch one source URL as a publish would (``harvest.refresh_sources`` on a view of
    the store where only this URL exists and is due), and keep what it gives. Nothing
    when the URL is no longer under this job's lease: a job run again after its worker
    died does not fetch again what it fetched before."""
    config = runtime.config
    now = time.time()
    with (
        runtime.pool.connection() as conn,
        OneSourceStore(conn, config.cluster.schema, source, origin) as store,
    ):
        leased = conn.execute(
            "SELECT 1 FROM fetch_state WHERE source = %s AND origin = %s AND next_fetch = %s"
            " FOR UPDATE SKIP LOCKED",
            (source, origin, lease),
        ).fetchone()
        if leased is None:
            # Fetched already, gone, or held by a job of a worker that died and whose
            # connection the database has not dropped yet: the lease runs out, then again.
            return
        row = conn.execute(
            "SELECT definition FROM source_defs WHERE name = %s AND enabled", (source,)
        ).fetchone()
        definition = source_from_definition(row[0]) if row else None
        if definition is None or origin not in definition.urls:
            return  # deleted or disabled since it was queued
        fetcher = runtime.fetcher()
        run = refresh_sources(
            runtime.fetching, store, [definition], _warn, now=now, fetcher=fetcher
        )
        state = store.fetch_state(source, origin)
        asked = run.fetched + run.not_modified + run.failed + run.disallowed > 0
        if not asked:  # its host asked for a pause: the dispatcher queues it again then
            state.next_fetch = fetcher.postponed or now + 60
        elif state.next_fetch <= now:  # fetched; no schedule of its own: the project's
            # From when the fetch ended, not began: a fetch of the last period that ended
            # past the cron's time served this one too (no second fetch seconds later).
            state.next_fetch = _next_publish(config, time.time())
        store.put_fetch_state(state)
        if store.changed():
            labels = config.by_tag or config.by_author
            affected = [*definition.feeds, *([SITE] if labels else [])]
            raise_generations(conn, affected, config.cluster.render_delay)
        store.commit()


def _next_publish(config: Any, now: float) -> float:
    """When ``[schedule] cron`` next fires after ``now`` (what a daemon would do)."""
    from ..schedule import next_fire

    when = next_fire(config.schedule.cron, from_timestamp(now), config.schedule.timezone)
    return when.timestamp() if when else now + 15 * 60


def render(context: procrastinate.JobContext, feed: str) -> None:
    """Render one feed."""
    render_feed(runtime_of(context), feed)


def site(context: procrastinate.JobContext) -> None:
    """Render the site's own files and the tag and author feeds."""
    render_site(runtime_of(context))


def scan(context: procrastinate.JobContext, timestamp: int) -> None:
    """Bring the store up to date with the project's files: the seeds (read where this
    worker reads them), the source definitions; then re-render what needs it."""
    runtime = runtime_of(context)
    config = runtime.project
    with runtime.store() as store:
        conn = store.connection
        affected: set[str] = set()
        if _sync_sources(runtime, store):
            affected |= {spec.name for spec in runtime.sources(conn).specs}
            affected.add(SITE)
        store.commit()
        if runtime.seeds is not None and runtime.seeds.is_dir():
            from ..scan import scan_seeds

            report = Report()
            scan_seeds(config, report, store)
            if config.seeds.enrich:
                from ..harvest import enrich_seeds

                enrich_seeds(config, store, _warn, fetcher=runtime.fetcher())
            if store.changed():
                specs = runtime.sources(conn).specs
                affected |= {spec.name for spec in specs if spec.include}
                affected.add(SITE)
                log.info(
                    "seeds: %d read, %d unchanged, %d skipped",
                    report.parsed,
                    report.unchanged,
                    len(report.skipped),
                )
        raise_generations(conn, affected, runtime.config.cluster.render_delay)
        store.commit()
        check_renders(runtime, conn)


def _sync_sources(runtime: Any, store: Any) -> bool:
    """Read the source files into ``source_defs`` (and the store's fetch states) when
    they changed; returns whether the definitions did."""
    config = runtime.project
    folder = config.paths.sources
    if not folder.is_dir():
        # Absent on this machine (not mounted, a worker started with --seeds elsewhere):
        # that says nothing of the sources, and taken for "none" it would forget every
        # source's state and entries cluster-wide. Sources go when their files do.
        return False
    conn = store.connection
    fingerprint = sources_fingerprint(folder)
    row = conn.execute("SELECT value FROM meta WHERE key = 'sources_fingerprint'").fetchone()
    if row is not None and row[0] == fingerprint:
        return False
    sources, errors = load_sources(folder)
    for line in errors:
        log.warning("%s", line)
    enabled = {(s.name, url): s for s in sources if s.enabled for url in s.urls}
    store.sync_sources(enabled, kept_sources(folder, sources))
    before = {
        name: definition
        for name, definition in conn.execute("SELECT name, definition FROM source_defs")
    }
    after = {source.name: source_definition(source) for source in sources}
    gone = sorted(set(before) - set(after))
    conn.execute("DELETE FROM source_defs WHERE name = ANY(%s)", (gone,))
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO source_defs VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE"
            " SET definition = excluded.definition, enabled = excluded.enabled",
            [
                (name, psycopg.types.json.Jsonb(definition), definition["enabled"])
                for name, definition in sorted(after.items())
                if before.get(name) != definition
            ],
        )
    conn.execute(
        "INSERT INTO meta VALUES ('sources_fingerprint', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (fingerprint,),
    )
    changed = before != after or store.changed()
    if changed:
        log.info("sources: %d read (%d enabled)", len(sources), sum(s.enabled for s in sources))
    return changed


async def recover(context: procrastinate.JobContext, timestamp: int) -> None:
    """Run again the jobs of workers that stopped beating (killed, frozen, cut off),
    and remove old finished jobs."""
    runtime = runtime_of(context)
    manager = context.app.job_manager
    silence = 3 * runtime.config.cluster.heartbeat
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=silence))
    for job in stalled:
        try:
            await manager.retry_job(job)
        except procrastinate.exceptions.UniqueViolation:
            # An equal job waits already (its queueing lock): that one will do the work.
            assert job.id is not None
            await manager.finish_job_by_id_async(
                job.id, status=procrastinate.jobs.Status.FAILED, delete_job=True
            )
    if stalled:
        log.warning("%d jobs of stopped workers run again", len(stalled))
    if timestamp % 3600 < runtime.config.cluster.tick:  # once an hour
        await manager.delete_old_jobs(
            nb_hours=KEEP_FINISHED_HOURS, include_failed=True, include_cancelled=True
        )
