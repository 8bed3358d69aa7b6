"""The one base of every error seedfeed raises on purpose, and the errors of the library
surface. Each message is one line that names the file, key or URL at fault."""

from __future__ import annotations

__all__ = ["SeedfeedError"]


class SeedfeedError(Exception):
    """Base of every error the library raises on purpose; ``str()`` is one line for the
    user. The command line turns each kind into its exit code in one place."""
