"""The plain JSON CDR: one call as any system can write it, for switches without a native
adapter and for scripts (``POST /cdr/json`` on the receiver, ``--format plain-json`` for files).

One object per call (a file holds JSON Lines)::

    {"call_id": "c-1", "caller": "+15550000001", "callee": "+442071234567",
     "start_at": "2026-10-05T09:00:01Z", "answer_at": "2026-10-05T09:00:09Z",
     "end_at": "2026-10-05T09:04:19Z"}

- ``call_id`` (required): the source's unique id; with the carrier, the call key;
- ``caller``, ``callee`` (required): numbers as dialled;
- ``start_at``, ``end_at`` (required), ``answer_at`` (null or absent when unanswered): ISO 8601;
  a time without an offset is read in the carrier's zone;
- ``disposition``: ``ANSWERED``, ``NO_ANSWER``, ``BUSY`` or ``FAILED``; by default ``ANSWERED``
  with an answer time, else ``NO_ANSWER``;
- ``account_id``: the ledger account; when absent, the number directory decides who pays and
  the direction (``streams/edge/directory.py``);
- ``trunk``: the trunk or peer; ``revision``: > 0 for a correction (projections/corrections.py).

Anything else is ignored; a wrong type or a missing field refuses the record with its reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from projections.events import CallDetailRecord, Disposition
from projections.validation import InvalidEvent, check_bounds, validate_cdr
from streams.edge.cdr import CdrRejected, Leg, Parsed, json_value
from streams.edge.directory import NumberDirectory, owner_of

TEXT_MAX = 256  # any text field: an id, a number, a trunk
DISPOSITIONS = {d.value: d for d in Disposition}


def _text(record: dict, name: str, required: bool = True) -> str:
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise CdrRejected("missing_field", f"no {name}")
        return ""
    if not isinstance(value, str) or len(value) > TEXT_MAX:
        raise CdrRejected("bad_field", f"{name} must be text of at most {TEXT_MAX} characters")
    return value.strip()


def _time_ms(record: dict, name: str, zone: ZoneInfo, required: bool = True) -> int | None:
    text = _text(record, name, required)
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CdrRejected("bad_timestamp", f"{name} {text!r} is not ISO 8601") from None
    return int((at if at.tzinfo else at.replace(tzinfo=zone)).timestamp() * 1000)


def _disposition(record: dict, answered: bool) -> Disposition:
    text = _text(record, "disposition", required=False).upper()
    if not text:
        return Disposition.ANSWERED if answered else Disposition.NO_ANSWER
    if text not in DISPOSITIONS:
        raise CdrRejected("unknown_disposition", f"disposition {text[:40]!r}")
    return DISPOSITIONS[text]


def parse_record(record: Any, carrier_id: str, zone: ZoneInfo,
                 directory: NumberDirectory | None = None) -> CallDetailRecord:
    """One plain JSON CDR. Raises ``CdrRejected`` with a reason code."""
    if not isinstance(record, dict):
        raise CdrRejected("bad_json", "a CDR is a JSON object")
    call_id, caller, callee = _text(record, "call_id"), _text(record, "caller"), _text(record, "callee")
    trunk = _text(record, "trunk", required=False)
    account_id, direction = owner_of(directory, _text(record, "account_id", required=False), caller, callee, trunk,
                                     f"call {call_id}")
    revision = record.get("revision", 0)
    if type(revision) is not int or not 0 <= revision <= 1_000_000:
        raise CdrRejected("bad_field", "revision must be a whole number from 0 to 1000000")
    answer = _time_ms(record, "answer_at", zone, required=False)
    cdr = CallDetailRecord(
        event_id=f"{carrier_id}/{call_id}", carrier_id=carrier_id, call_id=call_id, account_id=account_id,
        caller=caller, callee=callee, start_at_ms=_time_ms(record, "start_at", zone), answer_at_ms=answer,
        end_at_ms=_time_ms(record, "end_at", zone), disposition=_disposition(record, answer is not None),
        direction=direction, trunk=trunk, revision=revision)
    try:
        check_bounds(cdr)  # the log's own bounds at the edge: a call dated 9999 never reaches a worker
        validate_cdr(cdr)
    except InvalidEvent as exc:
        raise CdrRejected(exc.code, str(exc)) from None
    return cdr


def read_plain_json(text: str, carrier_id: str, zone: ZoneInfo, directory: NumberDirectory | None = None,
                    first_line: int = 1) -> Iterator[Parsed]:
    """Every CDR of JSON Lines text (a call per line), parsed or rejected with its line number."""
    for number, line in enumerate(text.splitlines(), start=first_line):
        if not line.strip():
            continue
        try:
            cdr = parse_record(json_value(line), carrier_id, zone, directory)
        except CdrRejected as exc:
            yield Parsed(number, line, None, exc)
        else:
            yield Parsed(number, line, cdr, None, Leg(cdr.call_id, True, number))
