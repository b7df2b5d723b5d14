"""Erasure in the Kafka log by crypto-shredding (R31, R32, R35; issue 7), end to end on the real
broker and both ClickHouse engines.

The edge seals every number with the subscriber's key; the worker opens them for the call log
only. After ``voiceledger subscriber erase`` no number of the subscriber can be found anywhere:
not in any record of any topic of the deployment (events, changelogs, outputs, dead letters),
not in ClickHouse (call log, analysts' copy, views), and the sealed copies on the log no longer
open. Yet reconciliation still balances, and a rebuild from the log gives the same state,
journal and call log (the anonymised rows included) as the live system."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from aiokafka import AIOKafkaConsumer

from projections.events import AccountOpened, CallDetailRecord, Disposition, is_sealed
from projections.periods import period_start_ms
from schemas.codec import EventCodec
from streams.clickhouse.migrations import analytics_database
from streams.clickhouse.client import connect
from streams.worker.supervise import worker_env
from streams.edge.publish import produce_events
from streams.kafka.producer import publish_tick
from streams.kafka.reader import read_topic
from streams.kafka.partitioning import partition_for
from streams.edge.sealing import Opener, SubscriberKeys
from streams.dev.simulate import SimulationSpec, simulate

from tests.integration.helpers import merge_offsets, run_worker_to_end


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=worker_env(settings),
                          capture_output=True, text=True, timeout=600)


async def _topics(bootstrap: str, prefix: str) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return sorted(t for t in await consumer.topics() if t.startswith(prefix))
    finally:
        await consumer.stop()


def every_record(bootstrap: str, app_id: str) -> dict[str, list]:
    """Every record of every topic a deployment (its app id) wrote, changelogs included."""
    return {t: asyncio.run(read_topic(bootstrap, t)) for t in asyncio.run(_topics(bootstrap, app_id))}


def found_in_log(records: dict[str, list], numbers: set[str]) -> list[str]:
    return [f"{topic}: {n}" for topic, rs in records.items() for r in rs for n in numbers
            if n.encode() in (r.value or b"") or n.encode() in (r.key or b"")]


def found_in_clickhouse(url: str, numbers: set[str]) -> list[str]:
    ch = connect(url)
    try:
        hits = []
        for db in (ch.database, analytics_database(ch)):
            for (table,) in ch.query(f"SHOW TABLES FROM `{db}`"):
                text = repr(ch.query(f"SELECT * FROM `{db}`.`{table}`"))
                hits += [f"{db}.{table}: {n}" for n in numbers if n in text]
        return hits
    finally:
        ch.close()


def test_R31_R32_R35_after_erasure_no_number_is_left_in_the_log_or_clickhouse_and_the_books_still_balance(
        settings, tmp_path):
    events = simulate(SimulationSpec(accounts=24, calls=500, days=2, seed=11))
    opened = {e.account_id: e for e in events if isinstance(e, AccountOpened)}
    answered = {}
    for e in events:
        if isinstance(e, CallDetailRecord) and e.disposition is Disposition.ANSWERED:
            answered.setdefault(e.account_id, []).append(e)
    victim = max(sorted(answered), key=lambda a: len(answered[a]))
    other = next(a for a in sorted(answered) if a != victim)

    def numbers_of(account: str) -> set[str]:
        calls = [e for e in events if isinstance(e, CallDetailRecord) and e.account_id == account]
        return {*opened[account].numbers, *(c.caller for c in calls), *(c.callee for c in calls)} - {""}

    mine, theirs = numbers_of(victim), numbers_of(other)
    assert len(mine) >= 4 and all(len(n) >= 10 for n in mine)

    offsets = asyncio.run(produce_events(settings, events, envelope_max=20))
    offsets = merge_offsets(offsets, asyncio.run(publish_tick(settings, period_start_ms("2026-11", "UTC"))))
    assert run_worker_to_end(settings, offsets, tmp_path / "live.log") == 0

    # Before: the log holds the numbers only sealed, and they open with the subscriber's key;
    # ClickHouse holds them in clear for the billing clerk (the scans below do look where they are).
    before = every_record(settings.broker, settings.app_id)
    assert {settings.events_topic, settings.accounts_changelog_topic(), settings.account_status_topic,
            settings.calls_rated_topic, settings.invoices_topic} <= set(before), sorted(before)
    assert found_in_log(before, mine | theirs) == []
    codec = EventCodec()
    logged = [e for r in before[settings.events_topic] for e in codec.decode(r.value)]
    victim_calls = [e for e in logged if isinstance(e, CallDetailRecord) and e.account_id == victim]
    assert victim_calls and all(is_sealed(c.caller) and is_sealed(c.callee) for c in victim_calls)
    opener = Opener(SubscriberKeys(settings.subscriber_keys_dir))
    assert {opener.open(victim, c.callee) for c in victim_calls} <= mine
    assert set(found_in_clickhouse(settings.clickhouse_url, mine))

    er = cli(settings, "subscriber", "erase", victim, "--yes", "--ref", "dsar-7")
    assert er.returncode == 0, er.stdout + er.stderr
    said = json.loads(er.stdout)
    assert said["subscriber_key_deleted"] is True
    assert said["call_log_rows_anonymised"] == len({c.call_key for c in victim_calls})  # re-sent: one row
    offsets[partition_for(victim, settings.partitions)] += 1
    assert run_worker_to_end(settings, offsets, tmp_path / "after.log") == 0

    # After: nowhere in the log, not even sealed-and-openable; nowhere in ClickHouse.
    after = every_record(settings.broker, settings.app_id)
    assert found_in_log(after, mine) == []
    assert found_in_clickhouse(settings.clickhouse_url, mine) == []
    fresh = Opener(SubscriberKeys(settings.subscriber_keys_dir))
    assert {fresh.open(victim, c.callee) for c in victim_calls} == {None}
    assert {fresh.open(victim, n) for n in opened_numbers(codec, after, settings, victim)} == {None}
    # Only the subscriber is erased: another's numbers still open, and are in the call log.
    other_call = next(e for e in logged if isinstance(e, CallDetailRecord) and e.account_id == other)
    assert fresh.open(other, other_call.callee) in theirs
    assert set(found_in_clickhouse(settings.clickhouse_url, theirs))

    # Amounts stay: the month still reconciles (journal, call log, invoices, trial balance).
    for month in ("2026-10", "2026-11"):
        rec = cli(settings, "reconcile", "--month", month)
        assert rec.returncode == 0 and f"reconciliation of {month}: OK" in rec.stdout, rec.stdout + rec.stderr

    a_rebuild_without_the_key_equals_live(settings, tmp_path, mine)


def a_rebuild_without_the_key_equals_live(settings, tmp_path, mine: set[str]) -> None:  # noqa: ANN001
    """A rebuild from the log, without the subscriber's key, gives the live books and call log,
    and writes none of the erased numbers anywhere."""
    rebuilt_url = (f"chdb://{tmp_path / 'rebuilt'}" if settings.clickhouse_url.startswith("chdb")
                   else settings.clickhouse_url.rsplit("/", 1)[0] + f"/rebuilt_{uuid.uuid4().hex[:10]}")
    rb = cli(settings, "rebuild", "--app-id", settings.app_id + "-rebuild", "--clickhouse-url", rebuilt_url,
             "--log", str(tmp_path / "rebuild.log"))
    assert rb.returncode == 0, rb.stdout + rb.stderr
    hashes = dict(line.split("\t") for line in rb.stdout.splitlines() if "\t" in line)
    for part in ("state", "journal", "call_log", "invoices"):
        assert hashes[f"live_{part}"] == hashes[f"rebuilt_{part}"], part
    assert found_in_clickhouse(rebuilt_url, mine) == []
    assert found_in_log(every_record(settings.broker, settings.app_id + "-rebuild"), mine) == []



def opened_numbers(codec: EventCodec, records: dict[str, list], settings, account: str) -> list[str]:
    """The subscriber's own numbers as the log holds them (sealed, in ``AccountOpened``)."""
    return [n for r in records[settings.events_topic] for e in codec.decode(r.value)
            if isinstance(e, AccountOpened) and e.account_id == account for n in e.numbers]


