"""Source definitions, listing-page links and feed items (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedfeed.sources import SourceError, load_sources, parse_source
from seedfeed.web.listings import DEFAULT_ITEMS, feed_articles, listing_links


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_source_defaults(tmp_path: Path) -> None:
    source = parse_source(_write(tmp_path, "blog.toml", 'url = "https://ex.org/post"\n'))
    assert source.name == "blog"
    assert source.urls == ("https://ex.org/post",)
    assert (source.kind, source.feeds, source.limit, source.enabled) == (
        "article",
        ("all",),
        10,
        True,
    )


def test_full_source(tmp_path: Path) -> None:
    text = (
        'urls = ["https://ex.org/news", "https://ex.org/more"]\nkind = "listing"\n'
        'items = "main h2 a"\nlimit = 5\nfeed = ["all", "tech"]\nschedule = "*/30 * * * *"\n'
        'title = "Example"\nauthor = "Desk"\nenabled = false\n'
    )
    source = parse_source(_write(tmp_path, "news.toml", text))
    assert source.urls == ("https://ex.org/news", "https://ex.org/more")
    assert (source.kind, source.items, source.limit) == ("listing", "main h2 a", 5)
    assert source.feeds == ("all", "tech")
    assert (source.schedule, source.title, source.author, source.enabled) == (
        "*/30 * * * *",
        "Example",
        "Desk",
        False,
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('url = "https://ex.org/"\ncolour = "red"\n', "'colour'"),
        ('kind = "article"\n', "'url'"),
        ('url = "ftp://ex.org/"\n', "'url'"),
        ('url = "https://ex.org/"\nkind = "page"\n', "'kind'"),
        ('url = "https://ex.org/"\nlimit = "5"\n', "'limit'"),
        ('url = "https://ex.org/"\nlimit = 0\n', "'limit'"),
        ('url = "https://ex.org/"\nenabled = 1\n', "'enabled'"),
        ('url = "https://ex.org/"\nfeed = "Bad Name"\n', "'feed'"),
        ('url = "https://ex.org/"\nschedule = "every day"\n', "'schedule'"),
        ('url = "https://ex.org/"\nschedule = "61 * * * *"\n', "'schedule'"),
        ('url = "https://ex.org/"\nkind = "listing"\nitems = "a[href"\n', "'items'"),
        ('url = "https://ex.org/"\nitems = "a"\n', "'items'"),
        ('url = "https://ex.org/"\n[oops\n', "invalid TOML"),
        ('url = "http://[::1"\n', "'url'"),  # urlsplit raises on it
        ('url = "http://ex.org:99999/"\n', "'url'"),
        ('url = "https:///no-host"\n', "'url'"),
        ("x = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),  # tomllib recurses
    ],
)
def test_bad_source_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(SourceError) as info:
        parse_source(_write(tmp_path, "bad.toml", text))
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_load_sources_keeps_the_good_ones(tmp_path: Path) -> None:
    folder = tmp_path / "sources"
    _write(folder, "a.toml", 'url = "https://ex.org/a"\n')
    _write(folder, "b.toml", 'url = "https://ex.org/b"\nkind = "nope"\n')
    _write(folder, "c.toml", 'url = "https://ex.org/c"\nkind = "feed"\n')
    _write(folder, ".hidden.toml", "garbage")
    _write(folder, "notes.txt", "not a source")
    sources, errors = load_sources(folder)
    assert [s.name for s in sources] == ["a", "c"]
    assert len(errors) == 1
    assert errors[0].startswith(str(folder / "b.toml") + ": ")
    assert "'kind'" in errors[0]
    assert load_sources(tmp_path / "missing") == ([], [])


LISTING = """
<html><body>
<nav><a href="/about">About</a><h3><a href="https://other.example/ad">Ad</a></h3></nav>
<main>
  <article><h2><a href="/2026/11/first#comments">First</a></h2><p>…</p></article>
  <article><h2><a href="second.html">Second</a></h2><a href="second.html">again</a></article>
  <h3><a href="/2026/11/third">Third</a></h3>
  <h3><a href="javascript:void(0)">Script</a></h3>
  <h3><a href="mailto:x@ex.org">Mail</a></h3>
  <div class="teaser"><a class="more" href="/2026/11/fourth">Fourth</a></div>
