"""The Faust app: the events topic, the accounts table, and the folding agent.

Per batch (``stream.take_events``), in this order, which is what makes the effect exactly-once
on a broker without transactions:

0. check that no record of a partition was skipped before this batch (``streams/worker/sequence.py``:
   faust-streaming can drop fetched records during recovery and deliver later ones);
1. decode and fold the batch in memory (``BatchProcessor``, pure core underneath);
2. send the batch's outputs (journal entries on ``ledger.entries``, ``CallRated``, status
   changes, invoices, dead letters) and insert its call-log, journal and invoice rows into
   ClickHouse; wait until the broker has acknowledged every output and the insert is done. All
   of them carry stable ids (entry id, call key, invoice number, source position), so a repeat
   after a crash is a duplicate that readers and ClickHouse collapse, never a new fact;
3. only then write each touched account's state once to the ``accounts`` table; each state
   record carries the log position it has applied, so it and its position can never disagree;
4. wait until the broker has acknowledged every state changelog record; only then does the
   loop body end, Faust ack the batch's events, and a later commit cover their offsets.

Outputs before states matters: a replay skips every event a recovered state has applied
(``Redelivered``), so an output still unsent when its state landed would never be sent again.

Steps 2 and 4 wait for acks themselves, on purpose. Faust flushes its producer before committing, but
``ProducerBuffer.flush()`` (faust-streaming 0.15) returns as soon as one 0.1 s wait passes
without a send, with messages still buffered. Under load a commit could then cover events whose
state was never written, and a crash lost them: the SIGKILL test caught exactly that.

A crash anywhere replays from the last committed offset; replayed events at or before an
account's recorded position are skipped (``Redelivered``), later ones are applied once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import faust
from faust.types import TP

from projections.account import DAY_MS, AccountState, FoldSettings
from streams.observe import metrics
from streams.worker import faust_patches, numbering
from streams.clickhouse.call_log import CALL_LOG_COLUMNS
from streams.clickhouse.migrations import migrate
from streams.clickhouse.privacy import anonymise_statement
from streams.edge.sealing import opener_for
from streams.clickhouse.invoices import INVOICE_COLUMNS, INVOICE_LINE_COLUMNS
from streams.clickhouse.journal import JOURNAL_COLUMNS
from streams.clickhouse.client import ClickHouse, connect
from streams.config.settings import Settings
from streams.kafka.admin import beginning_offsets, committed_offsets, data_in_range
from streams.kafka.codec import codec_for
from streams.worker.processor import BatchProcessor, InMessage
from streams.worker.sequence import PartitionSequence
from streams.worker.table_acks import track_changelog_acks
from streams.worker.progress_watch import CommitWatch, ProgressWatch
from streams.edge.rate_decks import check_route_fits, load_rate_cards
from streams.worker.rate_feed import RateFeed
from streams.http.tokens import load_tokens
from streams.http.authorization import AuthorizationServer, NotReady
from streams.http.ops import STALE_S
from streams.kafka.security import client_kwargs, faust_credentials
from streams.http.reservations import ReservationBook
from projections.money import parse_decimal_micros
from projections.rating import RateCard

log = logging.getLogger("voiceledger.worker")


class RecordsDropped(RuntimeError):
    """The consumer skipped records of a partition; applying later ones first would lose them."""

ACCOUNTS_TABLE = "accounts"
# Exit code of a worker that stopped itself because a batch could not be completed.
EXIT_BATCH_FAILED = 75
# faust-streaming 0.15.3 sometimes (after restarts on Tansu, several times a run on a slow
# machine) stops making progress on a partition: it holds acked offsets it can never commit
# (its _new_offset refuses a gap of more than one un-acked record), or it stops fetching a
# partition that has records waiting (streams/worker/progress_watch.py). The worker then idles with its
# lag stuck. The watchdog sees both from the broker (log ends and the group's committed offsets
# against what this worker processed) and exits (75) once either lasts COMMIT_STALL_SECONDS; the
# restart reads from the committed offset, the fold skips what it already applied, and the
# partition moves again.
COMMIT_WATCHDOG_SECONDS = 5.0
COMMIT_STALL_SECONDS = 20.0
# Longest the watchdog waits out Faust's recovery or rebalancing flags before it checks anyway.
# A large changelog may take longer to restore; a false stall costs one restart, nothing else.
PAUSE_MAX_SECONDS = 300.0
# Decoded account states kept in memory (streams/worker/app.py: load_state); past this many the cache
# starts again empty. A decoded state costs a few KB (its dedup keys), so this bounds ~GBs.
DECODED_STATES_MAX = 500_000
# Waits between ClickHouse insert attempts: about 30 s in all, then the worker exits.
INSERT_RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def fold_settings_from(settings: Settings, published_cards: tuple[RateCard, ...] = ()) -> FoldSettings:
    """The fold's settings: the configured cards plus the cards published on the rates topic."""
    configured = load_rate_cards(settings.rate_cards)
    if settings.seal_personal_data:
        for card in configured:
            check_route_fits(card, settings.route_digits)
    return FoldSettings(
        rate_cards=configured + published_cards,
        on_net_prefixes=settings.on_net_prefixes,
        country_code=settings.country_code,
        dedup_window_ms=settings.dedup_window_days * DAY_MS,
        dedup_max_keys=settings.dedup_max_keys,
        included_seconds_by_plan=settings.included_seconds_by_plan(),
        max_clock_skew_ms=settings.max_clock_skew_seconds * 1000,
        monthly_fee_by_plan=settings.monthly_fee_by_plan(),
        termination_fee_micros=parse_decimal_micros(settings.termination_fee),
        connection_fee_by_plan=settings.connection_fee_by_plan(),
        registration_grace_ms=settings.registration_grace_hours * 3_600_000,
        inactivity_ms=settings.inactivity_days * DAY_MS,
        interim_threshold_micros=parse_decimal_micros(settings.interim_threshold),
        invoice_issuer=settings.invoice_issuer,
        taxes_by_key=settings.taxes_by_key(),
    )


