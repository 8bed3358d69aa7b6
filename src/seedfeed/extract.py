"""Turn an HTML page into a raw ``Article``: metadata from JSON-LD, Open Graph and meta
tags, and the main content as (untrusted) HTML for normalize to sanitize.

The main text comes from readability-lxml, chosen by measurement (``bench/bench_extract.py``:
best F1 of the candidates, the fastest, the lightest to import), run on the page after the
chrome that markup itself declares (``<nav>``, ``<aside>``, ARIA landmarks, cookie
banners) is cut. When it finds nothing, a small bs4 heuristic takes over. Nothing here
raises on bad input: a page that cannot be read gives an ``Article`` without content.

Known limits: a byline, share bar or "Advertisement" label inside the article container
stays; a list made only of links (a link blog's weekly roundup) is often dropped by
readability's link-density rule.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any
from urllib.parse import urljoin

import lxml.html
from bs4 import BeautifulSoup, Tag, XMLParsedAsHTMLWarning
from lxml import etree

from .dates import parse_date
from .model import Article

_ARTICLE_TYPES = {"article", "newsarticle", "blogposting", "reportagenewsarticle", "webpage"}
_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form")

# Cut before the extractor runs: code, embeds, controls and the chrome that markup declares
# as such. ``form`` is absent on purpose: ASP.NET sites wrap the whole page in one.
_CODE_TAGS = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas"}
)
_CHROME_TAGS = frozenset(
    {"nav", "aside", "footer", "dialog", "menu", "button", "input", "select", "textarea"}
)
_CHROME_ROLES = frozenset(
    {
        "navigation", "banner", "contentinfo", "complementary", "search", "dialog",
        "alertdialog", "menu", "menubar", "toolbar",
    }
)  # fmt: skip
# Consent banners are text-dense, so extractors pick them on short pages; they are
# recognisable only by name.
_CONSENT = re.compile(r"cookie|consent|gdpr", re.IGNORECASE)
_SMALL_CHARS = 1000
# lxml refuses these characters in a str ("All strings must be XML compatible").
_UNPARSABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_UTF8 = lxml.html.HTMLParser(encoding="utf-8")
# A container is a block of links when 3 links or more hold most of its text (and it is
# not most of the page's text).
_LINK_BLOCKS = ("div", "section", "table", "td", "th", "ul", "ol", "p")
_MIN_LINKS = 3
_LINK_SHARE = 0.8
_TEXT_BLOCKS = (
    "p", "div", "section", "article", "main", "blockquote", "pre", "figure", "figcaption",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td",
    "th", "hr",
)  # fmt: skip


def article_from_html(html: str, origin: str, url: str = "") -> Article:
    """Extract an ``Article`` from ``html``; ``url`` (when known) resolves relative links.

    Never raises: a page that cannot be parsed at all gives an ``Article`` with only its
    ``origin`` and a warning, and one without main text gives empty ``content_html``.
    """
    try:
        soup = _soup(html)
        article = _metadata(soup, origin, url)
    except Exception as exc:  # a parser's failure must not end a whole publish run
        return Article(origin=origin, warnings=[f"page not parsed: {type(exc).__name__}"])
    article.content_html = _content_html(html, url, soup)
    return article


def page_text(html: str, url: str = "") -> str:
    """The plain text of the page's main content: what would become an entry's body.

    Blocks are separated by a blank line, list items start with ``- ``. Never raises;
    returns ``""`` when the page has no main text.
    """
    try:
        return _plain_text(_content_html(html, url))
    except Exception:  # same promise as article_from_html: bad input, no text
        return ""


def _soup(html: str) -> BeautifulSoup:
    with warnings.catch_warnings():  # XHTML pages are HTML too: no need to warn the user
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(_UNPARSABLE.sub("", html), "lxml")


def _metadata(soup: BeautifulSoup, origin: str, url: str) -> Article:
    ld = _json_ld(soup)
    metas = _meta_index(soup)
    article = Article(origin=origin)
    article.title = (
        _meta(metas, "og:title")
        or _text(ld.get("headline"))
        or (soup.title.get_text(" ", strip=True) if soup.title else "")
        or _first_text(soup, "h1")
    )
    article.authors = _ld_authors(ld.get("author")) or _split(
        _meta(metas, "author") or _meta(metas, "article:author") or _meta(metas, "dc.creator")
    )
    article.published = parse_date(
        _text(ld.get("datePublished"))
        or _meta(metas, "article:published_time")
        or _meta(metas, "date")
        or _meta(metas, "dc.date")
        or _time_datetime(soup)
    )
    article.updated = parse_date(
        _text(ld.get("dateModified")) or _meta(metas, "article:modified_time")
    )
    canonical = soup.find("link", rel="canonical", href=True)
    link = (
        (str(canonical["href"]) if isinstance(canonical, Tag) else "")
        or _meta(metas, "og:url")
        or _text(ld.get("url"))
    )
    article.link = urljoin(url, link.strip()) if url and link else link or url
    image = _meta(metas, "og:image") or _meta(metas, "twitter:image") or _ld_image(ld.get("image"))
    article.image = urljoin(url, image.strip()) if url and image else image
    article.summary = _meta(metas, "og:description") or _meta(metas, "description")
    keywords = _meta(metas, "keywords")
    article.tags = [k.strip() for k in keywords.split(",") if k.strip()][:20]
    return article


def _ld_image(value: Any) -> str:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("url")
    return value.strip() if isinstance(value, str) else ""


def _meta_index(soup: BeautifulSoup) -> dict[str, str]:
    """The content of every meta tag under ``property:X`` and ``name:x`` keys, first wins.

    Built in one pass: a dozen searches of a huge page, one per name, is what costs.
    """
    index: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        content = tag.get("content")
        content = content.strip() if isinstance(content, str) else ""
        prop, name = tag.get("property"), tag.get("name")
        if isinstance(prop, str):
            index.setdefault(f"property:{prop}", content)
        if isinstance(name, str):
            index.setdefault(f"name:{name.lower()}", content)
    return index


def _meta(index: dict[str, str], name: str) -> str:
    """A ``property`` meta tag's content, else a ``name`` one's (case-insensitive)."""
    key = f"property:{name}"
    return index[key] if key in index else index.get(f"name:{name}", "")


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


def _content_html(html: str, url: str, soup: BeautifulSoup | None = None) -> str:
    """The main content as HTML: the extractor's, else the heuristic's, else ``""``."""
    try:
        found = _extracted_html(html, url)
        if not found:
            if soup is None:
                soup = _soup(html)
            found = _tidy(_heuristic_html(soup), url)
        return found
    except Exception:  # an unforeseen parser failure costs the body, not the run
        return ""


def _extracted_html(html: str, url: str) -> str:
    """readability-lxml's main content of the page, its chrome cut first; ``""`` if none."""
    page = _strip_chrome(html)
    if not page:
        return ""
    from readability import Document  # lazily: seed-only runs never need it

    try:
        # No url: readability would resolve the empty hrefs its cleaner leaves in place
        # of javascript: links to the page itself; _tidy resolves after dropping them.
        fragment = Document(page).summary(html_partial=True)
    except Exception:  # readability wraps every failure in its Unparseable
        return ""
    return _tidy(fragment, url)


