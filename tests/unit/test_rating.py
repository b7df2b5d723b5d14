"""Rating is exact and follows the agreements: R1 (answer to hang-up, unanswered free), R2
(increments, rounded up), R3 (on-net free), R5 (the card in effect at call start), R7 (integer
micro-units). Expected costs are computed by hand in the comments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.events import CallDetailRecord, Disposition
from projections.rating import (
    DestinationRate,
    NoRateCardInEffect,
    RateCard,
    UnknownDestination,
    billed_seconds,
    normalize_number,
    rate_call,
    select_card,
    usage_micros,
)

T0 = 1_790_812_800_000  # 2026-10-01T00:00:00Z


def card(**over) -> RateCard:
    dests = {
        "1": DestinationRate("1", "US", 10_000),  # 0.01/min, 60/60
        "44": DestinationRate("44", "UK", 20_000),
        "447": DestinationRate("447", "UK mobile", 80_000, 0, 30, 6),
        "53": DestinationRate("53", "Cuba", 950_000, 50_000),
        "49": DestinationRate("49", "DE per second", 70_000, 0, 1, 1),
    }
    return RateCard(over.get("card_id", "c1"), over.get("currency", "USD"), over.get("valid_from_ms", 0),
                    dests, over.get("valid_to_ms"))


def cdr(callee: str, duration_s: int, answered: bool = True, start: int = T0) -> CallDetailRecord:
    answer = start + 3_000 if answered else None
    end = (answer if answered else start + 3_000) + duration_s * 1000
    return CallDetailRecord("e1", "carrier", "call-1", "a1", "15550000001", callee, start, answer, end,
                            Disposition.ANSWERED if answered else Disposition.NO_ANSWER)


@pytest.mark.parametrize("duration_s,expected", [
    (0, 0), (1, 60), (59, 60), (60, 60), (61, 120), (119, 120), (3600, 3600),
])
def test_R2_whole_minutes_rounded_up_by_default(duration_s, expected):
    assert billed_seconds(duration_s, 60, 60) == expected


@pytest.mark.parametrize("scheme,duration_s,expected", [
    ((30, 6), 1, 30), ((30, 6), 30, 30), ((30, 6), 31, 36), ((30, 6), 61, 66),
    ((6, 6), 1, 6), ((6, 6), 59, 60), ((6, 6), 61, 66),
    ((1, 1), 59, 59), ((1, 1), 61, 61),
    ((60, 1), 1, 60), ((60, 1), 61, 61), ((60, 1), 119, 119),
])
def test_R2_other_increment_schemes(scheme, duration_s, expected):
    assert billed_seconds(duration_s, *scheme) == expected


def test_R1_R2_answered_call_cost_is_whole_minutes_times_rate():
    rated = rate_call(cdr("12125550100", 61), card())
    # 61 s -> 120 s billed -> 2 min x 10_000 micros = 20_000 micros (0.02 USD)
    assert (rated.duration_s, rated.billed_s, rated.charge_micros) == (61, 120, 20_000)
    assert rated.destination_name == "US"


def test_R1_unanswered_call_is_free_but_still_resolved():
    rated = rate_call(cdr("12125550100", 0, answered=False), card())
    assert rated.charge_micros == 0 and rated.billed_s == 0 and rated.destination_prefix == "1"


def test_R1_timed_from_answer_not_from_start():
    # 3 s of ringing before answer, 60 s talk -> 1 minute, not 2.
    assert rate_call(cdr("12125550100", 60), card()).billed_s == 60


def test_connect_fee_is_added_once():
    rated = rate_call(cdr("5352123456", 90), card())
    # 90 s -> 120 s -> 2 x 950_000 = 1_900_000 + 50_000 connect = 1_950_000
    assert (rated.usage_micros, rated.connect_fee_micros, rated.charge_micros) == (1_900_000, 50_000, 1_950_000)


def test_sub_micro_remainder_rounds_up():
    # 7 s per-second billing at 70_000 micros/min = 490_000/60 = 8166.67 -> 8167 (rounded up)
    assert usage_micros(7, 70_000) == 8_167
    assert rate_call(cdr("4930123456", 7), card()).charge_micros == 8_167


def test_longest_prefix_wins():
    assert rate_call(cdr("447700900123", 10), card()).destination_name == "UK mobile"
    assert rate_call(cdr("442071234567", 10), card()).destination_name == "UK"


def test_R3_on_net_call_is_free_even_to_a_priced_prefix():
    rated = rate_call(cdr("15551234567", 600), card(), on_net_prefixes=("1555",))
    assert rated.on_net and rated.charge_micros == 0


def test_unknown_destination_is_rejected_not_rated_zero():
    with pytest.raises(UnknownDestination):
        rate_call(cdr("999123", 60), card())


@pytest.mark.parametrize("raw,expected", [("+442071234567", "442071234567"), ("00442071234567", "442071234567"),
                                          ("02125550100", "12125550100"), ("12125550100", "12125550100")])
def test_number_normalization(raw, expected):
    assert normalize_number(raw, "1") == expected


def test_R5_card_in_effect_at_call_start_applies():
    old = card(card_id="old", valid_from_ms=0, valid_to_ms=T0)
    new = card(card_id="new", valid_from_ms=T0)
    assert select_card([old, new], "USD", T0 - 1_000).card_id == "old"  # one second before the change
    assert select_card([old, new], "USD", T0).card_id == "new"
    with pytest.raises(NoRateCardInEffect):
        select_card([old, new], "EUR", T0)


@given(st.integers(0, 20_000), st.integers(0, 20_000), st.sampled_from([(60, 60), (30, 6), (6, 6), (1, 1), (60, 1)]))
def test_cost_never_decreases_as_duration_grows(a, b, scheme):
    lo, hi = sorted((a, b))
    assert billed_seconds(lo, *scheme) <= billed_seconds(hi, *scheme)
    assert usage_micros(billed_seconds(lo, *scheme), 70_000) <= usage_micros(billed_seconds(hi, *scheme), 70_000)


@given(st.integers(1, 20_000), st.sampled_from(["12125550100", "447700900123", "5352123456", "4930123456"]))
def test_cost_is_sum_of_components_and_deterministic(duration_s, callee):
    a = rate_call(cdr(callee, duration_s), card())
    b = rate_call(cdr(callee, duration_s), card())
    assert a == b
    assert a.charge_micros == a.usage_micros + a.connect_fee_micros
    assert type(a.charge_micros) is int
