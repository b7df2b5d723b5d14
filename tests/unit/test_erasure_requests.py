"""R32: subscribers' erasure requests, folded into a queue an operator answers within 30 days
(``projections/erasure_requests.py``), and the counts the alert rules read
(``streams/ledger/erasure_queue.write_request_metrics``)."""

from __future__ import annotations

import pytest

from projections.erasure_requests import (
    DAY_MS, DECLINED, ERASED, REASON_MAX, open_requests, of_account, queue_of, reason_problem, request_id_of,
    stray_answers,
)
from streams.ledger.erasure_queue import write_request_metrics

T = 1_790_000_000_000


def asked(account: str, ref: str, at_ms: int = T) -> tuple[str, dict]:
    return "request", {"request_id": request_id_of(account, ref), "account_id": account, "requested_at_ms": at_ms,
                       "via": "portal", "reference": ref}


def answered(request: tuple[str, dict], outcome: str, at_ms: int, reason: str = "", by: str = "operator"):
    r = request[1]
    return "answer", {"request_id": r["request_id"], "account_id": r["account_id"], "answered_at_ms": at_ms,
                      "outcome": outcome, "reason": reason, "answered_by": by}


def test_R32_a_request_is_due_30_days_after_it_was_asked_and_overdue_from_that_millisecond_on():
    status = queue_of([asked("acct-1", "form-1")])[request_id_of("acct-1", "form-1")]
    assert status.request.due_at_ms == T + 30 * DAY_MS
    assert not status.overdue(T + 30 * DAY_MS - 1)
    assert status.overdue(T + 30 * DAY_MS)
    late = answered(asked("acct-1", "form-1"), ERASED, T + 30 * DAY_MS + 1)
    done = queue_of([asked("acct-1", "form-1"), late])[request_id_of("acct-1", "form-1")]
    assert not done.overdue(T + 99 * DAY_MS), "an answered request is never overdue"
    assert done.answered_late() and not queue_of([asked("acct-1", "form-1"), answered(
        asked("acct-1", "form-1"), ERASED, T + 30 * DAY_MS)])[request_id_of("acct-1", "form-1")].answered_late()


def test_R32_the_same_form_sent_twice_is_one_request_and_its_first_record_counts():
    first, again = asked("acct-1", "form-1"), asked("acct-1", "form-1", T + 5_000)
    queue = queue_of([first, again])
    assert list(queue) == [request_id_of("acct-1", "form-1")]
    assert queue[request_id_of("acct-1", "form-1")].request.requested_at_ms == T
    assert request_id_of("acct-1", "form-2") != request_id_of("acct-1", "form-1") != request_id_of("acct-2", "form-1")


def test_R32_the_first_answer_logged_is_the_answer_and_stray_answers_are_left_out():
    request = asked("acct-1", "form-1")
    declined = answered(request, DECLINED, T + DAY_MS, "an open dispute", by="alice")
    erased = answered(request, ERASED, T + 2 * DAY_MS, by="bob")
    assert queue_of([request, declined, erased])[request[1]["request_id"]].answer.answered_by == "alice"
    before = answered(asked("acct-9", "x"), ERASED, T)  # an answer logged before any request of its own
    forged = ("answer", {**erased[1], "account_id": "acct-2"})  # names the request with another account
    records = [before, request, forged]
    assert queue_of(records)[request[1]["request_id"]].is_open
    assert stray_answers(records) == 2 and stray_answers([request, declined]) == 0


def test_R32_open_requests_come_due_first_first_and_an_account_lists_its_own_newest_first():
    old, new, other = asked("acct-1", "a", T), asked("acct-1", "b", T + DAY_MS), asked("acct-2", "c", T - DAY_MS)
    queue = queue_of([new, old, other, answered(old, DECLINED, T + 2 * DAY_MS, "a debt being collected")])
    assert [s.request.reference for s in open_requests(queue)] == ["c", "b"]
    assert [s.request.reference for s in of_account(queue, "acct-1")] == ["b", "a"]


@pytest.mark.parametrize("outcome, reason, wrong", [
    (ERASED, "", None),
    (DECLINED, "an open dispute (case 77)", None),
    (DECLINED, "   ", "needs a reason"),
    (DECLINED, "x" * (REASON_MAX + 1), "at most 500"),
    (DECLINED, "two\nlines", "printable"),
    ("MAYBE", "", "ERASED or DECLINED"),
])
def test_R32_a_decline_says_why_in_one_bounded_line(outcome, reason, wrong):
    found = reason_problem(outcome, reason)
    assert (found is None) if wrong is None else (wrong in found)


def test_R32_the_metrics_count_open_due_within_a_week_and_overdue(tmp_path):
    now = T + 30 * DAY_MS
    records = [asked("a", "overdue", T), asked("b", "in 7 days", now - 23 * DAY_MS),
               asked("c", "in 8 days", now - 22 * DAY_MS), asked("d", "answered", T)]
    records.append(answered(records[3], ERASED, T + DAY_MS))
    path = tmp_path / "erasure.prom"
    write_request_metrics(path, queue_of(records), now)
    values = dict(line.split() for line in path.read_text().splitlines() if not line.startswith("#"))
    assert values == {"voiceledger_erasure_requests_open": "3", "voiceledger_erasure_requests_due_soon": "1",
                      "voiceledger_erasure_requests_overdue": "1",
                      "voiceledger_erasure_requests_last_run_timestamp_seconds": str(now // 1000)}
    assert not list(tmp_path.glob("*.tmp")), "written whole, then renamed"


def test_R32_requests_from_a_broker_that_is_not_there_are_a_503_and_a_portal_page_that_says_so():
    import asyncio
    from dataclasses import replace
    from types import SimpleNamespace

    from streams.api.erasure_routes import queue_of
    from streams.api.portal import _requests_of
    from streams.api.problems import Problem
    from streams.config.settings import Settings

    ctx = SimpleNamespace(settings=replace(Settings(), broker="127.0.0.1:1", portal_erasure="reviewed"))
    with pytest.raises(Problem) as refused:
        asyncio.run(queue_of(ctx))
    assert (refused.value.status, refused.value.kind) == (503, "log-unavailable")
    assert asyncio.run(_requests_of(ctx, "acct-1")) is None, "the page still opens, and says it cannot show them"
