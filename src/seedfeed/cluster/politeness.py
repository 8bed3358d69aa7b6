"""Politeness across the whole cluster: however many machines fetch, a host sees the
requests of one careful client.

Two things hold it, both in PostgreSQL:

- **Per-host concurrency**: every fetch job holds a procrastinate lock named after its
  host and one of ``[fetch] per_host`` keys (``host_lock``), so at most that many jobs of
  one host run at once, cluster-wide (procrastinate runs one job per lock at a time).
- **Per-host next slot** (``HostSlots``): before each request, a worker takes the host's
  next slot in ``host_slots`` (one atomic ``INSERT … ON CONFLICT DO UPDATE``); slots are
  ``[cluster] host_interval`` seconds apart, or the site's robots.txt Crawl-delay when
  longer (web/robots.py reads it; ``PacedFetcher.space`` keeps it here, for every
  worker). A ``Retry-After`` (or a 429/503 without one) pushes the host's next slot back
  for every worker. A slot further away than a few seconds is not waited for: the
  request fails with ``SPACED_OUT``, which harvest.py treats as "not this time" (a
  source document is given back to the dispatcher for then; a page is tried later).

Times come from the database's clock, so machines whose clocks disagree still agree.
``PacedFetcher`` is the ``Fetcher`` of a job: it takes a slot before each request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ..config import FetchSettings
from ..web.fetch import (
    HOST_DOWN,
    HOST_FAILURES,
    MAX_SPACING,
    SPACED_OUT,
    Fetcher,
    FetchError,
    FetchResult,
    Validators,
    host_key,
)

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["MAX_WAIT", "HostSlots", "PacedFetcher", "host_lock", "host_of"]

log = logging.getLogger("seedfeed")

K = TypeVar("K")

# A slot further away than this is not waited for (a worker thread would sit idle).
MAX_WAIT = 5.0
# How long a host is left alone after a 429 or 503 that names no Retry-After.
BUSY_BACKOFF = 60.0

# Takes a slot: returns how long to wait for it; no row when it is too far away.
_RESERVE = """
INSERT INTO host_slots AS h (host, next_at)
VALUES (%(host)s, extract(epoch FROM statement_timestamp()) + %(interval)s)
ON CONFLICT (host) DO UPDATE
    SET next_at = greatest(h.next_at, extract(epoch FROM statement_timestamp()))
                  + greatest(%(interval)s, h.spacing)
    WHERE h.next_at <= extract(epoch FROM statement_timestamp()) + %(max_wait)s
RETURNING next_at - greatest(%(interval)s, spacing) - extract(epoch FROM statement_timestamp())
"""
_SPACE = """
INSERT INTO host_slots AS h (host, next_at, spacing)
VALUES (%(host)s, extract(epoch FROM statement_timestamp()) + %(spacing)s, %(spacing)s)
ON CONFLICT (host) DO UPDATE SET spacing = %(spacing)s
"""
_BACK_OFF = """
INSERT INTO host_slots AS h (host, next_at)
VALUES (%(host)s, extract(epoch FROM statement_timestamp()) + %(delay)s)
ON CONFLICT (host) DO UPDATE
    SET next_at = greatest(h.next_at, extract(epoch FROM statement_timestamp()) + %(delay)s)
