"""Invoices and credit notes from the fold (R13-R17, R19, R25), on concrete calendars with hand-computed amounts.

Prices keep the arithmetic visible: domestic calls cost 0.01 a minute, calls to the UK
0.123456 a minute (sub-cent, so lines need rounding), Belgian calls 0.05 EUR a minute; whole-minute
increments. The monthly fee is 30.00. Every invoice must equal, to the micro-unit, the customer
debits in the journal that it covers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.account import Applied, Decided, Duplicate, FoldSettings, Positioned, Rejected, fold_batch
from projections.events import (
    AccountOpened,
    AdjustmentPosted,
    PlanChangeRequested,
    AccountTerminated,
    CallDetailRecord,
    DisputeOpened,
    DisputeOutcome,
    DisputeResolved,
    Disposition,
    InvoiceIssued,
    InvoiceKind,
    PaymentReceived,
    PeriodTicked,
    TerminationReason,
    TickKind,
)
from projections.invoicing import ROUNDING_RESIDUE, TaxRule, format_minor, round_half_away
from projections.journal import JournalEntry
from projections.rating import DestinationRate, RateCard

FEE = 30_000_000
NOW = 2**62
USD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000), "44": DestinationRate("44", "UK", 123_456)})
EUR = RateCard("eur", "EUR", 0, {"32": DestinationRate("32", "Belgium", 50_000)})
US_TAXES = (TaxRule("US-FED", "Federal universal service surcharge", 34_000), TaxRule("US-NY", "NY sales tax", 40_000))
BE_TAXES = (TaxRule("BE", "VAT", 210_000),)
FOLD = FoldSettings(rate_cards=(USD, EUR), monthly_fee_by_plan=(("basic", FEE),),
                    taxes_by_key=(("USD", US_TAXES), ("EUR", BE_TAXES), ("US-CA", (TaxRule("US-CA", "CA tax", 72_500),))))
NO_TAX = FoldSettings(rate_cards=(USD, EUR), monthly_fee_by_plan=(("basic", FEE),))


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("UTC")).timestamp() * 1000)


class Account:
    """One account's events through the fold, one batch each, as the worker would."""

    def __init__(self, opened_at: str, currency: str = "USD", mode: str = "postpaid", fold: FoldSettings = FOLD,
                 tax_jurisdiction: str = ""):
        self.fold, self.offset, self.state, self.calls = fold, 0, None, 0
        self.entries: list[JournalEntry] = []
        self.invoices: list[InvoiceIssued] = []
        self.feed(AccountOpened("open", "a1", ms(opened_at), currency, "basic", mode, ("15550000001",), "UTC",
                                tax_jurisdiction))

    def feed(self, event):
        item = Positioned("t/0", self.offset, 0, NOW, event)
        self.offset += 1
        self.state, outcomes = fold_batch(self.state, [item], self.fold)
        for o in outcomes:
            if isinstance(o, (Applied, Decided)):
                self.entries += [e for e in ((getattr(o, "entry", None),) + o.derived) if e is not None]
                self.invoices += [n for n in o.notices if isinstance(n, InvoiceIssued)]
        return outcomes

    def call(self, at: str, callee: str, seconds: int):
        start = ms(at)
        self.calls += 1
        return self.feed(CallDetailRecord(f"e{self.calls}", "c", f"k{self.calls}", "a1", "15550000001", callee,
                                          start, start, start + seconds * 1000, Disposition.ANSWERED))

    def tick(self, at: str):
        return self.feed(PeriodTicked(f"tick-{at}", ms(at), TickKind.HOUR, at[:7]))

    def customer_debits(self) -> int:
        """Every debit on the customer's ledger account except money movements."""
        return sum(p.amount_micros for e in self.entries if e.kind not in ("payment", "balance_refund")
                   for p in e.postings if p.ledger_account == "customer:a1")

    def lines(self, n: int = -1) -> list[tuple[str, str, int]]:
        return [(line.category, line.description, line.amount_micros) for line in self.invoices[n].lines]


