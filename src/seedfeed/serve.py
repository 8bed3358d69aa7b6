"""Serve the ``feeds/`` folder over HTTP: right content types, validators, 304s and gzip.

Only regular files directly inside the folder, with a plain name and a known suffix, are
served; everything else is a 404, so a path trick, a symlink or a stray file (the state
store, a half-written temporary file) never leaks. Files are read per request: publish
replaces them atomically, so each response holds the old bytes or the new ones.

A request body is never wanted but always read past (up to ``MAX_DISCARD`` bytes), so a
kept-alive connection stays in step with a proxy in front: a body left unread would be
taken for the next request. A longer body, or framing that cannot be trusted, closes the
connection instead.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import math
import os
import re
import socket
import socketserver
import stat
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

from . import __version__
from .errors import UsageError
from .formats import INDEX_NAME, LABEL_FOLDERS, media_type

log = logging.getLogger("seedfeed.serve")

ALLOWED_METHODS = "GET, HEAD"
CACHE_CONTROL = "max-age=300"

# One path segment of plain characters that does not start with a dot: no separators,
# no hidden files, nothing for percent-decoding to smuggle in.
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}")

# Request body bytes (on the wire, chunk framing included) read and dropped to keep a
# connection open; a longer body is left unread and the connection closed after the answer.
MAX_DISCARD = 64 * 1024
_DIGITS = re.compile(r"[0-9]{1,18}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")

_CACHE_ENTRIES = 64
_CACHE_MAX_FILE = 8 * 1024 * 1024  # bigger files are read every time rather than kept
_POLL_INTERVAL = 0.1  # how quickly serve_forever notices shutdown()
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    # A FIFO placed in the folder would otherwise block open() forever.
    | getattr(os, "O_NONBLOCK", 0)
)


def content_type_for(name: str) -> str | None:
    """The Content-Type for a served file name, or None when seedfeed writes no such file
    (a stray file in the folder is never served)."""
    kind = media_type(name)
    if kind is None or kind == "application/xml":
        return kind  # no charset for plain XML: its declaration says it
    return f"{kind}; charset=utf-8"


def file_name_for(request_target: str) -> str | None:
    """The file name a request target asks for, or None when it names nothing servable.

    The query string is ignored and ``/`` means ``index.html``. The target is
    percent-decoded once and must then be a single safe path segment.
    """
    path = request_target.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        return None  # absolute-form or ``*``: not how anyone asks for a feed
    try:
        name = unquote(path[1:], errors="strict")
    except UnicodeDecodeError:
        return None
    if name == "":
        return INDEX_NAME
    folder, slash, base = name.rpartition("/")
    if slash and folder not in LABEL_FOLDERS:  # only the tag and author feeds' folders
        return None
    if not SAFE_NAME.fullmatch(base) or content_type_for(base) is None:
        return None
    return name


@dataclass
class _Representation:
    """One version of one file, with its validators and (lazily) its gzip variant."""

    body: bytes
    etag: str
    last_modified: float  # whole seconds, as Last-Modified can say no more
    _gzip: tuple[bytes, str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, body: bytes, mtime: float) -> _Representation:
        digest = hashlib.sha256(body).hexdigest()[:32]
        return cls(body=body, etag=f'"{digest}"', last_modified=float(int(mtime)))

    def gzipped(self) -> tuple[bytes, str]:
        """The gzip body and its ETag (the identity ETag with ``-gz`` inside the quotes).

        mtime=0 keeps the compressed bytes a function of the file's bytes alone, so the
        gzip ETag is as stable as the identity one.
        """
        with self._lock:
            if self._gzip is None:
                self._gzip = (
                    gzip.compress(self.body, compresslevel=6, mtime=0),
                    self.etag[:-1] + '-gz"',
                )
            return self._gzip


class _FileCache:
    """Recently served files, keyed by name and checked against the file's identity.

    The identity includes the inode: publish renames a new file over the old one, and two
    writes within one clock tick can share an mtime and a size.
    """

    def __init__(self, max_entries: int = _CACHE_ENTRIES) -> None:
        self._entries: OrderedDict[str, tuple[tuple[int, ...], _Representation]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, name: str, identity: tuple[int, ...]) -> _Representation | None:
        with self._lock:
            cached = self._entries.get(name)
            if cached is None or cached[0] != identity:
                return None
            self._entries.move_to_end(name)
            return cached[1]

    def put(self, name: str, identity: tuple[int, ...], rep: _Representation) -> None:
        if len(rep.body) > _CACHE_MAX_FILE:
            return
        with self._lock:
            self._entries[name] = (identity, rep)
            self._entries.move_to_end(name)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


class FeedServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its feeds folder and keeps a small file cache."""

    daemon_threads = True  # a stuck client must never keep the process alive
    # Readers poll at the same minute: the stdlib's backlog of 5 drops a burst of them.
    request_queue_size = 128

    # Connections served at once, a thread each: past this, a client is answered 503
    # with Retry-After at once, so that a flood of idle connections cannot take every
    # thread (and memory) of the machine.
    max_connections = 256

    def __init__(self, feeds_dir: Path, address: tuple[str, int]) -> None:
        self.feeds_dir = Path(feeds_dir)
        self.cache = _FileCache()
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._said_busy = -math.inf
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, FeedRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve ``request`` on a thread of its own, or answer 503 when all are taken."""
        with self._busy_lock:
            full = self._busy >= self.max_connections
            if not full:
                self._busy += 1
        if full:
            _refuse_busy(request)
            self.shutdown_request(request)
            now = time.monotonic()
            if now - self._said_busy > 60:  # once a minute, not a line per refusal
                self._said_busy = now
                log.warning("busy: %d connections at once; answering 503", self.max_connections)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._busy_lock:
            self._busy -= 1

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can wait seconds on DNS
        # for nothing we use.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def load(self, name: str) -> _Representation | None:
        """The current bytes of ``feeds_dir/name``, or None when it must not be served."""
        root = os.path.realpath(self.feeds_dir)
        real = os.path.realpath(os.path.join(root, name))
        if os.path.dirname(real) != os.path.join(root, os.path.dirname(name)).rstrip("/"):
            return None  # a symlink that leads out of its folder
        try:
            fd = os.open(real, _OPEN_FLAGS)
        except OSError:
            return None
        # Everything below comes from this one open file, so a rename by publish in the
        # middle of the request cannot mix two versions.
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None  # a directory, a FIFO, a device
            identity = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
            rep = self.cache.get(name, identity)
            if rep is None:
                with open(fd, "rb", closefd=False) as handle:
                    rep = _Representation.of(handle.read(), st.st_mtime)
                self.cache.put(name, identity, rep)
            return rep
        finally:
            os.close(fd)

    def handle_error(self, request: object, client_address: object) -> None:
        # The stdlib prints the traceback to stderr; keep it in the log with the rest.
        # A reader that hangs up mid-response is routine, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("%s hung up", client_address)
        else:
            log.exception("error while handling a request from %s", client_address)


class FeedRequestHandler(BaseHTTPRequestHandler):
    """GET and HEAD for files in the feeds folder; other methods get 405."""

    server: FeedServer
    protocol_version = "HTTP/1.1"  # keep-alive: readers poll many feeds from one host
    server_version = f"seedfeed/{__version__}"
    sys_version = ""  # no Python version in the Server header
    timeout = 30  # seconds a silent client may hold a thread
    _close_after = False  # this request's body (or its framing) ends the connection

    def parse_request(self) -> bool:
        """Parse the request line and headers, then read past the request body, if any.

        On failure a response has been sent and the connection is to be closed; every
        method, even one answered 405 or 501, goes through here.
        """
        self._close_after = False
        if not super().parse_request():
            return False
        try:
            if self.headers.defects:
                # A header line the parser could not read (a space before the colon, a
                # line without one) ends the headers there: a Content-Length after it
                # would be lost and the body taken for the next request (RFC 9112 5.1).
                raise ValueError(f"malformed header ({type(self.headers.defects[0]).__name__})")
            self._close_after = not self._discard_body()
        except ValueError as exc:
            self.log_error("bad request body framing: %s", exc)
            self._close_after = True
            self._send_plain(HTTPStatus.BAD_REQUEST, "bad request\n")
            return False
        return True

    def _discard_body(self) -> bool:
        """Read and drop the request body; False when it is left unread (too long).

        Raises ValueError when the body's length cannot be trusted (RFC 9112 6.3).
        """
        lengths = self.headers.get_all("Content-Length") or []
        encodings = self.headers.get_all("Transfer-Encoding") or []
        if encodings:
            if lengths:  # two framings a proxy may pick differently: request smuggling
                raise ValueError("both Content-Length and Transfer-Encoding")
            codings = [c.strip().lower() for c in ",".join(encodings).split(",")]
            if codings[-1] != "chunked" or codings.count("chunked") != 1:
                raise ValueError(f"Transfer-Encoding {', '.join(encodings)!r}")
            if self.request_version == "HTTP/1.0":
                return False  # no chunked in HTTP/1.0: faulty framing, close after
            return discard_chunked(self.rfile, MAX_DISCARD)
        if not lengths:
            return True
        value = lengths[0].strip(" \t")
        if len(lengths) > 1 or not _DIGITS.fullmatch(value):
            raise ValueError(f"Content-Length {', '.join(lengths)!r}")
        length = int(value)
        if length > MAX_DISCARD:
            return False
        return len(self.rfile.read(length)) == length

    def do_GET(self) -> None:
        self._serve_file(send_body=True)

    def do_HEAD(self) -> None:
        self._serve_file(send_body=False)

    def _method_not_allowed(self) -> None:
        self._send_plain(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n", ALLOWED_METHODS)

    # Methods HTTP defines get 405; a made-up method falls through to the stdlib's 501.
    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = (
        _method_not_allowed
    )

    def _serve_file(self, *, send_body: bool) -> None:
        name = file_name_for(self.path)
        rep = self.server.load(name) if name is not None else None
        if name is None or rep is None:
            self._send_plain(HTTPStatus.NOT_FOUND, "not found\n")
            return

        if accepts_gzip(self.headers.get("Accept-Encoding")):
            body, etag = rep.gzipped()
            encoding: str | None = "gzip"
        else:
            body, etag, encoding = rep.body, rep.etag, None

        status = HTTPStatus.NOT_MODIFIED if self._not_modified(etag, rep) else HTTPStatus.OK
        self._start(status, len(body) if status == HTTPStatus.OK else None)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(rep.last_modified, usegmt=True))
        self.send_header("Cache-Control", CACHE_CONTROL)
        feed = name.endswith(FEED_XML_SUFFIXES)
        self.send_header("Vary", "Accept-Encoding, Accept" if feed else "Accept-Encoding")
        if status == HTTPStatus.OK:
            content_type = content_type_for(name) or "application/octet-stream"
            if feed and wants_page(self.headers.get("Accept")):
                # A browser shows application/atom+xml as raw text but applies the feed's
                # stylesheet (feed.xsl) to XML: the same bytes, as a page. Readers ask for
                # feeds, and get the feed types.
                content_type = "application/xml; charset=utf-8"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            if encoding:
                self.send_header("Content-Encoding", encoding)
        self.end_headers()
        if send_body and status == HTTPStatus.OK:
            self.wfile.write(body)

    def _not_modified(self, etag: str, rep: _Representation) -> bool:
        # RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only counts without it.
        if_none_match = self.headers.get_all("If-None-Match")
        if if_none_match:
            return etag_matches(", ".join(if_none_match), etag)
        since = parse_http_date(self.headers.get("If-Modified-Since"))
        if since is None or since > time.time():
            return False  # unparseable or in the future: ignore, as RFC 9110 asks
        return rep.last_modified <= since

    def _send_plain(self, status: HTTPStatus, text: str, allow: str | None = None) -> None:
        body = text.encode("ascii")
        self._start(status, len(body))
        if allow:
            self.send_header("Allow", allow)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _start(self, status: HTTPStatus, length: int | None) -> None:
        # send_response() without its log line, so the one line per request can carry
        # the body length.
        self.log_request(status, "-" if length is None else length)
        self.send_response_only(status)
        self.send_header("Server", self.version_string())
        self.send_header("Date", self.date_time_string())
        if self._close_after:
            self.send_header("Connection", "close")  # also sets self.close_connection

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One INFO line per request on the ``seedfeed.serve`` logger."""
        if isinstance(code, HTTPStatus):
            code = code.value
        log.info('%s "%s" %s %s', self.address_string(), self.requestline, code, size)

    def log_error(self, format: str, *args: object) -> None:
        # Malformed requests and timeouts; a status line for them follows via log_request.
        log.debug(format, *args)

    def log_message(self, format: str, *args: object) -> None:
        # The stdlib default writes to stderr; everything goes through logging instead.
        log.info(format, *args)


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 21\r\nConnection: close\r\n\r\nbusy, try again soon\n"
)


