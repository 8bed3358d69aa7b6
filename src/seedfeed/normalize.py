"""Turn a raw ``Article`` into a clean ``Entry``: pure functions, no I/O.

Text is NFC-normalized with control characters removed and whitespace tidied; links are
canonical; ids are stable; every HTML fragment goes through nh3; text is escaped.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import nh3

from .errors import SeedfeedError
from .model import Article, Block, Entry

MAX_TITLE = 300
MAX_SUMMARY = 1000
MAX_AUTHORS = 10
MAX_TAGS = 20

# Query parameters that only track the click; removing them never changes the page.
# Gathered from Miniflux's URL cleaner (internal/urlcleaner), ClearURLs' rules and the
# newsletter platforms' documentation (Mailchimp, HubSpot, Marketo, Vero, Adobe).
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "ttclid", "li_fat_id", "mc_cid", "mc_eid", "igshid", "igsh", "_hsenc", "_hsmi",
        "__hssc", "__hstc", "__hsfp", "hsctatracking", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_conv", "vero_id", "wickedid", "rb_clickid", "s_kwcid",
        "ref_src", "ref_url", "cmpid", "ncid", "sr_share", "spm", "at_medium",
        "at_campaign", "ito", "ocid", "smid", "soc_src", "soc_trk",
        "__twitter_impression", "_ga", "_gl", "s_cid", "campaign_id", "fb_action_ids",
        "fb_action_types", "fb_ref", "fb_source", "gs_l", "guccounter", "guce_referrer",
        "guce_referrer_sig", "mbid", "_openstat", "srsltid", "trk", "trkcampaign",
    }
)  # fmt: skip
# Parameters that track only with these values: "?ref=rss" says where the click came
# from, "?ref=main" may pick a page.
TRACKING_VALUES = {
    "ref": frozenset({"rss", "feed", "atom", "newsletter", "email", "twitter", "facebook"}),
    "source": frozenset({"rss", "feed", "atom", "newsletter", "email", "twitter", "facebook"}),
    "via": frozenset({"rss", "feed", "twitter"}),
}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
_TRAILING = ".,;:!?'\"\u2019\u201d>"
# XML 1.0 forbids C0 controls but tab/newline/CR; C1 controls and non-characters are
# legal but poison readers. feedgen raises on the forbidden ones.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
NAMESPACE = uuid.UUID("8a3c1d55-3a8b-4f0e-9c1e-5eedfeed0000")


class LinkError(SeedfeedError, ValueError):
    """A link that cannot be used; the message says why."""


def clean_text(value: str) -> str:
    """NFC, no control characters, runs of whitespace as one space, stripped."""
    # str.split and str.isprintable run in C; the regex runs only on the rare text that
    # holds a non-printable character. This is the hot path of a cold publish.
    value = " ".join(value.split())
    if not value.isprintable():
        value = " ".join(_CONTROL.sub("", value).split())
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    return value


def shorten(value: str, limit: int) -> str:
    """Cut ``value`` to at most ``limit`` characters at a word boundary, adding an ellipsis."""
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "\u2026"


def canonical_url(url: str) -> str:
    """Canonical form of an article link: trackers, fragment and trailing punctuation gone.

    Only absolute http(s) links are accepted; anything else raises ``LinkError``. Other
    query parameters keep their order (some sites depend on it).
    """
    url = clean_text(url).strip("<>")
    while url and (
        url[-1] in _TRAILING
        or (url[-1] == ")" and url.count("(") < url.count(")"))  # "(see https://…)"
    ):
        url = url[:-1]
    return _plain_canonical(url) or _parsed_canonical(url)


# The shape of nearly every link a seed names: http(s), a host name of letters, digits,
# dots and dashes (no port, user or brackets), then path, query and fragment without
# whitespace. One match splits it as urlsplit would, at a third of the cost of urlsplit,
# its two parses of the netloc (port, hostname) and urlunsplit: this is a quarter of
# reading a new seed's head. Any other link goes through urllib (_parsed_canonical).
_PLAIN_URL = re.compile(
    r"([Hh][Tt][Tt][Pp][Ss]?)://([A-Za-z0-9.-]+)([^?#\s]*)(?:\?([^#\s]*))?(?:#\S*)?"
)


def _plain_canonical(url: str) -> str | None:
    """``_parsed_canonical(url)`` for a link of the plain shape; None for any other."""
    m = _PLAIN_URL.fullmatch(url)
    if m is None:
        return None
    host = m[2].rstrip(".").lower()
    path = m[3]
    if not host or (path and path[0] != "/"):  # (a path always starts with / there)
        return None
    query = _without_trackers(m[4]) if m[4] else ""
    base = f"{m[1].lower()}://{host}{path or '/'}"
    return f"{base}?{query}" if query else base


def _parsed_canonical(url: str) -> str:
    """The canonical form of a trimmed link, parsed by urllib: any link, or LinkError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise LinkError(f"malformed link {url[:80]!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise LinkError(f"not an http(s) link: {url[:80]!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host or " " in url:
        raise LinkError(f"malformed link {url[:80]!r}")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    # (Each of these properties parses the netloc again: asked only when there is an @.)
    if "@" in parts.netloc and (parts.username or parts.password):
        raise LinkError(f"link with credentials refused: {scheme}://…@{host}")
    # Parameters are filtered as written, never decoded and re-encoded: "q=c%2B%2B" must
    # not become "q=c++", which a server reads as "c  ".
    query = _without_trackers(parts.query)
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def _without_trackers(query: str) -> str:
    return "&".join(pair for pair in query.split("&") if pair and not _is_tracker(pair))


def _is_tracker(pair: str) -> bool:
    key, _, value = pair.partition("=")
    if "%" in key or "+" in key:  # decoding costs more than the rest: only when needed
        key = unquote_plus(key)
    key = key.lower()
    if key in TRACKING_VALUES:
        return unquote_plus(value).lower() in TRACKING_VALUES[key]
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def entry_id(link: str, origin: str) -> str:
    """The stable id: the canonical link itself, or a UUID derived from the seed's path."""
    return link or f"urn:uuid:{uuid.uuid5(NAMESPACE, origin)}"


# Link schemes kept in content; any other (javascript:, data:, vbscript:...) drops the
# link. A URL parser removes tabs and newlines anywhere and strips C0 controls and spaces
# at the ends (WHATWG URL), so "java\tscript:" and " javascript:" are javascript: too.
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_URL_TAB_OR_NEWLINE = re.compile("[\t\n\r]")
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
# The most HTML one entry's content may hold. Past it the content is cut (with a
# warning): readers choke on such entries, and the sanitizer's time grows faster than
# its input on some hostile text (runs of "&", "<").
MAX_CONTENT_HTML = 512 * 1024


def safe_link(value: str, base_url: str = "") -> str | None:
    """``value`` as a link to keep in content, resolved against ``base_url`` when it is
    relative; None when it is empty or its scheme is not http(s) or mailto (resolved,
    an emptied ``javascript:`` link would become a link to ``base_url``)."""
    link = _URL_TAB_OR_NEWLINE.sub("", value).strip(_C0_OR_SPACE)
    if not link:
        return None
    try:
        scheme = urlsplit(link).scheme.lower()
        if scheme:
            return link if scheme in LINK_SCHEMES else None
        return urljoin(base_url, link) if base_url else link
    except ValueError:  # "http://[oops": not a link either
        return None


def sanitize_html(fragment: str, base_url: str = "") -> str:
    """Sanitize untrusted HTML with nh3; relative links become absolute against ``base_url``.

    Only http(s), mailto and relative links are kept (see ``safe_link``). The fragment
    must be at most ``MAX_CONTENT_HTML`` characters (``bound_html``).
    """

    def filter_link(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src", "cite"):
            return safe_link(value, base_url)
        return value

    return nh3.clean(
        _CONTROL.sub("", fragment),
        attribute_filter=filter_link,
        link_rel="noopener noreferrer nofollow",
    ).strip()


def bound_html(fragment: str, limit: int = MAX_CONTENT_HTML) -> tuple[str, bool]:
    """``fragment`` cut to at most ``limit`` characters, never inside a tag; True when it
    was cut. The sanitizer closes the elements the cut leaves open."""
    if len(fragment) <= limit:
        return fragment, False
    cut = limit
    if fragment.rfind("<", 0, limit) > fragment.rfind(">", 0, limit):
        cut = fragment.rfind("<", 0, limit)  # inside a tag: before it
    return fragment[:cut], True


def blocks_to_html(blocks: Iterable[Block]) -> str:
    """Render plain-text blocks as HTML, escaping all text."""
    out = []
    for block in blocks:
        if block.kind == "ul":
            items = "".join(f"<li>{_esc(item)}</li>" for item in block.items if item.strip())
            if items:
                out.append(f"<ul>{items}</ul>")
        elif block.lead:
            text = f" {_esc(block.text)}" if block.text.strip() else ""
            out.append(f"<p><strong>{_esc(block.lead)}</strong>{text}</p>")
        elif block.text.strip():
            out.append(f"<p>{_esc(block.text)}</p>")
    # Characters are cleaned once over the whole fragment, not per block: this is the
    # hot path of a cold publish.
    return clean_chars("\n".join(out))


def _esc(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=False)


def clean_chars(value: str) -> str:
    """NFC and no control characters; whitespace is left as it is."""
    if not value.replace("\n", "").isprintable():
        value = _CONTROL.sub("", value)
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    return value


def summarize(article: Article, content_html: str) -> str:
    """Plain-text summary: the seed's own, the "Why it matters" paragraph, the first one."""
    # The seed's own summary may be markup (front matter, a page's description); when
    # nothing readable is left of it, the text says what the entry is about.
    if own := clean_text(html_to_text(article.summary)) if article.summary else "":
        return shorten(own, MAX_SUMMARY)
    paragraphs = [b for b in article.blocks if b.kind == "p" and b.text]
    for block in paragraphs:
        if block.lead.lower().startswith("why it matters"):
            return shorten(clean_text(f"{block.lead} {block.text}"), MAX_SUMMARY)
    if paragraphs:
        first = paragraphs[0]
        return shorten(clean_text(f"{first.lead} {first.text}"), MAX_SUMMARY)
    for chunk in re.split(r"</p\s*>|<br\s*/?>", content_html):
        # A summary is a paragraph: a page that is one huge paragraph gives its start.
        text = clean_text(html_to_text(bound_html(chunk, 4 * MAX_SUMMARY)[0]))
        if text:
            return shorten(text, MAX_SUMMARY)
    return ""


_BLOCKS = (
    "p|div|li|h[1-6]|blockquote|pre|tr|td|th|figure|figcaption|dt|dd|section|article|ul|ol|table"
)
_BLOCK_EDGE = re.compile(rf"(?i)<br\s*/?>|</?(?:{_BLOCKS})\b[^>]*>")


def html_to_plain(fragment: str) -> str:
    """Readable plain text of an HTML fragment: one line per paragraph, list item, heading."""
    # Line breaks in HTML source are spaces; lines end where blocks start or end.
    text = html_to_text(_BLOCK_EDGE.sub("\n", " ".join(fragment.split())))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment (tags dropped, entities decoded), at most
    ``MAX_CONTENT_HTML`` characters of it."""
    return html.unescape(nh3.clean(bound_html(fragment)[0], tags=set()))


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an article is and when: what a publish needs of an article no feed shows."""

    id: str
    title: str  # "" when the article has none (to_entry makes one from the text)
    link: str
    published: datetime
    updated: datetime
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


def identify(article: Article, first_seen: datetime) -> tuple[Identity, list[str]]:
    """The id, title, canonical link and dates of ``article``, and warnings for the user.

    ``first_seen`` stands in for the published date when the article has none.
    ``to_entry`` starts here, so both give the same id and dates.
    """
    warnings = list(article.warnings)
    link = ""
    if article.link:
        try:
            link = canonical_url(article.link)
        except LinkError as exc:
            warnings.append(f"link dropped: {exc}")
    title = clean_text(article.title)
    if len(title) > MAX_TITLE:
        warnings.append(f"title cut to {MAX_TITLE} characters (was {len(title):,})")
        title = shorten(title, MAX_TITLE)
    published = article.published or first_seen
    updated = max(article.updated or published, published)
    identity = Identity(
        entry_id(link, article.origin),
        title,
        link,
        published,
        updated,
        _labels(article.authors, MAX_AUTHORS),
        _labels(article.tags, MAX_TAGS),
    )
    return identity, warnings


def _labels(names: list[str], most: int) -> tuple[str, ...]:
    """Authors or tags: cleaned, without empty ones and repeats, at most ``most``, each
    cut to 100 characters."""
    if not names:  # (most seeds have no tags: no comprehension to run)
        return ()
    kept = list(dict.fromkeys([name for name in map(clean_text, names) if name]))[:most]
    return tuple([shorten(name, 100) for name in kept])


def to_entry(article: Article, first_seen: datetime) -> tuple[Entry, list[str]]:
    """Normalize ``article`` into an ``Entry``; also returns warnings for the user.

    ``first_seen`` stands in for the published date when the article has none.
    """
    identity, warnings = identify(article, first_seen)
    link, title = identity.link, identity.title
    if article.content_html:
        fragment, cut = bound_html(article.content_html)
        if cut:
            warnings.append(f"content cut to {MAX_CONTENT_HTML // 1024} KB of HTML")
        content = sanitize_html(fragment, link)
    else:
        content = blocks_to_html(article.blocks)
    summary = summarize(article, content)
    if not title:
        title = shorten(summary, 80) or "(untitled)"
        warnings.append("no title; made one from the text")
    if not content and not link:  # Atom needs content or an alternate link
        content = f"<p>{html.escape(title, quote=False)}</p>"

    entry = Entry(
        id=identity.id,
        title=title,
        link=link,
        authors=identity.authors,
        published=identity.published,
        updated=identity.updated,
        content_html=content,
        summary=summary,
        tags=identity.tags,
        origin=article.origin,
    )
    return entry, warnings


def content_hash(entry: Entry) -> bytes:
    """A digest of what a reader sees of ``entry``; it changes when an edit matters."""
    parts = (
        entry.title,
        entry.link,
        "\x1f".join(entry.authors),
        entry.content_html,
        entry.summary,
        "\x1f".join(entry.tags),
        entry.published.isoformat(),
    )
    return hashlib.blake2b("\x1e".join(parts).encode(), digest_size=16).digest()
