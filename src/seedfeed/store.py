"""The state store: what seedfeed remembers between runs, behind one interface.

It keeps, per seed file, the stat and hash that tell whether it changed, the id of the
entry it produced and that entry's dates, so that a re-run neither re-parses unchanged
seeds nor moves a date; the dates of entries whose seeds left; the links entries had;
per source URL, its HTTP validators, health and when it is due; the entries read from
the web; what enrich found; and the record of the last run. Choosing each feed's newest
entries is a query here too, so a run never holds more than a small stat per seed.

``StateStore`` is the interface (a Protocol): callers pass and receive the dataclasses
below, never rows, keys or encodings, so that another implementation (PostgreSQL for a
cluster) can stand in; ``tests/test_store.py`` runs against the interface alone.
``SQLiteStore`` is the embedded implementation: one SQLite file in WAL mode, its schema
versioned and migrated in ``_migrate``.
"""

from __future__ import annotations

import json
import marshal
import sqlite3
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from .dates import from_timestamp
from .errors import SeedfeedError
from .model import Entry

SCHEMA_VERSION = 4
STATE_FILE = "state.sqlite3"

# A file modified within this long of being scanned may change again in the same mtime
# tick without changing size ("racy git"); such a file is re-hashed on the next run.
RACY_NS = 2_000_000_000
# The seeds whose stamp (size, mtime) proves them unchanged (``SeedStat.is_clean``).
_STAMPED = f"problem IS NULL AND scanned_ns - mtime_ns > {RACY_NS}"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seeds (
    path        TEXT PRIMARY KEY,  -- relative to the seeds folder, '/'-separated
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    scanned_ns  INTEGER NOT NULL,  -- when size/mtime were read (see is_clean)
    digest      BLOB NOT NULL,     -- hash of the file's bytes
    entry_id    TEXT NOT NULL,     -- fixed at first sight, never recomputed
    entry_hash  BLOB NOT NULL,     -- hash of what readers see; x'' until a feed shows it
    first_seen  INTEGER NOT NULL,  -- file mtime when first seen, POSIX seconds
    published   INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    ok          INTEGER NOT NULL DEFAULT 1,  -- 0 while the file is unreadable or broken
    link        TEXT NOT NULL DEFAULT '',    -- its canonical link now ('' for none)
    dated       INTEGER NOT NULL DEFAULT 0,  -- 1 when the seed states its own date
    problem     TEXT,                        -- why it is skipped, while it is (ok = 0)
    known_ns    INTEGER NOT NULL DEFAULT 0,  -- when a scan first found it: of duplicates,
                                             -- the one known first publishes the entry
                                             -- (then the one first dated, by its file)
    authors     TEXT NOT NULL DEFAULT '',    -- joined with U+001F (tag and author feeds)
    tags        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS seeds_by_date ON seeds (published DESC, entry_id);
CREATE INDEX IF NOT EXISTS seeds_by_entry_known ON seeds (entry_id, known_ns, first_seen, path);
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
    source        TEXT NOT NULL,     -- the source's name (its file's stem)
    origin        TEXT NOT NULL,     -- the URL as its file gives it
    url           TEXT NOT NULL,     -- where to fetch it now (after permanent redirects)
    etag          TEXT,              -- validators exactly as the server sent them
    last_modified TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,  -- in a row
    next_fetch    REAL NOT NULL DEFAULT 0,     -- POSIX seconds: due from then on
    last_success  INTEGER,
    last_error    TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,  -- 410 Gone
    PRIMARY KEY (source, origin)
);
CREATE INDEX IF NOT EXISTS fetch_by_due ON fetch_state (next_fetch) WHERE disabled = 0;
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
-- Article pages a source announced that could not be read yet: retried on their own
-- backoff, so that the page announcing them keeps its validators (schema 3).
CREATE TABLE IF NOT EXISTS pending_pages (
    source       TEXT NOT NULL,
    url          TEXT NOT NULL,
    failures     INTEGER NOT NULL,  -- in a row
    next_try     REAL NOT NULL,     -- POSIX seconds
    first_failed INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (source, url)
);
-- Each site's robots.txt as last read (schema 3).
CREATE TABLE IF NOT EXISTS robots (
    origin        TEXT PRIMARY KEY,  -- scheme://host[:port]
    body          TEXT NOT NULL,     -- '' for none (a 4xx: everything allowed)
    etag          TEXT,
    last_modified TEXT,
    fetched_at    REAL NOT NULL
);
-- The stamps of the seeds a scan may skip (see ``seed_stats``), kept whole in one row so
-- that a scan of 100,000 unchanged seeds reads one value, not 100,000 rows. The methods
-- that write seeds delete it (``_restated``); so does a stat edited or a row deleted by
-- hand (the triggers; REPLACE does not fire the one on DELETE, so a cold run's inserts
-- pay nothing). It is written again by a commit that changed no stamp (schema 4).
CREATE TABLE IF NOT EXISTS seed_stamps (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    data BLOB NOT NULL  -- CRC-32, then marshal of {{path: seed_stamp(size, mtime_ns)}}
);
CREATE INDEX IF NOT EXISTS seeds_unstamped ON seeds (path) WHERE NOT ({_STAMPED});
CREATE TRIGGER IF NOT EXISTS seeds_restated
AFTER UPDATE OF path, size, mtime_ns, scanned_ns, problem ON seeds
BEGIN DELETE FROM seed_stamps; END;
CREATE TRIGGER IF NOT EXISTS seeds_gone AFTER DELETE ON seeds
BEGIN DELETE FROM seed_stamps; END;
"""


class StoreError(SeedfeedError):
    """The state store cannot be opened or is from an unknown, newer schema."""


# --- the records --------------------------------------------------------------------------


class SeedStat(NamedTuple):
    """The stat of a seed file when it was last read (a tuple: 100,000 are made at once)."""

    size: int
    mtime_ns: int
    scanned_ns: int  # when size and mtime were read
    problem: str | None = None  # why the file is skipped, when it is

    def is_clean(self, size: int, mtime_ns: int) -> bool:
        """True when a file now of ``size`` and ``mtime_ns`` is certainly as recorded."""
        return (
            self.size == size and self.mtime_ns == mtime_ns and self.scanned_ns - mtime_ns > RACY_NS
        )


class SeedStats(NamedTuple):
    """Every remembered seed's stat, as a scan of 100,000 files wants it: one lookup and
    a comparison a file. ``stamps``: the (size, mtime_ns) of each seed that is
    publishable and was read well after its last change (not racy), so that a file
    still of that size and mtime is certainly as recorded. ``others``: the stats of the
    rest (skipped for what their bytes are, or read too soon after a change)."""

    stamps: dict[str, bytes]  # seed_stamp(size, mtime_ns)
    others: dict[str, SeedStat]


# What ``SeedStats.stamps`` holds for a file of a size and mtime: 16 bytes, so that the
# stamps of 100,000 seeds load as 100,000 strings and bytes, without an int or a tuple.
seed_stamp: Callable[[int, int], bytes] = struct.Struct("<qq").pack


@dataclass(slots=True)
class SeedRecord:
    """What the store remembers of one seed file. Times are POSIX seconds (UTC)."""

    path: str
    size: int
    mtime_ns: int
    scanned_ns: int
    digest: bytes
    entry_id: str  # "" while the seed never gave an entry (broken from the start)
    entry_hash: bytes  # b"" until a feed showed the entry (the scan reads only its head)
    first_seen: int
    published: int
    updated: int
    link: str = ""  # canonical link of the entry as the seed gives it now
    dated: bool = False  # published is a date the seed states itself
    known_ns: int = 0  # when a scan first found the file (its duplicates come later)
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[type[SeedRecord], tuple[Any, ...]]:
        # Pickled as its values, read in C: a cold run's parse workers send one back per
        # seed, and a slots dataclass's own pickling calls fields() for each (4x slower).
        return SeedRecord, _SEED_VALUES(self)


@dataclass(frozen=True, slots=True)
class BrokenSeed:
    """A seed file that cannot be published as it is, and why: kept, so that it is not
    read again until it changes (and its entry keeps its id and dates meanwhile)."""

    path: str
    size: int
    mtime_ns: int
    scanned_ns: int
    digest: bytes
    problem: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A seed that repeats the entry of an earlier-seen one, published in its place."""

    path: str
    first: str  # the seed that is published
    scanned_ns: int  # when the duplicate was read (a new duplicate: this run's scan)


