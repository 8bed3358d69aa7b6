"""What a fetched listing page or feed announces: article links, or raw ``Article``s."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..dates import parse_date
from ..model import Article
from ..sources import SourceError

__all__ = ["DEFAULT_ITEMS", "feed_articles", "listing_links"]

DEFAULT_ITEMS = "article a[href], h2 a[href], h3 a[href]"


def listing_links(html: str, page_url: str, selector: str = "", limit: int = 10) -> list[str]:
    """The first ``limit`` distinct article links of a listing page, absolute, in page order.

    Without ``selector``: links inside ``<article>``, ``<h2>`` and ``<h3>`` that stay on
    the listing's own site (navigation and ads point elsewhere or sit outside those).
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    site = urlsplit(page_url).netloc.lower()
    links: list[str] = []
    for anchor in soup.select(selector or DEFAULT_ITEMS):
        href = anchor.get("href")
        if not isinstance(href, str) or not href.strip() or href.startswith("#"):
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


# --- feeds ------------------------------------------------------------------------------

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def feed_articles(body: bytes, url: str, limit: int = 50) -> list[Article]:
    """The items of an RSS/Atom feed as raw ``Article``s, newest first as the feed lists them.

    Raises ``SourceError`` for a document that is not a feed (an HTML page, broken XML
    with no items) and for entity declarations (billion laughs), which are refused
    before any parser sees them.
    """
    if _ENTITY_DECL.search(body[:65536]):
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
