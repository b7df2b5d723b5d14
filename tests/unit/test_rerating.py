"""R6: calls re-rated at another plan's card give per-call differences that add up to the
adjustment; each call uses the other plan's card in effect when it started (R5); a call the
other card cannot rate is reported, not priced at zero. Costs are computed by hand."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.events import CallDetailRecord, Direction, Disposition
from projections.rating import DestinationRate, RateCard, rate_call
from projections.rerating import rerate

T0 = 1_790_812_800_000
RESIDENTIAL = RateCard("residential", "USD", 0, {"1": DestinationRate("1", "US", 0)})  # flat rate: free
BUSINESS_OLD = RateCard("business@1", "USD", 0, {"1": DestinationRate("1", "US", 20_000)}, valid_to_ms=T0 + 86_400_000)
BUSINESS_NEW = RateCard("business@2", "USD", T0 + 86_400_000, {"1": DestinationRate("1", "US", 30_000)})


def call(n: int, seconds: int, start: int, callee: str = "12125550100") -> CallDetailRecord:
    return CallDetailRecord(f"e{n}", "carrier", f"c{n}", "a1", "15550000001", callee, start, start + 1_000,
                            start + 1_000 + seconds * 1000, Disposition.ANSWERED)


def test_R6_business_use_of_a_flat_rate_is_rerated_at_business_rates():
    calls = [(call(1, 61, T0), 0), (call(2, 30, T0 + 90_000_000), 0), (call(3, 600, T0 + 1_000), 0)]
    result = rerate(calls, [BUSINESS_OLD, BUSINESS_NEW], "USD")
    by_key = {d.call_key: d for d in result.differences}
    assert by_key["carrier/c1"].difference_micros == 40_000  # 2 min at 0.02 (old business card)
    assert by_key["carrier/c2"].difference_micros == 30_000  # 1 min at 0.03: started after the change (R5)
    assert by_key["carrier/c3"].difference_micros == 200_000  # 10 min at 0.02
    assert result.total_difference_micros == 270_000 and result.unrated == ()


def test_R6_a_call_the_other_card_cannot_rate_is_reported_not_zero():
    result = rerate([(call(1, 60, T0, callee="4930123456"), 25_000)], [BUSINESS_OLD], "USD")
    assert result.differences == () and result.unrated[0][0] == "carrier/c1"
    assert "unknown_destination" in result.unrated[0][1]


@given(st.lists(st.tuples(st.integers(0, 3_600), st.integers(0, 2 * 86_400)), max_size=20))
def test_rerating_at_the_same_card_gives_no_difference_and_is_deterministic(specs):
    calls = []
    for n, (seconds, offset_s) in enumerate(specs):
        cdr = call(n, seconds, T0 + offset_s * 1000)
        calls.append((cdr, rate_call(cdr, RESIDENTIAL).charge_micros))
    same = rerate(calls, [RESIDENTIAL], "USD")
    assert same.total_difference_micros == 0
    assert rerate(list(reversed(calls)), [RESIDENTIAL], "USD") == same


def test_R6_a_received_call_is_rerated_at_the_other_plans_inbound_rate_not_the_cards_price_of_the_number():
    received = CallDetailRecord("e1", "carrier", "c1", "a1", "12125550100", "15550000001", T0, T0 + 1_000,
                                T0 + 62_000, Disposition.ANSWERED, Direction.INBOUND)
    priced = rerate([(received, 0)], [BUSINESS_OLD], "USD", inbound_rate_for=lambda at_ms: 12_000)
    assert priced.differences[0].difference_micros == 24_000  # 61 s: 2 whole minutes at 0.012
    assert rerate([(received, 0)], [BUSINESS_OLD], "USD").total_difference_micros == 0, "no inbound rate: free"


def test_R4_R6_the_other_plans_included_minutes_are_used_first_each_month():
    nov = T0 + 31 * 86_400_000  # 2026-11-01
    calls = [(call(1, 61, T0), 0), (call(2, 30, T0 + 3_600_000), 0), (call(3, 90, nov), 0)]
    result = rerate(calls, [BUSINESS_OLD, BUSINESS_NEW], "USD", included_for=lambda month: 120)
    # October: the first call's 2 billed minutes are the 2 included, the second pays 1 at 0.02;
    # November starts again with 2 minutes.
    assert [d.rerated_micros for d in result.differences] == [0, 20_000, 0]
    assert [d.rerated.included_s for d in result.differences] == [120, 0, 120]
