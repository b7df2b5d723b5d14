"""Bounded numbers for the benchmarks' arguments: a bad one is argparse's one-line error and
exit 2, as in the CLI, never a traceback from deep in a run (``--batch-messages 0`` was one)."""

from __future__ import annotations

import argparse
from typing import Callable

COUNT_MAX = 100_000_000  # calls, accounts, rows: more than this machine can hold in one run


def within(low: int, high: int = COUNT_MAX) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not within {low}-{high}")
        return value
    return parse


def seconds_within(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number of seconds from ``low`` to ``high`` (no nan, no inf)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:  # false for nan too
            raise argparse.ArgumentTypeError(f"{text} is not within {low:g}-{high:g} seconds")
        return value
    return parse