def test_R13_R14_R16_R17_monthly_close_itemises_fees_usage_and_taxes_and_reconciles_to_the_micro_unit():
    a = Account("2026-10-01T00:00:00")
    a.call("2026-10-05T10:00:00", "12125550100", 61)  # 120 s billed: 0.02
    a.call("2026-10-06T10:00:00", "447700900123", 30)  # 60 s: 0.123456
    a.call("2026-10-07T10:00:00", "447700900123", 90)  # 120 s: 0.246912
    assert a.invoices == []  # nothing is invoiced before the month ends
    a.tick("2026-11-01T00:00:00")
    (invoice,) = a.invoices
    assert (invoice.invoice_number, invoice.period, invoice.currency) == ("VL-a1-2026-0001", "2026-10", "USD")
    assert a.lines() == [
        ("monthly", "Monthly service, 2026-10", 30_000_000),
        ("monthly", "Monthly service, 2026-11, in advance", 30_000_000),  # R14: in advance
        ("usage:domestic", "Calls, domestic, 2026-10, 2:00 min billed", 20_000),
        ("usage:international", "Calls, international, 2026-10, 3:00 min billed", 370_000),  # 0.370368
        # R17: 3.4% of 60.39 = 2.05326 -> 2.05; 4% = 2.4156 -> 2.42
        ("tax:US-FED", "Federal universal service surcharge 3.4% of 60.39 USD", 2_050_000),
        ("tax:US-NY", "NY sales tax 4% of 60.39 USD", 2_420_000),
    ]
    assert invoice.total_micros == 64_860_000
    # The close posts the rounding residue (-0.000368) and the taxes, in one balanced entry.
    close = a.entries[-1]
    assert close.entry_id == "i:VL-a1-2026-0001" and close.kind == "invoice"
    assert {p.ledger_account: p.amount_micros for p in close.postings} == {
        "customer:a1": 4_469_632, ROUNDING_RESIDUE: 368, "tax:payable:US-FED": -2_050_000,
        "tax:payable:US-NY": -2_420_000}
    assert a.customer_debits() == invoice.total_micros
    assert a.state.balance_micros == -invoice.total_micros and a.state.billing.unbilled == {}
    # The account summary printed on it: nothing paid yet, 64.86 owed.
    assert (invoice.payments_micros, invoice.balance_micros) == (0, -64_860_000)


def test_R17_eur_account_gets_belgian_vat():
    a = Account("2026-10-01T00:00:00", currency="EUR", mode="prepaid")
    a.feed(PaymentReceived("p1", "a1", ms("2026-10-01T00:00:00"), 100_000_000, "EUR"))
    a.call("2026-10-03T09:00:00", "3225551234", 125)  # 180 s at 0.05: 0.15
    a.tick("2026-11-01T00:00:00")
    (invoice,) = a.invoices
    # Fees 30.00 (October, charged at funding) + 30.00 (November), usage 0.15: 60.15; VAT 21% = 12.6315 -> 12.63
    assert [line.amount_micros for line in invoice.lines] == [30_000_000, 30_000_000, 150_000, 12_630_000]
    assert invoice.lines[-1].description == "VAT 21% of 60.15 EUR" and invoice.total_micros == 72_780_000
    assert a.customer_debits() == invoice.total_micros
    assert a.state.balance_micros == 100_000_000 - 72_780_000
    assert (invoice.payments_micros, invoice.balance_micros) == (100_000_000, 27_220_000)


def test_R17_an_accounts_own_jurisdiction_picks_its_rules_before_its_currency():
    a = Account("2026-10-01T00:00:00", tax_jurisdiction="US-CA")
    a.tick("2026-11-01T00:00:00")
    # 60.00 of fees; California's 7.25% only (not the USD fallback's federal and NY lines): 4.35
    assert [(line.category, line.amount_micros) for line in a.invoices[0].lines][-1:] == [("tax:US-CA", 4_350_000)]
    assert len(a.invoices[0].lines) == 3
    b = Account("2026-10-01T00:00:00", tax_jurisdiction="US-TX")  # no rules of its own: the currency's
    b.tick("2026-11-01T00:00:00")
    assert [line.category for line in b.invoices[0].lines][-2:] == ["tax:US-FED", "tax:US-NY"]


