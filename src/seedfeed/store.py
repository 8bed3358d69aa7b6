"""The state store: one SQLite file that remembers what seedfeed has seen between runs.

It keeps, per seed file, the stat and hash that tell whether it changed, the id of the
entry it produced and that entry's dates, so that a re-run neither re-parses unchanged
seeds nor moves a date. Choosing each feed's newest entries is a query here too, so a
run never holds more than a small stat tuple per seed in memory. Everything goes
through ``Store``; callers never write SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path

SCHEMA_VERSION = 2
STATE_FILE = "state.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seeds (
    path        TEXT PRIMARY KEY,  -- relative to the seeds folder, '/'-separated
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    scanned_ns  INTEGER NOT NULL,  -- when size/mtime were read (see is_clean)
    digest      BLOB NOT NULL,     -- hash of the file's bytes
    entry_id    TEXT NOT NULL,     -- fixed at first sight, never recomputed
    entry_hash  BLOB NOT NULL,     -- hash of what readers see (normalize.content_hash)
    first_seen  INTEGER NOT NULL,  -- file mtime when first seen, POSIX seconds
    published   INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    ok          INTEGER NOT NULL DEFAULT 1,  -- 0 while the file is unreadable or broken
    link        TEXT NOT NULL DEFAULT '',    -- its canonical link now ('' for none)
    dated       INTEGER NOT NULL DEFAULT 0   -- 1 when the seed states its own date
);
CREATE INDEX IF NOT EXISTS seeds_by_date ON seeds (published DESC, entry_id);
CREATE INDEX IF NOT EXISTS seeds_by_entry ON seeds (entry_id, first_seen, path);
-- The dates of an entry belong to its id, not to whichever seed gives it now. While one
-- seed gives an id, that seed's row holds them; when the seed that publishes an id goes
-- (deleted, or broken), they are kept here, so that a duplicate taking over, or the
-- seed coming back, has them. The seeds rows of an id carry copies (for the index that
-- picks the newest entries).
CREATE TABLE IF NOT EXISTS entries (
    entry_id    TEXT PRIMARY KEY,
    published   INTEGER NOT NULL,
    updated     INTEGER NOT NULL,  -- never decreases
    entry_hash  BLOB NOT NULL,     -- what readers were last shown
    dated       INTEGER NOT NULL   -- published is the seed's own date
);
-- Every canonical link an entry has had besides its id: a new clip of a link that a
-- seed was edited to is the same article, not a second entry.
CREATE TABLE IF NOT EXISTS links (
    link        TEXT PRIMARY KEY,
    entry_id    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fetch_state (
    key           TEXT PRIMARY KEY,  -- Source.key(url): source name and configured URL
    url           TEXT NOT NULL,     -- where to fetch it now (after permanent redirects)
    etag          TEXT,              -- validators exactly as the server sent them
    last_modified TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,  -- in a row
    next_fetch    REAL NOT NULL DEFAULT 0,     -- POSIX seconds; backoff after failures
    last_success  INTEGER,
    last_error    TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0   -- 410 Gone
);
CREATE TABLE IF NOT EXISTS web_entries (
    id           TEXT NOT NULL,
    source       TEXT NOT NULL,  -- the source's name (its file's stem)
    feeds        TEXT NOT NULL,  -- ' all tech ': the feeds it goes into
    url          TEXT NOT NULL,  -- the page it was read from
    title        TEXT NOT NULL,
    link         TEXT NOT NULL,
    authors      TEXT NOT NULL,  -- joined with U+001F
    published    INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    content_html TEXT NOT NULL,
    summary      TEXT NOT NULL,
    tags         TEXT NOT NULL,
    entry_hash   BLOB NOT NULL,
    PRIMARY KEY (source, id)      -- two sources may carry one article, each to its feeds
);
CREATE TABLE IF NOT EXISTS enrichment (
    path        TEXT PRIMARY KEY,  -- the seed
    digest      BLOB NOT NULL,     -- the seed bytes it was fetched for: an edit fetches again
    link        TEXT NOT NULL,     -- the page's canonical link
    image       TEXT NOT NULL,
    description TEXT NOT NULL,
    error       TEXT               -- why the page could not be read (the seed is unaffected)
);
CREATE INDEX IF NOT EXISTS web_by_date ON web_entries (published DESC, id);
CREATE INDEX IF NOT EXISTS web_by_url ON web_entries (source, url);
"""

