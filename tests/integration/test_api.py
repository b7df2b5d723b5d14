"""``voiceledger api`` (issue 19, first part) as a real process, on the real broker and the
ClickHouse server, beside the real worker:

- contract: schemathesis generates requests from the served OpenAPI document; no 5xx, every
  response matches its schema;
- end to end: an account opened and topped up through the API, its calls ingested, and the
  balance read back through the API equals a pure fold of the same events (R9); one
  ``Idempotency-Key`` sent twice gives one event;
- access: no token is a 401, a switch token cannot post a payment, a portal token cannot read
  another account; every error is ``application/problem+json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from projections.periods import next_period, period_start_ms, previous_period

from streams.dev.embedded import free_port
from streams.worker.supervise import worker_env
from tests.integration.api_scenario import ACCOUNT, TOKENS, api_process, call, four_months, iso
from tests.integration.helpers import (
    ON_THE_SERVER, log_events, oracle, run_worker_to_end, start_worker_caught_up, stop_worker,
)

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "cdr"


pytestmark = ON_THE_SERVER


@pytest.fixture
def api(settings, tmp_path):
    with api_process(settings, tmp_path, plans=("basic", "business", "pro")) as running:
        yield running


OPENING = {"account_id": "acct-000001", "currency": "USD", "plan": "basic", "billing_mode": "prepaid",
           "numbers": ["+1 555 000 0001"], "country": "US", "opened_at": "2026-09-30T00:00:00Z"}


def test_access_is_by_scoped_token_and_every_error_is_a_problem(api):
    settings, base = api
    status, body, kind = call(base, "POST", "/v1/accounts", OPENING, scope=None, key="k-1")
    assert (status, body["type"], kind) == (401, "https://voiceledger.dev/problems/unauthorized",
                                            "application/problem+json")
    assert call(base, "POST", "/v1/accounts/acct-000001/payments", {"amount": "5.00", "currency": "USD"},
                scope="switch", key="k-2")[0] == 403
    assert call(base, "GET", "/v1/accounts/acct-000002/balance", scope="portal:acct-000001")[0] == 403
    status, body, _ = call(base, "POST", "/v1/accounts", {**OPENING, "currency": "usd"}, key="k-3")
    assert status == 422 and body["detail"].startswith("body.currency") and body["errors"]
    status, body, _ = call(base, "POST", "/v1/accounts", {**OPENING, "currency": "ZZZ"}, key="k-5")
    assert (status, body["type"]) == (422, "https://voiceledger.dev/problems/unknown-currency"), "ISO 4217 only (R7)"
    status, body, _ = call(base, "POST", "/v1/accounts", {**OPENING, "time_zone": "Mars/Olympus"}, key="k-4")
    assert (status, body["type"]) == (422, "https://voiceledger.dev/problems/unknown-time-zone")
    # A plan the catalogue does not sell: refused, never billed as a plan without fee or cards.
    status, body, _ = call(base, "POST", "/v1/accounts", {**OPENING, "plan": "basci"}, key="k-6")
    assert (status, body["type"]) == (422, "https://voiceledger.dev/problems/unknown-plan"), body
    assert "'basci'" in body["detail"] and "basic, business, pro" in body["detail"]
    status, body, _ = call(base, "POST", "/v1/accounts/acct-000001/plan", {"plan": "premium"}, key="k-7")
    assert (status, body["type"]) == (422, "https://voiceledger.dev/problems/unknown-plan"), body
    status, body, _ = call(base, "GET", "/v1/plans")
    assert status == 200 and [(p["plan"], p["sold"]) for p in body["plans"]] == [
        ("basic", True), ("business", True), ("pro", True)] and body["catalogue"], body
    assert call(base, "GET", "/v1/plans", scope="portal:acct-000001")[0] == 403
    status, body, _ = call(base, "POST", "/v1/accounts/acct-000001/deal", {"card": "acme-deal"}, key="k-8")
    assert (status, body["type"]) == (422, "https://voiceledger.dev/problems/unknown-deal-card"), "no deal_cards set"
    # R10: an account's own credit limit is the operator's to set, never its portal's.
    limit = {"limit": "500.00", "currency": "USD", "reason": "credit check"}
    assert call(base, "POST", "/v1/accounts/acct-000001/credit-limit", limit, scope="portal:acct-000001",
                key="k-9")[0] == 403
    status, body, _ = call(base, "POST", "/v1/accounts/acct-000001/credit-limit", {**limit, "limit": "-5"}, key="k-10")
    assert status == 422 and body["detail"].startswith("body.limit"), body
    status, body, _ = call(base, "POST", "/v1/accounts/acct-000001/credit-limit", {**limit, "limit": None}, key="k-11")
    assert status == 202 and body["event_id"].startswith("credit-limit:"), body
    assert call(base, "GET", "/v1/nowhere")[0] == 404
    assert call(base, "DELETE", "/v1/accounts")[0] == 405
    assert call(base, "POST", "/v1/accounts", OPENING)[0] == 422, "the Idempotency-Key header is required"


def test_R9_opened_and_topped_up_through_the_api_then_called_the_balance_read_back_is_the_pure_folds(api, tmp_path):
    settings, base = api
    first = call(base, "POST", "/v1/accounts", {**OPENING}, key="crm-open-1")
    again = call(base, "POST", "/v1/accounts", {**OPENING}, key="crm-open-1")
    assert first[0] == again[0] == 202 and again[1] == {**first[1], "replayed": True}
    assert call(base, "POST", "/v1/accounts", {**OPENING, "plan": "pro"}, key="crm-open-1")[0] == 409
    paid = call(base, "POST", "/v1/accounts/acct-000001/payments", {"amount": "25.00", "currency": "USD",
                                                                 "received_at": "2026-09-30T12:00:00Z"},
                key="crm-pay-1")
    assert paid[0] == 202
    credit = {"amount": "-1.50", "currency": "USD", "category": "goodwill", "reason": "outage, 3 Oct",
              "occurred_at": "2026-10-05T00:00:00Z"}
    assert call(base, "POST", "/v1/accounts/acct-000001/adjustments", credit, key="crm-adj-1")[0] == 202
    assert call(base, "POST", "/v1/accounts/acct-000001/adjustments", {**credit, "category": "bonus"},
                key="crm-adj-2")[0] == 422
    for n, action in enumerate(("hold", "release")):
        status, body, _ = call(base, "POST", "/v1/accounts/acct-000001/status", {"action": action, "case_ref": "c-9"},
                               key=f"crm-status-{n}")
        assert status == 202, body
    assert call(base, "POST", "/v1/accounts/acct-000001/status", {"action": "hold"}, key="crm-status-9")[0] == 422

    assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "worker.log") == 0
    # R29: a malfunction on 3 October, when the account held the 25.00 paid on 30 September.
    compensation = {"amount": "25.01", "currency": "USD", "malfunction_at": "2026-10-03T00:00:00Z",
                    "reason": "number unreachable 6 h, ticket 88", "occurred_at": "2026-10-05T00:00:00Z"}
    status, refused, _ = call(base, "POST", "/v1/accounts/acct-000001/compensations", compensation, key="crm-comp-1")
    assert (status, refused["type"]) == (422, "https://voiceledger.dev/problems/compensation-exceeds-balance"), refused
    assert "the 25000000 the account held" in refused["detail"]
    assert call(base, "POST", "/v1/accounts/acct-000001/compensations", {**compensation, "amount": "10.00"},
                scope="portal:acct-000001", key="crm-comp-2")[0] == 403
    assert call(base, "POST", "/v1/accounts/acct-000001/compensations", {**compensation, "amount": "10.00"},
                key="crm-comp-2")[0] == 202
    status, again, _ = call(base, "POST", "/v1/accounts/acct-000001/compensations", {**compensation, "amount": "10.00"},
                            key="crm-comp-2")  # a retry: the first answer, one credit
    assert status == 202 and again["replayed"] is True
    assert call(base, "POST", "/v1/accounts/acct-000001/compensations", {**compensation, "amount": "9.00"},
                key="crm-comp-2")[0] == 409, "the same key for other values"
    # R10: the account is folded now, and prepaid: a credit limit is refused here, not dead-lettered later.
    status, refused, _ = call(base, "POST", "/v1/accounts/acct-000001/credit-limit",
                              {"limit": "50.00", "currency": "USD"}, key="crm-limit-1")
    assert (status, refused["type"]) == (422, "https://voiceledger.dev/problems/not-postpaid"), refused
    cli = subprocess.run([sys.executable, "-m", "streams.cli", "account", "credit-limit", "acct-000001", "--limit",
                          "50.00", "--currency", "USD"], env=worker_env(settings), capture_output=True, text=True,
                         timeout=120)
    assert cli.returncode == 2 and "not_postpaid: account acct-000001 is prepaid" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr, "the CLI refuses it as the API does, in one line"
    ingest = subprocess.run([sys.executable, "-m", "streams.cli", "ingest", "--format", "asterisk-csv", "--carrier",
                             "carrier-a", str(SAMPLES / "asterisk-no-accountcode-Master.csv")],
                            env=worker_env(settings), capture_output=True, text=True, timeout=120)
    assert "1 produced" in ingest.stdout, ingest.stdout + ingest.stderr
    events, offsets = log_events(settings)
    assert [type(e).__name__ for e in events].count("AccountOpened") == 1, "one key, one event"
    assert run_worker_to_end(settings, offsets, tmp_path / "worker.log") == 0
    expected = oracle(settings, events)["acct-000001"]
    status, balance, _ = call(base, "GET", "/v1/accounts/acct-000001/balance", scope="portal:acct-000001")
    assert status == 200 and balance["balance_micros"] == expected.balance_micros
    assert expected.calls_charged == 1 and expected.paid_micros == 25_000_000
    assert sorted(e.category for e in events if type(e).__name__ == "AdjustmentPosted") == ["compensation", "goodwill"]
    # R33: the call records behind the charge, read by the customer's portal token, a page at a time.
    status, page, _ = call(base, "GET", "/v1/accounts/acct-000001/calls?limit=1", scope="portal:acct-000001")
    assert status == 200 and page["next_offset"] is None and len(page["calls"]) == 1
    (record,) = page["calls"]
    assert (record["call_key"], record["caller"], record["charge_micros"]) == (
        "carrier-a/1790874000.20", "+15550000001", expected.charged_micros + 1_500_000 + 10_000_000)
    assert call(base, "GET", "/v1/accounts/acct-000002/calls", scope="portal:acct-000001")[0] == 403


def test_R19_R20_R33_four_months_through_the_api_statements_invoices_and_disputes_equal_the_pure_fold(api, tmp_path):
    """The end-to-end test of issue 19: opened and topped up through the API, calls ingested,
    months closed; every statement of R20's four months, the balance and the call records read
    back through the API equal a pure fold of the same events."""
    settings, base = api
    lived = four_months(settings, base, tmp_path)
    events, _ = log_events(settings)
    expected = oracle(settings, events)[ACCOUNT]
    status, balance, _ = call(base, "GET", f"/v1/accounts/{ACCOUNT}/balance", scope="portal:acct-000001")
    assert status == 200 and balance["balance_micros"] == expected.balance_micros
    status, account, _ = call(base, "GET", f"/v1/accounts/{ACCOUNT}", scope="finance")
    assert (status, account["balance_micros"], account["calls_charged"], account["status"]) == (
        200, expected.balance_micros, 4, expected.lifecycle.status.value)
    usage = _statements_equal_the_fold(settings, base, lived, events, expected)
    _calls_behind_the_charges(base, usage, lived.months)
    old, dispute_id = _invoices_and_a_dispute(base, lived, expected)
    _refund_and_rerate_each_once(settings, base, tmp_path, lived, expected)
    _a_customer_in_their_own_language(settings, base, tmp_path, old, dispute_id)
    _export_then_erasure(base, old, usage)


def _statements_equal_the_fold(settings, base: str, lived, events: list, expected) -> int:  # noqa: ANN001
    """R20: each of the four months' statements equals the pure fold up to its end, each opening where
    the one before closed; the usage they show (negative micro-units)."""
    opening = usage = 0
    for month in reversed(lived.months):  # oldest first: each opens where the one before closed
        status, shown, _ = call(base, "GET", f"/v1/accounts/{ACCOUNT}/statements/{month}", scope="portal:acct-000001")
        assert status == 200, shown
        end_ms = period_start_ms(next_period(month), "UTC")
        at_end = oracle(settings, [e for e in events if posted_at_ms(e) < end_ms])[ACCOUNT]
        assert (shown["opening_balance_micros"], shown["closing_balance_micros"]) == (opening, at_end.balance_micros)
        assert shown["closing_balance_micros"] == opening + shown["payments_micros"] - shown["charges_micros"]
        assert shown["available_months"] == lived.months
        opening = shown["closing_balance_micros"]
        usage += sum(m["amount_micros"] for m in shown["movements"] if m["kind"] == "usage")
    assert opening == expected.balance_micros
    status, refused, _ = call(base, "GET", f"/v1/accounts/{ACCOUNT}/statements/{previous_period(lived.months[3])}")
    assert (status, refused["type"]) == (422, "https://voiceledger.dev/problems/statement-unavailable")
    assert "(R20)" in refused["detail"]

    return usage


def _calls_behind_the_charges(base: str, usage: int, months: list[str]) -> None:
    """R33: the account's calls, paged, add up to the statements' usage; so do its months' calls,
    each month's page, totals and CSV file agreeing."""
    status, page, _ = call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls?limit=3", scope="portal:acct-000001")
    assert status == 200 and len(page["calls"]) == 3 and page["next_offset"] == 3 and page["month"] is None
    rest = call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls?offset=3", scope="portal:acct-000001")[1]
    assert len(rest["calls"]) == 1 and rest["next_offset"] is None
    assert sum(c["charge_micros"] for c in page["calls"] + rest["calls"]) == -usage > 0, "the calls behind the charges"
    totals = [_a_months_calls(base, month) for month in months]
    assert [sum(t) for t in zip(*totals)] == [4, -usage], "every call in one month, once"
    assert call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls.csv?month=2026-13")[0] == 422
    assert call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls?month=0000-01")[0] == 422, "a month a calendar names"
    assert call(base, "GET", f"/v1/accounts/acct-000002/calls.csv?month={months[0]}", scope="portal:acct-000001")[0] \
        == 403


