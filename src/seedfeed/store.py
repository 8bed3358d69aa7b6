"""The state store: one SQLite file that remembers what seedfeed has seen between runs.

It keeps, per seed file, the stat and hash that tell whether it changed, the id of the
entry it produced and that entry's dates, so that a re-run neither re-parses unchanged
seeds nor moves a date. Everything goes through ``Store``; callers never write SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path

SCHEMA_VERSION = 1
STATE_FILE = "state.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seeds (
    path        TEXT PRIMARY KEY,  -- relative to the seeds folder, '/'-separated
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    scanned_ns  INTEGER NOT NULL,  -- when size/mtime were read (see SeedRecord.is_clean)
    digest      TEXT NOT NULL,     -- hash of the file's bytes
    entry_id    TEXT NOT NULL,     -- fixed at first sight, never recomputed
    entry_hash  TEXT NOT NULL,     -- hash of what readers see (normalize.content_hash)
    first_seen  INTEGER NOT NULL,  -- file mtime when first seen, POSIX seconds
    published   INTEGER NOT NULL,
    updated     INTEGER NOT NULL
) WITHOUT ROWID;
"""


class StoreError(Exception):
    """The state store cannot be opened or is from an unknown, newer schema."""


@dataclass(slots=True)
class SeedRecord:
    """What the store remembers of one seed file. Times are POSIX seconds (UTC)."""

    path: str
    size: int
    mtime_ns: int
    scanned_ns: int
    digest: str
    entry_id: str
    entry_hash: str
    first_seen: int
    published: int
    updated: int

    # A file modified within this long of being scanned may change again in the same
    # mtime tick without changing size ("racy git"); such a record is re-hashed.
    RACY_NS = 2_000_000_000

    def is_clean(self, size: int, mtime_ns: int) -> bool:
        """True when a file with this size and mtime is certainly unchanged."""
        return (
            self.size == size
            and self.mtime_ns == mtime_ns
            and self.scanned_ns - self.mtime_ns > self.RACY_NS
        )


_NAMES = [f.name for f in fields(SeedRecord)]
_COLUMNS = ", ".join(_NAMES)
_ROW = attrgetter(*_NAMES)
_PLACEHOLDERS = ", ".join("?" for _ in fields(SeedRecord))


class Store:
    """A connection to the state file. Changes are one transaction, kept by ``commit``."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / STATE_FILE
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._db.execute("BEGIN")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def _migrate(self) -> None:
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer seedfeed (schema {version}); upgrade seedfeed"
            )
        if version < SCHEMA_VERSION:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def seeds(self) -> dict[str, SeedRecord]:
        """Every remembered seed, by path."""
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM seeds")
        return {row[0]: SeedRecord(*row) for row in rows}

    def put_seeds(self, records: Iterable[SeedRecord]) -> None:
        """Insert or replace seed records."""
        self._db.executemany(
            f"INSERT OR REPLACE INTO seeds ({_COLUMNS}) VALUES ({_PLACEHOLDERS})",
            map(_ROW, records),
        )

    def forget_seeds(self, paths: Iterable[str]) -> None:
        """Drop the records of seeds that are gone."""
        self._db.executemany("DELETE FROM seeds WHERE path = ?", ((p,) for p in paths))

    def get(self, key: str) -> str | None:
        """A value from the key-value table (last run, and the like)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set(self, key: str, value: str) -> None:
        """Set a value in the key-value table."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def commit(self) -> None:
        """Make this run's changes durable and start a new transaction."""
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")

    def close(self) -> None:
        """Close without keeping uncommitted changes."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
