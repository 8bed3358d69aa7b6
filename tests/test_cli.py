"""The ``seedfeed`` command: init, publish, check; exit codes and the lines on stderr."""

from __future__ import annotations

import sqlite3
from importlib.metadata import version
from pathlib import Path

import pytest

import seedfeed.render
from helpers import (
    REPO,
    atom_titles,
    invoke,
    make_project,
    parse_feed,
    run_subprocess,
    seed_text,
    snapshot,
    stderr_lines,
    write_seed,
)

WELCOME = "Welcome to seedfeed: your clippings, as a feed"
SEEDS = {
    "a.txt": seed_text("Alpha", link="https://ex.org/a", published="2026-01-01"),
    "b.txt": seed_text("Beta", published="2026-01-02"),
    "science/c.txt": seed_text("Gamma", published="2026-01-03"),
}
TWO_FEEDS = '[feeds.science]\ninclude = ["science/*"]\n'


# --- init, publish, check, for real --------------------------------------------------------


def test_init_publish_check_as_a_real_command(tmp_path: Path) -> None:
    project = tmp_path / "clips"
    init = run_subprocess(["init", str(project), "--title", 'My "quoted" clips'], tmp_path)
    assert init.returncode == 0, init.stderr
    assert init.stdout == ""
    assert f"created {project / 'config.toml'}" in init.stderr
    assert f"seedfeed publish -c {project / 'config.toml'}" in init.stderr
    assert (project / "seeds").is_dir()
    assert (project / "feeds").is_dir()

    check = run_subprocess(["check", "-c", str(project / "config.toml")], tmp_path)
    assert check.returncode == 0, check.stderr
    check_lines = stderr_lines(check.stderr)
    assert len(check_lines) == 1
    assert "1 usable" in check_lines[0] and "0 skipped" in check_lines[0]
    assert list((project / "feeds").iterdir()) == []
    assert not (project / ".seedfeed").exists()

    pub = run_subprocess(["publish", "-c", str(project / "config.toml")], tmp_path)
    assert pub.returncode == 0, pub.stderr
    assert pub.stdout == ""
    lines = stderr_lines(pub.stderr)
    assert len(lines) == 1
    assert lines[0].startswith("published 1 article in 1 feed from 1 seed")
    assert "written: all.atom.xml, all.rss.xml" in lines[0]

    for name in ("all.atom.xml", "all.rss.xml"):
        feed = parse_feed(project / "feeds" / name)
        assert feed.feed.title == 'My "quoted" clips'
        assert [e.title for e in feed.entries] == [WELCOME]
        assert feed.entries[0].link == "https://example.org/welcome-to-seedfeed"

    again = run_subprocess(["publish", "-c", str(project / "config.toml")], tmp_path)
    assert again.returncode == 0
    assert "written: none (all up to date)" in again.stderr
    assert run_subprocess(["check", "-c", str(project)], tmp_path).returncode == 0


def test_publish_in_the_project_folder(tmp_path: Path) -> None:
    make_project(tmp_path / "p", SEEDS)
    proc = run_subprocess(["publish"], cwd=tmp_path / "p")
    assert proc.returncode == 0, proc.stderr
    assert sorted(atom_titles(tmp_path / "p" / "feeds" / "all.atom.xml")) == [
        "Alpha",
        "Beta",
        "Gamma",
    ]
    assert (tmp_path / "p" / ".seedfeed" / "state.sqlite3").is_file()


