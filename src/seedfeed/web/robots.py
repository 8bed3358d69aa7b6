"""robots.txt (RFC 9309): which pages a site asks crawlers to leave alone, and how often
they may come.

``Robots`` reads the robots.txt of each site a run fetches from, once per run and at
most once a day (conditional GET with the validators the store keeps), parses it with
Protego (the parser Scrapy uses: groups, wildcards, ``$``, Crawl-delay), matches the
group of seedfeed's User-Agent, and tells the fetcher to space requests by the
Crawl-delay. A site whose robots.txt is missing (4xx) may be fetched whole; one whose
robots.txt cannot be read (5xx, network) is left alone until it can, unless a copy
from the last 30 days says otherwise (RFC 9309 2.3.1.4).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from ..errors import FetchError
from ..store import RobotsRecord

if TYPE_CHECKING:  # at run time imported when needed: `status` reads DISALLOWED only
    from protego import Protego

    from .fetch import Fetcher, FetchResult

__all__ = [
    "DISALLOWED",
    "TOKEN",
    "UNREACHABLE",
    "Robots",
    "RobotsCache",
    "our_rules",
    "robots_txt_of",
]

DISALLOWED = "disallowed by robots.txt"
UNREACHABLE = "robots.txt cannot be read now; the site is left alone until it can"
FRESH = 24 * 3600.0  # a robots.txt is read again after a day (RFC 9309: SHOULD NOT cache longer)
STALE_USE = 30 * 24 * 3600.0  # how long a copy stands in for an unreachable robots.txt
MAX_BYTES = 512 * 1024  # what is parsed of a robots.txt (RFC 9309: at least 500 KiB)


class RobotsCache(Protocol):
    """Where ``Robots`` keeps robots.txt between runs (the state store)."""

    def robots(self, origin: str) -> RobotsRecord | None:
        """The robots.txt of ``origin`` as last read, if ever."""
        ...

    def put_robots(self, record: RobotsRecord) -> None:
        """Keep a site's robots.txt."""
        ...

    def forget_robots(self, before: float) -> None:
        """Forget the robots.txt of the sites last read before ``before``."""
        ...


# The product token robots.txt groups are matched against (RFC 9309 2.2.1), not the
# whole User-Agent: "seedfeed/0.2.0 (+https://...)" holds words other groups name.
TOKEN = "seedfeed"
_RULE_KEYS = frozenset({"allow", "disallow", "crawl-delay"})


def our_rules(body: str) -> str:
    """The part of a robots.txt that concerns seedfeed, as one group: the rules of every
    group whose User-agent is ``seedfeed`` (case aside, a version after ``/`` allowed),
    else those of ``*`` (RFC 9309 2.2.1; groups of one agent combined). Protego matches
    an agent anywhere in the string it is given, so it is given only these."""
    groups: list[tuple[set[str], list[str]]] = []
    in_agents = False  # the last rule-or-agent line was a User-agent: a group opens
    for line in body.splitlines():
        key, colon, value = line.split("#", 1)[0].partition(":")
        key, value = key.strip().lower(), value.strip()
        if not colon:
            continue
        if key == "user-agent":
            agent = value.split("/", 1)[0].strip().lower()
            if not in_agents:
                groups.append((set(), []))
            groups[-1][0].add(agent)
            in_agents = True
        elif key in _RULE_KEYS and groups:
            groups[-1][1].append(f"{key}: {value}")
            in_agents = False
    chosen = [rules for agents, rules in groups if TOKEN in agents] or [
        rules for agents, rules in groups if "*" in agents
    ]
    lines = [line for rules in chosen for line in rules]
    return f"User-agent: {TOKEN}\n" + "\n".join(lines) + "\n" if lines else ""


