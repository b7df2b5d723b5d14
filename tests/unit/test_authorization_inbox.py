"""The authorization process applies its worker's messages in order, one per turn of its loop, so
a burst of them (a batch's states and settled calls) cannot hold requests back to back (R10)."""

from __future__ import annotations

import asyncio
from collections import deque

from streams.authorization.child import Child


def _child(applied: list) -> Child:
    child = Child.__new__(Child)  # only the inbox: no socket, no server
    child._inbox, child._draining = deque(), False
    child.apply = applied.append
    return child


def test_R10_messages_are_applied_in_order_with_the_loop_turning_between_them():
    applied: list = []
    child = _child(applied)

    async def scenario() -> list:
        seen = []  # what a request running meanwhile saw, at each of its turns
        for n in range(5):
            child._inbox.append(("settle", n))
            child._wake()  # the reader thread wakes the loop once per message
        for _ in range(5):
            seen.append(len(applied))
            await asyncio.sleep(0)
        while child._draining:
            await asyncio.sleep(0)
        return seen

    seen = asyncio.run(scenario())
    assert applied == [("settle", n) for n in range(5)]
    # The other task ran while messages were still waiting: the drain gave way between them.
    assert 0 < max(seen) < 5 and seen == sorted(seen)


def test_R10_a_message_sent_after_a_drain_ended_is_applied_too():
    applied: list = []
    child = _child(applied)

    async def scenario() -> None:
        child._inbox.append(("states", 1))
        child._wake()
        while child._draining or child._inbox:
            await asyncio.sleep(0)
        child._inbox.append(("states", 2))
        child._wake()
        while child._draining or child._inbox:
            await asyncio.sleep(0)

    asyncio.run(scenario())
    assert applied == [("states", 1), ("states", 2)]


def test_R10_a_realtime_priority_it_may_not_take_is_one_line_that_says_what_to_grant(monkeypatch):
    """``authorization_realtime_priority``: 0 asks nothing; refused, or on a system without
    SCHED_FIFO, the reason is the line the worker fails at start with (never a traceback)."""
    import os

    from streams.authorization.child import realtime

    calls: list = []
    monkeypatch.setattr(os, "sched_setscheduler", lambda *a: calls.append(a))
    assert realtime(0) is None and calls == []
    assert realtime(7) is None and calls[0][:2] == (0, os.SCHED_FIFO) and calls[0][2].sched_priority == 7

    def refuse(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    assert realtime(7) == ("authorization_realtime_priority 7: Operation not permitted (give the worker "
                           "LimitRTPRIO= in its unit, or CAP_SYS_NICE)")
    monkeypatch.delattr(os, "sched_setscheduler")
    assert realtime(7) == "authorization_realtime_priority 7: this system has no SCHED_FIFO (Linux only)"
