"""The customer portal and the operator console in a real browser (issue 19): Debian's headless
Chromium, driven by Playwright, against ``voiceledger api`` on the real broker and ClickHouse
server, with an account's four months folded by a real worker.

The customer logs in by the signed link ``voiceledger portal link`` prints, reads the statement
of the current month and of each of the three before (R20; an older month is refused), downloads
an invoice as PDF, opens a dispute of a fresh invoice and is refused for one issued more than 30
days ago (R19), then erases their personal data, after a refusal for a wrong confirmation (R32).
An operator signs in to the console, finds the account, moves it to the other plan sold from
the next period (R21) and places a fraud hold, then sends again
the call of an account that was dead-lettered before the account was opened: it is billed (R9).
Last, an API whose customers read French (``invoice_locale = "fr_BE"``) and whose erasures are
reviewed (``portal_erasure = reviewed``) shows the same account's portal, invoices and a refusal
in French; the customer asks for an erasure, an operator declines it from the console with a
reason the customer then reads, and erases their second request (R32).
Every page is screenshotted into the test's artefacts (``$VOICELEDGER_SCREENSHOTS`` if set,
else the test's directory); ``docs/`` keeps one of the portal and one of the console.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from streams.worker.supervise import worker_env
from tests.integration.api_scenario import ACCOUNT, TOKENS, api_process, call, four_months
from tests.integration.helpers import ON_THE_SERVER, log_events, run_worker_to_end
from projections.periods import previous_period

CHROMIUM = "/usr/bin/chromium"  # Debian's (make test installs it); Playwright cannot download one here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


pytestmark = ON_THE_SERVER


def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("VOICELEDGER_SCREENSHOTS") or tmp_path / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_R19_R20_R32_R33_the_customer_portal_and_the_operator_console_in_headless_chromium(settings, tmp_path):
    out = shots(tmp_path)
    with api_process(settings, tmp_path, plans=("basic", "business")) as (settings, base):
        lived = four_months(settings, base, tmp_path)
        _opened_after_its_call(settings, tmp_path)
        _many_in_the_read_model(settings)
        link = subprocess.run([sys.executable, "-m", "streams.cli", "portal", "link", ACCOUNT], env=worker_env(settings),
                              capture_output=True, text=True, timeout=60)
        assert link.returncode == 0, link.stderr
        url = json.loads(link.stdout)["url"]
        # Playwright's sync API runs a loop on this thread: the scenario's asyncio is done before.
        from playwright.sync_api import sync_playwright

        assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install chromium (make test does)"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1100, "height": 800}, accept_downloads=True)
            _customer(page, base, url, lived.months, out)
            _disputes(page, settings, base, out, tmp_path)
            _erasure(page, base, out)
            _console(browser.new_page(viewport={"width": 1100, "height": 800}), base, out)
            _in_french(browser.new_page(viewport={"width": 1100, "height": 800}), settings, tmp_path, out)
            browser.close()
        # The plan change, the hold and the language set from the console are folded like any command.
        assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "worker.log") == 0
        folded = call(base, "GET", f"/v1/accounts/{ACCOUNT}")[1]
        assert (folded["status"], folded["plan"], folded["pending_plan"], folded["locale"]) == (
        "FRAUD_HOLD", "basic", "business", "fr_CH")
        assert "Votre compte" in _portal_home(settings, ACCOUNT), "the operator's choice, on the English deployment"
        # R10: the credit limit set from the console, folded, on the account and on its customer's page.
        assert call(base, "GET", f"/v1/accounts/{LATE}")[1]["credit_limit_micros"] == 250_000_000
        (decided,) = call(base, "GET", f"/v1/accounts/{ACCOUNT}/disputes")[1]
        assert (decided["status"], decided["credit_micros"]) == ("CUSTOMER_FAVOUR", 10_000), "decided from the console"
        assert "Acceptée : une note de crédit de 0,01 USD" in _portal_home(settings, ACCOUNT, "/portal/disputes"), \
            "the customer reads the decision, in their language (fr_CH)"
        assert "plafond de crédit 250,00 USD" in _portal_home(settings, LATE), "in the language its customer chose"
        late = call(base, "GET", f"/v1/accounts/{LATE}/calls")[1]["calls"]
        assert [(c["call_key"], c["charge_micros"]) for c in late] == [("fs-1/late-1", 10_000)], "sent again, billed"


def _customer(page, base: str, url: str, months: list[str], out: Path) -> None:  # noqa: ANN001 - a Playwright page
    page.goto(url)
    assert page.url == base + "/portal", "the link logs in and lands on the account page"
    balance = call(base, "GET", f"/v1/accounts/{ACCOUNT}/balance", scope="portal:acct-000001")[1]["balance_micros"]
    assert page.inner_text("#balance") == f"{balance / 1_000_000:.2f} USD"
    assert "50.00" in page.inner_text("#payments")
    assert "Nothing to pay on your invoices." in page.inner_text("#to-pay"), "R11: the top-up paid every invoice"
    page.screenshot(path=str(out / "portal-account.png"), full_page=True)
    for month in months:  # R20: the current month and the three before it
        page.goto(f"{base}/portal/statements?month={month}")
        shown = call(base, "GET", f"/v1/accounts/{ACCOUNT}/statements/{month}", scope="portal:acct-000001")[1]
        assert page.inner_text("h1") == f"Statement {month}"
        assert page.inner_text("#closing") == f"{shown['closing_balance_micros'] / 1_000_000:.2f}"
        page.screenshot(path=str(out / f"portal-statement-{month}.png"), full_page=True)
    older = previous_period(months[-1])
    response = page.goto(f"{base}/portal/statements?month={older}")
    assert response.status == 403 and "(R20)" in page.inner_text("#message")
    page.screenshot(path=str(out / "portal-statement-refused.png"), full_page=True)
    page.goto(f"{base}/portal/invoices")
    # R11: each invoice says what paid it; here the top-up, before any was issued.
    shown = page.locator("#invoices td.status").all_inner_texts()
    assert shown and all(text.startswith("Paid 20") or text == "Credit note" for text in shown), shown
    page.screenshot(path=str(out / "portal-invoices.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("a.pdf").first.click()
    saved = out / download.value.suggested_filename
    download.value.save_as(str(saved))
    assert saved.read_bytes()[:5] == b"%PDF-" and saved.suffix == ".pdf"
    _calls_by_month(page, base, months, out)


def _calls_by_month(page, base: str, months: list[str], out: Path) -> None:  # noqa: ANN001 - a Playwright page
    """R33: the calls of each month the customer picks, in the account's zone, and a month's CSV file."""
    import csv
    import io

    page.goto(f"{base}/portal/calls")
    assert page.input_value("#month") == months[0], "the current month first"
    assert page.locator("#calls th").first.inner_text() == "Start (UTC)", "the account's zone, named"
    seen = 0
    for month in months:
        page.select_option("#month", month)
        page.click("#month-form button")
        assert page.url == f"{base}/portal/calls?month={month}"
        seen += page.locator("#calls tr").count() - 1 if page.locator("#calls").count() else 0
    assert seen == 4, "each of the four calls in its month, once"
    page.goto(f"{base}/portal/invoices")
    page.locator("#invoices a.period", has_text=months[1]).first.click()  # an invoice's period: its calls
    assert page.url == f"{base}/portal/calls?month={months[1]}"
    charged = call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls?month={months[1]}")[1]["month_charge_micros"]
    assert page.inner_text("#month-total").startswith(f"Calls in {months[1]}: 1, {charged / 1_000_000:.2f} USD in all.")
    assert page.locator("#calls td.num").last.inner_text() == f"{charged / 1_000_000:.2f} USD"
    page.screenshot(path=str(out / "portal-calls.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#calls-csv")
    assert download.value.suggested_filename == f"calls-{ACCOUNT}-{months[1]}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["start"][:7], r["callee"]) for r in rows] == [(months[1], "+12125550100")]


def _disputes(page, settings, base: str, out: Path, tmp_path: Path) -> None:  # noqa: ANN001 - a page, Settings
    """R19: a dispute opened on the portal; once folded, the customer reads it with their words
    (sealed on the log, R32, and opened by the worker); one of an old invoice is refused."""
    from concurrent.futures import ThreadPoolExecutor

    invoices = call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices")[1]["invoices"]
    fresh = next(i for i in invoices if i["total_micros"] > 0 and i["disputable_until"] > _now_iso())
    old = next(i for i in invoices if i["disputable_until"] < _now_iso())
    page.goto(f"{base}/portal/disputes?invoice={fresh['reference']}")
    assert page.inner_text("label[for=amount]") == "Amount disputed (USD)"
    assert "No disputes yet." in page.inner_text("main")
    page.fill("#amount", "0.01")
    page.fill("#reason", "This call was not made from my line.")
    page.screenshot(path=str(out / "portal-dispute-form.png"), full_page=True)
    page.click("#dispute button")
    assert page.inner_text("h1") == "Dispute received", page.inner_text("main")
    page.screenshot(path=str(out / "portal-dispute-opened.png"), full_page=True)
    with ThreadPoolExecutor(1) as aside:  # its asyncio off this thread, where Playwright's loop runs
        assert aside.submit(lambda: run_worker_to_end(settings, log_events(settings)[1],
                                                      tmp_path / "dispute-worker.log")).result() == 0
    page.goto(f"{base}/portal/disputes")
    mine = page.locator("#my-disputes tr[data-dispute]")
    assert mine.count() == 1 and "This call was not made from my line." in mine.inner_text(), mine.inner_text()
    assert mine.locator(".decision").inner_text() == "Open"
    page.select_option("#invoice", old["reference"])
    page.fill("#amount", "0.01")
    page.click("#dispute button")
    assert page.inner_text("h1") == "Dispute refused" and "30 days" in page.inner_text("#message")
    page.screenshot(path=str(out / "portal-dispute-refused.png"), full_page=True)


def _erasure(page, base: str, out: Path) -> None:  # noqa: ANN001 - a Playwright page
    """R32: the customer erases their personal data from the portal; amounts stay."""
    def calls() -> list[dict]:
        return call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls")[1]["calls"]

    before = calls()
    assert {c["caller"] for c in before} == {"+15550000001"}
    page.goto(f"{base}/portal/privacy")
    page.fill("#confirm", "acct-000002")  # not the account's id: nothing happens
    page.click("#erase button")
    assert page.inner_text("h1") == "Not erased" and ACCOUNT in page.inner_text("#message")
    assert calls() == before
    page.goto(f"{base}/portal/privacy")
    page.fill("#confirm", ACCOUNT)
    page.screenshot(path=str(out / "portal-erasure-form.png"), full_page=True)
    page.click("#erase button")
    assert page.inner_text("h1") == "Your personal data is erased", page.inner_text("main")
    assert f"{len(before)} call records" in page.inner_text("#message")
    page.screenshot(path=str(out / "portal-erased.png"), full_page=True)
    after = calls()  # the numbers are gone from the call log; the amounts are not
    assert {c["caller"] for c in after} == {""} and all("*" in c["callee"] for c in after)
    assert [(c["call_key"], c["charge_micros"]) for c in after] == [(c["call_key"], c["charge_micros"]) for c in before]


LATE = "acct-late"


def _opened_after_its_call(settings, tmp_path: Path) -> None:  # noqa: ANN001 - Settings
    """A call of an account logged before the account: the worker dead-letters it (unknown_account)."""
    import asyncio
    import time

    from projections.events import AccountOpened, CallDetailRecord, Disposition
    from streams.edge.publish import produce_events

    day_ago = (int(time.time()) - 86_400) * 1000
    asyncio.run(produce_events(settings, [
        CallDetailRecord("fs-1/late-1", "fs-1", "late-1", LATE, "+15550000009", "+12125550100", day_ago,
                         day_ago + 1_000, day_ago + 61_000, Disposition.ANSWERED),
        AccountOpened("open-late", LATE, day_ago - 86_400_000, "USD", "basic", "postpaid", ("15550000009",),
                      locale="nl_BE")]))  # a Dutch-speaking customer: their own language, whatever the deployment's
    assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "worker.log") == 0


def _portal_home(settings, account_id: str, path: str = "") -> str:  # noqa: ANN001 - Settings
    """The account page (or ``path``) of ``account_id``'s portal, opened by its link, as plain HTML."""
    import http.cookiejar
    import urllib.request

    link = subprocess.run([sys.executable, "-m", "streams.cli", "portal", "link", account_id], env=worker_env(settings),
                          capture_output=True, text=True, timeout=60)
    assert link.returncode == 0, link.stderr
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(json.loads(link.stdout)["url"], timeout=60) as response:
        home = response.read().decode()
    if not path:
        return home
    with browser.open(response.url.split("/portal")[0] + path, timeout=60) as response:
        return response.read().decode()


