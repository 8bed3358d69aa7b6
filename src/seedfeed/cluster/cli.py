"""The cluster's commands: ``seedfeed cluster init`` and ``seedfeed worker``.

The main command (cli.py) registers ``cluster`` and ``worker`` from here; this module
imports only click at first, so listing the commands costs nothing, and procrastinate
and psycopg load when a command runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..cli import _long_running, config_option, verbosity
from ..errors import UsageError

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["cluster", "worker"]

log = logging.getLogger("seedfeed")


def _cluster_config(config_path: Path | None) -> Config:
    """The project's configuration; it must have a ``[cluster]`` section."""
    from ..config import load_config

    config = load_config(config_path)
    if not config.cluster.enabled:
        where = config.file or config.root
        raise UsageError(
            f"{where}: no [cluster] section (see README: When one machine is not enough)"
        )
    try:
        import procrastinate  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        raise UsageError("the cluster needs pip install 'seedfeed[cluster]'") from None
    return config


class _WithReason(logging.Filter):
    """procrastinate logs a job's failure with its exception: one line says both."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()}: {record.exc_info[1]!r}"
            record.args = ()
            record.exc_info = None
        return True


def _procrastinate_logs() -> None:
    """procrastinate's warnings and errors, one line each like seedfeed's own; its line
    per job (INFO: thousands a minute) only with -v."""
    logger = logging.getLogger("procrastinate")
    logger.propagate = False
    logger.setLevel(logging.INFO if log.getEffectiveLevel() <= logging.DEBUG else logging.WARNING)
    for template in log.handlers[:1]:
        handler = type(template)()
        handler.addFilter(_WithReason())
        logger.handlers[:] = [handler]


@click.group("cluster")
def cluster() -> None:
    """Run seedfeed on many machines: PostgreSQL and `seedfeed worker`s."""


@cluster.command("init")
@config_option
@verbosity
def init_cmd(config_path: Path | None) -> None:
    """Create or update the cluster's tables in PostgreSQL (safe to run again)."""
    from .schema import init_cluster

    config = _cluster_config(config_path)
    done = init_cluster(config)
    for line in done:
        click.echo(f"created {line}")
    if not done:
        click.echo("the database is up to date")


@click.command("worker")
@config_option
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Jobs at once (in threads).",
)
@click.option(
    "--name", default=None, help="This worker's name (default: host-pid); one process each."
)
@click.option(
    "--seeds",
    "seeds",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Read the seeds from this folder (this machine sees them there).",
)
@click.option(
    "--fetch-only",
    is_flag=True,
    help="Only fetch and dispatch: no scans, no renders (no project folders here).",
)
@verbosity
def worker(
    config_path: Path | None,
    concurrency: int,
    name: str | None,
    seeds: Path | None,
    fetch_only: bool,
) -> None:
    """Run a cluster worker until SIGTERM: fetch, render and scan as jobs come."""
    from .worker import plan, run_worker

    config = _cluster_config(config_path)
    if seeds is not None and fetch_only:
        raise UsageError("--seeds and --fetch-only: one or the other")
    _long_running()
    _procrastinate_logs()
    chosen = plan(config, name=name, concurrency=concurrency, seeds=seeds, fetch_only=fetch_only)
    raise click.exceptions.Exit(run_worker(config, chosen))
