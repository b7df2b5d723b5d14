"""Asterisk ``cdr_csv`` (Master.csv) records to ``CallDetailRecord`` events.

Master.csv has no header. Its columns, in order (Asterisk ``cdr_csv``):

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
    start, answer, end, duration, billsec, disposition, amaflags, [uniqueid], [userfield], ...

``uniqueid`` is written when ``loguniqueid=yes``; it is the call key for dedup, so a record
without it is refused (a billing ledger cannot tell a re-sent call from a new one without it).
With ``newcdrcolumns=yes`` three more follow ``userfield``: ``peeraccount``, ``linkedid`` and
``sequence`` (Asterisk's ``cdr/cdr_csv.c``). One channel that forks a ``Dial`` or dials more than
once writes several rows with the same ``uniqueid`` and rising ``sequence``: they are legs of one
call, assembled before rating (``streams/edge/assembly.py``), and the leg that carries the talk
time is billed.

- ``accountcode`` is the ledger account; ``src`` the caller, ``dst`` the callee.
- ``start``/``answer``/``end`` are ``YYYY-MM-DD HH:MM:SS`` with no zone: the carrier's zone
  applies (``usegmtime=yes`` writes UTC; pass ``UTC`` then).
- ``duration`` runs from start to hang-up, ``billsec`` from answer to hang-up (R1). The ledger
  bills ``billsec``: the answer time is taken from the ``answer`` column, and must agree with
  ``end - billsec`` to within a second (Asterisk rounds each independently), else the record is
  refused as inconsistent. If ``answer`` is empty on an answered call, ``end - billsec`` is used.
- ``disposition``: ``ANSWERED``, ``NO ANSWER``, ``BUSY``, ``FAILED``, and ``CONGESTION``
  (newer versions), which is billed like ``FAILED``: not at all.
"""

from __future__ import annotations

import csv
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from projections.events import CallDetailRecord, Disposition
from projections.validation import InvalidEvent, validate_cdr
from streams.edge.cdr import CdrRejected, Leg, Parsed, local_ms
from streams.edge.directory import NumberDirectory, owner_of

COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
           "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
           "uniqueid", "userfield", "peeraccount", "linkedid", "sequence")
UNIQUEID = COLUMNS.index("uniqueid")
SEQUENCE = COLUMNS.index("sequence")
DISPOSITIONS = {
    "ANSWERED": Disposition.ANSWERED,
    "NO ANSWER": Disposition.NO_ANSWER,
    "BUSY": Disposition.BUSY,
    "FAILED": Disposition.FAILED,
    "CONGESTION": Disposition.FAILED,
}
BILLSEC_TOLERANCE_MS = 1_000  # answer and billsec are each rounded to the second


def _trunk(dstchannel: str) -> str:
    """``SIP/carrier-a-0000001f`` -> ``SIP/carrier-a``: the peer, without the channel sequence."""
    head, sep, tail = dstchannel.rpartition("-")
    return head if sep and tail and all(c in "0123456789abcdef" for c in tail.lower()) else dstchannel


def parse_record(fields: list[str], carrier_id: str, zone: ZoneInfo,
                 directory: NumberDirectory | None = None) -> CallDetailRecord:
    """One Master.csv record. Raises ``CdrRejected`` with a reason code."""
    if len(fields) <= UNIQUEID:
        raise CdrRejected("missing_uniqueid", f"{len(fields)} columns; cdr_csv needs loguniqueid=yes "
                                              f"(the uniqueid column is the call key)")
    row = dict(zip(COLUMNS, fields))
    uniqueid = row["uniqueid"].strip()
    if not uniqueid:
        raise CdrRejected("missing_uniqueid", "empty uniqueid (the call key)")
    trunk = _trunk(row["dstchannel"].strip())
    # Without an account code: the caller's number, the rented number called (an inbound call),
    # or the peer the call came from (the customer's trunk: the source channel, SIP/pbx-acme).
    account_id, direction = owner_of(directory, row["accountcode"].strip(), row["src"].strip(), row["dst"].strip(),
                                     _trunk(row["channel"].strip()), f"call {uniqueid}")
    disposition = DISPOSITIONS.get(row["disposition"].strip().upper())
    if disposition is None:
        raise CdrRejected("unknown_disposition", f"disposition {row['disposition']!r}")
    try:
        billsec = int(row["billsec"])
        int(row["duration"])
    except ValueError:
        raise CdrRejected("bad_number", f"duration {row['duration']!r} / billsec {row['billsec']!r} "
                                        "are not whole seconds") from None
    start = local_ms(row["start"], zone, "start")
    end = local_ms(row["end"], zone, "end")
    answer = local_ms(row["answer"], zone, "answer") if row["answer"].strip() else None
    if disposition is Disposition.ANSWERED:
        if answer is None:
            answer = end - billsec * 1000
        elif abs((end - answer) - billsec * 1000) > BILLSEC_TOLERANCE_MS:
            raise CdrRejected("billsec_mismatch", f"call {uniqueid}: answer..end is {(end - answer) // 1000} s "
                                                  f"but billsec is {billsec} s")
        else:
            answer = end - billsec * 1000  # bill exactly what the switch billed
    else:
        answer = None  # an answer time on an unanswered call is noise from the switch
    cdr = CallDetailRecord(
        event_id=f"{carrier_id}/{uniqueid}", carrier_id=carrier_id, call_id=uniqueid,
        account_id=account_id, caller=row["src"].strip(), callee=row["dst"].strip(),
        start_at_ms=start, answer_at_ms=answer, end_at_ms=end, disposition=disposition,
        direction=direction, trunk=trunk,
    )
    try:
        validate_cdr(cdr)
    except InvalidEvent as exc:
        raise CdrRejected(exc.code, str(exc)) from None
    return cdr


def _sequence(fields: list[str], line: int) -> int:
    """The row's ``sequence`` (newcdrcolumns), else its line: the order of a channel's attempts."""
    text = fields[SEQUENCE].strip() if len(fields) > SEQUENCE else ""
    return int(text) if text.isdigit() else line


def read_master_csv(lines: Iterable[str], carrier_id: str, zone: ZoneInfo,
                    directory: NumberDirectory | None = None, first_line: int = 1) -> Iterator[Parsed]:
    """Every record of a Master.csv, in order, each parsed or rejected with its line number.

    One record per line (cdr_csv writes no embedded newlines), so a rejected record's dead
    letter carries its line exactly as it was.
    """
    for number, line in enumerate(lines, start=first_line):
        raw = line.rstrip("\r\n")
        if not raw.strip():
            continue
        try:
            (fields,) = csv.reader([raw])
            cdr = parse_record(fields, carrier_id, zone, directory)
            yield Parsed(number, raw, cdr, None, Leg(cdr.call_id, True, _sequence(fields, number)))
        except csv.Error as exc:
            yield Parsed(number, raw, None, CdrRejected("bad_csv", str(exc)))
        except CdrRejected as exc:
            yield Parsed(number, raw, None, exc)
