"""The sample invoice and credit note in ``docs/`` (issue 20): a Belgian business customer's
invoice in French (``invoice_locale = "fr_BE"``: the ledger's English lines worded again, one line
made by hand printed as issued), and the credit note that resolves a dispute of it, rendered to
HTML by the product's renderer and photographed by Debian's headless Chromium (Playwright).

Run: ``python -m streams.dev.invoice_samples docs/`` (needs ``apt-get install chromium``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from projections.events import InvoiceIssued, InvoiceKind, InvoiceLine
from streams.documents.invoice import Issuer, Legal, render_html

ISSUER = Issuer("VoiceLedger Télécom SA", "Rue de la Loi 16\n1000 Bruxelles\nBelgique", "BE0123456789",
                "RPM Bruxelles 0123.456.789", "IBAN BE71 0961 2345 6769, BIC GKCCBEBB, communication +++090/9337/55493+++")
CUSTOMER = ("Łódź Trading SPRL", "Avenue Louise 54\n1050 Ixelles\nBelgique", "BE0987654321")
ISSUED_MS = 1_793_487_600_000  # 2026-10-31T23:00:00Z: 1 November in Brussels

INVOICE = InvoiceIssued(
    "invoice:VL-acme-be-2026-0011", "acme-be", ISSUED_MS, "VL-acme-be-2026-0011", InvoiceKind.REGULAR, "2026-10", "EUR", (
        InvoiceLine("monthly", "Monthly service, 2026-11, in advance", 1, 29_000_000),
        InvoiceLine("usage:domestic", "Calls, domestic, 2026-10, 312:00 min billed", 18_720, 6_240_000),
        InvoiceLine("usage:international", "Calls, international, 2026-10, 95:00 min billed", 5_700, 11_880_000),
        InvoiceLine("feature", "Changement de numéro", 1, 15_000_000),
        InvoiceLine("tax:BE", "TVA 21% of 62.12 EUR", 1, 13_050_000)), 75_170_000, 0, -75_170_000,
    "Europe/Brussels", ISSUED_MS + 30 * 86_400_000, *CUSTOMER)
CREDIT_NOTE = InvoiceIssued(
    "invoice:VL-acme-be-2026-0012", "acme-be", ISSUED_MS + 9 * 86_400_000, "VL-acme-be-2026-0012",
    InvoiceKind.CREDIT_NOTE, "2026-10", "EUR", (
        InvoiceLine("credit:dispute", "Credit for dispute d-77 on invoice VL-acme-be-2026-0011: 10.00 EUR", 1,
                    -10_000_000),
        InvoiceLine("tax:BE", "TVA 21% reversed on 10.00 EUR", 1, -2_100_000)), -12_100_000, 0, -63_070_000,
    "Europe/Brussels", 0, *CUSTOMER, "VL-acme-be-2026-0011")


def main(out: Path) -> int:
    from playwright.sync_api import sync_playwright

    legal = Legal(ISSUER, "VL-2026-000311", "", CUSTOMER, "fr_BE")
    pages = {"sample-invoice.png": render_html(INVOICE, legal=legal),
             "sample-credit-note.png": render_html(CREDIT_NOTE, legal=Legal(ISSUER, "VL-2026-000329", "VL-2026-000311",
                                                                             CUSTOMER, "fr_BE"))}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 900, "height": 900})
        for name, html in pages.items():
            path = Path(tmp) / (name + ".html")
            path.write_text(html)
            page.goto(path.as_uri())
            page.screenshot(path=str(out / name), full_page=True)
        browser.close()
    print(f"wrote {', '.join(str(out / n) for n in pages)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
