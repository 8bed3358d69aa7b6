"""Choosing each feed's entries: the newest seeds the feed includes, read back from their
files, merged by date with the sources' stored entries, one entry per id."""

from __future__ import annotations

import hashlib
import heapq
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase

from .config import Config, FeedSpec
from .dates import from_timestamp
from .model import Entry
from .report import Report
from .scan import SeedPaths, read_seed_data
from .seeds import SeedError, SeedTooLarge, read_bytes
from .store import BrokenSeed, SeedRecord, StateStore


@dataclass
class FeedBuilder:
    """Chooses each feed's entries: seeds read back from their files (once per run, even
    when several feeds show them) merged with the sources' stored entries."""

    config: Config
    store: StateStore
    paths: SeedPaths
    report: Report
    # Which sources fill each feed: read from their files at each run.
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    broke: bool = False  # a seed a feed was to show turned out broken: choose again
    _read: dict[str, Entry | None] = field(default_factory=dict)

    def newest(self, spec: FeedSpec) -> list[Entry]:
        """The newest ``spec.max_entries`` entries of ``spec``, merged by date, one per id
        (a seed wins over the same article from the web), each passing its filters."""
        include = _matcher(spec)
        keep = EntryFilter(spec)
        # A tag's or an author's feed takes from every source; another feed, from the
        # sources that name it.
        label = spec.name.startswith(("tag/", "author/"))
        web = (
            web.entry
            for web in self.store.newest_web(None if label else self.sources.get(spec.name, ()))
            if keep.source(web.source)
            and keep.labels(web.entry.tags, web.entry.authors)
            and not (include and any(map(include, self.store.seed_paths_with_id(web.entry.id))))
        )
        entries: list[Entry] = []
        seen: set[str] = set()
        for entry in heapq.merge(self._seed_entries(spec, keep), web, key=_newest_first):
            if entry.id not in seen and keep.text(entry):
                seen.add(entry.id)
                entries.append(entry)
                if len(entries) == spec.max_entries:
                    break
        return entries

    def _seed_entries(self, spec: FeedSpec, keep: EntryFilter) -> Iterator[Entry]:
        """The seed entries ``spec`` includes, newest first, read back lazily (only those
        whose tags, authors and source pass: the store knows them without reading)."""
        include = _matcher(spec)
        if include is None or not keep.source(SEEDS_SOURCE):
            return
        for record in self.store.newest(None if spec.include == ("*",) else include):
            if not keep.labels(record.tags, record.authors):
                continue
            if record.path not in self._read:
                self._read[record.path] = self._materialize(record)
            if (entry := self._read[record.path]) is not None:
                yield entry

    def _materialize(self, record: SeedRecord) -> Entry | None:
        """Read a selected seed back into a full entry, with the id and dates of the store.

        Only the published entries are ever whole in memory: this re-read is what lets
        a run over 100,000 seeds hold one small stat per seed. The first time readers
        get an entry, the store learns what they see (its hash), and the warnings only
        a whole read gives are said. A seed that cannot be read whole is skipped until
        it changes.
        """
        try:
            data = read_bytes(self.paths[record.path], self.config.publish.max_seed_bytes)
        except SeedTooLarge as exc:
            self._broken(record, str(exc))
            return None
        except SeedError as exc:  # the disk, not the bytes: tried again next run
            self.report.skip(record.path, str(exc))
            return None
        try:
            reading = read_seed_data(record.path, data, record.first_seen, whole=True)
        except SeedError as exc:  # its bytes cannot be published: not read again as they are
            self._broken(record, str(exc))
            return None
        assert reading.entry is not None  # a whole read
        updated = record.updated
        if not record.entry_hash:
            digest = hashlib.blake2b(data, digest_size=16).digest()
            now = int(time.time())
            moved = self.store.set_entry_hash(record.path, digest, reading.entry_hash, now)
            updated = moved if moved is not None else updated
            for message in reading.warnings[reading.head_warnings :]:
                self.report.warn(record.path, message)
        entry = replace(
            reading.entry,
            id=record.entry_id,
            published=from_timestamp(record.published),
            updated=from_timestamp(updated),
        )
        if self.config.seeds.enrich and (found := self.store.enrichment(record.path)):
            from .harvest import enrich_entry

            entry = enrich_entry(entry, found)
        return entry

    def _broken(self, record: SeedRecord, reason: str) -> None:
        """A seed a feed was to show cannot be published as it is: it is kept as broken
        (not read again until it changes), and the feeds are chosen again, for another
        seed of its entry may take its place."""
        self.report.skip(record.path, reason)
        problem = BrokenSeed(
            record.path, record.size, record.mtime_ns, record.scanned_ns, record.digest, reason
        )
        self.store.put_broken([problem])
        self.broke = True


SEEDS_SOURCE = "seeds"  # what a feed's ``sources`` filter calls the seeds


class EntryFilter:
    """The filters of one feed: source, tags and authors (known before an entry is read),
    then words in its title and text."""

    def __init__(self, spec: FeedSpec) -> None:
        self.spec = spec
        self._words = _words(spec.words)
        self._exclude_words = _words(spec.exclude_words)

    def source(self, name: str) -> bool:
        """Whether entries of the source ``name`` may be in the feed."""
        spec = self.spec
        return (not spec.sources or name in spec.sources) and name not in spec.exclude_sources

    def labels(self, tags: tuple[str, ...], authors: tuple[str, ...]) -> bool:
        """Whether an entry with these tags and authors may be in the feed."""
        spec = self.spec
        return (
            _any(spec.tags, tags, default=True)
            and not _any(spec.exclude_tags, tags, default=False)
            and _any(spec.authors, authors, default=True)
            and not _any(spec.exclude_authors, authors, default=False)
        )

    def text(self, entry: Entry) -> bool:
        """Whether ``entry``'s title and text pass the word filters."""
        if self._words is None and self._exclude_words is None:
            return True
        from .normalize import html_to_text

        text = f"{entry.title}\n{html_to_text(entry.content_html)}"
        return (self._words is None or bool(self._words.search(text))) and (
            self._exclude_words is None or not self._exclude_words.search(text)
        )


def _words(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)


def _any(wanted: tuple[str, ...], have: tuple[str, ...], *, default: bool) -> bool:
    """Whether one of ``have`` is one of ``wanted`` (any case); ``default`` for none."""
    if not wanted:
        return default
    folded = {item.casefold() for item in wanted}
    return any(item.casefold() in folded for item in have)


def _matcher(spec: FeedSpec) -> Callable[[str], bool] | None:
    """Whether a seed path belongs to ``spec``; None for a feed that takes no seeds."""
    if not spec.include:
        return None
    patterns = spec.include
    return lambda path: any(fnmatchcase(path, pattern) for pattern in patterns)


def _newest_first(entry: Entry) -> tuple[float, str]:
    return -entry.published.timestamp(), entry.id
