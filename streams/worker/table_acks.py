"""The broker's acks of a Faust table's changelog writes, for the worker to wait on.

``Table.on_key_set`` sends each write to the changelog and drops the future. A batch must not
be committed before its state records are on the broker (``streams/worker/app.py``, step 4; Faust's own
pre-commit flush returns with records still buffered), so this keeps those futures: the table's
write path is unchanged, its ``send_changelog`` only also appends each future to a list the
caller drains and awaits.
"""

from __future__ import annotations

import asyncio
from typing import Any


def track_changelog_acks(table: Any) -> list[asyncio.Future]:
    """Wrap ``table.send_changelog``; returns the list each write's future is appended to."""
    unacked: list[asyncio.Future] = []
    send_changelog = table.send_changelog

    def send_changelog_tracked(*args, **kwargs):  # noqa: ANN002, ANN003 - Faust's signature
        fut = send_changelog(*args, **kwargs)
        unacked.append(fut)
        return fut

    table.send_changelog = send_changelog_tracked
    return unacked


class ChangelogStore:
    """A Faust table as ``BatchCommit``'s state store: ``put`` sets or deletes a key (Faust sends
    the changelog record), ``flush`` waits for the broker's ack of every record sent so far."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._unacked = track_changelog_acks(table)

    def put(self, key: bytes, value: bytes | None) -> None:
        if value is not None:
            self.table[key] = value
        elif key in self.table:  # Faust sends the tombstone
            del self.table[key]

    async def flush(self) -> None:
        writes = list(self._unacked)
        self._unacked.clear()
        if writes:
            await asyncio.gather(*writes)