def test_publish_in_the_project_folder_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path, SEEDS)
    monkeypatch.chdir(tmp_path)
    result = invoke(["publish"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "feeds" / "all.rss.xml").is_file()
    result = invoke(["check"])
    assert result.exit_code == 0
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1
    assert "3 usable" in lines[0] and "0 skipped" in lines[0]


def test_config_given_as_folder(tmp_path: Path) -> None:
    make_project(tmp_path / "p", SEEDS)
    result = invoke(["publish", "-c", str(tmp_path / "p")])
    assert result.exit_code == 0, result.stderr
    assert len(atom_titles(tmp_path / "p" / "feeds" / "all.atom.xml")) == 3


# --- init ---------------------------------------------------------------------------------


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    assert invoke(["init", str(tmp_path)]).exit_code == 0
    config = tmp_path / "config.toml"
    config.write_text('[site]\ntitle = "Mine"\nbase_url = "http://mine.example/"\n', "utf-8")
    (tmp_path / "seeds" / "welcome.txt").write_text("My own edit\n", encoding="utf-8")
    before = snapshot(tmp_path)

    result = invoke(["init", str(tmp_path), "--title", "Other"])
    assert result.exit_code == 2
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert str(config) in lines[0]
    assert "already exists" in lines[0]
    assert snapshot(tmp_path) == before


def test_init_keeps_existing_seeds(tmp_path: Path) -> None:
    write_seed(tmp_path / "seeds", "welcome.txt", seed_text("Mine already"))
    result = invoke(["init", str(tmp_path)])
    assert result.exit_code == 0
    welcome = (tmp_path / "seeds" / "welcome.txt").read_text(encoding="utf-8")
    assert welcome.startswith("Mine already")
    assert invoke(["publish", "-c", str(tmp_path)]).exit_code == 0
    assert atom_titles(tmp_path / "feeds" / "all.atom.xml") == ["Mine already"]


def test_init_in_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["init", "--base-url", "https://clips.example.org/feeds"])
    assert result.exit_code == 0
    assert 'base_url = "https://clips.example.org/feeds/"' in (tmp_path / "config.toml").read_text(
        encoding="utf-8"
    )
    assert invoke(["publish"]).exit_code == 0
    feed = parse_feed(tmp_path / "feeds" / "all.atom.xml")
    self_links = [ln.href for ln in feed.feed.links if ln.rel == "self"]
    assert self_links == ["https://clips.example.org/feeds/all.atom.xml"]


# --- configuration errors: exit 2, one line, nothing written -------------------------------


def test_unknown_config_key_names_the_key(tmp_path: Path) -> None:
    config = make_project(tmp_path, SEEDS, extra_config='colour = "red"\n')
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 2
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1
    assert "site.colour" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "seeds"]


def test_unknown_feed_key_names_the_key(tmp_path: Path) -> None:
    config = make_project(tmp_path, SEEDS, extra_config='[feeds.x]\nincludes = ["*"]\n')
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 2
    assert "feeds.x.includes" in result.stderr
    assert len(stderr_lines(result.stderr)) == 1


