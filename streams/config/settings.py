"""Settings: one TOML file, environment overrides, typed, parsed and validated once at start.

Precedence: defaults < TOML file (``--config`` or ``VOICELEDGER_CONFIG``) < environment
(``VOICELEDGER_<NAME>``, e.g. ``VOICELEDGER_BROKER``). Every setting is declared once below with
its type, default and check: an integer or a float has bounds, a string a format (a check from
``streams/config/checks.py``), a list the format of each item. A wrong value raises
``ConfigError`` whose one-line message starts with the setting's name; the CLI prints it and
exits 2. A whole number setting takes only a whole number ("4.5", "true" or 4.5 are refused),
and a float only a finite number.

The structured settings (``plan:amount`` lists, tax rules) are parsed by the same function that
validates them, once per ``Settings`` object (``plans``, ``taxes_by_key``).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from projections.invoicing import TaxRule
from streams.config import checks

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"  # streams/data: the default rate cards
DEFAULT_RATE_CARDS = (
    f"{PACKAGE_DATA / 'standard-usd.csv'}|USD|2020-01-01",
    f"{PACKAGE_DATA / 'standard-eur.csv'}|EUR|2020-01-01",
)
STRING_LENGTH_MAX = 4_096  # any text setting; a list setting's items each
LIST_ITEMS_MAX = 1_000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_INTERIM_THRESHOLD_MICROS = 50_000_000  # R18: when interim_threshold names only currencies of their own
# R32's 30 days, less the day a dead-letter segment may stay open before retention can delete it
# (streams/kafka/topics.py rolls that topic's segments daily) and a day's margin.
DEAD_LETTER_DAYS_SEALED_MAX = 28


class ConfigError(ValueError):
    """A setting is missing or wrong. The message starts with the setting's name."""


def setting(default: Any, *, low: float | None = None, high: float | None = None,
            check: Callable[[Any], Any] | None = None) -> Any:
    """A setting's default, with its bounds (numbers) or its check (text and lists)."""
    return field(default=default, metadata={"low": low, "high": high, "check": check})


