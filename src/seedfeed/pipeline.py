"""The pipeline, run once: what ``seedfeed publish`` and every scheduled job call.

``publish`` takes the project's lock and its store, then runs the steps in order: scan
the seeds, enrich them, harvest the sources, choose each feed's entries, render every
output, write them all (or none), remember the run, ping the WebSub hub.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import stat
import time
import unicodedata
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .config import Config, FeedSpec
from .dates import from_timestamp
from .errors import SeedfeedError
from .formats import FEED_FORMATS, INDEX_NAME, LABEL_FOLDERS, OPML_NAME, STYLESHEET_NAME
from .report import Progress, Report
from .scan import SeedPaths, scan_seeds
from .sources import Source, SourceError, kept_sources, load_sources
from .store import OutputsRecord, RunRecord, StateStore, open_store
from .writer import remove_obsolete, remove_stale_temp_files, write_all

if TYPE_CHECKING:
    from .render import FeedSummary

log = logging.getLogger("seedfeed")

# Raise when what the renderer makes of the same entries changes: outputs written by an
# older renderer are then written again even though nothing else changed.
RENDER_VERSION = 3


class LockTimeout(SeedfeedError):
    """Another publish held the project's lock for longer than we would wait."""


class PublishError(SeedfeedError):
    """The run cannot start (the seeds folder is missing, ...)."""


