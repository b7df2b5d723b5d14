"""``voiceledger subscriber export|erase``: a subscriber's data rights (R32, R33). The steps and
their order are in ``streams/ledger/privacy.py``; this module parses and prints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from streams.cli.common import settings_of
from streams.config.settings import ConfigError


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    subs = sub.add_parser("subscriber", help="R32/R33: a subscriber's data: export, erase")
    subs_sub = subs.add_subparsers(dest="subscriber_command", required=True)
    sx = subs_sub.add_parser("export", parents=parents,
                             help="the subscriber's calls, journal and invoices as JSON and CSV")
    sx.add_argument("account")
    sx.add_argument("--out", required=True, metavar="DIR")
    sx.set_defaults(handler=export)
    se = subs_sub.add_parser("erase", parents=parents,
                             help="delete the subscriber's key (sealed numbers in the Kafka log become unreadable), "
                                  "anonymise their numbers in ClickHouse and log the erasure (the worker then drops "
                                  "them from the account's state); amounts are kept")
    se.add_argument("account")
    se.add_argument("--yes", action="store_true", help="required: erasure cannot be undone")
    se.add_argument("--ref", default="", help="the request's reference (e.g. the privacy ticket), kept in the event")
    se.set_defaults(handler=erase)


def export(args: argparse.Namespace) -> int:
    from streams.ledger.privacy import export_subscriber

    counts = export_subscriber(settings_of(args), args.account, Path(args.out))
    print(json.dumps({"account": args.account, "out": args.out, "rows": counts}))
    return 0


def erase(args: argparse.Namespace) -> int:
    from streams.ledger.privacy import erase_subscriber

    if not args.yes:
        raise ConfigError("--yes: required, because an erasure cannot be undone")
    done = erase_subscriber(settings_of(args), args.account, args.ref)
    print(json.dumps({"account": done.account, "call_log_rows_anonymised": done.call_log_rows_anonymised,
                      "erasure_event": done.erasure_event, "subscriber_key_deleted": done.subscriber_key_deleted,
                      "kafka_log": done.kafka_log}))
    return 0
