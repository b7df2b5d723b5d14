"""Versioned ClickHouse migrations: ``voiceledger clickhouse migrate`` (and every worker at start).

Each migration has a number, a name and its statements; ``schema_migrations`` records which
numbers a database has. ``migrate`` applies the missing ones in order and records each, so a
database created by an older release gets exactly what it lacks, and a current one nothing.
Statements are idempotent (``IF NOT EXISTS``), so two workers migrating at once, or a database
created before versioning, end the same. The record table is a ``ReplacingMergeTree`` keyed by
version: a version recorded twice counts once.

A new table or view is a new migration at the end of ``MIGRATIONS``, never an edit of an old
one. The SQL is written for current ClickHouse and runs on the 18.16 server Debian ships; where
a feature needs a newer server (table TTL: ``streams/retention.py``) the code checks the version
and says what it skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from streams.call_log import (ANALYTICS_DDL, CALL_LOG_DDL, CALL_LOG_PLAN_COLUMN, CALLS_ANONYMISED_DDL,
                              CALLS_ANONYMISED_WITH_PLAN_DDL, analytics_database)
from streams.clickhouse import ClickHouse
from streams.invoice_log import INVOICE_LINES_DDL, INVOICE_NUMBERS_DDL, INVOICES_DDL
from streams.journal_log import JOURNAL_DDL
from streams.reports import REPORT_VIEWS_DDL
from streams.retention import CALL_DAILY_DDL

SCHEMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
ORDER BY version
"""



@dataclass(frozen=True)
class AddColumn:
    """``ALTER TABLE ... ADD COLUMN`` that is idempotent on every server.

    The 18.16 server has no ``ADD COLUMN IF NOT EXISTS``, so the column is looked up first, and
    a concurrent migrator that added it in between (the ALTER then fails) is not an error.
    """

    table: str
    column: str
    type_and_default: str

    def _exists(self, ch: ClickHouse) -> bool:
        return bool(ch.query("SELECT count() FROM system.columns WHERE database = currentDatabase() "
                             f"AND table = '{self.table}' AND name = '{self.column}'")[0][0])

    def apply(self, ch: ClickHouse) -> None:
        if self._exists(ch):
            return
        try:
            ch.execute(f"ALTER TABLE {self.table} ADD COLUMN {self.column} {self.type_and_default}")
        except Exception:
            if not self._exists(ch):
                raise


@dataclass(frozen=True)
class Named:
    """A statement naming databases: ``{db}`` (the ledger's) and ``{analytics}`` (the analysts')."""

    template: str

    def apply(self, ch: ClickHouse) -> None:
        ch.execute(self.template.format(db=ch.database, analytics=analytics_database(ch)))


Statement = str | AddColumn | Named

MIGRATIONS: tuple[tuple[int, str, tuple[Statement, ...]], ...] = (
    (1, "call_log: one row per call, five years (R30)", (CALL_LOG_DDL,)),
    (2, "journal: one row per posting", (JOURNAL_DDL,)),
    (3, "invoices and invoice_lines", (INVOICES_DDL, INVOICE_LINES_DDL)),
    (4, "call_daily: anonymised daily aggregates kept after retention (R31)", (CALL_DAILY_DDL,)),
    (5, "calls_anonymised: the analysts' view without numbers (R34)", (CALLS_ANONYMISED_DDL,)),
    (6, "call_log.plan: the plan a call was rated under (R36 usage patterns)", (AddColumn(*CALL_LOG_PLAN_COLUMN),)),
    (7, "r36_*_daily: the analytics reports as views, without numbers (R34, R36)", REPORT_VIEWS_DDL),
    (8, "invoice_numbers: legal invoice numbers, gapless per issuer and year", (INVOICE_NUMBERS_DDL,)),
    (9, "<db>_analytics.calls: the analysts' anonymised call log, fed on insert (R34, R35)",
     tuple(Named(sql) for sql in ANALYTICS_DDL)),
    (10, "calls_anonymised: with plan, the same columns as the analysts' calls (R34, R36)",
     CALLS_ANONYMISED_WITH_PLAN_DDL),
)


def applied_versions(ch: ClickHouse) -> set[int]:
    ch.execute(SCHEMA_MIGRATIONS_DDL)
    return {int(v) for (v,) in ch.query("SELECT version FROM schema_migrations FINAL")}


def migrate(ch: ClickHouse) -> list[int]:
    """Apply every missing migration in order; returns the versions applied now."""
    done = applied_versions(ch)
    applied = []
    for version, name, statements in MIGRATIONS:
        if version in done:
            continue
        for statement in statements:
            if isinstance(statement, str):
                ch.execute(statement)
            else:
                statement.apply(ch)
        # Through insert(), not INSERT ... VALUES: the native driver waits for data after an INSERT.
        ch.insert("schema_migrations", ("version", "name", "applied_at"), [(version, name, int(time.time()))])
        applied.append(version)
    return applied
