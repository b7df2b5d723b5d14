"""Every setting is read from TOML and from the environment into its type, once, and a wrong
value of any kind is one line naming the setting (the CLI turns it into exit 2)."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest

from streams.clickhouse.reports import report_sql
from streams.config.settings import ConfigError, Settings, load_settings

# A valid value of every setting other than its default: (as TOML writes it, as the environment
# writes it, what the code gets). The names are checked against the dataclass, so a setting
# cannot be added without a test here.
SAMPLES: dict[str, tuple[str, str, object]] = {
    "broker": ('"k1:9092,k2:9092"', "k1:9092,k2:9092", "k1:9092,k2:9092"),
    "broker_flavor": ('"tansu"', "tansu", "tansu"),
    "clickhouse_url": ('"clickhouse://u:p@ch:9000/vl"', "clickhouse://u:p@ch:9000/vl", "clickhouse://u:p@ch:9000/vl"),
    "clickhouse_cluster": ('"vl_cluster"', "vl_cluster", "vl_cluster"),
    "schema_registry_url": ('"http://sr:8081"', "http://sr:8081", "http://sr:8081"),
    "kafka_security_protocol": ('"SSL"', "SSL", "SSL"),
    "kafka_ssl_cafile": ('"/etc/ca.pem"', "/etc/ca.pem", "/etc/ca.pem"),
    "kafka_ssl_certfile": ('"/etc/c.pem"', "/etc/c.pem", "/etc/c.pem"),
    "kafka_ssl_keyfile": ('"/etc/k.pem"', "/etc/k.pem", "/etc/k.pem"),
    "kafka_sasl_mechanism": ('"SCRAM-SHA-512"', "SCRAM-SHA-512", "SCRAM-SHA-512"),
    "kafka_sasl_username": ('"ledger"', "ledger", "ledger"),
    "kafka_sasl_password_file": ('"/run/secrets/pw"', "/run/secrets/pw", "/run/secrets/pw"),
    "app_id": ('"vl-2"', "vl-2", "vl-2"),
    "events_topic": ('"e"', "e", "e"),
    "dead_letter_topic": ('"dl"', "dl", "dl"),
    "ledger_entries_topic": ('"le"', "le", "le"),
    "calls_rated_topic": ('"cr"', "cr", "cr"),
    "publish_feeds": ("false", "no", False),
    "open_sealed_beside_fold": ("false", "no", False),
    "account_status_topic": ('"as"', "as", "as"),
    "invoices_topic": ('"inv"', "inv", "inv"),
    "invoice_numbering_topic": ('"ing"', "ing", "ing"),
    "invoice_numbers_topic": ('"ins"', "ins", "ins"),
    "rates_topic": ('"r"', "r", "r"),
    "settings_topic": ('"st"', "st", "st"),
    "erasure_requests_topic": ('"er"', "er", "er"),
    "books_time_zone": ('"Asia/Tokyo"', "Asia/Tokyo", "Asia/Tokyo"),
    "allow_finite_event_retention": ("true", "yes", True),
    "dead_letter_retention_days": ("14", "14", 14),
    "calls_rated_retention_days": ("7", "7", 7),
    "partitions": ("12", "12", 12),
    "replication_factor": ("3", "3", 3),
    "batch_messages_max": ("500", "500", 500),
    "batch_wait_seconds": ("0.5", "0.5", 0.5),
    "state_write_seconds": ("2.5", "2.5", 2.5),
    "receiver_linger_ms": ("20", "20", 20),
    "numbering_record_drafts": ("50", "50", 50),
    "fetch_bytes_per_partition": ("1048576", "1_048_576", 1_048_576),
    "batch_bytes_max": ("1048576", "1048576", 1_048_576),
    "rate_cards": ('["a.csv|USD|2026-01-01"]', "a.csv|USD|2026-01-01", ("a.csv|USD|2026-01-01",)),
    "on_net_prefixes": ('["3278", "1555"]', "3278,1555", ("3278", "1555")),
    "included_minutes": ('["basic:100"]', "basic:100", ("basic:100",)),
    "country_code": ('"32"', "32", "32"),
    "plans": ('["basic", "pro"]', "basic,pro", ("basic", "pro")),
    "retired_plans": ('["legacy", "old"]', "legacy,old", ("legacy", "old")),
    "monthly_fees": ('["basic:9.99"]', "basic:9.99", ("basic:9.99",)),
    "termination_fee": ('"25.00"', "25.00", ("25.00",)),
    "connection_fees": ('["pro:10"]', "pro:10", ("pro:10",)),
    "inbound_rates": ('["business:0.012"]', "business:0.012", ("business:0.012",)),
    "credit_limits": ('["business:500"]', "business:500", ("business:500",)),
    "registration_grace_hours": ("48", "48", 48),
    "inactivity_days": ("180", "180", 180),
    "interim_threshold": ('"75"', "75", ("75",)),
    "invoice_issuer": ('"ACME"', "ACME", "ACME"),
    "tax_rules": ('["EUR:BE:21:VAT"]', "EUR:BE:21:VAT", ("EUR:BE:21:VAT",)),
    "residential_plans": ('["home", "home-plus"]', "home,home-plus", ("home", "home-plus")),
    "retention_years": ("7", "7", 7),
    "dedup_window_days": ("14", "14", 14),
    "seal_personal_data": ("false", "off", False),
    "subscriber_keys_dir": ('"/var/lib/vl/keys"', "/var/lib/vl/keys", "/var/lib/vl/keys"),
    "data_dir": ('"/var/lib/vl"', "/var/lib/vl", "/var/lib/vl"),
    "route_digits": ("4", "4", 4),
    "max_clock_skew_seconds": ("600", "600", 600),
    "rate_card_lead_seconds": ("7200", "7200", 7200),
    "dedup_max_keys": ("5000", "5000", 5000),
    "metrics_port": ("9500", "9500", 9500),
    "authorization_port": ("6066", "6066", 6066),
    "authorization_host": ('"10.1.2.3"', "10.1.2.3", "10.1.2.3"),
    "http_bind_host": ('"0.0.0.0"', "0.0.0.0", "0.0.0.0"),
    "authorization_quota_seconds": ("600", "600", 600),
    "authorization_realtime_priority": ("10", "10", 10),
    "api_tokens_file": ('"/etc/vl/tokens"', "/etc/vl/tokens", "/etc/vl/tokens"),
    "issuer_name": ('"Łódź Telecom SA"', "Łódź Telecom SA", "Łódź Telecom SA"),
    "issuer_address": ('"Rue de la Loi 16\\n1000 Bruxelles"', "Rue de la Loi 16\n1000 Bruxelles",
                       "Rue de la Loi 16\n1000 Bruxelles"),
    "issuer_tax_id": ('"BE0123456789"', "BE0123456789", "BE0123456789"),
    "issuer_registration": ('"RPM Bruxelles"', "RPM Bruxelles", "RPM Bruxelles"),
    "payment_instructions": ('"IBAN BE71 0961 2345 6769"', "IBAN BE71 0961 2345 6769", "IBAN BE71 0961 2345 6769"),
    "invoice_locale": ('"fr_BE"', "fr_BE", "fr_BE"),
    "payment_terms_days": ("30", "30", 30),
    "payment_terms": ('["business:30"]', "business:30", ("business:30",)),
    "deal_cards": ('["acme-deal-usd"]', "acme-deal-usd", ("acme-deal-usd",)),
    "plan_cards": ('["business:business-usd|business-eur"]', "business:business-usd|business-eur",
                   ("business:business-usd|business-eur",)),
    "portal_secret_file": ('"/etc/vl/portal"', "/etc/vl/portal", "/etc/vl/portal"),
    "portal_base_url": ('"https://billing.example.com"', "https://billing.example.com", "https://billing.example.com"),
    "portal_link_days": ("14", "14", 14),
    "portal_erasure": ('"reviewed"', "reviewed", "reviewed"),
    "worker_url": ('"http://worker-0:6066"', "http://worker-0:6066", "http://worker-0:6066"),
    "reservation_grace_seconds": ("30", "30", 30),
    "commit_interval_seconds": ("2", "2", 2.0),
    "batch_stuck_seconds": ("90", "90", 90),
    "batch_stuck_exit_seconds": ("600", "600", 600),
    "session_timeout_seconds": ("30", "30.0", 30.0),
    "log_level": ('"info"', "info", "info"),
}


def test_every_setting_has_a_sample():
    assert set(SAMPLES) == {f.name for f in fields(Settings)}


def test_every_number_setting_has_bounds():
    for f in fields(Settings):
        if str(f.type) in ("int", "float"):
            assert f.metadata["low"] is not None and f.metadata["high"] is not None, f.name


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_setting_is_read_from_toml_and_from_the_environment(name, tmp_path):
    toml, env, expected = SAMPLES[name]
    extra = {"kafka_ssl_keyfile": {"kafka_ssl_certfile": '"/etc/c.pem"'},
             "clickhouse_cluster": {"clickhouse_url": '"clickhouse://ch:9000/vl"'},
             "retired_plans": {"plans": '["basic"]'},
             "max_clock_skew_seconds": {}, "kafka_security_protocol": {}}.get(name, {})
    cfg = tmp_path / "vl.toml"
    cfg.write_text("[voiceledger]\n" + "".join(f"{k} = {v}\n" for k, v in {name: toml, **extra}.items()))
    from_file = load_settings(str(cfg), env={})
    env_extra = {f"VOICELEDGER_{k.upper()}": v.strip('[]"') for k, v in extra.items()}
    from_env = load_settings(None, env={f"VOICELEDGER_{name.upper()}": env, **env_extra})
    assert getattr(from_file, name) == getattr(from_env, name) == expected
    assert type(getattr(from_env, name)) is type(getattr(Settings(), name))


def test_R36_residential_plans_is_a_list_the_report_uses():
    s = load_settings(None, env={"VOICELEDGER_RESIDENTIAL_PLANS": "home, home-plus"})
    assert s.residential_plans == ("home", "home-plus")
    assert "'home', 'home-plus'" in report_sql("business-on-residential", "2026-10-01", "2026-11-01",
                                               s.residential_plans)


def test_structured_settings_are_parsed_once_into_what_the_fold_uses():
    s = load_settings(None, env={"VOICELEDGER_MONTHLY_FEES": "basic:9.99,pro:20",
                                 "VOICELEDGER_INCLUDED_MINUTES": "pro:100", "VOICELEDGER_CONNECTION_FEES": "pro:5"})
    assert s.monthly_fee_by_plan() == (("basic", 9_990_000), ("pro", 20_000_000))
    assert s.included_seconds_by_plan() == (("pro", 6_000),)
    assert s.connection_fee_by_plan() == (("pro", 5_000_000),)
    assert s.monthly_fee_by_plan() is s.monthly_fee_by_plan()  # parsed once per Settings


BAD_TOML = [
    ("partitions", "4.5"), ("partitions", "true"), ("partitions", '"4"x'), ("replication_factor", "0"),
    ("commit_interval_seconds", "0"), ("session_timeout_seconds", "-1"), ("session_timeout_seconds", "nan"),
    ("session_timeout_seconds", "inf"), ("batch_wait_seconds", "true"), ("seal_personal_data", '"perhaps"'),
    ("on_net_prefixes", '[1555]'), ("monthly_fees", '["basic"]'), ("log_level", '"loud"'), ("metrics_port", "70000"),
    ("events_topic", '"has space"'), ("country_code", '"+32"'), ("termination_fee", '"-1"'),
]
BAD_ENV = [
    ("partitions", "4.5"), ("partitions", "true"), ("partitions", ""), ("replication_factor", "0"),
    ("commit_interval_seconds", "0"), ("session_timeout_seconds", "-1"), ("session_timeout_seconds", "nan"),
    ("dedup_max_keys", "5"), ("route_digits", "7"), ("retention_years", "4"), ("included_minutes", "basic:1.5"),
    ("interim_threshold", "0"), ("authorization_host", "a host"), ("broker", "nohostport"),
    ("residential_plans", "home:plus"), ("tax_rules", "EUR:BE:120:VAT"), ("invoice_issuer", "A B"),
]


@pytest.mark.parametrize("name,value", BAD_TOML)
def test_a_wrong_value_in_toml_is_one_line_naming_the_setting(name, value, tmp_path):
    cfg = tmp_path / "vl.toml"
    cfg.write_text(f"[voiceledger]\n{name} = {value}\n")
    try:
        with pytest.raises(ConfigError) as info:
            load_settings(str(cfg), env={})
    except Exception as exc:  # the TOML itself may be invalid ('"4"x'): that is a config error too
        raise AssertionError(f"{name} = {value}: {exc!r}") from None
    message = str(info.value)
    assert (message.startswith(name + ":") or message.startswith("config:")) and "\n" not in message


@pytest.mark.parametrize("name,value", BAD_ENV)
def test_a_wrong_value_in_the_environment_is_one_line_naming_the_setting(name, value):
    with pytest.raises(ConfigError) as info:
        load_settings(None, env={f"VOICELEDGER_{name.upper()}": value})
    assert str(info.value).startswith(name + ":") and "\n" not in str(info.value)


def test_a_key_directory_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "keys").write_text("not a directory")
    with pytest.raises(ConfigError, match="^subscriber_keys_dir: .* is not a directory"):
        load_settings(None, env={"VOICELEDGER_SUBSCRIBER_KEYS_DIR": str(tmp_path / "keys")})


def test_settings_that_constrain_each_other():
    with pytest.raises(ConfigError, match="^rate_card_lead_seconds:"):
        load_settings(None, env={"VOICELEDGER_RATE_CARD_LEAD_SECONDS": "60"})
    with pytest.raises(ConfigError, match="^commit_interval_seconds:"):
        load_settings(None, env={"VOICELEDGER_COMMIT_INTERVAL_SECONDS": "20", "VOICELEDGER_SESSION_TIMEOUT_SECONDS": "10"})
    with pytest.raises(ConfigError, match="^kafka_sasl_username:"):
        load_settings(None, env={"VOICELEDGER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    with pytest.raises(ConfigError, match="^clickhouse_cluster: needs a clickhouse:// server"):
        load_settings(None, env={"VOICELEDGER_CLICKHOUSE_CLUSTER": "vl"})  # the default URL is chDB
    with pytest.raises(ConfigError, match="^clickhouse_cluster: must be 1-64 letters"):
        load_settings(None, env={"VOICELEDGER_CLICKHOUSE_CLUSTER": "vl; DROP", "VOICELEDGER_CLICKHOUSE_URL": "clickhouse://h/db"})


def test_a_config_file_that_is_not_a_table_of_settings_is_one_line(tmp_path):
    cfg = tmp_path / "vl.toml"
    cfg.write_text("voiceledger = 3\n")
    with pytest.raises(ConfigError, match="^config: .*must be a table"):
        load_settings(str(cfg), env={})
    assert math.isfinite(load_settings(None, env={}).session_timeout_seconds)


def test_R35_the_authorization_api_beyond_loopback_needs_tokens():
    env = {"VOICELEDGER_AUTHORIZATION_PORT": "6066", "VOICELEDGER_HTTP_BIND_HOST": "0.0.0.0"}
    with pytest.raises(ConfigError, match="^api_tokens_file: required"):
        load_settings(None, env=env)
    assert load_settings(None, env={**env, "VOICELEDGER_API_TOKENS_FILE": "/run/secrets/t"}).http_bind_host == "0.0.0.0"
    assert load_settings(None, env={"VOICELEDGER_AUTHORIZATION_PORT": "6066"}).http_bind_host == "127.0.0.1"


def test_R32_dead_letters_in_clear_leave_before_an_erasure_is_due():
    """A CDR the edge rejects keeps its numbers in clear on the dead-letter topic: with sealing
    on, the topic must let it go within R32's 30 days (28 days, in daily segments)."""
    assert load_settings(None, env={}).dead_letter_retention_days == 28
    assert load_settings(None, env={"VOICELEDGER_DEAD_LETTER_RETENTION_DAYS": "28"}).dead_letter_retention_days == 28
    with pytest.raises(ConfigError, match="^dead_letter_retention_days: 29 is more than 28 while seal_personal_data"):
        load_settings(None, env={"VOICELEDGER_DEAD_LETTER_RETENTION_DAYS": "29"})
    # Numbers in clear everywhere by the operator's choice: no erasure to keep up with here.
    clear = {"VOICELEDGER_DEAD_LETTER_RETENTION_DAYS": "90", "VOICELEDGER_SEAL_PERSONAL_DATA": "false"}
    assert load_settings(None, env=clear).dead_letter_retention_days == 90
