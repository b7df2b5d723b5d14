"""Rebuild and self-check through the real CLI: ``voiceledger rebuild`` folds the log from offset 0
into fresh state whose canonical hash equals the live state's, journal included, and reissues
every invoice of a month close byte for byte (R13) with the same legal numbers, gapless per issuer
and year across every partition (issue 6); ``voiceledger verify`` passes on a healthy
ledger (balances = journal, trial balance zero, R7/R9) and fails, with exit 1, on a
deliberately broken journal. Journal entries also reach ``ledger.entries``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import pytest

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from projections.events import AccountOpened, PeriodTicked, RateCardAssigned, TickKind
from projections.journal import balances_from_journal
from projections.periods import period_start_ms
from schemas.codec import EventCodec
from streams.clickhouse.client import connect
from streams.worker.supervise import worker_env
from streams.clickhouse.journal import JOURNAL_COLUMNS
from streams.config.settings import EXAMPLE_TAX_RULES
from streams.kafka.invoice_feed import read_invoice_numbers
from streams.kafka.partitioning import partition_for
from streams.edge.publish import produce_events
from streams.kafka.producer import publish_tick
from streams.kafka.reader import read_topic
from streams.dev.simulate import SimulationSpec, simulate

from tests.integration.conftest import engine_url
from tests.integration.helpers import calls_by_node, live_states, oracle, run_worker_to_end, without_positions


@pytest.fixture(params=["server", pytest.param("cluster", marks=pytest.mark.cluster)])
def clickhouse_url(request, tmp_path):
    """On the server, and on the cluster (issue 21: rebuild, verify, reconcile, erase there)."""
    return engine_url(request, request.param, tmp_path)


def two_plans(tmp_path, settings) -> dict:
    """The business plan's card, two versions (half the standard US prices from 1 October, a
    third from 2 October), beside the default cards."""
    standard = (Path(__file__).resolve().parents[2] / "streams" / "data" / "standard-usd.csv").read_text()
    cards = []
    for day, divisor, name in (("2026-10-01", 2, "business-usd"), ("2026-10-02", 3, "business-usd"),
                               ("2026-10-01", 5, "acme-deal")):
        deck = tmp_path / name / day / f"{name}.csv"
        deck.parent.mkdir(parents=True)
        rows = standard.splitlines()
        cheaper = [rows[0]] + [",".join([f[0], f[1], f"{Decimal(f[2]) / divisor:.6f}", *f[3:]])
                               for f in (row.split(",") for row in rows[1:])]
        deck.write_text("\n".join(cheaper) + "\n")
        cards.append(f"{deck}|USD|{day}")
    return {"rate_cards": (*settings.rate_cards, *cards), "plan_cards": ("business:business-usd",),
            "deal_cards": ("acme-deal",)}


def read_call_log_cards(settings) -> list:
    from collections import namedtuple

    Row = namedtuple("Row", "card_id plan currency")
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        return [Row(*r) for r in ch.query("SELECT DISTINCT rate_card_id, plan, currency FROM call_log FINAL")]
    finally:
        ch.close()


def assert_no_number_on_any_replica(settings, account: str) -> None:
    """On a cluster: every replica of every shard holds the subscriber's rows without a number."""
    from streams.clickhouse import cluster

    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        calls_by_node(ch)  # every replica has fetched its shard's log
        found, down = cluster.on_every_node(ch, lambda node: node.query(
            f"SELECT count(), countIf(caller != '' OR match(callee, '[0-9]{{7,}}')) "
            f"FROM {cluster.stored(node, 'call_log')} WHERE account_id = '{account}'"))
    finally:
        ch.close()
    assert not down and sum(rows[0][0] for rows in found.values()) > 0, "the subscriber's calls are kept"
    assert all(rows[0][1] == 0 for rows in found.values()), found


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=worker_env(settings),
                          capture_output=True, text=True, timeout=600)


