"""A tick that changes nothing (issue 22): ``tick_changes_nothing`` against the full fold.

A tick reaches every account of its partition, and ``fold_batch`` skips the fold's set-up for one
that ``tick_changes_nothing`` says has nothing to do. That must be exact, both ways: where it
says nothing, the full fold (``fold_items``) gives back the very same state and no outcome; where
it says something, the full fold does change the state or say something. Generated accounts go
through the lifecycle (R12 grace, R22 fees and suspension, R24 termination, R28 inactivity), R21
plan changes, R18's interim flag of postpaid debts and R13's month closes, and are probed at
generated hours, plus a tick dated after it was logged and one delivered again."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.account import Positioned, fold_batch, fold_items, tick_changes_nothing
from projections.events import (AccountOpened, CallDetailRecord, Disposition, PaymentReceived, PeriodTicked,
                                PlanChangeRequested, TickKind)
from tests.unit.test_lifecycle import FOLD, HOURS, NOW, T_START, lifecycle_events

HOUR = 3_600_000


def _call(h: int, minutes: int) -> CallDetailRecord:
    at = T_START + h * HOUR
    return CallDetailRecord(f"c{h}-{minutes}", "carrier", f"k{h}-{minutes}", "a1", "15550000001", "12125550100", at, at,
                            at + minutes * 60_000, Disposition.ANSWERED)


extra_events = st.lists(st.one_of(
    st.builds(_call, HOURS, st.integers(1, 6_000)),
    st.builds(lambda h, plan: PlanChangeRequested(f"pc{h}", "a1", T_START + h * HOUR, plan), HOURS,
              st.sampled_from(["basic", "premium"])),
    st.builds(lambda h, amount: PaymentReceived(f"q{h}-{amount}", "a1", T_START + h * HOUR, amount, "USD"),
              HOURS, st.integers(1, 90_000_000)),
), max_size=15)


def _time(event: object) -> int:
    return getattr(event, "occurred_at_ms", None) or getattr(event, "start_at_ms", 0)


@settings(max_examples=300, deadline=None)
@given(lifecycle_events, extra_events, st.sampled_from(["prepaid", "postpaid"]),
       st.lists(st.integers(0, 24 * 160), min_size=1, max_size=12), st.sampled_from([FOLD.interim_threshold_micros, 1]))
def test_a_tick_said_to_change_nothing_changes_nothing_and_the_others_do(events, extra, mode, probes, threshold):
    """``threshold``: R18's, set lower after the account was folded (a configuration changed
    between two runs of a worker): its interim flag is then out of date until the next tick."""
    opened = AccountOpened("open", "a1", T_START, "USD", "basic", mode, ("15550000001",))
    stream = sorted([*events, *extra], key=_time)
    items = [Positioned("t/0", i + 1, 0, NOW, e) for i, e in enumerate(stream)]
    state, _ = fold_batch(None, [Positioned("t/0", 0, 0, NOW, opened), *items], FOLD)
    fold = replace(FOLD, interim_threshold_micros=threshold)
    seen = {True: 0, False: 0}
    for n, hour in enumerate(sorted(probes)):
        at = T_START + hour * HOUR
        tick = Positioned("ticks/0", 10_000 + n, 0, NOW, PeriodTicked(f"t{hour}", at, TickKind.HOUR, ""))
        quiet = tick_changes_nothing(state, tick, fold)
        after, outcomes = fold_items(state, [tick], fold)
        assert quiet == (after is state and not outcomes), (hour, state.lifecycle, after.lifecycle, outcomes)
        assert fold_batch(state, [tick], fold) == (after, outcomes)
        seen[quiet] += 1
        state = after
    # A tick logged before it is dated is refused (a dead letter) whatever the account's state.
    logged = T_START + 24 * 170 * HOUR
    future = PeriodTicked("early", logged + FOLD.max_clock_skew_ms + 1, TickKind.HOUR, "")
    assert not tick_changes_nothing(state, Positioned("ticks/0", 20_000, 0, logged, future), FOLD)
    assert fold_items(state, [Positioned("ticks/0", 20_000, 0, logged, future)], FOLD)[1]  # the refusal
    assert seen[True] + seen[False] == len(probes)


def test_most_ticks_change_nothing_and_a_month_start_and_a_due_plan_do():
    """The property above holds on both branches; this shows each happens on a plain account."""
    opened = AccountOpened("open", "a1", T_START, "USD", "basic", "prepaid", ("15550000001",))
    pay = PaymentReceived("p", "a1", T_START + HOUR, 90_000_000, "USD")
    state, _ = fold_batch(None, [Positioned("t/0", 0, 0, NOW, opened), Positioned("t/0", 1, 0, NOW, pay)], FOLD)
    hourly = [Positioned("ticks/0", h, 0, NOW, PeriodTicked(f"t{h}", T_START + h * HOUR, TickKind.HOUR, ""))
              for h in range(2, 24 * 40)]
    verdicts = []
    for tick in hourly:
        verdicts.append(tick_changes_nothing(state, tick, FOLD))
        state, _ = fold_items(state, [tick], FOLD)
    assert verdicts.count(False) == 1 and sum(verdicts) == len(hourly) - 1  # February's start: fee and close
    plan = PlanChangeRequested("pc", "a1", T_START + 40 * 24 * HOUR, "premium")
    state, _ = fold_batch(state, [Positioned("t/0", 2, 0, NOW, plan)], FOLD)
    march = Positioned("ticks/0", 5_000, 0, NOW, PeriodTicked("m", T_START + 55 * 24 * HOUR, TickKind.HOUR, ""))
    assert not tick_changes_nothing(state, march, FOLD)
