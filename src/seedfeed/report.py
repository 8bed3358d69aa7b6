"""What one publish did: counts, warnings and skipped inputs, the files written.

Every step adds to one ``Report``; ``warn`` and ``skip`` also log the line the user sees.
A long step tells ``progress`` (when the caller gives one) how far it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .harvest import SourceRun

log = logging.getLogger("seedfeed")

# (stage, done, total or None when unknown): what a progress display is told.
Progress = Callable[[str, int, int | None], None]


@dataclass
class Report:
    """What one run did, for the summary line, ``--json`` and the exit code."""

    seeds: int = 0
    parsed: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    bad_sources: int = 0  # of ``skipped``, the source files that cannot be used
    bad_folders: int = 0  # of ``skipped``, seed folders ``check`` could not list
    # Skipped seeds that are as they were when an earlier run said why: not said again
    # one by one, but counted in one line (they are also in ``skipped``).
    standing: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0  # seeds published once under another's entry, said before
    warnings: list[tuple[str, str]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged_files: list[str] = field(default_factory=list)
    entries: dict[str, int] = field(default_factory=dict)  # per feed
    articles: int = 0  # distinct entries over all feeds
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # seconds per step
    sources: SourceRun | None = None
    progress: Progress | None = field(default=None, repr=False, compare=False)

    @property
    def seeds_skipped(self) -> int:
        """Of ``skipped``, the seed files (not the sources or folders)."""
        return len(self.skipped) - self.bad_sources - self.bad_folders

    def warn(self, origin: str, message: str) -> None:
        """Record and log a warning about one input that was still published."""
        self.warnings.append((origin, message))
        log.warning("%s: %s", origin, message)

    def skip(self, origin: str, reason: str, *, standing: bool = False) -> None:
        """Record an input that could not be published, and log why, unless the same
        was said by an earlier run (``standing``): the run's summary counts those."""
        self.skipped.append((origin, reason))
        if standing:
            self.standing.append((origin, reason))
        else:
            log.warning("%s: skipped: %s", origin, reason)

    def tick(self, stage: str, done: int, total: int | None = None) -> None:
        """Tell the progress display, if any, how far ``stage`` is."""
        if self.progress is not None:
            self.progress(stage, done, total)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one step of the run (``-v`` shows the times)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - started