def test_R13_a_late_cdr_never_changes_an_issued_invoice_and_appears_next_month_as_prior_period_usage():
    a = Account("2026-10-01T00:00:00", fold=NO_TAX)
    a.call("2026-10-20T10:00:00", "12125550100", 60)
    a.tick("2026-11-01T00:00:00")
    first = a.invoices[0]
    a.call("2026-10-31T23:59:00", "12125550100", 300)  # the carrier's file came late: 0.05
    a.call("2026-11-03T08:00:00", "12125550100", 60)
    a.tick("2026-11-01T01:00:00")  # another tick in November closes nothing
    assert a.invoices == [first]
    a.tick("2026-12-01T00:00:00")
    assert a.invoices[0] == first and len(a.invoices) == 2
    assert a.invoices[1].invoice_number == "VL-a1-2026-0002"
    assert a.lines() == [
        ("monthly", "Monthly service, 2026-12, in advance", 30_000_000),
        ("usage:domestic:prior", "Prior-period usage: Calls, domestic, 2026-10, 5:00 min billed", 50_000),
        ("usage:domestic", "Calls, domestic, 2026-11, 1:00 min billed", 10_000),
    ]
    assert a.customer_debits() == sum(i.total_micros for i in a.invoices)


def test_R15_first_invoice_prorates_by_day_for_starts_on_the_1st_15th_31st_and_in_a_leap_february():
    cases = {  # opened -> (first month's fee, the month the first invoice closes)
        "2026-10-01T00:00:00": (30_000_000, "2026-11-01T00:00:00"),  # whole month
        "2026-10-15T00:00:00": (16_450_000, "2026-11-01T00:00:00"),  # 17/31 x 30 = 16.4516.. -> 16.45
        "2026-10-31T00:00:00": (970_000, "2026-11-01T00:00:00"),  # 1/31 x 30 = 0.9677.. -> 0.97
        "2028-02-15T00:00:00": (15_520_000, "2028-03-01T00:00:00"),  # 15/29 x 30 = 15.5172.. -> 15.52
    }
    for opened, (first_fee, close_at) in cases.items():
        a = Account(opened, fold=NO_TAX)
        a.tick(close_at)
        assert [line.amount_micros for line in a.invoices[0].lines] == [first_fee, FEE], opened
        assert a.invoices[0].period == opened[:7]
        assert a.customer_debits() == a.invoices[0].total_micros


def test_R25_termination_mid_month_issues_the_final_invoice_with_the_unused_days_credited():
    a = Account("2026-10-01T00:00:00", fold=NO_TAX)
    a.tick("2026-11-01T00:00:00")
    a.call("2026-11-05T10:00:00", "12125550100", 60)
    at = ms("2026-11-10T12:00:00")
    a.feed(AccountTerminated("t1", "a1", at, TerminationReason.CUSTOMER_REQUEST, at))
    final = a.invoices[-1]
    assert (final.invoice_number, final.period) == ("VL-a1-2026-0002", "2026-11")
    # November was charged in advance on invoice 1; its unused days (the 11th to the 30th) come
    # back: 20/30 x 30.00. The final invoice is a net credit.
    assert a.lines() == [
        ("monthly:credit", "Monthly service credit, unused days, 2026-11", -20_000_000),
        ("usage:domestic", "Calls, domestic, 2026-11, 1:00 min billed", 10_000),
    ]
    assert final.total_micros == -19_990_000
    assert a.customer_debits() == sum(i.total_micros for i in a.invoices)
    a.tick("2026-12-01T00:00:00")
    assert len(a.invoices) == 2 and a.state.billing.unbilled == {}


def test_invoice_numbers_are_gapless_per_account_and_start_again_each_year():
    a = Account("2026-11-01T00:00:00", fold=NO_TAX)
    for at in ("2026-12-01T00:00:00", "2027-01-01T00:00:00", "2027-01-15T00:00:00", "2027-02-01T00:00:00"):
        a.tick(at)
    assert [i.invoice_number for i in a.invoices] == ["VL-a1-2026-0001", "VL-a1-2027-0001", "VL-a1-2027-0002"]


