"""The worker's watchdog: a partition that cannot make progress ends the process (exit 75).

faust-streaming 0.15.3 sometimes (after restarts on Tansu, several times a run on a slow
machine) stops making progress on a partition: it holds acked offsets it can never commit (its
``_new_offset`` refuses a gap of more than one un-acked record), or it stops fetching a
partition that has records waiting (``streams/worker/progress_watch.py``). The worker then idles
with its lag stuck. The watchdog sees both from the broker (log ends and the group's committed
offsets against what this worker processed), for the events partitions and the numbering
topic's one partition, and exits once either lasts ``COMMIT_STALL_SECONDS``; the restart reads
from the committed offset, the fold skips what it already applied, and the partition moves again.

It also bounds how long one batch part may take to be written: past ``batch_stuck_seconds``
``/healthz`` answers unhealthy, and past ``batch_stuck_exit_seconds`` the worker exits (75) for
its supervisor. ClickHouse inserts retry for about 30 s and then fail on their own, but a server
that hangs without closing the connection (frozen, or a network that drops packets) holds an
insert for the driver's own timeout, minutes per attempt; the batch waits in another thread, so
the event loop, and this watchdog, still run.

It also stamps the event loop as alive for ``/healthz`` and answers ``/readyz``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Callable, NoReturn

from faust.types import TP

from streams.config.settings import Settings
from streams.http.ops import STALE_S
from streams.kafka.admin import beginning_offsets, committed_offsets
from streams.worker.exits import exit_for_replay
from streams.worker.in_order import InOrderGuard
from streams.worker.progress_watch import CommitWatch, ProgressWatch

log = logging.getLogger("voiceledger.worker")

WATCHDOG_INTERVAL_SECONDS = 5.0
COMMIT_STALL_SECONDS = 20.0
# Longest the watchdog waits out Faust's recovery or rebalancing flags before it checks anyway.
# A large changelog may take longer to restore; a false stall costs one restart, nothing else.
PAUSE_MAX_SECONDS = 300.0
STATUS_LOG_SECONDS = 60.0  # what the watch sees, logged this often
LAG_LOG_SECONDS = 30.0


class Watchdog:
    def __init__(self, app: Any, settings: Settings, guard: InOrderGuard, numbering_next_offset: Callable[[], int | None],
                 busy_since: Callable[[], float | None], exit_process: Callable[[int], NoReturn] = os._exit) -> None:
        self.app = app  # the Faust app: its consumer's assignment and log ends, its recovery flags
        self.settings = settings
        self.guard = guard  # what this worker processed of each events partition
        self.numbering_next_offset = numbering_next_offset
        # When the batch part being written began (monotonic), None when idle: a batch may take
        # long (ClickHouse retries), so the progress checks wait for it, up to the stuck bounds.
        self.busy_since = busy_since
        self.exit_process = exit_process
        self.delivery = ProgressWatch(COMMIT_STALL_SECONDS)
        self.commits = CommitWatch(COMMIT_STALL_SECONDS)  # the group's committed offset reaches what we processed
        self.numbering_delivery = ProgressWatch(COMMIT_STALL_SECONDS)
        self.numbering_commits = CommitWatch(COMMIT_STALL_SECONDS)
        self.alive_at = time.monotonic()
        self._paused_since: float | None = None
        self._status_logged_at = 0.0
        self._show_positions = False
        self._start_positions: dict[int, int] = {}  # partition -> where it started, until a batch holds it
        self._lag_logged_at: dict[int, float] = {}

    async def tick(self) -> None:
        """One look (every ``WATCHDOG_INTERVAL_SECONDS``); exits 75 if a partition is stalled."""
        now = self.alive_at = time.monotonic()
        self._log_status(now)
        since = self.busy_since()
        if since is not None and now - since > self.settings.batch_stuck_exit_seconds:
            exit_for_replay(f"a batch part has been writing for {now - since:.0f} s (a hung ClickHouse or broker?)",
                            self.exit_process)
        if since is not None or self._paused(now):
            return
        try:
            stalled = await asyncio.wait_for(self.stalled(now), timeout=COMMIT_STALL_SECONDS)
        except Exception as exc:  # the broker may be briefly unreachable; the next tick retries
            log.warning("progress watchdog could not read offsets: %r", exc)
            return
        for partition, reason in stalled:
            log.critical("partition %s stalled: %s", partition, reason)
        if stalled:
            exit_for_replay("a partition cannot make progress", self.exit_process)

    def forget(self, revoked: set[TP]) -> None:
        """Partitions revoked by a rebalance: another worker may process them meanwhile."""
        if any(tp.topic == self.settings.invoice_numbering_topic for tp in revoked):
            self.numbering_delivery.forget({0})
            self.numbering_commits.forget({0})
        gone = {tp.partition for tp in revoked if tp.topic == self.settings.events_topic}
        self.delivery.forget(gone)
        self.commits.forget(gone)
        for p in gone:
            self._start_positions.pop(p, None)

    def health(self) -> tuple[bool, str]:
        now = time.monotonic()
        age = now - self.alive_at
        if age >= STALE_S:
            return False, f"event loop silent for {age:.0f} s"
        since = self.busy_since()
        if since is not None and now - since > self.settings.batch_stuck_seconds:
            return False, f"a batch part has been writing for {now - since:.0f} s"
        return True, "event loop alive"

    def ready(self) -> tuple[bool, str]:
        if getattr(self.app, "in_recovery", False) or self.app.rebalancing:
            return False, "rebalancing or recovering tables"
        if not self._events_assignment():
            return False, "no partition assigned yet"
        return True, "partitions assigned, tables recovered"

    def _events_assignment(self) -> list[TP]:
        return [tp for tp in self.app.consumer.assignment() if tp.topic == self.settings.events_topic]

    def _log_status(self, now: float) -> None:
        if now - self._status_logged_at < STATUS_LOG_SECONDS:
            return
        self._status_logged_at = now
        self._show_positions = True
        log.info("progress watchdog: in_batch=%s in_recovery=%s rebalancing=%s assigned=%d",
                 self.busy_since() is not None,
                 bool(getattr(self.app, "in_recovery", False)), self.app.rebalancing,
                 len(self.app.consumer.assignment()))

    def _paused(self, now: float) -> bool:
        """Recovery pauses every partition on purpose, so its time does not count, up to a limit:
        a flag stuck after a rebalance that never completed must not blind the watch."""
        recovering = bool(getattr(self.app, "in_recovery", False))
        if not (recovering or self.app.rebalancing):
            self._paused_since = None
            return False
        if self._paused_since is None:
            self._paused_since = now
        if now - self._paused_since < PAUSE_MAX_SECONDS:
            for w in (self.delivery, self.commits, self.numbering_delivery, self.numbering_commits):
                w.restart_clocks()
            return True
        log.warning("progress watchdog: %s for %.0f s; checking progress anyway",
                    "in recovery" if recovering else "rebalancing", now - self._paused_since)
        return False

    async def stalled(self, now: float) -> list[tuple[int | str, str]]:
        """Partitions that cannot make progress, with why. Two checks, both against the broker:

        - delivery: records wait after this worker's position and the position does not move;
        - commits: this worker has processed records after the group's committed offset, and that
          offset does not move (Faust holds acked offsets it will not commit).
        """
        return await self._numbering_stalled(now) + await self._events_stalled(now)

    async def _numbering_stalled(self, now: float) -> list[tuple[int | str, str]]:
        topic = self.settings.invoice_numbering_topic
        tp = TP(topic, 0)
        if tp not in self.app.consumer.assignment():
            return []
        end = (await self.app.consumer.highwaters(tp)).get(tp)
        committed = (await committed_offsets(self.settings, [0], topic=topic)).get(0)
        processed = self.numbering_next_offset()
        position = processed if processed is not None else committed
        if position is None:
            position = (await beginning_offsets(self.settings, [0], topic=topic)).get(0, 0)
        reasons = [self.numbering_delivery.observe(0, position, end, now) if end is not None else None]
        if processed is not None and committed is not None:
            reasons.append(self.numbering_commits.observe(0, committed, processed, now))
        return [(topic, reason) for reason in reasons if reason is not None]

    async def _events_stalled(self, now: float) -> list[tuple[int | str, str]]:
        tps = self._events_assignment()
        if not tps:
            return []
        ends = await self.app.consumer.highwaters(*tps)
        committed = await committed_offsets(self.settings, [tp.partition for tp in tps])
        if self._show_positions:
            self._show_positions = False
            log.info("progress watchdog: partition: (processed, committed, log end) %s",
                     {tp.partition: (self.guard.next_offset(tp.partition), committed.get(tp.partition), ends.get(tp))
                      for tp in tps})
        stalled: list[tuple[int | str, str]] = []
        for tp in tps:
            stalled += await self._partition_stalled(tp.partition, ends.get(tp), committed.get(tp.partition), now)
        return stalled

    async def _partition_stalled(self, p: int, end: int | None, start: int | None,
                                 now: float) -> list[tuple[int | str, str]]:
        processed = self.guard.next_offset(p)  # the record after the last one applied
        if start is None and processed is None and p not in self._start_positions:
            self._start_positions.update(await beginning_offsets(self.settings, [p]))  # a new group: earliest
        position = processed if processed is not None else (start if start is not None else self._start_positions.get(p))
        reasons: list[str | None] = []
        if position is not None and end is not None:
            reasons.append(self.delivery.observe(p, position, end, now))
            if reasons[-1] is None and position < end and now - self._lag_logged_at.get(p, 0.0) >= LAG_LOG_SECONDS:
                self._lag_logged_at[p] = now
                log.info("partition %d: position %d, log end %d, committed %s", p, position, end, start)
        if processed is not None and start is not None:
            reasons.append(self.commits.observe(p, start, processed, now))
        return [(p, reason) for reason in reasons if reason is not None]