def _refuse_busy(request: socket.socket) -> None:
    """Answer 503 on the accepting thread without reading the request: a few bytes that
    fit any socket buffer, so a client that never reads cannot block the server."""
    try:
        request.setblocking(False)
        request.send(_BUSY)
    except OSError:
        pass


def discard_chunked(rfile: BinaryIO | io.BufferedIOBase, limit: int) -> bool:
    """Read and drop one chunked body of at most ``limit`` bytes on the wire.

    Returns False when the body is longer or the client went away (the rest stays unread,
    so the connection must close); raises ValueError on framing that is not exactly
    RFC 9112's, because a proxy may read lenient framing differently.
    """
    remaining = limit
    in_trailers = False
    while True:
        line = rfile.readline(remaining + 1)
        remaining -= len(line)
        if remaining < 0 or not line:
            return False
        if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
            raise ValueError(f"chunked line {line[:40]!r} not ended by CRLF")
        if in_trailers:
            if line == b"\r\n":
                return True
            continue  # a trailer field: dropped with the rest
        size_field = line[:-2].split(b";", 1)[0]  # chunk extensions are ignored
        if not _CHUNK_SIZE.fullmatch(size_field):
            raise ValueError(f"chunk size {size_field[:40]!r}")
        size = int(size_field, 16)
        if size == 0:
            in_trailers = True
            continue
        if size + 2 > remaining:
            return False
        data = rfile.read(size + 2)
        remaining -= len(data)
        if len(data) < size + 2:
            return False
        if not data.endswith(b"\r\n"):
            raise ValueError("chunk data not followed by CRLF")


