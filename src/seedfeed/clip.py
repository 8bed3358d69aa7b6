"""``seedfeed clip URL``: write a web page as a new seed, in the clipped-article format.

The seed reads back (``seeds.parse_clipped``) as what ``seedfeed extract`` shows of the
page: the same title, authors, date and time, link and paragraphs, so clipping and
publishing are one tool.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from .model import Article
from .normalize import LinkError, canonical_url
from .seeds import reads_as_header

NBSP = "\u00a0"
BULLET = "\u2022"
# The source line of a seed, as seeds.parse_clipped reads it.
_RETRIEVED = re.compile(r"(?im)^content\s+retrieved\s+from\s*:\s*(\S+?)\.?\s*$")
_SEED_SUFFIXES = (".txt", ".text", ".md", ".markdown")
_MAX_SEED_BYTES = 2 * 1024 * 1024


def clip_text(article: Article, body: str, url: str) -> str:
    """The seed text for ``article``; ``body`` is its plain text (``extract.page_text``).

    Dates keep their time of day; authors are written as an ``Authors:`` header line,
    which the seed reader takes as it is (a byline line must look like a name in Latin
    letters).
    """
    lines = [" ".join(article.title.split()) or url, "", NBSP, ""]
    header = []
    if article.published is not None:
        header.append(f"Published: {article.published.isoformat()}")
    if article.updated is not None and article.updated != article.published:
        header.append(f"Updated: {article.updated.isoformat()}")
    authors = [" ".join(a.split()) for a in article.authors if a.strip()]
    if authors:
        header.append(f"Authors: {', '.join(authors)}")
    if header:
        lines += [*header, "", NBSP, ""]
    first = True
    for block in body.split("\n\n"):
        block_lines = [line for line in block.splitlines() if line.strip()]
        if not block_lines:
            continue
        if all(line.startswith("- ") for line in block_lines):
            lines += [f"  {BULLET} {line[2:].strip()}" for line in block_lines]
        else:
            lines.append(" ".join(line.strip() for line in block_lines))
        # A first paragraph that reads as a header ("By John Gruber", "Source: AP")
        # would be taken for one: it is run on into the next, as one paragraph.
        if not (first and reads_as_header(lines[-1:])):
            lines.append("")
        first = False
    lines.append(f"Content retrieved from: {url}.")
    return "\n".join(lines) + "\n"


def clipped_already(seeds_dir: Path, *links: str) -> Path | None:
    """The seed in ``seeds_dir`` whose source line names one of ``links`` (compared as
    canonical links: tracking parameters and fragments aside), or ``None``."""
    wanted = {_canonical(link) for link in links} - {""}
    if not wanted or not seeds_dir.is_dir():
        return None
    for path in sorted(seeds_dir.rglob("*")):
        if path.suffix.lower() not in _SEED_SUFFIXES or not path.is_file():
            continue
        try:
            with path.open("rb") as handle:
                text = handle.read(_MAX_SEED_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        if any(_canonical(m) in wanted for m in _RETRIEVED.findall(text)):
            return path
    return None


def _canonical(link: str) -> str:
    try:
        return canonical_url(link)
    except LinkError:
        return ""


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
