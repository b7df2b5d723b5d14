"""The account lifecycle through the fold (R12, R14, R15, R22-R28), on concrete calendars.

A 30.00 monthly fee keeps the arithmetic visible: a 30-day month costs 1.00 a day, a 31-day
month 0.967741... a day, February 1.0714... or (leap year) 1.0344... a day. Every expected amount
is computed by hand in the test. Time comes only from events (ticks, payments, operator events).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.account import Applied, Decided, FoldSettings, Positioned, Rejected, fold_batch
from projections.events import (
    InvoiceIssued,
    AccountOpened,
    AccountResumed,
    AccountStatus,
    AccountSuspended,
    AccountTerminated,
    CallDetailRecord,
    Disposition,
    FraudHoldPlaced,
    FraudHoldReleased,
    PaymentReceived,
    PeriodTicked,
    SuspensionReason,
    TerminationReason,
    TickKind,
)
from projections.journal import balances_from_journal
from projections.rating import DestinationRate, RateCard

FEE = 30_000_000  # 30.00
NOW = 2**62
CARD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000)})
FOLD = FoldSettings(rate_cards=(CARD,), monthly_fee_by_plan=(("basic", FEE),), termination_fee_micros=50_000_000,
                    inactivity_ms=90 * 86_400_000)


def ms(text: str, tz: str = "UTC") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


class Account:
    """Feeds one account's events through the fold, one batch each, as the worker would."""

    def __init__(self, opened_at: str, tz: str = "UTC", mode: str = "prepaid", fold: FoldSettings = FOLD) -> None:
        self.tz = tz
        self.fold = fold  # the worker's settings: a test may change them between events, as a restart does
        self.offset = 0
        self.state = None
        self.entries = []
        self.changes = []
        self.invoices = []
        self.outcomes = []
        self.feed(AccountOpened("open", "a1", ms(opened_at, tz), "USD", "basic", mode, ("15550000001",), tz))

    def feed(self, event):
        item = Positioned("t/0", self.offset, 0, NOW, event)
        self.offset += 1
        self.state, outcomes = fold_batch(self.state, [item], self.fold)
        for o in outcomes:
            if isinstance(o, (Applied, Decided)):
                self.entries += [e for e in ((getattr(o, "entry", None),) + o.derived) if e is not None]
                self.changes += [n for n in o.notices if not isinstance(n, InvoiceIssued)]
                self.invoices += [n for n in o.notices if isinstance(n, InvoiceIssued)]
        self.outcomes = outcomes
        return outcomes

    def tick(self, at: str):
        return self.feed(PeriodTicked(f"tick-{at}", ms(at, "UTC"), TickKind.HOUR, at[:7]))

    def pay(self, at: str, micros: int):
        return self.feed(PaymentReceived(f"pay-{at}", "a1", ms(at, self.tz), micros, "USD"))

    @property
    def status(self):
        return self.state.lifecycle.status

    def kinds(self):
        return [(e.kind, e.entry_id, e.postings[0].amount_micros) for e in self.entries]


def test_R12_prepaid_registration_without_funds_is_cancelled_after_36_hours():
    a = Account("2026-03-01T00:00:00")
    assert a.status is AccountStatus.REGISTERED
    assert a.tick("2026-03-02T11:00:00") == []  # 35 h: nothing, and no trace
    a.tick("2026-03-02T12:00:00")  # 36 h
    assert a.status is AccountStatus.TERMINATED and a.state.lifecycle.reason == "NO_FUNDS_AFTER_REGISTRATION"
    assert [(c.old_status, c.new_status, c.numbers) for c in a.changes] == [
        (AccountStatus.REGISTERED, AccountStatus.TERMINATED, ("15550000001",))]
    assert a.entries == []


