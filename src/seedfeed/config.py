"""The configuration: one settings dataclass per section of ``config.toml``.

The dataclasses mirror the file (``[site]`` is ``SiteSettings``, ``[fetch]`` is
``FetchSettings``, ...); the file's schema (which keys, which types) is read off their
fields, and each validates its own values, so a ``Config`` built in code is checked
exactly as one loaded from a file. Every relative path is resolved against the project's
folder (the config file's). Any problem raises ``ConfigError``: one line naming the key,
and the file when there is one.
"""

from __future__ import annotations

import functools
import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from .errors import SeedfeedError
from .normalize import clean_text

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_FEED",
    "ClusterSettings",
    "Config",
    "ConfigError",
    "FeedSpec",
    "FetchSettings",
    "PathSettings",
    "PublishSettings",
    "ScheduleSettings",
    "SeedSettings",
    "SiteSettings",
    "WebSubSettings",
    "find_config",
    "load_config",
    "parse_config",
]

CONFIG_NAME = "config.toml"
DEFAULT_FEED = "all"
MAX_ENTRIES_LIMIT = 10_000
FEED_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# The feeds of one tag or one author (``[feeds] by_tag``, ``by_author``) live in folders.
LABEL_FEED_RE = re.compile(r"^(tag|author)/[a-z0-9][a-z0-9-]{0,79}$")
FILTER_KEYS = (
    "words", "exclude_words", "authors", "exclude_authors", "tags", "exclude_tags",
    "sources", "exclude_sources",
)  # fmt: skip


class ConfigError(SeedfeedError):
    """The configuration cannot be used; the message names the key (and the file)."""


def _http_url(value: str, key: str) -> str:
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://[::1": an unclosed bracket
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{key} must be an absolute http(s) URL, not {value!r}")
    return value


def _set(settings: object, name: str, value: Any) -> None:
    object.__setattr__(settings, name, value)  # normalizing a frozen dataclass


@functools.cache
def _all_hints(kind: type) -> dict[str, Any]:
    """A dataclass's field types. Cached: ``get_type_hints`` costs ~300 µs, and a
    publish builds a FeedSpec per tag. (Read only.)"""
    return get_type_hints(kind)


@functools.cache
def _hints(kind: type) -> tuple[tuple[str, type], ...]:
    """A dataclass's fields whose type is a plain class, with it."""
    return tuple((name, hint) for name, hint in _all_hints(kind).items() if isinstance(hint, type))


def _check_types(settings: object, section: str) -> None:
    """Each field of a settings dataclass has its declared type (as ``_check`` says), so
    that settings built in code are checked as those read from a file."""
    cls: type = type(settings)
    for name, kind in _hints(cls):
        _check(getattr(settings, name), kind, f"{section}.{name}")


@dataclass(frozen=True)
class SiteSettings:
    """``[site]``: what the feeds say about themselves."""

    title: str
    base_url: str  # where feeds/ is served; ends with "/"
    author: str = ""  # the feed's author (defaults to the title)
    description: str = ""
    language: str = ""

    def __post_init__(self) -> None:
        _check_types(self, "site")
        # Feed text must be XML-safe: a control character written as an escape goes.
        for name in ("title", "author", "description", "language"):
            _set(self, name, clean_text(getattr(self, name)))
        if not self.title:
            raise ConfigError("site.title is required")
        if not self.base_url.strip():
            raise ConfigError("site.base_url is required")
        base_url = _http_url(self.base_url, "site.base_url")
        _set(self, "base_url", base_url if base_url.endswith("/") else base_url + "/")


@dataclass(frozen=True)
class PathSettings:
    """``[paths]``: where things are; relative paths start at the project's folder."""

    seeds: Path = Path("seeds")
    feeds: Path = Path("feeds")
    state: Path = Path(".seedfeed")
    sources: Path = Path("sources")

    def resolved(self, root: Path) -> PathSettings:
        """These paths made absolute against ``root``."""
        resolved = []
        for f in fields(self):
            path = root / getattr(self, f.name)
            try:
                resolved.append(path.resolve())
            except (OSError, RuntimeError, ValueError) as exc:  # a loop, a NUL byte
                raise ConfigError(f"paths.{f.name}: {str(path)!r}: {exc}") from None
        return PathSettings(*resolved)


