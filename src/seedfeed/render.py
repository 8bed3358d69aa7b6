"""Render feeds to bytes: feedgen builds Atom 1.0 and RSS 2.0 from entries, JSON Feed 1.1,
an OPML list and an index page go beside them (writer.py puts them on disk).
``ping_hub`` tells a WebSub hub which feeds changed.

What each output field carries is decided here, once per format and field, and nowhere
else. An ``Entry`` holds plain text (title, summary, authors, tags) and sanitized HTML
(``content_html``, from normalize). Text goes into a text field escaped by the writer
of the format (lxml for XML, json for JSON Feed), and into a field that readers render
as HTML only after ``as_html`` has escaped it:

| field                                   | carries                                |
| --------------------------------------- | -------------------------------------- |
| Atom title, author, category            | text (type="text", the default)        |
| Atom summary                            | HTML: the text summary, escaped        |
| Atom content                            | HTML: content_html                     |
| RSS title, dc:creator, category, guid   | text (readers show it as is)           |
| RSS description                         | HTML: the text summary, escaped (or,   |
|                                         | without a summary, content_html)       |
| RSS content:encoded                     | HTML: content_html                     |
| JSON Feed title, summary, content_text  | text                                   |
| JSON Feed content_html                  | HTML: content_html                     |
| index.html text and attributes, OPML    | text, escaped for HTML / XML attributes |

RSS ``<description>`` is the field readers render as HTML although most feeds put text
in it: plain text with ``<img onerror=...>`` in it would run. Atom's summary takes the
same escaped HTML (``type="html"``) so that both formats say the same thing.
"""

from __future__ import annotations

import json
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from . import PROJECT_URL, __version__
from .formats import (
    ATOM_SUFFIX,
    FEED_FORMATS,
    INDEX_NAME,
    JSON_SUFFIX,
    LABEL_FOLDERS,
    OPML_NAME,
    RSS_SUFFIX,
    STYLESHEET_NAME,
)
from .model import Entry

if TYPE_CHECKING:
    from .config import Config, FeedSpec


@dataclass(frozen=True)
class FeedMeta:
    """What a feed says about itself."""

    name: str
    title: str
    base_url: str
    author: str
    description: str = ""
    language: str = ""
    hub: str = ""  # the WebSub hub readers may subscribe at; "" for none

    def file(self, suffix: str) -> str:
        """The name of this feed's file with ``suffix`` (``.atom.xml``, ``.rss.xml``, ...)."""
        return f"{self.name}{suffix}"

    def url(self, suffix: str) -> str:
        """The public URL of this feed's file with ``suffix``."""
        return f"{self.base_url}{self.file(suffix)}"


@dataclass(frozen=True)
class FeedSummary:
    """One feed as the index page and the OPML list show it."""

    meta: FeedMeta
    entries: int
    newest: datetime | None  # the feed's updated date; None for an empty feed
    latest: tuple[Entry, ...] = ()  # its newest entries, for the index page


# Entries of each feed the index page lists.
INDEX_ENTRIES = 10


def feed_meta(config: Config, spec: FeedSpec) -> FeedMeta:
    """What a feed says of itself, from the project's settings and its spec (one place
    for a publish and a cluster's renders)."""
    return FeedMeta(
        name=spec.name,
        title=spec.title,
        base_url=config.site.base_url,
        author=config.site.author or config.site.title,
        description=spec.description,
        language=config.site.language,
        hub=config.websub.hub,
    )


def summarize(meta: FeedMeta, entries: Sequence[Entry]) -> FeedSummary:
    """A feed as the index page and the OPML list show it (no feed file is rendered)."""
    newest = max((entry.updated for entry in entries), default=None)
    # The index lists the newest articles of the feeds people made, not of each tag.
    label = meta.name.startswith(tuple(f"{folder}/" for folder in LABEL_FOLDERS))
    latest = () if label else tuple(entries[:INDEX_ENTRIES])
    return FeedSummary(meta, len(entries), newest, latest)


def site_files(config: Config, summaries: Sequence[FeedSummary]) -> dict[str, bytes]:
    """The site's own files: the index page, the OPML list and the feeds' stylesheet."""
    site = config.site
    return {
        INDEX_NAME: render_index(site.title, site.base_url, summaries, language=site.language),
        OPML_NAME: render_opml(site.title, site.base_url, summaries),
        STYLESHEET_NAME: render_stylesheet(),
    }


def feed_files(meta: FeedMeta, entries: Sequence[Entry], fallback: datetime) -> dict[str, bytes]:
    """One feed in every format: file name to bytes."""
    files = dict(render_feeds(meta, entries, fallback))
    files[meta.file(JSON_SUFFIX)] = render_json_feed(meta, entries)
    return files


JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ATOM_NS = "http://www.w3.org/2005/Atom"


