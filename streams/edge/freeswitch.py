"""FreeSWITCH ``mod_json_cdr`` records to ``CallDetailRecord`` events.

mod_json_cdr writes one JSON object per call leg (one file per call, or an HTTP POST). The
fields used are under ``variables`` (values may be URL-encoded, as FreeSWITCH writes them):

- ``uuid``: the leg's unique id, the call key for dedup;
- ``accountcode``: the ledger account;
- ``caller_id_number`` / ``destination_number`` (else the first ``callflow`` caller profile);
- times: ``start_uepoch``/``answer_uepoch``/``end_uepoch`` (UTC microseconds) when present,
  else ``*_epoch`` (UTC seconds), else ``start_stamp``/``answer_stamp``/``end_stamp``, local
  wall times with no zone, read in the carrier's zone. An epoch of 0 means "never happened";
- ``billsec``: answer to hang-up in whole seconds (R1), billed exactly as the switch counted it
  (the answer time must agree with ``end - billsec`` to within a second);
- ``hangup_cause``: for unanswered legs, ``USER_BUSY`` is BUSY; ``NO_ANSWER``,
  ``NO_USER_RESPONSE``, ``ORIGINATOR_CANCEL`` and ``ALLOTTED_TIMEOUT`` are NO_ANSWER; anything
  else is FAILED;
- ``sip_gateway_name``: the trunk;
- ``originator`` (``originating_leg_uuid`` in older versions): set on a B leg, the uuid of the A
  leg that created it. A bridged call writes both legs, often both with the ``accountcode``; the
  call is billed once, on its A leg (``streams/edge/assembly.py``).

A file may hold one JSON object, a JSON array of them, or one object per line (JSON Lines).
"""

from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from projections.events import CallDetailRecord, Disposition
from projections.validation import InvalidEvent, check_bounds, validate_cdr
from streams.edge.cdr import CdrRejected, Leg, Parsed, json_value, local_ms
from streams.edge.directory import NumberDirectory, owner_of

NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL", "ALLOTTED_TIMEOUT"})
BILLSEC_TOLERANCE_MS = 1_000


def _var(variables: dict, name: str) -> str:
    value = variables.get(name)
    return "" if value is None else unquote(str(value)).strip()


def _time_ms(variables: dict, stem: str, zone: ZoneInfo) -> int | None:
    """A leg time (``start``, ``answer``, ``end``) in epoch ms, or None if it never happened."""
    for suffix, scale in (("_uepoch", None), ("_epoch", 1000)):
        text = _var(variables, stem + suffix)
        if text:
            try:
                value = int(text)
            except ValueError:
                raise CdrRejected("bad_timestamp", f"{stem}{suffix} {text!r} is not an integer") from None
            if value == 0:
                return None
            return value // 1000 if scale is None else value * scale
    stamp = _var(variables, stem + "_stamp")
    return local_ms(stamp, zone, stem + "_stamp") if stamp else None


def _profile(record: dict) -> dict:
    flows = record.get("callflow")
    if isinstance(flows, list) and flows and isinstance(flows[0], dict):
        return flows[0].get("caller_profile") or {}
    if isinstance(flows, dict):
        return flows.get("caller_profile") or {}
    return {}


