"""The erasure requests an operator reviews (R32, ``portal_erasure = reviewed``): asked, read, answered.

``projections/erasure_requests.py`` folds the records; this keeps them on ``erasure_requests_topic``
(one partition, kept for ever: the record that each request was answered, and when) and runs the
answer. An answer "erased" runs the erasure itself (``privacy.erase_subscriber``) and only then
logs the answer, so a failure half-way leaves the request open, and answering it again finishes
the erasure (which is idempotent). A record on the topic that is not a request or an answer is
left out, logged and counted: it must not hide every other request from the operators.

Time is the wall clock: this is the edge where a request enters the log, as ``log_erasure`` is.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from projections.erasure_requests import (
    DAY_MS, DECLINED, ERASED, Answer, Request, Status, of_account, queue_of, reason_problem, request_id_of, stray_answers,
)
from schemas.codec import DecodeError
from streams.config.settings import Settings
from streams.edge.commands import ACCOUNT_ID
from streams.kafka.codec import codec_for
from streams.kafka.producer import new_producer
from streams.kafka.reader import read_topic
from streams.kafka.security import client_kwargs
from streams.kafka.topics import ensure_topics
from streams.ledger.privacy import Erasure, erase_subscriber
from streams.observe import metrics

log = logging.getLogger("voiceledger.erasure")

READ_TIMEOUT_S = 30.0
REFERENCE_MAX = 200  # the API's Idempotency-Key is the request's reference
VIA = ("portal", "api", "cli")


class RequestRefused(ValueError):
    """A request or an answer that cannot be taken as it is: one line, for a 404, 409 or 422."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind  # unknown-request, already-answered, invalid-answer, invalid-request


@dataclass(frozen=True)
class Answered:
    status: Status
    erasure: Erasure | None  # what the erasure did, for an answer "erased"


async def read_queue(settings: Settings) -> dict[str, Status]:
    """Every request and its answer, as logged so far."""
    codec = codec_for(settings)
    records = await read_topic(settings.broker, settings.erasure_requests_topic, timeout_s=READ_TIMEOUT_S,
                               idle_s=0.3, security=client_kwargs(settings))
    found = []
    for r in records:
        try:
            found.append(codec.decode_erasure_record(r.value or b""))
        except DecodeError as exc:
            _left_out(settings, r.offset, exc.code, str(exc))
    stray = stray_answers(found)
    if stray:
        _left_out(settings, -1, "answer_without_request", f"{stray} answer(s) name no request logged before them")
    return queue_of(found)


def queue(settings: Settings) -> dict[str, Status]:
    return asyncio.run(read_queue(settings))


def _left_out(settings: Settings, offset: int, code: str, text: str) -> None:
    log.error("erasure requests: offset %d left out (%s): %s", offset, code, text)
    metrics.EVENTS_REJECTED.labels(topic=settings.erasure_requests_topic, reason=code).inc()


def ask(settings: Settings, account_id: str, via: str, reference: str,
        now_ms: int | None = None) -> tuple[Status, bool]:
    """Log a request to erase ``account_id``'s personal data; returns it and whether it is new.
    The account's request still open is returned instead of a second one (a customer who asks
    twice has one request, due when the first was)."""
    if via not in VIA or not reference or len(reference) > REFERENCE_MAX or not reference.isprintable():
        raise RequestRefused("invalid-request", f"a request comes via {', '.join(VIA)}, with a reference of 1-"
                                                f"{REFERENCE_MAX} printable characters")
    if not re.fullmatch(ACCOUNT_ID, account_id):
        raise RequestRefused("invalid-request", f"not an account id: {account_id[:40]!r}")
    return asyncio.run(_ask(settings, account_id, via, reference, _now(now_ms)))


async def _ask(settings: Settings, account_id: str, via: str, reference: str, now_ms: int) -> tuple[Status, bool]:
    mine = of_account(await read_queue(settings), account_id)
    waiting = [s for s in mine if s.is_open]
    if waiting:
        return waiting[0], False
    record = {"request_id": request_id_of(account_id, reference), "account_id": account_id,
              "requested_at_ms": now_ms, "via": via, "reference": reference}
    await _send(settings, account_id, codec_for(settings).encode_erasure_request(record))
    # Read back: the first record of this id counts (the same form sent twice at once). A reader
    # that has not seen it yet (a broker's end offset behind) gets the record as it was sent.
    logged = (await read_queue(settings)).get(record["request_id"])
    return logged or Status(Request(record["request_id"], account_id, now_ms, via, reference)), True