def _many_in_the_read_model(settings) -> None:  # noqa: ANN001 - Settings
    """55 accounts whose ids start with "page-", in the accounts read model only: more than the
    console's page of 50, so that its "Next page" link is followed."""
    from projections.account import AccountState
    from streams.clickhouse.accounts import ACCOUNT_COLUMNS, account_row
    from streams.clickhouse.client import connect

    ch = connect(settings.clickhouse_url)
    try:
        ch.insert("accounts", ACCOUNT_COLUMNS, [account_row(AccountState(
            f"page-{n:03d}", f"open-page-{n:03d}", "USD", "basic", "prepaid", (), "UTC", 1_790_812_800_000,
            positions={"events/0": (n, 0)})) for n in range(55)])
    finally:
        ch.close()


def _console(page, base: str, out: Path) -> None:  # noqa: ANN001 - a Playwright page
    page.goto(f"{base}/console")
    assert page.url == base + "/console/login", "no session: the console asks for a token"
    page.fill("#token", TOKENS["portal:acct-000001"])
    page.click("form button")
    assert "not an operator" in page.inner_text("#message"), "a customer's token does not open the console"
    page.fill("#token", TOKENS["operator"])
    page.click("form button")
    # Lists by status and owing (GET /v1/accounts), before one account is found by its id.
    page.select_option("#status-filter", "ACTIVE")
    page.click("#list")
    assert ACCOUNT in page.locator("#accounts").inner_text()
    page.select_option("#status-filter", "SUSPENDED")
    page.click("#list")
    assert "No account found." in page.inner_text("main"), "none is suspended"
    page.select_option("#status-filter", "ACTIVE")
    page.check("#owing-filter")
    page.click("#list")
    assert ACCOUNT not in page.locator("#accounts").inner_text(), "its top-up paid every charge: it owes nothing"
    page.screenshot(path=str(out / "console-list.png"), full_page=True)
    page.fill("header input[name=q]", "page-")  # 55 accounts: a page of 50, then the next
    page.click("header button")
    listed = page.locator("#accounts a").all_inner_texts()
    assert (len(listed), listed[0], listed[-1]) == (50, "page-000", "page-049")
    page.click("#next-page")
    assert page.locator("#accounts a").all_inner_texts() == [f"page-{n:03d}" for n in range(50, 55)]
    assert page.locator("#next-page").count() == 0, "the last page links to none"
    page.fill("header input[name=q]", ACCOUNT)
    page.click("header button")
    assert page.url == f"{base}/console/accounts/{ACCOUNT}"
    assert page.inner_text("#status") == "ACTIVE" and page.inner_text("#locale") == "the deployment's language"
    # R21: the plans sold but the account's own, from the catalogue; the change from the next period.
    assert page.locator("#plan-choice option").all_inner_texts() == ["business"]
    page.select_option("#plan-choice", "business")
    page.click("#change-plan")
    assert "Plan business from the next period" in page.inner_text("#notice")
    page.fill("input[name=case_ref]", "case-77")
    page.click("#hold")
    assert "Fraud hold placed" in page.inner_text("#notice")
    page.screenshot(path=str(out / "console-account.png"), full_page=True)
    _language_from_the_console(page, base)
    page.goto(f"{base}/console/accounts/{LATE}")
    assert "unknown_account" in page.inner_text("#dead-letters") and page.inner_text("#locale") == "nl_BE"
    page.select_option("#redrive-reason", "unknown_account")
    page.click("#redrive")
    assert "1 events of 1 unknown_account dead letters sent again" in page.inner_text("#notice")
    page.screenshot(path=str(out / "console-redrive.png"), full_page=True)
    # R10: a postpaid account's own credit limit, set from its page (none yet: the plan's).
    assert page.inner_text("#credit-limit") == "the plan's"
    page.fill("#credit-limit-amount", "250.00")
    page.click("#set-credit-limit")
    assert "Credit limit 250.00 USD from now on (credit-limit:" in page.inner_text("#notice")
    # The plans as the worker prices them, and the versions of those settings (its start recorded the first).
    page.click("#plans-link")
    assert page.locator("h2.plan").all_inner_texts() == ["basic sold", "business sold"]
    assert "Rate cards\tthe default cards" in page.locator(".prices").first.inner_text()
    versions = page.locator("#versions tr").all_inner_texts()
    assert len(versions) == 2 and "the first version" in versions[1], versions
    page.screenshot(path=str(out / "console-plans.png"), full_page=True)


