"""Sealed caller and callee numbers opened in a process beside the fold (R32, issue 22).

Opening a CDR's sealed callee (an AES-GCM-SIV decryption, its token parsed, the subscriber's
key looked up) was the batch path's largest step: ~7-8 us of the ~45-50 us a CDR costs on one
core, while a worker left the machine's other core mostly idle. The fold does not need the
clear numbers (rating reads ``callee_route``); only the call log's rows do, and the check that
a sealed CDR opens at all, which must come before the fold (``sealed_unreadable``: a CDR this
worker cannot open is dead-lettered, never charged).

So the processor decodes a batch's messages first and hands each sealed CDR's tokens to this
process as it goes, in chunks of 256 (a batch with fewer it opens alone); it then routes the
messages, taking each CDR's opened numbers in the order it sent them, and opening a chunk itself
when its reply is not back yet. The process opens with an ``Opener`` of its own over the same key
store, exactly as ``BatchProcessor._open`` does in the worker: same cache, same ``ttl_s``,
``refresh`` at each batch's first chunk, ``forget`` when an erasure is folded, sent down the same
pipe, so they come between the batches' requests as they did between the batches. Either
opener may so use a key that ``subscriber erase`` deleted for up to ``ttl_s``, as one opener did
(``streams/edge/sealing.py: Opener``).

If the process dies or stops answering, the batch fails with ``OpeningFailed`` and the worker
ends for a replay (``streams/worker/exits.py``): containment must not take it for a bad record.
The process ends when the worker's end of the pipe closes (the worker exited or was killed),
not on a stop signal to the worker's group: the worker drains its batch first, with it.
"""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from itertools import repeat
from typing import Iterator

from projections.events import SEALED_PREFIX, CallDetailRecord
from streams.edge.sealing import Opener, SealError, SubscriberKeys
from streams.observe import metrics

# Bound once: labels() costs ~5 us. Counted by chunk, as the worker takes them.
_BY_PROCESS, _BY_WORKER = (metrics.SEALED_CDRS_OPENED.labels(by=by) for by in ("process", "worker"))
CHUNK_CDRS = 256  # CDRs a request: small enough that the process starts while the rest decode
REPLY_TIMEOUT_S = 120.0  # far beyond a chunk's ~2 ms: a process this slow is wedged
START_TIMEOUT_S = 60.0


class OpeningFailed(RuntimeError):
    """The opening process is gone or wedged: the world's fault, not a record's."""


def open_call(opener: Opener, account_id: str, caller: str, callee: str) -> tuple[str, str | None] | str | None:
    """A sealed CDR's (caller, callee), callee None if the subscriber was erased; the
    ``SealError``'s words if a token does not open; None if opening it failed otherwise (a key
    file that cannot be read): the worker then opens it itself and fails as it always did, so
    containment dead-letters that record, where this process ending would end the worker on it
    again at every replay."""
    try:
        return opener.open(account_id, caller) or "", opener.open(account_id, callee)
    except SealError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - see above: the worker's own attempt is the verdict
        return None


