"""Sources end to end: publish against real HTTP servers on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from helpers import (
    atom_entries,
    atom_entry,
    atom_titles,
    make_project,
    parse_feed,
    run_publish,
    seed_text,
)
from seedfeed.store import Store

FETCH = "[fetch]\nallow_private = true\nread_timeout = 2\ndeadline = 5\n"


def page(
    title: str,
    body: str,
    *,
    author: str = "Ann Lee",
    date: str = "2026-11-01T09:00:00Z",
    canonical: str = "",
) -> str:
    ld = {
        "@type": "NewsArticle",
        "headline": title,
        "author": {"name": author},
        "datePublished": date,
    }
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    paragraphs = "".join(
        f"<p>{body} Paragraph {i} has enough words to count as text.</p>" for i in range(4)
    )
    return (
        f"<html><head><title>{title} | Site</title>{link}"
        f'<script type="application/ld+json">{json.dumps(ld)}</script></head>'
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{paragraphs}"
        "<script>steal()</script><p onclick='x()'>Click</p></article>"
        "<footer>(c)</footer></body></html>"
    )


def project(tmp_path: Path, sources: dict[str, str], seeds: dict[str, str] | None = None) -> Path:
    config = make_project(tmp_path, seeds or {}, extra_config=FETCH)
    folder = tmp_path / "sources"
    folder.mkdir()
    for name, text in sources.items():
        (folder / name).write_text(text, encoding="utf-8")
    return config


def requests_to(server: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in server.log if request.path == path)


def test_article_source(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/story").respond_with_data(
        page("Bridge reopens", "The bridge reopened."), content_type="text/html; charset=utf-8"
    )
    config = project(tmp_path, {"story.toml": f'url = "{httpserver.url_for("/story")}"\n'})
    report = run_publish(config)
    assert report.sources is not None and report.sources.new_entries == 1
    feed = parse_feed(tmp_path / "feeds" / "all.atom.xml")
    [entry] = feed.entries
    assert entry.title == "Bridge reopens"
    assert entry.author == "Ann Lee"
    assert entry.link == httpserver.url_for("/story")
    assert entry.published.startswith("2026-11-01T09:00:00")
    content = entry.content[0].value
    assert "The bridge reopened." in content
    assert "<script" not in content and "onclick" not in content and "steal" not in content


def test_listing_then_conditional_get(tmp_path: Path, httpserver: HTTPServer) -> None:
    listing = "".join(
        f'<article><h2><a href="/a{i}">Story {i}</a></h2></article>' for i in range(3)
    )

    def listing_handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(
            f"<html><body>{listing}</body></html>",
            content_type="text/html",
            headers={"ETag": '"v1"'},
        )

    httpserver.expect_request("/news").respond_with_handler(listing_handler)
    for i in range(3):
        httpserver.expect_request(f"/a{i}").respond_with_data(
            page(f"Story {i}", f"Text {i}.", date=f"2026-11-0{i + 1}T00:00:00Z"),
            content_type="text/html",
        )
    config = project(
        tmp_path, {"news.toml": f'url = "{httpserver.url_for("/news")}"\nkind = "listing"\n'}
    )
    run_publish(config)
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Story 2", "Story 1", "Story 0"]
    before = len(httpserver.log)
    report = run_publish(config)
    assert report.sources is not None and report.sources.not_modified == 1
    assert len(httpserver.log) == before + 1  # the listing only, answered 304: no article fetched
    assert httpserver.log[-1][1].status_code == 304
    assert report.written == []


def test_feed_source_and_full_text(tmp_path: Path, httpserver: HTTPServer) -> None:
    items = "".join(
        f"<item><title>Item {i}</title><link>{httpserver.url_for(f'/p{i}')}</link>"
        f"<pubDate>Tue, 0{i + 1} Nov 2026 08:00:00 GMT</pubDate>"
        f"<description>Teaser {i}</description></item>"
        for i in range(2)
    )
    rss = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss, content_type="application/rss+xml"
    )
    for i in range(2):
        httpserver.expect_request(f"/p{i}").respond_with_data(
            page(f"Item {i}", f"Full text {i}."), content_type="text/html"
        )
    feed_url = httpserver.url_for("/feed.xml")
    config = project(
        tmp_path,
        {
            "teasers.toml": f'url = "{feed_url}"\nkind = "feed"\nfeed = "teasers"\n',
            "full.toml": f'url = "{feed_url}"\nkind = "feed"\nfull_text = true\nfeed = "full"\n',
        },
    )
    run_publish(config)
    teasers = parse_feed(tmp_path / "feeds" / "teasers.atom.xml")
    assert [e.title for e in teasers.entries] == ["Item 1", "Item 0"]
    assert "Teaser 1" in teasers.entries[0].content[0].value
    full = tmp_path / "feeds" / "full.atom.xml"
    assert "Full text 0." in atom_entry(full, "Item 0").findtext(
        "{http://www.w3.org/2005/Atom}content"
    )
    assert requests_to(httpserver, "/p0") == 1


def test_failing_source_keeps_its_entries_and_backs_off(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    state = {"fail": False}

    def handler(request: Request) -> Response:
        if state["fail"]:
            return Response("boom", status=500)
        return Response(page("Stays", "Kept text."), content_type="text/html")

    httpserver.expect_request("/flaky").respond_with_handler(handler)
    config = project(tmp_path, {"flaky.toml": f'url = "{httpserver.url_for("/flaky")}"\n'})
    run_publish(config)
    state["fail"] = True
    report = run_publish(config)
    assert next(w for w in report.warnings if "HTTP 500" in w[1])[0] == httpserver.url_for("/flaky")
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Stays"]
    with Store(tmp_path / ".seedfeed") as store:
        [fetch_state] = store.fetch_states()
    assert fetch_state.failures == 1 and fetch_state.last_error == "HTTP 500"
    calls = requests_to(httpserver, "/flaky")
    run_publish(config)  # still backing off: not fetched again
    assert requests_to(httpserver, "/flaky") == calls


def test_gone_disables_and_moved_updates(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_data(
        page("Moved", "Here now."), content_type="text/html"
    )
    config = project(
        tmp_path,
        {
            "gone.toml": f'url = "{httpserver.url_for("/gone")}"\n',
            "moved.toml": f'url = "{httpserver.url_for("/old")}"\n',
        },
    )
    report = run_publish(config)
    messages = " | ".join(f"{o}: {m}" for o, m in report.warnings)
    assert "disabled" in messages and "moved permanently" in messages
    with Store(tmp_path / ".seedfeed") as store:
        states = {s.source: s for s in store.fetch_states()}
    assert states["gone"].disabled
    assert states["moved"].url == httpserver.url_for("/new")
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Moved"]


def test_bad_source_file_and_html_instead_of_feed(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/notafeed").respond_with_data(
        "<html><body><p>Hello</p></body></html>", content_type="text/html"
    )
    config = project(
        tmp_path,
        {
            "broken.toml": 'url = "https://ex.org/"\ncolour = "red"\n',
            "html.toml": f'url = "{httpserver.url_for("/notafeed")}"\nkind = "feed"\n',
        },
        seeds={"s.txt": seed_text("A seed")},
    )
    report = run_publish(config)
    lines = [f"{origin}: {message}" for origin, message in report.warnings + report.skipped]
    assert any("broken.toml" in line and "'colour'" in line for line in lines)
    assert any(
        httpserver.url_for("/notafeed") in line and "not an RSS or Atom feed" in line
        for line in lines
    )
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["A seed"]


def test_seed_wins_over_the_same_article_from_a_listing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    url = httpserver.url_for("/same")
    httpserver.expect_request("/list").respond_with_data(
        '<article><h2><a href="/same">Same</a></h2></article>', content_type="text/html"
    )
    httpserver.expect_request("/same").respond_with_data(
        page("From the web", "Web text."), content_type="text/html"
    )
    config = project(
        tmp_path,
        {"list.toml": f'url = "{httpserver.url_for("/list")}"\nkind = "listing"\n'},
        seeds={"clip.txt": seed_text("My clipping", link=url)},
    )
    run_publish(config)
    entries = atom_entries(tmp_path / "feeds" / "all.atom.xml")
    assert len(entries) == 1
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["My clipping"]


def test_private_addresses_refused_by_default(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/p").respond_with_data(
        page("Private", "x"), content_type="text/html"
    )
    config = make_project(tmp_path, {"s.txt": seed_text("Seed")})
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "p.toml").write_text(f'url = "{httpserver.url_for("/p")}"\n')
    report = run_publish(config)
    assert len(httpserver.log) == 0
    assert any(origin == httpserver.url_for("/p") for origin, _ in report.warnings)
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Seed"]


@pytest.mark.parametrize("kind", ["article", "listing"])
def test_page_without_title_or_text(tmp_path: Path, httpserver: HTTPServer, kind: str) -> None:
    empty = "<html><body></body></html>"
    httpserver.expect_request("/empty").respond_with_data(empty, content_type="text/html")
    httpserver.expect_request("/nothing").respond_with_data(empty, content_type="text/html")
    listing = '<article><h2><a href="/nothing">Nothing</a></h2></article>'
    httpserver.expect_request("/list").respond_with_data(listing, content_type="text/html")
    url = httpserver.url_for("/empty" if kind == "article" else "/list")
    config = project(tmp_path, {"e.toml": f'url = "{url}"\nkind = "{kind}"\n'})
    report = run_publish(config)  # never raises; one warning; nothing to publish
    assert atom_entries(tmp_path / "feeds" / "all.atom.xml") == []
    [(origin, message)] = report.warnings
    assert "no title and no text" in message
    assert origin == (url if kind == "article" else httpserver.url_for("/nothing"))


def test_enrich_seeds_fills_what_the_seed_lacks(tmp_path: Path, httpserver: HTTPServer) -> None:
    canonical = httpserver.url_for("/canonical-story")
    html = (
        f'<html><head><link rel="canonical" href="{canonical}">'
        '<meta property="og:image" content="/lead.jpg">'
        '<meta property="og:description" content="What the page says.">'
        '<meta property="article:published_time" content="2026-10-05T06:00:00Z">'
        "</head><body><article><p>Page text.</p></article></body></html>"
    )
    httpserver.expect_request("/story").respond_with_data(html, content_type="text/html")
    httpserver.expect_request("/story2").respond_with_data(html, content_type="text/html")
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    seeds = {
        "clip.txt": seed_text("Clipped", link=httpserver.url_for("/story?utm_source=x")),
        "dated.txt": seed_text("Dated", link=httpserver.url_for("/story2"), published="2026-01-02"),
        "broken-link.txt": seed_text("Still here", link=httpserver.url_for("/missing")),
    }
    config = make_project(tmp_path, seeds, extra_config=FETCH + "[seeds]\nenrich = true\n")
    report = run_publish(config)
    assert any(o == "broken-link.txt" and "HTTP 404" in m for o, m in report.warnings)
    feed = tmp_path / "feeds" / "all.atom.xml"
    assert sorted(atom_titles(feed)) == ["Clipped", "Dated", "Still here"]
    parsed = {e.title: e for e in parse_feed(feed).entries}
    clip = parsed["Clipped"]
    assert clip.published.startswith("2026-10-05T06:00:00")  # the page's date
    assert clip.link == canonical
    content = clip.content[0].value
    assert content.startswith("<p><img")
    assert f'src="{httpserver.url_for("/lead.jpg")}"' in content.split("</p>")[0]
    assert parsed["Dated"].published.startswith("2026-01-02")  # its own date wins
    calls = len(httpserver.log)
    run_publish(config)  # enriched once per version of a seed
    assert len(httpserver.log) == calls


def test_source_title_names_its_own_feed(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data(
        page("Alpha", "Text.", author=""), content_type="text/html"
    )
    config = project(
        tmp_path,
        {
            "city.toml": f'url = "{httpserver.url_for("/a")}"\nfeed = "city"\n'
            'title = "City desk picks"\nauthor = "City desk"\n'
        },
    )
    run_publish(config)
    city = parse_feed(tmp_path / "feeds" / "city.atom.xml")
    assert city.feed.title == "City desk picks"
    assert [e.author for e in city.entries] == ["City desk"]


def test_source_names_with_spaces_keep_their_state(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    config = project(tmp_path, {"city news.toml": f'url = "{httpserver.url_for("/gone")}"\n'})
    run_publish(config)
    run_publish(config)
    with Store(tmp_path / ".seedfeed") as store:
        [state] = store.fetch_states()
    assert state.disabled == 1
    assert requests_to(httpserver, "/gone") == 1  # disabled: never fetched again


def test_a_non_feed_is_a_failure_that_backs_off(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/html").respond_with_data(
        "<html><body><p>Hi</p></body></html>", content_type="text/html", headers={"ETag": '"x"'}
    )
    config = project(
        tmp_path, {"f.toml": f'url = "{httpserver.url_for("/html")}"\nkind = "feed"\n'}
    )
    report = run_publish(config)
    assert report.sources is not None and report.sources.failed == 1
    with Store(tmp_path / ".seedfeed") as store:
        [state] = store.fetch_states()
    assert state.failures == 1 and state.etag is None and "not an RSS" in (state.last_error or "")


def test_control_characters_in_a_source_title(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data(page("A", "Text."), content_type="text/html")
    config = project(
        tmp_path,
        {"s.toml": f'url = "{httpserver.url_for("/a")}"\nfeed = "x"\ntitle = "City\\u0001 news"\n'},
    )
    run_publish(config)
    assert parse_feed(tmp_path / "feeds" / "x.atom.xml").feed.title == "City news"


def test_a_seed_elsewhere_does_not_hide_a_web_entry(tmp_path: Path, httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/same")
    httpserver.expect_request("/same").respond_with_data(
        page("Web", "T."), content_type="text/html"
    )
    config = project(
        tmp_path,
        {"city.toml": f'url = "{url}"\nfeed = "city"\n'},
        seeds={"clip.txt": seed_text("Clip", link=url)},
    )
    run_publish(config)
    assert atom_titles(tmp_path / "feeds" / "city.atom.xml") == ["Web"]
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Clip"]


def test_enriched_date_survives_an_edit(tmp_path: Path, httpserver: HTTPServer) -> None:
    html = '<meta property="article:published_time" content="2020-09-13T12:26:40Z"><p>x</p>'
    httpserver.expect_request("/p").respond_with_data(html, content_type="text/html")
    seeds = {"s.txt": seed_text("Seed", link=httpserver.url_for("/p"))}
    config = make_project(tmp_path, seeds, extra_config=FETCH + "[seeds]\nenrich = true\n")
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    assert parse_feed(feed).entries[0].published.startswith("2020-09-13")
    (tmp_path / "config.toml").write_text(
        (tmp_path / "config.toml").read_text().replace("enrich = true", "enrich = false")
    )
    seed = tmp_path / "seeds" / "s.txt"
    seed.write_text(seed_text("Seed, edited", link=httpserver.url_for("/p")))
    run_publish(config)
    assert parse_feed(feed).entries[0].published.startswith("2020-09-13")


@pytest.mark.parametrize("workers", [0, 2], ids=["here", "in-workers"])
def test_a_page_named_by_two_sources_is_fetched_once(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    if workers:  # pages read in worker processes, as a large first run reads them
        from seedfeed import harvest

        monkeypatch.setattr(harvest, "PARALLEL_PAGES", 2)
        monkeypatch.setattr(harvest, "parse_workers", lambda: workers)
    links = "".join(f"<h2><a href='/s{i}'>Story {i}</a></h2>" for i in range(3))
    httpserver.expect_request("/list").respond_with_data(
        f"<html><body><main>{links}</main></body></html>", content_type="text/html"
    )
    items = "".join(
        f"<item><title>Story {i}</title><link>{httpserver.url_for(f'/s{i}')}</link></item>"
        for i in range(3)
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>',
        content_type="application/rss+xml",
    )
    for i in range(3):  # story 0 names no author
        httpserver.expect_request(f"/s{i}").respond_with_data(
            page(f"Story {i}", f"Text {i}.", author="" if i == 0 else "Ann Lee"),
            content_type="text/html",
        )
    config = project(
        tmp_path,
        {
            "listing.toml": f'url = "{httpserver.url_for("/list")}"\nkind = "listing"\n'
            'feed = "listing"\nauthor = "City desk"\n',
            "feed.toml": f'url = "{httpserver.url_for("/feed.xml")}"\nkind = "feed"\n'
            'full_text = true\nfeed = "full"\n',
        },
    )
    run_publish(config)
    assert [requests_to(httpserver, f"/s{i}") for i in range(3)] == [1, 1, 1]
    for feed in ("listing", "full"):  # each source still has every entry
        titles = sorted(
            e.title for e in parse_feed(tmp_path / "feeds" / f"{feed}.atom.xml").entries
        )
        assert titles == ["Story 0", "Story 1", "Story 2"]
    # Read once, but each source's default author goes only where the page names none.
    authors = {
        feed: {
            e.title: e.get("author")
            for e in parse_feed(tmp_path / "feeds" / f"{feed}.atom.xml").entries
        }
        for feed in ("listing", "full")
    }
    assert authors["listing"] == {
        "Story 0": "City desk",
        "Story 1": "Ann Lee",
        "Story 2": "Ann Lee",
    }
    assert authors["full"] == {"Story 0": None, "Story 1": "Ann Lee", "Story 2": "Ann Lee"}


def test_parallel_and_serial_extraction_give_the_same_articles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from seedfeed import harvest
    from seedfeed.normalize import to_entry
    from seedfeed.web.fetch import FetchResult, Validators

    def result(i: int) -> tuple[str, FetchResult]:
        url = f"https://example.org/{i}"
        text = page(f"Story {i}", f"Text {i}.")
        return url, FetchResult(url, url, 200, False, text.encode(), text, "text/html", "utf-8",
                                Validators(None, None), None)  # fmt: skip

    fetched = [result(i) for i in range(20)]  # batches of 8, 8 and 4
    first_seen = datetime(2026, 1, 2, tzinfo=UTC)
    monkeypatch.setattr(harvest, "PARALLEL_PAGES", 1000)
    with harvest._readers(len(fetched), first_seen) as read:
        serial = list(read(fetched))
    monkeypatch.setattr(harvest, "PARALLEL_PAGES", 2)
    monkeypatch.setattr(harvest, "parse_workers", lambda: 2)
    with harvest._readers(len(fetched), first_seen) as read:
        parallel = list(read(fetched))
    assert parallel == serial
    monkeypatch.setattr(harvest, "_BATCH_CHARS", 1)  # big pages: a batch each
    with harvest._readers(len(fetched), first_seen) as read:
        assert list(read(fetched)) == serial
    pages = [page for _, page in serial if page]
    assert [article.title for article, _ in pages] == [f"Story {i}" for i in range(20)]
    # The entry is the article normalized as first seen then.
    assert [entry for _, entry in pages] == [to_entry(a, first_seen)[0] for a, _ in pages]


def test_workers_start_ahead_only_for_a_first_read_of_many_pages() -> None:
    from seedfeed.harvest import PARALLEL_PAGES, _many_pages_ahead
    from seedfeed.sources import Source
    from seedfeed.store import FetchState

    def due(kind: str, limit: int, read_before: bool, full_text: bool = False) -> tuple:
        source = Source(kind, Path(f"{kind}.toml"), ("https://ex.org/",), kind=kind,
                        limit=limit, full_text=full_text)  # fmt: skip
        state = FetchState(kind, "https://ex.org/", last_success=1 if read_before else None)
        return source, state

    many = PARALLEL_PAGES
    assert _many_pages_ahead([due("listing", many, read_before=False)])
    assert _many_pages_ahead([due("feed", many, read_before=False, full_text=True)])
    assert _many_pages_ahead([due("listing", many // 2, False), due("listing", many // 2, False)])
    assert not _many_pages_ahead([due("listing", many, read_before=True)])  # only what is new
    assert not _many_pages_ahead([due("feed", many, read_before=False)])  # entries, no pages
    assert not _many_pages_ahead([due("article", many, read_before=False)])
    assert not _many_pages_ahead([due("listing", many - 1, read_before=False)])


def test_workers_started_ahead_read_the_pages(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedfeed import harvest

    monkeypatch.setattr(harvest, "parse_workers", lambda: 2)
    started = []
    pool = harvest._pool

    def spy(*, start: bool):  # type: ignore[no-untyped-def]
        started.append(start)
        return pool(start=start)

    monkeypatch.setattr(harvest, "_pool", spy)
    links = "".join(f"<h2><a href='/s{i}'>Story {i}</a></h2>" for i in range(3))
    httpserver.expect_request("/list").respond_with_data(
        f"<html><body><main>{links}</main></body></html>", content_type="text/html"
    )
    for i in range(3):
        httpserver.expect_request(f"/s{i}").respond_with_data(
            page(f"Story {i}", f"Text {i}."), content_type="text/html"
        )
    listing = f'url = "{httpserver.url_for("/list")}"\nkind = "listing"\nlimit = 100\n'
    config = project(tmp_path, {"listing.toml": listing})
    run_publish(config)
    assert started == [True]  # never read, up to 100 pages: workers from the start
    titles = sorted(e.title for e in parse_feed(tmp_path / "feeds" / "all.atom.xml").entries)
    assert titles == ["Story 0", "Story 1", "Story 2"]
    run_publish(config)  # read before: a listing announces only what is new
    assert len(started) > 1 and True not in started[1:]


def test_extraction_past_its_budget_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from seedfeed import harvest
    from seedfeed.budget import BudgetExceeded

    def slow(*args: object, **kwargs: object) -> None:
        raise BudgetExceeded

    monkeypatch.setattr("seedfeed.web.extract.article_from_html", slow)
    assert harvest.extract_page("<p>x</p>", "https://example.org/") is None


def test_a_feed_item_dated_in_the_future_is_dated_when_first_seen(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    items = (
        "<item><title>From 2099</title><link>/far</link><guid>far</guid>"
        "<pubDate>Thu, 01 Jan 2099 08:00:00 GMT</pubDate><description>Soon.</description></item>"
        "<item><title>Today</title><link>/today</link><guid>today</guid>"
        "<pubDate>Sun, 01 Nov 2026 08:00:00 GMT</pubDate><description>Now.</description></item>"
    )
    rss = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss, content_type="application/rss+xml"
    )
    url = httpserver.url_for("/feed.xml")
    config = project(tmp_path, {"f.toml": f'url = "{url}"\nkind = "feed"\n'})
    before = datetime.now(UTC)
    run_publish(config)
    feed = tmp_path / "feeds" / "all.atom.xml"
    dated = {e.title: e.published for e in parse_feed(feed).entries}
    assert before.year == int(dated["From 2099"][:4]) < 2099
    first = feed.read_bytes()
    # Fetched again (a 200 each time): its date stays where it was, nothing is rewritten.
    with Store(tmp_path / ".seedfeed") as store:
        for state in store.fetch_states():
            state.next_fetch, state.etag, state.last_modified = 0, None, None
            store.put_fetch_state(state)
        store.commit()
    report = run_publish(config)
    assert report.sources is not None and report.sources.fetched == 1
    assert report.sources.updated_entries == 0 and feed.read_bytes() == first
