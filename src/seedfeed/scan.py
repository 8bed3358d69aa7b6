"""The incremental scan of the seeds folder: what changed since the last run is read
again, and the store learns it.

A seed whose size and mtime are as recorded is not opened. One whose stat changed is
read; unchanged bytes (a touch) only update its stat; changed bytes are parsed under the
time budget into the record the store keeps: the entry's id (fixed at first sight), its
dates and, once readers have seen the entry, the hash of what they saw.

A publish reads only the head of a new seed (title, source line, header lines: its id
and dates), because a feed shows only its newest entries; choose.py reads those whole
when it renders them, and records what readers see. ``check`` reads every seed whole.
A seed readers have seen is read whole when it changes, so that ``updated`` moves only
when what they see changed. A big cold run is read in worker processes; both ways run
``refresh`` on every seed, in the same order, and give the same records.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, fields, replace
from functools import partial
from itertools import chain, islice
from operator import attrgetter
from typing import Any

from .budget import PARSE_SECONDS, BudgetExceeded, time_limit
from .config import Config
from .dates import from_timestamp
from .model import Entry
from .normalize import Identity, content_hash, identify, to_entry
from .report import Report
from .seeds import (
    HTML_SUFFIXES,
    FolderError,
    SeedError,
    SeedFile,
    SeedTooLarge,
    discover_batches,
    folder_error,
    folder_path,
    parse_seed_bytes,
    read_bytes,
)
from .store import BrokenSeed, SeedRecord, StateStore, seed_stamp

# Parsing is the cost of a cold publish; from this many stale seeds on it is spread over
# the machine's cores. Below it, starting worker processes costs more than it saves (on
# 2 cores, a cold publish of 1,000 seeds: 0.274-0.278 s in workers, 0.284-0.335 s here;
# of 600: 0.280-0.288 s in workers, 0.269-0.286 s here).
PARALLEL_MIN = 1000
_CHUNK = 250


def scan_seeds(
    config: Config,
    report: Report,
    store: StateStore,
    *,
    whole: bool = False,
    beside: Callable[[], object] | None = None,
) -> SeedPaths:
    """Scan the seeds folder and bring the store up to date with what changed. With
    ``whole`` (``check``) every changed seed is read whole, not only its head. When
    worker processes parse, ``beside`` runs meanwhile in a thread of this process
    (work of a later step, such as importing it, that would otherwise wait for the
    scan to end; it must not touch the store)."""
    # Popped as files are found: what is left is gone.
    stamps, others = store.seed_stats()
    known = len(stamps) + len(others)
    paths = SeedPaths(str(config.paths.seeds))
    scanned_ns = time.time_ns()

    rejected: list[BrokenSeed] = []
    try:  # which folder is walked: one renamed or unmounted meanwhile leaves no seed gone
        folder = os.stat(config.paths.seeds)
    except OSError:
        folder = None  # the walk says why it cannot list it

    def reject(rel: str, reason: str) -> None:
        # A name that is no file to read (a FIFO, a symlink to nothing or outside):
        # remembered with why, as a broken seed is, so that the next run counts it
        # among the problems said before instead of saying it again. (Its size, -1, is
        # no file's: once it is a file, it is read.)
        report.seeds += 1
        stamps.pop(rel, None)  # a seed until now: it leaves the feeds, keeping its dates
        stat = others.pop(rel, None)
        if stat is not None and stat.size == _NO_FILE and stat.problem == reason:
            report.skip(rel, reason, standing=True)
            return
        report.skip(rel, reason)
        rejected.append(BrokenSeed(rel, _NO_FILE, 0, scanned_ns, b"", reason))

    def unlisted(prefix: str, reason: str) -> None:
        where = folder_path(config.paths.seeds, prefix)
        if whole:  # ``check``: its store is new and cannot tell; it goes on and says so
            report.bad_folders += 1
            report.skip(where, f"cannot be listed ({reason}); its seeds were not checked")
            return
        # Going on without a folder the store has seeds in would take their entries out
        # of the feeds: the run stops. One it has none in (lost+found) is only said.
        known = chain(stamps, others)
        if not prefix or any(rel.startswith(prefix) for rel in known):
            raise FolderError(folder_error(config.paths.seeds, prefix, reason))
        report.warn(where, f"cannot be listed ({reason}); skipped (none of its seeds published)")

    def stale() -> Iterator[tuple[SeedFile, SeedRecord | None]]:
        # Once per file of every publish: kept to a lookup and a comparison.
        outputs = (config.paths.feeds, config.paths.state)  # when inside seeds/
        for files in discover_batches(config.paths.seeds, reject, outputs, unlisted):
            report.seeds += len(files)
            report.tick("scanning seeds", report.seeds, known if known >= report.seeds else None)
            paths.note(files)
            unchanged = 0
            for seed in files:
                rel, _path, size, mtime_ns = seed
                stamp = stamps.pop(rel, None)
                if stamp is not None:
                    if stamp == seed_stamp(size, mtime_ns):
                        unchanged += 1
                    else:
                        yield seed, store.seed(rel)
                elif (stat := others.pop(rel, None)) is None:
                    yield seed, None
                elif stat.is_clean(size, mtime_ns):  # skipped, and as it was: not read again
                    report.skip(rel, stat.problem or "", standing=True)
                else:
                    yield seed, store.seed(rel)
            report.unchanged += unchanged

    batch: list[_Outcome] = []
    broken: list[BrokenSeed] = []
    unreadable: list[str] = []
    read_ids: list[str] = []
    for outcome in refresh_all(
        stale(), config.publish.max_seed_bytes, scanned_ns, whole, beside=beside
    ):
        if not (report.parsed + report.unchanged) % 256:
            report.tick("reading seeds", report.parsed, None)
        for message in outcome.warnings:
            report.warn(outcome.rel, message)
        if outcome.record is None:
            report.skip(outcome.rel, outcome.skipped)
            if outcome.broken is not None:
                broken.append(outcome.broken)
            else:
                unreadable.append(outcome.rel)
            continue
        report.parsed += outcome.parsed
        report.unchanged += not outcome.parsed
        batch.append(outcome)
        if len(batch) >= 1000:
            read_ids += _save(store, batch)
            batch.clear()
    read_ids += _save(store, batch)
    # A seed that is still there but broken keeps its record, so its id and dates come
    # back with it; only files that are gone are forgotten. One whose bytes are the
    # problem is not read again until they change; one that could not be read is.
    if (stamps or others) and not _same_folder(config.paths.seeds, folder):
        # The files the walk did not see may be gone, or the folder moved away under it
        # (its subfolders then list as missing): forgetting them would empty the feeds.
        reason = "moved, removed or replaced during the run"
        raise FolderError(folder_error(config.paths.seeds, "", reason))
    store.put_broken(broken + rejected)
    store.set_unpublishable(unreadable)
    store.forget_seeds(chain(stamps, others))
    store.settle(scanned_ns // 1_000_000_000)
    # Duplicates are said when they are read (`check` reads all); the others are counted.
    # A first run read every seed the store has: it asks about all of them at once,
    # without passing 10,000 ids to the store (three times the cost of the query).
    said = 0
    for duplicate in store.duplicates(None if not known else read_ids):
        if duplicate.scanned_ns == scanned_ns:
            report.warn(duplicate.path, f"same article as {duplicate.first}; published once")
            said += 1
    report.duplicates = store.duplicate_count() - said
    return paths


def _same_folder(path: os.PathLike[str], before: os.stat_result | None) -> bool:
    """Whether ``path`` is still the folder ``before`` was taken of."""
    try:
        now = os.stat(path)
    except OSError:
        return False
    return before is not None and (now.st_dev, now.st_ino) == (before.st_dev, before.st_ino)


_NO_FILE = -1  # the size a store keeps for a seed name that is no file (see reject)


def _save(store: StateStore, outcomes: list[_Outcome]) -> list[str]:
    """Keep the records of re-read seeds; returns their entry ids. A new seed of a link
    that an entry has had (a seed edited to point there) joins that entry instead of
    starting another."""
    records = [outcome.record for outcome in outcomes if outcome.record is not None]
    links = [o.record.link for o in outcomes if o.new and o.record is not None and o.record.link]
    known = store.ids_of_links(links) if links else {}
    for outcome in outcomes:
        if outcome.new and outcome.record is not None and outcome.record.link in known:
            outcome.record.entry_id = known[outcome.record.link]
    store.put_seeds(records)
    return [record.entry_id for record in records]


class SeedPaths:
    """Where each seed file is, by its store key. The key is the path below the seeds
    folder; only the files whose key does not spell their path (names escaped to be a
    key, symlinks inside the folder) are remembered, so the map stays tiny."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._prefix = os.path.join(root, "")
        self._odd: dict[str, str] = {}

    def note(self, seeds: Iterable[SeedFile]) -> None:
        """Remember the real path of each of ``seeds`` whose key does not spell it."""
        prefix = self._prefix
        for rel, path, _size, _mtime in seeds:
            if path != prefix + rel:
                self._odd[rel] = path

    def __getitem__(self, rel: str) -> str:
        return self._odd.get(rel) or self._prefix + rel