</main>
</body></html>
"""


def test_listing_links_default_selector() -> None:
    links = listing_links(LISTING, "https://news.example.org/section/index.html")
    assert links == [
        "https://news.example.org/2026/11/first",
        "https://news.example.org/section/second.html",
        "https://news.example.org/2026/11/third",
    ]
    assert "article" in DEFAULT_ITEMS


def test_listing_links_selector_and_limit() -> None:
    page = "https://news.example.org/"
    assert listing_links(LISTING, page, "div.teaser a.more") == [
        "https://news.example.org/2026/11/fourth"
    ]
    assert listing_links(LISTING, page, limit=2) == [
        "https://news.example.org/2026/11/first",
        "https://news.example.org/second.html",
    ]


RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>T</title><link>https://ex.org/</link><description>d</description>
<item><title>One</title><link>/one</link><guid>https://ex.org/one</guid>
<pubDate>Tue, 10 Nov 2026 08:00:00 GMT</pubDate><dc:creator>Ann</dc:creator>
<description>&lt;p&gt;Short &lt;script&gt;x()&lt;/script&gt;&lt;/p&gt;</description>
<category>science</category></item>
<item><title>Two</title><link>https://ex.org/two?utm_source=rss</link></item>
</channel></rss>"""


def test_feed_articles_from_rss() -> None:
    one, two = feed_articles(RSS, "https://ex.org/feed.xml")
    assert (one.title, one.link, one.authors, one.tags) == (
        "One",
        "https://ex.org/one",
        ["Ann"],
        ["science"],
    )
    assert one.published is not None and one.published.isoformat() == "2026-11-10T08:00:00+00:00"
    assert "Short" in one.content_html
    assert two.link == "https://ex.org/two?utm_source=rss"  # normalize removes trackers
    assert two.published is None


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:x</id>
<updated>2026-11-01T00:00:00Z</updated>
<entry><title>Atom one</title><id>urn:1</id><link href="https://ex.org/a1"/>
<updated>2026-11-02T00:00:00Z</updated><published>2026-11-01T12:00:00Z</published>
<author><name>Bo</name></author><summary>Sum</summary>
<content type="html">&lt;p&gt;Full text&lt;/p&gt;</content></entry></feed>"""


def test_feed_articles_from_atom() -> None:
    [entry] = feed_articles(ATOM, "https://ex.org/atom.xml")
    assert (entry.title, entry.link, entry.authors) == ("Atom one", "https://ex.org/a1", ["Bo"])
    assert entry.content_html == "<p>Full text</p>"
    assert entry.summary == "Sum"
    assert entry.published is not None and entry.published.day == 1
    assert entry.updated is not None and entry.updated.day == 2


def test_billion_laughs_refused_before_parsing() -> None:
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><title>&lol3;</title>
<item><title>&lol3;</title></item></channel></rss>"""
    with pytest.raises(SourceError, match="entities"):
        feed_articles(bomb, "https://ex.org/feed")


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype html><html><head><title>Not a feed</title></head><body><p>Hi</p></body></html>",
        b"",
        b"\x00\x01binary",
        b"<rss><channel><title>broken",
    ],
)
def test_not_a_feed(body: bytes) -> None:
    with pytest.raises(SourceError, match="not an RSS or Atom feed"):
        feed_articles(body, "https://ex.org/feed")


def test_limit_applies() -> None:
    items = b"".join(
        b"<item><title>%d</title><link>https://ex.org/%d</link></item>" % (i, i) for i in range(30)
    )
    body = b'<rss version="2.0"><channel><title>t</title>' + items + b"</channel></rss>"
    assert [a.title for a in feed_articles(body, "https://ex.org/f", limit=3)] == ["0", "1", "2"]


_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;">]>\n'
    '<rss version="2.0"><channel><title>&b;</title><item><title>x</title></item></channel></rss>'
)


@pytest.mark.parametrize(
    "body",
    [
        _LAUGHS.encode(),
        # after more than 64 KB of comments
        _LAUGHS.replace("<!DOCTYPE", "<!--" + "x" * 70_000 + "-->\n<!DOCTYPE").encode(),
        # spelled in UTF-16 and UTF-32, with their byte order marks
        _LAUGHS.replace("1.0", '1.0" encoding="utf-16').encode("utf-16"),
        _LAUGHS.replace("1.0", '1.0" encoding="utf-32').encode("utf-32"),
    ],
    ids=["plain", "after-64k", "utf-16", "utf-32"],
)
def test_feed_entity_declarations_are_refused_however_spelled(body: bytes) -> None:
    with pytest.raises(SourceError, match="entit"):
        feed_articles(body, "http://127.0.0.1/feed.xml")
