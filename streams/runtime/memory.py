"""How a worker process collects garbage: between batches, never in the middle of one (issue 22).
The authorization process does the same, between requests (``streams/authorization/child.py``).

CPython's cyclic collector starts itself after enough allocations. A batch part allocates about
a million objects (events, outcomes, rows, envelopes) that all stay alive until the part is done,
so the collector kept starting full collections in the middle of folds, each one scanning every
live object (the decoded states, Faust's, the modules') with the GIL held: 150-400 ms each.
Traced while ``bench/authorization.py --cdr-load`` ran, they were where the authorization
thread's worst waits came from; they were also ~30% of the batch path's time, and they found
nothing to free: the fold's data is acyclic, and reference counting frees it when the part ends.

What the collector is still needed for is the cycles that libraries make (asyncio's futures,
exceptions with their tracebacks). So the objects of start-up are frozen out of its sight,
automatic collection is off, and after each batch one full collection runs if the objects the
collector tracks grew by ``GROWTH_BEFORE_COLLECT`` since the last (an idle worker checks the
same on its watchdog's timer): memory stays bounded, and the pause, counted in
``voiceledger_gc_pause_seconds``, falls between batches.
"""

from __future__ import annotations

import gc
import time

from streams.observe import metrics

# Net new objects tracked by the collector (allocations less deallocations) before a full
# collection: ~100-200 MB of small containers at most; a batch's own objects are freed by the
# time it ends, so in a steady worker this grows only by cyclic garbage and new accounts.
GROWTH_BEFORE_COLLECT = 1_000_000


def take_over() -> None:
    """At the start of a worker process: collect once, freeze what start-up made (modules,
    classes, settings: never garbage, no need to scan them again), and stop automatic collection."""
    gc.collect()
    gc.freeze()
    gc.disable()


def collect_if_grown(growth: int = GROWTH_BEFORE_COLLECT) -> float | None:
    """Between batches (or while idle): a full collection if the tracked objects grew by
    ``growth`` since the last one. Returns its pause in seconds, or None when none was needed."""
    if gc.get_count()[0] < growth:
        return None
    started = time.perf_counter()
    gc.collect()
    pause = time.perf_counter() - started
    metrics.GC_PAUSE.observe(pause)
    return pause
