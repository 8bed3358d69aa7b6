"""Turn an HTML page into a raw ``Article``: metadata from JSON-LD, Open Graph and meta
tags, and the main content as (untrusted) HTML for normalize to sanitize.

The main text comes from readability-lxml, chosen by measurement (``bench/bench_extract.py``:
best F1 of the candidates, the fastest, the lightest to import), run on the page after the
chrome that markup itself declares (``<nav>``, ``<aside>``, ARIA landmarks, cookie
banners) is cut. When it finds nothing, a small heuristic takes over. Nothing here raises
on bad input: a page that cannot be read gives an ``Article`` without content.

The page is parsed once, with lxml: the metadata is read from that tree, then the chrome is
cut from it and readability is handed the tree itself (it copies it instead of parsing a
serialization). Parsing was the cost to save: BeautifulSoup, for the metadata alone, took
1.5 ms of a 10 KB page's 4; lxml parses it in 0.08.

Known limits: a byline, share bar or "Advertisement" label inside the article container
stays; a list made only of links (a link blog's weekly roundup) is often dropped by
readability's link-density rule.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from ..dates import parse_date
from ..model import Article
from ..normalize import safe_link

_ARTICLE_TYPES = {"article", "newsarticle", "blogposting", "reportagenewsarticle", "webpage"}
_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form")
# What BeautifulSoup's get_text skipped, and so what a title or heading's text leaves out.
_NOT_TEXT = frozenset({"script", "style", "template"})

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
# lxml stops parsing at depth 256 and drops the rest of the page (unclosed inline tags nest
# that deep); BeautifulSoup, which read the metadata before, went on. With huge_tree the
# limit is 2048 (the fetcher caps bodies at max_bytes). The main text is extracted as it
# always was, from the page cut at depth 256: readability's work grows with the square of
# the depth, to seconds a page beyond it.
_DEEP_UTF8 = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
_MAX_DEPTH = 256
_TOO_DEEP = etree.XPath("boolean(" + "/*" * (_MAX_DEPTH + 1) + ")")  # an element below it
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
        root = _parse(html, _DEEP_UTF8)
        # An empty page still gets its link (the url) and a warning-free Article.
        article = _metadata(lxml.html.Element("html") if root is None else root, origin, url)
        if root is not None and _TOO_DEEP(root):
            root = _parse(html)  # rare: cut at depth 256 for readability, see _DEEP_UTF8
    except Exception as exc:  # a parser's failure must not end a whole publish run
        return Article(origin=origin, warnings=[f"page not parsed: {type(exc).__name__}"])
    article.content_html = _content_html(html, url, root)
    return article


def page_text(html: str, url: str = "") -> str:
    """The plain text of the page's main content: what would become an entry's body.

    Blocks are separated by a blank line, list items start with ``- ``. Never raises;
    returns ``""`` when the page has no main text.
    """
    try:
        return _plain_text(_content_html(html, url, _parse(html)))
    except Exception:  # same promise as article_from_html: bad input, no text
        return ""


def _parse(html: str, parser: etree.HTMLParser = _UTF8) -> lxml.html.HtmlElement | None:
    """The page as an lxml tree; ``None`` when it holds no markup or text at all."""
    text = _UNPARSABLE.sub("", html)
    if not text.strip():
        return None
    try:
        # Bytes with an explicit encoding: lxml refuses a str that declares its encoding,
        # and a page already decoded must not be decoded again by its <meta charset>.
        return lxml.html.document_fromstring(text.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, ValueError):  # "Document is empty": only comments, say
        return None


def _metadata(root: lxml.html.HtmlElement, origin: str, url: str) -> Article:
    ld = _json_ld(root)
    metas = _meta_index(root)
    article = Article(origin=origin)
    article.title = (
        _meta(metas, "og:title")
        or _text(ld.get("headline"))
        or _first_text(root, "title")
        or _first_text(root, "h1")
    )
    article.authors = _ld_authors(ld.get("author")) or _split(
        _meta(metas, "author") or _meta(metas, "article:author") or _meta(metas, "dc.creator")
    )
    article.published = parse_date(
        _text(ld.get("datePublished"))
        or _meta(metas, "article:published_time")
        or _meta(metas, "date")
        or _meta(metas, "dc.date")
        or _time_datetime(root)
    )
    article.updated = parse_date(
        _text(ld.get("dateModified")) or _meta(metas, "article:modified_time")
    )
    link = _canonical(root) or _meta(metas, "og:url") or _text(ld.get("url"))
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


def _meta_index(root: lxml.html.HtmlElement) -> dict[str, str]:
    """The content of every meta tag under ``property:X`` and ``name:x`` keys, first wins.

    Built in one pass: a dozen searches of a huge page, one per name, is what costs.
    """
    index: dict[str, str] = {}
    for tag in root.iter("meta"):
        content = (tag.get("content") or "").strip()
        prop, name = tag.get("property"), tag.get("name")
        if prop is not None:
            index.setdefault(f"property:{prop}", content)
        if name is not None:
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


def _first_text(root: lxml.html.HtmlElement, tag: str) -> str:
    """The text of the first ``tag`` element, its runs stripped and joined by a space."""
    element = next(root.iter(tag), None)
    # Inside a <template> it is not shown, and BeautifulSoup (which this replaced) gave "".
    if element is None or next(element.iterancestors("template"), None) is not None:
        return ""
    runs: list[str] = []
    # Iterative, not recursive: a heading can hold thousands of nested inline tags. A
    # string on the stack is a tail, due once its element's subtree is done.
    stack: list[Any] = [element]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            runs.append(node)
            continue
        if node is not element and node.tail:
            stack.append(node.tail)
        # Comments have a function as tag: their tails are text, their contents are not.
        if isinstance(node.tag, str) and node.tag not in _NOT_TEXT:
            if node.text:
                runs.append(node.text)
            stack.extend(reversed(node))
    return " ".join(run.strip() for run in runs if run.strip())


def _canonical(root: lxml.html.HtmlElement) -> str:
    """The first ``<link rel="canonical">``'s href (``rel`` is a list of words)."""
    for tag in root.iter("link"):
        href = tag.get("href")
        if href is not None and "canonical" in (tag.get("rel") or "").split():
            return str(href)
    return ""


