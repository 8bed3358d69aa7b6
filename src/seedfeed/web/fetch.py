"""HTTP for sources: a careful GET of one URL, or of many at once.

``Fetcher.fetch`` follows redirects itself so that every hop passes the address policy
(netpolicy.py), sends the stored validators for a conditional GET, streams the body
under a byte cap and a wall-clock deadline (transport.py), and turns every failure into
a ``FetchError`` whose message names the URL. ``Fetcher.fetch_many`` runs many fetches
with a bound on requests in flight, overall and per host. ``next_retry`` says when a
failing source is due again; charset.py turns a body into text.
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import http.client
import itertools
import logging
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import urllib3

from .. import PROJECT_URL, __version__
from ..config import FetchSettings
from ..errors import FetchError
from .charset import decode_body, is_text, media_type
from .netpolicy import DEFAULT_PORTS, ForbiddenPeer, check_url
from .transport import Adapter, Session, Watch, set_current

__all__ = [
    "HOST_DOWN",
    "HOST_FAILURES",
    "SPACED_OUT",
    "USER_AGENT",
    "FetchError",
    "FetchResult",
    "FetchSettings",
    "Fetcher",
    "Validators",
    "check_url",
    "decode_body",
    "host_key",
    "next_retry",
]

log = logging.getLogger("seedfeed")

K = TypeVar("K")

BACKOFF_FIRST = 15 * 60.0  # seconds to wait after the first failure
BACKOFF_MAX = 24 * 60 * 60.0
# A Retry-After further away than this is treated as this: a broken or hostile header must
# not switch a source off for good.
RETRY_AFTER_MAX = 7 * 24 * 60 * 60.0

_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)


# The one User-Agent of every request seedfeed makes (sources, enrich, extract, WebSub).
USER_AGENT = f"seedfeed/{__version__} (+{PROJECT_URL})"
# The longest a site may make seedfeed wait between two of its requests (Crawl-delay): a
# hostile or mistaken "Crawl-delay: 86400" must not stall a run for a day.
MAX_SPACING = 30.0
# How far ahead a request may be booked behind a Crawl-delay in one ``fetch_many``: the
# rest fail with SPACED_OUT and are tried on a later run, so a long delay slows a site's
# pages down instead of holding the whole run (and the publish lock) for an hour.
SPACING_BUDGET = 60.0
SPACED_OUT = "not fetched in this run: the site's Crawl-delay spaces its pages out"
MAX_REDIRECTS = 10
# After this many requests in a row to one host got no answer at all (no name, refused,
# reset, silent until the timeout), ``fetch_many`` sends none of that host's other jobs:
# a host that is down would cost a timeout per page, a listing's 50 pages taking minutes
# under the publish lock. They fail ``unsent`` with HOST_DOWN, and are tried next run.
HOST_FAILURES = 3
HOST_DOWN = f"not fetched in this run: its host gave no answer to {HOST_FAILURES} requests in a row"


@dataclass(frozen=True)
class Validators:
    """The validators of a response, kept exactly as received, for the next conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch: a 2xx response with its body, or a 304 Not Modified."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int  # 200 (or another 2xx), or 304
    not_modified: bool  # 304: body is b"" and nothing was decoded
    body: bytes
    text: str  # decoded body; "" for 304 and for non-text bodies
    content_type: str  # media type without parameters, lowercased, e.g. "text/html"
    charset: str  # the charset used to decode text, "" if none
    validators: Validators  # of this response (for a 304: its own, else the ones sent)
    moved_to: str | None  # the new URL when every redirect was permanent (301/308)


def next_retry(failures: int, retry_after: float | None = None, now: float | None = None) -> float:
    """Epoch seconds of the next attempt after ``failures`` consecutive failures.

    The wait doubles from 15 minutes (15 min * 2**(failures - 1)) up to 24 hours, with no
    jitter so that the schedule is reproducible; it is never shorter than ``retry_after``
    seconds. With no failures the answer is ``now`` (or ``now + retry_after``).
    """
    if now is None:
        now = time.time()
    delay = 0.0
    if failures > 0:
        # the exponent is capped so that a huge count cannot overflow a float
        delay = min(BACKOFF_FIRST * 2 ** min(failures - 1, 32), BACKOFF_MAX)
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return now + delay


