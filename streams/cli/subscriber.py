"""``voiceledger subscriber export|erase|ask|requests|answer``: a subscriber's data rights (R32,
R33). The steps and their order are in ``streams/ledger/privacy.py``, and the erasure requests an
operator reviews in ``streams/ledger/erasure_queue.py``; this module parses and prints."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from streams.cli.common import settings_of
from streams.config.settings import ConfigError


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    subs = sub.add_parser("subscriber", help="R32/R33: a subscriber's data: export, erase")
    subs_sub = subs.add_subparsers(dest="subscriber_command", required=True)
    sx = subs_sub.add_parser("export", parents=parents,
                             help="the subscriber's calls, journal and invoices as JSON and CSV")
    sx.add_argument("account")
    sx.add_argument("--out", required=True, metavar="DIR")
    sx.set_defaults(handler=export)
    se = subs_sub.add_parser("erase", parents=parents,
                             help="delete the subscriber's key (sealed numbers in the Kafka log become unreadable), "
                                  "anonymise their numbers in ClickHouse and log the erasure (the worker then drops "
                                  "them from the account's state); amounts are kept")
    se.add_argument("account")
    se.add_argument("--yes", action="store_true", help="required: erasure cannot be undone")
    se.add_argument("--ref", default="", help="the request's reference (e.g. the privacy ticket), kept in the event")
    se.set_defaults(handler=erase)
    _register_requests(subs_sub, parents)


def _register_requests(subs_sub: argparse._SubParsersAction, parents: list) -> None:
    sa = subs_sub.add_parser("ask", parents=parents,
                             help="log a subscriber's erasure request (one that came by mail or phone) for review")
    sa.add_argument("account")
    sa.add_argument("--ref", required=True, help="the request's reference (the privacy ticket): the same, one request")
    sa.set_defaults(handler=ask)
    sr = subs_sub.add_parser("requests", parents=parents,
                             help="R32: the erasure requests waiting for an answer, the one due first first")
    sr.add_argument("--all", action="store_true", help="every request, answered ones too")
    sr.add_argument("--json", action="store_true")
    sr.add_argument("--metrics-file", metavar="PATH.prom",
                    help="also write the counts (open, due within a week, overdue) for node_exporter's textfile "
                         "collector; deploy/systemd/voiceledger-erasure-requests.timer runs it hourly")
    sr.set_defaults(handler=requests)
    sn = subs_sub.add_parser("answer", parents=parents,
                             help="answer an erasure request: --erase runs the erasure, --decline logs the reason")
    sn.add_argument("request_id")
    how = sn.add_mutually_exclusive_group(required=True)
    how.add_argument("--erase", action="store_true")
    how.add_argument("--decline", action="store_true")
    sn.add_argument("--reason", default="", help="--decline: why, as the customer reads it (at most 500 characters)")
    sn.set_defaults(handler=answer)


def export(args: argparse.Namespace) -> int:
    from streams.ledger.privacy import export_subscriber

    counts = export_subscriber(settings_of(args), args.account, Path(args.out))
    print(json.dumps({"account": args.account, "out": args.out, "rows": counts}))
    return 0


def erase(args: argparse.Namespace) -> int:
    from streams.ledger.erasure_queue import close_open_requests
    from streams.ledger.privacy import erase_subscriber

    if not args.yes:
        raise ConfigError("--yes: required, because an erasure cannot be undone")
    settings = settings_of(args)
    done = erase_subscriber(settings, args.account, args.ref)
    closed = close_open_requests(settings, args.account, _who())
    print(json.dumps({"account": done.account, "call_log_rows_anonymised": done.call_log_rows_anonymised,
                      "erasure_event": done.erasure_event, "subscriber_key_deleted": done.subscriber_key_deleted,
                      "kafka_log": done.kafka_log, "erasure_requests_answered": closed}))
    return 0


def ask(args: argparse.Namespace) -> int:
    from streams.ledger import erasure_queue

    status, new = _refused_in_one_line(lambda: erasure_queue.ask(settings_of(args), args.account, "cli", args.ref))
    print(json.dumps({**_fields(status), "new": new}))
    return 0


def requests(args: argparse.Namespace) -> int:
    from projections.erasure_requests import open_requests
    from streams.ledger import erasure_queue

    found = erasure_queue.queue(settings_of(args))
    if args.metrics_file:
        erasure_queue.write_request_metrics(Path(args.metrics_file), found, int(time.time() * 1000))
    chosen = (sorted(found.values(), key=lambda s: -s.request.requested_at_ms) if args.all
              else open_requests(found))
    rows = [_fields(s) for s in chosen]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        late = " OVERDUE" if r["overdue"] else ""
        answer = f" {r['outcome']} {r['answered_at']} by {r['answered_by']}" if r["outcome"] else ""
        print(f"{r['request_id']}  {r['account_id']}  asked {r['requested_at']}  due {r['due_at']}{late}"
              f"  via {r['via']}{answer}{'  ' + r['reason'] if r['reason'] else ''}")
    print(f"{sum(1 for s in chosen if s.is_open)} open, {sum(1 for r in rows if r['overdue'])} overdue (R32: 30 days)")
    return 0


def _who() -> str:
    import getpass
    import socket

    return f"{getpass.getuser()}@{socket.gethostname()}"


def answer(args: argparse.Namespace) -> int:
    from projections.erasure_requests import DECLINED, ERASED
    from streams.ledger import erasure_queue

    outcome = ERASED if args.erase else DECLINED
    done = _refused_in_one_line(lambda: erasure_queue.answer(settings_of(args), args.request_id, outcome, args.reason,
                                                             _who()))
    erased = None if done.erasure is None else {"call_log_rows_anonymised": done.erasure.call_log_rows_anonymised,
                                                "erasure_event": done.erasure.erasure_event,
                                                "subscriber_key_deleted": done.erasure.subscriber_key_deleted}
    print(json.dumps({**_fields(done.status), "erasure": erased}))
    return 0


def _refused_in_one_line(step):  # noqa: ANN001, ANN202 - a step of erasure_queue
    from streams.ledger.erasure_queue import RequestRefused

    try:
        return step()
    except RequestRefused as exc:
        raise ConfigError(str(exc)) from None


def _fields(status) -> dict:  # noqa: ANN001 - projections.erasure_requests.Status
    def iso(ms: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))

    r, a = status.request, status.answer
    return {"request_id": r.request_id, "account_id": r.account_id, "requested_at": iso(r.requested_at_ms),
            "due_at": iso(r.due_at_ms), "via": r.via, "reference": r.reference,
            "overdue": status.overdue(int(time.time() * 1000)), "outcome": a.outcome if a else None,
            "answered_at": iso(a.answered_at_ms) if a else None, "answered_by": a.answered_by if a else None,
            "reason": a.reason if a else None}
