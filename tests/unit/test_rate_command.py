"""``voiceledger rate`` (R1, R2): prices calls against a deck with no broker, one JSON line per
call, like ``cgr-console cost``: a US caller's 011 call priced at the London rate per second, a
60/60 destination in whole minutes, and a call it cannot price refused with its reason."""

from __future__ import annotations

import json
import subprocess
import sys

DECK = ("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s\n"
        "1,US/Canada,0.01,0,60,60\n44,United Kingdom,0.02,0,1,1\n4420,London,0.015,0,1,1\n")


def rate(tmp_path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    deck = tmp_path / "deck.csv"
    deck.write_text(DECK)
    return subprocess.run([sys.executable, "-m", "streams.cli", "rate", "--deck", str(deck), "--currency", "USD",
                           "--valid-from", "2026-01-01", *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_R2_one_call_from_the_command_line(tmp_path):
    run = rate(tmp_path, "--country", "1", "--callee", "011442071234567", "--start", "2026-10-01T10:00:00Z",
               "--duration", "61")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"callee_e164": "+442071234567", "prefix": "4420", "destination": "London",
                                      "band": "standard", "billed_s": 61, "charge_micros": 15_250, "currency": "USD"}
    by_region = rate(tmp_path, "--country", "US", "--callee", "011442071234567", "--start", "2026-10-01T10:00:00Z",
                     "--duration", "61")
    assert json.loads(by_region.stdout) == json.loads(run.stdout), "a country as an account has it: US is 1"
    bad = rate(tmp_path, "--country", "XX", "--callee", "1", "--start", "2026-10-01T10:00:00Z", "--duration", "1")
    assert bad.returncode == 2 and "--country: 'XX' must be an ISO 3166 country" in bad.stderr


def test_R1_R2_calls_on_standard_input_and_a_refusal(tmp_path):
    lines = [{"callee": "12125550100", "start_at": "2026-10-01T10:00:00Z", "duration_s": 61},
             {"callee": "12125550100", "start_at": "2026-10-01T10:00:00Z", "answer_at": "2026-10-01T10:00:05Z",
              "end_at": "2026-10-01T10:00:35Z"},
             {"callee": "999", "start_at": "2026-10-01T10:00:00Z", "duration_s": 5}]
    run = rate(tmp_path, stdin="\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    assert run.returncode == 1, run.stderr
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(o.get("billed_s"), o.get("charge_micros")) for o in out[:2]] == [(120, 20_000), (60, 10_000)]
    assert [o.get("rejected") for o in out[2:]] == ["unknown_destination", "bad_json"]


def test_hostile_calls_and_files_are_refused_in_one_line(tmp_path):
    """A call dated 9999 and a duration of true are refused with their reason (the log's own
    bounds); a deck or a number directory that is not UTF-8 CSV is one line and exit 2."""
    lines = [{"callee": "12125550100", "start_at": "9999-12-31T23:59:59Z", "duration_s": 5},
             {"callee": "12125550100", "start_at": "2026-10-01T10:00:00Z", "duration_s": True}]
    out = [json.loads(line) for line in rate(tmp_path, stdin="\n".join(json.dumps(x) for x in lines)).stdout.splitlines()]
    assert [o.get("rejected") for o in out] == ["time_out_of_range", "bad_call"]
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(128, 256)) * 20)
    bad_deck = subprocess.run([sys.executable, "-m", "streams.cli", "rate", "--deck", str(junk), "--currency", "USD",
                               "--callee", "1212", "--start", "2026-10-01T00:00:00Z", "--duration", "5"],
                              capture_output=True, text=True, timeout=60)
    sample = str(tmp_path.parents[0] / "unused")  # no CDR file is read before the directory fails
    bad_directory = subprocess.run([sys.executable, "-m", "streams.cli", "ingest", "--dry-run", "--format",
                                    "asterisk-csv", "--carrier", "c", "--directory", str(junk), sample],
                                   capture_output=True, text=True, timeout=60)
    for run, needle in ((bad_deck, "not a CSV rate deck in UTF-8"), (bad_directory, "not a CSV number directory")):
        assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr[-1500:]
        assert needle in run.stderr and "Traceback" not in run.stderr
