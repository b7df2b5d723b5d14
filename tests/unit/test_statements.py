"""Statements (R20): the current month and the three previous months, refused before that."""

import pytest

from streams.documents.statement import (
    StatementRefused,
    available_months,
    issued_from_invoices,
    issued_from_state,
    statement,
)
from tests.unit.test_invoicing import NO_TAX, Account


def account_with_history() -> Account:
    a = Account("2026-08-01T00:00:00", fold=NO_TAX)
    for month in ("2026-09", "2026-10", "2026-11"):
        a.tick(f"{month}-01T00:00:00")
        a.call(f"{month}-05T10:00:00", "12125550100", 60)
    a.call("2026-11-20T10:00:00", "447700900123", 600)  # this month, not invoiced yet
    return a


def test_R20_the_current_month_and_the_three_before_are_available_across_a_year_end():
    assert available_months("2027-02") == ["2027-02", "2027-01", "2026-12", "2026-11"]


def test_R20_a_statement_lists_what_was_issued_and_for_the_current_month_what_is_pending():
    a = account_with_history()
    november = [i for i in a.invoices if i.occurred_at_ms >= 1_793_491_200_000]  # issued from 1 November
    legal = {november[0].invoice_number: "VL-2026-000007"}  # given by the numbering stage
    text = statement("a1", "2026-11", "2026-11", a.state, issued_from_invoices(a.invoices, legal))
    assert [i.period for i in november] == ["2026-10"]
    assert f"VL-2026-000007   {november[0].invoice_number}              REGULAR      period 2026-10" in text
    assert "usage:international          2026-11       600          1.23 USD" in text  # 10 min at 0.123456
    assert "usage:domestic               2026-11        60          0.01 USD" in text
    assert "Balance now:" in text and "owed" in text
    older = statement("a1", "2026-09", "2026-11", a.state, issued_from_invoices(a.invoices))
    assert "number pending   VL-a1-2026-0001              REGULAR      period 2026-08" in older
    assert "Balance now" not in older


def test_R20_a_fifth_month_back_is_refused_with_the_months_that_are_available():
    a = account_with_history()
    with pytest.raises(StatementRefused, match=r"2026-08, 2026-09, 2026-10, 2026-11\) \(R20\)"):
        statement("a1", "2026-07", "2026-11", a.state, issued_from_invoices(a.invoices))
    with pytest.raises(StatementRefused, match="not available"):
        statement("a1", "2026-12", "2026-11", a.state, issued_from_invoices(a.invoices))
    with pytest.raises(StatementRefused, match="unknown account"):
        statement("zz", "2026-11", "2026-11", None, [])


def test_R20_the_accounts_own_memory_gives_the_same_statement_as_the_invoices_topic():
    a = account_with_history()
    for month in ("2026-08", "2026-09", "2026-10", "2026-11"):
        assert statement("a1", month, "2026-11", a.state, issued_from_state(a.state)) == \
            statement("a1", month, "2026-11", a.state, issued_from_invoices(a.invoices)), month
