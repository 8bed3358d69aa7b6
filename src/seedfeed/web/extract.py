"""Turn an HTML page into a raw ``Article``: metadata from what the page declares
(JSON-LD, microdata, Open Graph and other meta tags, bylines), and the main content as
(untrusted) HTML for normalize to sanitize.

The main text comes from trafilatura, chosen on real pages (``bench/bench_extract.py``
with ``../shared/extract-dev``: snippet F1 0.928 on the trafilatura evaluation set where
readability-lxml, used before, gave 0.880). It runs with its fallbacks (its copy of
readability, jusText) after consent banners, captions and ``<nav>`` are cut. Dropped
after: the short blocks it keeps that readers skip (one-link teasers, "Read also"
lead-ins, photo credits); the end of the body from a heading that announces other pages
("Related stories", "Weitere Themen") in its last third; the short blocks that end it
asking readers to subscribe, follow or support, or stating rights. A lead it leaves out
(an intro above the story's container, which the page's description repeats) is put
back in front; a body the page declares (JSON-LD ``articleBody``) that the extraction
mostly misses replaces it. With these, snippet F1 0.944. When it finds nothing, a small heuristic
takes over. Nothing here raises on bad input: a page that cannot be read gives an
``Article`` without content.

The page is parsed once, with lxml: the metadata is read from that tree, then the
extractor is handed the tree itself (it copies it instead of parsing it again).

Known limits: captions are left out (with them the snippet F1 drops by 0.008; with the
images but without their captions by 0.003); a legacy table layout can keep a row of its
footer; a JSON-LD author that is an
organization is taken only when nothing names a person.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import cache
from html import escape
from itertools import chain, islice
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from ..dates import parse_date
from ..model import Article
from ..normalize import safe_link

if TYPE_CHECKING:
    from trafilatura.settings import Extractor

_ARTICLE_TYPES = {"article", "newsarticle", "blogposting", "reportagenewsarticle", "webpage"}
_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form")
# What BeautifulSoup's get_text skipped, and so what a title or heading's text leaves out.
_NOT_TEXT = frozenset({"script", "style", "template"})


def _named(*parts: str, scope: str = "") -> str:
    """An XPath to the elements whose class or id contains one of ``parts``. Parts
    without their first letter ("ookie") find "cookie" and "Cookie" alike: contains()
    is a fast string search where translate() to lower case costs 10 ms a big page. The
    attributes are searched, not the elements (most have neither): a third of the time,
    and the union is in document order all the same."""
    tests = " or ".join(f"contains(., '{p}')" for p in parts)
    return f"{scope}//*/@class[{tests}]/.. | {scope}//*/@id[{tests}]/.."


# lxml refuses these characters in a str ("All strings must be XML compatible").
_UNPARSABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_UTF8 = lxml.html.HTMLParser(encoding="utf-8")
# lxml stops parsing at depth 256 and drops the rest of the page (unclosed inline tags nest
# that deep); BeautifulSoup, which read the metadata before, went on. With huge_tree the
# limit is 2048 (the fetcher caps bodies at max_bytes). The main text is extracted as it
# always was, from the page cut at depth 256: readability's work (trafilatura runs a copy)
# grows with the square of the depth, to seconds a page beyond it.
_DEEP_UTF8 = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
_MAX_DEPTH = 256
_TOO_DEEP = etree.XPath("boolean(" + "/*" * (_MAX_DEPTH + 1) + ")")  # an element below it
# Consent banners are recognisable only by name (_cut_consent). XPath, not a regex per
# element: it is one pass in C over pages of thousands of elements.
_CONSENT_NAMED = etree.XPath(_named("ookie", "onsent", "gdpr", "GDPR"))
_SMALL_CHARS = 1000
# A container is a block of links when 3 links or more hold most of its text (and it is
# not most of the page's text).
_LINK_BLOCKS = ("div", "section", "table", "td", "th", "ul", "ol", "p")
_MIN_LINKS = 3
_LINK_SHARE = 0.8
# Short blocks inside an article that readers skip (_drop_boilerplate). Measured on the
# trafilatura evaluation set: dropping link teasers +0.004 snippet F1, lead-ins +0.003.
_SHORT_BLOCKS = ("p", "h2", "h3", "h4", "h5", "h6", "blockquote")
_TEASER_CHARS = 200  # characters, whitespace not counted
_TEASER = re.compile(
    r"(?i)(read (more|also|next)|see also|related( stories| articles| posts)?|also read"
    r"|more on this|recommended( reading)?|lesen sie (auch|mehr)|auch (lesen|interessant)"
    r"|mehr zum thema|das könnte (dich|sie) auch interessieren|lea (también|tambien|más|mas)"
    r"|le puede interesar|te puede interesar|puedes ver|vea también|noticias relacionadas"
    r"|contenido relacionado|(à )?lire aussi|à voir aussi|czytaj (też|także|więcej)"
    r"|zobacz (też|także)|leggi anche|leia (também|mais))\b\s*[:.…»\-\u2013—]"
)
# A heading after which an article's page lists other pages: "Related stories", "Weitere
# Themen", "Temas relacionados", "Read next", "Tags". The whole block says only that.
_END_CUE = re.compile(
    r"(?i)(?:(?:related|recommended|trending)|(?:related|more|other|similar|recommended"
    r"|popular|trending|latest|also) (?:stories|articles|posts|news|content|tutorials|links"
    r"|reading|topics|videos|from .{1,30}|on (?:this|the) (?:topic|story|subject)|like this"
    r"|for you)"
    r"|(?:read|watch) (?:more|next|also)|see also|also (?:read|on .{1,30})"
    r"|you (?:may|might) also like|most (?:read|popular|viewed|shared)|tags|tagged|topics"
    r"|schlagw[öo]rte?|stichw[öo]rte?|themen|temas|etiquetas"
    r"|weitere (?:themen|artikel|beiträge|nachrichten|meldungen|news|storys|videos)(?: .{1,30})?"
    r"|mehr (?:zum thema|themen|dazu|kolumnen|artikel|beiträge|news|aus .{1,30}|zu .{1,30}"
    r"|von .{1,30})(?: auf .{1,30})?|(?:das|dies) k[öo]nnte (?:dich|sie|euch) auch"
    r" interessieren|auch interessant|schon gelesen|lust auf mehr|zum weiterlesen"
    r"|lesen sie (?:auch|mehr|weiter).{0,40}|(?:empfohlene|ähnliche) (?:beiträge|artikel)"
    r"|top-?themen.{0,30}|entdecke weitere.{0,30}|auch auf .{1,30}"
    r"|(?:temas|notas|noticias|art[íi]culos) relacionad[oa]s|contenido relacionado"
    r"|más noticias|lo más (?:leído|visto)|(?:te|le) puede interesar|(?:à )?lire aussi"
    r"|sur le même sujet|articles similaires|dans la même rubrique"
    r"|czytaj (?:też|także|więcej)|zobacz (?:też|także)|polecamy|leggi anche"
    r"|articoli correlati|leia (?:também|mais)|veja também|notícias relacionadas|mais lidas"
    r")\s*[:.!?…»]?"
)
# What pages end an article with: calls to subscribe, follow, support, write in; rights.
_CALL = re.compile(
    r"(?i)(newsletter|\bsubscribe (now|today|here|for|to (our|the))\b|\bsubscribe\b\W*$"
    r"|(already|become) a (subscriber|member)|(first-time|new) subscribers"
    r"|\bsign up (here|now|today|for (our|the|free)|to (our|get|receive))"
    r"|\blog ?in (here|now|to)\b|register now"
    r"|\bfollow (us|the \w+) on\b|download (the|our)\b.{0,40}\bapp"
    r"|\bapp\b.{0,20}\b(ios|android)\b|\b(consider|please) (supporting|donating)"
    r"|(support|unterstütze|apoya|soutenez) (us|our|uns|unser|nuestro|notre)\w*"
    r"|letter to the editor|leserbrief|^©|© ?\d{4}|\(c\) \d{4}|copyright"
    r"|all rights reserved|alle rechte vorbehalten|todos los derechos|tous droits"
    r"|prawem autorskim|eingeloggt|kommentare? (schreiben|erscheinen)|keine kommentare"
    r"|artikel bewerten|síguenos|siguenos|folgen sie uns|suivez-nous|seguici"
    r"|(telegram|whatsapp|youtube)(-| )?(kanal|canal|channel)"
    r"|(kanal|canal|channel) (de|on|auf|en) (telegram|whatsapp|youtube)|abonn(ier|ez|ement)"
    r"|suscr[ií]b|hazte (miembro|socio)|zapraszamy (też )?do subskrypcji|posteingang"
    r"|in your inbox|trust principles)"
)
_CALL_CHARS = 300  # characters, whitespace not counted
_END_CUE_WORDS = 7
# Before a cue, most of the article: "Related" near the top is a sidebar's, not the end.
_END_CUE_AFTER = 2 / 3
_CREDIT = re.compile(
    r"(?i)(©|\(c\)\s|(photo|foto|fot\.|bild|image|credit|crédits?( photos?)?|titelbild"
    r"|beitragsbild|copyright)\s*:)"
)
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
        article, leads, declared = _metadata(
            lxml.html.Element("html") if root is None else root, origin, url
        )
        if root is not None and _TOO_DEEP(root):
            root = _parse(html)  # rare: cut at depth 256 for the extractor, see _DEEP_UTF8
    except Exception as exc:  # a parser's failure must not end a whole publish run
        return Article(origin=origin, warnings=[f"page not parsed: {type(exc).__name__}"])
    article.content_html = _content_html(html, url, root, article.title, leads, declared)
    return article


def page_text(html: str, url: str = "") -> str:
    """The plain text of the page's main content: what would become an entry's body.

    Blocks are separated by a blank line, list items start with ``- ``. Never raises;
    returns ``""`` when the page has no main text.
    """
    # The same extraction as article_from_html's: clip and extract show the same body.
    return plain_text(article_from_html(html, origin=url or "page", url=url).content_html)


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


def _metadata(root: lxml.html.HtmlElement, origin: str, url: str) -> tuple[Article, list[str], str]:
    """What the page declares about itself: JSON-LD (every object, articles first),
    microdata, Open Graph and other meta tags, ``rel=author`` links, ``<time>``; the
    descriptions it declares (meta tags, JSON-LD), which may be its lead (``_lead``);
    and the longest text it declares as an article's body (JSON-LD ``articleBody``)."""
    objects = _json_ld(root)
    ld = objects[0] if objects and _is_article(objects[0]) else {}
    metas = _meta_index(root)
    article = Article(origin=origin)
    link = _canonical(root) or _meta(metas, "og:url") or _text(ld.get("url"))
    article.link = urljoin(url, link.strip()) if url and link else link or url
    article.title = _title(root, metas, ld, article.link or url)
    article.authors = _authors(root, metas, objects)
    # Lazily: the page is searched only as far as it takes to find a date.
    article.published = _first_date(
        chain(
            (_text(o.get("datePublished")) for o in objects),
            (_meta(metas, name) for name in _DATE_METAS),
            _itemprop_values(root, "datePublished"),
            _time_datetimes(root),
        )
    )
    article.updated = _first_date(
        chain(
            (_text(o.get("dateModified")) for o in objects),
            (_meta(metas, name) for name in ("article:modified_time", "og:updated_time")),
            _itemprop_values(root, "dateModified"),
        )
    )
    image = _meta(metas, "og:image") or _meta(metas, "twitter:image") or _ld_image(ld.get("image"))
    article.image = urljoin(url, image.strip()) if url and image else image
    article.summary = _unescape(_meta(metas, "og:description") or _meta(metas, "description"))
    keywords = _unescape(_meta(metas, "keywords"))
    article.tags = [k.strip() for k in keywords.split(",") if k.strip()][:20]
    descriptions = chain(
        (_meta(metas, name) for name in ("og:description", "description", "twitter:description")),
        (_text(o.get("description")) for o in objects if _is_article(o)),
    )
    leads = list(dict.fromkeys(" ".join(_unescape(d).split()) for d in descriptions if d))
    bodies = (o.get("articleBody") for o in objects if _is_article(o))
    declared = max((b for b in bodies if isinstance(b, str)), key=len, default="")
    return article, leads, declared


