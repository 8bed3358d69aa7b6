"""The state store in PostgreSQL: ``PgStore`` implements ``store.StateStore`` for a
cluster, with the same promises as ``SQLiteStore`` (the reference; ``tests/test_store.py``
runs against both).

Seedfeed's tables live in their own PostgreSQL schema (``[cluster] schema``, default
``seedfeed``), beside procrastinate's ``procrastinate_*`` objects. ``create_schema``
makes or migrates them (``seedfeed cluster init``); a store refuses a database without
them, or with a newer version of them.

The encodings are this module's own, as the interface wants: booleans are booleans,
authors, tags and feed names are ``text[]``, times are POSIX seconds in ``bigint``
(``double precision`` for a fetch's due time). Every text column that is compared or
sorted is ``COLLATE "C"``: byte order, as SQLite compares, whatever the database's
locale; otherwise "which duplicate came first" and every ``ORDER BY`` could differ.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from ..dates import from_timestamp
from ..model import Entry
from ..store import (
    BrokenSeed,
    Duplicate,
    Enrichment,
    EnrichTask,
    FetchState,
    OutputsRecord,
    PendingPage,
    RobotsRecord,
    RunRecord,
    SeedRecord,
    SeedStat,
    SeedStats,
    StoreError,
    WebEntry,
    seed_stamp,
)

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "SCHEMA_VERSION",
    "OneSourceStore",
    "PgStore",
    "connect",
    "create_schema",
    "schema_version",
]

# The version of seedfeed's tables in PostgreSQL (its own count, not SQLite's).
SCHEMA_VERSION = 1

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Statements run in order by ``create_schema``; every one may run again (IF NOT EXISTS).
_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (
        key   text COLLATE "C" PRIMARY KEY,
        value text NOT NULL)""",
    # What SQLiteStore keeps, column for column (see store.py for what each one means).
    """CREATE TABLE IF NOT EXISTS seeds (
        path       text COLLATE "C" PRIMARY KEY,
        size       bigint NOT NULL,
        mtime_ns   bigint NOT NULL,
        scanned_ns bigint NOT NULL,
        digest     bytea NOT NULL,
        entry_id   text COLLATE "C" NOT NULL,
        entry_hash bytea NOT NULL,
        first_seen bigint NOT NULL,
        published  bigint NOT NULL,
        updated    bigint NOT NULL,
        ok         boolean NOT NULL DEFAULT true,
        link       text COLLATE "C" NOT NULL DEFAULT '',
        dated      boolean NOT NULL DEFAULT false,
        problem    text,
        known_ns   bigint NOT NULL DEFAULT 0,
        authors    text[] NOT NULL DEFAULT '{}',
        tags       text[] NOT NULL DEFAULT '{}')""",
    "CREATE INDEX IF NOT EXISTS seeds_by_date ON seeds (published DESC, entry_id)",
    "CREATE INDEX IF NOT EXISTS seeds_by_entry ON seeds (entry_id, known_ns, first_seen, path)",
    """CREATE TABLE IF NOT EXISTS entries (
        entry_id   text COLLATE "C" PRIMARY KEY,
        published  bigint NOT NULL,
        updated    bigint NOT NULL,
        entry_hash bytea NOT NULL,
        dated      boolean NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS links (
        link     text COLLATE "C" PRIMARY KEY,
        entry_id text COLLATE "C" NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS fetch_state (
        source        text COLLATE "C" NOT NULL,
        origin        text COLLATE "C" NOT NULL,
        url           text NOT NULL,
        etag          text,
        last_modified text,
        failures      integer NOT NULL DEFAULT 0,
        next_fetch    double precision NOT NULL DEFAULT 0,
        last_success  bigint,
        last_error    text,
        disabled      boolean NOT NULL DEFAULT false,
        PRIMARY KEY (source, origin))""",
    # The dispatcher's query: due sources, oldest first.
    """CREATE INDEX IF NOT EXISTS fetch_by_due ON fetch_state (next_fetch)
        WHERE NOT disabled""",
    """CREATE TABLE IF NOT EXISTS web_entries (
        id           text COLLATE "C" NOT NULL,
        source       text COLLATE "C" NOT NULL,
        feeds        text[] NOT NULL,
        url          text COLLATE "C" NOT NULL,
        title        text NOT NULL,
        link         text NOT NULL,
        authors      text[] NOT NULL,
        published    bigint NOT NULL,
        updated      bigint NOT NULL,
        content_html text NOT NULL,
        summary      text NOT NULL,
        tags         text[] NOT NULL,
        entry_hash   bytea NOT NULL,
        PRIMARY KEY (source, id))""",
    "CREATE INDEX IF NOT EXISTS web_by_date ON web_entries (published DESC, id)",
    "CREATE INDEX IF NOT EXISTS web_by_url ON web_entries (source, url)",
    """CREATE TABLE IF NOT EXISTS enrichment (
        path        text COLLATE "C" PRIMARY KEY,
        digest      bytea NOT NULL,
        link        text NOT NULL,
        image       text NOT NULL,
        description text NOT NULL,
        error       text)""",
    """CREATE TABLE IF NOT EXISTS pending_pages (
        source       text COLLATE "C" NOT NULL,
        url          text COLLATE "C" NOT NULL,
        failures     integer NOT NULL,
        next_try     double precision NOT NULL,
        first_failed bigint NOT NULL,
        reason       text NOT NULL,
        PRIMARY KEY (source, url))""",
    """CREATE TABLE IF NOT EXISTS robots (
        origin        text COLLATE "C" PRIMARY KEY,
        body          text NOT NULL,
        etag          text,
        last_modified text,
        fetched_at    double precision NOT NULL)""",
    # --- the cluster's own tables (see cluster/app.py) ---
    # The source definitions as the last scan read them from sources/*.toml: a fetch
    # job on any machine finds its source here, not on a disk it may not see.
    """CREATE TABLE IF NOT EXISTS source_defs (
        name       text COLLATE "C" PRIMARY KEY,
        definition jsonb NOT NULL,
        enabled    boolean NOT NULL)""",
    # Per host, when its next request may start and how far apart they start (the
    # site's Crawl-delay): politeness across all machines.
    """CREATE TABLE IF NOT EXISTS host_slots (
        host    text COLLATE "C" PRIMARY KEY,
        next_at double precision NOT NULL,
        spacing double precision NOT NULL DEFAULT 0)""",
    # Per output (a feed, or the site's index): the generation of what it is made of
    # (raised with every change that affects it) and the one last rendered.
    """CREATE TABLE IF NOT EXISTS renders (
        name        text COLLATE "C" PRIMARY KEY,
        generation  bigint NOT NULL DEFAULT 1,
        rendered    bigint NOT NULL DEFAULT 0,
        key         text NOT NULL DEFAULT '',
        rendered_at double precision)""",
    # The workers by name (one process per name: see cluster/worker.py).
    """CREATE TABLE IF NOT EXISTS workers (
        name       text COLLATE "C" PRIMARY KEY,
        host       text NOT NULL,
        pid        integer NOT NULL,
        queues     text NOT NULL,
        started_at double precision NOT NULL,
        seen_at    double precision NOT NULL)""",
]


