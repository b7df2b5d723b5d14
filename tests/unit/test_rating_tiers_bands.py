"""Carrier price shapes, priced exactly: elapsed-time tiers, minimum billable seconds, and time
bands in the account's zone (R2, R5, R7). Expected costs are computed by hand in the comments.
The band in effect when a call starts prices the whole call (documented in
``projections/rating.py``), like R5 for rate changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.events import CallDetailRecord, Disposition
from projections.rating import (
    Band,
    DestinationRate,
    InvalidRateCard,
    RateCard,
    Tier,
    rate_call,
    select_card,
)
from projections.validation import InvalidEvent, validate_account_opened
from projections.events import AccountOpened

THU_1300Z = 1_790_859_600_000  # 2026-10-01 (a Thursday) 13:00:00Z = 09:00 in New York
HOUR_MS = 3_600_000

# "0.20 for the first minute, then 0.10 per minute billed per second"
FIRST_MINUTE = (Tier(0, 200_000, 60), Tier(60, 100_000, 1))
PEAK = Band("peak", frozenset(range(5)), 8 * 60, 18 * 60)
WEEKEND = Band("weekend", frozenset({5, 6}), 0, 1_440)


def card() -> RateCard:
    return RateCard("c1", "USD", 0, {
        "44": DestinationRate("44", "UK tiered", 0, tiers=FIRST_MINUTE),
        "49": DestinationRate("49", "DE minimum 30 s", 60_000, 0, 1, 1, minimum_billable_s=30),
        "1": DestinationRate("1", "US banded", 10_000, band_rates=(("peak", 20_000), ("weekend", 5_000))),
    }, bands=(PEAK, WEEKEND))


def cdr(callee: str, duration_s: int, start: int = THU_1300Z) -> CallDetailRecord:
    return CallDetailRecord("e", "carrier", "c", "a1", "15550000001", callee, start, start + 2_000,
                            start + 2_000 + duration_s * 1000, Disposition.ANSWERED)


@pytest.mark.parametrize("duration_s,billed_s,usage", [
    (0, 0, 0),
    (1, 60, 200_000),  # the first tier is billed whole: 60 s at 0.20/min
    (59, 60, 200_000),
    (60, 60, 200_000),
    (61, 61, 201_667),  # (60 * 200_000 + 1 * 100_000) / 60 = 201_666.67, rounded up once
    (119, 119, 298_334),  # (12_000_000 + 59 * 100_000) / 60 = 298_333.33 -> up
    (3600, 3600, 6_100_000),  # (12_000_000 + 3540 * 100_000) / 60
])
def test_R2_tiers_by_elapsed_time(duration_s, billed_s, usage):
    rated = rate_call(cdr("442071234567", duration_s), card())
    assert (rated.billed_s, rated.usage_micros, rated.charge_micros) == (billed_s, usage, usage)


@pytest.mark.parametrize("duration_s,billed_s,usage", [
    (1, 30, 30_000),  # at least 30 s, then per second at 0.06/min: 30 * 60_000 / 60
    (29, 30, 30_000),
    (45, 45, 45_000),
])
def test_R2_minimum_billable_seconds(duration_s, billed_s, usage):
    rated = rate_call(cdr("4930123456", duration_s), card())
    assert (rated.billed_s, rated.usage_micros) == (billed_s, usage)


@pytest.mark.parametrize("start,time_zone,band,charge", [
    (THU_1300Z, "America/New_York", "peak", 40_000),  # 09:00 local Thursday: 2 min at 0.02
    (THU_1300Z + 10 * HOUR_MS, "America/New_York", "standard", 20_000),  # 19:00 local: off-peak
    (THU_1300Z + 2 * 24 * HOUR_MS, "America/New_York", "weekend", 10_000),  # Saturday
    (THU_1300Z - 6 * HOUR_MS, "UTC", "standard", 20_000),  # 07:00 UTC: before peak in UTC
    (THU_1300Z - 6 * HOUR_MS, "Asia/Tokyo", "peak", 40_000),  # the same instant is 16:00 in Tokyo
])
def test_time_bands_in_the_accounts_zone(start, time_zone, band, charge):
    rated = rate_call(cdr("12125550100", 61, start), card(), time_zone=time_zone)
    assert (rated.band, rated.charge_micros) == (band, charge)


def test_a_call_crossing_out_of_a_band_keeps_the_band_it_started_in():
    # Starts 17:59:00 New York time on a Thursday, lasts 3 minutes, ends after 18:00.
    start = THU_1300Z + 8 * HOUR_MS + 59 * 60_000
    rated = rate_call(cdr("12125550100", 180, start), card(), time_zone="America/New_York")
    assert (rated.band, rated.charge_micros) == ("peak", 60_000)


def test_R5_a_call_one_second_before_a_rate_change_gets_the_old_rate():
    change = THU_1300Z
    old = RateCard("old", "USD", 0, {"1": DestinationRate("1", "US", 10_000)}, valid_to_ms=change)
    new = RateCard("new", "USD", change, {"1": DestinationRate("1", "US", 30_000)})
    assert select_card([old, new], "USD", change - 1_000).card_id == "old"
    assert select_card([old, new], "USD", change).card_id == "new"
    assert rate_call(cdr("12125550100", 60, change - 1_000), old).charge_micros == 10_000


@pytest.mark.parametrize("build,message", [
    (lambda: DestinationRate("1", "x", 0, tiers=(Tier(10, 1, 1),)), "first tier must start at 0"),
    (lambda: DestinationRate("1", "x", 0, tiers=(Tier(0, 1, 60), Tier(45, 1, 1))), "not a positive multiple"),
    (lambda: Band("night", frozenset({0}), 22 * 60, 6 * 60), "split an overnight band"),
    (lambda: RateCard("c", "USD", 0, {"1": DestinationRate("1", "x", 1, band_rates=(("night", 2),))}),
     "unknown bands"),
    (lambda: RateCard("c", "USD", 10, {}, valid_to_ms=10), "valid_to must be after valid_from"),
])
def test_a_card_that_cannot_price_exactly_is_refused(build, message):
    with pytest.raises(InvalidRateCard, match=message):
        build()


def test_an_account_in_an_unknown_time_zone_is_refused():
    opened = AccountOpened("o", "a1", 0, "USD", "basic", "prepaid", ("1",), "Mars/Olympus")
    with pytest.raises(InvalidEvent) as info:
        validate_account_opened(opened)
    assert info.value.code == "unknown_time_zone"


@given(st.integers(0, 7_200), st.integers(0, 7_200), st.sampled_from(["442071234567", "4930123456", "12125550100"]),
       st.integers(0, 14 * 24 * 3600))
def test_cost_never_decreases_as_duration_grows_and_equals_its_components(a, b, callee, offset_s):
    start = THU_1300Z + offset_s * 1000
    short, long_ = sorted((a, b))
    x = rate_call(cdr(callee, short, start), card(), time_zone="America/New_York")
    y = rate_call(cdr(callee, long_, start), card(), time_zone="America/New_York")
    assert x.charge_micros <= y.charge_micros
    for rated in (x, y):
        assert rated.charge_micros == rated.usage_micros + rated.connect_fee_micros
        assert rated == rate_call(cdr(callee, rated.duration_s, start), card(), time_zone="America/New_York")


# --- R4: included minutes, used first ------------------------------------------------------------

INCLUDED_CARD = RateCard("c2", "USD", 0, {
    "1": DestinationRate("1", "US", 10_000),
    "1900": DestinationRate("1900", "US premium", 1_500_000, 250_000),
    "44": DestinationRate("44", "UK", 20_000),
})


@pytest.mark.parametrize("callee,duration_s,remaining_s,included_s,charge", [
    ("12125550100", 61, 300, 120, 0),  # billed 120 s (60/60), all of it included
    ("12125550100", 61, 90, 90, 5_000),  # 30 s left to pay: 30 * 10_000 / 60
    ("12125550100", 61, 0, 0, 20_000),  # nothing left: 2 min at 0.01
    ("442071234567", 61, 300, 0, 40_000),  # international: not covered
    ("19005550100", 61, 300, 0, 3_250_000),  # premium (connect fee): not covered; 2 * 1.50 + 0.25
])
def test_R4_included_minutes_cover_domestic_billed_seconds_first(callee, duration_s, remaining_s, included_s, charge):
    rated = rate_call(cdr(callee, duration_s), INCLUDED_CARD, included_remaining_s=remaining_s)
    assert (rated.included_s, rated.charge_micros) == (included_s, charge)