def answer(settings: Settings, request_id: str, outcome: str, reason: str, by: str,
           now_ms: int | None = None) -> Answered:
    """Answer an open request: ERASED runs the erasure, then logs the answer; DECLINED logs the
    answer with its reason (told to the customer)."""
    problem = reason_problem(outcome, reason)
    if problem:
        raise RequestRefused("invalid-answer", problem)
    status = queue(settings).get(request_id)
    if status is None:
        raise RequestRefused("unknown-request", f"no erasure request {request_id[:40]!r}")
    if status.answer is not None:
        raise RequestRefused("already-answered", f"{request_id} was already answered: {status.answer.outcome} by "
                                                 f"{status.answer.answered_by}")
    account_id = status.request.account_id
    done = erase_subscriber(settings, account_id, f"request:{request_id}") if outcome == ERASED else None
    record = {"request_id": request_id, "account_id": account_id, "answered_at_ms": _now(now_ms),
              "outcome": outcome, "reason": reason if outcome == DECLINED else "", "answered_by": by}
    asyncio.run(_send(settings, account_id, codec_for(settings).encode_erasure_answer(record)))
    logged = queue(settings).get(request_id)  # the first answer logged counts, as in _ask
    return Answered(logged if logged is not None and logged.answer is not None else Status(status.request, Answer(
        request_id, account_id, record["answered_at_ms"], outcome, record["reason"], by)), done)


def close_open_requests(settings: Settings, account_id: str, by: str, now_ms: int | None = None) -> int:
    """After an erasure run without a request (``subscriber erase``, ``POST .../erasure``, the
    portal's at once): log it as the answer to each request of the account still open, so none
    is left to go overdue. Returns how many. Best effort: a broker that cannot be read or written
    leaves them open, logged; the alert then names them, and answering one erases again, which
    changes nothing (the erasure is idempotent)."""
    try:
        waiting = [s for s in of_account(queue(settings), account_id) if s.is_open]
        codec = codec_for(settings)
        for s in waiting:
            record = {"request_id": s.request.request_id, "account_id": account_id, "answered_at_ms": _now(now_ms),
                      "outcome": ERASED, "reason": "", "answered_by": by}
            asyncio.run(_send(settings, account_id, codec.encode_erasure_answer(record)))
        return len(waiting)
    except Exception as exc:  # noqa: BLE001 - the broker is down or too slow: the requests stay open
        log.warning("erasure of %s done, but its open requests could not be closed: %s", account_id,
                    type(exc).__name__)
        return 0


async def _send(settings: Settings, account_id: str, value: bytes) -> None:
    await ensure_topics(settings)
    producer = new_producer(settings)
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await producer.start()
        await producer.send_and_wait(settings.erasure_requests_topic, value, key=account_id.encode(), partition=0)
    finally:
        await producer.stop()


def _now(now_ms: int | None) -> int:
    return int(time.time() * 1000) if now_ms is None else now_ms


DUE_SOON_DAYS = 7


def write_request_metrics(path: Path, queue: dict[str, Status], now_ms: int) -> None:
    """The queue's state for node_exporter's textfile collector (``subscriber requests`` runs
    from a timer): open requests, those due within a week, those overdue (R32), and when it
    last ran. Written atomically."""
    waiting = [s for s in queue.values() if s.is_open]
    soon = sum(1 for s in waiting if not s.overdue(now_ms) and s.request.due_at_ms - now_ms <= DUE_SOON_DAYS * DAY_MS)
    gauges = (
        ("voiceledger_erasure_requests_open", "Erasure requests waiting for an operator's answer", len(waiting)),
        ("voiceledger_erasure_requests_due_soon", f"Open erasure requests due within {DUE_SOON_DAYS} days", soon),
        ("voiceledger_erasure_requests_overdue", "Open erasure requests past R32's 30 days",
         sum(1 for s in waiting if s.overdue(now_ms))),
        ("voiceledger_erasure_requests_last_run_timestamp_seconds", "When the erasure requests were last counted",
         now_ms // 1000),
    )
    text = "".join(f"# HELP {name} {doc}\n# TYPE {name} gauge\n{name} {value}\n" for name, doc, value in gauges)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
