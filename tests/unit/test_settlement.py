"""R11: an account's money pays its invoices first due, first paid, at the moment it is received
(projections/settlement.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from projections.settlement import Due, Funds, settle

DAY = 86_400_000
M = 1_000_000
OCT, NOV = Due("inv-oct", 45 * DAY, 30_000_000), Due("inv-nov", 75 * DAY, 20_000_000)


def test_R11_the_oldest_invoice_is_paid_first_and_its_moment_is_the_receipt():
    got = settle([NOV, OCT], [Funds(50 * DAY, 40_000_000)])
    assert got["inv-oct"].status == "paid" and got["inv-oct"].paid_at_ms == 50 * DAY
    assert (got["inv-nov"].paid_micros, got["inv-nov"].outstanding_micros, got["inv-nov"].status) == \
        (10_000_000, 10_000_000, "partly_paid")
    assert got["inv-nov"].paid_at_ms == 0
    # The rest arrives: paid at that moment, not at the first payment's.
    got = settle([NOV, OCT], [Funds(50 * DAY, 40_000_000), Funds(80 * DAY, 10_000_000)])
    assert got["inv-nov"].status == "paid" and got["inv-nov"].paid_at_ms == 80 * DAY


def test_R11_prepaid_funds_received_before_an_invoice_pay_it_at_their_receipt():
    got = settle([OCT], [Funds(3 * DAY, 25_000_000), Funds(10 * DAY, 25_000_000)])
    assert got["inv-oct"].status == "paid" and got["inv-oct"].paid_at_ms == 10 * DAY
    # Paid to the micro-unit by the second: money that comes after does not move its moment.
    got = settle([OCT], [Funds(3 * DAY, 25_000_000), Funds(10 * DAY, 5_000_000), Funds(20 * DAY, 7_000_000)])
    assert got["inv-oct"].paid_at_ms == 10 * DAY


def test_R11_money_taken_back_reopens_the_newest_invoice_first_and_a_credit_note_pays_like_funds():
    funds = [Funds(50 * DAY, 50_000_000), Funds(90 * DAY, -15_000_000)]  # a chargeback
    got = settle([OCT, NOV], funds)
    assert got["inv-oct"].status == "paid" and got["inv-nov"].outstanding_micros == 15_000_000
    credit = Due("cn-1", 95 * DAY, -15_000_000)  # a dispute won (R19)
    got = settle([OCT, NOV, credit], funds)
    assert got["inv-nov"].status == "paid" and got["inv-nov"].paid_at_ms == 95 * DAY
    assert got["cn-1"].outstanding_micros == 0 and got["cn-1"].paid_micros == -15_000_000


def test_R11_nothing_received_leaves_every_invoice_open_and_a_zero_invoice_is_paid_when_due():
    got = settle([OCT, Due("inv-zero", 40 * DAY, 0)], [])
    assert got["inv-oct"].status == "open" and got["inv-oct"].outstanding_micros == 30_000_000
    assert got["inv-zero"].status == "paid" and got["inv-zero"].paid_at_ms == 40 * DAY


dues = st.lists(st.builds(Due, st.uuids().map(str), st.integers(0, 400).map(lambda d: d * DAY),
                          st.integers(-5_000_000, 50_000_000)), max_size=12)
flows = st.lists(st.builds(Funds, st.integers(0, 400).map(lambda d: d * DAY), st.integers(-20_000_000, 60_000_000)),
                 max_size=12)


@settings(max_examples=300, deadline=None)
@given(dues, flows)
def test_R11_money_is_conserved_and_no_invoice_is_paid_while_an_older_one_is_open(ds, fs):
    got = settle(ds, fs)
    charges = sorted((d for d in ds if d.total_micros >= 0), key=lambda d: (d.due_at_ms, d.reference))
    received = sum(f.amount_micros for f in fs) - sum(d.total_micros for d in ds if d.total_micros < 0)
    owed = sum(d.total_micros for d in charges)
    assert sum(got[d.reference].paid_micros for d in charges) == min(owed, max(0, received))
    assert all(got[d.reference].paid_micros + got[d.reference].outstanding_micros == d.total_micros for d in charges)
    open_seen = False
    for d in charges:  # first due, first paid: once one is open, every later one is unpaid
        assert not (open_seen and got[d.reference].paid_micros > 0)
        open_seen = open_seen or got[d.reference].outstanding_micros > 0
    times = {f.at_ms for f in fs} | {d.due_at_ms for d in ds}
    for d in charges:  # paid at a moment money came in, once and only once it is paid whole
        s = got[d.reference]
        assert (s.paid_at_ms in times) if s.status == "paid" else s.paid_at_ms == 0


class _ReadModel:
    """The three reads the portal's "To pay" makes, answered from lists (the SQL runs against
    both engines in tests/integration/test_receivables.py)."""

    def __init__(self, invoices: list[tuple[str, int, int, int]], funds: list[tuple[int, int]]) -> None:
        self.invoices, self.funds = invoices, funds  # (ref, issued_s, due_s, total), (at_s, amount)

    def rows(self, sql: str) -> list[tuple]:
        if sql.startswith("SELECT invoice_number, kind"):
            return [(r, "REGULAR", "2026-10", i, "USD", t, 0, 0, "UTC", d, "", "", "", "", "")
                    for r, i, d, t in self.invoices]
        if sql.startswith("SELECT account_id, currency, invoice_number"):
            return [("a1", "USD", r, i, d, t) for r, i, d, t in self.invoices]
        if "FROM journal" in sql:
            return [("a1", at, amount) for at, amount in self.funds]
        return []  # no legal numbers yet


def test_R11_the_portal_says_what_is_left_to_pay_what_is_overdue_and_when_the_rest_is_due():
    import time
    from types import SimpleNamespace

    from streams.api.portal import _to_pay

    now, day = int(time.time()), 86_400  # "overdue" is the request's question, asked of the clock
    late, upcoming = ("inv-1", now - 75 * day, now - 45 * day, 30 * M), ("inv-2", now - 5 * day, now + 10 * day, 20 * M)
    reader = _ReadModel([late, upcoming], [(now - 50 * day, 10 * M)])
    shown = _to_pay(SimpleNamespace(reader=reader), "a1")
    assert shown["total"] == 40 * M and shown["overdue"] == 20 * M  # 10.00 paid the oldest first
    assert shown["next_due"] == datetime.fromtimestamp(now + 10 * day, timezone.utc).isoformat().replace("+00:00", "Z")
    reader.funds.append((now - day, 40 * M))
    assert _to_pay(SimpleNamespace(reader=reader), "a1") == {"total": 0, "overdue": 0, "next_due": None}
