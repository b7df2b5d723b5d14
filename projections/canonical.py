"""Canonical hashes of projections, so two states can be compared by one value (rebuild = live)."""

from __future__ import annotations

import hashlib
from typing import Iterable

from projections.account import AccountState


def state_hash(states: dict[str, AccountState]) -> str:
    """SHA-256 over every account state, with every mapping in sorted order."""
    h = hashlib.sha256()
    for account_id in sorted(states):
        s = states[account_id]
        h.update(repr((
            s.account_id, s.opened_event_id, s.currency, s.plan, s.billing_mode, s.numbers, s.time_zone,
            s.opened_at_ms, s.balance_micros, s.charged_micros, s.paid_micros, s.calls_charged,
            s.newest_event_ms, sorted(s.positions.items()), sorted(s.recent_keys.items()),
            sorted(s.included_used_s.items()), s.lifecycle, sorted(s.billing.unbilled.items()),
            s.billing.billed_through, s.billing.invoice_year, s.billing.invoice_seq,
            sorted(s.billing.recent_invoices.items()), sorted(s.billing.open_disputes.items()),
            s.billing.payments_since, s.tax_jurisdiction, s.pending_plan, s.pending_plan_from,
        )).encode())
        h.update(b"\n")
    return h.hexdigest()


def rows_hash(rows: Iterable[tuple]) -> str:
    """SHA-256 over rows given in a canonical order (the caller's ORDER BY)."""
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(tuple(row)).encode())
        h.update(b"\n")
    return h.hexdigest()