_NETWORK_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class Fetcher:
    """Fetches URLs through one ``requests.Session`` (connections are reused; every request
    carries the seedfeed User-Agent). Safe to share between threads, as ``fetch_many``
    does. ``close`` (or leaving a ``with`` block) cancels fetches in flight."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        max_redirects: int = MAX_REDIRECTS,
        truncate: bool = False,
    ) -> None:
        settings = settings if settings is not None else FetchSettings()
        self.settings = settings
        self.max_redirects = max_redirects
        self.truncate = truncate  # a body past max_bytes is cut there, not refused
        self._session = Session()
        for prefix in ("http://", "https://"):
            self._session.mount(
                prefix,
                Adapter(
                    pool_connections=max(10, settings.concurrency),
                    pool_maxsize=max(settings.concurrency, settings.per_host),
                    max_retries=0,
                ),
            )
        self._session.headers.update(
            {"User-Agent": USER_AGENT, "Accept": _ACCEPT, "Accept-Encoding": "gzip"}
        )
        self._lock = threading.Lock()  # guards the five below
        self._active: set[Watch] = set()
        self._cancelled: set[object] = set()  # fetch_many calls being wound up
        self._closed = False
        self._spacing: dict[str, float] = {}  # host -> seconds between request starts
        self._next_slot: dict[str, float] = {}  # host -> when its next request may start
        self._wake = threading.Event()  # set by close(): fetch_many stops waiting for slots

    def space(self, url: str, seconds: float) -> None:
        """Start requests to ``url``'s host at least ``seconds`` apart from now on (a
        robots.txt Crawl-delay, counted from the request that read it), capped at
        ``MAX_SPACING``. ``fetch_many`` waits for the slots, never a worker thread."""
        host = host_key(url)
        seconds = min(max(seconds, 0.0), MAX_SPACING)
        with self._lock:
            self._spacing[host] = seconds
            self._next_slot.setdefault(host, time.monotonic() + seconds)

    def _book(self, host: str, latest: float) -> float | None:
        """When a request to ``host`` may start (booking it), or None when its slot comes
        after ``latest``. Now for a host without a Crawl-delay."""
        with self._lock:
            now = time.monotonic()
            spacing = self._spacing.get(host)
            if not spacing:
                return now
            start = max(now, self._next_slot.get(host, now))
            if start > latest:
                return None
            self._next_slot[host] = start + spacing
            return start

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the fetches in flight (they fail with 'cancelled') and close connections."""
        with self._lock:
            self._closed = True
        self._wake.set()
        self._abort(None)
        self._session.close()

    def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        """GET ``url``, conditionally when ``validators`` are given, following redirects.

        Returns a ``FetchResult`` for a 2xx or a 304; raises ``FetchError`` for anything
        else: a refused address, an HTTP error, a redirect loop, a timeout, the deadline,
        a body over ``max_bytes``, a network failure.
        """
        return self._fetch(url, validators, None)

    def _fetch(self, url: str, validators: Validators | None, group: object | None) -> FetchResult:
        if self._closed:
            raise FetchError(url, "fetcher is closed")
        watch = Watch(self.settings.deadline, self.settings.allow_private, group)
        with self._lock:
            self._active.add(watch)
            # checked under the lock that _abort takes, so no fetch starts unseen
            cancelled = self._closed or group in self._cancelled
        if cancelled:
            watch.stop("cancelled")
        set_current(watch)
        try:
            return self._follow(url, validators, watch)
        finally:
            set_current(None)
            watch.finish()
            with self._lock:
                self._active.discard(watch)

    def fetch_many(
        self, jobs: Iterable[tuple[K, str, Validators | None]]
    ) -> Iterator[tuple[K, FetchResult | FetchError]]:
        """Fetch every ``(key, url, validators)`` job; yield ``(key, result or FetchError)``
        in the order they complete.

        At most ``settings.concurrency`` requests are in flight, and at most
        ``settings.per_host`` to one host (scheme, host and port of the URL). A job for a
        busy host waits in that host's queue rather than holding a worker, so a slow host
        delays only its own jobs; so does a host's Crawl-delay (``space``): its jobs run one
        at a time, each started when its slot comes, and those whose slot comes more than
        ``SPACING_BUDGET`` after the call began fail with ``SPACED_OUT``. Once
        ``HOST_FAILURES`` requests in a row to a host got no answer, its jobs not yet sent
        fail with ``HOST_DOWN`` ("in a row" in the order requests end: an answer starts the
        count again). Both are ``unsent``. ``jobs`` is read as slots free up;
        jobs waiting for a busy host are held in memory. Closing the generator early
        cancels what is in flight.
        """
        settings = self.settings
        pending = iter(jobs)
        exhausted = False
        waiting: dict[str, deque[tuple[K, str, Validators | None]]] = {}
        running: dict[str, int] = {}  # jobs started or booked per host
        futures: dict[Future[FetchResult | FetchError], tuple[K, str]] = {}
        booked: list[tuple[float, int, str, tuple[K, str, Validators | None]]] = []  # a heap
        unsent: deque[tuple[K, FetchError]] = deque()
        silent: dict[str, int] = {}  # host -> requests in a row that got no answer
        order = itertools.count()  # booked jobs of one time in the order they came
        latest = time.monotonic() + SPACING_BUDGET  # no job is booked to start after this
        group = object()
        pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="seedfeed-fetch")

        def submit(host: str, job: tuple[K, str, Validators | None]) -> None:
            key, url, validators = job
            futures[pool.submit(self._job, url, validators, group)] = (key, host)

        def start(host: str, job: tuple[K, str, Validators | None]) -> None:
            if silent.get(host, 0) >= HOST_FAILURES:
                unsent.append((job[0], FetchError(job[1], HOST_DOWN, unsent=True)))
                return
            when = self._book(host, latest)
            if when is None:
                unsent.append((job[0], FetchError(job[1], SPACED_OUT, unsent=True)))
                return
            running[host] = running.get(host, 0) + 1
            if when > time.monotonic():
                heapq.heappush(booked, (when, next(order), host, job))
            else:
                submit(host, job)

        def finished(host: str) -> None:
            running[host] -= 1
            while (queue := waiting.get(host)) and running[host] < self._limit(host):
                start(host, queue.popleft())
                if not queue:
                    del waiting[host]
            if not running[host] and host not in waiting:
                del running[host]

        try:
            while True:
                while not exhausted and len(futures) + len(booked) < settings.concurrency:
                    try:
                        job = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    host = host_key(job[1])
                    if running.get(host, 0) < self._limit(host):
                        start(host, job)
                    else:
                        waiting.setdefault(host, deque()).append(job)
                while unsent:
                    yield unsent.popleft()
                now = time.monotonic()
                while booked and booked[0][0] <= now:
                    _when, _seq, host, job = heapq.heappop(booked)
                    submit(host, job)
                if not futures and not booked:
                    # a job only waits while its host has requests running, so none is left
                    return
                timeout = booked[0][0] - now if booked else None
                if not futures:
                    if self._wake.wait(timeout):
                        return  # closed
                    continue
                done, _ = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    key, host = futures.pop(future)
                    outcome = future.result()
                    if isinstance(outcome, FetchError) and outcome.unanswered:
                        silent[host] = silent.get(host, 0) + 1
                    else:
                        silent.pop(host, None)
                    finished(host)  # may start or book the host's next job, or fail it
                    yield key, outcome
        finally:
            for future in futures:
                future.cancel()
            self._abort(group)
            pool.shutdown(wait=True, cancel_futures=True)
            with self._lock:
                self._cancelled.discard(group)

    # -- the parts --

    def _limit(self, host: str) -> int:
        """Requests in flight to ``host`` at once: one where a Crawl-delay spaces them."""
        with self._lock:
            return 1 if self._spacing.get(host) else self.settings.per_host

    def _job(
        self, url: str, validators: Validators | None, group: object
    ) -> FetchResult | FetchError:
        try:
            return self._fetch(url, validators, group)
        except FetchError as exc:
            return exc
        except Exception as exc:
            # a bug must not stop the other fetches; the log keeps its traceback
            log.exception("%s: unexpected error while fetching", url)
            return FetchError(url, f"unexpected error ({type(exc).__name__})")

    def _abort(self, group: object | None) -> None:
        """Stop the fetches in flight of one ``fetch_many`` call, or all (``None``)."""
        with self._lock:
            if group is not None:
                self._cancelled.add(group)  # for fetches of the group not yet started
            watches = [w for w in self._active if group is None or w.group is group]
        for watch in watches:
            watch.stop("cancelled")

    def _follow(self, url: str, validators: Validators | None, watch: Watch) -> FetchResult:
        settings = self.settings
        headers: dict[str, str] = {}
        if validators is not None:
            if validators.etag is not None:
                headers["If-None-Match"] = validators.etag
            if validators.last_modified is not None:
                headers["If-Modified-Since"] = validators.last_modified
        current = url
        seen = {urldefrag(url).url}
        hops = 0
        permanent = True
        while True:
            try:
                check_url(current, settings.allow_private)
            except FetchError as exc:
                raise _error(
                    url, current, exc.reason, unanswered=_silent(exc.reason, hops)
                ) from None
            try:
                try:
                    response = self._get(url, current, headers, watch)
                except _NETWORK_ERRORS as exc:  # no response: did the host answer at all?
                    reason = watch.reason or _describe(exc)
                    # (the deadline, when it is shorter than the read timeout, too)
                    silent = _silent(reason, hops) or (
                        hops == 0 and reason == watch.deadline_reason
                    )
                    raise _error(url, current, reason, unanswered=silent) from None
                try:
                    status = response.status_code
                    if status not in _REDIRECTS:
                        moved_to = current if hops and permanent else None
                        return self._result(url, current, response, validators, watch, moved_to)
                    location = _location(response)
                    if location is None:
                        raise _error(url, current, f"HTTP {status} without Location", status=status)
                    target = urljoin(current, location)
                    key = urldefrag(target).url
                    # A redirect back to a URL of this chain is a loop, unless it set a
                    # cookie: some sites bounce once through a cookie check.
                    if key in seen and not response.cookies:
                        raise FetchError(url, f"redirect loop at {target}")
                    hops += 1
                    if hops > self.max_redirects:
                        raise FetchError(
                            url, f"too many redirects (more than {self.max_redirects})"
                        )
                    seen.add(key)
                    permanent = permanent and status in _PERMANENT
                    current = target
                finally:
                    response.close()
            except ForbiddenPeer as exc:
                raise _error(url, current, f"refused: connected to {exc.address}") from None
            except _NETWORK_ERRORS as exc:  # after the response began: the host answered
                raise _error(url, current, watch.reason or _describe(exc)) from None

    def _get(self, url: str, current: str, headers: dict[str, str], watch: Watch) -> Any:
        remaining = watch.remaining()
        if remaining <= 0 or watch.reason:
            raise _error(url, current, watch.reason or watch.deadline_reason)
        settings = self.settings
        timeout = (min(settings.connect_timeout, remaining), min(settings.read_timeout, remaining))
        response = self._session.get(
            current, headers=headers, timeout=timeout, stream=True, allow_redirects=False
        )
        # through a proxy the connection is urllib3's own, which did not report itself
        watch.attach(getattr(response.raw, "connection", None))
        return response

    def _result(
        self,
        url: str,
        current: str,
        response: requests.Response,
        sent: Validators | None,
        watch: Watch,
        moved_to: str | None,
    ) -> FetchResult:
        status = response.status_code
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        content_type_header = response.headers.get("Content-Type")
        content_type = media_type(content_type_header)
        if status == 304:
            if sent is not None:
                etag = etag if etag is not None else sent.etag
                last_modified = last_modified if last_modified is not None else sent.last_modified
            return FetchResult(
                url=url,
                final_url=current,
                status=status,
                not_modified=True,
                body=b"",
                text="",
                content_type=content_type,
                charset="",
                validators=Validators(etag, last_modified),
                moved_to=moved_to,
            )
        if status == 410:
            raise _error(url, current, "HTTP 410 Gone", status=status, gone=True)
        if status in (429, 503):
            retry_after = _retry_after(response.headers.get("Retry-After"))
            reason = f"HTTP {status}"
            if retry_after is not None:
                reason += f" (retry after {retry_after:.0f} s)"
            raise _error(url, current, reason, status=status, retry_after=retry_after)
        if not 200 <= status < 300:
            raise _error(url, current, f"HTTP {status}", status=status)
        body = self._read_body(url, current, response, watch)
        text, charset = "", ""
        if is_text(content_type, body):
            text, charset = decode_body(body, content_type_header)
        return FetchResult(
            url=url,
            final_url=current,
            status=status,
            not_modified=False,
            body=body,
            text=text,
            content_type=content_type,
            charset=charset,
            validators=Validators(etag, last_modified),
            moved_to=moved_to,
        )

    def _read_body(
        self, url: str, current: str, response: requests.Response, watch: Watch
    ) -> bytes:
        limit = self.settings.max_bytes
        too_big = _error(url, current, f"body over {_size(limit)}")
        length = response.headers.get("Content-Length", "").strip()
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        plain = encoding in ("", "identity")
        if length.isdigit() and int(length) > limit and plain and not self.truncate:
            raise too_big  # no need to read what will be refused
        chunks: list[bytes] = []
        total = 0
        # Chunks come decoded (gzip), so the cap counts what is kept: a gzip bomb stops here.
        for chunk in response.iter_content(_CHUNK):
            total += len(chunk)
            if total > limit:
                if not self.truncate:
                    raise too_big
                chunks.append(chunk[: limit - total + len(chunk)])
                break
            if watch.remaining() <= 0:
                watch.stop(watch.deadline_reason)
                break
            chunks.append(chunk)
        # A shut-down socket looks like the end of a body sent until the connection closes,
        # so a stopped fetch is a failure even when the loop ended quietly.
        if watch.reason:
            raise _error(url, current, watch.reason)
        return b"".join(chunks)


