"""Unit tests for seedfeed.normalize: links, text, HTML, entries and hashes."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from seedfeed.model import Article, Block
from seedfeed.normalize import (
    MAX_SUMMARY,
    MAX_TITLE,
    NAMESPACE,
    LinkError,
    blocks_to_html,
    canonical_url,
    clean_text,
    content_hash,
    entry_id,
    sanitize_html,
    shorten,
    summarize,
    to_entry,
)

SEEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


# --- canonical_url ----------------------------------------------------------------------


class TestCanonicalUrl:
    @pytest.mark.parametrize(
        "param",
        [
            "utm_source=tw",
            "utm_medium=x",
            "utm_campaign=y",
            "UTM_Term=z",
            "fbclid=abc",
            "gclid=1",
            "mc_cid=2",
            "mc_eid=3",
        ],
    )
    def test_tracking_params_dropped(self, param: str) -> None:
        assert canonical_url(f"https://ex.com/a?{param}") == "https://ex.com/a"

    def test_other_params_kept_in_order(self) -> None:
        url = "https://ex.com/a?z=1&utm_source=x&b=2&fbclid=f&a=3&gclid=g"
        assert canonical_url(url) == "https://ex.com/a?z=1&b=2&a=3"

    def test_repeated_params_kept(self) -> None:
        assert canonical_url("https://ex.com/?t=1&t=2") == "https://ex.com/?t=1&t=2"

    def test_fragment_dropped(self) -> None:
        assert canonical_url("https://ex.com/a?x=1#section-2") == "https://ex.com/a?x=1"

    def test_reference_link(self) -> None:
        raw = (
            "https://www.axios.com/us-israel-iran-nuclear-dialogue-natanz-explosion-"
            "cdcdf0cb-8bf9-468e-8a5e-b6d126a2066f.html"
            "?utm_campaign=organic&utm_medium=socialshare&utm_source=twitter."
        )
        assert canonical_url(raw) == (
            "https://www.axios.com/us-israel-iran-nuclear-dialogue-natanz-explosion-"
            "cdcdf0cb-8bf9-468e-8a5e-b6d126a2066f.html"
        )

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("https://ex.com/a.", "https://ex.com/a"),
            ("https://ex.com/a,", "https://ex.com/a"),
            ("https://ex.com/a)", "https://ex.com/a"),
            ("https://ex.com/a).", "https://ex.com/a"),
            ("https://ex.com/a.)", "https://ex.com/a"),
            ("<https://ex.com/a>", "https://ex.com/a"),
            ("https://ex.com/a\u201d", "https://ex.com/a"),
            (
                "https://en.wikipedia.org/wiki/Python_(language)",
                "https://en.wikipedia.org/wiki/Python_(language)",
            ),
            (
                "https://en.wikipedia.org/wiki/Python_(language).",
                "https://en.wikipedia.org/wiki/Python_(language)",
            ),
        ],
    )
    def test_trailing_punctuation(self, raw: str, expected: str) -> None:
        assert canonical_url(raw) == expected

    @pytest.mark.parametrize(
        "bad",
        [
            "javascript:alert(1)",
            "JavaScript:alert(document.cookie)",
            "ftp://ex.com/file",
            "mailto:someone@ex.com",
            "/relative/path",
            "relative.html",
            "//ex.com/no-scheme",
            "data:text/html,<script>alert(1)</script>",
            "",
            "https://",
            "http:///path-only",
            "https://ex.com:99999/",
            "https://user:pw@ex.com/",
            "https://ex .com/",
        ],
    )
    def test_refused(self, bad: str) -> None:
        with pytest.raises(LinkError):
            canonical_url(bad)

    def test_link_error_is_value_error(self) -> None:
        assert issubclass(LinkError, ValueError)

    def test_host_lowercased_default_port_removed(self) -> None:
        assert canonical_url("HTTP://Example.COM:80/Path") == "http://example.com/Path"
        assert canonical_url("https://EX.com:443/a") == "https://ex.com/a"

    def test_other_port_kept(self) -> None:
        assert canonical_url("https://ex.com:8443/a") == "https://ex.com:8443/a"
        assert canonical_url("http://ex.com:443/a") == "http://ex.com:443/a"

    def test_empty_path_becomes_slash(self) -> None:
        assert canonical_url("https://ex.com") == "https://ex.com/"

    def test_trailing_dot_of_host_dropped(self) -> None:
        assert canonical_url("https://ex.com./a") == "https://ex.com/a"

    def test_ipv6(self) -> None:
        assert canonical_url("http://[::1]:8080/x") == "http://[::1]:8080/x"

    def test_surrounding_whitespace(self) -> None:
        assert canonical_url("  https://ex.com/a \n") == "https://ex.com/a"

    def test_encoded_plus_keeps_its_meaning(self) -> None:
        # %2B is a literal "+"; a bare "+" in a query means a space.
        url = canonical_url("https://ex.com/search?q=c%2B%2B")
        assert parse_qsl(urlsplit(url).query) == [("q", "c++")]

    def test_space_in_query_value(self) -> None:
        url = canonical_url("https://ex.com/search?q=a+b&r=c%20d")
        assert parse_qsl(urlsplit(url).query) == [("q", "a b"), ("r", "c d")]

    def test_idempotent(self) -> None:
        for raw in ["HTTP://Ex.com:80/a?b=1&utm_x=2#f", "https://ex.com/p_(x)).", "https://e.x/"]:
            once = canonical_url(raw)
            assert canonical_url(once) == once


# --- text helpers -----------------------------------------------------------------------


class TestCleanText:
    def test_nfc(self) -> None:
        assert clean_text("cafe\u0301") == "caf\u00e9"

    def test_control_chars_removed(self) -> None:
        assert clean_text("a\x00b\x07c\x1bd\x7fe\x80f\x9fg\ufffeh") == "abcdefgh"

    def test_control_chars_removed_after_nfc(self) -> None:
        assert clean_text("\x01cafe\u0301\x02 ") == "caf\u00e9"

    def test_whitespace_collapsed_and_stripped(self) -> None:
        assert clean_text("  a \t\n b\u00a0\u00a0c\r\n ") == "a b c"

    def test_surrogates_removed(self) -> None:
        assert clean_text("a\ud800b") == "ab"

    def test_plain_text_unchanged(self) -> None:
        assert (
            clean_text("Hello, world \u2014 \u201cok\u201d") == "Hello, world \u2014 \u201cok\u201d"
        )


class TestShorten:
    def test_short_unchanged(self) -> None:
        assert shorten("hello", 5) == "hello"

    def test_cut_at_word(self) -> None:
        out = shorten("one two three four five six", 15)
        assert out == "one two three\u2026"
        assert len(out) <= 15

    def test_cut_long_word(self) -> None:
        out = shorten("x" * 50, 10)
        assert out == "x" * 9 + "\u2026"

    def test_trailing_punctuation_dropped_before_ellipsis(self) -> None:
        assert shorten("alpha, beta, gamma delta", 14) == "alpha, beta\u2026"

    @pytest.mark.parametrize("limit", [2, 5, 10, 80, 300])
    def test_never_longer_than_limit(self, limit: int) -> None:
        text = "word " * 200
        assert len(shorten(text, limit)) <= limit


# --- HTML -------------------------------------------------------------------------------


class TestSanitizeHtml:
    def test_script_removed(self) -> None:
        out = sanitize_html("<p>ok</p><script>alert(1)</script>")
        assert "<script" not in out
        assert "alert" not in out
        assert "<p>ok</p>" in out

    def test_event_handlers_removed(self) -> None:
        out = sanitize_html('<p onclick="evil()">a<img src="https://ex.com/i.png" onerror="x()">')
        assert "onclick" not in out
        assert "onerror" not in out
        assert "evil" not in out
        assert 'src="https://ex.com/i.png"' in out

    def test_javascript_href_removed(self) -> None:
        out = sanitize_html('<a href="javascript:alert(1)">j</a>')
        assert "javascript" not in out.lower()
        assert ">j</a>" in out

    def test_relative_links_absolute(self) -> None:
        out = sanitize_html(
            '<a href="/x">r</a><img src="i.png"><a href="#top">t</a>', "https://ex.com/a/b"
        )
        assert 'href="https://ex.com/x"' in out
        assert 'src="https://ex.com/a/i.png"' in out
        assert 'href="https://ex.com/a/b#top"' in out

    def test_links_get_rel(self) -> None:
        out = sanitize_html('<a href="https://ex.com/">x</a>')
        assert 'rel="noopener noreferrer nofollow"' in out

    def test_style_and_iframe_removed(self) -> None:
        out = sanitize_html('<style>p{}</style><iframe src="https://ev.il/"></iframe><b>k</b>')
        assert "<style" not in out
        assert "<iframe" not in out
        assert "<b>k</b>" in out

    def test_control_chars_removed(self) -> None:
        assert sanitize_html("<p>a\x01b\x0cc</p>") == "<p>abc</p>"


class TestBlocksToHtml:
    def test_script_escaped(self) -> None:
        out = blocks_to_html([Block("p", text="<script>alert(1)</script>")])
        assert out == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"

    def test_lead_and_list(self) -> None:
        out = blocks_to_html(
            [
                Block("p", lead="Why it matters:", text="A & B."),
                Block("ul", items=("<i>one</i>", "two")),
                Block("p", lead="Go deeper:"),
            ]
        )
        assert out == (
            "<p><strong>Why it matters:</strong> A &amp; B.</p>\n"
            "<ul><li>&lt;i&gt;one&lt;/i&gt;</li><li>two</li></ul>\n"
            "<p><strong>Go deeper:</strong></p>"
        )

    def test_empty_blocks_dropped(self) -> None:
        assert blocks_to_html([Block("p"), Block("ul")]) == ""

    def test_text_cleaned(self) -> None:
        assert blocks_to_html([Block("p", text=" a\x00 \n b ")]) == "<p>a b</p>"


# --- to_entry ---------------------------------------------------------------------------


def _article(**kwargs: object) -> Article:
    base: dict[str, object] = {
        "origin": "news/story.txt",
        "title": "A title",
        "blocks": [Block("p", text="First paragraph.")],
    }
    base.update(kwargs)
    return Article(**base)  # type: ignore[arg-type]


class TestToEntry:
    def test_basic(self) -> None:
        entry, warnings = to_entry(
            _article(link="https://ex.com/a?utm_source=x", authors=["Ann", " Ann ", "Bob"]), SEEN
        )
        assert warnings == []
        assert entry.title == "A title"
        assert entry.link == "https://ex.com/a"
        assert entry.id == "https://ex.com/a"
        assert entry.authors == ("Ann", "Bob")
        assert entry.content_html == "<p>First paragraph.</p>"
        assert entry.summary == "First paragraph."
        assert entry.origin == "news/story.txt"

    def test_script_title_stays_text(self) -> None:
        entry, _ = to_entry(_article(title="<script>alert(1)</script>"), SEEN)
        assert entry.title == "<script>alert(1)</script>"

    def test_long_title_cut_with_warning(self) -> None:
        entry, warnings = to_entry(_article(title="word " * 600), SEEN)
        assert len(entry.title) <= MAX_TITLE
        assert entry.title.endswith("\u2026")
        assert any("title cut" in w for w in warnings)

    def test_javascript_link_dropped(self) -> None:
        entry, warnings = to_entry(_article(link="javascript:alert(1)"), SEEN)
        assert entry.link == ""
        assert entry.id.startswith("urn:uuid:")
        assert any(w.startswith("link dropped") for w in warnings)
        assert entry.title == "A title"
        assert entry.content_html == "<p>First paragraph.</p>"

    def test_article_warnings_kept_first(self) -> None:
        _, warnings = to_entry(_article(warnings=["from decode"], link="ftp://x/"), SEEN)
        assert warnings[0] == "from decode"
        assert len(warnings) == 2

    def test_urn_id_stable_from_origin(self) -> None:
        a, _ = to_entry(_article(origin="x/one.txt", title="v1"), SEEN)
        b, _ = to_entry(_article(origin="x/one.txt", title="v2 changed"), SEEN)
        c, _ = to_entry(_article(origin="x/two.txt", title="v1"), SEEN)
        assert a.id == b.id
        assert a.id != c.id
        assert a.id == f"urn:uuid:{uuid.uuid5(NAMESPACE, 'x/one.txt')}"
        assert uuid.UUID(a.id.removeprefix("urn:uuid:")).version == 5

    def test_entry_id(self) -> None:
        assert entry_id("https://ex.com/a", "o.txt") == "https://ex.com/a"
        assert entry_id("", "o.txt") == entry_id("", "o.txt")
        assert entry_id("", "o.txt").startswith("urn:uuid:")

    def test_summary_prefers_why_it_matters(self) -> None:
        blocks = [
            Block("p", text="Lead paragraph."),
            Block("p", lead="Detail:", text="Details."),
            Block("p", lead="Why it matters:", text="Because."),
        ]
        entry, _ = to_entry(_article(blocks=blocks), SEEN)
        assert entry.summary == "Why it matters: Because."

    def test_summary_first_paragraph(self) -> None:
        blocks = [Block("ul", items=("x",)), Block("p", text="One."), Block("p", text="Two.")]
        entry, _ = to_entry(_article(blocks=blocks), SEEN)
        assert entry.summary == "One."

    def test_summary_own_wins(self) -> None:
        entry, _ = to_entry(_article(summary="<b>Own</b> summary &amp; more"), SEEN)
        assert entry.summary == "Own summary & more"

    def test_summary_from_html(self) -> None:
        article = _article(blocks=[], content_html="<div></div><p>First <b>html</b></p><p>2</p>")
        entry, _ = to_entry(article, SEEN)
        assert entry.summary == "First html"

    def test_summary_limited(self) -> None:
        entry, _ = to_entry(_article(blocks=[Block("p", text="word " * 1000)]), SEEN)
        assert len(entry.summary) <= MAX_SUMMARY

    def test_html_content_sanitized_against_link(self) -> None:
        article = _article(
            blocks=[],
            link="https://ex.com/dir/page",
            content_html='<p onclick="x">a <a href="../b">b</a></p><script>bad()</script>',
        )
        entry, _ = to_entry(article, SEEN)
        assert "onclick" not in entry.content_html
        assert "bad()" not in entry.content_html
        assert 'href="https://ex.com/b"' in entry.content_html

    def test_no_title_made_from_text(self) -> None:
        entry, warnings = to_entry(_article(title="  \x00 "), SEEN)
        assert entry.title == "First paragraph."
        assert "no title; made one from the text" in warnings

    def test_nothing_at_all(self) -> None:
        entry, _ = to_entry(Article(origin="e.txt"), SEEN)
        assert entry.title == "(untitled)"
        assert entry.content_html == "<p>(untitled)</p>"

    def test_title_only_gets_content(self) -> None:
        entry, _ = to_entry(_article(title="A & B", blocks=[]), SEEN)
        assert entry.content_html == "<p>A &amp; B</p>"

    def test_dates(self) -> None:
        published = datetime(2021, 4, 12, tzinfo=UTC)
        entry, _ = to_entry(_article(published=published), SEEN)
        assert entry.published == published
        assert entry.updated == published

        entry, _ = to_entry(_article(), SEEN)
        assert entry.published == SEEN
        assert entry.updated == SEEN

        older = datetime(2020, 1, 1, tzinfo=UTC)
        entry, _ = to_entry(_article(published=published, updated=older), SEEN)
        assert entry.updated == published

    def test_tags_cleaned_and_deduplicated(self) -> None:
        entry, _ = to_entry(_article(tags=["a", " a", "", "b\x00", "b"]), SEEN)
        assert entry.tags == ("a", "b")

    def test_authors_limited(self) -> None:
        entry, _ = to_entry(_article(authors=[f"Person {i}" for i in range(30)]), SEEN)
        assert len(entry.authors) == 10


class TestSummarize:
    def test_lead_only_paragraph_is_not_summary(self) -> None:
        article = _article(blocks=[Block("p", lead="Go deeper:"), Block("p", text="Text.")])
        assert summarize(article, "") == "Text."


# --- content_hash -----------------------------------------------------------------------


class TestContentHash:
    def test_same_input_same_hash(self) -> None:
        a, _ = to_entry(_article(link="https://ex.com/a"), SEEN)
        b, _ = to_entry(_article(link="https://ex.com/a?utm_source=z"), SEEN)
        assert content_hash(a) == content_hash(b)

    def test_first_seen_ignored_when_published(self) -> None:
        published = datetime(2021, 4, 12, tzinfo=UTC)
        a, _ = to_entry(_article(published=published), SEEN)
        b, _ = to_entry(_article(published=published), datetime(2030, 1, 1, tzinfo=UTC))
        assert content_hash(a) == content_hash(b)

    def test_origin_does_not_matter(self) -> None:
        a, _ = to_entry(_article(link="https://ex.com/a"), SEEN)
        assert content_hash(a) == content_hash(dataclasses.replace(a, origin="moved.txt"))

    @pytest.mark.parametrize(
        "change",
        [
            {"title": "Other"},
            {"link": "https://ex.com/b"},
            {"authors": ("Zed",)},
            {"content_html": "<p>Changed.</p>"},
            {"summary": "Changed."},
            {"tags": ("t",)},
            {"published": datetime(2020, 1, 1, tzinfo=UTC)},
        ],
    )
    def test_changes_when_content_changes(self, change: dict[str, object]) -> None:
        a, _ = to_entry(_article(link="https://ex.com/a"), SEEN)
        b = dataclasses.replace(a, **change)  # type: ignore[arg-type]
        assert content_hash(a) != content_hash(b)

    def test_edit_of_seed_changes_hash(self) -> None:
        a, _ = to_entry(_article(blocks=[Block("p", text="Version one.")]), SEEN)
        b, _ = to_entry(_article(blocks=[Block("p", text="Version two.")]), SEEN)
        assert content_hash(a) != content_hash(b)

    def test_format(self) -> None:
        a, _ = to_entry(_article(), SEEN)
        digest = content_hash(a)
        assert isinstance(digest, bytes)
        assert len(digest) == 16