@dataclass(frozen=True)
class Settings:
    # Kafka bootstrap servers, "host:port[,host:port]"; "embedded" starts a local broker (demo).
    broker: str = setting("127.0.0.1:9092", check=checks.broker)
    # "kafka", or "tansu" for the embedded broker: Tansu 0.6 reports a partition's end offset
    # as the base offset of its last record batch + 1, and Faust's table recovery stops at that
    # offset. With "tansu" every producer sends one record per batch, which keeps it exact.
    broker_flavor: str = setting("kafka", check=checks.one_of("kafka", "tansu"))
    # clickhouse://user:pass@host:9000/db, clickhouses://... (TLS) or chdb:///path
    clickhouse_url: str = setting("chdb://.voiceledger/chdb", check=checks.clickhouse_url)
    # The cluster (a name in the servers' remote_servers) the ledger's tables are sharded and
    # replicated on (streams/clickhouse/cluster.py); empty: one server, or chDB.
    clickhouse_cluster: str = setting("", check=checks.identifier_if_set)
    # A Confluent-compatible Schema Registry (http(s)://[user:pass@]host:port); empty: the
    # file registry committed in schemas/registry.json.
    schema_registry_url: str = setting("", check=checks.registry_url)
    # R35: TLS and SASL to Kafka (streams/kafka/security.py). The SASL password is never a
    # setting: kafka_sasl_password_file, or the VOICELEDGER_KAFKA_SASL_PASSWORD variable.
    kafka_security_protocol: str = setting("PLAINTEXT", check=checks.one_of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))
    kafka_ssl_cafile: str = setting("", check=checks.file_if_set)
    kafka_ssl_certfile: str = setting("", check=checks.file_if_set)
    kafka_ssl_keyfile: str = setting("", check=checks.file_if_set)
    kafka_sasl_mechanism: str = setting("PLAIN", check=checks.one_of("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"))
    kafka_sasl_username: str = setting("")
    kafka_sasl_password_file: str = setting("", check=checks.file_if_set)
    app_id: str = setting("voiceledger", check=checks.topic)
    events_topic: str = setting("voiceledger.events", check=checks.topic)
    dead_letter_topic: str = setting("voiceledger.dead-letter", check=checks.topic)
    ledger_entries_topic: str = setting("voiceledger.ledger.entries", check=checks.topic)
    calls_rated_topic: str = setting("voiceledger.calls.rated", check=checks.topic)
    # The two feeds above are for consumers downstream (finance's ledger, analytics). Off, the
    # worker writes neither, and spares itself and the broker a record per call: a rebuild's
    # workers, whose feeds nothing reads (streams/ledger/selfcheck.py), or a deployment without
    # such consumers. The journal and the call log in ClickHouse are written either way.
    publish_feeds: bool = setting(True)
    # Lifecycle transitions (AccountStatusChanged), keyed by account, for switches to block numbers.
    account_status_topic: str = setting("voiceledger.account.status", check=checks.topic)
    # Issued invoices (InvoiceIssued), keyed by account: the monthly close and final invoices.
    invoices_topic: str = setting("voiceledger.invoices", check=checks.topic)
    # Invoice numbering (projections/numbering.py): drafts and ticks in, legal numbers out; one
    # partition each.
    invoice_numbering_topic: str = setting("voiceledger.invoice-numbering", check=checks.topic)
    invoice_numbers_topic: str = setting("voiceledger.invoice-numbers", check=checks.topic)
    # Drafts per record of the numbering stage's state (streams/worker/numbering_store.py):
    # 2,000 is the most that fits the largest record with the longest ids. Lower to test the
    # records' split with a few invoices.
    numbering_record_drafts: int = setting(2_000, low=10, high=2_000)
    # Published rate cards (voiceledger rates import): one partition, compacted.
    rates_topic: str = setting("voiceledger.rates", check=checks.topic)
    # Each version of the fold's settings, as a worker first ran it (streams/config/versions.py):
    # one partition, kept for ever. A rebuild's worker reads the live workers' (the same name).
    settings_topic: str = setting("voiceledger.settings", check=checks.topic)
    # Subscribers' erasure requests and their answers (portal_erasure = reviewed;
    # streams/ledger/erasure_queue.py): one partition, kept for ever, the record that R32's
    # 30 days were kept.
    erasure_requests_topic: str = setting("voiceledger.erasure-requests", check=checks.topic)
    # Topic retention (streams/kafka/topics.py): the events topic keeps every record; a worker
    # refuses one that expires unless this says the log is kept elsewhere (tiered storage, a mirror).
    allow_finite_event_retention: bool = setting(False)
    # R32: a record the edge rejects (ingest, receive) reaches the dead-letter topic as it was
    # read, numbers in clear (its account may be unknown), so with seal_personal_data the topic
    # must let it go before an erasure's 30-day deadline: _check_together.
    dead_letter_retention_days: int = setting(28, low=1, high=3_650)
    calls_rated_retention_days: int = setting(90, low=1, high=3_650)
    partitions: int = setting(4, low=1, high=1024)
    replication_factor: int = setting(1, low=1, high=32)
    # Batching: a batch closes at this many messages or after this wait, whichever is first.
    batch_messages_max: int = setting(2_000, low=1, high=100_000)
    batch_wait_seconds: float = setting(0.25, low=0.001, high=60)
    # A batch is folded in parts and writes each account's state once, at its end
    # (streams/worker/fold_stage.py); in a large batch, states are written before that once the
    # oldest unwritten one has waited this long (0: after every part). Until then a switch's
    # authorization sees the account as it was, with the holds of its finished calls still on.
    state_write_seconds: float = setting(5.0, low=0, high=300)
    # `voiceledger receive`: a posted CDR waits this long for the calls posted beside it, and they
    # go to the log in one envelope (a worker folds single-CDR messages at half the rate); every
    # switch's answer waits it too. 0: each call leaves in the event-loop turn it came in.
    receiver_linger_ms: int = setting(5, low=0, high=1_000)
    # Bytes the consumer fetches per partition at a time; bounds a batch's size and the memory
    # of fetched-but-unprocessed records (this times the partitions a worker owns).
    fetch_bytes_per_partition: int = setting(8 * 1024 * 1024, low=64 * 1024, high=256 * 1024 * 1024)
    # A batch is folded and written in parts of at most this many message bytes: the fold blocks
    # the event loop, and heartbeats must reach the broker within session_timeout_seconds.
    # 8 MiB is ~32k sealed CDRs, ~3.5 s of folding on this 2-core machine.
    batch_bytes_max: int = setting(8 * 1024 * 1024, low=64 * 1024, high=256 * 1024 * 1024)
    # Rate cards: "path.csv|CURRENCY|valid-from-date", comma separated.
    rate_cards: tuple[str, ...] = setting(DEFAULT_RATE_CARDS, check=checks.rate_cards)
    on_net_prefixes: tuple[str, ...] = setting(("1555", "3278"), check=checks.prefixes)  # the provider's own number ranges (R3)
    # R4: "plan:minutes" per calendar month of domestic usage, comma separated; changed from a
    # month by one more entry "plan:minutes@YYYY-MM", as monthly_fees below.
    included_minutes: tuple[str, ...] = setting((), check=checks.plan_minutes)
    country_code: str = setting("1", check=checks.digits)
    # The plans this provider sells, as Lago's and Kill Bill's catalogues name them. Set: an
    # account is opened on, or moved to, only one of these (the API and CLI refuse any other
    # name), and every plan the settings below name must be one (a typo in a fee is refused at
    # start, not billed as a plan without one). Empty: any plan name is taken as given. The fold
    # never checks it, so a rebuild never depends on today's catalogue.
    plans: tuple[str, ...] = setting((), check=checks.plan_names)
    # Plans no longer sold whose accounts stay on them: the settings may still name them (their
    # fees, cards, terms), and no account is opened on or moved to one.
    retired_plans: tuple[str, ...] = setting((), check=checks.plan_names)
    # The lifecycle (projections/lifecycle.py). R14: "plan:amount" monthly fees, charged in
    # advance in the account's currency, comma separated; plans not named have no fee. A price
    # change is one more entry, "plan:amount@YYYY-MM", charged from that month on: add it before
    # its month begins and never edit one whose month has begun, so that a rebuild, which folds
    # every month with today's settings, charges what live did (docs/billing.md).
    monthly_fees: tuple[str, ...] = setting((), check=checks.plan_fees)
    # R26, in the account's currency: "amount", or "CUR:amount" for a currency's own; changed
    # from a month by "...@YYYY-MM" (the month the termination takes effect in), as monthly_fees.
    termination_fee: tuple[str, ...] = setting(("0",), check=checks.dated_amounts)
    # R21: "plan:amount" connection fees; a plan change to a higher one charges the difference.
    # Dated changes ("@YYYY-MM") as monthly_fees, for the upgrades taking effect from that month.
    connection_fees: tuple[str, ...] = setting((), check=checks.plan_fees)
    # Calls received on a rented number, billed to its owner (issue 18): "plan:amount" per minute,
    # comma separated; plans not named receive calls free. Dated changes as monthly_fees.
    inbound_rates: tuple[str, ...] = setting((), check=checks.plan_fees)
    # R10 for postpaid accounts: "plan:amount" or "plan:CUR:amount" credit limits. A postpaid
    # account on such a plan is authorized calls while what it owes, held calls and the taxes
    # its invoice will add stay within the limit; plans not named have none. Read by the
    # authorization endpoint only, never by the fold: a change needs no date.
    credit_limits: tuple[str, ...] = setting((), check=checks.plan_amounts)
    registration_grace_hours: int = setting(36, low=1, high=8_760)  # R12
    inactivity_days: int = setting(0, low=0, high=3_650)  # R28; 0: never deactivate
    # R18: a postpaid debt above this (in the account's currency) is announced: "amount" for any
    # currency, and "CUR:amount" for currencies that need their own (JPY:7500).
    interim_threshold: tuple[str, ...] = setting(("50.00",), check=checks.currency_amounts)
    # Invoicing (projections/invoicing.py): the issuer's prefix of invoice numbers, and R17 tax
    # rules "KEY:JURISDICTION:PERCENT:Name", comma separated. KEY is an account's tax
    # jurisdiction (AccountOpened.tax_jurisdiction, e.g. US-NY) or, for accounts without rules of
    # their own, a currency (EXAMPLE_TAX_RULES shows both). None by default. A change of rates is
    # the key's rules again, each dated "@YYYY-MM" by the first period invoiced with them; added
    # before that month begins, as a fee's change (docs/billing.md).
    invoice_issuer: str = setting("VL", check=checks.issuer)
    tax_rules: tuple[str, ...] = setting((), check=checks.tax_rules)
    # What a legal invoice states about its issuer (issue 20; EU VAT Directive Art. 226): the
    # legal name, the address (lines separated by "\n"), the VAT or tax id, the registration,
    # how to pay; the locale of its dates and amounts; days to pay, by default and per plan.
    issuer_name: str = setting("VoiceLedger Telecom", check=checks.printable)
    issuer_address: str = setting("", check=checks.printable)
    issuer_tax_id: str = setting("", check=checks.printable)
    issuer_registration: str = setting("", check=checks.printable)
    payment_instructions: str = setting("", check=checks.printable)
    invoice_locale: str = setting("en", check=checks.locale)
    # The zone finance closes its books in: the months of trial-balance and reconcile and the day
    # of receivables --as-of (an account's own invoices keep the account's zone, R13).
    books_time_zone: str = setting("UTC", check=checks.time_zone)
    payment_terms_days: int = setting(14, low=0, high=365)
    payment_terms: tuple[str, ...] = setting((), check=checks.plan_days)
    # Tariff plans (issue 20): "plan:card|card", the names of the rate cards that price a plan's
    # calls (a card's name is its id before "@"); plans not listed, and accounts of them, use the
    # cards no plan names.
    plan_cards: tuple[str, ...] = setting((), check=checks.plan_cards)
    # Cards kept for accounts' own deals (voiceledger account deal): never a default card.
    deal_cards: tuple[str, ...] = setting((), check=checks.plan_names)
    # R36: plans sold to residential customers; the business-on-residential report watches them.
    residential_plans: tuple[str, ...] = setting((), check=checks.plan_names)
    # R30: call-log rows are kept this many years (never fewer than five), then aggregated.
    retention_years: int = setting(5, low=5, high=100)
    dedup_window_days: int = setting(7, low=1, high=400)
    # R31, R32, R35: crypto-shredding (streams/edge/sealing.py). The edge seals a CDR's caller and
    # callee and an account's own numbers with the subscriber's key from this store (shared by
    # ingest, workers and the CLI; a KMS in production); erasure deletes the key. Rating reads
    # the first route_digits digits of the called number, kept in clear (1-6; rate-card
    # prefixes may be no longer). Off: the edge puts numbers on the log in clear.
    seal_personal_data: bool = setting(True)
    subscriber_keys_dir: str = setting(".voiceledger/subscriber-keys", check=checks.directory)
    # A worker opens sealed CDRs in a process beside it, on another core, while it decodes and
    # routes the batch (streams/worker/opening.py, issue 22). Off: it opens them itself, as on a
    # machine with one core or whose cores the workers already fill, where the process would
    # only take turns with them.
    open_sealed_beside_fold: bool = setting(True)
    # Where a worker writes what it needs locally (Faust's data directory): a writable volume in
    # an image or a unit, never the install directory.
    data_dir: str = setting(".voiceledger", check=checks.directory)
    route_digits: int = setting(6, low=1, high=6)
    # An event dated further ahead of its own log time than this is refused (a bad clock).
    max_clock_skew_seconds: int = setting(3_600, low=0, high=7 * 86_400)
    # A published card takes effect at its valid-from, but never before this long after it was
    # logged; at least max_clock_skew_seconds, which makes rebuilds rate exactly as live did
    # (projections/rate_book.py explains why).
    rate_card_lead_seconds: int = setting(3_900, low=0, high=90 * 86_400)
    # At most 100,000: each key takes 64 bytes of the account's state record (its dedup key and
    # its call's charge), which must stay within a record's 8 MiB (streams/kafka/topics.py).
    dedup_max_keys: int = setting(20_000, low=100, high=100_000)
    metrics_port: int = setting(9464, low=0, high=65_535)  # 0 disables the /metrics endpoint
    # R10: the authorization endpoint (0 disables it) and the host other workers and switches
    # reach this worker at (redirects name it). Holds last a call's quota plus the grace.
    authorization_port: int = setting(0, low=0, high=65_535)
    authorization_host: str = setting("127.0.0.1", check=checks.host)
    # The address the worker's HTTP endpoints (/metrics, /healthz, /readyz, authorization) listen
    # on: loopback unless set (0.0.0.0 in a container, where Prometheus and switches reach it).
    http_bind_host: str = setting("127.0.0.1", check=checks.host)
    authorization_quota_seconds: int = setting(3_600, low=1, high=4 * 3_600)
    # The authorization process's real-time priority (SCHED_FIFO 1-99; 0: an ordinary process),
    # as FreeSWITCH's -rp: a switch's call setup waits on it, the fold does not. It needs
    # LimitRTPRIO= (systemd) or CAP_SYS_NICE; without either the worker fails at start.
    authorization_realtime_priority: int = setting(0, low=0, high=99)
    # R35: the HTTP API's bearer tokens, "TOKEN SCOPE" per line (streams/config/tokens.py); empty
    # leaves the API open to anyone who can reach the port (the worker warns at start).
    api_tokens_file: str = setting("", check=checks.file_if_set)
    # voiceledger api (issue 19): the secret that signs customers' portal links and sessions
    # (streams/api/links.py), at least 32 bytes; empty: the portal is off. Where the API's own
    # pages and links point (the address customers reach it by), and how long a link lasts.
    portal_secret_file: str = setting("", check=checks.file_if_set)
    portal_base_url: str = setting("http://127.0.0.1:8080", check=checks.base_url)
    portal_link_days: int = setting(7, low=1, high=90)
    # R32: "at_once" erases a customer's data when they ask in the portal; "reviewed" logs their
    # request for an operator, who erases or declines it with a reason within 30 days (an open
    # dispute, a debt being collected, a fraud case may oblige the provider to keep the details).
    portal_erasure: str = setting("at_once", check=checks.one_of("at_once", "reviewed"))
    # The worker's authorization endpoint the API forwards POST /v1/.../authorizations to (any
    # worker: one that does not own the account redirects to the one that does); empty: none.
    worker_url: str = setting("", check=checks.base_url_if_set)
    reservation_grace_seconds: int = setting(120, low=0, high=86_400)
    commit_interval_seconds: float = setting(1.0, low=0.01, high=60)
    # A batch part still being written after this long makes /healthz unhealthy; after the
    # second, the worker exits (75) for its supervisor (a hung ClickHouse: streams/worker/watchdog.py).
    batch_stuck_seconds: int = setting(60, low=5, high=3_600)
    batch_stuck_exit_seconds: int = setting(180, low=10, high=7_200)
    session_timeout_seconds: float = setting(10.0, low=1, high=300)
    log_level: str = setting("warning", check=checks.one_of("debug", "info", "warning", "error", "critical"))

    @cached_property
    def _parsed(self) -> dict[str, Any]:
        """Each dated plan setting as (its undated entries, its changes), and the tax rules."""
        return {"included_minutes": _undated_and_changes(checks.plan_minutes(self.included_minutes)),
                "monthly_fees": _undated_and_changes(checks.plan_fees(self.monthly_fees)),
                "connection_fees": _undated_and_changes(checks.plan_fees(self.connection_fees)),
                "inbound_rates": _undated_and_changes(checks.plan_fees(self.inbound_rates)),
                "payment_terms": _undated_and_changes(checks.plan_days(self.payment_terms)),
                "termination_fee": _undated_and_changes(checks.dated_amounts(self.termination_fee)),
                "plan_cards": _undated_and_changes(checks.plan_cards(self.plan_cards)),
                "tax_rules": checks.tax_rules(self.tax_rules),
                "tax_rule_changes": checks.tax_rule_changes(self.tax_rules)}

    def included_seconds_by_plan(self) -> tuple[tuple[str, int], ...]:
        """R4: (plan, included seconds per calendar month), from ``included_minutes``."""
        return self._parsed["included_minutes"][0]

    def included_seconds_changes(self) -> tuple[tuple[str, str, int], ...]:
        """R4: (plan, first month, included seconds from it), from ``included_minutes``' dated entries."""
        return self._parsed["included_minutes"][1]

    def connection_fee_by_plan(self) -> tuple[tuple[str, int], ...]:
        """R21: (plan or "plan:CUR", connection fee in micro-units), from ``connection_fees``."""
        return self._parsed["connection_fees"][0]

    def connection_fee_changes(self) -> tuple[tuple[str, str, int], ...]:
        return self._parsed["connection_fees"][1]

    def inbound_rate_by_plan(self) -> tuple[tuple[str, int], ...]:
        """(plan or "plan:CUR", micro-units per minute of a call received on a rented number), from
        ``inbound_rates``."""
        return self._parsed["inbound_rates"][0]

    def inbound_rate_changes(self) -> tuple[tuple[str, str, int], ...]:
        return self._parsed["inbound_rates"][1]

    def credit_limit_by_plan(self) -> tuple[tuple[str, int], ...]:
        """R10: (plan or "plan:CUR", a postpaid account's credit limit in micro-units)."""
        return checks.plan_amounts(self.credit_limits)

    def plan_cards_by_plan(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(plan, the names of its cards) before any change, from ``plan_cards``."""
        return self._parsed["plan_cards"][0]

    def plan_card_changes(self) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        """(plan, first month, the names of its cards from it), from ``plan_cards``' dated entries."""
        return self._parsed["plan_cards"][1]

    def plan_card_names(self) -> frozenset[str]:
        """Every card a plan names, before or after a change: never anyone's default."""
        return frozenset(n for _, names in self.plan_cards_by_plan() for n in names) | frozenset(
            n for _, _, names in self.plan_card_changes() for n in names)

    def payment_terms_by_plan(self) -> tuple[tuple[str, int], ...]:
        """Days to pay an invoice, for the plans with their own term, from ``payment_terms``."""
        return self._parsed["payment_terms"][0]

    def payment_terms_changes(self) -> tuple[tuple[str, str, int], ...]:
        """(plan, first period invoiced with it, days), from ``payment_terms``' dated entries."""
        return self._parsed["payment_terms"][1]

    def termination_fees(self) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, str, int], ...]]:
        """R26: (("" or CUR, fee) before any change, ("" or CUR, first month, fee from it))."""
        return self._parsed["termination_fee"]

    def interim_thresholds(self) -> tuple[int, tuple[tuple[str, int], ...]]:
        """R18: (the threshold in any currency, (currency, threshold) where one has its own)."""
        anywhere, own = checks.currency_amounts(self.interim_threshold)
        return (DEFAULT_INTERIM_THRESHOLD_MICROS if anywhere is None else anywhere), own

    def monthly_fee_by_plan(self) -> tuple[tuple[str, int], ...]:
        """R14: (plan or "plan:CUR", monthly fee in micro-units), from ``monthly_fees``' entries
        without a month."""
        return self._parsed["monthly_fees"][0]

    def monthly_fee_changes(self) -> tuple[tuple[str, str, int], ...]:
        """R14: (plan or "plan:CUR", first month, monthly fee from it), from ``monthly_fees``' dated entries."""
        return self._parsed["monthly_fees"][1]

    def taxes_by_key(self) -> tuple[tuple[str, tuple[TaxRule, ...]], ...]:
        """R17: the tax rules per account jurisdiction or currency, from ``tax_rules``."""
        return self._parsed["tax_rules"]

    def tax_rule_changes(self) -> tuple[tuple[str, str, tuple[TaxRule, ...]], ...]:
        """R17: (key, first month, the key's rules from it), from ``tax_rules``' dated entries."""
        return self._parsed["tax_rule_changes"]

    def producer_batch_bytes_max(self) -> int:
        return 1 if self.broker_flavor == "tansu" else 1_048_576

    def accounts_changelog_topic(self) -> str:
        """The accounts table's changelog, named as Faust names it: <app_id>-<table>-changelog."""
        return f"{self.app_id}-accounts-changelog"

    def numbering_changelog_topic(self) -> str:
        """The invoice numbering stage's table's changelog (streams/worker/numbering.py)."""
        return f"{self.app_id}-numbering-changelog"

    def broker_url(self) -> str:
        return "kafka://" + ";".join(self.broker.split(","))