@dataclass(frozen=True, slots=True)
class EnrichTask:
    """A seed whose link's page is to be read for what the seed lacks."""

    path: str
    digest: bytes  # the bytes of the seed it is for: an edit reads the page again
    link: str
    dated: bool  # the seed states its own date (the page's does not replace it)


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What the page of a seed's link added."""

    link: str = ""
    image: str = ""
    description: str = ""


@dataclass(slots=True)
class FetchState:
    """What the store remembers of fetching one URL of one source."""

    source: str  # the source's name
    origin: str  # the URL as the source file gives it
    url: str = ""  # where to fetch it now (after permanent redirects); origin at first
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0  # in a row
    next_fetch: float = 0.0  # due from then on (POSIX seconds)
    last_success: int | None = None
    last_error: str | None = None
    disabled: bool = False  # 410 Gone

    def __post_init__(self) -> None:
        self.url = self.url or self.origin


@dataclass(slots=True)
class PendingPage:
    """An article page a source announced that could not be read yet."""

    source: str
    url: str
    failures: int = 0  # in a row
    next_try: float = 0.0  # tried again from then on (POSIX seconds)
    first_failed: int = 0  # POSIX seconds
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RobotsRecord:
    """A site's robots.txt as last read."""

    origin: str  # scheme://host[:port]
    body: str  # "" for none (a 4xx: everything allowed)
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: float = 0.0  # when it was last read, or confirmed by a 304


@dataclass(frozen=True, slots=True)
class WebEntry:
    """An entry read from the web, kept whole: its page cannot be read again at will."""

    source: str
    feeds: tuple[str, ...]  # the feeds it goes into
    url: str  # the page it was read from
    entry: Entry
    entry_hash: bytes


