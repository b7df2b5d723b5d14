"""The worker's wiring: the Faust app, its topics and tables, and the objects that do the work.

Nothing here decides anything. The events agent hands each batch to ``FoldStage``
(``streams/worker/fold_stage.py``), the numbering agent to ``NumberingStage``
(``streams/worker/numbering.py``); both write through ``BatchCommit``
(``streams/worker/commit.py``), whose order makes the effect exactly-once, and end the process
when a batch cannot complete (``streams/worker/exits.py``). The ``Watchdog`` ends it when a
partition stops moving. ``create_app`` returns a ``Worker`` holding what the process runner
needs; nothing is hung on the Faust app.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import faust
from faust.types import TP

from projections import compiled
from projections.account import tick_quiet_until
from schemas import avro_fast
from streams.clickhouse.client import ClickHouse
from streams.clickhouse.writer import ClickHouseWriter
from streams.worker.fold_settings import fold_settings_from
from streams.config.settings import Settings
from streams.config.settings_epochs import Epochs
from streams.edge.sealing import opener_for
from streams.authorization.process import AuthorizationProcess
from streams.config.tokens import load_tokens
from streams.kafka.codec import codec_for
from streams.kafka.security import client_kwargs, faust_credentials
from streams.kafka.topics import CHANGELOG_CONFIGS, RECORD_BYTES_MAX
from streams.observe import metrics
from streams.runtime import memory
from streams.worker import faust_patches, restore
from streams.worker.commit import BatchCommit
from streams.worker.exits import exit_for_replay, run_batches
from streams.worker.fold_stage import FoldStage
from streams.worker.in_order import InOrderGuard
from streams.worker.numbering import NUMBERING_BATCH_MAX, NUMBERING_TABLE, NumberingStage
from streams.worker.opening import OpeningProcess
from streams.worker.processor import BatchProcessor
from streams.worker.rate_feed import RateFeed
from streams.worker.state_cache import AccountStates
from streams.worker.table_acks import ChangelogStore
from streams.worker.faust_topics import TopicSender, output_topics, raw_topic
from streams.worker.watchdog import WATCHDOG_INTERVAL_SECONDS, Watchdog

log = logging.getLogger("voiceledger.worker")

ACCOUNTS_TABLE = "accounts"


@dataclass
class Worker:
    """What a worker process runs: the Faust app, and what its HTTP endpoints answer from."""

    app: faust.App
    accounts: Any  # the accounts table (account id -> encoded AccountState)
    health: Callable[[], tuple[bool, str]]
    ready: Callable[[], tuple[bool, str]]
    authorization: AuthorizationProcess | None
    opening: OpeningProcess | None = None  # opens sealed CDRs beside the fold (open_sealed_beside_fold)


def faust_app(settings: Settings) -> faust.App:
    faust_patches.apply()  # Faust's commit bookkeeping with repeated offsets (streams/worker/faust_patches.py)
    # Faust makes its own directory, not its parents: data_dir must exist (a fresh volume may not).
    Path(settings.data_dir).mkdir(mode=0o750, parents=True, exist_ok=True)
    return faust.App(
        settings.app_id,
        broker=settings.broker_url(),
        store="memory://",
        # Faust's own files (its data directory): under data_dir, never the working directory,
        # which may be a read-only install directory.
        datadir=f"{settings.data_dir}/faust-{{conf.name}}",
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
        # As the edge's producers (streams/kafka/producer.py): outputs and dead letters up to 8 MiB.
        producer_max_request_size=RECORD_BYTES_MAX,
        table_standby_replicas=0,
        web_enabled=False,
        # What the partition assignor tells other workers about this one: the authorization
        # endpoint, so a request for an account another worker owns is redirected there.
        canonical_url=f"http://{settings.authorization_host}:{settings.authorization_port or 6066}",
    )


def _tables(app: faust.App, settings: Settings) -> tuple[Any, Any]:
    # Keys are account ids as UTF-8 bytes; use_partitioner puts each state in the changelog
    # partition Kafka's default partitioner picks for that key, the same as the events topic,
    # which lets the agent write the table from inside take_events(). bytes types make Faust
    # use the "raw" codec for the changelog, both ways.
    assert f"{settings.app_id}-{ACCOUNTS_TABLE}-changelog" == settings.accounts_changelog_topic()
    assert f"{settings.app_id}-{NUMBERING_TABLE}-changelog" == settings.numbering_changelog_topic()
    # Records up to 8 MiB, in 64 MiB segments, where Faust makes the changelogs itself (streams/kafka/topics.py).
    # Restored in bulk when their partitions are assigned (streams/worker/restore.py).
    accounts = app.Table(ACCOUNTS_TABLE, default=None, partitions=settings.partitions, use_partitioner=True,
                         key_type=bytes, value_type=bytes, extra_topic_configs=CHANGELOG_CONFIGS,
                         store=restore.STORE_URL, options={"settings": settings})
    numbering = app.Table(NUMBERING_TABLE, default=None, partitions=1, use_partitioner=True, key_type=bytes,
                          value_type=bytes, extra_topic_configs=CHANGELOG_CONFIGS,
                          store=restore.STORE_URL, options={"settings": settings})
    return accounts, numbering


def _authorization(app: faust.App, settings: Settings, processor: BatchProcessor,
                   accounts: Any) -> AuthorizationProcess | None:
    """R10: the authorization endpoint, in its own process (streams/authorization/), told who
    owns which partition at every rebalance."""
    if not settings.authorization_port:
        return None
    if not settings.api_tokens_file:
        log.warning("authorization API on port %d has no api_tokens_file: open to anyone who can reach it",
                    settings.authorization_port)
    tokens = load_tokens(settings.api_tokens_file) if settings.api_tokens_file else None
    process = AuthorizationProcess(settings, processor.settings, tokens, accounts, lambda: not (
        getattr(app, "in_recovery", False) or app.rebalancing), exit_for_replay)
    changelog = settings.accounts_changelog_topic()

    @app.on_partitions_assigned.connect
    async def tell_assigned(app_: faust.App, assigned: set, **_: object) -> None:  # noqa: ANN001
        mine = {tp.partition for tp in app.consumer.assignment() if tp.topic == settings.events_topic}
        urls = {p: str(url) for url, topics in app.assignor.table_metadata(changelog).items()
                for p in topics.get(changelog, ())}
        process.assigned(mine, urls)

    @app.on_partitions_revoked.connect
    async def tell_revoked(app_: faust.App, revoked: set, **_: object) -> None:  # noqa: ANN001
        process.revoked({tp.partition for tp in revoked if tp.topic == settings.events_topic})

    return process


def _report_compiled_modules() -> None:
    """Which per-CDR modules run compiled (projections/compiled.py): a gauge, and one warning
    naming those that run from source (slower, not wrong)."""
    status = compiled.status_of_all()
    metrics.MODULES_COMPILABLE.set(len(status))
    metrics.MODULES_COMPILED.set(sum(status.values()))
    source = sorted(m for m, built in status.items() if not built)
    if source:
        log.warning("%d of %d per-CDR modules run from source, slower (not built at install, or changed since): %s",
                    len(source), len(compiled.MODULES), ", ".join(source))


def create_app(settings: Settings, clickhouse: ClickHouse | None = None, epochs: Epochs | None = None) -> Worker:
    """Build the worker. ``clickhouse`` is opened lazily, off the event loop, if not given;
    ``epochs`` (the settings topic as the start's guard read it) are read at the first batch if not."""
    app = faust_app(settings)
    security = client_kwargs(settings)
    codec = codec_for(settings)
    events = raw_topic(app, settings.events_topic, settings.partitions)
    sender = TopicSender(output_topics(app, settings))
    accounts, numbering_table = _tables(app, settings)
    writer = ClickHouseWriter(settings.clickhouse_url, clickhouse, settings.clickhouse_cluster)
    opening = OpeningProcess(settings.subscriber_keys_dir) if settings.open_sealed_beside_fold else None
    processor = BatchProcessor(codec, fold_settings_from(settings), settings.partitions, opener_for(settings),
                               settings.publish_feeds, opening)
    # Asked of each state once: the processor's settings as they are then (a published rate
    # card replaces them, and changes neither a policy nor R18's threshold).
    states = AccountStates(accounts, codec, lambda state: tick_quiet_until(state, processor.settings))
    authorization = _authorization(app, settings, processor, accounts)
    rate_feed = RateFeed(settings, codec)
    guard = InOrderGuard(settings, security, lambda p, start, end: faust_patches.mark_empty(
        app.consumer, TP(settings.events_topic, p), start, end))
    fold = FoldStage(settings, codec, processor, rate_feed, states,
                     BatchCommit(sender, writer, ChangelogStore(accounts)), guard, authorization,
                     lambda p: app.consumer.highwater(TP(settings.events_topic, p)), epochs)
    numbering = NumberingStage(settings, codec, numbering_table,
                               BatchCommit(sender, writer, ChangelogStore(numbering_table)), security,
                               lambda start, end: faust_patches.mark_empty(
                                   app.consumer, TP(settings.invoice_numbering_topic, 0), start, end))
    watchdog = Watchdog(app, settings, guard, lambda: numbering.next_offset, lambda: fold.busy_since)
    metrics.AVRO_KERNEL_COMPILED.set(int(avro_fast.COMPILED))
    if not avro_fast.COMPILED:  # a slower worker, not a wrong one: say so once
        log.warning("the compiled Avro kernel is not built (no C compiler at install): fastavro reads and writes, slower")
    _report_compiled_modules()

    @app.task
    async def start_up() -> None:
        # Connect and migrate, and read the rate book, before the first batch: a slow first
        # batch after recovery makes Faust drop more fetched records (streams/worker/sequence.py).
        await asyncio.gather(writer.open(), rate_feed.catch_up())

    @app.agent(events, name="fold-events")
    async def fold_events(stream):  # noqa: ANN001 - Faust's stream type
        await run_batches(stream.take_events(settings.batch_messages_max, within=settings.batch_wait_seconds),
                          fold.process_batch, "batch")

    @app.agent(raw_topic(app, settings.invoice_numbering_topic, 1), name="number-invoices")
    async def number_invoices(stream):  # noqa: ANN001 - Faust's stream type
        await run_batches(stream.take_events(NUMBERING_BATCH_MAX, within=settings.batch_wait_seconds),
                          numbering.process, "numbering batch")

    @app.timer(interval=WATCHDOG_INTERVAL_SECONDS)
    async def watch_progress() -> None:
        await watchdog.tick()
        if fold.busy_since is None:  # an idle worker's library cycles are collected too (memory.py)
            memory.collect_if_grown()

    @app.on_partitions_revoked.connect
    async def forget_revoked(app_: faust.App, revoked: set, **_: object) -> None:  # noqa: ANN001
        # Another worker may process these meanwhile; if they come back, they start afresh at
        # the group's committed offset.
        guard.forget({tp.partition for tp in revoked if tp.topic == settings.events_topic})
        watchdog.forget(revoked)
        numbering.forget(revoked)

    @app.on_before_shutdown.connect
    async def close(app_: faust.App, **_: object) -> None:  # noqa: ANN001
        await rate_feed.stop()
        await writer.close()

    return Worker(app, accounts, watchdog.health, watchdog.ready, authorization, opening)
