"""``voiceledger account open|suspend|resume|hold|release``, ``voiceledger payment
record|refund`` and ``voiceledger adjust``: an operator's commands,
without writing Avro (streams/edge/commands.py). Each prints one line, or one JSON object with
``--json``, and takes ``--idempotency-key``: the same key again gives the same event and answer."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime

from streams.cli.common import settings_of
from streams.config.settings import ConfigError


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    account = sub.add_parser("account", help="accounts: open")
    account_sub = account.add_subparsers(dest="account_command", required=True)
    op = account_sub.add_parser("open", parents=parents, help="open an account (AccountOpened on the events topic)")
    op.add_argument("account", help="the account id")
    op.add_argument("--currency", required=True, help="USD or EUR (R7: one currency per account)")
    op.add_argument("--plan", required=True)
    op.add_argument("--mode", required=True, choices=("prepaid", "postpaid"))
    op.add_argument("--number", action="append", default=[], metavar="NUMBER",
                    help="a number the account owns (repeat); the directory finds its calls by it")
    op.add_argument("--time-zone", default="UTC", help="IANA zone of its periods and bands (default UTC)")
    op.add_argument("--country", default="", help="ISO 3166 alpha-2: its dialling plan and what is domestic")
    op.add_argument("--tax-jurisdiction", default="", help="R17: e.g. US-NY, BE")
    op.add_argument("--at", help="ISO 8601 time the account opens (default: now; earlier for a migrated customer)")
    _common(op)
    op.set_defaults(handler=open_account)
    for action, text in (("suspend", "suspend (R22: an operator's suspension)"), ("resume", "resume a suspension"),
                         ("hold", "place a fraud hold (R27: no calls, no recharge)"), ("release", "release it")):
        change = account_sub.add_parser(action, parents=parents, help=text)
        change.add_argument("account")
        change.add_argument("--case", default="", help="the fraud case (hold and release)")
        _common(change)
        change.set_defaults(handler=change_status, action=action)

    payment = sub.add_parser("payment", help="payments: record")
    payment_sub = payment.add_subparsers(dest="payment_command", required=True)
    pr = payment_sub.add_parser("record", parents=parents, help="record a payment or top-up (R9: credited)")
    pr.add_argument("account")
    pr.add_argument("--amount", required=True, help="in the account's currency, e.g. 25.00")
    pr.add_argument("--currency", required=True)
    pr.add_argument("--reference", default="", help="the processor's payment reference")
    pr.add_argument("--at", help="ISO 8601 time the payment was received (default: now)")
    _common(pr)
    pr.set_defaults(handler=record_payment)
    rf = payment_sub.add_parser("refund", parents=parents, help="money going back to the customer")
    rf.add_argument("account")
    rf.add_argument("--amount", required=True)
    rf.add_argument("--currency", required=True)
    rf.add_argument("--payment", default="", metavar="EVENT_ID", help="the payment it refunds, if one")
    rf.add_argument("--reason", default="")
    rf.add_argument("--at", help="ISO 8601 (default: now)")
    _common(rf)
    rf.set_defaults(handler=record_refund)

    adjust = sub.add_parser("adjust", parents=parents, help="R16: a one-off charge, or a credit (negative amount)")
    adjust.add_argument("account")
    adjust.add_argument("--amount", required=True, help="e.g. 12.50 (a charge) or -5.00 (a credit)")
    adjust.add_argument("--currency", required=True)
    adjust.add_argument("--category", required=True,
                        help="activation, feature, equipment, shipping (charges); goodwill, correction (credits)")
    adjust.add_argument("--reason", default="", help="shown on the invoice line")
    adjust.add_argument("--at", help="ISO 8601 (default: now)")
    _common(adjust)
    adjust.set_defaults(handler=post_adjustment)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--idempotency-key", default="", metavar="KEY",
                        help="the same key again sends the same event once more and gives the same answer")
    parser.add_argument("--json", action="store_true", help="print the answer as one JSON object")


def _say(answer, args: argparse.Namespace, what: str) -> int:  # noqa: ANN001 - a commands.Answer
    if args.json:
        print(json.dumps(asdict(answer)))
    else:
        again = " (the same event again: this key was used before)" if answer.replayed else ""
        print(f"{what} {answer.account_id}: event {answer.event_id} on partition {answer.partition}{again}; "
              f"idempotency key {answer.idempotency_key}")
    return 0


def open_account(args: argparse.Namespace) -> int:
    from streams.edge import commands

    settings = settings_of(args)
    key = args.idempotency_key or args.account
    event = commands.opening(args.account, args.currency, args.plan, args.mode, args.number, args.time_zone,
                             args.country, args.tax_jurisdiction, key, _at_ms(args.at))
    return _say(commands.submit(settings, event, key), args, "opened")


def _at_ms(text: str | None) -> int | None:
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--at: {text!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ConfigError(f"--at: {text!r} needs a zone (Z or +01:00)")
    return int(at.timestamp() * 1000)


def _amount(text: str) -> int:
    from projections.money import parse_decimal_micros

    negative = text.startswith("-")
    try:
        micros = parse_decimal_micros(text[1:] if negative else text)
    except ValueError as exc:
        raise ConfigError(f"--amount: {exc}") from None
    return -micros if negative else micros


def record_refund(args: argparse.Namespace) -> int:
    from streams.edge import commands

    key = args.idempotency_key or commands.new_key()
    event = commands.refund(args.account, _amount(args.amount), args.currency, args.payment, args.reason, key,
                            _at_ms(args.at))
    return _say(commands.submit(settings_of(args), event, key), args, "refund recorded for")


def post_adjustment(args: argparse.Namespace) -> int:
    from streams.edge import commands

    key = args.idempotency_key or commands.new_key()
    event = commands.adjustment(args.account, _amount(args.amount), args.currency, args.category, args.reason, key,
                                _at_ms(args.at))
    return _say(commands.submit(settings_of(args), event, key), args, "adjustment posted for")


def change_status(args: argparse.Namespace) -> int:
    from streams.edge import commands

    key = args.idempotency_key or commands.new_key()
    event = commands.status_change(args.action, args.account, args.case, key)
    return _say(commands.submit(settings_of(args), event, key), args, f"{args.action}:")


def record_payment(args: argparse.Namespace) -> int:
    from streams.edge import commands

    settings = settings_of(args)
    key = args.idempotency_key or commands.new_key()
    event = commands.payment(args.account, _amount(args.amount), args.currency, args.reference, key, _at_ms(args.at))
    return _say(commands.submit(settings, event, key), args, "payment recorded for")
