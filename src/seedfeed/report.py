"""What one publish did: counts, warnings and skipped inputs, the files written.

Every step adds to one ``Report``; ``warn`` and ``skip`` also log the line the user sees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .harvest import SourceRun

log = logging.getLogger("seedfeed")


@dataclass
class Report:
    """What one run did, for the summary line and the exit code."""

    seeds: int = 0
    parsed: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged_files: list[str] = field(default_factory=list)
    entries: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    sources: SourceRun | None = None

    def warn(self, origin: str, message: str) -> None:
        """Record and log a warning about one input that was still published."""
        self.warnings.append((origin, message))
        log.warning("%s: %s", origin, message)

    def skip(self, origin: str, reason: str) -> None:
        """Record and log an input that could not be published."""
        self.skipped.append((origin, reason))
        log.warning("%s: skipped: %s", origin, reason)