class _WebSubRss(BaseExtension):  # type: ignore[misc]  # feedgen is untyped
    """Adds ``<atom:link rel="hub">`` to RSS: feedgen writes only the self link there."""

    hub = ""

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        if self.hub and channel is not None:
            self_link = channel.find(f"{{{ATOM_NS}}}link[@rel='self']")
            hub = etree.Element(f"{{{ATOM_NS}}}link", href=self.hub, rel="hub")
            # Next to the self link: the channel's atom links read as one group.
            if self_link is not None:
                self_link.addnext(hub)
            else:
                channel.append(hub)
        return feed


def render_feeds(
    meta: FeedMeta, entries: Sequence[Entry], fallback_updated: datetime
) -> dict[str, bytes]:
    """Render ``entries`` (already sorted, newest first) as Atom and RSS.

    Returns file name -> bytes. The feed's updated date is the newest entry's, or
    ``fallback_updated`` for an empty feed: never "now", so output is deterministic.
    """
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("websub", _WebSubRss, None, atom=False, rss=True)
    fg.websub.hub = meta.hub
    fg.id(meta.url(ATOM_SUFFIX))
    fg.title(meta.title)
    fg.author({"name": meta.author})
    fg.generator("seedfeed", uri=PROJECT_URL)
    fg.docs("https://www.rssboard.org/rss-specification")
    if meta.language:
        fg.language(meta.language)
    fg.updated(max((e.updated for e in entries), default=fallback_updated))

    for entry in entries:
        fe = fg.add_entry(order="append")
        fe.id(entry.id)
        fe.guid(entry.id, permalink=bool(entry.link) and entry.id == entry.link)
        fe.title(entry.title)
        if entry.link:
            fe.link(href=entry.link, rel="alternate")
        for name in entry.authors:
            fe.author({"name": name})
        creators = entry.authors or ((meta.author,) if meta.author else ())
        for name in creators:
            fe.dc.dc_creator(name)
        fe.published(entry.published)
        fe.updated(entry.updated)
        if entry.summary:
            fe.summary(as_html(entry.summary), type="html")
        if entry.content_html:
            fe.content(entry.content_html, type="html")
        for tag in entry.tags:
            fe.category(term=tag)

    # feedgen shares one link list between both formats; each file's self link must
    # point at that file, so the links are set anew before each rendering. The site link
    # goes last because feedgen makes the last link the RSS channel's <link>. (The hub
    # link only reaches Atom this way; _WebSubRss writes it into RSS.)
    # The feed's description is text in Atom's subtitle, HTML in RSS's description.
    description = meta.description or meta.title
    outputs = {}
    formats = (
        (ATOM_SUFFIX, "application/atom+xml", fg.atom_str, description),
        (RSS_SUFFIX, "application/rss+xml", fg.rss_str, as_html(description)),
    )
    for suffix, mime, to_bytes, about in formats:
        fg.description(about)
        fg.link(href=meta.url(suffix), rel="self", type=mime, replace=True)
        if meta.hub:
            fg.link(href=meta.hub, rel="hub")
        fg.link(href=meta.base_url, rel="alternate", type="text/html")
        outputs[meta.file(suffix)] = _with_stylesheet(to_bytes(pretty=True))
    return outputs


def _with_stylesheet(document: bytes) -> bytes:
    """The feed with an ``xml-stylesheet`` instruction after its XML declaration, so that
    a browser shows it as a page (feed.xsl); readers ignore it."""
    declaration, newline, rest = document.partition(b"\n")
    instruction = f'<?xml-stylesheet type="text/xsl" href="{STYLESHEET_NAME}"?>'.encode()
    return declaration + newline + instruction + b"\n" + rest


def render_stylesheet() -> bytes:
    """``feed.xsl``: how a browser shows a feed (the same bytes every time)."""
    # pkgutil, not importlib.resources, which imports zipfile and its readers (5 ms of a
    # cold publish) for one file; both read through the package's loader.
    data = pkgutil.get_data("seedfeed", f"data/{STYLESHEET_NAME}")
    if data is None:  # a loader that cannot read files: not one Python ships
        raise FileNotFoundError(f"seedfeed/data/{STYLESHEET_NAME}")
    return data


def as_html(text: str) -> str:
    """Plain text as HTML that shows exactly that text (``<``, ``>``, ``&``, quotes escaped)."""
    return escape(text, quote=True)