def test_R7_R9_R13_rebuild_equals_live_invoices_included_and_verify_catches_a_broken_journal(
        settings, tmp_path):
    settings = replace(settings, tax_rules=EXAMPLE_TAX_RULES, **two_plans(tmp_path, settings))
    offsets = fold_two_plans_and_a_deal(settings, tmp_path)
    invoices, numbers = check_invoices_and_their_numbers(settings)
    sample = next(iter(sorted(invoices.values(), key=lambda i: i.invoice_number)))
    check_what_finance_reads(settings, tmp_path, sample, numbers[sample.invoice_number].number)
    live = check_the_books(settings, tmp_path, len(invoices))
    erase_a_subscriber(settings, tmp_path, sample.account_id, live, offsets)
    check_the_rebuild(settings, tmp_path, len(invoices))
    check_verify_catches_tampering(settings, tmp_path, live)


def fold_two_plans_and_a_deal(settings, tmp_path) -> dict[int, int]:  # noqa: ANN001 - Settings
    """The live fold of two days of calls over two plans and a deal, closed by November's tick:
    equal to the pure fold, each plan priced with its own cards. The offsets folded."""
    # Issue 20: every third account is on the business plan, priced with its own card, whose
    # price changes on 2 October (R5): a rebuild must select exactly as live did.
    events = [replace(e, plan="business") if isinstance(e, AccountOpened) and int(e.account_id[-6:]) % 3 == 0 else e
              for e in simulate(SimulationSpec(accounts=200, calls=3_000, days=2, seed=23))]
    # And half-way through, one residential USD customer gets a deal of their own.
    middle = len(events) // 2
    dealer = next(e.account_id for e in events if isinstance(e, AccountOpened) and e.currency == "USD"
                  and e.plan != "business")
    at = next(getattr(events[middle], f) for f in ("start_at_ms", "received_at_ms", "occurred_at_ms")
              if hasattr(events[middle], f))
    events.insert(middle, RateCardAssigned("deal-1", dealer, at, "acme-deal"))
    asyncio.run(produce_events(settings, events, envelope_max=40))
    # The month-start tick closes October (R13): every account with charges gets an invoice.
    close_at = period_start_ms("2026-11", "UTC")
    offsets = asyncio.run(publish_tick(settings, close_at))
    assert run_worker_to_end(settings, offsets, tmp_path / "live.log") == 0
    tick = PeriodTicked(f"tick:{close_at}", close_at, TickKind.HOUR, "2026-11", "UTC")
    assert without_positions(live_states(settings)) == without_positions(oracle(settings, [*events, tick]))
    business_cards = {r.card_id for r in read_call_log_cards(settings) if r.plan == "business" and r.currency == "USD"}
    assert business_cards == {"business-usd@2026-10-01", "business-usd@2026-10-02"}, "both versions priced calls"
    assert {r.card_id for r in read_call_log_cards(settings) if r.plan == "residential-basic" and r.currency == "USD"} \
        == {"standard-usd@2020-01-01", "acme-deal@2026-10-01"}, "the other plan keeps the default card, but a deal"
    return offsets


def check_invoices_and_their_numbers(settings) -> tuple[dict, dict]:  # noqa: ANN001 - Settings
    """October's invoices, one per charged account, and their legal numbers; both by reference."""
    codec = EventCodec()
    invoices = {codec.decode_event(r.value).invoice_number: codec.decode_event(r.value)
                for r in asyncio.run(read_topic(settings.broker, settings.invoices_topic))}
    charged = {a for a, s in live_states(settings).items() if s.charged_micros}
    assert {i.account_id for i in invoices.values()} == charged
    assert all(i.period == "2026-10" for i in invoices.values())
    # Legal numbers: one sequence for the issuer over all four partitions, 1..n, in the
    # canonical order of the epoch (issue time, then account).
    numbers = read_invoice_numbers(settings)
    assert set(numbers) == set(invoices)
    ordered = sorted(numbers.values(), key=lambda n: (invoices[n.reference].occurred_at_ms, n.account_id, n.reference))
    assert [n.number for n in ordered] == [f"VL-2026-{i:06d}" for i in range(1, len(invoices) + 1)]
    assert len({partition_for(n.account_id, settings.partitions) for n in ordered}) == settings.partitions
    return invoices, numbers


