"""Shared helpers for the end-to-end, CLI and bad-input tests.

Everything here builds real projects on disk (a ``config.toml`` and a ``seeds/`` folder
in a temporary directory) and reads the published feeds back with lxml and feedparser.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from click.testing import CliRunner, Result
from lxml import etree

from seedfeed.cli import cli
from seedfeed.config import load_config
from seedfeed.pipeline import Report, publish

REPO = Path(__file__).resolve().parents[1]
REFERENCE_SEED = Path(__file__).resolve().parents[2] / "shared/seeds/000_87e846f0a868ed07.txt"
BASE_URL = "http://feeds.example.test/"

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}

# A fixed point in the past for file mtimes: old enough that the store never takes a
# seed for "racy" (modified within two seconds of the scan).
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z


def make_project(
    root: Path,
    seeds: dict[str, str | bytes] | None = None,
    *,
    extra_config: str = "",
    title: str = "Test clippings",
    mtime: int | None = T0,
) -> Path:
    """Create a project in ``root``; returns the path of its ``config.toml``."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.toml"
    config.write_text(
        f'[site]\ntitle = "{title}"\nbase_url = "{BASE_URL}"\n{extra_config}', encoding="utf-8"
    )
    (root / "seeds").mkdir(exist_ok=True)
    for offset, (name, content) in enumerate((seeds or {}).items()):
        write_seed(root / "seeds", name, content, None if mtime is None else mtime + offset)
    return config


def write_seed(seeds_dir: Path, name: str, content: str | bytes, mtime: float | None = T0) -> Path:
    """Write one seed file (text as UTF-8), with ``mtime`` when given."""
    path = seeds_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def seed_text(
    title: str,
    body: str = "A first paragraph of plain text, long enough to read like an article.",
    *,
    link: str | None = None,
    published: str | None = None,
    author: str | None = None,
) -> str:
    """A seed in the clipped-article format."""
    parts = [title]
    if published:
        parts.append(f"Published: {published}")
    if author:
        parts.append(f"{author}, author of from Somewhere")
    parts.append(body)
    if link:
        parts.append(f"Content retrieved from: {link}")
    return "\n\n".join(parts) + "\n"


def run_publish(config: Path, **kwargs: object) -> Report:
    """Publish through the library, as ``seedfeed publish -c config`` does."""
    return publish(load_config(config), **kwargs)  # type: ignore[arg-type]


def invoke(args: list[str]) -> Result:
    """Run the CLI in-process; stderr is kept apart from stdout."""
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def run_subprocess(
    args: list[str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real ``seedfeed`` command (same interpreter) in a child process."""
    return subprocess.run(
        [sys.executable, "-c", "from seedfeed.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def parse_feed(path: Path) -> feedparser.FeedParserDict:
    """Parse a feed with feedparser and fail on anything it finds malformed."""
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, f"{path.name}: {parsed.get('bozo_exception')!r}"
    return parsed


def xml(path: Path) -> etree._Element:
    """The root element of a feed file, parsed strictly by lxml."""
    return etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False))


def atom_entries(path: Path) -> list[etree._Element]:
    return xml(path).findall("atom:entry", NS)


def rss_items(path: Path) -> list[etree._Element]:
    return xml(path).findall("channel/item")


def atom_entry(path: Path, title: str) -> etree._Element:
    matches = [e for e in atom_entries(path) if e.findtext("atom:title", None, NS) == title]
    assert len(matches) == 1, f"{len(matches)} entries titled {title!r} in {path.name}"
    return matches[0]


def atom_titles(path: Path) -> list[str]:
    return [e.findtext("atom:title", "", NS) for e in atom_entries(path)]


def atom_date(entry: etree._Element, tag: str) -> int:
    """An entry's ``published`` or ``updated`` date as POSIX seconds."""
    text = entry.findtext(f"atom:{tag}", None, NS)
    assert text, f"entry without <{tag}>"
    return int(datetime.fromisoformat(text).timestamp())


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``folder`` with its bytes and mtime, to prove nothing was touched."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


# `make quick` sets SEEDFEED_QUICK=1: property tests try a quarter of their examples
# there (the whole suite, and CI, try them all).
QUICK = os.environ.get("SEEDFEED_QUICK") == "1"


def examples(n: int) -> int:
    """How many examples a hypothesis property tries: ``n``, or a quarter in make quick."""
    return max(10, n // 4) if QUICK else n
