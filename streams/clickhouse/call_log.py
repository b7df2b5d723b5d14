"""The ClickHouse ``call_log`` table: one row per call, kept five years (R30), duplicates collapse.

The table is a ``ReplacingMergeTree`` ordered by ``(account_id, call_key)``: a call written
twice (a redelivery after a crash, a carrier re-sending it) is one row after merges, and any
query that must be exact reads it with ``FINAL``. A carrier's correction (``revision`` > 0,
projections/corrections.py) is inserted after the call it corrects, so it is the row kept. Partitions are calendar months of the call
start, so retention (R30, R31) can drop whole months on every ClickHouse version.

The SQL here runs unchanged on the 18.16 server Debian ships and on current ClickHouse/chDB.
"""

from __future__ import annotations

from projections.events import CallDetailRecord
from projections.rating import RatedCall
from streams.clickhouse.client import ClickHouse


CALL_LOG_COLUMNS = (
    "call_key", "carrier_id", "call_id", "account_id", "event_id", "caller", "callee",
    "start_at", "answer_at", "end_at", "disposition", "direction", "trunk", "duration_s",
    "billed_s", "destination_prefix", "destination_name", "rate_micros_per_minute",
    "usage_micros", "connect_fee_micros", "charge_micros", "currency", "rate_card_id", "on_net",
    "source_partition", "source_offset", "source_index", "plan", "revision", "category",
)


def call_log_row(cdr: CallDetailRecord, rated: RatedCall, partition: int, offset: int, index: int,
                 parties: tuple[str, str] | None = None) -> tuple:
    """``parties``: (caller, callee) opened from a sealed CDR (``streams/edge/sealing.py``)."""
    caller, callee = parties if parties is not None else (cdr.caller, cdr.callee)
    # ``_value_``, what ``.value`` returns through a descriptor in Python (projections/rating.py)
    return (
        cdr.call_key, cdr.carrier_id, cdr.call_id, cdr.account_id, cdr.event_id, caller,
        callee, cdr.start_at_ms // 1000,
        None if cdr.answer_at_ms is None else cdr.answer_at_ms // 1000,
        cdr.end_at_ms // 1000, cdr.disposition._value_, cdr.direction._value_, cdr.trunk,
        rated.duration_s, rated.billed_s, rated.destination_prefix, rated.destination_name,
        rated.rate_micros_per_minute, rated.usage_micros, rated.connect_fee_micros,
        rated.charge_micros, rated.currency, rated.rate_card_id, 1 if rated.on_net else 0,
        partition, offset, index, rated.plan, cdr.revision, rated.category,
    )


def latest_rows(rows: list[tuple]) -> list[tuple]:
    """The rows of one insert, a call's last row only: a carrier's correction folded in the same
    batch as the call it corrects replaces it here, as a later insert replaces it in the table
    (a ReplacingMergeTree without a version keeps the row inserted last)."""
    latest = {row[0]: row for row in rows}
    return rows if len(latest) == len(rows) else list(latest.values())


def summary(ch: ClickHouse) -> list[tuple]:
    """Per currency: calls, answered calls, billed minutes and charges (exact, with FINAL)."""
    return ch.query(
        "SELECT currency, count() AS calls, countIf(answer_at IS NOT NULL) AS answered, "
        "toInt64(sum(billed_s)) AS billed_s, toInt64(sum(charge_micros)) AS charge_micros "
        "FROM call_log FINAL GROUP BY currency ORDER BY currency"
    )


def latest_calls(ch: ClickHouse, limit: int = 5) -> list[tuple]:
    """The newest answered calls: what a billing clerk looks up (numbers in clear, R34: not an
    analyst's view)."""
    return ch.query(
        "SELECT toString(start_at), account_id, caller, callee, destination_name, billed_s, charge_micros, currency "
        f"FROM call_log FINAL WHERE answer_at IS NOT NULL ORDER BY start_at DESC, call_key LIMIT {int(limit)}"
    )


def top_destinations(ch: ClickHouse, limit: int = 5) -> list[tuple]:
    return ch.query(
        "SELECT destination_name, currency, count() AS calls, toInt64(sum(billed_s)) AS billed_s, "
        "toInt64(sum(charge_micros)) AS charge_micros FROM call_log FINAL "
        f"GROUP BY destination_name, currency ORDER BY charge_micros DESC, destination_name LIMIT {int(limit)}"
    )
