"""Tests for seedfeed.serve: a real server on 127.0.0.1 with a port the OS picks."""

from __future__ import annotations

import gzip
import http.client
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import feedparser
import pytest

from seedfeed.serve import (
    FeedServer,
    accepts_gzip,
    etag_matches,
    file_name_for,
    make_server,
    serve,
)

SECRET = "TOP-SECRET-7f3a9c"
MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z: a fixed Last-Modified to compare against


def _atom(title: str, entries: int = 30) -> bytes:
    items = "".join(
        f"<entry><id>urn:x:{i}</id><title>Entry {i}</title>"
        f"<updated>2023-11-14T00:00:00Z</updated><summary>Summary of entry {i}.</summary>"
        f"<author><name>Ann</name></author></entry>"
        for i in range(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:x:feed</id><title>{title}</title><updated>2023-11-14T00:00:00Z</updated>"
        f"{items}</feed>"
    ).encode()


RSS = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>All</title>'
    b"<link>http://x.test/</link><description>d</description></channel></rss>"
)
FILES: dict[str, tuple[bytes, str]] = {
    "all.atom.xml": (_atom("All"), "application/atom+xml; charset=utf-8"),
    "all.rss.xml": (RSS, "application/rss+xml; charset=utf-8"),
    "all.json": (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "All", "items": []}',
        "application/feed+json; charset=utf-8",
    ),
    "feeds.opml": (b'<?xml version="1.0"?><opml version="2.0"/>', "text/x-opml; charset=utf-8"),
    "index.html": (b"<!doctype html><title>Feeds</title>", "text/html; charset=utf-8"),
    "sitemap.xml": (b'<?xml version="1.0"?><urlset/>', "application/xml"),
}


@dataclass
class Site:
    root: Path
    feeds: Path
    port: int
    server: FeedServer


