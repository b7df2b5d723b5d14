"""The shipped Prometheus rules and Grafana dashboard name only metrics the workers export, with
the labels they carry, so they cannot rot silently when a metric is renamed."""

import json
import subprocess
import sys
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS_SOURCE = (ROOT / "streams" / "observe" / "metrics.py").read_text()
EXPORTED = set(re.findall(r'"(voiceledger_[a-z_]+)"', METRICS_SOURCE)) | set(
    re.findall(r"(voiceledger_verify_[a-z_]+) ", (ROOT / "streams" / "ledger" / "selfcheck.py").read_text())) | set(
    re.findall(r'"(voiceledger_erasure_requests_[a-z_]+)"', (ROOT / "streams" / "ledger" / "erasure_queue.py").read_text()))


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
    used = set(re.findall(r'^CMD \["(\w[\w-]*)"', docker, re.M))
    for text in ((ROOT / "deploy" / "kubernetes" / "voiceledger.yaml").read_text(),
                 (ROOT / "deploy" / "compose" / "docker-compose.yml").read_text()):
        used |= set(re.findall(r'(?:args|command): \["(\w[\w-]*)"', text))
    assert used and used <= commands, used - commands


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_alert_rules_pass_their_promtool_tests():
    """A worker that disappears and a self-check that never ran both fire (absent()); promtool
    comes with Debian's prometheus package, which make test installs."""
    run = run_tool("promtool", "test", "rules", "deploy/prometheus/voiceledger-alerts.test.yml")
    assert run.returncode == 0 and "SUCCESS" in run.stdout, run.stdout + run.stderr
    check = run_tool("promtool", "check", "rules", "deploy/prometheus/voiceledger-alerts.yml")
    assert check.returncode == 0, check.stdout + check.stderr


def test_compose_and_kubernetes_files_validate_against_their_schemas():
    bin_dir = Path(sys.executable).parent
    compose = run_tool(str(bin_dir / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                       "deploy/compose/docker-compose.yml")
    assert compose.returncode == 0, compose.stdout + compose.stderr
    kube = run_tool(str(bin_dir / "kubernetes-validate"), "--strict", "deploy/kubernetes/voiceledger.yaml")
    assert kube.returncode == 0, kube.stdout + kube.stderr


def test_production_files_set_their_own_rates_and_number_ranges_and_a_writable_data_dir():
    """No toy defaults: the demo's decks and on-net prefixes (which make Belgian 078 numbers free)
    are not what a deployment runs on."""
    import tomllib

    from streams.config.settings import Settings

    defaults = Settings()
    env = dict(line.split("=", 1) for line in (ROOT / "deploy" / "compose" / "voiceledger.env").read_text().splitlines()
               if line and not line.startswith("#"))
    assert "VOICELEDGER_RATE_CARDS" in env and "streams/data" not in env["VOICELEDGER_RATE_CARDS"]
    assert env["VOICELEDGER_ON_NET_PREFIXES"] == ""
    manifest = (ROOT / "deploy" / "kubernetes" / "voiceledger.yaml").read_text()
    block = manifest.split("voiceledger.toml: |\n", 1)[1].split("---", 1)[0]
    config = tomllib.loads("\n".join(line[4:] for line in block.splitlines()))
    assert config["on_net_prefixes"] == [] and tuple(config["rate_cards"]) != defaults.rate_cards
    assert config["data_dir"] == "/var/lib/voiceledger" and config["subscriber_keys_dir"].startswith(config["data_dir"])
    assert "persistentVolumeClaim: {claimName: voiceledger-subscriber-keys}" in manifest
    docker = (ROOT / "deploy" / "Dockerfile").read_text()
    for needed in ("USER 10001", "WORKDIR /var/lib/voiceledger", "VOICELEDGER_DATA_DIR=/var/lib/voiceledger", "LICENSE"):
        assert needed in docker, needed
    compose = (ROOT / "deploy" / "compose" / "docker-compose.yml").read_text()
    assert "subscriber-keys:/var/lib/voiceledger/subscriber-keys" in compose and "service_healthy" in compose
    assert (ROOT / "deploy" / "compose" / "grafana-provisioning" / "datasources" / "prometheus.yml").exists()


def test_each_systemd_worker_instance_gets_its_own_documented_metrics_port():
    unit = (ROOT / "deploy" / "systemd" / "voiceledger-worker@.service").read_text()
    command = re.search(r"^ExecStart=/bin/sh -c '(.*)'$", unit, re.M).group(1)
    assert "WorkingDirectory=/var/lib/voiceledger" in unit and "StateDirectory=voiceledger" in unit
    for instance, port in ((1, 9464), (2, 9465), (10, 9473)):
        shell = command.replace("$$", "$").replace("%i", str(instance))  # what systemd hands the shell
        shell = shell.replace("/opt/voiceledger/.venv/bin/voiceledger worker", "/usr/bin/env")  # what it is given
        env = subprocess.run(["/bin/sh", "-c", shell], capture_output=True, text=True, env={}).stdout.splitlines()
        assert f"VOICELEDGER_METRICS_PORT={port}" in env, (instance, env)


def _acls(tmp_path: Path) -> list[list[str]]:
    """The ACLs deploy/kafka/acls.sh adds, as the arguments it gives kafka-acls.sh (recorded by a
    stand-in on the PATH: the script itself runs, every loop and variable)."""
    recorder = tmp_path / "kafka-acls.sh"
    recorder.write_text('#!/bin/sh\nprintf "%s\\n" "$*" >> "$ACL_LOG"\n')
    recorder.chmod(0o755)
    log = tmp_path / "acls.log"
    subprocess.run(["sh", str(ROOT / "deploy/kafka/acls.sh")], check=True, timeout=30,
                   env={"PATH": f"{tmp_path}:/usr/bin:/bin", "ACL_LOG": str(log), "BOOTSTRAP": "k:9093",
                        "CONFIG": "admin.properties"})
    return [line.split() for line in log.read_text().splitlines()]


def test_only_the_api_and_the_edge_may_write_the_events_topic(tmp_path):
    """Issue 19: whoever can produce to the events topic could open someone's account first."""
    writers: dict[str, set[str]] = {}
    for args in _acls(tmp_path):
        principal = args[args.index("--allow-principal") + 1]
        topics = [args[i + 1] for i, a in enumerate(args) if a == "--topic"]
        if "Write" in args or "All" in args:
            prefixed = "prefixed" in args
            for topic in topics:
                writers.setdefault(topic + ("*" if prefixed else ""), set()).add(principal)
    events = {p for t, ps in writers.items() for p in ps
              if t == "voiceledger.events" or (t.endswith("*") and "voiceledger.events".startswith(t[:-1]))}
    assert events == {"User:voiceledger-api", "User:voiceledger-ingest"}
    assert writers["voiceledger.invoices"] == {"User:voiceledger-worker"}
    assert writers["voiceledger.settings"] == {"User:voiceledger-worker"}, "a forged version could stop every start"
    assert writers["voiceledger.erasure-requests"] == {"User:voiceledger-api"}, "a forged answer could close a request"
    assert "User:voiceledger-reader" not in {p for ps in writers.values() for p in ps}
