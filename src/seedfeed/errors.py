"""The one base of every error seedfeed raises on purpose, and the errors of the library
surface. Each message is one line that names the file, key or URL at fault."""

from __future__ import annotations

__all__ = ["FetchError", "SeedfeedError", "UsageError"]


class SeedfeedError(Exception):
    """Base of every error the library raises on purpose; ``str()`` is one line for the
    user. The command line turns each kind into its exit code in one place."""


class UsageError(SeedfeedError):
    """What was asked cannot be done as asked (a missing file, a port in use): the
    command line's exit code 2."""


class FetchError(SeedfeedError):
    """A fetch that gave no usable response. ``str()`` is one line that names the URL as
    requested, e.g. ``'http://x/: HTTP 500'``. ``status`` is the HTTP status if there was
    one, ``retry_after`` the seconds a 429 or 503 asked to wait, ``gone`` true for 410.
    ``unanswered`` is true when the URL's own host gave no answer at all (no name, refused,
    reset, or silent until the timeout); ``unsent`` when no request was made for it in
    this run (a Crawl-delay spaced it out, or its host did not answer the ones before):
    not a failure of the page, which is tried again on a later run."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        gone: bool = False,
        unanswered: bool = False,
        unsent: bool = False,
    ) -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.gone = gone
        self.unanswered = unanswered
        self.unsent = unsent

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"
