"""A tick that changes nothing (issue 22): ``tick_changes_nothing`` and ``tick_quiet_until``
against the full fold.

A tick reaches every account of its partition, and ``fold_batch`` skips the fold's set-up for one
that ``tick_changes_nothing`` says has nothing to do (one dated before the account's quiet
time, which a worker also uses to leave quiet accounts out of ticks). That must be exact, both ways: where it
says nothing, the full fold (``fold_items``) gives back the very same state and no outcome; where
it says something, the full fold does change the state or say something. Generated accounts go
through the lifecycle (R12 grace, R22 fees and suspension, R24 termination, R28 inactivity), R21
plan changes, R18's interim flag of postpaid debts and R13's month closes, and are probed at
generated hours, plus a tick dated after it was logged and one delivered again."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.account import Positioned, fold_batch, fold_items, tick_changes_nothing, tick_quiet_until
from projections import lifecycle as lc_rules
from projections.lifecycle import NEVER_MS, Context, Lifecycle, Policy
from projections.events import (AccountOpened, AccountStatus, SuspensionReason, CallDetailRecord, Disposition, PaymentReceived, PeriodTicked,
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


ZONES = ["UTC", "America/Sao_Paulo", "America/Havana", "Asia/Kathmandu", "Pacific/Chatham", "America/New_York"]


def _tick_at(at: int, n: int) -> Positioned:
    return Positioned("ticks/0", 30_000 + n, 0, NOW, PeriodTicked(f"q{at}", at, TickKind.HOUR, ""))


@settings(max_examples=300, deadline=None)
@given(lifecycle_events, extra_events, st.sampled_from(["prepaid", "postpaid"]), st.sampled_from(ZONES),
       st.lists(st.integers(0, 24 * 160), min_size=1, max_size=12), st.sampled_from([FOLD.interim_threshold_micros, 1]))
def test_a_tick_before_the_quiet_time_changes_nothing_and_one_at_it_does(events, extra, mode, zone, probes, threshold):
    """R12, R13, R14, R18, R21, R22, R24, R28: ``tick_quiet_until`` is each of ``_tick``'s tests
    solved for the time, held to the full fold. Sound: a tick dated before it changes nothing (a
    worker leaves the account out of it, and ``tick_changes_nothing`` skips its fold). Exact: a
    tick dated at it does something, so an account is left out of no tick it would have slept
    through. Probed at generated hours, at the quiet time and the millisecond before it, in zones
    with daylight saving and odd offsets."""
    opened = AccountOpened("open", "a1", T_START, "USD", "basic", mode, ("15550000001",), zone)
    stream = sorted([*events, *extra], key=_time)
    items = [Positioned("t/0", i + 1, 0, NOW, e) for i, e in enumerate(stream)]
    state, _ = fold_batch(None, [Positioned("t/0", 0, 0, NOW, opened), *items], FOLD)
    fold = replace(FOLD, interim_threshold_micros=threshold)
    for n, hour in enumerate(sorted(probes)):
        quiet = tick_quiet_until(state, fold)
        if 0 < quiet < NEVER_MS:
            assert _changes_nothing(state, _tick_at(quiet - 1, n), fold), (quiet, state.lifecycle)
            assert not _changes_nothing(state, _tick_at(quiet, n), fold), (quiet, state.lifecycle)
        at = T_START + hour * HOUR
        tick = _tick_at(at, n)
        assert at >= quiet or _changes_nothing(state, tick, fold), (at, quiet, state.lifecycle)
        state, _ = fold_items(state, [tick], fold)


def _changes_nothing(state, tick, fold) -> bool:  # noqa: ANN001 - AccountState, Positioned, FoldSettings
    """What the full fold says of a tick: the very same state back, and no outcome."""
    after, outcomes = fold_items(state, [tick], fold)
    return after is state and not outcomes


def test_an_idle_account_is_quiet_until_its_next_month_starts_and_a_debt_over_r18s_threshold_at_once():
    """R13, R14, R18: a funded prepaid account has nothing to do until the month after its fee's
    starts, in its own zone; a postpaid debt past the threshold, not yet announced, is due at
    the next tick whenever it comes."""
    opened = AccountOpened("open", "a1", T_START, "USD", "basic", "prepaid", ("15550000001",), "Asia/Kathmandu")
    pay = PaymentReceived("p", "a1", T_START + HOUR, 90_000_000, "USD")
    state, _ = fold_batch(None, [Positioned("t/0", 0, 0, NOW, opened), Positioned("t/0", 1, 0, NOW, pay)], FOLD)
    # 2026-02-01 00:00 in Kathmandu (UTC+05:45) is 2026-01-31 18:15 UTC
    assert state.lifecycle.fee_period == "2026-01" and tick_quiet_until(state, FOLD) == 1_769_883_300_000
    debtor = AccountOpened("open", "a1", T_START, "USD", "basic", "postpaid", ("15550000001",))
    state, _ = fold_batch(None, [Positioned("t/0", 0, 0, NOW, debtor)], FOLD)
    assert tick_quiet_until(state, FOLD) > 0
    in_debt = replace(state, balance_micros=-FOLD.interim_threshold_micros - 1)
    assert tick_quiet_until(in_debt, FOLD) == 0


DAY = 86_400_000
lifecycles = st.builds(
    Lifecycle, st.sampled_from(list(AccountStatus)),
    st.sampled_from([SuspensionReason.NON_PAYMENT.value, SuspensionReason.OPERATOR.value, ""]),
    st.integers(T_START - 40 * DAY, T_START + 40 * DAY), st.sampled_from(["", "2025-12", "2026-01", "2026-02"]),
    st.just("2026-01"), st.just(""), st.integers(T_START - 200 * DAY, T_START + 40 * DAY))
policies = st.builds(Policy, st.sampled_from([0, 5_000_000]), st.just(0), st.sampled_from([HOUR, 36 * HOUR]),
                     st.sampled_from([0, DAY, 90 * DAY]))


@settings(max_examples=500, deadline=None)
@given(lifecycles, policies, st.sampled_from(ZONES), st.sampled_from(["prepaid", "postpaid"]),
       st.integers(-10_000_000, 10_000_000), st.lists(st.integers(-60 * DAY, 120 * DAY), max_size=6))
def test_the_lifecycles_quiet_time_is_on_ticks_first_deadline(lc, policy, zone, mode, balance, probes):
    """R12, R14, R22, R23, R24, R28, on the lifecycle alone (an account's month close can come
    first and hide a deadline): ``on_tick`` decides nothing before ``quiet_until`` and something
    at it."""
    ctx = Context("a1", mode, zone, T_START - DAY, balance)
    quiet = lc_rules.quiet_until(lc, ctx.opened_at_ms, zone, policy)
    if 0 < quiet < NEVER_MS:
        assert not lc_rules.on_tick(lc, ctx, quiet - 1, policy)
        assert lc_rules.on_tick(lc, ctx, quiet, policy)
    for offset in probes:
        at = T_START + offset
        assert at >= quiet or not lc_rules.on_tick(lc, ctx, at, policy)