@dataclass(frozen=True)
class PublishSettings:
    """``[publish]``: how much each feed shows and how big a seed may be."""

    max_entries: int = 50  # newest entries kept in each feed
    max_seed_bytes: int = 2 * 1024 * 1024  # larger seed files are skipped with a warning

    def __post_init__(self) -> None:
        _check_types(self, "publish")
        if not 1 <= self.max_entries <= MAX_ENTRIES_LIMIT:
            raise ConfigError(f"publish.max_entries must be between 1 and {MAX_ENTRIES_LIMIT}")
        if self.max_seed_bytes < 1024:
            raise ConfigError("publish.max_seed_bytes must be at least 1024")


@dataclass(frozen=True)
class FetchSettings:
    """``[fetch]``: limits and manners of every fetch (sources, enrich, extract, clip).
    Times are seconds."""

    allow_private: bool = False  # private, loopback, link-local, reserved addresses refused
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 30.0  # wall-clock time for the whole request, body included
    max_bytes: int = 10 * 1024 * 1024  # cap on the (decoded) body
    concurrency: int = 8  # requests in flight
    per_host: int = 2  # requests in flight to one host
    # robots.txt honoured for sources and enrich (false: only for one's own sites)
    robots: bool = True

    def __post_init__(self) -> None:
        _check_types(self, "fetch")
        for name in ("connect_timeout", "read_timeout", "deadline"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):  # "not >" refuses nan too
                raise ConfigError(f"fetch.{name} must be a positive number of seconds")
        for name in ("max_bytes", "concurrency", "per_host"):
            if getattr(self, name) < 1:
                raise ConfigError(f"fetch.{name} must be positive")


@dataclass(frozen=True)
class SeedSettings:
    """``[seeds]``: what is done with seeds besides reading them."""

    enrich: bool = False  # fetch each seed's link to fill its date, image, ...

    def __post_init__(self) -> None:
        _check_types(self, "seeds")


@dataclass(frozen=True)
class WebSubSettings:
    """``[websub]``: the hub every feed names and every changing publish pings."""

    hub: str = ""  # "" for none

    def __post_init__(self) -> None:
        _check_types(self, "websub")
        if self.hub:
            _set(self, "hub", _http_url(self.hub, "websub.hub"))


@dataclass(frozen=True)
class ScheduleSettings:
    """``[schedule]``: when ``seedfeed run`` republishes (crontab syntax, 0 = Sunday)."""

    cron: str = "*/15 * * * *"
    timezone: str = "UTC"
    jitter: int = 0  # seconds of random delay, so many instances do not fetch at once
    misfire_grace: int = 300  # a run missed by less than this (a suspend) still happens
    watch: bool = True  # republish within seconds when a seed is added, edited or deleted

    def __post_init__(self) -> None:
        _check_types(self, "schedule")
        # (bounded: APScheduler takes them as C ints; a day of jitter, a week of grace)
        if not 0 <= self.jitter <= 86_400 or not 1 <= self.misfire_grace <= 604_800:
            raise ConfigError(
                "schedule.jitter must be 0 to 86400 s and misfire_grace 1 to 604800 s"
            )
        if (self.cron, self.timezone) == ("*/15 * * * *", "UTC"):
            return  # the defaults are valid; APScheduler costs 40 ms to import
        from .schedule import ScheduleError, cron_trigger

        try:
            cron_trigger(self.cron, self.timezone)
        except ScheduleError as exc:
            key = "timezone" if "time zone" in str(exc) else "cron"
            raise ConfigError(f"schedule.{key}: {exc}") from None


DATABASE_ENV = "SEEDFEED_DATABASE_URL"