def _language_from_the_console(page, base: str) -> None:  # noqa: ANN001 - a Playwright page
    """An operator sets a customer's language: offered those with words, refused one Babel does not know."""
    choices = page.locator("#languages option")
    offered = [choices.nth(i).get_attribute("value") for i in range(choices.count())]
    assert offered == ["en", "de", "es", "fr", "it", "nl", "ru"], "the deployment's English, then each with words"
    page.fill("#locale-choice", "Klingon")
    page.click("#change-language")
    assert "is not a language such as fr, nl_BE or de_CH" in page.inner_text("main")
    page.goto(f"{base}/console/accounts/{ACCOUNT}")  # a fresh page, a fresh key
    page.fill("#locale-choice", "fr_CH")
    page.click("#change-language")
    assert "Invoices and portal in français (Suisse) from the next invoice" in page.inner_text("#notice")


def _in_french(page, settings, tmp_path: Path, out: Path) -> None:  # noqa: ANN001 - a page, Settings
    """The same account's portal from an API whose customers read French (``invoice_locale``):
    the pages, a refusal, the values from the data and the invoice itself are in French."""
    (tmp_path / "fr").mkdir()
    with api_process(settings, tmp_path / "fr", invoice_locale="fr_BE", portal_erasure="reviewed") as (french, base):
        link = subprocess.run([sys.executable, "-m", "streams.cli", "portal", "link", ACCOUNT], env=worker_env(french),
                              capture_output=True, text=True, timeout=60)
        assert link.returncode == 0, link.stderr
        page.goto(json.loads(link.stdout)["url"])
        assert page.inner_text("h1") == "Votre compte" and page.locator("html").get_attribute("lang") == "fr"
        assert page.inner_text("#status") == "Actif" and "Rien à payer sur vos factures." in page.inner_text("#to-pay")
        assert "Relevés" in page.inner_text("header") and "Account" not in page.inner_text("main")
        page.screenshot(path=str(out / "portal-account-fr.png"), full_page=True)
        response = page.goto(f"{base}/portal/invoices")
        assert response.headers["content-language"] == "fr"
        shown = page.locator("#invoices td.status").all_inner_texts()
        assert shown and all(text.startswith("Payée le 20") or text == "Note de crédit" for text in shown), shown
        with page.expect_response(lambda r: "/portal/invoices/" in r.url) as shown_invoice:
            page.locator("#invoices a", has_text="Voir").first.click()
        assert shown_invoice.value.headers["content-language"] == "fr"
        assert page.locator("h1").nth(1).inner_text() in ("Facture", "Note de crédit")
        assert "Description" in page.inner_text("table.lines") and "Sous-total" in page.inner_text("table.lines")
        page.screenshot(path=str(out / "portal-invoice-fr.png"), full_page=True)
        response = page.goto(f"{base}/portal/statements?month=2000-01")
        assert response.status == 403 and page.inner_text("h1") == "Relevé indisponible"
        assert "n'est pas disponible" in page.inner_text("#message") and "(R20)" in page.inner_text("#message")
        _in_their_own_language(page, base, french, tmp_path / "fr", out)
        _reviewed_erasure(page, base, out)
        _a_dispute_decided_from_the_console(page, base, out)


