"""``voiceledger account open|show|plan|suspend|resume|terminate|hold|release``, ``voiceledger
payment record|refund|chargeback`` and ``voiceledger adjust``: an operator's commands,
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
    account = sub.add_parser("account", help="accounts: open, show, details, deal, credit limit, plan, status")
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
    _customer_options(op)
    _common(op)
    op.set_defaults(handler=open_account)
    _account_changes(account_sub, parents)

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
    rf = payment_sub.add_parser("refund", parents=parents, help="money going back to the customer: at most the unused balance "
                                   "(R8: calls are not refunded; dispute a charge instead)")
    rf.add_argument("account")
    rf.add_argument("--amount", required=True)
    rf.add_argument("--currency", required=True)
    rf.add_argument("--payment", default="", metavar="EVENT_ID", help="the payment it refunds, if one")
    rf.add_argument("--reason", default="")
    rf.add_argument("--at", help="ISO 8601 (default: now)")
    _common(rf)
    rf.set_defaults(handler=record_refund)
    cb = payment_sub.add_parser("chargeback", parents=parents, help="the card holder's bank took a payment back")
    cb.add_argument("account")
    cb.add_argument("--amount", required=True)
    cb.add_argument("--currency", required=True)
    cb.add_argument("--payment", default="", metavar="EVENT_ID", help="the payment taken back")
    cb.add_argument("--reason-code", default="", help="the card scheme's reason code")
    cb.add_argument("--at", help="ISO 8601 (default: now)")
    _common(cb)
    cb.set_defaults(handler=record_chargeback)

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


def _customer_options(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("--name", default="", required=required, help="who is invoiced (sealed on the log, R32)")
    parser.add_argument("--address", default="", help=r"the billing address, lines separated by \n")
    parser.add_argument("--tax-id", default="", help="a business customer's VAT or tax id")
    parser.add_argument("--locale", default="", help="the customer's language, e.g. fr, nl_BE or de_CH: their "
                        "invoices and portal are worded in it (default: the deployment's invoice_locale)")


def _customer(args: argparse.Namespace):  # noqa: ANN202 - a commands.Customer
    from streams.edge import commands

    return commands.Customer(args.name, args.address.replace("\\n", "\n"), args.tax_id, args.locale)


def _account_changes(account_sub: argparse._SubParsersAction, parents: list) -> None:
    details = account_sub.add_parser("details", parents=parents, help="the customer block (name, address, tax "
                                     "id, language) of the next invoices, whole")
    details.add_argument("account")
    _customer_options(details, required=True)
    _common(details)
    details.set_defaults(handler=change_details)
    language = account_sub.add_parser("language", parents=parents, help="the customer's language alone, for their "
                                      "next invoices and their portal (the customer block stays)")
    language.add_argument("account")
    language.add_argument("--locale", required=True, help="e.g. fr, nl_BE or de_CH")
    _common(language)
    language.set_defaults(handler=change_language)
    show = account_sub.add_parser("show", parents=parents, help="the account as the read model holds it (JSON)")
    show.add_argument("account")
    show.set_defaults(handler=show_account)
    deal = account_sub.add_parser("deal", parents=parents, help="price the account's calls with its own card from now on")
    deal.add_argument("account")
    deal.add_argument("--card", required=True, help="the card's name (its id before @); '' ends the deal")
    _common(deal)
    deal.set_defaults(handler=assign_deal)
    limit = account_sub.add_parser("credit-limit", parents=parents,
                                   help="R10: what a postpaid account may owe from now on")
    limit.add_argument("account")
    which = limit.add_mutually_exclusive_group(required=True)
    which.add_argument("--limit", help="e.g. 500.00 (0: nothing beyond its balance)")
    which.add_argument("--plan-limit", action="store_true", help="its plan's limit again (credit_limits)")
    limit.add_argument("--currency", required=True, help="the account's currency")
    limit.add_argument("--reason", default="", help="why, for the audit trail")
    _common(limit)
    limit.set_defaults(handler=set_credit_limit)
    plan = account_sub.add_parser("plan", parents=parents, help="R21: change the plan from the next period")
    plan.add_argument("account")
    plan.add_argument("--plan", required=True)
    _common(plan)
    plan.set_defaults(handler=change_plan)
    for action, text in (("suspend", "suspend (R22: an operator's suspension)"), ("resume", "resume a suspension"),
                         ("terminate", "terminate the account (R25-R27; --reason)"),
                         ("hold", "place a fraud hold (R27: no calls, no recharge)"), ("release", "release it")):
        change = account_sub.add_parser(action, parents=parents, help=text)
        change.add_argument("account")
        change.add_argument("--case", default="", help="the fraud case (hold and release)")
        if action == "terminate":
            change.add_argument("--reason", required=True,
                                choices=("CUSTOMER_REQUEST", "PROVIDER_WITHOUT_REASON", "BREACH", "FRAUD"))
        _common(change)
        change.set_defaults(handler=change_status, action=action)


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
                             args.country, args.tax_jurisdiction, key, _at_ms(args.at), _customer(args), settings.plans)
    return _say(commands.submit(settings, event, key), args, "opened")


def _at_ms(text: str | None, flag: str = "--at") -> int | None:
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ConfigError(f"{flag}: {text!r} needs a zone (Z or +01:00)")
    return int(at.timestamp() * 1000)


def _amount(text: str, flag: str = "--amount") -> int:
    from projections.money import parse_decimal_micros

    negative = text.startswith("-")
    try:
        micros = parse_decimal_micros(text[1:] if negative else text)
    except ValueError as exc:
        raise ConfigError(f"{flag}: {exc}") from None
    return -micros if negative else micros


def _send(args: argparse.Namespace, build, what: str) -> int:  # noqa: ANN001 - key -> the event
    """A command's event under its idempotency key (given, or a fresh one), sent once, said."""
    from streams.edge import commands

    key = args.idempotency_key or commands.new_key()
    return _say(commands.submit(settings_of(args), build(key), key), args, what)


