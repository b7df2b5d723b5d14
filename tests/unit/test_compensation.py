"""R29: a compensation for a provider malfunction is a credit of at most what the account held
when the malfunction happened (streams/edge/commands.py: compensation), folded as an adjustment
of its own category: an expense in the journal, its own line on the invoice."""

from __future__ import annotations

import pytest

from projections.account import Applied, Positioned, Rejected, fold_batch
from projections.events import AccountOpened, AdjustmentPosted, PaymentReceived
from streams.edge import commands
from tests.unit.test_account_fold import SETTINGS, T0

NOW = 2**62
MALFUNCTION = T0 + 3_600_000


def positioned(events, start=0) -> list[Positioned]:
    return [Positioned("t/0", start + i, 0, NOW, e) for i, e in enumerate(events)]


def test_R29_a_compensation_up_to_the_balance_at_the_malfunction_is_a_credit_that_says_so():
    event = commands.compensation("a1", 25_000_000, "usd", MALFUNCTION, lambda _: 25_000_000, "number down 3 h, invoice 7",
                                  "k-1", at_ms=T0 + 7_200_000)
    assert (event.amount_micros, event.currency, event.category) == (-25_000_000, "USD", "compensation")
    assert event.reason == "number down 3 h, invoice 7; malfunction at 2026-10-01T01:00:00Z"
    # The same key, the same event, even if a late CDR changed the balance then: a retried command
    # is one credit (streams/edge/commands.py: submit compares everything but the clock's times).
    again = commands.compensation("a1", 25_000_000, "usd", MALFUNCTION, lambda _: 30_000_000,
                                  "number down 3 h, invoice 7", "k-1", at_ms=T0 + 9_000_000)
    assert commands._untimed(commands._plain(again)) == commands._untimed(commands._plain(event))
    # Sent before under its key: the cap was checked then. A late CDR dated before the malfunction
    # has since lowered the balance then; the retry is still the same event, not a refusal.
    retried = commands.compensation("a1", 25_000_000, "usd", MALFUNCTION, lambda _: 1_000_000,
                                    "number down 3 h, invoice 7", "k-1", at_ms=T0 + 9_000_000, retry=True)
    assert commands._untimed(commands._plain(retried)) == commands._untimed(commands._plain(event))
    with pytest.raises(commands.CommandRefused, match="compensation_exceeds_balance"):
        commands.compensation("a1", 25_000_000, "usd", MALFUNCTION, lambda _: 1_000_000, "x", "k-1")


@pytest.mark.parametrize("balance_then", [24_999_999, 0, -5_000_000])
def test_R29_more_than_the_account_held_at_the_malfunction_is_refused_naming_that_balance(balance_then):
    with pytest.raises(commands.CommandRefused, match="compensation_exceeds_balance") as refused:
        commands.compensation("a1", 25_000_000, "USD", MALFUNCTION, lambda _: balance_then, "outage", "k-2")
    assert f"the {max(0, balance_then)} the account held" in str(refused.value) and "(R29)" in str(refused.value)


def test_R29_a_compensation_is_not_an_ordinary_adjustment_nor_a_charge():
    with pytest.raises(commands.CommandRefused, match="compensation_needs_its_malfunction"):
        commands.adjustment("a1", -1_000_000, "USD", "compensation", "outage", "k-3")
    with pytest.raises(commands.CommandRefused, match="amount"):
        commands.compensation("a1", 0, "USD", MALFUNCTION, lambda _: 5_000_000, "outage", "k-4")
    def unread(at_ms: int) -> int:
        raise AssertionError("a time out of bounds is refused before the journal is read")

    with pytest.raises(commands.CommandRefused, match="malfunction_at: between 2000 and 2100"):
        commands.compensation("a1", 1, "USD", -2_208_988_800_000, unread, "outage", "k-4")
    with pytest.raises(commands.CommandRefused, match="after the malfunction"):
        commands.compensation("a1", 1, "USD", MALFUNCTION, lambda _: 5_000_000, "outage", "k-4", at_ms=MALFUNCTION - 1)
    # Written to the log by other means as a charge, the worker refuses it.
    opened = AccountOpened("open-a1", "a1", T0, "USD", "basic", "prepaid", ("15550000001",))
    charge = AdjustmentPosted("c1", "a1", T0 + 1_000, 1_000_000, "USD", "compensation", "?")
    state, outcomes = fold_batch(None, positioned([opened, charge]), SETTINGS)
    assert isinstance(outcomes[-1], Rejected) and outcomes[-1].code == "compensation_not_a_credit"
    assert state.balance_micros == 0


def test_R29_folded_the_credit_is_an_expense_and_its_own_invoice_line():
    opened = AccountOpened("open-a1", "a1", T0, "USD", "basic", "prepaid", ("15550000001",))
    paid = PaymentReceived("pay-1", "a1", T0 + 1_000, 10_000_000, "USD")
    credit = commands.compensation("a1", 4_000_000, "USD", MALFUNCTION, lambda _: 10_000_000, "outage", "k-5",
                                   at_ms=T0 + 7_200_000)
    state, outcomes = fold_batch(None, positioned([opened, paid, credit]), SETTINGS)
    assert isinstance(outcomes[-1], Applied) and state.balance_micros == 14_000_000
    assert [(p.ledger_account, p.amount_micros) for p in outcomes[-1].entry.postings] == [
        ("customer:a1", -4_000_000), ("expense:compensation", 4_000_000)]
    assert any(key.endswith("|compensation") and value[1] == -4_000_000
               for key, value in state.billing.unbilled.items()), state.billing.unbilled
