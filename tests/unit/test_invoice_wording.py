"""Invoices in the language of ``invoice_locale``: every message in every language, every line the
ledger issues worded again with the same period, quantity and amount, and a line it cannot read
back printed as it was issued."""

from __future__ import annotations

import re
import string
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from projections.disputes import credit_lines
from projections.events import InvoiceIssued, InvoiceKind, InvoiceLine
from projections.invoicing import FEE_CATEGORIES, LINE_LABELS, USAGE_CATEGORIES, Billing, TaxRule, close, format_minor
from streams.documents.invoice import described, render_html, render_text
from streams.documents.invoice_lines import line_text
from streams.documents.invoice_pdf import render_pdf
from streams.documents.wording import CATALOG, LANGUAGES, MESSAGES, language_of, wording

OTHER_LANGUAGES = sorted(CATALOG)
LOCALE_OF = {"fr": "fr_BE", "de": "de_DE", "nl": "nl_BE", "es": "es_ES", "it": "it_IT", "ru": "ru_RU"}


def _fields(message: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(message) if name is not None)


def test_every_language_has_every_message_with_the_same_placeholders():
    assert set(LOCALE_OF) == set(OTHER_LANGUAGES) and LANGUAGES[0] == "en"
    assert len(set(MESSAGES)) == len(MESSAGES), "a message is listed twice"
    assert set(LINE_LABELS.values()) <= set(MESSAGES), "an invoice line label has no translation"
    for language, words in CATALOG.items():
        assert list(words) == list(MESSAGES), language
        for english, translated in words.items():
            assert translated.strip(), (language, english)
            assert _fields(translated) == _fields(english), (language, english, translated)


def test_a_message_that_is_not_in_the_catalogue_is_a_bug_in_every_language():
    for locale in ("en", "fr_BE"):
        with pytest.raises(KeyError):
            wording(locale)("Invoyce")


def test_the_language_is_the_locales_and_one_without_words_prints_english():
    assert language_of("fr_BE") == "fr" and language_of("pt-BR") == "pt" and language_of("ru") == "ru"
    assert wording("fr_BE")("Invoice") == "Facture" and wording("nl_BE")("Invoice") == "Factuur"
    assert wording("ja_JP")("Invoice") == "Invoice"


def _invoice(lines: tuple[InvoiceLine, ...], period: str = "2026-10", currency: str = "EUR") -> InvoiceIssued:
    total = sum(line.amount_micros for line in lines)
    return InvoiceIssued("invoice:VL-1", "a-1", 1_793_491_200_000, "VL-1", InvoiceKind.REGULAR, period, currency,
                         lines, total, 0, -total, time_zone="Europe/Brussels")


PERIODS = st.sampled_from(["2026-08", "2026-09", "2026-10", "2026-11", "2027-01"])
CATEGORIES = st.sampled_from([*USAGE_CATEGORIES, *FEE_CATEGORIES])
TAXES = (TaxRule("BE", "TVA", 210_000), TaxRule("BE-X", "Surcharge", 25_000))


@settings(max_examples=60, deadline=None)
@given(items=st.dictionaries(st.tuples(PERIODS, CATEGORIES), st.tuples(st.integers(1, 20_000),
                                                                       st.integers(-10**8, 10**9)),
                             min_size=1, max_size=8),
       closing=st.sampled_from(["2026-09", "2026-10", "2026-11"]), currency=st.sampled_from(["EUR", "JPY", "USD"]))
def test_every_line_an_invoice_is_issued_with_is_worded_again_in_every_language(items, closing, currency):
    """The lines come from the ledger's own ``close`` (charges, prior usage, fees in advance, taxes):
    if its English wording changes, a line no longer reads back and this test fails."""
    billing = Billing(unbilled={f"{p}|{c}": value for (p, c), value in items.items()})
    closed = close("a-1", currency, billing, period=closing, usage_through=closing, fees_through="9999-12",
                   at_ms=1_793_491_200_000, time_zone="Europe/Brussels", taxes=TAXES, issuer="VL", balance_micros=0)
    assume(closed is not None)  # nothing due by the closing period
    invoice = closed.invoice
    for line in invoice.lines:
        assert _read_back(line, invoice), line
        assert _in_english(line, invoice) == line.description
        for language in OTHER_LANGUAGES:
            _assert_says_the_same(line, described(line, invoice, LOCALE_OF[language]), LOCALE_OF[language])


def _in_english(line: InvoiceLine, invoice: InvoiceIssued) -> str:
    """The line read back and worded again in English, amounts as the ledger prints them: the
    oracle that the parts read back are all the line said (prior usage, in advance, the rate)."""
    c = invoice.currency
    return line_text(line, invoice, wording("en"), lambda micros: f"{format_minor(micros, c)} {c}", str)


def _read_back(line: InvoiceLine, invoice: InvoiceIssued) -> bool:
    """Whether the line was read back and worded again (with words that mark it), not printed as issued."""
    marked = line_text(line, invoice, lambda message: f"<{message}>", str, str)
    return marked != line.description and marked.startswith("<")


def _assert_says_the_same(line: InvoiceLine, worded: str, locale: str) -> None:
    t = wording(locale)
    base = line.category.removesuffix(":prior")
    if base in LINE_LABELS:
        assert t(LINE_LABELS[base]) in worded, (locale, worded)
        assert re.search(r"\d{4}-\d{2}", line.description)[0] in worded, (locale, worded)
    if base in USAGE_CATEGORIES and base != "usage:correction":
        assert f"{line.quantity // 60}:{line.quantity % 60:02d}" in worded, (locale, worded)


