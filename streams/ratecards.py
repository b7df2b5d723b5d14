"""Load rate cards from carrier-style CSV files into the pure ``RateCard`` model.

Columns: ``prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s``,
and optionally ``minimum_billable_s`` and ``tiers``. ``rate`` is per minute and ``connect_fee``
per call, as decimal strings in the card's currency (parsed exactly into micro-units). ``tiers``
prices by elapsed time instead of ``rate`` and the increments: ``from_s:rate:increment_s``
entries separated by ``;``, e.g. ``0:0.20:60;60:0.10:1`` ("0.20 for the first minute, then 0.10
per minute billed per second"). Every row is validated; errors name the file and line.
"""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

from projections.money import SUPPORTED_CURRENCIES, parse_decimal_micros
from projections.rating import MAX_PREFIX_DIGITS, DestinationRate, InvalidRateCard, RateCard, Tier

REQUIRED_COLUMNS = ("prefix", "destination", "rate")


class RateCardError(ValueError):
    """A rate card file that cannot be loaded; the message names the file and line."""


def _date_ms(text: str) -> int:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise RateCardError(f"valid-from date {text!r} is not YYYY-MM-DD") from None
    return int(day.timestamp()) * 1000


def _tiers(text: str) -> tuple[Tier, ...]:
    tiers = []
    for entry in (e.strip() for e in text.split(";") if e.strip()):
        parts = entry.split(":")
        if len(parts) != 3:
            raise ValueError(f"tier {entry!r} is not from_s:rate:increment_s")
        tiers.append(Tier(int(parts[0]), parse_decimal_micros(parts[1]), int(parts[2])))
    return tuple(tiers)


def load_rate_card(path: str, currency: str, valid_from: str) -> RateCard:
    if currency not in SUPPORTED_CURRENCIES:
        raise RateCardError(f"{path}: unknown currency {currency!r}")
    try:
        handle = open(path, newline="")
    except OSError as exc:
        raise RateCardError(f"{path}: cannot read rate card: {exc.strerror}") from None
    destinations: dict[str, DestinationRate] = {}
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RateCardError(f"{path}:1: missing columns {missing}")
        for line, row in enumerate(reader, start=2):
            prefix = (row["prefix"] or "").strip().lstrip("+")
            if not prefix.isdigit() or len(prefix) > MAX_PREFIX_DIGITS:
                raise RateCardError(f"{path}:{line}: prefix {row['prefix']!r} is not 1-15 digits")
            if prefix in destinations:
                raise RateCardError(f"{path}:{line}: duplicate prefix {prefix}")
            try:
                rate = parse_decimal_micros(row["rate"])
                fee = parse_decimal_micros(row.get("connect_fee") or "0")
                initial = int(row.get("initial_increment_s") or 60)
                subsequent = int(row.get("subsequent_increment_s") or 60)
                minimum = int(row.get("minimum_billable_s") or 0)
                tiers = _tiers(row.get("tiers") or "")
            except ValueError as exc:
                raise RateCardError(f"{path}:{line}: {exc}") from None
            if rate < 0 or fee < 0:
                raise RateCardError(f"{path}:{line}: negative rate or connect fee")
            if initial <= 0 or subsequent <= 0 or minimum < 0:
                raise RateCardError(f"{path}:{line}: increments must be positive seconds, the minimum at least 0")
            try:
                destinations[prefix] = DestinationRate(prefix, row["destination"].strip(), rate, fee, initial,
                                                       subsequent, minimum_billable_s=minimum, tiers=tiers)
            except InvalidRateCard as exc:
                raise RateCardError(f"{path}:{line}: {exc}") from None
    card_id = f"{Path(path).stem}@{valid_from}"
    return RateCard(card_id=card_id, currency=currency, valid_from_ms=_date_ms(valid_from),
                    destinations=destinations)


def load_rate_cards(specs: tuple[str, ...]) -> tuple[RateCard, ...]:
    cards = []
    for spec in specs:
        path, currency, valid_from = spec.split("|")
        cards.append(load_rate_card(path, currency, valid_from))
    return tuple(cards)
