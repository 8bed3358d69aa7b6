"""Bad seeds and bad configs, end to end through the CLI.

Each bad seed gives exactly one warning line naming the file and the reason; the other
seeds still publish; the feeds stay valid for feedparser and lxml.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from lxml import etree

import seedfeed.scan
from helpers import (
    NS,
    T0,
    atom_date,
    atom_entries,
    atom_entry,
    atom_titles,
    invoke,
    make_project,
    parse_feed,
    rss_items,
    run_publish,
    run_subprocess,
    seed_text,
    snapshot,
    stderr_lines,
    write_seed,
    xml,
)
from seedfeed.seeds import SeedFile

GOOD = {
    "good-a.txt": seed_text(
        "Good article A",
        "Why it matters: This one is fine and must always be published.",
        link="https://good.example.org/a",
        published="2026-01-01",
    ),
    "good-b.md": "---\ntitle: Good article B\ndate: 2026-01-02\n---\n\nA *fine* Markdown seed.\n",
}
GOOD_TITLES = {"Good article A", "Good article B"}
_RNG = random.Random(20260101)
RANDOM_HIGH = bytes(_RNG.randrange(0x80, 0x100) for _ in range(600))
# Good UTF-8 with one stray byte (the \xff of "bad \xff byte" written raw).
MOSTLY_UTF8 = (
    ("Caf\u00e9 cr\u00e8me \u00fcber title\n\nBody \u00fcber caf\u00e9 with one bad \xff byte.\n")
    .encode()
    .replace(b"\xc3\xbf", b"\xff")
)
LONG_TITLE = ("Extraordinarily " * 200)[:2990] + "Tail words"  # 3,000 characters


@dataclass
class Outcome:
    exit_code: int
    warnings: list[str]
    lines: list[str]
    root: Path
    atom: Path = field(init=False)
    rss: Path = field(init=False)

    def __post_init__(self) -> None:
        self.atom = self.root / "feeds" / "all.atom.xml"
        self.rss = self.root / "feeds" / "all.rss.xml"


def publish_with(root: Path, bad: dict[str, str | bytes], *args: str) -> Outcome:
    """Publish GOOD plus ``bad`` through the CLI; check what always holds."""
    config = make_project(root, {**GOOD, **bad})
    return publish_config(config, *args)


def publish_config(config: Path, *args: str) -> Outcome:
    result = invoke(["publish", "-c", str(config), *args])
    lines = stderr_lines(result.stderr)
    outcome = Outcome(
        result.exit_code, [ln for ln in lines if ln.startswith("warning:")], lines, config.parent
    )
    assert result.stdout == ""
    assert lines[-1].startswith("published "), lines
    assert len(lines) == len(outcome.warnings) + 1, lines  # warnings, then the summary
    assert_valid_feeds(config.parent)
    assert set(atom_titles(outcome.atom)) >= GOOD_TITLES
    return outcome


def assert_valid_feeds(root: Path) -> None:
    for path in sorted((root / "feeds").glob("*.xml")):
        xml(path)  # lxml, strict
        parse_feed(path)  # feedparser, no bozo
        text = path.read_text(encoding="utf-8")
        assert not any(ord(ch) < 0x20 and ch not in "\t\n\r" for ch in text), path.name


def only_warning(outcome: Outcome, name: str, reason: str) -> str:
    assert len(outcome.warnings) == 1, outcome.warnings
    line = outcome.warnings[0]
    assert line.startswith(f"warning: {name}: "), line
    assert reason in line, line
    return line


# --- one bad seed among good ones --------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    data: str | bytes
    reason: str
    skipped: bool


CASES = [
    Case("empty.txt", b"", "skipped: empty file", True),
    Case("blank.txt", b"  \n\t\n \r\n\n   \n", "skipped: no text, only whitespace", True),
    Case("blank-nbsp.md", "\u00a0\n \u2003\n", "skipped: no text", True),
    Case(
        "binary.txt",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(_RNG.randrange(256) for _ in range(500)),
        "skipped: binary file",
        True,
    ),
    Case(
        "nul.md",
        b"# Title with a stray NUL\x00\n\nA body of ordinary text with a \x01 control byte and a"
        b" NUL\x00 in it, as a broken clipping tool might leave behind.\n",
        "3 control character(s) removed",
        False,
    ),
    Case("controls.md", b"Title\x00\x00\x00 \x01\x02 NULs\n\nbody\n", "skipped: binary file", True),
    Case("huge.txt", b"Huge seed\n\n" + b"word " * (1024 * 1024), "skipped: larger than", True),
    Case(
        "cp1252.txt",
        "Caf\u00e9 cr\u00e8me \u2014 \u201cquoted\u201d title\n\nNa\u00efve body, \u00bd and "
        "\u20ac.\n".encode("cp1252"),
        "not UTF-8",
        False,
    ),
    Case("random-high.txt", b"Random bytes title\n\n" + RANDOM_HIGH + b"\n", "not UTF-8", False),
    Case("mostly-utf8.txt", MOSTLY_UTF8, "undecodable", False),
    Case("long-title.txt", seed_text(LONG_TITLE, "Short body."), "title cut", False),
    Case(
        "js-link.txt",
        seed_text("Link with a script", "Body.", link="javascript:alert(document.cookie)"),
        "link dropped",
        False,
    ),
    Case(
        "js-link.md",
        "---\ntitle: Front matter script link\nlink: 'javascript:alert(1)'\n---\n\nBody.\n",
        "link dropped",
        False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_one_bad_seed(tmp_path: Path, case: Case) -> None:
    outcome = publish_with(tmp_path, {case.name: case.data})
    assert outcome.exit_code == 0
    only_warning(outcome, case.name, case.reason)
    expected = 2 if case.skipped else 3
    assert len(atom_entries(outcome.atom)) == expected
    assert len(rss_items(outcome.rss)) == expected
    assert len(parse_feed(outcome.atom).entries) == expected

    # Nothing new on a second run: a bad seed is reported again (in the one line of
    # standing problems, not re-read), never half-published.
    again = publish_config(tmp_path / "config.toml")
    assert len(atom_entries(again.atom)) == expected
    if case.skipped:
        assert again.warnings == [
            f"warning: 1 seed still skipped ({case.name})"
            " (seedfeed check lists them with the reasons)"
        ]


def test_decoded_texts_read_right(tmp_path: Path) -> None:
    bad = {c.name: c.data for c in CASES if c.name in ("cp1252.txt", "mostly-utf8.txt")}
    bad["utf16.txt"] = "UTF-16 title \u00e9\n\nBody \u4e2d\u6587.\n".encode("utf-16")
    bad["bom.txt"] = "\ufeffBOM title\n\nBody.\n".encode()
    outcome = publish_with(tmp_path, bad)
    assert len(outcome.warnings) == 2  # cp1252 and mostly-utf8; UTF-16 and BOM are fine
    titles = set(atom_titles(outcome.atom))
    assert "Caf\u00e9 cr\u00e8me \u2014 \u201cquoted\u201d title" in titles
    assert "Caf\u00e9 cr\u00e8me \u00fcber title" in titles
    assert "UTF-16 title \u00e9" in titles
    assert "BOM title" in titles
    content = atom_entry(outcome.atom, "UTF-16 title \u00e9").findtext("atom:content", "", NS)
    assert "Body \u4e2d\u6587." in content
    content = atom_entry(outcome.atom, "Caf\u00e9 cr\u00e8me \u00fcber title").findtext(
        "atom:content", "", NS
    )
    assert "\ufffd" in content  # the one bad byte, shown as such; the rest kept


def test_random_high_bytes_publish_clean_text(tmp_path: Path) -> None:
    outcome = publish_with(tmp_path, {"random-high.txt": b"Random\n\n" + RANDOM_HIGH})
    only_warning(outcome, "random-high.txt", "not UTF-8")
    entry = atom_entry(outcome.atom, "Random")
    content = entry.findtext("atom:content", "", NS)
    assert content.startswith("<p>") and len(content) > 300
    assert not any(0x80 <= ord(ch) <= 0x9F for ch in content)  # no C1 controls


def test_long_title_cut_at_a_word(tmp_path: Path) -> None:
    outcome = publish_with(tmp_path, {"long-title.txt": seed_text(LONG_TITLE, "Short body.")})
    assert len(LONG_TITLE) == 3000
    line = only_warning(outcome, "long-title.txt", "title cut to ")
    assert "3,000" in line or "3000" in line
    titles = [t for t in atom_titles(outcome.atom) if t.startswith("Extraordinarily")]
    assert len(titles) == 1
    title = titles[0]
    assert len(title) <= 300
    assert title.endswith("\u2026")
    assert LONG_TITLE.startswith(title[:-1].rstrip())
    assert title[:-1].endswith("Extraordinarily")  # cut between words


def test_javascript_link_dropped_entry_kept(tmp_path: Path) -> None:
    name = "js-link.txt"
    data = seed_text("Link with a script", "Body.", link="javascript:alert(document.cookie)")
    outcome = publish_with(tmp_path, {name: data})
    only_warning(outcome, name, "link dropped")
    for path in (tmp_path / "feeds").glob("*.xml"):
        assert "javascript" not in path.read_text(encoding="utf-8")
    entry = atom_entry(outcome.atom, "Link with a script")
    assert entry.findall("atom:link", NS) == []
    assert (entry.findtext("atom:id", "", NS)).startswith("urn:uuid:")
    assert "<p>Body.</p>" in entry.findtext("atom:content", "", NS)
    item = next(i for i in rss_items(outcome.rss) if i.findtext("title") == "Link with a script")
    assert item.find("link") is None
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"


def test_control_characters_removed(tmp_path: Path) -> None:
    body = (
        "Body\x01 with\x02 vertical\x0btab, form\x0cfeed, DEL\x7f, NEL\u0085, escape\x1b[31m "
        "and a bell\x07 in the middle of an otherwise ordinary paragraph of text. " * 3
    )
    name = "controls.txt"
    outcome = publish_with(tmp_path, {name: seed_text("Control\x01 chars\x07 in\x1b title", body)})
    assert outcome.exit_code == 0
    # Removing them is a fix, not a skip: no "skipped" line, at most one warning.
    assert not any("skipped" in w for w in outcome.warnings)
    assert len(outcome.warnings) <= 1
    assert "Control chars in title" in atom_titles(outcome.atom)
    entry = atom_entry(outcome.atom, "Control chars in title")
    content = entry.findtext("atom:content", "", NS)
    assert "ordinary paragraph" in content
    for text in (content, entry.findtext("atom:summary", "", NS)):
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text), repr(text)


# --- HTML and script injection ------------------------------------------------------------

INJECT_TITLE = "Breaking <script>alert(1)</script> <img src=x onerror=alert(2)>"


def _fragment(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


def _assert_inert(html: str) -> lxml.html.HtmlElement:
    tree = _fragment(html)
    assert tree.xpath(".//script|.//iframe|.//object|.//embed|.//style") == []
    for element in tree.iter():
        for attribute, value in element.attrib.items():
            assert not attribute.lower().startswith("on"), (element.tag, attribute)
            assert not value.strip().lower().startswith(("javascript:", "data:")), value
    return tree


def test_injection_in_text_seed_is_escaped_text(tmp_path: Path) -> None:
    body = 'Body <script>alert(3)</script> and <img src=x onerror="alert(4)"> <b>bold?</b>'
    outcome = publish_with(tmp_path, {"inject.txt": seed_text(INJECT_TITLE, body)})
    assert outcome.warnings == []
    entry = atom_entry(outcome.atom, INJECT_TITLE)  # the title is text, literally
    title = entry.find("atom:title", NS)
    assert title is not None and len(title) == 0  # no child elements
    assert title.get("type", "text") == "text"
    assert "<script>" in (title.text or "")
    tree = _assert_inert(entry.findtext("atom:content", "", NS))
    assert tree.xpath(".//img|.//b") == []
    assert "<script>alert(3)</script>" in tree.text_content()
    assert '<img src=x onerror="alert(4)">' in tree.text_content()

    item = next(i for i in rss_items(outcome.rss) if i.findtext("title") == INJECT_TITLE)
    rss_tree = _assert_inert(item.findtext("content:encoded", "", NS))
    assert "<script>alert(3)</script>" in rss_tree.text_content()

    parsed = [e for e in parse_feed(outcome.atom).entries if "Breaking" in e.title]
    assert len(parsed) == 1
    assert "<script>" in parsed[0].title
    assert "<script>" not in parsed[0].content[0].value


def test_injection_in_html_and_markdown_seeds_is_sanitized(tmp_path: Path) -> None:
    html_seed = (
        "<html><head><title>Page &lt;script&gt;alert(0)&lt;/script&gt;</title>"
        '<link rel="canonical" href="https://h.example.org/page"></head><body><article>'
        '<h1>Page</h1><p>Hello <script>alert(1)</script><img src=x onerror="alert(2)">'
        '<a href="javascript:alert(3)">click</a> <a href="/ok" onclick="alert(4)">ok</a>'
        '<iframe src="https://evil.example/"></iframe><style>body{}</style>'
        '<svg onload="alert(5)"><circle r="1"/></svg></p></article></body></html>'
    )
    md_seed = (
        "---\ntitle: Markdown <script>alert(6)</script>\n---\n\n"
        'Text <script>alert(7)</script> <img src="x" onerror="alert(8)">\n\n'
        "[link](javascript:alert(9)) and <a href='javascript:alert(10)'>raw</a>\n"
    )
    outcome = publish_with(tmp_path, {"page.html": html_seed, "note.md": md_seed})
    assert outcome.warnings == []
    for path in (outcome.atom, outcome.rss):
        text = path.read_text(encoding="utf-8")
        assert "href=&quot;javascript" not in text
        assert 'href="javascript' not in text
        assert "onerror" not in text
        assert "onclick" not in text
        assert "onload" not in text
        assert "evil.example" not in text
    page = atom_entry(outcome.atom, "Page <script>alert(0)</script>")
    tree = _assert_inert(page.findtext("atom:content", "", NS))
    assert "Hello" in tree.text_content()
    assert [a.get("href") for a in tree.iter("a") if a.get("href")] == ["https://h.example.org/ok"]
    note = atom_entry(outcome.atom, "Markdown <script>alert(6)</script>")
    _assert_inert(note.findtext("atom:content", "", NS))


# --- duplicates, unreadable, vanished -------------------------------------------------------


def test_duplicate_links_warn_once_naming_the_duplicate(tmp_path: Path) -> None:
    config = make_project(tmp_path, GOOD, extra_config='[feeds.txt]\ninclude = ["*.txt"]\n')
    seeds = tmp_path / "seeds"
    write_seed(seeds, "copy.txt", seed_text("Copy", link="https://good.example.org/a?utm_x=1"))
    os.utime(seeds / "copy.txt", (T0 + 100, T0 + 100))
    outcome = publish_config(config)
    line = only_warning(outcome, "copy.txt", "same article as good-a.txt")
    assert "published once" in line
    ids = [e.findtext("atom:id", "", NS) for e in atom_entries(outcome.atom)]
    assert ids.count("https://good.example.org/a") == 1
    assert "Copy" not in atom_titles(outcome.atom)
    assert "Copy" not in atom_titles(tmp_path / "feeds" / "txt.atom.xml")


def _refusing(
    monkeypatch: pytest.MonkeyPatch, call: str, mode: int
) -> Iterator[Callable[[Path], None]]:
    """Make paths refuse ``os.<call>``: chmod 000, and (as root, where that does not
    stop it) an ``os.<call>`` that raises PermissionError for those paths only; ``mode``
    is given back after the test."""
    targets: list[Path] = []
    real = getattr(os, call)

    def guarded(path: Any = ".", *args: Any, **kwargs: Any) -> Any:
        if isinstance(path, (str, bytes, os.PathLike)) and any(
            os.fspath(path) == os.fspath(t) for t in targets
        ):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, *args, **kwargs)

    def refuse(path: Path) -> None:
        targets.append(path)
        path.chmod(0)
        if os.geteuid() == 0:
            monkeypatch.setattr(os, call, guarded)

    yield refuse
    for path in targets:
        if path.exists():
            path.chmod(mode)


@pytest.fixture
def refuse_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Make files unreadable (``os.open`` refused)."""
    yield from _refusing(monkeypatch, "open", 0o644)


