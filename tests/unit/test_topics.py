"""Topics as configuration: what ``voiceledger topics ensure --dry-run --json`` asks for, without a
broker. The events topic keeps every record; the numbering topics have one partition."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_dry_run_shows_the_events_topic_with_infinite_retention():
    env = {**os.environ, "VOICELEDGER_PARTITIONS": "12", "VOICELEDGER_REPLICATION_FACTOR": "3",
           "VOICELEDGER_DEAD_LETTER_RETENTION_DAYS": "20", "VOICELEDGER_BROKER": "127.0.0.1:1"}
    run = subprocess.run([sys.executable, "-m", "streams.cli", "topics", "ensure", "--dry-run", "--json"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    topics = {t["name"]: t for t in json.loads(run.stdout)["topics"]}
    events = topics["voiceledger.events"]
    large = {"max.message.bytes": str(8 * 1024 * 1024)}  # every topic: a stock broker takes ~1 MB
    assert events["configs"] == {"retention.ms": "-1", "retention.bytes": "-1", **large}
    assert (events["partitions"], events["replication_factor"]) == (12, 3)
    for name in ("voiceledger.invoices", "voiceledger.ledger.entries", "voiceledger.invoice-numbers"):
        assert topics[name]["configs"]["retention.ms"] == "-1", name
    # R32: rejected CDRs keep numbers in clear there; daily segments let retention delete them on time.
    assert topics["voiceledger.dead-letter"]["configs"] == {"retention.ms": str(20 * 86_400_000), "retention.bytes": "-1",
                                                           "segment.ms": str(86_400_000), **large}
    assert topics["voiceledger.invoice-numbering"]["partitions"] == 1
    assert topics["voiceledger.rates"]["configs"] == {"cleanup.policy": "compact", **large}
    # The tables' changelogs, made before Faust would make them with a broker's defaults.
    # Small segments: Kafka never compacts the active one, and a restart reads it whole.
    changelog = {"cleanup.policy": "compact", "segment.bytes": str(64 * 1024 * 1024), **large}
    assert topics["voiceledger-accounts-changelog"]["configs"] == changelog
    assert topics["voiceledger-numbering-changelog"]["configs"] == changelog
    assert topics["voiceledger-accounts-changelog"]["partitions"] == 12
    assert topics["voiceledger-numbering-changelog"]["partitions"] == 1
