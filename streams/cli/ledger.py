"""``voiceledger balances``, ``invoices``, ``statement``, ``receivables``, ``trial-balance``,
``reconcile``, ``verify`` and ``rebuild``: reading the ledger, and checking it against itself."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from streams.cli.common import day, month, positive_up_to, settings_of
from streams.config.settings import ConfigError, validate

WORKERS_MAX = 64  # a rebuild's worker processes: at most the partitions, and a bound on what one command starts


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    sub.add_parser("balances", parents=parents,
                   help="print every account's balance from the accounts table").set_defaults(handler=balances)
    inv = sub.add_parser("invoices", parents=parents,
                         help="print issued invoices from the invoices topic; render them as HTML")
    inv.add_argument("--account", help="only this account's invoices")
    inv.add_argument("--period", help="only invoices of this period, YYYY-MM")
    inv.add_argument("--html", metavar="DIR", help="also write each invoice as DIR/<number>.html")
    inv.add_argument("--pdf", metavar="DIR", help="also write each invoice as DIR/<number>.pdf")
    inv.set_defaults(handler=invoices)
    st = sub.add_parser("statement", parents=parents,
                        help="R20: an account's statement for the current month or one of the three before")
    st.add_argument("account")
    st.add_argument("--month", help="YYYY-MM (default: the current month)")
    st.add_argument("--as-of", help="YYYY-MM-DD: the day taken as today (default: today, UTC)")
    st.set_defaults(handler=statement)
    ar = sub.add_parser("receivables", parents=parents,
                        help="R11: what each account owes on its invoices, by days past due, as of a day")
    ar.add_argument("--as-of", help="YYYY-MM-DD, its end in books_time_zone: what was issued and received that "
                                    "day counts (default: today)")
    ar.add_argument("--csv", action="store_true", help="CSV in micro-units instead of a table")
    ar.set_defaults(handler=receivables)
    tb = sub.add_parser("trial-balance", parents=parents,
                        help="a month's opening, debits, credits and closing per ledger account (the general ledger)")
    tb.add_argument("--month", required=True, help="YYYY-MM, in books_time_zone (default UTC)")
    tb.add_argument("--by-customer", action="store_true",
                    help="each customer's own account instead of the customer control account")
    tb.add_argument("--csv", action="store_true", help="CSV in micro-units instead of a table")
    tb.set_defaults(handler=trial_balance)
    rc = sub.add_parser("reconcile", parents=parents,
                        help="finance reconciliation of a month: journal, call log, invoices, trial balance")
    rc.add_argument("--month", required=True, help="YYYY-MM, in books_time_zone (default UTC)")
    rc.set_defaults(handler=reconcile)
    vf = sub.add_parser("verify", parents=parents,
                        help="recompute balances from the journal and compare; check the trial balance")
    vf.add_argument("--metrics-file", metavar="PATH.prom",
                    help="also write the result for Prometheus' node_exporter textfile collector")
    vf.set_defaults(handler=verify)
    rb = sub.add_parser("rebuild", parents=parents,
                        help="fold the events topic from offset 0 into fresh state and compare hashes")
    rb.add_argument("--app-id", required=True, help="a new app id (consumer group and changelog) for the rebuild")
    rb.add_argument("--clickhouse-url", required=True, help="a fresh ClickHouse database for the rebuilt tables")
    rb.add_argument("--log", default="rebuild-worker.log")
    rb.add_argument("--workers", type=positive_up_to(WORKERS_MAX), default=1,
                    help="worker processes folding the log at once, one group sharing its partitions "
                         f"(at most the partitions; default 1, up to {WORKERS_MAX})")
    rb.add_argument("--stall-minutes", type=positive_up_to(24 * 60), default=10,
                    help="give up when nothing was committed for this long (default 10); the rebuild "
                         "itself may run for hours")
    rb.set_defaults(handler=rebuild)


def balances(args: argparse.Namespace) -> int:
    from projections.money import Money
    from streams.kafka.reader import read_account_states

    for account_id, s in sorted(asyncio.run(read_account_states(settings_of(args))).items()):
        print(f"{account_id}\t{s.currency}\t{Money(s.balance_micros, s.currency).format()}")
    return 0


def invoices(args: argparse.Namespace) -> int:
    from streams.documents.invoice import legal_for, render_html, render_text
    from streams.documents.invoice_pdf import render_pdf
    from streams.edge.sealing import opener_for
    from streams.kafka.invoice_feed import read_invoice_numbers, read_invoices

    settings = settings_of(args)
    if args.period:
        month("--period", args.period)
    shown = [i for i in read_invoices(settings)
             if (not args.account or i.account_id == args.account) and (not args.period or i.period == args.period)]
    html_dir, pdf_dir = (Path(d) if d else None for d in (args.html, args.pdf))
    for d in (html_dir, pdf_dir):
        if d:
            d.mkdir(parents=True, exist_ok=True)
    numbers = {ref: n.number for ref, n in read_invoice_numbers(settings).items()}
    opener = opener_for(settings)
    for invoice in shown:
        legal = legal_for(settings, invoice, numbers, opener.open)
        print(render_text(invoice, legal=legal) + "\n")
        name = legal.number or invoice.invoice_number  # the legal number once there is one, else the reference
        if html_dir:
            (html_dir / f"{name}.html").write_text(render_html(invoice, legal=legal))
        if pdf_dir:
            (pdf_dir / f"{name}.pdf").write_bytes(render_pdf(invoice, legal=legal))
    print(f"{len(shown)} invoice(s)" + (f", HTML in {html_dir}" if html_dir else "")
          + (f", PDF in {pdf_dir}" if pdf_dir else ""))
    return 0


def statement(args: argparse.Namespace) -> int:
    from streams.documents.statement import StatementRefused, issued_from_invoices
    from streams.documents.statement import statement as render
    from streams.kafka.invoice_feed import read_invoice_numbers, read_invoices
    from streams.kafka.reader import read_account_states

    settings = settings_of(args)
    today = day("--as-of", args.as_of) if args.as_of else datetime.now(timezone.utc).date()  # wall time enters here
    shown = month("--month", args.month or f"{today.year:04d}-{today.month:02d}")
    states = asyncio.run(read_account_states(settings))
    try:
        mine = [i for i in read_invoices(settings) if i.account_id == args.account]
        numbers = {r: n.number for r, n in read_invoice_numbers(settings).items()}
        print(render(args.account, shown, f"{today.year:04d}-{today.month:02d}", states.get(args.account),
                     issued_from_invoices(mine, numbers)))
    except StatementRefused as exc:
        print(f"voiceledger: {exc}", file=sys.stderr)
        return 2
    return 0


def receivables(args: argparse.Namespace) -> int:
    """Aged receivables: one line per account that owes, then the total per currency."""
    from projections.money import Money
    from streams.clickhouse.client import connect
    from projections.periods import zone
    from streams.clickhouse.receivables import AGE_BUCKETS, aged_receivables, as_of_ms

    settings = settings_of(args)
    books = settings.books_time_zone
    today = day("--as-of", args.as_of) if args.as_of else datetime.now(zone(books)).date()  # wall time enters here
    if not 2000 <= today.year < 2100:  # the tables' DateTime ends in 2106
        raise ConfigError(f"--as-of: {today.isoformat()} is not between 2000 and 2099")
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        aged = aged_receivables(ch.query, as_of_ms(today.isoformat(), books))
    finally:
        ch.close()
    totals: dict[str, list[int]] = {}
    for a in aged:
        sums = totals.setdefault(a.currency, [0] * len(AGE_BUCKETS))
        for i, owed in enumerate(a.owed):
            sums[i] += owed
    rows = [(a.account_id, a.currency, *a.owed, a.total) for a in aged]
    rows += [("TOTAL", c, *owed, sum(owed)) for c, owed in sorted(totals.items())]
    if args.csv:
        print("account_id,currency," + ",".join(f"{b}_micros" for b in AGE_BUCKETS) + ",total_micros")
        print("\n".join(",".join(map(str, r)) for r in rows))
        return 0
    print(f"receivables as of {today.isoformat()} (end of day, {books}), by days past due")
    print(f"{'account':<24} {'cur':<4}" + "".join(f"{b.replace('_', '-'):>18}" for b in (*AGE_BUCKETS, "total")))
    for r in rows:
        print(f"{r[0]:<24} {r[1]:<4}" + "".join(f"{Money(m, r[1]).format()[:-4]:>18}" for m in r[2:]))
    return 0


def trial_balance(args: argparse.Namespace) -> int:
    """One line per currency and ledger account; exit 1 when a currency does not balance."""
    from projections.money import Money
    from streams.clickhouse.client import connect
    from streams.clickhouse.trial_balance import trial_balance as read, unbalanced

    settings = settings_of(args)
    if not "2000" <= month("--month", args.month)[:4] <= "2099":  # the journal's DateTime ends in 2106
        raise ConfigError(f"--month: {args.month} is not between 2000 and 2099")
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        lines = read(ch.query, args.month, args.by_customer, settings.books_time_zone)
    finally:
        ch.close()
    figures = [(x.currency, x.ledger_account, x.opening_micros, x.debit_micros, x.credit_micros, x.closing_micros)
               for x in lines]
    if args.csv:
        print("currency,ledger_account,opening_micros,debit_micros,credit_micros,closing_micros")
        print("\n".join(",".join(map(str, f)) for f in figures))
    else:
        print(f"trial balance of {args.month} ({settings.books_time_zone}), debit balances positive")
        print(f"{'cur':<4} {'ledger account':<36}" + "".join(f"{h:>18}" for h in ("opening", "debits", "credits",
                                                                                   "closing")))
        for f in figures:
            print(f"{f[0]:<4} {f[1]:<36}" + "".join(f"{Money(m, f[0]).format()[:-4]:>18}" for m in f[2:]))
    problems = unbalanced(lines)
    for line in problems:
        print(f"UNBALANCED {line}", file=sys.stderr)
    return 1 if problems else 0


def reconcile(args: argparse.Namespace) -> int:
    from streams.clickhouse.client import connect
    from streams.clickhouse.reconcile import reconcile as run

    settings = settings_of(args)
    month("--month", args.month)
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        problems, summary = run(ch, args.month, settings.country_code, settings.books_time_zone)
    finally:
        ch.close()
    print(f"months in the books' zone: {settings.books_time_zone}")
    for line in summary + problems:
        print(line)
    print(f"reconciliation of {args.month}: " + ("OK" if not problems else f"{len(problems)} difference(s)"))
    return 1 if problems else 0


def verify(args: argparse.Namespace) -> int:
    from streams.ledger.selfcheck import verify as run
    from streams.ledger.selfcheck import write_verify_metrics

    problems = run(settings_of(args))
    if args.metrics_file:
        write_verify_metrics(Path(args.metrics_file), len(problems))
    for line in problems:
        print(line)
    print("ledger verified: balances equal the journal, trial balance is zero" if not problems
          else f"ledger verify FAILED: {len(problems)} difference(s)")
    return 1 if problems else 0


def rebuild(args: argparse.Namespace) -> int:
    from streams.ledger.selfcheck import rebuild as run

    settings = settings_of(args)
    if args.app_id == settings.app_id:
        raise ConfigError("--app-id: must differ from the live app_id, or the rebuild would write into live state")
    validate(replace(settings, clickhouse_url=args.clickhouse_url, app_id=args.app_id))
    if args.workers > settings.partitions:
        raise ConfigError(f"--workers: {args.workers} is more than the {settings.partitions} partitions; "
                          "a worker beyond them would fold nothing")
    hashes = run(settings, args.app_id, args.clickhouse_url, Path(args.log), args.workers, args.stall_minutes * 60.0)
    for name, value in hashes.items():
        print(f"{name}\t{value}")
    same = all(hashes[f"live_{part}"] == hashes[f"rebuilt_{part}"]
               for part in ("state", "journal", "call_log", "invoices", "numbers"))
    print("rebuild equals live state: " + ("yes" if same else "NO"))
    if not same:
        _accepted_changes(settings)
    return 0 if same else 1


def _accepted_changes(settings) -> None:  # noqa: ANN001 - Settings
    """Each change in force accepted, and whether the rebuild folded what came before it with the
    version it replaced (``streams/config/settings_epochs.py``): one that was not is where a
    rebuild is bound to differ."""
    from streams.config.settings_epochs import epochs_of
    from streams.config.versions import moment
    from streams.worker import settings_log

    found, starts = asyncio.run(settings_log.read_log(settings))
    unknown = set(epochs_of(found, starts).unknown)
    replayed = {s["digest"] for s in starts if s["previous_digest"] not in unknown}
    for record in found:
        if record["changed_in_force"]:
            how = ("replayed: each partition folded with the version before up to where this one started"
                   if record["digest"] in replayed else "not replayed (accepted by a release before replays, or "
                   "the version before was not kept whole): what was folded before differs when rebuilt")
            print(f"settings changed in force at {moment(record['recorded_at_ms'])} ({record['reason']}): "
                  f"{', '.join(record['changed_in_force'])}; {how}")
