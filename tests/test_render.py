"""Unit tests for seedfeed.render: Atom/RSS output and atomic writes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import feedparser
import pytest
from lxml import etree

from seedfeed.formats import ATOM_SUFFIX, RSS_SUFFIX
from seedfeed.model import Entry
from seedfeed.render import FeedMeta, render_feeds

BASE = "https://ex.com/feeds/"
FALLBACK = datetime(2020, 1, 1, tzinfo=UTC)
NS = {
    "a": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}

LINKED = Entry(
    id="https://ex.com/story",
    title="Linked <script>alert(1)</script> & co",
    link="https://ex.com/story",
    authors=("Ann Lee", "Bob Ray"),
    published=datetime(2021, 4, 12, 10, tzinfo=UTC),
    updated=datetime(2021, 4, 13, 9, tzinfo=UTC),
    content_html="<p>Body <b>bold</b></p>",
    summary="A summary.",
    tags=("iran", "news"),
    origin="story.txt",
)
UNLINKED = Entry(
    id="urn:uuid:6f1a2c8e-1111-5222-8333-444455556666",
    title="No link",
    link="",
    authors=(),
    published=datetime(2021, 4, 10, tzinfo=UTC),
    updated=datetime(2021, 4, 11, tzinfo=UTC),
    content_html="<p>Only text.</p>",
    summary="",
    origin="nolink.txt",
)


def _meta(**kwargs: str) -> FeedMeta:
    values = {"name": "all", "title": "My Feed", "base_url": BASE, "author": "Site Owner"}
    values.update(kwargs)
    return FeedMeta(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def output() -> dict[str, bytes]:
    return render_feeds(_meta(), [LINKED, UNLINKED], FALLBACK)


@pytest.fixture(scope="module")
def atom(output: dict[str, bytes]) -> etree._Element:
    return etree.fromstring(output["all.atom.xml"])


@pytest.fixture(scope="module")
def rss(output: dict[str, bytes]) -> etree._Element:
    return etree.fromstring(output["all.rss.xml"])


def test_file_names(output: dict[str, bytes]) -> None:
    assert set(output) == {"all" + ATOM_SUFFIX, "all" + RSS_SUFFIX}
    assert FeedMeta("news", "t", BASE, "a").url(ATOM_SUFFIX) == BASE + "news.atom.xml"


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml"])
def test_feedparser_no_bozo(output: dict[str, bytes], name: str) -> None:
    parsed = feedparser.parse(output[name])
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "My Feed"
    assert len(parsed.entries) == 2
    first, second = parsed.entries
    assert first.title == LINKED.title
    assert first.link == LINKED.link
    assert first.id == LINKED.id
    assert second.id == UNLINKED.id
    assert [t.term for t in first.tags] == ["iran", "news"]


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml"])
def test_xml_declaration_utf8(output: dict[str, bytes], name: str) -> None:
    assert output[name].startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


class TestAtom:
    def test_self_link(self, atom: etree._Element) -> None:
        (self_link,) = atom.xpath("a:link[@rel='self']", namespaces=NS)
        assert self_link.get("href") == BASE + "all.atom.xml"
        assert self_link.get("type") == "application/atom+xml"

    def test_alternate_link(self, atom: etree._Element) -> None:
        (alt,) = atom.xpath("a:link[@rel='alternate']", namespaces=NS)
        assert alt.get("href") == BASE

    def test_feed_id(self, atom: etree._Element) -> None:
        assert atom.findtext("a:id", namespaces=NS) == BASE + "all.atom.xml"

    def test_updated_is_newest_entry(self, atom: etree._Element) -> None:
        assert atom.findtext("a:updated", namespaces=NS) == "2021-04-13T09:00:00+00:00"

    def test_entries_in_order(self, atom: etree._Element) -> None:
        ids = atom.xpath("a:entry/a:id/text()", namespaces=NS)
        assert ids == [LINKED.id, UNLINKED.id]

    def test_title_is_text(self, atom: etree._Element) -> None:
        (title,) = atom.xpath("a:entry[1]/a:title", namespaces=NS)
        assert title.text == LINKED.title
        assert len(title) == 0  # no child elements: the <script> stayed text

    def test_entry_fields(self, atom: etree._Element) -> None:
        (entry,) = atom.xpath("a:entry[1]", namespaces=NS)
        assert entry.xpath("a:author/a:name/text()", namespaces=NS) == ["Ann Lee", "Bob Ray"]
        assert entry.findtext("a:published", namespaces=NS) == "2021-04-12T10:00:00+00:00"
        assert entry.findtext("a:updated", namespaces=NS) == "2021-04-13T09:00:00+00:00"
        content = entry.find("a:content", namespaces=NS)
        assert content.get("type") == "html"
        assert content.text == LINKED.content_html
        assert entry.findtext("a:summary", namespaces=NS) == "A summary."
        (link,) = entry.xpath("a:link", namespaces=NS)
        assert link.get("href") == LINKED.link
        assert link.get("rel", "alternate") == "alternate"

    def test_unlinked_entry_has_no_link(self, atom: etree._Element) -> None:
        (entry,) = atom.xpath("a:entry[2]", namespaces=NS)
        assert entry.xpath("a:link", namespaces=NS) == []
        assert entry.xpath("a:summary", namespaces=NS) == []


class TestRss:
    def test_self_link(self, rss: etree._Element) -> None:
        (self_link,) = rss.xpath("channel/a:link[@rel='self']", namespaces=NS)
        assert self_link.get("href") == BASE + "all.rss.xml"
        assert self_link.get("type") == "application/rss+xml"

    def test_channel_link_is_site(self, rss: etree._Element) -> None:
        assert rss.xpath("channel/link/text()") == [BASE]

    def test_guid_permalink(self, rss: etree._Element) -> None:
        guids = rss.xpath("channel/item/guid")
        assert [g.text for g in guids] == [LINKED.id, UNLINKED.id]
        assert guids[0].get("isPermaLink") == "true"
        assert guids[1].get("isPermaLink") == "false"

    def test_guid_not_permalink_when_id_differs_from_link(self) -> None:
        entry = dataclasses.replace(LINKED, id="https://ex.com/other")
        rss = etree.fromstring(render_feeds(_meta(), [entry], FALLBACK)["all.rss.xml"])
        (guid,) = rss.xpath("channel/item/guid")
        assert guid.get("isPermaLink") == "false"

    def test_dc_creator(self, rss: etree._Element) -> None:
        first, second = rss.xpath("channel/item")
        assert first.xpath("dc:creator/text()", namespaces=NS) == ["Ann Lee", "Bob Ray"]
        # without authors the site author is credited
        assert second.xpath("dc:creator/text()", namespaces=NS) == ["Site Owner"]

    def test_no_creator_without_any_author(self) -> None:
        out = render_feeds(_meta(author=""), [UNLINKED], FALLBACK)
        rss = etree.fromstring(out["all.rss.xml"])
        assert rss.xpath("//dc:creator", namespaces=NS) == []
        assert not feedparser.parse(out["all.rss.xml"]).bozo

    def test_dates(self, rss: etree._Element) -> None:
        assert rss.findtext("channel/lastBuildDate") == "Tue, 13 Apr 2021 09:00:00 +0000"
        assert rss.xpath("channel/item/pubDate/text()") == [
            "Mon, 12 Apr 2021 10:00:00 +0000",
            "Sat, 10 Apr 2021 00:00:00 +0000",
        ]

    def test_content_encoded(self, rss: etree._Element) -> None:
        (first,) = rss.xpath("channel/item[1]")
        assert first.findtext("content:encoded", namespaces=NS) == LINKED.content_html
        assert first.findtext("description") == "A summary."

    def test_item_link_only_when_linked(self, rss: etree._Element) -> None:
        first, second = rss.xpath("channel/item")
        assert first.findtext("link") == LINKED.link
        assert second.find("link") is None


class TestFeedLevel:
    def test_empty_feed_uses_fallback(self) -> None:
        out = render_feeds(_meta(), [], FALLBACK)
        atom = etree.fromstring(out["all.atom.xml"])
        rss = etree.fromstring(out["all.rss.xml"])
        assert atom.findtext("a:updated", namespaces=NS) == "2020-01-01T00:00:00+00:00"
        assert rss.findtext("channel/lastBuildDate") == "Wed, 01 Jan 2020 00:00:00 +0000"
        assert atom.xpath("a:entry", namespaces=NS) == []
        for data in out.values():
            assert not feedparser.parse(data).bozo

    def test_updated_is_max_not_first(self) -> None:
        newer = dataclasses.replace(UNLINKED, updated=datetime(2022, 1, 1, tzinfo=UTC))
        out = render_feeds(_meta(), [LINKED, newer], FALLBACK)
        atom = etree.fromstring(out["all.atom.xml"])
        assert atom.findtext("a:updated", namespaces=NS) == "2022-01-01T00:00:00+00:00"

    def test_updated_never_now(self) -> None:
        out = render_feeds(_meta(), [UNLINKED], datetime(2030, 1, 1, tzinfo=UTC))
        atom = etree.fromstring(out["all.atom.xml"])
        assert atom.findtext("a:updated", namespaces=NS) == "2021-04-11T00:00:00+00:00"
        rss = etree.fromstring(out["all.rss.xml"])
        assert rss.findtext("channel/lastBuildDate") == "Sun, 11 Apr 2021 00:00:00 +0000"

    def test_deterministic(self) -> None:
        first = render_feeds(_meta(), [LINKED, UNLINKED], FALLBACK)
        second = render_feeds(_meta(), [LINKED, UNLINKED], FALLBACK)
        assert first == second

    def test_other_feed_name(self) -> None:
        out = render_feeds(_meta(name="iran", base_url="https://ex.com/"), [LINKED], FALLBACK)
        assert set(out) == {"iran.atom.xml", "iran.rss.xml"}
        atom = etree.fromstring(out["iran.atom.xml"])
        rss = etree.fromstring(out["iran.rss.xml"])
        assert atom.xpath("a:link[@rel='self']/@href", namespaces=NS) == [
            "https://ex.com/iran.atom.xml"
        ]
        assert rss.xpath("channel/a:link[@rel='self']/@href", namespaces=NS) == [
            "https://ex.com/iran.rss.xml"
        ]

    def test_language_and_description(self) -> None:
        out = render_feeds(_meta(language="en", description="About"), [LINKED], FALLBACK)
        rss = etree.fromstring(out["all.rss.xml"])
        assert rss.findtext("channel/language") == "en"
        assert rss.findtext("channel/description") == "About"
        atom = etree.fromstring(out["all.atom.xml"])
        assert atom.findtext("a:subtitle", namespaces=NS) == "About"

    def test_description_defaults_to_title(self) -> None:
        rss = etree.fromstring(render_feeds(_meta(), [], FALLBACK)["all.rss.xml"])
        assert rss.findtext("channel/description") == "My Feed"
