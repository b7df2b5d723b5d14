"""``voiceledger rerate ACCOUNT --period YYYY-MM --plan PLAN [--post]``: R6, usage inconsistent
with the account's plan re-rated at another plan's cards; ``--post`` posts the difference as an
adjustment with its own invoice line (streams/ledger/rerate.py)."""

from __future__ import annotations

import argparse
import json

from streams.cli.common import month, settings_of


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    rr = sub.add_parser("rerate", parents=parents, help="R6: re-rate a period's calls at another plan; --post the difference")
    rr.add_argument("account")
    rr.add_argument("--period", required=True, help="YYYY-MM, in the account's time zone")
    rr.add_argument("--plan", required=True, help="the plan whose cards re-rate the calls")
    rr.add_argument("--post", action="store_true", help="post the difference as an adjustment (once per period and plan)")
    rr.add_argument("--json", action="store_true")
    rr.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from streams.ledger.rerate import rerate_period

    month("--period", args.period)
    found = rerate_period(settings_of(args), args.account, args.period, args.plan, args.post)
    r = found.rerating
    summary = {"account": args.account, "period": args.period, "plan": args.plan, "currency": r.currency,
               "calls": len(r.differences), "difference_micros": r.total_difference_micros,
               "unrated": [list(u) for u in r.unrated[:20]],
               "adjustment_event": found.posted.event_id if found.posted else None}
    if args.json:
        print(json.dumps(summary))
    else:
        for d in r.differences:
            print(f"{d.call_key}\t{d.original_micros}\t{d.rerated_micros}\t{d.difference_micros:+d}")
        print(f"{len(r.differences)} call(s), difference {r.total_difference_micros:+d} micro-units {r.currency}"
              + (f"; posted as {found.posted.event_id}" if found.posted else "; not posted (--post)"))
    return 0
