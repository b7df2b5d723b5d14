"""Issued invoices as a person reads them: plain text for the terminal, HTML and PDF for the
customer, with what a legal invoice states (issue 20).

Rendering reads only the ``InvoiceIssued`` record (lines already rounded to the minor unit, taxes
itemised by jurisdiction, the customer block and due date frozen at issue: projections/invoicing.py)
and the ``Legal`` context the caller gives: the issuer (from the settings), the customer block in
clear (opened with the subscriber's key by the caller), the legal numbers. So a re-rendered
invoice always says what was issued. The checklist is the EU VAT Directive's Art. 226 (date of
issue, a sequential number, the supplier's and the customer's names, addresses and VAT ids, the
period, the taxable amount per rate, the rate, the tax, the total) and a US invoice's usual
contents (due date, payment instructions). Dates print in the account's zone; words, amounts and
dates in the customer's language at issue (``InvoiceIssued.locale``), else the locale the deployment
chooses (``invoice_locale``): the words from streams/documents/wording.py, the lines re-worded by
invoice_lines.py, the formats from Babel. No float is involved: amounts go from integers to exact
decimals.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from projections.events import InvoiceIssued, InvoiceKind, InvoiceLine
from projections.invoicing import MINOR_UNIT_MICROS, round_half_away
from streams.documents.invoice_lines import line_text
from streams.documents.wording import ENGLISH, language_of, wording

ISSUER_NAME = "VoiceLedger Telecom"  # the demo issuer; a deployment sets its own (issuer_* settings)
# A Unicode TrueType font for the PDF (Debian's fonts-dejavu-core); without it the PDF falls back
# to the core Helvetica, which has Latin-1 only, and spells other letters without their accents.
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class Issuer:
    name: str = ISSUER_NAME
    address: str = ""  # lines separated by "\n"
    tax_id: str = ""  # e.g. a VAT id, BE0123456789
    registration: str = ""  # e.g. the company register and number
    payment_instructions: str = ""  # e.g. "IBAN BE71 0961 2345 6769, BIC GKCCBEBB"


@dataclass(frozen=True)
class Legal:
    """What an invoice prints besides its own record."""

    issuer: Issuer = field(default_factory=Issuer)
    number: str | None = None  # the legal number, once the numbering stage has given it
    corrects_number: str = ""  # a credit note: the legal number (else the reference) it corrects
    customer: tuple[str, str, str] = ("", "", "")  # name, address, tax id, in clear
    locale: str = "en"


def legal_number(number: str | None, locale: str = ENGLISH) -> str:
    """The legal number (projections/numbering.py), or a note that it is not given yet."""
    # The numbering stage gives it once every events partition has passed the next hourly tick
    # (projections/numbering.py): a customer reads only that it comes.
    return number or wording(locale)("pending (assigned shortly)")


def money(micros: int, currency: str, locale: str = "en", with_currency: bool = True) -> str:
    """``1,234.57 EUR`` (en), ``1 234,57 EUR`` (fr_BE): rounded half away from zero to the minor
    unit first (lines already are; a balance may hold micro-units), then formatted exactly."""
    from babel.numbers import format_currency

    unit = MINOR_UNIT_MICROS.get(currency, 10_000)
    exact = Decimal(round_half_away(micros, unit)).scaleb(-6)
    return format_currency(exact, currency, format="#,##0.00 ¤¤" if with_currency else "#,##0.00", locale=locale,
                           currency_digits=True)


def decimal(value: Decimal, locale: str = "en") -> str:
    """A decimal number as the locale prints it: ``2.5`` (en), ``2,5`` (fr_BE)."""
    from babel.numbers import format_decimal

    return format_decimal(value, locale=locale)


def local_date(at_ms: int, time_zone: str, locale: str = "en") -> str:
    from babel.dates import format_date

    return format_date(datetime.fromtimestamp(at_ms // 1000, tz=timezone.utc).astimezone(ZoneInfo(time_zone)).date(),
                       format="long", locale=locale)


def _split(invoice: InvoiceIssued) -> tuple[list, list]:
    charges = [line for line in invoice.lines if not line.category.startswith("tax:")]
    taxes = [line for line in invoice.lines if line.category.startswith("tax:")]
    return charges, taxes


def account_summary(invoice: InvoiceIssued, locale: str = ENGLISH) -> list[tuple[str, int]]:
    """The account lines under the total: payments since the last invoice, the balance after
    this one, and what that means (R9 prepaid funds, or an amount due)."""
    t, balance = wording(locale), invoice.balance_micros
    return [(t("Payments received since the previous invoice"), invoice.payments_micros),
            (t("Paid from prepaid funds; remaining credit"), balance) if balance >= 0 else (t("Amount due"), -balance)]


def _title(invoice: InvoiceIssued, locale: str = ENGLISH) -> str:
    return wording(locale)("Credit note" if invoice.kind is InvoiceKind.CREDIT_NOTE else "Invoice")


def _quantity(line: InvoiceLine, locale: str = ENGLISH) -> str:
    if line.category.startswith("usage:"):
        return wording(locale)("{minutes}:{seconds} min").format(minutes=line.quantity // 60,
                                                                 seconds=f"{line.quantity % 60:02d}")
    return str(line.quantity)


def described(line: InvoiceLine, invoice: InvoiceIssued, locale: str = ENGLISH) -> str:
    """A line's description in the locale's language: in English, exactly as issued."""
    if language_of(locale) == ENGLISH:
        return line.description
    return line_text(line, invoice, wording(locale), lambda micros: money(micros, invoice.currency, locale),
                     lambda value: decimal(value, locale))


def terms(invoice: InvoiceIssued, legal: Legal) -> str:
    """The footer: how to pay, the currency, when usage and fees are billed, the dispute window (R19)."""
    t, pay = wording(legal.locale), legal.issuer.payment_instructions
    return ((t("Payment: {instructions}. ").format(instructions=pay) if pay else "")
            + t("Amounts in {currency}. Usage is billed in arrears for the calendar month, service fees in advance. "
                "Taxes and surcharges are itemised. You may dispute a charge within 30 days of this invoice.")
            .format(currency=invoice.currency))


def meta(invoice: InvoiceIssued, legal: Legal) -> list[tuple[str, str]]:
    """The document's facts, in print order: number, dates in the account's zone, period, terms."""
    t, loc = wording(legal.locale), legal.locale
    rows = [(t("Number"), legal_number(legal.number, loc)), (t("Reference"), invoice.invoice_number),
            (t("Date of issue"), local_date(invoice.occurred_at_ms, invoice.time_zone, loc)),
            (t("Billing period"), invoice.period), (t("Account"), invoice.account_id)]
    if invoice.due_at_ms:
        rows.append((t("Due date"), local_date(invoice.due_at_ms, invoice.time_zone, loc)))
    if invoice.corrects:
        rows.append((t("Corrects invoice"), legal.corrects_number or invoice.corrects))
    return rows


def parties(legal: Legal) -> tuple[list[str], list[str]]:
    """(the issuer's lines, the customer's lines), as printed."""
    i, t = legal.issuer, wording(legal.locale)
    issuer = [i.name, *i.address.splitlines()]
    issuer += [t("VAT / tax id {tax_id}").format(tax_id=i.tax_id)] if i.tax_id else []
    issuer += [i.registration] if i.registration else []
    name, address, tax_id = legal.customer
    customer = [name or t("(no name on file)"), *address.splitlines()]
    customer += [t("VAT / tax id {tax_id}").format(tax_id=tax_id)] if tax_id else []
    return issuer, customer


def render_text(invoice: InvoiceIssued, number: str | None = None, legal: Legal | None = None) -> str:
    """``number``: the legal number from the numbering stage; the reference is always shown."""
    legal = legal or Legal(number=number)
    charges, taxes = _split(invoice)
    c, loc, t = invoice.currency, legal.locale, wording(legal.locale)
    facts = "   ".join(f"{k.lower()} {v}" for k, v in meta(invoice, legal)[1:])
    out = [f"{_title(invoice, loc)} {legal_number(legal.number, loc)}   {facts}   {invoice.kind.value}"]
    for line in charges:
        out.append(f"  {described(line, invoice, loc):<66} {money(line.amount_micros, c, loc):>16}")
    out.append(f"  {t('Subtotal'):<66} {money(sum(line.amount_micros for line in charges), c, loc):>16}")
    for line in taxes:
        out.append(f"  {described(line, invoice, loc):<66} {money(line.amount_micros, c, loc):>16}")
    out.append(f"  {t('Total'):<66} {money(invoice.total_micros, c, loc):>16}")
    for label, micros in account_summary(invoice, loc):
        out.append(f"  {label:<66} {money(micros, c, loc):>16}")
    return "\n".join(out)


_CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; margin: 2.5em auto; max-width: 46em; }
header { display: flex; justify-content: space-between; border-bottom: 3px solid #1d4e89; padding-bottom: .8em; }
h1 { color: #1d4e89; margin: 0; font-size: 1.6em; }
.parties { display: flex; justify-content: space-between; margin-top: 1.2em; }
.parties h2 { font-size: .8em; text-transform: uppercase; color: #666; margin: 0 0 .3em; }
.meta td { padding: 0 1em 0 0; }
table.lines { width: 100%; border-collapse: collapse; margin-top: 1.5em; }
table.lines th { text-align: left; border-bottom: 1px solid #999; padding: .3em; }
table.lines td { padding: .3em; border-bottom: 1px solid #eee; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.sub td { border-top: 1px solid #999; font-weight: bold; }
tr.total td { border-top: 2px solid #1d4e89; font-weight: bold; font-size: 1.15em; }
footer { margin-top: 2em; font-size: .85em; color: #555; }
"""