def _strip_chrome(html: str) -> str:
    """``html`` without code and declared chrome, re-serialized; ``""`` if unparsable."""
    text = _UNPARSABLE.sub("", html)
    if not text.strip():
        return ""
    try:
        # Bytes with an explicit encoding: lxml refuses a str that declares its encoding.
        root = lxml.html.document_fromstring(text.encode("utf-8", "replace"), parser=_UTF8)
    except (etree.ParserError, ValueError):
        return ""
    page_chars = len(root.text_content())
    doomed = [
        element
        for element in root.iter(etree.Element)
        if element.tag in _CODE_TAGS
        or (_is_chrome(element) and not _wraps_content(element, page_chars))
    ]
    for element in doomed:
        element.drop_tree()
    return lxml.html.tostring(root, encoding="unicode")


def _is_chrome(element: lxml.html.HtmlElement) -> bool:
    if element.tag in ("html", "body"):
        return False
    if element.tag in _CHROME_TAGS:
        return True
    if element.tag == "header":  # a site's masthead, not an article's own header
        return next(element.iterancestors("article", "main"), None) is None
    if element.get("role", "").lower() in _CHROME_ROLES or element.get("aria-modal") == "true":
        return True
    return bool(_CONSENT.search(f"{element.get('class', '')} {element.get('id', '')}"))


