"""Unit tests for seedfeed.dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from seedfeed.dates import from_timestamp, parse_date, to_utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-04-12T10:30:00+00:00", datetime(2021, 4, 12, 10, 30, tzinfo=UTC)),
        ("2021-04-12T10:30:00+02:00", datetime(2021, 4, 12, 8, 30, tzinfo=UTC)),
        ("2021-04-12T10:30:00-05:00", datetime(2021, 4, 12, 15, 30, tzinfo=UTC)),
        ("2021-04-12T10:30:00Z", datetime(2021, 4, 12, 10, 30, tzinfo=UTC)),
        ("2021-04-12T10:30:00z", datetime(2021, 4, 12, 10, 30, tzinfo=UTC)),
        ("2021-04-12T10:30:00.123456Z", datetime(2021, 4, 12, 10, 30, tzinfo=UTC)),
        ("2021-04-12 10:30:00", datetime(2021, 4, 12, 10, 30, tzinfo=UTC)),
        ("2021-04-12", datetime(2021, 4, 12, tzinfo=UTC)),
        ("  2021-04-12  ", datetime(2021, 4, 12, tzinfo=UTC)),
        ("Mon, 12 Apr 2021 10:30:00 +0000", datetime(2021, 4, 12, 10, 30, tzinfo=UTC)),
        ("Mon, 12 Apr 2021 10:30:00 GMT", datetime(2021, 4, 12, 10, 30, tzinfo=UTC)),
        ("Mon, 12 Apr 2021 12:30:00 +0200", datetime(2021, 4, 12, 10, 30, tzinfo=UTC)),
        ("Mon, 12 Apr 2021 10:30:00 -0000", datetime(2021, 4, 12, 10, 30, tzinfo=UTC)),
        ("April 12, 2021", datetime(2021, 4, 12, tzinfo=UTC)),
        ("April 12 2021", datetime(2021, 4, 12, tzinfo=UTC)),
        ("Apr 12, 2021", datetime(2021, 4, 12, tzinfo=UTC)),
        ("April 12th, 2021", datetime(2021, 4, 12, tzinfo=UTC)),
        ("12 April 2021", datetime(2021, 4, 12, tzinfo=UTC)),
        ("1st May 2021", datetime(2021, 5, 1, tzinfo=UTC)),
        ("2021/04/12", datetime(2021, 4, 12, tzinfo=UTC)),
        ("April 12, 2021 3:04 PM", datetime(2021, 4, 12, 15, 4, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_parses(text: str, expected: datetime) -> None:
    result = parse_date(text)
    assert result == expected
    assert result is not None
    assert result.tzinfo is not None
    assert result.utcoffset() == timedelta(0)
    assert result.microsecond == 0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "garbage",
        "yesterday",
        "2021-13-45",
        "2021-02-30",
        "April 31, 2021",
        "12/04/2021 and more words",
        "x" * 100,
        "2021-04-12" + " " * 60 + "x",
    ],
)
def test_garbage_is_none(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "1969-12-31",
        "1969-12-31T23:59:59Z",
        "1900-01-01",
        "0001-01-01",
        "Wed, 31 Dec 1969 23:00:00 +0000",
        "April 12, 1850",
        "1970-01-01T00:30:00+01:00",  # 1969-12-31T23:30Z
    ],
)
def test_before_1970_is_none(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:00:00-05:00",  # year 10000 in UTC
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
        "Fri, 31 Dec 9999 23:00:00 -0500",
    ],
)
def test_out_of_range_in_utc_is_none(text: str) -> None:
    assert parse_date(text) is None


def test_objects() -> None:
    assert parse_date(date(2021, 4, 12)) == datetime(2021, 4, 12, tzinfo=UTC)
    naive = datetime(2021, 4, 12, 10, 30, 15, 999)
    assert parse_date(naive) == datetime(2021, 4, 12, 10, 30, 15, tzinfo=UTC)
    aware = datetime(2021, 4, 12, 10, tzinfo=timezone(timedelta(hours=-4)))
    assert parse_date(aware) == datetime(2021, 4, 12, 14, tzinfo=UTC)
    assert parse_date(date(1960, 1, 1)) is None


@pytest.mark.parametrize("value", [None, 20210412, 1.5, ["2021-04-12"], {"d": 1}, b"2021-04-12"])
def test_other_types_are_none(value: object) -> None:
    assert parse_date(value) is None


def test_to_utc() -> None:
    assert to_utc(date(2021, 1, 2)) == datetime(2021, 1, 2, tzinfo=UTC)
    result = to_utc(datetime(2021, 1, 2, 3, 4, 5, 678))
    assert result == datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_from_timestamp() -> None:
    assert from_timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert from_timestamp(1618221600.9) == datetime(2021, 4, 12, 10, tzinfo=UTC)
