"""The shipped Prometheus rules and Grafana dashboard name only metrics the workers export, with
the labels they carry, so they cannot rot silently when a metric is renamed."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS_SOURCE = (ROOT / "streams" / "observe" / "metrics.py").read_text()
EXPORTED = set(re.findall(r'"(voiceledger_[a-z_]+)"', METRICS_SOURCE)) | set(
    re.findall(r"(voiceledger_verify_[a-z_]+) ", (ROOT / "streams" / "ledger" / "selfcheck.py").read_text()))


def used_metrics(text: str) -> set[str]:
    names = set(re.findall(r"voiceledger_[a-z_]+", text))
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def test_alert_rules_use_exported_metrics_and_every_rule_is_complete():
    text = (ROOT / "deploy" / "prometheus" / "voiceledger-alerts.yml").read_text()
    assert used_metrics(text) - {"voiceledger"} <= EXPORTED, used_metrics(text) - EXPORTED
    rules = text.split("- alert: ")[1:]
    assert len(rules) >= 6
    for rule in rules:
        assert "expr: " in rule and "summary: " in rule and "severity: " in rule, rule


def test_dashboard_is_valid_json_and_queries_exported_metrics_by_their_labels():
    dash = json.loads((ROOT / "deploy" / "grafana" / "voiceledger-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 12
    assert set().union(*(used_metrics(e) for e in exprs)) <= EXPORTED
    labels = {"reason", "type", "partition", "table", "le", "currency", "status", "topic"}
    for e in exprs:
        for group in re.findall(r"by \(([^)]*)\)", e):
            assert {g.strip() for g in group.split(",")} <= labels, e


def test_deploy_settings_are_real_settings_that_validate():
    import tomllib
    from dataclasses import fields

    from streams.config.settings import Settings, load_settings

    names = {f.name for f in fields(Settings)}
    outside = {"CONFIG", "KAFKA_SASL_PASSWORD"}  # the config file path; the secret that is never a setting
    texts = [(ROOT / "deploy" / "compose" / n).read_text() for n in ("docker-compose.yml", "voiceledger.env")]
    texts.append((ROOT / "deploy" / "kubernetes" / "voiceledger.yaml").read_text())
    for text in texts:
        for var in re.findall(r"VOICELEDGER_([A-Z_]+)", text):
            assert var in outside or var.lower() in names, var
    env = dict(line.split("=", 1) for line in texts[1].splitlines() if line and not line.startswith("#"))
    load_settings(None, env=env)  # validates: a typo in the shipped settings fails here
    manifest = texts[2]
    block = manifest.split("voiceledger.toml: |\n", 1)[1].split("---", 1)[0]
    config = tomllib.loads("\n".join(line[4:] for line in block.splitlines()))
    assert set(config) <= names
    load_settings(None, env={}, **config)


def test_deploy_commands_are_real_cli_commands():
    from streams.cli.main import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001 - argparse has no API
    docker = (ROOT / "deploy" / "Dockerfile").read_text()
    used = set(re.findall(r'CMD \["(\w[\w-]*)"', docker))
    for text in ((ROOT / "deploy" / "kubernetes" / "voiceledger.yaml").read_text(),
                 (ROOT / "deploy" / "compose" / "docker-compose.yml").read_text()):
        used |= set(re.findall(r'(?:args|command): \["(\w[\w-]*)"', text))
    assert used and used <= commands, used - commands
