"""Cron expressions as people write them, for APScheduler 3.

APScheduler's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0, while
crontab(5) numbers them from Sunday = 0 (and 7). ``cron_trigger`` translates the
day-of-week field to names first, so ``0 9 * * 1`` runs on Mondays, as in crontab.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from .errors import SeedfeedError

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleError(SeedfeedError, ValueError):
    """A cron expression or time zone that cannot be used; the message says why."""


def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (``UTC`` by default in configs)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}") from None


def crontab_day_of_week(field: str) -> str:
    """Translate a crontab day-of-week field (0 or 7 = Sunday) to day names."""
    if field == "*":
        return field
    days: set[int] = set()
    named: list[str] = []  # mon-fri and the like mean the same in both: kept as written
    for item in field.split(","):
        part, slash, step_text = item.partition("/")
        if not part.replace("-", "").replace("*", "").isdigit() and part != "*":
            if slash:
                raise ScheduleError(f"steps need numbers in day of week {field!r}")
            named.append(part)
            continue
        if (slash and not step_text.isdigit()) or step_text == "0":
            raise ScheduleError(f"bad step in day of week {field!r}")
        first_text, _, last_text = part.partition("-")
        if part == "*":
            first, last = 0, 6
        else:
            first = int(first_text)
            last = int(last_text) if last_text else (7 if slash else first)
        if not 0 <= first <= last <= 7:
            raise ScheduleError(f"day of week out of range in {field!r}")
        days.update(d % 7 for d in range(first, last + 1, int(step_text or 1)))
    return ",".join([*(_DAY_NAMES[d] for d in sorted(days)), *named])


def cron_trigger(expression: str, timezone: str = "UTC", jitter: int | None = None) -> CronTrigger:
    """A trigger for a 5-field crontab expression (minute hour day month day-of-week)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(f"a cron expression has 5 fields, not {len(fields)}: {expression!r}")
    minute, hour, day, month, day_of_week = fields
    if day != "*" and day_of_week != "*":
        # crontab runs when either matches; APScheduler only when both do
        raise ScheduleError(
            f"{expression!r}: give a day of the month or a day of the week, not both"
        )
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_day_of_week(day_of_week),
            timezone=zone(timezone),
            jitter=jitter or None,
        )
    except ValueError as exc:
        raise ScheduleError(f"{expression!r}: {_in_crontab_terms(fields, exc)}") from None


# The fields of a crontab line, with what each allows, to say what is wrong in its terms
# rather than APScheduler's ("Error validating expression '25': the last value ...").
_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day of week", "0-7 or sun-sat"),
)


def _in_crontab_terms(fields: list[str], exc: ValueError) -> str:
    """APScheduler's complaint about ``fields``, said as crontab(5) would."""
    names = {"minute": 0, "hour": 1, "day": 2, "month": 3, "day_of_week": 4}
    message = str(exc)
    index = next((i for name, i in names.items() if f'field "{name}"' in message), None)
    if "Increment" in message:  # "Increment must be higher than 0": no field named
        index = next((i for i, text in enumerate(fields) if "/0" in text), None)
    elif index is None:  # "Error validating expression '25'": find the field by its text
        quoted = message.split("'")[1] if message.count("'") >= 2 else None
        index = next((i for i, text in enumerate(fields) if text == quoted), None)
    if index is None:
        return message
    name, allowed = _FIELDS[index]
    if "Increment" in message:
        return f"the {name} field {fields[index]!r} has a step of 0"
    return (
        f"the {name} field {fields[index]!r} is not valid: it takes {allowed},"
        " *, lists, ranges and /steps"
    )


def next_fire(expression: str, after: datetime, timezone: str = "UTC") -> datetime | None:
    """The first time ``expression`` fires strictly after ``after`` (aware datetime)."""
    # APScheduler returns a fire time at or after its argument: one second on makes it
    # strictly after (cron has minute resolution).
    fire: datetime | None = cron_trigger(expression, timezone).get_next_fire_time(
        None, after + timedelta(seconds=1)
    )
    return fire