def test_R12_R15_funds_activate_with_the_rest_of_the_month_pro_rated_by_day():
    cases = [  # (funded at, days charged, days in month, expected fee)
        ("2026-04-15T09:00:00", 16, 30, 16_000_000),  # 15th..30th of April
        ("2026-01-31T09:00:00", 1, 31, 967_741),  # 30 * 1/31 = 0.9677419.. rounded down
        ("2026-02-01T09:00:00", 28, 28, 30_000_000),  # a start on the 1st pays the month
        ("2028-02-15T09:00:00", 15, 29, 15_517_241),  # leap February: 30 * 15/29 = 15.5172413..
    ]
    for funded_at, days, month_days, fee in cases:
        a = Account(funded_at)
        a.pay(funded_at, 100_000_000)
        assert FEE * days // month_days == fee
        assert a.status is AccountStatus.ACTIVE and a.state.balance_micros == 100_000_000 - fee, funded_at
        assert a.kinds()[-1] == ("fee", f"f:a1/{funded_at[:7]}", fee)


def test_R12_funds_that_do_not_cover_the_first_fee_leave_the_account_registered():
    a = Account("2026-04-01T00:00:00")
    a.pay("2026-04-01T01:00:00", 10_000_000)  # 10.00 < 30.00 for a whole April
    assert a.status is AccountStatus.REGISTERED and a.state.balance_micros == 10_000_000


def test_R14_R22_the_fee_is_charged_in_advance_at_local_midnight_on_the_1st_and_renews():
    a = Account("2026-04-15T09:00:00", tz="America/New_York")
    a.pay("2026-04-15T09:00:00", 100_000_000)  # April pro-rated: 16 days = 16.00
    assert a.tick("2026-05-01T00:00:00") == []  # 20:00 on 30 April in New York: not yet
    a.tick("2026-05-01T04:00:00")  # 00:00 on 1 May in New York
    assert a.state.balance_micros == 100_000_000 - 16_000_000 - FEE
    assert a.tick("2026-05-01T04:00:00") == [] and a.tick("2026-05-01T05:00:00") == []  # once per period
    a.tick("2026-06-01T04:00:00")  # renews automatically (R22)
    assert [k[1] for k in a.kinds() if k[0] == "fee"] == ["f:a1/2026-04", "f:a1/2026-05", "f:a1/2026-06"]
    assert a.state.lifecycle.fee_period == "2026-06"


def test_R14_missed_ticks_charge_every_period_begun_in_order():
    a = Account("2026-01-10T00:00:00")
    a.pay("2026-01-10T00:00:00", 200_000_000)
    a.tick("2026-04-01T00:00:00")  # the scheduler was down for February and March
    assert [k[1] for k in a.kinds() if k[0] == "fee"] == ["f:a1/2026-01", "f:a1/2026-02", "f:a1/2026-03",
                                                         "f:a1/2026-04"]


def raised(month: str, fee: int = 33_000_000) -> FoldSettings:
    """FOLD with the basic plan's fee raised to ``fee`` from ``month`` (``basic:33.00@2026-06``)."""
    return replace(FOLD, monthly_fee_changes=(("basic", month, fee),))


def test_R14_a_price_change_charges_each_month_the_fee_dated_for_it():
    a = Account("2026-04-15T00:00:00", fold=raised("2026-06"))
    a.pay("2026-04-15T00:00:00", 200_000_000)  # April pro-rated at the old fee: 16 days of 30 = 16.00
    a.tick("2026-07-01T00:00:00")  # one late tick: May at the old fee, June and July at the new one
    assert [(k[1], k[2]) for k in a.kinds() if k[0] == "fee"] == [
        ("f:a1/2026-04", 16_000_000), ("f:a1/2026-05", FEE), ("f:a1/2026-06", 33_000_000), ("f:a1/2026-07", 33_000_000)]
    opened_in_june = Account("2026-06-21T00:00:00", fold=raised("2026-06"))
    opened_in_june.pay("2026-06-21T00:00:00", 100_000_000)  # 10 days of 30 at 33.00 (R15)
    assert [k[2] for k in opened_in_june.kinds() if k[0] == "fee"] == [11_000_000]


