"""The ClickHouse ``disputes`` table: every dispute a customer opened (R19) and its resolution,
so that operators see the disputes waiting for an answer, with the customer's reason, and a
customer sees theirs, without asking the worker that owns the account.

One row per fact: ``opened`` (the invoice, the amount, the reason) and ``resolved`` (the outcome
and the credit), keyed by (account, dispute, fact), so a batch replayed after a crash writes the
same rows and they collapse. A dispute is open while it has no ``resolved`` row; the reads
aggregate the two (``streams/api/read_model.py``), which needs no JOIN and no ``FINAL`` on any
server or cluster. Derived from the log like every projection: a rebuild writes it again.
"""

from __future__ import annotations

from projections.events import DisputeOpened, DisputeResolved

DISPUTE_COLUMNS = ("account_id", "dispute_id", "fact", "invoice", "amount_micros", "currency", "reason", "outcome",
                   "credit_micros", "at")
REASON_CHARS_MAX = 1000  # the customer's words, as the portal's form bounds them; an event's could be longer

DISPUTES_DDL = """
CREATE TABLE IF NOT EXISTS disputes (
    account_id String,
    dispute_id String,
    fact String,
    invoice String,
    amount_micros Int64,
    currency String,
    reason String,
    outcome String,
    credit_micros Int64,
    at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
ORDER BY (account_id, dispute_id, fact)
"""


def opened_row(event: DisputeOpened, reason: str) -> tuple:
    """The ``opened`` fact; ``reason`` is the event's opened (sealed on the log, R32), empty if erased."""
    return (event.account_id, event.event_id, "opened", event.disputed_entry_id, event.amount_micros, event.currency,
            reason[:REASON_CHARS_MAX], "", 0, event.occurred_at_ms // 1000)


def resolved_row(event: DisputeResolved) -> tuple:
    return (event.account_id, event.dispute_event_id, "resolved", "", 0, event.currency, "", event.outcome.value,
            event.credit_micros, event.occurred_at_ms // 1000)
