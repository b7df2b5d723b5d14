"""The CDR adapters turn Asterisk ``cdr_csv`` and FreeSWITCH ``mod_json_cdr`` records into
``CallDetailRecord`` events, on sample files written from the documented formats.

Proves: column order and field mapping; local wall times read in the carrier's zone (DST
included); R1 billing from answer to hang-up with ``billsec`` (not ``duration``) as the billed
time; dispositions and hang-up causes; the source's unique id as the call key; and that every
malformed record is rejected with its line number and a reason, without stopping the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from projections.events import Disposition
from streams.edge.asterisk import read_master_csv
from streams.edge.cdr import carrier_zone
from streams.edge.freeswitch import read_json_cdrs

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "cdr"
NEW_YORK = carrier_zone("America/New_York")
T_0900_EDT_MS = 1_790_859_600_000  # 2026-10-01 09:00:00 America/New_York = 13:00:00Z


def asterisk() -> dict[int, object]:
    with open(SAMPLES / "asterisk-Master.csv") as handle:
        return {p.line: p for p in read_master_csv(handle, "carrier-a", NEW_YORK)}


def test_R1_asterisk_answered_call_is_timed_from_answer_with_billsec():
    cdr = asterisk()[1].cdr
    assert (cdr.account_id, cdr.caller, cdr.callee) == ("acct-000001", "15550000001", "12125550100")
    assert cdr.start_at_ms == T_0900_EDT_MS
    assert cdr.end_at_ms == T_0900_EDT_MS + 66_000
    assert cdr.end_at_ms - cdr.answer_at_ms == 61_000, "billsec, not duration (66 s)"
    assert cdr.disposition is Disposition.ANSWERED
    assert (cdr.carrier_id, cdr.call_id, cdr.call_key) == ("carrier-a", "1790859600.1", "carrier-a/1790859600.1")
    assert cdr.trunk == "SIP/carrier-a"


def test_asterisk_dispositions():
    parsed = asterisk()
    assert parsed[2].cdr.disposition is Disposition.NO_ANSWER and parsed[2].cdr.answer_at_ms is None
    assert parsed[3].cdr.disposition is Disposition.BUSY
    assert parsed[4].cdr.disposition is Disposition.FAILED
    assert parsed[5].cdr.disposition is Disposition.FAILED, "CONGESTION bills like FAILED"


def test_asterisk_answered_call_without_answer_column_uses_end_minus_billsec():
    cdr = asterisk()[6].cdr
    end = T_0900_EDT_MS + 3_720_000  # 10:02:00 local
    assert (cdr.end_at_ms, cdr.answer_at_ms) == (end, end - 115_000)


def test_asterisk_ambiguous_dst_hour_is_read_as_its_first_occurrence():
    # 2026-11-01 01:30 happens twice in New York; fold=0 is the EDT one, 05:30Z.
    assert asterisk()[14].cdr.start_at_ms == 1_793_511_000_000


@pytest.mark.parametrize("line,code", [
    (7, "missing_uniqueid"), (8, "missing_accountcode"), (9, "bad_timestamp"),
    (10, "billsec_mismatch"), (11, "unknown_disposition"), (12, "negative_duration"),
    (13, "missing_uniqueid"),
])
def test_asterisk_malformed_lines_are_rejected_with_line_and_reason(line, code):
    parsed = asterisk()[line]
    assert parsed.cdr is None and parsed.rejected.code == code
    assert parsed.raw.strip(), "the original line is kept for the dead letter"


def test_asterisk_file_goes_on_after_bad_lines():
    parsed = asterisk()
    assert sorted(parsed) == list(range(1, 15))
    assert sum(p.cdr is not None for p in parsed.values()) == 7


def test_asterisk_utc_logs_read_as_utc():
    with open(SAMPLES / "asterisk-Master.csv") as handle:
        first = next(read_master_csv(handle, "carrier-a", carrier_zone("UTC"))).cdr
    assert first.start_at_ms == T_0900_EDT_MS - 4 * 3_600_000


def test_unknown_time_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        carrier_zone("Mars/Olympus")


def test_R1_freeswitch_json_cdr_uses_microsecond_epochs_and_billsec():
    (parsed,) = read_json_cdrs((SAMPLES / "freeswitch-answered.cdr.json").read_text(), "carrier-b", NEW_YORK)
    cdr = parsed.cdr
    assert cdr.call_key == "carrier-b/a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d"
    assert cdr.callee == "+442071234567", "URL-encoded variables are decoded"
    assert (cdr.start_at_ms, cdr.end_at_ms) == (1_790_859_600_120, 1_790_859_725_900)
    assert cdr.end_at_ms - cdr.answer_at_ms == 121_000
    assert cdr.disposition is Disposition.ANSWERED and cdr.trunk == "carrier-b"


def freeswitch_lines() -> dict[int, object]:
    return {p.line: p for p in read_json_cdrs((SAMPLES / "freeswitch-legs.jsonl").read_text(), "carrier-b", NEW_YORK)}


def test_freeswitch_hangup_causes_and_local_stamps():
    parsed = freeswitch_lines()
    assert parsed[1].cdr.disposition is Disposition.BUSY and parsed[1].cdr.start_at_ms == T_0900_EDT_MS
    assert parsed[2].cdr.disposition is Disposition.NO_ANSWER and parsed[2].cdr.answer_at_ms is None
    assert parsed[3].cdr.disposition is Disposition.FAILED
    four = parsed[4].cdr
    assert four.callee == "3222222222", "destination from the callflow caller profile"
    assert four.end_at_ms - four.answer_at_ms == 60_000


@pytest.mark.parametrize("line,code", [
    (5, "missing_uuid"), (6, "missing_accountcode"), (7, "billsec_mismatch"), (8, "bad_json"),
    (9, "missing_variables"),
])
def test_freeswitch_malformed_records_are_rejected_with_line_and_reason(line, code):
    parsed = freeswitch_lines()[line]
    assert parsed.cdr is None and parsed.rejected.code == code


def test_freeswitch_json_array_is_read_record_by_record():
    text = "[" + (SAMPLES / "freeswitch-answered.cdr.json").read_text() + ', {"variables": {}}]'
    parsed = list(read_json_cdrs(text, "carrier-b", NEW_YORK))
    assert [p.line for p in parsed] == [1, 2]
    assert parsed[0].cdr is not None and parsed[1].rejected.code == "missing_uuid"