def _time_datetime(root: lxml.html.HtmlElement) -> str:
    return next((d for tag in root.iter("time") if (d := tag.get("datetime")) is not None), "")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace(" and ", ",").split(",") if v.strip()]


def _json_ld(root: lxml.html.HtmlElement) -> dict[str, Any]:
    """The first JSON-LD object describing an article, or ``{}``."""
    for script in root.iter("script"):
        if script.get("type") != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
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


def _content_html(html: str, url: str, root: lxml.html.HtmlElement | None) -> str:
    """The main content as HTML: the extractor's, else the heuristic's, else ``""``.

    ``root`` is ``html`` parsed (``None`` if unparsable); it is cut and changed here.
    """
    if root is None:
        return ""
    try:
        base = _base_url(root, url)
        found = _extracted_html(root, base)
        if not found:
            # The tree has lost its chrome and readability's hidden elements by now: the
            # heuristic reads the page as it came, as it always did. A rare path.
            found = _tidy(_heuristic_html(html), base)
        return found
    except Exception:  # an unforeseen parser failure costs the body, not the run
        return ""


def _extracted_html(root: lxml.html.HtmlElement, base: str) -> str:
    """readability-lxml's main content of the page, its chrome cut first, its links
    resolved against ``base``; ``""`` if none."""
    _cut_chrome(root)
    # readability's cleaner empties javascript: and data: links, then it resolves links
    # against the url, or against <base href> without one: "" would become a link to the
    # base. So it gets neither; _tidy drops what is not a link, then resolves.
    for element in list(root.iter("base")):
        element.drop_tree()
    from readability import Document  # lazily: seed-only runs never need it

    try:
        # The tree, not a serialization: readability deep-copies a tree it is given
        # (dropping only [hidden] elements from the original) where it would parse a
        # string, on each of its passes.
        fragment = Document(root).summary(html_partial=True)
    except Exception:  # readability wraps every failure in its Unparseable
        return ""
    return _tidy(fragment, base)


def _cut_chrome(root: lxml.html.HtmlElement) -> None:
    """Drop code and declared chrome from the page ``root``, in place."""
    page_chars = len(root.text_content())
    doomed = [
        element
        for element in root.iter(etree.Element)
        if element.tag in _CODE_TAGS
        or (_is_chrome(element) and not _wraps_content(element, page_chars))
    ]
    for element in doomed:
        element.drop_tree()


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


def _tidy(fragment: str, base: str = "") -> str:
    """The fragment without its first ``<h1>`` (the title, which readers show already) and
    without blocks of links, its links absolute against ``base``; ``""`` when nothing
    readable is left. A link whose scheme is not http(s) or mailto, or that is empty, is
    dropped (an anchor keeps its text, an image goes)."""
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
    # Each link is checked before it is resolved: readability's cleaner empties
    # javascript: links, and "" resolved is the base itself.
    root.rewrite_links(lambda link: safe_link(link, base), resolve_base_href=False)
    for image in [e for e in root.iter("img") if not e.get("src")]:
        image.drop_tree()
    if not root.text_content().strip() and root.find(".//img") is None:
        return ""
    return str(lxml.html.tostring(root, encoding="unicode"))


def _base_url(root: lxml.html.HtmlElement, url: str) -> str:
    """What the page's relative links resolve against: its first ``<base href>``, itself
    resolved against ``url``, when that gives an http(s) URL; else ``url``."""
    for element in root.iter("base"):
        href = element.get("href")
        if href is not None:  # only the first <base> with an href counts (HTML)
            base = safe_link(href, url) or ""
            return base if urlsplit(base).scheme.lower() in ("http", "https") else url
    return url


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


def _heuristic_html(html: str) -> str:
    """The inside of the page's first ``<article>`` or ``<main>`` (else of its body) without
    the obvious chrome."""
    root = _parse(html)
    if root is None:
        return ""
    block = root
    for tag in ("article", "main", "body"):  # the first <article>, even after a <main>
        found = root.find(f".//{tag}")
        if found is not None:
            block = found
            break
    for element in [e for e in block.iter(*_DROP) if e is not block]:
        element.drop_tree()
    heading = block.find(".//h1")
    if heading is not None:  # the title is shown by the reader already
        heading.drop_tree()
    inner = escape(block.text or "", quote=False)
    return inner + "".join(lxml.html.tostring(child, encoding="unicode") for child in block)
