"""A subscriber's data: export it (R32 access, R33 portability) and erase what identifies them
(R31, R32) in ClickHouse, keeping every amount finance must keep.

- ``export(ch, account, out_dir)`` writes the subscriber's call records, journal postings,
  invoices, invoice lines and disputes, each as JSON and CSV (machine-readable, R33), and
  returns the files and row counts.
- ``erase_in_clickhouse(ch, account)`` empties the reasons of the subscriber's disputes (their
  own words) and rewrites their call-log rows so that no telephone number remains: the caller
  (their own number) becomes empty and the callee keeps only the destination prefix the call
  was rated at (what analytics and disputes need), the rest replaced by ``*``. Amounts,
  durations, dates, carriers and keys stay, so reconciliation and the five-year retention of
  financial records still hold. It waits for ClickHouse's mutations to finish and then checks
  that no number or reason survived.

The Kafka log's copies are erased by deleting the subscriber's key (``streams/edge/sealing.py``,
crypto-shredding); ``voiceledger subscriber erase`` does that first, then this, then logs
the erasure. A worker that replays the log afterwards writes the same anonymised rows
(``sealing.anonymised_callee`` is this module's SQL in Python).
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from streams.clickhouse import cluster
from streams.clickhouse.client import ClickHouse, quoted

EXPORTS = {
    "calls": ("call_log", ("call_key", "carrier_id", "call_id", "caller", "callee", "toString(start_at)",
                           "toString(answer_at)", "toString(end_at)", "disposition", "direction", "duration_s",
                           "billed_s", "destination_prefix", "destination_name", "rate_micros_per_minute",
                           "charge_micros", "currency", "rate_card_id"), "start_at, call_key"),
    "journal": ("journal", ("entry_id", "line", "kind", "toString(occurred_at)", "currency", "ledger_account",
                            "amount_micros"), "occurred_at, entry_id, line"),
    "invoices": ("invoices", ("invoice_number", "kind", "period", "toString(issued_at)", "currency", "total_micros",
                              "payments_micros", "balance_micros"), "issued_at, invoice_number"),
    "invoice_lines": ("invoice_lines", ("invoice_number", "line", "toString(issued_at)", "currency", "category",
                                        "description", "quantity", "amount_micros"), "issued_at, invoice_number, line"),
    # R19: each dispute as two facts (opened, with the customer's words; resolved, with the outcome)
    "disputes": ("disputes", ("dispute_id", "fact", "invoice", "amount_micros", "currency", "reason", "outcome",
                              "credit_micros", "toString(at)"), "at, dispute_id, fact"),
}


class ErasureIncomplete(RuntimeError):
    """ClickHouse did not finish the erasure, or a number survived it."""


def _name(expr: str) -> str:
    return expr[len("toString("):-1] if expr.startswith("toString(") else expr


def export_records(query, account_id: str) -> dict[str, list[dict]]:  # noqa: ANN001 - sql -> rows
    """R32/R33: every part (calls, journal, invoices) of the subscriber's data as records."""
    parts = {}
    for part, (table, columns, order) in EXPORTS.items():
        rows = query(f"SELECT {', '.join(columns)} FROM {table} FINAL WHERE account_id = {quoted(account_id)} "
                     f"ORDER BY {order}")
        names = [_name(c) for c in columns]
        parts[part] = [dict(zip(names, (v if isinstance(v, (int, str)) or v is None else str(v) for v in row)))
                       for row in rows]
    return parts


