"""Write feeds: feedgen builds Atom 1.0 and RSS 2.0 from entries; files are replaced
atomically and only when their bytes change."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from feedgen.feed import FeedGenerator

from . import PROJECT_URL
from .model import Entry


@dataclass(frozen=True)
class FeedMeta:
    """What a feed says about itself."""

    name: str
    title: str
    base_url: str
    author: str
    description: str = ""
    language: str = ""

    def url(self, suffix: str) -> str:
        """The public URL of this feed's file with ``suffix`` (``.atom.xml``, ``.rss.xml``)."""
        return f"{self.base_url}{self.name}{suffix}"


ATOM_SUFFIX = ".atom.xml"
TEMP_SUFFIX = ".tmp"
RSS_SUFFIX = ".rss.xml"


def render_feeds(
    meta: FeedMeta, entries: Sequence[Entry], fallback_updated: datetime
) -> dict[str, bytes]:
    """Render ``entries`` (already sorted, newest first) as Atom and RSS.

    Returns file name -> bytes. The feed's updated date is the newest entry's, or
    ``fallback_updated`` for an empty feed: never "now", so output is deterministic.
    """
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.id(meta.url(ATOM_SUFFIX))
    fg.title(meta.title)
    fg.author({"name": meta.author})
    fg.description(meta.description or meta.title)
    fg.generator("seedfeed", uri=PROJECT_URL)
    fg.docs("https://www.rssboard.org/rss-specification")
    if meta.language:
        fg.language(meta.language)
    fg.updated(max((e.updated for e in entries), default=fallback_updated))

    for entry in entries:
        fe = fg.add_entry(order="append")
        fe.id(entry.id)
        fe.guid(entry.id, permalink=bool(entry.link) and entry.id == entry.link)
        fe.title(entry.title)
        if entry.link:
            fe.link(href=entry.link, rel="alternate")
        for name in entry.authors:
            fe.author({"name": name})
        creators = entry.authors or ((meta.author,) if meta.author else ())
        for name in creators:
            fe.dc.dc_creator(name)
        fe.published(entry.published)
        fe.updated(entry.updated)
        if entry.summary:
            fe.summary(entry.summary)
        if entry.content_html:
            fe.content(entry.content_html, type="html")
        for tag in entry.tags:
            fe.category(term=tag)

    # feedgen shares one link list between both formats; each file's self link must
    # point at that file, so the links are set anew before each rendering. The site link
    # goes last because feedgen makes the last link the RSS channel's <link>.
    outputs = {}
    formats = (
        (ATOM_SUFFIX, "application/atom+xml", fg.atom_str),
        (RSS_SUFFIX, "application/rss+xml", fg.rss_str),
    )
    for suffix, mime, to_bytes in formats:
        fg.link(href=meta.url(suffix), rel="self", type=mime, replace=True)
        fg.link(href=meta.base_url, rel="alternate", type="text/html")
        outputs[meta.name + suffix] = to_bytes(pretty=True)
    return outputs


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that.

    The bytes go to a temporary file in the same folder, are fsynced, then renamed over
    the target, so a reader or a crash sees the old file or the new one, never a mix.
    Returns True when the file was written.
    """
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return True


def remove_stale_temp_files(folder: Path) -> None:
    """Delete temporary files that a killed run left behind (see ``write_if_changed``).

    Called under the publish lock, so no other run is writing them."""
    try:
        leftovers = list(folder.glob(f".*{TEMP_SUFFIX}"))
    except OSError:
        return
    for path in leftovers:
        path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on folders; the rename is still atomic
    finally:
        os.close(fd)
