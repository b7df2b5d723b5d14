"""What the authorization process knows of its worker: the owned accounts' states, and who owns
which partition.

Both arrive from the worker over one ordered pipe (``process.py``) and are applied on the
server's event loop, between requests, so a request never sees half of an update.

Order is what keeps a hold safe (R10). The worker sends an account's new state before it
settles the holds of the calls in it, as the in-thread endpoint relied on
(``streams/http/reservations.py``): a request sees the old balance with the hold, or the new
balance, never the old balance without the hold. A state this process has not seen (since it
started, or since the partition came back) it asks the worker for; the answer is read from the
worker's table and sent under the pipe's lock, on the same pipe, so it is never older than
anything before it on the pipe, and whatever comes after it is newer.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from projections.account import AccountState
from schemas.codec import EventCodec
from schemas.decoded import DECODED_STATES_MAX, DecodedStates
from streams.http.authorization import NotReady
from streams.kafka.partitioning import partition_for

# How long a request waits for a state it asked the worker for before answering 503.
ASK_TIMEOUT_S = 5.0


class StateMirror:
    def __init__(self, codec: EventCodec, partitions: int, ask: Callable[[str], None],
                 max_decoded: int = DECODED_STATES_MAX) -> None:
        """``ask(account_id)`` sends the worker a request for that account's state."""
        self.partitions, self.ask = partitions, ask
        self._raw: dict[str, bytes] = {}  # account -> its encoded state, as the worker's table holds it
        # partition -> the accounts of it in _raw: a revoke drops them without hashing every
        # account mirrored (one murmur2 each, on the loop requests wait on: ~0.7 s for 300k).
        self._of_partition: dict[int, set[str]] = {}
        self._decoded = DecodedStates(codec, max_decoded)
        self._waiting: dict[str, asyncio.Future] = {}

    def apply(self, states: list[tuple[str, bytes | None]]) -> None:
        """New states, in the pipe's order. None: the worker has no such account; that is not
        remembered (an account opened later is then asked for again, and no flood of made-up
        ids can fill this process)."""
        for account_id, raw in states:
            if raw is None:
                if self._raw.pop(account_id, None) is not None:
                    self._of_partition[partition_for(account_id, self.partitions)].discard(account_id)
            else:
                if account_id not in self._raw:  # its partition, once while it is mirrored
                    self._of_partition.setdefault(partition_for(account_id, self.partitions), set()).add(account_id)
                self._raw[account_id] = raw
            waiting = self._waiting.pop(account_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(None)

    def not_ready(self, account_id: str) -> None:
        """The worker cannot answer for the account yet (its table is being recovered): what the
        table holds now may be older than the log, so it is not mirrored."""
        waiting = self._waiting.pop(account_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_exception(NotReady())

    def drop(self, partitions: set[int]) -> None:
        """The worker lost these partitions: what it sent of them may be stale when they come back."""
        for partition in partitions:
            for account_id in self._of_partition.pop(partition, ()):
                del self._raw[account_id]
                self._decoded.forget(account_id)

    def load(self, account_id: str) -> AccountState | None:
        raw = self._raw.get(account_id)
        return None if raw is None else self._decoded.decode(account_id, raw)

    async def ensure(self, account_id: str) -> None:
        """Know the account's state (or that there is none) before a request reads it; NotReady
        if the worker cannot say yet."""
        if account_id in self._raw:
            return
        waiting = self._waiting.get(account_id)
        if waiting is None:
            waiting = self._waiting[account_id] = asyncio.get_running_loop().create_future()
            self.ask(account_id)
        try:
            await asyncio.wait_for(asyncio.shield(waiting), ASK_TIMEOUT_S)
        except asyncio.TimeoutError:
            self._waiting.pop(account_id, None)
            raise NotReady() from None


class Owners:
    """Which worker owns each partition, as the worker's partition assignor last said."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._mine: set[int] | None = None  # None: no assignment known yet
        self._urls: dict[int, str] = {}

    def assign(self, mine: set[int], urls: dict[int, str]) -> None:
        self._mine, self._urls = set(mine), dict(urls)

    def revoke(self, partitions: set[int]) -> None:
        """Until the next assignment says who has them, requests for them get 503, not a redirect
        to this worker's own URL."""
        if self._mine is not None:
            self._mine -= partitions
        for p in partitions:
            self._urls.pop(p, None)

    def url_of(self, account_id: str) -> str | None:
        """The owner's base URL, None if this worker owns the account; NotReady if nobody is known."""
        partition = partition_for(account_id, self.partitions)
        if self._mine is None:
            raise NotReady()
        if partition in self._mine:
            return None
        url = self._urls.get(partition)
        if url is None:
            raise NotReady()
        return url
