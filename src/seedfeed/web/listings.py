"""What a fetched listing page or feed announces: article links, or raw ``Article``s."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from ..dates import parse_date
from ..model import Article
from ..sources import SourceError

__all__ = ["DEFAULT_ITEMS", "feed_articles", "listing_links"]

DEFAULT_ITEMS = "article a[href], h2 a[href], h3 a[href]"

_UTF8 = lxml.html.HTMLParser(encoding="utf-8")


def listing_links(html: str, page_url: str, selector: str = "", limit: int = 10) -> list[str]:
    """The first ``limit`` distinct article links of a listing page, absolute, in page order.

    Without ``selector``: links inside ``<article>``, ``<h2>`` and ``<h3>`` that stay on
    the listing's own site (navigation and ads point elsewhere or sit outside those).
    """
    site = urlsplit(page_url).netloc.lower()
    links: list[str] = []
    for href in _hrefs(html, selector or DEFAULT_ITEMS):
        if not href.strip() or href.startswith("#"):
            continue
        url = urljoin(page_url, href.strip()).split("#")[0]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            continue
        if not selector and parts.netloc.lower() != site:
            continue
        if url != page_url and url not in links:
            links.append(url)
            if len(links) == limit:
                break
    return links


def _hrefs(html: str, selector: str) -> list[str]:
    """The ``href`` of every element ``selector`` matches, in page order.

    lxml and cssselect: a listing of fifty teasers in 3 ms where BeautifulSoup took 70
    (bench/bench_fetch.py). A selector only soupsieve knows (``:has()``, ``:-soup-…``)
    still works, through BeautifulSoup.
    """
    from cssselect import SelectorError

    try:
        root = lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=_UTF8)
        matched = root.cssselect(selector)
    except SelectorError:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "lxml")
        return [h for a in soup.select(selector) if isinstance(h := a.get("href"), str)]
    except (ValueError, etree.ParserError):  # no markup at all
        return []
    return [h for element in matched if isinstance(h := element.get("href"), str)]


# --- feeds ------------------------------------------------------------------------------

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def feed_articles(body: bytes, url: str, limit: int = 50) -> list[Article]:
    """The items of an RSS/Atom feed as raw ``Article``s, newest first as the feed lists them.

    Raises ``SourceError`` for a document that is not a feed (an HTML page, broken XML
    with no items) and for entity declarations (billion laughs), which are refused
    before any parser sees them.
    """
    # The whole body, and without its NUL bytes: a declaration after 64 KB of comments, or
    # one spelled in UTF-16 or UTF-32 (ASCII with NULs between), must be found as well.
    if _ENTITY_DECL.search(body) or _ENTITY_DECL.search(body.replace(b"\x00", b"")):
        raise SourceError("feed declares XML entities; refused (entity expansion)")
    import feedparser

    parsed = feedparser.parse(body, response_headers={"content-location": url})
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        # feedparser recovers what it can from broken XML; with no item recovered, the
        # document is not a feed we can use.
        reason = str(parsed.get("bozo_exception", "")).splitlines()[:1]
        raise SourceError(f"not an RSS or Atom feed{f' ({reason[0]})' if reason else ''}")
    articles = []
    for item in parsed.entries[:limit]:
        link = item.get("link", "") or ""
        content = ""
        if item.get("content"):
            content = item["content"][0].get("value", "")
        summary = item.get("summary", "") or ""
        authors = [a.get("name", "") for a in item.get("authors", []) if a.get("name")]
        if not authors and item.get("author"):
            authors = [item["author"]]
        article = Article(
            origin=urljoin(url, link) if link else item.get("id", "") or url,
            title=item.get("title", "") or "",
            authors=authors,
            link=urljoin(url, link) if link else "",
            published=_feed_date(item, "published") or _feed_date(item, "updated"),
            updated=_feed_date(item, "updated"),
            content_html=content or summary,
            summary=summary if content else "",
            tags=[t.get("term", "") for t in item.get("tags", []) if t.get("term")],
        )
        articles.append(article)
    return articles


def _feed_date(item: Any, key: str) -> Any:
    # dict.get, not item.get: feedparser's own get maps updated to published, with a warning
    parsed = dict.get(item, f"{key}_parsed")
    if parsed:
        from calendar import timegm
        from datetime import UTC, datetime

        try:
            return datetime.fromtimestamp(timegm(parsed), UTC)
        except (OverflowError, ValueError):
            return None
    return parse_date(dict.get(item, key, ""))
