"""The ``seedfeed`` command: thin, it parses arguments and calls the library.

Exit codes: 0 published (bad seeds skipped with warnings), 1 failure (a source, the
disk, the lock, the state store, a bug), 2 usage or configuration error, 3 seeds were
skipped and ``--strict`` was given (``check``: whenever one would be). Library errors
become exit codes in one place, ``_Group.invoke``.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import click

from . import __version__
from .errors import SeedfeedError, UsageError

if TYPE_CHECKING:
    from rich.progress import TaskID

    from .config import Config
    from .report import Progress, Report

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3


class _Stderr:
    """Lines for the user on stderr, through rich (imported on the first line: it costs
    more than the rest of ``seedfeed --version``)."""

    def __init__(self) -> None:
        self._console: Any = None

    @property
    def console(self) -> Any:
        """The rich console (made on first use)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
        return self._console

    def print(self, text: str, *, markup: bool = False) -> None:
        """One line on stderr: plain where it is not a terminal (cron, a pipe: no rich
        import for a run's warnings), through rich on one (beside a progress display)."""
        if self._console is None and not markup and not sys.stderr.isatty():
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
            return
        self.console.print(text, markup=markup)


err = _Stderr()
log = logging.getLogger("seedfeed")


class CommandError(click.ClickException):
    """What a command tells the user when it stops: one line on stderr (with ``--json``,
    also ``{"exit": N, "error": "..."}`` on stdout), and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class
        self.as_json = ctx_json()  # shown after the command's context is gone

    def show(self, file: IO[Any] | None = None) -> None:
        err.print(f"error: {self.format_message()}", markup=False)
        if self.as_json:
            _print_json({"exit": self.exit_code, "error": self.format_message()})


def _exit_code(exc: SeedfeedError) -> int:
    """The exit code of a library error: 2 for what the user asked or configured, else 1."""
    from .config import ConfigError
    from .pipeline import PublishError
    from .scaffold import ScaffoldError

    usage: tuple[type[SeedfeedError], ...] = (ConfigError, PublishError, ScaffoldError, UsageError)
    return EXIT_USAGE if isinstance(exc, usage) else EXIT_FAILURE


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SeedfeedError as exc:  # every error the library raises on purpose
            raise CommandError(str(exc), _exit_code(exc)) from None


def _stop(code: int) -> NoReturn:
    raise click.exceptions.Exit(code)


class _LineHandler(logging.Handler):
    """One plain line per message on stderr: ``warning: seeds/x.txt: skipped: empty file``;
    a long-running command (``run``, ``serve``) starts each line with its time."""

    stamped = False

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.levelname.lower()}: {record.getMessage()}"
        if self.stamped:
            line = time.strftime("%Y-%m-%d %H:%M:%S ", time.localtime(record.created)) + line
        err.print(line, markup=False)


def _long_running() -> None:
    """What ``run`` and ``serve`` log: one line per publish or request, with its time."""
    _LineHandler.stamped = True
    for name in ("seedfeed", "seedfeed.serve"):
        logger = logging.getLogger(name)
        if not ctx_quiet() and logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet or ctx_json() else logging.DEBUG if verbose else logging.WARNING
    log.handlers[:] = [_LineHandler()]
    log.setLevel(level)
    log.propagate = False


PORT = click.IntRange(0, 65535)


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(dict)["json"] = True
        ctx.find_root().ensure_object(dict)["json"] = True
        log.setLevel(logging.ERROR)  # the JSON holds the warnings; stderr keeps errors


json_option = click.option(
    "--json", "as_json", is_flag=True, expose_value=False, callback=_set_json, is_eager=False,
    help="Print one JSON object on stdout (see README).",
)  # fmt: skip

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="config.toml, or the folder holding it (default: ./config.toml).",
)


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: int | bool) -> None:
    # -v/-q may be given to the group and to the subcommand; both land in one dict.
    state = ctx.ensure_object(dict)
    if param.name == "verbose":
        state["verbose"] = max(int(value), state.get("verbose", 0))
    else:
        state["quiet"] = bool(value) or state.get("quiet", False)
    _setup_logging(state.get("verbose", 0), state.get("quiet", False))


def verbosity(command: Callable[..., None]) -> Callable[..., None]:
    """``-v``/``-q``, accepted before and after the subcommand name."""
    command = click.option(
        "-v", "--verbose", count=True, expose_value=False, callback=_set_verbosity,
        help="Say more (repeatable).",
    )(command)  # fmt: skip
    return click.option(
        "-q", "--quiet", is_flag=True, expose_value=False, callback=_set_verbosity,
        help="Only errors.",
    )(command)  # fmt: skip


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seedfeed")
@verbosity
def cli() -> None:
    """Publish folders of clipped articles as Atom and RSS feeds."""


def _load(config_path: Path | None) -> Config:
    from .config import load_config

    return load_config(config_path)


def _run(config: Config, *, dry_run: bool, refresh: bool | Collection[str] = False) -> Report:
    from .pipeline import describe_failure, publish

    if _own_process:
        _one_run_gc()
    try:
        with _progress() as progress:
            return publish(config, dry_run=dry_run, progress=progress, refresh=refresh)
    except SeedfeedError:
        raise
    except Exception as exc:  # a bug or the disk: say so, and what became of the feeds
        log.debug("traceback", exc_info=True)
        raise CommandError(describe_failure(exc)) from None


@contextmanager
def _progress() -> Iterator[Progress | None]:
    """A progress display on a terminal (stderr), for the stages that take a while;
    nothing when stderr is not a terminal (cron), with ``-q`` or ``--json``."""
    if ctx_quiet() or ctx_json() or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err.console, transient=True) as display:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = display.add_task(stage, total=total)
            display.update(tasks[stage], completed=done, total=total)

        yield update


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def _summary(report: Report) -> str:
    """The line a publish ends with: articles, feeds, seeds, what was written."""
    written = ", ".join(report.written) or "none (all up to date)"
    skipped = f", {report.seeds_skipped:,} skipped" if report.seeds_skipped else ""
    return (
        f"published {_plural(report.articles, 'article')} in"
        f" {_plural(len(report.entries), 'feed')} from {_plural(report.seeds, 'seed')}"
        f" ({report.parsed:,} read, {report.unchanged:,} unchanged{skipped})"
        f"{_others_skipped(report)} in {report.seconds:.2f} s; written: {written}"
    )


def _others_skipped(report: Report) -> str:
    """What was skipped besides seeds, to follow the seeds' count: for example
    ``, 2 sources skipped, 1 folder not listed``."""
    parts = []
    if report.bad_sources:
        parts.append(f", {_plural(report.bad_sources, 'source')} skipped")
    if report.bad_folders:
        parts.append(f", {_plural(report.bad_folders, 'folder')} not listed")
    return "".join(parts)


def _standing(report: Report) -> str | None:
    """One line for the problems an earlier run already named one by one, so that a
    cron mail still shows them."""
    parts = []
    if report.standing:
        names = ", ".join(path for path, _reason in report.standing[:3])
        more = f" and {len(report.standing) - 3:,} more" if report.standing[3:] else ""
        parts.append(f"{_plural(len(report.standing), 'seed')} still skipped ({names}{more})")
    if report.duplicates:
        parts.append(f"{_plural(report.duplicates, 'duplicate seed')} published once")
    if parts:
        parts[-1] += " (seedfeed check lists them with the reasons)"
    if report.sources is not None:
        from .dates import from_timestamp

        if backing_off := report.sources.backing_off:
            first = min(when for _url, _why, when in backing_off)
            names = ", ".join(url for url, _why, _when in backing_off[:2])
            more = f" and {len(backing_off) - 2:,} more" if backing_off[2:] else ""
            when = from_timestamp(first)
            today = when.date() == from_timestamp(time.time()).date()
            parts.append(
                f"{_plural(len(backing_off), 'source URL')} failing, backing off ({names}{more});"
                f" next try {when:%H:%M UTC}{'' if today else f' on {when:%Y-%m-%d}'}"
                " (seedfeed refresh tries now, seedfeed status says why)"
            )
        if unread := report.sources.unread_pages:
            names = ", ".join(url for url, _why in unread[:2])
            more = f" and {len(unread) - 2:,} more" if unread[2:] else ""
            parts.append(
                f"{_plural(len(unread), 'announced page')} not read yet ({names}{more};"
                " seedfeed status says why)"
            )
    return "; ".join(parts) or None


def _report_json(report: Report, exit_code: int) -> dict[str, Any]:
    """What ``--json`` prints for a publish or a check (one object; see README)."""
    sources = None
    if report.sources is not None:
        sources = dataclasses.asdict(report.sources)
    return {
        "exit": exit_code,
        "seconds": round(report.seconds, 3),
        "seeds": report.seeds,
        "read": report.parsed,
        "unchanged": report.unchanged,
        "skipped": [{"path": path, "reason": reason} for path, reason in report.skipped],
        # Of those, what was no seed: source files, and folders ``check`` could not list.
        "skipped_sources": report.bad_sources,
        "unlisted_folders": report.bad_folders,
        "duplicates": report.duplicates,
        "warnings": [{"path": path, "message": msg} for path, msg in report.warnings],
        "articles": report.articles,
        "feeds": report.entries,
        "written": report.written,
        "unchanged_files": report.unchanged_files,
        "sources": sources,
        "stages": {name: round(seconds, 3) for name, seconds in report.stages.items()},
    }


def _print_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


def _stages(report: Report) -> str:
    return "; ".join(f"{name} {seconds:.2f} s" for name, seconds in report.stages.items())


@cli.command("publish")
@config_option
@click.option("--strict", is_flag=True, help="Exit 3 when any seed or source was skipped.")
@json_option
@verbosity
def publish_cmd(config_path: Path | None, strict: bool) -> None:
    """Read the seeds and write the feeds (only files whose bytes change)."""
    _publish(_load(config_path), strict, refresh=False)


@cli.command("refresh")
@click.argument("names", nargs=-1, metavar="[SOURCE]...")
@config_option
@click.option("--strict", is_flag=True, help="Exit 3 when any seed or source was skipped.")
@json_option
@verbosity
def refresh_cmd(names: tuple[str, ...], config_path: Path | None, strict: bool) -> None:
    """Publish, fetching every source (or the SOURCEs named: their file names without
    .toml) now, whatever a failure's backoff or a 410 said."""
    from .sources import load_sources

    config = _load(config_path)
    if names:
        known = {source.name: source for source in load_sources(config.paths.sources)[0]}
        if unknown := [name for name in names if name not in known]:
            choices = ", ".join(sorted(known)) or "none"
            raise UsageError(f"no source named {', '.join(unknown)} (sources: {choices})")
        if off := [name for name in names if not known[name].enabled]:
            raise UsageError(f"{', '.join(off)}: disabled in its file (enabled = false)")
    _publish(config, strict, refresh=set(names) if names else True)


