"""The shipped Prometheus rules and Grafana dashboard name only metrics the workers export, with
the labels they carry, so they cannot rot silently when a metric is renamed."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS_SOURCE = (ROOT / "streams" / "metrics.py").read_text()
EXPORTED = set(re.findall(r'"(voiceledger_[a-z_]+)"', METRICS_SOURCE))


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
