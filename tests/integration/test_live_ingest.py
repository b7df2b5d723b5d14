"""Live CDRs (issue 18), with real processes, the real broker and ClickHouse:

- ``voiceledger receive``: FreeSWITCH mod_json_cdr POSTs (a JSON body, and the form with the JSON
  in ``cdr``, URL-encoded values) and a plain JSON CDR are answered only once on the events
  topic; the B leg is not billed; a bad CDR is a 422 and a dead letter; the worker rates what was
  posted into ClickHouse (R1, R2, R9), an inbound call to a rented number billed to its owner;
- ``voiceledger ingest --follow``: SIGKILLed mid-file (mid-chunk), the file then rotated, and
  restarted: no row is lost, none reaches the log twice, and every call is billed once (R9, R30).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from projections.events import AccountOpened, CallDetailRecord, PaymentReceived
from streams.clickhouse.client import connect
from streams.dev.embedded import free_port
from streams.edge.publish import produce_events
from streams.edge.sealing import SubscriberKeys
from streams.kafka.reader import read_topic
from streams.worker.supervise import worker_env
from tests.integration.helpers import log_events, run_worker_to_end

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "cdr"
T_OPEN_MS = 1_790_726_400_000  # 2026-09-30T00:00:00Z


@pytest.fixture
def clickhouse_url(tmp_path):
    return f"chdb://{tmp_path / 'chdb'}"


def _open_accounts(settings, accounts: dict[str, tuple[str, ...]]) -> None:
    events = []
    for account_id, numbers in accounts.items():
        events += [AccountOpened(f"open-{account_id}", account_id, T_OPEN_MS, "USD", "basic", "postpaid", numbers),
                   PaymentReceived(f"pay-{account_id}", account_id, T_OPEN_MS + 1_000, 50_000_000, "USD")]
    asyncio.run(produce_events(settings, events))


def _post(url: str, body: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"receiver exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"receiver not up: {log.read_text()[-2000:]}")


def _receiver(settings, log: Path) -> tuple[subprocess.Popen, str, Path]:
    """``voiceledger receive --carrier fs-1`` on a free port: (process, base URL, its log)."""
    port = free_port()
    with open(log, "w") as out:
        receiver = subprocess.Popen([sys.executable, "-m", "streams.cli", "receive", "--carrier", "fs-1",
                                     "--listen", f"127.0.0.1:{port}"], env=worker_env(settings),
                                    stdout=out, stderr=subprocess.STDOUT)
    return receiver, f"http://127.0.0.1:{port}", log


def _events_and_offsets(settings) -> tuple[list[CallDetailRecord], dict[int, int]]:
    events, offsets = log_events(settings)
    return [e for e in events if isinstance(e, CallDetailRecord)], offsets


def test_R1_R2_R9_cdrs_posted_to_the_receiver_are_answered_once_on_the_log_and_rated_into_clickhouse(settings, tmp_path):
    _open_accounts(settings, {"acct-000003": ("15550000003",), "acct-did": ("15550000700",)})
    # The directory is the log's: the accounts as the worker folded them (the changelog).
    assert run_worker_to_end(settings, _events_and_offsets(settings)[1], tmp_path / "worker.log") == 0
    receiver, base, log = _receiver(settings, tmp_path / "receiver.log")
    try:
        _wait_http(base + "/healthz", receiver, log)
        a_leg, b_leg, _ = (SAMPLES / "freeswitch-ab-legs.jsonl").read_text().splitlines()
        assert _post(base + "/cdr/freeswitch", a_leg.encode(), "application/json") == (
            200, {"call_key": "fs-1/a1", "account_id": "acct-000003", "direction": "outbound"})
        form = urllib.parse.urlencode({"cdr": b_leg}).encode()  # mod_json_cdr's form post
        assert _post(base + "/cdr/freeswitch", form, "application/x-www-form-urlencoded") == (
            200, {"billed": False, "reason": "b_leg"})
        status, bad = _post(base + "/cdr/freeswitch", b'{"variables": {"accountcode": "acct-000003"}}',
                            "application/json")
        assert (status, bad["rejected"]) == (422, "missing_uuid")
        inbound = {"call_id": "in-1", "caller": "+442079460000", "callee": "+1 555 000 0700",
                   "start_at": "2026-10-05T09:00:01Z", "answer_at": "2026-10-05T09:00:09Z",
                   "end_at": "2026-10-05T09:04:19Z"}
        assert _post(base + "/cdr/json", json.dumps(inbound).encode(), "application/json") == (
            200, {"call_key": "fs-1/in-1", "account_id": "acct-did", "direction": "inbound"})
        assert _post(base + "/cdr/json", b"[1, 2", "application/json")[0] == 422
        # A key file that is not a key: the key store's failure, not the CDR's. The switch is told
        # to retry (503), nothing reaches the log, and the receiver goes on. (A November call: its
        # month's key is not in the receiver's cache yet, so the file is read.)
        key_file = SubscriberKeys(settings.subscriber_keys_dir)._dir("acct-did") / "current"
        good_key = key_file.read_bytes()
        key_file.write_bytes(b"cut sho")
        november = {**inbound, "call_id": "in-2", "start_at": "2026-11-05T09:00:01Z",
                    "answer_at": "2026-11-05T09:00:09Z", "end_at": "2026-11-05T09:04:19Z"}
        status, refused = _post(base + "/cdr/json", json.dumps(november).encode(), "application/json")
        assert (status, refused) == (503, {"error": "the key store cannot seal this call's numbers; retry"})
        key_file.write_bytes(good_key)
        metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        assert 'voiceledger_cdrs_received_total{outcome="produced"} 2.0' in metrics
        assert 'voiceledger_cdrs_received_total{outcome="unavailable"} 1.0' in metrics
    finally:
        receiver.send_signal(signal.SIGTERM)
        assert receiver.wait(30) == 0, log.read_text()[-2000:]

    cdrs, offsets = _events_and_offsets(settings)
    assert sorted(c.call_key for c in cdrs) == ["fs-1/a1", "fs-1/in-1"]
    from streams.kafka.codec import codec_for

    letters = [codec_for(settings).decode_dead_letter(r.value)
               for r in asyncio.run(read_topic(settings.broker, settings.dead_letter_topic))]
    assert sorted((d["source_topic"], d["reason_code"]) for d in letters) == [
        ("http:fs-1", "bad_json"), ("http:fs-1", "missing_uuid")]
    assert run_worker_to_end(settings, offsets, tmp_path / "worker.log") == 0
    ch = connect(settings.clickhouse_url)
    try:
        rows = ch.query("SELECT call_key, account_id, direction, billed_s, charge_micros FROM call_log FINAL "
                        "ORDER BY call_key")
    finally:
        ch.close()
    # a1: 60 s to the US at 0.01/min (the default card); in-1: received on a rented number, free by default.
    assert rows == [("fs-1/a1", "acct-000003", "OUTBOUND", 60, 10_000),
                    ("fs-1/in-1", "acct-did", "INBOUND", 0, 0)]


def _master_rows(first: int, count: int) -> str:
    rows = []
    for n in range(first, first + count):
        account = f"acct-f{n % 3}"
        start = f"2026-10-06 10:{(n // 60) % 60:02d}:{n % 60:02d}"
        end = f"2026-10-06 11:{(n // 60) % 60:02d}:{n % 60:02d}"
        rows.append(f'"{account}","15550001{n % 3:03d}","12125550100","from-internal","","SIP/1001-{n:08x}",'
                    f'"SIP/carrier-a-{n:08x}","Dial","SIP/carrier-a/12125550100","{start}","{start}","{end}",'
                    f'3600,3600,"ANSWERED","DOCUMENTATION","1791000000.{n}",""\n')
    return "".join(rows)


def _follower(settings, path: Path, log: Path) -> subprocess.Popen:
    with open(log, "a") as out:
        return subprocess.Popen([sys.executable, "-m", "streams.cli", "ingest", "--follow", "--format", "asterisk-csv",
                                 "--carrier", "pbx-1", str(path)], env=worker_env(settings), stdout=out,
                                stderr=subprocess.STDOUT)


def _position(path: Path) -> dict:
    try:
        return json.loads(Path(str(path) + ".position").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"line": 0, "inode": 0}


def _wait_position(path: Path, test, process: subprocess.Popen, log: Path, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        position = _position(path)
        if test(position):
            return position
        if process.poll() is not None:
            raise AssertionError(f"follower exited {process.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.01)
    raise AssertionError(f"follower stuck at {_position(path)}: {log.read_text()[-2000:]}")


def test_R9_R30_ingest_follow_killed_mid_file_then_rotated_loses_no_row_and_bills_each_call_once(settings, tmp_path):
    _open_accounts(settings, {f"acct-f{i}": (f"15550001{i:03d}",) for i in range(3)})
    path, log = tmp_path / "Master.csv", tmp_path / "follow.log"
    path.write_text(_master_rows(0, 12_000))
    first = _follower(settings, path, log)
    killed_at = _wait_position(path, lambda p: p["line"] > 0, first, log)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    assert killed_at["line"] < 12_000, "the kill must land mid-file"
    with open(path, "a") as handle:
        handle.write(_master_rows(12_000, 1_000))  # written while the follower was down
    os.rename(path, tmp_path / "Master.csv.1")  # logrotate: rename, and the switch starts a new file
    path.write_text(_master_rows(13_000, 500))
    second = _follower(settings, path, log)
    new_inode = path.stat().st_ino
    _wait_position(path, lambda p: p["inode"] == new_inode and p["line"] == 500, second, log)
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0, log.read_text()[-2000:]

    cdrs, offsets = _events_and_offsets(settings)
    keys = [c.call_key for c in cdrs]
    assert set(keys) == {f"pbx-1/1791000000.{n}" for n in range(13_500)}, "no row lost"
    assert len(keys) == len(set(keys)), "no row sent twice, the chunk in flight at the kill included"
    assert run_worker_to_end(settings, offsets, tmp_path / "worker.log", timeout_s=300) == 0
    ch = connect(settings.clickhouse_url)
    try:
        (count, charged), = ch.query("SELECT count(), sum(charge_micros) FROM call_log FINAL")
    finally:
        ch.close()
    assert (count, charged) == (13_500, 13_500 * 600_000), "each call billed once: 60 min at 0.01"


def test_R1_R2_R9_a_carriers_correction_file_re_rates_the_call_and_posts_the_exact_difference(settings, tmp_path):
    """ingest, then the carrier's corrected file with --revision 1: ClickHouse keeps the corrected
    row, the journal the first charge and the difference, and the balance moves by the difference."""
    _open_accounts(settings, {"acct-f0": ("15550001000",)})
    first, corrected = tmp_path / "Master.csv", tmp_path / "Master-corrected.csv"
    first.write_text(_master_rows(0, 1))  # 3600 s billed: 60 min at 0.01 = 0.60
    corrected.write_text(_master_rows(0, 1).replace('"2026-10-06 11:00:00",3600,3600,',
                                                    '"2026-10-06 10:10:00",600,600,'))  # the call lasted 600 s
    for path, extra in ((first, ()), (corrected, ("--revision", "1")), (corrected, ("--revision", "1"))):
        done = subprocess.run([sys.executable, "-m", "streams.cli", "ingest", "--format", "asterisk-csv",
                               "--carrier", "pbx-1", *extra, str(path)], env=worker_env(settings),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    cdrs, offsets = _events_and_offsets(settings)
    assert [c.revision for c in cdrs] == [0, 1, 1], "both versions stay in the log (and the re-sent one)"
    assert run_worker_to_end(settings, offsets, tmp_path / "worker.log") == 0
    ch = connect(settings.clickhouse_url)
    try:
        rows = ch.query("SELECT revision, billed_s, charge_micros FROM call_log FINAL")
        journal = ch.query("SELECT entry_id, kind, amount_micros FROM journal FINAL "
                           "WHERE ledger_account = 'customer:acct-f0' AND kind LIKE 'usage%' ORDER BY entry_id")
    finally:
        ch.close()
    assert rows == [(1, 600, 100_000)]
    assert journal == [("c:pbx-1/1791000000.0", "usage", 600_000),
                       ("c:pbx-1/1791000000.0#r1", "usage_correction", -500_000)]
    from tests.integration.helpers import live_states

    assert live_states(settings)["acct-f0"].balance_micros == 50_000_000 - 100_000


def test_R9_a_follower_killed_after_the_broker_took_a_chunk_but_before_its_position_was_written_sends_none_of_it_again(
        settings, tmp_path):
    """The worst moment for a kill, made exact: the chunk (calls and a dead letter) is on the log,
    the position file still says it is pending. The restart reads the log from the pending mark
    and sends nothing twice."""
    _open_accounts(settings, {f"acct-f{i}": (f"15550001{i:03d}",) for i in range(3)})
    path, log = tmp_path / "Master.csv", tmp_path / "follow.log"
    path.write_text(_master_rows(0, 1_000) + "not,a,cdr\n")
    first = _follower(settings, path, log)
    _wait_position(path, lambda p: p["line"] == 1_001, first, log)
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    position = _position(path)
    marks = {topic: {str(p): 0 for p in range(settings.partitions)}
             for topic in (settings.events_topic, settings.dead_letter_topic)}
    Path(str(path) + ".position").write_text(json.dumps(dict(position, offset=0, line=0, pending=marks)))
    second = _follower(settings, path, log)
    _wait_position(path, lambda p: p["line"] == 1_001 and p["pending"] is None, second, log)
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0
    assert "1000 calls and 1 dead letters of it were already on the log" in log.read_text()
    cdrs, _ = _events_and_offsets(settings)
    assert len(cdrs) == len({c.call_key for c in cdrs}) == 1_000
    letters = asyncio.run(read_topic(settings.broker, settings.dead_letter_topic))
    assert len(letters) == 1


def test_a_follower_refuses_a_broken_keys_calls_alone_and_follows_on(settings, tmp_path):
    """`ingest --follow` against a key store where one subscriber's key file is not a key (cut
    short): that subscriber's calls are dead letters with their line (key_store_unreadable), the
    other subscribers' calls reach the log, and the follower's position passes the file's end.
    Before, the follower stopped at that call, and restarted, stopped at it again."""
    from schemas.codec import EventCodec

    _open_accounts(settings, {f"acct-f{i}": (f"15550001{i:03d}",) for i in range(3)})  # each gets a key file
    key_file = SubscriberKeys(settings.subscriber_keys_dir)._dir("acct-f1") / "current"
    key_file.write_bytes(b"cut sho")
    path, log = tmp_path / "Master.csv", tmp_path / "follow.log"
    path.write_text(_master_rows(0, 30))  # rows n % 3 == 1 are acct-f1's
    follower = _follower(settings, path, log)
    _wait_position(path, lambda p: p["line"] == 30, follower, log)
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(30) == 0, log.read_text()[-2000:]

    cdrs, _ = _events_and_offsets(settings)
    assert sorted(c.call_key for c in cdrs) == sorted(f"pbx-1/1791000000.{n}" for n in range(30) if n % 3 != 1)
    codec = EventCodec()
    letters = [codec.decode_dead_letter(r.value) for r in asyncio.run(read_topic(settings.broker,
                                                                                  settings.dead_letter_topic))]
    assert sorted((x["reason_code"], x["source_offset"]) for x in letters) == \
        [("key_store_unreadable", n + 1) for n in range(30) if n % 3 == 1]  # its line in the file


def test_R9_calls_posted_at_once_share_envelopes_and_each_is_answered_once_it_is_on_the_log(settings, tmp_path):
    """One Kafka message per live CDR cost a worker its per-message price on every call (3.1k
    CDR/s against 7.5k with envelopes). Calls arriving together now share envelopes: every
    request is still answered 200 only once its call is on the log, each call is there once,
    and there are fewer messages than calls."""
    from concurrent.futures import ThreadPoolExecutor

    from streams.kafka.codec import codec_for

    receiver, base, log = _receiver(settings, tmp_path / "receiver.log")

    def post(n: int) -> tuple[int, dict]:
        call = {"call_id": f"c-{n}", "caller": f"+1555000{n % 4:04d}", "callee": "+12125550100",
                "account_id": f"acct-{n % 4}", "start_at": "2026-10-05T09:00:01Z",
                "answer_at": "2026-10-05T09:00:09Z", "end_at": "2026-10-05T09:04:19Z"}
        return _post(base + "/cdr/json", json.dumps(call).encode(), "application/json")

    # A call JSON allows but the log's encoding refuses (a lone surrogate escape): it must not
    # fail the calls that share its envelope.
    poison = json.dumps({"call_id": "p-\ud800", "caller": "+15550000001", "callee": "+12125550100",
                         "account_id": "acct-1", "start_at": "2026-10-05T09:00:01Z",
                         "answer_at": "2026-10-05T09:00:09Z", "end_at": "2026-10-05T09:04:19Z"}).encode()
    try:
        _wait_http(base + "/healthz", receiver, log)
        with ThreadPoolExecutor(max_workers=16) as pool:
            refused = pool.submit(_post, base + "/cdr/json", poison, "application/json")
            answers = list(pool.map(post, range(200)))
        status, body = refused.result()
    finally:
        receiver.send_signal(signal.SIGTERM)
        assert receiver.wait(30) == 0, log.read_text()[-2000:]
    assert (status, body["rejected"]) == (422, "unencodable"), body
    assert [a for a in answers if a[0] != 200] == []
    assert sorted(a[1]["call_key"] for a in answers) == sorted(f"fs-1/c-{n}" for n in range(200))
    records = asyncio.run(read_topic(settings.broker, settings.events_topic))
    codec = codec_for(settings)
    keys = [e.call_key for r in records for e in codec.decode_message(r.value)[0]]
    assert sorted(keys) == sorted(f"fs-1/c-{n}" for n in range(200)), "each call on the log once"
    assert len(records) < 150, f"{len(records)} messages for 200 calls posted 16 at a time"
    letters = [codec.decode_dead_letter(r.value) for r in asyncio.run(read_topic(settings.broker,
                                                                                  settings.dead_letter_topic))]
    assert [(x["source_topic"], x["reason_code"]) for x in letters] == [("http:fs-1", "unencodable")]


def _plain_call(call_id: str, account_id: str, **over: str) -> dict:
    return {"call_id": call_id, "caller": "+15550000001", "callee": "+12125550100", "account_id": account_id,
            "start_at": "2026-10-05T09:00:01Z", "answer_at": "2026-10-05T09:00:09Z",
            "end_at": "2026-10-05T09:04:19Z", **over}


def test_R9_a_batch_of_cdrs_posted_as_json_lines_is_answered_line_by_line_and_billed_once(settings, tmp_path):
    """``POST /cdr/json/lines``: each line answered on its own, in order (on the log, or
    dead-lettered with its line), once the broker has them all; the same batch posted again (a
    retry) bills nothing twice; over LINES_MAX lines is a 413 and sends nothing."""
    from streams.kafka.codec import codec_for

    _open_accounts(settings, {"acct-b1": ("15550000001",), "acct-b2": ("15550000002",)})
    batch = "\n".join([json.dumps(_plain_call("b-1", "acct-b1")), "", '{"call_id": "b-2"',
                       json.dumps(_plain_call("b-3", "acct-b2")), json.dumps(_plain_call("b-4", "acct-b2", callee=""))])
    too_many = "\n".join(json.dumps(_plain_call(f"m-{n}", "acct-b1")) for n in range(1_001))
    receiver, base, log = _receiver(settings, tmp_path / "receiver.log")
    try:
        _wait_http(base + "/healthz", receiver, log)
        answers = [_post(base + "/cdr/json/lines", batch.encode(), "application/x-ndjson") for _ in range(2)]
        assert _post(base + "/cdr/json/lines", too_many.encode(), "application/x-ndjson") == (
            413, {"error": "1001 lines: at most 1000 CDRs, one a line, in one request"})
        metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    finally:
        receiver.send_signal(signal.SIGTERM)
        assert receiver.wait(30) == 0, log.read_text()[-2000:]
    for status, body in answers:  # the retry is answered as the first post was
        assert (status, body["produced"], body["rejected"], body["retry"]) == (200, 2, 2, 0), body
        assert [(r["line"], r.get("call_key") or r["rejected"]) for r in body["results"]] == [
            (1, "fs-1/b-1"), (3, "bad_json"), (4, "fs-1/b-3"), (5, "missing_field")]
    assert 'voiceledger_cdrs_received_total{outcome="produced"} 4.0' in metrics
    assert 'voiceledger_cdrs_received_total{outcome="too_large"} 1.0' in metrics
    codec = codec_for(settings)
    letters = [codec.decode_dead_letter(r.value) for r in asyncio.run(read_topic(settings.broker,
                                                                                  settings.dead_letter_topic))]
    assert sorted((x["source_offset"], x["source_index"], x["reason_code"], x["original"]) for x in letters) == [
        (n, line, code, raw) for n in (1, 2) for line, code, raw in
        ((3, "bad_json", b'{"call_id": "b-2"'), (5, "missing_field", json.dumps(_plain_call("b-4", "acct-b2",
                                                                                            callee="")).encode()))]
    cdrs, offsets = _events_and_offsets(settings)
    assert sorted(c.call_key for c in cdrs) == ["fs-1/b-1", "fs-1/b-1", "fs-1/b-3", "fs-1/b-3"], "none of m-*"
    assert run_worker_to_end(settings, offsets, tmp_path / "worker.log") == 0
    ch = connect(settings.clickhouse_url)
    try:
        rows = ch.query("SELECT call_key, account_id, billed_s, charge_micros FROM call_log FINAL ORDER BY call_key")
        (debits,), = ch.query("SELECT toInt64(sum(amount_micros)) FROM journal FINAL WHERE kind = 'usage' "
                              "AND ledger_account LIKE 'customer:%'")
    finally:
        ch.close()
    # 4 min 18 s answered to the US at 0.01/min, billed per minute: 5 minutes, 0.05 each, once.
    assert rows == [("fs-1/b-1", "acct-b1", 300, 50_000), ("fs-1/b-3", "acct-b2", 300, 50_000)]
    assert debits == 100_000