def test_missing_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke(["publish", "-c", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1
    assert "nope.toml" in lines[0]
    assert "seedfeed init" in lines[0]

    monkeypatch.chdir(tmp_path)
    for command in ("publish", "check"):
        result = invoke([command])
        assert result.exit_code == 2
        assert str(tmp_path / "config.toml") in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_config_subprocess(tmp_path: Path) -> None:
    proc = run_subprocess(["publish"], cwd=tmp_path)
    assert proc.returncode == 2
    assert len(stderr_lines(proc.stderr)) == 1
    assert "config.toml" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_seeds_folder_exit_2(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    (tmp_path / "seeds").rmdir()
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 2
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1
    assert str(tmp_path / "seeds") in lines[0]
    assert not (tmp_path / "feeds").exists()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke(["publish", "--bogus"]).exit_code == 2
    assert invoke(["frobnicate"]).exit_code == 2


# --- output ------------------------------------------------------------------------------


def test_summary_line_and_quiet(tmp_path: Path) -> None:
    config = make_project(tmp_path, SEEDS, extra_config=TWO_FEEDS)
    loud = invoke(["publish", "-c", str(config)])
    assert loud.exit_code == 0
    assert stderr_lines(loud.stderr) == [
        line for line in stderr_lines(loud.stderr) if line.startswith("published ")
    ]
    assert "published 3 articles in 2 feeds from 3 seeds" in loud.stderr

    write_seed(tmp_path / "seeds", "d.txt", seed_text("Delta"))
    for args in (["-q", "publish", "-c", str(config)], ["publish", "-q", "-c", str(config)]):
        quiet = invoke(args)
        assert quiet.exit_code == 0
        assert quiet.stderr == ""
        assert quiet.stdout == ""
    assert "Delta" in atom_titles(tmp_path / "feeds" / "all.atom.xml")


def test_quiet_still_reports_errors(tmp_path: Path) -> None:
    config = make_project(tmp_path, extra_config="colour = 1\n")
    result = invoke(["-q", "publish", "-c", str(config)])
    assert result.exit_code == 2
    assert "site.colour" in result.stderr


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"seedfeed, version {version('seedfeed')}"


def test_help_lists_commands() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    for command in ("publish", "check", "init"):
        assert command in result.stdout


# --- check --------------------------------------------------------------------------------


def test_check_reports_and_writes_nothing(tmp_path: Path) -> None:
    bad: dict[str, str | bytes] = {"empty.txt": b"", "cp.txt": "Caf\u00e9".encode("cp1252")}
    config = make_project(tmp_path, {**SEEDS, **bad})
    result = invoke(["check", "-c", str(config)])
    assert result.exit_code == 3
    lines = stderr_lines(result.stderr)
    assert "warning: empty.txt: skipped: empty file" in lines
    assert lines[-1] == "5 seeds: 4 usable, 1 skipped, 1 warning"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "seeds"]

    (tmp_path / "seeds" / "empty.txt").unlink()
    assert invoke(["check", "-c", str(config)]).exit_code == 0


# --- failures: exit 1, previous feeds untouched --------------------------------------------


def _published_twice(tmp_path: Path) -> tuple[Path, dict[str, tuple[bytes, int]]]:
    """A project published once, then given a new seed (so the next run has work)."""
    config = make_project(tmp_path, SEEDS, extra_config=TWO_FEEDS)
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    before = snapshot(tmp_path / "feeds")
    write_seed(tmp_path / "seeds", "science/new.txt", seed_text("New", published="2026-02-01"))
    return config, before


def test_unexpected_failure_exit_1_keeps_feeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, before = _published_twice(tmp_path)

    def explode(*args: object, **kwargs: object) -> dict[str, bytes]:
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(seedfeed.render, "render_feeds", explode)
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 1
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "renderer exploded" in lines[0]
    assert snapshot(tmp_path / "feeds") == before

    monkeypatch.undo()
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    assert "New" in atom_titles(tmp_path / "feeds" / "science.atom.xml")


def test_failure_in_a_later_feed_keeps_every_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 1 promises the previous feeds, all of them: a run that fails while rendering
    its second feed must not have replaced the first one already."""
    config, before = _published_twice(tmp_path)
    real = seedfeed.render.render_feeds
    calls = []

    def second_fails(*args: object, **kwargs: object) -> dict[str, bytes]:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("second feed exploded")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(seedfeed.render, "render_feeds", second_fails)
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 1
    assert "second feed exploded" in result.stderr
    assert snapshot(tmp_path / "feeds") == before


def test_corrupt_state_exit_1(tmp_path: Path) -> None:
    config, before = _published_twice(tmp_path)
    state = tmp_path / ".seedfeed" / "state.sqlite3"
    for extra in tmp_path.joinpath(".seedfeed").glob("state.sqlite3-*"):
        extra.unlink()
    state.write_bytes(b"this is not a database" * 100)
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 1
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1
    assert "state" in lines[0]
    assert snapshot(tmp_path / "feeds") == before


def test_state_from_newer_seedfeed_exit_1(tmp_path: Path) -> None:
    config, before = _published_twice(tmp_path)
    with sqlite3.connect(tmp_path / ".seedfeed" / "state.sqlite3") as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    db.close()
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 1
    assert "newer seedfeed" in result.stderr
    assert len(stderr_lines(result.stderr)) == 1
    assert snapshot(tmp_path / "feeds") == before


def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    """README's "Use it from Python" example, run as written (with ``project`` set)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it from Python", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    project = tmp_path / "clips"
    (project / "seeds").mkdir(parents=True)
    (project / "seeds" / "a.txt").write_text("A clipping\n\nIts text.\n", encoding="utf-8")
    (project / "seeds" / "b.txt").write_bytes(b"")  # one that check reports
    printed: list[str] = []
    namespace = {"project": project, "print": lambda *a: printed.append(" ".join(map(str, a)))}
    exec(compile(code, "README.md", "exec"), namespace)  # our own README
    assert printed == [
        "b.txt would be skipped: empty file",
        "['all.atom.xml', 'all.rss.xml', 'all.json', 'index.html', 'feeds.opml', 'feed.xsl']",
        "Bridge reopens https://news.example.org/city/bridge-reopens",
    ]
    assert (project / "feeds" / "all.atom.xml").exists()


# --- the collector of a one-run process --------------------------------------------------


def test_the_command_tunes_its_own_collector_and_a_caller_keeps_its(tmp_path: Path) -> None:
    import gc
    import subprocess
    import sys

    config = make_project(tmp_path, SEEDS)
    before = (gc.get_threshold(), gc.get_freeze_count())
    assert invoke(["-q", "publish", "-c", str(config)]).exit_code == 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == before  # in-process: untouched
    # The command's own process: what was loaded is frozen, collections are rarer.
    said = (
        "import atexit, gc; from seedfeed.cli import main;"
        " atexit.register(lambda: print(gc.get_threshold()[0], gc.get_freeze_count() > 0));"
        " main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", said, "-q", "publish", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["20000", "True"]
