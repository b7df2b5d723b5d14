"""The ClickHouse ``accounts`` and ``dead_letters`` tables: what operators and the API read about
an account without asking the worker that owns it.

``accounts`` holds one row per account: the state the worker last wrote (status, plan, balance,
zone, open disputes), replaced by the newest ``version``, the account's position in its events
partition, so a batch replayed after a crash writes the same row and an older one never wins.
``dead_letters`` holds every record the worker dead-lettered, with the account when the record
could be decoded that far: the console shows an account's refused events with their reasons.

Both are derived from the log like every projection: a rebuild writes them again.
"""

from __future__ import annotations

from projections.account import AccountState

ACCOUNT_COLUMNS = ("account_id", "currency", "plan", "pending_plan", "billing_mode", "status", "status_reason",
                   "status_since", "time_zone", "country_code", "tax_jurisdiction", "opened_at", "balance_micros",
                   "paid_micros", "charged_micros", "calls_charged", "open_disputes", "newest_event_at",
                   "credit_limit_micros", "version", "locale")
DEAD_LETTER_COLUMNS = ("source_topic", "source_partition", "source_offset", "source_index", "account_id",
                       "reason_code", "reason", "logged_at")
INDEX_BITS = 20  # an envelope holds fewer than 2**20 records (streams/worker/processor.py)


def version_of(state: AccountState) -> int:
    """The account's position in the log as one growing number: its events partition's offset,
    then the index inside an envelope (an account's events all come from one partition)."""
    return max(((offset << INDEX_BITS) + index for offset, index in state.positions.values()), default=0)


def account_row(state: AccountState) -> tuple:
    life = state.lifecycle
    return (state.account_id, state.currency, state.plan, state.pending_plan, state.billing_mode, life.status.value,
            life.reason, life.since_ms // 1000, state.time_zone, state.country_code, state.tax_jurisdiction,
            state.opened_at_ms // 1000, state.balance_micros, state.paid_micros, state.charged_micros,
            state.calls_charged, len(state.billing.open_disputes), state.newest_event_ms // 1000,
            state.credit_limit_micros, version_of(state), state.locale)