def render_html(invoice: InvoiceIssued, number: str | None = None, legal: Legal | None = None) -> str:
    legal = legal or Legal(number=number)
    charges, taxes = _split(invoice)
    c, loc, e, t = invoice.currency, legal.locale, html.escape, wording(legal.locale)

    def row(label: str, quantity: str, micros: int, css: str = "") -> str:
        return (f'<tr class="{css}"><td>{e(label)}</td><td class="num">{e(quantity)}</td>'
                f'<td class="num">{e(money(micros, c, loc))}</td></tr>')

    rows = [row(described(line, invoice, loc), _quantity(line, loc), line.amount_micros) for line in charges]
    rows.append(row(t("Subtotal"), "", sum(line.amount_micros for line in charges), "sub"))
    rows += [row(described(line, invoice, loc), "", line.amount_micros) for line in taxes]
    rows.append(row(t("Total"), "", invoice.total_micros, "total"))
    rows += [row(label, "", micros, "sub" if i == 1 else "")
             for i, (label, micros) in enumerate(account_summary(invoice, loc))]
    issuer, customer = parties(legal)
    facts = "\n".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in meta(invoice, legal))
    title = e(_title(invoice, loc))
    return f"""<!DOCTYPE html>
<html lang="{e(language_of(loc))}"><head><meta charset="utf-8"><title>{title} {e(legal.number or invoice.invoice_number)}</title>
<style>{_CSS}</style></head>
<body>
<header><div><h1>{e(issuer[0])}</h1><div>{'<br>'.join(e(x) for x in issuer[1:])}</div></div>
<div><h1>{title}</h1><table class="meta">
{facts}
</table></div></header>
<div class="parties"><div><h2>{e(t("Bill to"))}</h2>{'<br>'.join(e(x) for x in customer)}</div></div>
<table class="lines"><thead><tr><th>{e(t("Description"))}</th><th class="num">{e(t("Quantity"))}</th><th class="num">{e(t("Amount"))}</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<footer>{e(terms(invoice, legal))}</footer>
</body></html>
"""


