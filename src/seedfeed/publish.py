"""One run of the whole pipeline: what ``seedfeed publish`` and every scheduled job call.

Seeds are scanned; those whose size, mtime or hash changed are parsed and normalized;
the store remembers ids and dates; each feed takes its newest entries, which are read
back from their seed files, rendered and written only when the bytes changed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path

from .config import Config, FeedSpec
from .dates import from_timestamp
from .model import Entry
from .normalize import content_hash, to_entry
from .render import FeedMeta, render_feeds, write_if_changed
from .seeds import SeedError, SeedFile, decode, discover, parse_seed_text, read_bytes
from .store import SeedRecord, Store

log = logging.getLogger("seedfeed")


class PublishError(Exception):
    """The run cannot go on (seeds folder missing, another run holds the lock, ...)."""


@dataclass
class Report:
    """What one run did, for the summary line and the exit code."""

    seeds: int = 0
    parsed: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged_files: list[str] = field(default_factory=list)
    entries: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def warn(self, origin: str, message: str) -> None:
        """Record and log a warning about one input that was still published."""
        self.warnings.append((origin, message))
        log.warning("%s: %s", origin, message)

    def skip(self, origin: str, reason: str) -> None:
        """Record and log an input that could not be published."""
        self.skipped.append((origin, reason))
        log.warning("%s: skipped: %s", origin, reason)


@contextmanager
def publish_lock(state_dir: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold the project's publish lock, so two runs (a daemon, a manual publish) never
    write at once. Waits up to ``timeout`` seconds for the other run to finish."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "publish.lock", "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PublishError(
                        f"{state_dir}: another publish is still running after {timeout:.0f} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(config: Config, *, dry_run: bool = False, lock_timeout: float = 60.0) -> Report:
    """Run the pipeline once for ``config``. With ``dry_run`` nothing is written."""
    started = time.perf_counter()
    if not config.seeds_dir.is_dir():
        raise PublishError(f"{config.seeds_dir}: seeds folder not found")
    report = Report()
    if dry_run:
        # check: read everything, keep nothing; a store in memory stands in for the real one
        _run(config, report, _MemoryStore(), write=False)
    else:
        with publish_lock(config.state_dir, lock_timeout), Store(config.state_dir) as store:
            _run(config, report, store, write=True)
    report.seconds = time.perf_counter() - started
    return report


class _MemoryStore:
    """The part of ``Store`` that ``_run`` uses, remembering nothing (for ``check``)."""

    def seeds(self) -> dict[str, SeedRecord]:
        return {}

    def put_seeds(self, records: object) -> None:
        pass

    def forget_seeds(self, paths: object) -> None:
        pass

    def commit(self) -> None:
        pass


def _run(config: Config, report: Report, store: Store | _MemoryStore, *, write: bool) -> None:
    known = store.seeds()
    current: dict[str, SeedRecord] = {}
    files: dict[str, SeedFile] = {}
    stale: list[tuple[SeedFile, SeedRecord | None]] = []
    for seed in discover(config.seeds_dir):
        files[seed.rel] = seed
        record = known.get(seed.rel)
        if record is not None and record.is_clean(seed.size, seed.mtime_ns):
            current[seed.rel] = record
        else:
            stale.append((seed, record))
    report.seeds = len(files)
    report.unchanged = len(current)

    changed: list[SeedRecord] = []
    for outcome in _refresh_all(stale, config.max_seed_bytes):
        for message in outcome.warnings:
            report.warn(outcome.rel, message)
        if outcome.skipped:
            report.skip(outcome.rel, outcome.skipped)
            continue
        assert outcome.record is not None
        report.parsed += outcome.parsed
        report.unchanged += not outcome.parsed
        current[outcome.rel] = outcome.record
        if outcome.record != known.get(outcome.rel):
            changed.append(outcome.record)

    store.put_seeds(changed)
    # A seed that is still there but skipped (unreadable, broken) keeps its record, so its
    # id and dates come back with it; only files that are gone are forgotten.
    store.forget_seeds(path for path in known if path not in files)

    cache: dict[str, Entry | None] = {}
    warned_duplicates: set[str] = set()
    fallback = from_timestamp(config.path.stat().st_mtime)
    for spec in config.feeds:
        entries = _select(spec, current, files, config, report, cache, warned_duplicates)
        report.entries[spec.name] = len(entries)
        if not write:
            continue
        meta = FeedMeta(
            name=spec.name,
            title=spec.title,
            base_url=config.base_url,
            author=config.author or config.title,
            description=spec.description,
            language=config.language,
        )
        for name, data in render_feeds(meta, entries, fallback).items():
            written = write_if_changed(config.feeds_dir / name, data)
            (report.written if written else report.unchanged_files).append(name)
    # Committed after the feeds are written: a run killed before this point is redone in
    # full next time, and yields the same ids and dates because they come from mtimes.
    store.commit()


# Parsing is the cost of a cold publish; past this many stale seeds it is spread over
# the machine's cores. Below it, starting worker processes costs more than it saves.
PARALLEL_MIN = 2000
_CHUNK = 250


@dataclass(slots=True)
class _Outcome:
    """What re-reading one seed gave: a record, or the reason it was skipped."""

    rel: str
    record: SeedRecord | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: str = ""
    parsed: bool = False


def _refresh_all(
    stale: list[tuple[SeedFile, SeedRecord | None]], max_bytes: int
) -> Iterator[_Outcome]:
    """Re-read the stale seeds, in worker processes when there are many; in order."""
    scanned_ns = time.time_ns()
    tasks = [(seed, record, max_bytes, scanned_ns) for seed, record in stale]
    workers = min(os.cpu_count() or 1, 8)
    if len(tasks) < PARALLEL_MIN or workers < 2:
        yield from map(_refresh, tasks)
        return
    # forkserver, not fork: the daemon runs threads, and forking a threaded process can
    # deadlock. The server imports the parser once; each worker is a cheap fork of it.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["seedfeed.publish"])
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield from pool.map(_refresh, tasks, chunksize=_CHUNK)


def _refresh(task: tuple[SeedFile, SeedRecord | None, int, int]) -> _Outcome:
    """Read one seed whose stat changed (runs in a worker process for big runs)."""
    seed, record, max_bytes, scanned_ns = task
    outcome = _Outcome(seed.rel)
    try:
        data = read_bytes(seed.path, max_bytes)
    except SeedError as exc:
        outcome.skipped = str(exc)
        return outcome
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if record is not None and record.digest == digest:  # touched, not edited
        outcome.record = replace(
            record, size=seed.size, mtime_ns=seed.mtime_ns, scanned_ns=scanned_ns
        )
        return outcome

    first_seen = record.first_seen if record else seed.mtime_ns // 1_000_000_000
    try:
        entry = _parse(seed.rel, data, first_seen, outcome.warnings)
    except SeedError as exc:
        outcome.skipped = str(exc)
        return outcome
    outcome.parsed = True
    entry_hash = content_hash(entry)
    published = int(entry.published.timestamp())
    if record is None:
        updated = int(entry.updated.timestamp())
    elif record.entry_hash != entry_hash:
        # An edit readers will see: the entry's updated date moves to the edit's time.
        updated = max(int(entry.updated.timestamp()), seed.mtime_ns // 1_000_000_000, published)
    else:
        updated = record.updated
    outcome.record = SeedRecord(
        path=seed.rel,
        size=seed.size,
        mtime_ns=seed.mtime_ns,
        scanned_ns=scanned_ns,
        digest=digest,
        entry_id=record.entry_id if record else entry.id,
        entry_hash=entry_hash,
        first_seen=first_seen,
        published=published,
        updated=updated,
    )
    return outcome


def _parse(rel: str, data: bytes, first_seen: int, warnings: list[str] | None) -> Entry:
    if not data:
        raise SeedError("empty file")
    text, decode_warnings = decode(data)
    article = parse_seed_text(text, rel)
    entry, more = to_entry(article, from_timestamp(first_seen))
    if warnings is not None:
        warnings += decode_warnings + more
    return entry


def _select(
    spec: FeedSpec,
    records: dict[str, SeedRecord],
    files: dict[str, SeedFile],
    config: Config,
    report: Report,
    cache: dict[str, Entry | None],
    warned_duplicates: set[str],
) -> list[Entry]:
    """The newest ``spec.max_entries`` entries of the seeds ``spec`` includes, one per id."""
    chosen: dict[str, SeedRecord] = {}
    for rel, record in records.items():
        if spec.include != ("*",) and not any(fnmatchcase(rel, p) for p in spec.include):
            continue
        other = chosen.get(record.entry_id)
        if other is None:
            chosen[record.entry_id] = record
            continue
        # Two seeds of one article: the first seen is published, the other reported.
        keep, drop = sorted((other, record), key=lambda r: (r.first_seen, r.path))
        chosen[record.entry_id] = keep
        if drop.path not in warned_duplicates:
            warned_duplicates.add(drop.path)
            report.warn(drop.path, f"same article as {keep.path}; published once")

    ranked = sorted(chosen.values(), key=lambda r: (-r.published, r.entry_id))
    entries: list[Entry] = []
    for record in ranked:
        if len(entries) >= spec.max_entries:
            break
        entry = _materialize(record, files[record.path], config, report, cache)
        if entry is not None:
            entries.append(entry)
    return entries


def _materialize(
    record: SeedRecord,
    seed: SeedFile,
    config: Config,
    report: Report,
    cache: dict[str, Entry | None],
) -> Entry | None:
    """Read a selected seed back into a full entry, with the ids and dates of the store.

    Only the published entries are kept whole in memory; this re-read is what lets a
    run over 100,000 seeds hold one small record per seed.
    """
    if record.path in cache:
        return cache[record.path]
    entry: Entry | None
    try:
        data = read_bytes(seed.path, config.max_seed_bytes)
        entry = _parse(record.path, data, record.first_seen, None)
        entry = replace(
            entry,
            id=record.entry_id,
            published=from_timestamp(record.published),
            updated=from_timestamp(record.updated),
        )
    except SeedError as exc:
        report.skip(record.path, str(exc))
        entry = None
    cache[record.path] = entry
    return entry
