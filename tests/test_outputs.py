"""The outputs beside the Atom and RSS files: JSON Feed, index.html, feeds.opml, and
WebSub (hub links in every feed, a publish ping when feeds change)."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import lxml.html
import pytest
from lxml import etree
from pytest_httpserver import HTTPServer

from helpers import (
    BASE_URL,
    NS,
    T0,
    atom_entries,
    invoke,
    make_project,
    parse_feed,
    run_publish,
    seed_text,
    snapshot,
    write_seed,
    xml,
)
from seedfeed.config import ConfigError, load_config
from seedfeed.model import Entry
from seedfeed.render import (
    FeedMeta,
    FeedSummary,
    render_index,
    render_json_feed,
    render_opml,
)
from seedfeed.web.websub import ping_hub

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
FORMATS = {
    "application/atom+xml": ".atom.xml",
    "application/rss+xml": ".rss.xml",
    "application/feed+json": ".json",
}
SCIENCE = '[feeds.science]\ntitle = "Science only"\ninclude = ["science/*"]\n'
HOSTILE_TITLE = "<script>alert(1)</script> & co"


def _seeds() -> dict[str, str]:
    return {
        "a.txt": seed_text("Alpha", link="https://example.org/a", author="Ann Lee"),
        "b.txt": seed_text("Beta — café", published="2024-01-02"),
        "science/c.txt": seed_text("Comet <b>tail</b>", published="2024-01-03"),
        "d.md": "---\ntitle: Delta\ndate: 2024-01-04\ntags: [x, y]\n---\n\nSome *Markdown*.\n",
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A published project with the default feed and a named one."""
    config = make_project(tmp_path, _seeds(), extra_config=SCIENCE)
    report = run_publish(config)
    assert report.skipped == []
    return tmp_path


