"""The main job, end to end: simulate a carrier's day, run the real worker, show the results.

Starts an embedded broker (Tansu) and uses an embedded ClickHouse (chDB) unless real ones are
configured; produces a realistic stream; runs ``voiceledger worker`` as a separate process, as
in production; waits until it has committed everything; stops it with SIGTERM; then prints
balances (read back from the accounts table's changelog) and a call-log summary queried from
ClickHouse, and checks that the two agree to the micro-unit.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

from projections.events import CallDetailRecord, InvoiceIssued, InvoiceNumbered, is_sealed
from projections.invoicing import format_minor
from projections.money import Money
from projections.periods import next_period, period_of, period_start_ms
from streams.kafka.invoice_feed import gaps_by_issuer_year, read_invoice_numbers, read_invoices
from streams.documents.invoice import legal_for, render_html, render_text
from streams.documents.invoice_pdf import render_pdf
from streams.edge.sealing import opener_for
from streams.clickhouse import call_log, journal
from streams.clickhouse.client import connect, redact
from streams.config.settings import Settings
from streams.dev.embedded import EmbeddedBroker, free_port
from streams.kafka.security import client_kwargs
from streams.kafka.codec import codec_for
from streams.kafka.topics import ensure_topics
from streams.edge.publish import produce_events
from streams.kafka.producer import publish_tick
from streams.kafka.reader import read_account_states, read_topic
from streams.dev.simulate import START_MS, SimulationSpec, simulate
from streams.dev.switch import authorize_calls
from streams.worker.fold_settings import fold_settings_from
from streams.dev.demo_api import show_api
from streams.worker.supervise import WorkerError, say, start_worker, stop_worker, wait_until_committed


class DemoError(RuntimeError):
    """The demo could not finish; the message says why (see the worker log it names)."""


def run_demo(settings: Settings, spec: SimulationSpec, envelope_max: int, workdir: Path, serve: bool = False) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    broker = None
    if settings.broker == "embedded":
        broker = EmbeddedBroker(log_path=str(workdir / "broker.log")).start()
        settings = replace(settings, broker=broker.bootstrap, broker_flavor="tansu")
        say(f"started embedded Kafka-protocol broker (Tansu) on {broker.bootstrap}")
        if settings.subscriber_keys_dir == Settings().subscriber_keys_dir:
            # The subscribers' keys belong to this (in-memory) log: a fresh store beside it.
            keys_dir = workdir / "subscriber-keys"
            shutil.rmtree(keys_dir, ignore_errors=True)
            settings = replace(settings, subscriber_keys_dir=str(keys_dir.resolve()))
        if settings.clickhouse_url == Settings().clickhouse_url:
            # The embedded broker's log lives in memory, so start the embedded ClickHouse
            # fresh too: the two must describe the same events.
            chdb_dir = workdir / "chdb"
            shutil.rmtree(chdb_dir, ignore_errors=True)
            settings = replace(settings, clickhouse_url=f"chdb://{chdb_dir.resolve()}")
    if settings.metrics_port == Settings().metrics_port:
        settings = replace(settings, metrics_port=free_port())
    say(f"ClickHouse: {redact(settings.clickhouse_url)}")
    try:
        t0 = time.monotonic()
        switched = simulate_and_produce(settings, spec, envelope_max)
        # The scheduler's tick at the next month's start closes the simulated month (R13).
        close_at = period_start_ms(next_period(period_of(START_MS, "UTC")), "UTC")
        next_offsets = asyncio.run(publish_tick(settings, close_at))
        say(f"published the month-start tick ({period_of(close_at, 'UTC')}-01 00:00 UTC) to every partition")
        worker = start_worker(settings, workdir / "worker.log")
        say(f"worker started (pid {worker.pid}, metrics on :{settings.metrics_port}/metrics)")
        try:
            worker = wait_until_committed(settings, worker, timeout_s=600, next_offsets=next_offsets,
                                          log_path=workdir / "worker.log")
        except WorkerError as exc:
            raise DemoError(f"{exc}; see {workdir / 'worker.log'}") from None
        finally:
            code = stop_worker(worker)
        say(f"worker drained and stopped (exit {code}) after {time.monotonic() - t0:.1f} s")
        states = asyncio.run(read_account_states(settings))
        dead = asyncio.run(read_topic(settings.broker, settings.dead_letter_topic, security=client_kwargs(settings)))
        logged = asyncio.run(read_topic(settings.broker, settings.events_topic, security=client_kwargs(settings)))
        sealed, cdrs = sealed_cdrs(codec_for(settings), [r.value for r in logged])
        invoices = read_invoices(settings)
        numbers = read_invoice_numbers(settings)
        ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
        try:
            summary = call_log.summary(ch)
            top = call_log.top_destinations(ch, 8)
            latest = call_log.latest_calls(ch, 5)
            from_journal = journal.customer_balances(ch)
            trial = journal.trial_balance(ch)
            usage = journal.usage_revenue(ch)
            invoiced = journal.customer_debits_by_account(ch)
            corrected = journal.corrections(ch)
        finally:
            ch.close()
        code = print_report(states, summary, top, len(dead), from_journal, trial, usage)
        code = print_switch(states, switched) or code
        print_corrections(corrected)
        code = print_privacy(latest, sealed, cdrs, settings.seal_personal_data) or code
        code = print_invoices(settings, invoices, numbers, invoiced, workdir) or code
        customer = min(invoices, key=lambda i: i.invoice_number).account_id if invoices else min(states)
        return show_api(settings, workdir, customer, serve) or code
    finally:
        if broker:
            broker.stop()


def print_invoices(settings: Settings, invoices: list[InvoiceIssued], numbers: dict[str, InvoiceNumbered],
                   debits: dict[str, int], workdir: Path) -> int:
    """The month's invoices: totals, one sample in full (text and HTML), and the check that every
    invoice equals the customer's journal debits it covers, to the micro-unit."""
    print(f"\n== Invoices (topic, {len(invoices)} issued) ==")
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for inv in invoices:
        t = totals[inv.currency]
        t[0] += 1
        t[1] += inv.total_micros
        t[2] += sum(line.amount_micros for line in inv.lines if line.category.startswith("tax:"))
    for currency, (n, total, tax) in sorted(totals.items()):
        print(f"  {currency}: {n} invoices, total {format_minor(total, currency)} {currency}, "
              f"of which taxes {format_minor(tax, currency)} {currency}")
    if not invoices:
        return 0
    sample = max(invoices, key=lambda i: (len(i.lines), i.total_micros, i.invoice_number))
    legal = legal_for(settings, sample, {ref: n.number for ref, n in numbers.items()}, opener_for(settings).open)
    print("\n" + render_text(sample, legal=legal))
    html_path = workdir / f"invoice-{legal.number or sample.invoice_number}.html"
    html_path.write_text(render_html(sample, legal=legal))
    pdf_path = html_path.with_suffix(".pdf")
    pdf_path.write_bytes(render_pdf(sample, legal=legal))
    print(f"\n  rendered for the customer: {html_path} and {pdf_path.name}")
    # Only one close happened, so each account's customer debits are exactly its invoice.
    by_account: dict[str, int] = defaultdict(int)
    for inv in invoices:
        by_account[inv.account_id] += inv.total_micros
    ok = all(debits.get(a, 0) == total for a, total in by_account.items())
    print(f"Every invoice total equals the customer's journal debits it covers: {'yes' if ok else 'NO'}")
    # The month's close is one epoch: once every partition passed its tick, all are numbered.
    all_numbered = {i.invoice_number for i in invoices} == set(numbers)
    gaps = gaps_by_issuer_year(numbers)
    span = ", ".join(f"{k}: {min(n.number for n in numbers.values() if f'{n.issuer} {n.year}' == k)} .. "
                     f"{max(n.number for n in numbers.values() if f'{n.issuer} {n.year}' == k)}"
                     for k in sorted({f"{n.issuer} {n.year}" for n in numbers.values()}))
    print(f"Every invoice has a legal number, gapless per issuer and year ({span}): "
          f"{'yes' if all_numbered and not gaps else f'NO {gaps}'}")
    return 0 if ok and all_numbered and not gaps else 1