@dataclass(frozen=True, slots=True)
class OutputsRecord:
    """The outputs last written: their fingerprint, the store's generation they were
    made from, each feed's entry count and how many distinct articles they hold (what a
    run that renders nothing reports)."""

    key: str
    entries: dict[str, int]
    articles: int
    generation: int = 0


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What the last publish did, for ``seedfeed status``."""

    at: int  # POSIX seconds
    seeds: int = 0
    skipped: int = 0
    warnings: int = 0
    entries: int = 0
    written: tuple[str, ...] = ()
    sources_failed: int = 0


# --- the interface ------------------------------------------------------------------------


class StateStore(Protocol):
    """What seedfeed asks of its state, whatever keeps it. Changes are one transaction
    per run, kept by ``commit``; ``close`` without it forgets them."""

    # seeds
    def seed_stats(self) -> SeedStats:
        """Every remembered seed's path with its stat (see ``SeedStats``)."""
        ...

    def seed(self, path: str) -> SeedRecord | None:
        """The whole record of one seed, or None."""
        ...

    def put_seeds(self, records: Iterable[SeedRecord]) -> None:
        """Insert or replace seed records (publishable again)."""
        ...

    def ids_of_links(self, links: Iterable[str]) -> dict[str, str]:
        """The entry id each of ``links`` belongs to, for links an entry had besides its
        own id: a new seed of such a link joins that entry."""
        ...

    def set_unpublishable(self, paths: Iterable[str]) -> None:
        """Keep these seeds' records but leave them out of the feeds (unreadable now)."""
        ...

    def put_broken(self, seeds: Iterable[BrokenSeed]) -> None:
        """Remember seeds that cannot be published, with why; they leave the feeds."""
        ...

    def set_entry_hash(self, path: str, digest: bytes, entry_hash: bytes, now: int) -> int | None:
        """What readers see of the seed at ``path``, once a feed shows it (if the seed
        still has the bytes ``digest``). Returns the entry's new ``updated`` when readers
        had been shown other content under its id (a duplicate took over), else None."""
        ...

    def forget_seeds(self, paths: Iterable[str]) -> None:
        """Drop the records of seeds that are gone; their entries' dates stay known."""
        ...

    def settle(self, now: int) -> None:
        """Give the entries whose seeds changed their dates (see ``SQLiteStore.settle``)."""
        ...

    def duplicates(self, among: Iterable[str] | None = None) -> list[Duplicate]:
        """Seeds that repeat the entry of an earlier-seen seed, by path; only those of
        the entry ids ``among`` when given."""
        ...

    def duplicate_count(self) -> int:
        """How many publishable seeds repeat the entry of another (cheaper than
        ``duplicates``)."""
        ...

    def newest(self, include: Callable[[str], bool] | None = None) -> Iterator[SeedRecord]:
        """Publishable seeds (those ``include`` accepts), newest first, one per entry."""
        ...

    def seed_paths_with_id(self, entry_id: str) -> list[str]:
        """The publishable seeds that give ``entry_id``."""
        ...

    # enrich
    def seeds_to_enrich(self) -> list[EnrichTask]:
        """Publishable seeds with a link and nothing read for their current bytes."""
        ...

    def put_enrichment(
        self, path: str, digest: bytes, found: Enrichment | None, error: str | None = None
    ) -> None:
        """Remember what a seed's page gave (or why it could not be read)."""
        ...

    def enrichment(self, path: str) -> Enrichment | None:
        """What the page of the seed at ``path`` gave for its current bytes."""
        ...

    def set_seed_published(self, path: str, published: int) -> None:
        """Date the entry of the seed at ``path`` (it states no date) by its page."""
        ...

    # sources
    def sync_sources(self, urls: Iterable[tuple[str, str]], keep: Iterable[str] = ()) -> None:
        """Make ``(source, origin)`` the URLs to fetch: new ones are due at once; the
        state and entries of other sources go, except those of the sources in ``keep``
        (disabled, or whose files cannot be read now), which stay as they are."""
        ...

    def due(self, now: float) -> list[FetchState]:
        """The URLs due at ``now``: not disabled, ``next_fetch`` passed; by source."""
        ...

    def fetch_state(self, source: str, origin: str) -> FetchState:
        """What is known of fetching one URL (a fresh state for a new one)."""
        ...

    def fetch_states(self) -> list[FetchState]:
        """Every URL's fetch state, by source and URL."""
        ...

    def put_fetch_state(self, state: FetchState) -> None:
        """Insert or replace one fetch state."""
        ...

    def pending_pages(self) -> list[PendingPage]:
        """Every announced page not read yet, by source and URL."""
        ...

    def put_pending_page(self, page: PendingPage) -> None:
        """Insert or replace one page not read yet."""
        ...

    def drop_pending_page(self, source: str, url: str) -> None:
        """Forget a page not read yet (it was read, or given up)."""
        ...

    def robots(self, origin: str) -> RobotsRecord | None:
        """The robots.txt of ``origin`` as last read, if ever."""
        ...

    def put_robots(self, record: RobotsRecord) -> None:
        """Keep a site's robots.txt."""
        ...

    def forget_robots(self, before: float) -> None:
        """Forget the robots.txt of the sites last read before ``before``."""
        ...

    def web_entry(self, source: str, entry_id: str) -> WebEntry | None:
        """A source's stored entry by id."""
        ...

    def has_web_url(self, source: str, url: str) -> bool:
        """True when ``source`` already read the page at ``url`` into an entry."""
        ...

    def put_web_entry(self, web: WebEntry) -> None:
        """Insert or replace one web entry."""
        ...

    def prune_web(self, source: str, keep: int) -> int:
        """Keep only ``source``'s newest ``keep`` entries; returns how many went."""
        ...

    def newest_web(self, sources: Sequence[str] | None) -> Iterator[WebEntry]:
        """The web entries of ``sources`` (of every source with None), newest first
        (lazy)."""
        ...

    def labels(self) -> tuple[list[str], list[str]]:
        """Every tag and every author of the publishable seeds and web entries, sorted
        (for the tag and author feeds)."""
        ...

    # runs and transactions
    def changed(self) -> bool:
        """Whether anything the feeds are made of (seeds, entries, web entries, what
        enrich found) changed through this store since it was opened or committed."""
        ...

    def generation(self) -> int:
        """A number that changes with every committed change of what the feeds are made
        of, by whichever process (counting this one's pending changes)."""
        ...

    def outputs(self) -> OutputsRecord | None:
        """What the last outputs written were made from, and what they held."""
        ...

    def set_outputs(self, record: OutputsRecord) -> None:
        """Remember the outputs just written (see ``outputs``)."""
        ...

    def record_run(self, run: RunRecord) -> None:
        """Remember what this publish did."""
        ...

    def last_run(self) -> RunRecord | None:
        """What the last publish did, if one ran."""
        ...

    def commit(self) -> None:
        """Make the changes so far durable."""
        ...

    def close(self) -> None:
        """Close, forgetting uncommitted changes."""
        ...

    def __enter__(self) -> StateStore: ...

    def __exit__(self, *exc: object) -> None: ...


# --- SQLite ----------------------------------------------------------------------------------

_STAT_COLUMNS = "path, size, mtime_ns, scanned_ns, problem"
_MARSHAL_VERSION = 4


def _stamps_blob(stamps: dict[str, bytes]) -> bytes:
    data = marshal.dumps(stamps, _MARSHAL_VERSION)
    return zlib.crc32(data).to_bytes(4, "big") + data


def _stamps_from(blob: bytes) -> dict[str, bytes] | None:
    """The stamps kept in ``seed_stamps``; None when they cannot be read (a damaged row,
    another Python's marshal): they are then read from the rows again. The checksum
    comes first: marshal trusts its input, and a flipped length can ask for gigabytes."""
    data = blob[4:]
    if len(blob) < 4 or zlib.crc32(data).to_bytes(4, "big") != blob[:4]:
        return None
    try:
        stamps = marshal.loads(data)
    except Exception:  # whatever marshal makes of it: read the rows
        return None
    return stamps if isinstance(stamps, dict) else None


_SEED_NAMES = [f.name for f in fields(SeedRecord)]
_SEED_VALUES = attrgetter(*_SEED_NAMES)
_SEED_COLUMNS = ", ".join(_SEED_NAMES)


