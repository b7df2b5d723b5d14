"""Issued invoices as a person reads them: plain text for the terminal, HTML and PDF for the
customer.

Rendering reads only the ``InvoiceIssued`` record (lines are already rounded to the minor unit
and taxes itemised by jurisdiction, projections/invoicing.py), so a re-rendered invoice always
says exactly what was issued. Amounts are formatted from integers; no float is involved.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

from projections.events import InvoiceIssued
from projections.invoicing import format_minor

ISSUER_NAME = "VoiceLedger Telecom"  # the demo issuer; a deployment prints its own


def _date(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms // 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def _split(invoice: InvoiceIssued) -> tuple[list, list]:
    charges = [line for line in invoice.lines if not line.category.startswith("tax:")]
    taxes = [line for line in invoice.lines if line.category.startswith("tax:")]
    return charges, taxes


def account_summary(invoice: InvoiceIssued) -> list[tuple[str, int]]:
    """The account lines under the total: payments since the last invoice, the balance after
    this one, and what that means (R9 prepaid funds, or an amount due)."""
    balance = invoice.balance_micros
    return [("Payments received since the previous invoice", invoice.payments_micros),
            ("Paid from prepaid funds; remaining credit", balance) if balance >= 0 else ("Amount due", -balance)]


def legal_number(number: str | None) -> str:
    """The legal number (projections/numbering.py), or a note that it is not given yet."""
    return number or "pending (given once every partition has passed the next tick)"


def render_text(invoice: InvoiceIssued, number: str | None = None) -> str:
    """``number``: the legal number from the numbering stage; the reference is always shown."""
    charges, taxes = _split(invoice)
    c = invoice.currency
    out = [f"Invoice {legal_number(number)}   reference {invoice.invoice_number}   account {invoice.account_id}   "
           f"period {invoice.period}   issued {_date(invoice.occurred_at_ms)}   {invoice.kind.value}"]
    for line in charges:
        out.append(f"  {line.description:<66} {format_minor(line.amount_micros, c):>12} {c}")
    subtotal = sum(line.amount_micros for line in charges)
    out.append(f"  {'Subtotal':<66} {format_minor(subtotal, c):>12} {c}")
    for line in taxes:
        out.append(f"  {line.description:<66} {format_minor(line.amount_micros, c):>12} {c}")
    out.append(f"  {'Total':<66} {format_minor(invoice.total_micros, c):>12} {c}")
    for label, micros in account_summary(invoice):
        out.append(f"  {label:<66} {format_minor(micros, c):>12} {c}")
    return "\n".join(out)


_CSS = """
body { font-family: Helvetica, Arial, sans-serif; color: #222; margin: 2.5em auto; max-width: 46em; }
header { display: flex; justify-content: space-between; border-bottom: 3px solid #1d4e89; padding-bottom: .8em; }
h1 { color: #1d4e89; margin: 0; font-size: 1.6em; }
.meta td { padding: 0 1em 0 0; }
table.lines { width: 100%; border-collapse: collapse; margin-top: 1.5em; }
table.lines th { text-align: left; border-bottom: 1px solid #999; padding: .3em; }
table.lines td { padding: .3em; border-bottom: 1px solid #eee; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.sub td { border-top: 1px solid #999; font-weight: bold; }
tr.total td { border-top: 2px solid #1d4e89; font-weight: bold; font-size: 1.15em; }
footer { margin-top: 2em; font-size: .85em; color: #555; }
"""


def render_html(invoice: InvoiceIssued, issuer: str = ISSUER_NAME, number: str | None = None) -> str:
    charges, taxes = _split(invoice)
    c = invoice.currency
    e = html.escape

    def row(label: str, quantity: str, micros: int, css: str = "") -> str:
        return (f'<tr class="{css}"><td>{e(label)}</td><td class="num">{e(quantity)}</td>'
                f'<td class="num">{format_minor(micros, c)} {c}</td></tr>')

    def quantity(line) -> str:  # noqa: ANN001
        if line.category.startswith("usage:"):
            return f"{line.quantity // 60}:{line.quantity % 60:02d} min"
        return str(line.quantity)

    subtotal = sum(line.amount_micros for line in charges)
    rows = [row(line.description, quantity(line), line.amount_micros) for line in charges]
    rows.append(row("Subtotal", "", subtotal, "sub"))
    rows += [row(line.description, "", line.amount_micros) for line in taxes]
    rows.append(row("Total", "", invoice.total_micros, "total"))
    rows += [row(label, "", micros, "sub" if i == 1 else "") for i, (label, micros) in enumerate(account_summary(invoice))]
    title = "Credit note" if invoice.kind.value == "CREDIT_NOTE" else "Invoice"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} {e(number or invoice.invoice_number)}</title>
<style>{_CSS}</style></head>
<body>
<header><div><h1>{e(issuer)}</h1><div>Telephone service</div></div>
<div><h1>{title}</h1><table class="meta">
<tr><td>Number</td><td>{e(legal_number(number))}</td></tr>
<tr><td>Reference</td><td>{e(invoice.invoice_number)}</td></tr>
<tr><td>Issued</td><td>{_date(invoice.occurred_at_ms)}</td></tr>
<tr><td>Account</td><td>{e(invoice.account_id)}</td></tr>
<tr><td>Billing period</td><td>{e(invoice.period)}</td></tr>
</table></div></header>
<table class="lines"><thead><tr><th>Description</th><th class="num">Quantity</th><th class="num">Amount</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<footer>Amounts in {c}. Usage is billed in arrears for the calendar month, service fees in advance.
Taxes and surcharges are passed through as itemised lines. You may dispute a charge within 30 days
of its posting.</footer>
</body></html>
"""


def render_pdf(invoice: InvoiceIssued, issuer: str = ISSUER_NAME, number: str | None = None) -> bytes:
    """One A4 page (more if the lines need it) with the same content as the HTML."""
    from fpdf import FPDF  # deferred: only invoice rendering needs it

    charges, taxes = _split(invoice)
    c = invoice.currency
    title = "Credit note" if invoice.kind.value == "CREDIT_NOTE" else "Invoice"
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    blue = (29, 78, 137)
    pdf.set_text_color(*blue)
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(110, 9, issuer)
    pdf.cell(0, 9, title, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(34, 34, 34)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(110, 6, "Telephone service")
    pdf.cell(0, 6, f"Number {number or 'pending'}", align="R", new_x="LMARGIN", new_y="NEXT")
    for label, value in (("Reference", invoice.invoice_number), ("Issued", _date(invoice.occurred_at_ms)),
                         ("Account", invoice.account_id),
                         ("Billing period", invoice.period)):
        pdf.cell(110, 6, "")
        pdf.cell(0, 6, f"{label} {value}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(*blue)
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, pdf.get_y() + 2, pdf.w - pdf.r_margin, pdf.get_y() + 2)
    pdf.ln(8)
    pdf.set_line_width(0.2)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(120, 7, "Description", border="B")
    pdf.cell(25, 7, "Quantity", border="B", align="R")
    pdf.cell(0, 7, "Amount", border="B", align="R", new_x="LMARGIN", new_y="NEXT")

    def row(label: str, quantity: str, micros: int, style: str = "", border: str = "") -> None:
        pdf.set_font("Helvetica", style, 10)
        pdf.cell(120, 7, label[:70], border=border)
        pdf.cell(25, 7, quantity, border=border, align="R")
        pdf.cell(0, 7, f"{format_minor(micros, c)} {c}", border=border, align="R", new_x="LMARGIN", new_y="NEXT")

    for line in charges:
        quantity = (f"{line.quantity // 60}:{line.quantity % 60:02d} min" if line.category.startswith("usage:")
                    else str(line.quantity))
        row(line.description, quantity, line.amount_micros)
    row("Subtotal", "", sum(line.amount_micros for line in charges), "B", "T")
    for line in taxes:
        row(line.description, "", line.amount_micros)
    row("Total", "", invoice.total_micros, "B", "T")
    pdf.ln(3)
    for i, (label, micros) in enumerate(account_summary(invoice)):
        row(label, "", micros, "B" if i == 1 else "")
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, f"Amounts in {c}. Usage is billed in arrears for the calendar month, service fees in "
                         "advance. Taxes and surcharges are passed through as itemised lines. You may dispute a "
                         "charge within 30 days of its posting.")
    return bytes(pdf.output())
