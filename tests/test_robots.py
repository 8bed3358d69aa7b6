"""Polite to the sites it reads, and in the user's hands when one fails: robots.txt
(RFC 9309) for sources, announced pages and enrich; ``seedfeed refresh``; a dead link
on a listing tried again on its own, without the listing losing its validators. Through
the command line, against pytest-httpserver on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from helpers import atom_titles, invoke, make_project, seed_text
from seedfeed import sources as sources_module
from seedfeed.config import FetchSettings, load_config
from seedfeed.harvest import SourceRun, refresh_sources
from seedfeed.sources import load_sources
from seedfeed.status import status
from seedfeed.store import RobotsRecord, open_store
from seedfeed.web import fetch as fetch_module
from seedfeed.web.fetch import HOST_FAILURES, Fetcher
from seedfeed.web.robots import DISALLOWED, FRESH, STALE_USE, Robots

FETCH = "[fetch]\nallow_private = true\nread_timeout = 2\ndeadline = 5\n"
HTML = "text/html; charset=utf-8"


def _page(title: str) -> str:
    text = "".join(f"<p>{title}: paragraph {i} has words enough to be read as text.</p>"
                   for i in range(4))  # fmt: skip
    head = f"<html><head><title>{title}</title></head>"
    return f"{head}<body><article><h1>{title}</h1>{text}</article></body></html>"


def _listing(*paths: str) -> str:
    links = "".join(f'<article><h2><a href="{p}">{p}</a></h2></article>' for p in paths)
    return f"<html><body>{links}</body></html>"


def _project(tmp_path: Path, sources: dict[str, str], *, config: str = FETCH, **kw: str) -> Path:
    path = make_project(tmp_path, kw.get("seeds") and {"a.txt": kw["seeds"]}, extra_config=config)
    (tmp_path / "sources").mkdir()
    for name, text in sources.items():
        (tmp_path / "sources" / name).write_text(text, encoding="utf-8")
    return path


def _requests(server: HTTPServer, path: str) -> list[Request]:
    return [request for request, _ in server.log if request.path == path]


def _serve_robots(server: HTTPServer, body: str, **headers: str) -> None:
    server.clear()  # no default 404 robots.txt: this one
    server.expect_request("/robots.txt").respond_with_data(body, headers=headers)


def _publish(config: Path, *args: str) -> tuple[int, list[str]]:
    result = invoke(["publish", "-c", str(config), *args])
    return result.exit_code, [line for line in result.stderr.splitlines() if line.strip()]


# --- robots.txt -------------------------------------------------------------------------


def test_a_disallowed_source_is_not_fetched_and_said_once(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    _serve_robots(httpserver, "User-agent: *\nDisallow: /\n")
    httpserver.expect_request("/news").respond_with_data(_listing("/a"), content_type=HTML)
    url = httpserver.url_for("/news")
    config = _project(tmp_path, {"news.toml": f'url = "{url}"\nkind = "listing"\n'})

    code, lines = _publish(config)
    assert code == 0
    assert _requests(httpserver, "/news") == [] and _requests(httpserver, "/a") == []
    said = [line for line in lines if "disallowed by robots.txt" in line]
    assert len(said) == 2, lines  # the warning, and the count in the sources line
    assert said[0].startswith(f"warning: {url}: ") and "robots = false" in said[0]
    assert "1 disallowed by robots.txt" in said[1]

    # Said once: refreshed (due again), it is still refused, silently this time.
    result = invoke(["refresh", "-c", str(config)])
    assert result.exit_code == 0
    assert not any(url in line for line in result.stderr.splitlines()), result.stderr
    assert _requests(httpserver, "/news") == []
    assert len(_requests(httpserver, "/robots.txt")) == 1  # read once a day, not a run

    status = invoke(["status", "-c", str(config)]).stdout
    assert "disallowed by robots.txt" in status
    data = json.loads(invoke(["status", "-c", str(config), "--json"]).stdout)
    assert data["sources"][0]["health"] == "disallowed"


def test_the_seedfeed_group_is_matched_and_its_rules_kept(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    # Everyone else is kept out; seedfeed only of /private/ (wildcards and $ as RFC 9309).
    _serve_robots(
        httpserver,
        "User-agent: *\nDisallow: /\n\nUser-agent: seedfeed\nDisallow: /private/\n"
        "Disallow: /*.pdf$\nAllow: /\n",
    )
    httpserver.expect_request("/news").respond_with_data(
        _listing("/open", "/private/one", "/file.pdf"), content_type=HTML
    )
    httpserver.expect_request("/open").respond_with_data(_page("Open page"), content_type=HTML)
    config = _project(
        tmp_path, {"news.toml": f'url = "{httpserver.url_for("/news")}"\nkind = "listing"\n'}
    )
    code, lines = _publish(config)
    assert code == 0
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Open page"]
    assert _requests(httpserver, "/private/one") == [] and _requests(httpserver, "/file.pdf") == []
    refused = [line for line in lines if "disallowed by robots.txt" in line and "announced" in line]
    assert len(refused) == 2, lines
    status = invoke(["status", "-c", str(config)]).stdout
    assert "/private/one" in status and "disallowed by robots.txt" in status

    # Refused pages are not a failure that repeats: said once, in the summary after.
    code, lines = _publish(config)
    assert not any("disallowed" in line and "announced by" in line for line in lines), lines


@pytest.mark.slow  # waits out real Crawl-delays
def test_crawl_delay_spaces_requests_to_the_site(tmp_path: Path, httpserver: HTTPServer) -> None:
    _serve_robots(httpserver, "User-agent: *\nCrawl-delay: 1\n")
    starts: list[float] = []

    def answer(body: str) -> Callable[[Request], Response]:
        def respond(request: Request) -> Response:
            starts.append(time.monotonic())
            return Response(body, mimetype="text/html")

        return respond

    httpserver.expect_request("/news").respond_with_handler(answer(_listing("/a", "/b", "/c")))
    for name in "abc":
        httpserver.expect_request(f"/{name}").respond_with_handler(answer(_page(f"Page {name}")))
    config = _project(
        tmp_path, {"news.toml": f'url = "{httpserver.url_for("/news")}"\nkind = "listing"\n'}
    )
    assert _publish(config)[0] == 0
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.9, gaps  # a second apart, though per_host allows two at once


def test_robots_txt_is_cached_and_asked_again_conditionally(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    seen: list[str | None] = []

    def robots(request: Request) -> Response:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"r1"':
            return Response(status=304, headers={"ETag": '"r1"'})
        return Response("User-agent: *\nDisallow: /secret\n", headers={"ETag": '"r1"'})

    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_handler(robots)
    httpserver.expect_request("/secret").respond_with_data(_page("Secret"), content_type=HTML)
    config = load_config(
        _project(tmp_path, {"s.toml": f'url = "{httpserver.url_for("/secret")}"\n'})
    )
    sources, _errors = load_sources(config.paths.sources)
    warnings: list[tuple[str, str]] = []

    def run(now: float) -> int:
        with open_store(config.paths.state) as store:
            done = refresh_sources(
                config, store, sources, lambda *w: warnings.append(w), now=now, refresh=True
            )
            store.commit()
            return done.disallowed

    start = time.time()
    assert run(start) == 1
    assert run(start + 60) == 1  # within a day: the copy in the store, no request
    assert seen == [None]
    assert run(start + FRESH + 60) == 1  # a day later: asked again, 304, the rules stand
    assert seen == [None, '"r1"']
    assert _requests(httpserver, "/secret") == []
    assert len([w for w in warnings if "disallowed" in w[1]]) == 1


def test_the_robots_txt_of_sites_not_read_for_a_month_is_forgotten(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    # The sites of a seed's old links, or of a deleted source: the store does not keep
    # their robots.txt for ever. It is pruned when a run reads one.
    _serve_robots(httpserver, "User-agent: *\nAllow: /\n")
    now = time.time()
    with open_store(tmp_path / "state.db") as store:
        store.put_robots(RobotsRecord("https://old.example", "x", None, None, now - STALE_USE - 1))
        store.put_robots(RobotsRecord("https://recent.example", "x", None, None, now - FRESH - 1))
        robots = Robots(Fetcher(FetchSettings(allow_private=True)), store, now)
        robots.prepare([httpserver.url_for("/page")])
        store.commit()
        assert store.robots("https://old.example") is None
        assert store.robots("https://recent.example") is not None
        assert store.robots(httpserver.url_for("/").rstrip("/")) is not None


@pytest.mark.parametrize("status", [500, 503])
def test_an_unreadable_robots_txt_leaves_the_site_alone(
    tmp_path: Path, httpserver: HTTPServer, status: int
) -> None:
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("down", status=status)
    httpserver.expect_request("/story").respond_with_data(_page("Story"), content_type=HTML)
    url = httpserver.url_for("/story")
    config = _project(tmp_path, {"s.toml": f'url = "{url}"\n'})
    code, lines = _publish(config)
    assert code == 0
    assert _requests(httpserver, "/story") == []
    assert any(
        line.startswith(f"warning: {url}: ") and "robots.txt cannot be read now" in line
        for line in lines
    )
    data = json.loads(invoke(["status", "-c", str(config), "--json"]).stdout)
    assert data["sources"][0]["health"] == "failing"  # backing off like any failure

    # Readable again (a 404 is "no robots.txt": everything allowed): refresh reads it.
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/story").respond_with_data(_page("Story"), content_type=HTML)
    assert invoke(["refresh", "-c", str(config)]).exit_code == 0
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Story"]


def test_robots_false_opts_out(tmp_path: Path, httpserver: HTTPServer) -> None:
    _serve_robots(httpserver, "User-agent: *\nDisallow: /\n")
    httpserver.expect_request("/story").respond_with_data(_page("Mine"), content_type=HTML)
    config = _project(
        tmp_path,
        {"s.toml": f'url = "{httpserver.url_for("/story")}"\n'},
        config=FETCH + "robots = false\n",
    )
    assert _publish(config)[0] == 0
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Mine"]
    assert _requests(httpserver, "/robots.txt") == []


def test_enrich_honours_robots_txt(tmp_path: Path, httpserver: HTTPServer) -> None:
    _serve_robots(httpserver, "User-agent: *\nDisallow: /article\n")
    httpserver.expect_request("/article").respond_with_data(_page("Page"), content_type=HTML)
    link = httpserver.url_for("/article")
    config = _project(
        tmp_path,
        {},
        config=FETCH + "[seeds]\nenrich = true\n",
        seeds=seed_text("Clipped", link=link),
    )
    code, lines = _publish(config)
    assert code == 0 and _requests(httpserver, "/article") == []
    assert any("not enriched" in line and "disallowed by robots.txt" in line for line in lines)
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Clipped"]  # published as is
    code, lines = _publish(config)
    assert not any("enriched" in line for line in lines), lines  # said once


# --- when something went wrong ------------------------------------------------------------


def test_refresh_fetches_a_backed_off_source_now(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/story").respond_with_data("broken", status=500)
    url = httpserver.url_for("/story")
    config = _project(
        tmp_path, {"story.toml": f'url = "{url}"\n', "other.toml": f'url = "{url}?x"\n'}
    )
    _code, lines = _publish(config)
    assert any(line.startswith(f"warning: {url}: ") and "next try" in line for line in lines), lines

    # Fixed on the site; a plain publish waits out the backoff, and says so and why.
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/story").respond_with_data(_page("Fixed"), content_type=HTML)
    _code, lines = _publish(config)
    assert _requests(httpserver, "/story") == []
    [standing] = [line for line in lines if "backing off" in line]
    assert "2 source URLs failing" in standing and "seedfeed refresh" in standing
    assert "next try" in standing
    status = invoke(["status", "-c", str(config)]).stdout
    assert "FAILING (1 in a row: HTTP 500" in status and "next try" in status

    # `seedfeed refresh story` fetches that one now; the other still waits.
    result = invoke(["refresh", "story", "-c", str(config)])
    assert result.exit_code == 0, result.stderr
    assert [r.query_string for r in _requests(httpserver, "/story")] == [b""]  # not other's ?x
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Fixed"]


def test_refresh_names_only_known_sources(tmp_path: Path, httpserver: HTTPServer) -> None:
    config = _project(tmp_path, {"news.toml": f'url = "{httpserver.url_for("/x")}"\n'})
    result = invoke(["refresh", "nosuch", "-c", str(config)])
    assert result.exit_code == 2
    assert "no source named nosuch (sources: news)" in result.stderr


def test_a_dead_link_on_a_listing_keeps_the_listing_conditional(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    dead = {"status": 404}

    def listing(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"L1"':
            return Response(status=304, headers={"ETag": '"L1"'})
        return Response(_listing("/good", "/dead"), mimetype="text/html", headers={"ETag": '"L1"'})

    def dead_page(request: Request) -> Response:
        if dead["status"] != 200:
            return Response("gone fishing", status=dead["status"])
        return Response(_page("Back again"), mimetype="text/html")

    httpserver.expect_request("/news").respond_with_handler(listing)
    httpserver.expect_request("/good").respond_with_data(_page("Good"), content_type=HTML)
    httpserver.expect_request("/dead").respond_with_handler(dead_page)
    config = _project(
        tmp_path,
        {"news.toml": f'url = "{httpserver.url_for("/news")}"\nkind = "listing"\n'},
    )
    _code, lines = _publish(config)
    dead_url = httpserver.url_for("/dead")
    [said] = [line for line in lines if line.startswith(f"warning: {dead_url}: ")]
    assert "HTTP 404" in said and "announced by news" in said and "next try" in said

    # The listing is asked conditionally (304), the dead page waits out its backoff, and
    # the summary still says it in one line.
    time.sleep(0.01)
    result = invoke(["refresh", "news", "-c", str(config)])  # the listing due now; the page not
    lines = result.stderr.splitlines()
    news = _requests(httpserver, "/news")
    assert len(news) == 2 and news[1].headers.get("If-None-Match") == '"L1"'
    # refresh names the source: its unread page is tried as well, and still dead (no repeat)
    assert not any(line.startswith(f"warning: {dead_url}: ") for line in lines), lines
    [standing] = [line for line in lines if "not read yet" in line]
    assert "1 announced page not read yet" in standing and dead_url in standing
    status = invoke(["status", "-c", str(config)]).stdout
    assert dead_url in status and "HTTP 404; 2 failures" in status

    _code, lines = _publish(config)  # a plain publish: not due, not asked, still said
    assert len(_requests(httpserver, "/dead")) == 2
    assert any("1 announced page not read yet" in line for line in lines)

    dead["status"] = 200  # the page is back: the next try publishes it
    assert invoke(["refresh", "-c", str(config)]).exit_code == 0
    assert sorted(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == ["Back again", "Good"]
    assert "not read yet" not in invoke(["status", "-c", str(config)]).stdout
    assert len(_requests(httpserver, "/good")) == 1  # never fetched twice


@pytest.mark.parametrize("broken", ["unreadable", "file"])
def test_a_sources_folder_that_cannot_be_listed_loses_nothing(
    tmp_path: Path, httpserver: HTTPServer, broken: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/story").respond_with_data(_page("Kept"), content_type=HTML)
    config = _project(tmp_path, {"s.toml": f'url = "{httpserver.url_for("/story")}"\n'})
    assert _publish(config)[0] == 0
    feeds = {p.name: p.read_bytes() for p in (tmp_path / "feeds").iterdir()}
    folder = tmp_path / "sources"
    if broken == "unreadable":  # EACCES: root reads any folder, so the fault is made here
        real = os.scandir

        def scandir(path: Any) -> Any:
            if Path(path) == folder:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(sources_module.os, "scandir", scandir)
    else:
        folder.rename(tmp_path / "sources.away")
        folder.write_text("not a folder")
    code, lines = _publish(config)
    if broken == "file":  # a configuration error, as for every folder of [paths]
        assert code == 2 and "sources: not a folder (paths.sources)" in lines[-1], lines
        assert "nothing published" in lines[-1]
    else:
        assert code == 1 and "sources: cannot read the folder" in lines[-1], lines
        assert "previous feeds left as they were" in lines[-1]
    assert {p.name: p.read_bytes() for p in (tmp_path / "feeds").iterdir()} == feeds
    assert "cannot read the folder" in invoke(["status", "-c", str(config)]).stdout

    monkeypatch.undo()  # back: its entries were never dropped, so nothing is new
    if broken == "file":
        folder.unlink()
        (tmp_path / "sources.away").rename(folder)
    code, lines = _publish(config)
    assert code == 0 and any("0 new and 0 updated entries" in line for line in lines), lines
    assert {p.name: p.read_bytes() for p in (tmp_path / "feeds").iterdir()} == feeds


def test_a_symlink_loop_for_a_folder_is_a_config_error(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    (tmp_path / "feeds").symlink_to(tmp_path / "feeds")
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 2
    assert "paths.feeds:" in result.stderr and "Traceback" not in result.stderr


# --- robots.txt as sites really write it ----------------------------------------------


class _Cache:
    """A robots.txt cache in memory (the store's part of ``RobotsCache``)."""

    def __init__(self) -> None:
        self.records: dict[str, RobotsRecord] = {}

    def robots(self, origin: str) -> RobotsRecord | None:
        return self.records.get(origin)

    def put_robots(self, record: RobotsRecord) -> None:
        self.records[record.origin] = record

    def forget_robots(self, before: float) -> None:
        self.records = {o: r for o, r in self.records.items() if r.fetched_at >= before}


def _robots_for(server: HTTPServer, body: bytes | str, **fetch: Any) -> Robots:
    server.clear()
    server.expect_request("/robots.txt").respond_with_data(body, content_type="text/plain")
    robots = Robots(Fetcher(FetchSettings(allow_private=True, **fetch)), _Cache())
    robots.prepare([server.url_for("/x")])
    return robots


def test_a_byte_order_mark_does_not_hide_the_first_group(httpserver: HTTPServer) -> None:
    robots = _robots_for(httpserver, "\ufeffUser-agent: *\nDisallow: /\n".encode())
    assert robots.refusal(httpserver.url_for("/private")) == DISALLOWED


@pytest.mark.parametrize("agent", ["seed", "github", "https", "seedfeedbot"])
def test_only_the_seedfeed_group_or_star_applies(httpserver: HTTPServer, agent: str) -> None:
    # Words of seedfeed's whole User-Agent ("seedfeed/0.2.0 (+https://github.com/...)")
    # name other crawlers; the product token alone is matched (RFC 9309 2.2.1).
    body = f"User-agent: {agent}\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    assert _robots_for(httpserver, body).refusal(httpserver.url_for("/page")) is None


def test_groups_for_seedfeed_are_combined(httpserver: HTTPServer) -> None:
    body = (
        "User-agent: other\nUser-agent: SeedFeed/1.0\nDisallow: /a\n\n"
        "User-agent: *\nDisallow: /\n\nUser-agent: seedfeed\nDisallow: /b\n"
    )
    robots = _robots_for(httpserver, body)
    assert robots.refusal(httpserver.url_for("/a/1")) == DISALLOWED
    assert robots.refusal(httpserver.url_for("/b/1")) == DISALLOWED
    assert robots.refusal(httpserver.url_for("/c")) is None  # * does not apply to seedfeed


def test_a_robots_txt_past_max_bytes_is_read_that_far(httpserver: HTTPServer) -> None:
    body = "User-agent: *\nDisallow: /private\n" + "# filler\n" * 20_000  # 180 KB
    robots = _robots_for(httpserver, body, max_bytes=100_000)
    assert robots.refusal(httpserver.url_for("/public")) is None
    assert robots.refusal(httpserver.url_for("/private")) == DISALLOWED


def test_a_robots_txt_redirecting_in_a_loop_allows_everything(httpserver: HTTPServer) -> None:
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data(
        "", status=301, headers={"Location": "/robots.txt"}
    )
    robots = Robots(Fetcher(FetchSettings(allow_private=True)), _Cache())
    assert robots.refusal(httpserver.url_for("/page")) is None  # RFC 9309 2.3.1.2


# --- Crawl-delay: spaced, never a worker asleep, never an endless run -------------------


@pytest.mark.slow  # waits out real Crawl-delays
def test_a_crawl_delay_does_not_hold_back_another_site(httpserver: HTTPServer) -> None:
    other = HTTPServer(host="127.0.0.1")
    other.start()
    try:
        httpserver.expect_request("/p").respond_with_data("ok", content_type="text/plain")
        other.expect_request("/q").respond_with_data("ok", content_type="text/plain")
        fetcher = Fetcher(FetchSettings(allow_private=True, concurrency=2, per_host=2))
        fetcher.space(httpserver.url_for("/"), 1.0)
        jobs = [(f"a{i}", httpserver.url_for(f"/p?{i}"), None) for i in range(3)]
        started = time.monotonic()
        when = {
            key: time.monotonic() - started
            for key, _ in fetcher.fetch_many([*jobs, ("b", other.url_for("/q"), None)])
        }
        fetcher.close()
        assert when["b"] < 0.9, when  # not behind a1..a3, which wait their slots
        assert sorted(when[f"a{i}"] for i in range(3))[-1] >= 2.9, when
    finally:
        other.stop()


def test_closing_fetch_many_does_not_wait_out_a_crawl_delay(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/p").respond_with_data("ok", content_type="text/plain")
    fetcher = Fetcher(FetchSettings(allow_private=True))
    fetcher.space(httpserver.url_for("/"), 5.0)
    results = fetcher.fetch_many([(i, httpserver.url_for(f"/p?{i}"), None) for i in range(4)])
    started = time.monotonic()
    threading.Timer(0.3, fetcher.close).start()  # Ctrl-C, or the daemon stopping
    assert list(results) == []
    assert time.monotonic() - started < 2.0


@pytest.mark.slow  # waits out real Crawl-delays
def test_a_long_crawl_delay_leaves_pages_for_later_runs(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_module, "SPACING_BUDGET", 0.6)  # 60 s in a real run
    _serve_robots(httpserver, "User-agent: *\nCrawl-delay: 0.4\n")
    httpserver.expect_request("/news").respond_with_data(
        _listing(*(f"/p{i}" for i in range(5))), content_type=HTML
    )
    for i in range(5):
        httpserver.expect_request(f"/p{i}").respond_with_data(_page(f"Page {i}"), content_type=HTML)
    url = httpserver.url_for("/news")
    config = _project(tmp_path, {"news.toml": f'url = "{url}"\nkind = "listing"\n'})
    started = time.monotonic()
    code, lines = _publish(config)
    assert code == 0 and time.monotonic() - started < 10
    fetched = len(atom_titles(tmp_path / "feeds" / "all.atom.xml"))
    assert 1 <= fetched < 5, lines
    assert not any(line.startswith("warning: http") for line in lines), lines  # no failure
    for _ in range(5):  # each run reads the next pages, without a warning or a backoff
        code, lines = _publish(config)
        if len(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == 5:
            break
    assert len(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == 5
    assert "not read yet" not in invoke(["status", "-c", str(config)]).stdout


# --- a host that does not answer ------------------------------------------------------


def test_pages_of_a_host_that_does_not_answer_wait_for_the_next_run(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    # A feed of six pages on a host that refuses every connection (a closed port):
    # three refusals in a row, and the other three are not asked, but said in one line
    # and left for the next run, without a failure or a backoff.
    with socket.create_server(("127.0.0.1", 0)) as probe:
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    pages = [f"{down}/p{i}" for i in range(6)]
    items = "".join(f"<item><title>{p}</title><link>{p}</link></item>" for p in pages)
    rss = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'
    )
    httpserver.expect_request("/news").respond_with_data(rss, content_type="application/rss+xml")
    url = httpserver.url_for("/news")
    config = _project(
        tmp_path,
        {"news.toml": f'url = "{url}"\nkind = "feed"\nfull_text = true\n'},
        config=FETCH + "per_host = 1\nrobots = false\n",
    )
    _code, lines = _publish(config)
    refused = [p for p in pages if f"warning: {p}: connection refused (announced by news" in
               "\n".join(lines)]  # fmt: skip
    assert refused == pages[:HOST_FAILURES], lines
    assert f"warning: {down}: gave no answer to 3 requests in a row; 3 more pages not " \
           "fetched in this run (tried on the next)" in lines  # fmt: skip

    # Said once: not again in the line of pages not read yet.
    assert not any("not read yet" in line for line in lines), lines

    _code, lines = _publish(config)  # the three not asked are due; the others back off
    said = "\n".join(lines)
    assert [p for p in pages if f"warning: {p}: " in said] == pages[HOST_FAILURES:], lines

    # Every page asked for: the first three are refused again, the other three are left
    # unsent this time, and keep their failure as it was (no flip to "not fetched").
    invoke(["refresh", "news", "-c", str(config)])
    status = json.loads(invoke(["status", "-c", str(config), "--json"]).stdout)
    unread = {page["url"]: (page["reason"], page["failures"]) for page in status["unread_pages"]}
    assert unread == {
        **{p: ("connection refused", 2) for p in pages[:HOST_FAILURES]},
        **{p: ("connection refused", 1) for p in pages[HOST_FAILURES:]},
    }


def test_seeds_of_a_host_that_does_not_answer_are_enriched_on_a_later_run(
    tmp_path: Path,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    links = [f"{down}/a{i}" for i in range(5)]
    seeds = {f"s{i}.txt": seed_text(f"Clip {i}", link=link) for i, link in enumerate(links)}
    extra = FETCH + "per_host = 1\nconcurrency = 1\nrobots = false\n[seeds]\nenrich = true\n"
    config = make_project(tmp_path, seeds, extra_config=extra)
    _code, lines = _publish(config)
    said = "\n".join(lines)
    failed = [link for link in links if f"not enriched: {link}: connection refused" in said]
    assert len(failed) == HOST_FAILURES, lines
    assert f"warning: {down}: gave no answer to 3 requests in a row; 2 more seeds not " \
           "enriched in this run (tried on the next)" in lines  # fmt: skip
    assert len(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == 5  # published as they are

    _code, lines = _publish(config)  # the two not asked are tried; the others are not
    said = "\n".join(lines)
    assert sorted(link for link in links if f"not enriched: {link}:" in said) == sorted(
        set(links) - set(failed)
    ), lines


# --- what the review found about pages not read yet, refresh and opting out -------------


def _due_now(config: Path) -> None:
    """Make every source due, as its schedule would."""
    with open_store(load_config(config).paths.state) as store:
        for state in store.fetch_states():
            state.next_fetch = 0
            store.put_fetch_state(state)
        store.commit()


def test_a_dead_link_waits_its_backoff_when_the_listing_changes(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    version = {"n": 0}

    def listing(_request: Request) -> Response:
        version["n"] += 1  # a busy listing: a new article every run, never a 304
        return Response(_listing("/dead", f"/new{version['n']}"), mimetype="text/html")

    httpserver.expect_request("/news").respond_with_handler(listing)
    httpserver.expect_request("/dead").respond_with_data("nope", status=404)
    for n in range(1, 4):
        httpserver.expect_request(f"/new{n}").respond_with_data(
            _page(f"New {n}"), content_type=HTML
        )
    url = httpserver.url_for("/news")
    config = _project(tmp_path, {"news.toml": f'url = "{url}"\nkind = "listing"\n'})
    assert _publish(config)[0] == 0
    _due_now(config)
    assert _publish(config)[0] == 0
    assert len(_requests(httpserver, "/news")) == 2 and len(_requests(httpserver, "/dead")) == 1
    assert sorted(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == ["New 1", "New 2"]


def test_a_disabled_sources_pages_are_not_promised_a_retry(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/news").respond_with_data(_listing("/dead"), content_type=HTML)
    httpserver.expect_request("/dead").respond_with_data("nope", status=404)
    url = httpserver.url_for("/news")
    config = _project(tmp_path, {"news.toml": f'url = "{url}"\nkind = "listing"\n'})
    _publish(config)
    assert "/dead" in invoke(["status", "-c", str(config)]).stdout
    (tmp_path / "sources" / "news.toml").write_text(
        f'url = "{url}"\nkind = "listing"\nenabled = false\n'
    )
    _code, lines = _publish(config)
    assert not any("not read yet" in line for line in lines)
    assert "/dead" not in invoke(["status", "-c", str(config)]).stdout
    result = invoke(["refresh", "news", "-c", str(config)])
    assert result.exit_code == 2 and "news: disabled in its file" in result.stderr


def test_disallowed_after_failing_is_disallowed_not_failing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/story").respond_with_data("down", status=500)
    url = httpserver.url_for("/story")
    config = load_config(_project(tmp_path, {"s.toml": f'url = "{url}"\n'}))
    sources, _errors = load_sources(config.paths.sources)
    start = time.time()

    def run(now: float) -> SourceRun:
        with open_store(config.paths.state) as store:
            done = refresh_sources(config, store, sources, lambda *w: None, now=now)
            store.commit()
            return done

    run(start)  # HTTP 500: failing, backing off
    _serve_robots(httpserver, "User-agent: *\nDisallow: /\n")  # a day later: disallowed
    assert run(start + FRESH + 1).disallowed == 1
    assert run(start + FRESH + 2).backing_off == []
    assert status(config, now=start + FRESH + 2)["sources"][0]["health"] == "disallowed"


def test_robots_false_takes_effect_on_the_next_publish(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    _serve_robots(httpserver, "User-agent: *\nDisallow: /\n")
    httpserver.expect_request("/news").respond_with_data(_listing("/a"), content_type=HTML)
    httpserver.expect_request("/story").respond_with_data(_page("Mine"), content_type=HTML)
    httpserver.expect_request("/a").respond_with_data(_page("Announced"), content_type=HTML)
    config = _project(
        tmp_path,
        {
            "s.toml": f'url = "{httpserver.url_for("/story")}"\n',
            "news.toml": f'url = "{httpserver.url_for("/news")}"\nkind = "listing"\n',
        },
    )
    _publish(config)
    assert not (tmp_path / "feeds" / "all.atom.xml").read_text().count("<entry>")
    config.write_text(config.read_text().replace("[fetch]\n", "[fetch]\nrobots = false\n"))
    assert _publish(config)[0] == 0
    assert sorted(atom_titles(tmp_path / "feeds" / "all.atom.xml")) == ["Announced", "Mine"]


def test_enrich_waits_for_a_robots_txt_that_cannot_be_read_now(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("busy", status=503)
    link = httpserver.url_for("/article")
    config = _project(
        tmp_path, {}, config=FETCH + "[seeds]\nenrich = true\n", seeds=seed_text("Clip", link=link)
    )
    _code, lines = _publish(config)
    [said] = [line for line in lines if "robots.txt" in line]
    assert "cannot be read now; 1 seed not enriched yet" in said
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/article").respond_with_data(_page("Page"), content_type=HTML)
    _publish(config)
    assert len(_requests(httpserver, "/article")) == 1


def test_check_fetches_nothing(tmp_path: Path, httpserver: HTTPServer) -> None:
    config = _project(
        tmp_path,
        {"s.toml": f'url = "{httpserver.url_for("/story")}"\n'},
        config=FETCH + "[seeds]\nenrich = true\n",
        seeds=seed_text("Clip", link=httpserver.url_for("/article")),
    )
    assert invoke(["check", "-c", str(config)]).exit_code == 0
    assert httpserver.log == []


def test_refresh_reads_a_gone_source_again(tmp_path: Path, httpserver: HTTPServer) -> None:
    gone = {"yes": True}

    def story(_request: Request) -> Response:
        if gone["yes"]:
            return Response("gone", status=410)
        return Response(_page("Back"), mimetype="text/html")

    httpserver.expect_request("/story").respond_with_handler(story)
    config = _project(tmp_path, {"s.toml": f'url = "{httpserver.url_for("/story")}"\n'})
    _publish(config)
    assert (
        json.loads(invoke(["status", "-c", str(config), "--json"]).stdout)["sources"][0]["health"]
        == "gone"
    )
    gone["yes"] = False
    assert invoke(["refresh", "s", "-c", str(config)]).exit_code == 0
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Back"]