def chunks_by_bytes(events: list, limit: int) -> list[list]:
    """Consecutive runs of ``events`` whose message values hold at most ``limit`` bytes (a
    larger message alone in its run), in order."""
    parts: list[list] = []
    size = 0
    for event in events:
        n = len(event.message.value or b"")
        if not parts or size + n > limit:
            parts.append([])
            size = 0
        parts[-1].append(event)
        size += n
    return parts


def create_app(settings: Settings, clickhouse: ClickHouse | None = None) -> faust.App:
    """Build the worker app. ``clickhouse`` is opened lazily in the worker if not given."""
    faust_patches.apply()  # Faust's commit bookkeeping with repeated offsets (streams/worker/faust_patches.py)
    kafka_security = client_kwargs(settings)
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url(),
        store="memory://",
        # Tansu (and some managed Kafkas) have no transactions; exactly-once comes from the
        # idempotent fold instead, so at-least-once delivery is all we ask of Kafka.
        processing_guarantee="at_least_once",
        # Sends must go out when made, not at commit time: a batch waits for its writes' acks.
        stream_publish_on_commit=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # A new group reads from the log's start; the in-order guard assumes it (streams/worker/sequence.py).
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_credentials=faust_credentials(settings),  # R35: TLS/SASL (streams/kafka/security.py)
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        stream_buffer_maxsize=max(4096, settings.batch_messages_max * 2),
        broker_max_poll_records=settings.batch_messages_max,
        # Bytes fetched per partition at a time (Faust's default is 1 MiB). A batch is what one
        # fetch brings; with sealed numbers a CDR is ~2x the bytes, and smaller batches write
        # each touched account's state more often (6.9k -> 7.4-7.7k CDR/s in bench/pipeline.py).
        consumer_max_fetch_size=settings.fetch_bytes_per_partition,
        producer_acks=-1,
        producer_linger_ms=5,
        producer_max_batch_size=settings.producer_batch_bytes_max(),
        table_standby_replicas=0,
        web_enabled=False,
        # What the partition assignor tells other workers about this one: the authorization
        # endpoint, so a request for an account another worker owns is redirected there.
        canonical_url=f"http://{settings.authorization_host}:{settings.authorization_port or 6066}",
    )
    codec = codec_for(settings)
    base_settings = fold_settings_from(settings)
    processor = BatchProcessor(codec, base_settings, settings.partitions, opener_for(settings))
    rate_feed = RateFeed(settings, codec)
    cards_version = [0]  # the rate book's version the processor's settings were built from
    events_topic = app.topic(
        settings.events_topic, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=settings.partitions,
    )
    dead_letters = app.topic(
        settings.dead_letter_topic, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=settings.partitions,
    )
    calls_rated = app.topic(
        settings.calls_rated_topic, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=settings.partitions,
    )
    account_status = app.topic(
        settings.account_status_topic, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=settings.partitions,
    )
    invoices_topic = app.topic(
        settings.invoices_topic, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=settings.partitions,
    )
    ledger_entries = app.topic(
        settings.ledger_entries_topic, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=settings.partitions,
    )
    numbering_topic = app.topic(
        settings.invoice_numbering_topic, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=1,
    )
    # Keys are account ids as UTF-8 bytes; use_partitioner puts each state in the changelog
    # partition Kafka's default partitioner picks for that key, the same as the events topic,
    # which lets the agent write the table from inside take_events().
    assert f"{settings.app_id}-{ACCOUNTS_TABLE}-changelog" == settings.accounts_changelog_topic()
    accounts = app.Table(
        ACCOUNTS_TABLE, default=None, partitions=settings.partitions, use_partitioner=True,
        # bytes types make Faust use the "raw" codec for the changelog, both ways.
        key_type=bytes, value_type=bytes,
    )
    # Every changelog write of the table, as the future Faust resolves when the broker acks it
    # (step 4 in the module docstring; streams/worker/table_acks.py).
    unacked_writes = track_changelog_acks(accounts)
    sequence = PartitionSequence()  # see streams/worker/sequence.py: in-order delivery, checked

    # One thread owns the ClickHouse client: clients are not thread-safe, and the event loop
    # must stay free to heartbeat while an insert runs.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
    ch_holder: dict[str, ClickHouse] = {}
    if clickhouse is not None:
        ch_holder["ch"] = clickhouse

    # ch_holder is read and changed only on the ClickHouse thread (open, drop, close all run in
    # the executor), so a shutdown during the start-up migration cannot pull the client away
    # from under it: the close simply runs after the open.
    def _ch() -> ClickHouse:
        ch = ch_holder.get("ch")
        if ch is None:
            ch = connect(settings.clickhouse_url)
            migrate(ch)
            ch_holder["ch"] = ch
        return ch

    def _drop_client() -> None:
        # Close before forgetting: chDB allows one open session per path in a process, so a
        # reconnect next to a leaked session would fail every retry.
        ch = ch_holder.pop("ch", None)
        if ch is not None:
            try:
                ch.close()
            except Exception as exc:  # the connection is already broken; nothing to save
                log.warning("closing the failed clickhouse client: %s", exc)

    def _insert(tables: list[tuple[str, tuple, list[tuple]]], statements: tuple[str, ...] = ()) -> None:
        """Insert (table, columns, rows) in order, then run ``statements``, retrying the whole
        list on a failure (rows collapse by key, and the statements are idempotent mutations,
        so a repeat is harmless). Runs in the ClickHouse thread, so waiting here never blocks
        Kafka heartbeats."""
        for attempt, delay in enumerate((*INSERT_RETRY_DELAYS_SECONDS, None)):
            try:
                for table, columns, rows in tables:
                    _ch().insert(table, columns, rows)
                for statement in statements:
                    _ch().execute(statement)
                return
            except Exception as exc:
                if delay is None:
                    raise
                log.warning("clickhouse insert failed (attempt %d): %s; retrying in %.1f s",
                            attempt + 1, exc, delay)
                _drop_client()  # reconnect on the next attempt
                time.sleep(delay)

    async def run_insert(table: str, columns: tuple, rows: list[tuple]) -> None:
        await asyncio.get_running_loop().run_in_executor(executor, _insert, [(table, columns, rows)])

    numbering_progress = numbering.install(app, settings, codec, run_insert, dead_letters, kafka_security)

    # Decoded states by the exact bytes object they came from (or were encoded to). A state
    # record holds up to dedup_max_keys dedup keys, so decoding one costs ~80 us; the worker
    # wrote most of the records it reads, and keeps their decoded form instead of decoding its
    # own output again (~10% of a batch). Identity, not equality: a record recovered from the
    # changelog is a new object and is decoded. The fold never mutates the state it is given
    # (projections/account.py: fold_batch works on private copies), so sharing it is safe.
    decoded: dict[str, tuple[bytes, AccountState]] = {}  # account -> (state bytes, decoded)

    def remember(account_id: str, raw: bytes, state: AccountState) -> None:
        if len(decoded) >= DECODED_STATES_MAX:
            decoded.clear()
        decoded[account_id] = (raw, state)

    def load_state(account_id: str) -> AccountState | None:
        raw = accounts.get(account_id.encode())
        if raw is None:
            return None
        hit = decoded.get(account_id)
        if hit is not None and hit[0] is raw:
            return hit[1]
        state = codec.decode_state(raw)
        remember(account_id, raw, state)
        return state

    def accounts_in_partition(partition: int) -> list[str]:
        # The table holds the accounts of this worker's partitions; a tick of one partition
        # reaches those of that partition (the processor checks each account's partition).
        return [key.decode() for key in accounts.keys()]

    @app.task
    async def read_rate_cards() -> None:
        # At start-up, not in the first batch: a slow first batch after recovery makes Faust drop
        # more fetched records (streams/worker/sequence.py). The first batch sees the book's new version.
        await rate_feed.catch_up()

    @app.task
    async def open_clickhouse() -> None:
        # Connect (and migrate) before the first batch, off the event loop.
        await asyncio.get_running_loop().run_in_executor(executor, _ch)

    @app.agent(events_topic, name="fold-events")
    async def fold_events(stream):  # noqa: ANN001 - Faust's stream type
        async for events in stream.take_events(settings.batch_messages_max, within=settings.batch_wait_seconds):
            try:
                await _process_batch(events)
            except BaseException as exc:  # CancelledError too
                # take_events acks every buffered event when the loop body is left, even by an
                # exception, and Faust would then commit offsets of a batch whose state was never
                # written: effects lost. So a batch that cannot complete ends the process at
                # once, with nothing acked or committed; the restart replays it (as after SIGKILL).
                log.critical("batch failed, exiting without commit so it is replayed: %r", exc)
                logging.shutdown()
                os._exit(EXIT_BATCH_FAILED)

    def _observe_lag(records: list[tuple[int, int]]) -> None:
        last: dict[int, int] = {}
        for partition, offset in records:
            last[partition] = max(offset, last.get(partition, offset))
        for partition, offset in last.items():
            highwater = app.consumer.highwater(TP(settings.events_topic, partition))
            if highwater is not None:  # known once the partition has been fetched
                metrics.CONSUMER_LAG.labels(topic=settings.events_topic, partition=str(partition)).set(
                    max(0, highwater - (offset + 1)))

    async def _start_offsets(partitions: list[int]) -> dict[int, int]:
        """Where the group starts reading: its committed offset, else the log's start (earliest)."""
        committed = await committed_offsets(settings, partitions)
        uncommitted = [p for p in partitions if p not in committed]
        return {**(await beginning_offsets(settings, uncommitted) if uncommitted else {}), **committed}

    async def _check_in_order(records: list[tuple[int, int]]) -> None:
        """Raise (so the worker stops, nothing acked) if records were dropped before this batch."""
        new = sequence.unknown({p for p, _ in records})
        if new:
            start = await _start_offsets(sorted(new))
            for p in new:
                sequence.start(p, start.get(p))
        for gap in sequence.gaps(records):
            if await data_in_range(settings.broker, settings.events_topic, gap.partition, gap.start, gap.end,
                                   security=kafka_security):
                raise RecordsDropped(f"partition {gap.partition}: records {gap.start}..{gap.end - 1} were "
                                     f"not delivered before offset {gap.end}; replaying in order")
            log.info("partition %d: offsets %d..%d hold no records (transaction markers or compaction)",
                     gap.partition, gap.start, gap.end - 1)
            # Proven empty, so Faust may commit over them (it no longer guesses: faust_patches.py).
            faust_patches.mark_empty(app.consumer, TP(settings.events_topic, gap.partition), gap.start, gap.end)

    async def _process_batch(events) -> None:  # noqa: ANN001 - Faust's event type
        in_batch[0] = True
        try:
            # The fold runs on the event loop: while it runs, no heartbeat reaches the broker.
            # Envelopes of 200 CDRs make 2,000 messages up to 400k CDRs (~40 s here), far past
            # the session timeout, so a batch is folded and written in parts of at most
            # batch_bytes_max message bytes, each awaiting its writes (heartbeats run then).
            for part in chunks_by_bytes(events, settings.batch_bytes_max):
                await _fold_and_write(part)
        finally:
            in_batch[0] = False

    async def _fold_and_write(events) -> None:  # noqa: ANN001 - Faust's event type
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        messages = [
            InMessage(e.message.topic, e.message.partition, e.message.offset,
                      int(round(e.message.timestamp * 1000)), e.message.value)
            for e in events
        ]
        records = [(m.partition, m.offset) for m in messages]
        await _check_in_order(records)
        # Cards logged before these calls must be known before they are rated (rate_feed.py).
        if rate_feed.due():
            await rate_feed.catch_up()
        if rate_feed.book.version != cards_version[0]:
            cards_version[0] = rate_feed.book.version
            processor.settings = replace(base_settings,
                                         rate_cards=base_settings.rate_cards + rate_feed.book.effective_cards())
        t_fold = loop.time()
        result = processor.process(messages, load_state, accounts_in_partition)
        t_outputs = loop.time()
        for refusal in rate_feed.take_refusals():
            result.dead_letters.append((f"{settings.rates_topic}/0/{refusal.offset}/0".encode(),
                                        codec.encode_dead_letter(
                                            reason_code=refusal.code, reason=refusal.reason,
                                            source_topic=settings.rates_topic, source_partition=0,
                                            source_offset=refusal.offset, source_index=0, original=refusal.value)))
        # Step 2: outputs first; their acks arrive while ClickHouse inserts.
        outputs: list[asyncio.Future] = []
        for partition, key, value in result.entries:
            outputs.append(await ledger_entries.send(key=key, value=value, partition=partition))
        for partition, key, value in result.rated_calls:
            outputs.append(await calls_rated.send(key=key, value=value, partition=partition))
        for partition, key, value in result.status_changes:
            outputs.append(await account_status.send(key=key, value=value, partition=partition))
        for partition, key, value in result.invoices:
            outputs.append(await invoices_topic.send(key=key, value=value, partition=partition))
        for key, value in result.dead_letters:
            outputs.append(await dead_letters.send(key=key, value=value))
        for key, value in result.numbering:  # drafts and ticks, one envelope per partition, in log order
            outputs.append(await numbering_topic.send(key=key, value=value, partition=0))
        if result.call_rows or result.journal_rows or result.invoice_rows or result.erased:
            # R32: an erasure folded here anonymises the subscriber's rows once more, after
            # every row of theirs this worker inserted (one opened in the moment the key went).
            await loop.run_in_executor(executor, _insert, [
                ("call_log", CALL_LOG_COLUMNS, result.call_rows), ("journal", JOURNAL_COLUMNS, result.journal_rows),
                ("invoices", INVOICE_COLUMNS, result.invoice_rows),
                ("invoice_lines", INVOICE_LINE_COLUMNS, result.invoice_line_rows)],
                tuple(anonymise_statement(a) for a in result.erased))
        if outputs:
            await asyncio.gather(*outputs)
        t_states = loop.time()
        # Step 3: the states, only once everything they imply is on the broker and in ClickHouse.
        for account_id, state in result.states.items():
            raw = codec.encode_state(state)
            accounts[account_id.encode()] = raw
            remember(account_id, raw, state)
        # After the states: a hold goes only once its call's charge is in the balance.
        for account_id, call_key in result.calls_ended:
            reservations.settle(account_id, call_key)
        # Step 4: nothing of this batch may be committed before its states are on the broker.
        writes = list(unacked_writes)
        unacked_writes.clear()
        if writes:
            await asyncio.gather(*writes)
        metrics.BATCH_SIZE.observe(result.counts["consumed"])
        metrics.BATCH_LATENCY.observe(loop.time() - t0)
        if loop.time() - t0 > settings.session_timeout_seconds / 2:
            log.warning("a batch part took %.1f s, over half of session_timeout_seconds (%.0f s): the broker may "
                        "take this worker for dead; lower batch_bytes_max", loop.time() - t0,
                        settings.session_timeout_seconds)
        metrics.ACCOUNTS_IN_STATE.set(len(result.states))
        metrics.FUNDS_HELD.set(reservations.total())
        log.info("batch messages=%d events=%d applied=%d duplicate=%d redelivered=%d rejected=%d "
                 "accounts=%d call_rows=%d seconds=%.3f (check %.3f fold %.3f outputs+clickhouse %.3f states %.3f)",
                 len(messages), result.counts["consumed"], result.counts["applied"], result.counts["duplicate"],
                 result.counts["redelivered"], len(result.dead_letters), len(result.states), len(result.call_rows),
                 loop.time() - t0, t_fold - t0, t_outputs - t_fold, t_states - t_outputs, loop.time() - t_states)
        sequence.advance(records)
        _observe_lag(records)

    reservations = ReservationBook(settings.reservation_grace_seconds * 1000)
    changelog_topic = settings.accounts_changelog_topic()

    def owner_url(account_id: str) -> str | None:
        partition = processor._partition(account_id)
        if TP(settings.events_topic, partition) in app.consumer.assignment():
            return None
        try:
            return str(app.assignor.key_store(changelog_topic, account_id.encode()))
        except Exception:  # no assignment yet (KeyError) or no producer metadata yet
            raise NotReady() from None

    # An authorization reads the same decoded states (decoding per request would cost
    # milliseconds). It runs on the HTTP thread: the dict operations it uses are atomic.
    load_state_for_authorization = load_state

    if settings.authorization_port:
        app.voiceledger_authorization = AuthorizationServer(  # type: ignore[attr-defined]
            settings.authorization_host, settings.authorization_port, reservations,
            settings.authorization_quota_seconds, load_state_for_authorization, lambda: processor.settings,
            owner_url, load_tokens(settings.api_tokens_file) if settings.api_tokens_file else None)
        if not settings.api_tokens_file:
            log.warning("authorization API on port %d has no api_tokens_file: open to anyone who can reach it",
                        settings.authorization_port)

    watch = ProgressWatch(COMMIT_STALL_SECONDS)  # streams/worker/progress_watch.py: delivery
    commit_watch = CommitWatch(COMMIT_STALL_SECONDS)  # the group's committed offset reaches what we processed
    # The same two checks for the numbering topic's one partition, when this worker owns it.
    numbering_watch = ProgressWatch(COMMIT_STALL_SECONDS)
    numbering_commit_watch = CommitWatch(COMMIT_STALL_SECONDS)
    watch_paused_since: dict[str, float] = {}
    start_positions: dict[int, int] = {}  # partition -> where it started, until a batch holds it
    last_lag_log: dict[int, float] = {}
    in_batch = [False]

    async def _numbering_stalled(now: float) -> list[tuple[str, str]]:
        tp = TP(settings.invoice_numbering_topic, 0)
        if tp not in app.consumer.assignment():
            return []
        end = (await app.consumer.highwaters(tp)).get(tp)
        committed = (await committed_offsets(settings, [0], topic=settings.invoice_numbering_topic)).get(0)
        processed = numbering_progress.next_offset
        position = processed if processed is not None else committed
        if position is None:
            position = (await beginning_offsets(settings, [0], topic=settings.invoice_numbering_topic)).get(0, 0)
        stalled = []
        if end is not None:
            reason = numbering_watch.observe(0, position, end, now)
            if reason is not None:
                stalled.append((tp.topic, reason))
        if processed is not None and committed is not None:
            reason = numbering_commit_watch.observe(0, committed, processed, now)
            if reason is not None:
                stalled.append((tp.topic, reason))
        return stalled

    async def _stalled_partitions(now: float) -> list[tuple[int | str, str]]:
        """Partitions that cannot make progress, with why. Two checks, both against the broker:

        - delivery: records wait after this worker's position and the position does not move;
        - commits: this worker has processed records after the group's committed offset, and that
          offset does not move (Faust holds acked offsets it will not commit).
        """
        stalled: list[tuple[int | str, str]] = await _numbering_stalled(now)
        tps = [tp for tp in app.consumer.assignment() if tp.topic == settings.events_topic]
        if not tps:
            return stalled
        partitions = [tp.partition for tp in tps]
        ends = await app.consumer.highwaters(*tps)
        committed = await committed_offsets(settings, partitions)
        if watch_paused_since.pop("show", None):
            log.info("progress watchdog: partition: (processed, committed, log end) %s",
                     {tp.partition: (sequence.expected.get(tp.partition), committed.get(tp.partition), ends.get(tp))
                      for tp in tps})
        for tp in tps:
            p = tp.partition
            processed = sequence.expected.get(p)  # the record after the last one applied
            start = committed.get(p)
            if start is None and processed is None and p not in start_positions:
                start_positions.update(await beginning_offsets(settings, [p]))  # a new group: earliest
            position = processed if processed is not None else (start if start is not None else start_positions.get(p))
            end = ends.get(tp)
            if position is not None and end is not None:
                reason = watch.observe(p, position, end, now)
                if reason is not None:
                    stalled.append((p, reason))
                elif position < end and now - last_lag_log.get(p, 0.0) >= 30:
                    last_lag_log[p] = now
                    log.info("partition %d: position %d, log end %d, committed %s", p, position, end, start)
            if processed is not None and start is not None:
                reason = commit_watch.observe(p, start, processed, now)
                if reason is not None:
                    stalled.append((p, reason))
        return stalled

    loop_alive = [time.monotonic()]  # stamped by the watchdog: /healthz (streams/http/ops.py)

    def health() -> tuple[bool, str]:
        age = time.monotonic() - loop_alive[0]
        return (True, "event loop alive") if age < STALE_S else (False, f"event loop silent for {age:.0f} s")

    def ready() -> tuple[bool, str]:
        if getattr(app, "in_recovery", False) or app.rebalancing:
            return False, "rebalancing or recovering tables"
        if not any(tp.topic == settings.events_topic for tp in app.consumer.assignment()):
            return False, "no partition assigned yet"
        return True, "partitions assigned, tables recovered"

    app.voiceledger_health = health  # type: ignore[attr-defined]
    app.voiceledger_ready = ready  # type: ignore[attr-defined]

    @app.timer(interval=COMMIT_WATCHDOG_SECONDS)
    async def commit_watchdog() -> None:
        """Exit 75 if a partition cannot make progress for ``COMMIT_STALL_SECONDS``."""
        now = time.monotonic()
        loop_alive[0] = now
        recovering = bool(getattr(app, "in_recovery", False))
        if now - watch_paused_since.get("logged", 0.0) >= 60:  # what the watch sees, once a minute
            watch_paused_since["logged"] = now
            watch_paused_since["show"] = 1.0
            log.info("progress watchdog: in_batch=%s in_recovery=%s rebalancing=%s assigned=%d", in_batch[0],
                     recovering, app.rebalancing, len(app.consumer.assignment()))
        if in_batch[0]:  # a batch may legitimately take long (ClickHouse retries)
            return
        if recovering or app.rebalancing:
            # Recovery pauses every partition on purpose, so its time does not count, up to a
            # limit: a flag stuck after a rebalance that never completed must not blind the watch.
            since = watch_paused_since.setdefault("paused", now)
            if now - since < PAUSE_MAX_SECONDS:
                for w in (watch, commit_watch, numbering_watch, numbering_commit_watch):
                    w.restart_clocks()
                return
            log.warning("progress watchdog: %s for %.0f s; checking progress anyway",
                        "in recovery" if recovering else "rebalancing", now - since)
        else:
            watch_paused_since.pop("paused", None)
        try:
            stalled = await asyncio.wait_for(_stalled_partitions(now), timeout=COMMIT_STALL_SECONDS)
        except Exception as exc:  # the broker may be briefly unreachable; the next tick retries
            log.warning("progress watchdog could not read offsets: %r", exc)
            return
        for partition, reason in stalled:
            log.critical("partition %s stalled: %s; exiting so the restart replays from the committed "
                         "offset", partition, reason)
        if stalled:
            logging.shutdown()
            os._exit(EXIT_BATCH_FAILED)

    @app.on_partitions_revoked.connect
    async def forget_revoked(app_: faust.App, revoked: set, **_: object) -> None:  # noqa: ANN001
        # Another worker may process these meanwhile; if they come back, they start afresh
        # at the group's committed offset.
        if any(tp.topic == settings.invoice_numbering_topic for tp in revoked):
            numbering_watch.forget({0})
            numbering_commit_watch.forget({0})
        gone = {tp.partition for tp in revoked if tp.topic == settings.events_topic}
        sequence.forget(gone)
        watch.forget(gone)
        commit_watch.forget(gone)
        for p in gone:
            start_positions.pop(p, None)

    @app.on_before_shutdown.connect
    async def close_clickhouse(app_: faust.App, **_: object) -> None:
        await rate_feed.stop()

        def close() -> None:
            ch = ch_holder.pop("ch", None)
            if ch is not None:
                ch.close()

        await asyncio.get_running_loop().run_in_executor(executor, close)
        executor.shutdown(wait=True)

    app.voiceledger_accounts = accounts  # type: ignore[attr-defined]
    return app