"""


def host_of(url: str) -> str:
    """The host that politeness counts by: its name, lowercased (any port or scheme)."""
    try:
        return (urlsplit(url).hostname or url).lower()
    except ValueError:
        return url


def host_lock(host: str, key: str, per_host: int) -> str:
    """The procrastinate lock of the fetch jobs of ``key`` (a source URL) on ``host``: one
    of ``per_host`` locks, chosen by a stable hash so that a source always takes the same
    (the dispatch puts sources of one lock in one job)."""
    slot = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest()) % per_host
    return f"seedfeed:host:{host}#{slot}"


class HostSlots:
    """The next time each host may be asked, shared by every worker. Each statement is
    its own transaction on a connection of the worker's pool, outside any job's
    transaction (a slot taken is taken at once, for everyone; the row is never held
    locked)."""

    def __init__(
        self, pool: ConnectionPool[Any], interval: float, max_wait: float = MAX_WAIT
    ) -> None:
        self.pool = pool
        self.interval = interval
        self.max_wait = max_wait

    def _run(self, query: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """One statement, committed at once (tried again once on a connection that
        broke: the pool replaces it)."""
        import psycopg

        for attempt in (1, 2):
            try:
                with self.pool.connection() as conn:
                    cursor = conn.execute(query, params)
                    return cursor.fetchone() if cursor.description is not None else None
            except psycopg.OperationalError:
                if attempt == 2:
                    raise
        return None

    def take(self, host: str) -> float | None:
        """Take ``host``'s next slot and wait for it: None. When that slot is more than
        ``max_wait`` away (the host asked to be left alone), take nothing and return the
        POSIX time from which it may be asked again."""
        params = {"host": host, "interval": self.interval, "max_wait": self.max_wait}
        row = self._run(_RESERVE, params)
        if row is None:
            away = self._run(
                "SELECT next_at - extract(epoch FROM statement_timestamp())"
                " FROM host_slots WHERE host = %(host)s",
                {"host": host},
            )
            return time.time() + (float(away[0]) if away else self.max_wait)
        wait = float(row[0])
        if wait > 0:
            time.sleep(wait)
        return None

    def back_off(self, host: str, delay: float) -> None:
        """Leave ``host`` alone for ``delay`` seconds, on every machine."""
        self._run(_BACK_OFF, {"host": host, "delay": delay})

    def space(self, host: str, seconds: float) -> None:
        """Start requests to ``host`` at least ``seconds`` apart, on every machine."""
        self._run(_SPACE, {"host": host, "spacing": seconds})


class PacedFetcher(Fetcher):
    """The ``Fetcher`` of one worker thread: a job's requests go one after another, each
    in its host's next slot; when a slot is too far away, that request and the job's
    next ones fail with ``SPACED_OUT`` (``postponed`` says from when the host may be
    asked). 429 and 503 answers push the host's slots back; a Crawl-delay spaces them."""

    def __init__(self, settings: FetchSettings, slots: HostSlots) -> None:
        # One request at a time per job: the cluster's parallelism is its jobs.
        super().__init__(replace(settings, concurrency=1, per_host=1))
        self.slots = slots
        self.postponed: float | None = None  # the host asked for a pause until then

    def space(self, url: str, seconds: float) -> None:
        """A site's Crawl-delay: kept for every worker (not only this process)."""
        self.slots.space(host_of(url), min(max(seconds, 0.0), MAX_SPACING))

    def fetch_many(
        self, jobs: Iterable[tuple[K, str, Validators | None]]
    ) -> Iterator[tuple[K, FetchResult | FetchError]]:
        """Each request in turn, in this thread (the job's: a pool of threads inside a
        worker thread would only add hops), each in its host's slot. As in
        ``Fetcher.fetch_many``, a host that gave no answer to ``HOST_FAILURES`` requests
        in a row is not asked again in this call."""
        pending = iter(jobs)
        # Counted as Fetcher.fetch_many counts (scheme, host and port): a closed port 80
        # says nothing of the same name's port 443.
        silent: dict[str, int] = {}  # host_key -> requests in a row that got no answer
        for key, url, validators in pending:
            host = host_of(url)
            if silent.get(host_key(url), 0) >= HOST_FAILURES:
                yield key, FetchError(url, HOST_DOWN, unsent=True)
                continue
            until = self.slots.take(host)
            if until is not None:  # a host asked for a pause: this and the rest wait
                log.info("%s: not now: its host asked for a pause of %.0f s", url,
                         until - time.time())  # fmt: skip
                self.postponed = until if self.postponed is None else min(self.postponed, until)
                yield key, FetchError(url, SPACED_OUT, unsent=True)
                for key, url, _validators in pending:
                    yield key, FetchError(url, SPACED_OUT, unsent=True)
                return
            outcome = self._one(url, validators)
            if isinstance(outcome, FetchError) and outcome.status in (429, 503):
                delay = outcome.retry_after if outcome.retry_after is not None else BUSY_BACKOFF
                self.slots.back_off(host, delay)
            if isinstance(outcome, FetchError) and outcome.unanswered:
                silent[host_key(url)] = silent.get(host_key(url), 0) + 1
            else:
                silent.pop(host_key(url), None)
            yield key, outcome

    def _one(self, url: str, validators: Validators | None) -> FetchResult | FetchError:
        """One request; every failure as a ``FetchError`` (as ``fetch_many`` gives it)."""
        try:
            return self.fetch(url, validators)
        except FetchError as exc:
            return exc
        except Exception as exc:  # a bug must not fail the job: the log keeps it
            log.exception("%s: unexpected error while fetching", url)
            return FetchError(url, f"unexpected error ({type(exc).__name__})")
