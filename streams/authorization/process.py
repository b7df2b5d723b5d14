"""The worker's side of its authorization process (R10, issue 22): start it, feed it, relay it.

The fold calls ``publish`` after each batch's states are in the accounts table: the new states,
then the calls whose holds they settle (``mirror.py`` says why this order is safe). Faust's
rebalance signals call ``assigned`` and ``revoked``. A thread answers the process's requests
for states it has not seen, from the table, and keeps its latest metrics for ``/metrics``.

If the process dies, so does the worker (``on_death``: the worker's ``exit_for_replay``): a
worker whose switches can no longer be answered must be restarted whole by its supervisor, as
after a crash. So too if it stops answering: its metrics come from its server's loop once a
second, and after ``SILENT_MAX_S`` without a word the worker kills it (a loop wedged, or the
process stopped) and ends, rather than leave switches waiting on a port that accepts and never
answers.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any, Callable, NoReturn

from prometheus_client import REGISTRY

from projections.account import AccountState, FoldSettings
from streams.authorization.child import RELAYED, ChildConfig
from streams.config.settings import Settings

log = logging.getLogger("voiceledger.authorization")

START_TIMEOUT_S = 60.0
# Bytes of states per message (a state alone may be more: ~1.3 MB at the dedup bound). The
# process unpickles a message whole while its server waits for the GIL: ~0.3 ms a MiB.
STATE_BYTES_PER_MESSAGE = 1 << 20
SETTLES_PER_MESSAGE = 512
# Silence after which the process counts as wedged: 30 reports missed, far beyond a pause of its
# own (a full collection takes ~50 ms) or a busy machine's scheduling delays.
SILENT_MAX_S = 30.0


class _Relayed:
    """A Prometheus collector showing the families the process last reported."""

    def __init__(self) -> None:
        self.families: list = []

    def collect(self) -> list:
        return list(self.families)


class AuthorizationProcess:
    def __init__(self, settings: Settings, fold: FoldSettings, tokens: dict[str, str] | None, table: Any,
                 recovered: Callable[[], bool], on_death: Callable[[str], NoReturn]) -> None:
        """``table``: the accounts table (account id as bytes -> encoded state); ``recovered()``:
        no rebalance or table recovery is running, so what the table holds is up to date;
        ``on_death(reason)``: what the worker does when the process ends under it."""
        self.config = ChildConfig(settings, fold, tokens)
        self.table, self.recovered, self.on_death = table, recovered, on_death
        self.bound: list[tuple] = []
        self._lock = threading.Lock()  # one sender at a time: the pipe's order is the safety
        self._sent_fold = fold
        self._relayed = _Relayed()
        self._conn: Connection | None = None
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the process and wait until its port is bound; raise if it could not be."""
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen([sys.executable, "-m", "streams.authorization.child", str(theirs.fileno())],
                                         pass_fds=(theirs.fileno(),))
        theirs.close()
        self._conn = conn = Connection(ours.detach())
        conn.send(self.config)
        try:
            answer = conn.recv() if conn.poll(START_TIMEOUT_S) else ("failed", "it did not start in time")
        except EOFError:
            answer = ("failed", "it ended at start (its log says why)")
        if answer[0] != "bound":
            self._process.kill()
            raise OSError(f"authorization process: {answer[1]}")
        self.bound = answer[1]
        for metric in RELAYED:  # its metrics, not this process's idle copies
            REGISTRY.unregister(metric)
        REGISTRY.register(self._relayed)
        threading.Thread(target=self._listen, name="authorization-feed", daemon=True).start()

    def publish(self, encoded_states: dict[str, tuple[bytes, AccountState]], calls_ended: list[tuple[str, str]],
                fold: FoldSettings) -> None:
        """After a batch's commit: the rate cards it was rated at, its states, then its settles."""
        with self._lock:
            if fold is not self._sent_fold:
                self._send(("settings", fold))
                self._sent_fold = fold
            chunk: list[tuple[str, bytes]] = []
            size = 0
            for account_id, (raw, _) in encoded_states.items():
                if chunk and size + len(raw) > STATE_BYTES_PER_MESSAGE:
                    self._send(("states", chunk))
                    chunk, size = [], 0
                chunk.append((account_id, raw))
                size += len(raw)
            if chunk:
                self._send(("states", chunk))
            for start in range(0, len(calls_ended), SETTLES_PER_MESSAGE):
                self._send(("settle", calls_ended[start:start + SETTLES_PER_MESSAGE]))

    def assigned(self, mine: set[int], urls: dict[int, str]) -> None:
        with self._lock:
            self._send(("assign", mine, urls))

    def revoked(self, partitions: set[int]) -> None:
        with self._lock:
            self._send(("revoke", partitions))

    def _send(self, message: tuple) -> None:
        assert self._conn is not None, "the authorization process is not started"
        self._conn.send(message)

    def _listen(self) -> None:
        assert self._conn is not None and self._process is not None
        reason = "the authorization process ended"
        while True:
            try:
                if not self._conn.poll(SILENT_MAX_S):
                    reason = f"the authorization process said nothing for {SILENT_MAX_S:.0f} s: killed as wedged"
                    log.error(reason)
                    self._process.kill()
                    break
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "want":
                with self._lock:  # the table read and its answer, in the pipe's order (mirror.py)
                    if self.recovered():
                        self._send(("states", [(message[1], self.table.get(message[1].encode()))]))
                    else:
                        self._send(("not_ready", message[1]))
            elif message[0] == "metrics":
                self._relayed.families = message[1]
        self.on_death(reason)

