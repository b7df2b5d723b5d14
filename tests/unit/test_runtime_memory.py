"""The worker collects garbage between batches only (issue 22, streams/runtime/memory.py)."""

from __future__ import annotations

import gc
import weakref

import pytest

from streams.runtime import memory


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def taken_over():
    memory.take_over()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def test_no_collection_runs_by_itself_and_none_between_batches_below_the_growth(taken_over):
    cycle = Node()
    alive = weakref.ref(cycle)
    del cycle
    survivors = [Node() for _ in range(50_000)]  # far past CPython's automatic threshold (700)
    assert not gc.isenabled()
    assert alive() is not None, "an automatic collection ran"
    assert memory.collect_if_grown(growth=10_000_000) is None
    assert alive() is not None
    del survivors


def test_past_the_growth_a_full_collection_between_batches_frees_the_cycles(taken_over):
    cycle = Node()
    alive = weakref.ref(cycle)
    del cycle
    pause = memory.collect_if_grown(growth=1)
    assert pause is not None and pause >= 0
    assert alive() is None
    assert gc.get_count()[0] < 1_000  # counted again from nothing
