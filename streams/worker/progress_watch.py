"""Stall detection: a partition with records waiting whose position does not move.

faust-streaming 0.15.3 on Tansu sometimes stops fetching some of a worker's partitions after a
rebalance that lands during table recovery. Seen in CI: a worker joined generation 2, was asked
to re-join five seconds later, recovered, and never delivered two of its four partitions again;
nothing was logged and the lag stayed put for minutes. The consumer's own view
(``highwater()``) stays empty for a partition it never fetched, so the watch must not rely on it.

So the worker asks the broker for the log end of each partition it owns and compares it with its
own position there: the record after the last one it applied, or, before any record arrived, the
group's committed offset. A partition behind its log end whose position has not moved for
``stall_seconds`` is stalled; the worker then exits with code 75 and the supervisor's restart
reads again from the committed offset (nothing is lost: the fold skips what it applied).

The second stall is on the commit side: records processed after the group's committed offset
while that offset does not catch up (Faust's ``_committed_offset`` was empty there, so only the
broker's view shows it). ``CommitWatch`` covers it.

This module is the pure part (no clock, no Kafka): the caller passes the time and the offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ProgressWatch:
    """Per partition, since when its position has stayed the same while records waited."""

    stall_seconds: float
    _since: dict[int, tuple[int, float]] = field(default_factory=dict)  # partition -> (position, since)

    def observe(self, partition: int, position: int, end: int, now: float) -> str | None:
        """Why ``partition`` is stalled at ``now``, or None while it is caught up or moving."""
        if position >= end:
            self._since.pop(partition, None)
            return None
        seen = self._since.get(partition)
        if seen is None or seen[0] != position:
            self._since[partition] = (position, now)
            return None
        waited = now - seen[1]
        if waited < self.stall_seconds:
            return None
        return (f"records {position}..{end - 1} wait but its position has not moved "
                f"for {waited:.0f} s")

    def forget(self, partitions: set[int]) -> None:
        """Partitions revoked by a rebalance."""
        for p in partitions:
            self._since.pop(p, None)

    def restart_clocks(self) -> None:
        """Time that does not count: table recovery pauses every partition on purpose."""
        self._since.clear()


@dataclass
class CommitWatch:
    """Per partition, whether the group's committed offset reaches what this worker processed.

    A committed offset that merely moves is not enough: Faust was seen committing one offset per
    commit interval (``streams/worker/faust_patches.py``), minutes behind the processed position. So
    the watch remembers a target (the position processed at some moment) and reports a stall
    when the committed offset has not reached it ``stall_seconds`` later. Under steady load the
    committed offset trails the newest record by a batch or so, but it passes every target
    within a commit interval or two, and each time a new target is taken.
    """

    stall_seconds: float
    _target: dict[int, tuple[int, float]] = field(default_factory=dict)  # partition -> (offset, since)

    def observe(self, partition: int, committed: int, processed: int, now: float) -> str | None:
        if committed >= processed:
            self._target.pop(partition, None)
            return None
        target = self._target.get(partition)
        if target is None or committed >= target[0]:
            self._target[partition] = (processed, now)
            return None
        waited = now - target[1]
        if waited < self.stall_seconds:
            return None
        return f"the committed offset {committed} has not reached offset {target[0]}, processed {waited:.0f} s ago"

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self._target.pop(p, None)

    def restart_clocks(self) -> None:
        self._target.clear()
