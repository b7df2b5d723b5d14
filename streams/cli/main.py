"""The ``voiceledger`` command line. Bad input gets a one-line error and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from streams.config.settings import ConfigError, load_settings
from streams.clickhouse.reports import REPORTS

REPORT_NAMES = list(REPORTS)

USAGE_ERRORS: tuple[type[BaseException], ...] = (ConfigError,)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voiceledger", description="Event-sourced billing ledger for VoIP providers")
    p.add_argument("--config", help="TOML settings file (default: $VOICELEDGER_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="rate and fold a simulated stream end to end, print balances and call logs")
    demo.add_argument("--accounts", type=_positive, default=2_000)
    demo.add_argument("--calls", type=_positive, default=50_000)
    demo.add_argument("--days", type=_positive, default=3)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--envelope", type=_positive, default=200, help="CDRs per Kafka message (1 = no envelopes)")
    demo.add_argument("--broker", help="host:port of a real Kafka (default: embedded)")
    demo.add_argument("--clickhouse-url", help="clickhouse://... or chdb:///... (default: embedded chDB)")
    demo.add_argument("--workdir", default=".voiceledger/demo")

    sub.add_parser("worker", help="run a stream worker until SIGTERM")

    ing = sub.add_parser("ingest", help="parse carriers' CDR files and produce them to the events topic")
    ing.add_argument("--format", required=True, choices=("asterisk-csv", "freeswitch-json", "avro"),
                     help="asterisk-csv: Master.csv; freeswitch-json: mod_json_cdr; avro: container file")
    ing.add_argument("--carrier", help="carrier id: with the source's unique id, the call key (required "
                                       "for asterisk-csv and freeswitch-json)")
    ing.add_argument("--time-zone", default="UTC",
                     help="the carrier's IANA time zone, for timestamps logged without one (default UTC)")
    ing.add_argument("--envelope", type=_positive, default=200, help="CDRs per Kafka message (1 = no envelopes)")
    ing.add_argument("paths", nargs="+", metavar="PATH")

    rates = sub.add_parser("rates", help="rate cards")
    rates_sub = rates.add_subparsers(dest="rates_command", required=True)
    imp = rates_sub.add_parser("import", help="validate a carrier rate deck (CSV) and publish it as a rate card")
    imp.add_argument("path", metavar="FILE.csv")
    imp.add_argument("--currency", required=True, help="the card's currency (USD or EUR)")
    imp.add_argument("--valid-from", help="YYYY-MM-DD (UTC); default: the newest effective_date in the deck")
    imp.add_argument("--valid-to", help="YYYY-MM-DD (UTC), exclusive; default: open-ended")
    imp.add_argument("--card-id", help="default: FILE-stem@valid-from; cards are immutable, so a new deck "
                                       "needs a new id")
    imp.add_argument("--band", action="append", default=[], metavar="NAME=DAYS@HH:MM-HH:MM",
                     help="a time band for the deck's band_rates column, e.g. peak=0-4@08:00-18:00 "
                          "(0 = Monday; local time of each account); repeat for more bands")
    imp.add_argument("--dry-run", action="store_true", help="validate only, publish nothing")

    tick = sub.add_parser("tick", help="publish the hourly time event (run it every hour: cron, systemd timer)")
    tick.add_argument("--at", help="ISO 8601 time, e.g. 2026-12-01T00:00:00Z (default: now); truncated to the hour")

    sub.add_parser("balances", help="print every account's balance from the accounts table")

    inv = sub.add_parser("invoices", help="print issued invoices from the invoices topic; render them as HTML")
    inv.add_argument("--account", help="only this account's invoices")
    inv.add_argument("--period", help="only invoices of this period, YYYY-MM")
    inv.add_argument("--html", metavar="DIR", help="also write each invoice as DIR/<number>.html")
    inv.add_argument("--pdf", metavar="DIR", help="also write each invoice as DIR/<number>.pdf")

    st = sub.add_parser("statement", help="R20: an account's statement for the current month or one of the three before")
    st.add_argument("account")
    st.add_argument("--month", help="YYYY-MM (default: the current month)")
    st.add_argument("--as-of", help="YYYY-MM-DD: the day taken as today (default: today, UTC)")

    ret = sub.add_parser("retention", help="R30/R31 call-log retention")
    ret_sub = ret.add_subparsers(dest="retention_command", required=True)
    ra = ret_sub.add_parser("apply", help="aggregate, then drop call-log months older than retention_years")
    ra.add_argument("--as-of", required=True, help="YYYY-MM-DD: the day retention is counted from")

    rep = sub.add_parser("report", help="R36 analytics over the call log: " + ", ".join(REPORT_NAMES))
    rep.add_argument("name", choices=REPORT_NAMES)
    rep.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD (UTC), included")
    rep.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD (UTC), excluded")
    rep.add_argument("--csv", action="store_true", help="CSV instead of a table")

    cr = sub.add_parser("carrier-reconcile", help="a carrier's CDR file against our call log (dispute evidence)")
    cr.add_argument("--carrier", required=True, help="carrier id, as given to ingest")
    cr.add_argument("--format", required=True, choices=("asterisk-csv", "freeswitch-json", "avro"))
    cr.add_argument("--time-zone", default="UTC", help="the carrier's IANA zone for timestamps without one")
    cr.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD (UTC), included")
    cr.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD (UTC), excluded")
    cr.add_argument("--start-tolerance", type=int, default=2, help="seconds (default 2)")
    cr.add_argument("--duration-tolerance", type=int, default=1, help="seconds (default 1)")
    cr.add_argument("paths", nargs="+", metavar="PATH")

    subs = sub.add_parser("subscriber", help="R32/R33: a subscriber's data: export, erase")
    subs_sub = subs.add_subparsers(dest="subscriber_command", required=True)
    sx = subs_sub.add_parser("export", help="the subscriber's calls, journal and invoices as JSON and CSV")
    sx.add_argument("account")
    sx.add_argument("--out", required=True, metavar="DIR")
    se = subs_sub.add_parser("erase", help="delete the subscriber's key (sealed numbers in the Kafka log become "
                                          "unreadable), anonymise their numbers in ClickHouse and log the erasure "
                                          "(the worker then drops them from the account's state); amounts are kept")
    se.add_argument("account")
    se.add_argument("--yes", action="store_true", help="required: erasure cannot be undone")
    se.add_argument("--ref", default="", help="the request's reference (e.g. the privacy ticket), kept in the event")

    rc = sub.add_parser("reconcile", help="finance reconciliation of a month: journal, call log, invoices, trial balance")
    rc.add_argument("--month", required=True, help="YYYY-MM (UTC)")

    vf = sub.add_parser("verify", help="recompute balances from the journal and compare; check the trial balance")
    vf.add_argument("--metrics-file", metavar="PATH.prom",
                    help="also write the result for Prometheus' node_exporter textfile collector")

    rb = sub.add_parser("rebuild", help="fold the events topic from offset 0 into fresh state and compare hashes")
    rb.add_argument("--app-id", required=True, help="a new app id (consumer group and changelog) for the rebuild")
    rb.add_argument("--clickhouse-url", required=True, help="a fresh ClickHouse database for the rebuilt tables")
    rb.add_argument("--log", default="rebuild-worker.log")

    ch = sub.add_parser("clickhouse", help="ClickHouse administration")
    ch_sub = ch.add_subparsers(dest="ch_command", required=True)
    ch_sub.add_parser("migrate", help="create or upgrade the ClickHouse tables")
    return p


def _ingest(settings, args: argparse.Namespace) -> int:  # noqa: ANN001 - Settings, imported lazily
    """Exit 0 when every record was produced, 1 when some were rejected (and dead-lettered)."""
    from streams.edge.cdr import carrier_zone
    from streams.edge.ingest import ingest

    if args.format != "avro" and not args.carrier:
        raise ConfigError(f"--carrier: required for --format {args.format} (it scopes the call key)")
    try:
        zone = carrier_zone(args.time_zone)
    except ValueError as exc:
        raise ConfigError(f"--time-zone: {exc}") from None
    summary = asyncio.run(ingest(settings, [Path(p) for p in args.paths], args.format, args.carrier, zone,
                                 envelope_max=args.envelope))
    print(summary.line())
    return 1 if summary.rejected else 0


def _carrier_reconcile(settings, args: argparse.Namespace) -> int:  # noqa: ANN001 - Settings, imported lazily
    from datetime import date, datetime, timezone

    from schemas.codec import EventCodec
    from streams.edge.carrier_reconcile import CallSide, compare
    from streams.edge.cdr import carrier_zone
    from streams.clickhouse.client import connect
    from streams.edge.ingest import parse_file

    bounds = []
    for flag, value in (("--from", args.date_from), ("--to", args.date_to)):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{flag}: {value!r} must be YYYY-MM-DD") from None
        bounds.append(int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()))
    try:
        zone = carrier_zone(args.time_zone)
    except ValueError as exc:
        raise ConfigError(f"--time-zone: {exc}") from None
    theirs, unreadable = [], 0
    for path in args.paths:
        for parsed in parse_file(Path(path), args.format, args.carrier, zone, EventCodec()):
            if parsed.cdr is None:
                unreadable += 1
                continue
            c = parsed.cdr
            if bounds[0] <= c.start_at_ms // 1000 < bounds[1]:
                answered = 0 if c.answer_at_ms is None else (c.end_at_ms - c.answer_at_ms) // 1000
                theirs.append(CallSide(c.call_key, c.start_at_ms // 1000, answered))
    carrier = args.carrier.replace("'", "")
    ch = connect(settings.clickhouse_url)
    try:
        rows = ch.query("SELECT call_key, toUInt32(start_at), duration_s, charge_micros FROM call_log FINAL "
                        f"WHERE carrier_id = '{carrier}' AND start_at >= toDateTime({bounds[0]}) "
                        f"AND start_at < toDateTime({bounds[1]})")
    finally:
        ch.close()
    ours = [CallSide(k, int(s), int(d), int(m)) for k, s, d, m in rows]
    result = compare(theirs, ours, args.start_tolerance, args.duration_tolerance)
    for line in result.lines():
        print(line)
    if unreadable:
        print(f"{unreadable} record(s) of the carrier's file could not be parsed (see voiceledger ingest for why)")
    return 0 if result.clean else 1


def _check_month(flag: str, month: str) -> None:
    if not (len(month) == 7 and month[4] == "-" and month[:4].isdigit() and month[5:].isdigit()
            and 1 <= int(month[5:]) <= 12):
        raise ConfigError(f"{flag}: {month!r} must be YYYY-MM")


def _invoices(settings, args: argparse.Namespace) -> int:  # noqa: ANN001 - Settings, imported lazily
    from streams.kafka.invoice_feed import read_invoice_numbers, read_invoices
    from streams.documents.invoice import render_html, render_pdf, render_text

    if args.period:
        _check_month("--period", args.period)
    shown = [i for i in read_invoices(settings)
             if (not args.account or i.account_id == args.account) and (not args.period or i.period == args.period)]
    html_dir = Path(args.html) if args.html else None
    pdf_dir = Path(args.pdf) if args.pdf else None
    for d in (html_dir, pdf_dir):
        if d:
            d.mkdir(parents=True, exist_ok=True)
    numbers = read_invoice_numbers(settings)
    for invoice in shown:
        numbered = numbers.get(invoice.invoice_number)
        number = numbered.number if numbered else None
        print(render_text(invoice, number) + "\n")
        # Files are named by the legal number once there is one, else by the reference.
        name = number or invoice.invoice_number
        if html_dir:
            (html_dir / f"{name}.html").write_text(render_html(invoice, number=number))
        if pdf_dir:
            (pdf_dir / f"{name}.pdf").write_bytes(render_pdf(invoice, number=number))
    print(f"{len(shown)} invoice(s)" + (f", HTML in {html_dir}" if html_dir else "")
          + (f", PDF in {pdf_dir}" if pdf_dir else ""))
    return 0


def _statement(settings, args: argparse.Namespace) -> int:  # noqa: ANN001 - Settings, imported lazily
    from datetime import date, datetime, timezone

    from streams.kafka.invoice_feed import read_invoice_numbers, read_invoices
    from streams.kafka.reader import read_account_states
    from streams.documents.statement import StatementRefused, issued_from_invoices, statement

    if args.as_of:
        try:
            today = date.fromisoformat(args.as_of)
        except ValueError:
            raise ConfigError(f"--as-of: {args.as_of!r} must be YYYY-MM-DD") from None
    else:
        today = datetime.now(timezone.utc).date()  # the edge where wall time enters
    month = args.month or f"{today.year:04d}-{today.month:02d}"
    _check_month("--month", month)
    states = asyncio.run(read_account_states(settings))
    try:
        mine = [i for i in read_invoices(settings) if i.account_id == args.account]
        numbers = {r: n.number for r, n in read_invoice_numbers(settings).items()}
        print(statement(args.account, month, f"{today.year:04d}-{today.month:02d}", states.get(args.account),
                        issued_from_invoices(mine, numbers)))
    except StatementRefused as exc:
        print(f"voiceledger: {exc}", file=sys.stderr)
        return 2
    return 0


def _rates_import(settings, args: argparse.Namespace) -> int:  # noqa: ANN001 - Settings, imported lazily
    import json
    import time

    from streams.worker.rate_feed import publish_card
    from streams.edge.rate_decks import check_route_fits, load_rate_card, parse_band

    t0 = time.perf_counter()
    bands = tuple(parse_band(spec) for spec in args.band)
    card = load_rate_card(args.path, args.currency, args.valid_from, valid_to=args.valid_to, bands=bands,
                          card_id=args.card_id)
    if settings.seal_personal_data:
        check_route_fits(card, settings.route_digits)
    loaded_s = time.perf_counter() - t0
    summary = {"card_id": card.card_id, "currency": card.currency, "destinations": len(card.destinations),
               "bands": [b.name for b in card.bands], "valid_from_ms": card.valid_from_ms,
               "valid_to_ms": card.valid_to_ms, "load_seconds": round(loaded_s, 3), "published": False}
    if not args.dry_run:
        # The publication time is the edge where wall time enters; the book itself uses the
        # log time of the records (projections/rate_book.py).
        now_ms = int(time.time() * 1000)
        summary["parts"] = asyncio.run(publish_card(settings, card, event_id=f"ratecard:{card.card_id}",
                                                    published_at_ms=now_ms))
        summary["published"] = True
        summary["takes_effect_from_ms"] = max(card.valid_from_ms, now_ms + settings.rate_card_lead_seconds * 1000)
        summary["seconds"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Imports are deferred so that `voiceledger --help` and config errors stay fast.
    from streams.clickhouse.client import ClickHouseConfigError
    from streams.dev.demo import DemoError
    from streams.dev.embedded import EmbeddedServerError
    from streams.edge.rate_decks import RateCardError

    from schemas.confluent import SchemaRegistryError
    from streams.edge.ingest import IngestError

    errors = USAGE_ERRORS + (DemoError, ClickHouseConfigError, EmbeddedServerError, RateCardError, IngestError,
                             SchemaRegistryError)
    try:
        if args.command == "demo":
            from streams.dev.demo import run_demo
            from streams.dev.simulate import SimulationSpec

            settings = load_settings(args.config, broker=args.broker or "embedded",
                                     clickhouse_url=args.clickhouse_url)
            if not settings.tax_rules:  # the demo shows R17 with the example US and Belgian profiles
                from dataclasses import replace

                from streams.config.settings import EXAMPLE_TAX_RULES
                settings = replace(settings, tax_rules=EXAMPLE_TAX_RULES)
            spec = SimulationSpec(accounts=args.accounts, calls=args.calls, days=args.days, seed=args.seed)
            return run_demo(settings, spec, args.envelope, Path(args.workdir))
        settings = load_settings(args.config)
        if args.command == "worker":
            from streams.edge.rate_decks import load_rate_cards
            from streams.worker.run import run_worker

            load_rate_cards(settings.rate_cards)  # fail fast, with the file and line
            run_worker(settings)
            return 0
        if args.command == "ingest":
            return _ingest(settings, args)
        if args.command == "tick":
            from datetime import datetime, timezone

            from streams.kafka.admin import ensure_topics
            from streams.kafka.producer import publish_tick

            if args.at:
                try:
                    moment = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
                except ValueError:
                    raise ConfigError(f"--at: {args.at!r} is not an ISO 8601 time") from None
                if moment.tzinfo is None:
                    raise ConfigError(f"--at: {args.at!r} has no time zone (add Z or +hh:mm)")
            else:
                moment = datetime.now(timezone.utc)
            asyncio.run(ensure_topics(settings))
            offsets = asyncio.run(publish_tick(settings, int(moment.timestamp() * 1000)))
            print(f"tick {moment.astimezone(timezone.utc):%Y-%m-%dT%H}:00Z published to {len(offsets)} partition(s)")
            return 0
        if args.command == "rates" and args.rates_command == "import":
            return _rates_import(settings, args)
        if args.command == "retention" and args.retention_command == "apply":
            import json
            from dataclasses import asdict
            from datetime import date

            from streams.clickhouse.migrations import migrate
            from streams.clickhouse.client import connect
            from streams.clickhouse.retention import apply_retention

            try:
                as_of = date.fromisoformat(args.as_of)
            except ValueError:
                raise ConfigError(f"--as-of: {args.as_of!r} must be YYYY-MM-DD") from None
            ch = connect(settings.clickhouse_url)
            try:
                migrate(ch)
                print(json.dumps(asdict(apply_retention(ch, as_of, settings.retention_years))))
            finally:
                ch.close()
            return 0
        if args.command == "subscriber":
            import json

            from streams.clickhouse.migrations import migrate
            from streams.clickhouse.client import connect
            from streams.clickhouse.privacy import erase_in_clickhouse, export
            from streams.edge.publish import log_erasure

            if args.subscriber_command == "erase" and not args.yes:
                raise ConfigError("--yes: required, because an erasure cannot be undone")
            ch = connect(settings.clickhouse_url)
            try:
                migrate(ch)
                if args.subscriber_command == "export":
                    counts = export(ch, args.account, Path(args.out))
                    print(json.dumps({"account": args.account, "out": args.out, "rows": counts}))
                else:
                    from streams.edge.sealing import SubscriberKeys

                    # The key first: from here on no worker opens the subscriber's sealed fields,
                    # so no call row with numbers can reach ClickHouse after it is anonymised.
                    shredded = SubscriberKeys(settings.subscriber_keys_dir).erase(args.account, args.ref)
                    rows = erase_in_clickhouse(ch, args.account)
                    logged = log_erasure(settings, args.account, args.ref)
                    print(json.dumps({"account": args.account, "call_log_rows_anonymised": rows,
                                      "erasure_event": logged, "subscriber_key_deleted": shredded,
                                      "kafka_log": "sealed numbers in the log can no longer be opened" if shredded
                                      else "no subscriber key was here: numbers logged without sealing "
                                           "(seal_personal_data off) stay in the log (see README)"}))
            finally:
                ch.close()
            return 0
        if args.command == "carrier-reconcile":
            return _carrier_reconcile(settings, args)
        if args.command == "report":
            from datetime import date

            from streams.clickhouse.client import connect
            from streams.clickhouse.reports import REPORTS, as_csv, as_table, run_report

            for flag, value in (("--from", args.date_from), ("--to", args.date_to)):
                try:
                    date.fromisoformat(value)
                except ValueError:
                    raise ConfigError(f"{flag}: {value!r} must be YYYY-MM-DD") from None
            if args.date_from >= args.date_to:
                raise ConfigError(f"--to: {args.date_to} must be after --from {args.date_from}")
            ch = connect(settings.clickhouse_url)
            try:
                rows = run_report(ch, args.name, args.date_from, args.date_to, settings.residential_plans)
            finally:
                ch.close()
            columns = REPORTS[args.name].columns
            print(as_csv(columns, rows) if args.csv else as_table(columns, rows), end="" if args.csv else "\n")
            return 0
        if args.command == "reconcile":
            from streams.clickhouse.client import connect
            from streams.clickhouse.reconcile import reconcile

            _check_month("--month", args.month)
            ch = connect(settings.clickhouse_url)
            try:
                problems, summary = reconcile(ch, args.month, settings.country_code)
            finally:
                ch.close()
            for line in summary + problems:
                print(line)
            print(f"reconciliation of {args.month}: " + ("OK" if not problems else f"{len(problems)} difference(s)"))
            return 1 if problems else 0
        if args.command == "statement":
            return _statement(settings, args)
        if args.command == "invoices":
            return _invoices(settings, args)
        if args.command == "balances":
            from projections.money import Money
            from streams.kafka.reader import read_account_states

            for account_id, s in sorted(asyncio.run(read_account_states(settings)).items()):
                print(f"{account_id}\t{s.currency}\t{Money(s.balance_micros, s.currency).format()}")
            return 0
        if args.command == "verify":
            from streams.ledger.selfcheck import verify

            problems = verify(settings)
            if args.metrics_file:
                from streams.ledger.selfcheck import write_verify_metrics

                write_verify_metrics(Path(args.metrics_file), len(problems))
            for line in problems:
                print(line)
            print("ledger verified: balances equal the journal, trial balance is zero" if not problems
                  else f"ledger verify FAILED: {len(problems)} difference(s)")
            return 1 if problems else 0
        if args.command == "rebuild":
            from streams.config.settings import validate
            from streams.ledger.selfcheck import rebuild
            from dataclasses import replace

            if args.app_id == settings.app_id:
                raise ConfigError("--app-id: must differ from the live app_id, or the rebuild would write into live state")
            validate(replace(settings, clickhouse_url=args.clickhouse_url))
            hashes = rebuild(settings, args.app_id, args.clickhouse_url, Path(args.log))
            for name, value in hashes.items():
                print(f"{name}\t{value}")
            same = all(hashes[f"live_{part}"] == hashes[f"rebuilt_{part}"]
                       for part in ("state", "journal", "call_log", "invoices", "numbers"))
            print("rebuild equals live state: " + ("yes" if same else "NO"))
            return 0 if same else 1
        if args.command == "clickhouse" and args.ch_command == "migrate":
            from streams.clickhouse.migrations import migrate
            from streams.clickhouse.client import connect, redact

            from streams.clickhouse.migrations import MIGRATIONS

            ch = connect(settings.clickhouse_url)
            try:
                applied = migrate(ch)
            finally:
                ch.close()
            for version, name, _ in MIGRATIONS:
                print(f"{version}\t{'applied now' if version in applied else 'already there'}\t{name}")
            print(f"migrated {redact(settings.clickhouse_url)} to version {MIGRATIONS[-1][0]}")
            return 0
    except errors as exc:
        print(f"voiceledger: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError) as exc:
        # Unreachable broker or ClickHouse, missing files: say which, without a traceback.
        print(f"voiceledger: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