# Meta tags that carry the published date, in the order they are believed.
_DATE_METAS = (
    "article:published_time", "og:published_time", "parsely-pub-date", "sailthru.date",
    "pdate", "pubdate", "publishdate", "publish-date", "dc.date.issued", "dcterms.issued",
    "dc.date", "dcterms.date", "dcterms.created", "date",
)  # fmt: skip
# Meta tags that name the author: a name, never a profile URL (see _clean_authors).
_AUTHOR_METAS = (
    "author", "article:author", "byl", "sailthru.author", "parsely-author", "dc.creator",
    "dcterms.creator", "citation_author",
)  # fmt: skip


def _first_date(candidates: Iterable[str]) -> datetime | None:
    """The first candidate that is a plausible date (``0001-01-01`` placeholders are not)."""
    for candidate in candidates:
        if candidate and (found := parse_date(candidate)) is not None:
            return found
    return None


def _title(root: lxml.html.HtmlElement, metas: dict[str, str], ld: dict[str, Any], url: str) -> str:
    """The article's headline: what the page declares as such (JSON-LD, Dublin Core,
    Open Graph, Twitter), the one its ``<title>`` contains when they differ (a JSON-LD
    headline is sometimes a description); else its ``<title>`` without a site-name
    suffix, else its ``<h1>``.

    A declared headline is kept as declared, suffix and all ("How to Build a Terrarium
    | eHow" when that is the og:title): on Mozilla Readability's 130 real pages that is
    the reference title 7 times more than cutting it (126 against 119). The site-name
    rule is for the ``<title>`` tag, where sites append their name to every page."""
    candidates = (
        _text(ld.get("headline")),
        _text(ld.get("name")),
        _meta(metas, "dc.title"),
        _meta(metas, "dcterms.title"),
        _meta(metas, "og:title"),
        _meta(metas, "twitter:title"),
        _meta(metas, "parsely-title"),
    )
    # Emptiness is judged after unescaping: an og:title of "&nbsp;" is no headline, and
    # must not hide the twitter:title after it.
    declared = [title for title in (" ".join(_unescape(c).split()) for c in candidates) if title]
    tag = _first_text(root, "title")
    shown = _squash(tag)
    # Contained, and most of it: a site's name is in every <title> of the site.
    title = next((t for t in declared if _squash(t) in shown and _most_of(t, shown)), "")
    title = title or (declared[0] if declared else "")
    return (
        title or _without_site_name(_without_last_part(tag), metas, url) or _first_text(root, "h1")
    )


