"""The check that published output is inert, shared by test_escaping.py and test_hostile.py.

``check_outputs(feeds_dir)`` reads every file a publish wrote and returns one line per
problem (an empty list: all is well). It reads each field the way render.py's table says
readers read it:

- HTML fields (Atom ``content``/``summary`` of ``type="html"``, RSS ``description`` and
  ``content:encoded``, JSON Feed ``content_html``) are parsed as HTML and may hold only
  what nh3's default allowlist permits (``nh3.ALLOWED_TAGS`` / ``nh3.ALLOWED_ATTRIBUTES``,
  ammonia's generic ``lang``/``title`` and the ``rel`` that ``link_rel`` adds to links),
  no ``on*`` attribute, no link that is not http(s), mailto or relative.
- Text fields (Atom text constructs, RSS title/creator/category/guid, JSON Feed title,
  summary, content_text, names, tags) are rendered as their type says: Atom's ``type``
  attribute decides, the others are text. Rendered, they must hold no element.
- ``index.html`` may hold only the elements the renderer writes; ``feeds.opml`` only OPML.

Every HTML string is read by two parsers, lxml.html (libxml2) and the standard library's
tokenizer (html.parser, close to what browsers do with raw text elements): markup that one
of them sees as live counts, so a parser differential cannot hide a payload.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import lxml.html
import nh3
from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"

ALLOWED_TAGS = frozenset(nh3.ALLOWED_TAGS)
# ammonia's default generic attributes, allowed on every tag nh3 keeps.
GENERIC_ATTRIBUTES = frozenset({"lang", "title"})
ALLOWED_ATTRIBUTES = {
    tag: frozenset(attrs) | GENERIC_ATTRIBUTES for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
# normalize.sanitize_html passes link_rel: nh3 then writes rel on every link.
ALLOWED_ATTRIBUTES["a"] = ALLOWED_ATTRIBUTES["a"] | {"rel"}
# What render_index writes, and nothing else.
INDEX_TAGS = frozenset(
    {"html", "head", "meta", "title", "link", "style", "body", "h1", "h2", "h3", "section"}
    | {"article", "time", "a", "p"}
)
# feed.xsl is the same bytes on every run: the package's own file.
STYLESHEET = (
    Path(__file__).resolve().parents[1] / "src" / "seedfeed" / "data" / "feed.xsl"
).read_bytes()
OPML_TAGS = frozenset({"opml", "head", "title", "docs", "body", "outline"})
# Attributes whose value a browser follows as a URL (on any element, allowed or not).
URL_ATTRIBUTES = frozenset(
    {"href", "src", "cite", "action", "formaction", "poster", "background", "longdesc"}
    | {"usemap", "data", "codebase", "srcset", "xlink:href", "ping", "manifest", "icon"}
)
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_TAB_OR_NEWLINE = re.compile("[\t\n\r]")
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
# The wrapper a fragment is parsed in; its id marks it as ours.
_WRAPPER_ID = "escaping-check-wrapper"


def url_scheme(value: str) -> str:
    """The scheme a browser reads in an attribute value ("" for a relative link).

    As the WHATWG URL parser: C0 controls and spaces at the ends are stripped, tabs and
    newlines anywhere are removed, so " java\\tscript:" is javascript:.
    """
    link = _TAB_OR_NEWLINE.sub("", value).strip(_C0_OR_SPACE)
    m = _SCHEME.match(link)
    return m.group(1).lower() if m else ""


def _attribute_problems(where: str, tag: str, name: str, value: str, allowed: bool) -> list[str]:
    problems = []
    name = name.lower()
    if name.startswith("on"):
        problems.append(f"{where}: event handler {name}= on <{tag}>")
    elif not allowed:
        problems.append(f"{where}: attribute {name}= not allowed on <{tag}>")
    if name in URL_ATTRIBUTES and url_scheme(value) not in ("", *LINK_SCHEMES):
        problems.append(f"{where}: <{tag} {name}={value[:60]!r}> is not an http(s)/mailto link")
    return problems


class _Tokens(HTMLParser):
    """Start tags with their attributes, as the standard library's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments = 0  # comments, declarations, processing instructions

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments += 1

    def handle_decl(self, decl: str) -> None:
        self.comments += 1

    def handle_pi(self, data: str) -> None:
        self.comments += 1

    def unknown_decl(self, data: str) -> None:
        self.comments += 1