FEED_XML_SUFFIXES = (".atom.xml", ".rss.xml")


def wants_page(accept: str | None) -> bool:
    """Whether a request's ``Accept`` is a browser's, that would rather have a page than
    a feed: HTML accepted, and no feed type named."""
    if not accept:
        return False
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    feeds = {"application/atom+xml", "application/rss+xml", "application/feed+json"}
    return "text/html" in kinds and not kinds & feeds


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` means it does not)."""
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        weights[coding.strip().lower()] = weight
    for coding in ("gzip", "x-gzip"):
        if coding in weights:
            return weights[coding] > 0
    return weights.get("*", 0.0) > 0


_ENTITY_TAG = re.compile(r'(?:W/)?"([^"]*)"')


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of an ``If-None-Match`` value (a list, or ``*``) against ``etag``.

    Weak because proxies that re-compress mark the tag ``W/`` and it still names our bytes.
    """
    if if_none_match.strip() == "*":
        return True
    ours = etag.removeprefix("W/").strip('"')
    return ours in _ENTITY_TAG.findall(if_none_match)


def parse_http_date(value: str | None) -> float | None:
    """A POSIX timestamp from an HTTP date, or None when absent or unparseable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None  # RFC 9110 dates are GMT; a date without a zone is not one of them
    return parsed.timestamp()


def make_server(feeds_dir: Path, host: str = "127.0.0.1", port: int = 8080) -> FeedServer:
    """Bind an HTTP server for ``feeds_dir`` on ``host``:``port`` (0: any free port).

    The server is bound but not yet serving: call ``serve_forever()`` (in a thread, say)
    and ``server_address`` tells the port. Raises OSError when the address is taken, and
    UsageError when ``feeds_dir`` is a file (a folder not yet made is served: as 404s).
    """
    try:
        mode = os.stat(feeds_dir).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = stat.S_IFDIR  # not made yet
    except OSError as exc:  # EACCES on a parent: the folder, not the address, is at fault
        reason = (exc.strerror or type(exc).__name__).lower()
        raise UsageError(f"{feeds_dir}: cannot be read ({reason}); nothing to serve") from None
    if not stat.S_ISDIR(mode):
        raise UsageError(f"{feeds_dir}: not a folder (paths.feeds); nothing to serve")
    return FeedServer(Path(feeds_dir), (host, port))


def serve(feeds_dir: Path, host: str, port: int, stop: threading.Event | None = None) -> None:
    """Serve ``feeds_dir`` until ``stop`` is set or the user presses Ctrl-C, then close.

    Requests are handled in a background thread while this one waits, so that both a
    KeyboardInterrupt and ``stop`` end in the same orderly shutdown.
    """
    stop = stop if stop is not None else threading.Event()
    server = make_server(feeds_dir, host, port)
    if not Path(feeds_dir).is_dir():
        log.warning("%s does not exist yet: every request is a 404 until a publish", feeds_dir)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_INTERVAL},
        name="seedfeed-serve",
        daemon=True,
    )
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    log.info("serving %s on http://%s:%s/", feeds_dir, _url_host(str(bound_host)), bound_port)
    try:
        # A timeout keeps the wait interruptible by Ctrl-C on every platform.
        while not stop.wait(timeout=1.0):
            pass
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        log.info("stopped serving %s", feeds_dir)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
