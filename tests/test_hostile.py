"""A hostile corpus, published end to end through the CLI in a child process.

``tests/data/hostile/seeds`` holds small seeds an attacker or an unlucky user might make
(alias bombs, binary files, control characters, hostile links and markup, odd line ends,
entity declarations); ``generate`` adds what is too big to commit (300 KB of ``[`` or
``&``, a 100 KB title, huge TOML, deep YAML) and what git cannot hold (symlinks out of the
folder, a FIFO, a file dated in the future). ``tests/data/hostile/feeds`` are RSS feeds
served from 127.0.0.1 to a ``kind = "feed"`` source.

The publish runs once for the module (it takes a few seconds: one seed uses up the parse
budget); each test checks one promise about it: exit code 0, one warning line for each
skipped seed, every good seed published, outputs valid and inert, no secret leaked.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from pytest_httpserver import HTTPServer

from escaping_check import check_outputs, html_problems, html_text
from helpers import (
    NS,
    T0,
    atom_date,
    atom_entries,
    make_project,
    rss_items,
    run_publish,
    run_subprocess,
    stderr_lines,
)

CORPUS = Path(__file__).resolve().parent / "data" / "hostile"
FUTURE = 4_102_444_800  # 2100-01-01T00:00:00Z
SECRET = "hostile-corpus-secret-7f3a"  # in a file outside seeds/ that a symlink points at
PASSWD_LINE = "root:x:0:0"
CANARY = "hostile-corpus-environment-canary-5c1e"
HAS_ENVIRON = Path("/proc/self/environ").is_file()

# Seeds that must be skipped: file -> what its one warning line says.
SKIPPED = {
    "alias-bomb.md": "skipped: front matter refused: YAML aliases are not allowed",
    "deep-yaml.md": "skipped: front matter refused: nested deeper than",
    "toml-huge.md": "skipped: front matter larger than 64 KB",
    "utf16-nobom.txt": "skipped: binary file, not text",
    "image.txt": "skipped: binary file, not text",
    "links/passwd.txt": "skipped: symlink to a file outside seeds/",
    "links/outside.md": "skipped: symlink to a file outside seeds/",
    "links/chain.txt": "skipped: symlink to a file outside seeds/",
    "links/hop.txt": "skipped: symlink to a file outside seeds/",
    **({"links/environ.txt": "skipped: symlink to a file outside seeds/"} if HAS_ENVIRON else {}),
    "links/fifo.txt": "skipped: not a regular file",
    "links/zero.txt": "skipped: not a regular file",
}


@dataclass(frozen=True)
class Good:
    """A seed that must be published: its entry's title, and what its warning says if
    it must have one."""

    title: str
    warning: str = ""
    prefix: bool = False  # the title is cut: it starts with ``title``

    def matches(self, title: str) -> bool:
        return title.startswith(self.title) if self.prefix else title == self.title


PUBLISHED = {
    "good-plain.txt": Good("Town council lights the river path"),
    "good-note.md": Good("A good Markdown note"),
    "good-page.html": Good("A good HTML page"),
    "python-tag.md": Good("Python tags in front matter", "front matter ignored"),
    "controls.txt": Good("Control bytes in the title", "control character(s) removed"),
    "ff-u2028.txt": Good("Form feed and line separator title", "1 control character(s) removed"),
    "crlf.txt": Good("CRLF title"),
    "cr-only.txt": Good("CR-only title"),
    "cdata.txt": Good("Closes a CDATA ]]> and opens <![CDATA[ in the title"),
    "js-retrieved.txt": Good("Script in the source line", "link dropped: not an http(s) link"),
    "base-links.html": Good("Base href and hostile links"),
    "base-js.html": Good("A javascript base href"),
    "utf7.html": Good("UTF-7 declared"),
    "mxss.html": Good("Mutation XSS payloads"),
    "mxss.md": Good("Markdown with script links"),
    "entities.html": Good("Entity declarations"),
    "amps.html": Good("A run of ampersands"),
    "amp-hex.html": Good("A run of character references"),
    "toml-array.md": Good("Huge TOML arrays"),
    "long-title.txt": Good("Long Long Long", "title cut to 300 characters", prefix=True),
    "future.txt": Good("Dated in the future"),
}
# Published, or skipped for taking longer than the parse budget: markdown-it is quadratic
# on a run of "[", and whether 300 KB of it fits in 5 s depends on the machine.
SLOW = {"brackets.md": ("Brackets", "skipped: took more than 5 s to read")}
# Not seeds at all: not regular files, or a symlinked folder. Never read, never warned about.
IGNORED = ("links/etc",)  # a symlinked folder: not walked (loops), not a seed

FEED_ITEMS = {  # title of the hostile feed's items -> their link
    "Double-escaped markup in the description": "https://hostile.example.org/feed/double-escaped",
    "Markup in CDATA": "https://hostile.example.org/feed/cdata",
    "<img src=x onerror=alert(6)> in the title": "https://hostile.example.org/feed/title",
    "A javascript: link": "",
}


def generate(seeds: Path, outside: Path) -> None:
    """Write the hostile seeds that are too big to commit or that git cannot hold."""
    big = 300 * 1024

    def write(name: str, data: str | bytes, mtime: float = T0) -> None:
        path = seeds / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        os.utime(path, (mtime, mtime))

    write("brackets.md", "# Brackets\n\n" + "[" * big + "\n")
    page = "<html><head><title>{}</title></head><body><article><p>{}</p></article></body></html>"
    write("amps.html", page.format("A run of ampersands", "&" * big))
    write("amp-hex.html", page.format("A run of character references", "&#x" * (big // 3)))
    # Flow lists nested 5,000 deep: PyYAML would recurse until the stack gives out.
    write("deep-yaml.md", "---\ntitle: Deep\ntags: " + "[" * 5000 + "]" * 5000 + "\n---\n\nB.\n")
    # TOML front matter with arrays just under the 64 KB budget (63,824 bytes), then over.
    tags = ", ".join(f'"t{i}"' for i in range(6000))
    numbers = ", ".join(map(str, range(2000)))
    write(
        "toml-array.md",
        f'+++\ntitle = "Huge TOML arrays"\ntags = [{tags}]\nauthor = [{numbers}]\n+++\n\nBody.\n',
    )
    write("toml-huge.md", f'+++\ntitle = "Too big"\ntags = [{tags}, {tags}]\n+++\n\nBody.\n')
    write("long-title.txt", "Long " * 20_480 + "\n\nA body under a 100 KB title.\n")
    write("future.txt", "Dated in the future\n\nA seed whose file says 2100.\n", FUTURE)

    # Links out of the folder, and files that are no files.
    links = seeds / "links"
    links.mkdir()
    outside.mkdir(parents=True, exist_ok=True)
    secret = outside / "secret.md"
    secret.write_text(f"# Secret\n\n{SECRET}\n", encoding="utf-8")
    (links / "passwd.txt").symlink_to("/etc/passwd")
    (links / "outside.md").symlink_to(os.path.relpath(secret, links))
    (links / "hop.txt").symlink_to("/etc/passwd")
    (links / "chain.txt").symlink_to("hop.txt")  # inside, then out: the end counts
    if HAS_ENVIRON:
        (links / "environ.txt").symlink_to("/proc/self/environ")
    (links / "zero.txt").symlink_to("/dev/zero")
    (links / "etc").symlink_to("/etc", target_is_directory=True)
    os.mkfifo(links / "fifo.txt")


def corpus_project(root: Path, outside: Path, extra_config: str = "") -> Path:
    """A project holding the corpus (committed and generated seeds); its config.toml."""
    config = make_project(root, extra_config=extra_config)
    seeds = config.parent / "seeds"
    for path in sorted((CORPUS / "seeds").iterdir()):
        shutil.copyfile(path, seeds / path.name)
        os.utime(seeds / path.name, (T0, T0))
    generate(seeds, outside)
    return config


@dataclass
class Run:
    """One publish of the corpus."""

    root: Path
    exit_code: int
    lines: list[str]
    feed_url: str

    @property
    def feeds(self) -> Path:
        return self.root / "feeds"

    @cached_property
    def titles(self) -> list[str]:
        """The titles of the entries of ``all``, in its Atom feed."""
        entries = atom_entries(self.feeds / "all.atom.xml")
        return [e.findtext("atom:title", "", NS) for e in entries]

    @cached_property
    def items(self) -> list[dict[str, Any]]:
        """The items of ``all``, in its JSON Feed."""
        return json.loads((self.feeds / "all.json").read_text(encoding="utf-8"))["items"]

    @cached_property
    def problems(self) -> list[str]:
        """``check_outputs`` of the run, once: feedparser takes seconds on the megabytes
        that the runs of "&" become."""
        return check_outputs(self.feeds)

    def warnings_naming(self, name: str) -> list[str]:
        return [line for line in self.lines if line.startswith(f"warning: {name}: ")]


def serve(server: HTTPServer) -> str:
    """Serve the corpus's feeds; returns the hostile feed's URL. (No robots.txt, as
    most sites: this is the session's server, without conftest's ``httpserver``.)"""
    server.expect_request("/robots.txt").respond_with_data("not found", status=404)
    for name in ("hostile.rss", "entities.rss"):
        server.expect_request(f"/{name}").respond_with_data(
            (CORPUS / "feeds" / name).read_bytes(), content_type="application/rss+xml"
        )
    return server.url_for("/hostile.rss")


def write_sources(root: Path, server: HTTPServer) -> None:
    sources = root / "sources"
    sources.mkdir()
    (sources / "hostile.toml").write_text(
        f'url = "{server.url_for("/hostile.rss")}"\nkind = "feed"\n'
        'feed = ["all", "hostile"]\n'
        'title = "Hostile <script>alert(11)</script> source"\n'
        'author = "<img src=x onerror=alert(12)>"\n',
        encoding="utf-8",
    )
    (sources / "entities.toml").write_text(
        f'url = "{server.url_for("/entities.rss")}"\nkind = "feed"\n', encoding="utf-8"
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, make_httpserver: HTTPServer) -> Iterator[Run]:
    """Copy the corpus to a new project, serve its feeds, publish once with the CLI."""
    config = corpus_project(
        tmp_path_factory.mktemp("hostile") / "project",
        tmp_path_factory.mktemp("outside"),
        extra_config="\n[fetch]\nallow_private = true\nread_timeout = 5\ndeadline = 10\n",
    )
    project = config.parent
    server = make_httpserver
    feed_url = serve(server)
    write_sources(project, server)
    with pytest.MonkeyPatch.context() as patch:
        # conftest's no_proxy is per test; this fixture outlives one.
        patch.setenv("no_proxy", "*")
        patch.setenv("NO_PROXY", "*")
        patch.setenv("SEEDFEED_HOSTILE_CANARY", CANARY)  # what environ.txt would leak
        result = run_subprocess(["publish", "-c", str(config)], project, timeout=120)
    yield Run(project, result.returncode, stderr_lines(result.stderr), feed_url)
    server.clear()


def hrefs(fragment: str) -> list[str]:
    return [a.get("href") for a in lxml.html.fragment_fromstring(fragment, "div").iter("a")]


def entry_titled(run: Run, title: str) -> dict[str, Any]:
    """The JSON Feed item titled ``title`` (exactly one)."""
    found = [item for item in run.items if item["title"] == title]
    assert len(found) == 1, f"{len(found)} items titled {title!r}: {run.titles}"
    return found[0]


# --- the run as a whole ------------------------------------------------------------------


def test_publish_exits_0_with_one_line_per_warning(run: Run) -> None:
    assert run.exit_code == 0, run.lines
    assert run.lines[-1].startswith("published "), run.lines
    assert run.lines[-2].startswith("sources: 2; "), run.lines
    # Everything else is a warning, one line each (no traceback, no multi-line message).
    assert all(line.startswith("warning: ") for line in run.lines[:-2]), run.lines


def test_every_output_is_written(run: Run) -> None:
    names = {p.name for p in run.feeds.iterdir()}
    for feed in ("all", "hostile"):
        assert {f"{feed}.atom.xml", f"{feed}.rss.xml", f"{feed}.json"} == {
            name for name in names if name.startswith(f"{feed}.")
        }
    assert names - {n for n in names if n.startswith(("all.", "hostile."))} == {
        "index.html",
        "feeds.opml",
        "feed.xsl",
    }


def test_outputs_parse_and_hold_no_live_markup(run: Run) -> None:
    """Strict XML (lxml), feedparser without bozo, JSON; every field inert."""
    assert not run.problems, "\n".join(run.problems[:40])


def test_no_secret_leaks_into_the_outputs(run: Run) -> None:
    try:  # the first line of this machine's /etc/passwd, beside the usual root line
        passwd = Path("/etc/passwd").read_bytes().splitlines()[0]
    except (OSError, IndexError):
        passwd = PASSWD_LINE.encode()
    for path in sorted(run.feeds.iterdir()):
        data = path.read_bytes()
        assert PASSWD_LINE.encode() not in data, path.name
        assert passwd not in data, path.name
        assert SECRET.encode() not in data, path.name
        assert CANARY.encode() not in data, path.name  # the publisher's environment
        # Neither entity expanded: the laughs nor the external file.
        assert b"lollollol" not in data, path.name
    # YAML's python tags ran nothing.
    assert not list(run.root.rglob("pwned-by-yaml"))


# --- each seed ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SKIPPED))
def test_hostile_seed_skipped_with_one_warning(run: Run, name: str) -> None:
    lines = run.warnings_naming(name)
    assert len(lines) == 1, (name, lines)
    assert SKIPPED[name] in lines[0], lines[0]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_seed_published(run: Run, name: str) -> None:
    good = PUBLISHED[name]
    assert len([t for t in run.titles if good.matches(t)]) == 1, (name, run.titles)
    lines = run.warnings_naming(name)
    assert not any("skipped" in line for line in lines), lines
    if good.warning:
        assert any(good.warning in line for line in lines), (name, lines)
    elif name.startswith("good-"):
        assert lines == [], lines


def test_slow_seed_published_or_skipped_once(run: Run) -> None:
    for name, (title, reason) in SLOW.items():
        lines = run.warnings_naming(name)
        if title in run.titles:
            assert not any("skipped" in line for line in lines), lines
        else:
            assert len(lines) == 1 and reason in lines[0], (name, lines)


def test_non_files_are_never_read(run: Run) -> None:
    """A FIFO, a link to a device and a symlinked folder are not seeds: the run neither
    hangs on them nor publishes them (the first two are said: a name of a seed)."""
    for name in IGNORED:
        assert run.warnings_naming(name) == []
    # ... nor counted: the seeds are the corpus's files and the links that were refused.
    files = [p for p in (run.root / "seeds").rglob("*") if p.is_file() and not p.is_symlink()]
    refused = [name for name in SKIPPED if name.startswith("links/")]
    summary = run.lines[-1]
    assert f" from {len(files) + len(refused)} seeds " in summary, summary


def test_every_seed_accounted_for(run: Run) -> None:
    """Each entry of the feed is a seed of the corpus or an item of the hostile feed."""
    slow = {title for title, _ in SLOW.values()}
    titles = [t for t in run.titles if t not in slow]
    unexpected = [
        t
        for t in titles
        if t not in FEED_ITEMS and not any(g.matches(t) for g in PUBLISHED.values())
    ]
    assert unexpected == []
    assert len(titles) == len(PUBLISHED) + len(FEED_ITEMS)


# --- what the published seeds say ----------------------------------------------------------


def test_titles_are_text_and_one_line(run: Run) -> None:
    for title in run.titles:
        assert "\n" not in title and "\u2028" not in title and "\x0c" not in title, title
        assert len(title) <= 300


def test_links_of_base_href_page(run: Run) -> None:
    """Hostile links are dropped, relative ones resolve against the page's <base>."""
    item = entry_titled(run, "Base href and hostile links")
    content = item["content_html"]
    assert html_problems("base-links.html", content) == []
    assert "https://base.example.org/dir/relative/page" in content
    assert "https://base.example.org/dir/pic.png" in content
    for word in ("javascript", "data:", "vbscript"):
        assert f'="{word}' not in content.lower(), content
    # A javascript: base is no base: relative links stay relative.
    item = entry_titled(run, "A javascript base href")
    assert html_problems("base-js.html", item["content_html"]) == []
    assert hrefs(item["content_html"]) == ["page", "/root", "#frag"]


