"""The transport under ``Fetcher``: connections that report to the fetch's wall clock.

Each fetch has a ``Watch`` (its deadline); the urllib3 connections a ``Fetcher`` uses
attach themselves to the watch of the fetch running on their thread, so that when the
deadline passes, or the fetch is cancelled, the socket in use is shut down. They also
refuse a peer the address policy forbids, right after the TCP connect.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .netpolicy import ForbiddenPeer, is_forbidden

if TYPE_CHECKING:
    from requests.sessions import _Settings

__all__ = ["Adapter", "Session", "Watch", "current"]


log = logging.getLogger("seedfeed")

_local = threading.local()  # .watch: the Watch of the fetch running on this thread


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            # the plain socket's shutdown: SSLSocket.shutdown would also drop its TLS
            # state under the thread that is reading
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watch:
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
        _deadlines().add(self)

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

    @property
    def finished(self) -> bool:
        """Whether the fetch is over (its deadline no longer matters)."""
        return self._done

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._conn = None


class _Deadlines:
    """The thread that stops the fetches whose deadline has passed, one per process (a
    timer thread per fetch cost a thread started and stopped for every request)."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []  # by deadline; finished ones too
        self._order = itertools.count()  # ties: first come, first stopped
        self._tidy_at = _TIDY_FROM
        threading.Thread(target=self._run, name="seedfeed-deadlines", daemon=True).start()

    def add(self, watch: Watch) -> None:
        with self._wake:
            if len(self._heap) > self._tidy_at:
                # Finished fetches wait here for their deadline: with a day's deadline a
                # daemon would keep every fetch of the day. Dropped each time the heap has
                # doubled since (amortized, whatever the number of fetches running).
                self._heap = [item for item in self._heap if not item[2].finished]
                heapq.heapify(self._heap)
                self._tidy_at = max(_TIDY_FROM, 2 * len(self._heap))
            heapq.heappush(self._heap, (watch.expires, next(self._order), watch))
            if self._heap[0][2] is watch:  # the next to expire: wait for it, not the other
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    # Capped: Condition.wait overflows past threading.TIMEOUT_MAX.
                    self._wake.wait(None if wait is None else min(wait, _MAX_WAIT))
                watch = heapq.heappop(self._heap)[2]
            try:
                watch.stop(watch.deadline_reason)  # nothing if it finished meanwhile
            except Exception:  # this thread must outlive any one fetch
                log.exception("stopping a fetch at its deadline failed")


_MAX_WAIT = 3600.0
_TIDY_FROM = 1024


_clock: _Deadlines | None = None
_clock_lock = threading.Lock()


def _deadlines() -> _Deadlines:
    global _clock
    if _clock is None:
        with _clock_lock:
            if _clock is None:
                _clock = _Deadlines()
    return _clock


def _forget_deadlines() -> None:
    # A forked child (a parse worker, a cluster worker) has the parent's heap but not its
    # thread, and maybe a lock some other thread held at the fork: it starts afresh.
    global _clock, _clock_lock
    _clock, _clock_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_deadlines)


def _attach(conn: Any) -> None:
    watch: Watch | None = getattr(_local, "watch", None)
    if watch is not None:
        watch.attach(conn)


class WatchedConnection:
    """Mixin for the urllib3 connections of a ``Fetcher``: they report to the running
    fetch's watch (so the deadline covers connecting and waiting for headers too) and
    refuse a forbidden peer right after the TCP connect, before a byte is sent. That closes
    the gap between ``check_url`` resolving a name and urllib3 resolving it again (DNS
    rebinding). Connections through a proxy are urllib3's own and skip both."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        watch: Watch | None = getattr(_local, "watch", None)
        direct = not getattr(self, "proxy", None) and not getattr(self, "_tunnel_host", None)
        if watch is not None and not watch.allow_private and direct:
            address = str(sock.getpeername()[0])
            if is_forbidden(address):
                sock.close()
                raise ForbiddenPeer(address)
        return sock

    def connect(self) -> None:
        _attach(self)
        super().connect()  # type: ignore[misc]
        _attach(self)  # again, now with a socket: a stop during the connect found none

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(WatchedConnection, HTTPConnection):
    pass


class _HTTPSConnection(WatchedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class Session(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], _Settings] = {}

    def merge_environment_settings(  # type: ignore[override]  # (url: str only)
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        # requests reads the whole environment for proxies on every request, a quarter of
        # a fetch's CPU. What it finds depends on the scheme and host alone, and the
        # environment of a running process does not change: read once per host.
        if proxies or not self.trust_env:  # a caller's own proxies: as requests does it
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        scheme, netloc = urlsplit(url)[:2]
        key = (scheme, netloc, stream, verify, cert)
        found = self._environment.get(key)
        if found is None:
            if len(self._environment) >= _HOSTS_REMEMBERED:
                self._environment.clear()
            found = super().merge_environment_settings(url, {}, stream, verify, cert)
            self._environment[key] = found
        settings = found.copy()
        settings["proxies"] = dict(found["proxies"])  # requests may add to it
        return settings

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        # Fetcher follows redirects itself. Saying "no redirect" here also stops requests
        # from reading a redirect's whole body into memory, which it does even with
        # allow_redirects=False (to prepare Response.next).
        return None


_HOSTS_REMEMBERED = 1024


def current() -> Watch | None:
    """The watch of the fetch running on this thread, if any."""
    return getattr(_local, "watch", None)


def set_current(watch: Watch | None) -> None:
    """Make ``watch`` the one connections on this thread report to."""
    _local.watch = watch
