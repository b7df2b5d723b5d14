"""R30, R31: retention as one business step over ClickHouse and the Kafka log.

``apply_retention`` first aggregates and drops the call-log months older than ``retention_years``
in ClickHouse (``streams/clickhouse/retention.py``), then destroys the month secrets of the same
months in the subscribers' key store (``streams/edge/sealing.py``: epochs), so that the numbers of
every CDR of those months stay sealed for good in the events topic too. Billing totals are kept:
the fold never needs the numbers, so a rebuild still gives the same balances.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from streams.clickhouse.client import connect
from streams.clickhouse.migrations import migrate
from streams.clickhouse.retention import apply_retention as apply_in_clickhouse
from streams.config.settings import Settings
from streams.edge.sealing import SubscriberKeys


def apply_retention(settings: Settings, as_of: date) -> dict:
    """What was dropped and destroyed, as a JSON-ready report."""
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        migrate(ch)
        report = asdict(apply_in_clickhouse(ch, as_of, settings.retention_years))
    finally:
        ch.close()
    first_kept = report["keep_from_month"].replace("-", "")  # YYYYMM, the first month kept
    report["key_months_destroyed"] = SubscriberKeys(settings.subscriber_keys_dir).expire_before(first_kept)
    return report
