"""Billing periods (R13): the calendar month, first to last day, in the account's time zone.

A period is named ``YYYY-MM``; names sort in time order. Pure: time comes from the event.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=1_024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def local_time(at_ms: int, time_zone: str) -> datetime:
    """Epoch milliseconds as a wall time in ``time_zone``, exactly (integer arithmetic, no float)."""
    return (EPOCH + timedelta(milliseconds=at_ms)).astimezone(zone(time_zone))


def period_of(at_ms: int, time_zone: str) -> str:
    """The calendar month (R13) that ``at_ms`` falls in, in ``time_zone``: ``"YYYY-MM"``."""
    local = local_time(at_ms, time_zone)
    return f"{local.year:04d}-{local.month:02d}"
