"""The exactly-once write order, in one place: ``BatchCommit``.

A batch (or a part of one) has been folded in memory. Its effects are written in this order,
which is what makes the effect exactly-once on a broker without transactions:

1. send its outputs (journal entries, ``CallRated``, status changes, invoices, legal numbers,
   dead letters, numbering drafts);
2. insert its ClickHouse rows and run its statements, while the outputs' acks arrive;
3. wait until the broker has acknowledged every output;
4. only then write the states, each carrying the log position it has applied;
5. wait until the broker has acknowledged every state record.

Only after ``commit`` returns may the caller let Faust ack the batch's records (and a later
commit cover their offsets). Every output carries a stable id (entry id, call key, invoice
reference, source position), so a repeat after a crash is a duplicate that readers and
ClickHouse collapse, never a new fact. States after outputs matters: a replay skips every event a
recovered state has applied (``Redelivered``), so an output still unsent when its state landed
would never be sent again. Steps 3 and 5 wait on the acks themselves: Faust's own pre-commit
flush (faust-streaming 0.15, ``ProducerBuffer.flush``) can return with records still buffered.

A failure at any step raises, and the caller ends the process without acking
(``streams/worker/exits.py``); the restart replays the batch from the last committed offset.
The collaborators are passed in, so that a unit test with fakes holds the order and what a
failure at each step leaves behind (``tests/unit/test_batch_commit.py``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Awaitable, Protocol, Sequence


@dataclass(frozen=True, slots=True)
class OutMessage:
    topic: str
    key: bytes
    value: bytes
    partition: int | None = None  # None: the producer's partitioner chooses


@dataclass
class CommitPlan:
    """Everything one folded batch part writes."""

    messages: list[OutMessage] = field(default_factory=list)
    inserts: list[tuple[str, Sequence[str], list[tuple]]] = field(default_factory=list)  # (table, columns, rows)
    mutations: tuple[tuple[str, str], ...] = ()  # (table, ALTER clause): idempotent, after the inserts
    states: list[tuple[bytes, bytes | None]] = field(default_factory=list)  # (key, encoded state or None: deleted)


class Sender(Protocol):
    async def send(self, message: OutMessage) -> Awaitable[object]:
        """Hand the message to the producer; the result resolves when the broker acks it."""


class RowWriter(Protocol):
    async def insert(self, tables: list[tuple[str, Sequence[str], list[tuple]]],
                     mutations: Sequence[tuple[str, str]] = ()) -> None: ...


class StateStore(Protocol):
    def put(self, key: bytes, value: bytes | None) -> None:
        """Set ``key``; None deletes it (a tombstone on the changelog)."""

    async def flush(self) -> None:
        """Wait until the broker has acknowledged every state record put so far."""


class BatchCommit:
    def __init__(self, sender: Sender, rows: RowWriter, states: StateStore) -> None:
        self.sender = sender
        self.rows = rows
        self.states = states

    async def commit(self, plan: CommitPlan) -> None:
        acks = [await self.sender.send(message) for message in plan.messages]  # 1
        if any(rows for _, _, rows in plan.inserts) or plan.mutations:  # 2
            await self.rows.insert([i for i in plan.inserts if i[2]], plan.mutations)
        if acks:  # 3
            await asyncio.gather(*acks)
        for key, value in plan.states:  # 4
            self.states.put(key, value)
        await self.states.flush()  # 5
