"""``voiceledger dead-letters list|redrive``: what the ledger refused, and sending refused events
again once their cause is mended. The steps are in ``streams/ledger/dead_letters.py``; this
module parses and prints."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter

from streams.cli.common import settings_of

LIMIT_MAX = 1_000_000


def limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= LIMIT_MAX:
        raise argparse.ArgumentTypeError(f"{text} must be from 1 to {LIMIT_MAX}")
    return value


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    dl = sub.add_parser("dead-letters", help="what the ledger refused, and refused events sent again")
    dl_sub = dl.add_subparsers(dest="dead_letters_command", required=True)
    ls = dl_sub.add_parser("list", parents=parents, help="the dead letters, with their reasons (never their contents)")
    ls.add_argument("--reason", default="", metavar="CODE", help="only this reason code (e.g. unknown_account)")
    ls.add_argument("--account", default="", help="only letters of this account's events")
    ls.add_argument("--limit", type=limit, default=10_000, help="at most this many (default 10,000)")
    ls.add_argument("--json", action="store_true", help="one JSON object per letter")
    ls.set_defaults(handler=list_letters)
    rd = dl_sub.add_parser("redrive", parents=parents,
                           help="send the events of the letters of one reason to the events topic again, once "
                                "their cause is mended; the worker folds them, counts one already applied as a "
                                "duplicate, and dead-letters again one still refused")
    rd.add_argument("--reason", required=True, metavar="CODE", help="the reason code whose letters are re-driven")
    rd.add_argument("--account", default="", help="only letters of this account's events (the account just opened)")
    rd.add_argument("--limit", type=limit, default=10_000, help="at most this many letters (default 10,000)")
    rd.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    rd.set_defaults(handler=redrive)


def list_letters(args: argparse.Namespace) -> int:
    from streams.ledger.dead_letters import read_letters

    letters = asyncio.run(read_letters(settings_of(args), args.reason, args.limit, args.account))
    for letter in letters:
        row = letter.as_json()
        print(json.dumps(row) if args.json else
              f"{row['at']}\t{row['reason_code']}\t{row['source']}\t{'redrivable' if row['redrivable'] else '-'}"
              f"\t{row['reason']}")
    if not args.json:
        print(f"{len(letters)} dead letters: " + (", ".join(f"{c} {n}" for c, n in sorted(
            Counter(x.reason_code for x in letters).items())) or "none"))
    return 0


def redrive(args: argparse.Namespace) -> int:
    """Exit 0 when every chosen letter held events to send, 1 when some held none."""
    from streams.ledger.dead_letters import read_letters, redrive as send

    settings = settings_of(args)
    letters = asyncio.run(read_letters(settings, args.reason, args.limit, args.account))
    held = [x for x in letters if x.events]
    sent = 0 if args.dry_run else asyncio.run(send(settings, held))
    print(json.dumps({"reason_code": args.reason, "letters": len(letters), "redrivable": len(held),
                      "not_redrivable": len(letters) - len(held), "events_sent": sent, "dry_run": args.dry_run}))
    return 0 if len(held) == len(letters) else 1
