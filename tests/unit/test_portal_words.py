"""The customer portal in the customer's language: every message in every language with the same
placeholders, every message the pages ask for in the catalogue, values from the data worded where
the catalogue names them, and amounts as the locale writes them. (The pages themselves, in French,
are checked in a browser: tests/integration/test_portal_browser.py.)"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from streams.api import pages, portal
from streams.api.portal_words import MESSAGES, PORTAL_WORDS
from streams.documents.wording import INVOICE_WORDS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "streams" / "api" / "templates"


def _fields(message: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(message) if name is not None)


@pytest.mark.parametrize("catalogue", [PORTAL_WORDS, INVOICE_WORDS], ids=["portal", "invoices"])
def test_every_language_has_every_message_with_the_same_placeholders(catalogue):
    assert catalogue.languages == ("en", "de", "es", "fr", "it", "nl", "ru")
    assert len(catalogue.known) == len(catalogue.messages), "a message is listed twice"
    for language, words in catalogue.translations.items():
        assert list(words) == list(catalogue.messages), language
        for english, translated in words.items():
            assert translated.strip() and _fields(translated) == _fields(english), (language, english, translated)


def _asked_by_templates() -> set[str]:
    asked = set()
    for path in TEMPLATES.glob("*.html"):
        asked |= set(re.findall(r'\bt\("((?:[^"\\]|\\.)*)"\)', path.read_text()))
    return asked


def _asked_by_portal() -> set[str]:
    """Every string constant ``t`` is called with in streams/api/portal.py, and its refusals."""
    tree = ast.parse(Path(portal.__file__.replace(".so", ".py")).read_text())
    asked = {call.args[0].value for call in ast.walk(tree) if isinstance(call, ast.Call)
             and isinstance(call.func, ast.Name) and call.func.id == "t" and call.args
             and isinstance(call.args[0], ast.Constant)}
    return asked | set(portal._REFUSALS.values()) | {m for pair in pages.PORTAL_PROBLEMS.values() for m in pair}


def test_every_message_the_pages_ask_for_is_in_the_catalogue():
    templates, code = _asked_by_templates(), _asked_by_portal()
    assert len(templates) > 60 and len(code) > 15, (len(templates), len(code))  # the parsing found them
    assert templates | code <= set(MESSAGES), sorted((templates | code) - set(MESSAGES))


def test_a_page_asking_for_a_message_not_in_the_catalogue_fails_in_english_too():
    for locale in ("en", "fr_BE"):
        with pytest.raises(KeyError):
            PORTAL_WORDS.wording(locale)("Your acount")


def test_values_from_the_data_are_worded_where_named_and_kept_as_they_are_otherwise():
    french, english = PORTAL_WORDS.label("fr_BE"), PORTAL_WORDS.label("en")
    assert (french("ACTIVE"), french("CREDIT_NOTE"), french("payment")) == ("Actif", "Note de crédit", "Paiement")
    assert french("rerating") == "rerating" and french(7) == "7"  # a kind the catalogue does not name yet
    assert (english("ACTIVE"), english("payment")) == ("ACTIVE", "payment"), "English prints what the API returns"


def test_amounts_on_a_page_follow_the_locale_and_english_is_as_before():
    assert pages.money_of("EUR")(-1_234_500_000) == "-1234.50"
    assert pages.money_of("EUR", "fr_BE")(-1_234_500_000) == "-1\u202f234,50"
    assert pages.money_of("EUR", "de_DE")(1_234_567_891) == "1.234,57"  # half away from zero
    assert pages.money_of("JPY", "ru_RU")(1_234_000_000) == "1\xa0234"
    assert pages.money_of("XXX", "fr_BE")(1_000_000) == "1,00", "an unknown currency prints as USD does"


def test_a_portal_page_in_french_has_no_english_message_left():
    from types import SimpleNamespace

    account = SimpleNamespace(status="ACTIVE", plan="basic", pending_plan="pro", billing_mode="postpaid", currency="EUR")
    payments = [{"at": "2026-11-02T10:00:00Z", "kind": "payment", "amount_micros": 50_000_000}]
    response = pages.page("portal_home.html", currency="EUR", locale="fr_BE", title="Votre compte", account_id="a-1",
                          account=account, balance=-12_500_000, to_pay={"total": 12_500_000, "overdue": 2_500_000,
                                                                         "next_due": "2026-12-01T00:00:00Z"},
                          payments=payments, credit_limit=500_000_000)
    assert response.headers["content-language"] == "fr"
    html = response.body.decode()
    for needle in ('<html lang="fr">', "Votre compte", "Statut", "Actif", "forfait basic", "(→ pro à partir du mois "
                   "prochain)", "post-payé", "-12,50 EUR", "montant dû", "plafond de crédit 500,00 EUR", "2,50 EUR en retard",
                   "prochaine échéance le 2026-12-01", "Paiement", "50,00 EUR", "Mes données"):
        assert needle in html, needle
    english = {m for m in MESSAGES if len(m) > 4 and "{" not in m and m not in PORTAL_WORDS.translations["fr"].values()}
    assert not [m for m in english if f">{m}<" in html], "an English message left on a French page"


def _problem_page(path: str, kind: str, detail: str, locale: str = "fr_BE") -> str:
    from types import SimpleNamespace

    from starlette.requests import Request

    from streams.api.problems import Problem

    app = SimpleNamespace(state=SimpleNamespace(context=SimpleNamespace(settings=SimpleNamespace(invoice_locale=locale))))
    request = Request({"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b"", "app": app,
                       "scheme": "http", "server": ("127.0.0.1", 80), "root_path": ""})
    return pages.problem_page(request, Problem(404, kind, detail)).body.decode()


def test_a_missing_invoice_or_account_is_said_in_the_customers_language():
    page = _problem_page("/portal/invoices/VL-9<x>/pdf", "unknown-invoice", "account a-1 has no invoice VL-9<x>")
    assert "<h1>Facture introuvable</h1>" in page and "Votre compte n&#39;a pas de facture VL-9&lt;x&gt;." in page
    page = _problem_page("/portal", "unknown-account", "no account a-1 (or the worker has not folded its opening yet)")
    assert "<h1>Compte pas encore disponible</h1>" in page and "Réessayez dans quelques minutes" in page
    # an invoice named by a form, not by the address, and a problem the catalogue does not word: as the API says it
    assert "account a-1 has no invoice VL-9" in _problem_page("/portal/disputes", "unknown-invoice",
                                                              "account a-1 has no invoice VL-9")
    assert "<h1>Invalid date</h1>" in _problem_page("/portal/statements", "invalid-date", "not a date")
    assert "<h1>No such invoice</h1>" in _problem_page("/portal/invoices/VL-1", "unknown-invoice", "x", locale="en")


def test_a_customer_chooses_among_the_languages_with_words_in_their_own_region():
    from streams.api.portal_words import language_choices, language_name

    belgian = dict(language_choices("nl_BE"))
    assert {"fr_BE", "nl_BE", "de_BE", "en_BE"} <= set(belgian) and belgian["fr_BE"] == "Français (Belgique)"
    assert "es" in belgian, "a pairing Babel does not know: the language alone"
    assert dict(language_choices("fr"))["nl"] == "Nederlands"
    assert language_choices("ja_JP")[-1] == ("ja_JP", "日本語 (日本)"), "the current one, though it has no words"
    assert language_name("fr_BE") == "français (Belgique)" and language_name("xx_YY") == ""


def test_a_customers_language_is_read_once_in_a_while_and_the_deployments_stands_in_without_clickhouse():
    """``Context.locale_of``: the account's own from the read model, kept for a few seconds;
    none of its own, the deployment's; the read model away, the deployment's, not kept."""
    from dataclasses import replace

    from streams.api.context import Context
    from streams.api.problems import Problem
    from streams.config.settings import Settings

    class Reader:
        def __init__(self) -> None:
            self.asked, self.down = 0, False

        def rows(self, sql: str) -> list[tuple]:
            self.asked += 1
            if self.down:
                raise Problem(503, "read-model-unavailable", "ClickHouse could not answer")
            return [("nl_BE",)] if "'acct-nl'" in sql else [("",)]

    reader = Reader()
    ctx = Context(replace(Settings(), invoice_locale="fr_BE"), {}, reader, None, None)
    assert [ctx.locale_of("acct-nl"), ctx.locale_of("acct-nl"), ctx.locale_of("acct-x")] == ["nl_BE", "nl_BE", "fr_BE"]
    assert reader.asked == 2, "kept: a page asks several times"
    ctx.forget_locale("acct-nl")
    reader.down = True
    assert [ctx.locale_of("acct-nl"), ctx.locale_of("acct-nl")] == ["fr_BE", "fr_BE"] and reader.asked == 4
    reader.down = False
    assert ctx.locale_of("acct-nl") == "nl_BE", "a failure is not kept"
