"""Parsers and checks of single setting values. Each returns the parsed value or raises
``ValueError`` with what the value must be; ``streams/config/settings.py`` names the setting.

The parsers of structured settings (``plan:amount`` lists, tax rules) are the only place their
text is read: validation and the code that uses the values call the same function.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from projections.invoicing import TaxRule
from projections.money import SUPPORTED_CURRENCIES, parse_decimal_micros
from projections.periods import is_time_zone

_HOST_PORT = re.compile(r"^[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._\-]{1,249}$")  # Kafka's legal topic names
_HOST = re.compile(r"^[A-Za-z0-9._\-:\[\]]{1,253}$")
PLAN_NAME_MAX = 64
_NAME = re.compile(r"^[^\s,:|\x00-\x1f\x7f]{1,%d}$" % PLAN_NAME_MAX)  # a plan name: no separators of the list settings


def is_plan_name(value: str) -> bool:
    """What a plan setting can name: 1-``PLAN_NAME_MAX`` characters, no space, control character,
    ',', ':' or '|'."""
    return bool(_NAME.match(value))


class Invalid(ValueError):
    """A value of a setting is wrong; the message says what it must be."""


def broker(value: str) -> None:
    if value == "embedded":
        return
    if not value or not all(_HOST_PORT.match(b) for b in value.split(",")):
        raise Invalid("must be host:port[,host:port] or 'embedded'")


def clickhouse_url(value: str) -> None:
    if urlparse(value).scheme not in ("clickhouse", "clickhouses", "chdb"):
        raise Invalid(f"scheme {urlparse(value).scheme!r} must be clickhouse, clickhouses or chdb")


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def identifier_if_set(value: str) -> None:
    if value and not _IDENTIFIER.match(value):
        raise Invalid("must be 1-64 letters, digits or '_', not starting with a digit (a ClickHouse name)")


def registry_url(value: str) -> None:
    if value and urlparse(value).scheme not in ("http", "https"):
        raise Invalid("must be http(s)://host:port, or empty for the file registry")


def topic(value: str) -> None:
    if not _TOPIC.match(value):
        raise Invalid("must be 1-249 letters, digits, '.', '_' or '-' (a Kafka topic or group name)")


def host(value: str) -> None:
    if not _HOST.match(value):
        raise Invalid("must be a host name or an IP address")


def one_of(*choices: str):  # noqa: ANN201 - a check
    def check(value: str) -> None:
        if value not in choices:
            raise Invalid(f"must be {', '.join(choices[:-1])} or {choices[-1]}" if len(choices) > 1 else choices[0])
    return check


def digits(value: str) -> None:
    if not (value.isdigit() and 1 <= len(value) <= 3):
        raise Invalid("must be a country calling code of 1-3 digits")


def prefixes(values: tuple[str, ...]) -> None:
    for v in values:
        if not (v.isdigit() and len(v) <= 15):
            raise Invalid(f"{v!r} is not a number prefix (digits only)")


def issuer(value: str) -> None:
    if not value or len(value) > 16 or not value.replace("_", "").isalnum():
        raise Invalid("must be 1-16 letters and digits (it prefixes invoice numbers)")


def plan_names(values: tuple[str, ...]) -> None:
    for v in values:
        if not _NAME.match(v):
            raise Invalid(f"{v!r} is not a plan name")


def amount(value: str, positive: bool = False) -> int:
    """A decimal amount in the account's currency, as micro-units."""
    try:
        micros = parse_decimal_micros(value)
    except ValueError:
        micros = -1
    if micros < (1 if positive else 0) or micros > 10**15:
        raise Invalid(f"{value!r} must be a {'positive' if positive else 'non-negative'} decimal amount "
                      "(at most 6 decimals)")
    return micros


def positive_amount(value: str) -> int:
    return amount(value, positive=True)


def rate_cards(values: tuple[str, ...]) -> None:
    if not values:
        raise Invalid("at least one rate card is needed")
    for spec in values:
        if spec.count("|") != 2:
            raise Invalid(f"{spec!r} must be 'path.csv|CURRENCY|YYYY-MM-DD'")