@dataclass(slots=True)
class _Outcome:
    """What re-reading one seed gave: a record, or the reason it was skipped."""

    rel: str
    record: SeedRecord | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: str = ""
    broken: BrokenSeed | None = None  # skipped for what its bytes are (kept, not re-read)
    parsed: bool = False
    new: bool = False  # the store knew no entry of this path

    def __reduce__(self) -> tuple[type[_Outcome], tuple[Any, ...]]:
        return _Outcome, _OUTCOME_VALUES(self)  # in C (see SeedRecord.__reduce__)


_OUTCOME_VALUES = attrgetter(*(f.name for f in fields(_Outcome)))


_Task = tuple[SeedFile, SeedRecord | None, int, int, bool]


def refresh_all(
    stale: Iterable[tuple[SeedFile, SeedRecord | None]],
    max_bytes: int,
    scanned_ns: int,
    whole: bool = False,
    *,
    beside: Callable[[], object] | None = None,
) -> Iterator[_Outcome]:
    """Re-read the stale seeds, in order; in worker processes when there are many.

    Both ways run ``refresh`` on every seed, in the same order: the results are the same.
    With workers, ``beside`` runs in a thread of this process while they parse.
    """
    tasks = ((seed, record, max_bytes, scanned_ns, whole) for seed, record in stale)
    head = list(islice(tasks, PARALLEL_MIN))
    # (Most runs read a few seeds: they do not even import multiprocessing.)
    if len(head) < PARALLEL_MIN or (workers := parse_workers()) < 2:
        yield from map(refresh, chain(head, tasks))
        return
    # fork is the cheapest start (the parser is already imported) and the workers only
    # run _refresh_chunk. A bounded window of chunks in flight keeps memory flat however
    # many seeds there are; results come back in order, so warnings are deterministic.
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    thread: threading.Thread | None = None
    with ExitStack() as stack:
        pool = stack.enter_context(
            ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent)
        )

        # Joined on the way out, whatever happens: a later fork (the harvest's workers)
        # while it still imports would leave a module's lock held in the child for ever.
        def join() -> None:
            if thread is not None:
                thread.join()

        stack.callback(join)
        pending: deque[Future[list[_Outcome]]] = deque()
        for chunk in _chunks(chain(head, tasks), _CHUNK):
            # Sent as plain tuples, and the settings once a chunk: a SeedFile pickles
            # through a Python call each way (a third of the parent's cost of a task).
            seeds = [(seed[:], record) for seed, record, *_settings in chunk]
            pending.append(pool.submit(_refresh_chunk, seeds, max_bytes, scanned_ns, whole))
            if beside is not None:  # started once the workers are forked (a thread
                # that runs during a fork leaves its locks held in the child)
                thread = threading.Thread(target=beside, name="seedfeed-beside")
                thread.start()
                beside = None
            if len(pending) > 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def parse_workers() -> int:
    """How many processes parse a big cold run: the CPUs this process may use, at most
    8; 1 (parse here) where processes cannot be forked."""
    import multiprocessing

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
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers end when their queue closes
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the publisher's to handle


