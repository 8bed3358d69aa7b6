"""Read and validate ``config.toml`` once, into typed dataclasses.

Every path in the file is relative to the file's own folder. Any problem raises
``ConfigError`` with one line that names the file and the key.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .normalize import clean_text

CONFIG_NAME = "config.toml"
DEFAULT_FEED = "all"
MAX_ENTRIES_LIMIT = 10_000
FEED_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class FeedSpec:
    """One published feed: a name (file stem), a title and the seed globs it takes."""

    name: str
    title: str
    description: str = ""
    include: tuple[str, ...] = ("*",)
    max_entries: int = 50


@dataclass(frozen=True)
class FetchOptions:
    """``[fetch]``: how web pages are fetched (see fetch.FetchSettings)."""

    allow_private: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    concurrency: int = 8
    per_host: int = 2


@dataclass(frozen=True)
class ScheduleOptions:
    """``[schedule]``: when ``seedfeed run`` republishes (crontab syntax, 0 = Sunday)."""

    cron: str = "*/15 * * * *"
    timezone: str = "UTC"
    jitter: int = 0  # seconds of random delay, so many instances do not fetch at once
    misfire_grace: int = 300  # a run missed by less than this (a suspend) still happens
    watch: bool = True  # republish within seconds when a seed is added, edited or deleted


@dataclass(frozen=True)
class Config:
    """The validated configuration of one project."""

    path: Path
    title: str
    base_url: str
    author: str = ""
    description: str = ""
    language: str = ""
    seeds_dir: Path = Path("seeds")
    feeds_dir: Path = Path("feeds")
    state_dir: Path = Path(".seedfeed")
    max_entries: int = 50
    max_seed_bytes: int = 2 * 1024 * 1024
    feeds: tuple[FeedSpec, ...] = field(default_factory=tuple)
    sources_dir: Path = Path("sources")
    fetch: FetchOptions = field(default_factory=lambda: FetchOptions())
    enrich_seeds: bool = False
    websub_hub: str = ""  # [websub] hub: pinged when feeds change; "" for none
    schedule: ScheduleOptions = field(default_factory=lambda: ScheduleOptions())

    @property
    def root(self) -> Path:
        """The folder holding the config file; every relative path starts here."""
        return self.path.parent


# The schema: section -> key -> (type, required). Types are checked exactly
# (``bool`` is not accepted where an ``int`` is wanted; ``float`` takes ints too).
_SCHEMA: dict[str, dict[str, tuple[type, bool]]] = {
    "site": {
        "title": (str, True),
        "base_url": (str, True),
        "author": (str, False),
        "description": (str, False),
        "language": (str, False),
    },
    "paths": {
        "seeds": (str, False),
        "feeds": (str, False),
        "state": (str, False),
        "sources": (str, False),
    },
    "publish": {"max_entries": (int, False), "max_seed_bytes": (int, False)},
    "fetch": {
        "allow_private": (bool, False),
        "connect_timeout": (float, False),
        "read_timeout": (float, False),
        "deadline": (float, False),
        "max_bytes": (int, False),
        "concurrency": (int, False),
        "per_host": (int, False),
    },
    "seeds": {"enrich": (bool, False)},
    "websub": {"hub": (str, False)},
    "schedule": {
        "cron": (str, False),
        "timezone": (str, False),
        "jitter": (int, False),
        "misfire_grace": (int, False),
        "watch": (bool, False),
    },
}
_FEED_KEYS: dict[str, type] = {
    "title": str,
    "description": str,
    "include": list,
    "max_entries": int,
}


def find_config(path: str | Path | None) -> Path:
    """Return the config file named by ``path`` (a file or a folder), default ``./config.toml``."""
    candidate = Path(path) if path is not None else Path.cwd()
    if candidate.is_dir():
        candidate = candidate / CONFIG_NAME
    return candidate.absolute()


def load_config(path: str | Path | None = None) -> Config:
    """Read, validate and resolve the configuration at ``path``."""
    path = find_config(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run `seedfeed init` to create one)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(raw, path)


def _check(where: str, value: Any, expected: type, name: str) -> None:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):  # TOML has inf and nan
        raise ConfigError(f"{where}: {name} must be a finite number, not {value}")
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(
            f"{where}: {name} must be {_type_name(expected)}, not {_type_name(type(value))}"
        )


def _type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a table",
        bool: "a boolean",
    }.get(kind, kind.__name__)


def _hub_url(raw: dict[str, Any], where: str) -> str:
    """``[websub] hub``: the hub every feed names and every run pings, or ""."""
    if "hub" not in raw:
        return ""
    hub = raw["hub"].strip()
    parts = urlsplit(hub)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}: websub.hub must be an absolute http(s) URL, not {hub!r}")
    return hub


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document; ``path`` is where it came from."""
    where = str(path)
    for section, body in raw.items():
        if section == "feeds":
            continue
        if section not in _SCHEMA:
            raise ConfigError(f"{where}: unknown section [{section}]")
        _check(where, body, dict, f"[{section}]")
        for key, value in body.items():
            if key not in _SCHEMA[section]:
                raise ConfigError(f"{where}: unknown key {section}.{key}")
            _check(where, value, _SCHEMA[section][key][0], f"{section}.{key}")
    # Feed text must be XML-safe: a control character written as a TOML escape is dropped.
    site = {
        k: clean_text(v) if k != "base_url" else v.strip() for k, v in raw.get("site", {}).items()
    }
    for key, (_, required) in _SCHEMA["site"].items():
        if required and not site.get(key):
            raise ConfigError(f"{where}: site.{key} is required")

    base_url = site["base_url"].strip()
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{where}: site.base_url must be an absolute http(s) URL, not {base_url!r}"
        )
    if not base_url.endswith("/"):
        base_url += "/"

    publish = raw.get("publish", {})
    max_entries = publish.get("max_entries", 50)
    if not 1 <= max_entries <= MAX_ENTRIES_LIMIT:
        raise ConfigError(f"{where}: publish.max_entries must be between 1 and {MAX_ENTRIES_LIMIT}")
    max_seed_bytes = publish.get("max_seed_bytes", Config.max_seed_bytes)
    if max_seed_bytes < 1024:
        raise ConfigError(f"{where}: publish.max_seed_bytes must be at least 1024")

    root = path.parent
    paths = raw.get("paths", {})

    def resolve(key: str, default: str) -> Path:
        return (root / paths.get(key, default)).resolve()

    fetch = FetchOptions(**raw.get("fetch", {}))
    for key in (
        "connect_timeout",
        "read_timeout",
        "deadline",
        "max_bytes",
        "concurrency",
        "per_host",
    ):
        if not getattr(fetch, key) > 0:  # "not >" refuses nan too
            raise ConfigError(f"{where}: fetch.{key} must be positive")

    title = site["title"]
    feeds = [FeedSpec(DEFAULT_FEED, title, site.get("description", ""), ("*",), max_entries)]
    feeds += _parse_feeds(raw.get("feeds", {}), where, title, max_entries)
    return Config(
        path=path,
        title=title,
        base_url=base_url,
        author=site.get("author", ""),
        description=site.get("description", ""),
        language=site.get("language", ""),
        seeds_dir=resolve("seeds", "seeds"),
        feeds_dir=resolve("feeds", "feeds"),
        state_dir=resolve("state", ".seedfeed"),
        max_entries=max_entries,
        max_seed_bytes=max_seed_bytes,
        feeds=tuple(feeds),
        sources_dir=resolve("sources", "sources"),
        fetch=fetch,
        enrich_seeds=raw.get("seeds", {}).get("enrich", False),
        websub_hub=_hub_url(raw.get("websub", {}), where),
        schedule=_parse_schedule(raw.get("schedule", {}), where),
    )


