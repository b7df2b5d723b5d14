"""ClickHouse: the client, every table's DDL and migrations, and the queries over the call log,
journal and invoices (reports, reconciliation, retention, privacy)."""
