"""A subscriber's data rights (R32, R33): the export of everything held about them, and the
erasure of their numbers, as business steps in the order that keeps the promise.

Erasure order, and why:
1. the subscriber's key is deleted first: from then on no worker opens their sealed numbers, so
   no call-log row with a number can reach ClickHouse after the next step;
2. their call-log rows are anonymised in ClickHouse (the mutation waits and checks);
3. the erasure is logged on the events topic, so the worker drops their numbers from the
   account's state, anonymises once more after its own inserts, and a rebuild does the same.
Amounts, durations and invoices stay: billing records are kept (R30).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streams.clickhouse.client import connect
from streams.clickhouse.migrations import migrate
from streams.clickhouse.privacy import erase_in_clickhouse, export
from streams.config.settings import Settings
from streams.edge.publish import log_erasure
from streams.edge.sealing import SubscriberKeys


@dataclass(frozen=True)
class Erasure:
    account: str
    call_log_rows_anonymised: int
    erasure_event: str
    subscriber_key_deleted: bool

    @property
    def kafka_log(self) -> str:
        if self.subscriber_key_deleted:
            return "sealed numbers in the log can no longer be opened"
        return ("no subscriber key was here: numbers logged without sealing (seal_personal_data off) stay in "
                "the log (see docs/operations.md)")


def erase_subscriber(settings: Settings, account_id: str, request_ref: str = "") -> Erasure:
    """Idempotent: a run stopped half-way (ClickHouse down after the key went) is run again."""
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)  # reachable before anything irreversible happens
    try:
        migrate(ch)
        shredded = SubscriberKeys(settings.subscriber_keys_dir).erase(account_id, request_ref)  # 1
        rows = erase_in_clickhouse(ch, account_id)  # 2
    finally:
        ch.close()
    event_id = log_erasure(settings, account_id, request_ref)  # 3
    return Erasure(account_id, rows, event_id, shredded)


def export_subscriber(settings: Settings, account_id: str, out_dir: Path) -> dict[str, int]:
    """R33: the subscriber's calls, journal and invoices as JSON and CSV; rows per part."""
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        migrate(ch)
        return export(ch, account_id, out_dir)
    finally:
        ch.close()
