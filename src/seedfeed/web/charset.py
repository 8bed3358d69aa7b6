"""Decoding a fetched body into text the way a browser would (pure functions).

The charset is taken from, in order: a byte order mark; the Content-Type header; the
document's own declaration; detection. Only the labels of the WHATWG Encoding Standard
are honoured: Python knows many more codecs (utf-7, EBCDIC, base64...), and some of
them turn harmless bytes into markup.
"""

from __future__ import annotations

import codecs
import functools
import re

import webencodings

__all__ = ["decode_body", "is_text", "media_type", "mostly_utf8", "parse_content_type"]


_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""\s*<\?xml\s[^>]*?encoding\s*=\s*["']([a-z0-9_.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# Only the WHATWG Encoding Standard's labels are honoured, as browsers do: Python knows many
# more, and some turn harmless bytes into markup (UTF-7 reads "+ADw-script+AD4-" as
# "<script>"). Its "replacement" encoding (iso-2022-kr, hz-gb-2312...) would make the
# whole page one U+FFFD, and Python has no codec for x-user-defined: both are ignored.
_IGNORED_ENCODINGS = frozenset({"replacement", "x-user-defined"})
# The Standard's GBK decoder is its GB18030 one: pages labelled gbk or gb2312 use it.
_DECODERS = {"gbk": "gb18030"}
_HEAD = 4096  # where a <meta> declaration is looked for
_DETECT = 64 * 1024  # how much of the body charset detection reads


def decode_body(body: bytes, content_type_header: str | None) -> tuple[str, str]:
    """Decode a response body; returns ``(text, charset)``, the charset a Python codec name.

    The charset is, in this order: a byte order mark; the Content-Type header's charset;
    the document's own declaration (for HTML a ``<meta>`` in the first 4 KB, then the XML
    declaration; for XML the other way round); detection with charset_normalizer,
    preferring windows-1252 when it fits about as well, as browsers do. Only labels of the
    WHATWG Encoding Standard count, read as it says ("iso-8859-1" is windows-1252); any
    other (utf-7, utf-32, base64...) is passed over, as is a declaration the bytes plainly
    contradict (UTF-8 declared on Windows-1252 bytes, a legacy charset declared on valid
    UTF-8). Never raises: the last resort is UTF-8 with replacement characters.
    """
    try:
        return _decode(body, content_type_header)
    except Exception:  # a codec's bug must not lose the page
        return body.decode("utf-8", "replace"), "utf-8"


def _decode(body: bytes, content_type_header: str | None) -> tuple[str, str]:
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_codec, "replace"), bom_codec
    media_type, params = parse_content_type(content_type_header)
    labels: list[tuple[bytes | str, bool]] = []
    if params.get("charset"):
        labels.append((params["charset"], False))
    head = body[:_HEAD]
    meta = _META_CHARSET.search(head)
    xml = _XML_ENCODING.match(head)
    document = (xml, meta) if _is_xml(media_type) else (meta, xml)
    labels.extend((match.group(1), True) for match in document if match)
    try:
        utf8: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    for label, in_document in labels:
        codec = _codec(label, in_document)
        if codec is None:
            continue
        if codec == "utf-8":
            if utf8 is not None:
                return utf8, codec
            if mostly_utf8(body.decode("utf-8", "replace")):
                return body.decode("utf-8", "replace"), codec
            continue  # declared UTF-8, but the bytes are some legacy charset
        if utf8 is not None and not body.isascii() and not codec.startswith("utf-"):
            return utf8, "utf-8"  # a legacy charset declared on valid UTF-8: it is UTF-8
        return body.decode(codec, "replace"), codec
    if not body:
        return "", ""
    if utf8 is not None:
        return utf8, "utf-8"
    detected = _detect(body)
    if detected is not None:
        return body.decode(detected, "replace"), detected
    return body.decode("utf-8", "replace"), "utf-8"


def _codec(label: bytes | str, in_document: bool) -> str | None:
    """The Python codec for a WHATWG Encoding Standard label, or None for any other label."""
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    codec = _whatwg_codec(webencodings.lookup(label.strip().strip("\"'")))
    if in_document and codec is not None and codec.startswith("utf-16"):
        return "utf-8"  # a declaration readable as ASCII cannot be in UTF-16 (WHATWG)
    return codec


def _whatwg_codec(encoding: webencodings.Encoding | None) -> str | None:
    """The Python codec that decodes a WHATWG encoding, None for one not decoded here."""
    if encoding is None or encoding.name in _IGNORED_ENCODINGS:
        return None
    name: str = encoding.codec_info.name
    return _DECODERS.get(name, name)


@functools.cache
def _whatwg_codecs() -> frozenset[str]:
    """The Python codecs of the Standard's encodings, for charset detection's answers
    (made on first use: seed-only runs never detect)."""
    return frozenset(
        filter(None, (_whatwg_codec(webencodings.lookup(label)) for label in webencodings.LABELS))
    )


def _detected_codec(name: str) -> str | None:
    """The codec for charset_normalizer's answer ``name`` (a Python codec name) if a
    browser could decode with it, else None: the detector also knows EBCDIC, UTF-7,
    UTF-32..., which browsers never use and which can turn bytes into markup."""
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return None
    # A Python name may also be a label ("latin-1" is windows-1252, "gbk" is gb18030).
    return name if name in _whatwg_codecs() else _codec(name, False)


def mostly_utf8(text: str) -> bool:
    """Whether ``text``, bytes decoded as UTF-8 with replacement, is UTF-8 with a few
    broken bytes (to keep) rather than another charset: more good non-ASCII characters
    than U+FFFD. (Seed files and pages follow the same rule.)"""
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii - bad > bad


def _detect(body: bytes) -> str | None:
    sample = body[:_DETECT]
    if len(body) > _DETECT:
        # end at a line break, not inside a multi-byte character
        cut = sample.rfind(b"\n")
        if cut > _DETECT // 2:
            sample = sample[: cut + 1]
    import charset_normalizer  # lazily: most pages say their charset

    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        return None
    # Short Latin text fits several single-byte charsets equally well, and the detector's
    # first pick among them is often Baltic or Central European; windows-1252 is what
    # browsers assume for an unlabelled page, so it wins when it fits about as well.
    for match in matches:
        if (
            "cp1252" in (match.encoding, *match.could_be_from_charset)
            and match.chaos <= best.chaos + 0.1
            and match.coherence >= best.coherence - 0.1
        ):
            return "cp1252"
    # the best match (they come best first) that a browser could decode with
    return next(filter(None, (_detected_codec(match.encoding) for match in matches)), None)


def parse_content_type(header: str | None) -> tuple[str, dict[str, str]]:
    if not header:
        return "", {}
    media_type, _, rest = header.partition(";")
    params = {}
    for part in rest.split(";"):
        name, equals, value = part.partition("=")
        if equals:
            params[name.strip().lower()] = value.strip().strip("\"'").strip()
    return media_type.strip().lower(), params


def media_type(header: str | None) -> str:
    return parse_content_type(header)[0]


def _is_xml(media_type: str) -> bool:
    return media_type.endswith(("/xml", "+xml"))


def is_text(media_type: str, body: bytes) -> bool:
    """Whether a body of this media type is text worth decoding."""
    if media_type.startswith("text/") or media_type.endswith(("/xml", "+xml", "/json", "+json")):
        return True
    if media_type in ("", "application/octet-stream", "binary/octet-stream"):
        # unlabelled or mislabelled: text if it looks like markup or JSON
        head = body[:512]
        for bom, _ in _BOMS:
            head = head.removeprefix(bom)
        return head.lstrip().startswith((b"<", b"{"))
    return False