def _seed_row(r: SeedRecord) -> tuple[Any, ...]:
    # sqlite3 binds an int, float, str or bytearray as it is, and looks any other value
    # up in its adapters first, bytes and bool too (an AttributeError made and dropped
    # each time: 1.6 of a row's 2.6 us). The blobs go as bytearray, the flag as int:
    # the same values stored, and a cold run binds 10,000s of rows.
    return (
        r.path, r.size, r.mtime_ns, r.scanned_ns, bytearray(r.digest), r.entry_id,
        bytearray(r.entry_hash), r.first_seen, r.published, r.updated, r.link, int(r.dated),
        r.known_ns, _SEP.join(r.authors), _SEP.join(r.tags),
    )  # fmt: skip


# _seed_row names the columns in the order _INSERT_SEED lists them.
assert _SEED_NAMES == [
    "path", "size", "mtime_ns", "scanned_ns", "digest", "entry_id", "entry_hash",
    "first_seen", "published", "updated", "link", "dated", "known_ns", "authors", "tags",
]  # fmt: skip


_S_COLUMNS = ", ".join(f"s.{name}" for name in _SEED_NAMES)
_INSERT_SEED = (
    f"INSERT OR REPLACE INTO seeds ({_SEED_COLUMNS}, ok)"
    f" VALUES ({', '.join('?' * len(_SEED_NAMES))}, 1)"
)
_FETCH_NAMES = [f.name for f in fields(FetchState)]
_FETCH_COLUMNS = ", ".join(_FETCH_NAMES)
_FETCH_ROW = attrgetter(*_FETCH_NAMES)
_PENDING_NAMES = [f.name for f in fields(PendingPage)]
_PENDING_COLUMNS = ", ".join(_PENDING_NAMES)
_PENDING_ROW = attrgetter(*_PENDING_NAMES)
_ROBOTS_NAMES = [f.name for f in fields(RobotsRecord)]
_ROBOTS_COLUMNS = ", ".join(_ROBOTS_NAMES)
_ROBOTS_ROW = attrgetter(*_ROBOTS_NAMES)
_WEB_COLUMNS = (
    "id, source, feeds, url, title, link, authors, published, updated, content_html,"
    " summary, tags, entry_hash"
)
_SEP = "\x1f"  # joins authors and tags in one column
# A seed that publishes its id: the first-seen publishable one (as in ``newest``).
_WINNER = """
s.ok = 1 AND NOT EXISTS (
    SELECT 1 FROM seeds AS t
    WHERE t.entry_id = s.entry_id AND t.ok = 1
      AND (t.known_ns, t.first_seen, t.path) < (s.known_ns, s.first_seen, s.path))
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
        -- the same, or not known yet (set_entry_hash decides when readers get it)
        WHEN excluded.entry_hash IN (entries.entry_hash, x'') THEN entries.updated
        ELSE max(
            CASE WHEN excluded.updated > entries.updated THEN excluded.updated
                 ELSE max(:now, entries.updated + 1) END,
            CASE WHEN excluded.dated THEN excluded.published ELSE entries.published END)
        END,
    entry_hash = CASE
        WHEN excluded.entry_hash = x'' THEN entries.entry_hash ELSE excluded.entry_hash END,
    dated = excluded.dated
"""
_SETTLE_SEEDS = """
UPDATE seeds SET published = e.published, updated = e.updated
FROM entries AS e
WHERE e.entry_id = seeds.entry_id AND seeds.entry_id IN (SELECT entry_id FROM temp.touched)
  AND (seeds.published != e.published OR seeds.updated != e.updated)
"""


