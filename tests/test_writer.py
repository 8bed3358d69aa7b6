"""seedfeed.writer: outputs are replaced all together or not at all.

Faults are injected at every step (the n-th temporary file, the n-th rename) of a real
publish; one test fills a real tmpfs, where the machine allows mounting one.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import seedfeed.writer
from helpers import T0, invoke, make_project, parse_feed, seed_text, snapshot, write_seed
from seedfeed.writer import WriteError, remove_stale_temp_files, write_all

# --- the basics -------------------------------------------------------------------------


def test_writes_new_files(tmp_path: Path) -> None:
    folder = tmp_path / "sub"
    assert write_all(folder, {"all.atom.xml": b"<feed/>", "all.json": b"{}"}) == [
        "all.atom.xml",
        "all.json",
    ]
    assert (folder / "all.atom.xml").read_bytes() == b"<feed/>"
    assert sorted(os.listdir(folder)) == ["all.atom.xml", "all.json"]
    assert oct((folder / "all.json").stat().st_mode & 0o777) == oct(0o644)


def test_same_bytes_are_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "all.atom.xml"
    write_all(tmp_path, {"all.atom.xml": b"<feed/>"})
    old = 1_000_000_000_000_000_000
    os.utime(target, ns=(old, old))
    inode = target.stat().st_ino
    assert write_all(tmp_path, {"all.atom.xml": b"<feed/>"}) == []
    assert (target.stat().st_mtime_ns, target.stat().st_ino) == (old, inode)


def test_only_changed_files_are_written(tmp_path: Path) -> None:
    write_all(tmp_path, {"a.xml": b"1", "b.xml": b"2"})
    # Same length, other bytes: compared by content, not size.
    assert write_all(tmp_path, {"a.xml": b"1", "b.xml": b"3"}) == ["b.xml"]
    assert (tmp_path / "b.xml").read_bytes() == b"3"
    assert sorted(os.listdir(tmp_path)) == ["a.xml", "b.xml"]


def test_stale_temp_files_are_swept(tmp_path: Path) -> None:
    (tmp_path / ".all.atom.xml.abc.tmp").write_bytes(b"half")
    (tmp_path / ".all.rss.xml.abc.old.tmp").write_bytes(b"old")
    (tmp_path / "all.atom.xml").write_bytes(b"<feed/>")
    remove_stale_temp_files(tmp_path)
    assert os.listdir(tmp_path) == ["all.atom.xml"]


# --- faults at every step of a real publish -------------------------------------------


def _project(tmp_path: Path) -> Path:
    """A project with two feeds, published once; then a change that rewrites every file."""
    config = make_project(
        tmp_path,
        {"a.txt": seed_text("Alpha"), "science/b.txt": seed_text("Beta")},
        extra_config='[feeds.science]\ninclude = ["science/*"]\n',
    )
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    write_seed(tmp_path / "seeds", "science/c.txt", seed_text("Gamma"), T0 + 100)
    (tmp_path / "config.toml").write_text(
        (tmp_path / "config.toml").read_text().replace("Test clippings", "Renamed clippings")
    )
    return config


def _changed_files(tmp_path: Path) -> int:
    """How many files the pending publish would write (in a copy of the project)."""
    copy = tmp_path.parent / f"{tmp_path.name}-copy"
    shutil.copytree(tmp_path, copy)
    result = invoke(["publish", "-c", str(copy / "config.toml")])
    assert result.exit_code == 0
    return len(result.stderr.split("written: ")[1].split(", "))


def _fail_on(n: int, real: Callable[..., Any]) -> Callable[..., Any]:
    calls = {"count": 0}

    def step(*args: Any) -> Any:
        calls["count"] += 1
        if calls["count"] == n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args)

    return step


@pytest.fixture
def pending(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    config = _project(tmp_path / "p")
    yield config, _changed_files(tmp_path / "p")


@pytest.mark.parametrize("step", ["_write_temp", "replace"])
def test_a_fault_at_any_step_leaves_every_previous_file(
    pending: tuple[Path, int], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    config, changed = pending
    feeds = config.parent / "feeds"
    assert changed == 8  # 2 feeds x (Atom, RSS, JSON) + index.html + feeds.opml
    before = snapshot(feeds)
    for n in range(1, changed + 1):
        with monkeypatch.context() as patch:
            if step == "_write_temp":
                patch.setattr(
                    seedfeed.writer, "_write_temp", _fail_on(n, seedfeed.writer._write_temp)
                )
            else:
                patch.setattr(seedfeed.writer.os, "replace", _fail_on(n, os.replace))
            result = invoke(["publish", "-c", str(config)])
        assert result.exit_code == 1, (n, result.stderr)
        assert "No space left on device; no feed file was changed" in result.stderr, n
        assert "Traceback" not in result.stderr
        assert snapshot(feeds) == before, f"a fault at {step} #{n} changed the feeds"
    # And with the disk back, the publish goes through whole.
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    titles = [e.title for e in parse_feed(feeds / "science.atom.xml").entries]
    assert sorted(titles) == ["Beta", "Gamma"]
    assert parse_feed(feeds / "all.rss.xml").feed.title == "Renamed clippings"


def test_undo_that_fails_says_which_files_are_new(tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "a.xml").write_bytes(b"old a")
    # b.xml's target is a non-empty folder: renaming over it fails, after a.xml was
    # replaced. a.xml's previous version comes back.
    (folder / "b.xml").mkdir()
    (folder / "b.xml" / "x").write_bytes(b"")
    with pytest.raises(WriteError, match="no feed file was changed"):
        write_all(folder, {"a.xml": b"new a", "b.xml": b"new b"})
    assert (folder / "a.xml").read_bytes() == b"old a"
    assert sorted(os.listdir(folder)) == ["a.xml", "b.xml"]


# --- a real full disk -------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs, where this machine lets the tests mount one (as root)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk_changes_no_feed(tmp_path: Path, small_disk: Path) -> None:
    config = make_project(
        tmp_path,
        {f"s{i}.txt": seed_text(f"Seed {i}") for i in range(5)},
        extra_config=f'[paths]\nfeeds = "{small_disk}"\n',
    )
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    before = snapshot(small_disk)
    # Fill the disk, then make every feed grow.
    with open(small_disk / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    for i in range(5, 40):
        write_seed(tmp_path / "seeds", f"s{i}.txt", seed_text(f"Seed {i}", "Word " * 200))
    result = invoke(["publish", "-c", str(config)])
    assert result.exit_code == 1
    assert "No space left on device; no feed file was changed" in result.stderr
    (small_disk / "filler").unlink()
    assert snapshot(small_disk) == before
    assert invoke(["publish", "-c", str(config)]).exit_code == 0
    assert len(parse_feed(small_disk / "all.atom.xml").entries) == 40