def _one_machine(config: Config) -> None:
    """A cluster's state is in PostgreSQL and its workers publish: a publish or daemon
    beside them, on a SQLite store of its own, would write feeds from other state."""
    if config.cluster.enabled:
        raise UsageError(
            f"{config.file or config.root}: [cluster] is on: the workers publish"
            " (seedfeed worker; seedfeed status shows them)"
        )


def _publish(config: Config, strict: bool, *, refresh: bool | Collection[str]) -> None:
    _one_machine(config)
    report = _run(config, dry_run=False, refresh=refresh)
    code = EXIT_SKIPPED if strict and report.skipped else EXIT_OK
    if ctx_json():
        _print_json(_report_json(report, code))
        _stop(code)
    if (standing := _standing(report)) and not ctx_quiet():
        log.warning("%s", standing)
    if not ctx_quiet():
        if report.sources is not None:
            s = report.sources
            err.print(
                f"sources: {s.sources}; {s.fetched} documents and {s.pages} article pages"
                f" fetched, {s.not_modified} not modified, {s.failed} failed"
                + (f", {s.disallowed} disallowed by robots.txt;" if s.disallowed else ";")
                + f" {s.new_entries} new and {s.updated_entries} updated entries",
                markup=False,
            )
        if ctx_verbose():
            err.print(f"stages: {_stages(report)}", markup=False)
        err.print(_summary(report), markup=False)
    _stop(code)


