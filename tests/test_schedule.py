"""Cron expressions: crontab's day numbering (0 and 7 = Sunday) on APScheduler 3."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from seedfeed.schedule import ScheduleError, cron_trigger, crontab_day_of_week, next_fire

WEDNESDAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1", "mon"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0,6", "sun,sat"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("3/2", "sun,wed,fri"),
        ("mon-fri", "mon-fri"),
        ("1,wed", "mon,wed"),
    ],
)
def test_day_of_week_translation(field: str, names: str) -> None:
    assert crontab_day_of_week(field) == names


@pytest.mark.parametrize("field", ["8", "5-2", "*/0", "mon/2", "1/x"])
def test_bad_day_of_week(field: str) -> None:
    with pytest.raises(ScheduleError):
        crontab_day_of_week(field)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 9 * * 1", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),  # Monday, as in crontab
        ("0 9 * * 0", datetime(2026, 11, 29, 9, 0, tzinfo=UTC)),  # Sunday
        ("0 9 * * 7", datetime(2026, 11, 29, 9, 0, tzinfo=UTC)),  # Sunday again
        ("30 8 * * 1-5", datetime(2026, 11, 26, 8, 30, tzinfo=UTC)),  # next weekday
        ("*/15 * * * *", datetime(2026, 11, 25, 12, 15, tzinfo=UTC)),
        ("0 0 1 * *", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_fire_matches_crontab(expression: str, expected: datetime) -> None:
    assert next_fire(expression, WEDNESDAY) == expected


def test_time_zone() -> None:
    when = next_fire("0 9 * * *", WEDNESDAY, "Europe/Berlin")
    assert when is not None and when.astimezone(UTC).hour == 8


@pytest.mark.parametrize("expression", ["* * * *", "61 * * * *", "* 25 * * *", "x * * * *"])
def test_bad_expressions(expression: str) -> None:
    with pytest.raises(ScheduleError):
        cron_trigger(expression)


def test_bad_time_zone() -> None:
    with pytest.raises(ScheduleError, match="time zone"):
        cron_trigger("* * * * *", "Mars/Olympus")


def test_day_of_month_and_week_together_refused() -> None:
    # crontab fires when either matches, APScheduler when both do: refuse the ambiguity
    with pytest.raises(ScheduleError, match="not both"):
        cron_trigger("0 9 1 * 1")