def check_what_finance_reads(settings, tmp_path, sample, legal: str) -> None:  # noqa: ANN001
    """An account's invoices as text, HTML and PDF, and its statements (R20)."""
    shown = cli(settings, "invoices", "--account", sample.account_id, "--html", str(tmp_path / "html"),
                "--pdf", str(tmp_path / "pdf"))
    assert shown.returncode == 0, shown.stderr
    assert f"Invoice {legal}   reference {sample.invoice_number}" in shown.stdout
    assert shown.stdout.rstrip().endswith(f"1 invoice(s), HTML in {tmp_path / 'html'}, PDF in {tmp_path / 'pdf'}")
    page = (tmp_path / "html" / f"{legal}.html").read_text()
    assert legal in page and sample.invoice_number in page and "Payments received since the previous invoice" in page
    assert (tmp_path / "pdf" / f"{legal}.pdf").read_bytes().startswith(b"%PDF-")
    # R20: the statement of November shows the invoice issued on 1 November; June is refused.
    month = cli(settings, "statement", sample.account_id, "--as-of", "2026-12-24", "--month", "2026-11")
    assert month.returncode == 0 and f"{legal}   {sample.invoice_number}" in month.stdout, month.stdout + month.stderr
    old = cli(settings, "statement", sample.account_id, "--as-of", "2026-12-24", "--month", "2026-06")
    assert old.returncode == 2 and "(2026-09, 2026-10, 2026-11, 2026-12) (R20)" in old.stderr


