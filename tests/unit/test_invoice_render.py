"""Rendered invoices say exactly what was issued: every line, the taxes, the total, the account
summary (R16, R17), escaped for HTML, and a PDF a person can open."""

from projections.events import InvoiceIssued, InvoiceKind, InvoiceLine
from streams.documents.invoice import render_html, render_text
from streams.documents.invoice_pdf import render_pdf

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


def _legal_invoice():
    from dataclasses import replace

    from streams.documents.invoice import Issuer, Legal

    # Issued at 2026-10-31T23:00Z: in Brussels that is 1 November, the date the invoice must bear.
    invoice = replace(INVOICE, occurred_at_ms=1_793_487_600_000, time_zone="Europe/Brussels",
                      due_at_ms=1_793_487_600_000 + 30 * 86_400_000, lines=(
                          *INVOICE.lines[:2], InvoiceLine("tax:BE", "TVA – VAT 21% of 30.37 EUR", 1, 6_380_000)))
    issuer = Issuer("Łódź Telecom SA", "Rue de la Loi 16\n1000 Bruxelles", "BE0123456789", "RPM Bruxelles",
                    "IBAN BE71 0961 2345 6769, BIC GKCCBEBB")
    return invoice, Legal(issuer, "VL-2026-000042", "", ("Zoë Łódź", "Avenue Louise 54\n1050 Ixelles", "BE0987654321"))


def test_R13_R17_a_legal_invoice_states_both_parties_its_dates_in_the_accounts_zone_and_how_to_pay():
    invoice, legal = _legal_invoice()
    page = render_html(invoice, legal=legal)
    for needle in ("Łódź Telecom SA", "Rue de la Loi 16<br>1000 Bruxelles", "VAT / tax id BE0123456789", "RPM Bruxelles",
                   "Bill to", "Zoë Łódź", "Avenue Louise 54<br>1050 Ixelles", "VAT / tax id BE0987654321",
                   "<td>Date of issue</td><td>November 1, 2026</td>", "<td>Due date</td><td>December 1, 2026</td>",
                   "<td>Number</td><td>VL-2026-000042</td>", "IBAN BE71 0961 2345 6769", "TVA – VAT 21%"):
        assert needle in page, needle
    from dataclasses import replace

    belgian = render_html(invoice, legal=replace(legal, locale="fr_BE"))
    assert "36,75 EUR" in belgian and "1 novembre 2026" in belgian


def test_R19_a_credit_note_cites_the_legal_number_of_the_invoice_it_corrects():
    from dataclasses import replace

    invoice, legal = _legal_invoice()
    note = replace(invoice, kind=InvoiceKind.CREDIT_NOTE, due_at_ms=0, corrects="VL-a<1>-2026-0001",
                   lines=(InvoiceLine("credit:dispute", "Credit", 1, -1_000_000),), total_micros=-1_000_000)
    page = render_html(note, legal=replace(legal, corrects_number="VL-2026-000041"))
    assert "<h1>Credit note</h1>" in page and "<td>Corrects invoice</td><td>VL-2026-000041</td>" in page
    assert "Due date" not in page


def test_a_pdf_prints_lodz_and_tva_in_a_unicode_font_and_without_one_still_renders(monkeypatch):
    from streams.documents import invoice_pdf

    invoice, legal = _legal_invoice()
    assert (invoice_pdf.DEJAVU / "DejaVuSans.ttf").exists(), "Debian's fonts-dejavu-core (make test installs it)"
    pdf = render_pdf(invoice, legal=legal)
    assert pdf.startswith(b"%PDF-") and b"DejaVu" in pdf, "the Unicode font is embedded"
    monkeypatch.setattr(invoice_pdf, "DEJAVU", invoice_pdf.DEJAVU / "nowhere")
    plain = render_pdf(invoice, legal=legal)
    assert plain.startswith(b"%PDF-") and b"DejaVu" not in plain and b"Helvetica" in plain


def test_latin1_spelling_keeps_what_it_can():
    from streams.documents.invoice import latin1

    assert latin1("Łódź – TVA") == "Lodz - TVA" and latin1("Zoë") == "Zoë" and latin1("東京") == "??"
