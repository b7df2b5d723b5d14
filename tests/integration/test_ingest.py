"""``voiceledger ingest`` against the real broker, then the real worker.

Asterisk Master.csv, FreeSWITCH JSON CDRs and an Avro container file go through the CLI: every
good record reaches the events topic on its account's partition, every bad one reaches the
dead-letter topic with its file, line and reason, and the file goes on. Re-ingesting a file is
harmless: the worker folds everything to exactly a pure fold of the parsed records, each call
is charged once (R1, R2, R9), and ClickHouse holds one row per call (R30).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import fastavro
import pytest

from projections.events import AccountOpened, CallDetailRecord, PaymentReceived
from schemas.codec import EventCodec
from streams.edge.asterisk import read_master_csv
from streams.edge.cdr import carrier_zone
from streams.edge.freeswitch import read_json_cdrs
from streams.clickhouse.client import connect
from streams.worker.supervise import worker_env
from streams.edge.publish import produce_events
from streams.kafka.reader import read_topic
from streams.kafka.partitioning import partition_for

from tests.integration.helpers import live_states, oracle, run_worker_to_end, state_differences

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "cdr"
T_OPEN_MS = 1_790_726_400_000  # 2026-09-30T00:00:00Z, before every sample call
NEW_YORK = "America/New_York"


@pytest.fixture
def clickhouse_url(tmp_path):
    return f"chdb://{tmp_path / 'chdb'}"


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", "ingest", *args], env=worker_env(settings),
                          capture_output=True, text=True, timeout=120)


def write_avro(path: Path, codec: EventCodec, cdrs: list[dict]) -> None:
    schema = codec.registry.latest_of("voiceledger.CallDetailRecord").parsed
    with open(path, "wb") as handle:
        fastavro.writer(handle, schema, cdrs)


def test_R1_R9_R30_ingest_cli_produces_good_records_and_dead_letters_bad_ones(settings, tmp_path):
    codec = EventCodec()
    setup = open_five_accounts(settings)
    asterisk = SAMPLES / "asterisk-Master.csv"
    ingest_three_formats_and_a_resent_file(settings, tmp_path, codec, asterisk)
    records, cdrs = check_cdrs_and_dead_letters(settings, codec, asterisk)
    fold_and_check(settings, tmp_path, codec, asterisk, setup, records, cdrs)
    check_carrier_reconciliation(settings, tmp_path, asterisk)


def open_five_accounts(settings) -> list:  # noqa: ANN001 - Settings
    """Five prepaid accounts with a payment each, on the log; the events."""
    accounts = [f"acct-00000{i}" for i in range(1, 6)]
    setup = []
    for n, account_id in enumerate(accounts):
        setup.append(AccountOpened(f"open-{account_id}", account_id, T_OPEN_MS, "USD", "basic", "prepaid",
                                   (f"155500000{n:02d}",), NEW_YORK))
        setup.append(PaymentReceived(f"pay-{account_id}", account_id, T_OPEN_MS + 1_000, 20_000_000, "USD"))
    asyncio.run(produce_events(settings, setup))
    return setup


def ingest_three_formats_and_a_resent_file(settings, tmp_path, codec, asterisk: Path) -> None:  # noqa: ANN001
    """Asterisk CSV, FreeSWITCH JSON and Avro through ``ingest``; the bad records refused by line."""
    first = cli(settings, "--format", "asterisk-csv", "--carrier", "carrier-a", "--time-zone", NEW_YORK, str(asterisk))
    assert first.returncode == 1, first.stderr  # some records were rejected
    assert "14 record(s) read, 7 produced, 7 rejected" in first.stdout
    assert f"{asterisk}:7: missing_uniqueid" in first.stderr
    assert f"{asterisk}:10: billsec_mismatch" in first.stderr

    fs = cli(settings, "--format", "freeswitch-json", "--carrier", "carrier-b", "--time-zone", NEW_YORK,
             "--envelope", "1", str(SAMPLES / "freeswitch-answered.cdr.json"), str(SAMPLES / "freeswitch-legs.jsonl"))
    assert fs.returncode == 1, fs.stdout + fs.stderr
    assert "2 file(s), 10 record(s) read, 5 produced, 5 rejected" in fs.stdout, fs.stdout

    good = {"event_id": "av-1", "carrier_id": "carrier-c", "call_id": "av-1", "account_id": "acct-000004",
            "caller": "15550000004", "callee": "12125550199", "start_at_ms": 1_790_860_000_000,
            "answer_at_ms": 1_790_860_002_000, "end_at_ms": 1_790_860_062_000, "disposition": "ANSWERED",
            "direction": "OUTBOUND", "trunk": "t1"}
    bad = dict(good, call_id="av-2", event_id="av-2", end_at_ms=1_790_859_000_000, answer_at_ms=None,
               disposition="NO_ANSWER")
    avro_file = tmp_path / "cdrs.avro"
    write_avro(avro_file, codec, [good, bad])
    av = cli(settings, "--format", "avro", "--carrier", "carrier-c", str(avro_file))
    assert av.returncode == 1 and "2 record(s) read, 1 produced, 1 rejected (negative_duration 1)" in av.stdout

    again = cli(settings, "--format", "asterisk-csv", "--carrier", "carrier-a", "--time-zone", NEW_YORK, str(asterisk))
    assert again.returncode == 1 and "7 produced" in again.stdout  # a carrier re-sends its file


def check_cdrs_and_dead_letters(settings, codec, asterisk: Path) -> tuple[list, list]:  # noqa: ANN001
    """The events topic's records and the CDRs in them."""
    # Every produced CDR is on its account's partition; every rejected one is a dead letter.
    records = asyncio.run(read_topic(settings.broker, settings.events_topic))
    cdrs = []
    for record in records:
        events, _ = codec.decode_message(record.value)
        for event in events:
            assert record.partition == partition_for(event.account_id, settings.partitions)
            if isinstance(event, CallDetailRecord):
                cdrs.append(event)
    assert len(cdrs) == 7 + 5 + 1 + 7 and len({c.call_key for c in cdrs}) == 13
    letters = [codec.decode_dead_letter(r.value)
               for r in asyncio.run(read_topic(settings.broker, settings.dead_letter_topic))]
    assert len(letters) == 7 + 5 + 1 + 7
    by_source = {(d["source_topic"], d["source_offset"]): d for d in letters}
    missing = by_source[(f"file:{asterisk}", 7)]
    assert missing["reason_code"] == "missing_uniqueid"
    assert missing["original"].decode().startswith('"acct-000003"'), "the original line, ready to fix and re-send"
    return records, cdrs


