"""One run of the whole pipeline: what ``seedfeed publish`` and every scheduled job call.

Seeds are scanned; those whose size, mtime or hash changed are parsed and normalized;
the store remembers ids and dates; each feed takes its newest entries, which are read
back from their seed files, rendered and written only when the bytes changed.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import heapq
import json
import logging
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING

from .budget import PARSE_SECONDS, BudgetExceeded, time_limit
from .config import Config, FeedSpec
from .dates import from_timestamp
from .model import Entry
from .normalize import content_hash, to_entry
from .render import (
    ATOM_SUFFIX,
    INDEX_NAME,
    JSON_SUFFIX,
    OPML_NAME,
    RSS_SUFFIX,
    FeedMeta,
    FeedSummary,
    ping_hub,
    render_feeds,
    render_index,
    render_json_feed,
    render_opml,
)
from .seeds import SeedError, SeedFile, discover, parse_seed_bytes, read_bytes
from .sources import load_sources
from .store import SeedRecord, Store, WebEntry, is_clean
from .writer import remove_stale_temp_files, write_all

if TYPE_CHECKING:
    from .harvest import SourceRun

log = logging.getLogger("seedfeed")


class LockTimeout(Exception):
    """Another publish held the project's lock for longer than we would wait."""


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
    sources: SourceRun | None = None

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
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"{state_dir}: another publish is still running after {timeout:.0f} s"
                    ) from None
                if not waiting:
                    log.info("waiting for the publish that is running to finish")
                    waiting = True
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def describe_failure(exc: BaseException) -> str:
    """One line for an unexpected failure of ``publish``, true about the feeds."""
    written = getattr(exc, "seedfeed_written", None)
    if written:
        return f"publish failed after writing {', '.join(written)}: {exc!r}"
    return f"publish failed, previous feeds left as they were: {exc!r}"


def publish(config: Config, *, dry_run: bool = False, lock_timeout: float = 600.0) -> Report:
    """Run the pipeline once for ``config``. With ``dry_run`` nothing is written."""
    started = time.perf_counter()
    if not config.seeds_dir.is_dir():
        raise PublishError(f"{config.seeds_dir}: seeds folder not found")
    report = Report()
    if dry_run:
        # check: the same run against a throwaway store in memory, writing no file
        with Store(None) as store:
            _run(config, report, store, write=False)
    else:
        with publish_lock(config.state_dir, lock_timeout), Store(config.state_dir) as store:
            try:
                _run(config, report, store, write=True)
                store.set("last_run", _summary(report))
                store.commit()
            except Exception as exc:
                # What became of the feeds, for the one line that reports the failure.
                exc.seedfeed_written = report.written  # type: ignore[attr-defined]
                raise
    report.seconds = time.perf_counter() - started
    return report


def _summary(report: Report) -> str:
    """What ``seedfeed status`` shows of a run."""
    return json.dumps(
        {
            "at": int(time.time()),
            "seeds": report.seeds,
            "skipped": len(report.skipped),
            "warnings": len(report.warnings),
            "entries": sum(report.entries.values()),
            "written": report.written,
            "sources_failed": report.sources.failed if report.sources else 0,
        }
    )


def _run(config: Config, report: Report, store: Store, *, write: bool) -> None:
    paths = _refresh_seeds(config, report, store)
    feeds = list(config.feeds)
    if config.enrich_seeds and write:
        from . import harvest

        harvest.enrich_seeds(config, store, report.warn)
    sources, errors = load_sources(config.sources_dir)
    for line in errors:
        path, _, reason = line.partition(": ")
        report.warn(path, f"source skipped: {reason}")
    if write and any(source.enabled for source in sources):
        from . import harvest  # lazily: requests and the extractor only when there is work

        report.sources = harvest.refresh_sources(config, store, sources, report.warn)
    # A feed that only sources name gets its title from the first of them that has one;
    # a disabled source makes no feed of its own.
    sources = [source for source in sources if source.enabled]
    titles: dict[str, str] = {}
    for source in sources:
        for name in source.feeds:
            if source.title and name not in titles:
                titles[name] = source.title
    known = {spec.name for spec in feeds}
    feeds += [
        FeedSpec(
            name,
            titles.get(name, f"{config.title}: {name}"),
            include=(),
            max_entries=config.max_entries,
        )
        for name in sorted({name for source in sources for name in source.feeds} - known)
    ]
    fallback = from_timestamp(config.path.stat().st_mtime)
    outputs: dict[str, bytes] = {}
    summaries: list[FeedSummary] = []
    builder = _FeedBuilder(config, store, paths, report)
    for spec in feeds:
        entries = builder.newest(spec)
        report.entries[spec.name] = len(entries)
        meta = FeedMeta(
            name=spec.name,
            title=spec.title,
            base_url=config.base_url,
            author=config.author or config.title,
            description=spec.description,
            language=config.language,
            hub=config.websub_hub,
        )
        outputs.update(render_feeds(meta, entries, fallback))
        outputs[spec.name + JSON_SUFFIX] = render_json_feed(meta, entries)
        newest = max((entry.updated for entry in entries), default=None)
        summaries.append(FeedSummary(meta, len(entries), newest))
    outputs[INDEX_NAME] = render_index(
        config.title, config.base_url, summaries, language=config.language
    )
    outputs[OPML_NAME] = render_opml(config.title, config.base_url, summaries)
    if not write:
        return
    # Every output is rendered before any is written, and written all or none
    # (writer.py): readers see this publish's files or the previous one's.
    remove_stale_temp_files(config.feeds_dir)
    report.written = write_all(config.feeds_dir, outputs)
    report.unchanged_files = [name for name in outputs if name not in report.written]
    # Committed after the feeds are written: a run killed before this point is redone in
    # full next time, and yields the same ids and dates because they come from mtimes.
    store.commit()
    if config.websub_hub:
        # Only files that changed: the hub fetches each topic it is told about and pushes
        # it to every subscriber, so an unchanged feed costs them a fetch for nothing.
        written = set(report.written)
        topics = [
            summary.meta.url(suffix)
            for summary in summaries
            for suffix in (ATOM_SUFFIX, RSS_SUFFIX, JSON_SUFFIX)
            if summary.meta.name + suffix in written
        ]
        for reason in ping_hub(config.websub_hub, topics) if topics else ():
            report.warn(config.websub_hub, reason)


