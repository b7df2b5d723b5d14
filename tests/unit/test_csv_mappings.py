"""One CSV adapter, many layouts (streams/edge/csv_mapping.py, issue 18): the shipped mappings
read Asterisk cdr_custom (the Master.csv order) exactly as the native adapter does, FreeSWITCH
mod_cdr_csv, and Kamailio and OpenSIPS accounting exports; times from answer to hang-up with the
switch's own billed seconds (R1, R2); the account from the record or the directory (R9)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from projections.events import Direction, Disposition
from schemas.codec import EventCodec
from streams.edge.csv_mapping import MAPPINGS_DIR, Mapping, MappingError
from streams.edge.directory import NumberDirectory
from streams.edge.source import Source, parse_file

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "cdr"
NEW_YORK = ZoneInfo("America/New_York")
DIRECTORY = NumberDirectory.from_csv(SAMPLES / "directory.csv", "1")


def _parse(name: str, source: Source) -> list:
    return list(parse_file(SAMPLES / name, source, EventCodec()))


MASTER_COLUMNS = ("accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,duration,"
                  "billsec,disposition,amaflags,uniqueid,userfield,peeraccount,linkedid,sequence")
BY_NAME = """call_id_name = "uniqueid"
header = true
[columns]
accountcode = "accountcode"
caller = "src"
callee = "dst"
source = "channel"
trunk = "dstchannel"
start = "start"
answer = "answer"
end = "end"
billsec = "billsec"
disposition = "disposition"
call_id = "uniqueid"
sequence = "sequence"
[dispositions]
"ANSWERED" = "ANSWERED"
"NO ANSWER" = "NO_ANSWER"
"BUSY" = "BUSY"
"FAILED" = "FAILED"
"CONGESTION" = "FAILED"
"""


@pytest.mark.parametrize("name", ["asterisk-Master.csv", "asterisk-forked-Master.csv",
                                  "asterisk-no-accountcode-Master.csv", "asterisk-callcentre-inbound-Master.csv"])
def test_R1_R2_a_cdr_custom_file_with_a_header_reads_as_the_master_csv_order_does(name, tmp_path):
    """Columns found by name (cdr_custom with a header line) or by place (the shipped
    asterisk-master mapping, which the Master.csv tests of test_cdr_adapters.py pin): the same calls."""
    directory = DIRECTORY.overlaid_with(NumberDirectory.from_csv(SAMPLES / "directory-callcentre.csv", "1"))
    (tmp_path / "by-name.toml").write_text(BY_NAME)
    (tmp_path / name).write_text(MASTER_COLUMNS + "\n" + (SAMPLES / name).read_text())
    by_place = list(parse_file(SAMPLES / name, Source("asterisk-csv", "carrier-a", NEW_YORK, directory), EventCodec()))
    by_name = list(parse_file(tmp_path / name, Source("csv", "carrier-a", NEW_YORK, directory,
                                                      mapping=Mapping.load(str(tmp_path / "by-name.toml"))),
                              EventCodec()))
    assert [(p.cdr, p.legs) for p in by_name if p.cdr] == [(p.cdr, p.legs) for p in by_place if p.cdr]
    assert [(p.line - 1, p.rejected.code) for p in by_name if p.cdr is None] == [
        (p.line, p.rejected.code) for p in by_place if p.cdr is None]
    assert any(p.cdr for p in by_place)


def _calls(name: str, mapping: str) -> list:
    """The file's records in line order (assembly yields a rejected record before the calls it holds)."""
    parsed = _parse(name, Source("csv", "sw", ZoneInfo("UTC"), DIRECTORY, mapping=Mapping.load(mapping)))
    return sorted(parsed, key=lambda p: p.line)