def test_utf7_stays_these_characters(run: Run) -> None:
    item = entry_titled(run, "UTF-7 declared")
    assert "+ADw-script+AD4-alert(1)+ADw-/script+AD4-" in html_text(item["content_html"])


def test_cut_and_capped_fields(run: Run) -> None:
    item = entry_titled(run, "Huge TOML arrays")
    assert len(item.get("tags", [])) <= 20
    assert len(item.get("authors", [])) <= 10
    [long_title] = [t for t in run.titles if PUBLISHED["long-title.txt"].matches(t)]
    assert len(long_title) <= 300 and long_title.endswith("Long\u2026")
    assert entry_titled(run, long_title)["content_html"] == "<p>A body under a 100 KB title.</p>"


def test_future_seed_is_dated_by_the_run(run: Run) -> None:
    entry = next(
        e
        for e in atom_entries(run.feeds / "all.atom.xml")
        if e.findtext("atom:title", "", NS) == "Dated in the future"
    )
    assert atom_date(entry, "published") <= time.time()
    assert atom_date(entry, "published") < FUTURE


def test_crlf_and_cr_only_read_as_lines(run: Run) -> None:
    for title, link in (
        ("CRLF title", "https://hostile.example.org/crlf"),
        ("CR-only title", "https://hostile.example.org/cr-only"),
    ):
        item = entry_titled(run, title)
        assert item["url"] == link
        assert item["date_published"].startswith("2026-03-0")
        assert item["content_html"] == "<p>A body line wrapped over two lines.</p>"