def check_schema_name(schema: str) -> str:
    """``schema`` if it is a plain lowercase identifier (it is put in SQL as is)."""
    if not _NAME.match(schema):
        raise StoreError(f"cluster.schema must be a lowercase SQL name, not {schema!r}")
    return schema


def connect(dsn: str, schema: str = "seedfeed", **kwargs: Any) -> psycopg.Connection[Any]:
    """A connection whose tables are ``schema``'s (then procrastinate's, in ``public``)."""
    import psycopg

    check_schema_name(schema)
    try:
        return psycopg.connect(dsn, options=f"-c search_path={schema},public", **kwargs)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the database: {_one_line(exc)}") from None


def schema_version(conn: psycopg.Connection[Any], schema: str) -> int:
    """The version of seedfeed's tables in ``schema``; 0 without them."""
    check_schema_name(schema)
    row = conn.execute("SELECT to_regclass(%s)", (f"{schema}.meta",)).fetchone()
    if not row or row[0] is None:
        return 0
    found = conn.execute(f"SELECT value FROM {schema}.meta WHERE key = 'schema_version'").fetchone()
    return int(found[0]) if found else 0


def create_schema(conn: psycopg.Connection[Any], schema: str) -> bool:
    """Create seedfeed's tables in ``schema``, or bring them up to date, in one
    transaction (under a lock, so that two machines initializing at once is harmless).
    Returns whether anything was done. Commits."""
    check_schema_name(schema)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('seedfeed schema ' || %s))", (schema,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"SET LOCAL search_path = {schema}, public")
        version = schema_version(conn, schema)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"schema {schema} was written by a newer seedfeed (version {version});"
                " upgrade seedfeed"
            )
        if version == SCHEMA_VERSION:
            return False
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO meta VALUES ('schema_version', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
    return True


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# --- rows ---------------------------------------------------------------------------------

_SEED_NAMES = [f.name for f in fields(SeedRecord)]
_SEED_COLUMNS = ", ".join(_SEED_NAMES)
_S_COLUMNS = ", ".join(f"s.{name}" for name in _SEED_NAMES)
_UPSERT_SEED = (
    f"INSERT INTO seeds ({_SEED_COLUMNS}, ok, problem)"
    f" VALUES ({', '.join(['%s'] * len(_SEED_NAMES))}, true, NULL)"
    " ON CONFLICT (path) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _SEED_NAMES[1:])
    + ", ok = true, problem = NULL"
)
_FETCH_NAMES = [f.name for f in fields(FetchState)]
_FETCH_COLUMNS = ", ".join(_FETCH_NAMES)
_UPSERT_FETCH = (
    f"INSERT INTO fetch_state ({_FETCH_COLUMNS})"
    f" VALUES ({', '.join(['%s'] * len(_FETCH_NAMES))})"
    " ON CONFLICT (source, origin) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _FETCH_NAMES[2:])
)
_PENDING_NAMES = [f.name for f in fields(PendingPage)]
_PENDING_COLUMNS = ", ".join(_PENDING_NAMES)
_ROBOTS_NAMES = [f.name for f in fields(RobotsRecord)]
_ROBOTS_COLUMNS = ", ".join(_ROBOTS_NAMES)
_WEB_NAMES = [
    "id", "source", "feeds", "url", "title", "link", "authors", "published", "updated",
    "content_html", "summary", "tags", "entry_hash",
]  # fmt: skip
_WEB_COLUMNS = ", ".join(_WEB_NAMES)
_UPSERT_WEB = (
    f"INSERT INTO web_entries ({_WEB_COLUMNS}) VALUES ({', '.join(['%s'] * len(_WEB_NAMES))})"
    " ON CONFLICT (source, id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _WEB_NAMES[2:])
)

# The seed that publishes its id: the publishable one known first (as in ``newest``).
_WINNER = """
s.ok AND NOT EXISTS (
    SELECT 1 FROM seeds AS t
    WHERE t.entry_id = s.entry_id AND t.ok
      AND (t.known_ns, t.first_seen, t.path) < (s.known_ns, s.first_seen, s.path))
"""
# Keep the dates of the entries the leaving seeds publish.
_REMEMBER = f"""
INSERT INTO entries (entry_id, published, updated, entry_hash, dated)
SELECT entry_id, published, updated, entry_hash, dated FROM seeds AS s
WHERE s.path = ANY(%s) AND {_WINNER}
ON CONFLICT (entry_id) DO UPDATE SET published = excluded.published,
    updated = excluded.updated, entry_hash = excluded.entry_hash, dated = excluded.dated
"""
# Settle each touched id against the seed that publishes it now (SQLiteStore's _SETTLE:
# every SET expression reads the row as it was, in both databases).
_SETTLE = f"""
INSERT INTO entries AS e (entry_id, published, updated, entry_hash, dated)
SELECT s.entry_id, s.published, s.updated, s.entry_hash, s.dated
FROM seeds AS s WHERE s.entry_id = ANY(%(ids)s) AND {_WINNER}
ON CONFLICT (entry_id) DO UPDATE SET
    published = CASE WHEN excluded.dated THEN excluded.published ELSE e.published END,
    updated = CASE
        WHEN excluded.entry_hash IN (e.entry_hash, ''::bytea) THEN e.updated
        ELSE greatest(
            CASE WHEN excluded.updated > e.updated THEN excluded.updated
                 ELSE greatest(%(now)s, e.updated + 1) END,
            CASE WHEN excluded.dated THEN excluded.published ELSE e.published END)
        END,
    entry_hash = CASE
        WHEN excluded.entry_hash = ''::bytea THEN e.entry_hash ELSE excluded.entry_hash END,
    dated = excluded.dated
"""
_SETTLE_SEEDS = """
UPDATE seeds SET published = e.published, updated = e.updated
FROM entries AS e
WHERE e.entry_id = seeds.entry_id AND seeds.entry_id = ANY(%(ids)s)
  AND (seeds.published != e.published OR seeds.updated != e.updated)
"""

_cursor_names = itertools.count()


class PgStore:
    """The state in PostgreSQL, one transaction per run on one connection. Implements
    ``StateStore``.

    ``PgStore(conn, schema)`` works on a connection the caller owns (from a worker's
    pool; its ``search_path`` starts with ``schema``, as ``connect`` makes it);
    ``PgStore.open(dsn, schema)`` makes its own, closed with the store. The schema's
    version is checked as the store opens, unless ``check`` is false.
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        schema: str = "seedfeed",
        *,
        owned: bool = False,
        check: bool = True,
    ) -> None:
        import psycopg

        self._conn = conn
        self._owned = owned
        self._touched: set[str] = set()  # ids to settle (see ``settle``)
        self._changed = False  # what the feeds are made of changed (see ``changed``)
        self._entries_known = False  # the entries table has a row (checked once)
        if not check:  # a worker checked the schema once, at its start
            return
        try:
            version = schema_version(conn, schema)
            # Ends the transaction the check began: a store that is left open holds no lock.
            conn.commit()
        except psycopg.Error as exc:
            raise StoreError(f"database: {_one_line(exc)}") from None
        if version == 0:
            raise StoreError("the database has no seedfeed tables: run `seedfeed cluster init`")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database was written by a newer seedfeed (schema {version}); upgrade seedfeed"
            )

    @classmethod
    def open(cls, dsn: str, schema: str = "seedfeed") -> PgStore:
        """A store on a connection of its own to ``dsn``."""
        return cls(connect(dsn, schema), schema, owned=True)

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """The connection the store works on (the cluster defers jobs in its transaction)."""
        return self._conn

    def _all(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self._conn.execute(query, params).fetchall()

    def _one(self, query: str, params: Any = None) -> tuple[Any, ...] | None:
        return self._conn.execute(query, params).fetchone()

    def _write(self, query: str, params: Any = None) -> int:
        """Run a write; note whether it changed rows; returns how many."""
        count = self._conn.execute(query, params).rowcount
        self._changed |= count > 0
        return count

    def _lazy(self, query: str, params: Any = None) -> Iterator[tuple[Any, ...]]:
        """The rows of ``query`` through a server-side cursor: taking the first 50 of
        100,000 rows reads a few hundred, like SQLite's lazy cursor."""
        with self._conn.cursor(name=f"seedfeed_{next(_cursor_names)}") as cursor:
            cursor.itersize = 200
            cursor.execute(query, params)
            yield from cursor

    # --- seeds -------------------------------------------------------------------------

    def seed_stats(self) -> SeedStats:
        """Every remembered seed's path with its stat (see ``SeedStats``)."""
        stamps: dict[str, bytes] = {}
        others: dict[str, SeedStat] = {}
        for row in self._all("SELECT path, size, mtime_ns, scanned_ns, problem FROM seeds"):
            stat = SeedStat._make(row[1:])
            if stat.problem is None and stat.is_clean(stat.size, stat.mtime_ns):
                stamps[row[0]] = seed_stamp(stat.size, stat.mtime_ns)
            else:
                others[row[0]] = stat
        return SeedStats(stamps, others)

    def seed(self, path: str) -> SeedRecord | None:
        """The whole record of one seed, or None."""
        row = self._one(f"SELECT {_SEED_COLUMNS} FROM seeds WHERE path = %s", (path,))
        return _seed_record(row) if row else None

    def put_seeds(self, records: Iterable[SeedRecord]) -> None:
        """Insert or replace seed records; they are published again. A record of an id
        whose dates the store keeps is settled by ``settle``."""
        records = list(records)
        if not records:
            return
        self._changed = True
        with self._conn.cursor() as cursor:
            cursor.executemany(_UPSERT_SEED, [_seed_row(record) for record in records])
            links = [(r.link, r.entry_id) for r in records if r.link and r.link != r.entry_id]
            if links:
                cursor.executemany(
                    "INSERT INTO links VALUES (%s, %s) ON CONFLICT DO NOTHING", links
                )
        if self._has_entries():
            ids = list({record.entry_id for record in records})
            rows = self._all("SELECT entry_id FROM entries WHERE entry_id = ANY(%s)", (ids,))
            self._touched.update(row[0] for row in rows)

    def ids_of_links(self, links: Iterable[str]) -> dict[str, str]:
        """The entry id each of ``links`` belongs to, for links an entry had besides its
        own id: a new seed of such a link joins that entry."""
        wanted = list(dict.fromkeys(links))
        if not wanted:
            return {}
        rows = self._all("SELECT link, entry_id FROM links WHERE link = ANY(%s)", (wanted,))
        return {link: entry_id for link, entry_id in rows}

    def set_unpublishable(self, paths: Iterable[str]) -> None:
        """Keep these seeds' records (ids, dates) but leave them out of the feeds."""
        keys = list(paths)
        if not keys:
            return
        self._leaving(keys)
        self._write("UPDATE seeds SET ok = false WHERE path = ANY(%s)", (keys,))

    def forget_seeds(self, paths: Iterable[str]) -> None:
        """Drop the records of seeds that are gone (their entries' dates stay known)."""
        keys = list(paths)
        if not keys:
            return
        self._leaving(keys)
        self._write("DELETE FROM seeds WHERE path = ANY(%s)", (keys,))

    def put_broken(self, seeds: Iterable[BrokenSeed]) -> None:
        """Remember seeds that cannot be published, with why; they leave the feeds. A
        seed that gave an entry keeps its id and dates, for when it is fixed."""
        seeds = list(seeds)
        if not seeds:
            return
        self._changed = True
        self._leaving([seed.path for seed in seeds])
        with self._conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO seeds (path, size, mtime_ns, scanned_ns, digest, entry_id,"
                " entry_hash, first_seen, published, updated, ok, problem, known_ns)"
                " VALUES (%s, %s, %s, %s, %s, '', '', %s, 0, 0, false, %s, %s)"
                " ON CONFLICT (path) DO UPDATE SET size = excluded.size,"
                " mtime_ns = excluded.mtime_ns, scanned_ns = excluded.scanned_ns,"
                # No digest (no file, too large): keep the one readers' content came
                # from, so its return is judged as an edit (as SQLiteStore does).
                " digest = CASE WHEN excluded.digest = ''::bytea THEN seeds.digest"
                " ELSE excluded.digest END, ok = false, problem = excluded.problem",
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
        changed = self._write(
            "UPDATE seeds SET entry_hash = %s WHERE path = %s AND digest = %s",
            (entry_hash, path, digest),
        )
        row = self._one(
            "SELECT e.entry_id, e.entry_hash, e.updated FROM entries AS e"
            " JOIN seeds AS s ON s.entry_id = e.entry_id WHERE s.path = %s",
            (path,),
        )
        if not changed or row is None:
            return None
        entry_id, shown, updated = row
        if shown == entry_hash:
            return None
        self._conn.execute(
            "UPDATE entries SET entry_hash = %s WHERE entry_id = %s", (entry_hash, entry_id)
        )
        if not shown:  # nothing was known of what readers had: nothing to compare
            return None
        updated = now if now > updated else updated + 1
        for table in ("entries", "seeds"):
            self._conn.execute(
                f"UPDATE {table} SET updated = %s WHERE entry_id = %s", (updated, entry_id)
            )
        return int(updated)

    def _leaving(self, paths: list[str]) -> None:
        """Seeds about to leave the feeds: the dates of the entries they publish are kept,
        for a duplicate that takes over or the seed coming back."""
        self._conn.execute(_REMEMBER, (paths,))
        rows = self._all("SELECT entry_id FROM seeds WHERE path = ANY(%s)", (paths,))
        self._touched.update(row[0] for row in rows)
        self._entries_known = True

    def _has_entries(self) -> bool:
        if not self._entries_known:
            row = self._one("SELECT EXISTS (SELECT 1 FROM entries)")
            self._entries_known = bool(row and row[0])
        return self._entries_known

    def settle(self, now: int) -> None:
        """Give every entry whose dates the store keeps, and whose seeds changed, its
        dates from the seed that publishes it now (``SQLiteStore.settle`` says how)."""
        if not self._touched:
            return
        self._changed = True
        params = {"ids": sorted(self._touched), "now": now}
        self._conn.execute(_SETTLE, params)
        self._conn.execute(_SETTLE_SEEDS, params)
        self._touched.clear()

    def duplicates(self, among: Iterable[str] | None = None) -> list[Duplicate]:
        """Seeds that repeat an entry id of an earlier known one, which is published in
        their place; only those of the entry ids ``among`` when given."""
        where = ""
        params: Any = None
        if among is not None:
            ids = list(dict.fromkeys(among))
            if not ids:
                return []
            where, params = "AND entry_id = ANY(%s)", (ids,)
        rows = self._all(
            f"""
            SELECT path, first_path, scanned_ns FROM (
                SELECT path, scanned_ns,
                       first_value(path) OVER (
                           PARTITION BY entry_id ORDER BY known_ns, first_seen, path) AS first_path
                FROM seeds
                WHERE ok AND entry_id IN (
                    SELECT entry_id FROM seeds WHERE ok {where}
                    GROUP BY entry_id HAVING count(*) > 1)) AS d
            WHERE path != first_path ORDER BY path
            """,
            params,
        )
        return [Duplicate(*row) for row in rows]

    def duplicate_count(self) -> int:
        """How many publishable seeds repeat the entry of another (counted again only
        when seeds changed)."""
        if not self._changed:
            row = self._one("SELECT value FROM meta WHERE key = 'duplicates'")
            if row is not None:
                return int(row[0])
        row = self._one(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM seeds"
            " WHERE ok GROUP BY entry_id HAVING count(*) > 1) AS d"
        )
        count = int(row[0]) if row else 0
        self._set_meta("duplicates", str(count))
        return count

    def newest(self, include: Callable[[str], bool] | None = None) -> Iterator[SeedRecord]:
        """Publishable seeds, newest first, one per entry id (the one known first).

        ``include`` restricts both the seeds and the duplicate check to matching paths.
        It is Python, which PostgreSQL cannot call: each row comes with the paths of the
        seeds of its id known before it, and is the entry's seed when none of those is
        included. Lazy, like SQLite's cursor.
        """
        if include is None:
            query = (
                f"SELECT {_S_COLUMNS} FROM seeds AS s WHERE {_WINNER}"
                " ORDER BY s.published DESC, s.entry_id"
            )
            for row in self._lazy(query):
                yield _seed_record(row)
            return
        query = f"""
            SELECT {_S_COLUMNS}, ARRAY(
                SELECT t.path FROM seeds AS t
                WHERE t.entry_id = s.entry_id AND t.ok
                  AND (t.known_ns, t.first_seen, t.path)
                    < (s.known_ns, s.first_seen, s.path)) AS earlier
            FROM seeds AS s WHERE s.ok
            ORDER BY s.published DESC, s.entry_id, s.known_ns, s.first_seen, s.path
        """
        for row in self._lazy(query):
            *columns, earlier = row
            if include(columns[0]) and not any(map(include, earlier)):
                yield _seed_record(columns)

    def seed_paths_with_id(self, entry_id: str) -> list[str]:
        """The publishable seeds that give ``entry_id``."""
        rows = self._all(
            "SELECT path FROM seeds WHERE entry_id = %s AND ok ORDER BY path", (entry_id,)
        )
        return [row[0] for row in rows]

    # --- enrich ---------------------------------------------------------------------------

    def seeds_to_enrich(self) -> list[EnrichTask]:
        """Publishable seeds with a link and no enrichment for their current bytes."""
        rows = self._all(
            # ILIKE: SQLite's LIKE ignores the case of ASCII letters.
            "SELECT s.path, s.digest, s.entry_id, s.dated FROM seeds AS s"
            " LEFT JOIN enrichment AS e ON e.path = s.path"
            " WHERE s.ok AND s.entry_id ILIKE 'http%%'"
            " AND (e.path IS NULL OR e.digest != s.digest)"
            " ORDER BY s.path"
        )
        return [EnrichTask(path, digest, link, dated) for path, digest, link, dated in rows]

    def put_enrichment(
        self, path: str, digest: bytes, found: Enrichment | None, error: str | None = None
    ) -> None:
        """Remember what the page of a seed's link said (or why it could not be read)."""
        found = found or Enrichment()
        self._changed = True
        self._conn.execute(
            "INSERT INTO enrichment VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (path) DO UPDATE SET digest = excluded.digest,"
            " link = excluded.link, image = excluded.image,"
            " description = excluded.description, error = excluded.error",
            (path, digest, found.link, found.image, found.description, error),
        )

    def enrichment(self, path: str) -> Enrichment | None:
        """What the page of the seed at ``path`` gave for its current bytes, if anything."""
        row = self._one(
            "SELECT e.link, e.image, e.description FROM enrichment AS e"
            " JOIN seeds AS s USING (path)"
            " WHERE path = %s AND e.digest = s.digest AND e.error IS NULL",
            (path,),
        )
        return Enrichment(*row) if row else None

    def set_seed_published(self, path: str, published: int) -> None:
        """Give a seed's entry the date its page states (the seed states none)."""
        row = self._one("SELECT entry_id FROM seeds WHERE path = %s", (path,))
        if row is None:
            return
        self._changed = True
        for table in ("entries", "seeds"):
            self._conn.execute(
                f"UPDATE {table} SET published = %s, updated = greatest(updated, %s)"
                " WHERE entry_id = %s",
                (published, published, row[0]),
            )

    # --- sources ---------------------------------------------------------------------

    def sync_sources(self, urls: Iterable[tuple[str, str]], keep: Iterable[str] = ()) -> None:
        """Make ``(source, origin)`` the URLs to fetch: new ones are due at once; the
        state and entries of other sources go, except those of the sources in ``keep``."""
        pairs = list(dict.fromkeys(urls))
        kept = list(dict.fromkeys(keep))
        if pairs:
            with self._conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO fetch_state (source, origin, url) VALUES (%s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    [(source, origin, origin) for source, origin in pairs],
                )
        sources = [source for source, _origin in pairs]
        origins = [origin for _source, origin in pairs]
        self._conn.execute(
            "DELETE FROM fetch_state AS f WHERE NOT (f.source = ANY(%(keep)s))"
            " AND (f.source, f.origin) NOT IN ("
            "  SELECT * FROM unnest(%(sources)s::text[], %(origins)s::text[]))",
            {"keep": kept, "sources": sources, "origins": origins},
        )
        named = list(dict.fromkeys([*sources, *kept]))
        self._write("DELETE FROM web_entries WHERE NOT (source = ANY(%s))", (named,))
        self._conn.execute("DELETE FROM pending_pages WHERE NOT (source = ANY(%s))", (named,))

    def due(self, now: float) -> list[FetchState]:
        """The URLs due at ``now``: not disabled, their ``next_fetch`` passed."""
        rows = self._all(
            f"SELECT {_FETCH_COLUMNS} FROM fetch_state"
            " WHERE NOT disabled AND next_fetch <= %s ORDER BY source, origin",
            (now,),
        )
        return [FetchState(*row) for row in rows]

    def fetch_state(self, source: str, origin: str) -> FetchState:
        """What is known of fetching one URL (a fresh state for a new one)."""
        row = self._one(
            f"SELECT {_FETCH_COLUMNS} FROM fetch_state WHERE source = %s AND origin = %s",
            (source, origin),
        )
        return FetchState(*row) if row else FetchState(source, origin)

    def fetch_states(self) -> list[FetchState]:
        """Every URL's fetch state, by source and URL."""
        rows = self._all(f"SELECT {_FETCH_COLUMNS} FROM fetch_state ORDER BY source, origin")
        return [FetchState(*row) for row in rows]

    def put_fetch_state(self, state: FetchState) -> None:
        """Insert or replace one fetch state."""
        self._conn.execute(_UPSERT_FETCH, tuple(getattr(state, name) for name in _FETCH_NAMES))

    def pending_pages(self) -> list[PendingPage]:
        """Every announced page not read yet, by source and URL."""
        rows = self._all(f"SELECT {_PENDING_COLUMNS} FROM pending_pages ORDER BY source, url")
        return [PendingPage(*row) for row in rows]

    def put_pending_page(self, page: PendingPage) -> None:
        """Insert or replace one page not read yet."""
        self._conn.execute(
            f"INSERT INTO pending_pages ({_PENDING_COLUMNS})"
            f" VALUES ({', '.join(['%s'] * len(_PENDING_NAMES))})"
            " ON CONFLICT (source, url) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in _PENDING_NAMES[2:]),
            tuple(getattr(page, name) for name in _PENDING_NAMES),
        )

    def drop_pending_page(self, source: str, url: str) -> None:
        """Forget a page not read yet (it was read, or given up)."""
        self._conn.execute(
            "DELETE FROM pending_pages WHERE source = %s AND url = %s", (source, url)
        )

    def robots(self, origin: str) -> RobotsRecord | None:
        """The robots.txt of ``origin`` as last read, if ever."""
        row = self._one(f"SELECT {_ROBOTS_COLUMNS} FROM robots WHERE origin = %s", (origin,))
        return RobotsRecord(*row) if row else None

    def put_robots(self, record: RobotsRecord) -> None:
        """Keep a site's robots.txt."""
        self._conn.execute(
            f"INSERT INTO robots ({_ROBOTS_COLUMNS})"
            f" VALUES ({', '.join(['%s'] * len(_ROBOTS_NAMES))})"
            " ON CONFLICT (origin) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in _ROBOTS_NAMES[1:]),
            tuple(getattr(record, name) for name in _ROBOTS_NAMES),
        )

    def forget_robots(self, before: float) -> None:
        """Forget the robots.txt of the sites last read before ``before``."""
        self._conn.execute("DELETE FROM robots WHERE fetched_at < %s", (before,))

    def web_entry(self, source: str, entry_id: str) -> WebEntry | None:
        """A source's stored web entry by id."""
        row = self._one(
            f"SELECT {_WEB_COLUMNS} FROM web_entries WHERE source = %s AND id = %s",
            (source, entry_id),
        )
        return _web_entry(row) if row else None

    def has_web_url(self, source: str, url: str) -> bool:
        """True when ``source`` already read the page at ``url`` into an entry."""
        row = self._one(
            "SELECT 1 FROM web_entries WHERE source = %s AND url = %s LIMIT 1", (source, url)
        )
        return row is not None

    def put_web_entry(self, web: WebEntry) -> None:
        """Insert or replace one web entry."""
        entry = web.entry
        self._changed = True
        self._conn.execute(
            _UPSERT_WEB,
            (
                entry.id,
                web.source,
                list(web.feeds),
                web.url,
                entry.title,
                entry.link,
                list(entry.authors),
                int(entry.published.timestamp()),
                int(entry.updated.timestamp()),
                entry.content_html,
                entry.summary,
                list(entry.tags),
                web.entry_hash,
            ),
        )

    def prune_web(self, source: str, keep: int) -> int:
        """Keep only ``source``'s newest ``keep`` entries; returns how many went."""
        return self._write(
            "DELETE FROM web_entries WHERE source = %(source)s AND id NOT IN ("
            " SELECT id FROM web_entries WHERE source = %(source)s"
            " ORDER BY published DESC, id LIMIT %(keep)s)",
            {"source": source, "keep": keep},
        )

    def newest_web(self, sources: Sequence[str] | None) -> Iterator[WebEntry]:
        """The web entries of ``sources`` (of every source with None), newest first
        (lazy)."""
        if sources is not None and not sources:
            return
        where, params = "", None
        if sources is not None:
            where, params = "WHERE source = ANY(%s)", (list(sources),)
        # The source breaks ties (two sources carrying one article): a stable order.
        query = (
            f"SELECT {_WEB_COLUMNS} FROM web_entries {where} ORDER BY published DESC, id, source"
        )
        for row in self._lazy(query, params):
            yield _web_entry(row)

    def labels(self) -> tuple[list[str], list[str]]:
        """Every tag and every author of the publishable seeds and web entries, sorted."""
        rows = self._all(
            "SELECT DISTINCT 't', unnest(tags) FROM seeds WHERE ok"
            " UNION SELECT DISTINCT 'a', unnest(authors) FROM seeds WHERE ok"
            " UNION SELECT DISTINCT 't', unnest(tags) FROM web_entries"
            " UNION SELECT DISTINCT 'a', unnest(authors) FROM web_entries"
        )
        tags = sorted({value for kind, value in rows if kind == "t" and value})
        authors = sorted({value for kind, value in rows if kind == "a" and value})
        return tags, authors

    # --- runs and transactions ------------------------------------------------------

    def _get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = %s", (key,))
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO meta VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def changed(self) -> bool:
        """Whether anything the feeds are made of (seeds, entries, web entries, what
        enrich found) changed through this store since it was opened or committed."""
        return self._changed

    def generation(self) -> int:
        """A number that changes with every committed change of what the feeds are made
        of, by whichever process (counting this one's pending changes)."""
        value = self._get_meta("generation")
        return (int(value) if value else 0) + int(self._changed)

    def outputs(self) -> OutputsRecord | None:
        """What the last outputs written were made from, and what they held."""
        value = self._get_meta("outputs")
        if not value:
            return None
        try:
            raw = json.loads(value)
            entries = {str(name): int(count) for name, count in raw["entries"].items()}
            generation = int(raw.get("generation", -1))
            return OutputsRecord(str(raw["key"]), entries, int(raw["articles"]), generation)
        except (ValueError, TypeError, AttributeError, KeyError):
            return None

    def set_outputs(self, record: OutputsRecord) -> None:
        """Remember the outputs just written (see ``outputs``)."""
        self._set_meta("outputs", json.dumps(asdict(record)))

    def record_run(self, run: RunRecord) -> None:
        """Remember what this publish did."""
        self._set_meta("last_run", json.dumps(asdict(run)))

    def last_run(self) -> RunRecord | None:
        """What the last publish did, if one ran."""
        value = self._get_meta("last_run")
        if not value:
            return None
        try:
            raw = json.loads(value)
            known = {f.name for f in fields(RunRecord)}
            raw = {key: item for key, item in raw.items() if key in known}
            raw["written"] = tuple(raw.get("written", ()))
            return RunRecord(**raw)
        except (ValueError, TypeError):  # written by something else: no record
            return None

    def commit(self) -> None:
        """Make this run's changes durable; the next statement starts a new transaction."""
        if self._changed:  # other processes learn that what feeds are made of changed
            self._conn.execute(
                "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT (key)"
                " DO UPDATE SET value = (meta.value::bigint + 1)::text"
            )
            self._changed = False
        self._conn.commit()

    def close(self) -> None:
        """Close without keeping uncommitted changes (a connection the caller owns is
        only rolled back)."""
        if self._conn.closed:
            return
        self._conn.rollback()
        if self._owned:
            self._conn.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _seed_row(record: SeedRecord) -> tuple[Any, ...]:
    return tuple(
        list(value) if isinstance(value, tuple) else value
        for value in (getattr(record, name) for name in _SEED_NAMES)
    )


def _seed_record(row: Sequence[Any]) -> SeedRecord:
    record = SeedRecord(*row)
    # Empty names are dropped, as SQLite's joined column drops them.
    record.authors = tuple(a for a in record.authors if a)
    record.tags = tuple(t for t in record.tags if t)
    return record


def _web_entry(row: Sequence[Any]) -> WebEntry:
    (entry_id, source, feeds, url, title, link, authors, published, updated, content,
     summary, tags, entry_hash) = row  # fmt: skip
    entry = Entry(
        id=entry_id,
        title=title,
        link=link,
        authors=tuple(a for a in authors if a),
        published=from_timestamp(published),
        updated=from_timestamp(updated),
        content_html=content,
        summary=summary,
        tags=tuple(t for t in tags if t),
        origin=url,
    )
    return WebEntry(source, tuple(f for f in feeds if f), url, entry, entry_hash)


class OneSourceStore(PgStore):
    """The store as a cluster's fetch job sees it: the one source URL it is for is the
    only one, and it is due (the dispatcher decided so). Everything else is the store's.

    ``harvest.refresh_sources`` then does for one URL what a publish does for all: the
    scan job, not a fetch, says which sources exist (``sync_sources`` does nothing here).
    The URL's fetch state is read once and written once, at ``commit`` (harvest puts it
    several times in a run), and its source's pages not read yet are read once: a source
    in a fetch job is a few round trips to the database, not a dozen.
    """

    def __init__(
        self, conn: psycopg.Connection[Any], schema: str, source: str, origin: str
    ) -> None:
        super().__init__(conn, schema, check=False)
        self.source = source
        self.origin = origin
        self._state: FetchState | None = None  # as last read or put
        self._state_put = False
        self._pending: list[PendingPage] | None = None
        self._entries_put = False

    def sync_sources(self, urls: Iterable[tuple[str, str]], keep: Iterable[str] = ()) -> None:
        """Nothing: the scan keeps the list of sources."""

    def fetch_state(self, source: str, origin: str) -> FetchState:
        """The job URL's state as last put in this job (a copy), or another's."""
        if (source, origin) != (self.source, self.origin):
            return super().fetch_state(source, origin)
        if self._state is None:
            self._state = super().fetch_state(source, origin)
        return copy.copy(self._state)

    def put_fetch_state(self, state: FetchState) -> None:
        """The job URL's state is kept until ``commit``; another's is written."""
        if (state.source, state.origin) != (self.source, self.origin):
            super().put_fetch_state(state)
            return
        self._state = copy.copy(state)
        self._state_put = True

    def due(self, now: float) -> list[FetchState]:
        """The job's URL, unless a 410 disabled it since it was queued."""
        state = self.fetch_state(self.source, self.origin)
        return [] if state.disabled else [state]

    def fetch_states(self) -> list[FetchState]:
        """The job's URL's state."""
        return [self.fetch_state(self.source, self.origin)]

    def pending_pages(self) -> list[PendingPage]:
        """The pages the job's source announced that are not read yet."""
        if self._pending is None:
            rows = self._all(
                f"SELECT {_PENDING_COLUMNS} FROM pending_pages WHERE source = %s ORDER BY url",
                (self.source,),
            )
            self._pending = [PendingPage(*row) for row in rows]
        return [copy.copy(page) for page in self._pending]

    def put_pending_page(self, page: PendingPage) -> None:
        """Insert or replace one page not read yet."""
        self._pending = None
        super().put_pending_page(page)

    def drop_pending_page(self, source: str, url: str) -> None:
        """Forget a page not read yet."""
        self._pending = None
        super().drop_pending_page(source, url)

    def put_web_entry(self, web: WebEntry) -> None:
        """Insert or replace one web entry."""
        self._entries_put = True
        super().put_web_entry(web)

    def prune_web(self, source: str, keep: int) -> int:
        """Keep only ``source``'s newest ``keep`` entries (only a job that added some can
        have made too many)."""
        return super().prune_web(source, keep) if self._entries_put else 0

    def commit(self) -> None:
        """Write the URL's state, then commit."""
        if self._state_put and self._state is not None:
            super().put_fetch_state(self._state)
            self._state_put = False
        super().commit()


class RenderStore(PgStore):
    """The store as a render sees it. Choosing a feed of seeds asks, for every web entry
    it considers, which seeds give that entry's id (a seed wins over the web): a cluster
    that follows only web sources has no seeds, and is answered that without asking the
    database each time."""

    _seeds: bool | None = None  # whether any seed is publishable (None: ask)

    def _any_seeds(self) -> bool:
        if self._seeds is None:
            row = self._one("SELECT EXISTS (SELECT 1 FROM seeds WHERE ok)")
            self._seeds = bool(row and row[0])
        return self._seeds

    def seed_paths_with_id(self, entry_id: str) -> list[str]:
        """The publishable seeds that give ``entry_id``."""
        return super().seed_paths_with_id(entry_id) if self._any_seeds() else []

    def put_seeds(self, records: Iterable[SeedRecord]) -> None:
        """Insert or replace seed records."""
        self._seeds = None
        super().put_seeds(records)
