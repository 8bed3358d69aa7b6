"""The ``seedfeed`` command: thin, it parses arguments and calls the library.

Exit codes: 0 published (bad seeds skipped with warnings), 1 unexpected failure,
2 usage or configuration error, 3 seeds were skipped and ``--strict`` was given.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import click
from rich.console import Console

from . import __version__
from .config import Config, ConfigError, load_config
from .publish import LockTimeout, PublishError, Report, describe_failure, publish
from .scaffold import ScaffoldError, scaffold
from .store import StoreError
from .writer import WriteError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3

err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
log = logging.getLogger("seedfeed")


class _LineHandler(logging.Handler):
    """One plain line per message on stderr: ``warning: seeds/x.txt: skipped: empty file``."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"{record.levelname.lower()}: {record.getMessage()}", markup=False)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    log.handlers[:] = [_LineHandler()]
    log.setLevel(level)
    log.propagate = False


PORT = click.IntRange(0, 65535)

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seedfeed")
@verbosity
def cli() -> None:
    """Publish folders of clipped articles as Atom and RSS feeds."""


def _load(config_path: Path | None) -> Config:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)


def _run(config: Config, *, dry_run: bool) -> Report:
    try:
        return publish(config, dry_run=dry_run)
    except PublishError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)
    except LockTimeout as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_FAILURE)
    except StoreError as exc:
        err.print(f"error: state store: {exc}", markup=False)
        sys.exit(EXIT_FAILURE)
    except WriteError as exc:  # says itself whether the previous feeds are all in place
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_FAILURE)
    except Exception as exc:  # a bug or the disk: say so, and what became of the feeds
        log.debug("traceback", exc_info=True)
        err.print(f"error: {describe_failure(exc)}", markup=False)
        sys.exit(EXIT_FAILURE)


@cli.command("publish")
@config_option
@click.option("--strict", is_flag=True, help="Exit 3 when any seed was skipped.")
@verbosity
@click.pass_context
def publish_cmd(ctx: click.Context, config_path: Path | None, strict: bool) -> None:
    """Read the seeds and write the feeds (only files whose bytes change)."""
    config = _load(config_path)
    report = _run(config, dry_run=False)
    if not ctx_quiet():
        if report.sources is not None:
            s = report.sources
            err.print(
                f"sources: {s.sources}; {s.fetched} documents and {s.pages} article pages"
                f" fetched, {s.not_modified} not modified, {s.failed} failed;"
                f" {s.new_entries} new and {s.updated_entries} updated entries",
                markup=False,
            )
        written = ", ".join(report.written) or "none (all up to date)"
        err.print(
            f"published {sum(report.entries.values())} entries in {len(report.entries)} feed(s)"
            f" from {report.seeds} seeds ({report.parsed} read, {report.unchanged} unchanged,"
            f" {len(report.skipped)} skipped) in {report.seconds:.2f} s; written: {written}",
            markup=False,
        )
    sys.exit(EXIT_SKIPPED if strict and report.skipped else EXIT_OK)


@cli.command("check")
@config_option
@verbosity
def check_cmd(config_path: Path | None) -> None:
    """Parse the config and every seed, report problems, write nothing."""
    config = _load(config_path)
    report = _run(config, dry_run=True)
    err.print(
        f"{report.seeds} seeds: {report.seeds - len(report.skipped)} usable,"
        f" {len(report.skipped)} skipped, {len(report.warnings)} warning(s)",
        markup=False,
    )
    sys.exit(EXIT_SKIPPED if report.skipped else EXIT_OK)


@cli.command("init")
@click.argument("directory", type=click.Path(path_type=Path), default=Path("."))
@click.option("--title", default="My clippings", help="The feed's title.")
@click.option("--base-url", default="http://localhost:8080/", help="Where feeds/ is served.")
@verbosity
def init_cmd(directory: Path, title: str, base_url: str) -> None:
    """Create a working project: config.toml, seeds/ with an example, feeds/."""
    try:
        created = scaffold(directory, title=title, base_url=base_url)
    except ScaffoldError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)
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
    from .extract import article_from_html
    from .fetch import Fetcher, FetchError, FetchSettings, decode_body
    from .normalize import html_to_plain, to_entry
    from .seeds import SeedError, read_bytes

    if urlsplit(target).scheme.lower() in ("http", "https"):
        try:
            with Fetcher(FetchSettings(allow_private=allow_private)) as fetcher:
                result = fetcher.fetch(target)
        except FetchError as exc:
            err.print(f"error: {exc}", markup=False)
            sys.exit(EXIT_FAILURE)
        text, url = result.text, url or result.final_url
    else:
        # A file is read under the fetcher's byte cap, like a page: /dev/zero ends.
        if not os.path.exists(target):
            err.print(f"error: {target}: No such file or directory", markup=False)
            sys.exit(EXIT_USAGE)
        try:
            data = read_bytes(
                target,
                FetchSettings.max_bytes,
                follow_symlinks=True,
                setting="fetch.max_bytes",
            )
        except SeedError as exc:
            err.print(f"error: {target}: {exc}", markup=False)
            sys.exit(EXIT_USAGE)
        text, _charset = decode_body(data, None)
    article = article_from_html(text, origin=url or target, url=url)
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
@verbosity
def clip_cmd(url: str, config_path: Path | None, allow_private: bool) -> None:
    """Save a web page as a new seed in seeds/ (the clipped-article format)."""
    from .clip import clip_text, seed_path, write_seed
    from .extract import article_from_html, page_text
    from .fetch import Fetcher, FetchError

    config = _load(config_path)
    settings = replace(config.fetch, allow_private=allow_private or config.fetch.allow_private)
    try:
        with Fetcher(settings) as fetcher:
            result = fetcher.fetch(url)
    except FetchError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_FAILURE)
    article = article_from_html(result.text, origin=url, url=result.final_url)
    body = page_text(result.text, result.final_url)
    if not body.strip():
        err.print(f"error: {url}: no article text found on the page", markup=False)
        sys.exit(EXIT_FAILURE)
    path = seed_path(config.paths.seeds, article.title or url)
    write_seed(path, clip_text(article, body, article.link or result.final_url))
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
    from .daemon import ServeError, run_daemon

    _load(config_path)  # a bad config is exit 2 before anything starts
    if not ctx_quiet() and log.level > logging.INFO:
        log.setLevel(logging.INFO)  # a daemon says what it does, one line a run
    try:
        code = run_daemon(find_config(config_path), (host, port) if serve_ else None)
    except ServeError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)
    sys.exit(code)


@cli.command("serve")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=PORT)
@verbosity
def serve_cmd(config_path: Path | None, host: str, port: int) -> None:
    """Serve feeds/ for feed readers (ETag, 304, gzip), until Ctrl-C."""
    from .serve import serve

    config = _load(config_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    err.print(f"serving {config.paths.feeds} on http://{host}:{port}/", markup=False)
    try:
        serve(config.paths.feeds, host, port, stop)
    except OSError as exc:
        err.print(f"error: cannot serve on {host}:{port}: {exc.strerror or exc}", markup=False)
        sys.exit(EXIT_USAGE)


@cli.command("status")
@config_option
@verbosity
def status_cmd(config_path: Path | None) -> None:
    """The last run, the next runs, and the health of every source."""
    from .status import status_lines

    config = _load(config_path)
    try:
        for line in status_lines(config):
            click.echo(line)
    except StoreError as exc:
        err.print(f"error: state store: {exc}", markup=False)
        sys.exit(EXIT_FAILURE)


def ctx_quiet() -> bool:
    """True when -q was given."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().obj and ctx.find_root().obj.get("quiet"))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="seedfeed")
