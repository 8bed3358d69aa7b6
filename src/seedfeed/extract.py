"""Turn an HTML page into a raw ``Article``: metadata from JSON-LD, Open Graph and meta
tags, and the main content as (untrusted) HTML for normalize to sanitize."""

from __future__ import annotations

import json
from typing import Any

from bs4 import BeautifulSoup, Tag

from .dates import parse_date
from .model import Article

_ARTICLE_TYPES = {"article", "newsarticle", "blogposting", "reportagenewsarticle", "webpage"}
_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form")


def article_from_html(html: str, origin: str, url: str = "") -> Article:
    """Extract an ``Article`` from ``html``; ``url`` (when known) resolves relative links."""
    soup = BeautifulSoup(html, "lxml")
    ld = _json_ld(soup)
    article = Article(origin=origin)
    article.title = (
        _meta(soup, "og:title")
        or _text(ld.get("headline"))
        or (soup.title.get_text(" ", strip=True) if soup.title else "")
        or _first_text(soup, "h1")
    )
    article.authors = _ld_authors(ld.get("author")) or _split(
        _meta(soup, "author") or _meta(soup, "article:author") or _meta(soup, "dc.creator")
    )
    article.published = parse_date(
        _text(ld.get("datePublished"))
        or _meta(soup, "article:published_time")
        or _meta(soup, "date")
        or _meta(soup, "dc.date")
        or _time_datetime(soup)
    )
    article.updated = parse_date(
        _text(ld.get("dateModified")) or _meta(soup, "article:modified_time")
    )
    canonical = soup.find("link", rel="canonical", href=True)
    article.link = (
        (str(canonical["href"]) if isinstance(canonical, Tag) else "")
        or _meta(soup, "og:url")
        or _text(ld.get("url"))
        or url
    )
    article.summary = _meta(soup, "og:description") or _meta(soup, "description")
    keywords = _meta(soup, "keywords")
    article.tags = [k.strip() for k in keywords.split(",") if k.strip()][:20]
    article.content_html = _heuristic_html(soup)
    return article


def _meta(soup: BeautifulSoup, name: str) -> str:
    tag = soup.find("meta", attrs={"property": name}) or soup.find(
        "meta", attrs={"name": lambda v: isinstance(v, str) and v.lower() == name}
    )
    if isinstance(tag, Tag):
        content = tag.get("content")
        if isinstance(content, str):
            return content.strip()
    return ""


def _text(value: Any) -> str:
    if isinstance(value, list) and value:
        value = value[0]
    return value.strip() if isinstance(value, str) else ""


def _first_text(soup: BeautifulSoup, name: str) -> str:
    tag = soup.find(name)
    return tag.get_text(" ", strip=True) if isinstance(tag, Tag) else ""


def _time_datetime(soup: BeautifulSoup) -> str:
    tag = soup.find("time", datetime=True)
    return str(tag["datetime"]) if isinstance(tag, Tag) else ""


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace(" and ", ",").split(",") if v.strip()]


def _json_ld(soup: BeautifulSoup) -> dict[str, Any]:
    """The first JSON-LD object describing an article, or ``{}``."""
    for script in soup.find_all("script", type="application/ld+json"):
        try:
            data = json.loads(script.string or "")
        except (ValueError, RecursionError):
            continue
        for item in _ld_items(data):
            kinds = item.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds):
                return item
    return {}


def _ld_items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    if isinstance(data, dict):
        graph = data.get("@graph")
        return [data, *_ld_items(graph)] if graph else [data]
    return []


def _ld_authors(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def _heuristic_html(soup: BeautifulSoup) -> str:
    root = soup.find("article") or soup.find("main") or soup.body or soup
    for tag in root.find_all(_DROP):
        tag.decompose()
    heading = root.find("h1")
    if isinstance(heading, Tag):  # the title is shown by the reader already
        heading.decompose()
    return root.decode_contents() if isinstance(root, Tag) else str(root)
