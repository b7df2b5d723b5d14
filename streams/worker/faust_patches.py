"""Two corrections to faust-streaming 0.15.3's commit bookkeeping, applied when the app is built.

**1. No blind gap-fill.** When the fetcher sees a message whose offset jumps past the previous
one read, Faust records the skipped offsets as a "gap" (``Consumer._add_gap``) and its commit
treats them as done. The skipped offsets are meant to be transaction markers or compacted
records, but the same jump happens when Faust *drops* fetched records during recovery (see
``streams/worker/sequence.py``). A periodic commit can then cover records no one processed, before the
in-order guard sees the jump in a batch: lost events. Caught here by the pipeline test (a payment
and a call missing after restarts, once the commit crawl below was fixed). So ``_add_gap`` does
nothing, and the worker adds a gap itself only after the broker has shown it holds no records
(``mark_empty``, from the in-order guard).

**2. Repeated acked offsets.**

Faust commits, per partition, the end of the first run of consecutive offsets in its sorted
list of acked offsets (``Consumer._new_offset``, with ``faust.utils.functional.
consecutive_numbers``). The list can hold an offset twice: when Faust drops fetched records
during recovery it notes the skipped range as a "gap", and ``_new_offset`` later adds every gap
offset to the list, also those acked after the restart's redelivery. Runs are cut at every
repeated number (5, 5, 6, 6 is the runs [5], [5, 6], [6]), so each commit advanced by one
offset: seen here as a worker whose committed offset crept one record per second, minutes
behind what it had processed, while the test waited for it.

The replacement treats a repeated offset as part of its run, so ``_new_offset`` returns the
same end as it would without repeats and removes the repeats with the run. It commits nothing
that was not acked or gap-filled by Faust anyway; records Faust drops are still caught before
they are acked by the in-order guard (``streams/worker/sequence.py``). Checked by
``tests/unit/test_faust_patches.py`` against the original.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import faust.transport.consumer as faust_consumer


def consecutive_allowing_repeats(numbers: Iterable[int]) -> Iterator[list[int]]:
    """Runs of sorted ``numbers`` whose neighbours differ by at most one: [5, 5, 6, 6, 8] -> [5, 5, 6, 6], [8]."""
    run: list[int] = []
    for n in numbers:
        if run and n - run[-1] > 1:
            yield run
            run = []
        run.append(n)
    if run:
        yield run


async def _no_blind_gap(self: object, tp: object, offset_from: int, offset_to: int) -> None:
    """Faust's ``_add_gap``, disabled: a jump in offsets is not proof that nothing was there."""


def mark_empty(consumer: object, tp: object, start: int, end: int) -> None:
    """Offsets ``start..end-1`` hold no records (the broker said so): Faust may commit over them."""
    gaps = consumer._gap[tp]  # type: ignore[attr-defined]
    gaps.addi(start, end)
    gaps.merge_overlaps()


def apply() -> None:
    """Idempotent."""
    faust_consumer.consecutive_numbers = consecutive_allowing_repeats  # type: ignore[attr-defined]
    faust_consumer.Consumer._add_gap = _no_blind_gap  # type: ignore[method-assign]
