"""``seedfeed.web.fetch`` against real servers on 127.0.0.1: pytest-httpserver for plain
exchanges, a threaded ``http.server`` for slow and concurrent ones, and a raw socket for
a server that drips bytes. Nothing here touches the internet."""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import pickle
import socket
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import seedfeed.web.fetch
import seedfeed.web.transport
from seedfeed import PROJECT_URL, __version__
from seedfeed.config import ConfigError
from seedfeed.web.fetch import (
    BACKOFF_MAX,
    HOST_DOWN,
    HOST_FAILURES,
    Fetcher,
    FetchError,
    FetchResult,
    FetchSettings,
    Validators,
    check_url,
    decode_body,
    next_retry,
)
from seedfeed.web.transport import Watch

MB = 1024 * 1024
FAST = FetchSettings(allow_private=True, connect_timeout=0.5, read_timeout=0.5, deadline=3.0)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST) as fetcher:
        yield fetcher


# --- a threaded server whose routes are plain functions --------------------------------

Route = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.seen.append((path, self.headers))
        route = self.server.routes.get(path)
        if route is None:
            reply(self, 404)
        else:
            route(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, object]] = []
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hang up on purpose in these tests


def reply(
    handler: BaseHTTPRequestHandler,
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    with contextlib.suppress(OSError):
        handler.wfile.write(body)


@contextlib.contextmanager
def running_server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    with running_server() as server:
        yield server


@contextlib.contextmanager
def drip_server(head: bytes, drip: bytes, interval: float) -> Iterator[str]:
    """A raw server that sends ``head`` at once, then ``drip`` one byte per ``interval``."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.settimeout(2)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                conn.sendall(head)
                for byte in drip:
                    if stop.wait(interval):
                        break
                    conn.sendall(bytes([byte]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        listener.close()
        thread.join(2)


def fail(fetcher: Fetcher, url: str, validators: Validators | None = None) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, validators)
    return caught.value


# --- 200s and charsets ------------------------------------------------------------------


def test_ok_with_charset_in_header(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    body = "<html><p>Un café, s'il vous plaît</p></html>".encode("iso-8859-1")
    httpserver.expect_request("/page").respond_with_data(
        body,
        content_type="text/HTML; charset=ISO-8859-1",
        headers={"ETag": '"v1"', "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )
    url = httpserver.url_for("/page")
    result = fetcher.fetch(url)
    assert result.url == result.final_url == url
    assert (result.status, result.not_modified, result.moved_to) == (200, False, None)
    assert result.body == body
    assert "Un café, s'il vous plaît" in result.text
    assert result.content_type == "text/html"
    assert result.charset == "cp1252"  # what browsers read ISO-8859-1 as
    assert result.validators == Validators('"v1"', "Wed, 21 Oct 2015 07:28:00 GMT")


def test_charset_only_in_meta(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    page = '<html><head><meta charset="windows-1251"></head><body>Привет, мир</body></html>'
    httpserver.expect_request("/ru").respond_with_data(
        page.encode("cp1251"), content_type="text/html"
    )
    result = fetcher.fetch(httpserver.url_for("/ru"))
    assert (result.text, result.charset) == (page, "cp1251")


def test_charset_in_http_equiv_meta(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
        "</head><body>Привет</body></html>"
    )
    httpserver.expect_request("/koi").respond_with_data(
        page.encode("koi8-r"), content_type="text/html"
    )
    result = fetcher.fetch(httpserver.url_for("/koi"))
    assert (result.text, result.charset) == (page, "koi8-r")


@pytest.mark.parametrize(
    "content_type",
    ["text/html", "text/html; charset=utf-8", "text/html; charset=no-such-charset"],
)
def test_missing_or_wrong_charset_is_detected(
    httpserver: HTTPServer, fetcher: Fetcher, content_type: str
) -> None:
    page = "<html><body><p>Un café au lait, déjà vu, naïve façade.</p></body></html>"
    httpserver.expect_request("/fr").respond_with_data(
        page.encode("cp1252"), content_type=content_type
    )
    result = fetcher.fetch(httpserver.url_for("/fr"))
    assert (result.text, result.charset) == (page, "cp1252")


def test_legacy_charset_declared_on_utf8_is_utf8(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    page = "<p>café crème</p>"
    httpserver.expect_request("/u").respond_with_data(
        page.encode(), content_type="text/html; charset=iso-8859-1"
    )
    result = fetcher.fetch(httpserver.url_for("/u"))
    assert (result.text, result.charset) == (page, "utf-8")


def test_non_text_body_is_not_decoded(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    httpserver.expect_request("/img").respond_with_data(png, content_type="image/png")
    result = fetcher.fetch(httpserver.url_for("/img"))
    assert (result.body, result.text, result.charset) == (png, "", "")
    assert result.content_type == "image/png"


def test_user_agent_and_accept_encoding(server: _Server, fetcher: Fetcher) -> None:
    server.routes["/ua"] = lambda h: reply(h, 200, b"ok", {"Content-Type": "text/plain"})
    fetcher.fetch(server.url("/ua"))
    [(_, headers)] = server.seen
    assert headers["User-Agent"] == f"seedfeed/{__version__} (+{PROJECT_URL})"
    assert headers["Accept-Encoding"] == "gzip"


# --- decode_body ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        ("café".encode("utf-8-sig"), "text/html; charset=cp1252", ("café", "utf-8")),
        ("hé".encode("utf-16-le").join([b"\xff\xfe", b""]), None, ("hé", "utf-16-le")),
        (
            '<?xml version="1.0" encoding="ISO-8859-15"?><rss>€uro</rss>'.encode("iso8859-15"),
            "application/rss+xml",
            ('<?xml version="1.0" encoding="ISO-8859-15"?><rss>€uro</rss>', "iso8859-15"),
        ),
        (
            b'<meta charset="utf-16"><p>hi</p>',
            "text/html",
            ('<meta charset="utf-16"><p>hi</p>', "utf-8"),
        ),
        (b"plain ascii", None, ("plain ascii", "utf-8")),
        (b"abc", "text/plain; charset=base64", ("abc", "utf-8")),
        (b"", "text/html; charset=koi8-r", ("", "koi8-r")),
        (b"", None, ("", "")),
        (
            "Café crème brûlée ".encode() + b"\xff",  # UTF-8 with one broken byte
            "text/plain; charset=utf-8",
            ("Café crème brûlée \ufffd", "utf-8"),
        ),
    ],
)
def test_decode_body(body: bytes, header: str | None, expected: tuple[str, str]) -> None:
    assert decode_body(body, header) == expected


def test_decode_body_detects_legacy_cjk() -> None:
    text = "これは日本語のテストページです。よろしくお願いします。" * 3
    assert decode_body(text.encode("shift_jis"), "text/html") == (text, "cp932")


@given(st.binary(max_size=300), st.one_of(st.none(), st.text(max_size=40)))
def test_decode_body_never_raises(body: bytes, header: str | None) -> None:
    text, charset = decode_body(body, header)
    assert isinstance(text, str)
    assert isinstance(charset, str)


# UTF-7 for "<script>alert(1)</script>": plain ASCII that Python's utf-7 codec turns into markup.
UTF7_SCRIPT = "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"


@pytest.mark.parametrize(
    ("body", "header"),
    [
        (
            f'<html><head><meta charset="utf-7"></head><body>{UTF7_SCRIPT}</body></html>',
            "text/html",
        ),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=UTF-7">'
            f"<p>{UTF7_SCRIPT}</p>",
            "text/html",
        ),
        (f"<p>{UTF7_SCRIPT}</p>", "text/html; charset=utf-7"),
        (f'<?xml version="1.0" encoding="utf-7"?><rss>{UTF7_SCRIPT}</rss>', "application/rss+xml"),
        (f'<?xml version="1.0" encoding="UTF-7"?><rss>{UTF7_SCRIPT}</rss>', None),
        # labels Python knows but the WHATWG Encoding Standard does not, or maps to its
        # "replacement" encoding (the whole page as one U+FFFD)
        (f"<p>{UTF7_SCRIPT}</p>", "text/html; charset=utf-32"),
        (f"<p>{UTF7_SCRIPT}</p>", "text/html; charset=cp037"),
        (f"<p>{UTF7_SCRIPT}</p>", "text/html; charset=iso-2022-kr"),
        (f'<meta charset="hz-gb-2312"><p>{UTF7_SCRIPT}</p>', "text/html"),
    ],
    ids=[
        "meta utf-7",
        "http-equiv utf-7",
        "header utf-7",
        "xml utf-7",
        "unlabelled xml utf-7",
        "header utf-32",
        "header cp037",
        "header iso-2022-kr",
        "meta hz-gb-2312",
    ],
)
def test_decode_body_ignores_labels_outside_the_encoding_standard(
    body: str, header: str | None
) -> None:
    text, charset = decode_body(body.encode("ascii"), header)
    assert UTF7_SCRIPT in text
    assert "<script" not in text.lower()
    assert (text, charset) == (body, "utf-8")


def test_decode_body_falls_back_to_the_document_after_an_ignored_header_label() -> None:
    page = '<meta charset="koi8-r"><p>Привет, мир</p>'
    assert decode_body(page.encode("koi8-r"), "text/html; charset=utf-7") == (page, "koi8-r")


def test_decode_body_detects_only_charsets_browsers_decode() -> None:
    # charset_normalizer's first guess for these bytes is EBCDIC (cp037), which would read
    # them as a script element; no browser decodes EBCDIC.
    body = "<p>hello world, this is some text <script>alert(1)</script></p>".encode("cp037")
    text, charset = decode_body(body, "text/html")
    assert "<script" not in text.lower()
    assert charset == "utf-8"


# Labels of the WHATWG Encoding Standard, the Python codec that decodes each, and a text in it.
WHATWG_LABELS = [
    ("latin1", "cp1252", "Un café crème, déjà vu."),
    ("x-cp1252", "cp1252", "\u201eZo\u00eb\u2019s na\u00efve caf\u00e9\u201c \u2013 20 \u20ac"),
    ("sjis", "cp932", "日本語のテキストです"),
    ("gbk", "gb18030", "中文网页测试"),
    ("gb2312", "gb18030", "中文网页测试"),
    ("x-gbk", "gb18030", "中文网页测试"),
    ("koi8-r", "koi8-r", "Привет, мир"),
    ("x-mac-cyrillic", "mac-cyrillic", "Привет, мир"),
    ("big5", "big5hkscs", "中文網頁測試"),
    ("iso-8859-8-i", "iso8859-8", "שלום עולם"),
]


@pytest.mark.parametrize("where", ["header", "meta", "xml"])
def test_decode_body_honours_encoding_standard_labels(where: str) -> None:
    wrong = []
    for label, codec, text in WHATWG_LABELS:
        if where == "header":
            body, header = f"<p>{text}</p>", f"text/html; charset={label}"
        elif where == "meta":
            body, header = f'<meta charset="{label}"><p>{text}</p>', "text/html"
        else:
            body, header = f'<?xml version="1.0" encoding="{label}"?><r>{text}</r>', "text/xml"
        result = decode_body(body.encode(codec), header)
        if result != (body, codec):
            wrong.append((label, result))
    assert wrong == []


# --- conditional GET --------------------------------------------------------------------


def test_validators_round_trip_to_304(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    etag, modified = 'W/"abc-123"', "Wed, 21 Oct 2015 07:28:00 GMT"
    sent: list[tuple[str | None, str | None]] = []

    def conditional(request: Request) -> Response:
        sent.append(
            (request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since"))
        )
        return Response(status=304)

    httpserver.expect_ordered_request("/feed").respond_with_data(
        b"<rss/>",
        content_type="application/rss+xml",
        headers={"ETag": etag, "Last-Modified": modified},
    )
    httpserver.expect_ordered_request("/feed").respond_with_handler(conditional)
    url = httpserver.url_for("/feed")
    first = fetcher.fetch(url)
    assert first.validators == Validators(etag, modified)
    second = fetcher.fetch(url, first.validators)
    assert sent == [(etag, modified)]
    assert (second.status, second.not_modified, second.body, second.text) == (304, True, b"", "")
    assert second.validators == first.validators


def test_304_returns_its_own_new_validators(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_response(
        Response(status=304, headers={"ETag": '"v2"'})
    )
    result = fetcher.fetch(httpserver.url_for("/feed"), Validators('"v1"', "yesterday"))
    assert result.validators == Validators('"v2"', "yesterday")


# --- redirects --------------------------------------------------------------------------


def redirect(httpserver: HTTPServer, path: str, status: int, location: str) -> None:
    httpserver.expect_request(path).respond_with_data(
        b"", status=status, headers={"Location": location}
    )


def test_permanent_chain_sets_moved_to(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    redirect(httpserver, "/old/a", 301, "b")  # relative to /old/
    redirect(httpserver, "/old/b", 308, "../new/c")
    httpserver.expect_request("/new/c").respond_with_data(b"here", content_type="text/plain")
    result = fetcher.fetch(httpserver.url_for("/old/a"))
    assert result.url == httpserver.url_for("/old/a")
    assert result.final_url == result.moved_to == httpserver.url_for("/new/c")
    assert result.text == "here"


@pytest.mark.parametrize("statuses", [(302,), (307,), (303,), (301, 302), (307, 308)])
def test_temporary_redirect_in_chain_leaves_moved_to_unset(
    httpserver: HTTPServer, fetcher: Fetcher, statuses: tuple[int, ...]
) -> None:
    for i, status in enumerate(statuses):
        redirect(httpserver, f"/r{i}", status, httpserver.url_for(f"/r{i + 1}"))
    httpserver.expect_request(f"/r{len(statuses)}").respond_with_data(b"ok")
    result = fetcher.fetch(httpserver.url_for("/r0"))
    assert result.final_url == httpserver.url_for(f"/r{len(statuses)}")
    assert result.moved_to is None


def test_redirect_loop(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    redirect(httpserver, "/loop1", 302, "/loop2")
    redirect(httpserver, "/loop2", 301, "/loop1#again")
    error = fail(fetcher, httpserver.url_for("/loop1"))
    assert error.reason.startswith("redirect loop")


def test_too_many_redirects(httpserver: HTTPServer) -> None:
    for i in range(5):
        redirect(httpserver, f"/hop{i}", 302, f"/hop{i + 1}")
    httpserver.expect_request("/hop5").respond_with_data(b"end")
    with Fetcher(FetchSettings(allow_private=True), max_redirects=5) as fetcher:
        assert fetcher.fetch(httpserver.url_for("/hop0")).text == "end"
    with Fetcher(FetchSettings(allow_private=True), max_redirects=4) as fetcher:
        error = fail(fetcher, httpserver.url_for("/hop0"))
    assert error.reason == "too many redirects (more than 4)"


def test_redirect_to_other_scheme_is_refused(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    redirect(httpserver, "/js", 302, "javascript:alert(1)")
    error = fail(fetcher, httpserver.url_for("/js"))
    assert error.reason == "unsupported URL scheme 'javascript' (at javascript:alert(1))"


def test_every_hop_passes_check_url(
    server: _Server, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = seedfeed.web.fetch.check_url

    def strict(url: str, allow_private: bool) -> None:
        checked.append(url)
        if "forbidden" in url:
            raise FetchError(url, "refused: test policy")
        real(url, allow_private)

    monkeypatch.setattr(seedfeed.web.fetch, "check_url", strict)
    server.routes["/start"] = lambda h: reply(h, 302, headers={"Location": "/forbidden"})
    server.routes["/forbidden"] = lambda h: reply(h, 200, b"secret")
    error = fail(fetcher, server.url("/start"))
    assert checked == [server.url("/start"), server.url("/forbidden")]
    assert error.reason == f"refused: test policy (at {server.url('/forbidden')})"
    assert server.paths() == ["/start"]


# --- HTTP errors ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500, 403])
def test_http_error(httpserver: HTTPServer, fetcher: Fetcher, status: int) -> None:
    httpserver.expect_request("/e").respond_with_data(b"nope", status=status)
    url = httpserver.url_for("/e")
    error = fail(fetcher, url)
    assert str(error) == f"{url}: HTTP {status}"
    assert (error.url, error.status, error.gone, error.retry_after) == (url, status, False, None)


def test_410_is_gone(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/gone").respond_with_data(b"", status=410)
    error = fail(fetcher, httpserver.url_for("/gone"))
    assert (error.status, error.gone) == (410, True)


def test_error_after_redirect_names_both_urls(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    redirect(httpserver, "/moved", 301, "/missing")
    httpserver.expect_request("/missing").respond_with_data(b"", status=404)
    url = httpserver.url_for("/moved")
    assert str(fail(fetcher, url)) == f"{url}: HTTP 404 (at {httpserver.url_for('/missing')})"


def test_429_with_retry_after_seconds(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/busy").respond_with_data(
        b"", status=429, headers={"Retry-After": "120"}
    )
    error = fail(fetcher, httpserver.url_for("/busy"))
    assert (error.status, error.retry_after) == (429, 120.0)
    assert error.reason == "HTTP 429 (retry after 120 s)"


def test_503_with_retry_after_date(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)
    httpserver.expect_request("/down").respond_with_data(
        b"", status=503, headers={"Retry-After": when}
    )
    error = fail(fetcher, httpserver.url_for("/down"))
    assert error.status == 503
    assert error.retry_after == pytest.approx(3600, abs=5)


def test_503_with_unreadable_retry_after(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/down").respond_with_data(
        b"", status=503, headers={"Retry-After": "soon"}
    )
    assert fail(fetcher, httpserver.url_for("/down")).retry_after is None


def test_connection_refused_is_one_short_line(fetcher: Fetcher) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    error = fail(fetcher, url)
    assert str(error) == f"{url}: connection refused"


def test_tls_failure_is_one_short_line(server: _Server, fetcher: Fetcher) -> None:
    url = server.url("/").replace("http:", "https:")  # the server speaks plain HTTP
    assert str(fail(fetcher, url)) == f"{url}: TLS error"


def test_fetch_error_pickles() -> None:
    error = FetchError("http://x/", "HTTP 429", status=429, retry_after=5.0)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.status, copy.retry_after, copy.gone) == (
        "http://x/: HTTP 429",
        429,
        5.0,
        False,
    )
    # The attributes added since, too.
    unsent = pickle.loads(pickle.dumps(FetchError("http://x/", "r", unanswered=True, unsent=True)))
    assert (unsent.unanswered, unsent.unsent) == (True, True)


# --- time and size limits ---------------------------------------------------------------


def test_read_timeout(server: _Server) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(1.0)
        reply(handler, 200, b"late")

    server.routes["/slow"] = slow
    settings = FetchSettings(allow_private=True, read_timeout=0.3, deadline=5)
    with Fetcher(settings) as fetcher:
        started = time.monotonic()
        error = fail(fetcher, server.url("/slow"))
    assert error.reason == "timed out"
    assert time.monotonic() - started < 0.9


@pytest.mark.slow  # waits out a real one-second deadline
@pytest.mark.parametrize(
    ("head", "drip"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n",
            b"x" * 1000,
        ),
        (b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000),
    ],
    ids=["body", "headers"],
)
def test_deadline_stops_a_server_that_drips(head: bytes, drip: bytes) -> None:
    settings = FetchSettings(allow_private=True, read_timeout=5, deadline=1)
    with drip_server(head, drip, 0.2) as url, Fetcher(settings) as fetcher:
        started = time.monotonic()
        error = fail(fetcher, url)
        elapsed = time.monotonic() - started
    assert error.reason == "deadline of 1 s exceeded"
    assert elapsed < 2


def _big_route(with_length: bool) -> Route:
    chunk = b"x" * (64 * 1024)

    def big(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        if with_length:
            handler.send_header("Content-Length", str(50 * MB))
        else:
            handler.send_header("Connection", "close")  # the body ends when the socket does
        handler.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(50 * MB // len(chunk)):
                handler.wfile.write(chunk)
        handler.close_connection = True

    return big


@pytest.mark.parametrize("with_length", [False, True], ids=["streamed", "content-length"])
def test_body_over_max_bytes(server: _Server, with_length: bool) -> None:
    server.routes["/big"] = _big_route(with_length)
    settings = FetchSettings(allow_private=True, max_bytes=1 * MB)
    with Fetcher(settings) as fetcher:
        tracemalloc.start()
        try:
            error = fail(fetcher, server.url("/big"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert error.reason == "body over 1 MB"
    assert peak < 5 * MB


def test_gzip_is_decoded(server: _Server, fetcher: Fetcher) -> None:
    page = ("<html><body>" + "<p>café</p>" * 500 + "</body></html>").encode()
    compressed = gzip.compress(page)
    server.routes["/gz"] = lambda h: reply(
        h, 200, compressed, {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}
    )
    result = fetcher.fetch(server.url("/gz"))
    assert result.body == page
    assert result.text == page.decode()


def test_gzip_bomb_is_stopped(server: _Server) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    zeros = bytes(MB)
    bomb = b"".join(packer.compress(zeros) for _ in range(50)) + packer.flush()
    assert len(bomb) < 100 * 1024  # 50 MB once unpacked
    server.routes["/bomb"] = lambda h: reply(
        h, 200, bomb, {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    with Fetcher(FetchSettings(allow_private=True, max_bytes=MB)) as fetcher:
        tracemalloc.start()
        try:
            error = fail(fetcher, server.url("/bomb"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert error.reason == "body over 1 MB"
    assert peak < 5 * MB


# --- the address policy -----------------------------------------------------------------


def fake_dns(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> list[str]:
    """Answer getaddrinfo from ``table`` (other names fail); returns the names asked."""
    asked: list[str] = []

    def getaddrinfo(
        host: str, port: int, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in table[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/file", "unsupported URL scheme 'ftp'"),
        ("javascript:alert(1)", "unsupported URL scheme 'javascript'"),
        ("file:///etc/passwd", "unsupported URL scheme 'file'"),
        ("example.com/page", "not a URL"),
        ("http:///path", "URL has no host"),
        ("http://example.com:99999/", "invalid URL"),
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_check_url_refuses_what_is_not_http(url: str, reason: str, allow_private: bool) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, allow_private)
    assert (caught.value.url, caught.value.reason) == (url, reason)


PRIVATE_URLS = [
    "http://127.0.0.1/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://2130706433/",  # 127.0.0.1 written as one number
    "http://[::ffff:127.0.0.1]/",
    "https://localhost:8443/",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_check_url_refuses_private_addresses(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, allow_private=False)
    assert caught.value.reason.startswith("refused: ")


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_check_url_allows_private_addresses_when_asked(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = fake_dns(monkeypatch, {})
    check_url(url, allow_private=True)
    assert asked == []  # nothing to resolve when everything is allowed


def test_check_url_resolves_names(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(
        monkeypatch,
        {
            "public.example": ["93.184.216.34"],
            "intranet.example": ["192.168.1.5"],
            "mixed.example": ["93.184.216.34", "10.1.2.3"],
            "mapped.example": ["::ffff:127.0.0.1"],
            "v6.example": ["2606:2800:220:1:248:1893:25c8:1946"],
        },
    )
    check_url("https://public.example/feed.xml", allow_private=False)
    check_url("http://v6.example/", allow_private=False)
    for host, address in [
        ("intranet.example", "192.168.1.5"),
        ("mixed.example", "10.1.2.3"),
        ("mapped.example", "::ffff:127.0.0.1"),
    ]:
        with pytest.raises(FetchError) as caught:
            check_url(f"http://{host}/", allow_private=False)
        assert caught.value.reason == f"refused: {host} resolves to {address}, not a public address"
        check_url(f"http://{host}/", allow_private=True)
    with pytest.raises(FetchError, match="cannot resolve host"):
        check_url("http://nowhere.example/", allow_private=False)


def test_fetch_refuses_private_address_before_connecting(server: _Server) -> None:
    with Fetcher(FetchSettings()) as fetcher:
        error = fail(fetcher, server.url("/"))
    assert error.reason == "refused: 127.0.0.1 is not a public address"
    assert server.seen == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_fetch_refuses_a_name_that_rebinds_to_a_private_address(
    server: _Server, monkeypatch, scheme: str
) -> None:
    answers = iter([["93.184.216.34"]])  # public for check_url, then loopback for the connection
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host == "rebind.example":
            address = next(answers, ["127.0.0.1"])[0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    server.routes["/"] = lambda h: reply(h, 200, b"internal")
    url = f"{scheme}://rebind.example:{server.server_port}/"
    with Fetcher(FetchSettings()) as fetcher:
        error = fail(fetcher, url)
    assert error.reason == "refused: connected to 127.0.0.1"
    assert server.seen == []


# --- fetch_many -------------------------------------------------------------------------


class Gauge:
    """Counts requests being handled at once, per server and overall."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = {"all": 0}
        self.peak: dict[str, int] = {"all": 0}

    def route(self, name: str, delay: float, status: int = 200) -> Route:
        def handle(handler: BaseHTTPRequestHandler) -> None:
            with self.lock:
                for key in (name, "all"):
                    self.now[key] = self.now.get(key, 0) + 1
                    self.peak[key] = max(self.peak.get(key, 0), self.now[key])
            time.sleep(delay)
            with self.lock:  # before replying, so the client's next request cannot overlap
                for key in (name, "all"):
                    self.now[key] -= 1
            reply(handler, status, name.encode(), {"Content-Type": "text/plain"})

        return handle


def test_fetch_many_bounds_concurrency_and_isolates_a_slow_host() -> None:
    gauge = Gauge()
    settings = FetchSettings(allow_private=True, concurrency=3, per_host=2, read_timeout=2)
    with running_server() as slow, running_server() as quick, Fetcher(settings) as fetcher:
        slow.routes["/slow"] = gauge.route("slow", 0.4)
        quick.routes["/fast"] = gauge.route("quick", 0.0)
        quick.routes["/fail"] = gauge.route("quick", 0.0, status=500)
        jobs = [(f"a{i}", slow.url(f"/slow?{i}"), None) for i in range(4)]
        jobs += [("b1", quick.url("/fast"), None), ("b2", quick.url("/fast?2"), None)]
        jobs += [("b3", quick.url("/fail"), None), ("bad", "ftp://example.com/", None)]
        started = time.monotonic()
        results = list(fetcher.fetch_many(iter(jobs)))
        elapsed = time.monotonic() - started

    assert sorted(key for key, _ in results) == sorted(key for key, _, _ in jobs)
    by_key = dict(results)
    for key in ("a0", "a1", "a2", "a3", "b1", "b2"):
        assert isinstance(by_key[key], FetchResult), by_key[key]
    assert isinstance(by_key["b3"], FetchError) and by_key["b3"].status == 500
    assert isinstance(by_key["bad"], FetchError) and "unsupported URL scheme" in str(by_key["bad"])
    # the quick host's jobs never waited behind the slow host's queue
    assert {key for key, _ in results[:4]} == {"b1", "b2", "b3", "bad"}
    assert gauge.peak["slow"] == 2
    assert gauge.peak["all"] <= 3
    assert elapsed < 1.6  # four slow requests, two at a time


@contextlib.contextmanager
def silent_host() -> Iterator[str]:
    """A host that accepts connections and never answers: its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # closed at the end
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in accepted:
            connection.close()


def reset(handler: BaseHTTPRequestHandler) -> None:
    """Hang up with a TCP reset, the request read and no answer sent."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()
    handler.close_connection = True


def test_fetch_many_stops_asking_a_host_that_does_not_answer(server: _Server) -> None:
    server.routes["/ok"] = lambda h: reply(h, 200, b"ok", {"Content-Type": "text/plain"})
    settings = FetchSettings(allow_private=True, read_timeout=0.5, concurrency=4, per_host=2)
    with silent_host() as base, Fetcher(settings) as fetcher:
        jobs = [(f"s{i}", f"{base}/page{i}", None) for i in range(12)]
        jobs += [(f"ok{i}", server.url(f"/ok?{i}"), None) for i in range(3)]
        results = dict(fetcher.fetch_many(jobs))
    # Two in flight at a time: the third timeout comes with the fourth request sent, and
    # the other eight are not sent (not eight more timeouts).
    errors = [results[f"s{i}"] for i in range(12)]
    assert all(isinstance(e, FetchError) for e in errors)
    assert [(e.reason, e.unanswered, e.unsent) for e in errors] == (  # type: ignore[union-attr]
        [("timed out", True, False)] * (HOST_FAILURES + 1) + [(HOST_DOWN, False, True)] * 8
    )
    # Another host is not concerned.
    assert all(isinstance(results[f"ok{i}"], FetchResult) for i in range(3))


def test_a_host_silent_until_the_deadline_gives_no_answer() -> None:
    # A deadline shorter than the read timeout ends the wait: no answer all the same.
    settings = FetchSettings(allow_private=True, read_timeout=5, deadline=0.3, per_host=1)
    with silent_host() as base, Fetcher(settings) as fetcher:
        jobs = [(i, f"{base}/{i}", None) for i in range(HOST_FAILURES + 2)]
        errors = [error for _i, error in fetcher.fetch_many(jobs)]
    outcomes = [(e.reason, e.unanswered) for e in errors]  # type: ignore[union-attr]
    assert (
        outcomes
        == [("deadline of 0.3 s exceeded", True)] * HOST_FAILURES + [(HOST_DOWN, False)] * 2
    )


def test_fetch_many_counts_only_hosts_that_give_no_answer_in_a_row(server: _Server) -> None:
    # A closed port refuses at once.
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    one_at_a_time = FetchSettings(allow_private=True, concurrency=1, per_host=1)
    with Fetcher(one_at_a_time) as fetcher:
        refused = [(i, f"{closed}/{i}", None) for i in range(HOST_FAILURES + 3)]
        reasons = [error.reason for _i, error in fetcher.fetch_many(refused)]  # type: ignore[union-attr]
    assert reasons == ["connection refused"] * HOST_FAILURES + [HOST_DOWN] * 3

    # Resets with answers between them (a 500 is one): never three in a row, all asked.
    answers = iter(([False] * (HOST_FAILURES - 1) + [True]) * 3)
    server.routes["/p"] = lambda h: reply(h, 500) if next(answers) else reset(h)
    with Fetcher(one_at_a_time) as fetcher:
        jobs = [(i, server.url(f"/p?{i}"), None) for i in range(3 * HOST_FAILURES)]
        reasons = [error.reason for _i, error in fetcher.fetch_many(jobs)]  # type: ignore[union-attr]
    assert reasons == (["connection reset"] * (HOST_FAILURES - 1) + ["HTTP 500"]) * 3


def test_a_host_that_answers_slowly_is_still_asked(server: _Server) -> None:
    # The headers came, then the body stalled past the read timeout: the host answered,
    # slowly; that is no reason to leave its other pages alone.
    def stall(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.5)

    server.routes["/stall"] = stall
    settings = FetchSettings(allow_private=True, read_timeout=0.2, concurrency=1, per_host=1)
    with Fetcher(settings) as fetcher:
        jobs = [(i, server.url(f"/stall?{i}"), None) for i in range(HOST_FAILURES + 1)]
        errors = [error for _i, error in fetcher.fetch_many(jobs)]
    outcomes = [(e.reason, e.unanswered) for e in errors]  # type: ignore[union-attr]
    assert outcomes == [("timed out", False)] * len(jobs)


def test_a_host_with_no_name_is_not_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # The address policy's own lookup (allow_private is off) finds no name: that counts
    # as no answer, as a failed lookup by the connection would.
    asked = fake_dns(monkeypatch, {})
    with Fetcher(FetchSettings(concurrency=1)) as fetcher:
        jobs = [(i, f"http://nowhere.example/{i}", None) for i in range(HOST_FAILURES + 2)]
        reasons = [error.reason for _i, error in fetcher.fetch_many(jobs)]  # type: ignore[union-attr]
    assert reasons == ["cannot resolve host"] * HOST_FAILURES + [HOST_DOWN] * 2
    assert len(asked) == HOST_FAILURES


def test_closing_fetch_many_early_cancels_what_is_in_flight(server: _Server) -> None:
    gauge = Gauge()
    server.routes["/slow"] = gauge.route("slow", 3.0)
    with (
        running_server() as quick,
        Fetcher(FetchSettings(allow_private=True, read_timeout=5)) as fetcher,
    ):
        quick.routes["/fast"] = gauge.route("quick", 0.0)
        jobs = [("s1", server.url("/slow"), None), ("s2", server.url("/slow?2"), None)]
        results = fetcher.fetch_many([*jobs, ("f", quick.url("/fast"), None)])
        assert next(results)[0] == "f"
        started = time.monotonic()
        results.close()
        assert time.monotonic() - started < 1


def test_close_cancels_a_fetch_in_another_thread(server: _Server) -> None:
    server.routes["/slow"] = lambda h: (time.sleep(3), reply(h, 200))
    fetcher = Fetcher(FetchSettings(allow_private=True, read_timeout=5))
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            fetcher.fetch(server.url("/slow"))
        except FetchError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.seen:
        assert time.monotonic() < deadline, "the fetch never reached the server"
        time.sleep(0.01)
    fetcher.close()
    thread.join(1)
    assert not thread.is_alive()
    assert [e.reason for e in outcome] == ["cancelled"]  # type: ignore[attr-defined]


# --- next_retry -------------------------------------------------------------------------


def test_next_retry_backs_off_exponentially_up_to_a_day() -> None:
    now = 1_700_000_000.0
    delays = [next_retry(n, now=now) - now for n in range(1, 10)]
    assert delays[:4] == [900, 1800, 3600, 7200]
    assert delays[-1] == BACKOFF_MAX == 24 * 3600
    assert delays == sorted(delays)
    assert next_retry(10_000, now=now) == now + BACKOFF_MAX
    assert next_retry(0, now=now) == now


def test_next_retry_respects_retry_after() -> None:
    now = 1_700_000_000.0
    assert next_retry(1, retry_after=7200, now=now) == now + 7200
    assert next_retry(3, retry_after=60, now=now) == now + 3600
    assert next_retry(1, now=None) == pytest.approx(time.time() + 900, abs=5)


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"fetch\.per_host"):
        FetchSettings(per_host=0)
    with pytest.raises(ConfigError, match=r"fetch\.deadline"):
        FetchSettings(deadline=0)


