"""``voiceledger dispute open|resolve|list`` (R19), ``voiceledger compensate`` (R29) and ``voiceledger
portal link`` (issue 19): the API's claim commands and portal links for operators who script. A
dispute names the invoice by its legal number (or reference), found in the read model, and is
refused here when the invoice is more than 30 days old, as the API and the worker refuse it. A
compensation is refused above the balance the journal shows at the malfunction, as the API
refuses it."""

from __future__ import annotations

import argparse
import json

from streams.cli.common import settings_of
from streams.cli.operator import _amount, _at_ms, _common, _say
from streams.config.settings import ConfigError


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    dispute = sub.add_parser("dispute", help="R19: disputes of invoices")
    dispute_sub = dispute.add_subparsers(dest="dispute_command", required=True)
    do = dispute_sub.add_parser("open", parents=parents, help="open a dispute of an invoice (within 30 days)")
    do.add_argument("account")
    do.add_argument("--invoice", required=True, help="its legal number (or reference)")
    do.add_argument("--amount", required=True, help="the amount disputed, at most the invoice's total")
    do.add_argument("--reason", default="")
    _common(do)
    do.set_defaults(handler=open_dispute)
    dr = dispute_sub.add_parser("resolve", parents=parents, help="resolve a dispute (a credit note if for the customer)")
    dr.add_argument("account")
    dr.add_argument("dispute", help="the dispute's event id (dispute:...)")
    dr.add_argument("--outcome", required=True, choices=("CUSTOMER_FAVOUR", "PROVIDER_FAVOUR"))
    dr.add_argument("--credit", default="0", help="the credit, for CUSTOMER_FAVOUR")
    _common(dr)
    dr.set_defaults(handler=resolve_dispute)
    dl = dispute_sub.add_parser("list", parents=parents,
                                help="the disputes waiting for an answer, oldest first; or one account's, newest first")
    dl.add_argument("--account", default="", help="this account's disputes, decided ones too")
    dl.add_argument("--json", action="store_true", help="one JSON array, as GET /v1/disputes gives it")
    dl.set_defaults(handler=list_disputes)
    co = sub.add_parser("compensate", parents=parents,
                        help="R29: credit a provider malfunction, at most the balance when it happened")
    co.add_argument("account")
    co.add_argument("--amount", required=True, help="the credit, e.g. 12.50")
    co.add_argument("--currency", required=True)
    co.add_argument("--malfunction-at", required=True, help="ISO 8601: when it happened (the balance then is the cap)")
    co.add_argument("--reason", required=True, help="the malfunction and the evidence of the loss")
    co.add_argument("--at", help="ISO 8601: when it is credited (default: now)")
    _common(co)
    co.set_defaults(handler=compensate)
    portal = sub.add_parser("portal", help="the customer portal")
    portal_sub = portal.add_subparsers(dest="portal_command", required=True)
    pl = portal_sub.add_parser("link", parents=parents, help="a signed link that logs a customer in to their portal")
    pl.add_argument("account")
    pl.add_argument("--days", type=int, default=None, help="how long it works (default: portal_link_days)")
    pl.set_defaults(handler=portal_link)


def _problem(step):  # noqa: ANN001, ANN202 - a read-model step
    from streams.api.problems import Problem

    try:
        return step()
    except Problem as exc:
        raise ConfigError(f"{exc.kind}: {exc.detail}") from None


def open_dispute(args: argparse.Namespace) -> int:
    from streams.api import read_model, statements
    from streams.edge import commands

    settings = settings_of(args)
    reader = read_model.Reader.of(settings)
    row = _problem(lambda: read_model.invoice(reader, args.account, args.invoice))
    amount = _amount(args.amount)
    _problem(lambda: statements.check_dispute(row, amount))
    key = args.idempotency_key or commands.new_key()
    event = commands.dispute(args.account, row.reference, amount, row.currency, args.reason, key)
    return _say(commands.submit(settings, event, key), args, f"dispute of {args.invoice} opened for")


def resolve_dispute(args: argparse.Namespace) -> int:
    from streams.api import read_model
    from streams.edge import commands

    settings = settings_of(args)
    currency = _problem(lambda: read_model.account(read_model.Reader.of(settings), args.account)).currency
    key = args.idempotency_key or commands.new_key()
    event = commands.dispute_resolution(args.account, args.dispute, args.outcome, _amount(args.credit), currency, key)
    return _say(commands.submit(settings, event, key), args, f"dispute {args.dispute} resolved for")


def list_disputes(args: argparse.Namespace) -> int:
    """R19: what operators have to answer (``/console/disputes``), or one account's disputes."""
    import re

    from streams.api import read_model
    from streams.api.dispute_routes import views
    from streams.edge.commands import ACCOUNT_ID

    if args.account and not re.fullmatch(ACCOUNT_ID, args.account):
        raise ConfigError(f"--account: {args.account[:64]!r} is not an account id")
    reader = read_model.Reader.of(settings_of(args))
    rows = _problem(lambda: read_model.disputes(reader, args.account) if args.account
                    else read_model.open_disputes(reader, 1000))
    shown = _problem(lambda: views(reader, rows))
    if args.json:
        print(json.dumps([d.model_dump() for d in shown]))
        return 0
    for d in shown:
        decided = d.status if d.status != "CUSTOMER_FAVOUR" else f"CUSTOMER_FAVOUR credit {d.credit_micros}"
        print(f"{d.opened_at}  {d.account_id}  {d.invoice_number or d.invoice_reference}  {d.amount_micros} "
              f"{d.currency}  {decided}  {d.dispute_id}  {d.reason!r}")
    print(f"{len(shown)} dispute(s)" + (f" of {args.account}" if args.account else " waiting for an answer"))
    return 0


def compensate(args: argparse.Namespace) -> int:
    from streams.api import read_model
    from streams.edge import commands

    settings = settings_of(args)
    malfunction_ms = _at_ms(args.malfunction_at, "--malfunction-at")
    reader = read_model.Reader.of(settings)
    key = args.idempotency_key or commands.new_key()
    event = _problem(lambda: commands.compensation(
        args.account, _amount(args.amount), args.currency, malfunction_ms,
        lambda at_ms: read_model.balance_before(reader, args.account, at_ms // 1000), args.reason, key, _at_ms(args.at),
        commands.sent_before(settings, "compensate", key)))
    return _say(commands.submit(settings, event, key), args, "compensation credited to")


def portal_link(args: argparse.Namespace) -> int:
    from streams.api.links import Signer, portal_link as link

    settings = settings_of(args)
    if not settings.portal_secret_file:
        raise ConfigError("portal_secret_file: required to sign portal links (32 bytes or more of secret)")
    days = args.days if args.days is not None else settings.portal_link_days
    if not 1 <= days <= 90:
        raise ConfigError("--days: 1 to 90")
    url, expires = link(Signer.from_file(settings.portal_secret_file), settings.portal_base_url, args.account, days)
    print(json.dumps({"account": args.account, "url": url, "expires_at": expires}))
    return 0
