"""A carrier's correction of a call (projections/corrections.py, issue 18): re-rated, the exact
difference posted as its own journal entry and invoice line (R1, R2, R9), prior-period once
the month is invoiced (R13), never a second charge; stale revisions and bad feeds are bounded."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.account import Applied, Duplicate, FoldSettings, Positioned, Rejected, fold_all, fold_batch
from projections.events import AccountOpened, CallDetailRecord, Disposition
from projections.rating import DestinationRate, RateCard
from tests.unit.test_invoicing import Account, ms

NO_TAX = FoldSettings(rate_cards=(RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000)}),))  # no fee

START = "2026-10-20T10:00:00"


def corrected(a: Account, n: int, seconds: int, revision: int, **changes) -> CallDetailRecord:
    """Call ``k<n>`` of ``a`` again, lasting ``seconds``, at ``revision``."""
    start = ms(START)
    cdr = CallDetailRecord(f"e{n}r{revision}", "c", f"k{n}", "a1", "15550000001", "12125550100", start, start,
                           start + seconds * 1000, Disposition.ANSWERED, revision=revision)
    return replace(cdr, **changes)


def usage_entries(a: Account) -> list[tuple[str, str, int]]:
    return [(e.entry_id, e.kind, e.postings[0].amount_micros) for e in a.entries if e.kind.startswith("usage")]


def test_R1_R2_R9_a_correction_posts_the_exact_difference_once_and_the_first_entry_stays():
    a = Account("2026-10-01T00:00:00", fold=NO_TAX)
    a.call(START, "12125550100", 301)  # R2 60/60: 6 min at 0.01 = 60_000
    balance = a.state.balance_micros
    (outcome,) = a.feed(corrected(a, 1, 59, revision=1))  # the carrier's billsec fix: 1 min = 10_000
    assert isinstance(outcome, Applied) and outcome.rated.billed_s == 60 and outcome.rated.charge_micros == 10_000
    assert a.state.balance_micros == balance + 50_000, "R9: the difference is credited, not a second charge"
    assert usage_entries(a) == [("c:c/k1", "usage", 60_000), ("c:c/k1#r1", "usage_correction", -50_000)]
    assert a.state.charged_micros == 10_000 and a.state.calls_charged == 1
    # The same correction again is a duplicate; a second one (revision 2) corrects the first.
    (again,) = a.feed(corrected(a, 1, 59, revision=1))
    assert isinstance(again, Duplicate)
    a.feed(corrected(a, 1, 0, revision=2, disposition=Disposition.NO_ANSWER, answer_at_ms=None))
    assert a.state.charged_micros == 0 and a.state.calls_charged == 0, "R1: unanswered at last, charged nothing"
    assert sum(p.amount_micros for e in a.entries for p in e.postings if p.ledger_account == "customer:a1") == 0


def test_R13_a_correction_of_an_invoiced_month_is_a_prior_period_line_and_the_issued_invoice_stays():
    a = Account("2026-10-01T00:00:00", fold=NO_TAX)
    a.call(START, "12125550100", 301)
    a.tick("2026-11-01T00:00:00")
    october = a.invoices[0]
    assert ("usage:domestic", "Calls, domestic, 2026-10, 6:00 min billed", 60_000) in a.lines()
    a.feed(corrected(a, 1, 119, revision=1))  # 2 min: 20_000, so 40_000 back
    a.tick("2026-12-01T00:00:00")
    assert a.invoices[0] == october and len(a.invoices) == 2
    assert ("usage:correction:prior", "Prior-period usage: Corrected calls, 2026-10, 1 correction", -40_000) in a.lines()
    assert a.customer_debits() == sum(i.total_micros for i in a.invoices)


def test_a_correction_in_the_open_month_is_its_own_line_on_that_months_invoice():
    a = Account("2026-10-01T00:00:00", fold=NO_TAX)
    a.call(START, "12125550100", 60)
    a.feed(corrected(a, 1, 120, revision=3))
    a.tick("2026-11-01T00:00:00")
    assert ("usage:domestic", "Calls, domestic, 2026-10, 1:00 min billed", 10_000) in a.lines()
    assert ("usage:correction", "Corrected calls, 2026-10, 1 correction", 10_000) in a.lines()


def test_an_older_revision_after_a_newer_one_is_superseded_so_the_latest_wins_in_any_order():
    a = Account("2026-10-01T00:00:00", fold=NO_TAX)
    a.feed(corrected(a, 1, 119, revision=1))  # the correction overtook the original
    (late,) = a.feed(corrected(a, 1, 301, revision=0))
    assert isinstance(late, Duplicate) and "superseded" in late.key
    assert a.state.charged_micros == 20_000


def test_a_bad_feed_cannot_rewrite_the_parties_or_change_a_call_without_a_new_revision():
    a = Account("2026-10-01T00:00:00", fold=NO_TAX)
    a.call(START, "12125550100", 60)
    (moved,) = a.feed(corrected(a, 1, 60, revision=1, callee="442071234567"))
    (silent,) = a.feed(corrected(a, 1, 600, revision=0))
    assert isinstance(moved, Rejected) and moved.code == "correction_changes_parties"
    assert isinstance(silent, Rejected) and silent.code == "duplicate_conflict"
    assert a.state.charged_micros == 10_000


def test_R4_a_correction_gives_back_the_included_minutes_its_earlier_revision_used():
    fold = replace(NO_TAX, included_seconds_by_plan=(("basic", 300),))
    a = Account("2026-10-01T00:00:00", fold=fold)
    a.call(START, "12125550100", 240)  # 4 of the 5 included minutes
    assert a.state.charged_micros == 0
    a.feed(corrected(a, 1, 420, revision=1))  # 7 min: 5 included, 2 paid
    assert a.state.charged_micros == 20_000 and a.state.included_used_s == {"2026-10": 300}


# --- property: every call billed once, at its latest revision -------------------------------------------------------

CARD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 10_000, 0, 6, 6),
                                  "44": DestinationRate("44", "UK", 30_000, 0, 1, 1)})
FOLD = FoldSettings(rate_cards=(CARD,))
T0 = ms("2026-10-02T00:00:00")


@st.composite
def call_streams(draw):
    """Calls with revisions 0..2 of different talk times, each revision sent 1-2 times, shuffled."""
    sent, final = [], {}
    for n in range(draw(st.integers(1, 8))):
        callee = draw(st.sampled_from(["12125550100", "442071234567"]))
        start = T0 + n * 60_000
        for revision in range(draw(st.integers(1, 3))):
            talk = draw(st.integers(0, 900))
            cdr = CallDetailRecord(f"e{n}.{revision}", "carrier", f"call-{n}", "a1", "15550000001", callee, start,
                                   start if talk else None, start + talk * 1000,
                                   Disposition.ANSWERED if talk else Disposition.NO_ANSWER, revision=revision)
            sent += [cdr] * draw(st.integers(1, 2))
            final[n] = cdr
    return draw(st.permutations(sent)), list(final.values())


@settings(max_examples=300, deadline=None)
@given(call_streams(), st.integers(1, 5))
def test_R1_R2_R9_every_call_is_billed_once_at_its_latest_revision_whatever_the_order_and_batches(stream, size):
    sent, final = stream
    opened = AccountOpened("open", "a1", T0, "USD", "basic", "postpaid", ("15550000001",))
    items = [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate([opened, *sent])]
    state = None
    for i in range(0, len(items), size):
        state, _ = fold_batch(state, items[i:i + size], FOLD)
    direct = sum(fold_batch(None, [items[0], Positioned("t/0", 1, 0, 2**62, cdr)], FOLD)[0].charged_micros
                 for cdr in final)
    assert state.charged_micros == direct == -state.balance_micros
    assert fold_all(items, FOLD)["a1"] == state, "a rebuild in one batch gives the same state"