def _in_their_own_language(page, base: str, settings, tmp_path: Path, out: Path) -> None:  # noqa: ANN001
    """A customer with a language of their own (AccountOpened v5 ``locale``) reads their portal in
    it, on the same French deployment, and switches it from their portal (AccountDetailsChanged
    v3: the language alone); the customer before them still reads French."""
    link = subprocess.run([sys.executable, "-m", "streams.cli", "portal", "link", LATE], env=worker_env(settings),
                          capture_output=True, text=True, timeout=60)
    assert link.returncode == 0, link.stderr
    response = page.goto(json.loads(link.stdout)["url"])
    assert response.headers["content-language"] == "nl" and page.locator("html").get_attribute("lang") == "nl"
    assert page.inner_text("h1") == "Uw account" and "Overzichten" in page.inner_text("header")
    choices = page.locator("#language-choice option")
    assert "Français (Belgique)" in choices.all_inner_texts() and page.input_value("#language-choice") == "nl_BE"
    page.select_option("#language-choice", "fr_BE")
    page.click("#change-language")
    assert page.inner_text("h1") == "Langue modifiée", "said in the language just chosen"
    assert "seront en français (Belgique)" in page.inner_text("#message")
    page.screenshot(path=str(out / "portal-language-fr.png"), full_page=True)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as aside:  # its asyncio off this thread, where Playwright's loop runs
        assert aside.submit(lambda: run_worker_to_end(settings, log_events(settings)[1],
                                                      tmp_path / "worker.log")).result() == 0
    page.goto(f"{base}/portal")
    assert page.inner_text("h1") == "Votre compte" and page.input_value("#language-choice") == "fr_BE"
    assert call(base, "GET", f"/v1/accounts/{LATE}")[1]["locale"] == "fr_BE"
    back = subprocess.run([sys.executable, "-m", "streams.cli", "portal", "link", ACCOUNT], env=worker_env(settings),
                          capture_output=True, text=True, timeout=60)
    page.goto(json.loads(back.stdout)["url"])
    assert page.inner_text("h1") == "Votre compte", "the next customer's pages are in their language again (fr_CH)"