@cli.command("check")
@config_option
@json_option
@verbosity
def check_cmd(config_path: Path | None) -> None:
    """Read the config, every seed and every source file; report problems, write
    nothing. Exits 3 when anything would be skipped."""
    config = _load(config_path)
    report = _run(config, dry_run=True)
    code = EXIT_SKIPPED if report.skipped else EXIT_OK
    if ctx_json():
        _print_json(_report_json(report, code))
        _stop(code)
    if ctx_verbose():
        err.print(f"stages: {_stages(report)}", markup=False)
    seeds_skipped = report.seeds_skipped
    err.print(
        f"{_plural(report.seeds, 'seed')}: {report.seeds - seeds_skipped:,} usable,"
        f" {seeds_skipped:,} skipped{_others_skipped(report)},"
        f" {_plural(len(report.warnings), 'warning')}",
        markup=False,
    )
    _stop(code)


@cli.command("init")
@click.argument("directory", type=click.Path(path_type=Path), default=Path("."))
@click.option("--title", default="My clippings", help="The feed's title.")
@click.option("--base-url", default="http://localhost:8080/", help="Where feeds/ is served.")
@verbosity
def init_cmd(directory: Path, title: str, base_url: str) -> None:
    """Create a working project: config.toml, seeds/ with an example, feeds/."""
    from .scaffold import scaffold

    created = scaffold(directory, title=title, base_url=base_url)
    if ctx_quiet():
        return
    for path in created:
        err.print(f"created {path}", markup=False)
    err.print(f"next: seedfeed publish -c {directory / 'config.toml'}", markup=False)


