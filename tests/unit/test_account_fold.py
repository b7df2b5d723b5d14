"""The account fold is exactly-once by construction: R9 (payments credit, charges debit), R7
(one currency per account), redelivered positions and duplicate keys change nothing, conflicts
and bad events are rejected with a reason, dedup memory is bounded. Property tests show that
balance = payments - charges and that folding is idempotent and batch-split independent."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.account import (
    DAY_MS,
    Applied,
    Duplicate,
    FoldSettings,
    Positioned,
    Redelivered,
    Rejected,
    fold_all,
    fold_batch,
)
from projections.identity import dedup_key_id
from projections.events import (
    AccountOpened,
    CallDetailRecord,
    ChargebackReceived,
    SubscriberErasureRequested,
    AdjustmentPosted,
    Disposition,
    PaymentReceived,
    PaymentRefunded,
)
from projections.rating import DestinationRate, RateCard

T0 = 1_790_812_800_000
NOW = 2**62
CARD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000)})
SETTINGS = FoldSettings(rate_cards=(CARD,), on_net_prefixes=("1555",), dedup_window_ms=DAY_MS, dedup_max_keys=100)


def opened(acct="a1", currency="USD") -> AccountOpened:
    return AccountOpened(f"open-{acct}", acct, T0, currency, "basic", "prepaid", ("15550000001",))


def call(n: int, seconds: int = 61, acct="a1", start=T0 + 60_000, callee="12125550100") -> CallDetailRecord:
    return CallDetailRecord(f"e{n}", "carrier", f"call-{n}", acct, "15550000001", callee, start, start + 1_000,
                            start + 1_000 + seconds * 1000, Disposition.ANSWERED)


def pay(n: int, micros: int, acct="a1", currency="USD") -> PaymentReceived:
    return PaymentReceived(f"pay-{n}", acct, T0 + 1_000, micros, currency)


def positioned(events, start_offset=0) -> list[Positioned]:
    return [Positioned("t/0", start_offset + i, 0, NOW, e) for i, e in enumerate(events)]


def test_R9_payments_credit_and_calls_debit():
    state, outcomes = fold_batch(None, positioned([opened(), pay(1, 5_000_000), call(1), call(2, 30)]), SETTINGS)
    # 61 s -> 2 min -> 20_000; 30 s -> 1 min -> 10_000
    assert state.balance_micros == 5_000_000 - 30_000
    assert (state.paid_micros, state.charged_micros, state.calls_charged) == (5_000_000, 30_000, 2)
    assert all(isinstance(o, Applied) for o in outcomes)


def test_redelivered_positions_change_nothing():
    items = positioned([opened(), pay(1, 5_000_000), call(1)])
    state, _ = fold_batch(None, items, SETTINGS)
    again, outcomes = fold_batch(state, items[1:], SETTINGS)
    assert again is state, "an unchanged account is the same object: the worker then writes nothing"
    assert all(isinstance(o, Redelivered) for o in outcomes)


def test_a_tick_that_changes_nothing_leaves_the_very_same_state():
    from projections.events import PeriodTicked, TickKind

    state, _ = fold_batch(None, positioned([opened(), pay(1, 5_000_000), call(1)]), SETTINGS)
    tick = Positioned("t/0", 10, 0, NOW, PeriodTicked("tick-1", T0 + 3_600_000, TickKind.HOUR, "2026-10"))
    after, outcomes = fold_batch(state, [tick], SETTINGS)
    assert after is state and outcomes == []


def test_resent_cdr_at_a_new_offset_is_a_duplicate_not_a_second_charge():
    state, _ = fold_batch(None, positioned([opened(), call(1)]), SETTINGS)
    resent = replace(call(1), event_id="e1-resent")
    state2, outcomes = fold_batch(state, positioned([resent], start_offset=10), SETTINGS)
    assert isinstance(outcomes[0], Duplicate)
    assert state2.balance_micros == state.balance_micros


def test_same_call_key_with_other_content_is_a_conflict():
    state, _ = fold_batch(None, positioned([opened(), call(1)]), SETTINGS)
    _, outcomes = fold_batch(state, positioned([call(1, seconds=600)], start_offset=10), SETTINGS)
    assert isinstance(outcomes[0], Rejected) and outcomes[0].code == "duplicate_conflict"


def test_R7_payment_in_another_currency_is_rejected():
    state, outcomes = fold_batch(None, positioned([opened(), pay(1, 1_000_000, currency="EUR")]), SETTINGS)
    assert isinstance(outcomes[1], Rejected) and outcomes[1].code == "currency_mismatch"
    assert state.balance_micros == 0


def test_events_before_the_account_opens_are_rejected():
    state, outcomes = fold_batch(None, positioned([call(1)]), SETTINGS)
    assert state is None and outcomes[0].code == "unknown_account"


def test_dedup_window_is_bounded_and_old_events_are_refused_loudly():
    late_start = T0 + 3 * DAY_MS
    state, _ = fold_batch(None, positioned([opened(), call(1), call(2, start=late_start)]), SETTINGS)
    assert dedup_key_id("c:carrier/call-1") not in state.recent_keys, "keys older than the window are evicted"
    assert dedup_key_id("c:carrier/call-2") in state.recent_keys
    _, outcomes = fold_batch(state, positioned([call(3)], start_offset=10), SETTINGS)
    assert outcomes[0].code == "outside_dedup_window"


def test_a_busy_account_whose_key_set_is_full_lets_go_of_its_oldest_keys_and_goes_on_billing():
    # A call centre: 10 keys kept, 40 calls a minute apart. Before, the 11th call and every one
    # after it were dead-lettered (dedup_capacity_exceeded) until keys left the window.
    tight = replace(SETTINGS, dedup_max_keys=10)
    calls = [call(n, start=T0 + 60_000 * (n + 1)) for n in range(40)]
    state, outcomes = fold_batch(None, positioned([opened(), *calls]), tight)
    assert all(isinstance(o, Applied) for o in outcomes) and state.calls_charged == 40
    assert len(state.recent_keys) <= 10 and calls[29].start_at_ms <= state.dedup_floor_ms < calls[39].start_at_ms
    # The last call resent: a duplicate. An early one resent: older than the keys kept, so
    # refused as outside the window; charged twice never.
    again, outcomes = fold_batch(state, positioned([calls[39], calls[0]], start_offset=41), tight)
    assert isinstance(outcomes[0], Duplicate) and outcomes[1].code == "outside_dedup_window"
    assert "busy account" in outcomes[1].reason
    assert again.balance_micros == state.balance_micros and again.calls_charged == 40


busy_calls = st.lists(st.builds(lambda n, hours, s: call(n, s, start=T0 + hours * 3_600_000 + n),
                                st.integers(0, 40), st.integers(0, 72), st.integers(0, 600)), max_size=80)


@settings(max_examples=200, deadline=None)
@given(busy_calls, st.lists(st.integers(1, 80), max_size=4))
def test_a_full_key_set_and_the_window_decide_the_same_wherever_a_batch_part_ends(calls, cuts):
    # Calls over three days at a window of one and 6 keys kept: what is refused, what is a
    # duplicate and what is charged depend only on the log, never on where the fold stopped
    # to write the state (a live worker's parts against a rebuild's).
    tight = replace(SETTINGS, dedup_max_keys=6)
    items = positioned([opened(), *calls])
    whole, expected = fold_batch(None, items, tight)
    state, outcomes, start = None, [], 0
    for end in [*sorted(set(cuts)), len(items)]:
        state, part = fold_batch(state, items[start:end], tight)
        outcomes, start = outcomes + list(part), max(start, end)
    assert state == whole
    assert [type(o).__name__ + getattr(o, "code", "") for o in outcomes] == [
        type(o).__name__ + getattr(o, "code", "") for o in expected]


def test_event_dated_after_it_was_logged_is_rejected():
    item = Positioned("t/0", 1, 0, T0, call(1, start=T0 + 2 * 3_600_000))
    state, _ = fold_batch(None, positioned([opened()]), SETTINGS)
    _, outcomes = fold_batch(state, [item], SETTINGS)
    assert outcomes[0].code == "event_time_in_future"


# --- properties -----------------------------------------------------------------------

def refund(n: int, micros: int, currency="USD") -> PaymentRefunded:
    return PaymentRefunded(f"refund-{n}", "a1", T0 + 2_000, micros, currency, "pay-1")


def chargeback(n: int, micros: int) -> ChargebackReceived:
    return ChargebackReceived(f"cb-{n}", "a1", T0 + 3_000, micros, "USD", "pay-1")


def adjust(n: int, micros: int, category: str = "equipment") -> AdjustmentPosted:
    return AdjustmentPosted(f"adj-{n}", "a1", T0 + 4_000, micros, "USD", category)


def test_R9_refund_and_chargeback_take_funds_back_with_balanced_entries():
    state, outcomes = fold_batch(None, positioned([opened(), pay(1, 5_000_000), refund(1, 1_000_000),
                                                   chargeback(1, 500_000)]), SETTINGS)
    assert state.balance_micros == 3_500_000 and state.paid_micros == 3_500_000
    entries = {o.entry.kind: o.entry for o in outcomes if isinstance(o, Applied) and o.entry}
    assert [(p.ledger_account, p.amount_micros) for p in entries["refund"].postings] == \
        [("customer:a1", 1_000_000), ("refunds:payable", -1_000_000)]
    assert [(p.ledger_account, p.amount_micros) for p in entries["chargeback"].postings] == \
        [("customer:a1", 500_000), ("payments:clearing", -500_000)]
    # A payment id and a refund id may be equal: their dedup keys live in separate namespaces.
    again, outcomes = fold_batch(state, positioned([PaymentRefunded("pay-1", "a1", T0, 1, "USD")], 10), SETTINGS)
    assert isinstance(outcomes[0], Applied) and again.balance_micros == 3_499_999


def test_R8_a_refund_gives_back_only_the_unused_balance_never_what_calls_took():
    # 5.00 paid, a 61 s call at 0.01/min (billed 2 min) took 0.02: 4.98 is unused.
    state, outcomes = fold_batch(None, positioned([opened(), pay(1, 5_000_000), call(1)]), SETTINGS)
    assert state.balance_micros == 4_980_000
    # The whole payment back would refund the completed call (R8): refused, nothing moves.
    after, outcomes = fold_batch(state, positioned([refund(1, 5_000_000)], 3), SETTINGS)
    assert isinstance(outcomes[0], Rejected) and outcomes[0].code == "refund_exceeds_balance"
    assert "R8" in outcomes[0].reason and "4980000" in outcomes[0].reason
    assert after.balance_micros == 4_980_000 and after.paid_micros == 5_000_000
    # The unused balance, to the micro-unit, goes back; one micro-unit more would not.
    over, outcomes = fold_batch(state, positioned([refund(2, 4_980_001)], 3), SETTINGS)
    assert isinstance(outcomes[0], Rejected) and over.balance_micros == 4_980_000
    done, outcomes = fold_batch(state, positioned([refund(2, 4_980_000)], 3), SETTINGS)
    assert isinstance(outcomes[0], Applied) and done.balance_micros == 0
    # A chargeback is the bank's decision, not a refund: recorded whatever the balance.
    taken, outcomes = fold_batch(done, positioned([chargeback(1, 5_000_000)], 4), SETTINGS)
    assert isinstance(outcomes[0], Applied) and taken.balance_micros == -5_000_000


def test_R8_a_refused_refund_is_applied_once_funds_cover_it_and_a_postpaid_debt_refunds_nothing():
    state, _ = fold_batch(None, positioned([opened(), refund(1, 1_000_000)]), SETTINGS)
    assert state.balance_micros == 0  # refused: nothing unused yet
    # Refused, its key is not kept: the same refund, sent again once funds arrive, is applied.
    state, outcomes = fold_batch(state, positioned([pay(1, 3_000_000), refund(1, 1_000_000)], 2), SETTINGS)
    assert isinstance(outcomes[1], Applied) and state.balance_micros == 2_000_000
    postpaid = AccountOpened("open-a1", "a1", T0, "USD", "basic", "postpaid", ("15550000001",))
    owing, _ = fold_batch(None, positioned([postpaid, call(1)]), SETTINGS)
    assert owing.balance_micros < 0
    _, outcomes = fold_batch(owing, positioned([refund(2, 1)], 2), SETTINGS)
    assert isinstance(outcomes[0], Rejected) and outcomes[0].code == "refund_exceeds_balance"


def test_R27_no_refund_on_a_fraud_hold_nor_after_a_termination_for_fraud():
    from projections.events import AccountTerminated, FraudHoldPlaced, FraudHoldReleased, TerminationReason

    state, _ = fold_batch(None, positioned([opened(), pay(1, 5_000_000)]), SETTINGS)
    held, outcomes = fold_batch(state, positioned([FraudHoldPlaced("f1", "a1", T0 + 1_500, "case-1"),
                                                   refund(1, 1_000_000)], 2), SETTINGS)
    assert isinstance(outcomes[-1], Rejected) and outcomes[-1].code == "refund_blocked"
    assert held.balance_micros == 5_000_000
    released, outcomes = fold_batch(held, positioned([FraudHoldReleased("f2", "a1", T0 + 1_600, "case-1"),
                                                      refund(1, 1_000_000)], 4), SETTINGS)
    assert isinstance(outcomes[-1], Applied) and released.balance_micros == 4_000_000
    ended, _ = fold_batch(held, positioned([AccountTerminated("t1", "a1", T0 + 1_700, TerminationReason.FRAUD,
                                                              T0 + 1_700)], 4), SETTINGS)
    assert ended.balance_micros > 0  # R27: nothing refunded at the termination
    _, outcomes = fold_batch(ended, positioned([refund(1, 1_000_000)], 5), SETTINGS)
    assert isinstance(outcomes[0], Rejected) and outcomes[0].code == "refund_blocked"


def test_R7_refund_in_another_currency_is_rejected():
    state, outcomes = fold_batch(None, positioned([opened(), refund(1, 100, "EUR")]), SETTINGS)
    assert isinstance(outcomes[1], Rejected) and outcomes[1].code == "currency_mismatch"
    assert state.balance_micros == 0


def test_R32_an_erasure_takes_the_subscribers_numbers_out_of_state_and_keeps_the_billing():
    from projections.events import AccountSuspended, AccountStatusChanged, SuspensionReason

    erasure = SubscriberErasureRequested("er-1", "a1", T0 + 5_000, "gdpr-1")
    before, _ = fold_batch(None, positioned([opened(), pay(1, 100_000), call(1)]), SETTINGS)
    assert before.numbers == ("15550000001",)
    suspend = AccountSuspended("s1", "a1", T0 + 6_000, SuspensionReason.OPERATOR)
    state, outcomes = fold_batch(before, positioned([erasure, pay(2, 100), suspend], start_offset=3), SETTINGS)
    assert isinstance(outcomes[0], Applied) and state.numbers == ()
    assert state.balance_micros == before.balance_micros + 100 and state.calls_charged == 1  # billing stays
    changes = [n for o in outcomes for n in getattr(o, "notices", ()) if isinstance(n, AccountStatusChanged)]
    assert changes and all(c.numbers == () for c in changes)  # switches are told no number
    again, outcomes = fold_batch(state, positioned([erasure], start_offset=3), SETTINGS)  # redelivered
    assert again.numbers == () and outcomes[0].__class__.__name__ == "Redelivered"


# Refunds apart: a refund gives back at most the unused balance when it comes (R8), so it
# depends on what came before it, where the others commute.
commuting_strategy = st.one_of(
    st.builds(lambda n, s: call(n, s), st.integers(0, 30), st.integers(0, 7200)),
    st.builds(lambda n, m: pay(n, m), st.integers(0, 10), st.integers(1, 50_000_000)),
    st.builds(chargeback, st.integers(0, 5), st.integers(1, 5_000_000)),
    st.builds(adjust, st.integers(0, 5), st.integers(-5_000_000, 5_000_000).filter(bool),
              st.sampled_from(["equipment", "goodwill", "activation"])),
)
event_strategy = st.one_of(commuting_strategy, st.builds(refund, st.integers(0, 5), st.integers(1, 5_000_000)))


@settings(max_examples=150, deadline=None)
@given(st.lists(event_strategy, max_size=60), st.integers(1, 60))
def test_balance_is_payments_minus_charges_and_batching_does_not_matter(events, cut):
    items = positioned([opened()] + events)
    whole, _ = fold_batch(None, items, SETTINGS)
    first, _ = fold_batch(None, items[:cut], SETTINGS)
    split, _ = fold_batch(first, items[cut:], SETTINGS)
    assert whole == split
    assert whole.balance_micros == whole.paid_micros - whole.charged_micros


@settings(max_examples=150, deadline=None)
@given(st.lists(event_strategy, max_size=60), st.data())
def test_folding_with_duplicates_and_redeliveries_is_idempotent(events, data):
    base = [opened()] + events
    clean, outcomes = fold_batch(None, positioned(base), SETTINGS)
    # Re-send random applied events later in the log (duplicates), and redeliver a random prefix.
    # (A refused event sent again is not a duplicate: it may be applied now, as a re-drive does.)
    applied = [o.item.event for o in outcomes if isinstance(o, Applied)]
    dupes = data.draw(st.lists(st.sampled_from([opened(), *applied]), max_size=20))
    noisy = positioned(base + dupes)
    state, _ = fold_batch(None, noisy, SETTINGS)
    redelivered_upto = data.draw(st.integers(0, len(noisy)))
    again, _ = fold_batch(state, noisy[:redelivered_upto], SETTINGS)
    assert again == state
    assert (state.balance_micros, state.charged_micros, state.paid_micros) == (
        clean.balance_micros, clean.charged_micros, clean.paid_micros)


def test_fold_all_groups_by_account():
    events = [opened("a1"), opened("a2"), pay(1, 100, acct="a2"), call(1, acct="a1")]
    states = fold_all(positioned(events), SETTINGS)
    assert states["a1"].balance_micros == -20_000 and states["a2"].balance_micros == 100


@settings(max_examples=150, deadline=None)
@given(st.lists(event_strategy, max_size=60), st.data())
def test_every_entry_balances_and_balance_equals_the_sum_of_postings(events, data):
    from projections.journal import balances_from_journal

    base = [opened()] + events
    dupes = data.draw(st.lists(st.sampled_from(base), max_size=10))
    state, outcomes = fold_batch(None, positioned(base + dupes), SETTINGS)
    entries = [o.entry for o in outcomes if isinstance(o, Applied) and o.entry is not None]
    for entry in entries:  # JournalEntry asserts this on construction; check it here too
        assert sum(p.amount_micros for p in entry.postings) == 0
    assert len({e.entry_id for e in entries}) == len(entries), "no entry is posted twice"
    assert balances_from_journal(entries).get("a1", 0) == state.balance_micros


@settings(max_examples=150, deadline=None)
@given(st.lists(commuting_strategy, max_size=40, unique_by=lambda e: e.event_id), st.randoms(use_true_random=False))
def test_reordering_an_accounts_calls_and_payments_gives_the_same_balance(events, rnd):
    """Within the dedup window, money events but refunds commute: any arrival order gives the same money."""
    shuffled = list(events)
    rnd.shuffle(shuffled)
    a, _ = fold_batch(None, positioned([opened()] + events), SETTINGS)
    b, _ = fold_batch(None, positioned([opened()] + shuffled), SETTINGS)
    assert (a.balance_micros, a.charged_micros, a.paid_micros, a.calls_charged) == \
        (b.balance_micros, b.charged_micros, b.paid_micros, b.calls_charged)
    assert a.recent_keys == b.recent_keys


# --- R4: included minutes per calendar month, in log order ---------------------------------------

PLUS = replace(SETTINGS, included_seconds_by_plan=(("plus", 120),), dedup_window_ms=60 * DAY_MS)
OCT_31_2330_NY = 1_793_503_800_000  # 2026-10-31 23:30 in New York = 2026-11-01 03:30Z


def plus_opened(time_zone="UTC") -> AccountOpened:
    return AccountOpened("open-a1", "a1", T0, "USD", "plus", "prepaid", ("15550000001",), time_zone)


def test_R4_the_last_included_minute_then_paid_minutes():
    # 2 included minutes: 61 s bills 120 s, all included; the next call pays; a third pays too.
    state, _ = fold_batch(None, positioned([plus_opened(), call(1, 61), call(2, 30), call(3, 61)]), PLUS)
    assert state.charged_micros == 10_000 + 20_000
    assert state.included_used_s == {"2026-10": 120}


def test_R4_unused_minutes_do_not_carry_over_and_a_late_call_counts_in_its_own_month():
    nov = T0 + 31 * DAY_MS + 3_600_000  # 2026-11-01 01:00Z
    state, _ = fold_batch(None, positioned([plus_opened(), call(1, 30), call(2, 61, start=nov)]), PLUS)
    assert state.charged_micros == 0  # October used 60 s; November starts with 120 s again
    assert state.included_used_s == {"2026-10": 60, "2026-11": 120}
    # A late October CDR arrives after November's: it uses October's last minute, then pays.
    state, _ = fold_batch(state, positioned([call(3, 61, start=T0 + 3_600_000)], 10), PLUS)
    assert state.charged_micros == 10_000 and state.included_used_s == {"2026-10": 120, "2026-11": 120}


def test_R4_R13_the_period_is_the_month_in_the_accounts_zone():
    # 23:30 on 31 October in New York is already November in UTC.
    state, _ = fold_batch(None, positioned([plus_opened("America/New_York"), call(1, 30, start=OCT_31_2330_NY)]), PLUS)
    assert state.included_used_s == {"2026-10": 60}
    state, _ = fold_batch(None, positioned([plus_opened("UTC"), call(1, 30, start=OCT_31_2330_NY)]), PLUS)
    assert state.included_used_s == {"2026-11": 60}


def test_R4_old_periods_are_dropped_with_the_dedup_window():
    later = T0 + 100 * DAY_MS
    state, _ = fold_batch(None, positioned([plus_opened(), call(1, 30), call(2, 30, start=later)]), PLUS)
    assert list(state.included_used_s) == ["2027-01"]


def test_the_fold_never_changes_the_state_it_is_given():
    # The worker keeps decoded states and hands the same object to the next batch
    # (streams/worker/app.py: load_state), so a fold that changed its input in place would make live
    # state drift from the log. Every kind of work here: calls, payments, a month's close.
    from projections.account import Positioned, fold_batch
    from projections.events import PeriodTicked, TickKind
    from schemas.codec import EventCodec
    from streams.worker.fold_settings import fold_settings_from
    from streams.config.settings import EXAMPLE_TAX_RULES, Settings
    from streams.dev.simulate import SimulationSpec, simulate

    codec = EventCodec()
    fs = fold_settings_from(Settings(tax_rules=EXAMPLE_TAX_RULES, monthly_fees=("basic:9.99",),
                                     interim_threshold=("1.00",)))
    events = simulate(SimulationSpec(accounts=40, calls=2_000, days=2, seed=7))
    close = PeriodTicked("tick:nov", 1_793_491_200_000, TickKind.HOUR, "2026-11", "UTC")
    by_account: dict[str, list] = {}
    for i, e in enumerate([*events, close]):
        targets = by_account.keys() if isinstance(e, PeriodTicked) else [e.account_id]
        for a in list(targets):
            by_account.setdefault(a, []).append(Positioned("e/0", i, 0, 2**62, e))
    for items in by_account.values():
        half = len(items) // 2
        state, _ = fold_batch(None, items[:half], fs)
        if state is None:
            continue
        before = codec.encode_state(state)
        after, _ = fold_batch(state, items[half:], fs)
        assert after is not state
        assert codec.encode_state(state) == before


@given(st.text(max_size=8), st.text(max_size=12), st.integers(0, 2**45), st.one_of(st.none(), st.integers(0, 2**45)),
       st.sampled_from(list(Disposition)))
def test_a_calls_dedup_fingerprint_is_the_generic_one_spelled_out(caller, callee, start, answer, disposition):
    # Fingerprints are stored in account states: the hot-path spelling must give the same value
    # as fingerprint() over the same parts, or a carrier's re-send after an upgrade would be
    # taken for a conflicting call.
    from projections.identity import fingerprint

    cdr = CallDetailRecord("e", "c", "k", "a\x1fb", caller, callee, start, answer, start + 5, disposition)
    assert cdr.dedup_identity()[2] == fingerprint(cdr.account_id, caller, callee, start, answer, start + 5,
                                                  disposition.value)


def test_R9_an_accounts_totals_cannot_grow_past_what_its_state_record_holds():
    """Payments of the largest amount an event may carry, again and again: once the totals pass
    TOTALS_MAX_MICROS the account refuses more, and its state stays an Avro long."""
    from projections.account import TOTALS_MAX_MICROS
    from projections.validation import AMOUNT_MAX_MICROS
    from schemas.codec import EventCodec

    acct = "acct-rich"
    fs = FoldSettings(rate_cards=(CARD,), dedup_max_keys=1_000_000)
    n = TOTALS_MAX_MICROS // AMOUNT_MAX_MICROS + 3
    items = positioned([opened(acct)] + [PaymentReceived(f"p{i}", acct, T0 + i, AMOUNT_MAX_MICROS, "USD")
                                         for i in range(n)])
    state, outcomes = fold_batch(None, items, fs)
    refused = [o for o in outcomes if isinstance(o, Rejected)]
    assert [o.code for o in refused] == ["account_totals_out_of_range"] * 2
    assert TOTALS_MAX_MICROS < state.paid_micros <= TOTALS_MAX_MICROS + AMOUNT_MAX_MICROS
    EventCodec().decode_state(EventCodec().encode_state(state))  # still encodable


def test_R32_the_customer_block_follows_its_changes_and_an_erasure_takes_it_out_of_state():
    from projections.events import AccountDetailsChanged

    first = replace(opened(), customer_name="Ada Lovelace", billing_address="12 St James's Square\nLondon")
    changed = AccountDetailsChanged("d1", "a1", T0 + 1_000, "Ada King", "Ockham Park\nSurrey", "GB123456789")
    state, outcomes = fold_batch(None, positioned([first, changed]), SETTINGS)
    assert all(isinstance(o, Applied) for o in outcomes)
    assert (state.customer_name, state.billing_address, state.customer_tax_id) == (
        "Ada King", "Ockham Park\nSurrey", "GB123456789")
    erased, _ = fold_batch(state, positioned([SubscriberErasureRequested("er", "a1", T0 + 2_000, "g")],
                                             start_offset=2), SETTINGS)
    assert (erased.customer_name, erased.billing_address, erased.customer_tax_id, erased.numbers) == ("", "", "", ())
