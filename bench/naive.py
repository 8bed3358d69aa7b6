"""The naive baseline: seed files straight into feedgen, as a quick script would do it.

Every seed becomes an entry: the first line is the title, the rest is the content, the
file's mtime is the date. No byline, lead-in or link parsing, no normalization, no
sanitizing, no de-duplication, no state: it reads everything on every run.

Usage: ``python bench/naive.py PROJECT_DIR [-o OUT]`` (default ``PROJECT_DIR/naive.atom.xml``).
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from feedgen.feed import FeedGenerator


def build_feed(seeds_dir: Path) -> FeedGenerator:
    """A feed with one entry per ``.txt`` seed below ``seeds_dir``, in path order."""
    fg = FeedGenerator()
    fg.id("urn:naive:feed")
    fg.title("naive feed")
    fg.author({"name": "naive"})
    fg.link(href="http://127.0.0.1:8080/", rel="alternate")
    newest = datetime.fromtimestamp(0, UTC)
    for dirpath, dirnames, filenames in os.walk(seeds_dir):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".txt"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as handle:
                title, _, content = handle.read().partition("\n")
            when = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
            newest = max(newest, when)
            fe = fg.add_entry(order="append")
            fe.id(f"urn:naive:{os.path.relpath(path, seeds_dir)}")
            fe.title(title)
            fe.updated(when)
            fe.content(content)
    fg.updated(newest)
    return fg


def main(argv: list[str] | None = None) -> None:
    """Command line: ``naive.py PROJECT_DIR [-o OUT]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path, help="project folder (holding seeds/)")
    parser.add_argument("-o", "--out", type=Path, help="Atom file to write")
    args = parser.parse_args(argv)
    out = args.out or args.project / "naive.atom.xml"
    build_feed(args.project / "seeds").atom_file(str(out), pretty=True)


if __name__ == "__main__":
    main()