def render_json_feed(meta: FeedMeta, entries: Sequence[Entry]) -> bytes:
    """Render ``entries`` (already sorted, newest first) as JSON Feed 1.1.

    Ids and dates are the Atom feed's, so a reader that follows both sees one entry.
    Keys come in a fixed order: same entries, same bytes.
    """
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": meta.title,
        "home_page_url": meta.base_url,
        "feed_url": meta.url(JSON_SUFFIX),
    }
    if meta.description:
        feed["description"] = meta.description
    if meta.language:
        feed["language"] = meta.language
    if meta.author:
        feed["authors"] = [{"name": meta.author}]
    if meta.hub:
        feed["hubs"] = [{"type": "WebSub", "url": meta.hub}]
    feed["items"] = [_json_item(entry) for entry in entries]
    text = json.dumps(feed, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def _json_item(entry: Entry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.id}
    if entry.link:
        item["url"] = entry.link
    item["title"] = entry.title
    # JSON Feed wants content_html or content_text in every item.
    if entry.content_html:
        item["content_html"] = entry.content_html
    else:
        item["content_text"] = entry.summary
    if entry.summary:
        item["summary"] = entry.summary
    # isoformat() is what feedgen writes into Atom: the same instants, spelled the same.
    item["date_published"] = entry.published.isoformat()
    item["date_modified"] = entry.updated.isoformat()
    if entry.authors:  # without, an item takes the feed's authors
        item["authors"] = [{"name": name} for name in entry.authors]
    if entry.tags:
        item["tags"] = list(entry.tags)
    return item


def render_index(
    site_title: str, base_url: str, feeds: Sequence[FeedSummary], *, language: str = ""
) -> bytes:
    """Render ``index.html``: every feed with its subscribe links and its newest articles,
    and autodiscovery links in ``<head>`` so a reader given the folder's URL finds the
    feeds.

    Self-contained (no scripts, fonts or style sheets from elsewhere), readable on a
    phone, every text escaped, and dated only by the feeds' own dates, so the same feeds
    give the same bytes.
    """

    def attr(text: str) -> str:
        return escape(text, quote=True)

    lines = [
        "<!DOCTYPE html>",
        f'<html lang="{attr(language)}">' if language else "<html>",
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="seedfeed {attr(__version__)}">',
        f"<title>{escape(site_title)}</title>",
    ]
    for summary in feeds:
        meta = summary.meta
        for suffix, mime, label in FEED_FORMATS:
            lines.append(
                f'<link rel="alternate" type="{mime}" title="{attr(f"{meta.title} ({label})")}"'
                f' href="{attr(meta.url(suffix))}">'
            )
    lines += [
        "<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:1.5rem auto;"
        "padding:0 1rem;line-height:1.5}section{margin:2rem 0}h2{margin-bottom:.25rem}"
        "article{margin:1rem 0}h3{font-size:1.05rem;margin:0}.meta{color:#555;"
        "font-size:.9rem;margin:0}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(site_title)}</h1>",
    ]
    for summary in feeds:
        meta = summary.meta
        lines.append(f'<section id="{attr(meta.name)}">')
        lines.append(f"<h2>{escape(meta.title)}</h2>")
        if meta.description:
            lines.append(f"<p>{escape(meta.description)}</p>")
        count = f"{summary.entries} {'entry' if summary.entries == 1 else 'entries'}"
        if summary.newest is not None:
            count += (
                f', updated <time datetime="{attr(summary.newest.isoformat())}">'
                f"{summary.newest.date().isoformat()}</time>"
            )
        links = " · ".join(
            f'<a href="{attr(meta.url(suffix))}" type="{mime}">{label}</a>'
            for suffix, mime, label in FEED_FORMATS
        )
        lines.append(f'<p class="meta">{count}. Subscribe: {links}</p>')
        for entry in summary.latest:
            title = escape(entry.title)
            heading = f'<a href="{attr(entry.link)}">{title}</a>' if entry.link else title
            byline = ", ".join(map(escape, entry.authors))
            lines += [
                "<article>",
                f"<h3>{heading}</h3>",
                f'<p class="meta"><time datetime="{attr(entry.published.isoformat())}">'
                f"{entry.published.date().isoformat()}</time>"
                + (f" · {byline}" if byline else "")
                + "</p>",
            ]
            if entry.summary:
                lines.append(f"<p>{escape(entry.summary)}</p>")
            lines.append("</article>")
        lines.append("</section>")
    lines += [
        f'<p><a href="{attr(base_url + OPML_NAME)}" type="text/x-opml">All feeds as OPML</a>'
        " (to import them into a feed reader at once)</p>",
        "</body>",
        "</html>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_opml(site_title: str, base_url: str, feeds: Sequence[FeedSummary]) -> bytes:
    """Render ``feeds.opml`` (OPML 2.0): one outline per feed, pointing at its Atom file.

    No dateCreated or dateModified: nothing in the list has a date of its own, and a
    clock-derived one would rewrite the file on every run.
    """
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = site_title
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(opml, "body")
    for summary in feeds:
        meta = summary.meta
        outline = etree.SubElement(
            body,
            "outline",
            type="rss",
            text=meta.title,
            title=meta.title,
            xmlUrl=meta.url(ATOM_SUFFIX),
            htmlUrl=base_url,
        )
        if meta.description:
            outline.set("description", meta.description)
        if meta.language:
            outline.set("language", meta.language)
    return etree.tostring(opml, encoding="UTF-8", xml_declaration=True, pretty_print=True)