def _replace(path: Path, data: bytes) -> None:
    """Write the way publish does: a temporary file renamed over the target."""
    tmp = path.with_name(f".{path.name}.x.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    (tmp_path / "config.toml").write_text(f'secret = "{SECRET}"\n')
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for name, (data, _) in FILES.items():
        (feeds / name).write_bytes(data)
        os.utime(feeds / name, (MTIME, MTIME))
    # Things that sit in or near the folder and must never be served.
    (feeds / ".all.atom.xml.tmp").write_text(SECRET)
    (feeds / "state.sqlite").write_text(SECRET)
    (feeds / "sub").mkdir()
    (feeds / "sub" / "inner.xml").write_text(SECRET)
    (feeds / "leak.atom.xml").symlink_to(tmp_path / "config.toml")
    (feeds / "dir.xml").symlink_to(feeds / "sub")
    (feeds / "alias.atom.xml").symlink_to(feeds / "all.atom.xml")

    server = make_server(feeds, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield Site(tmp_path, feeds, server.server_address[1], server)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def request(
    site: Site, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_request(site: Site, request_line: bytes) -> bytes:
    """Send bytes http.client refuses to send (NUL, backslashes...) and read the reply."""
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        sock.sendall(request_line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# --- what is served, and how it is labelled ---


@pytest.mark.parametrize("name", sorted(FILES))
def test_content_type_length_and_validators(site: Site, name: str) -> None:
    data, content_type = FILES[name]
    status, headers, body = request(site, f"/{name}")
    assert status == 200
    assert body == data
    assert headers["Content-Type"] == content_type
    assert headers["Content-Length"] == str(len(data))
    assert headers["Last-Modified"] == formatdate(MTIME, usegmt=True)
    assert headers["Cache-Control"] == "max-age=300"
    etag = headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert "Content-Encoding" not in headers


def test_index_at_root_and_query_ignored(site: Site) -> None:
    assert request(site, "/")[2] == FILES["index.html"][0]
    status, _, body = request(site, "/all.atom.xml?utm_source=x&v=2")
    assert (status, body) == (200, FILES["all.atom.xml"][0])


def test_no_listing_without_index(site: Site) -> None:
    (site.feeds / "index.html").unlink()
    status, headers, body = request(site, "/")
    assert status == 404
    assert b"all.atom.xml" not in body
    assert headers["Content-Type"].startswith("text/plain")


def test_symlink_inside_folder_is_served(site: Site) -> None:
    status, headers, body = request(site, "/alias.atom.xml")
    assert (status, body) == (200, FILES["all.atom.xml"][0])
    assert headers["Content-Type"].startswith("application/atom+xml")


# --- conditional requests ---


def test_feedparser_round_trip_gets_304(site: Site) -> None:
    url = f"http://127.0.0.1:{site.port}/all.atom.xml"
    first = feedparser.parse(url)
    assert first.status == 200
    assert not first.bozo
    assert first.feed.title == "All"
    assert len(first.entries) == 30
    second = feedparser.parse(url, etag=first.etag, modified=first.modified)
    assert second.status == 304
    assert not second.entries


def test_if_none_match(site: Site) -> None:
    etag = request(site, "/all.rss.xml")[1]["ETag"]
    for value in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        status, headers, body = request(site, "/all.rss.xml", headers={"If-None-Match": value})
        assert status == 304, value
        assert headers["ETag"] == etag
        assert body == b""
        assert "Content-Length" not in headers
    status, _, body = request(site, "/all.rss.xml", headers={"If-None-Match": '"other"'})
    assert (status, body) == (200, RSS)


def test_if_modified_since(site: Site) -> None:
    def status_since(timestamp: float, **extra: str) -> int:
        headers = {"If-Modified-Since": formatdate(timestamp, usegmt=True), **extra}
        return request(site, "/all.rss.xml", headers=headers)[0]

    assert status_since(MTIME) == 304
    assert status_since(MTIME + 3600) == 304
    assert status_since(MTIME - 1) == 200
    assert status_since(time.time() + 86400) == 200  # a date in the future is ignored
    # If-None-Match present: If-Modified-Since is not consulted (RFC 9110 13.2.2).
    assert status_since(MTIME, **{"If-None-Match": '"other"'}) == 200
    garbage = request(site, "/all.rss.xml", headers={"If-Modified-Since": "yesterday"})
    assert garbage[0] == 200


# --- gzip ---


def test_gzip_variant(site: Site) -> None:
    data = FILES["all.atom.xml"][0]
    _, plain_headers, _ = request(site, "/all.atom.xml")
    status, headers, body = request(site, "/all.atom.xml", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    # A feed also varies with Accept: a browser gets it as XML, to apply feed.xsl.
    assert headers["Vary"] == "Accept-Encoding, Accept"
    assert plain_headers["Vary"] == "Accept-Encoding, Accept"
    assert headers["Content-Length"] == str(len(body))
    assert len(body) < len(data)
    assert gzip.decompress(body) == data
    gz_etag = headers["ETag"]
    assert gz_etag != plain_headers["ETag"]
    assert gz_etag.startswith('"') and gz_etag.endswith('"')

    both = {"Accept-Encoding": "gzip, deflate", "If-None-Match": gz_etag}
    status, headers, body = request(site, "/all.atom.xml", headers=both)
    assert (status, headers["ETag"], body) == (304, gz_etag, b"")
    # A proxy that weakened the tag still gets a 304.
    weak = {"Accept-Encoding": "gzip", "If-None-Match": f"W/{gz_etag}"}
    assert request(site, "/all.atom.xml", headers=weak)[0] == 304
    # The gzip tag does not validate the identity variant (and vice versa).
    assert request(site, "/all.atom.xml", headers={"If-None-Match": gz_etag})[0] == 200


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0, *", False),
        ("*", True),
        ("*;q=0", False),
        ("br, deflate", False),
        ("x-gzip", True),
        ("gzip;q=bogus", False),
    ],
)
def test_accepts_gzip(value: str | None, expected: bool) -> None:
    assert accepts_gzip(value) is expected


def test_gzip_q0_is_refused_over_http(site: Site) -> None:
    _, headers, body = request(site, "/all.atom.xml", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in headers
    assert body == FILES["all.atom.xml"][0]


# --- methods ---


def test_head_sends_headers_only(site: Site) -> None:
    _, get_headers, _ = request(site, "/all.atom.xml", headers={"Accept-Encoding": "gzip"})
    status, headers, body = request(
        site, "/all.atom.xml", method="HEAD", headers={"Accept-Encoding": "gzip"}
    )
    assert (status, body) == (200, b"")
    for name in ("Content-Length", "ETag", "Content-Type", "Content-Encoding", "Last-Modified"):
        assert headers[name] == get_headers[name]
    assert request(site, "/nothing.xml", method="HEAD")[:1] == (404,)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_405(site: Site, method: str) -> None:
    status, headers, _ = request(site, "/all.atom.xml", method=method)
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


# --- request bodies: read past, never taken for the next request ---

# A body that is itself a request for a file that exists: if it were ever answered, the
# JSON feed would show up in the replies.
SMUGGLED = b"GET /all.json HTTP/1.1\r\nHost: x\r\n\r\n"
FOLLOW_UP = b"GET /all.rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def exchange(
    site: Site, data: bytes, methods: tuple[str, ...] = ()
) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``data`` on one connection and return every response, read until the server
    closes it. Each response carries a Content-Length; ``methods`` tells which of them
    answer a HEAD (no body follows), the rest answer a GET."""
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    rest = b"".join(chunks)
    responses = []
    while rest:
        head, separator, rest = rest.partition(b"\r\n\r\n")
        assert separator, f"cut-off response {head!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        head = len(responses) < len(methods) and methods[len(responses)] == "HEAD"
        length = 0 if head else int(headers.get("content-length", "0"))
        responses.append((int(status_line.split()[1]), headers, rest[:length]))
        rest = rest[length:]
    return responses


def chunked(body: bytes, size: int = 16) -> bytes:
    """``body`` in chunks of ``size`` bytes, with an extension and a trailer for good measure."""
    parts = [
        b"%x;ext=1\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\nX-Trailer: 1\r\n\r\n"


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_content_length_body_is_not_a_request(site: Site, method: str) -> None:
    first = b"%s /all.atom.xml HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (
        method.encode(),
        len(SMUGGLED),
    )
    responses = exchange(site, first + SMUGGLED + FOLLOW_UP, (method,))
    expected = {"GET": 200, "HEAD": 200, "POST": 405}[method]
    assert [status for status, _, _ in responses] == [expected, 200]
    assert responses[1][2] == RSS
    assert "connection" not in responses[0][1]  # the body was read: the connection stays


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_chunked_body_is_not_a_request(site: Site, method: str) -> None:
    first = b"%s /all.atom.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % (
        method.encode()
    )
    responses = exchange(site, first + chunked(SMUGGLED) + FOLLOW_UP)
    expected = {"GET": 200, "POST": 405}[method]
    assert [status for status, _, _ in responses] == [expected, 200]
    assert responses[1][2] == RSS


@pytest.mark.parametrize("encoding", ["content-length", "chunked"])
def test_oversized_body_is_answered_then_the_connection_closed(site: Site, encoding: str) -> None:
    body = SMUGGLED * (70_000 // len(SMUGGLED))  # more than the 64 KiB the server reads
    if encoding == "chunked":
        framing, body = b"Transfer-Encoding: chunked", chunked(body, 4096)
    else:
        framing = b"Content-Length: %d" % len(body)
    first = b"GET /all.atom.xml HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n" % framing
    responses = exchange(site, first + body + FOLLOW_UP)
    assert len(responses) == 1
    status, headers, data = responses[0]
    assert (status, headers["connection"], data) == (200, "close", FILES["all.atom.xml"][0])


BAD_FRAMING = [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked",
    b"Transfer-Encoding: chunked\r\nContent-Length: 5",
    b"Content-Length: abc",
    b"Content-Length: -1",
    b"Content-Length: +5",
    b"Content-Length: 5, 5",
    b"Content-Length: 5\r\nContent-Length: 5",
    b"Transfer-Encoding: gzip",
    b"Transfer-Encoding: chunked, gzip",
    b"Transfer-Encoding: chunked, chunked",
]


@pytest.mark.parametrize("framing", BAD_FRAMING)
def test_untrustworthy_framing_is_400_and_closes(site: Site, framing: bytes) -> None:
    first = b"GET /all.atom.xml HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n" % framing
    responses = exchange(site, first + b"0\r\n\r\n" + SMUGGLED + FOLLOW_UP)
    assert [(status, headers["connection"]) for status, headers, _ in responses] == [(400, "close")]


@pytest.mark.parametrize(
    "body",
    [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcd\r\n0\r\n\r\n", b"3\nabc\n0\n\n", b" 3\r\nabc\r\n"],
)
def test_malformed_chunks_are_400_and_close(site: Site, body: bytes) -> None:
    first = b"GET /all.atom.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    responses = exchange(site, first + body + SMUGGLED + FOLLOW_UP)
    assert [(status, headers["connection"]) for status, headers, _ in responses] == [(400, "close")]


# --- nothing outside the folder, nothing hidden ---

TRAVERSALS = [
    "/../config.toml",
    "/%2e%2e/config.toml",
    "/%2E%2E%2Fconfig.toml",
    "/..%2fconfig.toml",
    "/..%5cconfig.toml",
    "/%252e%252e%252fconfig.toml",
    "//etc/passwd",
    "/etc/passwd",
    "/%2Fetc%2Fpasswd",
    "/config.toml",
    "/leak.atom.xml",
    "/dir.xml",
    "/sub/inner.xml",
    "/sub",
    "/.all.atom.xml.tmp",
    "/%2eall.atom.xml.tmp",
    "/state.sqlite",
    "/all.atom.xml%00.html",
    "/nothing.atom.xml",
    "/.atom.xml",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_and_hidden_are_404(site: Site, path: str) -> None:
    status, _, body = request(site, path)
    assert status == 404
    assert SECRET.encode() not in body


def test_raw_hostile_request_lines_are_404(site: Site) -> None:
    absolute = str(site.root / "config.toml").encode()
    lines = [
        b"GET /..\\config.toml HTTP/1.1",
        b"GET /\\..\\config.toml HTTP/1.1",
        b"GET /all.atom.xml\x00 HTTP/1.1",
        b"GET " + absolute + b" HTTP/1.1",
        b"GET /" + absolute + b" HTTP/1.1",
        b"GET http://127.0.0.1/../config.toml HTTP/1.1",
        b"GET ../config.toml HTTP/1.1",
    ]
    for line in lines:
        reply = raw_request(site, line)
        assert reply.split(b"\r\n", 1)[0].split(b" ")[1] in (b"400", b"404"), line
        assert SECRET.encode() not in reply, line


def test_file_name_for() -> None:
    assert file_name_for("/") == "index.html"
    assert file_name_for("/?x=1") == "index.html"
    assert file_name_for("/all.atom.xml?x=/../y") == "all.atom.xml"
    assert file_name_for("/a%2Eatom.xml") == "a.atom.xml"
    for bad in ("", "*", "/..", "/a/b.xml", "/.x.xml", "/x.toml", "/%ff.xml", "/x.xml/"):
        assert file_name_for(bad) is None, bad


def test_etag_matches() -> None:
    assert etag_matches('"a", "b"', '"b"')
    assert etag_matches('W/"b"', '"b"')
    assert etag_matches(" * ", '"b"')
    assert not etag_matches('"a"', '"b"')
    assert not etag_matches("b", '"b"')  # unquoted is not an entity tag


# --- files replaced by publish ---


def test_replaced_file_gives_new_bytes_and_etag(site: Site) -> None:
    path = site.feeds / "all.atom.xml"
    _, first_headers, first_body = request(site, "/all.atom.xml")
    _, first_gz, _ = request(site, "/all.atom.xml", headers={"Accept-Encoding": "gzip"})

    # Same size and same mtime as before: only the inode tells the versions apart.
    new = first_body.replace(b"<title>All</title>", b"<title>New</title>")
    assert len(new) == len(first_body)
    _replace(path, new)
    os.utime(path, ns=(MTIME * 10**9, MTIME * 10**9))

    _, headers, body = request(site, "/all.atom.xml")
    assert body == new
    assert headers["ETag"] != first_headers["ETag"]
    old = {"If-None-Match": first_headers["ETag"]}
    assert request(site, "/all.atom.xml", headers=old)[0] == 200
    _, gz_headers, gz_body = request(site, "/all.atom.xml", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(gz_body) == new
    assert gz_headers["ETag"] != first_gz["ETag"]


def test_file_appearing_and_disappearing(site: Site) -> None:
    assert request(site, "/late.rss.xml")[0] == 404
    _replace(site.feeds / "late.rss.xml", RSS)
    assert request(site, "/late.rss.xml")[:1] == (200,)
    (site.feeds / "late.rss.xml").unlink()
    assert request(site, "/late.rss.xml")[0] == 404


def test_secret_never_served(site: Site) -> None:
    """Every path this file tries, in one sweep, with and without gzip."""
    paths = [*TRAVERSALS, *(f"/{name}" for name in FILES), "/"]
    for path in paths:
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            _, response_headers, body = request(site, path, headers=headers)
            if response_headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert SECRET.encode() not in body, path


# --- logging and lifecycle ---


def test_one_log_line_per_request(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="seedfeed.serve"):
        request(site, "/all.rss.xml")
        request(site, "/missing.xml")
    lines = [r.getMessage() for r in caplog.records if r.name == "seedfeed.serve"]
    assert len(lines) == 2
    assert '"GET /all.rss.xml HTTP/1.1" 200' in lines[0]
    assert lines[0].endswith(str(len(RSS)))
    assert '"GET /missing.xml HTTP/1.1" 404' in lines[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_stops_when_event_is_set(tmp_path: Path) -> None:
    (tmp_path / "all.rss.xml").write_bytes(RSS)
    port = _free_port()
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(tmp_path, "127.0.0.1", port, stop))
    thread.start()
    try:
        deadline = time.monotonic() + 3
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/all.rss.xml")
                assert conn.getresponse().read() == RSS
                conn.close()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "server never came up"
                time.sleep(0.02)
    finally:
        stop.set()
        started = time.monotonic()
        thread.join(timeout=1)
    assert not thread.is_alive()
    assert time.monotonic() - started < 1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


class _InterruptedEvent(threading.Event):
    """Behaves as if the user pressed Ctrl-C while serve() was waiting."""

    def wait(self, timeout: float | None = None) -> bool:
        raise KeyboardInterrupt


def test_serve_shuts_down_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    serve(tmp_path, "127.0.0.1", port, _InterruptedEvent())  # returns instead of raising
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_make_server_reports_taken_port(site: Site) -> None:
    with pytest.raises(OSError):
        make_server(site.feeds, port=site.port)


def test_a_browser_gets_a_feed_as_xml_and_a_reader_as_a_feed(site: Site) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    reader = "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5"
    for name, feed_type in (
        ("all.atom.xml", "application/atom+xml"),
        ("all.rss.xml", "application/rss+xml"),
    ):
        _, seen, _ = request(site, f"/{name}", headers={"Accept": browser})
        assert seen["Content-Type"] == "application/xml; charset=utf-8"
        for accept in (reader, None):
            _, got, _ = request(site, f"/{name}", headers={"Accept": accept} if accept else {})
            assert got["Content-Type"] == f"{feed_type}; charset=utf-8"


def test_tag_and_author_folders_are_served_and_nothing_else(site: Site) -> None:
    (site.feeds / "tag").mkdir(exist_ok=True)
    (site.feeds / "tag" / "climate.atom.xml").write_bytes(FILES["all.atom.xml"][0])
    (site.feeds / "other").mkdir(exist_ok=True)
    (site.feeds / "other" / "x.atom.xml").write_bytes(b"<feed/>")
    assert request(site, "/tag/climate.atom.xml")[0] == 200
    for path in (
        "/other/x.atom.xml",
        "/tag/../config.toml",
        "/tag/.hidden.atom.xml",
        "/tag/a/b.atom.xml",
    ):
        assert request(site, path)[0] == 404, path


@pytest.mark.parametrize(
    "headers",
    [
        b"Host: x\r\nContent-Length : %d\r\n",  # a space before the colon
        b"Host: x\r\nX-Junk\r\nContent-Length: %d\r\n",  # a line without a colon first
    ],
    ids=["space-before-colon", "line-without-colon"],
)
def test_headers_the_parser_cannot_read_are_400(site: Site, headers: bytes) -> None:
    # The stdlib stops reading headers at such a line: its Content-Length would be lost
    # and the body read as the next request.
    first = b"POST /all.atom.xml HTTP/1.1\r\n" + headers % len(SMUGGLED) + b"\r\n"
    responses = exchange(site, first + SMUGGLED + FOLLOW_UP)
    assert [status for status, _, _ in responses] == [400]


def test_a_flood_of_idle_connections_is_answered_503_not_a_thread_each(site: Site) -> None:
    site.server.max_connections = 4
    idle = [socket.create_connection(("127.0.0.1", site.port), timeout=5) for _ in range(4)]
    try:
        deadline = time.monotonic() + 5
        while site.server._busy < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # the four are being served (each waits for its request line)
        threads = threading.active_count()
        status, headers, body = request(site, "/all.atom.xml")
        assert (status, headers["Retry-After"], body) == (503, "5", b"busy, try again soon\n")
        assert threading.active_count() == threads  # no thread for the refused one
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 5
    while site.server._busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert request(site, "/all.atom.xml")[0] == 200  # served again once they left