def _a_months_calls(base: str, month: str) -> tuple[int, int]:
    """A month's page, its totals and its CSV file agree; (calls, charges)."""
    import csv
    import io

    status, shown, _ = call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls?month={month}&limit=1",
                            scope="portal:acct-000001")
    assert status == 200 and shown["month"] == month and len(shown["calls"]) == min(1, shown["month_calls"])
    status, got, kind = call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls.csv?month={month}", scope="portal:acct-000001")
    assert status == 200 and kind == "text/csv; charset=utf-8", (status, got)
    rows = list(csv.DictReader(io.StringIO(got["raw"].decode())))
    assert len(rows) == shown["month_calls"]
    assert sum(int(r["charge_micros"]) for r in rows) == shown["month_charge_micros"]
    assert all(r["start"][:7] == month and r["start"][19] in "+-" for r in rows), "in the account's zone, its offset"
    assert all(int(r["charge_micros"]) == round(Decimal(r["charge"]) * 1_000_000) for r in rows)
    return shown["month_calls"], shown["month_charge_micros"]


def _invoices_and_a_dispute(base: str, lived, expected) -> tuple[dict, str]:  # noqa: ANN001
    """The invoices paid by the top-up (R11), a legal invoice's parties and due date, a dispute
    refused as too late and one opened; the old invoice and the open dispute's event id."""
    status, listed, _ = call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices", scope="portal:acct-000001")
    by_issue = {i["issued_at"]: i for i in listed["invoices"]}
    old = next(i for i in listed["invoices"] if i["issued_at"] == iso(lived.old_invoice_close_ms))
    fresh = next(i for i in listed["invoices"] if i["issued_at"] == iso(lived.fresh_close_ms) and i["total_micros"] > 0)
    assert old["legal_number"], "every partition has passed a later tick: the old invoice has its legal number"
    assert len(by_issue) >= 2
    # R11: the top-up received an hour after the opening paid every invoice since, first due first.
    top_up_at = iso(period_start_ms(lived.months[3], "UTC") + 86_400_000 + 3_600_000)
    assert expected.balance_micros > 0 and all(
        (i["status"], i["paid_micros"], i["outstanding_micros"], i["paid_at"]) == ("paid", i["total_micros"], 0,
                                                                                    top_up_at)
        for i in listed["invoices"] if i["total_micros"] >= 0), listed["invoices"]
    status, pdf, kind = call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices/{old['legal_number']}/pdf",
                             scope="portal:acct-000001")
    assert (status, kind, pdf["raw"][:5]) == (200, "application/pdf", b"%PDF-")
    # What a legal invoice states: who is invoiced (sealed on the log, opened here), when it is due.
    status, document, _ = call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices/{old['legal_number']}")
    assert (status, document["customer_name"], document["billing_address"]) == (
        200, "Zoë Łódź", "350 Fifth Avenue\nNew York, NY 10118")
    assert document["due_at"] > document["issued_at"] and document["lines"]
    dispute = {"invoice_number": old["legal_number"], "amount": "0.01", "currency": "USD", "reason": "wrong rate"}
    status, refused, _ = call(base, "POST", f"/v1/accounts/{ACCOUNT}/disputes", dispute, scope="portal:acct-000001",
                              key="d-1")
    assert (status, refused["type"]) == (422, "https://voiceledger.dev/problems/dispute-too-late")
    status, opened, _ = call(base, "POST", f"/v1/accounts/{ACCOUNT}/disputes",
                             {**dispute, "invoice_number": fresh["reference"]}, scope="portal:acct-000001", key="d-2")
    assert status == 202, opened
    return old, opened["event_id"]