def test_R14_R23_a_top_up_resumes_with_the_fee_of_the_unpaid_month():
    a = suspended_on_may_1st(fold=raised("2026-05"))  # May costs 33.00: 5.00 left does not cover it
    a.pay("2026-05-10T00:00:00", 30_000_000)
    assert a.status is AccountStatus.ACTIVE and a.kinds()[-1] == ("fee", "f:a1/2026-05", 33_000_000)
    assert a.state.balance_micros == 2_000_000


def test_R14_a_price_change_added_before_its_month_folds_the_same_live_and_rebuilt():
    """Live, the worker takes the change (dated July) at a restart on 10 June; a rebuild folds every
    month with the settings of today. Same books. Dated June, a month begun when it was added, it
    would not be: the rule the settings document (add a change before its month)."""
    def lived(change: FoldSettings, restart: str | None) -> Account:
        a = Account("2026-04-02T00:00:00", fold=FOLD if restart else change)
        a.pay("2026-04-02T00:00:00", 300_000_000)
        for at in ("2026-05-01", "2026-06-01", "2026-06-10", "2026-07-01", "2026-08-01", "2026-09-01"):
            if at == restart:
                a.fold = change
            a.tick(at + "T00:00:00")
            a.feed(CallDetailRecord(f"c-{at}", "carrier", f"k-{at}", "a1", "15550000001", "+15551234567",
                                    ms(at + "T12:00:00"), ms(at + "T12:00:00"), ms(at + "T12:05:00"),
                                    Disposition.ANSWERED))
        return a

    live, rebuilt = lived(raised("2026-07"), "2026-06-10"), lived(raised("2026-07"), None)
    assert live.state == rebuilt.state and live.kinds() == rebuilt.kinds()
    assert ("fee", "f:a1/2026-07", 33_000_000) in live.kinds()
    late_live, late_rebuilt = lived(raised("2026-06"), "2026-06-10"), lived(raised("2026-06"), None)
    assert late_live.state.balance_micros != late_rebuilt.state.balance_micros, "June: 30.00 live, 33.00 rebuilt"


def suspended_on_may_1st(tz="UTC", fold: FoldSettings = FOLD) -> Account:
    a = Account("2026-04-01T00:00:00", tz=tz, fold=fold)
    a.pay("2026-04-01T00:00:00", 35_000_000)  # April: 30.00, 5.00 left
    a.tick("2026-05-01T00:00:00")
    assert a.status is AccountStatus.SUSPENDED and a.state.lifecycle.unpaid_period == "2026-05"
    assert a.changes[-1].reason == "NON_PAYMENT" and a.state.balance_micros == 5_000_000
    return a


def test_R23_fee_not_covered_suspends_and_a_top_up_on_day_30_charges_it_and_resumes():
    a = suspended_on_may_1st()
    a.pay("2026-05-30T00:00:00", 20_000_000)  # 25.00 < 30.00: still suspended
    assert a.status is AccountStatus.SUSPENDED
    a.pay("2026-05-31T00:00:00", 10_000_000)  # day 30 of the suspension: 35.00 covers the fee
    assert a.status is AccountStatus.ACTIVE and a.state.balance_micros == 5_000_000
    assert a.kinds()[-1] == ("fee", "f:a1/2026-05", FEE)
    assert [c.new_status for c in a.changes][-2:] == [AccountStatus.SUSPENDED, AccountStatus.ACTIVE]


def test_R24_a_top_up_on_day_32_is_too_late_the_account_ended_at_the_unpaid_periods_start():
    a = suspended_on_may_1st()
    outcomes = a.pay("2026-06-02T00:00:00", 50_000_000)  # one month and a day after 1 May
    assert a.status is AccountStatus.TERMINATED and a.state.lifecycle.reason == "NON_PAYMENT"
    assert isinstance(outcomes[-1], Rejected) and outcomes[-1].code == "account_terminated"
    termination = a.changes[-1]
    assert termination.new_status is AccountStatus.TERMINATED
    assert a.kinds()[-1] == ("balance_refund", "rb:a1", 5_000_000)  # the 5.00 left is owed back
    assert a.state.balance_micros == 0


