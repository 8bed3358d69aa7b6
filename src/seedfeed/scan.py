"""The incremental scan of the seeds folder: what changed since the last run is read
again, and the store learns it.

A seed whose size and mtime are as recorded is not opened. One whose stat changed is
read; unchanged bytes (a touch) only update its stat; changed bytes are parsed and
normalized (under the time budget) into the record the store keeps: the entry's id
(fixed at first sight), its content hash and its dates. A big cold run is parsed in
worker processes; both ways run ``refresh`` on every seed, in the same order, and give
the same records.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import chain, islice

from .budget import PARSE_SECONDS, BudgetExceeded, time_limit
from .config import Config
from .dates import from_timestamp
from .model import Entry
from .normalize import content_hash, to_entry
from .report import Report
from .seeds import SeedError, SeedFile, discover, parse_seed_bytes, read_bytes
from .store import SeedRecord, StateStore

# Parsing is the cost of a cold publish; past this many stale seeds it is spread over
# the machine's cores. Below it, starting worker processes costs more than it saves.
PARALLEL_MIN = 2000
_CHUNK = 250


def scan_seeds(config: Config, report: Report, store: StateStore) -> SeedPaths:
    """Scan the seeds folder and bring the store up to date with what changed."""
    stats = store.seed_stats()  # popped as files are found: what is left is gone
    paths = SeedPaths(str(config.paths.seeds))
    scanned_ns = time.time_ns()

    def reject(rel: str, reason: str) -> None:
        report.seeds += 1
        report.skip(rel, reason)

    def stale() -> Iterator[tuple[SeedFile, SeedRecord | None]]:
        for seed in discover(config.paths.seeds, reject):
            report.seeds += 1
            paths.note(seed)
            stat = stats.pop(seed.rel, None)
            if stat is not None and stat.is_clean(seed.size, seed.mtime_ns):
                report.unchanged += 1
            else:
                yield seed, (store.seed(seed.rel) if stat is not None else None)

    batch: list[_Outcome] = []
    broken: list[str] = []
    for outcome in refresh_all(stale(), config.publish.max_seed_bytes, scanned_ns):
        for message in outcome.warnings:
            report.warn(outcome.rel, message)
        if outcome.record is None:
            report.skip(outcome.rel, outcome.skipped)
            broken.append(outcome.rel)
            continue
        report.parsed += outcome.parsed
        report.unchanged += not outcome.parsed
        batch.append(outcome)
        if len(batch) >= 1000:
            _save(store, batch)
            batch.clear()
    _save(store, batch)
    # A seed that is still there but broken keeps its record, so its id and dates come
    # back with it; only files that are gone are forgotten.
    store.set_unpublishable(broken)
    store.forget_seeds(stats)
    store.settle(scanned_ns // 1_000_000_000)
    # Duplicates are reported when they are read, not on every run (`check` reads all).
    for duplicate in store.duplicates():
        if duplicate.scanned_ns == scanned_ns:
            report.warn(duplicate.path, f"same article as {duplicate.first}; published once")
    return paths


def _save(store: StateStore, outcomes: list[_Outcome]) -> None:
    """Keep the records of re-read seeds. A new seed of a link that an entry has had
    (a seed edited to point there) joins that entry instead of starting another."""
    records = [outcome.record for outcome in outcomes if outcome.record is not None]
    links = [o.record.link for o in outcomes if o.new and o.record is not None and o.record.link]
    known = store.ids_of_links(links) if links else {}
    for outcome in outcomes:
        if outcome.new and outcome.record is not None and outcome.record.link in known:
            outcome.record.entry_id = known[outcome.record.link]
    store.put_seeds(records)


class SeedPaths:
    """Where each seed file is, by its store key. The key is the path below the seeds
    folder; only names that had to be escaped to be a key (not UTF-8, control
    characters) are remembered, so the map stays tiny."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._odd: dict[str, str] = {}

    def note(self, seed: SeedFile) -> None:
        """Remember ``seed``'s real path when its key does not spell it."""
        if seed.path != os.path.join(self.root, seed.rel):
            self._odd[seed.rel] = seed.path

    def __getitem__(self, rel: str) -> str:
        return self._odd.get(rel) or os.path.join(self.root, rel)


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
    new: bool = False  # the store knew no seed at this path