def _refund_and_rerate_each_once(settings, base: str, tmp_path: Path, lived, expected) -> None:  # noqa: ANN001
    """R8's refused refund is a dead letter with its reason, R6's re-rating is posted once."""
    # R8: the whole top-up back, after the calls it paid for: the worker refuses it, naming why.
    too_much = {"amount": "50.00", "currency": "USD", "reason": "customer asked for the top-up back"}
    assert call(base, "POST", f"/v1/accounts/{ACCOUNT}/refunds", too_much, key="refund-1")[0] == 202
    rerated = rerate_at_a_business_card(settings, tmp_path, lived.months[2])
    assert rerated["calls"] == 1 and rerated["difference_micros"] > 0 and rerated["adjustment_event"], rerated
    assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "worker.log") == 0
    assert call(base, "GET", f"/v1/accounts/{ACCOUNT}", scope="finance")[1]["open_disputes"] == 1
    _the_open_dispute_is_in_the_queue(settings, base)
    after_all = oracle(settings, log_events(settings)[0])[ACCOUNT]
    assert call(base, "GET", f"/v1/accounts/{ACCOUNT}/balance")[1]["balance_micros"] == after_all.balance_micros \
        == expected.balance_micros - rerated["difference_micros"], "R6: the difference posted once"
    status, letters, _ = call(base, "GET", f"/v1/accounts/{ACCOUNT}/dead-letters")
    assert status == 200 and [x["reason_code"] for x in letters] == ["refund_exceeds_balance"], \
        "nothing else the API sent was refused by the worker"
    assert "(R8)" in letters[0]["reason"]


