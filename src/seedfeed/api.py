"""The library's verbs: publish, check, extract (``import seedfeed`` offers them)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from .config import Config
from .model import Entry
from .report import Report

__all__ = ["check", "extract", "publish"]


def publish(
    config: Config, *, lock_timeout: float = 600.0, refresh: bool | Collection[str] = False
) -> Report:
    """Read the seeds and sources of ``config`` and write its feeds (only files whose
    bytes change, all or none). ``refresh`` fetches all sources (``True``), or the
    sources named, now whatever their backoff. Bad inputs are warnings in the report;
    raises ``SeedfeedError`` when the run cannot be done."""
    from .pipeline import publish as run

    return run(config, lock_timeout=lock_timeout, refresh=refresh)


def check(config: Config) -> Report:
    """Read every seed of ``config`` as a publish would, write nothing; the report says
    what would be skipped or warned about."""
    from .pipeline import publish as run

    return run(config, dry_run=True)


def extract(html: str, url: str = "", *, now: datetime | None = None) -> Entry:
    """The feed entry a web page's ``html`` would become (``url``: where it was found,
    to resolve its links). ``now`` dates a page that states no date (default: now)."""
    from .normalize import to_entry
    from .web.extract import article_from_html

    article = article_from_html(html, origin=url or "page", url=url)
    entry, _warnings = to_entry(article, now or datetime.now(UTC).replace(microsecond=0))
    return entry
