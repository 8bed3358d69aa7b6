"""``seedfeed run`` as a real subprocess: it publishes, follows seed changes, survives a
failing source, reloads on SIGHUP, and stops cleanly on SIGTERM."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from daemon_helpers import SEEDFEED, Daemon, wait_for
from helpers import atom_titles, make_project, seed_text, write_seed


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path,
        {"first.txt": seed_text("First seed")},
        extra_config=(
            '[schedule]\ncron = "* * * * *"\n[fetch]\nallow_private = true\nread_timeout = 1\n'
        ),
    )


@pytest.fixture
def daemon(project: Path) -> Iterator[Daemon]:
    running = Daemon(project)
    yield running
    running.stop()


def test_publishes_follows_seeds_and_stops_cleanly(project: Path, daemon: Daemon) -> None:
    feed = project.parent / "feeds" / "all.atom.xml"
    wait_for(lambda: atom_titles(feed) == ["First seed"], 15)
    write_seed(project.parent / "seeds", "second.txt", seed_text("Second seed"), mtime=None)
    seconds = wait_for(lambda: "Second seed" in atom_titles(feed), 10)
    assert seconds < 5, f"a new seed took {seconds:.1f} s to publish"
    (project.parent / "seeds" / "first.txt").unlink()
    wait_for(lambda: atom_titles(feed) == ["Second seed"], 10)
    assert daemon.stop() == 0
    assert atom_titles(feed) == ["Second seed"]
    assert "stopped" in daemon.output()


def test_survives_a_failing_source(project: Path, daemon: Daemon, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/down").respond_with_data("boom", status=500)
    sources = project.parent / "sources"
    sources.mkdir()
    (sources / "down.toml").write_text(f'url = "{httpserver.url_for("/down")}"\n')
    feed = project.parent / "feeds" / "all.atom.xml"
    write_seed(project.parent / "seeds", "later.txt", seed_text("Later seed"), mtime=None)
    wait_for(lambda: "Later seed" in atom_titles(feed), 15)
    wait_for(lambda: "HTTP 500" in daemon.output(), 10)
    assert daemon.process.poll() is None
    assert daemon.stop() == 0


def test_sighup_reloads_and_refuses_a_bad_config(project: Path, daemon: Daemon) -> None:
    feed = project.parent / "feeds" / "all.atom.xml"
    wait_for(lambda: feed.exists(), 15)
    good = project.read_text()
    project.write_text(good + "[bogus]\n")
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in daemon.output(), 10)
    assert daemon.process.poll() is None
    project.write_text(good.replace('title = "Test clippings"', 'title = "Renamed"'))
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "<title>Renamed</title>" in feed.read_text(), 10)
    assert daemon.stop() == 0


# A cron that does not fire while a test runs: only the watch (or a reload) can publish.
QUIET_CRON = '[schedule]\ncron = "0 0 1 1 *"\n'


def test_seeds_folder_deleted_and_recreated_is_watched_again(tmp_path: Path) -> None:
    config = make_project(tmp_path, {"first.txt": seed_text("First seed")}, extra_config=QUIET_CRON)
    seeds = tmp_path / "seeds"
    feed = tmp_path / "feeds" / "all.atom.xml"
    running = Daemon(config)
    try:
        wait_for(lambda: atom_titles(feed) == ["First seed"], 15)
        shutil.rmtree(seeds)
        # The deletion's own publish has run (and failed): it cannot be the one that
        # later finds the new seed.
        wait_for(lambda: "seeds folder not found" in running.output(), 20)
        seeds.mkdir()
        write_seed(seeds, "again.txt", seed_text("Recreated seed"), mtime=None)
        wait_for(lambda: atom_titles(feed) == ["Recreated seed"], 20)
        # ...and the new folder is watched, not just scanned once.
        write_seed(seeds, "later.txt", seed_text("Later seed"), mtime=None)
        wait_for(lambda: "Later seed" in atom_titles(feed), 20)
    finally:
        assert running.stop() == 0


def test_seeds_folder_missing_at_start_is_watched_once_created(tmp_path: Path) -> None:
    config = make_project(tmp_path, extra_config=QUIET_CRON)
    seeds = tmp_path / "seeds"
    seeds.rmdir()
    feed = tmp_path / "feeds" / "all.atom.xml"
    running = Daemon(config)
    try:
        wait_for(lambda: "seeds folder not found" in running.output(), 20)
        seeds.mkdir()
        write_seed(seeds, "new.txt", seed_text("New seed"), mtime=None)
        wait_for(lambda: atom_titles(feed) == ["New seed"], 20)
    finally:
        assert running.stop() == 0


def test_sighup_re_arms_the_watch(tmp_path: Path) -> None:
    # The seeds folder's parent is replaced too, so only the reload can re-arm the watch.
    config = make_project(tmp_path, extra_config=QUIET_CRON + '[paths]\nseeds = "content/seeds"\n')
    seeds = tmp_path / "content" / "seeds"
    write_seed(seeds, "first.txt", seed_text("First seed"), mtime=None)
    feed = tmp_path / "feeds" / "all.atom.xml"
    running = Daemon(config)
    try:
        wait_for(lambda: atom_titles(feed) == ["First seed"], 15)
        shutil.rmtree(tmp_path / "content")
        wait_for(lambda: "seeds folder not found" in running.output(), 20)
        seeds.mkdir(parents=True)
        running.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "published (configuration reloaded)" in running.output(), 20)
        write_seed(seeds, "after.txt", seed_text("After reload"), mtime=None)
        wait_for(lambda: atom_titles(feed) == ["After reload"], 20)
    finally:
        assert running.stop() == 0


def test_bad_config_exits_2_at_start(tmp_path: Path) -> None:
    config = make_project(tmp_path, extra_config='[schedule]\ncron = "every minute"\n')
    result = subprocess.run(
        [str(SEEDFEED), "run", "-c", str(config)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "schedule.cron" in result.stderr


def test_serve_inside_the_daemon_and_status(project: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = Daemon(project, "--serve", "--port", str(port))
    try:
        url = f"http://127.0.0.1:{port}/all.atom.xml"
        wait_for(lambda: b"First seed" in urllib.request.urlopen(url, timeout=2).read(), 15)
        status = subprocess.run(
            [str(SEEDFEED), "status", "-c", str(project)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert status.returncode == 0
        assert "last run:" in status.stdout and "1 seeds (0 skipped)" in status.stdout
        assert "next publish" in status.stdout
    finally:
        assert running.stop() == 0


def test_serve_on_a_port_in_use_exits_2(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(SEEDFEED), "run", "-c", str(project), "--serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr


def test_tick_ignores_disabled_sources(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seedfeed.daemon import Daemon as SeedfeedDaemon
    from seedfeed.store import FetchState, Store

    sources = project.parent / "sources"
    sources.mkdir()
    (sources / "s.toml").write_text('url = "https://ex.org/a"\nschedule = "*/5 * * * *"\n')
    daemon = SeedfeedDaemon(project)
    calls: list[str] = []
    monkeypatch.setattr(daemon, "publish_job", calls.append)
    daemon.tick()
    assert calls == ["a source is due"]  # never fetched: due
    with Store(project.parent / ".seedfeed") as store:
        store.put_fetch_state(FetchState("s", "https://ex.org/a", disabled=True))
        store.commit()
    calls.clear()
    daemon.tick()
    assert calls == []  # gone for good (410): no publish every minute


def test_nothing_queued_runs_after_sigterm(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import seedfeed.daemon
    from seedfeed.daemon import Daemon as SeedfeedDaemon

    daemon = SeedfeedDaemon(project)
    published: list[object] = []
    monkeypatch.setattr(seedfeed.daemon, "publish", lambda *a, **k: published.append(a))
    daemon._on_stop(signal.SIGTERM, None)
    daemon._on_stop(signal.SIGINT, None)  # a second signal while stopping: no error
    daemon.publish_job("seeds changed")  # was queued behind the running publish
    daemon.reload()
    assert published == []
