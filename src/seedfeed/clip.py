"""``seedfeed clip URL``: write a web page as a new seed, in the clipped-article format.

The seed reads back (``seeds.parse_clipped``) as the same title, author, date, link and
paragraphs, so clipping and publishing are one tool.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from .model import Article

NBSP = "\u00a0"
BULLET = "\u2022"


def clip_text(article: Article, body: str, url: str) -> str:
    """The seed text for ``article``; ``body`` is its plain text (``extract.page_text``)."""
    lines = [" ".join(article.title.split()) or url, "", NBSP, ""]
    if article.published is not None:
        lines += [f"Published: {article.published.date().isoformat()}", ""]
    if article.authors:
        lines += [f"By {' and '.join(article.authors)}", "", NBSP, ""]
    for block in body.split("\n\n"):
        block_lines = [line for line in block.splitlines() if line.strip()]
        if not block_lines:
            continue
        if all(line.startswith("- ") for line in block_lines):
            lines += [f"  {BULLET} {line[2:].strip()}" for line in block_lines]
        else:
            lines.append(" ".join(line.strip() for line in block_lines))
        lines.append("")
    lines.append(f"Content retrieved from: {url}.")
    return "\n".join(lines) + "\n"


def seed_path(seeds_dir: Path, title: str) -> Path:
    """A new file name in ``seeds_dir`` from ``title``; never an existing file."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].rstrip("-") or "clip"
    path = seeds_dir / f"{slug}.txt"
    counter = 2
    while path.exists():
        path = seeds_dir / f"{slug}-{counter}.txt"
        counter += 1
    return path


def write_seed(path: Path, text: str) -> None:
    """Create ``path`` with ``text``; fails rather than overwrite (O_EXCL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