def test_rounding_is_half_away_from_zero_to_the_cent():
    assert [round_half_away(m, 10_000) for m in (4_999, 5_000, -5_000, -4_999, 15_000, 0)] == \
        [0, 10_000, -10_000, 0, 20_000, 0]
    assert [format_minor(m, "USD") for m in (0, 10_000, -1_230_000, 123_450_000)] == ["0.00", "0.01", "-1.23", "123.45"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 80), st.sampled_from(["12125550100", "447700900123", "3225551234"]),
                          st.integers(1, 900)), max_size=25))
def test_invoices_always_equal_the_journal_debits_they_cover_and_every_entry_balances(calls):
    a = Account("2026-09-10T00:00:00")
    days = ["2026-10-01T00:00:00", "2026-11-01T00:00:00", "2026-12-01T00:00:00"]
    for day, callee, seconds in calls:
        a.call(f"2026-{9 + (10 + day) // 30:02d}-{(10 + day) % 30 + 1:02d}T12:00:00", callee, seconds)
        if days and day > 30 * (3 - len(days)) + 25:
            a.tick(days.pop(0))
    for day in days:
        a.tick(day)
    a.tick("2027-01-01T00:00:00")
    for e in a.entries:
        assert sum(p.amount_micros for p in e.postings) == 0
    unit = 10_000
    assert all(line.amount_micros % unit == 0 for i in a.invoices for line in i.lines)
    unbilled = sum(m for _, m in a.state.billing.unbilled.values())
    assert a.customer_debits() == sum(i.total_micros for i in a.invoices) + unbilled


def disputed_account() -> tuple[Account, InvoiceIssued]:
    a = Account("2026-10-01T00:00:00", fold=NO_TAX)
    a.call("2026-10-20T10:00:00", "447700900123", 600)  # 10 min: 1.23456
    a.tick("2026-11-01T00:00:00")
    return a, a.invoices[0]


def test_R19_a_dispute_on_day_29_is_accepted_and_a_win_issues_a_credit_note_and_posts_the_credit():
    a, invoice = disputed_account()
    assert invoice.total_micros == 61_230_000
    before = a.state.balance_micros
    out = a.feed(DisputeOpened("d1", "a1", ms("2026-11-30T00:00:00"), invoice.invoice_number, 1_230_000, "USD",
                               "calls I did not make"))  # day 29 after issue
    assert isinstance(out[0], Applied) and "d1" in a.state.billing.open_disputes
    assert a.state.balance_micros == before  # opening a dispute moves no money
    a.feed(DisputeResolved("r1", "a1", ms("2026-12-03T00:00:00"), "d1", DisputeOutcome.CUSTOMER_FAVOUR, 1_230_000, "USD"))
    note = a.invoices[-1]
    assert (note.kind, note.invoice_number, note.period, note.total_micros) == \
        (InvoiceKind.CREDIT_NOTE, "VL-a1-2026-0002", "2026-10", -1_230_000)
    entry = a.entries[-1]
    assert (entry.entry_id, entry.kind) == ("dc:d1", "dispute_credit")
    assert {p.ledger_account: p.amount_micros for p in entry.postings} == {"revenue:disputes": 1_230_000,
                                                                          "customer:a1": -1_230_000}
    assert a.state.balance_micros == before + 1_230_000 and a.state.billing.open_disputes == {}
    # The credit note is the next number of the sequence; the next invoice follows it.
    a.tick("2026-12-01T01:00:00")
    assert a.invoices[-1].invoice_number == "VL-a1-2026-0003"


def test_R19_a_dispute_on_day_31_is_refused():
    a, invoice = disputed_account()
    out = a.feed(DisputeOpened("d1", "a1", ms("2026-12-02T00:00:00"), invoice.invoice_number, 1_230_000, "USD"))
    assert isinstance(out[0], Rejected) and out[0].code == "dispute_too_late"
    assert "30 days" in out[0].reason and a.state.billing.open_disputes == {}