def test_R24_a_suspension_from_the_31st_lasts_one_month_at_the_end_of_february():
    a = Account("2026-01-01T00:00:00", tz="Europe/Brussels")
    a.pay("2026-01-01T00:00:00", 100_000_000)
    a.feed(AccountSuspended("s1", "a1", ms("2026-01-31T10:00:00", "Europe/Brussels"), SuspensionReason.NON_PAYMENT))
    assert a.state.lifecycle.unpaid_period == "2026-01"
    a.tick("2026-02-28T09:00:00")  # 10:00 in Brussels: exactly one month, not more
    assert a.status is AccountStatus.SUSPENDED
    a.tick("2026-02-28T10:00:00")
    assert a.status is AccountStatus.TERMINATED
    # Effective from the start of the unpaid period: 1 January, 00:00 in Brussels.
    assert a.changes[-1].occurred_at_ms == ms("2026-02-28T10:00:00")
    assert a.changes[-1].effective_at_ms == ms("2026-01-01T00:00:00", "Europe/Brussels")


def test_R25_customer_termination_mid_month_credits_the_unused_days_and_refunds_the_balance():
    a = Account("2026-04-01T00:00:00")
    a.pay("2026-04-01T00:00:00", 50_000_000)  # April fee 30.00, 20.00 left
    at = ms("2026-04-10T15:00:00")
    a.feed(AccountTerminated("t1", "a1", at, TerminationReason.CUSTOMER_REQUEST, at))
    # Charged up to and including the 10th: 20 of 30 days unused = 20.00 back, then 40.00 refunded.
    assert a.kinds()[-2:] == [("fee_credit", "fc:a1/2026-04", -20_000_000), ("balance_refund", "rb:a1", 40_000_000)]
    assert a.status is AccountStatus.TERMINATED and a.state.balance_micros == 0


def test_R22_a_customer_who_cancels_after_the_26th_owes_the_next_month():
    a = Account("2026-04-01T00:00:00")
    a.pay("2026-04-01T00:00:00", 100_000_000)
    on_26th, on_27th = ms("2026-04-26T23:00:00"), ms("2026-04-27T08:00:00")
    b = Account("2026-04-01T00:00:00")
    b.pay("2026-04-01T00:00:00", 100_000_000)
    a.feed(AccountTerminated("t1", "a1", on_26th, TerminationReason.CUSTOMER_REQUEST, on_26th))
    b.feed(AccountTerminated("t1", "a1", on_27th, TerminationReason.CUSTOMER_REQUEST, on_27th))
    assert a.kinds()[-2] == ("fee_credit", "fc:a1/2026-04", -4_000_000)  # 27th..30th: 4 days back
    assert b.kinds()[-2] == ("fee", "f:a1/2026-05", FEE)  # May charged, no credit for April
    assert a.kinds()[-1] == ("balance_refund", "rb:a1", 74_000_000)
    assert b.kinds()[-1] == ("balance_refund", "rb:a1", 40_000_000)


def test_R26_termination_for_breach_keeps_the_month_and_adds_the_termination_fee():
    a = Account("2026-04-01T00:00:00")
    a.pay("2026-04-01T00:00:00", 100_000_000)
    at = ms("2026-04-10T00:00:00")
    a.feed(AccountTerminated("t1", "a1", at, TerminationReason.BREACH, at))
    assert a.kinds()[-2:] == [("termination_fee", "tf:a1", 50_000_000), ("balance_refund", "rb:a1", 20_000_000)]