def _most_of(title: str, shown: str) -> bool:
    return 2 * len(_squash(title)) >= len(shown) > 0


def _without_last_part(title: str) -> str:
    """A ``<title>`` that names no site: its last " | part" goes when four words or more
    are left ("Bridge reopens after two years | Riverton Courier")."""
    match = _SITE_SUFFIX.search(title)
    if match is None or len(title[: match.start()].split()) < 4:
        return title
    return title[: match.start()].strip()


# " | Site", " - Site", " · Site", " :: Site" (and dashes) at the end of a title.
_SITE_SUFFIX = re.compile(r"\s+(?:[|\-\u2013—·•»:]|::)\s+([^|\-\u2013—·•»]+?)\s*$")


def _without_site_name(title: str, metas: dict[str, str], url: str) -> str:
    """``title`` without a trailing site name: one that is ``og:site_name`` (or
    ``application-name``), or that spells the page's host ("Example News" on
    news.example.com). Titles like "Part 1 - The start" keep their dash."""
    match = _SITE_SUFFIX.search(title)
    if match is None:
        return title
    suffix = _squash(match.group(1))
    names = {_squash(_meta(metas, "og:site_name")), _squash(_meta(metas, "application-name"))}
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    labels = [label for label in host.split(".")[:-1] if label]
    if suffix and (
        suffix in names
        or any(_squash(label) == suffix for label in labels)
        or _squash("".join(labels)) == suffix
        or (host and _squash(host) == suffix)
    ):
        return title[: match.start()].strip()
    return title


