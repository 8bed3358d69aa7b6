"""Rendering in a cluster: one feed per job, and the site's own files in another.

A single-machine publish renders every output at once (``pipeline._render``); here a
feed is rendered when something it is made of changed, by whichever worker takes its
job, with the same pieces: the same feeds list (``pipeline.feed_specs``), the same choice
of entries (``choose.FeedBuilder``), the same renderers. The outputs are those of a
single-machine publish of the same inputs.

Each feed (and the site, ``SITE``: index page, OPML, stylesheet, tag and author feeds)
has a row in ``renders``: ``generation`` rises with every committed change that
affects it (``raise_generations``, in the transaction of the change, which also
defers the render), ``rendered`` is the generation last written. A render reads the
generation first and writes with it (``outputs.py`` refuses to replace newer files), so
a late render never undoes a newer one. ``check_renders`` re-renders what is missing
or stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..config import Config, FeedSpec
from ..formats import FEED_FORMATS, INDEX_NAME, LABEL_FOLDERS, OPML_NAME, STYLESHEET_NAME
from ..outputs import StaleOutput
from ..pipeline import RENDER_VERSION, empty_feed_date, feed_specs, filled_by, label_feeds
from ..report import Report
from ..sources import Source
from .app import Runtime, defer_jobs, render_job

if TYPE_CHECKING:
    from datetime import datetime

    import psycopg

    from ..model import Entry
    from ..render import FeedSummary
    from .pgstore import PgStore

__all__ = [
    "SITE",
    "check_renders",
    "cluster_sources",
    "raise_generations",
    "render_feed",
    "render_site",
    "source_definition",
    "source_from_definition",
]

log = logging.getLogger("seedfeed")

# The renders row of the site's own files. Feed names start with a letter or digit.
SITE = "-site"
SITE_FILES = (INDEX_NAME, OPML_NAME, STYLESHEET_NAME)


class SeedsNotHere(RuntimeError):
    """A feed of seeds was to be rendered on a worker that cannot read the seeds."""


# --- source definitions, as the scan stores them --------------------------------------


def source_definition(source: Source) -> dict[str, Any]:
    """A source as JSON (``source_defs.definition``)."""
    raw = asdict(source)
    raw["path"] = str(source.path)
    return raw


def source_from_definition(raw: dict[str, Any]) -> Source:
    """The source a ``source_definition`` describes."""
    values = dict(raw)
    values["path"] = Path(values["path"])
    values["urls"] = tuple(values["urls"])
    values["feeds"] = tuple(values["feeds"])
    return Source(**values)


def cluster_sources(conn: psycopg.Connection[Any]) -> list[Source]:
    """Every source the last scan read (enabled or not), in the order of their files (as
    ``sources.load_sources`` gives them: the first one with a title names a feed)."""
    rows = conn.execute(
        "SELECT definition FROM source_defs ORDER BY definition->>'path' COLLATE \"C\""
    ).fetchall()
    return [source_from_definition(row[0]) for row in rows]


@dataclass(frozen=True)
class Sources:
    """The sources a scan read, and what follows from them: the feeds, which sources
    fill each (``Runtime.sources`` keeps one per worker until a scan changes them)."""

    fingerprint: str
    sources: list[Source]
    specs: list[FeedSpec]
    filled_by: dict[str, tuple[str, ...]]

    @classmethod
    def read(cls, conn: psycopg.Connection[Any], config: Config, fingerprint: str) -> Sources:
        """Read them from the database."""
        sources = cluster_sources(conn)
        return cls(fingerprint, sources, feed_specs(config, sources), filled_by(sources))

    def spec(self, name: str) -> FeedSpec | None:
        """The feed called ``name``, if there is one."""
        return next((spec for spec in self.specs if spec.name == name), None)


# --- which feeds, made of what -------------------------------------------------------------


def render_key(config: Config, what: object) -> str:
    """What a render's bytes depend on besides the store, the same on every machine:
    this seedfeed, the settings feeds show, and ``what`` (a feed, or the feeds list)."""
    parts = [
        __version__,
        str(RENDER_VERSION),
        repr(config.site),
        repr(config.publish),
        repr(config.websub),
        repr((config.by_tag, config.by_author)),
        repr(what),
    ]
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def raise_generations(
    conn: psycopg.Connection[Any], names: Iterable[str], delay: float = 0.0
) -> None:
    """Say that what ``names`` are made of changed: raise their generations and defer
    their renders (in ``delay`` seconds, see ``app.render_job``), in ``conn``'s
    transaction (kept or undone with the change). Called last before the commit: the
    rows stay locked until then."""
    wanted = sorted(set(names))  # always in one order: two transactions never deadlock
    if not wanted:
        return
    conn.execute(
        "INSERT INTO renders (name) SELECT unnest(%s::text[])"
        " ON CONFLICT (name) DO UPDATE SET generation = renders.generation + 1",
        (wanted,),
    )
    defer_jobs(conn, [render_job(name, delay) for name in wanted])


def _generation(conn: psycopg.Connection[Any], name: str) -> int:
    """The generation of ``name`` now (read without locking its row: a render holds no
    lock while it works, only for a moment at the end, in ``_finish``)."""
    conn.execute("INSERT INTO renders (name) VALUES (%s) ON CONFLICT DO NOTHING", (name,))
    row = conn.execute("SELECT generation FROM renders WHERE name = %s", (name,)).fetchone()
    return int(row[0]) if row else 1


def _finish(
    conn: psycopg.Connection[Any],
    name: str,
    generation: int,
    key: str,
    affected: list[str],
    delay: float,
) -> None:
    """Record that ``name`` was rendered at ``generation``, and raise the generations of
    what that affects; the rows are locked in name order, as every job locks them."""
    names = sorted({name, *affected})
    conn.execute("SELECT 1 FROM renders WHERE name = ANY(%s) ORDER BY name FOR UPDATE", (names,))
    conn.execute(
        "UPDATE renders SET rendered = greatest(rendered, %s), key = %s, rendered_at = %s"
        " WHERE name = %s",
        (generation, key, time.time(), name),
    )
    raise_generations(conn, affected, delay)


# --- rendering -------------------------------------------------------------------------------


def _feed_files(
    config: Config, spec: FeedSpec, entries: list[Entry], fallback: datetime
) -> tuple[dict[str, bytes], FeedSummary]:
    """One feed in every format, and its summary for the index (as a publish does)."""
    from ..render import feed_files, feed_meta, summarize

    meta = feed_meta(config, spec)
    return feed_files(meta, entries, fallback), summarize(meta, entries)


def _choose(
    runtime: Runtime, store: PgStore, specs: list[FeedSpec], sources: Sources
) -> tuple[list[list[Entry]], bool]:
    """Each feed's entries, as a publish chooses them; and whether a seed turned out
    broken on the way (the store settled it: other feeds of seeds changed too)."""
    from ..choose import FeedBuilder
    from ..scan import SeedPaths

    project = runtime.project
    if any(spec.include for spec in specs) and (
        runtime.seeds is None or not runtime.seeds.is_dir()
    ):
        row = store.connection.execute("SELECT EXISTS (SELECT 1 FROM seeds WHERE ok)").fetchone()
        if row and row[0]:
            raise SeedsNotHere(f"{project.paths.seeds}: the seeds cannot be read on this worker")
    builder = FeedBuilder(
        project, store, SeedPaths(str(project.paths.seeds)), Report(), dict(sources.filled_by)
    )
    chosen = [builder.newest(spec) for spec in specs]
    broke = builder.broke
    while builder.broke:  # as pipeline._render: settle, then choose again
        builder.broke = False
        store.settle(int(time.time()))
        chosen = [builder.newest(spec) for spec in specs]
    return chosen, broke


def render_feed(runtime: Runtime, name: str) -> list[str]:
    """Render the feed ``name`` and write the files that changed; returns their names."""
    config = runtime.config
    with runtime.store(render=True) as store:
        conn = store.connection
        generation = _generation(conn, name)  # read first: the output shows at least this
        sources = runtime.sources(conn)
        spec = sources.spec(name)
        if spec is None:  # no such feed any more (its source went)
            _finish(conn, name, generation, "", [], 0)
            store.commit()
            return []
        (entries,), broke = _choose(runtime, store, [spec], sources)
        files, summary = _feed_files(
            runtime.project, spec, entries, empty_feed_date(runtime.project)
        )
        try:
            written = runtime.outputs.write(files, generation)
        except StaleOutput as exc:
            log.info("%s", exc)
            return []
        affected = [SITE] if written else []
        if broke:  # a seed went: every feed of seeds may show another
            affected += [s.name for s in sources.specs if s.include and s.name != name]
        delay = config.cluster.render_delay
        _finish(conn, name, generation, render_key(config, spec), affected, delay)
        store.commit()
    if written:
        log.info("rendered %s: %s", name, ", ".join(written))
        _ping(config, [summary], written)
    return written


def render_site(runtime: Runtime) -> list[str]:
    """Render the site's own files (index page, OPML, stylesheet) and the tag and author
    feeds; write those that changed and remove the feeds of labels that went."""
    from ..render import feed_files, feed_meta, site_files, summarize

    config = runtime.config
    with runtime.store(render=True) as store:
        conn = store.connection
        generation = _generation(conn, SITE)
        sources = runtime.sources(conn)
        specs = [*sources.specs, *label_feeds(runtime.project, store)]
        chosen, broke = _choose(runtime, store, specs, sources)
        fallback = empty_feed_date(runtime.project)
        files: dict[str, bytes] = {}
        summaries: list[FeedSummary] = []
        for spec, entries in zip(specs, chosen, strict=True):
            meta = feed_meta(runtime.project, spec)
            summaries.append(summarize(meta, entries))
            # The feeds people made have renders of their own: only the tag and author
            # feeds are written here (rendering every feed for the index cost a third of
            # a worker's CPU).
            if spec.name.startswith(tuple(f"{folder}/" for folder in LABEL_FOLDERS)):
                files.update(feed_files(meta, entries, fallback))
        files.update(site_files(config, summaries))
        try:
            written = runtime.outputs.write(files, generation)
        except StaleOutput as exc:
            log.info("%s", exc)
            return []
        runtime.outputs.remove_obsolete(files, LABEL_FOLDERS)
        plain = [spec for spec in specs if "/" not in spec.name]  # not the tag/author feeds
        affected = [spec.name for spec in plain if spec.include] if broke else []
        _finish(conn, SITE, generation, render_key(config, plain), affected, 0)
        store.commit()
    if written:
        log.info("rendered the site: %s", ", ".join(written))
        _ping(config, summaries, written)
    return written


def _ping(config: Config, summaries: list[FeedSummary], written: list[str]) -> None:
    """Tell the WebSub hub about the feed files that changed (as a publish does)."""
    from ..pipeline import ping_changed

    for reason in ping_changed(config, summaries, written):
        log.warning("%s: %s", config.websub.hub, reason)


def check_renders(runtime: Runtime, conn: psycopg.Connection[Any]) -> int:
    """Defer the render of every feed (and of the site) whose files are missing, older
    than what they are made of, or made with other settings. Returns how many."""
    config = runtime.config
    specs = runtime.sources(conn).specs
    keys = {spec.name: render_key(config, spec) for spec in specs}
    keys[SITE] = render_key(config, specs)
    conn.execute(
        "INSERT INTO renders (name) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
        (sorted(keys),),
    )
    rows = conn.execute(
        "SELECT name, generation, rendered, key FROM renders WHERE name = ANY(%s)",
        (list(keys),),
    ).fetchall()
    stale = {name for name, generation, rendered, key in rows if rendered < generation}
    stale |= {name for name, _g, _r, key in rows if key != keys[name]}
    from ..render import feed_meta

    expected = {
        feed_meta(config, spec).file(suffix): spec.name
        for spec in specs
        for suffix, _t, _l in FEED_FORMATS
    }
    expected.update(dict.fromkeys(SITE_FILES, SITE))
    stale |= {expected[name] for name in runtime.outputs.missing(expected)}
    delay = config.cluster.render_delay  # as if they had just changed: bursts coalesce
    deferred = defer_jobs(conn, [render_job(name, delay) for name in sorted(stale)])
    conn.commit()
    if deferred:
        log.info("%d feeds to render again (missing, stale or other settings)", deferred)
    return deferred


def sources_fingerprint(folder: Path) -> str:
    """What the source files are, cheaply (names, sizes, times): a scan reads them only
    when it changed."""
    try:
        items = sorted(
            (path.name, st.st_size, st.st_mtime_ns)
            for path in folder.glob("*.toml")
            if (st := path.stat())
        )
    except OSError:
        items = []
    return hashlib.blake2b(json.dumps(items).encode(), digest_size=16).hexdigest()
