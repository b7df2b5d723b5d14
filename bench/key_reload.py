"""What opening (the worker) and sealing (the edge) cost once a subscriber's cached key has expired.

Why: the worker's ``Opener`` keeps keys for ``ttl_s`` (30 s), so that an erasure made by another
process reaches it soon. Most subscribers call less often than that, so on a real network
nearly every call finds its subscriber's key expired. This measures, per account, the open of
one sealed number right after a refresh (the key taken back or read again, the value decrypted),
and the first open of a new opener (the key read, derived and set up; best of three); and the
edge's side: a number sealed per account right after the sealer's ttl; and what an erasure
folded costs the opener once it holds every account's key and opened number (``forget``: it
scanned every cached entry, ~2 ms an erasure at 100k entries). Prints JSON, with the calibration.

    python bench/key_reload.py [--accounts 5000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import within  # noqa: E402
from bench.calibration import calibration  # noqa: E402
from bench.scratch import removed_after_success, scratch_dir  # noqa: E402
from streams.edge.sealing import Opener, Sealer, SubscriberKeys  # noqa: E402

MONTH = "202612"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=within(1, 1_000_000), default=5_000)
    parser.add_argument("--rounds", type=within(1, 1_000), default=15, help="refreshes measured; the best is reported")
    return parser.parse_args(argv)


def measure(accounts: int, rounds: int) -> dict:
    keys = SubscriberKeys(scratch_dir("vl-bench-keys-"))
    sealer = Sealer(keys, 6)
    tokens = [(f"acct-{i}", sealer.seal(f"acct-{i}", "+14155550123", MONTH)) for i in range(accounts)]
    first_us = float("inf")
    for _ in range(3):  # a new opener each time: a worker's first batch, the files in the page cache
        opener = Opener(keys, ttl_s=0)  # every refresh finds every key expired
        started = time.perf_counter()
        for account_id, token in tokens:
            opener.open(account_id, token)
        first_us = min(first_us, (time.perf_counter() - started) / accounts * 1e6)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        opener.refresh()
        for account_id, token in tokens:
            opener.open(account_id, token)
        best = min(best, (time.perf_counter() - started) / accounts * 1e6)
    return {"what": "Opener.open of one sealed number per account, keys expired", "accounts": accounts,
            "first_open_us_per_account": round(first_us, 2), "after_refresh_us_per_account": round(best, 2),
            "seal_after_ttl_us_per_account": round(_sealing(tokens, keys, rounds), 2),
            "forget_us_per_erasure": round(_forgetting(opener, tokens), 2)}


def _forgetting(opener: Opener, tokens: list[tuple[str, str]]) -> float:
    """An erasure folded while the opener holds every account's key and opened number: the
    subscriber's entries dropped (``Opener.forget``), for up to 1,000 accounts."""
    erased = [account_id for account_id, _token in tokens[:1_000]]
    started = time.perf_counter()
    for account_id in erased:
        opener.forget(account_id)
    return (time.perf_counter() - started) / len(erased) * 1e6


def _sealing(tokens: list[tuple[str, str]], keys: SubscriberKeys, rounds: int) -> float:
    """The edge's side (the receiver, ``ingest --follow``): one number sealed per account right
    after the sealer's ttl passed, so each account's key is loaded again (best of ``rounds``)."""
    sealer = Sealer(keys, 6)
    best = float("inf")
    for _ in range(rounds):
        sealer.forget()  # what the ttl's passing does
        started = time.perf_counter()
        for account_id, _token in tokens:
            sealer.seal(account_id, "+14155550123", MONTH)
        best = min(best, (time.perf_counter() - started) / len(tokens) * 1e6)
    return best


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    with removed_after_success():
        result = measure(args.accounts, args.rounds)
    result["calibration"] = calibration()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
