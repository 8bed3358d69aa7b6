"""Extraction on real pages that nobody here wrote: Mozilla Readability's test pages in
``../shared/extract-dev`` (read in memory, never copied). Skipped without ``../shared``.

The floors are the figures reached when extraction was chosen (bench/bench_extract.py
prints them all), less a small margin: a change that loses authors or dates on real
pages fails here, not in a reader's feed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from seedfeed.normalize import clean_text, html_to_plain, to_entry
from seedfeed.web.extract import article_from_html
from seedfeed.web.fetch import decode_body

BENCH = Path(__file__).resolve().parents[1] / "bench" / "real_pages.py"
URL = "http://fakehost/test/page.html"


def _real_pages() -> ModuleType:
    spec = importlib.util.spec_from_file_location("real_pages", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("real_pages", module)
    spec.loader.exec_module(module)
    return module


real = _real_pages()
pytestmark = [
    pytest.mark.skipif(
        not (real.DEV / real.READABILITY_ARCHIVE).is_file(), reason=f"{real.DEV} not found"
    ),
    pytest.mark.slow,  # 130 real pages: seconds, not for make quick
]


@pytest.fixture(scope="module")
def scores() -> Any:
    from datetime import UTC, datetime

    score = real.MetaScore()
    for case in real.readability_cases():
        article = article_from_html(decode_body(case.html, None)[0], origin=URL, url=URL)
        entry, _ = to_entry(article, datetime(2000, 1, 1, tzinfo=UTC))
        text = html_to_plain(entry.content_html)
        score.add(case, clean_text(article.title), entry.authors, article.published, text)
    return score


def test_metadata_of_real_pages(scores: Any) -> None:
    assert scores.pages == 130
    assert scores.titles >= 124  # the target (126 reached)
    assert scores.titles_suffix >= 125
    assert scores.authors >= 64
    assert scores.days >= 31


def test_body_of_real_pages(scores: Any) -> None:
    body_f1 = scores.body_f1
    assert sum(body_f1) / len(body_f1) >= 0.92


def _fields(shown: str) -> tuple[dict[str, str], str]:
    """``seedfeed extract``'s header lines, by name, and its body."""
    head, _, body = shown.partition("\n\n")
    lines = (line.partition(":") for line in head.splitlines())
    return {key: value.strip() for key, _, value in lines}, body


def _words(text: str) -> list[str]:
    # List markers aside: a seed has bullets ("•") where extract shows "- ", and a
    # page's own "•" lines become a seed's list items.
    return [word for word in text.split() if word not in ("-", "\u2022")]


def test_clip_then_publish_gives_what_extract_shows(tmp_path: Path) -> None:
    # Every page served by a local server: `extract URL`, `clip URL`, then one publish
    # of all the seeds; each entry has the title, authors, date (time of day too),
    # link and text that extract showed.
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from feedparser import parse

    from helpers import invoke, make_project

    pages = {f"/{case.name}/": case.html for case in real.readability_cases()}

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    Thread(target=server.serve_forever, daemon=True).start()
    config = make_project(tmp_path, {}, extra_config="[publish]\nmax_entries = 1000\n")
    shown = {}
    try:
        for path in pages:
            url = f"http://127.0.0.1:{server.server_address[1]}{path}"
            result = invoke(["extract", url, "--allow-private"])
            assert result.exit_code == 0, (url, result.stderr)
            shown[url] = _fields(result.stdout)
            clipped = invoke(["clip", url, "-c", str(config), "--allow-private"])
            # Two pages of the set name one canonical link: the second is refused.
            assert clipped.exit_code == 0 and (
                clipped.stdout or "clipped already" in clipped.stderr
            )
    finally:
        server.shutdown()
        server.server_close()
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    entries = {e.link: e for e in parse((tmp_path / "feeds" / "all.atom.xml").read_bytes()).entries}
    wrong = []
    for url, (fields, body) in shown.items():
        entry = entries[fields["link"]]
        authors = ", ".join(author["name"] for author in entry.get("authors", []))
        date = fields["date"] if "none" not in fields["date"] else entry.published
        got = (entry.title, authors or "(none)", entry.published.replace("Z", "+00:00"))
        if got != (fields["title"], fields["author"], date.replace("Z", "+00:00")):
            wrong.append((url, got, fields))
        elif _words(html_to_plain(entry.content[0].value)) != _words(body):
            wrong.append((url, "body differs"))
    assert wrong == [], wrong
    assert len(shown) == 130 and len(entries) == 129
