"""Legal invoice numbers under SIGKILL (issue 6): the real worker is killed at random points while
it folds calls, ticks and two months' closes and numbers the invoices. Afterwards every invoice
has exactly one legal number (no invoice ever got two, even on the at-least-once topic), the
numbers are gapless per issuer and year over all partitions, and a clean rebuild from the log
gives every invoice the same number byte for byte (R13; late calls are invoiced at the second
close as prior-period usage). The stage's state is split into records of 20 drafts here, so the
kills also land in writes of a state of many records (streams/worker/numbering_store.py)."""

from __future__ import annotations

import asyncio
import random
import signal
import uuid
from dataclasses import replace


from schemas.codec import EventCodec
from streams.worker.exits import EXIT_BATCH_FAILED
from streams.kafka.invoice_feed import gaps_by_issuer_year, read_invoice_numbers, read_invoices
from streams.kafka.admin import committed_lag
from streams.kafka.producer import plan_messages, produce_raw, publish_tick
from streams.kafka.reader import read_topic
from streams.ledger.selfcheck import rebuild
from streams.dev.simulate import START_MS, SimulationSpec, simulate

from tests.integration.helpers import ON_THE_SERVER, at_the_edge, kill_mid_stream, merge_offsets, run_worker_to_end

H = 3_600_000
NOV_1 = 1_793_491_200_000  # 2026-11-01T00:00:00Z: closes October (R13)
DEC_1 = NOV_1 + 30 * 86_400_000  # closes November: the late October calls of the chunks after NOV_1
# One tick after each chunk; the last one comes after every draft, so all get their numbers.
TICKS = (START_MS + 26 * H, NOV_1, NOV_1 + H, DEC_1, DEC_1 + H)


pytestmark = ON_THE_SERVER


def test_numbers_stay_one_per_invoice_gapless_and_rebuild_identically_when_the_worker_is_killed(
        settings, clickhouse_server, tmp_path):
    # Small batches: the work of each round is spread over many batches and commits.
    settings = replace(settings, batch_messages_max=20, batch_wait_seconds=0.05, commit_interval_seconds=0.2,
                       numbering_record_drafts=20)
    codec = EventCodec()
    events = simulate(SimulationSpec(accounts=300, calls=6_000, days=2, seed=31))
    messages = list(plan_messages(at_the_edge(settings, events), codec, settings.partitions, envelope_max=10))
    size = -(-len(messages) // len(TICKS))
    chunks = [messages[i * size:(i + 1) * size] for i in range(len(TICKS))]
    rng = random.Random(20261201)
    offsets: dict[int, int] = {}
    exits, landed = [], 0
    for round_no, (chunk, tick_ms) in enumerate(zip(chunks, TICKS)):
        offsets = merge_offsets(offsets, asyncio.run(produce_raw(settings, settings.events_topic, chunk)))
        offsets = merge_offsets(offsets, asyncio.run(publish_tick(settings, tick_ms)))
        lag_before = asyncio.run(committed_lag(settings, offsets))
        kill_at_lag = int(lag_before * rng.uniform(0.0, 0.6))
        # The extra wait sometimes lands the kill in the numbering of the epoch just closed.
        seen, hit = kill_mid_stream(settings, offsets, kill_at_lag, tmp_path / f"worker-{round_no}.log",
                                    then_wait_s=rng.uniform(0.0, 0.8))
        exits += seen
        landed += hit
    assert run_worker_to_end(settings, offsets, tmp_path / "worker-final.log", timeout_s=300) == 0
    print("exit codes:", exits)
    assert set(exits) <= {-signal.SIGKILL, EXIT_BATCH_FAILED} and landed >= 3, exits

    invoices = {i.invoice_number: i for i in read_invoices(settings)}
    assert {i.period for i in invoices.values()} == {"2026-10", "2026-11"}  # two closes
    # At-least-once topic: a record may repeat, but an invoice never has two different numbers.
    values: dict[str, set[bytes]] = {}
    for record in asyncio.run(read_topic(settings.broker, settings.invoice_numbers_topic)):
        values.setdefault(codec.decode_event(record.value).reference, set()).add(record.value)
    assert all(len(v) == 1 for v in values.values()), {r: len(v) for r, v in values.items() if len(v) > 1}
    numbers = read_invoice_numbers(settings)
    assert set(numbers) == set(invoices)  # every draft came before the last tick: all numbered
    assert gaps_by_issuer_year(numbers) == {}
    assert {n.epoch_ms for n in numbers.values()} == {NOV_1, DEC_1}  # numbered in two epochs

    # The state was split while drafts waited, and no draft record is left once all are numbered.
    last: dict[bytes, bytes | None] = {}
    for record in asyncio.run(read_topic(settings.broker, settings.numbering_changelog_topic())):
        last[record.key] = record.value
    drafts = {k: v for k, v in last.items() if k.startswith(b"drafts/")}
    assert drafts and all(v is None for v in drafts.values()), sorted(k for k, v in drafts.items() if v is not None)

    # A clean fold of the same log, with its own numbering stage, gives the same numbers.
    rebuilt_url = f"clickhouse://default@127.0.0.1:{clickhouse_server.tcp_port}/numrb_{uuid.uuid4().hex[:10]}"
    hashes = rebuild(settings, settings.app_id + "-rebuild", rebuilt_url, tmp_path / "rebuild.log")
    assert hashes["live_invoices"] == hashes["rebuilt_invoices"]
    assert hashes["live_numbers"] == hashes["rebuilt_numbers"] and hashes["live_numbers"].startswith(f"{len(numbers)}:")