# R17 examples: a US profile (a federal surcharge and a state tax) and a Belgian one (21% VAT),
# for accounts opened with those jurisdictions and, as a fallback, for accounts of each currency.
_US_NY = ("US-FED:3.4:Federal universal service surcharge", "US-NY:4:New York State sales tax")
_BE = ("BE:21:VAT (BTW/TVA)",)
EXAMPLE_TAX_RULES = tuple(f"{key}:{rule}" for keys, rules in ((("US-NY", "USD"), _US_NY), (("BE", "EUR"), _BE))
                          for key in keys for rule in rules)

_WHOLE = re.compile(r"^[+-]?[0-9][0-9_]*$")
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _kind(f: Any) -> str:
    """The setting's type, from its annotation: "int", "float", "bool", "str" or "tuple"."""
    return "tuple" if str(f.type).startswith("tuple") else str(f.type)


def _coerce(kind: str, raw: object) -> object:
    """A value from TOML (typed) or the environment (text) as the setting's type; ValueError if
    it is not one."""
    if kind == "tuple":
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
            raise ValueError
        return tuple(x.strip() for x in items if x.strip())
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if not isinstance(raw, str):
            raise ValueError
        return _BOOL_WORDS[raw.strip().lower()]
    if kind == "int":
        if isinstance(raw, bool) or not (isinstance(raw, int) or isinstance(raw, str) and _WHOLE.match(raw.strip())):
            raise ValueError
        return int(raw)
    if kind == "float":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ValueError
        return float(raw)
    if not isinstance(raw, str):
        raise ValueError
    return raw