def robots_txt_of(url: str) -> str:
    """The address of the robots.txt that governs ``url``."""
    return f"{_origin(url)}/robots.txt"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class Robots:
    """The robots.txt rules of the sites one run fetches from."""

    def __init__(self, fetcher: Fetcher, cache: RobotsCache, now: float | None = None) -> None:
        self._fetcher = fetcher
        self._cache = cache
        self._now = time.time() if now is None else now
        # origin -> its rules; None: everything allowed; a str: why nothing is
        self._rules: dict[str, Protego | str | None] = {}
        self._pruned = False

    def prepare(self, urls: Iterable[str]) -> None:
        """Read the robots.txt of every site of ``urls`` not read yet (at once)."""
        todo: dict[str, RobotsRecord | None] = {}
        from .fetch import Fetcher, Validators

        for url in urls:
            origin = _origin(url)
            if origin in self._rules or origin in todo:
                continue
            record = self._cache.robots(origin)
            if record is not None and self._now - record.fetched_at < FRESH:
                self._learn(origin, record.body)
            else:
                todo[origin] = record
        jobs = [
            (
                origin,
                robots_txt_of(origin),
                Validators(record.etag, record.last_modified) if record else None,
            )
            for origin, record in todo.items()
        ]
        if not jobs:
            return
        # A fetcher of its own: a robots.txt past MAX_BYTES is read that far, not refused
        # (RFC 9309 2.5), whatever [fetch] max_bytes says of pages.
        settings = replace(self._fetcher.settings, max_bytes=MAX_BYTES)
        with Fetcher(settings, truncate=True) as reader:
            for origin, outcome in reader.fetch_many(jobs):
                self._answer(origin, todo[origin], outcome)

    def refusal(self, url: str) -> str | None:
        """Why ``url`` must not be fetched, or None when it may be."""
        origin = _origin(url)
        if origin not in self._rules:
            self.prepare([url])
        rules = self._rules.get(origin, UNREACHABLE)
        if isinstance(rules, str):
            return rules
        if rules is not None and not rules.can_fetch(url, TOKEN):
            return DISALLOWED
        return None

    def _answer(
        self, origin: str, record: RobotsRecord | None, outcome: FetchResult | FetchError
    ) -> None:
        if isinstance(outcome, FetchError):
            status = outcome.status or 0
            # No robots.txt (a 4xx, or redirects that lead nowhere: RFC 9309 2.3.1.2):
            # everything is allowed.
            lost = outcome.reason.startswith(("redirect loop", "too many redirects"))
            if (400 <= status < 500 and status != 429) or lost:
                self._store(origin, "", None, None)
            elif record is not None and self._now - record.fetched_at < STALE_USE:
                self._learn(origin, record.body)  # unreachable: the last copy stands in
            else:
                self._rules[origin] = UNREACHABLE
            return
        if outcome.not_modified and record is not None:
            validators = outcome.validators
            self._store(origin, record.body, validators.etag, validators.last_modified)
            return
        # UTF-8 (RFC 9309 2.3), a byte order mark first as Windows editors write it
        body = outcome.body[:MAX_BYTES].decode("utf-8", "replace").removeprefix("\ufeff")
        self._store(origin, body, outcome.validators.etag, outcome.validators.last_modified)

    def _store(self, origin: str, body: str, etag: str | None, modified: str | None) -> None:
        self._cache.put_robots(RobotsRecord(origin, body, etag, modified, self._now))
        if not self._pruned:  # once a run that read one: the sites of old links go
            # A copy this old no longer stands in for anything (STALE_USE); only its
            # validators would, for a site not asked in a month.
            self._cache.forget_robots(self._now - STALE_USE)
            self._pruned = True
        self._learn(origin, body)

    def _learn(self, origin: str, body: str) -> None:
        mine = our_rules(body)
        if not mine:
            self._rules[origin] = None
            return
        from protego import Protego  # lazily: most runs fetch nothing

        rules = Protego.parse(mine)
        self._rules[origin] = rules
        delay = rules.crawl_delay(TOKEN)
        if delay:
            self._fetcher.space(origin + "/", float(delay))
