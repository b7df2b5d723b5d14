"""An invoice line's description, issued in English, said again in the invoice's language.

``projections/invoicing.py`` (``describe``, the taxes) and ``projections/disputes.py`` (a credit
note's lines) word each line once, in English, when the invoice is issued, and the record keeps
that text. To print a line in another language, this module reads the text back into what it was
made of (a charge's category, period and quantity; a tax's name, rate and base; a dispute's ids
and net amount), and re-words it only if making the English text again from those parts gives
the very same text. So a line is never re-worded into something it did not say: a description
this module does not recognise (a format of the past, a line made by hand) prints as issued.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Callable

from projections.events import InvoiceIssued, InvoiceLine
from projections.invoicing import LINE_LABELS, MINOR_UNIT_MICROS, USAGE_CATEGORIES, describe, format_minor, percent

_PERIOD = re.compile(r", (\d{4}-\d{2})(?:,|$)")
_AMOUNT = r"(?P<amount>-?\d+(?:\.\d+)?) (?P<currency>[A-Z]{3})"
_TAX = re.compile(rf"^(?P<name>.+) (?P<rate>\d+(?:\.\d+)?)% (?P<how>of|reversed on) {_AMOUNT}$")
_DISPUTE = re.compile(rf"^Credit for dispute (?P<dispute>.+) on invoice (?P<invoice>.+): {_AMOUNT}$")

Words = Callable[[str], str]
Amount = Callable[[int], str]  # micro-units in the invoice's currency, as the locale prints them
Number = Callable[[Decimal], str]  # a decimal number (a tax rate), as the locale prints it


def line_text(line: InvoiceLine, invoice: InvoiceIssued, t: Words, amount: Amount, number: Number) -> str:
    """``line``'s description in the words ``t`` gives; as issued when it cannot be read back."""
    if line.category.startswith("tax:"):
        worded = _tax(line.description, invoice.currency, t, amount, number)
    elif line.category == "credit:dispute":
        worded = _dispute(line.description, invoice.currency, t, amount)
    else:
        worded = _charge(line, invoice.period, t)
    return line.description if worded is None else worded


def _charge(line: InvoiceLine, closing: str, t: Words) -> str | None:
    """A charge of ``describe`` (usage, fees, credits), mirrored in other words."""
    base = line.category.removesuffix(":prior")
    found = _PERIOD.search(line.description)
    if found is None or base not in LINE_LABELS:
        return None
    period, quantity = found.group(1), line.quantity
    if describe(period, base, closing, quantity) != (line.category, line.description):
        return None
    label = t(LINE_LABELS[base])
    if base in USAGE_CATEGORIES:
        if base == "usage:correction":
            message = "{label}, {period}, {count} correction" if quantity == 1 else "{label}, {period}, {count} corrections"
            usage = t(message).format(label=label, period=period, count=quantity)
        else:
            minutes, seconds = divmod(quantity, 60)
            usage = t("{label}, {period}, {minutes}:{seconds} min billed").format(
                label=label, period=period, minutes=minutes, seconds=f"{seconds:02d}")
        return t("Prior-period usage: {usage}").format(usage=usage) if period < closing else usage
    if base == "monthly" and period > closing:
        return t("{label}, {period}, in advance").format(label=label, period=period)
    return t("{label}, {period}").format(label=label, period=period)


def _micros(text: str, currency: str) -> int | None:
    """``format_minor``'s text back to micro-units; None where it would not print ``text`` again."""
    if currency not in MINOR_UNIT_MICROS:
        return None
    micros = int(Decimal(text).scaleb(6))
    return micros if format_minor(micros, currency) == text else None


def _tax(description: str, currency: str, t: Words, amount: Amount, number: Number) -> str | None:
    """``{name} {rate}% of {base} {currency}`` (an invoice) or ``... reversed on ...`` (a credit note)."""
    found = _TAX.match(description)
    if found is None or found["currency"] != currency:
        return None
    micros, rate = _micros(found["amount"], currency), Decimal(found["rate"])
    if micros is None or percent(int(rate.scaleb(4))) != found["rate"]:
        return None
    message = "{name} {rate}% of {amount}" if found["how"] == "of" else "{name} {rate}% reversed on {amount}"
    return t(message).format(name=found["name"], rate=number(rate), amount=amount(micros))


def _dispute(description: str, currency: str, t: Words, amount: Amount) -> str | None:
    found = _DISPUTE.match(description)
    if found is None or found["currency"] != currency:
        return None
    micros = _micros(found["amount"], currency)
    if micros is None:
        return None
    return t("Credit for dispute {dispute} on invoice {invoice}: {amount}").format(
        dispute=found["dispute"], invoice=found["invoice"], amount=amount(micros))
