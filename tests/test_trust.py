"""Trust: what a hostile or unlucky input must never achieve.

One test (or a few) per way the feeds could betray their readers: live markup in an
HTML field, a parse without a budget, a file from outside seeds/, a date that moves, a
serial path that loses records, a traceback instead of one line.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
from pytest_httpserver import HTTPServer

import seedfeed.budget
import seedfeed.scan
from helpers import (
    NS,
    T0,
    atom_date,
    atom_entry,
    atom_titles,
    invoke,
    make_project,
    parse_feed,
    rss_items,
    run_publish,
    run_subprocess,
    seed_text,
    write_seed,
    xml,
)
from seedfeed.budget import BudgetExceeded, time_limit
from seedfeed.seeds import SeedError, parse_seed_text, read_bytes

LINK = "https://news.example.org/story"

# --- 1. text never reaches a reader as markup ---------------------------------------------


def test_rss_description_holds_the_summary_escaped(tmp_path: Path) -> None:
    # The reproduction: the "Why it matters" paragraph is the summary.
    config = make_project(
        tmp_path, {"x.txt": "T\n\nWhy it matters: <img src=x onerror=alert(1)>\n"}
    )
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    (item,) = rss_items(tmp_path / "feeds" / "all.rss.xml")
    # A reader renders <description> as HTML: it must show the text, not make an <img>.
    shown = lxml.html.fragment_fromstring(item.findtext("description"), create_parent="div")
    assert shown.find(".//img") is None
    assert shown.text_content() == "Why it matters: <img src=x onerror=alert(1)>"
    summary = atom_entry(tmp_path / "feeds" / "all.atom.xml", "T").find("atom:summary", NS)
    assert summary.get("type") == "html"
    assert lxml.html.fragment_fromstring(summary.text, create_parent="div").find(".//img") is None
    # feedparser (what many readers use) agrees: the text survives, no element appears.
    entry = parse_feed(tmp_path / "feeds" / "all.rss.xml").entries[0]
    assert "<img" not in entry.summary.replace("&lt;img", "")


def test_escaped_markup_in_markdown_stays_text(tmp_path: Path) -> None:
    seed = "---\ntitle: M\n---\n\n&lt;img src=x onerror=alert(1)&gt; and more text.\n"
    config = make_project(tmp_path, {"m.md": seed})
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    (item,) = rss_items(tmp_path / "feeds" / "all.rss.xml")
    for field in ("description", "{http://purl.org/rss/1.0/modules/content/}encoded"):
        shown = lxml.html.fragment_fromstring(item.findtext(field), create_parent="div")
        assert shown.find(".//img") is None, field
        assert "<img src=x onerror=alert(1)>" in shown.text_content(), field


def test_channel_description_is_escaped_in_rss(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("A")})
    text = config.read_text().replace("[site]", '[site]\ndescription = "<b>Bold</b> & co"')
    config.write_text(text)
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    channel = xml(tmp_path / "feeds" / "all.rss.xml").find("channel")
    shown = lxml.html.fragment_fromstring(channel.findtext("description"), create_parent="div")
    assert shown.find(".//b") is None and shown.text_content() == "<b>Bold</b> & co"
    subtitle = xml(tmp_path / "feeds" / "all.atom.xml").findtext("atom:subtitle", None, NS)
    assert subtitle == "<b>Bold</b> & co"  # Atom: type text, shown as is


# --- 2. every parse has a budget -------------------------------------------------------------

BOMB = (
    "---\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "author: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "---\n"
    "Body.\n"
)


def test_yaml_alias_bomb_is_one_warning_and_the_rest_publishes(tmp_path: Path) -> None:
    assert len(BOMB.encode()) < 400
    config = make_project(tmp_path, {"bomb.md": BOMB, "good.txt": seed_text("Good")})
    # A subprocess with a timeout: before the fix this grew past 9 GB and never ended.
    done = run_subprocess(["publish", "-c", str(config)], tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: bomb.md: skipped: front matter refused: YAML aliases are not allowed"
    ]
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Good"]
    check = run_subprocess(["check", "-c", str(config)], tmp_path, timeout=60)
    assert check.returncode == 3 and "bomb.md" in check.stderr


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("title: " + "[" * 100 + "]" * 100, "front matter refused: nested deeper than 20"),
        ("title: x\nbody: " + "y" * 70_000, "front matter larger than 64 KB"),
    ],
)
def test_front_matter_over_its_budget_skips_the_seed(front: str, reason: str) -> None:
    with pytest.raises(SeedError, match=reason):
        parse_seed_text(f"---\n{front}\n---\nBody\n", "x.md")


def test_a_slow_parse_is_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # markdown-it takes time quadratic in a run of "[": 400 KB of it, over a second.
    monkeypatch.setattr(seedfeed.scan, "PARSE_SECONDS", 0.2)
    config = make_project(
        tmp_path, {"slow.md": "# Slow\n\n" + "[" * 400_000, "good.txt": seed_text("Good")}
    )
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 0
    assert "warning: slow.md: skipped: took more than 0.2 s to read" in result.stderr
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Good"]


def test_time_limit_interrupts_python_code_and_leaves_nothing_behind() -> None:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded), time_limit(0.2):
        while True:
            pass
    assert time.monotonic() - started < 30
    # A block that ends in time leaves no exception pending for later code.
    for _ in range(50):
        with time_limit(0.01):
            pass
    time.sleep(0.3)


def test_time_limit_works_off_the_main_thread() -> None:
    # The daemon publishes on a worker thread, where signals cannot reach.
    caught: list[BaseException] = []

    def spin() -> None:
        try:
            with time_limit(0.2):
                while True:
                    pass
        except BudgetExceeded as exc:
            caught.append(exc)

    thread = threading.Thread(target=spin)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and len(caught) == 1


def test_budget_exceeded_is_not_swallowed_by_except_exception() -> None:
    with pytest.raises(BudgetExceeded), time_limit(0.1):
        try:
            while True:
                pass
        except Exception:  # what keeps a bad page from ending a run must not hide it
            pytest.fail("BudgetExceeded was caught as an Exception")


def test_read_goes_to_the_end_of_files_whose_size_lies() -> None:
    # /proc files say they are 0 bytes long.
    assert os.stat("/proc/self/status").st_size == 0
    data = read_bytes("/proc/self/status", 1 << 20, follow_symlinks=True)
    assert b"Name:" in data and len(data) > 100


def test_read_of_an_endless_file_stops_at_the_cap() -> None:
    with pytest.raises(SeedError, match=r"larger than the 1\.0 MB limit"):
        read_bytes("/dev/zero", 1 << 20, follow_symlinks=True)


def test_extract_reads_files_under_the_page_cap(tmp_path: Path) -> None:
    done = run_subprocess(["extract", "/dev/zero"], tmp_path, timeout=60)
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "error: /dev/zero: larger than the 10.0 MB limit (fetch.max_bytes)"
    )


# --- 3. a seed is a file in seeds/ -----------------------------------------------------------


def test_symlink_out_of_seeds_is_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "private.txt"
    outside.write_text("Private notes\n\nroot:x:0:0:secret\n")
    config = make_project(tmp_path / "p", {"good.txt": seed_text("Good"), "inner.txt": "Inner\n"})
    seeds = tmp_path / "p" / "seeds"
    (seeds / "passwd.txt").symlink_to("/etc/passwd")
    (seeds / "notes.txt").symlink_to(outside)
    (seeds / "alias.txt").symlink_to(seeds / "inner.txt")  # inside: fine
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 0
    warnings = sorted(line for line in result.stderr.splitlines() if line.startswith("warning:"))
    assert warnings == [
        "warning: alias.txt: same article as inner.txt; published once",
        "warning: notes.txt: skipped: symlink to a file outside seeds/",
        "warning: passwd.txt: skipped: symlink to a file outside seeds/",
    ] or warnings == [
        "warning: notes.txt: skipped: symlink to a file outside seeds/",
        "warning: passwd.txt: skipped: symlink to a file outside seeds/",
    ]
    for name in os.listdir(tmp_path / "p" / "feeds"):
        text = (tmp_path / "p" / "feeds" / name).read_text()
        assert "root:x:0:0" not in text and "Private notes" not in text, name
    assert sorted(atom_titles(tmp_path / "p" / "feeds" / "all.atom.xml"))[0] == "Good"


def test_a_link_swapped_in_after_the_scan_is_not_followed(tmp_path: Path) -> None:
    path = tmp_path / "seed.txt"
    path.symlink_to("/etc/passwd")
    with pytest.raises(SeedError, match="symlink"):
        read_bytes(str(path), 1 << 20)


# --- 4. identity and time follow the article -----------------------------------------------


def _store_rows(tmp_path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / ".seedfeed" / "state.sqlite3") as db:
        return db.execute(query).fetchall()


def test_first_seen_duplicate_deleted_keeps_the_published_date(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"first.txt": seed_text("Story", link=LINK)})
    run_publish(config)
    write_seed(tmp_path / "seeds", "second.txt", seed_text("Story", link=LINK), T0 + 86_400)
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    assert atom_date(atom_entry(feed, "Story"), "published") == T0
    (tmp_path / "seeds" / "first.txt").unlink()
    run_publish(config)
    assert atom_date(atom_entry(feed, "Story"), "published") == T0
    # Same content: what readers see did not change, so neither did updated.
    assert atom_date(atom_entry(feed, "Story"), "updated") == T0


def test_restored_backup_never_moves_updated_back(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Story", "Version one.", link=LINK)})
    run_publish(config)
    write_seed(
        tmp_path / "seeds", "a.txt", seed_text("Story", "Version two.", link=LINK), T0 + 5000
    )
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    assert atom_date(atom_entry(feed, "Story"), "updated") == T0 + 5000
    # The backup: older mtime, other content than what readers have now.
    write_seed(tmp_path / "seeds", "a.txt", seed_text("Story", "Version one.", link=LINK), T0)
    run_publish(config)
    updated = atom_date(atom_entry(feed, "Story"), "updated")
    assert updated > T0 + 5000  # forward: readers are shown a change
    assert updated <= time.time() + 1
    assert atom_date(atom_entry(feed, "Story"), "published") == T0


def test_an_id_remembers_every_link_it_had(tmp_path: Path) -> None:
    new_link = "https://news.example.org/story-renamed"
    config = make_project(tmp_path, {"a.txt": seed_text("Story", link=LINK)})
    run_publish(config)
    write_seed(tmp_path / "seeds", "a.txt", seed_text("Story", link=new_link), T0 + 10)
    run_publish(config)
    # A new clip of the link the seed was edited to is the same article.
    write_seed(tmp_path / "seeds", "b.txt", seed_text("Story again", link=new_link), T0 + 20)
    result = invoke(["publish", "-c", str(config)])
    assert "warning: b.txt: same article as a.txt; published once" in result.stderr
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Story"]
    assert {row[0] for row in _store_rows(tmp_path, "SELECT entry_id FROM seeds")} == {LINK}


def test_a_future_mtime_is_dated_now(tmp_path: Path) -> None:
    future = int(time.time()) + 10 * 365 * 86_400
    config = make_project(tmp_path, {"f.txt": seed_text("From the future")}, mtime=future)
    before = time.time()
    run_publish(config)
    entry = atom_entry(tmp_path / "feeds" / "all.atom.xml", "From the future")
    assert before - 2 <= atom_date(entry, "published") <= time.time() + 1


@pytest.mark.parametrize("year", [2446, 1600])
def test_a_file_time_past_what_a_store_keeps_is_published(tmp_path: Path, year: int) -> None:
    """``touch -d 2446-01-01``: its nanoseconds do not fit 64 bits (every publish failed
    with an OverflowError); the file counts as made at the store's last instant."""
    when = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    config = make_project(tmp_path, {"far.txt": seed_text("Far off"), "ok.txt": seed_text("Fine")})
    try:
        os.utime(tmp_path / "seeds" / "far.txt", (when, when))
    except OverflowError:
        pytest.skip("this platform cannot set such a file time")
    if os.stat(tmp_path / "seeds" / "far.txt").st_mtime_ns in range(-(2**63), 2**63):
        pytest.skip("this file system clamps file times itself")
    before = time.time()
    first = invoke(["publish", "-c", str(config)])
    assert first.exit_code == 0, first.stderr
    entry = atom_entry(tmp_path / "feeds" / "all.atom.xml", "Far off")
    assert atom_date(entry, "published") <= time.time() + 1
    if year > 2000:
        assert atom_date(entry, "published") >= before - 2
    again = invoke(["publish", "-c", str(config)])
    assert again.exit_code == 0 and "(0 read, 2 unchanged)" in again.stderr