def test_R19_disputes_are_checked_against_the_invoice_and_a_provider_win_moves_no_money():
    a, invoice = disputed_account()
    n = invoice.invoice_number
    day = ms("2026-11-05T00:00:00")
    assert a.feed(DisputeOpened("d0", "a1", day, "VL-a1-2026-0099", 10_000, "USD"))[0].code == "unknown_invoice"
    assert a.feed(DisputeOpened("d0", "a1", day, n, 99_000_000, "USD"))[0].code == "dispute_exceeds_invoice"
    assert a.feed(DisputeOpened("d0", "a1", day, n, 10_000, "EUR"))[0].code == "currency_mismatch"
    assert isinstance(a.feed(DisputeOpened("d1", "a1", day, n, 1_000_000, "USD"))[0], Applied)
    assert isinstance(a.feed(DisputeOpened("d1", "a1", day, n, 1_000_000, "USD"))[0], Duplicate)
    before = a.state.balance_micros
    assert a.feed(DisputeResolved("r0", "a1", day, "d9", DisputeOutcome.CUSTOMER_FAVOUR, 10_000, "USD"))[0].code \
        == "unknown_dispute"
    assert a.feed(DisputeResolved("r0", "a1", day, "d1", DisputeOutcome.CUSTOMER_FAVOUR, 1_000_001, "USD"))[0].code \
        == "bad_credit"
    assert isinstance(a.feed(DisputeResolved("r1", "a1", day, "d1", DisputeOutcome.PROVIDER_FAVOUR, 0, "USD"))[0],
                      Applied)
    assert a.state.balance_micros == before and len(a.invoices) == 1 and a.state.billing.open_disputes == {}


def test_R16_R18_one_time_charges_and_credits_are_their_own_lines_and_a_debt_over_the_threshold_is_invoiced_early():
    a = Account("2026-10-01T00:00:00", fold=NO_TAX)
    a.feed(AdjustmentPosted("x1", "a1", ms("2026-10-02T09:00:00"), 49_000_000, "USD", "equipment", "IP phone"))
    a.feed(AdjustmentPosted("x2", "a1", ms("2026-10-02T09:00:00"), 9_950_000, "USD", "shipping"))
    a.feed(AdjustmentPosted("x3", "a1", ms("2026-10-09T09:00:00"), -5_000_000, "USD", "goodwill", "outage 8 Oct"))
    assert isinstance(a.feed(AdjustmentPosted("x3", "a1", ms("2026-10-09T09:00:00"), -5_000_000, "USD", "goodwill",
                                              "outage 8 Oct"))[0], Duplicate)
    bad = a.feed(AdjustmentPosted("x4", "a1", ms("2026-10-09T09:00:00"), 1_000_000, "USD", "lunch"))[0]
    assert isinstance(bad, Rejected) and bad.code == "unknown_category"
    # R18: October's fee and the phone (79.00 owed) passed the 50.00 threshold: an interim
    # invoice of what was unbilled then; the month stays open for the rest.
    interim = a.invoices[0]
    assert (interim.kind, interim.period, interim.invoice_number) == (InvoiceKind.INTERIM, "2026-10", "VL-a1-2026-0001")
    assert [(c, amount) for c, _, amount in a.lines(0)] == [("monthly", 30_000_000), ("equipment", 49_000_000)]
    a.tick("2026-11-01T00:00:00")
    assert (a.invoices[1].kind, a.invoices[1].period) == (InvoiceKind.REGULAR, "2026-10")
    assert [(c, amount) for c, _, amount in a.lines()] == [
        ("monthly", 30_000_000), ("shipping", 9_950_000), ("goodwill", -5_000_000)]
    equipment = next(e for e in a.entries if e.entry_id == "a:x1")
    assert {p.ledger_account: p.amount_micros for p in equipment.postings} == {"customer:a1": 49_000_000,
                                                                              "revenue:equipment": -49_000_000}
    goodwill = next(e for e in a.entries if e.entry_id == "a:x3")
    assert {p.ledger_account: p.amount_micros for p in goodwill.postings} == {"customer:a1": -5_000_000,
                                                                             "revenue:adjustments": 5_000_000}
    assert a.customer_debits() == sum(i.total_micros for i in a.invoices) == 113_950_000


PLANS = FoldSettings(rate_cards=(USD, EUR), monthly_fee_by_plan=(("basic", FEE), ("business", 50_000_000)),
                     connection_fee_by_plan=(("basic", 10_000_000), ("business", 35_000_000)),
                     interim_threshold_micros=10**12)