class OpeningProcess:
    """The worker's side: requests down the pipe in order, replies taken in the same order."""

    def __init__(self, keys_dir: str, ttl_s: float = 30.0, chunk_cdrs: int = CHUNK_CDRS) -> None:
        self.keys_dir, self.ttl_s, self.chunk_cdrs = keys_dir, ttl_s, chunk_cdrs
        self._conn: Connection | None = None
        self._process: subprocess.Popen | None = None
        self._unread = 0  # replies not read yet: of chunks the worker opened itself, or of a batch that raised

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen([sys.executable, "-m", "streams.worker.opening", str(theirs.fileno())],
                                         pass_fds=(theirs.fileno(),))
        theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send((self.keys_dir, self.ttl_s))
        if self._reply(START_TIMEOUT_S) != "ready":
            raise OpeningFailed("the opening process did not start")

    def forget(self, account_id: str | None = None) -> None:
        self._send(("forget", account_id))

    def open_calls(self, batches: Iterator[list]) -> Iterator[tuple[str, str | None] | str | None] | None:
        """Send the sealed CDRs of one batch's lists of events as they come (a CDR with a sealed
        callee: ``BatchProcessor._open``'s test); then the openings, one per sealed CDR in that
        order, as ``open_call`` gives them, or None
        for each CDR of a chunk whose opening is not back yet: the worker opens those itself.
        None for a batch of less than a chunk, which the worker opens alone: the process could
        not answer before the worker routes it, and a message down the pipe costs ~50 us."""
        while self._unread:  # replies of chunks the worker opened itself, or left by a batch that raised
            self._reply(REPLY_TIMEOUT_S)
            self._unread -= 1
        sizes: list[int] = []
        chunk: list[tuple[str, str, str]] = []
        for events in batches:
            for event in events:
                if isinstance(event, CallDetailRecord) and event.callee.startswith(SEALED_PREFIX):
                    chunk.append((event.account_id, event.caller, event.callee))
            if len(chunk) >= self.chunk_cdrs:
                self._send(("open", chunk, not sizes))  # a batch's first: the process refreshes its keys
                sizes.append(len(chunk))
                chunk = []
        if not sizes:
            return None
        if chunk:
            self._send(("open", chunk, False))
            sizes.append(len(chunk))
        self._unread = len(sizes)
        return self._replies(sizes)

    def _replies(self, sizes: list[int]) -> Iterator[tuple[str, str | None] | str | None]:
        """Each chunk's openings if they are back, else None for each of its CDRs. The worker
        then opens that chunk itself rather than wait: it routes faster than this process opens
        (~5 against ~9 us a CDR), so it would otherwise wait for it at the end of every batch.
        A chunk's reply it did not use is read and dropped before the next one is used."""
        late = 0  # chunks opened by the worker whose replies are still to be read
        for size in sizes:
            while late and self.ready():
                self._reply(REPLY_TIMEOUT_S)
                self._unread, late = self._unread - 1, late - 1
            if late == 0 and self.ready():
                reply = self._reply(REPLY_TIMEOUT_S)
                self._unread -= 1
                _BY_PROCESS.inc(size)
                yield from reply
            else:
                late += 1
                _BY_WORKER.inc(size)
                yield from repeat(None, size)

    def ready(self) -> bool:
        """Whether the next reply is back (a test may decide instead)."""
        return self._conn is not None and self._conn.poll(0)

    def _send(self, message: tuple) -> None:
        if self._conn is None:
            self.start()
        try:
            self._conn.send(message)  # type: ignore[union-attr]
        except OSError as exc:
            raise OpeningFailed(f"the opening process is gone: {exc}") from None

    def _reply(self, timeout_s: float):  # noqa: ANN202 - "ready", or a chunk's openings
        conn = self._conn
        assert conn is not None
        try:
            if not conn.poll(timeout_s):
                raise OpeningFailed(f"the opening process did not answer within {timeout_s:.0f} s")
            return conn.recv()
        except (EOFError, OSError) as exc:
            raise OpeningFailed(f"the opening process is gone: {exc!r}") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.wait(timeout=10)
            self._process = None


def _read_requests(conn: Connection, requests: queue.SimpleQueue) -> None:
    """Take requests as they come, so that the worker never waits to send one while this
    process waits for it to take a reply (the pipe's buffers are far smaller than a batch)."""
    try:
        while True:
            requests.put(conn.recv())
    except (EOFError, OSError):
        requests.put(None)


def serve(conn: Connection) -> None:
    keys_dir, ttl_s = conn.recv()
    opener = Opener(SubscriberKeys(keys_dir), ttl_s)
    requests: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_read_requests, args=(conn, requests), daemon=True).start()
    conn.send("ready")
    while (request := requests.get()) is not None:
        if request[0] == "open":
            if request[2]:  # where the worker refreshed its own opener
                opener.refresh()
            conn.send([open_call(opener, *cdr) for cdr in request[1]])
        else:
            opener.forget(request[1])


if __name__ == "__main__":
    # A Ctrl-C or a stop signal to the worker's whole group is the worker's to handle: it drains
    # its batch (which needs this process) and exits, and this process ends with the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        serve(Connection(int(sys.argv[1])))
    except (EOFError, OSError):
        pass  # the worker is gone: so is the reason to be here