def test_R27_a_fraud_hold_blocks_recharges_and_a_fraud_termination_refunds_nothing():
    a = Account("2026-04-01T00:00:00")
    a.pay("2026-04-01T00:00:00", 50_000_000)
    a.feed(FraudHoldPlaced("h1", "a1", ms("2026-04-05T00:00:00"), "case-1"))
    assert a.status is AccountStatus.FRAUD_HOLD
    outcomes = a.pay("2026-04-06T00:00:00", 10_000_000)
    assert isinstance(outcomes[0], Rejected) and outcomes[0].code == "recharge_blocked"
    assert a.state.balance_micros == 20_000_000
    a.feed(FraudHoldReleased("r1", "a1", ms("2026-04-07T00:00:00"), "case-1"))
    assert a.status is AccountStatus.ACTIVE  # back where it was
    a.feed(FraudHoldPlaced("h2", "a1", ms("2026-04-08T00:00:00"), "case-2"))
    at = ms("2026-04-09T00:00:00")
    a.feed(AccountTerminated("t1", "a1", at, TerminationReason.FRAUD, at))
    assert a.status is AccountStatus.TERMINATED and a.state.balance_micros == 20_000_000
    assert not any(k[0] == "balance_refund" for k in a.kinds())


def test_R28_an_account_inactive_for_the_configured_time_is_deactivated():
    a = Account("2026-04-01T00:00:00")
    a.pay("2026-04-01T00:00:00", 300_000_000)
    start = ms("2026-05-15T12:00:00")
    a.feed(CallDetailRecord("e1", "c", "k1", "a1", "15550000001", "12125550100", start, start + 1_000,
                            start + 31_000, Disposition.ANSWERED))
    a.tick("2026-08-13T00:00:00")  # 89.5 days after the call
    assert a.status is AccountStatus.ACTIVE
    a.tick("2026-08-13T12:00:00")  # 90 days
    assert a.status is AccountStatus.TERMINATED and a.state.lifecycle.reason == "INACTIVITY"
    # Fees for April..August were charged (150.00), the call 0.01; August's 18 unused days come back.
    # The final invoice rounds the credit to the cent before the refund, which pays out the rest.
    assert a.kinds()[-3:] == [("fee_credit", "fc:a1/2026-08", -17_419_354), ("invoice", "i:VL-a1-2026-0002", -646),
                              ("balance_refund", "rb:a1", 167_410_000)]
    assert a.state.balance_micros == 0 and a.state.billing.unbilled == {}
    assert [i.invoice_number for i in a.invoices] == [f"VL-a1-2026-{n:04d}" for n in (1, 2)]


def test_operator_suspend_resume_and_invalid_transitions_are_rejected_with_a_reason():
    a = Account("2026-04-01T00:00:00")
    outcomes = a.feed(AccountResumed("r0", "a1", ms("2026-04-01T01:00:00")))
    assert isinstance(outcomes[0], Rejected) and outcomes[0].code == "invalid_transition"
    a.pay("2026-04-01T02:00:00", 50_000_000)
    a.feed(AccountSuspended("s1", "a1", ms("2026-04-02T00:00:00"), SuspensionReason.OPERATOR))
    assert a.status is AccountStatus.SUSPENDED
    a.feed(AccountResumed("r1", "a1", ms("2026-04-03T00:00:00")))
    assert a.status is AccountStatus.ACTIVE
    at = ms("2026-04-04T00:00:00")
    a.feed(AccountTerminated("t1", "a1", at, TerminationReason.PROVIDER_WITHOUT_REASON, at))
    outcomes = a.feed(AccountTerminated("t2", "a1", at, TerminationReason.BREACH, at))
    assert isinstance(outcomes[0], Rejected) and "already terminated" in outcomes[0].reason


def test_R14_postpaid_starts_active_with_a_pro_rated_fee_and_owes_it():
    a = Account("2026-04-21T00:00:00", mode="postpaid")
    assert a.status is AccountStatus.ACTIVE and a.state.balance_micros == -10_000_000  # 10 of 30 days
    a.tick("2026-05-01T00:00:00")
    assert a.state.balance_micros == -40_000_000 and a.status is AccountStatus.ACTIVE  # never suspended


