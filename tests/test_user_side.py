"""What a person running seedfeed every day sees, through the command line: progress on
a terminal and silence in cron, the summary, standing problems, ``--json``, ``check``
as a gate, error wording in their own terms, and the daemon's and the server's logs."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from daemon_helpers import Daemon, wait_for
from helpers import invoke, make_project, run_subprocess, seed_text, write_seed

SEEDFEED = Path(sys.executable).parent / "seedfeed"


def _publish_on_a_terminal(config: Path) -> str:
    """Run ``seedfeed publish`` with stderr on a pseudo-terminal; what it wrote there."""
    main, child = os.openpty()
    process = subprocess.Popen(
        [str(SEEDFEED), "publish", "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=child,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(child)
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_on_a_terminal_and_none_in_cron(tmp_path: Path) -> None:
    seeds = {f"s{i:04}.txt": seed_text(f"Seed {i}") for i in range(3000)}
    config = make_project(tmp_path / "tty", seeds)
    shown = _publish_on_a_terminal(config)
    assert "scanning seeds" in shown or "reading seeds" in shown, shown[-500:]
    assert "published 50 articles in 1 feed from 3,000 seeds" in shown
    # Not a terminal (cron, a pipe): the summary line only.
    quiet = make_project(tmp_path / "cron", seeds)
    done = run_subprocess(["publish", "-c", str(quiet)], tmp_path, timeout=120)
    assert done.stderr.splitlines() == [
        line for line in done.stderr.splitlines() if line.startswith("published ")
    ]
    assert "\x1b[" not in done.stderr and "scanning" not in done.stderr


def test_progress_shows_sources_and_pages(tmp_path: Path, httpserver: HTTPServer) -> None:
    links = "".join(f'<article><a href="/p{i}">Story {i}</a></article>' for i in range(3))
    httpserver.expect_request("/news").respond_with_data(
        f"<html><body>{links}</body></html>", content_type="text/html"
    )
    for i in range(3):
        text = "".join(f"<p>Story {i} has paragraph {n} of words.</p>" for n in range(4))
        httpserver.expect_request(f"/p{i}").respond_with_data(
            f"<html><head><title>Story {i}</title></head><body><article>{text}</article>"
            "</body></html>",
            content_type="text/html",
        )
    config = make_project(tmp_path, {}, extra_config="[fetch]\nallow_private = true\n")
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "news.toml").write_text(
        f'url = "{httpserver.url_for("/news")}"\nkind = "listing"\n', encoding="utf-8"
    )
    shown = _publish_on_a_terminal(config)
    assert "fetching sources" in shown and "reading article pages" in shown, shown[-800:]
    assert "published 3 articles in 1 feed" in shown


def test_verbose_says_each_stage(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    result = invoke(["publish", "-c", str(config), "-v"])
    stages = next(line for line in result.stderr.splitlines() if line.startswith("stages: "))
    assert [part.split()[0] for part in stages[8:].split("; ")] == [
        "scan",
        "sources",
        "render",
        "write",
    ]


def test_the_summary_counts_articles(tmp_path: Path) -> None:
    # Two feeds show the same article: one article, two feeds.
    config = make_project(
        tmp_path,
        {"science/a.txt": seed_text("Alpha")},
        extra_config='[feeds.science]\ninclude = ["science/*"]\n',
    )
    result = invoke(["publish", "-c", str(config)])
    assert result.stderr.startswith("published 1 article in 2 feeds from 1 seed (1 read,")


def test_json_of_publish_check_and_status(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha"), "bad.txt": b""})
    result = invoke(["publish", "-c", str(config), "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and result.stderr == ""
    assert data["exit"] == 0 and data["articles"] == 1 and data["feeds"] == {"all": 1}
    assert data["skipped"] == [{"path": "bad.txt", "reason": "empty file"}]
    assert data["skipped_sources"] == 0 and data["unlisted_folders"] == 0
    assert "all.atom.xml" in data["written"]
    check = invoke(["check", "-c", str(config), "--json"])
    assert check.exit_code == 3 and json.loads(check.stdout)["exit"] == 3
    status = json.loads(invoke(["status", "-c", str(config), "--json"]).stdout)
    assert status["daemon"] is False and status["next_publish"] is None
    assert status["last_run"]["entries"] == 1
    missing = invoke(["publish", "-c", str(tmp_path / "nowhere"), "--json"])
    assert missing.exit_code == 2
    assert json.loads(missing.stdout) == {
        "exit": 2,
        "error": f"{tmp_path / 'nowhere'}: no such file (run `seedfeed init` to create one)",
    }


def test_check_fails_on_a_broken_source_file(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "news.toml").write_text('url = "https://ex.org/"\nkind = "lisitng"\n')
    result = invoke(["check", "-c", str(config)])
    assert result.exit_code == 3
    assert (
        "warning: sources/news.toml: skipped: source: 'kind' must be one of article, listing,"
        " feed, not 'lisitng'" in result.stderr
    )
    # A source is not a seed: the seed is usable.
    assert result.stderr.splitlines()[-1] == (
        "1 seed: 1 usable, 0 skipped, 1 source skipped, 0 warnings"
    )
    # and so says publish's summary: no seed skipped, one source.
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 0
    assert re.match(
        r"published 1 article in 1 feed from 1 seed \(1 read, 0 unchanged\), 1 source"
        r" skipped in [0-9.]+ s; written: ",
        result.stderr.splitlines()[-1],
    ), result.stderr


def test_paths_and_urls_that_are_not_usable_are_one_line(tmp_path: Path) -> None:
    long_name = str(tmp_path / ("a" * 5000))
    for args, said in [
        (["publish", "-c", long_name], "not a usable path: File name too long"),
        (["init", str(tmp_path / ("b" * 300))], "not a usable folder: File name too long"),
        (["extract", "http://[::1"], "http://[::1: not a URL (Invalid IPv6 URL)"),
    ]:
        result = invoke(args)
        assert result.exit_code == 2, (args, result.stderr)
        [line] = result.stderr.splitlines()
        assert line.startswith("error: ") and said in line and len(line) < 400, line


@pytest.mark.parametrize(
    ("cron", "said"),
    [
        ("0 25 * * *", "the hour field '25' is not valid: it takes 0-23"),
        ("*/0 * * * *", "the minute field '*/0' has a step of 0"),
        ("0 9 * * 8", "the day of week field '8' is not valid: it takes 0-7 or sun-sat"),
    ],
)
def test_cron_mistakes_in_crontab_terms(tmp_path: Path, cron: str, said: str) -> None:
    config = make_project(tmp_path, {}, extra_config=f'[schedule]\ncron = "{cron}"\n')
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 2
    assert said in result.stderr and "APScheduler" not in result.stderr


def test_front_matter_mistakes_are_said_where(tmp_path: Path) -> None:
    seeds = {
        "a.md": "---\ntitle: A\nauthor: [Ann, Bob\n---\nBody.\n",
        "b.md": "---\ntitle: B\ndate: last tuesday\n---\nBody.\n",
    }
    result = invoke(["publish", "-c", str(make_project(tmp_path, seeds))])
    assert (
        "warning: a.md: front matter ignored: line 4, column 1: expected ',' or ']',"
        " but got '<stream end>'"
        in result.stderr
        or "warning: a.md: front matter ignored: line 3" in result.stderr
    )
    assert "warning: b.md: date: 'last tuesday' is not a date; ignored" in result.stderr


def test_serve_logs_each_request(tmp_path: Path) -> None:
    import socket
    import urllib.request

    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(SEEDFEED), "serve", "-c", str(config), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}/all.atom.xml"
            wait_for(lambda: urllib.request.urlopen(url, timeout=2).status == 200, 20)
            wait_for(lambda: '"GET /all.atom.xml HTTP/1.1" 200' in log.read_text(), 10)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
    line = next(ln for ln in log.read_text().splitlines() if "GET /all.atom.xml" in ln)
    assert line[:4].isdigit() and " info: 127.0.0.1 " in line  # one line, with its time


def test_the_daemon_names_the_seed_that_changed_and_status_sees_it(tmp_path: Path) -> None:
    config = make_project(
        tmp_path, {"first.txt": seed_text("First")}, extra_config='[schedule]\ncron = "0 0 1 1 *"\n'
    )
    daemon = Daemon(config)
    try:
        wait_for(lambda: "published (start)" in daemon.output(), 30)
        write_seed(tmp_path / "seeds", "news/second.txt", seed_text("Second"), None)
        wait_for(lambda: "published (seeds changed: news/second.txt)" in daemon.output(), 30)
        lines = invoke(["status", "-c", str(config)]).stdout.splitlines()
        assert lines[1].startswith("daemon:       running; next publish ")
        second = Daemon(config, log_name="second.log")  # one daemon per project
        assert second.process.wait(timeout=30) == 1
        assert "a seedfeed run already runs for this project" in second.output()
        second.stop()
    finally:
        daemon.stop()
    published = next(ln for ln in daemon.output().splitlines() if "published (start)" in ln)
    assert published[:4].isdigit()  # the daemon's lines carry their time
    status = invoke(["status", "-c", str(config)]).stdout.splitlines()
    assert status[1].startswith("daemon:       not running")


# --- feeds people ask for ------------------------------------------------------------------


def _md(title: str, author: str, tags: str, body: str) -> str:
    return f"---\ntitle: {title}\nauthor: {author}\ntags: [{tags}]\n---\n\n{body}\n"


FILTER_SEEDS = {
    "a.md": _md("Ocean heat", "Ann Lee", "climate, science", "The ocean warms."),
    "b.md": _md("Budget vote", "Bob Ray", "politics", "A climate fund, too."),
    "c.md": _md("Sponsored climate post", "Ann Lee", "climate", "Buy now."),
    "d.md": _md("Draft on rivers", "Ann Lee", "draft", "Rivers."),
}
FILTER_CONFIG = """
[feeds]
by_tag = true
by_author = true
[feeds.climate]
include = ["*"]
words = ["climate", "ocean"]
exclude_words = ["sponsored"]
[feeds.ann]
include = ["*"]
authors = ["ann lee"]
exclude_tags = ["draft"]
[feeds.nothing-from-seeds]
include = ["*"]
sources = ["some-source"]
"""


def _titles(path: Path) -> list[str]:
    from helpers import atom_titles

    return sorted(atom_titles(path))


def test_filters_per_feed(tmp_path: Path) -> None:
    config = make_project(tmp_path, FILTER_SEEDS, extra_config=FILTER_CONFIG)
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    feeds = tmp_path / "feeds"
    # A word in the title or the text, not a sponsored one.
    assert _titles(feeds / "climate.atom.xml") == ["Budget vote", "Ocean heat"]
    assert _titles(feeds / "ann.atom.xml") == ["Ocean heat", "Sponsored climate post"]
    assert _titles(feeds / "nothing-from-seeds.atom.xml") == []


def test_tag_and_author_feeds(tmp_path: Path) -> None:
    config = make_project(tmp_path, FILTER_SEEDS, extra_config=FILTER_CONFIG)
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    feeds = tmp_path / "feeds"
    assert _titles(feeds / "tag" / "climate.atom.xml") == ["Ocean heat", "Sponsored climate post"]
    assert _titles(feeds / "author" / "bob-ray.atom.xml") == ["Budget vote"]
    assert sorted(p.name for p in (feeds / "tag").glob("*.atom.xml")) == [
        "climate.atom.xml",
        "draft.atom.xml",
        "politics.atom.xml",
        "science.atom.xml",
    ]
    opml = (feeds / "feeds.opml").read_text()
    assert "tag/climate.atom.xml" in opml and "author/ann-lee.atom.xml" in opml
    # The last seed of a tag goes: so does the tag's feed.
    (tmp_path / "seeds" / "d.md").unlink()
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    assert not (feeds / "tag" / "draft.atom.xml").exists()
    assert not (feeds / "tag" / "draft.rss.xml").exists()


@pytest.mark.parametrize(
    ("link", "canonical"),
    [
        ("https://ex.org/a?ref=rss&id=3", "https://ex.org/a?id=3"),
        ("https://ex.org/a?ref=main", "https://ex.org/a?ref=main"),  # a ref that picks a page
        ("https://ex.org/a?source=rss&__twitter_impression=true", "https://ex.org/a"),
        ("https://ex.org/a?cmpid=x&ref_src=twsrc&_ga=1.2&x=1", "https://ex.org/a?x=1"),
    ],
)
def test_more_trackers_are_removed(link: str, canonical: str) -> None:
    from seedfeed.normalize import canonical_url

    assert canonical_url(link) == canonical


@pytest.mark.parametrize("name", ["state", "feeds", "sources", "seeds"])
def test_a_folder_path_that_is_a_file_is_one_line(tmp_path: Path, name: str) -> None:
    extra = f'[paths]\n{name} = "config.toml"\n'
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")}, extra_config=extra)
    for command in ("publish", "check"):  # check refuses what publish would
        result = invoke([command, "-c", str(config)])
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [
            f"error: {config}: not a folder (paths.{name}); nothing published"
        ]
    import seedfeed

    with pytest.raises(seedfeed.SeedfeedError):  # from Python too, not a bare OSError
        seedfeed.publish(seedfeed.load_config(config))


def test_init_writes_only_what_publish_accepts(tmp_path: Path) -> None:
    for args, said in [
        (["--base-url", "ftp://x"], "site.base_url must be an absolute http(s) URL"),
        (["--title", ""], "site.title is required"),
    ]:
        result = invoke(["init", str(tmp_path / "p"), *args])
        assert result.exit_code == 2 and said in result.stderr, result.stderr
        assert not (tmp_path / "p").exists()  # nothing written


def test_serve_refuses_a_feeds_path_that_is_a_file(tmp_path: Path) -> None:
    config = make_project(tmp_path, extra_config='[paths]\nfeeds = "config.toml"\n')
    # (in a child: a long-running command stamps the log lines of its process)
    result = run_subprocess(["serve", "-c", str(config)], tmp_path)
    assert result.returncode == 2
    assert "not a folder (paths.feeds); nothing to serve" in result.stderr


def test_serve_blames_an_unreadable_feeds_folder_not_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedfeed.errors import UsageError
    from seedfeed.serve import make_server

    feeds = tmp_path / "locked" / "feeds"
    real_stat = os.stat

    def refused(path: Any, *args: Any, **kwargs: Any) -> Any:  # as root, chmod cannot
        if os.fspath(path) == str(feeds):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", refused)
    with pytest.raises(UsageError, match="feeds: cannot be read \\(permission denied\\)"):
        make_server(feeds, "127.0.0.1", 0)


def test_the_library_says_which_argument_is_wrong(tmp_path: Path) -> None:
    import datetime

    import seedfeed

    config = seedfeed.load_config(make_project(tmp_path, {"a.txt": seed_text("Alpha")}))
    for call, error, said in [
        (lambda: seedfeed.publish(None), TypeError, "config must be a Config"),
        (lambda: seedfeed.check({}), TypeError, "config must be a Config"),
        (lambda: seedfeed.publish(config, lock_timeout=float("nan")), ValueError, "finite"),
        (lambda: seedfeed.extract(None), TypeError, "html must be a str"),
        (lambda: seedfeed.extract("<p>x</p>", url=5), TypeError, "url must be a str"),
        (lambda: seedfeed.extract("<p>x</p>", now="2020"), TypeError, "now must be a datetime"),
        (
            lambda: seedfeed.extract("<p>x</p>", now=datetime.datetime(2020, 1, 1)),
            ValueError,
            "aware",
        ),
    ]:
        with pytest.raises(error, match=said):
            call()


def test_status_of_a_state_folder_that_cannot_be_read_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_project(tmp_path, {"a.txt": seed_text("Alpha")})
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    state = tmp_path / ".seedfeed"
    real_stat = os.stat

    def refused(path: Any, *args: Any, **kwargs: Any) -> Any:  # (root reads any folder)
        if os.fspath(path).startswith(os.fspath(state)):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", refused)
    result = invoke(["status", "-c", str(config)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {state}: cannot read the state (permission denied)"
    ]