def check_the_books(settings, tmp_path, invoiced: int) -> dict:  # noqa: ANN001
    """Reconciliation, the entries on the log and ``verify`` all agree; the live states."""
    # Finance reconciliation: October's calls against the journal, November's invoices against
    # their lines and the journal's tax payable, the trial balance.
    for month in ("2026-10", "2026-11"):
        rec = cli(settings, "reconcile", "--month", month)
        assert rec.returncode == 0 and f"reconciliation of {month}: OK" in rec.stdout, rec.stdout + rec.stderr
    assert f"invoices: {invoiced} issued in 2026-11" in rec.stdout
    # Every entry on ledger.entries balances, and the entries alone give the balances.
    codec = EventCodec()
    entries = {e.entry_id: e for r in asyncio.run(read_topic(settings.broker, settings.ledger_entries_topic))
               for e in codec.decode_journal_message(r.value)}
    live = live_states(settings)
    from_entries = balances_from_journal(list(entries.values()))
    assert {a: s.balance_micros for a, s in live.items() if s.balance_micros} == \
        {a: b for a, b in from_entries.items() if b}
    ok = cli(settings, "verify", "--metrics-file", str(tmp_path / "verify.prom"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "voiceledger_verify_differences 0\n" in (tmp_path / "verify.prom").read_text()
    assert "ledger verified" in ok.stdout
    return live


def erase_a_subscriber(settings, tmp_path, erased: str, live: dict, offsets: dict[int, int]) -> None:  # noqa: ANN001
    """R32: call-log rows anonymised, the request logged, the worker drops the subscriber's
    numbers from the account's state; the rebuild after must agree."""
    assert live[erased].numbers
    er = cli(settings, "subscriber", "erase", erased, "--yes", "--ref", "gdpr-42")
    assert er.returncode == 0, er.stdout + er.stderr
    assert json.loads(er.stdout)["erasure_event"] == f"erase:{erased}:gdpr-42"
    offsets[partition_for(erased, settings.partitions)] += 1
    assert run_worker_to_end(settings, offsets, tmp_path / "erase.log") == 0
    after = live_states(settings)
    assert after[erased].numbers == () and after[erased].balance_micros == live[erased].balance_micros
    assert all(after[a].numbers == live[a].numbers for a in live if a != erased)
    if settings.clickhouse_cluster:
        assert_no_number_on_any_replica(settings, erased)


def check_the_rebuild(settings, tmp_path, invoiced: int) -> None:  # noqa: ANN001 - Settings
    """``voiceledger rebuild`` by two workers sharing the partitions, into a new app id and
    database: every hash equals live's, legal numbers included (one numbering stage per worker)."""
    rebuilt_url = settings.clickhouse_url.rsplit("/", 1)[0] + f"/rebuilt_{uuid.uuid4().hex[:10]}"
    rb = cli(settings, "rebuild", "--app-id", settings.app_id + "-rebuild", "--clickhouse-url", rebuilt_url,
             "--log", str(tmp_path / "rebuild.log"), "--workers", "2")
    assert rb.returncode == 0, rb.stdout + rb.stderr
    assert (tmp_path / "rebuild.1.log").exists(), "the second worker wrote its own log"
    assert "messages committed" in rb.stderr, "an operator sees the rebuild's progress"
    hashes = dict(line.split("\t") for line in rb.stdout.splitlines() if "\t" in line)
    assert hashes["live_state"] == hashes["rebuilt_state"]
    assert hashes["live_journal"] == hashes["rebuilt_journal"]
    # R32: the erased subscriber's call-log rows, anonymised in place live, are written in the same
    # anonymised form by the rebuild (their key is gone); every other row is the same as well.
    assert hashes["live_call_log"] == hashes["rebuilt_call_log"]
    # Every invoice again, byte for byte, numbers included.
    assert hashes["live_invoices"] == hashes["rebuilt_invoices"]
    assert hashes["live_invoices"].startswith(f"{invoiced}:")
    # The rebuild's own numbering stage gives every invoice the same legal number again.
    assert hashes["live_numbers"] == hashes["rebuilt_numbers"]
    assert hashes["live_numbers"].startswith(f"{invoiced}:")


def check_verify_catches_tampering(settings, tmp_path, live: dict) -> None:  # noqa: ANN001 - Settings
    """Break the books: ``verify`` and ``reconcile`` both say where."""
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        victim = sorted(live)[0]
        # One unbalanced posting on a customer account.
        ch.insert("journal", JOURNAL_COLUMNS,
                  [("tampered", 0, victim, "usage", 1_790_812_800, live[victim].currency, f"customer:{victim}", 1)])
        # And a balanced entry that invents usage revenue no call explains.
        ch.insert("journal", JOURNAL_COLUMNS,
                  [("tampered-2", i, victim, "usage", 1_790_812_800, live[victim].currency, acct, amount)
                   for i, (acct, amount) in enumerate(((f"customer:{victim}", 5), ("revenue:usage:domestic", -5)))])
    finally:
        ch.close()
    bad = cli(settings, "verify", "--metrics-file", str(tmp_path / "verify.prom"))
    assert bad.returncode == 1
    assert "voiceledger_verify_differences 0\n" not in (tmp_path / "verify.prom").read_text()
    assert f"{victim}: balance" in bad.stdout and "trial balance in" in bad.stdout
    broken = cli(settings, "reconcile", "--month", "2026-10")
    assert broken.returncode == 1 and "trial balance in" in broken.stdout, broken.stdout + broken.stderr
    assert f"{victim} usage:domestic: call log charges" in broken.stdout


@pytest.mark.parametrize("clickhouse_url", ["chdb"], indirect=True)
def test_a_rebuild_is_given_up_only_when_its_workers_stop_committing(settings):
    """A rebuild runs as long as the log is long (hours for a year of CDRs); what fails it is a
    group that commits nothing for ``stall_s``: here a "worker" that never folds. It is stopped,
    and the error names the stall and what is left."""
    import time

    from streams.worker.supervise import WorkerError, supervise_until_committed

    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    started = time.monotonic()
    stalled = r"nothing committed for 3 s \(partition: \(committed, target\) \{0: \(None, 5\)"
    with pytest.raises(WorkerError, match=stalled):
        supervise_until_committed(settings, [idle], {0: 5}, [None], stall_s=3, show_progress=False)
    assert idle.poll() is not None, "the stalled worker is stopped"
    assert 3 <= time.monotonic() - started < 60
