"""End to end on the reference seed plus the repository's bundled example project."""

from __future__ import annotations

import os
import shutil
from email.utils import parsedate_to_datetime
from pathlib import Path

import lxml.html
import pytest

from helpers import NS, REFERENCE_SEED, REPO, atom_date, atom_entry, parse_feed, snapshot, xml
from seedfeed.config import load_config
from seedfeed.pipeline import Report, publish

pytestmark = pytest.mark.skipif(
    not REFERENCE_SEED.is_file(), reason=f"reference seed not found at {REFERENCE_SEED}"
)

TITLE = "Scoop: U.S. and Israel to hold strategic Iran talks on Tuesday"
LINK = (
    "https://www.axios.com/us-israel-iran-nuclear-dialogue-natanz-explosion-"
    "cdcdf0cb-8bf9-468e-8a5e-b6d126a2066f.html"
)
SUMMARY_START = "Why it matters: The talks come two days after"
BUNDLED_TITLES = {
    "Old bakery reopens as a cooperative",
    "Library extends opening hours on weekends",
    "Town council votes to light the river path with solar lamps",
    "A small comet passes closer than the Moon",
    "Volunteers count 212 bird species in the wetland survey",
}
SCIENCE_TITLES = {
    "A small comet passes closer than the Moon",
    "Volunteers count 212 bird species in the wetland survey",
}
# The clipping has no date: its published date is the file's mtime when first seen.
SEED_MTIME = 1_618_200_000  # 2021-04-12T04:00:00Z, the day the article ran


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "config.toml", root / "config.toml")
    shutil.copytree(REPO / "seeds", root / "seeds")
    seed = root / "seeds" / REFERENCE_SEED.name
    shutil.copy(REFERENCE_SEED, seed)
    os.utime(seed, (SEED_MTIME, SEED_MTIME))
    return root


@pytest.fixture
def published(project: Path) -> tuple[Path, Report]:
    report = publish(load_config(project / "config.toml"))
    return project, report


def _content_html(project: Path) -> str:
    entry = atom_entry(project / "feeds" / "all.atom.xml", TITLE)
    content = entry.find("atom:content", NS)
    assert content is not None and content.get("type") == "html"
    return content.text or ""


def test_publish_is_clean_and_writes_every_feed(published: tuple[Path, Report]) -> None:
    project, report = published
    assert report.skipped == []
    assert report.warnings == []
    seed_count = sum(1 for p in (project / "seeds").rglob("*") if p.is_file())
    assert report.seeds == seed_count == len(BUNDLED_TITLES) + 1
    assert sorted(report.written) == [
        "all.atom.xml",
        "all.json",
        "all.rss.xml",
        "feed.xsl",
        "feeds.opml",
        "index.html",
        "science.atom.xml",
        "science.json",
        "science.rss.xml",
    ]
    assert report.entries == {"all": seed_count, "science": len(SCIENCE_TITLES)}
    assert (project / ".seedfeed" / "state.sqlite3").is_file()


def test_atom_reference_entry(published: tuple[Path, Report]) -> None:
    project, _ = published
    feed = parse_feed(project / "feeds" / "all.atom.xml")
    assert feed.version == "atom10"
    entries = [e for e in feed.entries if e.title == TITLE]
    assert len(entries) == 1
    entry = entries[0]
    assert entry.author == "Barak Ravid"
    assert [a.name for a in entry.authors] == ["Barak Ravid"]
    assert entry.link == LINK
    assert entry.id == LINK
    assert entry.summary.startswith(SUMMARY_START)
    assert "utm_" not in (project / "feeds" / "all.atom.xml").read_text(encoding="utf-8")

    raw = atom_entry(project / "feeds" / "all.atom.xml", TITLE)
    assert raw.findtext("atom:id", None, NS) == LINK
    links = raw.findall("atom:link", NS)
    # rel defaults to "alternate" in Atom; feedgen leaves it out
    assert [(ln.get("rel", "alternate"), ln.get("href")) for ln in links] == [("alternate", LINK)]
    assert atom_date(raw, "published") == SEED_MTIME
    assert atom_date(raw, "updated") == SEED_MTIME


