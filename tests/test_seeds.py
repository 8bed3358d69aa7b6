"""Unit tests for seedfeed.seeds: the clipped format, decoding, Markdown, HTML, discovery."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from seedfeed.model import Article, Block
from seedfeed.seeds import (
    FolderError,
    SeedError,
    SeedFile,
    decode,
    discover,
    parse_clipped,
    parse_seed_text,
    read_bytes,
    read_seed,
)
from seedfeed.web.extract import article_from_html

REFERENCE = Path(__file__).resolve().parents[2] / "shared/seeds/000_87e846f0a868ed07.txt"
NBSP = "\u00a0"


@pytest.fixture(scope="module")
def reference() -> Article:
    if not REFERENCE.is_file():
        pytest.skip(f"reference seed not available: {REFERENCE}")
    text, warnings = decode(REFERENCE.read_bytes())
    assert warnings == []
    return parse_seed_text(text, REFERENCE.name)


def _all_text(article: Article) -> str:
    parts = []
    for block in article.blocks:
        parts += [block.lead, block.text, *block.items]
    return "\n".join(parts)


def _seed_file(path: Path, rel: str | None = None) -> SeedFile:
    st = path.stat()
    return SeedFile(rel or path.name, str(path), st.st_size, st.st_mtime_ns)


# --- the reference seed -----------------------------------------------------------------


class TestReferenceSeed:
    def test_title(self, reference: Article) -> None:
        assert reference.title == "Scoop: U.S. and Israel to hold strategic Iran talks on Tuesday"

    def test_authors(self, reference: Article) -> None:
        assert reference.authors == ["Barak Ravid"]

    def test_raw_link_keeps_trailing_period(self, reference: Article) -> None:
        assert reference.link == (
            "https://www.axios.com/us-israel-iran-nuclear-dialogue-natanz-explosion-"
            "cdcdf0cb-8bf9-468e-8a5e-b6d126a2066f.html"
            "?utm_campaign=organic&utm_medium=socialshare&utm_source=twitter."
        )

    def test_no_dates_in_reference(self, reference: Article) -> None:
        assert reference.published is None
        assert reference.updated is None

    def test_lead_ins(self, reference: Article) -> None:
        leads = [b.lead for b in reference.blocks if b.lead]
        assert leads == ["Why it matters:", "Detail:", "Between the lines:", "The other side:"]

    def test_first_paragraph_has_no_lead(self, reference: Article) -> None:
        first = reference.blocks[0]
        assert first.kind == "p"
        assert first.lead == ""
        assert first.text.startswith("Top national security officials")

    def test_lead_text_is_separate(self, reference: Article) -> None:
        why = next(b for b in reference.blocks if b.lead == "Why it matters:")
        assert why.text.startswith("The talks come two days after an explosion")
        assert why.text.endswith("raised anxiety levels in Jerusalem.")
        assert "\u2014" in why.text  # the em dash survives

    def test_bullet_lists(self, reference: Article) -> None:
        kinds = [b.kind for b in reference.blocks]
        assert kinds == ["p", "p", "p", "ul", "p", "ul", "p"]
        lists = [b for b in reference.blocks if b.kind == "ul"]
        assert len(lists[0].items) == 3
        assert len(lists[1].items) == 2
        assert lists[0].items[0] == (
            "The first round of talks last month focused on intelligence surrounding "
            "Iran\u2019s nuclear program."
        )
        for item in lists[0].items + lists[1].items:
            assert not item.startswith(("\u2022", " "))

    def test_byline_and_source_not_in_blocks(self, reference: Article) -> None:
        text = _all_text(reference)
        assert "Barak Ravid" not in text
        assert "author of" not in text
        assert "Content retrieved from" not in text
        assert "axios.com" not in text
        assert reference.title not in text

    def test_no_nbsp_left(self, reference: Article) -> None:
        assert NBSP not in _all_text(reference)
        assert all(b.kind != "p" or b.text or b.lead for b in reference.blocks)


# --- bylines ----------------------------------------------------------------------------


class TestBylines:
    def test_author_of_with_nbsp(self) -> None:
        a = parse_clipped(f"Title\n\nJane Doe, author of{NBSP}from London\n\nBody text.", "x.txt")
        assert a.authors == ["Jane Doe"]
        assert a.blocks == [Block("p", text="Body text.")]

    def test_two_authors(self) -> None:
        text = "Title\n\nJane Doe and John Smith, authors of from New York\n\nBody text."
        a = parse_clipped(text, "x.txt")
        assert a.authors == ["Jane Doe", "John Smith"]
        assert a.blocks == [Block("p", text="Body text.")]

    def test_and_splits_only_names(self) -> None:
        # "Mac & i" is one author (a magazine), as a page declared it and clip wrote it.
        line = "Mac & i, Jane Doe & John Roe; Ann Lee, Fauna & Flora International"
        assert parse_clipped(f"Title\n\nAuthors: {line}\n\nBody.", "x.txt").authors == [
            "Mac & i", "Jane Doe", "John Roe", "Ann Lee", "Fauna & Flora International"
        ]  # fmt: skip

    def test_by_name(self) -> None:
        a = parse_clipped("Title\n\nBy Mary O'Brien\n\nBody text.", "x.txt")
        assert a.authors == ["Mary O'Brien"]
        assert a.blocks == [Block("p", text="Body text.")]

    def test_no_byline(self) -> None:
        a = parse_clipped("Title\n\nFirst paragraph.\n\nSecond paragraph.", "x.txt")
        assert a.authors == []
        assert [b.text for b in a.blocks] == ["First paragraph.", "Second paragraph."]

    def test_by_sentence_is_body(self) -> None:
        sentence = "By the end of the year, the company expects to hire 200 people."
        a = parse_clipped(f"Title\n\n{sentence}\n\nMore.", "x.txt")
        assert a.authors == []
        assert a.blocks[0] == Block("p", text=sentence)

    def test_byline_with_multiple_lines_is_body(self) -> None:
        a = parse_clipped("Title\n\nBy Jane Doe\nand a second line\n\nMore.", "x.txt")
        assert a.authors == []
        assert a.blocks[0].text == "By Jane Doe and a second line"


# --- structure --------------------------------------------------------------------------


class TestClippedStructure:
    def test_title_only(self) -> None:
        a = parse_seed_text("Just a title\n", "only.txt")
        assert a.title == "Just a title"
        assert a.blocks == []
        assert a.authors == []
        assert a.link == ""

    def test_header_lines(self) -> None:
        text = "Title\n\nPublished: 2021-04-12\nTags: a, b\n\nBody."
        a = parse_clipped(text, "x.txt")
        assert a.published == datetime(2021, 4, 12, tzinfo=UTC)
        assert a.tags == ["a", "b"]
        assert a.blocks == [Block("p", text="Body.")]

    def test_header_lines_after_byline(self) -> None:
        text = "Title\n\nBy Jane Doe\n\nUpdated: 2021-04-13T10:00:00Z\n\nBody."
        a = parse_clipped(text, "x.txt")
        assert a.authors == ["Jane Doe"]
        assert a.updated == datetime(2021, 4, 13, 10, tzinfo=UTC)
        assert a.blocks == [Block("p", text="Body.")]

    def test_header_in_title_block(self) -> None:
        a = parse_clipped("Title\nPublished: April 12, 2021\n\nBody.", "x.txt")
        assert a.title == "Title"
        assert a.published == datetime(2021, 4, 12, tzinfo=UTC)
        assert a.blocks == [Block("p", text="Body.")]

    def test_unparseable_published_is_ignored(self) -> None:
        a = parse_clipped("Title\n\nPublished: someday\n\nBody.", "x.txt")
        assert a.published is None
        assert a.blocks == [Block("p", text="Body.")]

    def test_out_of_range_published_is_ignored(self) -> None:
        # 9999-12-31 23:00 at -05:00 is in year 10000 in UTC: not a plausible date.
        text = "Title\n\nPublished: 9999-12-31T23:00:00-05:00\n\nBody."
        a = parse_seed_text(text, "x.txt")
        assert a.published is None
        assert a.blocks == [Block("p", text="Body.")]

    def test_crlf(self) -> None:
        text = (
            "Title\r\n\r\nBy Jane Doe\r\n\r\n"
            "Why it matters: Yes.\r\n\r\n\u2022 one\r\n\u2022 two\r\n"
        )
        a = parse_clipped(text, "x.txt")
        assert a.title == "Title"
        assert a.authors == ["Jane Doe"]
        assert a.blocks == [
            Block("p", text="Yes.", lead="Why it matters:"),
            Block("ul", items=("one", "two")),
        ]
        assert "\r" not in _all_text(a) + a.title

    def test_nbsp_only_lines_separate_blocks(self) -> None:
        text = f"Title\n{NBSP}\n{NBSP} {NBSP}\nFirst.\n{NBSP}\nSecond{NBSP}part."
        a = parse_clipped(text, "x.txt")
        assert a.title == "Title"
        assert [b.text for b in a.blocks] == ["First.", "Second part."]

    def test_bom_removed_by_decode(self, tmp_path: Path) -> None:
        path = tmp_path / "bom.txt"
        path.write_bytes(b"\xef\xbb\xbfTitle\r\n\r\nBody.\r\n")
        a = read_seed(_seed_file(path), 1 << 20)
        assert a.title == "Title"
        assert a.blocks == [Block("p", text="Body.")]

    def test_lead_in_alone_before_list(self) -> None:
        a = parse_clipped("Title\n\nBy the numbers:\n\u2022 1\n\u2022 2", "x.txt")
        assert a.blocks == [Block("p", lead="By the numbers:"), Block("ul", items=("1", "2"))]

    def test_paragraph_lines_are_joined(self) -> None:
        a = parse_clipped("Title\n\nline one\nline   two\tthree", "x.txt")
        assert a.blocks == [Block("p", text="line one line two three")]

    def test_retrieved_line_sets_link(self) -> None:
        a = parse_clipped("Title\n\nBody.\nSource: https://ex.com/a", "x.txt")
        assert a.link == "https://ex.com/a"
        assert a.blocks == [Block("p", text="Body.")]

    def test_whitespace_only_raises(self) -> None:
        with pytest.raises(SeedError):
            parse_seed_text(f" \n\t\n{NBSP}\n", "x.txt")

    def test_read_seed_empty_file(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.txt"
        path.write_bytes(b"")
        with pytest.raises(SeedError, match="empty"):
            read_seed(_seed_file(path), 1024)

    def test_read_bytes_limit(self, tmp_path: Path) -> None:
        path = tmp_path / "big.txt"
        path.write_bytes(b"x" * 2048)
        assert read_bytes(path, 2048) == b"x" * 2048
        with pytest.raises(SeedError, match="limit"):
            read_bytes(path, 2047)

    def test_read_bytes_missing(self, tmp_path: Path) -> None:
        with pytest.raises(SeedError, match="vanished"):
            read_bytes(tmp_path / "gone.txt", 1024)

    def test_read_seed_cp1252_warning_first(self, tmp_path: Path) -> None:
        path = tmp_path / "old.txt"
        path.write_bytes(b"Caf\xe9 title\r\n\r\n\x93Quoted\x94 body.")
        a = read_seed(_seed_file(path), 1 << 20)
        assert a.title == "Caf\u00e9 title"
        assert a.blocks == [Block("p", text="\u201cQuoted\u201d body.")]
        assert a.warnings[0] == "not UTF-8; read as Windows-1252"


# --- decoding ---------------------------------------------------------------------------


class TestDecode:
    def test_utf8(self) -> None:
        assert decode("caf\u00e9 \u2014 \u201cok\u201d".encode()) == (
            "caf\u00e9 \u2014 \u201cok\u201d",
            [],
        )

    def test_utf8_bom(self) -> None:
        text, warnings = decode(b"\xef\xbb\xbfcaf\xc3\xa9")
        assert text == "caf\u00e9"
        assert warnings == []

    @pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
    def test_utf16_bom(self, codec: str) -> None:
        data = "\ufeffTitle caf\u00e9\n\nBody".encode(codec)
        text, warnings = decode(data)
        assert text == "Title caf\u00e9\n\nBody"
        assert warnings == []

    def test_cp1252(self) -> None:
        text, warnings = decode(b"caf\xe9 \x93quoted\x94")
        assert text == "caf\u00e9 \u201cquoted\u201d"
        assert warnings == ["not UTF-8; read as Windows-1252"]

    def test_mostly_utf8_with_one_bad_byte(self) -> None:
        data = "caf\u00e9 na\u00efve r\u00e9sum\u00e9 ".encode() + b"\xff ok"
        text, warnings = decode(data)
        assert text == "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \ufffd ok"
        assert warnings == ["1 undecodable byte(s) replaced"]

    @pytest.mark.parametrize(
        "data",
        [
            b"\x00\x01\x02binary",
            b"PK\x03\x04\x00\x00",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
            b"GIF89a\x01\x00\x01\x00",
            b"RIFF\x24\x00\x00\x00WEBPVP8 ",
        ],
    )
    def test_binary_raises(self, data: bytes) -> None:
        with pytest.raises(SeedError, match="binary"):
            decode(data)

    def test_a_stray_nul_is_removed_not_binary(self) -> None:
        # Judged by proportion: one NUL (and a form feed) in an article is a typo.
        text, warnings = decode(b"Title\n\nSome text\x00 with a stray NUL and a \x0c form feed.\n")
        assert text == "Title\n\nSome text with a stray NUL and a   form feed.\n"
        assert warnings == ["2 control character(s) removed"]

    def test_text_that_starts_like_a_title_is_not_taken_for_magic(self) -> None:
        assert decode(b"RIFF raffle: the town's yearly draw\n\nBody.\n")[0].startswith("RIFF")

    def test_many_control_bytes_is_binary(self) -> None:
        with pytest.raises(SeedError):
            decode(b"\x01\x02\x03\x04abc" * 50)

    def test_binary_seed_file_raises(self, tmp_path: Path) -> None:
        path = tmp_path / "image.txt"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
        with pytest.raises(SeedError):
            read_seed(_seed_file(path), 1 << 20)


# --- Markdown ---------------------------------------------------------------------------


class TestMarkdown:
    def test_yaml_front_matter(self) -> None:
        text = (
            "---\n"
            "title: A Markdown Post\n"
            "author: [Ann Lee, Bob Ray]\n"
            "date: 2021-04-12\n"
            "link: https://ex.com/post\n"
            "tags: [news, iran]\n"
            "---\n"
            "Some *body* text.\n"
        )
        a = parse_seed_text(text, "posts/post.md")
        assert a.title == "A Markdown Post"
        assert a.authors == ["Ann Lee", "Bob Ray"]
        assert a.published == datetime(2021, 4, 12, tzinfo=UTC)
        assert a.link == "https://ex.com/post"
        assert a.tags == ["news", "iran"]
        assert a.content_html.strip() == "<p>Some <em>body</em> text.</p>"
        assert a.warnings == []
        assert a.blocks == []

    def test_yaml_author_string_and_tags_string(self) -> None:
        text = "---\ntitle: T\nauthor: Ann Lee and Bob Ray\ntags: a, b\n---\nx\n"
        a = parse_seed_text(text, "p.md")
        assert a.authors == ["Ann Lee", "Bob Ray"]
        assert a.tags == ["a", "b"]

    def test_toml_front_matter(self) -> None:
        text = (
            "+++\n"
            'title = "TOML Post"\n'
            'authors = ["Ann Lee"]\n'
            "date = 2021-04-12T10:30:00Z\n"
            'url = "https://ex.com/toml"\n'
            'tags = ["x"]\n'
            "+++\n"
            "Body.\n"
        )
        a = parse_seed_text(text, "t.markdown")
        assert a.title == "TOML Post"
        assert a.authors == ["Ann Lee"]
        assert a.published == datetime(2021, 4, 12, 10, 30, tzinfo=UTC)
        assert a.link == "https://ex.com/toml"
        assert a.tags == ["x"]
        assert "<p>Body.</p>" in a.content_html
        assert "+++" not in a.content_html

    def test_front_matter_with_crlf(self) -> None:
        text = "---\r\ntitle: CRLF Post\r\n---\r\nBody.\r\n"
        a = parse_seed_text(text, "c.md")
        assert a.title == "CRLF Post"
        assert a.content_html.strip() == "<p>Body.</p>"

    def test_broken_yaml_warns(self) -> None:
        text = "---\ntitle: [unclosed\n---\n# Heading Title\n\nBody.\n"
        a = parse_seed_text(text, "b.md")
        assert len(a.warnings) == 1
        assert a.warnings[0].startswith("front matter ignored")
        assert a.title == "Heading Title"
        assert "<p>Body.</p>" in a.content_html

    def test_broken_toml_warns(self) -> None:
        a = parse_seed_text("+++\ntitle = \n+++\nBody.\n", "my-toml_post.md")
        assert a.warnings and a.warnings[0].startswith("front matter ignored")
        assert a.title == "my toml post"

    def test_front_matter_not_a_mapping_warns(self) -> None:
        a = parse_seed_text("---\n- a\n- b\n---\nBody.\n", "list.md")
        assert a.warnings == ["front matter ignored: not a mapping"]

    def test_yaml_python_tag_is_refused(self) -> None:
        a = parse_seed_text("---\ntitle: !!python/object:os.system x\n---\nB\n", "evil.md")
        assert a.warnings and a.warnings[0].startswith("front matter ignored")

    def test_invalid_yaml_date_warns_not_raises(self) -> None:
        # YAML builds date(2021, 13, 45) itself, which raises ValueError.
        a = parse_seed_text("---\ntitle: T\ndate: 2021-13-45\n---\nBody.\n", "d.md")
        assert isinstance(a, Article)
        assert a.published is None

    def test_heading_as_title(self) -> None:
        a = parse_seed_text("# The Heading #\n\nParagraph one.\n", "h.md")
        assert a.title == "The Heading"
        assert "<h1>" not in a.content_html
        assert "<p>Paragraph one.</p>" in a.content_html

    def test_front_matter_title_wins_over_heading(self) -> None:
        a = parse_seed_text("---\ntitle: FM\n---\n# Heading\n\nText.\n", "h.md")
        assert a.title == "FM"
        assert "<h1>Heading</h1>" in a.content_html

    def test_title_from_file_name(self) -> None:
        a = parse_seed_text("Just text.\n", "notes/my-first_note.md")
        assert a.title == "my first note"

    def test_markdown_retrieved_line(self) -> None:
        a = parse_seed_text("# T\n\nBody.\n\nRetrieved from: https://ex.com/md\n", "r.md")
        assert a.link == "https://ex.com/md"
        assert "ex.com" not in a.content_html


# --- HTML -------------------------------------------------------------------------------

HTML_PAGE = """<!doctype html>
<html><head>
<title>Page title | Site</title>
<meta property="og:title" content="OG Title">
<meta name="author" content="Jane Doe and John Roe">
<meta property="article:published_time" content="2021-04-12T10:00:00Z">
<meta name="keywords" content="one, two">
<link rel="canonical" href="https://ex.com/story?utm_source=x">
<script>var tracking = 1;</script>
</head>
<body>
<nav>Menu Home About</nav>
<article><h1>OG Title</h1><p>Hello <a href="/rel">world</a>.</p>
<script>alert("xss")</script></article>
<footer>Copyright</footer>
</body></html>
"""

HTML_LD = """<html><head>
<title>Fallback</title>
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "LD Headline",
 "author": [{"@type": "Person", "name": "Ann A"}, {"@type": "Person", "name": "Bob B"}],
 "datePublished": "2021-04-12T08:00:00+02:00"}