def _squash(text: str) -> str:
    """Letters and digits only, lower-cased: "The Daily-Example" is "thedailyexample"."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _unescape(text: str) -> str:
    """Text that a page escaped twice (``&amp;quot;``) or cut into (U+FFFD) made clean."""
    for _ in range(2):
        if "&" not in text:
            break
        text = html.unescape(text)
    return text.replace("\ufffd", "").strip()


def _authors(
    root: lxml.html.HtmlElement, metas: dict[str, str], objects: list[dict[str, Any]]
) -> list[str]:
    """The article's authors: from JSON-LD (every object, articles first), microdata
    (``itemprop=author``), meta tags, ``rel=author`` links; the first source that names
    one wins."""
    sources: tuple[Callable[[], list[str]], ...] = (
        lambda: [name for o in objects for name in _ld_authors(o.get("author"))],
        lambda: _microdata_authors(root),
        lambda: [a for name in _AUTHOR_METAS for a in _split(_meta(metas, name))],
        lambda: _rel_authors(root),
        lambda: _byline_authors(root),
        # A publisher named as the author is the last resort: the byline names a person.
        lambda: [n for o in objects for n in _ld_authors(o.get("author"), organizations=True)],
    )
    for source in sources:
        found = _clean_authors(source())
        if found:
            return found
    return []


# "By Jane Doe", "Par Jean Dupont", "Von Max Muster", "Por Ana Ruiz", "Written by …".
_BY = re.compile(
    r"(?i)^(?:(?:written|posted|reported|text)\s+)?(?:by|par|von|por|di|door|av)\b[:\s]*"
)
# What follows a name after a comma in a byline: "Tom Krisher, AP Auto Writer".
_JOB = re.compile(
    r"(?i)\b(writer|reporter|correspondent|editor|staff|contributor|columnist|journalist"
    r"|press|news|redakt|autor|photographer|producer|analyst|desk|team|service|wire)"
)


def _clean_authors(names: list[str]) -> list[str]:
    """Names as readers should see them: no "By", no job title, no URL, no duplicates."""
    out: dict[str, str] = {}
    for raw in names:
        name = " ".join(_unescape(raw).split())
        name = _BY.sub("", name).strip(" ,;:|-\u2013—")
        if "," in name:
            head, tail = name.split(",", 1)
            if _JOB.search(tail):
                name = head.strip()
        if not name or "://" in name or name.startswith(("www.", "@")) or len(name) > 100:
            continue
        out.setdefault(name.casefold(), name)
    return list(out.values())


def _microdata_authors(root: lxml.html.HtmlElement) -> list[str]:
    names = []
    for element in _found(_ITEMPROP_AUTHOR, root):
        if not {"author", "creator"} & set((element.get("itemprop") or "").split()):
            continue
        named = _found(_ITEMPROP_NAME, element)
        value = named[0] if named else element
        text = value.get("content") or _inline_text(value)
        if text:
            names.append(text)
    return names


def _byline_authors(root: lxml.html.HtmlElement) -> list[str]:
    """The name in the page's first byline (an element whose class or id says so): its
    first run of text that is not "By", a date or a label."""
    for element in _found(_BYLINE, root):
        if element.tag in ("script", "style", "meta", "link") or _NOT_BYLINE.search(
            f"{element.get('class', '')} {element.get('id', '')}"
        ):
            continue
        if next(element.iterancestors("footer", "aside", "nav"), None) is not None:
            continue
        text = _inline_text(element)
        if not text or len(text) > _BYLINE_CHARS:
            continue
        for run in element.itertext():
            name = _BY.sub("", " ".join(str(run).split())).strip(" ,;:|-\u2013—·•")
            if len(name) > 2 and not _NOT_A_NAME.search(name) and _BY.sub("", name) == name:
                return [name]
    return []


def _rel_authors(root: lxml.html.HtmlElement) -> list[str]:
    return [t for a in _found(_REL_AUTHOR, root) if (t := _inline_text(a))]


def _itemprop_values(root: lxml.html.HtmlElement, prop: str) -> Iterator[str]:
    """The values of the microdata property ``prop``: an attribute, else the text."""
    for element in _found(_ITEMPROP, root, prop=prop):
        yield (element.get("content") or element.get("datetime") or _inline_text(element)).strip()


def _found(path: etree.XPath, node: lxml.html.HtmlElement, **variables: str) -> list[Any]:
    """The elements an XPath finds (it is typed to return anything an XPath can)."""
    result = path(node, **variables)
    return [e for e in result if isinstance(e, etree._Element)] if isinstance(result, list) else []


def _inline_text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())[:200]


_ITEMPROP = etree.XPath("//*/@itemprop[. = $prop]/..")  # attributes searched: see _named
# A lead: a description of 40 characters or more, found by its first 30 in the text
# of the page's body.
_LEAD_MIN_CHARS = 40
_LEAD_PROBE_CHARS = 30
_LEAD_MAX_CHARS = 600
_LEAD_TEXT = etree.XPath("//body//text()[contains(normalize-space(.), $probe)]")
_LEAD_BLOCKS = frozenset(
    {"p", "div", "section", "header", "h2", "h3", "h4", "h5", "h6", "blockquote", "article"}
)
_NOT_LEAD = (
    "h1",
    "a",
    "nav",
    "footer",
    "aside",
    "script",
    "style",
    "noscript",
    "template",
    "title",
)
# Controls and hidden parts (ARIA): on Readability's pages +0.002 body F1 (a news page's
# video player, 0.58 -> 0.83), and on the trafilatura set +1 snippet found, -1 unwanted.
_CONTROLS = etree.XPath(
    "//*[@aria-hidden='true' or @role='button' or @role='dialog' or @role='menu'"
    " or @role='slider' or @role='tooltip' or @role='toolbar' or @role='progressbar'"
    " or @role='menubar' or @role='listbox' or @role='alertdialog']"
)
_CAPTIONS = etree.XPath("//figcaption | " + _named("aption", "redit"))
_BYLINE = etree.XPath(_named("yline", "uthor", "rittenby", scope="//body"))
_NOT_BYLINE = re.compile(r"(?i)comment|follow|bio|avatar|box|widget|list")
_BYLINE_CHARS = 100
# A run of byline text that is no name: a date, a time, a label, a count.
_NOT_A_NAME = re.compile(
    r"(?i)\d|^(and|und|et|y|e|with|mit|updated|published|posted|follow|share|more|about"
    r"|author|autor|staff|photo|foto|by)\b"
)
_ITEMPROP_AUTHOR = etree.XPath("//*/@itemprop[contains(., 'author') or contains(., 'creator')]/..")
_ITEMPROP_NAME = etree.XPath(".//*[@itemprop='name']")
_REL_AUTHOR = etree.XPath("//a[contains(concat(' ', normalize-space(@rel), ' '), ' author ')]")


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
        # property holds a list of words ("dc:creator og:author"); Dublin Core is
        # written dc:creator, dc.creator and DC.Creator alike.
        for word in (prop or "").split():
            index.setdefault(f"property:{word.lower().replace('dc:', 'dc.')}", content)
        if name is not None:
            index.setdefault(f"name:{name.lower().replace('dc:', 'dc.')}", content)
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


def _time_datetimes(root: lxml.html.HtmlElement) -> Iterator[str]:
    """The ``datetime`` of the page's ``<time>`` elements, the one marked ``pubdate``
    first."""
    times = [
        (tag.get("pubdate") is None, d) for tag in root.iter("time") if (d := tag.get("datetime"))
    ]
    return (d for _, d in sorted(times, key=lambda t: t[0]))


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace(" and ", ",").split(",") if v.strip()]


def _json_ld(root: lxml.html.HtmlElement) -> list[dict[str, Any]]:
    """Every JSON-LD object of the page (inside ``@graph``, lists and other objects too),
    in page order, the ones that describe an article first."""
    objects: list[dict[str, Any]] = []
    for script in root.iter("script"):
        if not _is_json_ld(script):
            continue
        text = script.text or ""
        if "<!" in text or "]]>" in text or "-->" in text:  # else it cannot match: cheaper
            text = _LD_WRAPPER.sub("", text)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            continue
        _ld_walk(data, objects, 0)
    return sorted(objects, key=lambda o: not _is_article(o))  # stable: page order kept


def _is_json_ld(element: lxml.html.HtmlElement) -> bool:
    """Whether ``element`` is a ``<script type="application/ld+json">``."""
    kind = (element.get("type") or "").strip().lower()
    return element.tag == "script" and kind == "application/ld+json"


# What CMSs wrap JSON-LD in, for browsers that no longer exist: CDATA, HTML comments.
_LD_WRAPPER = re.compile(
    r"^\s*(?://|/\*)?\s*(?:<!\[CDATA\[|<!--)\s*(?:\*/)?|(?://|/\*)?\s*(?:\]\]>|-->)\s*(?:\*/)?\s*$"
)
_LD_DEPTH = 6  # how deep objects are looked for (an article in a WebPage's mainEntity)


def _ld_walk(data: Any, into: list[dict[str, Any]], depth: int) -> None:
    if depth > _LD_DEPTH:
        return
    if isinstance(data, list):
        for item in data:
            _ld_walk(item, into, depth + 1)
    elif isinstance(data, dict):
        if "@type" in data:
            into.append(data)
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement", "hasPart"):
            if key in data:
                _ld_walk(data[key], into, depth + 1)


def _is_article(item: dict[str, Any]) -> bool:
    kinds = item.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(
        isinstance(k, str) and (k.lower() in _ARTICLE_TYPES or k.endswith("Article")) for k in kinds
    )


def _ld_authors(value: Any, *, organizations: bool = False) -> list[str]:
    """The names of a JSON-LD ``author``: a name, a Person, or a list of them;
    Organizations only when ``organizations``."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, dict):
            kinds = item.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if ("Organization" in kinds or "NewsMediaOrganization" in kinds) != organizations:
                continue
            name = item.get("name")
        else:
            name = None if organizations else item
        if isinstance(name, list):
            name = next((n for n in name if isinstance(n, str)), None)
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def _content_html(
    html: str,
    url: str,
    root: lxml.html.HtmlElement | None,
    title: str = "",
    leads: Iterable[str] = (),
    declared: str = "",
) -> str:
    """The main content as HTML: the extractor's, else the heuristic's, else ``""``;
    without the ``title``, which readers show already. The body the page ``declared``
    (JSON-LD ``articleBody``) replaces the extractor's when that holds little of it: the
    extractor took another block, or the text is filled in by a script.

    ``root`` is ``html`` parsed (``None`` if unparsable); it is cut and changed here.
    """
    if root is None:
        return ""
    try:
        base = _base_url(root, url)
        found = _extracted_html(root, base, title, leads)
        if declared and _missed(found, declared):
            found = _tidy(_declared_html(declared), base, title) or found
        if not found:
            # The tree has lost its banners by now: the heuristic reads the page as it
            # came. A rare path.
            found = _tidy(_heuristic_html(html), base, title)
        return found
    except Exception:  # an unforeseen parser failure costs the body, not the run
        return ""


