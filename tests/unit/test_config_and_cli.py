"""Settings are validated at start-up with one-line errors that name the setting, and the CLI
turns bad input into a clear message and exit code 2, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid

import pytest

from streams.config.settings import ConfigError, load_settings
from streams.edge.rate_decks import RateCardError, load_rate_card


def test_defaults_load_and_env_overrides_file(tmp_path):
    cfg = tmp_path / "vl.toml"
    cfg.write_text('[voiceledger]\npartitions = 8\nbroker = "k1:9092,k2:9092"\n')
    s = load_settings(str(cfg), env={"VOICELEDGER_PARTITIONS": "12"})
    assert s.partitions == 12 and s.broker == "k1:9092,k2:9092"
    assert s.broker_url() == "kafka://k1:9092;k2:9092"


@pytest.mark.parametrize("env,setting", [
    ({"VOICELEDGER_PARTITIONS": "zero"}, "partitions"),
    ({"VOICELEDGER_PARTITIONS": "0"}, "partitions"),
    ({"VOICELEDGER_CLICKHOUSE_URL": "mysql://x"}, "clickhouse_url"),
    ({"VOICELEDGER_BROKER": "nohostport"}, "broker"),
    ({"VOICELEDGER_BROKER_FLAVOR": "pulsar"}, "broker_flavor"),
    ({"VOICELEDGER_DEDUP_MAX_KEYS": "5"}, "dedup_max_keys"),
    ({"VOICELEDGER_TAX_RULES": "EUR:BE:21"}, "tax_rules"),
    ({"VOICELEDGER_TAX_RULES": "G B:UK:20:VAT"}, "tax_rules"),
    ({"VOICELEDGER_TAX_RULES": "EUR:BE:21.00001:VAT"}, "tax_rules"),
    ({"VOICELEDGER_TAX_RULES": "EUR:BE:120:VAT"}, "tax_rules"),
    ({"VOICELEDGER_INVOICE_ISSUER": "A B"}, "invoice_issuer"),
    ({"VOICELEDGER_RETENTION_YEARS": "4"}, "retention_years"),
    ({"VOICELEDGER_ROUTE_DIGITS": "7"}, "route_digits"),
    ({"VOICELEDGER_SEAL_PERSONAL_DATA": "maybe"}, "seal_personal_data"),
])
def test_bad_setting_names_itself(env, setting):
    with pytest.raises(ConfigError) as info:
        load_settings(None, env=env)
    assert str(info.value).startswith(setting + ":") and "\n" not in str(info.value)


def test_R32_sealing_is_on_by_default_and_a_yes_no_setting():
    assert load_settings(None, env={}).seal_personal_data is True
    assert load_settings(None, env={"VOICELEDGER_SEAL_PERSONAL_DATA": "off"}).seal_personal_data is False
    assert load_settings(None, env={"VOICELEDGER_SEAL_PERSONAL_DATA": "True"}).seal_personal_data is True


def test_R32_a_card_with_prefixes_longer_than_the_clear_route_is_refused(tmp_path):
    from streams.edge.rate_decks import check_route_fits

    path = tmp_path / "long.csv"
    path.write_text("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s\n"
                    "44,UK,0.02,0,60,60\n4477009,UK special,0.5,0,60,60\n")
    card = load_rate_card(str(path), "USD", "2026-01-01")
    check_route_fits(card, 7)
    with pytest.raises(RateCardError, match="1 prefix\\(es\\) longer than route_digits \\(6\\), e.g. 4477009"):
        check_route_fits(card, 6)


def test_R17_tax_rules_parse_into_per_currency_profiles():
    s = load_settings(None, env={"VOICELEDGER_TAX_RULES": "USD:US-FED:3.4:Federal surcharge,USD:US-NY:4:NY tax,"
                                                           "EUR:BE:21:VAT"})
    assert [(c, [(r.jurisdiction, r.rate_ppm) for r in rules]) for c, rules in s.taxes_by_key()] == [
        ("USD", [("US-FED", 34_000), ("US-NY", 40_000)]), ("EUR", [("BE", 210_000)])]


def test_unknown_setting_in_file_is_refused(tmp_path):
    cfg = tmp_path / "vl.toml"
    cfg.write_text("[voiceledger]\nparitions = 8\n")
    with pytest.raises(ConfigError, match="^paritions: unknown setting"):
        load_settings(str(cfg), env={})


@pytest.mark.parametrize("row,message", [
    ("1,US,-0.01,0,60,60", "negative"),
    ("1,US,0.0000001,0,60,60", "more than 6 decimals"),
    ("1x,US,0.01,0,60,60", "prefix"),
    ("1,US,0.01,0,0,60", "increments"),
])
def test_rate_card_rows_are_validated_with_line_numbers(tmp_path, row, message):
    path = tmp_path / "card.csv"
    path.write_text("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s\n" + row + "\n")
    with pytest.raises(RateCardError, match=rf"card.csv:2: .*{message}"):
        load_rate_card(str(path), "USD", "2026-01-01")


HEADER_WITH_TIERS = ("prefix,destination,rate,connect_fee,initial_increment_s,subsequent_increment_s,"
                     "minimum_billable_s,tiers\n")


@pytest.mark.parametrize("row,message", [
    ("44,UK,0,0,60,60,0,0:0.20:60;45:0.10:1", "not a positive multiple"),
    ("44,UK,0,0,60,60,0,0:0.20", "not from_s:rate:increment_s"),
    ("44,UK,0,0,60,60,-1,", "the minimum at least 0"),
])
def test_tier_and_minimum_columns_are_validated_with_line_numbers(tmp_path, row, message):
    path = tmp_path / "card.csv"
    path.write_text(HEADER_WITH_TIERS + row + "\n")
    with pytest.raises(RateCardError, match=rf"card.csv:2: .*{message}"):
        load_rate_card(str(path), "USD", "2026-01-01")


def test_tiers_and_minimum_load_from_the_deck(tmp_path):
    from projections.rating import Tier

    path = tmp_path / "card.csv"
    path.write_text(HEADER_WITH_TIERS + "44,UK,0,0,60,60,0,0:0.20:60;60:0.10:1\n49,DE,0.06,0,1,1,30,\n")
    card = load_rate_card(str(path), "USD", "2026-01-01")
    assert card.destinations["44"].tiers == (Tier(0, 200_000, 60), Tier(60, 100_000, 1))
    assert card.destinations["49"].minimum_billable_s == 30


def test_duplicate_prefix_is_an_error(tmp_path):
    path = tmp_path / "card.csv"
    path.write_text("prefix,destination,rate\n1,US,0.01\n1,US again,0.02\n")
    with pytest.raises(RateCardError, match="card.csv:3: duplicate prefix 1"):
        load_rate_card(str(path), "USD", "2026-01-01")


@pytest.mark.parametrize("args,env,needle", [
    (["demo", "--calls", "-5"], {}, "must be positive"),
    (["worker"], {"VOICELEDGER_PARTITIONS": "many"}, "partitions:"),
    (["clickhouse", "migrate"], {"VOICELEDGER_CLICKHOUSE_URL": "ftp://x"}, "clickhouse_url:"),
    (["worker"], {"VOICELEDGER_RATE_CARDS": "/nope.csv|USD|2026-01-01"}, "cannot read rate card"),
    (["invoices", "--period", "2026-13"], {}, "--period: '2026-13' must be YYYY-MM"),
    (["report", "carriers", "--from", "2026-10-05", "--to", "2026-10-01"], {}, "--to: 2026-10-01 must be after"),
    (["retention", "apply", "--as-of", "yesterday"], {}, "--as-of: 'yesterday' must be YYYY-MM-DD"),
    (["subscriber", "erase", "acct-1"], {}, "--yes: required"),
    (["subscriber", "ask", "acct-1", "--ref", "two\nlines"], {}, "a reference of 1-200 printable characters"),
    (["subscriber", "ask", "../etc", "--ref", "t-1"], {}, "not an account id: '../etc'"),
    (["subscriber", "answer", "er-1", "--decline"], {}, "a declined request needs a reason"),
    (["subscriber", "answer", "er-1", "--decline", "--reason", "x" * 501], {}, "at most 500 printable characters"),
    (["ingest", "--follow", "--format", "asterisk-csv", "--carrier", "c", "a.csv", "b.csv"], {}, "--follow: one file"),
    (["ingest", "--format", "avro", "--revision", "2", "x.avro"], {}, "--revision: an Avro record carries"),
    (["ingest", "--format", "asterisk-csv", "--carrier", "c", "--revision", "0", "x.csv"], {}, "must be positive"),
    (["receive", "--carrier", "c", "--listen", "nowhere"], {}, "--listen: 'nowhere' must be HOST:PORT"),
    (["account", "open", "a1", "--currency", "XXX", "--plan", "b", "--mode", "prepaid"], {}, "unknown_currency"),
    (["account", "open", "a1", "--currency", "EUR", "--plan", "b", "--mode", "prepaid", "--time-zone", "Mars/X"], {},
     "unknown_time_zone"),
    (["account", "open", "a1", "--currency", "USD", "--plan", "basci", "--mode", "prepaid"],
     {"VOICELEDGER_PLANS": "basic,pro"}, "unknown_plan: 'basci' is not a plan sold (plans: basic, pro)"),
    # An account the CLI opens must be one the API can address (streams/edge/commands.py: ACCOUNT_ID).
    (["account", "open", "acme corp", "--currency", "USD", "--plan", "b", "--mode", "prepaid"], {},
     "account: 'acme corp' must be 1 to 64 letters"),
    (["account", "open", "a" * 65, "--currency", "USD", "--plan", "b", "--mode", "prepaid"], {}, "account: 'aaaa"),
    # A customer's language: a locale Babel knows, in the fold's shape (language, then _REGION).
    (["account", "open", "a1", "--currency", "USD", "--plan", "b", "--mode", "prepaid", "--locale", "nl-BE"], {},
     "locale: 'nl-BE' is not a language such as fr, nl_BE or de_CH"),
    (["account", "details", "a1", "--name", "Ada", "--locale", "xx_YY"], {}, "locale: 'xx_YY' is not a language"),
    (["account", "language", "a1", "--locale", ""], {}, "locale: name the language"),
    (["dispute", "list", "--account", "bad id!"], {}, "--account: 'bad id!' is not an account id"),
    (["account", "open", "a1", "--currency", "USD", "--plan", "p" * 65, "--mode", "prepaid"], {},
     "plan: 1 to 64 characters"),
    (["account", "plan", "a1", "--plan", "premium"], {"VOICELEDGER_PLANS": "basic,pro"}, "unknown_plan: 'premium'"),
    (["account", "deal", "a1", "--card", "acme-dael"], {"VOICELEDGER_DEAL_CARDS": "acme-deal"},
     "unknown_deal_card: 'acme-dael' is not a card kept for deals or plans (acme-deal)"),
    (["account", "credit-limit", "a1", "--limit", "-5", "--currency", "USD"], {}, "limit: 0 or more"),
    (["account", "credit-limit", "a1", "--limit", "lots", "--currency", "USD"], {}, "--limit: "),
    (["account", "credit-limit", "a1", "--limit", "5", "--currency", "ZZZ"], {}, "unknown_currency"),
    (["trial-balance", "--month", "1999-12"], {}, "--month: 1999-12 is not between 2000 and 2099"),
    (["trial-balance", "--month", "2026-13"], {}, "--month: '2026-13' must be YYYY-MM"),
    (["rerate", "a1", "--period", "2026-10", "--plan", "premium"], {"VOICELEDGER_PLANS": "basic,pro"},
     "unknown_plan: 'premium'"),
    (["worker"], {"VOICELEDGER_PLANS": "basic,pro", "VOICELEDGER_MONTHLY_FEES": "basci:9.99"},
     "monthly_fees: plan 'basci' is not in plans (basic, pro)"),
    (["payment", "record", "a1", "--amount", "1.2345678", "--currency", "USD"], {}, "--amount:"),
    (["payment", "record", "a1", "--amount", "5", "--currency", "USD", "--at", "yesterday"], {}, "--at:"),
    (["receive", "--carrier", "c", "--listen", "0.0.0.0:8090"], {}, "api_tokens_file: required when the receiver"),
    (["topics", "ensure", "--dry-run"], {"VOICELEDGER_DEAD_LETTER_RETENTION_DAYS": "90"},
     "dead_letter_retention_days: 90 is more than 28 while seal_personal_data is on"),
    (["receivables", "--as-of", "1900-01-01"], {}, "--as-of: 1900-01-01 is not between 2000 and 2099"),
    (["rebuild", "--app-id", "rb", "--clickhouse-url", "chdb:///tmp/rb", "--workers", "0"], {}, "must be positive"),
    (["rebuild", "--app-id", "rb", "--clickhouse-url", "chdb:///tmp/rb", "--workers", "65"], {}, "65 is more than 64"),
    (["rebuild", "--app-id", "rb", "--clickhouse-url", "chdb:///tmp/rb", "--workers", "9"],
     {"VOICELEDGER_PARTITIONS": "8"}, "--workers: 9 is more than the 8 partitions"),
    (["rebuild", "--app-id", "rb", "--clickhouse-url", "chdb:///tmp/rb", "--stall-minutes", "1441"], {},
     "1441 is more than 1440"),
    (["compensate", "a1", "--amount", "1", "--currency", "USD", "--malfunction-at", "3 Oct", "--reason", "x"], {},
     "--malfunction-at: '3 Oct' is not an ISO 8601 time"),
    # The embedded engine's own errors (no tables in a fresh database) are one line too.
    (["reconcile", "--month", "2026-10"], {"VOICELEDGER_CLICKHOUSE_URL": f"chdb:///tmp/vl-cli-empty-{uuid.uuid4().hex[:8]}"},
     "ClickHouse (chDB): "),
])
def test_cli_errors_are_one_line_without_traceback(args, env, needle):
    import os

    proc = subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)
    if env.get("VOICELEDGER_CLICKHOUSE_URL", "").startswith("chdb:///tmp/vl-cli-empty-"):
        shutil.rmtree(env["VOICELEDGER_CLICKHOUSE_URL"][len("chdb://"):], ignore_errors=True)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