def _refresh_chunk(
    seeds: list[tuple[tuple[str, str, int, int], SeedRecord | None]],
    max_bytes: int,
    scanned_ns: int,
    whole: bool,
) -> list[_Outcome]:
    return [
        refresh((_seed_file(seed), record, max_bytes, scanned_ns, whole)) for seed, record in seeds
    ]


_seed_file = partial(tuple.__new__, SeedFile)  # a SeedFile again, made in C


def refresh(task: _Task) -> _Outcome:
    """Read one seed whose stat changed."""
    seed, record, max_bytes, scanned_ns, whole = task
    if record is not None and not record.entry_id:
        record = None  # it never gave an entry (broken from the start): a new seed
    outcome = _Outcome(seed.rel, new=record is None)
    try:
        data = read_bytes(seed.path, max_bytes)
    except SeedTooLarge as exc:  # read again only once the file changes
        outcome.skipped = str(exc)
        outcome.broken = BrokenSeed(seed.rel, seed.size, seed.mtime_ns, scanned_ns, b"", str(exc))
        return outcome
    except SeedError as exc:  # the disk, not the bytes: tried again next run
        outcome.skipped = str(exc)
        return outcome
    digest = hashlib.blake2b(data, digest_size=16).digest()
    if record is not None and record.digest == digest:  # touched, not edited
        outcome.record = replace(
            record, size=seed.size, mtime_ns=seed.mtime_ns, scanned_ns=scanned_ns
        )
        return outcome
    if record is not None and not record.digest:
        return _learn(outcome, record, seed, data, digest, scanned_ns)

    # A file dated in the future (a wrong clock, a hostile touch) counts as made now: it
    # must not sit on top of the feed for years. So does a date it states.
    now = scanned_ns // 1_000_000_000
    mtime = min(seed.mtime_ns, scanned_ns) // 1_000_000_000
    first_seen = record.first_seen if record else mtime
    # Readers saw this entry: read it whole, to know whether what they see changed.
    seen = record is not None and bool(record.entry_hash)
    try:
        reading = read_seed_data(seed.rel, data, first_seen, whole=whole or seen)
    except SeedError as exc:
        outcome.skipped = str(exc)
        outcome.broken = BrokenSeed(
            seed.rel, seed.size, seed.mtime_ns, scanned_ns, digest, outcome.skipped
        )
        return outcome
    outcome.parsed = True
    outcome.warnings += reading.warnings
    identity = reading.identity
    stated_updated = min(int(identity.updated.timestamp()), now)
    if reading.dated:
        published = min(int(identity.published.timestamp()), now)
    else:  # the date it has: first sight, its page's (enrich), or its entry's
        published = record.published if record else first_seen
    if record is None:
        updated = max(stated_updated, published)
    elif not seen or record.entry_hash != reading.entry_hash:
        # An edit (that readers will see): updated moves forward to the edit's time, or
        # to now when the file's time is older than what readers have (a backup).
        edited = max(stated_updated, mtime, published)
        updated = edited if edited > record.updated else max(now, record.updated + 1)
    else:
        updated = record.updated
    outcome.record = SeedRecord(
        path=seed.rel,
        size=seed.size,
        mtime_ns=seed.mtime_ns,
        scanned_ns=scanned_ns,
        digest=digest,
        entry_id=record.entry_id if record else identity.id,
        entry_hash=reading.entry_hash,
        first_seen=first_seen,
        published=published,
        updated=updated,
        link=identity.link,
        dated=reading.dated,
        known_ns=record.known_ns if record else scanned_ns,
        authors=identity.authors,
        tags=identity.tags,
    )
    return outcome


