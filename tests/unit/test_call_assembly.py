"""Call assembly at the edge (R1, R9): the legs a switch writes for one call are billed once, on
the leg that carries the talk time. An Asterisk Dial that forked (a 0-second NO ANSWER attempt,
then the answered one, under one uniqueid) is billed for its 45 s, not refused as a conflict; a
FreeSWITCH call whose A and B legs both carry the accountcode is billed once; a B leg without
its A leg is refused with a reason; a re-read file gives the same calls and keys."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from projections.account import FoldSettings, Positioned, Rejected, fold_all, fold_batch
from projections.rating import DestinationRate, RateCard
from schemas.codec import EventCodec
from streams.edge.assembly import assemble
from streams.edge.cdr import Leg, Parsed
from streams.edge.source import Source, parse_file
from projections.events import AccountOpened, PaymentReceived

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "cdr"
UTC = ZoneInfo("UTC")
CARD = RateCard("usd", "USD", 0, {"1": DestinationRate("1", "US", 60_000, 0, 1, 1),
                                  "44": DestinationRate("44", "UK", 120_000, 0, 1, 1)})


def calls(name: str, fmt: str) -> list[Parsed]:
    return list(parse_file(SAMPLES / name, Source(fmt, "carrier-a", UTC), EventCodec()))


def test_R1_a_forked_dial_is_billed_once_for_its_answered_leg():
    parsed = calls("asterisk-forked-Master.csv", "asterisk-csv")
    billed = {p.cdr.call_id: p for p in parsed if p.cdr is not None}
    forked = billed["1790870400.10"]
    assert forked.legs == 2 and forked.cdr.answer_at_ms is not None
    assert (forked.cdr.end_at_ms - forked.cdr.answer_at_ms) // 1000 == 45
    assert forked.cdr.trunk == "SIP/carrier-b"  # the leg that answered
    assert billed["1790870700.11"].legs == 1 and billed["1790870700.11"].cdr.answer_at_ms is None


def test_R1_R9_a_channel_that_talked_twice_is_billed_for_both_under_stable_keys():
    billed = {p.cdr.call_id: p.cdr for p in calls("asterisk-forked-Master.csv", "asterisk-csv") if p.cdr}
    assert (billed["1790871000.12"].end_at_ms - billed["1790871000.12"].answer_at_ms) // 1000 == 30
    again = billed["1790871000.12.35"]
    assert (again.end_at_ms - again.answer_at_ms) // 1000 == 20 and again.callee == "12125550102"
    assert [p.cdr.call_key for p in calls("asterisk-forked-Master.csv", "asterisk-csv") if p.cdr] == \
        [p.cdr.call_key for p in calls("asterisk-forked-Master.csv", "asterisk-csv") if p.cdr]  # stable on re-read


def test_R9_a_bridged_freeswitch_call_is_billed_once_on_its_a_leg_and_a_lone_b_leg_is_refused():
    parsed = calls("freeswitch-ab-legs.jsonl", "freeswitch-json")
    billed = [p for p in parsed if p.cdr is not None]
    assert [(p.cdr.call_id, p.legs) for p in billed] == [("a1", 2)]
    refused = [p for p in parsed if p.rejected is not None]
    assert [(p.rejected.code, p.line) for p in refused] == [("b_leg_without_a_leg", 3)]


def test_R1_R9_the_assembled_calls_charge_what_was_talked_and_nothing_is_a_conflict():
    """Before assembly the answered leg of the forked Dial was a duplicate_conflict: 45 s unbilled."""
    parsed = [p.cdr for p in calls("asterisk-forked-Master.csv", "asterisk-csv") if p.cdr]
    start = 1_790_812_800_000
    events = [AccountOpened(f"o{n}", f"acct-00000{n}", start, "USD", "basic", "prepaid", ()) for n in (1, 2)]
    events += [PaymentReceived(f"p{n}", f"acct-00000{n}", start, 10_000_000, "USD") for n in (1, 2)] + parsed
    items = [Positioned("t/0", i, 0, 2**62, e) for i, e in enumerate(events)]
    states = fold_all(items, FoldSettings(rate_cards=(CARD,)))
    assert states["acct-000001"].charged_micros == 45_000  # 45 s at 0.06/min, per second
    assert states["acct-000002"].charged_micros == 30_000 + 20_000
    _, outcomes = fold_batch(None, [i for i in items if i.event.account_id == "acct-000001"], FoldSettings(rate_cards=(CARD,)))
    assert not [o for o in outcomes if isinstance(o, Rejected)]


def test_assembly_holds_a_bounded_window_and_emits_every_call():
    def leg(n: int, call: str) -> Parsed:
        from projections.events import CallDetailRecord, Disposition

        cdr = CallDetailRecord(f"e{n}", "c", call, "a", "1", "2", n, None, n, Disposition.NO_ANSWER)
        return Parsed(n, "", cdr, None, Leg(call, True, n))

    records = [leg(n, f"call-{n}") for n in range(50)] + [leg(50, "call-0")]  # call-0's leg comes late
    out = list(assemble(records, window=10))
    assert sorted(p.cdr.call_id for p in out).count("call-0") == 2  # past the window: flushed apart
    assert len(out) == 51
    within = list(assemble(records[40:] + [leg(51, "call-45")], window=10))
    assert [p.legs for p in within if p.cdr.call_id == "call-45"] == [2]


def test_ingest_dry_run_prints_the_assembled_calls_as_json_lines_with_no_broker():
    """The contract scripts rely on: one object per call (its keys and types), one per rejected
    record with its file and line, and ingest's exit codes (1: something was rejected)."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "VOICELEDGER_BROKER": "127.0.0.1:1"}  # nothing listens: no broker is needed
    run = subprocess.run([sys.executable, "-m", "streams.cli", "ingest", "--dry-run", "--format", "freeswitch-json",
                          "--carrier", "carrier-c", str(SAMPLES / "freeswitch-ab-legs.jsonl")],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 1, run.stderr
    call, refused = [json.loads(line) for line in run.stdout.splitlines()]
    assert set(call) == {"call_key", "account_id", "direction", "legs", "caller", "callee", "start_at", "answer_at",
                         "end_at", "talk_s", "disposition"}
    assert (call["call_key"], call["legs"], call["talk_s"], call["answer_at"]) == \
        ("carrier-c/a1", 2, 60, "2026-10-01T16:30:05Z")
    assert refused == {"rejected": "b_leg_without_a_leg", "file": str(SAMPLES / "freeswitch-ab-legs.jsonl"), "line": 3}


def test_R9_an_empty_accountcode_is_resolved_by_the_number_directory_or_refused():
    """The common case in real files: no accountcode. The calling number in any form (+1 555...)
    finds its account; a PBX's calls are found by the peer they came from; a caller found
    neither way is refused with its reason, never billed to a guess."""
    from streams.edge.directory import NumberDirectory

    directory = NumberDirectory.from_csv(SAMPLES / "directory.csv", "1")
    parsed = list(parse_file(SAMPLES / "asterisk-no-accountcode-Master.csv", Source("asterisk-csv", "carrier-a", UTC, directory),
                             EventCodec()))
    assert [(p.cdr.call_id, p.cdr.account_id) for p in parsed if p.cdr] == [
        ("1790874000.20", "acct-000001"), ("1790874300.21", "acct-acme")]
    assert [(p.line, p.rejected.code) for p in parsed if p.rejected] == [(3, "unknown_number")]
    without = list(parse_file(SAMPLES / "asterisk-no-accountcode-Master.csv", Source("asterisk-csv", "carrier-a", UTC),
                              EventCodec()))
    assert {p.rejected.code for p in without} == {"missing_accountcode"}