def _check_field(s: Settings, f: Any) -> None:
    value, meta, kind = getattr(s, f.name), f.metadata, _kind(f)
    if kind == "float" and not math.isfinite(value):
        raise checks.Invalid(f"{value} is not a finite number")
    if kind in ("int", "float"):
        if not meta["low"] <= value <= meta["high"]:
            raise checks.Invalid(f"{value} must be between {meta['low']:g} and {meta['high']:g}")
    items = value if kind == "tuple" else (value,) if kind == "str" else ()
    if kind == "tuple" and len(value) > LIST_ITEMS_MAX:
        raise checks.Invalid(f"at most {LIST_ITEMS_MAX} items")
    if any(len(x) > STRING_LENGTH_MAX for x in items):
        raise checks.Invalid(f"longer than {STRING_LENGTH_MAX} characters")
    if meta.get("check") is not None:
        meta["check"](value)


def _check_together(s: Settings) -> None:
    if s.seal_personal_data and s.dead_letter_retention_days > DEAD_LETTER_DAYS_SEALED_MAX:
        raise ConfigError(f"dead_letter_retention_days: {s.dead_letter_retention_days} is more than "
                          f"{DEAD_LETTER_DAYS_SEALED_MAX} while seal_personal_data is on: a CDR the edge rejects "
                          "keeps its numbers in clear on that topic, and an erasure is due within 30 days (R32)")
    if s.rate_card_lead_seconds < s.max_clock_skew_seconds:
        raise ConfigError(f"rate_card_lead_seconds: {s.rate_card_lead_seconds} must be at least "
                          f"max_clock_skew_seconds ({s.max_clock_skew_seconds}), or a rebuild could rate "
                          "a call with a card the live worker had not read yet")
    if s.kafka_security_protocol.startswith("SASL") and not s.kafka_sasl_username:
        raise ConfigError("kafka_sasl_username: SASL needs a user name")
    if s.clickhouse_cluster and not s.clickhouse_url.startswith("clickhouse"):
        raise ConfigError("clickhouse_cluster: needs a clickhouse:// server URL (chDB is one process)")
    if s.kafka_ssl_keyfile and not s.kafka_ssl_certfile:
        raise ConfigError("kafka_ssl_keyfile: given without kafka_ssl_certfile")
    if s.authorization_port and not s.api_tokens_file and s.http_bind_host not in LOOPBACK_HOSTS:
        raise ConfigError(f"api_tokens_file: required when the authorization API listens on {s.http_bind_host} "
                          "(beyond loopback): R35, no open API on the network")
    if s.batch_stuck_exit_seconds < s.batch_stuck_seconds:
        raise ConfigError(f"batch_stuck_exit_seconds: {s.batch_stuck_exit_seconds} must be at least "
                          f"batch_stuck_seconds ({s.batch_stuck_seconds})")
    if s.retired_plans and not s.plans:
        raise ConfigError("retired_plans: needs plans, the catalogue of the plans sold")
    if set(s.plans) & set(s.retired_plans):
        raise ConfigError(f"retired_plans: {sorted(set(s.plans) & set(s.retired_plans))[0]!r} is in plans too: a plan "
                          "is sold or retired")
    if s.plans:
        _check_catalogue(s)
    if s.commit_interval_seconds >= s.session_timeout_seconds:
        raise ConfigError(f"commit_interval_seconds: {s.commit_interval_seconds} must be below "
                          f"session_timeout_seconds ({s.session_timeout_seconds})")


