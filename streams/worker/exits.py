"""How a worker process ends when it must not go on, and what a supervisor does about it."""

from __future__ import annotations

import logging
import os
from typing import AsyncIterator, Awaitable, Callable, NoReturn

from streams.runtime import memory

log = logging.getLogger("voiceledger.worker")

# A batch could not be completed safely: the process exits at once, with nothing acked or
# committed, and its supervisor starts it again; the restart replays the batch from the last
# committed offset and the fold skips what it had already applied.
EXIT_BATCH_FAILED = 75


class RecordsDropped(RuntimeError):
    """The consumer skipped records of a partition; applying later ones first would lose them."""


def exit_for_replay(reason: str, exit_process: Callable[[int], NoReturn] = os._exit) -> NoReturn:
    """End the process now, without Faust's shutdown (which would ack and commit)."""
    log.critical("%s; exiting without commit so it is replayed", reason)
    logging.shutdown()
    exit_process(EXIT_BATCH_FAILED)
    raise AssertionError("unreachable")  # a test's exit_process may return


async def run_batches(batches: AsyncIterator[list], process: Callable[[list], Awaitable[None]], what: str,
                      exit_process: Callable[[int], NoReturn] = os._exit) -> None:
    """An agent's loop: each batch is processed whole, or the process ends.

    ``take_events`` acks every buffered event when the loop body is left, even by an exception,
    and Faust would then commit offsets of a batch whose state was never written: effects lost.
    So a batch that cannot complete ends the process at once (``CancelledError`` too), with
    nothing acked or committed; the restart replays it, as after a SIGKILL.
    """
    async for events in batches:
        try:
            await process(events)
        except BaseException as exc:  # noqa: BLE001 - every way out of a batch but success ends the process
            exit_for_replay(f"{what} failed: {exc!r}", exit_process)
        del events  # the batch's objects are freed before a collection looks at what is left
        memory.collect_if_grown()