def parse_record(record: Any, carrier_id: str, zone: ZoneInfo,
                 directory: NumberDirectory | None = None) -> CallDetailRecord:
    """One JSON CDR object. Raises ``CdrRejected`` with a reason code."""
    if not isinstance(record, dict) or not isinstance(record.get("variables"), dict):
        raise CdrRejected("missing_variables", "not a mod_json_cdr object (no \"variables\")")
    v = record["variables"]
    uuid = _var(v, "uuid")
    if not uuid:
        raise CdrRejected("missing_uuid", "no variables.uuid (the call key)")
    profile = _profile(record)
    caller = _var(v, "caller_id_number") or str(profile.get("caller_id_number", "")).strip()
    callee = _var(v, "destination_number") or str(profile.get("destination_number", "")).strip()
    if not callee:
        raise CdrRejected("missing_destination", f"leg {uuid} has no destination_number")
    account_id, direction = owner_of(directory, _var(v, "accountcode"), caller, callee, _var(v, "sip_gateway_name"),
                                     f"leg {uuid}")
    start = _time_ms(v, "start", zone)
    end = _time_ms(v, "end", zone)
    if start is None or end is None:
        raise CdrRejected("bad_timestamp", f"leg {uuid} has no start or end time")
    answer = _time_ms(v, "answer", zone)
    billsec_text = _var(v, "billsec") or "0"
    try:
        billsec = int(billsec_text)
    except ValueError:
        raise CdrRejected("bad_number", f"billsec {billsec_text!r} is not whole seconds") from None
    if answer is not None:
        if abs((end - answer) - billsec * 1000) > BILLSEC_TOLERANCE_MS:
            raise CdrRejected("billsec_mismatch", f"leg {uuid}: answer..end is {(end - answer) // 1000} s "
                                                  f"but billsec is {billsec} s")
        answer = end - billsec * 1000  # bill exactly what the switch billed
        disposition = Disposition.ANSWERED
    else:
        cause = _var(v, "hangup_cause").upper()
        disposition = (Disposition.BUSY if cause == "USER_BUSY" else
                       Disposition.NO_ANSWER if cause in NO_ANSWER_CAUSES else Disposition.FAILED)
    cdr = CallDetailRecord(
        event_id=f"{carrier_id}/{uuid}", carrier_id=carrier_id, call_id=uuid, account_id=account_id,
        caller=caller, callee=callee, start_at_ms=start, answer_at_ms=answer, end_at_ms=end,
        disposition=disposition, direction=direction, trunk=_var(v, "sip_gateway_name"),
    )
    try:
        check_bounds(cdr)  # the log's own bounds at the edge: a call dated 9999 never reaches a worker
        validate_cdr(cdr)
    except InvalidEvent as exc:
        raise CdrRejected(exc.code, str(exc)) from None
    return cdr


def read_json_cdrs(text: str, carrier_id: str, zone: ZoneInfo,
                   directory: NumberDirectory | None = None, first_line: int = 1) -> Iterator[Parsed]:
    """Every JSON CDR in a file: one object, an array of objects, or one object per line."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = json_value(stripped)
    except CdrRejected:
        whole = None  # not one JSON document: read it as JSON Lines
    if whole is not None:
        records = whole if isinstance(whole, list) else [whole]
        for number, record in enumerate(records, start=first_line):
            raw = json.dumps(record, separators=(",", ":"))
            yield _parse(number, raw, record, carrier_id, zone, directory)
        return
    for number, line in enumerate(text.splitlines(), start=first_line):
        if not line.strip():
            continue
        try:
            record = json_value(line)
        except CdrRejected as exc:
            yield Parsed(number, line, None, exc)
            continue
        yield _parse(number, line, record, carrier_id, zone, directory)


def _parse(number: int, raw: str, record: Any, carrier_id: str, zone: ZoneInfo,
           directory: NumberDirectory | None = None) -> Parsed:
    try:
        cdr = parse_record(record, carrier_id, zone, directory)
    except CdrRejected as exc:
        return Parsed(number, raw, None, exc)
    return Parsed(number, raw, cdr, None, leg_of(record["variables"], cdr.call_id, number))


def leg_of(variables: dict, uuid: str, number: int) -> Leg:
    """A B leg names the A leg that originated it (``originator``, or ``originating_leg_uuid`` in
    older versions): it belongs to that call, which is billed on the A leg's record."""
    a_leg = _var(variables, "originator") or _var(variables, "originating_leg_uuid")
    return Leg(a_leg, False, number) if a_leg and a_leg != uuid else Leg(uuid, True, number)
