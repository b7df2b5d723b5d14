"""The authorization process: ``python -m streams.authorization.child FD``, started by ``process.py``.

It serves R10's endpoint (``streams/http/authorization.py``: authorizations, holds, statements)
for the accounts its worker owns, from what the worker sends over the socket ``FD``: first a
``ChildConfig``, then, in log order, the states each batch wrote, the holds it settles, new
rate cards and the partition assignment. It answers the worker with ``bound`` (or ``failed``)
once, states it is missing (``want``), and its metrics once a second, which the worker's
``/metrics`` shows as its own. The metrics are sent from the server's loop: they are also its
heartbeat (a worker that hears nothing for ``process.SILENT_MAX_S`` ends both).

It ends when its worker does (the socket closes). It ignores SIGINT and SIGTERM, which a
terminal or a service manager sends to the whole process group: the worker's graceful shutdown
must not see its authorization process vanish first (the worker ends itself if it does).
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection

from projections.account import FoldSettings
from streams.authorization.mirror import Owners, StateMirror
from streams.config.settings import Settings
from streams.http.authorization import AuthorizationServer
from streams.http.reservations import ReservationBook
from streams.kafka.codec import codec_for
from streams.observe import metrics
from streams.observe.logs import logging_config
from streams.runtime import memory

log = logging.getLogger("voiceledger.authorization")

METRICS_REPORT_S = 1.0
# The metrics this process owns; the worker's registry relays them instead of its own.
RELAYED = (metrics.AUTHORIZATIONS, metrics.AUTHORIZATION_LATENCY, metrics.API_REFUSED, metrics.FUNDS_HELD,
           metrics.AUTHORIZATION_LOOP_LAG)
LOOP_CHECK_S = 0.01  # how often the loop's lateness is measured (100 wake-ups a second)


@dataclass(frozen=True)
class ChildConfig:
    settings: Settings
    fold: FoldSettings
    tokens: dict[str, str] | None  # token -> scope; None leaves the API open


class Child:
    def __init__(self, conn: Connection, config: ChildConfig) -> None:
        settings = config.settings
        self.conn = conn
        # What goes to the worker goes through one sender thread, so that neither the reader
        # nor the server's loop ever waits on the worker (which may be waiting on the reader).
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        # What the worker sent, in order, applied on the server's loop by one task (``_drain``).
        self._inbox: deque = deque()
        self._draining = False
        self.fold = config.fold
        self.book = ReservationBook(settings.reservation_grace_seconds * 1000)
        self.mirror = StateMirror(codec_for(settings), settings.partitions, lambda a: self.send(("want", a)))
        self.owners = Owners(settings.partitions)
        self.server = AuthorizationServer(
            settings.authorization_host, settings.authorization_port, self.book,
            settings.authorization_quota_seconds, self.mirror.load, lambda: self.fold, self.owners.url_of,
            config.tokens, settings.http_bind_host, self.mirror.ensure)

    def send(self, message: tuple) -> None:
        self._outbox.put(message)

    def _sender(self) -> None:
        try:
            while True:
                self.conn.send(self._outbox.get())
        except OSError:  # the worker is gone: serve() sees it too
            return

    def serve(self) -> None:
        """Hand each message to the server's loop, in order, until the worker closes the socket."""
        threading.Thread(target=self._sender, name="authorization-outbox", daemon=True).start()
        next_report = time.monotonic() + METRICS_REPORT_S
        while True:
            try:
                if self.conn.poll(max(0.0, next_report - time.monotonic())):
                    self._inbox.append(self.conn.recv())
                    self.server.call_soon(self._wake)
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + METRICS_REPORT_S
                    # On the server's loop, not this thread: the report is also the heartbeat
                    # by which the worker knows the loop that answers switches still turns.
                    self.server.call_soon(self.report)
            except (EOFError, OSError):
                return

    def _wake(self) -> None:
        """On the server's loop: drain the inbox, unless a drain is under way."""
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Apply the inbox's messages in order, one per turn of the loop. A batch sends a burst
        (its states, then one message per 512 settled calls: ~90 for 45k calls); as callbacks,
        they could run back to back and hold the requests that came meanwhile. One per turn, a
        request waits for one message at most. Measured (docs/performance.md): the share of time
        a request would wait over 5 ms behind the loop went from 0.47-0.55% to 0.10-0.44%."""
        try:
            while self._inbox:
                self.apply(self._inbox.popleft())
                await asyncio.sleep(0)  # the loop reads its sockets before the next message
        finally:
            self._draining = False

    def apply(self, message: tuple) -> None:
        """On the server's loop: requests see every message whole, and in the order sent."""
        kind = message[0]
        if kind == "states":
            self.mirror.apply(message[1])
        elif kind == "not_ready":
            self.mirror.not_ready(message[1])
        elif kind == "settle":  # after the states of the same batch: the charge is in the balance
            for account_id, call_key in message[1]:
                self.book.settle(account_id, call_key)
        elif kind == "settings":
            self.fold = message[1]
        elif kind == "assign":
            self.owners.assign(message[1], message[2])
        elif kind == "revoke":
            self.owners.revoke(message[1])
            self.mirror.drop(message[1])
        else:
            log.error("unknown message from the worker: %r", kind)

    def watch_loop(self, due: float | None = None) -> None:
        """On the server's loop, every ``LOOP_CHECK_S``: how late it runs is how long a request
        arriving at that moment waited for the loop (a burst, a collection, no CPU to run on)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if due is not None:
            metrics.AUTHORIZATION_LOOP_LAG.observe(max(0.0, now - due))
        loop.call_at(now + LOOP_CHECK_S, self.watch_loop, now + LOOP_CHECK_S)

    def report(self) -> None:
        """On the server's loop, once a second: collect garbage if it grew (between requests),
        then send the metrics."""
        memory.collect_if_grown()
        self.send(("metrics", self.metric_families()))

    def metric_families(self) -> list:
        metrics.FUNDS_HELD.set(self.book.total())
        return [family for metric in RELAYED for family in metric.collect()]


def realtime(priority: int) -> str | None:
    """Run this process at SCHED_FIFO ``priority`` (0: leave it ordinary); why not, if it cannot.

    Called before any thread starts: a thread takes its policy from the one that starts it, so
    the server's loop, the reader and the sender all run at it. Measured (docs/performance.md):
    under the full fold the switch's p99 falls by ~1 ms on this 2-core machine, since a request
    no longer waits for the fold's time slice to end. Kept bounded by the kernel's real-time
    throttling (a runaway loop still leaves the machine 5% of each second)."""
    if not priority:
        return None
    if not hasattr(os, "sched_setscheduler"):
        return f"authorization_realtime_priority {priority}: this system has no SCHED_FIFO (Linux only)"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as exc:
        return (f"authorization_realtime_priority {priority}: {exc.strerror or exc} (give the worker "
                "LimitRTPRIO= in its unit, or CAP_SYS_NICE)")
    return None


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(int(argv[1]))
    config: ChildConfig = conn.recv()
    logging.config.dictConfig(logging_config(config.settings.log_level))
    refused = realtime(config.settings.authorization_realtime_priority)
    if refused:  # the worker fails at start with this line, as for a port in use
        conn.send(("failed", refused))
        return 1
    child = Child(conn, config)
    try:
        child.server.start()
    except OSError as exc:  # a port in use: the worker fails at start, with this reason
        conn.send(("failed", f"authorization port {config.settings.authorization_port}: {exc.strerror or exc}"))
        return 1
    memory.take_over()  # as the worker: no collection in the middle of a request (streams/runtime/memory.py)
    conn.send(("bound", child.server.bound))
    child.server.call_soon(child.watch_loop)
    child.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