@cli.command("extract")
@click.argument("target")
@click.option("--url", default="", help="The page's address, for a file (resolves its links).")
@click.option("--allow-private", is_flag=True, help="Allow addresses on this machine's networks.")
@verbosity
def extract_cmd(target: str, url: str, allow_private: bool) -> None:
    """Show what a page (URL or saved HTML file) would become as an entry."""
    from datetime import UTC, datetime

    from .config import FetchSettings
    from .harvest import extract_page
    from .normalize import html_to_plain, to_entry
    from .seeds import SeedError, read_bytes
    from .web.fetch import Fetcher, decode_body

    try:
        scheme = urlsplit(target).scheme.lower()
    except ValueError as exc:  # "http://[::1": an unclosed bracket
        raise UsageError(f"{target}: not a URL ({exc})") from None
    if scheme in ("http", "https"):
        with Fetcher(FetchSettings(allow_private=allow_private)) as fetcher:
            result = fetcher.fetch(target)
        text, url = result.text, url or result.final_url
    else:
        # A file is read under the fetcher's byte cap, like a page: /dev/zero ends.
        if not os.path.exists(target):
            raise UsageError(f"{target}: No such file or directory")
        try:
            data = read_bytes(
                target, FetchSettings.max_bytes, follow_symlinks=True, setting="fetch.max_bytes"
            )
        except SeedError as exc:
            raise UsageError(f"{target}: {exc}") from None
        text, _charset = decode_body(data, None)
    article = extract_page(text, url, origin=url or target)
    if article is None:
        raise CommandError(f"{url or target}: the page took too long to read (hostile or broken)")
    entry, warnings = to_entry(article, datetime.now(UTC).replace(microsecond=0))
    for message in warnings:
        log.warning("%s: %s", url or target, message)
    dated = article.published.isoformat() if article.published else "(none: first seen)"
    click.echo(f"title:   {entry.title}")
    click.echo(f"author:  {', '.join(entry.authors) or '(none)'}")
    click.echo(f"date:    {dated}")
    click.echo(f"link:    {entry.link or '(none)'}")
    click.echo(f"summary: {entry.summary}")
    click.echo("")
    click.echo(html_to_plain(entry.content_html))


@cli.command("clip")
@click.argument("url")
@config_option
@click.option("--allow-private", is_flag=True, help="Allow addresses on this machine's networks.")
@click.option("--force", is_flag=True, help="Clip a page that is clipped already.")
@verbosity
def clip_cmd(url: str, config_path: Path | None, allow_private: bool, force: bool) -> None:
    """Save a web page as a new seed in seeds/ (the clipped-article format)."""
    from datetime import UTC, datetime

    from .clip import clip_text, clipped_already, seed_path, write_seed
    from .config import with_fetch
    from .harvest import extract_page
    from .normalize import LinkError, canonical_url, to_entry
    from .web.extract import plain_text
    from .web.fetch import Fetcher

    config = _load(config_path)
    if allow_private:
        config = with_fetch(config, allow_private=True)
    if not force and (known := clipped_already(config.paths.seeds, url)):
        err.print(f"{url}: clipped already as {known}; nothing written (--force clips it again)")
        return
    with Fetcher(config.fetch) as fetcher:
        result = fetcher.fetch(url)
    article = extract_page(result.text, result.final_url)
    if article is None:
        raise CommandError(f"{url}: the page took too long to read (hostile or broken)")
    # What extract shows: the entry's title (made from the text when the page has
    # none), its cleaned authors and its sanitized body; the page's own dates.
    entry, _warnings = to_entry(article, datetime.now(UTC).replace(microsecond=0))
    article = dataclasses.replace(article, title=entry.title, authors=list(entry.authors))
    body = plain_text(entry.content_html)
    if not body.strip():
        raise CommandError(f"{url}: no article text found on the page")
    try:  # the link extract shows: the page's canonical one
        link = canonical_url(article.link or result.final_url)
    except LinkError:
        link = result.final_url
    if not force and (known := clipped_already(config.paths.seeds, link, result.final_url)):
        err.print(f"{url}: clipped already as {known}; nothing written (--force clips it again)")
        return
    path = seed_path(config.paths.seeds, article.title or url)
    write_seed(path, clip_text(article, body, link))
    click.echo(str(path))