def _wraps_content(element: lxml.html.HtmlElement, page_chars: int) -> bool:
    """Whether ``element`` holds the article: some sites wrap the page in odd tags.

    Small elements never do: on a short page a cookie banner holds most of the text.
    """
    if element.find(".//article") is not None or element.find(".//main") is not None:
        return True
    chars = len(element.text_content())
    return chars > _SMALL_CHARS and chars > page_chars / 2


def _tidy(fragment: str, url: str = "") -> str:
    """The fragment without its first ``<h1>`` (the title, which readers show already) and
    without blocks of links, its links absolute against ``url``; ``""`` when nothing
    readable is left."""
    if not fragment.strip():
        return ""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    heading = root.find(".//h1")
    if heading is not None:
        heading.drop_tree()
    # readability keeps whole table rows and containers, so a layout table's column of
    # links (a site menu, "popular posts") comes along with the text beside it. A block
    # of links that is most of the text is the text: a link blog's roundup.
    chars = _chars(root)
    for block in [e for e in root.iter(*_LINK_BLOCKS) if _is_link_block(e, chars)]:
        block.drop_tree()
    # readability's cleaner empties javascript: links, and resolving "" gives the page
    # itself. A link or image with no address is no link at all.
    for element in root.iter(etree.Element):
        for attribute in ("href", "src"):
            if not element.get(attribute, "x").strip():
                del element.attrib[attribute]
    for image in [e for e in root.iter("img") if not e.get("src")]:
        image.drop_tree()
    if url:
        root.make_links_absolute(url, handle_failures="discard")
    if not root.text_content().strip() and root.find(".//img") is None:
        return ""
    return lxml.html.tostring(root, encoding="unicode")


def _is_link_block(element: lxml.html.HtmlElement, fragment_chars: int) -> bool:
    links = element.findall(".//a")
    if len(links) < _MIN_LINKS:
        return False
    chars = _chars(element)
    return chars <= fragment_chars / 2 and sum(map(_chars, links)) > _LINK_SHARE * chars


def _chars(element: lxml.html.HtmlElement) -> int:
    """Characters of text in ``element``, whitespace not counted."""
    return len("".join(element.text_content().split()))


def _plain_text(fragment: str) -> str:
    """Text of an HTML fragment with its blocks kept apart (lxml's text runs them on)."""
    if not fragment:
        return ""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    # The source's own line breaks are layout, not text: fold them before marking blocks.
    for element in root.iter():
        element.text = _fold(element.text)
        element.tail = _fold(element.tail)
    for element in root.iter("br"):
        element.tail = "\n" + (element.tail or "")
    for element in root.iter("li"):
        element.text = "- " + (element.text or "")
        element.tail = "\n" + (element.tail or "")
    for element in root.iter(*_TEXT_BLOCKS):
        element.text = "\n\n" + (element.text or "")
        element.tail = "\n\n" + (element.tail or "")
    paragraphs = []
    for chunk in re.split(r"\n\s*\n", root.text_content()):
        lines = (" ".join(line.split()) for line in chunk.split("\n"))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def _fold(text: str | None) -> str | None:
    """Runs of whitespace (newlines included) as one space."""
    return re.sub(r"\s+", " ", text) if text else text


def _heuristic_html(soup: BeautifulSoup) -> str:
    """The first ``<article>`` or ``<main>`` (else the body) without the obvious chrome."""
    root = soup.find("article") or soup.find("main") or soup.body or soup
    for tag in root.find_all(_DROP):
        tag.decompose()
    heading = root.find("h1")
    if isinstance(heading, Tag):  # the title is shown by the reader already
        heading.decompose()
    return root.decode_contents() if isinstance(root, Tag) else str(root)
