"""Billing periods (R13): the calendar month, first to last day, in the account's time zone.

A period is named ``YYYY-MM``; names sort in time order. Pure: time comes from the event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")

TIME_ZONE_CHARS_MAX = 64
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")


@lru_cache(maxsize=1_024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=4_096)
def is_time_zone(name: str) -> bool:
    """Whether ``name`` is a zone of the tz database. The name is checked before zoneinfo sees it:
    a long name, or one naming a directory of the database (``America``), makes zoneinfo raise
    OSError subclasses rather than its own error."""
    if not (0 < len(name) <= TIME_ZONE_CHARS_MAX and _ZONE_NAME.match(name)) or ".." in name:
        return False
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def local_time(at_ms: int, time_zone: str) -> datetime:
    """Epoch milliseconds as a wall time in ``time_zone``, exactly (integer arithmetic, no float)."""
    return (EPOCH + timedelta(milliseconds=at_ms)).astimezone(zone(time_zone))


def period_of(at_ms: int, time_zone: str) -> str:
    """The calendar month (R13) that ``at_ms`` falls in, in ``time_zone``: ``"YYYY-MM"``."""
    # Every zone offset is a whole number of minutes, so a month starts on a minute boundary:
    # the minute decides the period, and calls share minutes (hot: once per charged call).
    return _period_of_minute(at_ms // 60_000, time_zone)


@lru_cache(maxsize=65_536)
def _period_of_minute(minute: int, time_zone: str) -> str:
    local = local_time(minute * 60_000, time_zone)
    return f"{local.year:04d}-{local.month:02d}"


def in_effect(first: T, changes: Iterable[tuple[str, T]], period: str) -> T:
    """A dated setting's value for ``period``: ``first``, or the last of ``changes`` ((first
    period "YYYY-MM", value), periods ascending) dated at or before it (price and tax changes)."""
    value = first
    for since, changed in changes:
        if since > period:
            break
        value = changed
    return value


def days_in_period(period: str) -> int:
    year, month = int(period[:4]), int(period[5:7])
    first = datetime(year, month, 1)
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - first).days


# Remembered: a tick asks each account for its next and previous months, hourly (issue 22).
@lru_cache(maxsize=4_096)
def next_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


@lru_cache(maxsize=4_096)
def previous_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year - (month == 1):04d}-{(month - 2) % 12 + 1:02d}"


@lru_cache(maxsize=16_384)  # each account's next month starts, once per state written (issue 22)
def period_start_ms(period: str, time_zone: str) -> int:
    """00:00 on the 1st of ``period`` in ``time_zone``, as epoch milliseconds."""
    local = datetime(int(period[:4]), int(period[5:7]), 1, tzinfo=zone(time_zone))
    return (local - EPOCH) // timedelta(milliseconds=1)


def one_month_later_ms(at_ms: int, time_zone: str) -> int:
    """The same wall time one calendar month later; the 31st becomes the month's last day.

    R24's "more than one calendar month": a suspension that starts on 31 January lasts one
    month at 28 (or 29) February, the same wall-clock time, in the account's zone.
    """
    local = local_time(at_ms, time_zone)
    year, month = local.year + local.month // 12, local.month % 12 + 1
    day = min(local.day, days_in_period(f"{year:04d}-{month:02d}"))
    later = local.replace(tzinfo=None).replace(year=year, month=month, day=day).replace(tzinfo=zone(time_zone))
    return (later - EPOCH) // timedelta(milliseconds=1)