def _a_dispute_decided_from_the_console(page, base: str, out: Path) -> None:  # noqa: ANN001 - a Playwright page
    """R19: the dispute the customer opened on the portal waits in the console's queue, without
    their reason since they erased their data; a forged form is refused; the operator decides it
    for the customer."""
    page.goto(f"{base}/console/erasure-requests")  # signed in by the erasure's review, before
    page.click("#disputes-link")
    row = page.locator("#open-disputes tr[data-dispute]")
    assert row.count() == 1 and ACCOUNT in row.inner_text(), page.inner_text("main")
    # R32: the customer erased their personal data after opening it (``_erasure``): their words are
    # gone from the queue too, the dispute and its amount are not.
    assert row.locator(".reason").inner_text() == "—", "the customer's words, emptied by their erasure"
    page.screenshot(path=str(out / "console-disputes.png"), full_page=True)
    row.locator("input[name=dispute_id]").evaluate("input => input.value = 'dispute:forged'")
    row.locator("button").click()
    assert "no open dispute 'dispute:forged' on acct-000001" in page.inner_text("main")
    page.goto(f"{base}/console/disputes")
    row.locator("input[name=credit]").fill("0.02")
    row.locator("button").click()
    assert "more than the amount disputed (R19)" in page.inner_text("main"), "refused here, not dead-lettered"
    page.goto(f"{base}/console/disputes")
    row.locator("select[name=outcome]").select_option("CUSTOMER_FAVOUR")
    row.locator("input[name=credit]").fill("0.01")
    row.locator("button").click()
    assert page.url.startswith(f"{base}/console/disputes?notice=")
    assert "decided: a credit note of 0.01 USD" in page.inner_text("#notice")


