"""The watchdog bounds a batch part that does not finish (a ClickHouse that hangs without closing
its connection): past ``batch_stuck_seconds`` /healthz says so, past ``batch_stuck_exit_seconds``
the worker exits 75 for its supervisor; a part within the bounds is left alone."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from streams.config.settings import Settings
from streams.worker.exits import EXIT_BATCH_FAILED
from streams.worker.in_order import InOrderGuard
from streams.worker.watchdog import Watchdog

SETTINGS = replace(Settings(), batch_stuck_seconds=60, batch_stuck_exit_seconds=180)


class Exited(BaseException):
    pass


def fake_exit(code: int):  # noqa: ANN201 - NoReturn
    raise Exited(code)


class App:
    """What the watchdog reads of a Faust app: nothing assigned, not rebalancing."""

    rebalancing = False
    in_recovery = False

    class consumer:  # noqa: N801 - stands in for the Faust consumer
        @staticmethod
        def assignment() -> set:
            return set()


def watchdog(busy_since: float | None) -> Watchdog:
    return Watchdog(App(), SETTINGS, InOrderGuard(SETTINGS, {}, lambda *a: None), lambda: None,
                    lambda: busy_since, exit_process=fake_exit)


def test_a_part_within_the_bounds_is_healthy_and_left_alone():
    dog = watchdog(time.monotonic() - 30)
    assert dog.health() == (True, "event loop alive")
    asyncio.run(dog.tick())
    assert watchdog(None).health()[0]


def test_a_part_stuck_past_the_first_bound_makes_healthz_unhealthy():
    ok, why = watchdog(time.monotonic() - 90).health()
    assert not ok and why.startswith("a batch part has been writing for 9")
    asyncio.run(watchdog(time.monotonic() - 90).tick())  # not yet an exit


def test_a_part_stuck_past_the_second_bound_exits_75():
    with pytest.raises(Exited) as exited:
        asyncio.run(watchdog(time.monotonic() - 200).tick())
    assert exited.value.args == (EXIT_BATCH_FAILED,)
