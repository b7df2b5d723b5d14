"""R10 in the demo: its simulated switch asks before each call and ends it at the allowed
duration, so no prepaid balance falls below zero, after the month's invoice and its taxes (R17)
too; the same stream without the switch does."""

from __future__ import annotations

from projections.account import Positioned, fold_all
from projections.events import PeriodTicked, TickKind
from streams.config.settings import EXAMPLE_TAX_RULES, Settings
from streams.dev.simulate import SimulationSpec, simulate
from streams.dev.switch import authorize_calls
from streams.worker.fold_settings import fold_settings_from

FOLD = fold_settings_from(Settings(seal_personal_data=False, tax_rules=EXAMPLE_TAX_RULES))
CLOSE = PeriodTicked("tick:close", 1_793_491_200_000, TickKind.HOUR, "2026-11", "UTC")  # 2026-11-01: October closes


def folded(events) -> dict:  # noqa: ANN001
    """The stream, then the tick that closes the month: invoices, with their taxes, debited."""
    return fold_all([Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate([*events, CLOSE])], FOLD)


def test_R10_with_the_switch_no_prepaid_balance_falls_below_zero():
    events = simulate(SimulationSpec(accounts=60, calls=3_000, days=3, seed=11))
    unguarded = [s for s in folded(events).values() if s.billing_mode == "prepaid" and s.balance_micros < 0]
    assert unguarded, "the stream must overspend without the switch, or this test proves nothing"
    authorized, outcomes = authorize_calls(events, FOLD, 3_600)
    states = folded(authorized)
    assert not [s for s in states.values() if s.billing_mode == "prepaid" and s.balance_micros < 0]
    assert sum(s.billing.invoice_seq for s in states.values()) >= 50  # the month was invoiced, taxes and all
    assert outcomes["refused: insufficient_funds"] > 0 and outcomes["cut at the allowed duration"] > 0
    assert sum(s.calls_charged for s in states.values()) > 1_000  # most calls still went through