def test_a_stray_nul_does_not_drop_the_article(tmp_path: Path) -> None:
    seed = seed_text("Clipped", "A paragraph with a stray\x00 NUL byte, as clippers leave.")
    config = make_project(tmp_path, {"nul.txt": seed})
    result = invoke(["publish", "-c", str(config)])
    assert "warning: nul.txt: 1 control character(s) removed" in result.stderr
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Clipped"]


@pytest.mark.parametrize("separator", ["\x0c", "\u2028", "\u2029", "\x85", "\x1c", "\x0b"])
def test_only_line_ends_end_the_title(separator: str) -> None:
    article = parse_seed_text(f"Title one{separator}part two\r\n\r\nBody text.\r\n", "a.txt")
    assert article.title.replace(separator, " ") == "Title one part two"
    assert [b.text for b in article.blocks] == ["Body text."]


# --- 6. the code that runs is the code that is tested ---------------------------------------


def _corpus(root: Path, count: int) -> Path:
    seeds = {}
    for i in range(count):
        kind = i % 4
        if kind == 0:
            seeds[f"t/{i:04}.txt"] = seed_text(f"Text {i}", link=f"https://ex.org/{i % 97}")
        elif kind == 1:
            seeds[f"m/{i:04}.md"] = f"---\ntitle: Markdown {i}\ntags: [a, b]\n---\n\nBody *{i}*.\n"
        elif kind == 2:
            seeds[f"h/{i:04}.html"] = f"<title>HTML {i}</title><article><p>Text {i}.</p></article>"
        else:
            seeds[f"b/{i:04}.txt"] = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # skipped
    return make_project(root, seeds, extra_config="[publish]\nmax_entries = 10000\n")


