"""Rendered invoices say exactly what was issued: every line, the taxes, the total, the account
summary (R16, R17), escaped for HTML, and a PDF a person can open."""

from projections.events import InvoiceIssued, InvoiceKind, InvoiceLine
from streams.documents.invoice import render_html, render_pdf, render_text

INVOICE = InvoiceIssued(
    "invoice:VL-a<1>-2026-0001", "a<1>", 1_793_491_200_000, "VL-a<1>-2026-0001", InvoiceKind.REGULAR, "2026-10", "EUR", (
        InvoiceLine("monthly", "Monthly service, 2026-11, in advance", 1, 30_000_000),
        InvoiceLine("usage:international", "Calls, international, 2026-10, 3:00 min billed", 180, 370_000),
        InvoiceLine("tax:BE", "VAT 21% of 30.37 EUR", 1, 6_380_000)), 36_750_000, 50_000_000, 13_250_000)


def test_R16_R17_text_lists_every_line_the_taxes_and_the_account_summary():
    text = render_text(INVOICE, "VL-2026-000042")
    for needle in ("Invoice VL-2026-000042   reference VL-a<1>-2026-0001", "Monthly service, 2026-11, in advance", "30.00 EUR", "0.37 EUR",
                   "Subtotal", "30.37 EUR", "VAT 21% of 30.37 EUR", "6.38 EUR", "36.75 EUR", "50.00 EUR", "13.25 EUR"):
        assert needle in text, needle
    assert text.index("Subtotal") < text.index("VAT") < text.index("Total")


def test_html_escapes_what_it_prints_and_shows_minutes():
    page = render_html(INVOICE)
    assert "a&lt;1&gt;" in page and "a<1>" not in page
    assert "3:00 min" in page and "Remaining credit".lower() in page.lower() and "36.75 EUR" in page


def test_an_amount_due_is_said_as_such():
    owed = InvoiceIssued(**{**{f: getattr(INVOICE, f) for f in INVOICE.__slots__}, "balance_micros": -36_750_000})
    assert "Amount due" in render_text(owed) and "36.75 EUR" in render_html(owed)


def test_pdf_is_a_pdf_document_with_one_page():
    pdf = render_pdf(INVOICE)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Count 1" in pdf  # the page tree holds one page


def test_an_invoice_without_its_legal_number_yet_says_so_and_shows_its_reference():
    text, page = render_text(INVOICE), render_html(INVOICE)
    assert "Invoice pending" in text and "reference VL-a<1>-2026-0001" in text
    assert "<td>Number</td><td>pending" in page and "VL-a&lt;1&gt;-2026-0001" in page
    assert "<td>Number</td><td>VL-2026-000042</td>" in render_html(INVOICE, number="VL-2026-000042")
