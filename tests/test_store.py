"""The state store, tested through its interface (``StateStore``) alone.

Every test here takes the ``store`` fixture, which runs it against each implementation
(SQLite in a file, SQLite in memory, PostgreSQL in a throwaway server); a new
implementation joins by adding itself to ``IMPLEMENTATIONS``. Only the last tests, about
SQLite's own file and migrations, look beneath the interface.
"""

from __future__ import annotations

import pickle
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pg_fixture import postgres  # noqa: F401  # the session's PostgreSQL server
from seedfeed.model import Entry
from seedfeed.store import (
    SCHEMA_VERSION,
    STATE_FILE,
    BrokenSeed,
    Enrichment,
    FetchState,
    OutputsRecord,
    RunRecord,
    SeedRecord,
    SQLiteStore,
    StateStore,
    StoreError,
    WebEntry,
    seed_stamp,
)

T0 = 1_700_000_000
DATA = Path(__file__).parent / "data"

Factory = Callable[[], StateStore]


def _sqlite_file(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    return lambda: SQLiteStore(tmp_path / "state")


def _sqlite_memory(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    store = SQLiteStore(None)  # one database for the test: "reopening" gives it back
    store.close = lambda: None  # type: ignore[method-assign]
    return lambda: store


def _postgresql(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    from seedfeed.cluster.pgstore import PgStore, connect, create_schema

    dsn = request.getfixturevalue("postgres").dsn()
    schema = f"t_{uuid.uuid4().hex[:16]}"  # each test has tables of its own
    with connect(dsn, schema) as conn:
        create_schema(conn, schema)
    return lambda: PgStore.open(dsn, schema)


IMPLEMENTATIONS: dict[str, Callable[[pytest.FixtureRequest, Path], Factory]] = {
    "sqlite-file": _sqlite_file,
    "sqlite-memory": _sqlite_memory,
    "postgresql": _postgresql,
}
# A server process starts for PostgreSQL: not in `make quick`.
_MARKS = {"postgresql": pytest.mark.slow}


@pytest.fixture(params=[pytest.param(name, marks=_MARKS.get(name, ())) for name in IMPLEMENTATIONS])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """Opens the store under test (again: the same state)."""
    return IMPLEMENTATIONS[request.param](request, tmp_path)


@pytest.fixture
def store(reopen: Factory) -> Iterator[StateStore]:
    with reopen() as opened:
        yield opened


def seed(path: str, entry_id: str, first_seen: int, **changes: object) -> SeedRecord:
    record = SeedRecord(
        path=path,
        size=10,
        mtime_ns=first_seen * 1_000_000_000,
        scanned_ns=(first_seen + 100) * 1_000_000_000,
        digest=path.encode(),
        entry_id=entry_id,
        entry_hash=b"h-" + path.encode(),
        first_seen=first_seen,
        published=first_seen,
        updated=first_seen,
        link=entry_id if entry_id.startswith("http") else "",
        known_ns=first_seen * 1_000_000_000,
    )
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def entry(entry_id: str, published: int, **changes: object) -> Entry:
    fields: dict[str, object] = {
        "id": entry_id,
        "title": f"Title {entry_id}",
        "link": entry_id,
        "authors": ("Ann Lee", "Bob"),
        "published": datetime.fromtimestamp(published, UTC),
        "updated": datetime.fromtimestamp(published, UTC),
        "content_html": "<p>Body</p>",
        "summary": "Body",
        "tags": ("a", "b c"),
        "origin": entry_id,
    }
    fields.update(changes)
    return Entry(**fields)  # type: ignore[arg-type]


# --- seeds ---------------------------------------------------------------------------------


def test_seed_records_round_trip(store: StateStore) -> None:
    record = seed("a/b.txt", "https://ex.org/a", T0, dated=True)
    store.put_seeds([record])
    assert store.seed("a/b.txt") == record
    assert store.seed("missing.txt") is None
    stats = store.seed_stats()
    assert stats.stamps == {"a/b.txt": seed_stamp(10, T0 * 1_000_000_000)}
    assert stats.others == {}
    assert seed_stamp(11, T0 * 1_000_000_000) != stats.stamps["a/b.txt"]


def test_seed_blobs_and_flags_come_back_as_given(store: StateStore) -> None:
    # An empty hash (an entry no feed showed yet) stays an empty blob, not NULL; the
    # flag comes back false; bytes come back as bytes (SQLite binds them as bytearray).
    record = seed("a.txt", "https://ex.org/a", T0, entry_hash=b"", digest=b"\x00\xff")
    store.put_seeds([record])
    again = store.seed("a.txt")
    assert again == record
    assert again is not None and type(again.digest) is bytes and again.entry_hash == b""
    assert not again.dated


def test_a_seed_record_pickles_as_itself() -> None:
    """Parse workers send records back pickled (by their values, see __reduce__)."""
    record = seed("a.txt", "https://ex.org/a", T0, authors=("Ann", "Bo"), tags=("x",))
    again = pickle.loads(pickle.dumps(record, pickle.HIGHEST_PROTOCOL))
    assert again == record and type(again) is SeedRecord


def test_a_stat_within_two_seconds_of_its_scan_is_not_clean(store: StateStore) -> None:
    racy = seed("r.txt", "urn:r", T0, scanned_ns=T0 * 1_000_000_000 + 1_000_000_000)
    store.put_seeds([racy])
    stats = store.seed_stats()
    assert "r.txt" not in stats.stamps
    assert not stats.others["r.txt"].is_clean(10, T0 * 1_000_000_000)


def test_seed_stats_follow_every_change_of_a_stat(reopen: Factory) -> None:
    """What a scan compares files with is never older than the records, whichever way
    they changed, also across commits (SQLite keeps the stamps in one row)."""
    ns = 1_000_000_000

    def stamps() -> dict[str, bytes]:
        with reopen() as store:
            stats = store.seed_stats()
            store.commit()
        return stats.stamps

    with reopen() as store:
        store.put_seeds([seed(f"{n}.txt", f"urn:{n}", T0 + n) for n in range(4)])
        store.commit()
    assert stamps() == {f"{n}.txt": seed_stamp(10, (T0 + n) * ns) for n in range(4)}
    assert stamps() == {f"{n}.txt": seed_stamp(10, (T0 + n) * ns) for n in range(4)}
    with reopen() as store:
        store.put_seeds([seed("0.txt", "urn:0", T0, size=11)])  # edited
        store.forget_seeds(["1.txt"])  # deleted
        store.put_broken([BrokenSeed("2.txt", 5, T0 * ns, (T0 + 9) * ns, b"d", "empty file")])
        store.put_seeds([seed("4.txt", "urn:4", T0 + 4)])  # new
        store.commit()
    assert stamps() == {
        "0.txt": seed_stamp(11, T0 * ns),
        "3.txt": seed_stamp(10, (T0 + 3) * ns),
        "4.txt": seed_stamp(10, (T0 + 4) * ns),
    }
    with reopen() as store:
        assert store.seed_stats().others["2.txt"].problem == "empty file"
        store.put_seeds([seed("3.txt", "urn:3", T0 + 3, mtime_ns=(T0 + 5) * ns)])  # touched
        store.commit()
    assert stamps()["3.txt"] == seed_stamp(10, (T0 + 5) * ns)


def test_newest_is_one_seed_per_entry_newest_first(store: StateStore) -> None:
    store.put_seeds(
        [
            seed("old.txt", "https://ex.org/old", T0),
            seed("new.txt", "https://ex.org/new", T0 + 20),
            seed("dup.txt", "https://ex.org/old", T0 + 10),  # a later copy of old.txt
        ]
    )
    assert [r.path for r in store.newest()] == ["new.txt", "old.txt"]
    # A feed that includes only the copy shows the copy.
    assert [r.path for r in store.newest(lambda path: path == "dup.txt")] == ["dup.txt"]
    assert [(d.path, d.first) for d in store.duplicates()] == [("dup.txt", "old.txt")]
    assert store.seed_paths_with_id("https://ex.org/old") == ["dup.txt", "old.txt"]


def test_of_seeds_one_scan_found_the_one_seen_first_wins(store: StateStore) -> None:
    # One scan gives every seed it finds the same known_ns: first_seen decides, then the
    # path (every implementation alike: a cluster publishes what one machine does).
    known = T0 * 1_000_000_000
    store.put_seeds(
        [
            seed("a.txt", "https://ex.org/x", T0 + 10, known_ns=known),
            seed("b.txt", "https://ex.org/x", T0, known_ns=known),
            seed("c.txt", "https://ex.org/x", T0, known_ns=known),
        ]
    )
    assert [r.path for r in store.newest()] == ["b.txt"]
    assert [(d.path, d.first) for d in store.duplicates()] == [
        ("a.txt", "b.txt"),
        ("c.txt", "b.txt"),
    ]
    assert [r.path for r in store.newest(lambda path: path != "b.txt")] == ["c.txt"]


def test_an_unpublishable_seed_keeps_its_record_but_leaves_the_feeds(store: StateStore) -> None:
    store.put_seeds([seed("a.txt", "urn:a", T0), seed("b.txt", "urn:b", T0 + 1)])
    store.set_unpublishable(["b.txt"])
    assert [r.path for r in store.newest()] == ["a.txt"]
    assert store.seed("b.txt") is not None
    store.put_seeds([seed("b.txt", "urn:b", T0 + 1)])  # fixed: published again
    assert [r.path for r in store.newest()] == ["b.txt", "a.txt"]


def test_dates_stay_with_the_entry_when_its_seed_goes(store: StateStore) -> None:
    link = "https://ex.org/story"
    store.put_seeds([seed("first.txt", link, T0), seed("copy.txt", link, T0 + 500)])
    store.forget_seeds(["first.txt"])
    store.settle(now=T0 + 1000)
    (winner,) = store.newest()
    assert (winner.path, winner.published) == ("copy.txt", T0)
    # The copy's content differs from what readers had: updated moves forward.
    assert winner.updated == T0 + 500
    # Deleted too, then back: still the date the entry had.
    store.forget_seeds(["copy.txt"])
    store.settle(now=T0 + 2000)
    assert list(store.newest()) == []
    store.put_seeds([seed("back.txt", link, T0 + 3000, entry_hash=b"h-copy.txt")])
    store.settle(now=T0 + 4000)
    (back,) = store.newest()
    assert (back.published, back.updated) == (T0, T0 + 500)  # same content: same dates


def test_updated_never_goes_back(store: StateStore) -> None:
    link = "https://ex.org/story"
    store.put_seeds([seed("a.txt", link, T0, updated=T0 + 900)])
    store.forget_seeds(["a.txt"])
    store.settle(now=T0 + 1000)
    # Restored from a backup: older file, other content than readers last saw.
    store.put_seeds([seed("a.txt", link, T0, entry_hash=b"older")])
    store.settle(now=T0 + 5000)
    (record,) = store.newest()
    assert record.updated == T0 + 5000


def test_a_stated_date_wins_over_the_kept_one(store: StateStore) -> None:
    link = "https://ex.org/story"
    store.put_seeds([seed("a.txt", link, T0)])
    store.forget_seeds(["a.txt"])
    store.put_seeds([seed("b.txt", link, T0 + 50, published=T0 - 86_400, dated=True)])
    store.settle(now=T0 + 100)
    (record,) = store.newest()
    assert record.published == T0 - 86_400


def test_links_an_entry_had(store: StateStore) -> None:
    store.put_seeds([seed("a.txt", "https://ex.org/old", T0, link="https://ex.org/new")])
    assert store.ids_of_links(["https://ex.org/new", "https://ex.org/other"]) == {
        "https://ex.org/new": "https://ex.org/old"
    }


def test_enrichment(store: StateStore) -> None:
    link = "https://ex.org/a"
    store.put_seeds([seed("a.txt", link, T0), seed("b.txt", "urn:b", T0)])
    (task,) = store.seeds_to_enrich()  # only seeds with a link
    assert (task.path, task.link, task.dated) == ("a.txt", link, False)
    store.put_enrichment("a.txt", task.digest, Enrichment(link, "https://ex.org/i.png", "D"))
    assert store.seeds_to_enrich() == []
    assert store.enrichment("a.txt") == Enrichment(link, "https://ex.org/i.png", "D")
    store.set_seed_published("a.txt", T0 - 3600)
    assert store.seed("a.txt").published == T0 - 3600  # type: ignore[union-attr]
    # An edit of the seed (other bytes) reads the page again; a failure is remembered.
    store.put_seeds([seed("a.txt", link, T0, digest=b"edited")])
    assert store.enrichment("a.txt") is None
    (task,) = store.seeds_to_enrich()
    store.put_enrichment("a.txt", task.digest, None, error="HTTP 500")
    assert store.seeds_to_enrich() == [] and store.enrichment("a.txt") is None


# --- sources -------------------------------------------------------------------------------


def test_new_urls_are_due_at_once(store: StateStore) -> None:
    store.sync_sources([("blog", "https://ex.org/feed"), ("city news", "https://ex.org/l")])
    assert [(s.source, s.origin, s.url) for s in store.due(T0)] == [
        ("blog", "https://ex.org/feed", "https://ex.org/feed"),
        ("city news", "https://ex.org/l", "https://ex.org/l"),
    ]


def test_due_follows_next_fetch_and_disabled(store: StateStore) -> None:
    store.sync_sources([("a", "https://a.org/"), ("b", "https://b.org/"), ("c", "https://c.org/")])
    later = store.fetch_state("a", "https://a.org/")
    later.next_fetch = T0 + 60
    store.put_fetch_state(later)
    gone = store.fetch_state("b", "https://b.org/")
    gone.disabled = True
    store.put_fetch_state(gone)
    assert [s.source for s in store.due(T0)] == ["c"]
    assert [s.source for s in store.due(T0 + 60)] == ["a", "c"]


def test_fetch_state_round_trip(store: StateStore) -> None:
    fresh = store.fetch_state("blog", "https://ex.org/feed")
    assert fresh == FetchState("blog", "https://ex.org/feed", url="https://ex.org/feed")
    state = FetchState(
        "blog",
        "https://ex.org/feed",
        url="https://ex.org/moved",
        etag='W/"x"',
        last_modified="Mon, 01 Jan 2024 00:00:00 GMT",
        failures=2,
        next_fetch=T0 + 1800.5,
        last_success=T0,
        last_error="HTTP 500",
    )
    store.put_fetch_state(state)
    assert store.fetch_state("blog", "https://ex.org/feed") == state
    assert store.fetch_states() == [state]


def test_sync_forgets_sources_not_named_unless_kept(store: StateStore) -> None:
    names = ("gone", "broken", "kept")
    store.sync_sources([(name, f"https://{name}.org/") for name in names])
    for name in names:
        url = f"https://{name}.org/a"
        store.put_web_entry(WebEntry(name, ("all",), url, entry(url, T0), b"h"))
    store.sync_sources([("kept", "https://kept.org/")], keep=["broken"])
    assert sorted(s.source for s in store.fetch_states()) == ["broken", "kept"]
    assert sorted(w.source for w in store.newest_web(None)) == ["broken", "kept"]


def test_web_entries_round_trip(store: StateStore) -> None:
    web = WebEntry(
        "city news", ("all", "city"), "https://ex.org/a", entry("https://ex.org/a", T0), b"h"
    )
    store.put_web_entry(web)
    assert store.web_entry("city news", "https://ex.org/a") == web
    assert store.web_entry("other", "https://ex.org/a") is None
    assert store.has_web_url("city news", "https://ex.org/a")
    assert not store.has_web_url("city news", "https://ex.org/b")
    assert list(store.newest_web(["city news"])) == [web]
    assert list(store.newest_web(["city"])) == []  # source names match whole
    assert list(store.newest_web([])) == []


def test_web_entries_of_one_date_and_url_come_by_source(store: StateStore) -> None:
    url = "https://ex.org/w0"
    for name in ("s1", "s 3"):  # written in this order; " " sorts before "1"
        store.put_web_entry(WebEntry(name, ("all",), url, entry(url, T0), b"h"))
    assert [w.source for w in store.newest_web(None)] == ["s 3", "s1"]


def test_prune_keeps_the_newest(store: StateStore) -> None:
    for i in range(5):
        url = f"https://ex.org/{i}"
        store.put_web_entry(WebEntry("s", ("all",), url, entry(url, T0 + i), b"h"))
    assert store.prune_web("s", 2) == 3
    assert [w.url for w in store.newest_web(["s"])] == ["https://ex.org/4", "https://ex.org/3"]


# --- runs and transactions -----------------------------------------------------------------


def test_last_run(store: StateStore) -> None:
    assert store.last_run() is None
    run = RunRecord(at=T0, seeds=3, skipped=1, warnings=2, entries=4, written=("all.json",))
    store.record_run(run)
    assert store.last_run() == run


def test_uncommitted_changes_are_forgotten(reopen: Factory, tmp_path: Path) -> None:
    if reopen().__class__ is SQLiteStore and not (tmp_path / "state").exists():
        pytest.skip("a store in memory has nothing to reopen")
    with reopen() as store:
        store.put_seeds([seed("kept.txt", "urn:k", T0)])
        store.commit()
        store.put_seeds([seed("lost.txt", "urn:l", T0)])
    with reopen() as store:
        assert store.seed("kept.txt") is not None
        assert store.seed("lost.txt") is None


# --- SQLite: its file and its migrations ----------------------------------------------------


def test_a_v1_store_is_migrated(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / STATE_FILE) as db:
        db.executescript((DATA / "store-v1.sql").read_text())
    with SQLiteStore(state) as store:
        a = store.seed("a.txt")
        assert a is not None and (a.entry_id, a.published, a.link, a.dated) == (
            "https://news.example.org/story",
            T0,
            "",
            False,
        )
        # "name url" keys became a source and a URL; the name keeps its space.
        (fetch,) = store.fetch_states()
        assert (fetch.source, fetch.origin, fetch.url, fetch.etag, fetch.failures) == (
            "city news",
            "https://ex.org/list",
            "https://ex.org/moved",
            '"v1"',
            2,
        )
        (web,) = store.newest_web(["city news"])
        assert web.entry.authors == ("Ann", "Bob") and web.feeds == ("all", "city")
        assert store.last_run() == RunRecord(
            at=1700000100, seeds=2, warnings=1, entries=1, written=("all.atom.xml",)
        )
        # The first seed goes: its entry keeps its date, the duplicate takes over.
        store.forget_seeds(["a.txt"])
        store.settle(now=T0 + 1000)
        (winner,) = store.newest()
        assert (winner.path, winner.published) == ("b.txt", T0)
        store.commit()
    with sqlite3.connect(state / STATE_FILE) as db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)


def test_seed_stamps_are_kept_until_a_stat_changes(tmp_path: Path) -> None:
    """The stamps are kept whole by a commit that changed no seed, and go with any
    write to a seed's stat, also one made by hand (the trigger); unreadable ones are
    read from the rows again."""
    with SQLiteStore(tmp_path) as store:
        store.put_seeds([seed("a.txt", "urn:a", T0), seed("b.txt", "urn:b", T0)])
        store.commit()
    with SQLiteStore(tmp_path) as store:
        store.seed_stats()
        store.put_seeds([seed("b.txt", "urn:b", T0)])
        store.commit()  # a seed was written after they were read: not kept
    with sqlite3.connect(tmp_path / STATE_FILE) as db:
        assert db.execute("SELECT count(*) FROM seed_stamps").fetchone() == (0,)
    with SQLiteStore(tmp_path) as store:
        store.seed_stats()
        store.commit()
    with sqlite3.connect(tmp_path / STATE_FILE) as db:
        assert db.execute("SELECT count(*) FROM seed_stamps").fetchone() == (1,)
        db.execute("UPDATE seeds SET mtime_ns = mtime_ns + 1 WHERE path = 'a.txt'")
        assert db.execute("SELECT count(*) FROM seed_stamps").fetchone() == (0,)
    with SQLiteStore(tmp_path) as store:
        assert store.seed_stats().stamps["a.txt"] == seed_stamp(10, T0 * 1_000_000_000 + 1)
        store.commit()
    with sqlite3.connect(tmp_path / STATE_FILE) as db:
        db.execute("UPDATE seeds SET entry_hash = x'00'")  # not a stat: the stamps stay
        assert db.execute("SELECT count(*) FROM seed_stamps").fetchone() == (1,)
        db.execute("DELETE FROM seeds WHERE path = 'b.txt'")  # by hand: read again
        assert db.execute("SELECT count(*) FROM seed_stamps").fetchone() == (0,)
    with SQLiteStore(tmp_path) as store:
        assert set(store.seed_stats().stamps) == {"a.txt"}
        store.commit()


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff",  # not marshal at all
        b"\x5b\xff\xff\xff\x7f",  # a list of 2**31 - 1 items: marshal would ask for 16 GB
        b"",
    ],
)
def test_damaged_seed_stamps_are_read_from_the_rows(tmp_path: Path, data: bytes) -> None:
    with SQLiteStore(tmp_path) as store:
        store.put_seeds([seed("a.txt", "urn:a", T0)])
        store.commit()
    with SQLiteStore(tmp_path) as store:
        store.seed_stats()
        store.commit()
    with sqlite3.connect(tmp_path / STATE_FILE) as db:
        db.execute("UPDATE seed_stamps SET data = ?", (data,))
    with SQLiteStore(tmp_path) as store:
        assert store.seed_stats().stamps == {"a.txt": seed_stamp(10, T0 * 1_000_000_000)}