_WORD = re.compile(r"\w+")
_DECLARED_WORDS = 100  # an articleBody shorter than this may be a teaser
_DECLARED_HELD = 0.3  # the share of its words an extraction that found it holds at least


def _missed(found: str, declared: str) -> bool:
    """Whether the extracted ``found`` (HTML) holds little of the body the page declares:
    under 30 % of its words, when it declares 100 or more. On the trafilatura evaluation
    set, 49 pages declare one that long; the extraction holds 49 % of one, 60 % of
    another, over 80 % of the rest."""
    words = _WORD.findall(declared.lower())
    if len(words) < _DECLARED_WORDS:
        return False
    held = set(_WORD.findall(html.unescape(_TAGS.sub(" ", found)).lower()))
    return sum(word in held for word in words) < _DECLARED_HELD * len(words)


_TAGS = re.compile(r"<[^>]*>")


def _declared_html(declared: str) -> str:
    """A declared ``articleBody`` as HTML: as it is when it is markup, else a paragraph
    per line."""
    if _TAGS.search(declared) and re.search(r"(?i)</?(p|br|div|h[1-6]|ul|li)\b", declared):
        try:
            body = lxml.html.fragment_fromstring(declared, create_parent="div")
        except (etree.ParserError, ValueError):  # no markup after all: "<3 <"
            return ""
        for element in list(body.iter(*_DROP)):
            element.drop_tree()  # (sanitize drops their tags, but not their text)
        return etree.tostring(body, encoding="unicode")
    lines = (" ".join(line.split()) for line in html.unescape(declared).splitlines())
    return "".join(f"<p>{escape(line)}</p>" for line in lines if line)