def _parse_schedule(raw: dict[str, Any], where: str) -> ScheduleOptions:
    options = ScheduleOptions(**raw)
    if not raw:  # the defaults are valid; APScheduler costs 40 ms to import
        return options
    from .schedule import ScheduleError, cron_trigger

    try:
        cron_trigger(options.cron, options.timezone)
    except ScheduleError as exc:
        key = "timezone" if "time zone" in str(exc) else "cron"
        raise ConfigError(f"{where}: schedule.{key}: {exc}") from None
    if options.jitter < 0 or options.misfire_grace < 1:
        raise ConfigError(f"{where}: schedule.jitter must be >= 0 and misfire_grace >= 1")
    return options


def _parse_feeds(raw: Any, where: str, site_title: str, max_entries: int) -> list[FeedSpec]:
    _check(where, raw, dict, "[feeds]")
    specs = []
    for name, body in sorted(raw.items()):
        if not FEED_NAME_RE.match(name) or name == DEFAULT_FEED:
            raise ConfigError(
                f"{where}: feeds.{name}: a feed name is lowercase letters, digits, - and _"
                f" (and not {DEFAULT_FEED!r}, the default feed)"
            )
        _check(where, body, dict, f"[feeds.{name}]")
        for key, value in body.items():
            if key not in _FEED_KEYS:
                raise ConfigError(f"{where}: unknown key feeds.{name}.{key}")
            _check(where, value, _FEED_KEYS[key], f"feeds.{name}.{key}")
        include = body.get("include", [])  # none: a feed that only sources fill
        for pattern in include:
            _check(where, pattern, str, f"feeds.{name}.include[]")
        feed_max = body.get("max_entries", max_entries)
        if not 1 <= feed_max <= MAX_ENTRIES_LIMIT:
            raise ConfigError(
                f"{where}: feeds.{name}.max_entries must be between 1 and {MAX_ENTRIES_LIMIT}"
            )
        specs.append(
            FeedSpec(
                name=name,
                title=clean_text(body.get("title", f"{site_title}: {name}")),
                description=clean_text(body.get("description", "")),
                include=tuple(include),
                max_entries=feed_max,
            )
        )
    return specs