def _the_open_dispute_is_in_the_queue(settings, base: str) -> None:  # noqa: ANN001 - Settings
    """R19: the dispute the customer opened waits in the operators' queue with their reason and the
    invoice's legal number, on the API as on the command line; the customer reads theirs, and no
    other's."""
    status, queue, _ = call(base, "GET", "/v1/disputes", scope="finance")
    assert status == 200 and len(queue) == 1, queue
    (waiting,) = queue
    assert (waiting["account_id"], waiting["status"], waiting["reason"], waiting["amount_micros"]) == (
        ACCOUNT, "open", "wrong rate", 10_000) and waiting["resolved_at"] is None
    logged = [e.reason for e in log_events(settings)[0] if type(e).__name__ == "DisputeOpened"]
    assert logged and all(r.startswith("vlseal1:") for r in logged), "R32: the customer's words are sealed on the log"
    invoice = call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices/{waiting['invoice_reference']}")[1]
    assert waiting["invoice_number"] == (invoice["legal_number"] or ""), "its legal number once it has one"
    assert call(base, "GET", f"/v1/accounts/{ACCOUNT}/disputes", scope="portal:acct-000001")[1] == queue
    assert call(base, "GET", "/v1/disputes", scope="portal:acct-000001")[0] == 403, "the queue is the operators'"
    listed = subprocess.run([sys.executable, "-m", "streams.cli", "dispute", "list", "--json"],
                            env=worker_env(settings), capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and json.loads(listed.stdout) == queue, listed.stdout + listed.stderr
    mine = subprocess.run([sys.executable, "-m", "streams.cli", "dispute", "list", "--account", ACCOUNT],
                          env=worker_env(settings), capture_output=True, text=True, timeout=60)
    assert mine.returncode == 0 and mine.stdout.endswith(f"1 dispute(s) of {ACCOUNT}\n"), mine.stdout + mine.stderr
    assert "'wrong rate'" in mine.stdout and queue[0]["dispute_id"] in mine.stdout


def _export_then_erasure(base: str, old: dict, usage: int) -> None:
    # R32: the customer's export, then their erasure: numbers gone, amounts kept.
    status, export, _ = call(base, "POST", f"/v1/accounts/{ACCOUNT}/exports", scope="portal:acct-000001")
    assert status == 200 and len(export["calls"]) == 4 and export["calls"][0]["caller"] == "+15550000001"
    assert [(d["fact"], d["reason"]) for d in export["disputes"]] == [("opened", "wrong rate"), ("resolved", "")]
    assert call(base, "POST", f"/v1/accounts/{ACCOUNT}/erasure", scope="portal:acct-000001", key="gdpr-1")[0] == 403
    status, erased, _ = call(base, "POST", f"/v1/accounts/{ACCOUNT}/erasure", key="gdpr-1")
    assert status == 200 and erased["subscriber_key_deleted"] and erased["call_log_rows_anonymised"] == 4, erased
    erased_invoice = call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices/{old['legal_number']}")[1]
    assert (erased_invoice["customer_name"], erased_invoice["total_micros"]) == ("(erased)", old["total_micros"])
    after = call(base, "GET", f"/v1/accounts/{ACCOUNT}/calls", scope="portal:acct-000001")[1]["calls"]
    assert {c["caller"] for c in after} == {""} and sum(c["charge_micros"] for c in after) == -usage
    # R32: the customer's words in their dispute are gone too (sealed on the log, emptied here); the credit stays.
    (decided,) = call(base, "GET", f"/v1/accounts/{ACCOUNT}/disputes")[1]
    assert (decided["reason"], decided["status"], decided["credit_micros"]) == ("", "CUSTOMER_FAVOUR", 10_000)


def _a_customer_in_their_own_language(settings, base: str, tmp_path: Path, old: dict, dispute_id: str) -> None:
    """A Dutch-speaking customer of an English deployment (AccountDetailsChanged v2): the
    account and its portal say so at once; the invoices issued before keep their language and
    the credit note issued after is worded in Dutch (R13: each invoice as it was issued)."""
    import http.cookiejar
    import urllib.request

    block = {"customer_name": "Zoë Łódź", "billing_address": "350 Fifth Avenue\nNew York, NY 10118"}
    status, refused, _ = call(base, "POST", f"/v1/accounts/{ACCOUNT}/details", {**block, "locale": "Dutch"},
                              key="lang-0")
    assert status == 422 and "locale: 'Dutch' is not a language" in refused["detail"], refused
    assert call(base, "POST", f"/v1/accounts/{ACCOUNT}/language", {"locale": "de_CH"}, key="lang-2",
                scope="finance")[0] == 403, "finance reads, it does not command"
    assert call(base, "POST", f"/v1/accounts/{ACCOUNT}/language", {"locale": "xx_YY"}, key="lang-3")[0] == 422
    assert call(base, "POST", f"/v1/accounts/{ACCOUNT}/language", {"locale": "de_CH"}, key="lang-4",
                scope="portal:acct-000001")[0] == 202, "the customer's own portal: the language alone"
    assert call(base, "POST", f"/v1/accounts/{ACCOUNT}/details", {**block, "locale": "nl_BE"}, key="lang-1")[0] == 202
    resolution = {"outcome": "CUSTOMER_FAVOUR", "credit": "0.01", "currency": "USD"}
    assert call(base, "POST", f"/v1/accounts/{ACCOUNT}/disputes/{dispute_id}/resolution", resolution,
                key="resolve-1")[0] == 202
    assert run_worker_to_end(settings, log_events(settings)[1], tmp_path / "worker.log") == 0
    assert call(base, "GET", f"/v1/accounts/{ACCOUNT}", scope="finance")[1]["locale"] == "nl_BE"
    (decided,) = call(base, "GET", f"/v1/accounts/{ACCOUNT}/disputes", scope="portal:acct-000001")[1]
    assert (decided["dispute_id"], decided["status"], decided["credit_micros"]) == (dispute_id, "CUSTOMER_FAVOUR",
                                                                                    10_000)
    assert decided["resolved_at"] and call(base, "GET", "/v1/disputes")[1] == [], "answered: out of the queue"
    listed = call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices")[1]["invoices"]
    (note,) = [i for i in listed if i["kind"] == "CREDIT_NOTE"]
    assert call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices/{note['reference']}")[1]["locale"] == "nl_BE"
    kept = call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices/{old['legal_number']}")[1]
    assert kept["locale"] == "en", "issued before the change: in the deployment's language, as it was issued"
    link = subprocess.run([sys.executable, "-m", "streams.cli", "portal", "link", ACCOUNT], env=worker_env(settings),
                          capture_output=True, text=True, timeout=60)
    assert link.returncode == 0, link.stderr
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(json.loads(link.stdout)["url"], timeout=60) as home:
        assert home.headers["Content-Language"] == "nl" and "<h1>Uw account</h1>" in home.read().decode()
    with browser.open(f"{base}/portal/invoices/{note['reference']}", timeout=60) as shown:
        page = shown.read().decode()
        assert shown.headers["Content-Language"] == "nl" and "Creditnota" in page and "Credit note" not in page
    with browser.open(f"{base}/portal/invoices/{old['legal_number']}", timeout=60) as shown:
        assert shown.headers["Content-Language"] == "en" and "Invoice" in shown.read().decode()


def rerate_at_a_business_card(settings, tmp_path: Path, month: str) -> dict:
    """R6 through the CLI: the month's calls re-rated at a business card three times the
    standard prices, the difference posted (twice: the second is the same adjustment, not sent)."""
    standard = (Path(__file__).resolve().parents[2] / "streams" / "data" / "standard-usd.csv").read_text().splitlines()
    deck = tmp_path / "business-usd.csv"
    deck.write_text("\n".join([standard[0]] + [",".join([f[0], f[1], f"{Decimal(f[2]) * 3:.6f}", *f[3:]])
                                                for f in (row.split(",") for row in standard[1:])]) + "\n")
    business = replace(settings, rate_cards=(*settings.rate_cards, f"{deck}|USD|2020-01-01"),
                       plan_cards=("business:business-usd",))
    runs = [subprocess.run([sys.executable, "-m", "streams.cli", "rerate", ACCOUNT, "--period", month, "--plan",
                            "business", "--post", "--json"], env=worker_env(business), capture_output=True, text=True,
                           timeout=120) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr + runs[1].stderr
    first, again = (json.loads(r.stdout) for r in runs)
    assert first == again
    return first


def posted_at_ms(event) -> int:  # noqa: ANN001 - an account event
    """When the journal posts it: a payment at its receipt, a call at its start (R11, R13)."""
    for name in ("received_at_ms", "start_at_ms", "occurred_at_ms"):
        if hasattr(event, name):
            return getattr(event, name)
    raise AssertionError(event)


SCHEMATHESIS_CHECKS = ("not_a_server_error,response_schema_conformance,status_code_conformance,"
                       "content_type_conformance")


def schemathesis(base: str, config: Path | None = None) -> subprocess.CompletedProcess:
    options = ["--config-file", str(config)] if config else []
    return subprocess.run([sys.executable, "-m", "schemathesis.cli", *options, "run", base + "/v1/openapi.json",
                           "--checks", SCHEMATHESIS_CHECKS, "--max-examples", "25",
                           "-H", f"Authorization: Bearer {TOKENS['operator']}", "-H", "Idempotency-Key: st-1"],
                          capture_output=True, text=True, timeout=600)


def test_the_served_openapi_document_holds_under_generated_requests(settings, tmp_path):
    """schemathesis against the running API, beside a running worker that answers its
    authorizations, on an account with four months of history: no 5xx, every response as its
    schema says. Twice: with generated account ids, then with the account's own id, invoice
    and month, so that the reads and the commands reach their logic rather than a 404."""
    worker_port = free_port()
    settings = replace(settings, authorization_port=worker_port)
    with api_process(settings, tmp_path, worker_url=f"http://127.0.0.1:{worker_port}") as (settings, base):
        lived = four_months(settings, base, tmp_path)
        worker = start_worker_caught_up(settings, log_events(settings)[1], tmp_path / "worker-2.log")
        try:
            status, answer, _ = call(base, "POST", f"/v1/accounts/{ACCOUNT}/authorizations",
                                     {"callee": "+12125550100", "call": "carrier-a/auth-1"}, scope="switch")
            assert status == 200 and answer["allowed"] and answer["held_micros"] > 0, answer
            held = call(base, "GET", f"/v1/accounts/{ACCOUNT}/balance", scope="finance")[1]
            assert held["held_micros"] == answer["held_micros"], held
            assert held["available_micros"] == held["balance_micros"] - held["held_micros"]
            invoice = call(base, "GET", f"/v1/accounts/{ACCOUNT}/invoices")[1]["invoices"][0]["reference"]
            config = tmp_path / "schemathesis.toml"
            config.write_text(f'[parameters]\n"path.account_id" = "{ACCOUNT}"\n"path.number" = "{invoice}"\n'
                              f'"path.month" = "{lived.months[1]}"\n')
            for run in (schemathesis(base), schemathesis(base, config)):
                assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
        finally:
            stop_worker(worker)