def _extracted_html(
    root: lxml.html.HtmlElement, base: str, title: str = "", leads: Iterable[str] = ()
) -> str:
    """trafilatura's main content of the page, without the boilerplate it keeps (see
    ``_drop_boilerplate``), its links resolved against ``base``; ``""`` if none."""
    import trafilatura  # lazily: seed-only runs never need it

    _cut_consent(root)
    # What it removes first thing anyway: its copies of the tree (its own and
    # readability's) cost less without them. Not JSON-LD, which it reads: a forum
    # thread's type, and the articleBody of a page its script would fill.
    for element in list(root.iter("script", "style")):
        if not _is_json_ld(element):
            element.drop_tree()
    # Neither a url nor a <base>: it would resolve links itself, "java\tscript:" and ""
    # among them. _tidy checks each link, then resolves it against base (which took a
    # valid <base href> into account).
    for element in list(root.iter("base")):
        element.drop_tree()
    # Checked before it sees them: its output percent-encodes hrefs, and
    # "%01javascript:" would pass for a relative link.
    for element in root.iter("a"):
        href = element.get("href")
        if href is not None and safe_link(href) is None:
            del element.attrib["href"]
    # Its defaults, as its own evaluation runs them: its extractor, compared with its
    # copy of readability, and jusText where it found little. With images, which bring
    # their captions and credits along: those are cut before (_cut_consent). Measured on
    # the trafilatura evaluation set (bench/bench_extract.py), with what is done after:
    # snippet F1 0.943 so, 0.946 without images at all (0.928 and 0.931 before the lead
    # and the cut ends).
    document = trafilatura.bare_extraction(root, options=_trafilatura_options())
    if not isinstance(document, trafilatura.settings.Document) or document.body is None:
        return ""
    # Its own conversion to HTML, without the rest of extract(): a fingerprint of the
    # text and a serialization, 4 ms a page.
    from trafilatura.htmlprocessing import convert_to_html

    converted = convert_to_html(document.body)[0]
    converted.tag = "div"
    body = lxml.html.fragment_fromstring(etree.tostring(converted, encoding="unicode"))
    _drop_boilerplate(body)
    _cut_tail(body)
    _cut_calls(body)
    body.tag = "div"
    lead = _lead(root, leads, body, title)
    if lead is not None:
        body.insert(0, lead)
    return _tidy_tree(body, base, title)