def test_a_racy_seed_written_again_keeps_the_others_stamps(tmp_path: Path) -> None:
    """A seed dated in the future is racy, so read and written every run: the stamps of
    the others must not go with it each time."""
    future = seed("f.txt", "urn:f", T0, mtime_ns=(T0 + 10**6) * 1_000_000_000)
    with SQLiteStore(tmp_path) as store:
        store.put_seeds([seed("a.txt", "urn:a", T0), future])
        store.commit()
    for _ in range(2):
        with SQLiteStore(tmp_path) as store:
            stats = store.seed_stats()
            assert set(stats.stamps) == {"a.txt"} and set(stats.others) == {"f.txt"}
            store.put_seeds([future])
            store.commit()
        with sqlite3.connect(tmp_path / STATE_FILE) as db:
            assert db.execute("SELECT count(*) FROM seed_stamps").fetchone() == (1,)
    with SQLiteStore(tmp_path) as store:  # a stamped one written: they go
        store.seed_stats()
        store.put_seeds([seed("a.txt", "urn:a", T0, size=11)])
        store.commit()
    with sqlite3.connect(tmp_path / STATE_FILE) as db:
        assert db.execute("SELECT count(*) FROM seed_stamps").fetchone() == (0,)


def test_a_v3_store_is_migrated(tmp_path: Path) -> None:
    """``store-v3.sql``: two seeds published twice by seedfeed at schema 3 (870f5f0)."""
    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / STATE_FILE) as db:
        db.executescript((DATA / "store-v3.sql").read_text())
    ns = 1_700_000_000 * 1_000_000_000
    with SQLiteStore(state) as store:
        stats = store.seed_stats()
        assert stats.stamps == {"a.txt": seed_stamp(92, ns), "b.txt": seed_stamp(20, ns)}
        a = store.seed("a.txt")
        assert a is not None and a.entry_id == "https://news.example.org/alpha"
        store.commit()  # nothing changed: the stamps are kept
    with SQLiteStore(state) as store:
        assert store.seed_stats().stamps["b.txt"] == seed_stamp(20, ns)
        store.put_seeds([seed("b.txt", "urn:b", 1_700_000_000, size=21)])
        store.commit()
    with SQLiteStore(state) as store:
        assert store.seed_stats().stamps["b.txt"] == seed_stamp(21, ns)
    with sqlite3.connect(state / STATE_FILE) as db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path) as store:
        store.commit()
    with sqlite3.connect(tmp_path / STATE_FILE) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer seedfeed"):
        SQLiteStore(tmp_path)