def _tokens(fragment: str) -> _Tokens:
    tokens = _Tokens()
    tokens.feed(fragment)
    tokens.close()
    return tokens


def _lxml_elements(fragment: str) -> Iterator[etree._Element]:
    """Every element, comment and processing instruction that ``fragment`` makes, parsed
    as a document's body (lxml.html's own fragment parser drops a ``<head>`` it meets)."""
    document = lxml.html.document_fromstring(
        f'<html><body><div id="{_WRAPPER_ID}">{fragment}</div></body></html>'
    )
    for element in document.iter():
        if element.tag in ("html", "body") and not element.attrib:
            continue  # ours (an attribute on them came from the fragment: it is checked)
        if element.tag == "div" and element.get("id") == _WRAPPER_ID:
            continue
        yield element


def html_problems(where: str, fragment: str, *, allow_elements: bool = True) -> list[str]:
    """What is not inert in an HTML field: elements or attributes outside the allowlist,
    event handlers, links that are not http(s)/mailto/relative, comments. With
    ``allow_elements=False`` (a field that carries escaped text) any element is one."""
    problems: list[str] = []
    if not fragment.strip():
        return problems
    for element in _lxml_elements(fragment):
        if not isinstance(element.tag, str):  # comment or processing instruction
            problems.append(f"{where}: comment or processing instruction {element!r}")
            continue
        tag = element.tag.lower()
        if not allow_elements:
            problems.append(f"{where}: element <{tag}> in a field that holds text")
        elif tag not in ALLOWED_TAGS:
            problems.append(f"{where}: element <{tag}> not allowed")
        allowed = ALLOWED_ATTRIBUTES.get(tag, GENERIC_ATTRIBUTES)
        for name, value in element.attrib.items():
            in_list = tag in ALLOWED_TAGS and name.lower() in allowed
            problems += _attribute_problems(where, tag, name, value, in_list)
    tokens = _tokens(fragment)
    if tokens.comments:
        problems.append(f"{where}: {tokens.comments} comment(s) or declaration(s) (html.parser)")
    for tag, attrs in tokens.tags:
        if not allow_elements:
            problems.append(f"{where}: html.parser sees <{tag}> in a field that holds text")
        elif tag not in ALLOWED_TAGS:
            problems.append(f"{where}: html.parser sees <{tag}>, not allowed")
        allowed = ALLOWED_ATTRIBUTES.get(tag, GENERIC_ATTRIBUTES)
        for name, value in attrs:
            in_list = tag in ALLOWED_TAGS and name in allowed
            problems += _attribute_problems(
                f"{where} (html.parser)", tag, name, value or "", in_list
            )
    return problems


def html_text(fragment: str) -> str:
    """The text a reader shows for an HTML field, runs of whitespace as one space."""
    if not fragment.strip():
        return ""
    document = lxml.html.document_fromstring(f"<html><body><div>{fragment}</div></body></html>")
    return " ".join(document.text_content().split())


def text_problems(where: str, text: str) -> list[str]:
    """A text field, shown as text (escaped, as readers do): it must hold no element.

    True by construction for a string, and checked all the same: this is the promise that
    readers of the field rely on, written where a change of field type would break it.
    """
    return html_problems(where, html.escape(text, quote=False), allow_elements=False)