def _refresh_seeds(config: Config, report: Report, store: Store) -> SeedPaths:
    """Scan the seeds folder and bring the store up to date with what changed."""
    stats = store.seed_stats()  # popped as files are found: what is left is gone
    paths = SeedPaths(str(config.seeds_dir))
    scanned_ns = time.time_ns()

    def reject(rel: str, reason: str) -> None:
        report.seeds += 1
        report.skip(rel, reason)

    def stale() -> Iterator[tuple[SeedFile, SeedRecord | None]]:
        for seed in discover(config.seeds_dir, reject):
            report.seeds += 1
            paths.note(seed)
            stat = stats.pop(seed.rel, None)
            if stat is not None and is_clean(stat, seed.size, seed.mtime_ns):
                report.unchanged += 1
            else:
                yield seed, (store.seed(seed.rel) if stat is not None else None)

    batch: list[_Outcome] = []
    broken: list[str] = []
    for outcome in _refresh_all(stale(), config.max_seed_bytes, scanned_ns):
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
    for path, first, path_scanned_ns in store.duplicates():
        if path_scanned_ns == scanned_ns:
            report.warn(path, f"same article as {first}; published once")
    return paths


def _save(store: Store, outcomes: list[_Outcome]) -> None:
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


def _refresh_all(
    stale: Iterable[tuple[SeedFile, SeedRecord | None]], max_bytes: int, scanned_ns: int
) -> Iterator[_Outcome]:
    """Re-read the stale seeds, in order; in worker processes when there are many.

    Both ways run ``_refresh`` on every seed, in the same order: the results are the same.
    """
    tasks = ((seed, record, max_bytes, scanned_ns) for seed, record in stale)
    head = list(islice(tasks, PARALLEL_MIN))
    workers = parse_workers()
    if len(head) < PARALLEL_MIN or workers < 2:
        yield from map(_refresh, chain(head, tasks))
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
    return [_refresh(task) for task in chunk]


def _refresh(task: _Task) -> _Outcome:
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
        entry, dated = _parse(seed.rel, data, first_seen, outcome.warnings)
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


def _parse(
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


@dataclass
class _FeedBuilder:
    """Chooses each feed's entries: seeds read back from their files (once per run, even
    when several feeds show them) merged with the sources' stored entries."""

    config: Config
    store: Store
    paths: SeedPaths
    report: Report
    _read: dict[str, Entry | None] = field(default_factory=dict)

    def newest(self, spec: FeedSpec) -> list[Entry]:
        """The newest ``spec.max_entries`` entries of ``spec``, merged by date, one per id
        (a seed wins over the same article from the web)."""
        include = _matcher(spec)
        web = (
            _web_entry(w)
            for w in self.store.newest_web(spec.name)
            if not (include and any(map(include, self.store.seed_paths_with_id(w.id))))
        )
        entries: list[Entry] = []
        seen: set[str] = set()
        for entry in heapq.merge(self._seed_entries(spec), web, key=_newest_first):
            if entry.id not in seen:
                seen.add(entry.id)
                entries.append(entry)
                if len(entries) == spec.max_entries:
                    break
        return entries

    def _seed_entries(self, spec: FeedSpec) -> Iterator[Entry]:
        """The seed entries ``spec`` includes, newest first, read back lazily."""
        include = _matcher(spec)
        if include is None:
            return
        for record in self.store.newest(None if spec.include == ("*",) else include):
            if record.path not in self._read:
                self._read[record.path] = self._materialize(record)
            if (entry := self._read[record.path]) is not None:
                yield entry

    def _materialize(self, record: SeedRecord) -> Entry | None:
        """Read a selected seed back into a full entry, with the id and dates of the store.

        Only the published entries are ever whole in memory: this re-read is what lets
        a run over 100,000 seeds hold one small stat tuple per seed.
        """
        try:
            data = read_bytes(self.paths[record.path], self.config.max_seed_bytes)
            entry, _dated = _parse(record.path, data, record.first_seen, None)
        except SeedError as exc:
            self.report.skip(record.path, str(exc))
            return None
        entry = replace(
            entry,
            id=record.entry_id,
            published=from_timestamp(record.published),
            updated=from_timestamp(record.updated),
        )
        if self.config.enrich_seeds and (found := self.store.enrichment(record.path)):
            from .harvest import enrich_entry

            entry = enrich_entry(entry, *found)
        return entry


def _matcher(spec: FeedSpec) -> Callable[[str], bool] | None:
    """Whether a seed path belongs to ``spec``; None for a feed that takes no seeds."""
    if not spec.include:
        return None
    patterns = spec.include
    return lambda path: any(fnmatchcase(path, pattern) for pattern in patterns)


def _newest_first(entry: Entry) -> tuple[float, str]:
    return -entry.published.timestamp(), entry.id


def _web_entry(web: WebEntry) -> Entry:
    from .harvest import web_entry_to_entry

    return web_entry_to_entry(web)