@cache
def _trafilatura_options() -> Extractor:
    """trafilatura's settings for ``_extracted_html``, made once: built for each page
    (a parse of its configuration) they cost 2 % of an extraction. It copies them
    before changing any, so they can be shared."""
    from trafilatura.settings import Extractor

    return Extractor(
        output_format="html", comments=False, tables=True, links=True, images=True,
        with_metadata=False,
    )  # fmt: skip


def _lead(
    root: lxml.html.HtmlElement,
    leads: Iterable[str],
    body: lxml.html.HtmlElement,
    title: str = "",
) -> lxml.html.HtmlElement | None:
    """The page's lead paragraph as a ``<p>``, when the extractor left it out: the block
    of the page that shows one of its declared descriptions (a standfirst, an intro or
    "teaser" above the article is often outside the container the extractor takes);
    ``None`` when the body has it already or no such block is shown."""
    shown, heading = body.text_content().casefold(), _squash(title)
    probes = set()  # descriptions often differ only in where they are cut
    for description in leads:
        text = description.rstrip(".…").strip()
        if len(text) < _LEAD_MIN_CHARS:
            continue
        if _starts_in(text, shown):
            return None
        probe = text[:_LEAD_PROBE_CHARS]
        if probe in probes:
            continue
        probes.add(probe)
        for element in _text_holders(root, probe):
            if element.tag in _NOT_LEAD:
                continue
            if next(element.iterancestors(*_NOT_LEAD), None) is not None:
                continue
            block = next(
                (e for e in chain([element], element.iterancestors()) if e.tag in _LEAD_BLOCKS),
                None,
            )
            if block is None:
                continue
            words = " ".join(block.text_content().split())
            if not _LEAD_MIN_CHARS <= len(words) <= max(_LEAD_MAX_CHARS, 2 * len(text)):
                continue
            squashed = _squash(words)
            mostly_title = heading in squashed and len(squashed) < 2 * len(heading)
            if heading and (squashed in heading or mostly_title):
                continue  # the title, or a block that is mostly the title
            if _starts_in(words, shown):
                return None
            lead = lxml.html.Element("p")
            lead.text = words
            return lead
    return None


def _starts_in(text: str, folded: str) -> bool:
    """Whether the first words of ``text`` (up to 60 characters) are in the text whose
    ``casefold()`` is ``folded``, in that order, whatever the case, spaces and punctuation
    between them (typographic quotes in one, straight ones in the other). Word by word
    from each place the first word is: a regular expression of the words, compiled for
    each page, cost more than the rest of the lead's search."""
    words = [word.casefold() for word in _WORD.findall(text[: _LEAD_PROBE_CHARS * 2])]
    if not words:
        return False
    start = folded.find(words[0])
    while start >= 0:
        end = start + len(words[0])
        for word in words[1:]:
            gap = _NOT_WORDS.match(folded, end)
            end = gap.end() if gap else end
            if not folded.startswith(word, end):
                break
            end += len(word)
        else:
            return True
        start = folded.find(words[0], start + 1)
    return False


_NOT_WORDS = re.compile(r"\W*")  # matches everywhere, if only the empty string
_WORD = re.compile(r"[^\W_]+")


def _text_holders(root: lxml.html.HtmlElement, probe: str) -> Iterator[lxml.html.HtmlElement]:
    """The elements of the page's body whose text holds ``probe`` in one run (a tail's
    is the element around it), whitespace folded."""
    result = _LEAD_TEXT(root, probe=probe)
    for node in result if isinstance(result, list) else []:
        if isinstance(node, etree._ElementUnicodeResult):
            element = node.getparent()
            if element is not None and node.is_tail:
                element = element.getparent()
            if element is not None:
                yield element


