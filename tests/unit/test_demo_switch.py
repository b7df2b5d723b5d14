"""R10 in the demo: its simulated switch asks before each call and ends it at the allowed
duration, so no prepaid balance falls below zero; the same stream without the switch does."""

from __future__ import annotations

from projections.account import Positioned, fold_all
from streams.config.settings import Settings
from streams.dev.simulate import SimulationSpec, simulate
from streams.dev.switch import authorize_calls
from streams.worker.app import fold_settings_from

FOLD = fold_settings_from(Settings(seal_personal_data=False))


def folded(events) -> dict:  # noqa: ANN001
    return fold_all([Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)], FOLD)


def test_R10_with_the_switch_no_prepaid_balance_falls_below_zero():
    events = simulate(SimulationSpec(accounts=60, calls=3_000, days=3, seed=11))
    unguarded = [s for s in folded(events).values() if s.billing_mode == "prepaid" and s.balance_micros < 0]
    assert unguarded, "the stream must overspend without the switch, or this test proves nothing"
    authorized, outcomes = authorize_calls(events, FOLD, 3_600)
    states = folded(authorized)
    assert not [s for s in states.values() if s.billing_mode == "prepaid" and s.balance_micros < 0]
    assert outcomes["refused: insufficient_funds"] > 0 and outcomes["cut at the allowed duration"] > 0
    assert sum(s.calls_charged for s in states.values()) > 1_000  # most calls still went through
