"""Parsing the dates people and pages write, into timezone-aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_FORMATS = (
    "%B %d %Y",  # April 12, 2021 (commas are dropped before matching)
    "%b %d %Y",  # Apr 12, 2021
    "%d %B %Y",  # 12 April 2021
    "%d %b %Y",  # 12 Apr 2021
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M",
    "%B %d %Y %I:%M %p",
    "%b %d %Y %I:%M %p",
)
_ORDINAL = re.compile(r"(\d)(st|nd|rd|th)\b")
_MIN_YEAR = 1970


def to_utc(value: datetime | date) -> datetime:
    """Make ``value`` an aware UTC datetime (naive values are taken as UTC), whole seconds."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def from_timestamp(seconds: float) -> datetime:
    """A POSIX timestamp as an aware UTC datetime, whole seconds."""
    return datetime.fromtimestamp(int(seconds), UTC)


def parse_date(text: object) -> datetime | None:
    """Parse a date as found in seeds and pages; ``None`` when it is not a plausible date.

    Accepts ISO 8601 / RFC 3339, RFC 2822, ``date``/``datetime`` objects (YAML gives
    those) and a few spelled-out forms such as ``April 12, 2021``. Naive values are UTC.
    """
    try:
        if isinstance(text, (datetime, date)):
            result: datetime | None = to_utc(text)
        elif isinstance(text, str):
            result = _parse_string(text.strip())
        else:
            return None
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the end of time in UTC
        return None
    if result is None or not _MIN_YEAR <= result.year <= 9999:
        return None
    return result


def _parse_string(text: str) -> datetime | None:
    if not text or len(text) > 64:
        return None
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        return to_utc(datetime.fromisoformat(iso))
    except ValueError:
        pass
    cleaned = " ".join(_ORDINAL.sub(r"\1", text).replace(",", " ").split())
    for fmt in _FORMATS:
        try:
            return to_utc(datetime.strptime(cleaned, fmt))
        except ValueError:
            continue
    # Last, because it is lenient: it reads "April 12, 2021 3:04 PM" as 03:04.
    from email.utils import parsedate_to_datetime  # lazily: most dates are ISO

    try:
        return to_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None