def sealed_cdrs(codec, values: list[bytes]) -> tuple[int, int]:  # noqa: ANN001 - EventCodec
    """(CDRs whose caller and callee are sealed, CDRs) among the events topic's messages."""
    sealed = total = 0
    for value in values:
        for event in codec.decode(value):
            if isinstance(event, CallDetailRecord):
                total += 1
                sealed += is_sealed(event.callee) and (not event.caller or is_sealed(event.caller))
    return sealed, total


def print_privacy(latest: list[tuple], sealed: int, cdrs: int, sealing: bool) -> int:
    print("\nLatest answered calls (ClickHouse call_log; analysts read the anonymised copy instead, R34):")
    for start, account, caller, callee, dest, billed_s, charge, currency in latest:
        print(f"  {start}  {account:<12} {caller:>14} -> {callee:<16} {dest:<22} {billed_s:>5} s "
              f"{Money(int(charge), currency).format():>14}")
    ok = sealed == cdrs if sealing else True
    print(f"CDRs on the events topic with caller and callee sealed by the subscriber's key (R32): {sealed} of "
          f"{cdrs}: {'yes' if ok else 'NO'}" + ("" if sealing else " (seal_personal_data is off)"))
    return 0 if ok else 1


def simulate_and_produce(settings: Settings, spec: SimulationSpec, envelope_max: int) -> Counter:
    """The simulated stream, each call as the switch let it run, on the events topic; returns what
    the switch decided."""
    events, switched = authorize_calls(simulate(spec), fold_settings_from(settings),
                                       settings.authorization_quota_seconds)
    say(f"simulated {len(events)} events for {spec.accounts} accounts over {spec.days} days "
        f"({spec.calls} calls, ~{spec.duplicate_ratio_percent}% re-sent and ~{spec.correction_ratio_percent}% corrected "
        f"by carriers); the switch asked "
        f"before each call (R10): {sum(v for k, v in switched.items() if k.startswith('refused'))} refused")
    asyncio.run(ensure_topics(settings))
    next_offsets = asyncio.run(produce_events(
        settings, events, envelope_max=envelope_max,
        progress=lambda n: say(f"  produced {n} messages") if n % 20_000 == 0 else None))
    say(f"produced {sum(next_offsets.values())} Kafka messages to {settings.events_topic} (envelopes of up to "
        f"{envelope_max} CDRs)")
    return switched