def _json(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    assert data.endswith(b"}\n")
    return json.loads(data)


# --- JSON Feed -------------------------------------------------------------------------


def _check_json_feed(feed: dict[str, Any]) -> None:
    """Structural validation against https://jsonfeed.org/version/1.1."""
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    for key in ("home_page_url", "feed_url", "description", "language"):
        assert isinstance(feed.get(key, ""), str)
    for author in feed.get("authors", []):
        assert isinstance(author, dict) and isinstance(author["name"], str)
    for hub in feed.get("hubs", []):
        assert set(hub) == {"type", "url"} and all(isinstance(v, str) for v in hub.values())
    assert isinstance(feed["items"], list)
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item
        for key in ("url", "title", "content_html", "content_text", "summary"):
            assert isinstance(item.get(key, ""), str)
        for key in ("date_published", "date_modified"):
            assert RFC3339.match(item[key]), item[key]
        for author in item.get("authors", []):
            assert isinstance(author["name"], str)
        assert all(isinstance(tag, str) for tag in item.get("tags", []))


def test_json_feed_is_structurally_valid(project: Path) -> None:
    feeds = project / "feeds"
    for name, count in (("all", 4), ("science", 1)):
        feed = _json(feeds / f"{name}.json")
        _check_json_feed(feed)
        assert feed["home_page_url"] == BASE_URL
        assert feed["feed_url"] == f"{BASE_URL}{name}.json"
        assert len(feed["items"]) == count
        assert "hubs" not in feed
    feed = _json(feeds / "all.json")
    by_title = {item["title"]: item for item in feed["items"]}
    assert by_title["Alpha"]["url"] == "https://example.org/a"
    assert by_title["Alpha"]["authors"] == [{"name": "Ann Lee"}]
    assert by_title["Delta"]["tags"] == ["x", "y"]
    assert "Beta — café" in (feeds / "all.json").read_text(encoding="utf-8")  # not \\u escapes


def test_json_feed_matches_atom(project: Path) -> None:
    """Same entries, same order, same ids, same instants as the Atom feed."""
    feeds = project / "feeds"
    for name in ("all", "science"):
        atom = [
            (
                e.findtext("atom:id", None, NS),
                e.findtext("atom:title", None, NS),
                datetime.fromisoformat(e.findtext("atom:published", "", NS)),
                datetime.fromisoformat(e.findtext("atom:updated", "", NS)),
            )
            for e in atom_entries(feeds / f"{name}.atom.xml")
        ]
        items = _json(feeds / f"{name}.json")["items"]
        ours = [
            (
                item["id"],
                item["title"],
                datetime.fromisoformat(item["date_published"]),
                datetime.fromisoformat(item["date_modified"]),
            )
            for item in items
        ]
        assert ours == atom
        assert all(d.tzinfo is not None for row in ours for d in row[2:])
        # The RSS guids are the same ids too.
        rss = parse_feed(feeds / f"{name}.rss.xml")
        assert [entry.id for entry in rss.entries] == [row[0] for row in atom]


def test_json_item_without_body_has_content_text() -> None:
    entry = Entry(
        id="urn:x",
        title="t",
        link="",
        authors=(),
        published=datetime(2021, 1, 1, tzinfo=UTC),
        updated=datetime(2021, 1, 1, tzinfo=UTC),
        content_html="",
        summary="Only a summary.",
    )
    meta = FeedMeta("all", "T", BASE_URL, "Me")
    feed = json.loads(render_json_feed(meta, [entry]))
    _check_json_feed(feed)
    assert feed["items"][0]["content_text"] == "Only a summary."
    assert "url" not in feed["items"][0]


# --- index.html and feeds.opml --------------------------------------------------------


def test_index_has_autodiscovery_for_every_feed_and_format(project: Path) -> None:
    page = lxml.html.fromstring((project / "feeds" / "index.html").read_bytes())
    found = sorted(
        (link.get("type"), link.get("href")) for link in page.xpath("//head/link[@rel='alternate']")
    )
    expected = sorted(
        (mime, f"{BASE_URL}{name}{suffix}")
        for name in ("all", "science")
        for mime, suffix in FORMATS.items()
    )
    assert found == expected
    titles = page.xpath("//head/link[@rel='alternate']/@title")
    assert "Science only (Atom)" in titles
    # Subscribe links in the body, and the OPML list.
    body_links = page.xpath("//body//a/@href")
    articles = set(page.xpath("//body//article//a/@href"))
    assert set(body_links) - articles == {href for _, href in expected} | {BASE_URL + "feeds.opml"}
    # Self-contained: nothing loaded from anywhere.
    assert page.xpath("//script | //img | //iframe | //link[@rel!='alternate'] | //*[@src]") == []


def test_index_and_opml_escape_hostile_titles(tmp_path: Path) -> None:
    config = make_project(tmp_path, _seeds(), title=HOSTILE_TITLE, extra_config=SCIENCE)
    run_publish(config)
    raw = (tmp_path / "feeds" / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in raw
    page = lxml.html.fromstring(raw)
    assert page.xpath("//script") == []
    assert page.findtext(".//title") == HOSTILE_TITLE
    assert page.findtext(".//h1") == HOSTILE_TITLE
    opml = etree.fromstring((tmp_path / "feeds" / "feeds.opml").read_bytes())
    assert opml.findtext("head/title") == HOSTILE_TITLE
    assert opml.find("body/outline").get("title") == HOSTILE_TITLE


def test_index_is_valid_html5_shape() -> None:
    meta = FeedMeta("all", 'Quote " and <tag>', BASE_URL, "Me", description="A & B")
    summaries = [
        FeedSummary(meta, 1, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        FeedSummary(FeedMeta("empty", "Nothing yet", BASE_URL, "Me"), 0, None),
    ]
    data = render_index("Site", BASE_URL, summaries, language="en")
    assert data.startswith(b'<!DOCTYPE html>\n<html lang="en">')
    assert data == render_index("Site", BASE_URL, summaries, language="en")
    page = lxml.html.fromstring(data)
    assert page.find("head/meta").get("charset") == "utf-8"
    assert page.xpath("//time/@datetime") == ["2024-01-02T03:04:05+00:00"]
    text = page.text_content()
    assert "1 entry, updated 2024-01-02" in text and "0 entries" in text
    assert "A & B" in text
    assert page.xpath("//head/link/@title")[0] == 'Quote " and <tag> (Atom)'


def test_opml_lists_every_feed(project: Path) -> None:
    opml = etree.fromstring((project / "feeds" / "feeds.opml").read_bytes())
    assert opml.tag == "opml" and opml.get("version") == "2.0"
    assert opml.findtext("head/title") == "Test clippings"
    assert opml.find("head/dateCreated") is None
    outlines = opml.findall("body/outline")
    assert [(o.get("type"), o.get("xmlUrl"), o.get("htmlUrl")) for o in outlines] == [
        ("rss", BASE_URL + "all.atom.xml", BASE_URL),
        ("rss", BASE_URL + "science.atom.xml", BASE_URL),
    ]
    assert [(o.get("text"), o.get("title")) for o in outlines] == [
        ("Test clippings", "Test clippings"),
        ("Science only", "Science only"),
    ]


def test_opml_is_deterministic() -> None:
    feeds = [FeedSummary(FeedMeta("all", "A & B", BASE_URL, "Me"), 3, None)]
    assert render_opml("S", BASE_URL, feeds) == render_opml("S", BASE_URL, feeds)


# --- determinism ------------------------------------------------------------------------


def test_second_publish_rewrites_nothing(project: Path) -> None:
    feeds = project / "feeds"
    before = snapshot(feeds)
    assert {"all.json", "science.json", "index.html", "feeds.opml"} <= set(before)
    report = run_publish(project / "config.toml")
    assert report.written == []
    assert "index.html" in report.unchanged_files
    assert snapshot(feeds) == before  # bytes and mtimes


def test_fresh_state_renders_the_same_extra_outputs(project: Path, tmp_path: Path) -> None:
    """Nothing in the new files comes from the clock: a second project made from the same
    seeds (same mtimes) publishes identical bytes."""
    other = make_project(tmp_path / "other", _seeds(), extra_config=SCIENCE)
    run_publish(other)
    for name in ("all.json", "science.json", "index.html", "feeds.opml"):
        assert (project / "feeds" / name).read_bytes() == (
            tmp_path / "other" / "feeds" / name
        ).read_bytes()


def test_new_seed_rewrites_only_what_it_changes(project: Path) -> None:
    write_seed(project / "seeds", "e.txt", seed_text("Echo", published="2024-02-01"), T0 + 50)
    report = run_publish(project / "config.toml")
    assert {"all.atom.xml", "all.rss.xml", "all.json", "index.html"} <= set(report.written)
    # science did not change, and the OPML lists the same feeds.
    assert "science.json" in report.unchanged_files
    assert "feeds.opml" in report.unchanged_files


def test_check_writes_no_extra_outputs(tmp_path: Path) -> None:
    config = make_project(tmp_path, _seeds())
    run_publish(config, dry_run=True)
    assert not (tmp_path / "feeds").exists() or list((tmp_path / "feeds").iterdir()) == []


# --- WebSub -------------------------------------------------------------------------------


def _hub_config(tmp_path: Path, hub: str) -> Path:
    return make_project(tmp_path, _seeds(), extra_config=f'{SCIENCE}[websub]\nhub = "{hub}"\n')


def _pings(httpserver: HTTPServer) -> list[tuple[str, str]]:
    """(hub.mode, hub.url) of every request the hub stub received, in order."""
    pings = []
    for request, _ in httpserver.log:
        assert request.method == "POST"
        assert request.mimetype == "application/x-www-form-urlencoded"
        form = parse_qs(request.get_data(as_text=True), strict_parsing=True)
        assert set(form) == {"hub.mode", "hub.url"}
        pings.append((form["hub.mode"][0], form["hub.url"][0]))
    return pings


def _topics(*names: str) -> list[tuple[str, str]]:
    return [
        ("publish", f"{BASE_URL}{name}{suffix}")
        for name in names
        for suffix in (".atom.xml", ".rss.xml", ".json")
    ]


def test_feeds_carry_the_hub(tmp_path: Path, httpserver: HTTPServer) -> None:
    hub = httpserver.url_for("/hub")
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    config = _hub_config(tmp_path, hub)
    assert load_config(config).websub.hub == hub
    run_publish(config)
    feeds = tmp_path / "feeds"
    for name in ("all", "science"):
        atom = xml(feeds / f"{name}.atom.xml")
        assert [ln.get("href") for ln in atom.findall("atom:link[@rel='hub']", NS)] == [hub]
        self_links = atom.findall("atom:link[@rel='self']", NS)
        assert [ln.get("href") for ln in self_links] == [f"{BASE_URL}{name}.atom.xml"]
        rss = xml(feeds / f"{name}.rss.xml")
        channel = rss.find("channel")
        assert [ln.get("href") for ln in channel.findall("atom:link[@rel='hub']", NS)] == [hub]
        # The channel <link> is still the site, not the hub (feedgen uses the last link).
        assert channel.findtext("link") == BASE_URL
        assert _json(feeds / f"{name}.json")["hubs"] == [{"type": "WebSub", "url": hub}]
        for suffix in (".atom.xml", ".rss.xml"):
            parsed = parse_feed(feeds / f"{name}{suffix}")
            assert hub in [ln.href for ln in parsed.feed.links if ln.rel == "hub"]


def test_publish_pings_the_hub_for_changed_feeds_only(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=202)
    config = _hub_config(tmp_path, httpserver.url_for("/hub"))

    first = run_publish(config)
    assert first.warnings == []
    assert _pings(httpserver) == _topics("all", "science")  # everything is new

    httpserver.clear_log()
    assert run_publish(config).written == []
    assert httpserver.log == []  # nothing changed: no ping

    write_seed(tmp_path / "seeds", "e.txt", seed_text("Echo", published="2024-02-01"), T0 + 50)
    third = run_publish(config)
    assert third.warnings == []
    assert _pings(httpserver) == _topics("all")  # science did not change


def test_check_never_pings(tmp_path: Path, httpserver: HTTPServer) -> None:
    config = _hub_config(tmp_path, httpserver.url_for("/hub"))
    run_publish(config, dry_run=True)
    assert httpserver.log == []


def test_failing_hub_gives_one_warning_and_exit_code_is_unaffected(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    hub = httpserver.url_for("/hub")
    httpserver.expect_request("/hub", method="POST").respond_with_data("no", status=500)
    config = _hub_config(tmp_path, hub)
    result = invoke(["publish", "--strict", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert len(httpserver.log) == 1  # the first failure ends the pings of this run
    assert (tmp_path / "feeds" / "all.atom.xml").is_file()

    write_seed(tmp_path / "seeds", "e.txt", seed_text("Echo", published="2024-02-01"), T0 + 50)
    report = run_publish(config)
    hub_warnings = [message for origin, message in report.warnings if origin == hub]
    assert len(hub_warnings) == 1
    assert "HTTP 500" in hub_warnings[0] and "\n" not in hub_warnings[0]
    assert report.skipped == []


def test_unreachable_hub_gives_one_warning(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    hub = f"http://127.0.0.1:{port}/hub"
    report = run_publish(_hub_config(tmp_path, hub))
    assert [origin for origin, _ in report.warnings] == [hub]
    assert "ConnectionError" in report.warnings[0][1]
    assert "5 more not sent" in report.warnings[0][1]


def test_ping_hub_never_raises() -> None:
    for hub in ("not a url", "ftp://hub.example/", "http://[::1"):
        errors = ping_hub(hub, ["https://a.example/x"], timeout=1)
        assert len(errors) == 1 and "\n" not in errors[0]
    assert ping_hub("http://hub.example/", []) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"hub.example.com"', "absolute http(s) URL"),
        ('"ftp://hub.example.com/"', "absolute http(s) URL"),
        ("3", "websub.hub must be a string"),
    ],
)
def test_websub_hub_is_validated(tmp_path: Path, value: str, message: str) -> None:
    config = make_project(tmp_path, extra_config=f"[websub]\nhub = {value}\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(config)


def test_no_websub_section_means_no_hub(tmp_path: Path) -> None:
    config = make_project(tmp_path, _seeds())
    assert load_config(config).websub.hub == ""
    run_publish(config)
    assert b'rel="hub"' not in (tmp_path / "feeds" / "all.atom.xml").read_bytes()
    assert b'rel="hub"' not in (tmp_path / "feeds" / "all.rss.xml").read_bytes()
