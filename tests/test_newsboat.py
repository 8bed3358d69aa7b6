"""A real feed reader: newsboat subscribes to `seedfeed serve` (skips where it is absent).

`.ci/run` installs Debian's newsboat. newsboat runs headless (`-x reload`) and keeps
what it read in an SQLite cache, which the test reads back: every entry with the right
title, link, author and date, and a 304 on a later reload.
"""

from __future__ import annotations

import calendar
import logging
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from helpers import REFERENCE_SEED, REPO, run_publish
from seedfeed.serve import make_server

NEWSBOAT = shutil.which("newsboat")
pytestmark = pytest.mark.skipif(
    NEWSBOAT is None, reason="newsboat is not installed (.ci/run installs it with apt-get)"
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The bundled example (and the reference seed) published and served on 127.0.0.1."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "seeds", project / "seeds")
    if REFERENCE_SEED.exists():
        shutil.copy(REFERENCE_SEED, project / "seeds" / REFERENCE_SEED.name)
    server = make_server(project / "feeds", "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    (project / "config.toml").write_text(
        f'[site]\ntitle = "Reader test"\nbase_url = "{base}"\n', encoding="utf-8"
    )
    run_publish(project / "config.toml")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield project, base
    server.shutdown()
    server.server_close()


def reload(home: Path, feed_url: str) -> None:
    urls = home / "urls"
    urls.write_text(feed_url + "\n", encoding="utf-8")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "XDG_DATA_HOME": str(home),
    }
    result = subprocess.run(
        [
            str(NEWSBOAT),
            "-u",
            str(urls),
            "-c",
            str(home / "cache.db"),
            "-C",
            os.devnull,
            "-x",
            "reload",
        ],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")


@pytest.mark.parametrize("kind", ["atom", "rss"])
def test_newsboat_reads_every_entry_and_gets_304(
    served: tuple[Path, str], tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    project, base = served
    name = f"all.{kind}.xml"
    home = tmp_path / f"home-{kind}"
    home.mkdir()
    caplog.set_level(logging.INFO, logger="seedfeed.serve")
    reload(home, base + name)

    expected = feedparser.parse((project / "feeds" / name).read_bytes()).entries
    assert expected
    with sqlite3.connect(home / "cache.db") as db:
        rows = db.execute("SELECT guid, title, url, author, pubDate FROM rss_item").fetchall()
    stored = {row[2]: row for row in rows}
    assert len(rows) == len(expected)
    for entry in expected:
        guid, title, _, author, pub_date = stored[entry.link]
        assert title == entry.title
        assert guid == entry.id
        names = [a.get("name") for a in entry.get("authors", [])]
        # newsboat joins Atom authors and keeps the last dc:creator of an RSS item
        assert author in (", ".join(names), names[-1])
        published = entry.get("published_parsed") or entry.get("updated_parsed")
        assert pub_date == calendar.timegm(published)

    # newsboat stores the validators on its second fetch, and sends them from the third on.
    reload(home, base + name)
    reload(home, base + name)
    statuses = [
        r.getMessage().split()[-2] for r in caplog.records if f"GET /{name}" in r.getMessage()
    ]
    assert statuses[-1] == "304", statuses