def test_reference_content_structure(published: tuple[Path, Report]) -> None:
    project, _ = published
    html = _content_html(project)
    assert html.startswith("<p>Top national security officials from the U.S. and Israel")
    for lead in ("Why it matters:", "Detail:", "Between the lines:", "The other side:"):
        assert f"<p><strong>{lead}</strong> " in html
    assert "Content retrieved from" not in html
    assert "axios.com" not in html
    assert "Barak Ravid" not in html
    assert "author of" not in html
    assert "Tel Aviv" not in html
    assert "\u2022" not in html  # the bullets became list items
    assert "\u00a0" not in html  # the clipping's blank nbsp lines left no trace
    assert "\u201cno surprises\u201d" in html  # typographic quotes kept

    tree = lxml.html.fragment_fromstring(html, create_parent="div")
    paragraphs = tree.findall("p")
    assert len(paragraphs) == 5  # one <p> per paragraph of the clipping
    assert all(p.text_content().strip() for p in paragraphs)
    lists = tree.findall("ul")
    assert [len(ul.findall("li")) for ul in lists] == [3, 2]
    assert lists[0].findall("li")[0].text_content() == (
        "The first round of talks last month focused on intelligence surrounding "
        "Iran\u2019s nuclear program."
    )
    assert [child.tag for child in tree] == ["p", "p", "p", "ul", "p", "ul", "p"]
    assert not tree.xpath(".//script|.//*[@onerror]")


def test_rss_reference_item(published: tuple[Path, Report]) -> None:
    project, _ = published
    rss_path = project / "feeds" / "all.rss.xml"
    feed = parse_feed(rss_path)
    assert feed.version == "rss20"

    items = [i for i in xml(rss_path).findall("channel/item") if i.findtext("title") == TITLE]
    assert len(items) == 1
    item = items[0]
    assert item.findtext("link") == LINK
    guid = item.find("guid")
    assert guid is not None
    assert guid.text == LINK
    assert guid.get("isPermaLink") == "true"
    pub_date = item.findtext("pubDate")
    assert pub_date
    assert int(parsedate_to_datetime(pub_date).timestamp()) == SEED_MTIME
    assert [c.text for c in item.findall("dc:creator", NS)] == ["Barak Ravid"]
    description = item.findtext("description") or ""
    assert description.startswith(SUMMARY_START)
    atom = atom_entry(project / "feeds" / "all.atom.xml", TITLE)
    assert description == atom.findtext("atom:summary", None, NS)
    assert item.findtext("content:encoded", None, NS) == _content_html(project)

    parsed = next(e for e in feed.entries if e.title == TITLE)
    assert parsed.summary == description
    assert parsed.content[0].value.startswith("<p>Top national security officials")


def test_self_links_and_feed_metadata(published: tuple[Path, Report]) -> None:
    project, _ = published
    config = load_config(project / "config.toml")
    atom = xml(project / "feeds" / "all.atom.xml")
    self_links = [ln.get("href") for ln in atom.findall("atom:link[@rel='self']", NS)]
    assert self_links == [config.site.base_url + "all.atom.xml"]
    assert atom.findtext("atom:id", None, NS) == config.site.base_url + "all.atom.xml"
    assert atom.findtext("atom:title", None, NS) == config.site.title

    rss = xml(project / "feeds" / "all.rss.xml")
    rss_self = [ln.get("href") for ln in rss.findall("channel/atom:link[@rel='self']", NS)]
    assert rss_self == [config.site.base_url + "all.rss.xml"]
    assert rss.findtext("channel/link") == config.site.base_url

    science = xml(project / "feeds" / "science.atom.xml")
    assert [ln.get("href") for ln in science.findall("atom:link[@rel='self']", NS)] == [
        config.site.base_url + "science.atom.xml"
    ]


def test_bundled_examples_all_present(published: tuple[Path, Report]) -> None:
    project, _ = published
    feeds = project / "feeds"
    for name in ("all.atom.xml", "all.rss.xml"):
        titles = [e.title for e in parse_feed(feeds / name).entries]
        assert len(titles) == len(set(titles))
        assert set(titles) == BUNDLED_TITLES | {TITLE}
    for name in ("science.atom.xml", "science.rss.xml"):
        assert {e.title for e in parse_feed(feeds / name).entries} == SCIENCE_TITLES

    # No tracking parameters, fragments or scripts survive anywhere.
    for path in feeds.glob("*.xml"):
        text = path.read_text(encoding="utf-8")
        assert "utm_" not in text
        assert "fbclid" not in text
        assert "#top" not in text
        assert "track(" not in text  # the bakery page's <script>


def test_second_publish_changes_nothing(published: tuple[Path, Report]) -> None:
    project, _ = published
    before = snapshot(project / "feeds")
    report = publish(load_config(project / "config.toml"))
    assert report.written == []
    assert sorted(report.unchanged_files) == sorted(before)
    assert report.skipped == []
    assert snapshot(project / "feeds") == before
    # ... and a third run, now that every seed is settled in the store, neither.
    third = publish(load_config(project / "config.toml"))
    assert third.parsed == 0
    assert third.unchanged == third.seeds
    assert snapshot(project / "feeds") == before
