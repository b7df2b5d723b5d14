"""``verify`` and ``rebuild``: the ledger checks itself against its own journal and its own log.

- ``verify`` recomputes every customer balance from the journal's postings (ClickHouse) and
  compares it with the accounts table, checks balance = payments - charges in every state, and
  checks that the trial balance is zero in every currency.
- ``rebuild`` folds the events topic from offset 0 into fresh state (a new app id: a new
  consumer group and a new accounts changelog, and the ClickHouse URL it is given), up to the
  offsets the live group has committed, and prints canonical hashes of both (states, journal,
  every issued invoice byte for byte, and every legal invoice number, which the rebuild's own
  numbering stage gives again: projections/numbering.py), which must match. It is built for a
  log of any length: N workers fold it (``--workers``), it fails only on a stall, and the
  comparison holds no log in memory: the journal's and call log's hashes are computed by
  ClickHouse, the topics are read as fetched, keeping a state's bytes per account and a digest
  per invoice record.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import replace
from pathlib import Path

from projections.account import AccountState
from projections.canonical import sorted_maps
from schemas.codec import EventCodec
from streams.clickhouse.client import connect
from streams.config.settings import Settings
from streams.clickhouse.journal import customer_balances, trial_balance
from streams.kafka.admin import committed_offsets
from streams.kafka.codec import codec_for
from streams.kafka.reader import read_account_states, read_latest_values, topic_batches
from streams.kafka.security import client_kwargs
from streams.kafka.topics import ensure_topics


# verify and a rebuild's comparison read topics as long as a year's log makes them (each read
# ends at the topic's end); this only bounds a read that hangs.
COMPARE_READ_TIMEOUT_S = 6 * 3600.0


def verify(settings: Settings) -> list[str]:
    """Every difference found, as one line each. Empty means the ledger agrees with itself."""
    states = asyncio.run(read_account_states(settings, timeout_s=COMPARE_READ_TIMEOUT_S))
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        from_journal = customer_balances(ch)
        trial = trial_balance(ch)
    finally:
        ch.close()
    problems = []
    for account_id in sorted(set(states) | set(from_journal)):
        state = states.get(account_id)
        live = state.balance_micros if state else 0
        posted = from_journal.get(account_id, 0)
        if live != posted:
            problems.append(f"{account_id}: balance {live} but journal says {posted} (micro-units)")
        if state and state.balance_micros != state.paid_micros - state.charged_micros:
            problems.append(f"{account_id}: balance {state.balance_micros} != paid - charged")
    for currency, total in trial:
        if total != 0:
            problems.append(f"trial balance in {currency} is {total}, not 0")
    return problems


def write_verify_metrics(path: Path, differences: int) -> None:
    """The self-check's result for node_exporter's textfile collector (verify runs from a timer,
    not inside a worker): differences found, and when it last ran. Written atomically."""
    import time

    text = ("# HELP voiceledger_verify_differences Differences the last ledger self-check found (0: healthy)\n"
            "# TYPE voiceledger_verify_differences gauge\n"
            f"voiceledger_verify_differences {differences}\n"
            "# HELP voiceledger_verify_last_run_timestamp_seconds When the ledger self-check last ran\n"
            "# TYPE voiceledger_verify_last_run_timestamp_seconds gauge\n"
            f"voiceledger_verify_last_run_timestamp_seconds {int(time.time())}\n")
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


JOURNAL_HASHED = ("entry_id", "line", "account_id", "kind", "occurred_at", "currency", "ledger_account",
                  "amount_micros")
# Every call-log row's content, not its insert version. After an erasure the live rows were
# anonymised in place and a rebuild writes them anonymised (R32): the two must agree.
CALL_LOG_HASHED = ("call_key", "account_id", "event_id", "caller", "callee", "start_at", "end_at", "disposition",
                   "direction", "trunk", "duration_s", "billed_s", "destination_prefix", "destination_name",
                   "rate_micros_per_minute", "usage_micros", "connect_fee_micros", "charge_micros", "currency",
                   "rate_card_id", "on_net", "plan")


def table_hash(clickhouse_url: str, table: str, columns: tuple[str, ...], cluster: str = "") -> str:
    """``rows:<hex>``: the table's row count (``FINAL``: one row per key) and the sums, modulo
    2^64, of two independent 64-bit hashes of each row's ``columns``. Computed by ClickHouse, on
    every shard of a cluster: a year of calls and postings is billions of rows, which the
    command must never read into its own memory (it once did, in key order). A sum does not
    depend on the order rows are read in; one row's difference moves both sums (a chance of
    2^-128 that it does not), and a missing or extra row the count too."""
    ch = connect(clickhouse_url, cluster)
    try:
        listed = ", ".join(columns)
        (rows, city, sip), = ch.query(f"SELECT count(), sum(cityHash64({listed})), sum(sipHash64({listed})) "
                                      f"FROM {table} FINAL")
    finally:
        ch.close()
    return f"{rows}:{int(city):016x}{int(sip):016x}"


def journal_hash(clickhouse_url: str, cluster: str = "") -> str:
    return table_hash(clickhouse_url, "journal", JOURNAL_HASHED, cluster)


def call_log_hash(clickhouse_url: str, cluster: str = "") -> str:
    return table_hash(clickhouse_url, "call_log", CALL_LOG_HASHED, cluster)


def state_hash(states: dict[str, AccountState], codec: EventCodec | None = None) -> str:
    """SHA-256 over every account's encoded state, in account order, with every map in key
    order: the bytes a state record holds, so no field can be left out of the comparison."""
    codec = codec or EventCodec()
    h = hashlib.sha256()
    for account_id in sorted(states):
        _add_state(h, codec, states[account_id])
    return h.hexdigest()


def values_state_hash(latest: dict[bytes, bytes], codec: EventCodec) -> str:
    """``state_hash`` of a changelog's newest values, decoded one at a time: a table of a million
    accounts is then held once, as its bytes, not as a million decoded states."""
    h = hashlib.sha256()
    for key in sorted(latest, key=bytes.decode):  # the same order as state_hash's account ids
        _add_state(h, codec, codec.decode_state(latest[key]))
    return h.hexdigest()


def _add_state(h, codec: EventCodec, state: AccountState) -> None:  # noqa: ANN001 - a hashlib hash
    raw = codec.encode_state(sorted_maps(state))
    h.update(len(raw).to_bytes(4, "big") + raw)


# A refold reads a backlog from offset 0, alone in its group: batches as large as a fetch
# brings, each writing an account's state once (streams/worker/fold_stage.py), instead of the
# live default sized for rebalances and authorization.
REFOLD_BATCH_MESSAGES = 10_000
# A refold runs as long as the log is long (a year of a carrier's CDRs: hours); it fails only when
# its workers stop making progress for this long (a broker gone, a worker wedged).
REFOLD_STALL_S = 600.0
REFOLD_PROGRESS_EVERY_S = 30.0


def rebuild(settings: Settings, new_app_id: str, clickhouse_url: str, log_path: Path, workers: int = 1,
            stall_s: float = REFOLD_STALL_S) -> dict[str, str]:
    """Fold the log again into fresh state; returns the canonical hashes of live and rebuilt."""
    fresh = refold(settings, new_app_id, clickhouse_url, log_path, workers, stall_s)
    return compare(settings, fresh, clickhouse_url)


def refold_settings(settings: Settings, new_app_id: str, clickhouse_url: str) -> Settings:
    """A worker's settings for folding the same events log under ``new_app_id``: its own outputs,
    its own ClickHouse database, no metrics port, large batches, and no authorization endpoint:
    switches must never be answered from states being rebuilt (nor a rebuild hold the live
    workers' port), and feeding the endpoint's process would cost the refold its time. Nor the
    downstream feeds (ledger.entries, calls.rated): nothing reads a rebuild's, and they cost a
    record per call to write and to store; the journal and call log it compares are in ClickHouse."""
    return replace(settings, app_id=new_app_id, clickhouse_url=clickhouse_url, metrics_port=0, authorization_port=0,
                   publish_feeds=False,
                   batch_messages_max=max(settings.batch_messages_max, REFOLD_BATCH_MESSAGES),
                   dead_letter_topic=f"{new_app_id}.dead-letter",
                   ledger_entries_topic=f"{new_app_id}.ledger.entries",
                   calls_rated_topic=f"{new_app_id}.calls.rated",
                   account_status_topic=f"{new_app_id}.account.status",
                   invoices_topic=f"{new_app_id}.invoices",
                   invoice_numbering_topic=f"{new_app_id}.invoice-numbering",
                   invoice_numbers_topic=f"{new_app_id}.invoice-numbers")


def refold(settings: Settings, new_app_id: str, clickhouse_url: str, log_path: Path, workers: int = 1,
           stall_s: float = REFOLD_STALL_S) -> Settings:
    """``workers`` fresh workers, one group, fold the whole log under ``new_app_id`` into
    ``clickhouse_url``, up to what live has committed; returns the settings they ran with.
    Worker ``n`` > 0 writes its log beside ``log_path`` (``rebuild-worker.1.log``)."""
    from streams.worker import settings_log
    from streams.worker.supervise import start_worker, stop_worker, supervise_until_committed

    # Here as well as in the refolding worker: a refusal is then this command's one line, not an
    # exit in the worker's log.
    asyncio.run(ensure_topics(settings))  # the settings topic is new to a ledger upgraded from before it
    asyncio.run(settings_log.guard(settings))
    target = asyncio.run(committed_offsets(settings))
    fresh = refold_settings(settings, new_app_id, clickhouse_url)
    logs = [log_path if n == 0 else log_path.with_name(f"{log_path.stem}.{n}{log_path.suffix}") for n in range(workers)]
    running = [start_worker(fresh, log) for log in logs]
    try:
        running = supervise_until_committed(fresh, running, target, logs, stall_s=stall_s,
                                            progress_every_s=REFOLD_PROGRESS_EVERY_S)
    finally:
        for worker in running:
            stop_worker(worker)
    return fresh


def compare(settings: Settings, fresh: Settings, clickhouse_url: str) -> dict[str, str]:
    """The canonical hashes of live (``settings``) and of a refold (``fresh``, into ``clickhouse_url``)."""
    live_states, fresh_states, *topics = asyncio.run(_read_topics(settings, fresh))
    live_invoices, rebuilt_invoices, live_numbers, rebuilt_numbers = topics
    codec = codec_for(settings)
    return {
        "live_state": values_state_hash(live_states, codec),
        "rebuilt_state": values_state_hash(fresh_states, codec),
        "live_journal": journal_hash(settings.clickhouse_url, settings.clickhouse_cluster),
        "rebuilt_journal": journal_hash(clickhouse_url, settings.clickhouse_cluster),
        "live_call_log": call_log_hash(settings.clickhouse_url, settings.clickhouse_cluster),
        "rebuilt_call_log": call_log_hash(clickhouse_url, settings.clickhouse_cluster),
        "live_invoices": live_invoices, "rebuilt_invoices": rebuilt_invoices,
        "live_numbers": live_numbers, "rebuilt_numbers": rebuilt_numbers,
    }


async def _read_topics(settings: Settings, fresh: Settings) -> list:
    """Both accounts tables (newest value per key) and the four invoice topics (their hashes),
    read at once: on Tansu each read ends after a quiet wait (streams/kafka/reader.py), which one
    after another was most of a compare."""
    timeout = COMPARE_READ_TIMEOUT_S
    return list(await asyncio.gather(
        read_latest_values(settings, settings.accounts_changelog_topic(), timeout),
        read_latest_values(fresh, fresh.accounts_changelog_topic(), timeout),
        *(_topic_hash(s, topic, timeout) for s, topic in (
            (settings, settings.invoices_topic), (fresh, fresh.invoices_topic),
            (settings, settings.invoice_numbers_topic), (fresh, fresh.invoice_numbers_topic)))))


async def _topic_hash(settings: Settings, topic: str, timeout_s: float) -> str:
    """Every distinct record value of ``topic``, byte for byte, as one hash: read as fetched,
    holding a digest (32 bytes) per distinct record, never the records."""
    digests = set()
    async with contextlib.aclosing(topic_batches(settings.broker, topic, timeout_s,
                                                 security=client_kwargs(settings))) as batches:
        async for batch in batches:
            digests.update(_digest(r.value) for r in batch)
    return _digests_hash(digests)


def _digest(value: bytes) -> bytes:
    """A record's value, as the invoice topics' hash holds it. They are at-least-once: a replay
    after a crash may send a record again, identical, which counts once."""
    return hashlib.sha256(len(value).to_bytes(4, "big") + value).digest()


def _digests_hash(digests: set[bytes]) -> str:
    """``<distinct records>:<SHA-256 over their digests in order>``: the same for any order and
    any repeats of the same records; a digest (32 bytes) is all that is held of each."""
    h = hashlib.sha256()
    for d in sorted(digests):
        h.update(d)
    return f"{len(digests)}:{h.hexdigest()}"