@settings(max_examples=30, deadline=None)
@given(credit_cents=st.integers(1, 10**7), currency=st.sampled_from(["EUR", "USD", "JPY"]))
def test_a_credit_notes_lines_are_worded_again_with_the_same_amounts(credit_cents, currency):
    unit = 1_000_000 if currency == "JPY" else 10_000
    lines, _ = credit_lines(credit_cents * unit, currency, TAXES, "Credit for dispute d-7 on invoice VL-a-2026-0003")
    note = replace(_invoice(lines, currency=currency), kind=InvoiceKind.CREDIT_NOTE)
    for language in OTHER_LANGUAGES:
        locale = LOCALE_OF[language]
        worded = [described(line, note, locale) for line in lines]
        assert all(_read_back(line, note) and _in_english(line, note) == line.description for line in lines)
        assert all(w != line.description for w, line in zip(worded, lines)), (locale, worded)
        assert "d-7" in worded[0] and "VL-a-2026-0003" in worded[0]


def test_a_line_that_does_not_read_back_prints_as_it_was_issued():
    lines = (InvoiceLine("usage:domestic", "Calls, domestic, 2026-10, 3:00 min", 180, 370_000),  # not "billed"
             InvoiceLine("usage:domestic", "Calls, domestic, 2026-10, 4:00 min billed", 180, 370_000),  # 3 minutes
             InvoiceLine("feature", "Changement de numéro", 1, 15_000_000),  # made by hand
             InvoiceLine("tax:BE", "TVA 21% of 30.370 EUR", 1, 6_380_000),  # not how EUR prints
             InvoiceLine("tax:BE", "TVA 21% of 30.37 USD", 1, 6_380_000),  # not the invoice's currency
             InvoiceLine("credit:dispute", "Credit", 1, -1_000_000))
    invoice = _invoice(lines)
    for line in lines:
        assert not _read_back(line, invoice), line
        assert described(line, invoice, "fr_BE") == line.description, line


def test_english_prints_every_line_exactly_as_it_was_issued():
    lines = (InvoiceLine("usage:domestic", "Calls, domestic, 2026-10, 3:00 min billed", 180, 370_000),
             InvoiceLine("tax:BE", "TVA 21% of 1234.56 EUR", 1, 259_260_000))
    invoice = _invoice(lines)
    assert [described(line, invoice, "en_GB") for line in lines] == [line.description for line in lines]


def test_amounts_and_rates_in_a_reworded_tax_line_follow_the_locale():
    line = InvoiceLine("tax:BE", "Surcharge 2.5% of 1234.56 EUR", 1, 30_860_000)
    invoice = _invoice((line,))
    assert described(line, invoice, "fr_BE") == "Surcharge 2,5 % de 1\u202f234,56 EUR"
    assert described(line, invoice, "de_DE") == "Surcharge 2,5 % auf 1.234,56 EUR"


INVOICE = _invoice((InvoiceLine("monthly", "Monthly service, 2026-11, in advance", 1, 30_000_000),
                    InvoiceLine("usage:international", "Calls, international, 2026-10, 3:00 min billed", 180, 370_000),
                    InvoiceLine("tax:BE", "TVA 21% of 30.37 EUR", 1, 6_380_000)))


def test_a_french_invoice_says_everything_in_french():
    from streams.documents.invoice import Issuer, Legal

    legal = Legal(Issuer("Opérateur SA", tax_id="BE0123456789", payment_instructions="IBAN BE71 0961 2345 6769"),
                  None, "", ("Zoë", "", "BE0987654321"), "fr_BE")
    page = render_html(replace(INVOICE, due_at_ms=INVOICE.occurred_at_ms + 30 * 86_400_000), legal=legal)
    for needle in ('<html lang="fr">', "<h1>Facture</h1>", "<td>Numéro</td><td>en attente", "<td>Date d&#x27;échéance</td>",
                   "<h2>Facturé à</h2>", "<th>Description</th>", "Quantité", "Montant", "Sous-total",
                   "Abonnement mensuel, 2026-11, à l&#x27;avance", "Appels internationaux, 2026-10, 3:00 min facturées",
                   "TVA 21 % de 30,37 EUR", "N° TVA / identifiant fiscal BE0123456789",
                   "Paiement : IBAN BE71 0961 2345 6769.", "Montants en EUR.", "Montant dû", "Paiements reçus depuis"):
        assert needle in page, needle
    for english in ("Invoice", "Bill to", "Subtotal", "Amounts in", "in advance", "min billed"):
        assert english not in page, english
    text = render_text(INVOICE, legal=legal)
    assert text.startswith("Facture en attente") and "Appels internationaux" in text


def test_a_credit_note_in_russian_renders_to_a_pdf_in_a_unicode_font():
    from streams.documents.invoice import Legal

    note = replace(INVOICE, kind=InvoiceKind.CREDIT_NOTE, corrects="VL-0")
    assert "<h1>Корректировочный счёт</h1>" in render_html(note, legal=Legal(locale="ru_RU"))
    pdf = render_pdf(note, legal=Legal(locale="ru_RU"))
    assert pdf.startswith(b"%PDF-") and b"DejaVu" in pdf


def test_the_setting_words_the_copies_every_renderer_prints():
    """``legal_for`` is what the API, the portal, the CLI and the demo render with."""
    from streams.config.settings import Settings
    from streams.documents.invoice import legal_for

    legal = legal_for(replace(Settings(), invoice_locale="nl_BE"), INVOICE, {})
    assert "<h1>Factuur</h1>" in render_html(INVOICE, legal=legal)
    assert "Gesprekken, internationaal, 2026-10, 3:00 min gefactureerd" in render_text(INVOICE, legal=legal)
    assert "<h1>Invoice</h1>" in render_html(INVOICE, legal=legal_for(Settings(), INVOICE, {}))
