"""End-to-end behaviour of ``publish``: determinism, dates, ids, selection, files, crashes."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import seedfeed.scan
import seedfeed.seeds
from helpers import (
    BASE_URL,
    NS,
    T0,
    atom_date,
    atom_entries,
    atom_entry,
    atom_titles,
    make_project,
    parse_feed,
    rss_items,
    run_publish,
    seed_text,
    snapshot,
    utc,
    write_seed,
    xml,
)
from seedfeed.config import load_config
from seedfeed.pipeline import LockTimeout, PublishError, publish, publish_lock
from seedfeed.writer import WriteError


def _ids(feed: Path) -> list[str]:
    return [e.findtext("atom:id", "", NS) for e in atom_entries(feed)]


# --- determinism ---------------------------------------------------------------------


def test_rerun_without_changes_rewrites_nothing(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {
            "a.txt": seed_text("Alpha", link="https://example.org/a"),
            "b.txt": seed_text("Beta", published="2026-01-02"),
            "c.md": "---\ntitle: Gamma\ndate: 2026-01-03\n---\n\nSome *Markdown* text.\n",
        },
    )
    first = run_publish(config)
    assert sorted(first.written) == [
        "all.atom.xml",
        "all.json",
        "all.rss.xml",
        "feed.xsl",
        "feeds.opml",
        "index.html",
    ]
    before = snapshot(tmp_path / "feeds")
    for _ in range(3):
        report = run_publish(config)
        assert report.written == []
        assert report.parsed == 0
        assert report.unchanged == 3
        assert snapshot(tmp_path / "feeds") == before


def test_fresh_state_renders_identical_bytes(tmp_path: Path) -> None:
    """Ids and dates come from the seeds, not from the clock: a lost state changes nothing."""
    config = make_project(
        tmp_path,
        {"a.txt": seed_text("Alpha"), "b.txt": seed_text("Beta", published="2026-01-02")},
    )
    run_publish(config)
    before = snapshot(tmp_path / "feeds")
    for path in (tmp_path / ".seedfeed").iterdir():
        path.unlink()
    time.sleep(0.01)
    report = run_publish(config)
    assert report.written == []
    assert snapshot(tmp_path / "feeds") == before


def test_an_edit_that_keeps_the_mtime_is_seen_once_the_stamps_are_kept(tmp_path: Path) -> None:
    """The third run compares with the stamps a no-change run kept; an edit that
    restores the file's mtime (rsync --times, a restore) changes its size, and is read."""
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha"), "b.txt": seed_text("Beta")})
    run_publish(config)
    run_publish(config)  # nothing changed: the stamps are kept whole
    with sqlite3.connect(tmp_path / ".seedfeed" / "state.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM seed_stamps").fetchone() == (1,)
    write_seed(tmp_path / "seeds", "a.txt", seed_text("Alpha, longer now"), T0)  # same mtime
    report = run_publish(config)
    assert report.parsed == 1
    assert "Alpha, longer now" in atom_titles(tmp_path / "feeds" / "all.atom.xml")


