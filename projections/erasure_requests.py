"""Subscribers' erasure requests and their answers, folded into a queue (R32).

Where a provider reviews erasures before they run (setting ``portal_erasure = reviewed``), a
customer's "erase my data" is a request, not an erasure: an operator checks it (an open dispute,
a debt being collected, a fraud case may make the law keep the customer's details for now) and
answers it, erased or declined with a reason the customer is told. R32 gives 30 days for the
answer. The requests and answers are records on one topic (``streams/ledger/erasure_queue.py``
writes and reads them); this folds them, in log order, into each request's status. Pure: the
time an answer is late is measured from the moment the caller gives.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

DUE_DAYS = 30  # R32: "requests are answered within 30 days"
DAY_MS = 86_400_000
ERASED, DECLINED = "ERASED", "DECLINED"
REASON_MAX = 500  # what the customer is told, on one page


@dataclass(frozen=True)
class Request:
    request_id: str
    account_id: str
    requested_at_ms: int
    via: str
    reference: str

    @property
    def due_at_ms(self) -> int:
        return self.requested_at_ms + DUE_DAYS * DAY_MS


@dataclass(frozen=True)
class Answer:
    request_id: str
    account_id: str
    answered_at_ms: int
    outcome: str  # ERASED or DECLINED
    reason: str
    answered_by: str


@dataclass(frozen=True)
class Status:
    """A request and its answer (None while it waits)."""

    request: Request
    answer: Answer | None = None

    @property
    def is_open(self) -> bool:
        return self.answer is None

    def overdue(self, now_ms: int) -> bool:
        """Still unanswered at its due moment or after (R32)."""
        return self.answer is None and now_ms >= self.request.due_at_ms

    def answered_late(self) -> bool:
        return self.answer is not None and self.answer.answered_at_ms > self.request.due_at_ms


def request_id_of(account_id: str, reference: str) -> str:
    """The same account and reference give the same id: a form sent twice is one request."""
    return "er-" + hashlib.sha256(f"{account_id}\x1f{reference}".encode()).hexdigest()[:16]


def queue_of(records: Iterable[tuple[str, dict]]) -> dict[str, Status]:
    """Every request by id, in the order first asked, from ("request" | "answer", record) in log
    order. A request asked again keeps its first record; the first answer to a request is its
    answer (two operators answering at once: the one logged first counts, and the erasure is
    idempotent); an answer to a request never asked is left out (the caller counts it)."""
    queue: dict[str, Status] = {}
    for kind, r in records:
        if kind == "request":
            if r["request_id"] not in queue:
                queue[r["request_id"]] = Status(Request(r["request_id"], r["account_id"], r["requested_at_ms"],
                                                        r["via"], r["reference"]))
            continue
        status = queue.get(r["request_id"])
        if status is not None and status.answer is None and status.request.account_id == r["account_id"]:
            queue[r["request_id"]] = Status(status.request, Answer(
                r["request_id"], r["account_id"], r["answered_at_ms"], r["outcome"], r["reason"], r["answered_by"]))
    return queue


def stray_answers(records: Iterable[tuple[str, dict]]) -> int:
    """Answers that ``queue_of`` leaves out because no request of theirs came before them."""
    asked: dict[str, str] = {}
    stray = 0
    for kind, r in records:
        if kind == "request":
            asked.setdefault(r["request_id"], r["account_id"])
        elif asked.get(r["request_id"]) != r["account_id"]:
            stray += 1
    return stray


def open_requests(queue: dict[str, Status]) -> list[Status]:
    """The unanswered requests, the one due first first."""
    return sorted((s for s in queue.values() if s.is_open), key=lambda s: (s.request.due_at_ms, s.request.request_id))


def of_account(queue: dict[str, Status], account_id: str) -> list[Status]:
    """An account's requests, newest first."""
    return sorted((s for s in queue.values() if s.request.account_id == account_id),
                  key=lambda s: -s.request.requested_at_ms)


def reason_problem(outcome: str, reason: str) -> str | None:
    """Why an answer cannot be given as it is, or None. A decline must say why, in at most
    ``REASON_MAX`` printable characters: the customer reads it, and R32 allows a refusal only
    for a reason (a legal hold)."""
    if outcome not in (ERASED, DECLINED):
        return f"outcome must be {ERASED} or {DECLINED}"
    if outcome == DECLINED and not reason.strip():
        return "a declined request needs a reason: the customer is told it"
    if len(reason) > REASON_MAX or not reason.isprintable():
        return f"the reason must be at most {REASON_MAX} printable characters on one line"
    return None
