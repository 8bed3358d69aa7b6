"""Choosing each feed's entries: the newest seeds the feed includes, read back from their
files, merged by date with the sources' stored entries, one entry per id."""

from __future__ import annotations

import hashlib
import heapq
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase

from .config import Config, FeedSpec
from .dates import from_timestamp
from .model import Entry
from .report import Report
from .scan import SeedPaths, read_seed_data
from .seeds import SeedError, read_bytes
from .store import BrokenSeed, SeedRecord, StateStore


@dataclass
class FeedBuilder:
    """Chooses each feed's entries: seeds read back from their files (once per run, even
    when several feeds show them) merged with the sources' stored entries."""

    config: Config
    store: StateStore
    paths: SeedPaths
    report: Report
    _read: dict[str, Entry | None] = field(default_factory=dict)

    def newest(self, spec: FeedSpec) -> list[Entry]:
        """The newest ``spec.max_entries`` entries of ``spec``, merged by date, one per id
        (a seed wins over the same article from the web)."""
        include = _matcher(spec)
        web = (
            web.entry
            for web in self.store.newest_web(spec.name)
            if not (include and any(map(include, self.store.seed_paths_with_id(web.entry.id))))
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
        a run over 100,000 seeds hold one small stat per seed. The first time readers
        get an entry, the store learns what they see (its hash), and the warnings only
        a whole read gives are said. A seed that cannot be read whole is skipped until
        it changes.
        """
        try:
            data = read_bytes(self.paths[record.path], self.config.publish.max_seed_bytes)
            reading = read_seed_data(record.path, data, record.first_seen, whole=True)
        except SeedError as exc:
            self.report.skip(record.path, str(exc))
            if "vanished" not in str(exc):
                self.store.put_broken(
                    [
                        BrokenSeed(
                            record.path,
                            record.size,
                            record.mtime_ns,
                            record.scanned_ns,
                            record.digest,
                            str(exc),
                        )
                    ]
                )
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


def _matcher(spec: FeedSpec) -> Callable[[str], bool] | None:
    """Whether a seed path belongs to ``spec``; None for a feed that takes no seeds."""
    if not spec.include:
        return None
    patterns = spec.include
    return lambda path: any(fnmatchcase(path, pattern) for pattern in patterns)


def _newest_first(entry: Entry) -> tuple[float, str]:
    return -entry.published.timestamp(), entry.id