def _undated_and_changes(entries: tuple[tuple[str, int, str], ...],
                         ) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, str, int], ...]]:
    """A dated setting's (key, value, month or "") entries as ((key, value) undated, (key, month,
    value) dated), each in the settings' order."""
    return (tuple((key, value) for key, value, month in entries if not month),
            tuple((key, month, value) for key, value, month in entries if month))


def plans_named(s: Settings) -> list[tuple[str, str]]:
    """(setting, plan) for every plan a plan setting names, in the settings' order."""
    def both(undated: tuple, changes: tuple) -> tuple:
        return undated + tuple((key, value) for key, _, value in changes)

    named = (("monthly_fees", both(s.monthly_fee_by_plan(), s.monthly_fee_changes())),
             ("connection_fees", both(s.connection_fee_by_plan(), s.connection_fee_changes())),
             ("inbound_rates", both(s.inbound_rate_by_plan(), s.inbound_rate_changes())),
             ("included_minutes", both(s.included_seconds_by_plan(), s.included_seconds_changes())),
             ("credit_limits", s.credit_limit_by_plan()),
             ("plan_cards", both(s.plan_cards_by_plan(), s.plan_card_changes())),
             ("payment_terms", both(s.payment_terms_by_plan(), s.payment_terms_changes())),
             ("residential_plans", [(plan, None) for plan in s.residential_plans]))
    # "plan:CUR" keys a fee in one currency
    return [(setting_name, key.partition(":")[0]) for setting_name, pairs in named for key, _ in pairs]