def test_unreadable_seed(tmp_path: Path, refuse_reads: Callable[[Path], None]) -> None:
    config = make_project(tmp_path, {**GOOD, "locked.txt": seed_text("Locked")})
    refuse_reads(tmp_path / "seeds" / "locked.txt")
    outcome = publish_config(config)
    assert outcome.exit_code == 0
    only_warning(outcome, "locked.txt", "skipped: permission denied")
    assert "Locked" not in atom_titles(outcome.atom)
    strict = invoke(["publish", "-c", str(config), "--strict"])
    assert strict.exit_code == 3


def test_seed_deleted_mid_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_project(tmp_path, {**GOOD, "gone.txt": seed_text("Gone soon")})
    real_discover = seedfeed.scan.discover_batches

    def discover_then_delete(seeds_dir: Path, *args: object) -> Iterator[list[SeedFile]]:
        for batch in real_discover(seeds_dir, *args):
            for seed in batch:
                if seed.rel == "gone.txt":
                    os.unlink(seed.path)  # scanned, then deleted before it is read
            yield batch

    monkeypatch.setattr(seedfeed.scan, "discover_batches", discover_then_delete)
    outcome = publish_config(config)
    assert outcome.exit_code == 0
    only_warning(outcome, "gone.txt", "skipped: vanished during the run")
    assert "Gone soon" not in atom_titles(outcome.atom)


