"""Benchmark: what a rebalance costs the authorization process, and an account's partition; prints JSON.

When its worker loses partitions, the authorization process drops the states it mirrors of
them (``streams/authorization/mirror.py: StateMirror.drop``), on the event loop a switch's
requests wait on. This times that drop for ``--accounts`` mirrored accounts and ``--lost`` of
``--partitions`` partitions, and what one account's partition costs (Kafka's murmur2, in C where
built, and aiokafka's Python reference), with the calibration.

    python bench/revoke.py [--accounts 300000] [--partitions 12] [--lost 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka.partitioner import murmur2 as murmur2_reference  # noqa: E402

from bench.arguments import within  # noqa: E402
from bench.calibration import calibration  # noqa: E402
from schemas.codec import EventCodec  # noqa: E402
from streams.authorization.mirror import StateMirror  # noqa: E402
from streams.kafka import partitioning  # noqa: E402


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=within(1, 5_000_000), default=300_000)
    parser.add_argument("--partitions", type=within(1, 10_000), default=12)
    parser.add_argument("--lost", type=within(1, 10_000), default=3, help="partitions revoked, at most --partitions")
    args = parser.parse_args(argv)
    if args.lost > args.partitions:
        parser.error(f"argument --lost: {args.lost} is more than --partitions {args.partitions}")
    return args


def _per_key_us(murmur2, keys: list[bytes]) -> float:  # noqa: ANN001 - either murmur2
    started = time.perf_counter()
    for key in keys:
        murmur2(key)
    return (time.perf_counter() - started) / len(keys) * 1e6


def measure(accounts: int, partitions: int, lost: int) -> dict:
    ids = [f"acct-{i:08d}" for i in range(accounts)]
    mirror = StateMirror(EventCodec(), partitions, lambda account_id: None)
    started = time.perf_counter()
    mirror.apply([(a, b"state") for a in ids])  # what the worker's first batches send
    applied = time.perf_counter() - started
    started = time.perf_counter()
    mirror.drop(set(range(lost)))
    dropped = time.perf_counter() - started
    keys = [a.encode() for a in ids[:100_000]]
    return {"benchmark": "revoke", "accounts": accounts, "partitions": partitions, "lost": lost,
            "apply_new_us_per_account": round(applied / accounts * 1e6, 3),
            "drop_ms": round(dropped * 1e3, 1),
            "murmur2_us_per_key": round(_per_key_us(partitioning.murmur2, keys), 3),
            "murmur2_reference_us_per_key": round(_per_key_us(murmur2_reference, keys), 3),
            "murmur2_compiled": partitioning.murmur2 is not murmur2_reference}


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    result = measure(args.accounts, args.partitions, args.lost)
    result["calibration"] = calibration()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