def _state(root: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(root / ".seedfeed" / "state.sqlite3") as db:
        seeds = db.execute(
            "SELECT path, size, mtime_ns, digest, entry_id, entry_hash, first_seen, published,"
            " updated, ok, link, dated FROM seeds ORDER BY path"
        ).fetchall()
        return seeds + db.execute("SELECT * FROM entries ORDER BY entry_id").fetchall()


@pytest.mark.slow  # starts a process pool
def test_serial_and_parallel_paths_give_identical_stores_and_feeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seedfeed.scan, "PARALLEL_MIN", 100)
    monkeypatch.setattr(seedfeed.scan, "_CHUNK", 25)
    outputs = {}
    for workers in (1, 2):
        root = tmp_path / f"w{workers}"
        config = _corpus(root, 400)
        monkeypatch.setattr(seedfeed.scan, "parse_workers", lambda w=workers: w)
        report = run_publish(config)
        assert report.seeds == 400 and report.parsed == 300 and len(report.skipped) == 100
        outputs[workers] = (
            _state(root),
            {p.name: p.read_bytes() for p in sorted((root / "feeds").iterdir())},
        )
    assert outputs[1][0] == outputs[2][0]
    assert outputs[1][1] == outputs[2][1]
    # 100 text seeds share 97 links (3 duplicates), 100 Markdown, 100 HTML.
    assert len(atom_titles(tmp_path / "w1" / "feeds" / "all.atom.xml")) == 297


