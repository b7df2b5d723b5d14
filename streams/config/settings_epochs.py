"""Which version of the fold's settings folds each event: the one rule a worker and a rebuild share.

A change accepted in force (``voiceledger settings accept``, with the group stopped) starts, in
each partition of the events topic, at the offset ``accept`` records there (a ``SettingsStart``:
the group's committed offset or the partition's end, whichever is later, so everything folded
before it was folded by the version it replaces). So an event at offset ``o`` of partition ``p``
is folded with:

- the version the first start of ``p`` after ``o`` replaced (``previous_digest``), read back whole
  from its record (``settings_record.py``), when there is such a start;
- the settings at hand otherwise (``None``): after the last start, and everywhere in a log with
  no accepted change. Versions taken without acceptance (dated changes) change nothing already
  folded, so the last version before an accepted one stands for every one since the start before.

A live worker and a rebuild apply the same rule, so a rebuild folds each part of the log with the
settings live folded it with, and equals live after an accepted change too. A worker restarted
after a crash folds the events it had not applied below a start with the old version, as the
rebuild will. A version recorded before versions kept their settings whole cannot be read back:
its epoch is folded with the settings at hand, as before (``unknown``). Pure.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Iterable

from projections.account import FoldSettings
from streams.config.settings_record import unpacked


@dataclass(frozen=True)
class Epochs:
    """Per partition, the starts in offset order and, for each, the settings of the events before
    it (``None``: not kept whole, the settings at hand fold them)."""

    starts: dict[int, tuple[int, ...]] = field(default_factory=dict)
    before: dict[int, tuple[FoldSettings | None, ...]] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()  # digests whose epoch is folded with the settings at hand

    def epoch(self, partition: int, offset: int) -> int:
        """How many of the partition's starts are at or before ``offset``."""
        starts = self.starts.get(partition)
        return 0 if not starts else bisect.bisect_right(starts, offset)

    def settings_at(self, partition: int, offset: int) -> FoldSettings | None:
        """The settings that fold this event; ``None``: the settings at hand."""
        starts = self.starts.get(partition)
        if not starts:
            return None
        n = bisect.bisect_right(starts, offset)
        return None if n == len(starts) else self.before[partition][n]

    def runs(self, messages: list) -> list[tuple[list, FoldSettings | None]]:
        """``messages`` (each with ``partition`` and ``offset``) in runs folded with one settings
        each, oldest epoch first; each partition's messages stay in their order. One run of all
        of them, ``None``, in a log with no accepted change or once every partition is past its
        last start (the common case costs a look per message)."""
        if not self.starts:
            return [(messages, None)]
        by_epoch: dict[tuple[int, int], tuple[list, FoldSettings | None]] = {}
        for m in messages:
            n = self.epoch(m.partition, m.offset)
            starts = self.starts.get(m.partition, ())
            chosen = None if n == len(starts) else self.before[m.partition][n]
            # Ordered by epoch across partitions (every accept starts in each one), then by the
            # settings themselves: runs of one epoch in two partitions with other settings apart.
            key = (n - len(starts), id(chosen))
            by_epoch.setdefault(key, ([], chosen))[0].append(m)
        return [by_epoch[k] for k in sorted(by_epoch)]


def epochs_of(versions: Iterable[dict], starts: Iterable[dict]) -> Epochs:
    """The rule's table from the settings topic's versions and starts (in topic order)."""
    whole: dict[str, FoldSettings | None] = {}
    for v in versions:  # the latest record of a digest that keeps the settings whole
        blob = v.get("fold_settings") or b""
        if blob:
            whole[v["digest"]] = _read(blob)
        else:
            whole.setdefault(v["digest"], None)
    by_partition: dict[int, list[tuple[int, int, Any]]] = {}
    for order, s in enumerate(starts):
        by_partition.setdefault(s["partition"], []).append((s["first_offset"], order, s["previous_digest"]))
    unknown = sorted({d for rows in by_partition.values() for _, _, d in rows if whole.get(d) is None})
    ordered = {p: sorted(rows) for p, rows in by_partition.items()}
    return Epochs({p: tuple(o for o, _, _ in rows) for p, rows in ordered.items()},
                  {p: tuple(whole.get(d) for _, _, d in rows) for p, rows in ordered.items()}, tuple(unknown))


def _read(blob: bytes) -> FoldSettings | None:
    try:
        return unpacked(bytes(blob))
    except ValueError:
        return None  # a record off the log that does not read back: its epoch as if not kept
