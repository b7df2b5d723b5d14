"""Load rate cards from carrier-style CSV files into the pure ``RateCard`` model.

Columns: ``prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s``,
and optionally ``minimum_billable_s``, ``tiers``, ``band_rates`` and ``max_cost`` (the most one call
is charged, as CGRateS's MaxCost). ``rate`` is per minute and ``connect_fee``
per call, as decimal strings in the card's currency (parsed exactly into micro-units). ``tiers``
prices by elapsed time instead of ``rate`` and the increments: ``from_s:rate:increment_s``
entries separated by ``;``, e.g. ``0:0.20:60;60:0.10:1`` ("0.20 for the first minute, then 0.10
per minute billed per second"). ``band_rates`` overrides ``rate`` in the card's time bands:
``band:rate`` entries separated by ``;``, e.g. ``peak:0.12;weekend:0.04``; the bands themselves
are given per card (``--band peak=0-4@08:00-18:00``: weekdays 0 = Monday .. 6, local time).

Every row is validated and every bad row is reported (up to ``ERRORS_SHOWN``) with its file
and line, so a carrier's deck is fixed in one round, not one error at a time.
"""

from __future__ import annotations

import csv
import functools
from datetime import datetime, timezone
from pathlib import Path

from projections.money import SUPPORTED_CURRENCIES, parse_decimal_micros
from projections.rating import MAX_PREFIX_DIGITS, Band, DestinationRate, InvalidRateCard, RateCard, Tier

REQUIRED_COLUMNS = ("prefix", "destination", "rate")
ERRORS_SHOWN = 20


class RateCardError(ValueError):
    """A rate card file that cannot be loaded; the message names the file and line."""


def _date_ms(text: str, what: str = "valid-from date") -> int:
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise RateCardError(f"{what} {text!r} is not YYYY-MM-DD") from None
    return int(day.timestamp()) * 1000


# Decks repeat a few hundred distinct prices over 200k rows: parse each one once.
_amount = functools.lru_cache(maxsize=65_536)(parse_decimal_micros)


def _band_rates(text: str) -> tuple[tuple[str, int], ...]:
    out = []
    for entry in (e.strip() for e in text.split(";") if e.strip()):
        name, sep, rate = entry.partition(":")
        if not sep or not name:
            raise ValueError(f"band rate {entry!r} is not band:rate")
        out.append((name.strip(), parse_decimal_micros(rate)))
    return tuple(out)


def _clock_minute(text: str) -> int:
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or int(minutes) > 59:
        raise ValueError(f"{text!r} is not HH:MM")
    return int(hours) * 60 + int(minutes)


def parse_band(spec: str) -> Band:
    """``NAME=DAYS@HH:MM-HH:MM``; DAYS is ``0-4`` or ``5,6`` (0 = Monday). ``24:00`` ends a day."""
    try:
        name, _, rest = spec.partition("=")
        days, _, hours = rest.partition("@")
        start, _, end = hours.partition("-")
        weekdays: set[int] = set()
        for part in days.split(","):
            lo, dash, hi = part.partition("-")
            weekdays.update(range(int(lo), int(hi) + 1) if dash else [int(lo)])
        if not name.strip():
            raise ValueError("no band name")
        return Band(name.strip(), frozenset(weekdays), _clock_minute(start), _clock_minute(end))
    except (ValueError, InvalidRateCard) as exc:
        raise RateCardError(f"--band {spec!r}: {exc} (expected NAME=DAYS@HH:MM-HH:MM, e.g. peak=0-4@08:00-18:00)") from None


def _tiers(text: str) -> tuple[Tier, ...]:
    tiers = []
    for entry in (e.strip() for e in text.split(";") if e.strip()):
        parts = entry.split(":")
        if len(parts) != 3:
            raise ValueError(f"tier {entry!r} is not from_s:rate:increment_s")
        tiers.append(Tier(int(parts[0]), parse_decimal_micros(parts[1]), int(parts[2])))
    return tuple(tiers)


