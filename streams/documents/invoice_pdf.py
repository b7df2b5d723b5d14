"""The PDF copy of an invoice (fpdf2): the same content as the HTML copy, on A4, in DejaVu Sans,
a Unicode TrueType font, so that "Łódź" and "TVA –" print as written. Without the font (Debian's
``fonts-dejavu-core``), the core Helvetica is used and letters outside Latin-1 lose their accents.
"""

from __future__ import annotations

from projections.events import InvoiceIssued
from streams.documents.invoice import (
    DEJAVU,
    Legal,
    _quantity,
    _split,
    _title,
    account_summary,
    described,
    latin1,
    meta,
    money,
    parties,
    terms,
)
from streams.documents.wording import wording

BLUE = (29, 78, 137)


class _Page:
    """An FPDF document with one font family, Unicode when DejaVu is there."""

    def __init__(self) -> None:
        from fpdf import FPDF  # deferred: only invoice rendering needs it

        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=18)
        self.unicode = (DEJAVU / "DejaVuSans.ttf").exists() and (DEJAVU / "DejaVuSans-Bold.ttf").exists()
        if self.unicode:
            self.pdf.add_font("DejaVu", "", str(DEJAVU / "DejaVuSans.ttf"))
            self.pdf.add_font("DejaVu", "B", str(DEJAVU / "DejaVuSans-Bold.ttf"))
        self.family = "DejaVu" if self.unicode else "Helvetica"
        self.pdf.add_page()

    def text(self, value: str) -> str:
        return value if self.unicode else latin1(value)

    def font(self, style: str = "", size: float = 10) -> None:
        self.pdf.set_font(self.family, style, size)

    def cell(self, width: float, height: float, value: str, **kwargs) -> None:  # noqa: ANN003 - fpdf's options
        self.pdf.cell(width, height, self.text(value), **kwargs)


def render_pdf(invoice: InvoiceIssued, number: str | None = None, legal: Legal | None = None) -> bytes:
    """One A4 page (more if the lines need it) with the same content as the HTML."""
    legal = legal or Legal(number=number)
    page = _Page()
    _head(page, invoice, legal)
    _lines(page, invoice, legal)
    pdf = page.pdf
    pdf.ln(8)
    page.font("", 8)
    pdf.multi_cell(0, 4, page.text(terms(invoice, legal)))
    return bytes(pdf.output())


def _head(page: _Page, invoice: InvoiceIssued, legal: Legal) -> None:
    pdf = page.pdf
    issuer, customer = parties(legal)
    pdf.set_text_color(*BLUE)
    page.font("B", 16)
    page.cell(110, 9, issuer[0])
    page.cell(0, 9, _title(invoice, legal.locale), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(34, 34, 34)
    page.font("", 9)
    facts = meta(invoice, legal)
    for i in range(max(len(issuer) - 1, len(facts))):
        page.cell(95, 5, issuer[i + 1] if i + 1 < len(issuer) else "")
        page.cell(0, 5, f"{facts[i][0]}: {facts[i][1]}" if i < len(facts) else "", align="R",
                  new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    page.font("B", 9)
    page.cell(0, 5, wording(legal.locale)("Bill to"), new_x="LMARGIN", new_y="NEXT")
    page.font("", 9)
    for line in customer:
        page.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(*BLUE)
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, pdf.get_y() + 2, pdf.w - pdf.r_margin, pdf.get_y() + 2)
    pdf.ln(6)


def _lines(page: _Page, invoice: InvoiceIssued, legal: Legal) -> None:
    pdf, c, loc, t = page.pdf, invoice.currency, legal.locale, wording(legal.locale)
    charges, taxes = _split(invoice)
    pdf.set_line_width(0.2)
    page.font("B", 9)
    page.cell(115, 7, t("Description"), border="B")
    page.cell(25, 7, t("Quantity"), border="B", align="R")
    page.cell(0, 7, t("Amount"), border="B", align="R", new_x="LMARGIN", new_y="NEXT")

    def row(label: str, quantity: str, micros: int, style: str = "", border: str = "") -> None:
        page.font(style, 9)
        page.cell(115, 7, label[:75], border=border)
        page.cell(25, 7, quantity, border=border, align="R")
        page.cell(0, 7, money(micros, c, loc), border=border, align="R", new_x="LMARGIN", new_y="NEXT")

    for line in charges:
        row(described(line, invoice, loc), _quantity(line, loc), line.amount_micros)
    row(t("Subtotal"), "", sum(line.amount_micros for line in charges), "B", "T")
    for line in taxes:
        row(described(line, invoice, loc), "", line.amount_micros)
    row(t("Total"), "", invoice.total_micros, "B", "T")
    pdf.ln(3)
    for i, (label, micros) in enumerate(account_summary(invoice, loc)):
        row(label, "", micros, "B" if i == 1 else "")