@cli.command("run")
@config_option
@click.option("--serve", "serve_", is_flag=True, help="Also serve feeds/ over HTTP.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve.")
@click.option("--port", default=8080, show_default=True, type=PORT, help="With --serve.")
@verbosity
def run_cmd(config_path: Path | None, serve_: bool, host: str, port: int) -> None:
    """Publish on the [schedule] cron, and whenever a seed changes (until SIGTERM)."""
    from .config import find_config
    from .daemon import run_daemon

    _one_machine(_load(config_path))  # a bad config is exit 2 before anything starts
    _long_running()
    _stop(run_daemon(find_config(config_path), (host, port) if serve_ else None))


@cli.command("serve")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=PORT)
@verbosity
def serve_cmd(config_path: Path | None, host: str, port: int) -> None:
    """Serve feeds/ for feed readers (ETag, 304, gzip), until Ctrl-C."""
    from .serve import serve

    config = _load(config_path)
    _long_running()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        serve(config.paths.feeds, host, port, stop)
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


@cli.command("status")
@config_option
@json_option
@verbosity
def status_cmd(config_path: Path | None) -> None:
    """The daemon, the last run, and the health of every source."""
    from .status import status, status_lines

    config = _load(config_path)
    if config.cluster.enabled:  # the state is in PostgreSQL: workers, queues, hosts
        from .cluster.status import cluster_lines, cluster_status

        data = cluster_status(config)
        if ctx_json():
            _print_json(data)
            return
        for line in cluster_lines(data):
            click.echo(line)
        return
    try:
        if ctx_json():
            _print_json(status(config))
            return
        lines = list(status_lines(config))
    except OSError as exc:  # a state folder this user may not read
        reason = (exc.strerror or type(exc).__name__).lower()
        raise CommandError(f"{config.paths.state}: cannot read the state ({reason})") from None
    for line in lines:
        click.echo(line)


def _state() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return (ctx.find_root().obj or {}) if ctx else {}


def ctx_quiet() -> bool:
    """True when -q was given."""
    return bool(_state().get("quiet"))


def ctx_verbose() -> bool:
    """True when -v was given."""
    return bool(_state().get("verbose"))


def ctx_json() -> bool:
    """True when --json was given: one JSON object on stdout, and logs only for errors."""
    return bool(_state().get("json"))


def _cluster_commands() -> None:
    """``seedfeed cluster`` and ``seedfeed worker``: their module imports only click
    (procrastinate and psycopg load when one runs, and only with seedfeed[cluster])."""
    from .cluster.cli import cluster, worker

    cli.add_command(cluster)
    cli.add_command(worker)


_cluster_commands()


# True when this process is the command (``main``), not a caller of ``cli`` (tests).
_own_process = False


def _one_run_gc() -> None:
    """Tune the cyclic collector for a process that runs one publish (or check) and
    ends; the tuning is the process's, so only the command's own process does it."""
    # What is loaded by now (modules, classes, the config) lives until the process
    # ends: the collector need not look at it again, neither here nor in forked parse
    # workers, nor in the collections at exit. (Not in the daemon, which publishes
    # again and again.)
    gc.freeze()
    # A cold run makes some ten objects a seed, nearly none in cycles (records, rows,
    # tuples): collecting every 20,000 allocations instead of every 700 leaves cyclic
    # garbage a little longer and spares 3% of the publisher's instructions at 10,000.
    gc.set_threshold(20_000)


def main() -> None:
    """Console-script entry point."""
    global _own_process
    _own_process = True
    cli(prog_name="seedfeed")