# --- deadlines: one thread per process ------------------------------------------------------


def _stopped(watch: Watch, within: float = 5.0) -> bool:
    until = time.monotonic() + within
    while watch.reason is None and time.monotonic() < until:
        time.sleep(0.01)
    return watch.reason is not None


def test_deadlines_outlive_a_huge_one_and_a_stop_that_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one deadline thread must not die: a deadline past threading.TIMEOUT_MAX made
    its wait overflow, an exception from one stop ended it, and no fetch after had one."""
    huge = Watch(1e10, True, None)  # a valid setting: finite and positive
    failing = Watch(0.05, True, None)

    def fail(reason: str) -> None:
        raise RuntimeError("a connection that cannot be shut down")

    monkeypatch.setattr(failing, "stop", fail)
    short = Watch(0.2, True, None)
    try:
        assert _stopped(short)
        assert short.reason == "deadline of 0.2 s exceeded"
        assert huge.reason is None
    finally:
        for watch in (huge, failing, short):
            watch.finish()


def test_finished_fetches_do_not_pile_up_until_their_deadline() -> None:
    """A daemon with a day's deadline would hold every fetch of the day."""
    for _ in range(3000):
        Watch(86_400, True, None).finish()
    Watch(86_400, True, None).finish()
    assert len(seedfeed.web.transport._deadlines()._heap) < 2100


# --- proxies from the environment -----------------------------------------------------------


class _Proxy(BaseHTTPRequestHandler):
    """A forward proxy for plain HTTP that answers every request itself."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)  # a proxy is sent the absolute URL
        body = b"<p>through the proxy</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_proxies_come_from_the_environment_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read once per host (requests reads the environment on every request), they are
    what requests would use: HTTP_PROXY for a host, NO_PROXY's hosts direct."""
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    with socket.socket() as closed:  # a port nothing listens on: direct fetches fail
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    target = f"http://127.0.0.1:{port}/page"
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.server_address[1]}")
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        with Fetcher(FAST) as fetcher:
            for _ in range(2):
                assert fetcher.fetch(target).text == "<p>through the proxy</p>"
        assert _Proxy.seen == [target, target]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        with Fetcher(FAST) as fetcher, pytest.raises(FetchError):
            fetcher.fetch(target)
        assert len(_Proxy.seen) == 2
    finally:
        proxy.shutdown()
        proxy.server_close()
