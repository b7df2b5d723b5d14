"""Versioned ClickHouse migrations: ``voiceledger clickhouse migrate`` (and every worker at start).

Each migration has a number, a name and its statements; ``schema_migrations`` records which
numbers a database has. ``migrate`` applies the missing ones in order and records each, so a
database created by an older release gets exactly what it lacks, and a current one nothing.
Statements are idempotent (``IF NOT EXISTS``), so two workers migrating at once, or a database
created before versioning, end the same. The record table is a ``ReplacingMergeTree`` keyed by
version: a version recorded twice counts once.

Every table's DDL is here, in the order the migrations create it; the modules beside this one
hold the row builders and queries of their tables.

A new table or view is a new migration at the end of ``MIGRATIONS``, never an edit of an old
one. The SQL is written for current ClickHouse and runs on the 18.16 server Debian ships; where
a feature needs a newer server (table TTL: ``streams/clickhouse/retention.py``) the code checks the version
and says what it skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from streams.clickhouse import cluster
from streams.clickhouse.client import ClickHouse, quoted
from streams.clickhouse.disputes import DISPUTES_DDL
from streams.clickhouse.reports import REPORT_VIEWS_DDL

# --- call_log: one row per call (streams/clickhouse/call_log.py) ------------------------------------------------------------

CALL_LOG_DDL = """
CREATE TABLE IF NOT EXISTS call_log (
    call_key String,
    carrier_id String,
    call_id String,
    account_id String,
    event_id String,
    caller String,
    callee String,
    start_at DateTime('UTC'),
    answer_at Nullable(DateTime('UTC')),
    end_at DateTime('UTC'),
    disposition String,
    direction String,
    trunk String,
    duration_s UInt32,
    billed_s UInt32,
    destination_prefix String,
    destination_name String,
    rate_micros_per_minute Int64,
    usage_micros Int64,
    connect_fee_micros Int64,
    charge_micros Int64,
    currency String,
    rate_card_id String,
    on_net UInt8,
    source_partition UInt32,
    source_offset UInt64,
    source_index UInt32
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(start_at)
ORDER BY (account_id, call_key)
"""


# Migration 6 adds it (AddColumn, below): the account's plan at rating time, for
# usage-pattern analytics (R36). Rows written before it read ''.
CALL_LOG_PLAN_COLUMN = ("call_log", "plan", "String DEFAULT ''")
# Migration 11 (issue 18): the CDR revision a row rates (a correction's row replaces the call's),
# and its usage category (R16) as rating decided it, in the account's own country.
CALL_LOG_REVISION_COLUMN = ("call_log", "revision", "UInt32 DEFAULT 0")
CALL_LOG_CATEGORY_COLUMN = ("call_log", "category", "String DEFAULT ''")
# Legal invoices (issue 20): what InvoiceIssued v3 states besides its lines. The customer block
# is kept sealed as the worker issued it: an erasure (the subscriber's key deleted) leaves it
# unreadable here too, with no rewrite.
INVOICE_LEGAL_COLUMNS = (("invoices", "time_zone", "String DEFAULT 'UTC'"), ("invoices", "due_at", "UInt32 DEFAULT 0"),
                         ("invoices", "customer_name", "String DEFAULT ''"),
                         ("invoices", "billing_address", "String DEFAULT ''"),
                         ("invoices", "customer_tax_id", "String DEFAULT ''"), ("invoices", "corrects", "String DEFAULT ''"))


# R34 (CPNI): what analysts read instead of call_log. No caller, and the called number cut to
# the destination prefix it was rated at; everything else (amounts, durations, carriers) as is.
CALLS_ANONYMISED_DDL = """
CREATE VIEW IF NOT EXISTS calls_anonymised AS
SELECT call_key, carrier_id, account_id, start_at, answer_at, end_at, disposition, direction, trunk,
       duration_s, billed_s, destination_prefix, destination_name, rate_micros_per_minute, usage_micros,
       connect_fee_micros, charge_micros, currency, rate_card_id, on_net
FROM call_log FINAL
"""


# R34, R35 on every server: the analysts' own database, ``<database>_analytics``, holds ``calls``:
# the anonymised call log as a table, fed by a materialized view on every insert into call_log
# and filled once from what was there before (repeats collapse: ReplacingMergeTree). A plain
# view is not enough on the 18.16 server: reading it needs access to the database of the table
# under it, so an analyst allowed only their own database could not read a view of call_log
# (tests/integration/test_clickhouse_roles.py shows both). Same columns as calls_anonymised.
ANONYMISED_COLUMNS = ("call_key, carrier_id, account_id, start_at, answer_at, end_at, disposition, direction, trunk, "
                      "duration_s, billed_s, destination_prefix, destination_name, rate_micros_per_minute, "
                      "usage_micros, connect_fee_micros, charge_micros, currency, rate_card_id, on_net, plan")


# Migration 10: calls_anonymised again, with the columns of <database>_analytics.calls (plan
# came with migration 6, after the view). A view holds no data, so replacing it loses nothing.
# IF NOT EXISTS all the same: two workers migrating at once may both drop before either creates.
CALLS_ANONYMISED_WITH_PLAN_DDL = (
    "DROP TABLE IF EXISTS calls_anonymised",
    f"CREATE VIEW IF NOT EXISTS calls_anonymised AS SELECT {ANONYMISED_COLUMNS} FROM call_log FINAL",
)


ANALYTICS_DDL = (
    "CREATE DATABASE IF NOT EXISTS {analytics}",
    "CREATE TABLE IF NOT EXISTS {analytics}.calls ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(start_at) "
    f"ORDER BY (account_id, call_key) AS SELECT {ANONYMISED_COLUMNS} FROM {{db}}.call_log WHERE 0",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {analytics}.calls_feed TO {analytics}.calls AS "
    f"SELECT {ANONYMISED_COLUMNS} FROM {{db}}.call_log",
    f"INSERT INTO {{analytics}}.calls SELECT {ANONYMISED_COLUMNS} FROM {{db}}.call_log",
)


def analytics_database(ch: ClickHouse) -> str:
    return f"{ch.database}_analytics"


# --- journal (streams/clickhouse/journal.py) ------------------------------------------------------------

JOURNAL_DDL = """
CREATE TABLE IF NOT EXISTS journal (
    entry_id String,
    line UInt16,
    account_id String,
    kind String,
    occurred_at DateTime('UTC'),
    currency String,
    ledger_account String,
    amount_micros Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (account_id, entry_id, line)
"""


# --- invoices, invoice_lines, invoice_numbers (streams/clickhouse/invoices.py) ------------------------------------------------------------

INVOICES_DDL = """
CREATE TABLE IF NOT EXISTS invoices (
    invoice_number String,
    account_id String,
    kind String,
    period String,
    issued_at DateTime('UTC'),
    currency String,
    total_micros Int64,
    payments_micros Int64,
    balance_micros Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(issued_at)
ORDER BY (account_id, invoice_number)
"""


INVOICE_LINES_DDL = """
CREATE TABLE IF NOT EXISTS invoice_lines (
    invoice_number String,
    line UInt16,
    account_id String,
    issued_at DateTime('UTC'),
    currency String,
    category String,
    description String,
    quantity Int64,
    amount_micros Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(issued_at)
ORDER BY (account_id, invoice_number, line)
"""


INVOICE_NUMBERS_DDL = """
CREATE TABLE IF NOT EXISTS invoice_numbers (
    reference String,
    number String,
    account_id String,
    issuer String,
    year UInt16,
    sequence UInt64,
    epoch_at DateTime('UTC'),
    issued_at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
PARTITION BY year
ORDER BY reference
"""


# --- call_daily: what retention keeps (streams/clickhouse/retention.py) ------------------------------------------------------------

CALL_DAILY_DDL = """
CREATE TABLE IF NOT EXISTS call_daily (
    day Date,
    currency String,
    carrier_id String,
    destination_prefix String,
    destination_name String,
    calls UInt64,
    answered UInt64,
    billed_s UInt64,
    charge_micros Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, currency, carrier_id, destination_prefix, destination_name)
"""


# --- accounts, dead_letters: the operators' read models (streams/clickhouse/accounts.py) -----------

# One row per account, the state the worker last wrote for it; ``version`` is the account's
# position in its events partition, so the newest state wins however often a batch is replayed.
ACCOUNTS_DDL = """
CREATE TABLE IF NOT EXISTS accounts (
    account_id String,
    currency String,
    plan String,
    pending_plan String,
    billing_mode String,
    status String,
    status_reason String,
    status_since DateTime('UTC'),
    time_zone String,
    country_code String,
    tax_jurisdiction String,
    opened_at DateTime('UTC'),
    balance_micros Int64,
    paid_micros Int64,
    charged_micros Int64,
    calls_charged UInt64,
    open_disputes UInt16,
    newest_event_at DateTime('UTC'),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY account_id
"""

# Every dead letter the worker wrote, with the account when the record could be read that far.
DEAD_LETTERS_DDL = """
CREATE TABLE IF NOT EXISTS dead_letters (
    source_topic String,
    source_partition UInt32,
    source_offset UInt64,
    source_index UInt32,
    account_id String,
    reason_code String,
    reason String,
    logged_at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(logged_at)
ORDER BY (account_id, source_topic, source_partition, source_offset, source_index)
"""


# --- schema_migrations: which migrations a database has ------------------------------

SCHEMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
ORDER BY version
"""



COLUMN_WAIT_SECONDS = 120  # for a column added on a cluster to reach every replica


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
                             f"AND table = '{cluster.stored(ch, self.table)}' AND name = '{self.column}'")[0][0])

    def apply(self, ch: ClickHouse) -> None:
        if self._exists(ch):
            return
        if ch.cluster:
            self._apply_on_cluster(ch)
            return
        try:
            ch.execute(f"ALTER TABLE {self.table} ADD COLUMN {self.column} {self.type_and_default}")
        except Exception:
            if not self._exists(ch):
                raise

    def _apply_on_cluster(self, ch: ClickHouse) -> None:
        """Once per shard on a replica (replication alters the others: cluster.py says why not
        ON CLUSTER), then, once every node has the column, the Distributed table again."""
        def add(node: ClickHouse) -> None:
            if not self._exists(node):
                node.execute(f"ALTER TABLE {cluster.stored(node, self.table)} ADD COLUMN {self.column} "
                             f"{self.type_and_default}")
        cluster.on_each_shard(ch, add)
        deadline = time.monotonic() + COLUMN_WAIT_SECONDS
        while not all(cluster.on_every_node(ch, self._exists)[0].values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.table}.{self.column}: not on every replica within {COLUMN_WAIT_SECONDS} s")
            time.sleep(0.2)
        for sql in cluster.distributed_again(self.table, ch.cluster, ch.database):
            ch.execute(sql)


@dataclass(frozen=True)
class Named:
    """A statement naming databases: ``{db}`` (the ledger's) and ``{analytics}`` (the analysts')."""

    template: str

    def apply(self, ch: ClickHouse) -> None:
        run(ch, self.template.format(db=ch.database, analytics=analytics_database(ch)))


Statement = str | AddColumn | Named


def run(ch: ClickHouse, sql: str) -> None:
    """One migration statement, on one node or ``ON CLUSTER`` (``streams/clickhouse/cluster.py``)."""
    for statement in cluster.ddl(sql, ch.cluster, ch.database):
        ch.execute(statement)

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
    (11, "call_log.revision and .category: the CDR revision rated (a carrier's correction replaces the call's "
         "row), the usage category in the account's own country",
     (AddColumn(*CALL_LOG_REVISION_COLUMN), AddColumn(*CALL_LOG_CATEGORY_COLUMN))),
    (12, "accounts and dead_letters: the operators' read models (the API's account, console)",
     (ACCOUNTS_DDL, DEAD_LETTERS_DDL)),
    (13, "invoices: zone, due date, the customer block (sealed) and the invoice a credit note corrects",
     tuple(AddColumn(*column) for column in INVOICE_LEGAL_COLUMNS)),
    (14, "accounts.credit_limit_micros: an account's own credit limit (R10), -1 for its plan's",
     (AddColumn("accounts", "credit_limit_micros", "Int64 DEFAULT -1"),)),
    (15, "accounts.locale and invoices.locale: the customer's language, and the one each invoice was issued in "
         "('': the deployment's invoice_locale)",
     (AddColumn("accounts", "locale", "String DEFAULT ''"), AddColumn("invoices", "locale", "String DEFAULT ''"))),
    (16, "disputes: each dispute opened (R19) with the customer's reason, and its resolution: the operators' queue",
     (DISPUTES_DDL,)),
)


def applied_versions(ch: ClickHouse) -> set[int]:
    # Looked up first: on a cluster the CREATE waits for every node, and most starts find it.
    if not ch.query("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                    f"AND name = {quoted('schema_migrations')}")[0][0]:
        run(ch, SCHEMA_MIGRATIONS_DDL)
    return {int(v) for (v,) in ch.query("SELECT version FROM schema_migrations FINAL")}


def apply_statement(ch: ClickHouse, statement: Statement) -> None:
    """One statement of a migration: SQL as it is, or a step that decides what to run."""
    if isinstance(statement, str):
        run(ch, statement)
    else:
        statement.apply(ch)


def migrate(ch: ClickHouse) -> list[int]:
    """Apply every missing migration in order; returns the versions applied now."""
    done = applied_versions(ch)
    applied = []
    for version, name, statements in MIGRATIONS:
        if version in done:
            continue
        for statement in statements:
            apply_statement(ch, statement)
        # Through insert(), not INSERT ... VALUES: the native driver waits for data after an INSERT.
        ch.insert("schema_migrations", ("version", "name", "applied_at"), [(version, name, int(time.time()))])
        applied.append(version)
    return applied