def _check_catalogue(s: Settings) -> None:
    """Every plan a plan setting names is one of ``plans``: a fee, a card or a term for a plan
    nobody can be on is a typo, and the plan it was meant for would go without it."""
    known = set(s.plans) | set(s.retired_plans)
    for setting_name, plan in plans_named(s):
        if plan not in known:
            raise ConfigError(f"{setting_name}: plan {plan!r} is not in plans ({', '.join(s.plans)})"
                              + (f" nor retired_plans ({', '.join(s.retired_plans)})" if s.retired_plans else ""))


def validate(s: Settings) -> Settings:
    """Check every setting on its own, then the ones that constrain each other."""
    for f in fields(Settings):
        try:
            _check_field(s, f)
        except (checks.Invalid, TypeError) as exc:
            raise ConfigError(f"{f.name}: {exc}" if str(exc) else f"{f.name}: {getattr(s, f.name)!r} is not valid") \
                from None
    _check_together(s)
    return s


def _read_file(path: str) -> dict[str, object]:
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config: file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config: {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
    values = data.get("voiceledger", data)
    if not isinstance(values, dict):
        raise ConfigError(f"config: {path}: [voiceledger] must be a table of settings")
    return values


def load_settings(config_file: str | None = None, env: dict[str, str] | None = None,
                  **overrides: object) -> Settings:
    env = dict(os.environ if env is None else env)
    path = config_file or env.get("VOICELEDGER_CONFIG")
    values: dict[str, object] = _read_file(path) if path else {}
    known = {f.name: f for f in fields(Settings)}
    for name in values:
        if name not in known:
            raise ConfigError(f"{name}: unknown setting in {path}")
    values.update({name: env["VOICELEDGER_" + name.upper()] for name in known if "VOICELEDGER_" + name.upper() in env})
    values.update({k: v for k, v in overrides.items() if v is not None})
    typed = {}
    for name, raw in values.items():
        kind = _kind(known[name])
        try:
            typed[name] = _coerce(kind, raw)
        except (ValueError, KeyError, TypeError):
            article = "an" if kind == "int" else "a"
            what = {"int": "integer", "tuple": "list of text", "str": "text"}.get(kind, kind)
            raise ConfigError(f"{name}: {raw!r} is not {article} {what}") from None
    return validate(replace(Settings(), **typed))