def _reviewed_erasure(page, base: str, out: Path) -> None:  # noqa: ANN001 - a Playwright page
    """R32 with a review (``portal_erasure = reviewed``): the customer's request waits for an
    operator, who declines it with a reason from the console; the customer reads the reason in
    their language, asks again, and the operator erases."""
    asked = _ask_in_the_portal(page, base)
    page.goto(f"{base}/console/login")
    page.fill("#token", TOKENS["operator"])
    page.click("form button")
    page.click("#erasure-link")
    row = page.locator(f"#open-requests tr[data-request='{asked}']")
    assert "overdue" not in row.inner_text() and ACCOUNT in row.inner_text()
    page.screenshot(path=str(out / "console-erasure-requests.png"), full_page=True)
    row.locator("input[name=reason]").fill("une contestation en cours (dossier 77)")
    row.locator("button.decline").click()
    assert f"{asked}: declined" in page.inner_text("#notice")
    assert page.locator(f"#open-requests tr[data-request='{asked}']").count() == 0
    page.goto(f"{base}/portal/privacy")
    shown = page.inner_text(f"#erasure-requests li[data-request='{asked}']")
    assert "a été refusée le" in shown and "une contestation en cours (dossier 77)" in shown, shown
    again = _ask_in_the_portal(page, base)
    assert again != asked, "the first was answered: a new request"
    page.goto(f"{base}/console/erasure-requests")
    page.locator(f"#open-requests tr[data-request='{again}'] button.erase").click()
    assert f"{again}: erased" in page.inner_text("#notice"), page.inner_text("#notice")
    assert "No request waits for an answer." in page.inner_text("main")
    page.goto(f"{base}/portal/privacy")
    assert "Vos données personnelles ont été effacées le" in page.inner_text(
        f"#erasure-requests li[data-request='{again}']")
    page.screenshot(path=str(out / "portal-erasure-requests-fr.png"), full_page=True)


def _ask_in_the_portal(page, base: str) -> str:  # noqa: ANN001 - a Playwright page
    """The customer asks from the privacy page; returns the request's id the answer names."""
    import re

    page.goto(f"{base}/portal/privacy")
    assert "Nous examinons d'abord chaque demande" in page.inner_text("main")
    page.fill("#confirm", ACCOUNT)
    page.click("#erase button")
    assert page.inner_text("h1") == "Demande reçue", page.inner_text("main")
    return re.search(r"er-[0-9a-f]{16}", page.inner_text("#message")).group(0)


def _now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