def _publish_stops_at_folder(project: Path, where: str, reason: str) -> None:
    """``publish`` stops with one line naming the folder ``where`` and writes nothing."""
    before = snapshot(project / "feeds")
    result = invoke(["publish", "-c", str(project / "config.toml")])
    assert result.exit_code == 1, result.stderr
    assert stderr_lines(result.stderr)[-1] == (
        f"error: {where}: cannot be listed ({reason}); nothing published,"
        " so that its seeds stay in the feeds"
    )
    assert snapshot(project / "feeds") == before


@pytest.fixture
def refuse_listing(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Make folders unlistable (``os.scandir`` refused)."""
    yield from _refusing(monkeypatch, "scandir", 0o755)


def test_a_folder_of_seeds_that_cannot_be_listed_stops_the_run(
    tmp_path: Path, refuse_listing: Callable[[Path], None]
) -> None:
    # Going on without it would take its seeds out of every feed: the run stops with
    # one line, and the feeds and the store stay as they were.
    locked = {f"locked/s{i}.txt": seed_text(f"Locked {i}") for i in range(3)}
    config = make_project(tmp_path, {**GOOD, **locked})
    first = publish_config(config)
    assert {"Locked 0", "Locked 1", "Locked 2"} <= set(atom_titles(first.atom))
    before = snapshot(tmp_path / "feeds")
    refuse_listing(tmp_path / "seeds" / "locked")
    where = f"{os.path.realpath(tmp_path / 'seeds')}/locked/"
    _publish_stops_at_folder(tmp_path, where, "permission denied")
    # check goes on (it writes nothing), names the folder and exits 3: not all checked.
    result = invoke(["check", "-c", str(config)])
    assert result.exit_code == 3, result.stderr
    assert stderr_lines(result.stderr) == [
        f"warning: {where}: skipped: cannot be listed (permission denied); its seeds were"
        " not checked",
        "2 seeds: 2 usable, 0 skipped, 1 folder not listed, 0 warnings",
    ]
    data = json.loads(invoke(["check", "-c", str(config), "--json"]).stdout)
    assert (data["exit"], data["unlisted_folders"], data["skipped_sources"]) == (3, 1, 0)
    assert data["skipped"] == [
        {
            "path": where,
            "reason": "cannot be listed (permission denied); its seeds were not checked",
        }
    ]
    assert snapshot(tmp_path / "feeds") == before


def test_the_seeds_folder_itself_unlistable(
    tmp_path: Path, refuse_listing: Callable[[Path], None]
) -> None:
    config = make_project(tmp_path, GOOD)
    publish_config(config)
    refuse_listing(tmp_path / "seeds")
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 1
    where = f"{os.path.realpath(tmp_path / 'seeds')}/"
    assert f"error: {where}: cannot be listed (permission denied)" in result.stderr
    assert set(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == GOOD_TITLES


def test_the_seeds_folder_gone_between_check_and_walk_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the run's first check, gone when listed (a disk unmounted): no seed is
    # known to be gone, so no feed is emptied.
    config = make_project(tmp_path, GOOD)
    publish_config(config)
    before = snapshot(tmp_path / "feeds")
    seeds = os.path.realpath(tmp_path / "seeds")
    real_scandir = os.scandir

    def vanished(path: Any = ".") -> Any:
        if os.fspath(path) == seeds:
            raise FileNotFoundError(2, "No such file or directory", seeds)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", vanished)
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 1
    assert f"error: {seeds}/: cannot be listed (no such file or directory)" in result.stderr
    assert snapshot(tmp_path / "feeds") == before


def test_the_seeds_folder_moved_away_mid_walk_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Listed, then renamed (or unmounted) while the walk goes on: its files and
    # subfolders no longer answer, and that says nothing about whether they are gone.
    config = make_project(tmp_path, {**GOOD, "sub/deep.txt": seed_text("Deep")})
    publish_config(config)
    seeds = os.path.realpath(tmp_path / "seeds")
    real_scandir = os.scandir

    def listed_then_moved(path: Any = ".") -> Any:
        if os.path.realpath(path) != seeds:
            return real_scandir(path)
        with real_scandir(path) as listing:
            entries = list(listing)
        os.rename(seeds, f"{seeds}-moved")
        return contextlib.nullcontext(entries)

    monkeypatch.setattr(os, "scandir", listed_then_moved)
    _publish_stops_at_folder(tmp_path, f"{seeds}/", "moved, removed or replaced during the run")
    monkeypatch.undo()
    os.rename(f"{seeds}-moved", seeds)
    again = publish_config(config)
    assert again.warnings == []
    assert "Deep" in atom_titles(again.atom)


class _Unstatable:
    """A directory entry whose ``stat`` fails as on a folder without search permission
    (which root, running the tests, cannot be refused)."""

    def __init__(self, entry: os.DirEntry[str]) -> None:
        self._entry = entry
        self.name, self.path = entry.name, entry.path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._entry, name)

    def stat(self, **_: Any) -> os.stat_result:
        raise PermissionError(13, "Permission denied", self.path)


def test_a_seed_that_cannot_be_statted_leaves_the_feeds_and_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_project(tmp_path, {**GOOD, "locked.txt": seed_text("Locked")})
    entry = etree.tostring(atom_entry(publish_config(config).atom, "Locked"))
    seeds = os.path.realpath(tmp_path / "seeds")
    real_scandir = os.scandir

    def unstatable(path: Any = ".") -> Any:
        with real_scandir(path) as listing:
            entries = [_Unstatable(e) if e.name == "locked.txt" else e for e in listing]
        return contextlib.nullcontext(entries)

    monkeypatch.setattr(os, "scandir", unstatable)
    first = publish_config(config)
    assert first.exit_code == 0
    only_warning(first, "locked.txt", "skipped: cannot be read (permission denied)")
    assert "Locked" not in atom_titles(first.atom)
    second = publish_config(config)  # said once, then counted
    assert second.warnings == [
        "warning: 1 seed still skipped (locked.txt) (seedfeed check lists them with the reasons)"
    ]
    monkeypatch.undo()
    assert os.path.isdir(seeds)
    back = publish_config(config)
    assert back.warnings == []
    assert etree.tostring(atom_entry(back.atom, "Locked")) == entry


def test_the_daemon_counts_failed_publishes_in_a_row(
    tmp_path: Path, refuse_listing: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    from seedfeed.daemon import Daemon

    config = make_project(tmp_path, GOOD)
    daemon = Daemon(config)
    refuse_listing(tmp_path / "seeds")
    for _ in range(2):
        daemon.publish_job("test")
    failed = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert [line.split(": ")[0] for line in failed] == [
        "publish (test) failed (1 in a row)",
        "publish (test) failed (2 in a row)",
    ]
    assert all("cannot be listed (permission denied)" in line for line in failed)


def test_an_unlistable_folder_without_seeds_is_only_said(
    tmp_path: Path, refuse_listing: Callable[[Path], None]
) -> None:
    # lost+found at the root of a disk: never held a seed, so nothing is lost.
    config = make_project(tmp_path, GOOD)
    (tmp_path / "seeds" / "lost+found").mkdir()
    refuse_listing(tmp_path / "seeds" / "lost+found")
    outcome = publish_config(config)
    assert outcome.exit_code == 0
    where = f"{os.path.realpath(tmp_path / 'seeds')}/lost+found/"
    assert outcome.warnings == [
        f"warning: {where}: cannot be listed (permission denied); skipped (none of its"
        " seeds published)"
    ]


def test_an_unlistable_folder_with_an_unprintable_name_is_known_by_its_seeds(
    tmp_path: Path, refuse_listing: Callable[[Path], None]
) -> None:
    # Its seeds are stored under the escaped name (new\x0aline/a.txt): the run
    # compares with that, so it stops, and says the name escaped, on one line.
    config = make_project(tmp_path, {**GOOD, "new\nline/a.txt": seed_text("Odd one")})
    assert "Odd one" in atom_titles(publish_config(config).atom)
    refuse_listing(tmp_path / "seeds" / "new\nline")
    where = f"{os.path.realpath(tmp_path / 'seeds')}/new\\x0aline/"
    _publish_stops_at_folder(tmp_path, where, "permission denied")


def test_names_of_seeds_that_are_no_files_are_said(tmp_path: Path) -> None:
    config = make_project(tmp_path, GOOD)
    seeds = tmp_path / "seeds"
    (seeds / "dangling.txt").symlink_to(seeds / "deleted.txt")
    (seeds / "loop-a.md").symlink_to(seeds / "loop-b.md")
    (seeds / "loop-b.md").symlink_to(seeds / "loop-a.md")
    os.mkfifo(seeds / "pipe.txt")
    outcome = publish_config(config)
    missing = "skipped: symlink to nothing (a missing target, or a loop)"
    assert outcome.warnings == [
        f"warning: dangling.txt: {missing}",
        f"warning: loop-a.md: {missing}",
        f"warning: loop-b.md: {missing}",
        "warning: pipe.txt: skipped: not a regular file (a FIFO, a socket or a device)",
    ]
    # Said once, as a broken seed is; the next runs count them in one line.
    again = publish_config(config)
    assert again.warnings == [
        "warning: 4 seeds still skipped (dangling.txt, loop-a.md, loop-b.md and 1 more)"
        " (seedfeed check lists them with the reasons)"
    ]
    assert invoke(["check", "-c", str(config)]).stderr.count(missing) == 3
    # Another reason is said again; a link that finds its file is published.
    (seeds / "dangling.txt").unlink()
    (seeds / "dangling.txt").symlink_to("/etc/hostname")
    (seeds / "deleted.txt").write_text(seed_text("Found at last"))
    (seeds / "loop-b.md").unlink()
    (seeds / "loop-b.md").symlink_to(seeds / "deleted.txt")
    third = publish_config(config)
    assert third.warnings == [
        "warning: dangling.txt: skipped: symlink to a file outside seeds/",
        "warning: 1 seed still skipped (pipe.txt) (seedfeed check lists them with the reasons)",
    ]
    # loop-a.md -> loop-b.md -> deleted.txt: one file, one entry
    assert atom_titles(third.atom).count("Found at last") == 1


def test_a_seed_that_becomes_no_file_leaves_and_comes_back_with_its_dates(
    tmp_path: Path,
) -> None:
    config = make_project(tmp_path, {**GOOD, "swap.txt": seed_text("Swapped")})
    seeds = tmp_path / "seeds"
    first = publish_config(config)
    entry = etree.tostring(atom_entry(first.atom, "Swapped"))
    text = (seeds / "swap.txt").read_bytes()
    (seeds / "swap.txt").unlink()
    os.mkfifo(seeds / "swap.txt")
    gone = publish_config(config)
    assert "Swapped" not in atom_titles(gone.atom)
    (seeds / "swap.txt").unlink()
    write_seed(seeds, "swap.txt", text.decode())
    back = publish_config(config)
    assert back.warnings == []
    assert etree.tostring(atom_entry(back.atom, "Swapped")) == entry  # id, dates, all


@pytest.mark.parametrize("harm", ["dangling symlink", "too large"])
def test_a_seed_edited_while_it_was_unreadable_comes_back_edited(tmp_path: Path, harm: str) -> None:
    # While a seed cannot be read, its record keeps the digest of what readers saw: had
    # it been cleared, the edited file would be taken for one from an older store and
    # come back with the old content's date.
    config = make_project(
        tmp_path,
        {**GOOD, "swap.txt": seed_text("Swapped", "The first version of the text.")},
        extra_config="[publish]\nmax_seed_bytes = 1024\n",
    )
    seeds = tmp_path / "seeds"
    before = atom_entry(publish_config(config).atom, "Swapped")
    (seeds / "swap.txt").unlink()
    if harm == "dangling symlink":
        (seeds / "swap.txt").symlink_to(seeds / "nowhere.txt")
    else:
        write_seed(seeds, "swap.txt", seed_text("Swapped", "x" * 2048))
    for _ in range(2):
        assert "Swapped" not in atom_titles(publish_config(config).atom)
    (seeds / "swap.txt").unlink()
    write_seed(seeds, "swap.txt", seed_text("Swapped", "The second version of the text."))
    after = atom_entry(publish_config(config).atom, "Swapped")
    assert after.findtext("atom:id", None, NS) == before.findtext("atom:id", None, NS)
    assert atom_date(after, "updated") > atom_date(before, "updated")
    assert "second version" in (after.findtext("atom:content", "", NS) or "")


def test_feeds_inside_the_seeds_folder_are_not_seeds(tmp_path: Path) -> None:
    # seeds = "." (the project folder): its feeds/index.html is no clipping, and a
    # second run with nothing changed writes nothing.
    config = make_project(tmp_path, {}, extra_config='[paths]\nseeds = "."\n')
    write_seed(tmp_path, "note.txt", seed_text("A note"))
    for _ in range(2):
        result = invoke(["publish", "-c", str(config)])
        assert result.exit_code == 0, result.stderr
        assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["A note"]
    assert "written: none" in result.stderr, result.stderr


def test_the_watch_ignores_the_feeds_inside_the_seeds_folder(tmp_path: Path) -> None:
    # seedfeed run's watch sees the publish write feeds/index.html: no seed changed,
    # so no publish follows (it would publish after every publish).
    from watchdog.events import DirCreatedEvent, FileModifiedEvent

    from seedfeed.daemon import Daemon

    config = make_project(tmp_path, {}, extra_config='[paths]\nseeds = "."\n')
    daemon = Daemon(config)
    project = os.path.realpath(tmp_path)
    for event in (
        FileModifiedEvent(f"{project}/feeds/index.html"),
        DirCreatedEvent(f"{project}/feeds/tag"),
        FileModifiedEvent(f"{project}/feeds"),
    ):
        daemon._on_seed_event(event)
        assert daemon._debounce is None, event
    daemon._on_seed_event(FileModifiedEvent(f"{project}/note.html"))
    assert daemon._debounce is not None
    daemon._debounce.cancel()


def test_the_watch_sees_seeds_inside_the_feeds_folder(tmp_path: Path) -> None:
    # The other way round (feeds "public", seeds "public/clips"): every seed is under
    # the feeds folder, and its changes still publish.
    from watchdog.events import FileModifiedEvent

    from seedfeed.daemon import Daemon

    extra = '[paths]\nfeeds = "public"\nseeds = "public/clips"\n'
    config = make_project(tmp_path, {}, extra_config=extra)
    daemon = Daemon(config)
    project = os.path.realpath(tmp_path)
    daemon._on_seed_event(FileModifiedEvent(f"{project}/public/clips/note.md"))
    assert daemon._debounce is not None
    daemon._debounce.cancel()


# --- file names that are themselves bad ------------------------------------------------------


def test_undecodable_file_name(tmp_path: Path) -> None:
    config = make_project(tmp_path, GOOD)
    os.close(os.open(os.fsencode(tmp_path / "seeds") + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY))
    outcome = publish_config(config)
    line = only_warning(outcome, "caf\\xe9.txt", "skipped: empty file")
    assert "\ufffd" not in line


def test_file_name_shown_verbatim(tmp_path: Path) -> None:
    """The warning names the file as it is: ``score:100:.txt`` is not an emoji code."""
    name = "score:100:.txt"
    outcome = publish_with(tmp_path, {name: b""})
    only_warning(outcome, name, "skipped: empty file")


def test_newline_in_file_name_stays_one_line(tmp_path: Path) -> None:
    """A file name cannot forge extra lines in the output (one warning line per seed)."""
    config = make_project(tmp_path, GOOD)
    write_seed(tmp_path / "seeds", "two\nwarning: forged.txt", b"")
    result = invoke(["publish", "-c", str(config)])
    lines = stderr_lines(result.stderr)
    assert result.exit_code == 0
    assert len(lines) == 2, lines  # one warning, one summary
    assert lines[0].startswith("warning: two")
    assert "skipped: empty file" in lines[0]


# --- broken configuration --------------------------------------------------------------------

BASE = '[site]\ntitle = "T"\nbase_url = "http://x.example/"\n'
BROKEN_CONFIGS = {
    "invalid-toml": ('[site\ntitle = "T"\n', "invalid TOML"),
    "missing-base-url": ('[site]\ntitle = "T"\n', "site.base_url"),
    "missing-title": ('[site]\nbase_url = "http://x.example/"\n', "site.title"),
    "bad-url": ('[site]\ntitle = "T"\nbase_url = "ftp://x.example/"\n', "site.base_url"),
    "wrong-type": (BASE + '[publish]\nmax_entries = "ten"\n', "publish.max_entries"),
    "bool-for-int": (BASE + "[publish]\nmax_entries = true\n", "publish.max_entries"),
    "out-of-range": (BASE + "[publish]\nmax_entries = 0\n", "publish.max_entries"),
    "unknown-key": (BASE + "colour = 1\n", "site.colour"),
    "unknown-section": (BASE + "[publsh]\nmax_entries = 3\n", "publsh"),
    "feed-include-not-list": (BASE + "[feeds.x]\ninclude = 'x/*'\n", "feeds.x.include"),
    "feed-bad-name": (BASE + "[feeds.'Bad Name']\ninclude = ['*']\n", "Bad Name"),
    "not-utf8": (BASE.replace("T", "\xe9").encode("latin-1"), "cannot read"),
    "nested-too-deep": (BASE + "[publish]\nmax_entries = " + "[" * 3000 + "]" * 3000, "nested"),
    "nul-in-a-path": (BASE + '[paths]\nseeds = "a\\u0000b"\n', "paths.seeds"),
    "jitter-past-a-c-int": (BASE + "[schedule]\njitter = 99999999999999999999\n", "jitter"),
    "url-urlsplit-refuses": ('[site]\ntitle = "T"\nbase_url = "http://[::1"\n', "base_url"),
}


@pytest.mark.parametrize("broken", BROKEN_CONFIGS, ids=list(BROKEN_CONFIGS))
def test_broken_config_exits_2_and_touches_nothing(tmp_path: Path, broken: str) -> None:
    config = make_project(tmp_path, GOOD)
    publish_config(config)
    before = {k: v for k, v in snapshot(tmp_path).items() if k != "config.toml"}
    data, key = BROKEN_CONFIGS[broken]
    if isinstance(data, str):
        data = data.encode()
    config.write_bytes(data)
    for command in ("publish", "check"):
        result = invoke([command, "-c", str(config)])
        assert result.exit_code == 2
        lines = stderr_lines(result.stderr)
        assert len(lines) == 1, lines
        assert lines[0].startswith("error: ")
        assert key in lines[0]
        assert str(config) in lines[0]
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "config.toml"} == before


def test_broken_config_subprocess_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    config = make_project(root, GOOD)
    config.write_text(BASE + "colour = 1\n", encoding="utf-8")
    proc = run_subprocess(["publish", "-c", str(config)], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = stderr_lines(proc.stderr)
    assert len(lines) == 1 and "site.colour" in lines[0]
    assert sorted(p.name for p in root.iterdir()) == ["config.toml", "seeds"]


# --- --strict -----------------------------------------------------------------------------


def test_strict_exit_codes(tmp_path: Path) -> None:
    config = make_project(tmp_path, GOOD)
    clean = run_subprocess(["publish", "--strict", "-c", str(config)], cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr

    # A warning is not a skip.
    write_seed(tmp_path / "seeds", "cp1252.txt", "Caf\u00e9\n\nbody\n".encode("cp1252"))
    warned = run_subprocess(["publish", "--strict", "-c", str(config)], cwd=tmp_path)
    assert warned.returncode == 0, warned.stderr
    assert [ln for ln in stderr_lines(warned.stderr) if ln.startswith("warning:")] == [
        "warning: cp1252.txt: not UTF-8; read as Windows-1252"
    ]

    write_seed(tmp_path / "seeds", "empty.txt", b"")
    skipped = run_subprocess(["publish", "--strict", "-c", str(config)], cwd=tmp_path)
    assert skipped.returncode == 3
    lines = stderr_lines(skipped.stderr)
    assert "warning: empty.txt: skipped: empty file" in lines
    assert "1 skipped" in lines[-1]
    # The feeds are still published with everything usable.
    assert set(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == GOOD_TITLES | {"Caf\u00e9"}

    lenient = run_subprocess(["publish", "-c", str(config)], cwd=tmp_path)
    assert lenient.returncode == 0


def test_report_lists_match_the_warning_lines(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {
            **GOOD,
            "empty.txt": b"",
            "js.txt": seed_text("JS", link="javascript:void(0)"),
            "huge.txt": b"x" * (3 * 1024 * 1024),
        },
    )
    report = run_publish(config)
    assert sorted(name for name, _ in report.skipped) == ["empty.txt", "huge.txt"]
    assert [name for name, _ in report.warnings] == ["js.txt"]
    assert report.entries == {"all": 3}
