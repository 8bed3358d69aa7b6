"""The files a publish writes, and the media type of each: one table for render (feeds,
index autodiscovery), serve (Content-Type) and the index page's subscribe links."""

from __future__ import annotations

__all__ = ["FEED_FORMATS", "INDEX_NAME", "OPML_NAME", "STYLESHEET_NAME", "media_type"]

ATOM_SUFFIX = ".atom.xml"
RSS_SUFFIX = ".rss.xml"
JSON_SUFFIX = ".json"
INDEX_NAME = "index.html"
OPML_NAME = "feeds.opml"
STYLESHEET_NAME = "feed.xsl"  # how a browser shows a feed opened by mistake
# The folders of the tag and author feeds ([feeds] by_tag, by_author): tag/<slug>.atom.xml
LABEL_FOLDERS = ("tag", "author")

# Every format a feed is published in: file suffix, media type, label for people.
FEED_FORMATS: tuple[tuple[str, str, str], ...] = (
    (ATOM_SUFFIX, "application/atom+xml", "Atom"),
    (RSS_SUFFIX, "application/rss+xml", "RSS"),
    (JSON_SUFFIX, "application/feed+json", "JSON Feed"),
)

# Every file suffix seedfeed writes, longest first: "all.atom.xml" must not fall through
# to plain ".xml". What is not listed is never served.
_MEDIA_TYPES: tuple[tuple[str, str], ...] = (
    *((suffix, media_type) for suffix, media_type, _label in FEED_FORMATS),
    (".opml", "text/x-opml"),
    (".xsl", "text/xsl"),
    (".html", "text/html"),
    (".xml", "application/xml"),
)


def media_type(name: str) -> str | None:
    """The media type of a file seedfeed writes, by its name; None for any other."""
    for suffix, kind in _MEDIA_TYPES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return kind
    return None