def test_R21_a_plan_change_4_days_before_month_end_takes_effect_at_its_end_and_an_upgrade_pays_the_connection_difference():
    a = Account("2026-10-01T00:00:00", fold=PLANS)
    a.feed(PlanChangeRequested("pc1", "a1", ms("2026-10-27T12:00:00"), "business"))  # 4.5 days before 1 November
    assert (a.state.plan, a.state.pending_plan, a.state.pending_plan_from) == ("basic", "business", "2026-11")
    a.tick("2026-11-01T00:00:00")
    assert a.state.plan == "business" and a.state.pending_plan == ""
    assert [(c, d, amount) for c, d, amount in a.lines()] == [
        ("activation", "Activation, 2026-11", 25_000_000),  # connection fee 35.00 - 10.00
        ("monthly", "Monthly service, 2026-10", 30_000_000),
        ("monthly", "Monthly service, 2026-11, in advance", 50_000_000),  # the new plan's fee
    ]
    fee = next(e for e in a.entries if e.entry_id == "cf:a1/2026-11")
    assert {p.ledger_account: p.amount_micros for p in fee.postings} == {"customer:a1": 25_000_000,
                                                                        "revenue:activation": -25_000_000}
    assert a.customer_debits() == a.invoices[0].total_micros


def test_R7_R21_a_connection_fee_set_in_the_accounts_currency_comes_before_the_plans_fee_in_any():
    per_currency = replace(PLANS, connection_fee_by_plan=(*PLANS.connection_fee_by_plan, ("business:EUR", 40_000_000)))
    for currency, difference in (("EUR", 30_000_000), ("USD", 25_000_000)):  # 40.00 or 35.00, less basic's 10.00
        a = Account("2026-10-01T00:00:00", currency=currency, fold=per_currency)
        a.feed(PlanChangeRequested("pc1", "a1", ms("2026-10-27T12:00:00"), "business"))
        a.tick("2026-11-01T00:00:00")
        assert ("activation", "Activation, 2026-11", difference) in a.lines(), currency


def test_R21_a_plan_change_2_days_before_month_end_waits_for_the_end_of_the_next_and_a_downgrade_pays_nothing():
    a = Account("2026-10-01T00:00:00", fold=PLANS)
    a.feed(PlanChangeRequested("pc1", "a1", ms("2026-10-27T12:00:00"), "business"))
    a.tick("2026-11-01T00:00:00")
    a.feed(PlanChangeRequested("pc2", "a1", ms("2026-11-29T00:00:00"), "basic"))  # 2 days before 1 December
    assert a.state.pending_plan_from == "2027-01"
    a.tick("2026-12-01T00:00:00")
    assert a.state.plan == "business" and a.lines()[-1][2] == 50_000_000
    a.tick("2027-01-01T00:00:00")
    assert a.state.plan == "basic"
    assert [(c, amount) for c, _, amount in a.lines()] == [("monthly", 30_000_000)]  # no activation line


def test_R21_the_three_day_notice_is_counted_to_the_minute_in_the_accounts_zone():
    from projections.plan_change import effective_period

    assert effective_period(ms("2026-10-29T00:00:00"), "UTC") == "2026-11"  # exactly 3 days before
    assert effective_period(ms("2026-10-29T00:01:00"), "UTC") == "2026-12"
    # 29 October 02:00 UTC is still 28 October 22:00 in New York: 3 days and 2 hours before its 1 November.
    assert effective_period(ms("2026-10-29T02:00:00"), "America/New_York") == "2026-11"