def latin1(text: str) -> str:
    """``text`` for a Latin-1 font: letters outside it lose their accents (Ł -> L), the rest ``?``."""
    if all(ord(ch) < 256 for ch in text):
        return text
    plain = unicodedata.normalize("NFKD", text.replace("Ł", "L").replace("ł", "l").replace("–", "-"))
    return "".join(ch for ch in plain if not unicodedata.combining(ch)).encode("latin-1", "replace").decode("latin-1")


def legal_for(settings, invoice: InvoiceIssued, numbers: dict[str, str],  # noqa: ANN001 - Settings
              open_sealed=None) -> Legal:  # noqa: ANN001 - (account, value) -> clear text, None once erased
    """The ``Legal`` context of ``invoice``: the issuer from the settings, its legal number and the
    one of the invoice it corrects (``numbers``: reference -> legal number), the customer block
    opened with the subscriber's key (``open_sealed``; "(erased)" once the key is gone, R32)."""
    issuer = Issuer(settings.issuer_name, settings.issuer_address.replace("\\n", "\n"), settings.issuer_tax_id,
                    settings.issuer_registration, settings.payment_instructions)

    locale = invoice.locale or settings.invoice_locale  # the customer's language at issue, else the deployment's

    def clear(value: str) -> str:
        if not value or open_sealed is None:
            return value
        opened = open_sealed(invoice.account_id, value)
        return wording(locale)("(erased)") if opened is None else opened

    customer = (clear(invoice.customer_name), clear(invoice.billing_address), clear(invoice.customer_tax_id))
    return Legal(issuer, numbers.get(invoice.invoice_number), numbers.get(invoice.corrects, ""), customer, locale)