def _silent(reason: str, hops: int) -> bool:
    """Whether a fetch that failed with ``reason`` before any response means that the
    URL's own host (not a redirect's) gave no answer: what ``fetch_many`` counts."""
    return hops == 0 and reason in _NO_ANSWER


# What _describe says of a host that did not answer. Not the other "connection failed"
# reasons: "too many open files" is this machine's trouble, not the host's.
_NO_ANSWER = frozenset(
    {
        "cannot resolve host",
        "connection refused",
        "timed out",
        "connection reset",
        "connection failed (network is unreachable)",
        "connection failed (no route to host)",
    }
)


def _error(url: str, current: str, reason: str, **details: Any) -> FetchError:
    """A FetchError for ``url`` about the hop at ``current``."""
    if current != url:
        reason = f"{reason} (at {current})"
    return FetchError(url, reason, **details)


def _location(response: requests.Response) -> str | None:
    location = response.headers.get("Location")
    if location is None:
        return None
    # http.client decodes header values as Latin-1; servers send UTF-8 (as requests assumes)
    with contextlib.suppress(UnicodeError):
        location = location.encode("latin-1").decode("utf-8")
    return location.strip()


def host_key(url: str) -> str:
    """The host that ``fetch_many`` limits and counts per: scheme, host name and port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    return f"{scheme}://{parts.hostname or ''}:{port or DEFAULT_PORTS.get(scheme, '')}"


def _retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]+", value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def _size(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: requests and urllib3 nest the cause several levels deep."""
    queue, seen = deque([exc]), set[int]()
    while queue and len(seen) < 20:
        item = queue.popleft()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        inner = [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
        queue.extend(e for e in inner if isinstance(e, BaseException))


def _describe(exc: BaseException) -> str:
    """A short reason for a network failure, without requests' and urllib3's wrappers."""
    chain = list(_causes(exc))

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in chain)

    if has(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return "cannot resolve host"
    if has(ConnectionRefusedError):
        return "connection refused"
    # urllib3's NewConnectionError is a ConnectTimeoutError by inheritance only
    if any(
        isinstance(e, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError)
        and not isinstance(e, urllib3.exceptions.NewConnectionError)
        for e in chain
    ):
        return "timed out"
    if has(ssl.SSLCertVerificationError):
        return "TLS certificate not trusted"
    if has(ssl.SSLError, requests.exceptions.SSLError):
        return "TLS error"
    if has(requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError):
        return "cannot decode the compressed body"
    if has(ConnectionResetError):
        return "connection reset"
    if has(requests.exceptions.InvalidHeader):
        return "invalid request header"
    if has(
        requests.exceptions.InvalidURL,
        requests.exceptions.InvalidSchema,
        urllib3.exceptions.LocationValueError,
    ):
        return "invalid URL"
    if has(
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.ProtocolError,
        http.client.HTTPException,
    ):
        return "connection broken"
    for e in chain:
        if isinstance(e, OSError) and e.strerror:
            return f"connection failed ({e.strerror.lower()})"
    return "connection failed"