def test_R7_R13_a_jpy_account_and_a_kwd_account_are_invoiced_to_their_own_minor_units():
    """Any ISO 4217 currency, with its own minor unit: the yen has none, the Kuwaiti dinar has
    three digits (fils). Prices keep sub-unit precision in micro-units; invoice lines round to
    the currency's minor unit, half away from zero, and the residue is posted."""
    yen = RateCard("jpy", "JPY", 0, {"81": DestinationRate("81", "Japan", 12_345_678)})  # 12.345678 JPY/min
    dinar = RateCard("kwd", "KWD", 0, {"965": DestinationRate("965", "Kuwait", 4_321)})  # 0.004321 KWD/min
    fold = FoldSettings(rate_cards=(yen, dinar), monthly_fee_by_plan=(("basic", 0),))
    for currency, callee, minor, expected_usage in (("JPY", "81312345678", 1_000_000, 37_000_000),
                                                    ("KWD", "96522345678", 1_000, 13_000)):
        a = Account("2026-10-01T00:00:00", currency=currency, fold=fold)
        a.call("2026-10-05T10:00:00", callee, 150)  # 3 whole minutes: 37.037034 JPY, 0.012963 KWD
        a.tick("2026-11-01T00:00:00")
        (invoice,) = a.invoices
        assert invoice.currency == currency and all(line.amount_micros % minor == 0 for line in invoice.lines)
        assert [line.amount_micros for line in invoice.lines if line.category.startswith("usage")] == [expected_usage]
        assert invoice.total_micros == expected_usage == a.customer_debits()
    assert format_minor(37_000_000, "JPY") == "37" and format_minor(13_000, "KWD") == "0.013"


def test_R17_R19_a_credit_note_reverses_the_vat_in_proportion_and_cites_the_invoice_it_corrects():
    """A Belgian account (VAT 21%) wins a dispute of 12.10 EUR: the credit note credits 10.00 net
    and reverses 2.10 of VAT, names the invoice it corrects, and the entry gives the tax back."""
    fold = replace(FOLD, payment_terms_days=30)
    a = Account("2026-10-01T00:00:00", currency="EUR", mode="prepaid", fold=fold)
    a.feed(PaymentReceived("p1", "a1", ms("2026-10-01T00:00:00"), 100_000_000, "EUR"))
    a.tick("2026-11-01T00:00:00")
    (invoice,) = a.invoices
    assert (invoice.time_zone, invoice.due_at_ms) == ("UTC", ms("2026-12-01T00:00:00")), "due 30 days after issue"
    a.feed(DisputeOpened("d1", "a1", ms("2026-11-10T00:00:00"), invoice.invoice_number, 12_100_000, "EUR"))
    a.feed(DisputeResolved("r1", "a1", ms("2026-11-12T00:00:00"), "d1", DisputeOutcome.CUSTOMER_FAVOUR, 12_100_000,
                           "EUR"))
    note = a.invoices[-1]
    assert (note.kind, note.corrects, note.total_micros, note.due_at_ms) == (
        InvoiceKind.CREDIT_NOTE, invoice.invoice_number, -12_100_000, 0)
    assert [(line.category, line.amount_micros) for line in note.lines] == [("credit:dispute", -10_000_000),
                                                                            ("tax:BE", -2_100_000)]
    assert note.lines[1].description == "VAT 21% reversed on 10.00 EUR"
    entry = a.entries[-1]
    assert {p.ledger_account: p.amount_micros for p in entry.postings} == {
        "revenue:disputes": 10_000_000, "tax:payable:BE": 2_100_000, "customer:a1": -12_100_000}
    assert sum(p.amount_micros for p in entry.postings) == 0


# Belgium's VAT raised to 22% from January 2027 (the rules of the key "EUR" dated, stated again whole).
VAT_RAISED = replace(FOLD, tax_rule_changes=(("EUR", "2027-01", (TaxRule("BE", "VAT", 220_000),)),))


def test_R17_a_change_of_tax_rates_applies_from_the_period_it_is_dated_and_a_credit_note_keeps_its_invoices_rate():
    a = Account("2026-12-01T00:00:00", currency="EUR", mode="prepaid", fold=replace(VAT_RAISED, payment_terms_days=30))
    a.feed(PaymentReceived("p1", "a1", ms("2026-12-01T00:00:00"), 200_000_000, "EUR"))
    a.tick("2027-01-01T00:00:00")  # December's invoice: 21%
    a.tick("2027-02-01T00:00:00")  # January's: 22%
    december, january = a.invoices
    assert (december.period, december.lines[-1].description) == ("2026-12", "VAT 21% of 60.00 EUR")
    assert (january.period, january.lines[-1].description) == ("2027-01", "VAT 22% of 30.00 EUR")
    # A dispute of December's invoice, resolved in February: reversed at December's 21%.
    a.feed(DisputeOpened("d1", "a1", ms("2027-01-10T00:00:00"), december.invoice_number, 12_100_000, "EUR"))
    a.feed(DisputeResolved("r1", "a1", ms("2027-02-02T00:00:00"), "d1", DisputeOutcome.CUSTOMER_FAVOUR, 12_100_000,
                           "EUR"))
    assert [(line.category, line.amount_micros) for line in a.invoices[-1].lines] == [
        ("credit:dispute", -10_000_000), ("tax:BE", -2_100_000)]
    assert a.customer_debits() == sum(i.total_micros for i in a.invoices)
    # The jurisdiction's own dated rules take it before the currency's, as undated ones do.
    own = replace(FOLD, tax_rule_changes=(("BE-X", "2027-01", (TaxRule("BE", "VAT reduced", 60_000),)),))
    assert own.taxes("BE-X", "EUR", "2026-12") == BE_TAXES and own.taxes("BE-X", "EUR", "2027-01")[0].rate_ppm == 60_000


