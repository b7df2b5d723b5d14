"""Benchmark: the pure rating function on a realistic 50k-prefix card, and a 200k-prefix deck load.

Prints one JSON line. A benchmark, not a test: nothing here asserts a time.

    python bench/rating.py [--calls 300000] [--card-prefixes 50000] [--deck-prefixes 200000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arguments import within  # noqa: E402
from projections.events import CallDetailRecord, Disposition  # noqa: E402
from projections.rating import DestinationRate, RateCard, rate_call  # noqa: E402
from streams.edge.rate_decks import load_rate_card  # noqa: E402
from projections.rate_book import RateBook, card_to_parts  # noqa: E402
from schemas.codec import EventCodec  # noqa: E402


def make_prefixes(n: int, rng: random.Random) -> list[str]:
    """Country codes widened into operator and city blocks, as real decks are (2-9 digits)."""
    prefixes: set[str] = set()
    countries = [str(c) for c in (1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49,
                                  51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86,
                                  90, 91, 92, 93, 94, 95, 98, 212, 213, 216, 234, 254, 351, 353, 380, 966, 971)]
    while len(prefixes) < n:
        c = rng.choice(countries)
        prefixes.add(c + "".join(str(rng.randrange(10)) for _ in range(rng.randrange(1, 7))))
    return sorted(prefixes)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=within(1), default=300_000)
    p.add_argument("--card-prefixes", type=within(1), default=50_000)
    p.add_argument("--deck-prefixes", type=within(1), default=200_000)
    args = p.parse_args()
    rng = random.Random(1)

    prefixes = make_prefixes(args.card_prefixes, rng)
    card = RateCard("bench", "USD", 0, {
        x: DestinationRate(x, f"dest {x}", rng.randrange(1_000, 500_000), 0,
                           rng.choice((60, 30, 6, 1)), rng.choice((60, 6, 1)))
        for x in prefixes
    })
    t0 = 1_790_812_800_000
    calls = []
    for i in range(args.calls):
        callee = rng.choice(prefixes) + "".join(str(rng.randrange(10)) for _ in range(6))
        answer = t0 + 5_000
        calls.append(CallDetailRecord(f"e{i}", "c", f"k{i}", "a", "15550000001", callee, t0, answer,
                                      answer + rng.randrange(1, 1_800) * 1000, Disposition.ANSWERED))
    start = time.perf_counter()
    total = 0
    for cdr in calls:
        total += rate_call(cdr, card).charge_micros
    rate_s = time.perf_counter() - start

    deck_prefixes = make_prefixes(args.deck_prefixes, rng)
    with tempfile.TemporaryDirectory() as tmp:
        deck = Path(tmp) / "deck.csv"
        with deck.open("w") as f:
            f.write("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s\n")
            for x in deck_prefixes:
                f.write(f"{x},dest {x},0.{rng.randrange(10**4):04d},0,60,60\n")
        start = time.perf_counter()
        loaded = load_rate_card(str(deck), "USD", "2026-01-01")
        load_s = time.perf_counter() - start
    # What `rates import` adds after loading (cut into parts, Avro-encode), and what each worker
    # does to read the card back (decode, assemble, validate): the broker round trip aside.
    codec = EventCodec()
    start = time.perf_counter()
    values = [codec.encode(p) for p in card_to_parts(loaded, event_id="bench", published_at_ms=0)]
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    book = RateBook(lead_ms=0)
    for v in values:
        book.add(codec.decode_event(v), 0)
    assemble_s = time.perf_counter() - start
    assert len(book.effective_cards()[0].destinations) == len(loaded.destinations)

    print(json.dumps({
        "benchmark": "rating",
        "calls": args.calls,
        "card_prefixes": len(card.destinations),
        "rate_cdr_per_s_one_core": round(args.calls / rate_s),
        "deck_prefixes": len(loaded.destinations),
        "deck_load_s": round(load_s, 2),
        "deck_parts": len(values),
        "deck_part_bytes_max": max(len(v) for v in values),
        "deck_encode_s": round(encode_s, 2),
        "deck_import_total_s": round(load_s + encode_s, 2),
        "deck_worker_assemble_s": round(assemble_s, 2),
        "checksum_charge_micros": total,
    }))


if __name__ == "__main__":
    main()
