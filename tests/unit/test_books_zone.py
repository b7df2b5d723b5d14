"""The books' zone (``books_time_zone``): the months of trial-balance and reconcile and the day of
receivables --as-of are taken where finance closes its books, not always in UTC. The queries
themselves run on both engines in tests/integration/test_trial_balance.py."""

from __future__ import annotations

import pytest

from streams.clickhouse.receivables import as_of_ms
from streams.clickhouse.reconcile import month_bounds
from streams.config.settings import ConfigError, load_settings
from tests.unit.test_invoicing import ms


def test_a_day_ends_at_midnight_in_the_books_zone_and_a_clock_change_is_kept():
    assert as_of_ms("2026-10-31") == ms("2026-11-01T00:00:00")
    assert as_of_ms("2026-10-31", "Asia/Tokyo") == ms("2026-10-31T15:00:00")
    # New York falls back on 1 November: that day has 25 hours and ends at 05:00 UTC.
    assert as_of_ms("2026-11-01", "America/New_York") - as_of_ms("2026-10-31", "America/New_York") == 25 * 3_600_000
    assert as_of_ms("2026-11-01", "America/New_York") == ms("2026-11-02T05:00:00")
    with pytest.raises(ValueError):
        as_of_ms("2026-02-30")


def test_a_month_is_bounded_in_the_books_zone_by_epoch_seconds_and_no_zone_name_enters_the_sql():
    assert month_bounds("2026-12") == (f"toDateTime({ms('2026-12-01T00:00:00') // 1000})",
                                       f"toDateTime({ms('2027-01-01T00:00:00') // 1000})")
    assert month_bounds("2026-11", "Europe/Brussels") == (f"toDateTime({ms('2026-10-31T23:00:00') // 1000})",
                                                          f"toDateTime({ms('2026-11-30T23:00:00') // 1000})")


def test_a_books_zone_that_is_not_a_zone_is_one_line():
    assert load_settings(None, env={"VOICELEDGER_BOOKS_TIME_ZONE": "Europe/Brussels"}).books_time_zone == \
        "Europe/Brussels"
    for bad in ("Mars/Olympus", "Europe", "../etc/passwd", "x" * 100):
        with pytest.raises(ConfigError, match="^books_time_zone: must be a zone of the tz database"):
            load_settings(None, env={"VOICELEDGER_BOOKS_TIME_ZONE": bad})