def _learn(
    outcome: _Outcome,
    record: SeedRecord,
    seed: SeedFile,
    data: bytes,
    digest: bytes,
    scanned_ns: int,
) -> _Outcome:
    """A record from an older store (digest x''): the head of the seed says what the
    record lacks (its link, whether it states its date, tags, authors); its id, dates
    and what readers saw stay, for nothing was edited."""
    try:
        reading = read_seed_data(seed.rel, data, record.first_seen, whole=False)
    except SeedError as exc:
        outcome.skipped = str(exc)
        outcome.broken = BrokenSeed(
            seed.rel, seed.size, seed.mtime_ns, scanned_ns, digest, str(exc)
        )
        return outcome
    identity = reading.identity
    outcome.record = replace(
        record,
        size=seed.size,
        mtime_ns=seed.mtime_ns,
        scanned_ns=scanned_ns,
        digest=digest,
        link=identity.link,
        dated=reading.dated,
        authors=identity.authors,
        tags=identity.tags,
    )
    return outcome


_NO_DATE = from_timestamp(0)


@dataclass(frozen=True, slots=True)
class SeedReading:
    """What reading one seed's bytes gave."""

    identity: Identity
    dated: bool  # the seed states its own date
    entry: Entry | None  # None when only its head was read
    warnings: list[str]
    head_warnings: int  # how many of ``warnings`` its head alone gives

    @property
    def entry_hash(self) -> bytes:
        """What readers see of the entry (b"" when unknown: only the head was read),
        without the date a seed does not state (its first sight, which a copy of the
        file does not share)."""
        if self.entry is None:
            return b""
        return content_hash(self.entry if self.dated else replace(self.entry, published=_NO_DATE))


def read_seed_data(rel: str, data: bytes, first_seen: int, *, whole: bool) -> SeedReading:
    """Parse one seed's bytes within the time budget: whole (and normalized into an
    entry), or only the head, which gives its identity and dates."""
    seen_at = from_timestamp(first_seen)
    try:
        with time_limit(PARSE_SECONDS):
            html = os.path.splitext(rel)[1].lower() in HTML_SUFFIXES
            article = parse_seed_bytes(data, rel, head_only=not whole and not html)
            identity, warnings = identify(article, seen_at)
            dated = article.published is not None
            if not whole and identity.title:
                return SeedReading(identity, dated, None, warnings, len(warnings))
            head = len(warnings)
            if not whole and not html:  # no title: the text makes one, so read it all
                article = parse_seed_bytes(data, rel)
            entry, warnings = to_entry(article, seen_at)
    except BudgetExceeded:
        raise SeedError(f"took more than {PARSE_SECONDS:g} s to read (hostile or broken)") from None
    return SeedReading(identity, dated, entry, warnings, head)