def atom_rendered(element: etree._Element) -> tuple[str, str]:
    """An Atom text construct as readers render it: (its type, the HTML they show)."""
    kind = element.get("type", "text")
    if kind == "text":
        return kind, html.escape(element.text or "", quote=False)
    if kind == "html":
        return kind, element.text or ""
    if kind == "xhtml":
        return kind, "".join(etree.tostring(child, encoding="unicode") for child in element)
    return kind, ""


def _xml_root(path: Path, problems: list[str]) -> etree._Element | None:
    try:
        # no entities resolved, no network: a strict reading of what was written
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        return etree.fromstring(path.read_bytes(), parser)
    except etree.XMLSyntaxError as exc:
        problems.append(f"{path.name}: not well-formed XML: {exc}")
        return None


def _feedparser_problems(path: Path) -> list[str]:
    # Bozo is about the document (well-formed, encoding), not about the HTML in it:
    # feedparser's own sanitizing, slow on megabytes of content, changes nothing here.
    parsed = feedparser.parse(path.read_bytes(), sanitize_html=False, resolve_relative_uris=False)
    if parsed.bozo:
        return [f"{path.name}: feedparser: {parsed.get('bozo_exception')!r}"]
    return []


def _link_problem(where: str, link: str | None) -> list[str]:
    if link is not None and url_scheme(link) not in ("http", "https"):
        return [f"{where}: link {link[:80]!r} is not http(s)"]
    return []


def atom_problems(path: Path) -> list[str]:
    """The Atom feed at ``path``: well-formed, read by feedparser, every field inert."""
    problems: list[str] = []
    root = _xml_root(path, problems)
    if root is None:
        return problems
    problems += _feedparser_problems(path)
    for text_tag in ("title", "subtitle", "rights"):
        for element in root.findall(f"{ATOM}{text_tag}"):
            kind, shown = atom_rendered(element)
            problems += html_problems(
                f"{path.name} feed <{text_tag} type={kind}>", shown, allow_elements=False
            )
    for number, entry in enumerate(root.iter(f"{ATOM}entry")):
        where = f"{path.name} entry {number}"
        for tag in ("title", "summary", "content", "rights"):
            for element in entry.findall(f"{ATOM}{tag}"):
                kind, shown = atom_rendered(element)
                if kind not in ("text", "html", "xhtml"):
                    problems.append(f"{where}: <{tag} type={kind!r}>")
                # The title is text: rendered, it holds no element at all. Summary and
                # content are HTML fields (the summary holds escaped text, which
                # test_escaping checks where it knows the summary).
                problems += html_problems(
                    f"{where} <{tag} type={kind}>", shown, allow_elements=tag != "title"
                )
        for name in entry.iter(f"{ATOM}name"):
            problems += text_problems(f"{where} author name", name.text or "")
        for link in entry.iter(f"{ATOM}link"):
            problems += _link_problem(f"{where} <link>", link.get("href"))
    return problems


def rss_problems(path: Path) -> list[str]:
    """The RSS feed at ``path``: well-formed, read by feedparser, every field inert."""
    problems: list[str] = []
    root = _xml_root(path, problems)
    if root is None:
        return problems
    problems += _feedparser_problems(path)
    channel = root.find("channel")
    if channel is None:
        return [*problems, f"{path.name}: no <channel>"]
    problems += html_problems(
        f"{path.name} channel <description>",
        channel.findtext("description", ""),
        allow_elements=False,
    )
    for number, item in enumerate(channel.iter("item")):
        where = f"{path.name} item {number}"
        for tag in ("title", f"{DC}creator", "category", "guid"):
            for element in item.findall(tag):
                if len(element):
                    problems.append(f"{where}: <{tag}> has child elements")
                problems += text_problems(f"{where} <{tag}>", element.text or "")
        problems += html_problems(f"{where} <description>", item.findtext("description", ""))
        problems += html_problems(
            f"{where} <content:encoded>", item.findtext(f"{CONTENT}encoded", "")
        )
        problems += _link_problem(f"{where} <link>", item.findtext("link"))
    return problems


