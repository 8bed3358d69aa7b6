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
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from ..errors import FetchError
from ..store import RobotsRecord

if TYPE_CHECKING:  # at run time imported when needed: `status` reads DISALLOWED only
    from protego import Protego

    from .fetch import Fetcher, FetchResult

__all__ = ["DISALLOWED", "UNREACHABLE", "Robots", "RobotsCache"]

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


def _agent() -> str:
    from .fetch import USER_AGENT

    return USER_AGENT


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

    def prepare(self, urls: Iterable[str]) -> None:
        """Read the robots.txt of every site of ``urls`` not read yet (at once)."""
        todo: dict[str, RobotsRecord | None] = {}
        from .fetch import Validators

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
                f"{origin}/robots.txt",
                Validators(record.etag, record.last_modified) if record else None,
            )
            for origin, record in todo.items()
        ]
        for origin, outcome in self._fetcher.fetch_many(jobs):
            self._answer(origin, todo[origin], outcome)

    def refusal(self, url: str) -> str | None:
        """Why ``url`` must not be fetched, or None when it may be."""
        origin = _origin(url)
        if origin not in self._rules:
            self.prepare([url])
        rules = self._rules.get(origin, UNREACHABLE)
        if isinstance(rules, str):
            return rules
        if rules is not None and not rules.can_fetch(url, _agent()):
            return DISALLOWED
        return None

    def _answer(
        self, origin: str, record: RobotsRecord | None, outcome: FetchResult | FetchError
    ) -> None:
        if isinstance(outcome, FetchError):
            status = outcome.status or 0
            if 400 <= status < 500 and status != 429:  # no robots.txt: all allowed
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
        body = outcome.body[:MAX_BYTES].decode("utf-8", "replace")
        self._store(origin, body, outcome.validators.etag, outcome.validators.last_modified)

    def _store(self, origin: str, body: str, etag: str | None, modified: str | None) -> None:
        self._cache.put_robots(RobotsRecord(origin, body, etag, modified, self._now))
        self._learn(origin, body)

    def _learn(self, origin: str, body: str) -> None:
        if not body.strip():
            self._rules[origin] = None
            return
        from protego import Protego  # lazily: most runs fetch nothing

        rules = Protego.parse(body)
        self._rules[origin] = rules
        delay = rules.crawl_delay(_agent())
        if delay:
            self._fetcher.space(origin + "/", float(delay))
