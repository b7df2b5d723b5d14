"""Asterisk ``cdr_csv`` (Master.csv) records to ``CallDetailRecord`` events: the CSV adapter
(``streams/edge/csv_mapping.py``) with the shipped ``asterisk-master`` mapping, which says where
each column is; the rules below are the mapping's and the adapter's.

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

from functools import lru_cache
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from streams.edge.cdr import Parsed
from streams.edge.csv_mapping import Mapping, read_mapped_csv
from streams.edge.directory import NumberDirectory


@lru_cache(maxsize=1)
def master_mapping() -> Mapping:
    return Mapping.load("asterisk-master")


def read_master_csv(lines: Iterable[str], carrier_id: str, zone: ZoneInfo,
                    directory: NumberDirectory | None = None, first_line: int = 1) -> Iterator[Parsed]:
    """Every record of a Master.csv, in order, each parsed or rejected with its line number.

    One record per line (cdr_csv writes no embedded newlines), so a rejected record's dead
    letter carries its line exactly as it was.
    """
    return read_mapped_csv(lines, master_mapping(), carrier_id, zone, directory, first_line)