@contextmanager
def publish_lock(state_dir: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold the project's publish lock, so two runs (a daemon, a manual publish) never
    write at once. Waits up to ``timeout`` seconds for the other run to finish."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(state_dir / "publish.lock", "a")  # noqa: SIM115  # closed below
    except OSError as exc:  # a file in its place, no permission, a read-only disk
        reason = (exc.strerror or type(exc).__name__).lower()
        raise PublishError(f"{state_dir}: cannot use it as the state folder ({reason})") from None
    with handle:
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"{state_dir}: another publish is still running after {timeout:.0f} s"
                    ) from None
                if not waiting:
                    log.info("waiting for the publish that is running to finish")
                    waiting = True
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_folders(config: Config) -> None:
    """Refuse a run whose configured folders cannot be: a path that names a file, a
    seeds folder that is not there. A configuration error (exit 2), said before
    anything is read, the same for every folder."""
    paths = config.paths
    for name in ("seeds", "feeds", "state", "sources"):
        path = getattr(paths, name)
        try:
            folder = stat.S_ISDIR(os.stat(path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            if name == "seeds":
                raise PublishError(f"{path}: seeds folder not found") from None
            continue  # made when first needed
        except OSError:
            continue  # (no permission, say: the step that uses it says why)
        if not folder:
            raise PublishError(f"{path}: not a folder (paths.{name}); nothing published")


def describe_failure(exc: BaseException) -> str:
    """One line for an unexpected failure of ``publish``, true about the feeds."""
    written = getattr(exc, "seedfeed_written", None)
    if written:
        return f"publish failed after writing {', '.join(written)}: {exc!r}"
    return f"publish failed, previous feeds left as they were: {exc!r}"


def publish(
    config: Config,
    *,
    dry_run: bool = False,
    lock_timeout: float = 600.0,
    progress: Progress | None = None,
    refresh: bool | Collection[str] = False,
) -> Report:
    """Run the pipeline once for ``config``; returns what it did.

    With ``dry_run`` (``seedfeed check``) the same run goes against a throwaway store in
    memory and writes no file. Raises ``PublishError``, ``LockTimeout``, ``StoreError``
    or ``WriteError`` (all ``SeedfeedError``); bad inputs are warnings in the report.
    ``refresh`` fetches all sources (``True``) or the sources named now, whatever their
    backoff (``seedfeed refresh``).
    """
    started = time.perf_counter()
    _check_folders(config)
    report = Report(progress=progress)
    if dry_run:
        with open_store(None) as store:
            _run(config, report, store, write=False)
    else:
        with (
            publish_lock(config.paths.state, lock_timeout),
            open_store(config.paths.state) as store,
        ):
            try:
                _run(config, report, store, write=True, refresh=refresh)
            except Exception as exc:
                # What became of the feeds, for the one line that reports the failure.
                exc.seedfeed_written = report.written  # type: ignore[attr-defined]
                raise
    report.seconds = time.perf_counter() - started
    return report


def _run(
    config: Config,
    report: Report,
    store: StateStore,
    *,
    write: bool,
    refresh: bool | Collection[str] = False,
) -> None:
    with report.stage("scan"):
        paths = scan_seeds(config, report, store, whole=not write, beside=_import_renderer)
    if config.seeds.enrich and write:
        with report.stage("enrich"):
            _enrich(config, store, report)
    sources = _sources(config, report)
    with report.stage("sources"):
        if write and any(source.enabled for source in sources):
            _harvest(config, store, sources, report, refresh)
        elif write:  # no source left: the entries of deleted ones go all the same
            store.sync_sources([], keep=kept_sources(config.paths.sources, sources))
    feeds = feed_specs(config, sources) + label_feeds(config, store)
    if write and _outputs_current(config, feeds, store, report):
        store.record_run(_run_record(report))
        store.commit()
        return
    with report.stage("render"):
        outputs, summaries = _render(config, feeds, sources, store, paths, report)
    if not write:
        return
    # Every output is rendered before any is written, and written all or none
    # (writer.py): readers see this publish's files or the previous one's.
    with report.stage("write"):
        remove_stale_temp_files(config.paths.feeds)
        report.written = write_all(config.paths.feeds, outputs)
    remove_obsolete(config.paths.feeds, outputs, LABEL_FOLDERS)
    report.unchanged_files = [name for name in outputs if name not in report.written]
    store.set_outputs(
        OutputsRecord(
            _outputs_key(config, feeds),
            dict(report.entries),
            report.articles,
            store.generation(),
        )
    )
    # Committed after the feeds are written: a run killed before this point is redone in
    # full next time, and yields the same ids and dates because they come from mtimes.
    store.record_run(_run_record(report))
    store.commit()
    if config.websub.hub:
        _ping(config, summaries, report)


def _output_names(feeds: list[FeedSpec]) -> list[str]:
    return [spec.name + suffix for spec in feeds for suffix, _t, _l in FEED_FORMATS] + [
        INDEX_NAME,
        OPML_NAME,
        STYLESHEET_NAME,
    ]


def _outputs_key(config: Config, feeds: list[FeedSpec]) -> str:
    """A fingerprint of what the outputs are made from besides the store: the renderer,
    the configuration, the feeds, the date of an empty feed, and the output files as
    they are on disk (a file deleted or edited by hand is written again)."""
    parts = [__version__, str(RENDER_VERSION), repr(config), repr(feeds)]
    parts.append(empty_feed_date(config).isoformat())
    for name in _output_names(feeds):
        try:
            st = (config.paths.feeds / name).stat()
            parts.append(f"{name} {st.st_size} {st.st_mtime_ns} {st.st_ino}")
        except OSError:
            parts.append(f"{name} -")
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def _outputs_current(
    config: Config, feeds: list[FeedSpec], store: StateStore, report: Report
) -> bool:
    """True when this run changed nothing the outputs are made of, so that rendering
    them again would give the bytes on disk (the common cron run): nothing is rendered.
    Fills the report as a rendering would."""
    last = store.outputs()
    if (
        store.changed()
        or last is None
        or last.generation != store.generation()  # another process changed the store
        or last.key != _outputs_key(config, feeds)
    ):
        return False
    report.entries = dict(last.entries)
    report.articles = last.articles
    report.unchanged_files = _output_names(feeds)
    return True


def _enrich(config: Config, store: StateStore, report: Report) -> None:
    from .harvest import enrich_seeds  # lazily: requests and the extractor

    enrich_seeds(config, store, report.warn, tick=report.tick)


def _sources(config: Config, report: Report) -> list[Source]:
    """The source definitions; a file that cannot be used is skipped, named by its path
    below the project, like a seed (``check`` and ``--strict`` count it)."""
    try:
        sources, errors = load_sources(config.paths.sources)
    except SourceError as exc:  # not an empty folder: every source's entries would go
        message = f"{exc}; nothing published, previous feeds left as they were"
        raise SourceError(message) from None
    for line in errors:
        path, _, reason = line.partition(": ")
        report.skip(_below(config.root, path), f"source: {reason}")
    report.bad_sources += len(errors)
    return sources


def _below(root: Path, path: str) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:  # a sources folder outside the project
        return path


def _harvest(
    config: Config,
    store: StateStore,
    sources: list[Source],
    report: Report,
    refresh: bool | Collection[str],
) -> None:
    from .harvest import refresh_sources  # lazily: requests and the extractor

    report.sources = refresh_sources(
        config, store, sources, report.warn, refresh=refresh, tick=report.tick
    )


def feed_specs(config: Config, sources: list[Source]) -> list[FeedSpec]:
    """The feeds to write: the configured ones, then those only sources name, titled by
    the first of their sources that has a title (a disabled source makes none)."""
    feeds = list(config.all_feeds())
    enabled = [source for source in sources if source.enabled]
    titles: dict[str, str] = {}
    for source in enabled:
        for name in source.feeds:
            if source.title and name not in titles:
                titles[name] = source.title
    known = {spec.name for spec in feeds}
    return feeds + [
        FeedSpec(
            name,
            titles.get(name, f"{config.site.title}: {name}"),
            include=(),
            max_entries=config.publish.max_entries,
        )
        for name in sorted({name for source in enabled for name in source.feeds} - known)
    ]


def filled_by(sources: list[Source]) -> dict[str, tuple[str, ...]]:
    """Which enabled sources fill each feed, by name, in the sources' order."""
    filled: dict[str, list[str]] = {}
    for source in sources:
        for name in source.feeds if source.enabled else ():
            filled.setdefault(name, []).append(source.name)
    return {name: tuple(names) for name, names in filled.items()}


def label_feeds(config: Config, store: StateStore) -> list[FeedSpec]:
    """The feed of each tag and of each author, when ``[feeds] by_tag`` / ``by_author``
    ask for them (``feeds/tag/<slug>.atom.xml``, as Pelican names them)."""
    if not (config.by_tag or config.by_author):
        return []
    tags, authors = store.labels()
    specs: list[FeedSpec] = []
    for kind, names, wanted in (
        ("tag", tags, config.by_tag),
        ("author", authors, config.by_author),
    ):
        taken: set[str] = set()
        for name in names if wanted else ():
            slug = base = slugify(name)
            number = 2
            while slug in taken:  # "C++" and "C" both make "c"
                slug, number = f"{base}-{number}", number + 1
            taken.add(slug)
            filters = {"tags": (name,)} if kind == "tag" else {"authors": (name,)}
            specs.append(
                FeedSpec(
                    f"{kind}/{slug}",
                    f"{config.site.title}: {name}",
                    max_entries=config.publish.max_entries,
                    **filters,  # type: ignore[arg-type]
                )
            )
    return specs


def slugify(text: str) -> str:
    """A file name for a tag or an author: lowercase ASCII letters, digits and dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]
    # A name with no Latin letters at all: named by its digest.
    return slug or "x-" + hashlib.blake2b(text.encode(), digest_size=5).hexdigest()


def _import_renderer() -> None:
    """Import what ``_render`` imports, while parse workers keep the cores busy (40 ms
    of a cold run that would wait for the scan to end: feedgen, lxml, dateutil)."""
    with suppress(Exception):  # _render imports them again, and says what fails
        from . import choose, render  # noqa: F401


def _render(
    config: Config,
    feeds: list[FeedSpec],
    sources: list[Source],
    store: StateStore,
    paths: SeedPaths,
    report: Report,
) -> tuple[dict[str, bytes], list[FeedSummary]]:
    """Every output file's bytes: each feed in each format, the index page, the OPML.

    A seed a feed was to show may turn out broken as it is read whole: the store then
    settles its entry (another seed of it may take its place) and the feeds are chosen
    again, so the outputs match the store.
    """
    # Imported here: a run that changed nothing renders nothing (feedgen, lxml, nh3).
    from .choose import FeedBuilder
    from .render import feed_files, feed_meta, site_files, summarize

    fallback = empty_feed_date(config)
    builder = FeedBuilder(config, store, paths, report, filled_by(sources))
    chosen = [builder.newest(spec) for spec in feeds]
    while builder.broke:
        builder.broke = False
        store.settle(int(time.time()))
        chosen = [builder.newest(spec) for spec in feeds]
    outputs: dict[str, bytes] = {}
    summaries: list[FeedSummary] = []
    articles: set[str] = set()
    for spec, entries in zip(feeds, chosen, strict=True):
        report.entries[spec.name] = len(entries)
        articles.update(entry.id for entry in entries)
        meta = feed_meta(config, spec)
        outputs.update(feed_files(meta, entries, fallback))
        summaries.append(summarize(meta, entries))
    report.articles = len(articles)
    outputs.update(site_files(config, summaries))
    return outputs, summaries


def empty_feed_date(config: Config) -> datetime:
    """The updated date of a feed with no entries: a date of the inputs (the config
    file's, or the seeds folder's), never "now", so that output is deterministic."""
    origin = config.file if config.file is not None else config.paths.seeds
    return from_timestamp(origin.stat().st_mtime)


def _run_record(report: Report) -> RunRecord:
    return RunRecord(
        at=int(time.time()),
        seeds=report.seeds,
        skipped=len(report.skipped),
        warnings=len(report.warnings),
        entries=sum(report.entries.values()),
        written=tuple(report.written),
        sources_failed=report.sources.failed if report.sources else 0,
    )


def _ping(config: Config, summaries: list[FeedSummary], report: Report) -> None:
    for reason in ping_changed(config, summaries, report.written):
        report.warn(config.websub.hub, reason)


def ping_changed(
    config: Config, summaries: Iterable[FeedSummary], written: Iterable[str]
) -> list[str]:
    """Tell the WebSub hub about the feed files that changed (only those: the hub fetches
    each topic it is told about and pushes it to every subscriber); returns why the hub
    was not told, if it was not (one reason per failure)."""
    if not config.websub.hub:
        return []
    from .web.websub import ping_hub  # lazily: requests

    done = set(written)
    topics = [
        summary.meta.url(suffix)
        for summary in summaries
        for suffix, _media_type, _label in FEED_FORMATS
        if summary.meta.file(suffix) in done
    ]
    return list(ping_hub(config.websub.hub, topics)) if topics else []
