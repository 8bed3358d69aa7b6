"""The two records that flow through the pipeline.

An ``Article`` is what one input says, raw and untrusted (a seed file, later a web page).
An ``Entry`` is what goes into a feed: normalized, sanitized, with a stable id and dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Article:
    """Raw fields read from one input; every field may be missing or dirty."""

    origin: str  # the seed's path relative to the seeds folder, or a URL
    title: str = ""
    authors: list[str] = field(default_factory=list)
    link: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    # Exactly one of these carries the body: ``content_html`` is untrusted HTML that
    # normalize sanitizes; ``blocks`` is structured plain text that normalize escapes.
    content_html: str = ""
    blocks: list[Block] = field(default_factory=list)
    summary: str = ""
    tags: list[str] = field(default_factory=list)
    image: str = ""  # the page's lead image (Open Graph, JSON-LD), when it names one
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Block:
    """One block of plain-text body: a paragraph (with an optional lead-in) or a list."""

    kind: str  # "p" or "ul"
    text: str = ""  # paragraph text, without the lead-in
    lead: str = ""  # e.g. "Why it matters:"
    items: tuple[str, ...] = ()  # list items when kind == "ul"


@dataclass(frozen=True)
class Entry:
    """One feed entry, ready to render. Dates are timezone-aware UTC."""

    id: str
    title: str
    link: str
    authors: tuple[str, ...]
    published: datetime
    updated: datetime
    content_html: str
    summary: str
    tags: tuple[str, ...] = ()
    origin: str = ""