def test_R1_freeswitch_mod_cdr_csv_bills_billsec_and_an_empty_answer_stamp_is_unanswered():
    parsed = _calls("freeswitch-cdr-csv-Master.csv", "freeswitch-cdr-csv")
    answered, unanswered = (p.cdr for p in parsed[:2])
    assert (answered.call_id, answered.account_id, answered.disposition) == (
        "5b9e2c34-4f0a-4b7a-9a4e-0c8b3f2d1a01", "acct-000001", Disposition.ANSWERED)
    assert (answered.end_at_ms - answered.answer_at_ms) // 1000 == 121
    assert unanswered.disposition is Disposition.NO_ANSWER and unanswered.answer_at_ms is None
    assert parsed[2].rejected.code == "missing_uuid", "the code a mod_json_cdr record without uuid gets too"


def test_R1_R9_kamailio_cdrs_start_at_the_answer_round_a_started_second_up_and_take_the_account_from_the_directory():
    parsed = _calls("kamailio-acc_cdrs.csv", "kamailio-acc-cdrs")
    first, zero = parsed[0].cdr, parsed[1].cdr
    assert (first.account_id, first.direction, first.answer_at_ms == first.start_at_ms) == (
        "acct-000001", Direction.OUTBOUND, True)
    assert first.end_at_ms - first.answer_at_ms == 122_000, "121.250 s: a started second is billed"
    assert zero.disposition is Disposition.NO_ANSWER
    assert (parsed[2].line, parsed[2].rejected.code) == (4, "unknown_number"), "the header is line 1"


def test_R1_opensips_cdrs_answer_after_the_setup_time_and_the_sip_code_is_the_disposition():
    parsed = _calls("opensips-acc.csv", "opensips-acc")
    answered, busy, cancelled = (p.cdr for p in parsed)
    assert answered.answer_at_ms - answered.start_at_ms == 4_000
    assert answered.end_at_ms - answered.answer_at_ms == 121_000
    assert (busy.disposition, cancelled.disposition) == (Disposition.BUSY, Disposition.NO_ANSWER)
    assert cancelled.account_id == "acct-000002"


def test_every_shipped_mapping_loads():
    names = sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml"))
    assert names == ["asterisk-master", "freeswitch-cdr-csv", "kamailio-acc-cdrs", "opensips-acc"]
    assert all(Mapping.load(name).columns for name in names)


@pytest.mark.parametrize("text,needle", [
    ("header = false\n", "no [columns] table"),
    ("[columns]\ncall_id = 1\n", "required"),
    ("[columns]\ncall_id = 1\ncaller = 2\ncallee = 3\nstart = 4\nanswer = 5\n", "an end or a billsec"),
    ("[columns]\ncall_id = 'x'\n", "index from 0"),
    ("[columns]\nwho = 1\n", "not one of"),
    ("times = 'lunar'\n[columns]\ncall_id = 1\ncaller = 2\ncallee = 3\nstart = 4\nanswer = 5\nend = 6\n", "times"),
    ("[columns]\ncall_id = 1\ncaller = 2\ncallee = 3\nstart = 4\nanswer = 5\nend = 6\n[dispositions]\nOK = 'FINE'\n",
     "dispositions map"),
    ("[columns\n", "not a TOML mapping"),
])
def test_a_bad_mapping_is_one_clear_error(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(MappingError, match=needle.replace("[", r"\[")):
        Mapping.load(str(path))


def test_the_cli_refuses_a_bad_mapping_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "ingest", "--format", "csv", "--mapping", "nope",
                           "--carrier", "c", "--dry-run", str(SAMPLES / "opensips-acc.csv")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--mapping: nope: cannot read the mapping" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_R1_real_master_csv_shapes_an_unquoted_empty_answer_and_17_columns_with_pjsip_channels():
    directory = NumberDirectory({"1001": "acct-reception"}, "1")
    parsed = _parse("asterisk-shapes-Master.csv", Source("asterisk-csv", "pbx", ZoneInfo("UTC"), directory))
    unanswered, answered = sorted((p.cdr for p in parsed), key=lambda c: c.start_at_ms)
    assert unanswered.disposition is Disposition.NO_ANSWER and unanswered.answer_at_ms is None
    assert answered.end_at_ms - answered.answer_at_ms == 192_000 and answered.trunk == "PJSIP/trunk-endpoint"
    assert answered.account_id == "acct-reception" and answered.direction is Direction.OUTBOUND