def test_touch_without_edit_rewrites_nothing_and_keeps_dates(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha"), "b.txt": seed_text("Beta")})
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    dates = {t: (atom_date(atom_entry(feed, t), "published"),) for t in ("Alpha", "Beta")}
    before = snapshot(tmp_path / "feeds")

    os.utime(tmp_path / "seeds" / "a.txt", (T0 + 5000, T0 + 5000))
    os.utime(tmp_path / "seeds" / "b.txt")  # now: the racy case, re-hashed every run
    for _ in range(2):
        report = run_publish(config)
        assert report.written == []
        assert report.parsed == 0
        assert snapshot(tmp_path / "feeds") == before
    for title, (published,) in dates.items():
        entry = atom_entry(feed, title)
        assert atom_date(entry, "published") == published
        assert atom_date(entry, "updated") == published


# --- ids and dates -----------------------------------------------------------------------


def test_published_is_file_mtime_at_first_sight(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    seed = write_seed(tmp_path / "seeds", "undated.txt", seed_text("Undated"), mtime=T0)
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    assert atom_date(atom_entry(feed, "Undated"), "published") == T0
    assert atom_date(atom_entry(feed, "Undated"), "updated") == T0

    # Re-running and touching never move it.
    for mtime in (T0 + 100, T0 + 86_400, T0 - 86_400):
        os.utime(seed, (mtime, mtime))
        run_publish(config)
        assert atom_date(atom_entry(feed, "Undated"), "published") == T0
        assert atom_date(atom_entry(feed, "Undated"), "updated") == T0


def test_published_is_explicit_date_when_present(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {
            "dated.txt": seed_text("Dated", published="2024-03-05"),
            "iso.md": "---\ntitle: Iso\ndate: 2025-06-07T08:09:10+02:00\n---\n\nText.\n",
        },
    )
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    assert atom_date(atom_entry(feed, "Dated"), "published") == utc(2024, 3, 5)
    assert atom_date(atom_entry(feed, "Iso"), "published") == utc(2025, 6, 7, 6, 9, 10)
    os.utime(tmp_path / "seeds" / "dated.txt", (T0 + 999, T0 + 999))
    run_publish(config)
    assert atom_date(atom_entry(feed, "Dated"), "published") == utc(2024, 3, 5)


def test_edit_moves_updated_only(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    seeds = tmp_path / "seeds"
    write_seed(seeds, "story.txt", seed_text("Story", "First version of the text."), mtime=T0)
    write_seed(seeds, "linked.txt", seed_text("Linked", link="https://ex.org/l"), mtime=T0)
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    old_id = atom_entry(feed, "Story").findtext("atom:id", None, NS)
    assert old_id and old_id.startswith("urn:uuid:")

    edit_time = T0 + 3600
    write_seed(seeds, "story.txt", seed_text("Story, revised", "Second version."), edit_time)
    report = run_publish(config)
    assert report.parsed == 1
    assert "all.atom.xml" in report.written
    entry = atom_entry(feed, "Story, revised")
    assert entry.findtext("atom:id", None, NS) == old_id
    assert atom_date(entry, "published") == T0
    assert atom_date(entry, "updated") == edit_time
    assert "Second version." in (entry.findtext("atom:content", "", NS))
    assert len(atom_entries(feed)) == 2
    assert "Story" not in atom_titles(feed)

    # A new link does not make it a new entry either: the id was fixed at first sight.
    write_seed(seeds, "linked.txt", seed_text("Linked", link="https://ex.org/moved"), T0 + 7200)
    run_publish(config)
    assert _ids(feed).count("https://ex.org/l") == 1
    assert len(atom_entries(feed)) == 2
    entry = atom_entry(feed, "Linked")
    assert atom_date(entry, "published") == T0
    assert atom_date(entry, "updated") == T0 + 7200
    rss = tmp_path / "feeds" / "all.rss.xml"
    items = [i for i in rss_items(rss) if i.findtext("title") == "Linked"]
    assert len(items) == 1
    assert items[0].findtext("link") == "https://ex.org/moved"
    parse_feed(feed)
    parse_feed(tmp_path / "feeds" / "all.rss.xml")


def test_temporarily_broken_seed_keeps_published_date(tmp_path: Path) -> None:
    """A seed caught half-saved (empty) by one run, then saved for real, is the same
    article seen before: its published date and id stay those of its first sight."""
    config = make_project(tmp_path)
    seeds = tmp_path / "seeds"
    write_seed(seeds, "other.txt", seed_text("Other", published="2020-01-01"))
    write_seed(seeds, "story.txt", seed_text("Story"), mtime=T0)
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    old_id = atom_entry(feed, "Story").findtext("atom:id", None, NS)

    write_seed(seeds, "story.txt", b"", mtime=T0 + 60)  # the editor truncated it
    report = run_publish(config)
    assert report.skipped == [("story.txt", "empty file")]

    write_seed(seeds, "story.txt", seed_text("Story", "Now with more text."), mtime=T0 + 120)
    run_publish(config)
    entry = atom_entry(feed, "Story")
    assert entry.findtext("atom:id", None, NS) == old_id
    assert atom_date(entry, "published") == T0
    assert atom_date(entry, "updated") == T0 + 120


def test_same_canonical_link_published_once(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        extra_config='[feeds.news]\ninclude = ["*.txt"]\n',
        mtime=None,
    )
    seeds = tmp_path / "seeds"
    write_seed(seeds, "a-first.txt", seed_text("First copy", link="https://ex.org/story"), T0)
    write_seed(
        seeds,
        "b-second.txt",
        seed_text("Second copy", link="https://ex.org/story?utm_source=x&utm_medium=y#frag"),
        T0 + 10,
    )
    write_seed(seeds, "c-other.txt", seed_text("Other", link="https://ex.org/other"), T0 + 20)
    report = run_publish(config)
    assert report.skipped == []
    assert report.warnings == [("b-second.txt", "same article as a-first.txt; published once")]
    for name in ("all", "news"):
        feed = tmp_path / "feeds" / f"{name}.atom.xml"
        assert sorted(atom_titles(feed)) == ["First copy", "Other"]
        assert _ids(feed).count("https://ex.org/story") == 1
        rss = tmp_path / "feeds" / f"{name}.rss.xml"
        assert [i.findtext("guid") for i in rss_items(rss)].count("https://ex.org/story") == 1

    # The warning comes when a duplicate is read, not on every run (`check` lists all).
    assert run_publish(config).warnings == []
    # The survivor is the first seen, whatever the file names or later edits say.
    write_seed(seeds, "a-first.txt", seed_text("First copy, edited", link="https://ex.org/story"))
    os.utime(seeds / "a-first.txt", (T0 + 30, T0 + 30))
    assert run_publish(config).warnings == []
    assert "First copy, edited" in atom_titles(tmp_path / "feeds" / "all.atom.xml")
    write_seed(seeds, "b-second.txt", seed_text("Second, edited", link="https://ex.org/story"))
    assert run_publish(config).warnings == report.warnings


def test_deleted_seed_loses_its_entry(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha"), "b.txt": seed_text("Beta")})
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    assert sorted(atom_titles(feed)) == ["Alpha", "Beta"]
    (tmp_path / "seeds" / "a.txt").unlink()
    report = run_publish(config)
    assert report.seeds == 1
    assert atom_titles(feed) == ["Beta"]
    assert [i.findtext("title") for i in rss_items(tmp_path / "feeds" / "all.rss.xml")] == ["Beta"]
    # ... and coming back, it has the date it had: dates belong to the entry's id.
    write_seed(tmp_path / "seeds", "a.txt", seed_text("Alpha"), mtime=T0 + 500)
    run_publish(config)
    assert atom_date(atom_entry(feed, "Alpha"), "published") == T0


def test_last_seed_deleted_gives_valid_empty_feed(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    run_publish(config)
    (tmp_path / "seeds" / "a.txt").unlink()
    run_publish(config)
    assert atom_entries(tmp_path / "feeds" / "all.atom.xml") == []
    assert parse_feed(tmp_path / "feeds" / "all.atom.xml").entries == []
    assert parse_feed(tmp_path / "feeds" / "all.rss.xml").entries == []


# --- selection ---------------------------------------------------------------------------


def test_max_entries_newest_first(tmp_path: Path) -> None:
    seeds = {f"s{day}.txt": seed_text(f"Day {day}", published=f"2026-01-0{day}") for day in
             (3, 1, 5, 2, 4)}  # fmt: skip
    config = make_project(tmp_path, seeds, extra_config="[publish]\nmax_entries = 3\n")
    report = run_publish(config)
    assert report.entries == {"all": 3}
    feed = tmp_path / "feeds" / "all.atom.xml"
    assert atom_titles(feed) == ["Day 5", "Day 4", "Day 3"]
    assert [atom_date(e, "published") for e in atom_entries(feed)] == [
        utc(2026, 1, 5),
        utc(2026, 1, 4),
        utc(2026, 1, 3),
    ]
    rss = tmp_path / "feeds" / "all.rss.xml"
    assert [i.findtext("title") for i in rss_items(rss)] == ["Day 5", "Day 4", "Day 3"]
    parsed = parse_feed(rss)
    assert [e.title for e in parsed.entries] == ["Day 5", "Day 4", "Day 3"]

    # A newer seed pushes the oldest out.
    write_seed(tmp_path / "seeds", "s9.txt", seed_text("Day 9", published="2026-01-09"))
    run_publish(config)
    assert atom_titles(feed) == ["Day 9", "Day 5", "Day 4"]


def test_named_feed_takes_only_matching_seeds(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {
            "top.txt": seed_text("Top"),
            "science/comet.txt": seed_text("Comet", published="2026-02-01"),
            "science/deep/moth.md": "---\ntitle: Moth\n---\n\nText.\n",
            "sport/match.txt": seed_text("Match"),
        },
        extra_config=(
            '[feeds.science]\ntitle = "Science only"\ninclude = ["science/*"]\n'
            '[feeds.mixed]\ninclude = ["sport/*", "top.txt"]\nmax_entries = 1\n'
        ),
    )
    report = run_publish(config)
    feeds = tmp_path / "feeds"
    assert sorted(p.name for p in feeds.iterdir()) == [
        "all.atom.xml",
        "all.json",
        "all.rss.xml",
        "feed.xsl",
        "feeds.opml",
        "index.html",
        "mixed.atom.xml",
        "mixed.json",
        "mixed.rss.xml",
        "science.atom.xml",
        "science.json",
        "science.rss.xml",
    ]
    assert sorted(atom_titles(feeds / "all.atom.xml")) == ["Comet", "Match", "Moth", "Top"]
    # fnmatch's * crosses folders: science/* takes science/deep/moth.md too.
    assert sorted(atom_titles(feeds / "science.atom.xml")) == ["Comet", "Moth"]
    assert len(atom_titles(feeds / "mixed.atom.xml")) == 1
    assert atom_titles(feeds / "mixed.atom.xml")[0] in {"Match", "Top"}
    assert report.entries == {"all": 4, "science": 2, "mixed": 1}

    science = xml(feeds / "science.atom.xml")
    assert science.findtext("atom:title", None, NS) == "Science only"
    assert [ln.get("href") for ln in science.findall("atom:link[@rel='self']", NS)] == [
        BASE_URL + "science.atom.xml"
    ]
    for path in feeds.iterdir():
        if path.suffix == ".xml":  # the Atom and RSS files, not the JSON, HTML or OPML
            parse_feed(path)


def test_paths_are_relative_to_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "site" / "conf"
    config = make_project(
        root,
        extra_config=(
            '[paths]\nseeds = "../input"\nfeeds = "public/feeds"\nstate = "../var/state"\n'
        ),
    )
    (root / "seeds").rmdir()
    write_seed(tmp_path / "site" / "input", "a.txt", seed_text("Alpha"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    loaded = load_config(config)
    assert loaded.paths.seeds == (tmp_path / "site" / "input").resolve()
    assert loaded.paths.feeds == (root / "public" / "feeds").resolve()
    assert loaded.paths.state == (tmp_path / "site" / "var" / "state").resolve()
    report = publish(loaded)
    assert report.entries == {"all": 1}
    assert atom_titles(root / "public" / "feeds" / "all.atom.xml") == ["Alpha"]
    assert (tmp_path / "site" / "var" / "state" / "state.sqlite3").is_file()
    assert list(elsewhere.iterdir()) == []
    assert not (root / ".seedfeed").exists()
    assert not (root / "feeds").exists()


def test_state_lives_in_dot_seedfeed(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    run_publish(config)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".seedfeed",
        "config.toml",
        "feeds",
        "seeds",
    ]
    assert (tmp_path / ".seedfeed" / "state.sqlite3").is_file()
    assert sorted(p.name for p in (tmp_path / "seeds").iterdir()) == ["a.txt"]


def test_missing_seeds_folder_is_a_publish_error(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    (tmp_path / "seeds").rmdir()
    with pytest.raises(PublishError, match="seeds folder not found"):
        run_publish(config)
    assert not (tmp_path / "feeds").exists()


# --- files on disk -----------------------------------------------------------------------


def test_atomic_writes_leave_no_temp_files(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    for round_ in range(4):
        write_seed(tmp_path / "seeds", f"n{round_}.txt", seed_text(f"New {round_}"), T0 + round_)
        report = run_publish(config)
        assert "all.atom.xml" in report.written
        names = sorted(p.name for p in (tmp_path / "feeds").iterdir())
        assert names == [
            "all.atom.xml",
            "all.json",
            "all.rss.xml",
            "feed.xsl",
            "feeds.opml",
            "index.html",
        ]
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for name in ("all.atom.xml", "all.rss.xml"):
        mode = (tmp_path / "feeds" / name).stat().st_mode & 0o777
        assert mode == 0o644


def test_failed_write_keeps_old_feed_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    run_publish(config)
    before = snapshot(tmp_path / "feeds")
    write_seed(tmp_path / "seeds", "b.txt", seed_text("Beta"), T0 + 50)

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("seedfeed.writer.os.replace", refuse)
    with pytest.raises(WriteError, match="No space left on device; no feed file was changed"):
        run_publish(config)
    assert snapshot(tmp_path / "feeds") == before
    assert [p.name for p in tmp_path.rglob("*.tmp")] == []

    monkeypatch.undo()
    run_publish(config)
    assert sorted(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == ["Alpha", "Beta"]


_KILL_SCRIPT = """
import sys
from seedfeed.config import load_config
from seedfeed.pipeline import publish
publish(load_config(sys.argv[1]))
"""


def _big_project(root: Path, extra_config: str = "", title: str = "Round 0") -> Path:
    """Three recent seeds, published, then 3,000 older generated seeds not yet published."""
    old = {
        f"old{i}.txt": seed_text(
            f"Old {i}", published=f"2026-03-0{i + 1}", link=f"https://o.org/{i}"
        )
        for i in range(3)
    }
    config = make_project(root, old, extra_config=extra_config, title=title)
    run_publish(config)
    gen = root / "seeds" / "gen"
    gen.mkdir()
    for i in range(3000):
        (gen / f"g{i:04d}.txt").write_text(
            f"Generated {i}\n\nPublished: 2020-01-{i % 28 + 1:02d}\n\nBody {i} text.\n\n"
            f"Content retrieved from: https://g.org/{i}\n",
            encoding="utf-8",
        )
    return config


def _spawn_publisher(config: Path) -> subprocess.Popen[bytes]:
    # Its own process group (and session), so everything it starts can be found and ended.
    return subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _end_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _wait_for_writes(
    feeds: Path, before: dict[str, int], count: int, child: subprocess.Popen[bytes]
) -> None:
    """Return once ``count`` files in ``feeds`` are new or replaced (temporary files
    count), or the child has ended, or 20 s have passed."""
    deadline = time.monotonic() + 20
    while child.poll() is None and time.monotonic() < deadline:
        changed = 0
        with os.scandir(feeds) as it:
            for entry in it:
                try:
                    mtime = entry.stat().st_mtime_ns
                except FileNotFoundError:
                    continue
                changed += before.get(entry.name) != mtime
        if changed >= count:
            return
        time.sleep(0.0005)


def test_kill_mid_publish_leaves_previous_feeds_intact(tmp_path: Path) -> None:
    extra = "".join(f'[feeds.copy{i}]\ninclude = ["*"]\n' for i in range(3))
    config = _big_project(tmp_path, extra)
    feeds = tmp_path / "feeds"
    old_ids = {f"https://o.org/{i}" for i in range(3)}
    assert len(list(feeds.glob("*.xml"))) == 8
    # The 3,000 generated seeds are older: every feed, old or new, keeps the three old
    # entries on top, so each file must show them whenever the kill lands.

    # Kill after a fixed delay (while it reads the seeds), or as soon as it has begun to
    # replace the feed files: at the first temporary file, or after the Nth new file.
    plan = [("delay", 0.3), ("writes", 1), ("writes", 2), ("writes", 5)]
    for round_, (when, value) in enumerate(plan, start=1):
        # A new feed title each round, so every round has files to replace.
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(f"Round {round_ - 1}", f"Round {round_}"), "utf-8")
        before = {p.name: p.stat().st_mtime_ns for p in feeds.iterdir()}
        child = _spawn_publisher(config)
        try:
            if when == "delay":
                time.sleep(value)
            else:
                _wait_for_writes(feeds, before, int(value), child)
        finally:
            _end_group(child.pid)
            child.wait(timeout=30)

        assert len(list(feeds.glob("*.xml"))) == 8
        for path in sorted(feeds.glob("*.xml")):
            root = xml(path)  # well-formed, whole
            assert root.tag in ("{http://www.w3.org/2005/Atom}feed", "rss")
            parsed = parse_feed(path)
            assert old_ids <= {e.id for e in parsed.entries}, path.name
            assert parsed.feed.title.split(":")[0] in {f"Round {n}" for n in range(round_ + 1)}

    report = publish(load_config(config), lock_timeout=5)
    assert report.skipped == []
    for path in sorted(feeds.glob("*.xml")):
        parsed = parse_feed(path)
        assert len(parsed.entries) == 50
        assert old_ids <= {e.id for e in parsed.entries}
        assert parsed.feed.title.startswith(f"Round {len(plan)}")


def test_publish_sweeps_temp_files_left_by_a_killed_run(tmp_path: Path) -> None:
    """A run killed mid-write leaves ``.NAME.XXXX.tmp`` files in feeds/ (the kill test
    above shows it). The next run holds the lock, so any such file is a dead run's: it
    must not stay in the published folder forever."""
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    run_publish(config)
    feeds = tmp_path / "feeds"
    stale = [feeds / ".all.atom.xml.k3j_x9q1.tmp", feeds / ".all.rss.xml.0a9dfl2m.tmp"]
    for path in stale:
        path.write_bytes(b"<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns=")
    write_seed(tmp_path / "seeds", "b.txt", seed_text("Beta"), T0 + 100)
    report = run_publish(config)
    assert "all.atom.xml" in report.written
    assert sorted(p.name for p in feeds.iterdir()) == [
        "all.atom.xml",
        "all.json",
        "all.rss.xml",
        "feed.xsl",
        "feeds.opml",
        "index.html",
    ]


def test_killed_publisher_leaves_no_stray_processes(tmp_path: Path) -> None:
    """``kill -9 PID`` (a timeout, the OOM killer) hits only the publisher itself: any
    helper process it started must notice and exit, not hang on forever."""
    config = _big_project(tmp_path)
    child = _spawn_publisher(config)
    try:
        # Kill it once it has started helpers (if it ever does; if not, nothing can leak).
        deadline = time.monotonic() + 10
        while child.poll() is None and time.monotonic() < deadline:
            if len(_group_members(child.pid)) > 1:
                time.sleep(0.1)
                break
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        deadline = time.monotonic() + 1.5
        while _group_members(child.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        strays = _group_members(child.pid)
        assert strays == [], f"{len(strays)} process(es) left running after the publisher died"
    finally:
        _end_group(child.pid)
    report = publish(load_config(config), lock_timeout=5)
    assert report.entries == {"all": 50}


def test_lock_held_makes_second_publish_fail(tmp_path: Path) -> None:
    config_path = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    config = load_config(config_path)
    with publish_lock(config.paths.state, timeout=1):
        started = time.monotonic()
        with pytest.raises(LockTimeout, match="another publish"):
            publish(config, lock_timeout=0.2)
        assert time.monotonic() - started < 5
        assert not (tmp_path / "feeds").exists()
        # check (a dry run) needs no lock
        assert publish(config, dry_run=True).entries == {"all": 1}
    report = publish(config, lock_timeout=0.2)
    assert report.entries == {"all": 1}


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha"), "e.txt": b""})
    report = run_publish(config, dry_run=True)
    assert report.entries == {"all": 1}
    assert report.skipped == [("e.txt", "empty file")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "seeds"]


def test_vanished_between_scan_and_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A seed read, then deleted while the run goes on: either its entry is published
    whole from what was read, or it is skipped with one warning; never a broken feed."""
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha"), "b.txt": seed_text("Beta")})
    real = seedfeed.seeds.read_bytes
    calls: dict[str, int] = {}

    def read_then_vanish(path: str | Path, limit: int, **options: object) -> bytes:
        name = os.path.basename(path)
        calls[name] = calls.get(name, 0) + 1
        data = real(path, limit, **options)  # type: ignore[arg-type]
        if name == "b.txt":
            os.unlink(path)
        return data

    monkeypatch.setattr("seedfeed.scan.read_bytes", read_then_vanish)
    monkeypatch.setattr("seedfeed.choose.read_bytes", read_then_vanish)
    report = run_publish(config)
    assert report.warnings == []
    titles = atom_titles(tmp_path / "feeds" / "all.atom.xml")
    # The entries are read back from their files when the feed is made: b.txt is gone.
    assert report.skipped == [("b.txt", "vanished during the run")]
    assert titles == ["Alpha"]
    parse_feed(tmp_path / "feeds" / "all.atom.xml")
    parse_feed(tmp_path / "feeds" / "all.rss.xml")
    assert calls["b.txt"] >= 1
    monkeypatch.undo()
    report = run_publish(config)
    assert report.skipped == []
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Alpha"]


def test_head_only_reading_then_whole_at_render(tmp_path: Path) -> None:
    """A publish reads new seeds' heads; the entries a feed shows are read whole, once."""
    seeds = {f"s{i:02}.txt": seed_text(f"Seed {i}", link=f"https://ex.org/{i}") for i in range(30)}
    config = make_project(tmp_path, seeds, extra_config="[publish]\nmax_entries = 5\n")
    run_publish(config)
    with sqlite3.connect(tmp_path / ".seedfeed" / "state.sqlite3") as db:
        known = db.execute("SELECT count(*) FROM seeds WHERE entry_hash != x''").fetchone()
    assert known == (5,)  # what readers were shown, and no more
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == [
        f"Seed {i}" for i in range(29, 24, -1)
    ]


def test_a_run_that_changed_nothing_renders_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seedfeed.render

    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    first = run_publish(config)

    def refuse(*args: object, **kwargs: object) -> dict[str, bytes]:
        raise AssertionError("rendered although nothing changed")

    with monkeypatch.context() as patch:
        patch.setattr(seedfeed.render, "render_feeds", refuse)
        again = run_publish(config)
    assert again.written == [] and again.entries == first.entries
    # A feed file deleted by hand, or another configuration: written again.
    (tmp_path / "feeds" / "all.rss.xml").unlink()
    assert run_publish(config).written == ["all.rss.xml"]
    config.write_text(config.read_text().replace("Test clippings", "Renamed"))
    assert "all.atom.xml" in run_publish(config).written


def test_a_broken_seed_is_said_again_but_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_project(
        tmp_path, {"a.txt": seed_text("Alpha"), "bad.txt": b"\x89PNG\r\n\x1a\nxx"}
    )
    first = run_publish(config)
    assert first.skipped == [("bad.txt", "binary file, not text")]
    reads: list[str] = []
    real = seedfeed.scan.read_bytes

    def counting(path: str, *args: object, **kwargs: object) -> bytes:
        reads.append(os.path.basename(path))
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(seedfeed.scan, "read_bytes", counting)
    again = run_publish(config)
    assert again.skipped == [("bad.txt", "binary file, not text")] and reads == []
    write_seed(tmp_path / "seeds", "bad.txt", seed_text("Fixed"), T0 + 60)
    fixed = run_publish(config)
    assert fixed.skipped == [] and "Fixed" in atom_titles(tmp_path / "feeds" / "all.atom.xml")


def test_the_last_deleted_source_takes_its_entries_along(tmp_path: Path) -> None:
    from seedfeed.model import Entry
    from seedfeed.store import SQLiteStore, WebEntry

    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "blog.toml").write_text('url = "https://ex.org/feed"\n')
    with SQLiteStore(tmp_path / ".seedfeed") as store:
        when = datetime.fromtimestamp(T0, UTC)
        web = Entry(
            "https://ex.org/p", "From the blog", "https://ex.org/p", (), when, when, "<p>x</p>", "x"
        )
        store.put_web_entry(WebEntry("blog", ("all",), "https://ex.org/p", web, b"h"))
        store.commit()
    (tmp_path / "sources" / "blog.toml").unlink()
    run_publish(config)
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Alpha"]
