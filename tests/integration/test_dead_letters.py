"""Dead letters re-driven (``voiceledger dead-letters``), on the real broker with a real worker:
a call for an account not opened yet is dead-lettered (counted, not billed); once the account is
opened, ``redrive`` sends it again and it is billed, once: a second re-drive is a duplicate
(R9), and a record the edge refused is listed but not re-driven."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from projections.events import AccountOpened, CallDetailRecord, Disposition, PaymentReceived
from streams.clickhouse.client import connect
from streams.edge.cdr import CdrRejected
from streams.edge.cdr_sink import CdrSink
from streams.edge.publish import produce_events
from streams.worker.supervise import worker_env
from tests.integration.helpers import log_events, run_worker_to_end

T_OPEN_MS = 1_790_726_400_000  # 2026-09-30T00:00:00Z
T_CALL_MS = T_OPEN_MS + 86_400_000


@pytest.fixture
def clickhouse_url(tmp_path):
    return f"chdb://{tmp_path / 'chdb'}"


def cli(settings, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001 - Settings
    return subprocess.run([sys.executable, "-m", "streams.cli", "dead-letters", *args], env=worker_env(settings),
                          capture_output=True, text=True, timeout=120)


def opened(account_id: str) -> list:
    return [AccountOpened(f"open-{account_id}", account_id, T_OPEN_MS, "USD", "basic", "postpaid", ("15550000009",)),
            PaymentReceived(f"pay-{account_id}", account_id, T_OPEN_MS + 1_000, 50_000_000, "USD")]


async def refused_at_the_edge(settings) -> None:  # noqa: ANN001 - Settings
    sink = CdrSink(settings)
    await sink.start()
    try:
        await sink.reject("file:Master.csv", 7, "not,a,cdr", CdrRejected("bad_row", "3 columns"))
        await sink._send(settings.dead_letter_topic, b"x", b"\x00garbage, not a dead letter")  # anyone may write it
        await sink.flush()
    finally:
        await sink.stop()


def billed(settings) -> list[tuple]:  # noqa: ANN001 - Settings
    ch = connect(settings.clickhouse_url)
    try:
        return ch.query("SELECT call_key, account_id, charge_micros FROM call_log FINAL ORDER BY call_key")
    finally:
        ch.close()


def test_R9_a_call_dead_lettered_for_an_account_not_yet_opened_is_redriven_and_billed_once(settings, tmp_path):
    call = CallDetailRecord("fs-1/late-1", "fs-1", "late-1", "acct-late", "+15550000009", "+12125550100", T_CALL_MS,
                            T_CALL_MS + 1_000, T_CALL_MS + 61_000, Disposition.ANSWERED)
    other = CallDetailRecord("fs-1/else-1", "fs-1", "else-1", "acct-else", "+15550000008", "+12125550100", T_CALL_MS,
                             T_CALL_MS + 1_000, T_CALL_MS + 61_000, Disposition.ANSWERED)
    asyncio.run(produce_events(settings, [call, other]))  # before their accounts: unknown_account
    asyncio.run(refused_at_the_edge(settings))
    log = tmp_path / "worker.log"
    assert run_worker_to_end(settings, log_events(settings)[1], log) == 0
    assert billed(settings) == []
    listed = cli(settings, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    letters = sorted((x["reason_code"], x["redrivable"]) for x in map(json.loads, listed.stdout.splitlines()))
    assert letters == [("bad_row", False), ("not_a_dead_letter", False), ("unknown_account", True),
                       ("unknown_account", True)]
    assert "+1555" not in listed.stdout and "not,a,cdr" not in listed.stdout, "reasons only, never contents"

    asyncio.run(produce_events(settings, opened("acct-late")))
    for attempt in range(2):  # the second re-drive: a duplicate, billed nothing more
        sent = cli(settings, "redrive", "--reason", "unknown_account", "--account", "acct-late")
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout) == {"reason_code": "unknown_account", "letters": 1, "redrivable": 1,
                                           "not_redrivable": 0, "events_sent": 1, "dry_run": False}
        assert run_worker_to_end(settings, log_events(settings)[1], log) == 0
        assert billed(settings) == [("fs-1/late-1", "acct-late", 10_000)], attempt  # 1 min at 0.01, once; acct-else still unopened
    edge = cli(settings, "redrive", "--reason", "bad_row", "--dry-run")
    assert edge.returncode == 1 and json.loads(edge.stdout)["not_redrivable"] == 1  # ingest sends it again
    assert cli(settings, "redrive", "--reason", "unknown_account", "--limit", "0").returncode == 2


def test_a_listing_ends_while_letters_keep_coming_and_stops_at_its_limit(settings):
    """An operator lists while a storm goes on being dead-lettered: the listing reads up to where
    the topic ended when it began (it never waits for a quiet topic), keeps only the letters it
    chose, and stops reading once it has ``limit`` of them."""
    from streams.ledger.dead_letters import read_letters

    asyncio.run(refused_at_the_edge(settings))

    async def during_a_storm() -> tuple[list, list, float]:
        sink, stop = CdrSink(settings), asyncio.Event()
        await sink.start()

        async def storm() -> None:
            line = 0
            while not stop.is_set():
                line += 1
                await (await sink.reject("http:storm", line, "junk", CdrRejected("bad_row", "storm")))
                await asyncio.sleep(0.005)

        task = asyncio.create_task(storm())
        try:
            await asyncio.sleep(1.0)
            started = asyncio.get_running_loop().time()
            chosen = await read_letters(settings, "not_a_dead_letter")
            first = await read_letters(settings, "bad_row", limit=3)
            return chosen, first, asyncio.get_running_loop().time() - started
        finally:
            stop.set()
            await task
            await sink.stop()

    chosen, first, took = asyncio.run(during_a_storm())
    assert [x.reason_code for x in chosen] == ["not_a_dead_letter"]
    assert len(first) == 3 and {x.reason_code for x in first} == {"bad_row"}
    assert took < 30, took  # reading until the topic is quiet never ended: it timed out