# A file modified within this long of being scanned may change again in the same mtime
# tick without changing size ("racy git"); such a file is re-hashed on the next run.
RACY_NS = 2_000_000_000

Stat = tuple[int, int, int]  # size, mtime_ns, scanned_ns


def is_clean(stat: Stat, size: int, mtime_ns: int) -> bool:
    """True when a file now of ``size`` and ``mtime_ns`` is certainly as recorded."""
    old_size, old_mtime_ns, scanned_ns = stat
    return old_size == size and old_mtime_ns == mtime_ns and scanned_ns - mtime_ns > RACY_NS


class StoreError(Exception):
    """The state store cannot be opened or is from an unknown, newer schema."""


@dataclass(slots=True)
class SeedRecord:
    """What the store remembers of one seed file. Times are POSIX seconds (UTC)."""

    path: str
    size: int
    mtime_ns: int
    scanned_ns: int
    digest: bytes
    entry_id: str
    entry_hash: bytes
    first_seen: int
    published: int
    updated: int
    link: str = ""  # canonical link of the entry as the seed gives it now
    dated: bool = False  # published is a date the seed states itself


@dataclass(slots=True)
class FetchState:
    """What the store remembers of fetching one source URL."""

    key: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    next_fetch: float = 0.0
    last_success: int | None = None
    last_error: str | None = None
    disabled: int = 0


@dataclass(slots=True)
class WebEntry:
    """An entry read from the web, kept whole: its page cannot be read again at will."""

    id: str
    source: str
    feeds: str
    url: str
    title: str
    link: str
    authors: str
    published: int
    updated: int
    content_html: str
    summary: str
    tags: str
    entry_hash: bytes


_FETCH_NAMES = [f.name for f in fields(FetchState)]
_FETCH_COLUMNS = ", ".join(_FETCH_NAMES)
_FETCH_ROW = attrgetter(*_FETCH_NAMES)
_WEB_NAMES = [f.name for f in fields(WebEntry)]
_WEB_COLUMNS = ", ".join(_WEB_NAMES)
_WEB_ROW = attrgetter(*_WEB_NAMES)
_NAMES = [f.name for f in fields(SeedRecord)]
_COLUMNS = ", ".join(_NAMES)
_ROW = attrgetter(*_NAMES)
_INSERT = (
    f"INSERT OR REPLACE INTO seeds ({_COLUMNS}, ok) VALUES ({', '.join('?' * len(_NAMES))}, 1)"
)
# A seed that publishes its id: the first-seen publishable one (as in ``newest``).
_WINNER = """
s.ok = 1 AND NOT EXISTS (
    SELECT 1 FROM seeds AS t
    WHERE t.entry_id = s.entry_id AND t.ok = 1
      AND (t.first_seen < s.first_seen OR (t.first_seen = s.first_seen AND t.path < s.path)))
"""
# Keep the dates of the entry a leaving seed publishes.
_REMEMBER = f"""
INSERT OR REPLACE INTO entries (entry_id, published, updated, entry_hash, dated)
SELECT entry_id, published, updated, entry_hash, dated FROM seeds AS s
WHERE s.path = ? AND {_WINNER}
"""
# Settle each touched id (it has a row in entries) against the seed that publishes it
# now. CROSS JOIN makes SQLite walk the few touched ids, not every seed.
_SETTLE = f"""
INSERT INTO entries (entry_id, published, updated, entry_hash, dated)
SELECT s.entry_id, s.published, s.updated, s.entry_hash, s.dated
FROM temp.touched AS k CROSS JOIN seeds AS s ON s.entry_id = k.entry_id
WHERE {_WINNER}
ORDER BY s.entry_id
ON CONFLICT (entry_id) DO UPDATE SET
    published = CASE WHEN excluded.dated THEN excluded.published ELSE entries.published END,
    updated = CASE
        WHEN excluded.entry_hash = entries.entry_hash THEN entries.updated
        ELSE max(
            CASE WHEN excluded.updated > entries.updated THEN excluded.updated ELSE :now END,
            CASE WHEN excluded.dated THEN excluded.published ELSE entries.published END)
        END,
    entry_hash = excluded.entry_hash,
    dated = excluded.dated
"""
_SETTLE_SEEDS = """
UPDATE seeds SET published = e.published, updated = e.updated
FROM entries AS e
WHERE e.entry_id = seeds.entry_id AND seeds.entry_id IN (SELECT entry_id FROM temp.touched)
  AND (seeds.published != e.published OR seeds.updated != e.updated)
"""
_S_COLUMNS = ", ".join(f"s.{name}" for name in _NAMES)