# --- the feed source -----------------------------------------------------------------------


def test_double_escaped_feed_markup_is_text(run: Run) -> None:
    item = entry_titled(run, "Double-escaped markup in the description")
    # One level of escaping is the XML's; what is left is text that shows "<img ...>".
    assert "<img src=x onerror=alert(1)>" in html_text(item["content_html"])
    assert html_problems("double-escaped", item["content_html"], allow_elements=False) == []
    cdata = entry_titled(run, "Markup in CDATA")
    assert "Kept paragraph." in html_text(cdata["content_html"])
    assert html_problems("cdata", cdata["content_html"]) == []


def test_feed_items_keep_their_http_links_only(run: Run) -> None:
    for title, link in FEED_ITEMS.items():
        item = entry_titled(run, title)
        assert item.get("url", "") == link, title
        assert item["id"].startswith(("https://", "urn:uuid:")), item["id"]


def test_source_feed_is_its_own_feed(run: Run) -> None:
    titles = [i.findtext("title") for i in rss_items(run.feeds / "hostile.rss.xml")]
    assert set(titles) == set(FEED_ITEMS)
    index = (run.feeds / "index.html").read_text(encoding="utf-8")
    assert "Hostile &lt;script&gt;alert(11)&lt;/script&gt; source" in index


def test_entity_feed_refused_in_one_line(run: Run) -> None:
    url = run.feed_url.replace("hostile.rss", "entities.rss")
    lines = [line for line in run.lines if url in line]
    assert len(lines) == 1, lines
    assert "entities" in lines[0] and "refused" in lines[0], lines[0]
    assert not any("Laughs" in title for title in run.titles)