class SQLiteStore:
    """The state in one SQLite file (or, with no folder, in a throwaway database in
    memory). Implements ``StateStore``."""

    def __init__(self, state_dir: Path | None) -> None:
        if state_dir is None:
            self.path = Path(":memory:")
        else:
            state_dir.mkdir(parents=True, exist_ok=True)
            self.path = state_dir / STATE_FILE
        self._touched: set[str] = set()  # ids to settle (see ``settle``)
        self._changed = False  # what the feeds are made of changed (see ``changed``)
        self._entries_known = False  # the entries table has a row (checked once)
        self._stamps: bytes | None = None  # seed stamps to keep at commit (``seed_stats``)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._db.execute("BEGIN")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    # --- the schema ------------------------------------------------------------------

    def _version(self) -> int:
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            return 0
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        """Create the schema, or bring an older one up to date, in one transaction."""
        version = self._version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer seedfeed (schema {version}); upgrade seedfeed"
            )
        if version == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version()  # another process may have migrated meanwhile
            if version < SCHEMA_VERSION:
                if version == 1:
                    self._migrate_v1()
                # Statement by statement: executescript would commit the transaction.
                for statement in _SCHEMA.split(";\n"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _migrate_v1(self) -> None:
        """v1 -> v2: seeds learn their link and whether they state a date (the entries
        and links tables start empty and fill as seeds go or move); a fetch state's
        "name url" key becomes two columns."""
        self._db.execute("ALTER TABLE seeds ADD COLUMN link TEXT NOT NULL DEFAULT ''")
        self._db.execute("ALTER TABLE seeds ADD COLUMN dated INTEGER NOT NULL DEFAULT 0")
        self._db.execute("ALTER TABLE seeds ADD COLUMN problem TEXT")
        self._db.execute("ALTER TABLE seeds ADD COLUMN known_ns INTEGER NOT NULL DEFAULT 0")
        self._db.execute("ALTER TABLE seeds ADD COLUMN authors TEXT NOT NULL DEFAULT ''")
        self._db.execute("ALTER TABLE seeds ADD COLUMN tags TEXT NOT NULL DEFAULT ''")
        self._db.execute("DROP INDEX IF EXISTS seeds_by_entry")
        # v1 chose among duplicates by first sight; the rows say what each one learns
        # from a head-only read (link, date stated, tags) at the next scan, not an edit
        # (digest x'': see scan.refresh).
        self._db.execute(
            "UPDATE seeds SET known_ns = first_seen * 1000000000, digest = x'', scanned_ns = 0"
        )
        rows = self._db.execute(
            "SELECT key, url, etag, last_modified, failures, next_fetch, last_success,"
            " last_error, disabled FROM fetch_state"
        ).fetchall()
        self._db.execute("DROP TABLE fetch_state")
        table = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS fetch_state") :]
        self._db.execute(table[: table.index(";\n")])
        marks = ", ".join("?" * len(_FETCH_NAMES))
        self._db.executemany(
            f"INSERT INTO fetch_state ({_FETCH_COLUMNS}) VALUES ({marks})",
            # A key is "<name> <url>"; a name may hold spaces, a URL never does.
            [(*key.rsplit(" ", 1), *rest) for key, *rest in rows],
        )

    # --- seeds -------------------------------------------------------------------------

    def seed_stats(self) -> SeedStats:
        """Every remembered seed's path with its stat (see ``SeedStats``).

        Reading 100,000 rows costs more than the rest of a scan that finds nothing
        changed, so the stamps are also kept whole in one row (``seed_stamps``): read
        from the rows when it is missing, and kept by ``commit`` unless a seed changed.
        """
        rows = self._db.execute(f"SELECT {_STAT_COLUMNS} FROM seeds WHERE NOT ({_STAMPED})")
        others = {row[0]: SeedStat._make(row[1:]) for row in rows}
        row = self._db.execute("SELECT data FROM seed_stamps").fetchone()
        stamps = _stamps_from(row[0]) if row else None
        if stamps is None:
            rows = self._db.execute(f"SELECT path, size, mtime_ns FROM seeds WHERE {_STAMPED}")
            stamps = {path: seed_stamp(size, mtime_ns) for path, size, mtime_ns in rows}
            self._stamps = _stamps_blob(stamps)  # now: the caller pops from the dict
        return SeedStats(stamps, others)

    def _stamps_affected(self, records: list[SeedRecord]) -> bool:
        """Whether writing ``records`` changes the stamps: one of them is stamped now
        or will be. (A seed dated in the future is racy, so re-read and written again
        every run: it must not cost every other seed its stamp.)"""
        if (
            self._stamps is None
            and not self._db.execute("SELECT EXISTS (SELECT 1 FROM seed_stamps)").fetchone()[0]
        ):
            return False  # none kept: nothing to drop
        if any(r.scanned_ns - r.mtime_ns > RACY_NS for r in records):
            return True
        for chunk in _chunks([r.path for r in records]):
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT EXISTS (SELECT 1 FROM seeds WHERE path IN ({marks}) AND {_STAMPED})"
            if self._db.execute(query, chunk).fetchone()[0]:
                return True
        return False

    def _restated(self) -> None:
        """Seeds were written: the stamps kept whole are out of date. (Deleted once per
        call: a trigger on every inserted row would make a cold run a third slower.)"""
        self._stamps = None
        self._db.execute("DELETE FROM seed_stamps")

    def seed(self, path: str) -> SeedRecord | None:
        """The whole record of one seed, or None."""
        row = self._db.execute(
            f"SELECT {_SEED_COLUMNS} FROM seeds WHERE path = ?", (path,)
        ).fetchone()
        return _seed_record(row) if row else None

    def put_seeds(self, records: Iterable[SeedRecord]) -> None:
        """Insert or replace seed records; they are published again (``ok``). A record of
        an id whose dates the store keeps (``entries``) is settled by ``settle``."""
        records = list(records)
        if records:
            self._changed = True
            if self._stamps_affected(records):
                self._restated()
        self._db.executemany(_INSERT_SEED, map(_seed_row, records))
        self._db.executemany(
            "INSERT OR IGNORE INTO links VALUES (?, ?)",
            [(r.link, r.entry_id) for r in records if r.link and r.link != r.entry_id],
        )
        if self._has_entries():
            ids = [r.entry_id for r in records]
            for chunk in _chunks(ids):
                marks = ", ".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT entry_id FROM entries WHERE entry_id IN ({marks})", chunk
                )
                self._touched.update(row[0] for row in rows)

    def ids_of_links(self, links: Iterable[str]) -> dict[str, str]:
        """The entry id each of ``links`` belongs to, for links an entry had besides its
        own id: a new seed of such a link joins that entry."""
        if not self._db.execute("SELECT EXISTS (SELECT 1 FROM links)").fetchone()[0]:
            return {}
        found: dict[str, str] = {}
        for chunk in _chunks(list(dict.fromkeys(links))):
            marks = ", ".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT link, entry_id FROM links WHERE link IN ({marks})", chunk
            )
            found.update(rows.fetchall())
        return found

    def set_unpublishable(self, paths: Iterable[str]) -> None:
        """Keep these seeds' records (ids, dates) but leave them out of the feeds."""
        keys = [(p,) for p in paths]
        self._leaving(keys)
        self._mark(self._db.executemany("UPDATE seeds SET ok = 0 WHERE path = ?", keys))

    def forget_seeds(self, paths: Iterable[str]) -> None:
        """Drop the records of seeds that are gone (their entries' dates stay known)."""
        keys = [(p,) for p in paths]
        if keys:
            self._restated()
        self._leaving(keys)
        self._mark(self._db.executemany("DELETE FROM seeds WHERE path = ?", keys))

    def put_broken(self, seeds: Iterable[BrokenSeed]) -> None:
        """Remember seeds that cannot be published, with why; they leave the feeds. A
        seed that gave an entry keeps its id and dates, for when it is fixed."""
        seeds = list(seeds)
        if seeds:
            self._changed = True
            self._restated()
        self._leaving([(seed.path,) for seed in seeds])
        self._db.executemany(
            "INSERT INTO seeds (path, size, mtime_ns, scanned_ns, digest, entry_id,"
            " entry_hash, first_seen, published, updated, ok, problem, known_ns)"
            " VALUES (?, ?, ?, ?, ?, '', x'', ?, 0, 0, 0, ?, ?)"
            " ON CONFLICT (path) DO UPDATE SET size = excluded.size,"
            " mtime_ns = excluded.mtime_ns, scanned_ns = excluded.scanned_ns,"
            # A name that is no file, or a file too large to read, has no digest: keep
            # the one readers' content came from, so its return is judged as an edit.
            " digest = CASE WHEN excluded.digest = x'' THEN seeds.digest"
            " ELSE excluded.digest END, ok = 0, problem = excluded.problem",
            [
                (
                    s.path,
                    s.size,
                    s.mtime_ns,
                    s.scanned_ns,
                    s.digest,
                    s.mtime_ns // 10**9,
                    s.problem,
                    s.scanned_ns,
                )
                for s in seeds
            ],
        )

    def set_entry_hash(self, path: str, digest: bytes, entry_hash: bytes, now: int) -> int | None:
        """What readers see of the seed at ``path``, once a feed shows it (if the seed
        still has the bytes ``digest``). Returns the entry's new ``updated`` when readers
        had been shown other content under its id (a duplicate took over), else None."""
        changed = self._db.execute(
            "UPDATE seeds SET entry_hash = ? WHERE path = ? AND digest = ?",
            (entry_hash, path, digest),
        ).rowcount
        self._changed |= changed > 0
        row = self._db.execute(
            "SELECT e.entry_id, e.entry_hash, e.updated FROM entries AS e"
            " JOIN seeds AS s ON s.entry_id = e.entry_id WHERE s.path = ?",
            (path,),
        ).fetchone()
        if not changed or row is None:
            return None
        entry_id, shown, updated = row
        if shown == entry_hash:
            return None
        self._db.execute(
            "UPDATE entries SET entry_hash = ? WHERE entry_id = ?", (entry_hash, entry_id)
        )
        if not shown:  # nothing was known of what readers had: nothing to compare
            return None
        updated = now if now > updated else updated + 1
        for table in ("entries", "seeds"):
            self._db.execute(
                f"UPDATE {table} SET updated = ? WHERE entry_id = ?", (updated, entry_id)
            )
        return int(updated)

    def _leaving(self, keys: list[tuple[str]]) -> None:
        """Seeds about to leave the feeds: the dates of the entries they publish are kept,
        for a duplicate that takes over or the seed coming back."""
        if not keys:
            return
        self._db.executemany(_REMEMBER, keys)
        for key in keys:
            row = self._db.execute("SELECT entry_id FROM seeds WHERE path = ?", key).fetchone()
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
        take the settled dates.

        While an id has only ever had one seed, its row holds its dates, and the scan
        keeps them (``scan.refresh``): nothing is settled, which keeps cold runs cheap.
        """
        if not self._touched:
            return
        self._changed = True
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS touched (entry_id TEXT PRIMARY KEY)")
        self._db.executemany(
            "INSERT OR IGNORE INTO temp.touched VALUES (?)", ((i,) for i in self._touched)
        )
        self._db.execute(_SETTLE, {"now": now})
        self._db.execute(_SETTLE_SEEDS)
        self._db.execute("DELETE FROM temp.touched")
        self._touched.clear()

    def duplicates(self, among: Iterable[str] | None = None) -> list[Duplicate]:
        """Seeds that repeat an entry id of an earlier seen one, which is published in
        their place; only those of the entry ids ``among`` when given (a run asks about
        the ids it read: a run that read nothing asks nothing)."""
        where = ""
        if among is not None:
            ids = list(dict.fromkeys(among))
            if not ids:
                return []
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS asked (entry_id TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM temp.asked")
            self._db.executemany("INSERT INTO temp.asked VALUES (?)", ((i,) for i in ids))
            where = "AND entry_id IN (SELECT entry_id FROM temp.asked)"
        rows = self._db.execute(
            f"""
            SELECT path, first_path, scanned_ns FROM (
                SELECT path, scanned_ns,
                       first_value(path) OVER (
                           PARTITION BY entry_id ORDER BY known_ns, first_seen, path
                       ) AS first_path
                FROM seeds
                WHERE ok = 1 AND entry_id IN (
                    SELECT entry_id FROM seeds WHERE ok = 1 {where}
                    GROUP BY entry_id HAVING count(*) > 1))
            WHERE path != first_path ORDER BY path
            """
        )
        return [Duplicate(*row) for row in rows]

    def duplicate_count(self) -> int:
        """How many publishable seeds repeat the entry of another (cheaper than
        ``duplicates``: one pass over an index, and none when no seed changed)."""
        # Counted again only when seeds changed: 0.2 s over 100,000 seeds, for nothing
        # in a run that changed none.
        if not self._changed:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'duplicates'").fetchone()
            if row is not None:
                return int(row[0])
        row = self._db.execute(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM seeds"
            " INDEXED BY seeds_by_entry_known WHERE ok = 1 GROUP BY entry_id HAVING n > 1)"
        ).fetchone()
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('duplicates', ?)", (str(row[0]),))
        return int(row[0])

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
                  AND (t.known_ns, t.first_seen, t.path) < (s.known_ns, s.first_seen, s.path))
            ORDER BY s.published DESC, s.entry_id
        """
        for row in self._db.execute(query):
            yield _seed_record(row)

    def seed_paths_with_id(self, entry_id: str) -> list[str]:
        """The publishable seeds that give ``entry_id`` (a seed wins over the web)."""
        rows = self._db.execute(
            "SELECT path FROM seeds WHERE entry_id = ? AND ok = 1 ORDER BY path", (entry_id,)
        )
        return [row[0] for row in rows]

    # --- enrich ---------------------------------------------------------------------------

    def seeds_to_enrich(self) -> list[EnrichTask]:
        """Publishable seeds with a link and no enrichment for their current bytes."""
        rows = self._db.execute(
            "SELECT s.path, s.digest, s.entry_id, s.dated FROM seeds AS s"
            " LEFT JOIN enrichment AS e ON e.path = s.path"
            " WHERE s.ok = 1 AND s.entry_id LIKE 'http%'"
            " AND (e.path IS NULL OR e.digest != s.digest)"
            " ORDER BY s.path"
        )
        return [EnrichTask(path, digest, link, bool(dated)) for path, digest, link, dated in rows]

    def put_enrichment(
        self, path: str, digest: bytes, found: Enrichment | None, error: str | None = None
    ) -> None:
        """Remember what the page of a seed's link said (or why it could not be read)."""
        found = found or Enrichment()
        self._changed = True
        self._db.execute(
            "INSERT OR REPLACE INTO enrichment VALUES (?, ?, ?, ?, ?, ?)",
            (path, digest, found.link, found.image, found.description, error),
        )

    def enrichment(self, path: str) -> Enrichment | None:
        """What the page of the seed at ``path`` gave for its current bytes, if anything."""
        row = self._db.execute(
            "SELECT e.link, e.image, e.description FROM enrichment AS e"
            " JOIN seeds AS s USING (path)"
            " WHERE path = ? AND e.digest = s.digest AND e.error IS NULL",
            (path,),
        ).fetchone()
        return Enrichment(*row) if row else None

    def set_seed_published(self, path: str, published: int) -> None:
        """Give a seed's entry the date its page states (the seed states none)."""
        row = self._db.execute("SELECT entry_id FROM seeds WHERE path = ?", (path,)).fetchone()
        if row is None:
            return
        self._changed = True
        for table in ("entries", "seeds"):
            self._db.execute(
                f"UPDATE {table} SET published = ?, updated = max(updated, ?) WHERE entry_id = ?",
                (published, published, row[0]),
            )

    # --- sources ---------------------------------------------------------------------

    def sync_sources(self, urls: Iterable[tuple[str, str]], keep: Iterable[str] = ()) -> None:
        """Make ``(source, origin)`` the URLs to fetch: new ones are due at once; the
        state and entries of other sources go, except those of the sources in ``keep``
        (disabled, or whose files cannot be read now), which stay as they are."""
        urls = list(dict.fromkeys(urls))
        self._db.executemany(
            "INSERT OR IGNORE INTO fetch_state (source, origin, url) VALUES (?, ?, ?)",
            [(source, origin, origin) for source, origin in urls],
        )
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS named (source TEXT, origin TEXT)")
        self._db.execute("DELETE FROM temp.named")
        self._db.executemany("INSERT INTO temp.named VALUES (?, ?)", urls)
        self._db.executemany("INSERT INTO temp.named VALUES (?, '*')", ((k,) for k in keep))
        self._db.execute(
            "DELETE FROM fetch_state WHERE (source, origin) NOT IN"
            " (SELECT source, origin FROM temp.named)"
            " AND source NOT IN (SELECT source FROM temp.named WHERE origin = '*')"
        )
        self._mark(
            self._db.execute(
                "DELETE FROM web_entries WHERE source NOT IN (SELECT source FROM temp.named)"
            )
        )
        self._db.execute(
            "DELETE FROM pending_pages WHERE source NOT IN (SELECT source FROM temp.named)"
        )

    def due(self, now: float) -> list[FetchState]:
        """The URLs due at ``now``: not disabled, their ``next_fetch`` passed."""
        rows = self._db.execute(
            f"SELECT {_FETCH_COLUMNS} FROM fetch_state"
            " WHERE disabled = 0 AND next_fetch <= ? ORDER BY source, origin",
            (now,),
        )
        return [_fetch_state(row) for row in rows]

    def fetch_state(self, source: str, origin: str) -> FetchState:
        """What is known of fetching one URL (a fresh state for a new one)."""
        row = self._db.execute(
            f"SELECT {_FETCH_COLUMNS} FROM fetch_state WHERE source = ? AND origin = ?",
            (source, origin),
        ).fetchone()
        return _fetch_state(row) if row else FetchState(source, origin)

    def fetch_states(self) -> list[FetchState]:
        """Every URL's fetch state, by source and URL."""
        rows = self._db.execute(f"SELECT {_FETCH_COLUMNS} FROM fetch_state ORDER BY source, origin")
        return [_fetch_state(row) for row in rows]

    def put_fetch_state(self, state: FetchState) -> None:
        """Insert or replace one fetch state."""
        self._db.execute(
            f"INSERT OR REPLACE INTO fetch_state ({_FETCH_COLUMNS}) VALUES"
            f" ({', '.join('?' * len(_FETCH_NAMES))})",
            _FETCH_ROW(state),
        )

    def pending_pages(self) -> list[PendingPage]:
        """Every announced page not read yet, by source and URL."""
        rows = self._db.execute(
            f"SELECT {_PENDING_COLUMNS} FROM pending_pages ORDER BY source, url"
        )
        return [PendingPage(*row) for row in rows]

    def put_pending_page(self, page: PendingPage) -> None:
        """Insert or replace one page not read yet."""
        self._db.execute(
            f"INSERT OR REPLACE INTO pending_pages ({_PENDING_COLUMNS}) VALUES"
            f" ({', '.join('?' * len(_PENDING_NAMES))})",
            _PENDING_ROW(page),
        )

    def drop_pending_page(self, source: str, url: str) -> None:
        """Forget a page not read yet (it was read, or given up)."""
        self._db.execute("DELETE FROM pending_pages WHERE source = ? AND url = ?", (source, url))

    def robots(self, origin: str) -> RobotsRecord | None:
        """The robots.txt of ``origin`` as last read, if ever."""
        row = self._db.execute(
            f"SELECT {_ROBOTS_COLUMNS} FROM robots WHERE origin = ?", (origin,)
        ).fetchone()
        return RobotsRecord(*row) if row else None

    def put_robots(self, record: RobotsRecord) -> None:
        """Keep a site's robots.txt."""
        self._db.execute(
            f"INSERT OR REPLACE INTO robots ({_ROBOTS_COLUMNS}) VALUES"
            f" ({', '.join('?' * len(_ROBOTS_NAMES))})",
            _ROBOTS_ROW(record),
        )

    def forget_robots(self, before: float) -> None:
        """Forget the robots.txt of the sites last read before ``before``."""
        self._db.execute("DELETE FROM robots WHERE fetched_at < ?", (before,))

    def web_entry(self, source: str, entry_id: str) -> WebEntry | None:
        """A source's stored web entry by id."""
        row = self._db.execute(
            f"SELECT {_WEB_COLUMNS} FROM web_entries WHERE source = ? AND id = ?",
            (source, entry_id),
        ).fetchone()
        return _web_entry(row) if row else None

    def has_web_url(self, source: str, url: str) -> bool:
        """True when ``source`` already read the page at ``url`` into an entry."""
        row = self._db.execute(
            "SELECT 1 FROM web_entries WHERE source = ? AND url = ?", (source, url)
        ).fetchone()
        return row is not None

    def put_web_entry(self, web: WebEntry) -> None:
        """Insert or replace one web entry."""
        entry = web.entry
        self._changed = True
        self._db.execute(
            f"INSERT OR REPLACE INTO web_entries ({_WEB_COLUMNS}) VALUES ({', '.join('?' * 13)})",
            (
                entry.id,
                web.source,
                " " + " ".join(web.feeds) + " ",
                web.url,
                entry.title,
                entry.link,
                _SEP.join(entry.authors),
                int(entry.published.timestamp()),
                int(entry.updated.timestamp()),
                entry.content_html,
                entry.summary,
                _SEP.join(entry.tags),
                web.entry_hash,
            ),
        )

    def prune_web(self, source: str, keep: int) -> int:
        """Keep only ``source``'s newest ``keep`` entries (they are remembered to know
        which links were read; far more than any feed shows)."""
        return self._mark(
            self._db.execute(
                "DELETE FROM web_entries WHERE source = ? AND id NOT IN (SELECT id FROM"
                " web_entries WHERE source = ? ORDER BY published DESC, id LIMIT ?)",
                (source, source, keep),
            )
        )

    def newest_web(self, sources: Sequence[str] | None) -> Iterator[WebEntry]:
        """The web entries of ``sources`` (of every source with None), newest first
        (lazy). Which sources fill a feed is read from their files at each run, not
        stored: a source that changes its ``feed`` takes its entries along."""
        if sources is not None and not sources:
            return
        where = ""
        if sources is not None:
            where = f"WHERE source IN ({', '.join('?' * len(sources))})"
        # Ties broken to the end (two sources may carry one URL): the same order as
        # PostgreSQL's, whatever order the rows were written in.
        order = "ORDER BY published DESC, id, source"
        query = f"SELECT {_WEB_COLUMNS} FROM web_entries {where} {order}"
        for row in self._db.execute(query, tuple(sources or ())):
            yield _web_entry(row)

    def labels(self) -> tuple[list[str], list[str]]:
        """Every tag and every author of the publishable seeds and web entries, sorted
        (for the tag and author feeds)."""
        tags: set[str] = set()
        authors: set[str] = set()
        for table, ok in (("seeds", "AND ok = 1"), ("web_entries", "")):
            rows = self._db.execute(
                f"SELECT tags, authors FROM {table} WHERE (tags != '' OR authors != '') {ok}"
            )
            for tag_text, author_text in rows:
                tags.update(t for t in tag_text.split(_SEP) if t)
                authors.update(a for a in author_text.split(_SEP) if a)
        return sorted(tags), sorted(authors)

    # --- runs and transactions ------------------------------------------------------

    def _mark(self, cursor: sqlite3.Cursor) -> int:
        """Note rows a write changed; returns how many."""
        self._changed |= cursor.rowcount > 0
        return cursor.rowcount

    def changed(self) -> bool:
        """Whether anything the feeds are made of (seeds, entries, web entries, what
        enrich found) changed through this store since it was opened or committed."""
        return self._changed

    def generation(self) -> int:
        """A number that changes with every committed change of what the feeds are made
        of, by whichever process (counting this one's pending changes)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return (int(row[0]) if row else 0) + int(self._changed)

    def outputs(self) -> OutputsRecord | None:
        """What the last outputs written were made from, and what they held."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'outputs'").fetchone()
        if not row:
            return None
        try:
            raw = json.loads(row[0])
            entries = {str(name): int(count) for name, count in raw["entries"].items()}
            generation = int(raw.get("generation", -1))
            return OutputsRecord(str(raw["key"]), entries, int(raw["articles"]), generation)
        except (ValueError, TypeError, AttributeError, KeyError):
            return None

    def set_outputs(self, record: OutputsRecord) -> None:
        """Remember the outputs just written (see ``outputs``)."""
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('outputs', ?)", (json.dumps(asdict(record)),)
        )

    def record_run(self, run: RunRecord) -> None:
        """Remember what this publish did."""
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('last_run', ?)", (json.dumps(asdict(run)),)
        )

    def last_run(self) -> RunRecord | None:
        """What the last publish did, if one ran."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_run'").fetchone()
        if not row:
            return None
        try:
            raw = json.loads(row[0])
            known = {f.name for f in fields(RunRecord)}
            raw = {key: value for key, value in raw.items() if key in known}
            raw["written"] = tuple(raw.get("written", ()))
            return RunRecord(**raw)
        except (ValueError, TypeError):  # written by something else: no record
            return None

    def commit(self) -> None:
        """Make this run's changes durable and start a new transaction."""
        if self._stamps is not None:  # read from the rows, and no seed changed since
            self._db.execute("INSERT OR REPLACE INTO seed_stamps VALUES (1, ?)", (self._stamps,))
            self._stamps = None
        if self._changed:  # other processes learn that what feeds are made of changed
            self._db.execute(
                "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT (key)"
                " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            self._changed = False
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")

    def close(self) -> None:
        """Close without keeping uncommitted changes."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Store = SQLiteStore  # the default implementation


def open_store(state_dir: Path | None) -> StateStore:
    """The store of a project's state folder (``None``: a throwaway one in memory)."""
    return SQLiteStore(state_dir)


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _seed_record(row: tuple[Any, ...]) -> SeedRecord:
    record = SeedRecord(*row)
    record.dated = bool(record.dated)
    record.authors = tuple(a for a in str(row[-2]).split(_SEP) if a)
    record.tags = tuple(t for t in str(row[-1]).split(_SEP) if t)
    return record


def _fetch_state(row: tuple[Any, ...]) -> FetchState:
    state = FetchState(*row)
    state.disabled = bool(state.disabled)
    return state


def _web_entry(row: tuple[Any, ...]) -> WebEntry:
    (entry_id, source, feeds, url, title, link, authors, published, updated, content,
     summary, tags, entry_hash) = row  # fmt: skip
    entry = Entry(
        id=entry_id,
        title=title,
        link=link,
        authors=tuple(a for a in authors.split(_SEP) if a),
        published=from_timestamp(published),
        updated=from_timestamp(updated),
        content_html=content,
        summary=summary,
        tags=tuple(t for t in tags.split(_SEP) if t),
        origin=url,
    )
    return WebEntry(source, tuple(feeds.split()), url, entry, entry_hash)
