"""HTTP for sources: a careful GET of one URL, or of many at once.

``Fetcher.fetch`` follows redirects itself so that every hop passes the address policy
(no private, loopback or link-local address unless allowed), sends the stored validators
for a conditional GET, streams the body under a byte cap and a wall-clock deadline, and
turns every failure into a ``FetchError`` whose message names the URL.
``Fetcher.fetch_many`` runs many fetches with a bound on requests in flight, overall and
per host. ``next_retry`` says when a failing source is due again, and ``decode_body``
turns a body into text the way a browser would.
"""

from __future__ import annotations

import codecs
import contextlib
import email.utils
import http.client
import ipaddress
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

import charset_normalizer
import requests
import urllib3
import webencodings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from . import PROJECT_URL, __version__
from .config import FetchSettings

__all__ = [
    "FetchError",
    "FetchResult",
    "FetchSettings",
    "Fetcher",
    "Validators",
    "check_url",
    "decode_body",
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
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)


# The one User-Agent of every request seedfeed makes (sources, enrich, extract, WebSub).
USER_AGENT = f"seedfeed/{__version__} (+{PROJECT_URL})"
MAX_REDIRECTS = 10


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


class FetchError(Exception):
    """A fetch that gave no usable response. ``str()`` is one line that names the URL as
    requested, e.g. ``'http://x/: HTTP 500'``. ``status`` is the HTTP status if there was
    one, ``retry_after`` the seconds a 429 or 503 asked to wait, ``gone`` true for 410."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        gone: bool = False,
    ) -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.gone = gone

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"


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


# --- the address policy ---------------------------------------------------------------


def check_url(url: str, allow_private: bool) -> None:
    """Raise ``FetchError`` unless ``url`` is an http(s) URL with a host that may be fetched.

    Unless ``allow_private``, the host is resolved and every address it resolves to must
    be public: private, loopback, link-local, multicast, reserved and unspecified
    addresses are refused, IPv4-mapped IPv6 addresses by the IPv4 address they carry.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError(url, "invalid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise FetchError(url, f"unsupported URL scheme {scheme!r}" if scheme else "not a URL")
    host = parts.hostname
    if not host:
        raise FetchError(url, "URL has no host")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port or _DEFAULT_PORTS[scheme], type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise FetchError(url, "cannot resolve host") from None
    except UnicodeError:
        raise FetchError(url, "invalid host name") from None
    for info in infos:
        address = str(info[4][0])
        if _is_forbidden(address):
            reason = (
                f"refused: {address} is not a public address"
                if _same_address(host, address)
                else f"refused: {host} resolves to {address}, not a public address"
            )
            raise FetchError(url, reason)


def _is_forbidden(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        # also what no flag above names, such as carrier-grade NAT (100.64.0.0/10)
        or not ip.is_global
    )


def _same_address(host: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False


class _ForbiddenPeer(Exception):
    """A connection reached an address the policy refuses (the name resolved differently
    for the connection than for ``check_url``)."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address


# --- the deadline and the connections that report to it ------------------------------

_local = threading.local()  # .watch: the _Watch of the fetch running on this thread


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            # the plain socket's shutdown: SSLSocket.shutdown would also drop its TLS
            # state under the thread that is reading
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watch:
    """One fetch's wall clock. When the deadline passes, or the fetch is cancelled, the
    socket of the connection in use is shut down: that wakes a read blocked in the
    fetching thread at once, which closing the response from another thread would not
    (the close waits for the reader's lock, and a server sending a byte now and then never
    lets a read time out)."""

    def __init__(self, seconds: float, allow_private: bool, group: object | None) -> None:
        self.allow_private = allow_private
        self.group = group
        self.expires = time.monotonic() + seconds
        self.deadline_reason = f"deadline of {seconds:g} s exceeded"
        self.reason: str | None = None  # why the fetch was stopped, once it was
        self._conn: Any = None
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self.stop, (self.deadline_reason,))
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def attach(self, conn: Any) -> None:
        """Watch ``conn`` from now on (each redirect hop may use another connection)."""
        with self._lock:
            if self._done or conn is None:
                return
            self._conn = conn
            if self.reason is not None:
                _shutdown(conn)

    def stop(self, reason: str) -> None:
        with self._lock:
            if self._done or self.reason is not None:
                return
            self.reason = reason
            _shutdown(self._conn)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._conn = None
        self._timer.cancel()


def _attach(conn: Any) -> None:
    watch: _Watch | None = getattr(_local, "watch", None)
    if watch is not None:
        watch.attach(conn)


class _WatchedConnection:
    """Mixin for the urllib3 connections of a ``Fetcher``: they report to the running
    fetch's watch (so the deadline covers connecting and waiting for headers too) and
    refuse a forbidden peer right after the TCP connect, before a byte is sent. That closes
    the gap between ``check_url`` resolving a name and urllib3 resolving it again (DNS
    rebinding). Connections through a proxy are urllib3's own and skip both."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        watch: _Watch | None = getattr(_local, "watch", None)
        direct = not getattr(self, "proxy", None) and not getattr(self, "_tunnel_host", None)
        if watch is not None and not watch.allow_private and direct:
            address = str(sock.getpeername()[0])
            if _is_forbidden(address):
                sock.close()
                raise _ForbiddenPeer(address)
        return sock

    def connect(self) -> None:
        _attach(self)
        super().connect()  # type: ignore[misc]
        _attach(self)  # again, now with a socket: a stop during the connect found none

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class _Session(requests.Session):
    def get_redirect_target(self, resp: requests.Response) -> str | None:
        # Fetcher follows redirects itself. Saying "no redirect" here also stops requests
        # from reading a redirect's whole body into memory, which it does even with
        # allow_redirects=False (to prepare Response.next).
        return None


# --- fetching -------------------------------------------------------------------------

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
        self, settings: FetchSettings | None = None, *, max_redirects: int = MAX_REDIRECTS
    ) -> None:
        settings = settings if settings is not None else FetchSettings()
        self.settings = settings
        self.max_redirects = max_redirects
        self._session = _Session()
        for prefix in ("http://", "https://"):
            self._session.mount(
                prefix,
                _Adapter(
                    pool_connections=max(10, settings.concurrency),
                    pool_maxsize=max(settings.concurrency, settings.per_host),
                    max_retries=0,
                ),
            )
        self._session.headers.update(
            {"User-Agent": USER_AGENT, "Accept": _ACCEPT, "Accept-Encoding": "gzip"}
        )
        self._lock = threading.Lock()  # guards the three below
        self._active: set[_Watch] = set()
        self._cancelled: set[object] = set()  # fetch_many calls being wound up
        self._closed = False

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the fetches in flight (they fail with 'cancelled') and close connections."""
        with self._lock:
            self._closed = True
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
        watch = _Watch(self.settings.deadline, self.settings.allow_private, group)
        with self._lock:
            self._active.add(watch)
            # checked under the lock that _abort takes, so no fetch starts unseen
            cancelled = self._closed or group in self._cancelled
        if cancelled:
            watch.stop("cancelled")
        _local.watch = watch
        try:
            return self._follow(url, validators, watch)
        finally:
            _local.watch = None
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
        delays only its own jobs. ``jobs`` is read as slots free up; jobs waiting for a
        busy host are held in memory. Closing the generator early cancels what is in flight.
        """
        settings = self.settings
        pending = iter(jobs)
        exhausted = False
        waiting: dict[str, deque[tuple[K, str, Validators | None]]] = {}
        running: dict[str, int] = {}
        futures: dict[Future[FetchResult | FetchError], tuple[K, str]] = {}
        group = object()
        pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="seedfeed-fetch")

        def start(host: str, job: tuple[K, str, Validators | None]) -> None:
            key, url, validators = job
            running[host] = running.get(host, 0) + 1
            futures[pool.submit(self._job, url, validators, group)] = (key, host)

        try:
            while True:
                while not exhausted and len(futures) < settings.concurrency:
                    try:
                        job = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    host = _host_key(job[1])
                    if running.get(host, 0) < settings.per_host:
                        start(host, job)
                    else:
                        waiting.setdefault(host, deque()).append(job)
                if not futures:
                    # a job only waits while its host has requests running, so none is left
                    return
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    key, host = futures.pop(future)
                    running[host] -= 1
                    queue = waiting.get(host)
                    if queue:
                        start(host, queue.popleft())
                        if not queue:
                            del waiting[host]
                    elif not running[host]:
                        del running[host]
                    yield key, future.result()
        finally:
            for future in futures:
                future.cancel()
            self._abort(group)
            pool.shutdown(wait=True, cancel_futures=True)
            with self._lock:
                self._cancelled.discard(group)

    # -- the parts --

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

    def _follow(self, url: str, validators: Validators | None, watch: _Watch) -> FetchResult:
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
                raise _error(url, current, exc.reason) from None
            try:
                response = self._get(url, current, headers, watch)
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
            except _ForbiddenPeer as exc:
                raise _error(url, current, f"refused: connected to {exc.address}") from None
            except _NETWORK_ERRORS as exc:
                raise _error(url, current, watch.reason or _describe(exc)) from None

    def _get(self, url: str, current: str, headers: dict[str, str], watch: _Watch) -> Any:
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
        watch: _Watch,
        moved_to: str | None,
    ) -> FetchResult:
        status = response.status_code
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        content_type_header = response.headers.get("Content-Type")
        content_type = _media_type(content_type_header)
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
        if _is_text(content_type, body):
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
        self, url: str, current: str, response: requests.Response, watch: _Watch
    ) -> bytes:
        limit = self.settings.max_bytes
        too_big = _error(url, current, f"body over {_size(limit)}")
        length = response.headers.get("Content-Length", "").strip()
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if length.isdigit() and int(length) > limit and encoding in ("", "identity"):
            raise too_big  # no need to read what will be refused
        chunks: list[bytes] = []
        total = 0
        # Chunks come decoded (gzip), so the cap counts what is kept: a gzip bomb stops here.
        for chunk in response.iter_content(_CHUNK):
            total += len(chunk)
            if total > limit:
                raise too_big
            if watch.remaining() <= 0:
                watch.stop(watch.deadline_reason)
                break
            chunks.append(chunk)
        # A shut-down socket looks like the end of a body sent until the connection closes,
        # so a stopped fetch is a failure even when the loop ended quietly.
        if watch.reason:
            raise _error(url, current, watch.reason)
        return b"".join(chunks)


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


