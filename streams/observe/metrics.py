"""Prometheus metrics of the workers, declared once (``voiceledger_*``, units last in names)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "voiceledger_events_consumed_total", "Events read from a topic (envelopes count each record)",
    ["topic", "type"],
)
EVENTS_APPLIED = Counter(
    "voiceledger_events_applied_total", "Events folded into account state", ["topic", "type"]
)
CALLS_RATED = Counter("voiceledger_calls_rated_total", "Calls rated (answered, unanswered or on-net)", ["topic"])
EVENTS_REJECTED = Counter(
    "voiceledger_events_rejected_total", "Events sent to the dead-letter topic, by reason",
    ["topic", "reason"],
)
EVENTS_DEDUPLICATED = Counter(
    "voiceledger_events_deduplicated_total", "Duplicate events skipped (same key and content)", ["topic"]
)
EVENTS_REDELIVERED = Counter(
    "voiceledger_events_redelivered_total",
    "Events skipped because their log position was already applied (redelivery after restart)",
    ["topic"],
)
BATCH_SIZE = Histogram(
    "voiceledger_batch_events", "Events per processed batch",
    buckets=(1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000),
)
BATCH_LATENCY = Histogram(
    "voiceledger_batch_processing_seconds", "Wall time to process one batch, I/O included",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CLICKHOUSE_INSERT_LATENCY = Histogram(
    "voiceledger_clickhouse_insert_seconds", "Latency of one ClickHouse insert", ["table"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CLICKHOUSE_INSERT_ROWS = Counter(
    "voiceledger_clickhouse_insert_rows_total", "Rows inserted into ClickHouse", ["table"]
)
ACCOUNTS_IN_STATE = Gauge("voiceledger_accounts_touched_last_batch", "Accounts written in the last batch")
CONSUMER_LAG = Gauge(
    "voiceledger_consumer_lag_messages",
    "Records of a partition behind the last one this worker processed (high-water mark minus next "
    "offset), after each batch. On Tansu it reads low: its high-water mark lags for multi-record batches",
    ["topic", "partition"],
)
RATE_CARDS = Gauge("voiceledger_rate_cards_published", "Published rate cards this worker can rate with")
STATUS_CHANGES = Counter(
    "voiceledger_account_status_changes_total", "Lifecycle transitions published on account.status",
    ["status", "reason"],
)
AUTHORIZATIONS = Counter(
    "voiceledger_authorizations_total", "Authorization answers (R10), by reason (ok, on_net, insufficient_funds, ...)",
    ["reason"],
)
AUTHORIZATION_LATENCY = Histogram(
    "voiceledger_authorization_seconds", "Time to answer one authorization, in the server",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25),
)
AUTHORIZATION_LOOP_LAG = Histogram(
    "voiceledger_authorization_loop_lag_seconds",
    "How late the authorization process's loop ran a check due every 10 ms: what a request arriving "
    "then waited before its handler could start (the part of a switch's wait the handler time leaves out)",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
GC_PAUSE = Histogram(
    "voiceledger_gc_pause_seconds", "Full garbage collections between batches, and how long each held the process "
    "(streams/runtime/memory.py)", buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
FUNDS_HELD = Gauge("voiceledger_funds_held_micros", "Funds held for calls in progress on this worker (all currencies)")
API_REFUSED = Counter(
    "voiceledger_api_requests_refused_total", "HTTP API requests refused: 401 no valid token, 403 another account",
    ["status"])
INVOICES_ISSUED = Counter(
    "voiceledger_invoices_issued_total", "Invoices issued (monthly close and final invoices)", ["currency"])
# Busy accounts (projections/account.py: _make_room): a full dedup key set let go of its oldest
# keys, and the account's CDRs older than those it keeps are refused from then on.
DEDUP_FLOOR_RAISED = Counter("voiceledger_dedup_floor_raised_total",
                             "Batches in which an account's full dedup key set let go of its oldest keys")
TICK_QUIET_ACCOUNTS = Counter(
    "voiceledger_tick_quiet_accounts_total",
    "Accounts a tick left out because their state said it would change nothing (tick_quiet_until)")
INVOICES_NUMBERED = Counter(
    "voiceledger_invoices_numbered_total", "Invoices given their legal number by the numbering stage")
INTERIM_INVOICES_DUE = Counter(
    "voiceledger_interim_invoices_due_total", "R18: postpaid accounts whose debt rose above the interim threshold")
CDRS_RECEIVED = Counter(
    "voiceledger_cdrs_received_total",
    "CDRs posted to the receiver (voiceledger receive), by outcome: produced, rejected (dead-lettered), b_leg "
    "(billed on its A leg), unavailable (the broker did not take it: 503), too_large",
    ["outcome"])
SEALED_CDRS_OPENED = Counter(
    "voiceledger_sealed_cdrs_opened_total",
    "Sealed CDRs whose numbers were opened for the call log, by where: process (the opening process beside the "
    "worker, open_sealed_beside_fold) or worker (itself: the setting off, or a chunk whose opening was not back yet)",
    ["by"])
AVRO_KERNEL_COMPILED = Gauge(
    "voiceledger_avro_kernel_compiled",
    "1: the compiled Avro kernel is built (schemas/avro_kernel.pyx); 0: fastavro reads and writes everything, the same "
    "result, slower (no C compiler at install)")
MODULES_COMPILED = Gauge(
    "voiceledger_modules_compiled",
    "Modules of the per-CDR path running compiled (projections/compiled.py); fewer than "
    "voiceledger_modules_compilable: the others run from source, the same result, slower (no C compiler at "
    "install, or a source changed after the build)")
SETTINGS_VERSION = Gauge(
    "voiceledger_settings_version",
    "1, labelled with the first 12 hex digits of the digest of the fold's settings this worker runs with (voiceledger "
    "settings history): workers of one group that differ fold with different prices", ["digest"])
MODULES_COMPILABLE = Gauge("voiceledger_modules_compilable", "Modules of the per-CDR path the install compiles")
TABLE_RESTORED_RECORDS = Counter("voiceledger_table_restored_records_total",
                                 "Changelog records a worker read back in bulk when partitions were assigned "
                                 "(streams/worker/restore.py)", ["table"])
TABLE_STATES = Gauge("voiceledger_table_states",
                     "States a worker holds in memory per table: those of its partitions once a rebalance's "
                     "recovery has completed (a revoked partition's are dropped then); read at each scrape", ["table"])
