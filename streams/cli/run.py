"""``voiceledger demo`` and ``voiceledger worker``: the processes that fold the log."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from streams.cli.common import positive, settings_of
from streams.config.settings import EXAMPLE_TAX_RULES


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    demo = sub.add_parser("demo", parents=parents,
                          help="rate and fold a simulated stream end to end, print balances and call logs")
    demo.add_argument("--accounts", type=positive, default=2_000)
    demo.add_argument("--calls", type=positive, default=50_000)
    demo.add_argument("--days", type=positive, default=3)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--envelope", type=positive, default=200, help="CDRs per Kafka message (1 = no envelopes)")
    demo.add_argument("--broker", help="host:port of a real Kafka (default: embedded)")
    demo.add_argument("--clickhouse-url", help="clickhouse://... or chdb:///... (default: embedded chDB)")
    demo.add_argument("--workdir", default=".voiceledger/demo")
    demo.add_argument("--serve", action="store_true",
                      help="keep the API, the portal and the console up at the end, until Ctrl-C")
    demo.set_defaults(handler=run_demo)
    worker = sub.add_parser("worker", parents=parents, help="run a stream worker until SIGTERM")
    worker.set_defaults(handler=run_worker)


def run_demo(args: argparse.Namespace) -> int:
    from streams.dev.demo import run_demo as demo
    from streams.dev.simulate import SimulationSpec

    settings = settings_of(args, broker=args.broker or "embedded", clickhouse_url=args.clickhouse_url)
    if not settings.tax_rules:  # the demo shows R17 with the example US and Belgian profiles
        settings = replace(settings, tax_rules=EXAMPLE_TAX_RULES)
    spec = SimulationSpec(accounts=args.accounts, calls=args.calls, days=args.days, seed=args.seed)
    return demo(settings, spec, args.envelope, Path(args.workdir), args.serve)


def run_worker(args: argparse.Namespace) -> int:
    from streams.edge.rate_decks import load_rate_cards
    from streams.worker.run import run_worker as worker

    settings = settings_of(args)
    load_rate_cards(settings.rate_cards)  # fail fast, with the file and line
    worker(settings)
    return 0