def fold_and_check(settings, tmp_path, codec, asterisk: Path, setup: list, records: list,  # noqa: ANN001
                   cdrs: list) -> None:
    # The worker folds it all: each call charged once, equal to a pure fold of the parsed records.
    zone = carrier_zone(NEW_YORK)
    with open(asterisk) as handle:
        parsed_asterisk = [p.cdr for p in read_master_csv(handle, "carrier-a", zone) if p.cdr]
    parsed_fs = [p.cdr for name in ("freeswitch-answered.cdr.json", "freeswitch-legs.jsonl")
                 for p in read_json_cdrs((SAMPLES / name).read_text(), "carrier-b", zone) if p.cdr]
    avro_cdr = codec.decode(codec.encode(next(c for c in cdrs if c.call_id == "av-1")))
    everything = setup + parsed_asterisk + parsed_fs + avro_cdr + parsed_asterisk
    offsets: dict[int, int] = {}
    for record in records:
        offsets[record.partition] = max(offsets.get(record.partition, 0), record.offset + 1)
    assert run_worker_to_end(settings, offsets, tmp_path / "worker.log") == 0
    live, expected = live_states(settings), oracle(settings, everything)
    assert state_differences(live, expected) == []
    # Answered: Asterisk lines 1, 6 and 14, FreeSWITCH uuid a5c9... and b4, Avro av-1: once each,
    # although the Asterisk file came twice.
    assert sum(s.calls_charged for s in live.values()) == 6
    ch = connect(settings.clickhouse_url)
    try:
        assert ch.query("SELECT count(), uniqExact(call_key) FROM call_log FINAL") == [(13, 13)]
    finally:
        ch.close()