def record_refund(args: argparse.Namespace) -> int:
    from streams.edge import commands

    return _send(args, lambda key: commands.refund(args.account, _amount(args.amount), args.currency, args.payment,
                                                   args.reason, key, _at_ms(args.at)), "refund recorded for")


def post_adjustment(args: argparse.Namespace) -> int:
    from streams.edge import commands

    return _send(args, lambda key: commands.adjustment(args.account, _amount(args.amount), args.currency,
                                                       args.category, args.reason, key, _at_ms(args.at)),
                 "adjustment posted for")


def change_status(args: argparse.Namespace) -> int:
    from streams.edge import commands

    return _send(args, lambda key: commands.status_change(args.action, args.account, args.case, key,
                                                          reason=getattr(args, "reason", "")), f"{args.action}:")


def record_payment(args: argparse.Namespace) -> int:
    from streams.edge import commands

    return _send(args, lambda key: commands.payment(args.account, _amount(args.amount), args.currency, args.reference,
                                                    key, _at_ms(args.at)), "payment recorded for")


def record_chargeback(args: argparse.Namespace) -> int:
    from streams.edge import commands

    return _send(args, lambda key: commands.chargeback(args.account, _amount(args.amount), args.currency, args.payment,
                                                       args.reason_code, key, _at_ms(args.at)),
                 "chargeback recorded for")


def change_plan(args: argparse.Namespace) -> int:
    from streams.edge import commands

    plans = settings_of(args).plans
    return _send(args, lambda key: commands.plan_change(args.account, args.plan, key, plans=plans),
                 f"plan {args.plan} from the next period for")


def show_account(args: argparse.Namespace) -> int:
    """The account's row of the read model, as the API's GET /v1/accounts/{id} gives it."""
    from streams.api import read_model
    from streams.api.problems import Problem
    from streams.api.read_routes import account_view

    reader = read_model.Reader.of(settings_of(args))
    try:
        print(account_view(read_model.account(reader, args.account)).model_dump_json())
    except Problem as exc:
        raise ConfigError(f"{args.account}: {exc.detail}") from None
    return 0


def change_details(args: argparse.Namespace) -> int:
    from streams.edge import commands

    return _send(args, lambda key: commands.details(args.account, _customer(args), key), "customer details changed for")


def change_language(args: argparse.Namespace) -> int:
    from streams.edge import commands

    return _send(args, lambda key: commands.language(args.account, args.locale, key), "language changed for")


def set_credit_limit(args: argparse.Namespace) -> int:
    from streams.edge import commands

    limit = None if args.plan_limit else _amount(args.limit, "--limit")
    said = "its plan's credit limit" if limit is None else f"credit limit {args.limit} {args.currency.upper()}"
    mode = _billing_mode(args)
    return _send(args, lambda key: commands.credit_limit(args.account, limit, args.currency, args.reason, key,
                                                         billing_mode=mode), f"{said} from now on for")


def _billing_mode(args: argparse.Namespace) -> str | None:
    """The account's billing mode from the read model, so that a prepaid account is refused here
    as the API refuses it; None when it cannot say (not folded yet, ClickHouse away): the
    command is sent, and the worker decides (a dead letter for a prepaid account)."""
    from streams.api import read_model
    from streams.api.problems import Problem

    try:
        return read_model.account(read_model.Reader.of(settings_of(args)), args.account).billing_mode
    except Problem:
        return None


def assign_deal(args: argparse.Namespace) -> int:
    from streams.edge import commands

    kept = commands.kept_cards(settings_of(args))
    return _send(args, lambda key: commands.deal(args.account, args.card, key, kept=kept),
                 f"card {args.card or '(plan)'} from now on for")
