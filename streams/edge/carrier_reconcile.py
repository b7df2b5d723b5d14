"""Carrier reconciliation: a carrier's own CDR file against our call log, as dispute evidence.

``voiceledger carrier-reconcile --carrier ID --format FMT FILE... --from DATE --to DATE`` parses
the carrier's records with the same adapters as ``ingest`` (so the same call keys), reads our
call log for that carrier and period (``FINAL``), and reports:

- calls in their file but not in our log (they may bill us for calls we never rated);
- calls in our log but not in their file;
- calls on both sides whose start differs by more than ``start_tolerance_s`` or whose billable
  duration (answer to hang-up, R1) differs by more than ``duration_tolerance_s``, with both
  values and our charge, so the difference can be priced.

Matching is by call key (carrier + the carrier's call id). The pure part is ``compare``; the
exit status is 1 when anything differs beyond the tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from schemas.codec import EventCodec
from streams.edge.source import Source, parse_file


@dataclass(frozen=True, slots=True)
class CallSide:
    call_key: str
    start_s: int
    duration_s: int  # answer to hang-up; 0 when unanswered
    charge_micros: int = 0  # ours only


@dataclass
class CarrierComparison:
    matched: int = 0
    only_theirs: list[CallSide] = field(default_factory=list)
    only_ours: list[CallSide] = field(default_factory=list)
    differing: list[tuple[CallSide, CallSide]] = field(default_factory=list)  # (theirs, ours)

    @property
    def clean(self) -> bool:
        return not (self.only_theirs or self.only_ours or self.differing)

    def lines(self) -> list[str]:
        out = [f"matched {self.matched} calls; {len(self.only_theirs)} only in the carrier's file, "
               f"{len(self.only_ours)} only in our call log, {len(self.differing)} beyond the tolerances"]
        out += [f"only theirs\t{c.call_key}\tstart {c.start_s}\tduration {c.duration_s} s" for c in self.only_theirs]
        out += [f"only ours\t{c.call_key}\tstart {c.start_s}\tduration {c.duration_s} s\tcharged {c.charge_micros}"
                for c in self.only_ours]
        out += [f"differs\t{t.call_key}\tstart theirs {t.start_s} ours {o.start_s}\tduration theirs {t.duration_s} s "
                f"ours {o.duration_s} s\tcharged {o.charge_micros}" for t, o in self.differing]
        return out


def compare(theirs: list[CallSide], ours: list[CallSide], start_tolerance_s: int = 2,
            duration_tolerance_s: int = 1) -> CarrierComparison:
    result = CarrierComparison()
    ours_by_key = {c.call_key: c for c in ours}
    seen: set[str] = set()
    for t in sorted(theirs, key=lambda c: c.call_key):
        if t.call_key in seen:  # a carrier listing a call twice is one call
            continue
        seen.add(t.call_key)
        o = ours_by_key.get(t.call_key)
        if o is None:
            result.only_theirs.append(t)
        elif abs(t.start_s - o.start_s) > start_tolerance_s or abs(t.duration_s - o.duration_s) > duration_tolerance_s:
            result.differing.append((t, o))
        else:
            result.matched += 1
    result.only_ours = sorted((o for k, o in ours_by_key.items() if k not in seen), key=lambda c: c.call_key)
    return result


def theirs_in_window(paths: list[Path], fmt: str, carrier_id: str, zone: ZoneInfo,
                     bounds: list[int]) -> tuple[list[CallSide], int]:
    """The carrier's calls that start in [bounds[0], bounds[1]) (epoch seconds), parsed as
    ``ingest`` parses them, and how many records could not be parsed."""
    theirs, unreadable = [], 0
    for path in paths:
        for parsed in parse_file(path, Source(fmt, carrier_id, zone), EventCodec()):
            if parsed.cdr is None:
                unreadable += 1
                continue
            c = parsed.cdr
            if bounds[0] <= c.start_at_ms // 1000 < bounds[1]:
                answered = 0 if c.answer_at_ms is None else (c.end_at_ms - c.answer_at_ms) // 1000
                theirs.append(CallSide(c.call_key, c.start_at_ms // 1000, answered))
    return theirs, unreadable