@dataclass(frozen=True)
class ClusterSettings:
    """``[cluster]``: workers on many machines sharing PostgreSQL (``pip install
    'seedfeed[cluster]'``, ``seedfeed worker``). Without the section (``enabled`` false)
    seedfeed is what it always was: SQLite and one process, and nothing of the cluster is
    imported. Times are seconds."""

    enabled: bool = True  # false: the section is kept but seedfeed runs on one machine
    # postgresql://user:password@host/db; when empty, SEEDFEED_DATABASE_URL gives it.
    database: str = field(default="", repr=False)  # not in logs or fingerprints
    schema: str = "seedfeed"  # the PostgreSQL schema of seedfeed's tables
    tick: int = 60  # between dispatches of due sources, seed scans and checks
    batch: int = 10_000  # most sources one dispatch queues
    host_interval: float = 1.0  # between two requests to one host, cluster-wide
    heartbeat: float = 10.0  # a worker silent for three heartbeats is dead: its jobs rerun
    render_delay: float = 5.0  # a render waits this long for more changes to its feed

    def __post_init__(self) -> None:
        _check_types(self, "cluster")
        if not self.enabled:
            return
        database = (self.database or os.environ.get(DATABASE_ENV, "")).strip()
        if not database:
            raise ConfigError(f"cluster.database is required (or {DATABASE_ENV})")
        if urlsplit(database).scheme not in ("postgresql", "postgres"):
            raise ConfigError("cluster.database must be a postgresql:// URL")
        _check_conninfo(database)
        _set(self, "database", database)
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", self.schema):
            raise ConfigError("cluster.schema must be a lowercase SQL name (a-z, 0-9, _)")
        if not (0 < self.tick <= 3600 and (60 % self.tick == 0 or 3600 % self.tick == 0)):
            raise ConfigError("cluster.tick must divide a minute or an hour (1, 5, 15, 60, 300…)")
        if self.batch < 1:
            raise ConfigError("cluster.batch must be positive")
        if not (0 <= self.host_interval <= 3600):  # "not" refuses nan too
            raise ConfigError("cluster.host_interval must be between 0 and 3600 seconds")
        if not (0 < self.heartbeat <= 3600):
            raise ConfigError("cluster.heartbeat must be between 0 and 3600 seconds")
        if not (0 <= self.render_delay <= 3600):
            raise ConfigError("cluster.render_delay must be between 0 and 3600 seconds")


