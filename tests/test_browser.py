"""The index page and the feeds as a person sees them in a real browser: headless
Chromium loads them from ``seedfeed serve`` and the test reads the rendered DOM.

``.ci/run`` installs Debian's chromium; without it (or where it cannot start) the tests
skip and say so.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest

from helpers import invoke, make_project, seed_text
from seedfeed.serve import make_server

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)"),
    pytest.mark.slow,  # a browser process starts
]

SEEDS = {
    "river.txt": seed_text(
        "Town lights the river path",
        "Why it matters: The path is the main walking route & it was dark.",
        link="https://news.example.org/river",
        author="Maria Okafor",
        published="2026-11-17",
    ),
    "tricky.txt": seed_text(
        "A title with <b>tags</b> & an ampersand",
        "Why it matters: <img src=x onerror=alert(1)> stays text.",
        link="https://news.example.org/tricky",
        published="2026-11-16",
    ),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    config = make_project(root, SEEDS)
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    server = make_server(root / "feeds", "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def rendered(url: str, profile: Path) -> lxml.html.HtmlElement:
    """The DOM Chromium ends up with for ``url``."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    if done.returncode != 0 or not done.stdout.strip():
        pytest.skip(f"chromium could not run here: {done.stderr.strip()[-300:]}")
    return lxml.html.document_fromstring(done.stdout)


def test_the_index_lists_the_newest_articles(site: str, tmp_path: Path) -> None:
    page = rendered(site, tmp_path / "profile")
    titles = [h.text_content() for h in page.iter("h3")]
    assert titles == ["Town lights the river path", "A title with <b>tags</b> & an ampersand"]
    text = page.text_content()
    assert "Maria Okafor" in text and "2026-11-17" in text
    assert "<img src=x onerror=alert(1)> stays text." in text  # shown, not made
    assert page.find(".//img") is None and page.find(".//b") is None
    links = {a.text_content(): a.get("href") for a in page.iter("a")}
    assert links["Town lights the river path"] == "https://news.example.org/river"
    assert links["Atom"].endswith("all.atom.xml")


@pytest.mark.parametrize("feed", ["all.atom.xml", "all.rss.xml"])
def test_a_feed_opened_in_a_browser_is_a_page(site: str, tmp_path: Path, feed: str) -> None:
    page = rendered(site + feed, tmp_path / "profile")
    text = page.text_content()
    assert "This is a web feed" in text
    assert f"feeds.example.test/{feed}" in text  # the address to paste into a reader
    titles = [h.text_content() for h in page.iter("h2")]
    assert titles == ["Town lights the river path", "A title with <b>tags</b> & an ampersand"]
    assert "<entry>" not in text and "<item>" not in text and "<?xml" not in text
    assert page.find(".//img") is None and page.find(".//b") is None
    assert "<img src=x onerror=alert(1)> stays text." in text