def test_R17_R19_the_reversal_of_odd_amounts_still_adds_up_to_the_credit():
    from projections.disputes import credit_lines

    for credit in (10_000, 990_000, 1_230_000, 7_770_000, 99_990_000):
        lines, taxes = credit_lines(credit, "USD", US_TAXES, "Credit")
        assert -sum(line.amount_micros for line in lines) == credit and all(t >= 0 for t in taxes.values())
        assert all(line.amount_micros % 10_000 == 0 for line in lines)


def test_R13_each_invoice_is_worded_in_the_customers_language_at_issue_and_keeps_it():
    """A Dutch-speaking customer of a deployment worded in French: the account's locale
    (AccountOpened v5) goes on its invoices; a change (AccountDetailsChanged v2) reaches the next
    invoice only, and one without a language keeps it; a locale of another shape is refused and
    changes nothing."""
    from projections.events import AccountDetailsChanged

    a = Account("2026-10-01T00:00:00", currency="EUR")
    assert a.state.locale == ""  # opened without one: the deployment's
    a.feed(AccountDetailsChanged("d1", "a1", ms("2026-10-02T00:00:00"), "", "", "", "nl_BE"))
    a.tick("2026-11-01T00:00:00")
    (october,) = a.invoices
    assert (a.state.locale, october.locale) == ("nl_BE", "nl_BE")
    (refused,) = a.feed(AccountDetailsChanged("d2", "a1", ms("2026-11-02T00:00:00"), "", "", "", "Dutch; DROP"))
    assert isinstance(refused, Rejected) and refused.code == "unknown_locale" and a.state.locale == "nl_BE"
    a.feed(AccountDetailsChanged("d3", "a1", ms("2026-11-03T00:00:00"), "", "", "", "fr"))
    a.feed(AccountDetailsChanged("d4", "a1", ms("2026-11-04T00:00:00"), "Ada", "", ""))  # a CRM without the field
    assert (a.state.customer_name, a.state.locale) == ("Ada", "fr"), "a block without a language leaves it as it was"
    a.feed(AccountDetailsChanged("d5", "a1", ms("2026-11-05T00:00:00"), "", "", "", "fr_BE", block_unchanged=True))
    assert (a.state.customer_name, a.state.locale) == ("Ada", "fr_BE"), "the language alone: the block stays"
    (ambiguous,) = a.feed(AccountDetailsChanged("d6", "a1", ms("2026-11-06T00:00:00"), "Bob", "", "", "de",
                                                block_unchanged=True))
    assert isinstance(ambiguous, Rejected) and ambiguous.code == "details_ambiguous" and a.state.locale == "fr_BE"
    a.tick("2026-12-01T00:00:00")
    assert [i.locale for i in a.invoices] == ["nl_BE", "fr_BE"], "the issued invoice keeps its language"
    for locale, code in (("nl", None), ("nl-be", "unknown_locale"), ("x" * 40, "unknown_locale")):
        opening = AccountOpened("open2", "a2", ms("2026-10-01T00:00:00"), "EUR", "basic", "prepaid", (), "UTC",
                                locale=locale)
        state, (outcome,) = fold_batch(None, [Positioned("t/0", 0, 0, NOW, opening)], FOLD)
        assert (getattr(outcome, "code", None), state and state.locale) == (code, locale if code is None else None)
