"""The demo's switch: it asks before each call how long the call may last, as a real one asks the
authorization API (R10), and ends the call there.

Without it the simulator's prepaid subscribers talked past their funds and ended below zero,
which the product prevents but the demo did not show. The switch folds the simulated log as it
goes (the same pure fold the worker runs), asks ``projections.authorization.authorize`` at each
call's first record, refuses it or cuts its talk time to the allowed duration, and keeps a
carrier's re-send of that call the same as what the switch let run (a correction only ever
shortens it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from projections.account import AccountState, FoldSettings, Positioned, fold_batch
from projections.authorization import authorize
from projections.events import AccountEvent, CallDetailRecord, PeriodTicked

LOG_TIME_MS = 2**62  # the simulated log has no log times; nothing is "in the future" for it


def _as_let_run(state: AccountState | None, cdr: CallDetailRecord, settings: FoldSettings, quota_s: int,
                outcomes: Counter) -> CallDetailRecord | None:
    """The call as the switch lets it run, None when it refuses it."""
    if state is None:
        return cdr  # an account the ledger does not know: the worker dead-letters the call
    answer = authorize(state, cdr.callee, cdr.start_at_ms, 0, quota_s, settings)
    if not answer.allowed:
        outcomes[f"refused: {answer.reason}"] += 1
        return None
    if cdr.answer_at_ms is not None and cdr.end_at_ms - cdr.answer_at_ms > answer.max_duration_s * 1000:
        outcomes["cut at the allowed duration"] += 1
        return replace(cdr, end_at_ms=cdr.answer_at_ms + answer.max_duration_s * 1000)
    return cdr


def _as_sent(let_run: CallDetailRecord, cdr: CallDetailRecord) -> CallDetailRecord:
    """A carrier's record of a call the switch let run: a re-send repeats it; a correction (a
    higher revision) keeps its own, shorter, talk time, never past where the switch cut the call."""
    if not cdr.revision or cdr.answer_at_ms is None or let_run.answer_at_ms is None:
        return replace(let_run, event_id=cdr.event_id)
    return replace(let_run, event_id=cdr.event_id, revision=cdr.revision,
                   end_at_ms=min(cdr.end_at_ms, let_run.end_at_ms))


def authorize_calls(events: list[AccountEvent], settings: FoldSettings,
                    quota_s: int) -> tuple[list[AccountEvent], Counter]:
    """The events as a switch that authorizes every call would have produced them, and what it
    decided (refusals by reason, calls cut short)."""
    states: dict[str, AccountState] = {}
    decided: dict[str, CallDetailRecord | None] = {}  # call key -> as the switch let it run
    out: list[AccountEvent] = []
    outcomes: Counter = Counter()
    for offset, event in enumerate(events):
        if isinstance(event, CallDetailRecord):
            if event.call_key not in decided:
                decided[event.call_key] = _as_let_run(states.get(event.account_id), event, settings, quota_s, outcomes)
            let_run = decided[event.call_key]
            if let_run is None:
                continue
            event = _as_sent(let_run, event)
        out.append(event)
        if not isinstance(event, PeriodTicked):
            state = states.get(event.account_id)
            folded, _ = fold_batch(state, [Positioned("switch/0", offset, 0, LOG_TIME_MS, event)], settings)
            if folded is not None:
                states[event.account_id] = folded
    return out, outcomes