def test_a_file_that_is_not_a_store_is_one_error(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match=STATE_FILE):
        SQLiteStore(tmp_path)


# --- what a publish needs to skip work ------------------------------------------------------


def test_broken_seeds_are_kept_with_their_reason(store: StateStore) -> None:
    store.put_seeds([seed("good.txt", "https://ex.org/a", T0)])
    store.put_broken(
        [
            BrokenSeed("new.txt", 5, T0 * 10**9, (T0 + 9) * 10**9, b"d", "binary file, not text"),
            BrokenSeed("good.txt", 6, T0 * 10**9, (T0 + 9) * 10**9, b"e", "empty file"),
        ]
    )
    stats = store.seed_stats().others
    assert stats["new.txt"].problem == "binary file, not text"
    assert stats["good.txt"].problem == "empty file"
    assert list(store.newest()) == []
    kept = store.seed("good.txt")  # keeps its entry's id and dates for when it is fixed
    assert kept is not None and kept.entry_id == "https://ex.org/a" and kept.published == T0
    store.put_seeds([seed("good.txt", "https://ex.org/a", T0)])
    assert "good.txt" in store.seed_stats().stamps


def test_what_readers_see_is_learned_when_a_feed_shows_it(store: StateStore) -> None:
    link = "https://ex.org/story"
    store.put_seeds([seed("a.txt", link, T0), seed("b.txt", link, T0 + 10, entry_hash=b"")])
    assert store.set_entry_hash("a.txt", b"a.txt", b"h-a.txt", now=T0 + 20) is None
    store.forget_seeds(["a.txt"])
    store.settle(now=T0 + 30)
    (winner,) = store.newest()
    assert (winner.path, winner.updated) == ("b.txt", T0)  # not known yet: not moved
    # Shown: the copy's content differs from what readers had, so updated moves now.
    assert store.set_entry_hash("b.txt", b"b.txt", b"other", now=T0 + 40) == T0 + 40
    (winner,) = store.newest()
    assert winner.updated == T0 + 40
    # Bytes that changed since they were read: nothing is recorded.
    assert store.set_entry_hash("b.txt", b"stale", b"x", now=T0 + 50) is None


def test_duplicates_among_the_ids_a_run_read(store: StateStore) -> None:
    store.put_seeds(
        [
            seed("a.txt", "https://ex.org/1", T0),
            seed("b.txt", "https://ex.org/1", T0 + 1),
            seed("c.txt", "https://ex.org/2", T0),
            seed("d.txt", "https://ex.org/2", T0 + 1),
        ]
    )
    assert [d.path for d in store.duplicates()] == ["b.txt", "d.txt"]
    assert [d.path for d in store.duplicates(["https://ex.org/2"])] == ["d.txt"]
    assert store.duplicates([]) == []


def test_changed_and_the_outputs_fingerprint(reopen: Factory) -> None:
    with reopen() as store:
        assert not store.changed() and store.outputs() is None
        store.sync_sources([("s", "https://ex.org/")])  # fetch state: not what feeds show
        store.record_run(RunRecord(at=T0))
        assert not store.changed()
        store.put_seeds([seed("a.txt", "urn:a", T0)])
        assert store.changed()
        store.set_outputs(OutputsRecord("key", {"all": 1, "tech": 0}, 1))
        store.commit()
    with reopen() as store:
        assert store.outputs() == OutputsRecord("key", {"all": 1, "tech": 0}, 1)