</script></head>
<body><main><p>Main text.</p></main></body></html>
"""


class TestHtmlSeed:
    def test_meta_tags(self) -> None:
        a = parse_seed_text(HTML_PAGE, "page.html")
        assert a.title == "OG Title"
        assert a.authors == ["Jane Doe", "John Roe"]
        assert a.published == datetime(2021, 4, 12, 10, tzinfo=UTC)
        assert a.link == "https://ex.com/story?utm_source=x"
        assert a.tags == ["one", "two"]

    def test_scripts_and_nav_removed(self) -> None:
        a = parse_seed_text(HTML_PAGE, "page.html")
        assert "<script" not in a.content_html
        assert "alert" not in a.content_html
        assert "tracking" not in a.content_html
        assert "Menu" not in a.content_html
        assert "Copyright" not in a.content_html
        assert "<h1>" not in a.content_html
        assert "Hello" in a.content_html

    def test_json_ld(self) -> None:
        a = parse_seed_text(HTML_LD, "ld.htm")
        assert a.title == "LD Headline"
        assert a.authors == ["Ann A", "Bob B"]
        assert a.published == datetime(2021, 4, 12, 6, tzinfo=UTC)
        assert "Main text." in a.content_html

    def test_json_ld_graph(self) -> None:
        page = (
            '<html><head><script type="application/ld+json">'
            '{"@graph": [{"@type": "WebSite"}, {"@type": ["BlogPosting"], '
            '"headline": "Graph Head", "author": {"name": "Cy D"}}]}'
            "</script></head><body><p>x</p></body></html>"
        )
        a = parse_seed_text(page, "g.html")
        assert a.title == "Graph Head"
        assert a.authors == ["Cy D"]

    def test_broken_json_ld_ignored(self) -> None:
        page = (
            '<html><head><title>T</title><script type="application/ld+json">{not json'
            "</script></head><body><p>x</p></body></html>"
        )
        a = parse_seed_text(page, "b.html")
        assert a.title == "T"

    def test_article_from_html_directly(self) -> None:
        assert article_from_html(HTML_PAGE, origin="page.html") == parse_seed_text(
            HTML_PAGE, "page.html"
        )

    def test_url_is_the_last_resort_link(self) -> None:
        page = "<html><head><title>T</title></head><body><p>x</p></body></html>"
        a = article_from_html(page, origin="https://ex.com/p", url="https://ex.com/p")
        assert a.link == "https://ex.com/p"
        b = article_from_html(HTML_PAGE, origin="o", url="https://other.example/")
        assert b.link == "https://ex.com/story?utm_source=x"

    def test_title_falls_back_to_title_then_h1(self) -> None:
        a = article_from_html("<html><head><title>Tab</title></head></html>", origin="o")
        assert a.title == "Tab"
        b = article_from_html("<html><body><h1>Head</h1><p>x</p></body></html>", origin="o")
        assert b.title == "Head"
        assert "Head" not in b.content_html

    def test_empty_html_raises(self) -> None:
        with pytest.raises(SeedError):
            parse_seed_text("<html><body>   </body></html>", "e.html")


# --- discovery --------------------------------------------------------------------------


class TestDiscover:
    def test_sorted_and_recursive(self, tmp_path: Path) -> None:
        for rel in ["b.txt", "a.md", "sub/z.html", "sub/deeper/y.htm", "c.TXT", "a/x.text"]:
            p = tmp_path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("Title\n")
        rels = [s.rel for s in discover(tmp_path)]
        assert rels == [
            "a/x.text",
            "a.md",
            "b.txt",
            "c.TXT",
            "sub/deeper/y.htm",
            "sub/z.html",
        ]

    def test_files_and_refusals_come_in_name_order(self, tmp_path: Path) -> None:
        seeds = tmp_path / "seeds"
        for rel in ["b/x.txt", "b/y.md", "c.txt"]:
            (seeds / rel).parent.mkdir(parents=True, exist_ok=True)
            (seeds / rel).write_text("Title\n")
        (tmp_path / "outside.txt").write_text("secret\n")
        (seeds / "b" / "zz.txt").symlink_to(tmp_path / "outside.txt")
        said: list[str] = []

        def reject(rel: str, reason: str) -> None:
            said.append(f"refused {rel}")

        said += (s.rel for s in discover(seeds, reject))
        assert said == ["b/x.txt", "b/y.md", "refused b/zz.txt", "c.txt"]

    def test_metadata(self, tmp_path: Path) -> None:
        p = tmp_path / "a.txt"
        p.write_bytes(b"Hello\n")
        (seed,) = discover(tmp_path)
        assert Path(seed.path) == p
        assert seed.size == 6
        assert seed.mtime_ns == p.stat().st_mtime_ns

    def test_hidden_and_other_extensions_ignored(self, tmp_path: Path) -> None:
        (tmp_path / ".hidden.txt").write_text("x")
        (tmp_path / ".git").mkdir()
        (tmp_path / ".git" / "notes.txt").write_text("x")
        (tmp_path / "image.png").write_bytes(b"\x89PNG")
        (tmp_path / "notes.txt~").write_text("x")
        (tmp_path / "README").write_text("x")
        (tmp_path / "keep.txt").write_text("x")
        assert [s.rel for s in discover(tmp_path)] == ["keep.txt"]

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
    def test_fifo_ignored(self, tmp_path: Path) -> None:
        os.mkfifo(tmp_path / "pipe.txt")
        (tmp_path / "real.txt").write_text("x")
        assert [s.rel for s in discover(tmp_path)] == ["real.txt"]

    def test_folder_named_like_seed_is_walked(self, tmp_path: Path) -> None:
        (tmp_path / "dir.txt").mkdir()
        (tmp_path / "dir.txt" / "in.md").write_text("x")
        assert [s.rel for s in discover(tmp_path)] == ["dir.txt/in.md"]

    def test_symlinked_folder_not_followed(self, tmp_path: Path) -> None:
        (tmp_path / "real").mkdir()
        (tmp_path / "real" / "a.txt").write_text("x")
        (tmp_path / "real" / "loop").symlink_to(tmp_path / "real")
        assert [s.rel for s in discover(tmp_path)] == ["real/a.txt"]

    def test_odd_file_names(self, tmp_path: Path) -> None:
        names = ["with space.txt", "caf\u00e9 \u65e5\u672c.md", "hash#tag.txt", "100% (1).html"]
        for name in names:
            (tmp_path / name).write_text("T\n")
        seeds = list(discover(tmp_path))
        assert [s.rel for s in seeds] == sorted(names)
        for seed in seeds:
            assert Path(seed.path).read_text() == "T\n"

    def test_missing_folder_is_no_empty_folder(self, tmp_path: Path) -> None:
        # Taken for empty, it would take every seed out of the feeds.
        with pytest.raises(FolderError, match=r"nope/: cannot be listed \(no such file"):
            list(discover(tmp_path / "nope"))
        said: list[tuple[str, str]] = []
        assert list(discover(tmp_path / "nope", unlisted=lambda *args: said.append(args))) == []
        assert said == [("", "no such file or directory")]


# --- the head alone gives what the whole gives --------------------------------------------

_LINES = st.sampled_from(
    [
        "", " ", "\u00a0", "Title", "Published: 2021-04-12", "Updated: 2022-01-01",
        "By Ann Lee", "Ann Lee, author of from Riverton", "Tags: a, b", "Link: https://ex.org/l",
        "Content retrieved from: https://ex.org/a?utm_source=x.", "Source: https://ex.org/s",
        "Why it matters: It does.", "  \u2022 a bullet", "Plain paragraph text.",
        "By the end of the year, more.", "Author: Bob", "\r", "Date: April 12, 2021",
    ]
)  # fmt: skip


@settings(max_examples=examples(300), deadline=None)
@given(lines=st.lists(_LINES, min_size=1, max_size=12), suffix=st.sampled_from([".txt", ".md"]))
def test_head_only_gives_the_identity_of_the_whole(lines: list[str], suffix: str) -> None:
    text = "\n".join(lines)
    if suffix == ".md":
        text = "---\ntitle: T\ndate: 2020-01-01\n---\n" + text
    try:
        whole = parse_seed_text(text, "a" + suffix)
    except SeedError:
        with pytest.raises(SeedError):
            parse_seed_text(text, "a" + suffix, head_only=True)
        return
    head = parse_seed_text(text, "a" + suffix, head_only=True)
    fields = ("title", "link", "published", "updated", "authors", "tags", "warnings")
    assert {f: getattr(head, f) for f in fields} == {f: getattr(whole, f) for f in fields}
    assert head.blocks == [] and head.content_html == ""