class Store:
    """A connection to the state file (or, with no folder, to a throwaway database in
    memory). Changes are one transaction, kept by ``commit``."""

    def __init__(self, state_dir: Path | None) -> None:
        if state_dir is None:
            self.path = Path(":memory:")
        else:
            state_dir.mkdir(parents=True, exist_ok=True)
            self.path = state_dir / STATE_FILE
        self._touched: set[str] = set()  # ids to settle (see ``settle``)
        self._entries_known = False  # the entries table has a row (checked once)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._db.execute("BEGIN")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def _migrate(self) -> None:
        """Create the schema, or bring an older one up to date, in one transaction."""
        has_meta = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
        row = None
        if has_meta:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer seedfeed (schema {version}); upgrade seedfeed"
            )
        if version == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if version:  # another process may have migrated while this one waited
                row = self._db.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'"
                ).fetchone()
                version = int(row[0])
            if version == SCHEMA_VERSION:
                self._db.execute("COMMIT")
                return
            if version == 1:
                # v1 -> v2: seeds learn their link and whether they state a date; the
                # entries and links tables start empty (they fill as seeds go or move).
                self._db.execute("ALTER TABLE seeds ADD COLUMN link TEXT NOT NULL DEFAULT ''")
                self._db.execute("ALTER TABLE seeds ADD COLUMN dated INTEGER NOT NULL DEFAULT 0")
            # Statement by statement: executescript would commit the transaction.
            for statement in _SCHEMA.split(";\n"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def seed_stats(self) -> dict[str, Stat]:
        """Every remembered seed's path with its (size, mtime_ns, scanned_ns)."""
        rows = self._db.execute("SELECT path, size, mtime_ns, scanned_ns FROM seeds")
        return {path: (size, mtime_ns, scanned_ns) for path, size, mtime_ns, scanned_ns in rows}

    def seed(self, path: str) -> SeedRecord | None:
        """The whole record of one seed, or None."""
        row = self._db.execute(f"SELECT {_COLUMNS} FROM seeds WHERE path = ?", (path,)).fetchone()
        return SeedRecord(*row) if row else None

    def put_seeds(self, records: Iterable[SeedRecord]) -> None:
        """Insert or replace seed records; they are published again (``ok``). A record of
        an id whose dates the store keeps (``entries``) is settled by ``settle``."""
        records = list(records)
        self._db.executemany(_INSERT, map(_ROW, records))
        self._db.executemany(
            "INSERT OR IGNORE INTO links VALUES (?, ?)",
            [(r.link, r.entry_id) for r in records if r.link and r.link != r.entry_id],
        )
        if self._has_entries():
            ids = [r.entry_id for r in records]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT entry_id FROM entries WHERE entry_id IN ({marks})", chunk
                )
                self._touched.update(row[0] for row in rows)

    def ids_of_links(self, links: Iterable[str]) -> dict[str, str]:
        """The entry id that each of ``links`` belongs to, for those that an entry has had
        besides its own id: a new seed of such a link joins that entry."""
        if self._db.execute("SELECT NOT EXISTS (SELECT 1 FROM links)").fetchone()[0]:
            return {}
        found: dict[str, str] = {}
        wanted = list(dict.fromkeys(links))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(
                self._db.execute(
                    f"SELECT link, entry_id FROM links WHERE link IN ({marks})", chunk
                ).fetchall()
            )
        return found

    def set_unpublishable(self, paths: Iterable[str]) -> None:
        """Keep these seeds' records (ids, dates) but leave them out of the feeds."""
        paths = [(p,) for p in paths]
        self._leaving(paths)
        self._db.executemany("UPDATE seeds SET ok = 0 WHERE path = ?", paths)

    def forget_seeds(self, paths: Iterable[str]) -> None:
        """Drop the records of seeds that are gone (their entries' dates stay known)."""
        paths = [(p,) for p in paths]
        self._leaving(paths)
        self._db.executemany("DELETE FROM seeds WHERE path = ?", paths)

    def _leaving(self, paths: list[tuple[str]]) -> None:
        """Seeds about to leave the feeds: the dates of the entries they publish are kept,
        for a duplicate that takes over or the seed coming back."""
        if not paths:
            return
        self._db.executemany(_REMEMBER, paths)
        for path in paths:
            row = self._db.execute("SELECT entry_id FROM seeds WHERE path = ?", path).fetchone()
            if row is not None:
                self._touched.add(row[0])
        self._entries_known = True

    def _has_entries(self) -> bool:
        if not self._entries_known:
            self._entries_known = bool(
                self._db.execute("SELECT EXISTS (SELECT 1 FROM entries)").fetchone()[0]
            )
        return self._entries_known

    def settle(self, now: int) -> None:
        """Give every entry whose dates the store keeps, and whose seeds changed in this
        run, its dates from the seed that publishes it now: ``published`` stays what the
        id had unless that seed states a date; ``updated`` moves forward (to ``now`` when
        the change looks older), never back, and only when what readers see changed. An
        id with no seed left keeps its dates for when one comes back. The ids' seeds rows
        take the settled dates."""
        if not self._touched:
            return
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS touched (entry_id TEXT PRIMARY KEY)")
        self._db.executemany(
            "INSERT OR IGNORE INTO temp.touched VALUES (?)", ((i,) for i in self._touched)
        )
        self._db.execute(_SETTLE, {"now": now})
        self._db.execute(_SETTLE_SEEDS)
        self._db.execute("DELETE FROM temp.touched")
        self._touched.clear()

    def duplicates(self) -> list[tuple[str, str, int]]:
        """Seeds that repeat an entry id of an earlier seen one, which is published in
        their place: (path, path of the published seed, scanned_ns of the duplicate)."""
        rows = self._db.execute(
            """
            SELECT path, first_path, scanned_ns FROM (
                SELECT path, scanned_ns,
                       first_value(path) OVER (
                           PARTITION BY entry_id ORDER BY first_seen, path) AS first_path
                FROM seeds
                WHERE ok = 1 AND entry_id IN (
                    SELECT entry_id FROM seeds WHERE ok = 1
                    GROUP BY entry_id HAVING count(*) > 1))
            WHERE path != first_path ORDER BY path
            """
        )
        return rows.fetchall()

    def newest(self, include: Callable[[str], bool] | None = None) -> Iterator[SeedRecord]:
        """Publishable seeds, newest first, one per entry id (the first-seen seed).

        ``include`` restricts both the seeds and the duplicate check to matching paths.
        The cursor is lazy and walks an index: taking the first 50 of 100,000 seeds
        reads about 50 rows.
        """
        match = ""
        if include is not None:
            self._db.create_function("seed_included", 1, include, deterministic=True)
            match = "AND seed_included({0}.path)"
        query = f"""
            SELECT {_S_COLUMNS} FROM seeds AS s
            WHERE s.ok = 1 {match.format("s")} AND NOT EXISTS (
                SELECT 1 FROM seeds AS t
                WHERE t.entry_id = s.entry_id AND t.ok = 1 {match.format("t")}
                  AND (t.first_seen < s.first_seen
                       OR (t.first_seen = s.first_seen AND t.path < s.path)))
            ORDER BY s.published DESC, s.entry_id
        """
        for row in self._db.execute(query):
            yield SeedRecord(*row)

    # --- sources ---------------------------------------------------------------------

    def fetch_state(self, key: str, url: str) -> FetchState:
        """What is known of fetching ``key`` (a fresh state for a new one)."""
        row = self._db.execute(
            f"SELECT {_FETCH_COLUMNS} FROM fetch_state WHERE key = ?", (key,)
        ).fetchone()
        return FetchState(*row) if row else FetchState(key=key, url=url)

    def fetch_states(self) -> list[FetchState]:
        """Every source URL's fetch state, by key."""
        rows = self._db.execute(f"SELECT {_FETCH_COLUMNS} FROM fetch_state ORDER BY key")
        return [FetchState(*row) for row in rows]

    def put_fetch_state(self, state: FetchState) -> None:
        """Insert or replace one fetch state."""
        self._db.execute(
            f"INSERT OR REPLACE INTO fetch_state ({_FETCH_COLUMNS}) VALUES"
            f" ({', '.join('?' * len(_FETCH_NAMES))})",
            _FETCH_ROW(state),
        )

    def web_entry(self, source: str, entry_id: str) -> WebEntry | None:
        """A source's stored web entry by id."""
        row = self._db.execute(
            f"SELECT {_WEB_COLUMNS} FROM web_entries WHERE source = ? AND id = ?",
            (source, entry_id),
        ).fetchone()
        return WebEntry(*row) if row else None

    def has_web_url(self, source: str, url: str) -> bool:
        """True when ``source`` already read the page at ``url`` into an entry."""
        row = self._db.execute(
            "SELECT 1 FROM web_entries WHERE source = ? AND url = ?", (source, url)
        ).fetchone()
        return row is not None

    def put_web_entry(self, entry: WebEntry) -> None:
        """Insert or replace one web entry."""
        self._db.execute(
            f"INSERT OR REPLACE INTO web_entries ({_WEB_COLUMNS}) VALUES"
            f" ({', '.join('?' * len(_WEB_NAMES))})",
            _WEB_ROW(entry),
        )

    def forget_sources_except(self, names: Iterable[str]) -> int:
        """Drop the entries and fetch state of sources whose files are gone."""
        keep = set(names)
        marks = ", ".join("?" * len(keep))
        removed = self._db.execute(
            f"DELETE FROM web_entries WHERE source NOT IN ({marks})", list(keep)
        ).rowcount
        # A key is "<name> <url>"; a name may hold spaces, a URL never does.
        keys = [row[0] for row in self._db.execute("SELECT key FROM fetch_state")]
        gone = [(key,) for key in keys if key.rsplit(" ", 1)[0] not in keep]
        self._db.executemany("DELETE FROM fetch_state WHERE key = ?", gone)
        return removed

    def prune_web(self, source: str, keep: int) -> int:
        """Keep only ``source``'s newest ``keep`` entries (they are remembered to know
        which links were read; far more than any feed shows)."""
        return self._db.execute(
            "DELETE FROM web_entries WHERE source = ? AND id NOT IN (SELECT id FROM web_entries"
            " WHERE source = ? ORDER BY published DESC, id LIMIT ?)",
            (source, source, keep),
        ).rowcount

    def newest_web(self, feed: str) -> Iterator[WebEntry]:
        """The web entries of ``feed``, newest first (lazy)."""
        query = (
            f"SELECT {_WEB_COLUMNS} FROM web_entries WHERE instr(feeds, ?) > 0"
            " ORDER BY published DESC, id"
        )
        for row in self._db.execute(query, (f" {feed} ",)):
            yield WebEntry(*row)

    def seed_paths_with_id(self, entry_id: str) -> list[str]:
        """The publishable seeds that give ``entry_id`` (a seed wins over the web)."""
        rows = self._db.execute("SELECT path FROM seeds WHERE entry_id = ? AND ok = 1", (entry_id,))
        return [row[0] for row in rows]

    # --- seed enrichment ----------------------------------------------------------------

    def seeds_to_enrich(self) -> list[tuple[str, bytes, str, int, int]]:
        """Publishable seeds with a link and no enrichment for their current bytes:
        (path, digest, link, published, first_seen)."""
        rows = self._db.execute(
            "SELECT s.path, s.digest, s.entry_id, s.published, s.first_seen FROM seeds AS s"
            " LEFT JOIN enrichment AS e ON e.path = s.path"
            " WHERE s.ok = 1 AND s.entry_id LIKE 'http%'"
            " AND (e.path IS NULL OR e.digest != s.digest)"
            " ORDER BY s.path"
        )
        return rows.fetchall()

    def put_enrichment(
        self, path: str, digest: bytes, *, link: str = "", image: str = "", description: str = "",
        error: str | None = None,
    ) -> None:  # fmt: skip
        """Remember what the page of a seed's link said (or why it could not be read)."""
        self._db.execute(
            "INSERT OR REPLACE INTO enrichment VALUES (?, ?, ?, ?, ?, ?)",
            (path, digest, link, image, description, error),
        )

    def enrichment(self, path: str) -> tuple[str, str, str] | None:
        """(link, image, description) fetched for the seed at ``path``, if any."""
        row = self._db.execute(
            "SELECT e.link, e.image, e.description FROM enrichment AS e"
            " JOIN seeds AS s USING (path)"
            " WHERE path = ? AND e.digest = s.digest AND e.error IS NULL",
            (path,),
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def set_seed_published(self, path: str, published: int) -> None:
        """Give a seed's entry the date its page states (the seed states none)."""
        row = self._db.execute("SELECT entry_id FROM seeds WHERE path = ?", (path,)).fetchone()
        if row is None:
            return
        self._db.execute(
            "UPDATE entries SET published = ?, updated = max(updated, ?) WHERE entry_id = ?",
            (published, published, row[0]),
        )
        self._db.execute(
            "UPDATE seeds SET published = ?, updated = max(updated, ?) WHERE entry_id = ?",
            (published, published, row[0]),
        )

    # --- key-value --------------------------------------------------------------------

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
