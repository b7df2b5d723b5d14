"""Published rate cards end to end (R5), on the real broker with real workers.

``voiceledger rates import`` publishes a deck while a worker runs. Calls that start before the
card was published keep the old price; calls that start after it get the new one, and carry
the new card id. A garbage record on the rates topic is dead-lettered, not fatal. A rebuild
(a fresh consumer group from offset 0, cards read first) reaches exactly the live state.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from projections.events import AccountOpened, CallDetailRecord, Disposition, PaymentReceived
from schemas.codec import EventCodec
from streams.worker.supervise import stop_worker, wait_until_committed, worker_env
from streams.kafka.topics import ensure_topics
from streams.edge.publish import produce_events
from streams.kafka.producer import produce_raw
from streams.kafka.reader import read_topic
from projections.rating import DestinationRate, RateCard
from streams.worker.rate_feed import RateFeed, publish_card, read_rate_book

from tests.integration.helpers import (
    live_states,
    merge_offsets,
    oracle,
    run_worker_to_end,
    start_worker_caught_up,
    state_differences,
    without_positions,
)


@pytest.fixture
def clickhouse_url(tmp_path):
    return f"chdb://{tmp_path / 'chdb'}"


def call(n: int, start_ms: int, callee: str, seconds: int) -> CallDetailRecord:
    return CallDetailRecord(f"e-{n}", "carrier-a", f"call-{n}", "acct-rc", "15550001000", callee, start_ms,
                            start_ms + 1_000, start_ms + 1_000 + seconds * 1_000, Disposition.ANSWERED)


def test_R5_a_card_published_while_the_worker_runs_prices_only_calls_that_start_after_it(settings, tmp_path):
    # No skew allowed, so the lead may be 0 and the card applies from its publication on.
    settings = replace(settings, max_clock_skew_seconds=0, rate_card_lead_seconds=0)
    asyncio.run(ensure_topics(settings))
    now = int(time.time() * 1000)
    before = [AccountOpened("open-rc", "acct-rc", now - 3_600_000, "USD", "basic", "prepaid", ("15550001000",)),
              PaymentReceived("pay-rc", "acct-rc", now - 3_500_000, 10_000_000, "USD"),
              call(1, now - 600_000, "+442071234567", 61),  # standard: 0.02/min, 60/60 -> 120 s = 0.04
              call(2, now - 500_000, "+12125550100", 30)]   # standard: 0.01/min -> 60 s = 0.01
    offsets = asyncio.run(produce_events(settings, before))
    log = tmp_path / "worker.log"
    worker = start_worker_caught_up(settings, offsets, log)
    try:

        deck = tmp_path / "promo.csv"
        deck.write_text("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s\n"
                        "44,United Kingdom,0.006,0,1,1\n1,US/Canada,0.003,0,6,6\n")
        run = subprocess.run([sys.executable, "-m", "streams.cli", "rates", "import", str(deck), "--currency", "USD",
                              "--valid-from", "2020-01-01", "--card-id", "promo-usd"],
                             env=worker_env(settings), capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout)
        assert summary["published"] and summary["parts"] == 1 and summary["destinations"] == 2
        asyncio.run(produce_raw(settings, settings.rates_topic, [(0, b"junk", b"\x00\x00\x00\x03\xe7not avro")]))
        time.sleep(1.5)  # the next calls start after the card's log time
        after_ms = int(time.time() * 1000) - 500
        after = [call(3, after_ms, "+442071234567", 61),  # promo: 0.006/min, 1/1 -> 61 s = 0.0061
                 call(4, after_ms + 1, "+12125550100", 30)]  # promo: 0.003/min, 6/6 -> 30 s = 0.0015
        offsets = merge_offsets(offsets, asyncio.run(produce_events(settings, after)))
        worker = wait_until_committed(settings, worker, 120, offsets, show_progress=False, log_path=log)
    finally:
        assert stop_worker(worker) == 0, log.read_text()[-3000:]

    codec = EventCodec()
    rated = {r.call_key: r for m in asyncio.run(read_topic(settings.broker, settings.calls_rated_topic))
             for r in codec.decode_call_rated_message(m.value)}
    assert {k: (r.rate_card_id, r.billed_s, r.charge_micros) for k, r in rated.items()} == {
        "carrier-a/call-1": ("standard-usd@2020-01-01", 120, 40_000),
        "carrier-a/call-2": ("standard-usd@2020-01-01", 60, 10_000),
        "carrier-a/call-3": ("promo-usd", 61, 6_100),
        "carrier-a/call-4": ("promo-usd", 30, 1_500),
    }
    live = live_states(settings)
    assert live["acct-rc"].balance_micros == 10_000_000 - 40_000 - 10_000 - 6_100 - 1_500
    cards = asyncio.run(read_rate_book(settings))
    assert [c.card_id for c in cards] == ["promo-usd"]
    assert not state_differences(live, oracle(settings, before + after, cards))

    dead = [codec.decode_dead_letter(m.value) for m in asyncio.run(read_topic(settings.broker, settings.dead_letter_topic))]
    assert [(d["source_topic"], d["reason_code"]) for d in dead] == [(settings.rates_topic, "unknown_schema_id")]

    # A rebuild reads every card before its first batch, yet rates the early calls as live did.
    rebuild = replace(settings, app_id=settings.app_id + "-rebuild", metrics_port=0,
                      clickhouse_url=f"chdb://{tmp_path / 'chdb-rebuild'}")
    assert run_worker_to_end(rebuild, offsets, tmp_path / "rebuild.log") == 0
    assert without_positions(asyncio.run(_states(rebuild))) == without_positions(live)


async def _states(settings):
    from streams.kafka.reader import read_account_states

    return await read_account_states(settings)


def test_R5_a_feed_paused_between_looks_still_reads_every_card_logged_since(settings):
    """The feed's consumer is paused between looks (a fetch waiting at the broker held up each
    look's ListOffsets by 500 ms); each look still reads every card logged since the last."""
    def card(n: int) -> RateCard:
        return RateCard(f"feed-{n}", "USD", 1_700_000_000_000 + n,
                        {"44": DestinationRate("44", "United Kingdom", 20_000 + n, 0, 60, 1)})

    async def run() -> None:
        await ensure_topics(settings)
        feed = RateFeed(settings)
        try:
            await feed.catch_up()
            assert feed.book.effective_cards() == () and feed.paused()
            for n in range(1, 4):
                await publish_card(settings, card(n), event_id=f"pub-{n}", published_at_ms=1_700_000_000_000 + n)
                await feed.catch_up()
                assert [c.card_id for c in feed.book.effective_cards()] == [f"feed-{m}" for m in range(1, n + 1)]
                assert feed.paused(), "not paused after a look that read records"
        finally:
            await feed.stop()
    asyncio.run(run())