def json_feed_problems(path: Path) -> list[str]:
    """The JSON Feed at ``path``: JSON, and every field inert."""
    try:
        feed = json.loads(path.read_bytes())
    except ValueError as exc:
        return [f"{path.name}: not JSON: {exc}"]
    problems: list[str] = []
    for key in ("title", "description"):
        if key in feed:
            problems += text_problems(f"{path.name} {key}", feed[key])
    for number, item in enumerate(feed.get("items", [])):
        where = f"{path.name} item {number}"
        for key in ("title", "summary", "content_text"):
            if key in item:
                if not isinstance(item[key], str):
                    problems.append(f"{where}: {key} is not a string")
                    continue
                problems += text_problems(f"{where} {key}", item[key])
        problems += html_problems(f"{where} content_html", item.get("content_html", ""))
        for author in item.get("authors", []):
            problems += text_problems(f"{where} author", author.get("name", ""))
        for tag in item.get("tags", []):
            problems += text_problems(f"{where} tag", tag)
        if "url" in item:
            problems += _link_problem(f"{where} url", item["url"])
    return problems


def index_problems(path: Path) -> list[str]:
    """``index.html`` as a whole document: only the renderer's own elements and links."""
    problems: list[str] = []
    text = path.read_text(encoding="utf-8")
    document = lxml.html.document_fromstring(text)
    for element in document.iter():
        if not isinstance(element.tag, str):
            problems.append(f"{path.name}: comment or processing instruction")
            continue
        if element.tag not in INDEX_TAGS:
            problems.append(f"{path.name}: element <{element.tag}> the renderer never writes")
        for name, value in element.attrib.items():
            problems += _attribute_problems(path.name, element.tag, name, value, True)
            if name in ("href", "src"):
                problems += _link_problem(f"{path.name} <{element.tag} {name}>", value)
    for tag, attrs in _tokens(text).tags:
        if tag not in INDEX_TAGS:
            problems.append(f"{path.name}: html.parser sees <{tag}>")
        for name, value in attrs:
            problems += _attribute_problems(path.name, tag, name, value or "", True)
    styles = document.findall(".//style")
    if len(styles) != 1:
        problems.append(f"{path.name}: {len(styles)} <style> elements, not the renderer's one")
    return problems


def opml_problems(path: Path) -> list[str]:
    """``feeds.opml``: well-formed, only OPML elements, http(s) feed URLs."""
    problems: list[str] = []
    root = _xml_root(path, problems)
    if root is None:
        return problems
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag not in OPML_TAGS:
            problems.append(f"{path.name}: element {element.tag!r} is not OPML")
    for outline in root.iter("outline"):
        for key in ("xmlUrl", "htmlUrl"):
            problems += _link_problem(f"{path.name} outline {key}", outline.get(key))
    return problems


def check_outputs(feeds_dir: Path) -> list[str]:
    """Every problem in every file of ``feeds_dir``: one line each, [] when all is inert."""
    problems: list[str] = []
    files = sorted(p for p in feeds_dir.iterdir() if p.is_file())
    if not files:
        return [f"{feeds_dir}: no output files"]
    for path in files:
        name = path.name
        if name.endswith(".atom.xml"):
            problems += atom_problems(path)
        elif name.endswith(".rss.xml"):
            problems += rss_problems(path)
        elif name.endswith(".json"):
            problems += json_feed_problems(path)
        elif name == "index.html":
            problems += index_problems(path)
        elif name == "feeds.opml":
            problems += opml_problems(path)
        elif name == "feed.xsl":
            if path.read_bytes() != STYLESHEET:
                problems.append(f"{name}: not the package's stylesheet")
        else:
            problems.append(f"{name}: an output file nobody expects")
    return problems


def assert_inert(feeds_dir: Path) -> None:
    """Fail with every problem ``check_outputs`` finds, one per line."""
    problems = check_outputs(feeds_dir)
    assert not problems, "\n".join(problems[:40])