def _host_key(url: str) -> str:
    """The host that ``fetch_many`` limits per: scheme, host name and port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    return f"{scheme}://{parts.hostname or ''}:{port or _DEFAULT_PORTS.get(scheme, '')}"


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
    queue, seen = deque([exc]), set()
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


# --- text -----------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""\s*<\?xml\s[^>]*?encoding\s*=\s*["']([a-z0-9_.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# Only the WHATWG Encoding Standard's labels are honoured, as browsers do: Python knows many
# more, and some turn harmless bytes into markup (UTF-7 reads "+ADw-script+AD4-" as
# "<script>"). Its "replacement" encoding (iso-2022-kr, hz-gb-2312...) would make the
# whole page one U+FFFD, and Python has no codec for x-user-defined: both are ignored.
_IGNORED_ENCODINGS = frozenset({"replacement", "x-user-defined"})
# The Standard's GBK decoder is its GB18030 one: pages labelled gbk or gb2312 use it.
_DECODERS = {"gbk": "gb18030"}
_HEAD = 4096  # where a <meta> declaration is looked for
_DETECT = 64 * 1024  # how much of the body charset detection reads


def decode_body(body: bytes, content_type_header: str | None) -> tuple[str, str]:
    """Decode a response body; returns ``(text, charset)``, the charset a Python codec name.

    The charset is, in this order: a byte order mark; the Content-Type header's charset;
    the document's own declaration (for HTML a ``<meta>`` in the first 4 KB, then the XML
    declaration; for XML the other way round); detection with charset_normalizer,
    preferring windows-1252 when it fits about as well, as browsers do. Only labels of the
    WHATWG Encoding Standard count, read as it says ("iso-8859-1" is windows-1252); any
    other (utf-7, utf-32, base64...) is passed over, as is a declaration the bytes plainly
    contradict (UTF-8 declared on Windows-1252 bytes, a legacy charset declared on valid
    UTF-8). Never raises: the last resort is UTF-8 with replacement characters.
    """
    try:
        return _decode(body, content_type_header)
    except Exception:  # a codec's bug must not lose the page
        return body.decode("utf-8", "replace"), "utf-8"


def _decode(body: bytes, content_type_header: str | None) -> tuple[str, str]:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, "replace"), codec
    media_type, params = _parse_content_type(content_type_header)
    labels: list[tuple[bytes | str, bool]] = []
    if params.get("charset"):
        labels.append((params["charset"], False))
    head = body[:_HEAD]
    meta = _META_CHARSET.search(head)
    xml = _XML_ENCODING.match(head)
    document = (xml, meta) if _is_xml(media_type) else (meta, xml)
    labels.extend((match.group(1), True) for match in document if match)
    try:
        utf8: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    for label, in_document in labels:
        codec = _codec(label, in_document)
        if codec is None:
            continue
        if codec == "utf-8":
            if utf8 is not None:
                return utf8, codec
            if _mostly_utf8(body):
                return body.decode("utf-8", "replace"), codec
            continue  # declared UTF-8, but the bytes are some legacy charset
        if utf8 is not None and not body.isascii() and not codec.startswith("utf-"):
            return utf8, "utf-8"  # a legacy charset declared on valid UTF-8: it is UTF-8
        return body.decode(codec, "replace"), codec
    if not body:
        return "", ""
    if utf8 is not None:
        return utf8, "utf-8"
    codec = _detect(body)
    if codec is not None:
        return body.decode(codec, "replace"), codec
    return body.decode("utf-8", "replace"), "utf-8"


def _codec(label: bytes | str, in_document: bool) -> str | None:
    """The Python codec for a WHATWG Encoding Standard label, or None for any other label."""
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    codec = _whatwg_codec(webencodings.lookup(label.strip().strip("\"'")))
    if in_document and codec is not None and codec.startswith("utf-16"):
        return "utf-8"  # a declaration readable as ASCII cannot be in UTF-16 (WHATWG)
    return codec


def _whatwg_codec(encoding: webencodings.Encoding | None) -> str | None:
    """The Python codec that decodes a WHATWG encoding, None for one not decoded here."""
    if encoding is None or encoding.name in _IGNORED_ENCODINGS:
        return None
    name: str = encoding.codec_info.name
    return _DECODERS.get(name, name)


# The Python codecs of the Standard's encodings, for charset detection's answers.
_WHATWG_CODECS = frozenset(
    filter(None, (_whatwg_codec(webencodings.lookup(label)) for label in webencodings.LABELS))
)


def _detected_codec(name: str) -> str | None:
    """The codec for charset_normalizer's answer ``name`` (a Python codec name) if a
    browser could decode with it, else None: the detector also knows EBCDIC, UTF-7,
    UTF-32..., which browsers never use and which can turn bytes into markup."""
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return None
    # A Python name may also be a label ("latin-1" is windows-1252, "gbk" is gb18030).
    return name if name in _WHATWG_CODECS else _codec(name, False)


def _mostly_utf8(body: bytes) -> bool:
    """True for UTF-8 with a few broken bytes (keep it) rather than another charset."""
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii - bad > bad


def _detect(body: bytes) -> str | None:
    sample = body[:_DETECT]
    if len(body) > _DETECT:
        # end at a line break, not inside a multi-byte character
        cut = sample.rfind(b"\n")
        if cut > _DETECT // 2:
            sample = sample[: cut + 1]
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        return None
    # Short Latin text fits several single-byte charsets equally well, and the detector's
    # first pick among them is often Baltic or Central European; windows-1252 is what
    # browsers assume for an unlabelled page, so it wins when it fits about as well.
    for match in matches:
        if (
            "cp1252" in (match.encoding, *match.could_be_from_charset)
            and match.chaos <= best.chaos + 0.1
            and match.coherence >= best.coherence - 0.1
        ):
            return "cp1252"
    # the best match (they come best first) that a browser could decode with
    return next(filter(None, (_detected_codec(match.encoding) for match in matches)), None)


def _parse_content_type(header: str | None) -> tuple[str, dict[str, str]]:
    if not header:
        return "", {}
    media_type, _, rest = header.partition(";")
    params = {}
    for part in rest.split(";"):
        name, equals, value = part.partition("=")
        if equals:
            params[name.strip().lower()] = value.strip().strip("\"'").strip()
    return media_type.strip().lower(), params


def _media_type(header: str | None) -> str:
    return _parse_content_type(header)[0]


def _is_xml(media_type: str) -> bool:
    return media_type.endswith(("/xml", "+xml"))


def _is_text(media_type: str, body: bytes) -> bool:
    """Whether a body of this media type is text worth decoding."""
    if media_type.startswith("text/") or media_type.endswith(("/xml", "+xml", "/json", "+json")):
        return True
    if media_type in ("", "application/octet-stream", "binary/octet-stream"):
        # unlabelled or mislabelled: text if it looks like markup or JSON
        head = body[:512]
        for bom, _ in _BOMS:
            head = head.removeprefix(bom)
        return head.lstrip().startswith((b"<", b"{"))
    return False
