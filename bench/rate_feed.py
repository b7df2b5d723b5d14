"""Benchmark: what a worker's look at the rates topic costs (``RateFeed.catch_up`` with nothing
new to read), the wait it adds to a batch part every ``refresh_seconds``.

Starts an embedded Tansu broker, publishes one card, and times ``--looks`` looks after the first.
Prints one JSON line with the calibration. A benchmark, not a test: nothing here asserts a time.

    python bench/rate_feed.py [--looks 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import within  # noqa: E402
from bench.calibration import calibration  # noqa: E402
from projections.rating import DestinationRate, RateCard  # noqa: E402
from streams.config.settings import Settings  # noqa: E402
from streams.dev.embedded import EmbeddedBroker  # noqa: E402
from streams.worker.rate_feed import RateFeed, publish_card  # noqa: E402


async def looks(settings: Settings, n: int) -> list[float]:
    card = RateCard("bench-feed", "USD", 1_700_000_000_000, {"44": DestinationRate("44", "United Kingdom", 20_000)})
    await publish_card(settings, card, event_id="bench-feed", published_at_ms=1_700_000_000_000)
    feed = RateFeed(settings)
    try:
        await feed.catch_up()  # the first look starts the consumer and reads the card
        times = []
        for _ in range(n):
            t = time.perf_counter()
            await feed.catch_up()
            times.append(time.perf_counter() - t)
        return times
    finally:
        await feed.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--looks", type=within(1, 100_000), default=20)
    args = p.parse_args()
    if not 1 <= args.looks <= 10_000:
        p.error("--looks must be 1..10000")
    with EmbeddedBroker() as broker:
        settings = replace(Settings(), broker=broker.bootstrap, rates_topic=f"bench-{uuid.uuid4().hex[:8]}.rates")
        times = asyncio.run(looks(settings, args.looks))
    print(json.dumps({
        "benchmark": "rate_feed", "looks": len(times),
        "look_seconds_median": round(statistics.median(times), 4), "look_seconds_max": round(max(times), 4),
        "calibration": calibration(),
    }))


if __name__ == "__main__":
    main()
