"""The plain JSON CDR (streams/edge/plain_json.py): what scripts and switches without a native
adapter send. R1: times from answer to hang-up; a bad field refuses the record with its reason."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from projections.events import Direction, Disposition
from streams.edge.plain_json import read_plain_json

GOOD = {"call_id": "c-1", "account_id": "acct-1", "caller": "+15550000001", "callee": "+442071234567",
        "start_at": "2026-10-05T09:00:01Z", "answer_at": "2026-10-05T09:00:09Z", "end_at": "2026-10-05T09:04:19Z"}


def _one(record) -> object:
    (parsed,) = read_plain_json(json.dumps(record), "carrier-a", ZoneInfo("Europe/Brussels"))
    return parsed


def test_R1_a_plain_cdr_becomes_a_call_with_its_times_in_utc_and_its_revision():
    cdr = _one(dict(GOOD, revision=2)).cdr
    assert (cdr.call_key, cdr.account_id, cdr.direction, cdr.disposition, cdr.revision) == (
        "carrier-a/c-1", "acct-1", Direction.OUTBOUND, Disposition.ANSWERED, 2)
    assert (cdr.end_at_ms - cdr.answer_at_ms) // 1000 == 250
    local = _one(dict(GOOD, start_at="2026-10-05 11:00:01", answer_at=None)).cdr  # no offset: the carrier's zone
    assert local.start_at_ms == cdr.start_at_ms and local.disposition is Disposition.NO_ANSWER


@pytest.mark.parametrize("change,code", [
    ({"call_id": None}, "missing_field"),
    ({"caller": 15550000001}, "bad_field"),
    ({"callee": "1" * 300}, "bad_field"),
    ({"start_at": "yesterday"}, "bad_timestamp"),
    ({"disposition": "MAYBE"}, "unknown_disposition"),
    ({"revision": -1}, "bad_field"),
    ({"revision": True}, "bad_field"),
    ({"end_at": "2026-10-05T08:00:00Z"}, "negative_duration"),
    ({"end_at": "2026-10-05T09:00:05Z"}, "answer_after_end"),
    ({"account_id": ""}, "missing_accountcode"),
])
def test_a_bad_plain_cdr_is_refused_with_its_reason(change, code):
    parsed = _one({**GOOD, **change})
    assert parsed.cdr is None and parsed.rejected.code == code


def test_a_line_that_is_not_json_is_refused_and_the_next_one_still_read():
    parsed = list(read_plain_json("{oops\n" + json.dumps(GOOD), "carrier-a", ZoneInfo("UTC"), first_line=7))
    assert [(p.line, p.rejected.code if p.rejected else "ok") for p in parsed] == [(7, "bad_json"), (8, "ok")]


def test_a_hostile_json_record_nested_too_deeply_is_refused_not_raised():
    from streams.edge.freeswitch import read_json_cdrs

    deep = "[" * 100_000
    for reader in (read_plain_json, read_json_cdrs):
        parsed = list(reader(deep, "carrier-a", ZoneInfo("UTC")))
        assert [p.rejected.code for p in parsed] == ["bad_json"], reader.__name__


def test_a_call_outside_the_logs_time_bounds_is_refused_at_the_edge():
    parsed = _one({**GOOD, "start_at": "2999-10-05T09:00:01Z", "answer_at": None, "end_at": "2999-10-05T09:01:01Z"})
    assert parsed.cdr is None and parsed.rejected.code == "time_out_of_range"