def _cut_consent(root: lxml.html.HtmlElement) -> None:
    """Drop cookie and consent banners, controls and hidden parts, captions and
    ``<nav>`` from the page, in place: banners are text-dense, so extractors take them
    for the article on short pages, and only their names say what they are (an element
    that holds most of the page is no banner); a video player's buttons and settings
    menus are words no reader reads; captions and photo credits come along with the
    images; the extractor's fallback on short pages keeps menus."""
    page_chars = len(root.text_content())
    doomed = [
        element
        for element in _found(_CONSENT_NAMED, root)
        if element.tag not in ("html", "body")
        and len(element.text_content()) < max(_SMALL_CHARS, page_chars / 2)
    ]
    for element in doomed:
        if element.getparent() is not None:  # not inside a banner dropped already
            element.drop_tree()
    # What readers never see as text: a player's buttons and menus, hidden parts (a
    # page that hides itself behind a modal while it loads is not cut: most of it).
    for element in _found(_CONTROLS, root):
        if (
            element.getparent() is not None
            and element.tag not in ("html", "body")
            and len(element.text_content()) < max(_SMALL_CHARS, page_chars / 2)
        ):
            element.drop_tree()
    for element in _found(_CAPTIONS, root):
        if element.getparent() is not None and element.find(".//img") is None:
            element.drop_tree()
    for element in [e for e in root.iter("nav") if not _wraps_content(e)]:
        if element.getparent() is not None:
            element.drop_tree()


def _wraps_content(element: lxml.html.HtmlElement) -> bool:
    """Whether a ``<nav>`` holds the article: some sites wrap the page in odd tags."""
    return element.find(".//article") is not None or element.find(".//main") is not None


def _drop_boilerplate(body: lxml.html.HtmlElement) -> None:
    """Drop, in place, the short blocks that the extractors keep inside an article but
    readers skip: a teaser that is one link ("Read more: <a>…</a>"), a block led in by
    "Read also" and the like, a photo credit."""
    doomed = []
    for block in body.iter(*_SHORT_BLOCKS):
        chars = _chars(block)
        if not chars or chars > _TEASER_CHARS:
            continue
        text = " ".join(block.text_content().split())
        linked = sum(_chars(a) for a in block.iter("a") if a.get("href"))
        if linked >= _LINK_SHARE * chars or _TEASER.match(text) or _CREDIT.match(text):
            doomed.append(block)
    for block in doomed:
        if block.getparent() is not None:
            block.drop_tree()


def _cut_tail(body: lxml.html.HtmlElement) -> None:
    """Drop, in place, the end of the body from a heading that announces other pages
    ("Related stories", "Weitere Themen", "Tags"): what follows is their teasers, not
    the article. Only in the body's last part: most of its text comes before."""
    cues = {block for block in body.iter(*_SHORT_BLOCKS) if _is_end_cue(block)}
    total = _chars(body)
    if not cues or not total:
        return
    before = 0  # characters of text before the element, whitespace not counted
    for event, element in etree.iterwalk(body, events=("start", "end")):
        if event == "end":
            before += len("".join((element.tail or "").split()))
            continue
        if element in cues and before >= _END_CUE_AFTER * total:
            _drop_from(element, body)
            return
        before += len("".join((element.text or "").split()))


def _is_end_cue(block: lxml.html.HtmlElement) -> bool:
    text = block.text_content()
    if len(text) > _END_CUE_WORDS * 20:
        return False
    words = text.split()
    return len(words) <= _END_CUE_WORDS and _END_CUE.fullmatch(" ".join(words)) is not None


def _cut_calls(body: lxml.html.HtmlElement) -> None:
    """Drop, in place, the short blocks that end the body and only ask the reader to
    subscribe, follow, support or write in, or state rights: from the last block back, as
    long as they do."""
    for block in reversed(list(body.iter(*_SHORT_BLOCKS, "li"))):
        text = block.text_content()
        chars = len("".join(text.split()))
        if not chars:
            continue
        if chars > _CALL_CHARS or not _CALL.search(" ".join(text.split())):
            return
        if not "".join(body.text_content().split()).endswith("".join(text.split())):
            return  # text follows that is in no such block (a table's, say)
        block.drop_tree()


def _drop_from(element: lxml.html.HtmlElement, root: lxml.html.HtmlElement) -> None:
    """Remove ``element`` and everything after it, up to the end of ``root``."""
    node = element
    while node is not root:
        parent = node.getparent()
        if parent is None:
            return
        for sibling in list(node.itersiblings()):
            parent.remove(sibling)
        node.tail = None
        node = parent
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def _tidy(fragment: str, base: str = "", title: str = "") -> str:
    """The fragment without the title (which readers show already: its first ``<h1>``,
    or a leading block that says ``title``) and without blocks of links, its links
    absolute against ``base``; ``""`` when nothing readable is left. A link whose scheme
    is not http(s) or mailto, or that is empty, is dropped (an anchor keeps its text, an
    image goes)."""
    if not fragment.strip():
        return ""
    return _tidy_tree(lxml.html.fragment_fromstring(fragment, create_parent="div"), base, title)


def _tidy_tree(root: lxml.html.HtmlElement, base: str, title: str) -> str:
    """``_tidy`` of a fragment parsed already (its root is a ``<div>``), in place."""
    heading = root.find(".//h1")
    if heading is None and title:
        heading = next(
            (
                b
                for b in islice(root.iter(*_TEXT_BLOCKS), 1, 4)
                if _squash(b.text_content()) == _squash(title)
            ),
            None,
        )
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


def plain_text(fragment: str) -> str:
    """The text of an HTML fragment with its blocks kept apart (lxml's text runs them
    on): blocks separated by a blank line, list items starting with ``- ``."""
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
