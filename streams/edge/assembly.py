"""Call assembly at the edge: the legs a switch writes for one call become one billed call.

Switches write more than one record for a call, and billing each would lose or double charges:

- **Asterisk** writes a row per attempt of a channel: a ``Dial`` that forks, or dials again,
  gives several rows with the same ``uniqueid`` (``sequence`` rising). Billing the first row
  that arrives, as a call key would, refuses the answered one as a conflict when the first was a
  0-second ``NO ANSWER`` attempt. The row that carries the talk time is billed: the most seconds
  from answer to hang-up, then an answered one, then the latest ``sequence``. A channel that
  talked more than once (it dialled again after a first answered call) is billed for each: the
  longest under the call's own key, each other one under ``<uniqueid>.<sequence>``.
- **FreeSWITCH** writes an A leg and, for a bridged call, a B leg naming it (``originator``).
  Both may carry the ``accountcode``. The call is billed once, on its A leg; a B leg without its
  A leg is refused (``b_leg_without_a_leg``), never billed as a call of its own.

The call key stays the billed record's own (carrier and ``uniqueid`` or A-leg ``uuid``), so a
re-ingested file is still a counted duplicate. Legs of one call are written close together, so
assembly holds a window of recent calls (``WINDOW_RECORDS``): memory stays bounded on any file.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Iterable, Iterator

from streams.edge.cdr import CdrRejected, Parsed

WINDOW_RECORDS = 10_000  # a call is complete once this many records have passed since its last leg


def assemble(records: Iterable[Parsed], window: int = WINDOW_RECORDS) -> Iterator[Parsed]:
    """Each call once, as the record that bills it (``legs`` counts its records); rejected records
    as they come."""
    open_calls: OrderedDict[str, tuple[int, list[Parsed]]] = OrderedDict()  # call -> (last seen, legs)
    for position, parsed in enumerate(records):
        if parsed.cdr is None or parsed.leg is None:
            yield parsed
            continue
        legs = open_calls.pop(parsed.leg.call, (0, []))[1]
        open_calls[parsed.leg.call] = (position, legs + [parsed])
        while open_calls and next(iter(open_calls.values()))[0] < position - window:
            yield from _call(open_calls.popitem(last=False)[1][1])
    while open_calls:
        yield from _call(open_calls.popitem(last=False)[1][1])


def _talk_ms(parsed: Parsed) -> int:
    cdr = parsed.cdr
    return 0 if cdr is None or cdr.answer_at_ms is None else cdr.end_at_ms - cdr.answer_at_ms


def _call(legs: list[Parsed]) -> list[Parsed]:
    billed = [p for p in legs if p.leg is not None and p.leg.billed]
    if not billed:
        first = legs[0]
        return [replace(first, cdr=None, legs=len(legs), rejected=CdrRejected(
            "b_leg_without_a_leg", f"B leg of call {first.leg.call if first.leg else '?'}: its A leg, which bills "
                                   "the call, was not among the records read"))]
    ranked = sorted(billed, key=lambda p: (_talk_ms(p), p.cdr.answer_at_ms is not None, p.leg.sequence), reverse=True)
    best, more = ranked[0], [p for p in ranked[1:] if _talk_ms(p) > 0]
    calls = [replace(best, legs=len(legs) - len(more))]
    for p in more:  # another talk period of the same channel: its own call, under a key of its own
        call_id = f"{p.cdr.call_id}.{p.leg.sequence}"
        calls.append(replace(p, legs=1, cdr=replace(p.cdr, call_id=call_id, event_id=f"{p.cdr.carrier_id}/{call_id}")))
    return calls
