"""Sources: web pages followed for new articles, one TOML file each in ``sources/``.

``load_sources`` reads the definitions (a bad file is one error line, never fatal; a
folder that cannot be listed is an error, never taken for an empty one).
What a fetched listing or feed announces is read in web/listings.py.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .config import FEED_NAME_RE
from .errors import SeedfeedError
from .normalize import clean_text

KINDS = ("article", "listing", "feed")


class SourceError(SeedfeedError):
    """A source definition or a fetched document cannot be used; one line, with the reason."""


@dataclass(frozen=True)
class Source:
    """One validated source definition."""

    name: str  # the file's stem: a stable key in the state store
    path: Path
    urls: tuple[str, ...]
    kind: str = "article"
    items: str = ""  # CSS selector of article links on a listing page
    limit: int = 10
    full_text: bool = False
    feeds: tuple[str, ...] = ("all",)
    schedule: str = ""  # cron expression for the daemon
    title: str = ""
    author: str = ""
    enabled: bool = True


_KEYS: dict[str, type | tuple[type, ...]] = {
    "url": str,
    "urls": list,
    "kind": str,
    "items": str,
    "limit": int,
    "full_text": bool,
    "feed": (str, list),
    "schedule": str,
    "title": str,
    "author": str,
    "enabled": bool,
}


def load_sources(folder: Path) -> tuple[list[Source], list[str]]:
    """Every ``*.toml`` in ``folder`` as a ``Source``, plus one error line per bad file.
    Raises ``SourceError`` when the folder exists but cannot be listed."""
    sources: list[Source] = []
    errors: list[str] = []
    for path in source_files(folder):
        try:
            sources.append(parse_source(path))
        except SourceError as exc:
            errors.append(f"{path}: {exc}")
    return sources, errors


def source_files(folder: Path) -> list[Path]:
    """The source files in ``folder``, by name (none when it does not exist). Raises
    ``SourceError`` when it exists but cannot be listed: taken for an empty folder, it
    would make a run drop every source's state and entries."""
    try:
        with os.scandir(folder) as listing:
            names = [e.name for e in listing if e.name.endswith(".toml") and e.name[0] != "."]
    except FileNotFoundError:
        return []
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SourceError(f"{folder}: cannot read the folder ({reason})") from None
    return [folder / name for name in sorted(names)]


def parse_source(path: Path) -> Source:
    """Read and validate one source file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"invalid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of [[[[...
        raise SourceError("invalid TOML: nested too deeply") from None
    return source_from_dict(raw, path)


def source_from_dict(raw: dict[str, Any], path: Path) -> Source:
    """Validate a parsed source definition."""
    for key, value in raw.items():
        if key not in _KEYS:
            raise SourceError(f"unknown key {key!r}")
        expected = _KEYS[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise SourceError(f"{key!r} has the wrong type ({type(value).__name__})")
    urls = raw.get("urls", [])
    if "url" in raw:
        urls = [raw["url"], *urls]
    if not urls:
        raise SourceError("'url' (or 'urls') is required")
    for url in urls:
        if not _is_http_url(url):
            raise SourceError(f"'url' must be an http(s) URL, not {url!r}")
    kind = raw.get("kind", "article")
    if kind not in KINDS:
        raise SourceError(f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    feeds = raw.get("feed", "all")
    feeds = [feeds] if isinstance(feeds, str) else feeds
    for feed in feeds:
        if not isinstance(feed, str) or not FEED_NAME_RE.match(feed):
            raise SourceError(f"'feed' names must be lowercase letters, digits, - and _: {feed!r}")
    limit = raw.get("limit", 10)
    if not 1 <= limit <= 500:
        raise SourceError("'limit' must be between 1 and 500")
    schedule = raw.get("schedule", "").strip()
    if schedule:
        _check_cron(schedule)
    if "items" in raw and kind != "listing":
        raise SourceError("'items' is only for kind = \"listing\"")
    if raw.get("items") and raw.get("enabled", True):
        # soupsieve takes 0.2 s to import: a disabled source is checked once enabled
        _check_selector(raw["items"])
    return Source(
        name=path.stem,
        path=path,
        urls=tuple(dict.fromkeys(urls)),
        kind=kind,
        items=raw.get("items", ""),
        limit=limit,
        full_text=raw.get("full_text", False),
        feeds=tuple(dict.fromkeys(feeds)),
        schedule=schedule,
        title=clean_text(raw.get("title", "")),
        author=clean_text(raw.get("author", "")),
        enabled=raw.get("enabled", True),
    )


def _is_http_url(url: object) -> bool:
    """Whether ``url`` is an http(s) URL with a host (and, if any, a valid port)."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError when out of range
    except ValueError:  # "http://[::1": an unclosed bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_cron(expression: str) -> None:
    from .schedule import ScheduleError, cron_trigger  # lazily: APScheduler's import

    try:
        cron_trigger(expression)
    except ScheduleError as exc:
        raise SourceError(f"'schedule': {exc}") from None


def _check_selector(selector: str) -> None:
    import soupsieve  # beautifulsoup4's selector engine

    try:
        soupsieve.compile(selector)
    except soupsieve.SelectorSyntaxError as exc:
        reason = str(exc).splitlines()[0]
        raise SourceError(f"'items' is not a CSS selector: {reason}") from None


def kept_sources(folder: Path, sources: list[Source]) -> set[str]:
    """The sources whose state and entries stay although nothing is fetched for them:
    the disabled ones, and the files that exist but do not parse now."""
    kept = {source.name for source in sources if not source.enabled}
    parsed = {source.name for source in sources}
    return kept | ({path.stem for path in source_files(folder)} - parsed)