def print_corrections(corrected: list[tuple[str, int, int]]) -> None:
    """Carriers' corrections: re-rated, the difference posted once (issue 18)."""
    print("\nCarrier corrections (a later revision re-rates the call; the difference is posted, not a 2nd charge):")
    for currency, n, difference in corrected:
        print(f"  {currency}  {n:>5} calls corrected, difference {Money(difference, currency).format():>20}")


def print_switch(states: dict, switched: Counter) -> int:
    """R10: what the simulated switch decided, and that no prepaid balance fell below zero."""
    print("\nThe switch asked before each call how long it may last (R10):")
    for outcome, n in sorted(switched.items()):
        print(f"  {outcome:<40} {n:>7} calls")
    below = sum(1 for s in states.values() if s.billing_mode == "prepaid" and s.balance_micros < 0)
    print(f"No prepaid balance below zero: {'yes' if not below else f'NO ({below})'}")
    return 0 if not below else 1


def print_report(states: dict, summary: list[tuple], top: list[tuple], dead_letters: int,
                 from_journal: dict[str, int], trial: list[tuple], usage: dict[str, int]) -> int:
    print("\n== Balances (accounts table) ==")
    by_currency: dict[str, list] = defaultdict(list)
    for s in states.values():
        by_currency[s.currency].append(s)
    for currency in sorted(by_currency):
        group = by_currency[currency]
        total = sum(s.balance_micros for s in group)
        charged = sum(s.charged_micros for s in group)
        paid = sum(s.paid_micros for s in group)
        negative = sum(1 for s in group if s.balance_micros < 0)
        print(f"{currency}: {len(group)} accounts, paid {Money(paid, currency).format()}, "
              f"charged {Money(charged, currency).format()}, balance {Money(total, currency).format()}, "
              f"{negative} below zero")
    print("\nLowest balances:")
    print(f"  {'account':<12} {'mode':<9} {'calls':>6} {'balance':>22}")
    for s in sorted(states.values(), key=lambda s: (s.balance_micros, s.account_id))[:8]:
        print(f"  {s.account_id:<12} {s.billing_mode:<9} {s.calls_charged:>6} "
              f"{Money(s.balance_micros, s.currency).format():>22}")
    print("\n== Call log (ClickHouse, FINAL) ==")
    print(f"  {'currency':<8} {'calls':>8} {'answered':>9} {'billed min':>11} {'charges':>22}")
    consistent = True
    for currency, calls, answered, billed_s, charge in summary:
        print(f"  {currency:<8} {calls:>8} {answered:>9} {billed_s // 60:>11} "
              f"{Money(int(charge), currency).format():>22}")
        consistent &= int(charge) == usage.get(currency, 0)
    print("\nTop destinations by charges:")
    for name, currency, calls, billed_s, charge in top:
        print(f"  {name:<34} {calls:>7} calls {billed_s // 60:>8} min {Money(int(charge), currency).format():>20}")
    print(f"\nDead letters: {dead_letters}")
    verdict = "yes" if consistent else "NO"
    print(f"Call-log charges equal the journal's usage revenue to the micro-unit: {verdict}")
    journal_ok = all(from_journal.get(a, 0) == s.balance_micros for a, s in states.items())
    print(f"Every balance equals the sum of its journal postings: {'yes' if journal_ok else 'NO'}")
    trial_ok = all(total == 0 for _, total in trial)
    print("Trial balance: " + ", ".join(f"{c} {Money(t, c).format()}" for c, t in trial)
          + (" (balanced)" if trial_ok else " (NOT BALANCED)"))
    return 0 if consistent and journal_ok and trial_ok else 1