# --- without the CLI ---------------------------------------------------------------------


def test_second_publish_of_the_corpus_writes_nothing(tmp_path: Path) -> None:
    """Hostile seeds are as stable as good ones: the same folder, the same bytes. (Without
    the seeds that take seconds to read, the module's run has shown them.)"""
    config = corpus_project(tmp_path / "project", tmp_path / "outside")
    for name in ("brackets.md", "amps.html", "amp-hex.html"):  # slow, and shown above
        (config.parent / "seeds" / name).unlink()
    first = run_publish(config)
    assert "all.atom.xml" in first.written
    second = run_publish(config)
    assert second.written == []
    assert sorted(second.skipped) == sorted(first.skipped)
    assert {name for name, _ in second.skipped} == set(SKIPPED)


def test_cut_content_keeps_its_start(tmp_path: Path) -> None:
    text = "word " * 120_000  # one 600 KB paragraph
    page = f"<html><head><title>Long</title></head><body><article><p>{text}</p></article></body>"
    config = make_project(tmp_path, {"long.html": page})
    report = run_publish(config)
    assert report.warnings == [("long.html", "content cut to 512 KB of HTML")]
    [entry] = atom_entries(tmp_path / "feeds" / "all.atom.xml")
    content = html_text(entry.findtext("atom:content", "", NS))
    assert content.startswith("word word word")
    assert len(content) > 400 * 1024