def plan_amounts(values: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """'plan:amount' (any currency) or 'plan:CUR:amount' (in that currency, issue 20) pairs:
    (plan or "plan:CUR", micro-units)."""
    out = []
    for spec in values:
        key, _, text = spec.rpartition(":")
        plan, _, currency = key.partition(":")
        try:
            if not _NAME.match(plan) or (currency and currency not in SUPPORTED_CURRENCIES):
                raise Invalid("")
            out.append((key, amount(text)))
        except Invalid:
            raise Invalid(f"{spec!r} must be 'plan:amount' or 'plan:CUR:amount' (a decimal of at least 0, e.g. "
                          "basic:9.99 or basic:EUR:8.99)") from None
    return tuple(out)


_PERIOD = re.compile(r"^20[0-9]{2}-(0[1-9]|1[0-2])$")


def _dated(spec: str, what: str, example: str) -> tuple[str, str]:
    """A settings entry and its '@YYYY-MM' (the first month it applies to), "" when undated."""
    entry, at, month = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if at and not _PERIOD.match(month):
        raise Invalid(f"{spec!r}: {what}, '@YYYY-MM' (e.g. {example})")
    return entry, month


def plan_fees(values: tuple[str, ...]) -> tuple[tuple[str, int, str], ...]:
    """R14 monthly fees, R21 connection fees and inbound rates: ``plan_amounts``' entries, each
    with an optional '@YYYY-MM', the first month it applies to (a price change): (plan or
    "plan:CUR", micro-units, month or ""). One entry per plan, currency and month."""
    return _dated_entries(values, lambda priced: plan_amounts((priced,))[0], "prices", "basic:12.99@2027-03")


def _dated_entries(values: tuple[str, ...], parse: Callable[[str], tuple[str, Any]], noun: str,
                   example: str) -> tuple[tuple[str, Any, str], ...]:
    """Entries each parsed by ``parse`` to (key, value), with an optional '@YYYY-MM': (key, value,
    month or ""). A key has one entry per month, and one undated."""
    out, seen = [], set()
    for spec in values:
        entry, month = _dated(spec, "a change names the first month it applies to", example)
        key, value = parse(entry)
        if (key, month) in seen:
            raise Invalid(f"{spec!r}: {key or 'it'} has two {noun}"
                          + (f" from {month}" if month else " without a month"))
        seen.add((key, month))
        out.append((key, value, month))
    return tuple(out)


def plan_cards(values: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """'plan:card|card' entries (issue 20): the names of a plan's rate cards (a card's name is its
    id before '@': business-usd for business-usd@2026-10-01), each with an optional '@YYYY-MM':
    the first month of calls priced with them (a plan moved to other cards). (plan, names, month
    or ""); one entry per plan and month."""
    return _dated_entries(values, _plan_cards, "card lists", "business:business-2027|business-eur@2027-03")


def _plan_cards(spec: str) -> tuple[str, tuple[str, ...]]:
    plan, _, names = spec.partition(":")
    cards = tuple(n for n in names.split("|") if n)
    if not _NAME.match(plan) or not cards or not all(_NAME.match(n) and "@" not in n for n in cards):
        raise Invalid(f"{spec!r} must be 'plan:card|card' (card names without their @date)")
    return plan, cards


def plan_minutes(values: tuple[str, ...]) -> tuple[tuple[str, int, str], ...]:
    """R4: 'plan:minutes' entries, each with an optional '@YYYY-MM' (the first month they are
    included in): (plan, included seconds per calendar month, month or "")."""
    return _dated_entries(values, _plan_minutes, "minutes", "basic:600@2027-03")


def _plan_minutes(spec: str) -> tuple[str, int]:
    plan, _, minutes = spec.rpartition(":")
    if not _NAME.match(plan) or not minutes.isdigit() or int(minutes) > 1_000_000:
        raise Invalid(f"{spec!r} must be 'plan:minutes' (whole minutes, 0-1000000)")
    return plan, int(minutes) * 60


def tax_rules(values: tuple[str, ...]) -> tuple[tuple[str, tuple[TaxRule, ...]], ...]:
    """R17: 'KEY:JURISDICTION:PERCENT:Name' rules, grouped by key (a jurisdiction or a currency);
    the rules without a month (``tax_rule_changes`` has the dated ones)."""
    return tuple((key, rules) for key, month, rules in _tax_rule_groups(values) if not month)


def tax_rule_changes(values: tuple[str, ...]) -> tuple[tuple[str, str, tuple[TaxRule, ...]], ...]:
    """R17: a change of a key's rules, 'KEY:JURISDICTION:PERCENT:Name@YYYY-MM': from that month
    on, the key's rules are exactly those dated with it (state every rule again, an unchanged one
    too). (key, month, rules), in the settings' order."""
    return tuple(group for group in _tax_rule_groups(values) if group[1])


def _tax_rule_groups(values: tuple[str, ...]) -> list[tuple[str, str, tuple[TaxRule, ...]]]:
    by_key: dict[tuple[str, str], list[TaxRule]] = {}
    for dated in values:
        spec, month = _dated(dated, "a change of tax rules names the first month it applies to",
                             "EUR:BE:22:VAT@2027-01")
        parts = spec.split(":", 3)
        try:
            ppm = parse_decimal_micros(parts[2]) // 100 if len(parts) == 4 else -1
            ok = len(parts) == 4 and parts[0].replace("-", "").isalnum() and bool(parts[1]) and bool(parts[3]) \
                and 0 <= ppm <= 1_000_000 and parse_decimal_micros(parts[2]) % 100 == 0
        except ValueError:
            ok = False
        if not ok:
            raise Invalid(f"{spec!r} must be 'KEY:JURISDICTION:PERCENT:Name' with KEY an account tax jurisdiction "
                          f"(e.g. US-NY) or a currency ({', '.join(sorted(SUPPORTED_CURRENCIES))}) and 0-100 "
                          "percent (at most 4 decimals), e.g. EUR:BE:21:VAT")
        by_key.setdefault((parts[0], month), []).append(TaxRule(parts[1], parts[3], ppm))
    return [(key, month, tuple(rules)) for (key, month), rules in by_key.items()]


def directory(value: str) -> None:
    """A directory the process may create: not empty, and not an existing file."""
    if not value:
        raise Invalid("a directory is needed")
    if Path(value).exists() and not Path(value).is_dir():
        raise Invalid(f"{value} exists and is not a directory")


def file_if_set(value: str) -> None:
    """A file path, or empty. Existence is checked where the file is read (a secret may be
    mounted after the settings are checked); a directory is refused here."""
    if value and Path(value).is_dir():
        raise Invalid(f"{value} is a directory, not a file")


def base_url(value: str) -> None:
    """An http(s) address with a host and no query: links and forwards are built on it."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment:
        raise Invalid("an http:// or https:// address with a host, such as https://billing.example.com")


def base_url_if_set(value: str) -> None:
    if value:
        base_url(value)


def time_zone(value: str) -> None:
    if not is_time_zone(value):
        raise Invalid("must be a zone of the tz database, e.g. UTC or Europe/Brussels")


def printable(value: str) -> None:
    """Text printed on invoices: at most 600 characters, lines separated by newlines."""
    if len(value) > 600 or any(ord(c) < 32 and c != "\n" for c in value):
        raise Invalid("at most 600 characters of text, lines separated by \\n")


def locale(value: str) -> None:
    """A locale Babel knows (CLDR): en, fr_BE, de_DE, ja_JP."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(value)
    except (ValueError, UnknownLocaleError):
        raise Invalid(f"{value!r} is not a locale, e.g. en, fr_BE, de_DE") from None


def plan_days(values: tuple[str, ...]) -> tuple[tuple[str, int, str], ...]:
    """'plan:days' entries, each with an optional '@YYYY-MM' (the first period invoiced with it):
    (plan, the days an invoice under that plan is due after its issue (0-365), month or "")."""
    return _dated_entries(values, _plan_days, "terms", "business:45@2027-03")


def _plan_days(spec: str) -> tuple[str, int]:
    plan, _, days = spec.rpartition(":")
    if not _NAME.match(plan) or not days.isdigit() or int(days) > 365:
        raise Invalid(f"{spec!r} must be 'plan:days' (0-365)")
    return plan, int(days)


def dated_amounts(values: tuple[str, ...]) -> tuple[tuple[str, int, str], ...]:
    """R26's termination fee: 'amount' (any currency) or 'CUR:amount' (accounts in that currency),
    changed from a month by '...@YYYY-MM': ("" or CUR, micro-units, month or "")."""
    return _dated_entries(values, _currency_amount, "amounts", "75.00@2027-03")


def currency_amounts(values: tuple[str, ...]) -> tuple[int | None, tuple[tuple[str, int], ...]]:
    """R18's threshold: 'amount' (any currency) and 'CUR:amount' entries, each above 0: (the
    amount for any currency, None when not given; (currency, micro-units) for the others)."""
    entries = _dated_entries(values, lambda text: _currency_amount(text, positive=True), "amounts", "JPY:7500")
    if any(month for _, _, month in entries):
        raise Invalid("takes no '@YYYY-MM': R18's threshold is not a price (e.g. 50.00,JPY:7500)")
    by_currency = dict((key, micros) for key, micros, _ in entries)
    return by_currency.pop("", None), tuple(by_currency.items())


def _currency_amount(text: str, positive: bool = False) -> tuple[str, int]:
    """'amount' or 'CUR:amount': ("" or CUR, micro-units)."""
    currency, _, value = text.rpartition(":")
    if currency and currency not in SUPPORTED_CURRENCIES:
        raise Invalid(f"{text!r}: {currency!r} is not an ISO 4217 currency (amount or CUR:amount)")
    return currency, amount(value, positive=positive)