def test_one_cpu_cold_publish_keeps_every_seed(tmp_path: Path) -> None:
    # The reproduction: 2,600 seeds on one usable CPU.
    if not Path("/usr/bin/taskset").exists():
        pytest.skip("taskset (util-linux) is not installed")
    config = make_project(
        tmp_path,
        {f"{i:04}.txt": seed_text(f"Seed {i}") for i in range(2600)},
        extra_config="[publish]\nmax_entries = 10000\n",
    )
    done = subprocess.run(
        ["/usr/bin/taskset", "-c", "0", *_seedfeed(), "publish", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert len(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == 2600
    assert _store_rows(tmp_path, "SELECT count(*) FROM seeds") == [(2600,)]


def _seedfeed() -> list[str]:
    import sys

    return [sys.executable, "-c", "from seedfeed.cli import main; main()"]


def test_without_affinity_the_cpu_count_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert seedfeed.scan.parse_workers() == 3


# --- 8. smaller holes ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "run"])
def test_port_out_of_range_is_one_line(tmp_path: Path, command: str) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("A")})
    args = [command, "-c", str(config), "--port", "99999"] + (
        ["--serve"] if command == "run" else []
    )
    done = run_subprocess(args, tmp_path, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "99999 is not in the range 0<=x<=65535" in done.stderr


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_non_finite_numbers_are_refused(tmp_path: Path, value: str) -> None:
    config = make_project(tmp_path, {}, extra_config=f"[fetch]\ndeadline = {value}\n")
    done = run_subprocess(["publish", "-c", str(config)], tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: {config}: fetch.deadline must be a finite number, not {value}"
    )


def test_extract_takes_an_upper_case_scheme(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/page").respond_with_data(
        "<title>Upper</title><article><p>Some text of the page.</p></article>",
        content_type="text/html",
    )
    url = httpserver.url_for("/page").replace("http://", "HTTP://")
    done = run_subprocess(["extract", url, "--allow-private"], tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("title:   Upper\n")


# --- found in review -------------------------------------------------------------------------


def test_a_late_older_copy_does_not_take_the_entry_over(tmp_path: Path) -> None:
    """A clip synced late from another device, its file dated a week back: the entry
    keeps the seed that was known first, and its dates; the copy is a duplicate."""
    now = int(time.time())
    config = make_project(
        tmp_path, {"today.txt": seed_text("Story", "Today.", link=LINK)}, mtime=now - 60
    )
    run_publish(config)
    write_seed(
        tmp_path / "seeds",
        "laptop.txt",
        seed_text("Story (laptop)", "Old.", link=LINK),
        now - 7 * 86_400,
    )
    result = invoke(["publish", "-c", str(config)])
    assert "warning: laptop.txt: same article as today.txt; published once" in result.stderr
    entry = atom_entry(tmp_path / "feeds" / "all.atom.xml", "Story")
    assert atom_date(entry, "published") == now - 60


def test_a_date_in_the_future_is_dated_now(tmp_path: Path) -> None:
    seed = seed_text("Forever on top", link=LINK, published="9999-01-01")
    config = make_project(tmp_path, {"f.txt": seed})
    run_publish(config)
    entry = atom_entry(tmp_path / "feeds" / "all.atom.xml", "Forever on top")
    assert atom_date(entry, "published") <= time.time() + 1
    assert atom_date(entry, "updated") <= time.time() + 1


def test_a_change_made_by_another_process_is_rendered(tmp_path: Path) -> None:
    """The outputs are rendered again when another process changed the store, even when
    this run changed nothing itself."""
    from seedfeed.store import SQLiteStore

    config = make_project(tmp_path, {"a.txt": seed_text("Alpha"), "b.txt": seed_text("Beta")})
    run_publish(config)
    with SQLiteStore(tmp_path / ".seedfeed") as store:  # e.g. a broken seed found elsewhere
        from seedfeed.store import BrokenSeed

        record = store.seed("b.txt")
        assert record is not None
        store.put_broken(
            [
                BrokenSeed(
                    "b.txt", record.size, record.mtime_ns, record.scanned_ns, record.digest, "x"
                )
            ]
        )
        store.commit()
    again = run_publish(config)
    assert "all.atom.xml" in again.written
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Alpha"]


def test_a_seed_broken_while_rendering_lets_its_copy_take_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seedfeed.choose

    config = make_project(
        tmp_path,
        {"a.txt": seed_text("First clip", link=LINK), "b.txt": seed_text("Second clip", link=LINK)},
    )
    run_publish(config)
    real = seedfeed.choose.read_seed_data

    def refuse_a(rel: str, *args: object, **kwargs: object) -> object:
        if rel == "a.txt":
            raise seedfeed.choose.SeedError("took more than 5 s to read (hostile or broken)")
        return real(rel, *args, **kwargs)  # type: ignore[arg-type]

    (tmp_path / "feeds" / "all.rss.xml").unlink()  # so that this run renders
    with monkeypatch.context() as patch:
        patch.setattr(seedfeed.choose, "read_seed_data", refuse_a)
        run_publish(config)
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Second clip"]
    assert run_publish(config).written == []  # and it stays so
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Second clip"]


def test_a_read_error_while_rendering_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seedfeed.choose

    config = make_project(tmp_path, {"a.txt": seed_text("Alpha"), "b.txt": seed_text("Beta")})
    run_publish(config)
    real = seedfeed.choose.read_bytes

    def eio(path: str, *args: object, **kwargs: object) -> bytes:
        if path.endswith("a.txt"):
            raise seedfeed.choose.SeedError("cannot read: Input/output error")
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    (tmp_path / "feeds" / "all.rss.xml").unlink()
    with monkeypatch.context() as patch:
        patch.setattr(seedfeed.choose, "read_bytes", eio)
        assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Beta", "Alpha"]
        run_publish(config)
        assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Beta"]
    (tmp_path / "feeds" / "all.rss.xml").unlink()
    run_publish(config)  # the disk is fine again
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Beta", "Alpha"]


def test_an_older_stores_seeds_learn_their_heads_without_an_edit(tmp_path: Path) -> None:
    config = make_project(
        tmp_path, {"a.txt": seed_text("Dated", link=LINK, published="2020-01-15")}
    )
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    before = (
        atom_date(atom_entry(feed, "Dated"), "published"),
        atom_date(atom_entry(feed, "Dated"), "updated"),
    )
    # What the v1 migration leaves: the row must be read again, and knows no date, link.
    with sqlite3.connect(tmp_path / ".seedfeed" / "state.sqlite3") as db:
        db.execute("UPDATE seeds SET digest = x'', scanned_ns = 0, dated = 0, link = ''")
    feed.unlink()
    report = run_publish(config)
    assert report.parsed == 0  # learned, not edited
    assert _store_rows(tmp_path, "SELECT dated, link FROM seeds") == [(1, LINK)]
    assert (
        atom_date(atom_entry(feed, "Dated"), "published"),
        atom_date(atom_entry(feed, "Dated"), "updated"),
    ) == before


def test_a_budget_interrupted_on_its_way_out_leaves_none_behind() -> None:
    """The watchdog's exception may land as a block ends: the next block still gets its
    own budget."""
    watchdog = seedfeed.budget._current()
    tid = threading.get_ident()
    with watchdog.lock:
        watchdog.slots[tid] = [time.monotonic() - 1, True]  # what such an exit leaves
    started = time.monotonic()
    with pytest.raises(BudgetExceeded), time_limit(0.2):
        while True:
            pass
    assert time.monotonic() - started < 30
    assert tid not in watchdog.slots


def test_a_source_takes_its_entries_to_the_feeds_it_names_now(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>City</title>'
        "<item><title>City budget passes</title><link>https://city.example.org/b</link>"
        "<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate><description>Text.</description>"
        "</item></channel></rss>"
    )
    httpserver.expect_request("/feed").respond_with_data(feed, content_type="application/rss+xml")
    config = make_project(
        tmp_path, {"a.txt": seed_text("A seed")}, extra_config="[fetch]\nallow_private = true\n"
    )
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "city.toml").write_text(f'url = "{httpserver.url_for("/feed")}"\nkind = "feed"\n')
    run_publish(config)
    assert "City budget passes" in atom_titles(tmp_path / "feeds" / "all.atom.xml")
    (sources / "city.toml").write_text(
        f'url = "{httpserver.url_for("/feed")}"\nkind = "feed"\nfeed = ["city"]\n'
    )
    run_publish(config)
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["A seed"]
    assert atom_titles(tmp_path / "feeds" / "city.atom.xml") == ["City budget passes"]


@pytest.mark.slow  # starts a process pool
def test_beside_runs_in_a_thread_while_workers_parse_and_not_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedfeed.seeds import discover

    monkeypatch.setattr(seedfeed.scan, "PARALLEL_MIN", 10)
    monkeypatch.setattr(seedfeed.scan, "_CHUNK", 5)
    make_project(tmp_path, {f"{i:02}.txt": seed_text(f"Seed {i}") for i in range(30)})
    stale = [(seed, None) for seed in discover(tmp_path / "seeds")]
    for workers, expected in ((2, ["seedfeed-beside"]), (1, [])):
        monkeypatch.setattr(seedfeed.scan, "parse_workers", lambda w=workers: w)
        ran: list[str] = []

        def beside(ran: list[str] = ran) -> None:
            time.sleep(0.3)  # slower than the parse: it must still be done before the end
            ran.append(threading.current_thread().name)

        outcomes = list(seedfeed.scan.refresh_all(stale, 1 << 20, 0, beside=beside))
        assert [o.rel for o in outcomes] == [seed.rel for seed, _ in stale]
        assert all(o.record is not None for o in outcomes)
        # Joined before the scan returns: a fork after it (the harvest's workers) while
        # the thread still imported would leave a module lock held in the child.
        assert ran == expected
        assert "seedfeed-beside" not in [t.name for t in threading.enumerate()]