_Task = tuple[SeedFile, SeedRecord | None, int, int]


def refresh_all(
    stale: Iterable[tuple[SeedFile, SeedRecord | None]], max_bytes: int, scanned_ns: int
) -> Iterator[_Outcome]:
    """Re-read the stale seeds, in order; in worker processes when there are many.

    Both ways run ``_refresh`` on every seed, in the same order: the results are the same.
    """
    tasks = ((seed, record, max_bytes, scanned_ns) for seed, record in stale)
    head = list(islice(tasks, PARALLEL_MIN))
    workers = parse_workers()
    if len(head) < PARALLEL_MIN or workers < 2:
        yield from map(refresh, chain(head, tasks))
        return
    # fork is the cheapest start (the parser is already imported) and the workers only
    # run _refresh_chunk. A bounded window of chunks in flight keeps memory flat however
    # many seeds there are; results come back in order, so warnings are deterministic.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent) as pool:
        pending: deque[Future[list[_Outcome]]] = deque()
        for chunk in _chunks(chain(head, tasks), _CHUNK):
            pending.append(pool.submit(_refresh_chunk, chunk))
            if len(pending) > 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def parse_workers() -> int:
    """How many processes parse a big cold run: the CPUs this process may use, at most
    8; 1 (parse here) where processes cannot be forked."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return min(cpus, 8)


def _chunks(items: Iterable[_Task], size: int) -> Iterator[list[_Task]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _die_with_parent() -> None:
    """Worker initializer: a publisher killed with SIGKILL takes its workers along."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers end when their queue closes
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the publisher's to handle


def _refresh_chunk(chunk: list[_Task]) -> list[_Outcome]:
    return [refresh(task) for task in chunk]


def refresh(task: _Task) -> _Outcome:
    """Read one seed whose stat changed."""
    seed, record, max_bytes, scanned_ns = task
    outcome = _Outcome(seed.rel, new=record is None)
    try:
        data = read_bytes(seed.path, max_bytes)
    except SeedError as exc:
        outcome.skipped = str(exc)
        return outcome
    digest = hashlib.blake2b(data, digest_size=16).digest()
    if record is not None and record.digest == digest:  # touched, not edited
        outcome.record = replace(
            record, size=seed.size, mtime_ns=seed.mtime_ns, scanned_ns=scanned_ns
        )
        return outcome

    # A file dated in the future (a wrong clock, a hostile touch) counts as made now: it
    # must not sit on top of the feed for years.
    mtime = min(seed.mtime_ns, scanned_ns) // 1_000_000_000
    first_seen = record.first_seen if record else mtime
    try:
        entry, dated = read_entry(seed.rel, data, first_seen, outcome.warnings)
    except SeedError as exc:
        outcome.skipped = str(exc)
        return outcome
    outcome.parsed = True
    # What readers see, without the date a seed does not state (its first sight, which a
    # copy of the file does not share).
    entry_hash = content_hash(entry if dated else replace(entry, published=_NO_DATE))
    if dated:
        published = int(entry.published.timestamp())
    else:  # the date it has: first sight, its page's (enrich), or its entry's
        published = record.published if record else first_seen
    if record is None:
        updated = max(int(entry.updated.timestamp()), published)
    elif record.entry_hash != entry_hash:
        # An edit readers will see: updated moves forward to the edit's time, or to now
        # when the file's time is older than what readers have (a restored backup).
        edited = max(int(entry.updated.timestamp()), mtime, published)
        updated = edited if edited > record.updated else scanned_ns // 1_000_000_000
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
        link=entry.link,
        dated=dated,
    )
    return outcome


_NO_DATE = from_timestamp(0)


def read_entry(
    rel: str, data: bytes, first_seen: int, warnings: list[str] | None
) -> tuple[Entry, bool]:
    """Parse and normalize one seed's bytes, within the time budget. Returns the entry
    and whether the seed states its own date."""
    try:
        with time_limit(PARSE_SECONDS):
            article = parse_seed_bytes(data, rel)
            entry, more = to_entry(article, from_timestamp(first_seen))
    except BudgetExceeded:
        raise SeedError(f"took more than {PARSE_SECONDS:g} s to read (hostile or broken)") from None
    if warnings is not None:
        warnings += more
    return entry, article.published is not None
