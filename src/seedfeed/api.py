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
    raises ``SeedfeedError`` when the run cannot be done, ``TypeError`` or ``ValueError``
    for arguments of the wrong kind."""
    from .pipeline import publish as run

    _need(config, Config, "config")
    if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, int | float):
        raise TypeError(f"lock_timeout must be a number of seconds, not {lock_timeout!r}")
    if not 0 <= lock_timeout < float("inf"):  # NaN too: it would wait for ever
        raise ValueError(f"lock_timeout must be a finite number >= 0, not {lock_timeout!r}")
    return run(config, lock_timeout=lock_timeout, refresh=refresh)


def check(config: Config) -> Report:
    """Read every seed of ``config`` as a publish would, write nothing; the report says
    what would be skipped or warned about."""
    from .pipeline import publish as run

    _need(config, Config, "config")
    return run(config, dry_run=True)


def extract(html: str, url: str = "", *, now: datetime | None = None) -> Entry:
    """The feed entry a web page's ``html`` would become (``url``: where it was found,
    to resolve its links). ``now`` dates a page that states no date (default: now)."""
    from .normalize import to_entry
    from .web.extract import article_from_html

    _need(html, str, "html")
    _need(url, str, "url")
    if now is not None:
        _need(now, datetime, "now")
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime (with a time zone)")

    article = article_from_html(html, origin=url or "page", url=url)
    entry, _warnings = to_entry(article, now or datetime.now(UTC).replace(microsecond=0))
    return entry


def _need(value: object, kind: type, name: str) -> None:
    """A ``TypeError`` naming ``name`` unless ``value`` is a ``kind``."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__name__}, not {type(value).__name__}")
