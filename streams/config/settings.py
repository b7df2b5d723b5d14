"""Settings: one TOML file, environment overrides, validated at start-up.

Precedence: defaults < TOML file (``--config`` or ``VOICELEDGER_CONFIG``) < environment
(``VOICELEDGER_<NAME>``, e.g. ``VOICELEDGER_BROKER``). A wrong setting raises ``ConfigError``
whose one-line message names the setting; the CLI prints it without a traceback.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlparse

from projections.invoicing import TaxRule
from projections.money import SUPPORTED_CURRENCIES, parse_decimal_micros

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"  # streams/data: the default rate cards
DEFAULT_RATE_CARDS = (
    f"{PACKAGE_DATA / 'standard-usd.csv'}|USD|2020-01-01",
    f"{PACKAGE_DATA / 'standard-eur.csv'}|EUR|2020-01-01",
)


class ConfigError(ValueError):
    """A setting is missing or wrong. The message starts with the setting's name."""


@dataclass(frozen=True)
class Settings:
    # Kafka bootstrap servers, "host:port[,host:port]"; "embedded" starts a local broker (demo).
    broker: str = "127.0.0.1:9092"
    # "kafka", or "tansu" for the embedded broker: Tansu 0.6 reports a partition's end offset
    # as the base offset of its last record batch + 1, and Faust's table recovery stops at that
    # offset. With "tansu" every producer sends one record per batch, which keeps it exact.
    broker_flavor: str = "kafka"
    # clickhouse://user:pass@host:9000/db, clickhouses://... (TLS) or chdb:///path
    clickhouse_url: str = "chdb://.voiceledger/chdb"
    # A Confluent-compatible Schema Registry (http(s)://[user:pass@]host:port); empty: the
    # file registry committed in schemas/registry.json.
    schema_registry_url: str = ""
    # R35: TLS and SASL to Kafka (streams/kafka/security.py). The SASL password is never a
    # setting: kafka_sasl_password_file, or the VOICELEDGER_KAFKA_SASL_PASSWORD variable.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    kafka_sasl_mechanism: str = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password_file: str = ""
    app_id: str = "voiceledger"
    events_topic: str = "voiceledger.events"
    dead_letter_topic: str = "voiceledger.dead-letter"
    ledger_entries_topic: str = "voiceledger.ledger.entries"
    calls_rated_topic: str = "voiceledger.calls.rated"
    # Lifecycle transitions (AccountStatusChanged), keyed by account, for switches to block numbers.
    account_status_topic: str = "voiceledger.account.status"
    # Issued invoices (InvoiceIssued), keyed by account: the monthly close and final invoices.
    invoices_topic: str = "voiceledger.invoices"
    # Invoice numbering (projections/numbering.py): drafts and ticks in, legal numbers out; one
    # partition each.
    invoice_numbering_topic: str = "voiceledger.invoice-numbering"
    invoice_numbers_topic: str = "voiceledger.invoice-numbers"
    # Published rate cards (voiceledger rates import): one partition, compacted.
    rates_topic: str = "voiceledger.rates"
    partitions: int = 4
    replication_factor: int = 1
    # Batching: a batch closes at this many messages or after this wait, whichever is first.
    batch_messages_max: int = 2_000
    batch_wait_seconds: float = 0.25
    # Bytes the consumer fetches per partition at a time; bounds a batch's size and the memory
    # of fetched-but-unprocessed records (this times the partitions a worker owns).
    fetch_bytes_per_partition: int = 8 * 1024 * 1024
    # A batch is folded and written in parts of at most this many message bytes: the fold blocks
    # the event loop, and heartbeats must reach the broker within session_timeout_seconds.
    # 8 MiB is ~32k sealed CDRs, ~3.5 s of folding on this 2-core machine.
    batch_bytes_max: int = 8 * 1024 * 1024
    # Rate cards: "path.csv|CURRENCY|valid-from-date", comma separated.
    rate_cards: tuple[str, ...] = DEFAULT_RATE_CARDS
    on_net_prefixes: tuple[str, ...] = ("1555", "3278")  # the provider's own number ranges (R3)
    # R4: "plan:minutes" per calendar month of domestic usage, comma separated.
    included_minutes: tuple[str, ...] = ()
    country_code: str = "1"
    # The lifecycle (projections/lifecycle.py). R14: "plan:amount" monthly fees, charged in
    # advance in the account's currency, comma separated; plans not named have no fee.
    monthly_fees: tuple[str, ...] = ()
    termination_fee: str = "0"  # R26, in the account's currency
    # R21: "plan:amount" connection fees; a plan change to a higher one charges the difference.
    connection_fees: tuple[str, ...] = ()
    registration_grace_hours: int = 36  # R12
    inactivity_days: int = 0  # R28; 0: never deactivate
    interim_threshold: str = "50.00"  # R18: owed above this (account currency) is announced
    # Invoicing (projections/invoicing.py): the issuer's prefix of invoice numbers, and R17 tax
    # rules "KEY:JURISDICTION:PERCENT:Name", comma separated. KEY is an account's tax
    # jurisdiction (AccountOpened.tax_jurisdiction, e.g. US-NY) or, for accounts without rules of
    # their own, a currency (EXAMPLE_TAX_RULES shows both). None by default.
    invoice_issuer: str = "VL"
    tax_rules: tuple[str, ...] = ()
    # R36: plans sold to residential customers; the business-on-residential report watches them.
    residential_plans: tuple[str, ...] = ()
    # R30: call-log rows are kept this many years (never fewer than five), then aggregated.
    retention_years: int = 5
    dedup_window_days: int = 7
    # R31, R32, R35: crypto-shredding (streams/edge/sealing.py). The edge seals a CDR's caller and
    # callee and an account's own numbers with the subscriber's key from this store (shared by
    # ingest, workers and the CLI; a KMS in production); erasure deletes the key. Rating reads
    # the first route_digits digits of the called number, kept in clear (1-6; rate-card
    # prefixes may be no longer). Off: the edge puts numbers on the log in clear.
    seal_personal_data: bool = True
    subscriber_keys_dir: str = ".voiceledger/subscriber-keys"
    route_digits: int = 6
    # An event dated further ahead of its own log time than this is refused (a bad clock).
    max_clock_skew_seconds: int = 3_600
    # A published card takes effect at its valid-from, but never before this long after it was
    # logged; at least max_clock_skew_seconds, which makes rebuilds rate exactly as live did
    # (projections/rate_book.py explains why).
    rate_card_lead_seconds: int = 3_900
    dedup_max_keys: int = 20_000
    metrics_port: int = 9464  # 0 disables the /metrics endpoint
    # R10: the authorization endpoint (0 disables it) and the host other workers and switches
    # reach this worker at (redirects name it). Holds last a call's quota plus the grace.
    authorization_port: int = 0
    authorization_host: str = "127.0.0.1"
    authorization_quota_seconds: int = 3_600
    # R35: the HTTP API's bearer tokens, "TOKEN SCOPE" per line (streams/http/tokens.py); empty
    # leaves the API open to anyone who can reach the port (the worker warns at start).
    api_tokens_file: str = ""
    reservation_grace_seconds: int = 120
    commit_interval_seconds: float = 1.0
    session_timeout_seconds: float = 10.0
    log_level: str = "warning"

    def included_seconds_by_plan(self) -> tuple[tuple[str, int], ...]:
        """R4: (plan, included seconds per calendar month), from ``included_minutes``."""
        return tuple((plan, int(minutes) * 60) for plan, _, minutes in
                     (spec.rpartition(":") for spec in self.included_minutes))

    def connection_fee_by_plan(self) -> tuple[tuple[str, int], ...]:
        """R21: (plan, connection fee in micro-units), from ``connection_fees``."""
        return tuple((plan, parse_decimal_micros(amount)) for plan, _, amount in
                     (spec.rpartition(":") for spec in self.connection_fees))

    def monthly_fee_by_plan(self) -> tuple[tuple[str, int], ...]:
        """R14: (plan, monthly fee in micro-units), from ``monthly_fees``."""
        return tuple((plan, parse_decimal_micros(amount)) for plan, _, amount in
                     (spec.rpartition(":") for spec in self.monthly_fees))

    def taxes_by_key(self) -> tuple[tuple[str, tuple[TaxRule, ...]], ...]:
        """R17: the tax rules per account jurisdiction or currency, from ``tax_rules``."""
        by_key: dict[str, list[TaxRule]] = {}
        for spec in self.tax_rules:
            key, jurisdiction, pct, name = spec.split(":", 3)
            by_key.setdefault(key, []).append(TaxRule(jurisdiction, name, parse_decimal_micros(pct) // 100))
        return tuple((k, tuple(rules)) for k, rules in by_key.items())

    def producer_batch_bytes_max(self) -> int:
        return 1 if self.broker_flavor == "tansu" else 1_048_576

    def accounts_changelog_topic(self) -> str:
        """The accounts table's changelog, named as Faust names it: <app_id>-<table>-changelog."""
        return f"{self.app_id}-accounts-changelog"

    def broker_url(self) -> str:
        return "kafka://" + ";".join(self.broker.split(","))


_TUPLES = {"rate_cards", "on_net_prefixes", "included_minutes", "monthly_fees", "tax_rules", "connection_fees"}

# R17 examples: a US profile (a federal surcharge and a state tax) and a Belgian one (21% VAT),
# for accounts opened with those jurisdictions and, as a fallback, for accounts of each currency.
_US_NY = ("US-FED:3.4:Federal universal service surcharge", "US-NY:4:New York State sales tax")
_BE = ("BE:21:VAT (BTW/TVA)",)
EXAMPLE_TAX_RULES = tuple(f"{key}:{rule}" for keys, rules in ((("US-NY", "USD"), _US_NY), (("BE", "EUR"), _BE))
                          for key in keys for rule in rules)


def _coerce(name: str, kind: type, raw: object) -> object:
    try:
        if name in _TUPLES:
            if isinstance(raw, str):
                return tuple(x.strip() for x in raw.split(",") if x.strip())
            return tuple(str(x) for x in raw)  # type: ignore[union-attr]
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError
            return word in ("true", "1", "yes", "on")
        if kind is int:
            return int(raw)  # type: ignore[arg-type]
        if kind is float:
            return float(raw)  # type: ignore[arg-type]
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {raw!r} is not a valid {kind.__name__}") from None


def _check_plan_amount(name: str, spec: str) -> None:
    plan, _, amount = spec.rpartition(":")
    try:
        ok = bool(plan) and parse_decimal_micros(amount) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"{name}: {spec!r} must be 'plan:amount' (a decimal of at least 0, e.g. basic:9.99)")


def validate(s: Settings) -> Settings:
    if not s.broker or any(":" not in b for b in s.broker.split(",")) and s.broker != "embedded":
        raise ConfigError(f"broker: {s.broker!r} must be host:port[,host:port] or 'embedded'")
    if s.broker_flavor not in ("kafka", "tansu"):
        raise ConfigError(f"broker_flavor: {s.broker_flavor!r} must be 'kafka' or 'tansu'")
    scheme = urlparse(s.clickhouse_url).scheme
    if scheme not in ("clickhouse", "clickhouses", "chdb"):
        raise ConfigError(f"clickhouse_url: scheme {scheme!r} must be clickhouse, clickhouses or chdb")
    if s.schema_registry_url and urlparse(s.schema_registry_url).scheme not in ("http", "https"):
        raise ConfigError("schema_registry_url: must be http(s)://host:port, or empty for the file registry")
    if not 1 <= s.partitions <= 1024:
        raise ConfigError(f"partitions: {s.partitions} must be between 1 and 1024")
    if not 1 <= s.batch_messages_max <= 100_000:
        raise ConfigError(f"batch_messages_max: {s.batch_messages_max} must be between 1 and 100000")
    if not 64 * 1024 <= s.batch_bytes_max <= 256 * 1024 * 1024:
        raise ConfigError(f"batch_bytes_max: {s.batch_bytes_max} must be 64 KiB-256 MiB in bytes")
    if not 64 * 1024 <= s.fetch_bytes_per_partition <= 256 * 1024 * 1024:
        raise ConfigError(f"fetch_bytes_per_partition: {s.fetch_bytes_per_partition} must be 64 KiB-256 MiB in bytes")
    if not 0 < s.batch_wait_seconds <= 60:
        raise ConfigError(f"batch_wait_seconds: {s.batch_wait_seconds} must be in (0, 60]")
    if not 1 <= s.dedup_window_days <= 400:
        raise ConfigError(f"dedup_window_days: {s.dedup_window_days} must be between 1 and 400")
    if not 100 <= s.dedup_max_keys <= 1_000_000:
        raise ConfigError(f"dedup_max_keys: {s.dedup_max_keys} must be between 100 and 1000000")
    if not 0 <= s.authorization_port <= 65535:
        raise ConfigError(f"authorization_port: {s.authorization_port} is not a port")
    if not 1 <= s.authorization_quota_seconds <= 4 * 3600 or s.reservation_grace_seconds < 0:
        raise ConfigError("authorization_quota_seconds must be 1-14400 and reservation_grace_seconds at least 0")
    if not 0 <= s.metrics_port <= 65535:
        raise ConfigError(f"metrics_port: {s.metrics_port} is not a port")
    if s.max_clock_skew_seconds < 0:
        raise ConfigError(f"max_clock_skew_seconds: {s.max_clock_skew_seconds} must be at least 0")
    if s.rate_card_lead_seconds < s.max_clock_skew_seconds:
        raise ConfigError(f"rate_card_lead_seconds: {s.rate_card_lead_seconds} must be at least "
                          f"max_clock_skew_seconds ({s.max_clock_skew_seconds}), or a rebuild could rate "
                          "a call with a card the live worker had not read yet")
    if not s.rate_cards:
        raise ConfigError("rate_cards: at least one rate card is needed")
    for spec in s.rate_cards:
        if spec.count("|") != 2:
            raise ConfigError(f"rate_cards: {spec!r} must be 'path.csv|CURRENCY|YYYY-MM-DD'")
    for spec in s.included_minutes:
        plan, _, minutes = spec.rpartition(":")
        if not plan or not minutes.isdigit():
            raise ConfigError(f"included_minutes: {spec!r} must be 'plan:minutes' (whole minutes, at least 0)")
    for name, specs in (("monthly_fees", s.monthly_fees), ("connection_fees", s.connection_fees)):
        for spec in specs:
            _check_plan_amount(name, spec)
    try:
        if parse_decimal_micros(s.termination_fee) < 0:
            raise ValueError
    except ValueError:
        raise ConfigError(f"termination_fee: {s.termination_fee!r} must be a decimal amount of at least 0") from None
    try:
        if parse_decimal_micros(s.interim_threshold) <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError(f"interim_threshold: {s.interim_threshold!r} must be a positive decimal amount") from None
    if s.kafka_security_protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ConfigError(f"kafka_security_protocol: {s.kafka_security_protocol!r} must be PLAINTEXT, SSL, "
                          "SASL_PLAINTEXT or SASL_SSL")
    if s.kafka_security_protocol.startswith("SASL"):
        if s.kafka_sasl_mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise ConfigError(f"kafka_sasl_mechanism: {s.kafka_sasl_mechanism!r} must be PLAIN, SCRAM-SHA-256 or "
                              "SCRAM-SHA-512")
        if not s.kafka_sasl_username:
            raise ConfigError("kafka_sasl_username: SASL needs a user name")
    if s.kafka_ssl_keyfile and not s.kafka_ssl_certfile:
        raise ConfigError("kafka_ssl_keyfile: given without kafka_ssl_certfile")
    if s.retention_years < 5:
        raise ConfigError(f"retention_years: {s.retention_years} is below five years, the minimum for call logs (R30)")
    for spec in s.tax_rules:
        parts = spec.split(":", 3)
        try:
            ok = len(parts) == 4 and parts[0].replace("-", "").isalnum() and bool(parts[1]) and bool(parts[3]) \
                and 0 <= parse_decimal_micros(parts[2]) <= 100_000_000 and parse_decimal_micros(parts[2]) % 100 == 0
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(f"tax_rules: {spec!r} must be 'KEY:JURISDICTION:PERCENT:Name' with KEY an account "
                              f"tax jurisdiction (e.g. US-NY) or a currency ({', '.join(sorted(SUPPORTED_CURRENCIES))}) "
                              "and 0-100 percent (at most 4 decimals), e.g. EUR:BE:21:VAT")
    if not s.invoice_issuer or not s.invoice_issuer.replace("_", "").isalnum():
        raise ConfigError(f"invoice_issuer: {s.invoice_issuer!r} must be letters and digits (it prefixes invoice numbers)")
    if s.registration_grace_hours <= 0 or s.inactivity_days < 0:
        raise ConfigError("registration_grace_hours must be positive and inactivity_days at least 0 (0: off)")
    if not s.country_code.isdigit():
        raise ConfigError(f"country_code: {s.country_code!r} must be digits")
    if not 1 <= s.route_digits <= 6:
        raise ConfigError(f"route_digits: {s.route_digits} must be 1-6 (more would keep a number-like run of the "
                          "called number in clear)")
    if not s.subscriber_keys_dir:
        raise ConfigError("subscriber_keys_dir: the subscribers' key store (a directory) is needed")
    return s


def load_settings(config_file: str | None = None, env: dict[str, str] | None = None,
                  **overrides: object) -> Settings:
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}
    path = config_file or env.get("VOICELEDGER_CONFIG")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config: file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
        values.update(data.get("voiceledger", data))
    known = {f.name: f for f in fields(Settings)}
    for name in list(values):
        if name not in known:
            raise ConfigError(f"{name}: unknown setting in {path}")
    for name in known:
        key = "VOICELEDGER_" + name.upper()
        if key in env:
            values[name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    kinds = {"int": int, "float": float, "str": str, "bool": bool}
    coerced = {
        name: _coerce(name, kinds.get(str(known[name].type), str), raw) for name, raw in values.items()
    }
    return validate(replace(Settings(), **coerced))