def _check_conninfo(database: str) -> None:
    """Refuse a URL libpq cannot read here, in one line without its text: libpq's own
    message quotes the bad part, which may be the password (and would reach logs)."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # without seedfeed[cluster]: the cluster's commands say so
        return
    try:
        conninfo_to_dict(database)
    except Exception:  # psycopg.ProgrammingError, whatever libpq found
        raise ConfigError(
            "cluster.database: not a URL PostgreSQL can read (percent-encode special"
            " characters of the user and password)"
        ) from None


@dataclass(frozen=True)
class FeedSpec:
    """One published feed: a name (file stem), a title, the seed globs it takes, and the
    filters its entries pass (a word, author, tag or source list keeps the entries that
    match one of its items; an ``exclude_`` list drops them; lists combine with "and")."""

    name: str
    title: str
    description: str = ""
    include: tuple[str, ...] = ("*",)  # globs over paths below seeds/; () takes no seeds
    max_entries: int = 50
    words: tuple[str, ...] = ()  # in the title or the text, as whole words, any case
    exclude_words: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()  # any case
    exclude_authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # any case
    exclude_tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # source names; "seeds" for the seeds
    exclude_sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self.name, str, "feeds.<name>")
        _check_types(self, f"feeds.{self.name}")  # name, title, description, max_entries
        for key in ("include", *FILTER_KEYS):
            value = getattr(self, key)
            # A string is no list: "climate" would filter on c, l, i, m, ...
            if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"feeds.{self.name}.{key} must be a list of strings")
        if not FEED_NAME_RE.match(self.name) and not LABEL_FEED_RE.match(self.name):
            raise ConfigError(
                f"feeds.{self.name}: a feed name is lowercase letters, digits, - and _"
            )
        if not 1 <= self.max_entries <= MAX_ENTRIES_LIMIT:
            raise ConfigError(
                f"feeds.{self.name}.max_entries must be between 1 and {MAX_ENTRIES_LIMIT}"
            )
        _set(self, "title", clean_text(self.title))
        _set(self, "description", clean_text(self.description))
        for name in ("include", *FILTER_KEYS):
            _set(self, name, tuple(getattr(self, name)))

    @property
    def filtered(self) -> bool:
        """Whether entries must pass a filter besides the path globs."""
        return any(getattr(self, name) for name in FILTER_KEYS)


@dataclass(frozen=True)
class Config:
    """The validated configuration of one project.

    Build one in code with at least a root folder and a ``SiteSettings``; every other
    section has its defaults. Paths are resolved against ``root``.
    """

    root: Path  # the project's folder: relative paths start here
    site: SiteSettings
    paths: PathSettings = field(default_factory=PathSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    seeds: SeedSettings = field(default_factory=SeedSettings)
    websub: WebSubSettings = field(default_factory=WebSubSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    feeds: tuple[FeedSpec, ...] = ()  # the [feeds.NAME] feeds, besides the default one
    file: Path | None = None  # the config file it was read from, if any
    by_tag: bool = False  # [feeds] by_tag: a feed per tag, feeds/tag/<slug>.atom.xml, ...
    by_author: bool = False  # [feeds] by_author: a feed per author, feeds/author/<slug>...
    # [cluster]: absent, seedfeed runs on one machine (see ClusterSettings)
    cluster: ClusterSettings = field(default_factory=lambda: ClusterSettings(enabled=False))

    def __post_init__(self) -> None:
        # A Config built in code is checked as one read from a file: each section is
        # its settings class (which checked its own values), the feeds are FeedSpecs.
        for name, kind in _hints(Config):
            if name != "root":  # (root may be a str)
                _check(getattr(self, name), kind, name)
        if not isinstance(self.root, str | os.PathLike):
            raise ConfigError(f"root must be a path, not {_type_name(type(self.root))}")
        if not isinstance(self.feeds, tuple | list) or not all(
            isinstance(spec, FeedSpec) for spec in self.feeds
        ):
            raise ConfigError("feeds must be a list of FeedSpec")
        _set(self, "feeds", tuple(self.feeds))
        if self.file is not None and not isinstance(self.file, str | os.PathLike):
            raise ConfigError(f"file must be a path, not {_type_name(type(self.file))}")
        if self.file is not None:
            _set(self, "file", Path(self.file))
        try:
            root = Path(self.root).expanduser().resolve()
        except (OSError, RuntimeError, ValueError) as exc:  # ~nosuchuser, a NUL byte
            raise ConfigError(f"root: {str(self.root)!r}: {exc}") from None
        _set(self, "root", root)
        _set(self, "paths", self.paths.resolved(root))
        if "s3:" in self.paths.feeds.parts and not self.cluster.enabled:
            # Only the cluster's renders write through outputs.py; one machine writes a
            # folder, and would make a folder named "s3:" of the URL.
            raise ConfigError(
                "paths.feeds: s3:// is written by a cluster's workers ([cluster]);"
                " on one machine, publish to a folder and copy it to the bucket"
            )
        names = [spec.name for spec in self.feeds]
        if DEFAULT_FEED in names or len(set(names)) != len(names):
            raise ConfigError(f"feeds: each feed name once, and not {DEFAULT_FEED!r}")

    def all_feeds(self) -> tuple[FeedSpec, ...]:
        """Every feed the seeds fill: the default one (all seeds), then ``feeds``."""
        default = FeedSpec(
            DEFAULT_FEED,
            self.site.title,
            self.site.description,
            ("*",),
            self.publish.max_entries,
        )
        return (default, *self.feeds)


# --- reading config.toml ----------------------------------------------------------------


@functools.cache
def _sections() -> dict[str, type]:
    """The file's sections, read off Config's fields: section name -> settings class."""
    hints = _all_hints(Config)
    # Only the dataclass fields: not root, nor by_tag (a [feeds] key).
    return {f.name: hints[f.name] for f in fields(Config) if is_dataclass(hints[f.name])}


_FEED_KEYS: dict[str, type] = {
    "title": str,
    "description": str,
    "include": list,
    "max_entries": int,
    **dict.fromkeys(FILTER_KEYS, list),
}
# Keys of [feeds] itself, beside the [feeds.NAME] tables: the feeds of each tag, author.
_FEEDS_OPTIONS: dict[str, type] = {"by_tag": bool, "by_author": bool}


def find_config(path: str | Path | None) -> Path:
    """Return the config file named by ``path`` (a file or a folder), default ``./config.toml``."""
    candidate = Path(path) if path is not None else Path.cwd()
    if candidate.is_dir():
        candidate = candidate / CONFIG_NAME
    return candidate.absolute()


def load_config(path: str | Path | None = None) -> Config:
    """Read, validate and resolve the configuration at ``path``."""
    try:
        path = find_config(path)
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"{str(path)[:200]!r}: not a usable path: {reason}") from None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run `seedfeed init` to create one)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of [[[[...
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document; ``path`` is the file it came from."""
    try:
        return _parse(raw, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _parse(raw: dict[str, Any], path: Path) -> Config:
    sections: dict[str, Any] = {}
    for name, body in raw.items():
        if name == "feeds":
            continue
        kind = _sections().get(name)
        if kind is None:
            if name in _FEEDS_OPTIONS:  # written above every table: a top-level key
                raise ConfigError(f"{name} belongs in [feeds] (as {name} = true)")
            what = f"section [{name}]" if isinstance(body, dict) else f"key {name}"
            raise ConfigError(f"unknown {what}")
        _check(body, dict, f"[{name}]")
        sections[name] = kind(**_section(name, kind, body))
    if "site" not in sections:
        raise ConfigError("site.title is required")
    feeds = raw.get("feeds", {})
    return Config(
        root=path.parent,
        feeds=tuple(_feeds(feeds, sections["site"].title, sections)),
        file=path,
        by_tag=isinstance(feeds, dict) and feeds.get("by_tag") is True,
        by_author=isinstance(feeds, dict) and feeds.get("by_author") is True,
        **sections,
    )


def _section(name: str, kind: type, body: dict[str, Any]) -> dict[str, Any]:
    """The keys of one section, each checked against its field's type."""
    types = _all_hints(kind)
    for key, value in body.items():
        if key not in types:
            raise ConfigError(f"unknown key {name}.{key}")
        expected = types[key]
        _check(value, str if expected is Path else expected, f"{name}.{key}")
    required = [f.name for f in fields(kind) if f.name not in body and _required(f)]
    if required:
        raise ConfigError(f"{name}.{required[0]} is required")
    return {key: Path(value) if types[key] is Path else value for key, value in body.items()}


def _required(item: Any) -> bool:
    from dataclasses import MISSING

    return item.default is MISSING and item.default_factory is MISSING


def _feeds(raw: Any, site_title: str, sections: dict[str, Any]) -> list[FeedSpec]:
    _check(raw, dict, "[feeds]")
    publish = sections.get("publish", PublishSettings())
    specs = []
    for name, body in sorted(raw.items()):
        if name in _FEEDS_OPTIONS:
            _check(body, _FEEDS_OPTIONS[name], f"feeds.{name}")
            continue
        if not FEED_NAME_RE.match(name) or name == DEFAULT_FEED:
            raise ConfigError(
                f"feeds.{name}: a feed name is lowercase letters, digits, - and _"
                f" (and not {DEFAULT_FEED!r}, the default feed)"
            )
        _check(body, dict, f"[feeds.{name}]")
        for key, value in body.items():
            if key not in _FEED_KEYS:
                raise ConfigError(f"unknown key feeds.{name}.{key}")
            _check(value, _FEED_KEYS[key], f"feeds.{name}.{key}")
            if _FEED_KEYS[key] is list:
                for item in value:
                    _check(item, str, f"feeds.{name}.{key}[]")
        specs.append(
            FeedSpec(
                name=name,
                title=body.get("title", f"{site_title}: {name}"),
                description=body.get("description", ""),
                include=tuple(body.get("include", [])),  # none: a feed only sources fill
                max_entries=body.get("max_entries", publish.max_entries),
                **{key: tuple(body.get(key, ())) for key in FILTER_KEYS},
            )
        )
    return specs


def _check(value: Any, expected: type, name: str) -> None:
    """Types are checked exactly: ``bool`` is no ``int``; ``float`` takes ints too, but
    not TOML's inf and nan."""
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, not {value}")
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(f"{name} must be {_type_name(expected)}, not {_type_name(type(value))}")


def _type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a table",
        bool: "a boolean",
    }.get(kind, kind.__name__)


def with_fetch(config: Config, **changes: Any) -> Config:
    """``config`` with some ``[fetch]`` settings changed (``allow_private`` for a command)."""
    return replace(config, fetch=replace(config.fetch, **changes))
