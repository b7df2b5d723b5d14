"""The ClickHouse ``invoices``, ``invoice_lines`` and ``invoice_numbers`` tables, for finance.

``invoices.invoice_number`` is the account's own reference (``<issuer>-<account>-<year>-<n>``);
``invoice_numbers`` maps it to the legal number, gapless per issuer and year, that the
numbering stage gives it (``projections/numbering.py``) once its epoch is complete.

Both are ``ReplacingMergeTree`` keyed by the invoice number (and line), so an invoice written
again after a crash replay is the same rows; exact queries use ``FINAL``. Partitioned by the
month of issue. The SQL runs on the 18.16 server Debian ships and on current ClickHouse/chDB.
"""

from __future__ import annotations

from projections.events import InvoiceIssued, InvoiceNumbered



INVOICE_NUMBER_COLUMNS = ("reference", "number", "account_id", "issuer", "year", "sequence", "epoch_at", "issued_at")

INVOICE_COLUMNS = ("invoice_number", "account_id", "kind", "period", "issued_at", "currency", "total_micros",
                   "payments_micros", "balance_micros", "time_zone", "due_at", "customer_name", "billing_address",
                   "customer_tax_id", "corrects", "locale")
INVOICE_LINE_COLUMNS = ("invoice_number", "line", "account_id", "issued_at", "currency", "category", "description",
                        "quantity", "amount_micros")




def invoice_rows(invoice: InvoiceIssued) -> tuple[tuple, list[tuple]]:
    """(the invoice's row, its line rows)."""
    at_s = invoice.occurred_at_ms // 1000
    head = (invoice.invoice_number, invoice.account_id, invoice.kind.value, invoice.period, at_s, invoice.currency,
            invoice.total_micros, invoice.payments_micros, invoice.balance_micros, invoice.time_zone,
            invoice.due_at_ms // 1000, invoice.customer_name, invoice.billing_address, invoice.customer_tax_id,
            invoice.corrects, invoice.locale)
    lines = [(invoice.invoice_number, i, invoice.account_id, at_s, invoice.currency, line.category, line.description,
              line.quantity, line.amount_micros) for i, line in enumerate(invoice.lines)]
    return head, lines


def number_row(n: InvoiceNumbered) -> tuple:
    return (n.reference, n.number, n.account_id, n.issuer, n.year, n.sequence, n.epoch_ms // 1000,
            n.issued_at_ms // 1000)