def export(ch: ClickHouse, account_id: str, out_dir: Path) -> dict[str, int]:
    """Write ``<account>-<part>.json`` and ``.csv`` for every part; returns rows per part."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for part, records in export_records(ch.query, account_id).items():
        names = [_name(c) for c in EXPORTS[part][1]]
        stem = out_dir / f"{account_id}-{part}"
        stem.with_suffix(".json").write_text(json.dumps({"account_id": account_id, part: records}, indent=1) + "\n")
        with open(stem.with_suffix(".csv"), "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows([[r[n] for n in names] for r in records])
        counts[part] = len(records)
    return counts


def anonymise_mutations(account_id: str, calls: bool = True, disputes: bool = True) -> tuple[tuple[str, str], ...]:
    """The mutations that anonymise a subscriber's rows (this command's, and the worker's when it
    folds the erasure), as (table, ALTER clause). call_log: caller, the subscriber's own number,
    gone; callee, the rated prefix, then stars (replaceRegexpAll, not repeat(): the 18.16 server
    has no repeat()). disputes: the customer's reason, empty (their words may name anyone); the
    invoice, the amounts and the decision stay, as billing records do.

    ``calls``, ``disputes``: whether the table holds rows of theirs to rewrite. A mutation with
    nothing to rewrite is not sent: on a replicated table whose other replica is down, one over
    no part was seen to stay pending for minutes on 18.16, and every erasure waits for the
    pending mutations of its tables."""
    where = f"WHERE account_id = {quoted(account_id)}"
    wanted = (("call_log", calls, f"UPDATE caller = '', callee = concat(destination_prefix, "
                                  f"replaceRegexpAll(substring(callee, length(destination_prefix) + 1), '.', '*')) "
                                  f"{where}"),
              ("disputes", disputes, f"UPDATE reason = '' {where}"))
    return tuple((table, clause) for table, needed, clause in wanted if needed)


def _pending_mutations(ch: ClickHouse) -> int:
    tables = ", ".join(f"'{cluster.stored(ch, table)}'" for table, _ in anonymise_mutations(""))
    return int(ch.query("SELECT count() FROM system.mutations WHERE database = currentDatabase() "
                        f"AND table IN ({tables}) AND is_done = 0")[0][0])


def _numbers_left(ch: ClickHouse, account_id: str, timeout_s: float) -> int:
    """On one node: wait for its mutations, then count the subscriber's rows holding a number
    (call log) or their words (disputes)."""
    deadline = time.monotonic() + timeout_s
    while _pending_mutations(ch):
        if time.monotonic() > deadline:
            raise ErasureIncomplete(f"ClickHouse has not finished erasing {account_id} within {timeout_s:.0f} s; "
                                    "run the erasure again (it is idempotent)")
        time.sleep(0.2)
    (calls,), = ch.query(f"SELECT count() FROM {cluster.stored(ch, 'call_log')} WHERE account_id = "
                         f"{quoted(account_id)} AND (caller != '' OR match(callee, '[0-9]{{7,}}'))")
    (reasons,), = ch.query(f"SELECT count() FROM {cluster.stored(ch, 'disputes')} WHERE account_id = "
                           f"{quoted(account_id)} AND reason != ''")
    return int(calls) + int(reasons)


def erase_in_clickhouse(ch: ClickHouse, account_id: str, timeout_s: float = 120.0) -> int:
    """Anonymise the subscriber's call-log rows; returns how many rows were rewritten. On a
    cluster the mutation runs once per shard and every replica is then checked: one that is down
    applies it from the replication log when it returns, and the erasure says so (run it again
    to see it done everywhere)."""
    (rows,), = ch.query(f"SELECT count() FROM call_log WHERE account_id = {quoted(account_id)}")
    (reasons,), = ch.query(f"SELECT count() FROM disputes WHERE account_id = {quoted(account_id)} AND reason != ''")
    for table, clause in anonymise_mutations(account_id, calls=bool(rows), disputes=bool(reasons)):
        cluster.alter(ch, table, clause)
    left, down = cluster.on_every_node(ch, lambda node: _numbers_left(node, account_id, timeout_s))
    if any(left.values()):
        raise ErasureIncomplete(f"{sum(left.values())} rows of {account_id} still hold a number or a dispute's words")
    if down:
        raise ErasureIncomplete(f"replicas {', '.join(f'{n.host}:{n.port}' for n in down)} did not answer: the erasure "
                                "is in their replication log and applies when they return; run the erasure again "
                                "then to confirm it")
    return int(rows)