def test_R18_a_postpaid_debt_above_the_threshold_is_announced_once_per_crossing():
    from projections.events import InterimInvoiceDue

    a = Account("2026-04-01T00:00:00", mode="postpaid")  # April's fee: owes 30.00
    start = ms("2026-04-02T12:00:00")

    def call(n, minutes):
        return CallDetailRecord(f"e{n}", "c", f"k{n}", "a1", "15550000001", "12125550100", start + n * 3_600_000,
                                start + n * 3_600_000, start + n * 3_600_000 + minutes * 60_000, Disposition.ANSWERED)

    a.feed(call(1, 2000))  # 20.00 (0.01/min): owes 50.00, not above
    assert not [c for c in a.changes if isinstance(c, InterimInvoiceDue)]
    a.feed(call(2, 1))  # owes 50.01
    a.feed(call(3, 100))  # owes 51.01: still the same crossing
    due = [c for c in a.changes if isinstance(c, InterimInvoiceDue)]
    assert [(d.owed_micros, d.threshold_micros) for d in due] == [(50_010_000, 50_000_000)]
    a.pay("2026-04-03T00:00:00", 30_000_000)  # owes 21.01: the flag clears
    assert not a.state.lifecycle.interim_due
    a.feed(call(4, 1500))  # 15.00: owes 36.01
    a.feed(call(5, 1500))  # owes 51.01 again: a new crossing
    assert len([c for c in a.changes if isinstance(c, InterimInvoiceDue)]) == 2


HOURS = st.integers(0, 24 * 150)
T_START = ms("2026-01-05T00:00:00")
lifecycle_events = st.lists(st.one_of(
    st.builds(lambda h: PeriodTicked(f"t{h}", T_START + h * 3_600_000, TickKind.HOUR, ""), HOURS),
    st.builds(lambda h, amount: PaymentReceived(f"p{h}-{amount}", "a1", T_START + h * 3_600_000, amount, "USD"),
              HOURS, st.integers(1, 60_000_000)),
    st.builds(lambda h, r: AccountTerminated(f"x{h}", "a1", T_START + h * 3_600_000, r, T_START + h * 3_600_000),
              HOURS, st.sampled_from(TerminationReason)),
    st.builds(lambda h: FraudHoldPlaced(f"f{h}", "a1", T_START + h * 3_600_000, "c"), HOURS),
    st.builds(lambda h: FraudHoldReleased(f"g{h}", "a1", T_START + h * 3_600_000, "c"), HOURS),
), max_size=25).map(lambda evs: sorted(evs, key=lambda e: getattr(e, "occurred_at_ms", 0) or e.received_at_ms))


@settings(max_examples=150, deadline=None)
@given(lifecycle_events, st.integers(1, 5))
def test_lifecycle_keeps_the_books_whatever_happens_and_batching_does_not_matter(events, split):
    opened = AccountOpened("open", "a1", T_START, "USD", "basic", "prepaid", ("15550000001",))
    items = [Positioned("t/0", i, 0, NOW, e) for i, e in enumerate([opened, *events])]
    whole, outcomes = fold_batch(None, items, FOLD)
    state = None
    for i in range(0, len(items), split):
        state, _ = fold_batch(state, items[i:i + split], FOLD)
    assert state == whole
    entries = [e for o in outcomes if isinstance(o, (Applied, Decided))
               for e in ((getattr(o, "entry", None),) + o.derived) if e is not None]
    assert balances_from_journal(entries).get("a1", 0) == whole.balance_micros
    assert whole.charged_micros - whole.paid_micros == -whole.balance_micros
    assert len({e.entry_id for e in entries}) == len(entries)  # every fee posted once
    if whole.lifecycle.status is AccountStatus.TERMINATED and whole.lifecycle.reason != "FRAUD":
        assert whole.balance_micros <= 0  # R25: nothing left behind but what is owed
