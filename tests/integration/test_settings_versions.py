"""The settings topic on a real broker: a worker records each version of its fold settings, takes
a change dated from a month not begun, refuses (one line, exit 2) one that re-prices what was
folded, and starts with it once an operator has accepted it with a reason (streams/worker/settings_log.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from dataclasses import replace

import pytest

from streams.config.settings import ConfigError, Settings
from streams.kafka.codec import codec_for
from streams.kafka.producer import produce_raw
from streams.kafka.topics import ensure_topics
from streams.worker import settings_log
from streams.worker.supervise import worker_env
from tests.integration.api_scenario import api_process, call
from tests.unit.test_invoicing import ms

NOW = ms("2026-12-06T12:00:00")


def own_settings(broker, tmp_path) -> Settings:
    name = f"vl-{uuid.uuid4().hex[:10]}"
    return replace(
        Settings(), broker=broker.bootstrap, broker_flavor="tansu", app_id=name, partitions=2,
        **{f: f"{name}.{f}" for f in ("events_topic", "dead_letter_topic", "ledger_entries_topic", "calls_rated_topic",
                                       "rates_topic", "settings_topic", "account_status_topic", "invoices_topic",
                                       "invoice_numbering_topic", "invoice_numbers_topic")},
        clickhouse_url=f"chdb://{tmp_path / 'chdb'}", subscriber_keys_dir=str(tmp_path / "keys"), metrics_port=0,
        plans=("basic",), monthly_fees=("basic:9.99",),
    )


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=worker_env(settings),
                          capture_output=True, text=True, timeout=120)


def test_a_worker_records_takes_dated_changes_and_refuses_one_in_force_until_accepted(broker, tmp_path, capsys):
    s = own_settings(broker, tmp_path)
    asyncio.run(ensure_topics(s))  # as a worker does before its check
    assert asyncio.run(settings_log.guard(s, NOW))[0] == "recorded"
    assert asyncio.run(settings_log.guard(s, NOW))[0] == "unchanged"
    dated = replace(s, monthly_fees=("basic:9.99", "basic:10.99@2027-02"))
    assert asyncio.run(settings_log.guard(dated, NOW))[0] == "recorded"
    grown = replace(dated, plans=("basic", "gold"), monthly_fees=dated.monthly_fees + ("gold:19.99",))
    assert asyncio.run(settings_log.guard(grown, NOW))[0] == "recorded", "a new plan's price is no change in force"

    edited = replace(grown, monthly_fees=("basic:12.00", "basic:10.99@2027-02", "gold:19.99"))
    with pytest.raises(ConfigError, match=r"^settings: 1 change\(s\) .*monthly_fee_by_plan\[basic\] 9990000 -> "
                                          r"12000000 \(in force since always\)"):
        asyncio.run(settings_log.guard(edited, NOW))
    recorded = asyncio.run(settings_log.versions(s))
    assert [r["reason"] for r in recorded] == ["the first version", "1 change(s), none yet in force",
                                               "1 change(s), none yet in force"]
    assert [r["changed_in_force"] for r in recorded] == [[], [], []]

    worker = cli(edited, "worker")  # refused before it reads anything
    assert worker.returncode == 2, worker.stderr[-2000:]
    assert worker.stderr.count("\n") == 1 and "voiceledger: error: settings: 1 change(s)" in worker.stderr
    rebuild = cli(edited, "rebuild", "--app-id", "vl-rebuild-x", "--clickhouse-url", f"chdb://{tmp_path / 'rb'}")
    assert rebuild.returncode == 2 and rebuild.stderr.startswith("voiceledger: error: settings: 1 change(s)"), \
        rebuild.stderr[-2000:]
    check = cli(edited, "settings", "check")
    assert check.returncode == 1 and "IN FORCE  monthly_fee_by_plan[basic]" in check.stdout, check.stdout

    reason = "the basic fee was set wrong when the plan opened"
    accepted = cli(edited, "settings", "accept", "--reason", reason)
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted  monthly_fee_by_plan[basic]" in accepted.stdout
    assert "it starts at partition 0 offset 0, partition 1 offset 0: a rebuild folds" in accepted.stdout, accepted.stdout
    last = asyncio.run(settings_log.versions(s))[-1]
    assert asyncio.run(settings_log.guard(edited, NOW)) == ("unchanged", last["digest"])
    assert (last["reason"], last["changed_in_force"]) == (reason, ["monthly_fee_by_plan[basic]"])
    assert last["plans"] == ["basic", "gold"]
    assert {t["name"]: t["value"] for t in last["terms"]}["monthly_fee_by_plan[basic]"] == "12000000"

    from streams.cli.ledger import _accepted_changes  # what a rebuild that differs from live adds

    _accepted_changes(s)
    said = capsys.readouterr().out
    assert said.count("\n") == 1 and f"({reason}): monthly_fee_by_plan[basic]; replayed: each partition" in said, said
    finance_reads_the_versions_over_http(s, tmp_path)
    history = cli(s, "settings", "history")
    assert history.returncode == 0 and len(history.stdout.splitlines()) == 4
    assert history.stdout.splitlines()[-1].endswith("changed in force: monthly_fee_by_plan[basic]")
    back = cli(s, "settings", "check")  # the first version again would be a change in force too
    assert back.returncode == 1 and "IN FORCE" in back.stdout
    # Hostile records on the topic (not Avro, another schema) are left out, never a worker's stop.
    dead_letter = codec_for(s).encode_dead_letter(reason_code="x", reason="x", source_topic="t", source_partition=0,
                                                  source_offset=0, source_index=0, original=b"")
    asyncio.run(produce_raw(s, s.settings_topic, [(0, b"junk", b"\x00\xff not avro"), (0, b"dl", dead_letter)]))
    assert asyncio.run(settings_log.guard(edited, NOW)) == ("unchanged", last["digest"])
    assert len(asyncio.run(settings_log.versions(s))) == 4
    bad = cli(s, "settings", "accept", "--reason", " ")
    assert bad.returncode == 2 and bad.stderr.startswith("voiceledger: error: --reason:")
    # The worker's start reads the topic once: its guard hands the fold stage the epochs it read.
    action, digest, handed = asyncio.run(settings_log.guarded(edited, NOW))
    assert (action, digest) == ("unchanged", last["digest"])
    assert handed == asyncio.run(settings_log.epochs(s)) and handed.starts == {0: (0,), 1: (0,)}
    assert asyncio.run(settings_log.guarded(replace(edited, monthly_fees=edited.monthly_fees + ("basic:13@2030-01",)),
                                            NOW))[2] is None, "a version just recorded: the fold stage reads again"


def finance_reads_the_versions_over_http(s, tmp_path) -> None:  # noqa: ANN001 - Settings
    """``GET /v1/plans/versions``: the same versions, each term dated in UTC; not for a customer."""
    with api_process(s, tmp_path) as (_, base):
        status, versions_read, _ = call(base, "GET", "/v1/plans/versions", scope="finance")
        assert status == 200 and [v["digest"] for v in versions_read] == [
            r["digest"] for r in asyncio.run(settings_log.versions(s))]
        assert versions_read[-1]["changed_in_force"] == ["monthly_fee_by_plan[basic]"]
        dated = {t["name"]: t["starts_at"] for t in versions_read[-1]["terms"]}
        assert dated["monthly_fee_changes[basic@2027-02]"] == "2027-01-31T10:00:00Z"  # UTC+14's February
        assert dated["monthly_fee_by_plan[basic]"] is None
        assert call(base, "GET", "/v1/plans/versions", scope="portal:acct-000001")[0] == 403


def test_each_version_keeps_every_price_and_one_from_before_that_is_kept_whole_at_the_next_start(broker, tmp_path):
    """An auditor's question, "what was every price in that version?", answered from the log:
    the version keeps the settings whole, the default card's prices included; a version an
    older release recorded (terms only) is recorded once more with them."""
    import json

    from streams.config.settings_record import unpacked
    from streams.worker.fold_settings import fold_settings_from

    s = own_settings(broker, tmp_path)
    asyncio.run(ensure_topics(s))
    old = settings_log.Verdict(**{**vars(asyncio.run(settings_log.verdict(s, NOW))), "fold_settings": b""})
    asyncio.run(settings_log._record(s, old, "the first version", NOW))  # as a release before this one wrote it
    assert asyncio.run(settings_log.guard(s, NOW)) == ("recorded", old.digest), "the same terms, now kept whole"
    assert asyncio.run(settings_log.guard(s, NOW)) == ("unchanged", old.digest)
    first, again = asyncio.run(settings_log.versions(s))
    assert (first["digest"], first["fold_settings"], again["reason"]) == (
        again["digest"], b"", "the same terms, with the settings kept whole")
    assert unpacked(again["fold_settings"]) == fold_settings_from(s)
    shown = cli(s, "settings", "history", "--show", old.digest[:12])
    assert shown.returncode == 0, shown.stderr
    whole = json.loads(shown.stdout)
    assert whole["monthly_fee_by_plan"] == [["basic", 9_990_000]]
    card = whole["rate_cards"][0]
    assert card["destinations"]["1"]["rate_micros_per_minute"] == fold_settings_from(s).rate_cards[0].destinations[
        "1"].rate_micros_per_minute, "the card's own prices, not its digest"
    listed = [json.loads(line) for line in cli(s, "settings", "history", "--json").stdout.splitlines()]
    assert [r["fold_settings"] is None for r in listed] == [True, False]
    for wrong, said in (("zz", "--show: 8 to 64 characters"), ("0" * 8, "no version's digest starts with")):
        refused = cli(s, "settings", "history", "--show", wrong)
        assert refused.returncode == 2 and said in refused.stderr and "Traceback" not in refused.stderr
