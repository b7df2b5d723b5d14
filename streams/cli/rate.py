"""``voiceledger rate``: price calls against a carrier's deck, with no broker and no state, as
``cgr-console cost`` does: to check a deck, answer a customer, or test a switch's numbers.

Calls come as JSON lines on standard input (``{"callee", "start_at", "duration_s"}``, the talk
time, or ``{"callee", "start_at", "answer_at", "end_at"}``) or as one call on the command line
(``--callee N --start ISO --duration S``). Each gives one JSON line: ``{"callee_e164", "prefix",
"destination", "band", "billed_s", "charge_micros", "currency"}``, or ``{"rejected": REASON}``.
The deck is the CSV ``rates import`` reads; ``--country`` is the caller's country, whose dialling
plan reads the number (``projections/dialling.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from streams.cli.common import settings_of
from streams.config.settings import ConfigError

LINE_CHARS_MAX = 4_096  # a line of standard input longer than this is refused, not read whole


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    rate = sub.add_parser("rate", parents=parents, help="price calls against a rate deck (JSON lines in and out)")
    rate.add_argument("--deck", required=True, metavar="FILE.csv", help="a carrier rate deck (the rates import CSV)")
    rate.add_argument("--currency", required=True, help="the deck's currency")
    rate.add_argument("--country", help="the caller's country: ISO 3166 alpha-2 (BE), as an account has it, or a "
                                        "calling code (32) (default: country_code)")
    rate.add_argument("--valid-from", help="YYYY-MM-DD (UTC): the deck's start (default: its effective_date column)")
    rate.add_argument("--callee", help="one call: the number dialled")
    rate.add_argument("--start", help="one call: its answer time, ISO 8601 with a zone")
    rate.add_argument("--duration", type=int, help="one call: seconds from answer to hang-up")
    rate.set_defaults(handler=price)


def _ms(text: object, what: str) -> int:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} {text!r} has no time zone")
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def _call(fields: dict):  # noqa: ANN202 - a CallDetailRecord
    """A call to price, from one JSON object; ValueError names what is wrong."""
    from projections.events import CallDetailRecord, Disposition

    callee = fields.get("callee")
    if not isinstance(callee, str) or not callee:
        raise ValueError("callee is required")
    if "duration_s" in fields:
        answer = _ms(fields.get("start_at"), "start_at")
        duration = fields["duration_s"]
        if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
            raise ValueError("duration_s must be whole seconds, at least 0")
        end = answer + fields["duration_s"] * 1000
    else:
        answer, end = _ms(fields.get("answer_at"), "answer_at"), _ms(fields.get("end_at"), "end_at")
    start = _ms(fields["start_at"], "start_at") if "start_at" in fields else answer
    return CallDetailRecord("rate", "rate", "rate", "rate", "", callee, min(start, answer), answer, end,
                            Disposition.ANSWERED)


def _priced(card, fields: dict, country: str) -> dict:  # noqa: ANN001 - a RateCard
    from projections.rating import RatingError, normalize_number, rate_call
    from projections.validation import InvalidEvent, check_bounds, validate_cdr

    try:
        cdr = _call(fields)
        check_bounds(cdr)  # the same bounds as every event on the log (a call dated 9999 is refused)
        validate_cdr(cdr)
        rated = rate_call(cdr, card, country_code=country)
    except (ValueError, KeyError) as exc:
        return {"rejected": getattr(exc, "code", "bad_call"), "reason": str(exc)}
    except (RatingError, InvalidEvent) as exc:
        return {"rejected": exc.code, "reason": str(exc)}
    return {"callee_e164": "+" + normalize_number(cdr.callee, country), "prefix": rated.destination_prefix,
            "destination": rated.destination_name, "band": rated.band, "billed_s": rated.billed_s,
            "charge_micros": rated.charge_micros, "currency": rated.currency}


def price(args: argparse.Namespace) -> int:
    """Exit 0 when every call was priced, 1 when one was refused."""
    from streams.edge.rate_decks import load_rate_card

    settings = settings_of(args)
    country = args.country or settings.country_code
    if country.isalpha():
        from projections.dialling import calling_code

        country = calling_code(country) or country
    if not (country.isdigit() and len(country) <= 3):
        raise ConfigError(f"--country: {args.country!r} must be an ISO 3166 country (BE) or a calling code (32)")
    card = load_rate_card(args.deck, args.currency, args.valid_from or None, card_id="rate")
    if args.callee:
        calls = [{"callee": args.callee, "start_at": args.start, "duration_s": args.duration}]
    else:
        calls = (_line(line) for line in sys.stdin)
    refused = 0
    for fields in calls:
        out = fields if "rejected" in fields else _priced(card, fields, country)
        refused += "rejected" in out
        print(json.dumps(out), flush=True)
    return 1 if refused else 0


def _line(line: str) -> dict:
    if len(line) > LINE_CHARS_MAX:
        return {"rejected": "line_too_long", "reason": f"over {LINE_CHARS_MAX} characters"}
    try:
        fields = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"rejected": "bad_json", "reason": exc.msg}
    return fields if isinstance(fields, dict) else {"rejected": "bad_json", "reason": "not a JSON object"}