def test_R30_R31_after_retention_apply_a_five_year_old_cdr_in_the_log_no_longer_opens(settings):
    """``retention apply`` destroys the key months it drops from ClickHouse: on the real broker, a
    sealed CDR of five years and a month ago stays sealed for good, one of four years ago still
    opens, and the charges of both stay: folding the log again gives the same balances."""
    from dataclasses import replace

    from streams.worker.fold_settings import fold_settings_from
    from streams.worker.processor import BatchProcessor, InMessage
    from tests.integration.helpers import oracle, without_positions

    acct, start = "acct-old", 1_630_454_400_000  # 2021-09-01T00:00:00Z
    old_call = CallDetailRecord("e-old", "carrier-a", "old", acct, "15550001", "442071234567", start + 9 * 86_400_000,
                                start + 9 * 86_400_000 + 1_000, start + 9 * 86_400_000 + 91_000, Disposition.ANSWERED)
    new_call = replace(old_call, event_id="e-new", call_id="new", callee="12125550199",
                       start_at_ms=old_call.start_at_ms + 430 * 86_400_000,  # 2022-11
                       answer_at_ms=old_call.answer_at_ms + 430 * 86_400_000,
                       end_at_ms=old_call.end_at_ms + 430 * 86_400_000)
    events = [AccountOpened("o-old", acct, start, "USD", "basic", "postpaid", ("15550001",)), old_call, new_call]
    asyncio.run(produce_events(settings, events))

    run = cli(settings, "retention", "apply", "--as-of", "2026-10-15")
    assert run.returncode == 0, run.stderr[-2000:]
    destroyed = json.loads(run.stdout)["key_months_destroyed"]
    assert "202109" in destroyed and "202211" not in destroyed

    records = asyncio.run(read_topic(settings.broker, settings.events_topic))
    codec = EventCodec()
    logged = [e for r in sorted(records, key=lambda r: r.offset) for e in codec.decode_message(r.value)[0]]
    cdrs = {e.call_id: e for e in logged if isinstance(e, CallDetailRecord)}
    opener = Opener(SubscriberKeys(settings.subscriber_keys_dir))
    assert is_sealed(cdrs["old"].callee) and opener.open(acct, cdrs["old"].callee) is None
    assert opener.open(acct, cdrs["new"].callee) == "12125550199"

    processor = BatchProcessor(codec, fold_settings_from(settings), settings.partitions, opener)
    messages = [InMessage(settings.events_topic, r.partition, r.offset, r.timestamp, r.value) for r in records]
    result = processor.process(sorted(messages, key=lambda m: (m.partition, m.offset)), lambda a: None)
    assert not result.dead_letters and without_positions(result.states) == without_positions(oracle(settings, logged))
    rows = {row[0]: row for row in result.call_rows}  # the old call's row is written anonymised, charged
    assert rows["carrier-a/old"][5] == "" and "*" in rows["carrier-a/old"][6] and rows["carrier-a/old"][20] > 0