def load_rate_card(path: str, currency: str, valid_from: str | None, *, valid_to: str | None = None,
                   bands: tuple[Band, ...] = (), card_id: str | None = None) -> RateCard:
    """Read and validate a deck. Raises ``RateCardError`` listing every bad row it found. A deck
    saved by a spreadsheet (a UTF-8 byte-order mark, CRLF line ends) reads as any other; the
    currency code may be given in any case."""
    currency = currency.strip().upper()
    if currency not in SUPPORTED_CURRENCIES:
        raise RateCardError(f"{path}: unknown currency {currency!r}")
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # -sig: drop a BOM, if there is one
    except OSError as exc:
        raise RateCardError(f"{path}: cannot read rate card: {exc.strerror}") from None
    destinations: dict[str, DestinationRate] = {}
    first_line: dict[str, int] = {}
    errors: list[tuple[int, str]] = []  # (line, problem)
    band_names = {b.name for b in bands}
    with handle:
        try:  # a file that is not UTF-8 text, or not CSV, is one error naming it
            reader = csv.DictReader(handle)
            reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise RateCardError(f"{path}:1: missing columns {missing}")
            has_dates = "effective_date" in (reader.fieldnames or [])
            rows = list(enumerate(reader, start=2))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise RateCardError(f"{path}: not a CSV rate deck in UTF-8: {exc}") from None
    # Carrier decks date each row. A card has one start, so it starts at the newest row date
    # (or the date given); a row dated after the card's start belongs in a later card.
    row_dates: dict[int, int] = {}
    if has_dates:
        for line, row in rows:
            try:
                row_dates[line] = _date_ms(row.get("effective_date") or "", "effective date")
            except RateCardError as exc:
                errors.append((line, str(exc)))
    if valid_from is None:
        if not has_dates:
            raise RateCardError(f"{path}: no valid-from date: give --valid-from or an effective_date column")
        valid_from_ms = max(row_dates.values(), default=0)
        valid_from = datetime.fromtimestamp(valid_from_ms / 1000, timezone.utc).strftime("%Y-%m-%d")
    else:
        valid_from_ms = _date_ms(valid_from)
    valid_to_ms = _date_ms(valid_to, "valid-to date") if valid_to else None
    if valid_to_ms is not None and valid_to_ms <= valid_from_ms:
        raise RateCardError(f"{path}: valid-to {valid_to} is not after valid-from {valid_from}")
    for line, row in rows:
        if row_dates.get(line, valid_from_ms) > valid_from_ms:
            errors.append((line, f"effective date {row['effective_date'].strip()} is after the card's "
                                 f"valid-from {valid_from}; publish it as a later card"))
            continue
        problem = _row_problem(row, line, destinations, first_line, band_names)
        if problem:
            errors.append((line, problem))
    errors.sort()
    if errors:
        shown = "\n".join(f"{path}:{line}: {problem}" for line, problem in errors[:ERRORS_SHOWN])
        more = f"\n... and {len(errors) - ERRORS_SHOWN} more" if len(errors) > ERRORS_SHOWN else ""
        raise RateCardError(f"{path}: {len(errors)} bad row(s)\n{shown}{more}")
    if not destinations:
        raise RateCardError(f"{path}: the deck has no destinations")
    try:
        return RateCard(card_id=card_id or f"{Path(path).stem}@{valid_from}", currency=currency,
                        valid_from_ms=valid_from_ms, destinations=destinations, valid_to_ms=valid_to_ms,
                        bands=bands)
    except InvalidRateCard as exc:
        raise RateCardError(f"{path}: {exc}") from None


def _row_problem(row: dict, line: int, destinations: dict[str, DestinationRate], first_line: dict[str, int],
                 band_names: set[str]) -> str | None:
    """Add one row's destination, or say what is wrong with it."""
    if None in row:  # csv.DictReader puts extra cells under the key None
        return f"{len(row[None])} cell(s) more than the header has columns"
    prefix = (row["prefix"] or "").strip().lstrip("+")
    if not prefix.isdigit() or len(prefix) > MAX_PREFIX_DIGITS:
        return f"prefix {row['prefix']!r} is not 1-15 digits"
    if prefix in destinations:
        return f"duplicate prefix {prefix} (first on line {first_line[prefix]})"
    get = row.get
    try:
        rate = _amount(row["rate"] or "")
        fee_text = get("connect_fee")
        fee = _amount(fee_text) if fee_text else 0
        initial = int(get("initial_increment_s") or 60)
        subsequent = int(get("subsequent_increment_s") or 60)
        minimum = int(get("minimum_billable_s") or 0)
        cap_text = get("max_cost")
        max_cost = _amount(cap_text) if cap_text else 0
        tiers_text, bands_text = get("tiers"), get("band_rates")
        tiers = _tiers(tiers_text) if tiers_text else ()
        band_rates = _band_rates(bands_text) if bands_text else ()
    except ValueError as exc:
        return str(exc)
    if rate < 0 or fee < 0 or max_cost < 0 or any(r < 0 for _, r in band_rates):
        return "negative rate, connect fee or maximum cost"
    if initial <= 0 or subsequent <= 0 or minimum < 0:
        return "increments must be positive seconds, the minimum at least 0"
    unknown = {name for name, _ in band_rates} - band_names
    if unknown:
        return f"band rates for bands the card does not define: {sorted(unknown)} (see --band)"
    try:
        destinations[prefix] = DestinationRate(prefix, (row["destination"] or "").strip(), rate, fee, initial,
                                               subsequent, minimum_billable_s=minimum, tiers=tiers,
                                               band_rates=band_rates, max_cost_micros=max_cost)
    except InvalidRateCard as exc:
        return str(exc)
    first_line[prefix] = line
    return None


def check_route_fits(card: RateCard, route_digits: int) -> None:
    """R32: a sealed call is rated on the first ``route_digits`` digits of its called number
    (``streams/edge/sealing.py``), so a longer prefix could never match one. Refused at the edge."""
    longer = sorted(p for p in card.destinations if len(p) > route_digits)
    if longer:
        raise RateCardError(f"{card.card_id}: {len(longer)} prefix(es) longer than route_digits ({route_digits}), "
                            f"e.g. {', '.join(longer[:3])}: sealed calls are rated on that many digits; "
                            "shorten them, raise route_digits (at most 6) or turn seal_personal_data off")


def load_rate_cards(specs: tuple[str, ...]) -> tuple[RateCard, ...]:
    cards = []
    for spec in specs:
        path, currency, valid_from = spec.split("|")
        cards.append(load_rate_card(path, currency, valid_from))
    return tuple(cards)