def check_carrier_reconciliation(settings, tmp_path, asterisk: Path) -> None:  # noqa: ANN001 - Settings
    # Carrier reconciliation: their file against our call log; then a file with one call
    # missing and one call's duration changed, as a carrier's invoice might have it.
    def reconcile(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "streams.cli", "carrier-reconcile", "--carrier", "carrier-a",
                               "--format", "asterisk-csv", "--time-zone", NEW_YORK, "--from", "2000-01-01",
                               "--to", "2100-01-01", str(path)], env=worker_env(settings), capture_output=True,
                              text=True, timeout=120)

    same = reconcile(asterisk)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "matched 7 calls; 0 only in the carrier's file, 0 only in our call log, 0 beyond" in same.stdout
    short = tmp_path / "carrier-a-missing-one.csv"
    short.write_text("".join(asterisk.read_text().splitlines(keepends=True)[1:]))  # their file lacks line 1
    missing_one = reconcile(short)
    assert missing_one.returncode == 1 and "matched 6 calls; 0 only in the carrier's file, 1 only in our call log" \
        in missing_one.stdout, missing_one.stdout


def test_a_broken_subscriber_key_refuses_that_subscribers_calls_alone_and_the_file_goes_on(settings, tmp_path):
    """A key file that is not a key (cut short, overwritten) stopped `ingest` at that call, and
    `ingest --follow`, restarted, at the same call again: one subscriber held back a carrier's
    feed. Now the call is a dead letter with its reason and line, and the others go on the log."""
    from streams.edge.sealing import SubscriberKeys

    codec = EventCodec()
    opened = [AccountOpened(f"open-{a}", a, T_OPEN_MS, "USD", "basic", "prepaid", (f"1555000009{n}",), NEW_YORK)
              for n, a in enumerate(["acct-broken", "acct-fine"])]
    asyncio.run(produce_events(settings, opened))  # seals their numbers: each has a key file now
    key_file = SubscriberKeys(settings.subscriber_keys_dir)._dir("acct-broken") / "current"
    key_file.write_bytes(b"cut sho")
    call = {"event_id": "k-1", "carrier_id": "carrier-c", "call_id": "k-1", "account_id": "acct-broken",
            "caller": "15550000090", "callee": "12125550199", "start_at_ms": 1_790_860_000_000,
            "answer_at_ms": 1_790_860_002_000, "end_at_ms": 1_790_860_062_000, "disposition": "ANSWERED",
            "direction": "OUTBOUND", "trunk": "t1"}
    avro_file = tmp_path / "cdrs.avro"
    write_avro(avro_file, codec, [call, dict(call, event_id="k-2", call_id="k-2", account_id="acct-fine",
                                             caller="15550000091")])
    run = cli(settings, "--format", "avro", "--carrier", "carrier-c", str(avro_file))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 record(s) read, 1 produced, 1 rejected (key_store_unreadable 1)" in run.stdout
    cdrs = [e for r in asyncio.run(read_topic(settings.broker, settings.events_topic))
            for e in codec.decode_message(r.value)[0] if isinstance(e, CallDetailRecord)]
    assert [c.account_id for c in cdrs] == ["acct-fine"]
    (letter,) = [codec.decode_dead_letter(r.value)
                 for r in asyncio.run(read_topic(settings.broker, settings.dead_letter_topic))]
    assert (letter["reason_code"], letter["source_offset"]) == ("key_store_unreadable", 1)

