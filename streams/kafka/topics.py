"""Every topic the ledger uses, as configuration: its partitions, replication and retention.

The events topic is the source of truth: every projection is rebuilt from it, from offset 0. On a
stock Kafka a topic keeps records for seven days, so a topic created by a producer's first
write would lose the ledger's history after a week, and with it ``rebuild``; the invoices topic
would lose the invoices that ``invoices`` and ``statement`` read back. So the ledger creates its
topics itself, before anything is produced, with these settings:

- infinite (``retention.ms`` and ``retention.bytes`` -1): the events topic; the journal
  entries, invoices, account statuses and invoice numbers (records that finance and switches
  read back and that a new consumer must find whole);
- a set retention: dead letters (``dead_letter_retention_days``, in daily segments: R32) and rated calls
  (``calls_rated_retention_days``: the call log keeps every call, and the topic is rebuilt from
  the events);
- infinite too: the settings topic, each version of the fold's settings (a few records);
- compacted: the rates topic (keys are immutable card parts, so compaction only drops re-sent
  parts), and the accounts and numbering tables' changelogs (Faust's: made here first, or by
  the worker's Faust with the same configs);
- every one of them takes records of up to 8 MiB (``RECORD_BYTES_MAX``), what the producers
  may send, where a stock broker refuses more than ~1 MB.

A worker refuses to start when the events topic has a finite retention, unless
``allow_finite_event_retention`` says the operator keeps the log elsewhere (tiered storage, a
mirror). ``voiceledger topics ensure`` creates or checks them all; ``--dry-run --json`` prints
what it would ask for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from streams.config.settings import ConfigError, Settings
from streams.kafka.security import client_kwargs

DAY_MS = 86_400_000
INFINITE = {"retention.ms": "-1", "retention.bytes": "-1"}
# The largest record the ledger writes, and every producer's max_request_size. A stock broker
# refuses records over ~1 MB (message.max.bytes), and the ledger can write bigger ones in normal
# operation: an account's state near the dedup bound (64 bytes a key: ~1.3 MB at 20,000), an
# envelope of 5,000 rated calls with long ids and names, the numbering stage's drafts at a busy
# month's close. Refused, such a write would stop the worker at every restart. So every topic
# of the ledger, the tables' changelogs included, takes records of this size.
RECORD_BYTES_MAX = 8 * 1024 * 1024
LARGE_RECORDS = {"max.message.bytes": str(RECORD_BYTES_MAX)}
# The tables' changelogs (compacted): a restarted worker reads its partitions' changelog whole
# before it folds anything (~8k records a second here). Kafka never compacts the active segment,
# 1 GiB by default, so up to 1 GiB a partition of states already superseded would be read
# again at every restart; 64 MiB segments bound that head (docs/operations.md, restarts).
CHANGELOG_CONFIGS = {"cleanup.policy": "compact", "segment.bytes": str(64 * 1024 * 1024), **LARGE_RECORDS}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)
    why: str = ""

    def as_json(self) -> dict:
        return asdict(self)


def topic_specs(s: Settings) -> list[TopicSpec]:
    """What every topic must be, from the settings."""
    n, rf = s.partitions, s.replication_factor

    def days(d: int) -> dict[str, str]:
        return {"retention.ms": str(d * DAY_MS), "retention.bytes": "-1"}

    specs = [
        TopicSpec(s.events_topic, n, rf, INFINITE, "the source of truth: rebuilds read it from offset 0"),
        TopicSpec(s.ledger_entries_topic, n, rf, INFINITE, "journal entries: accounting records"),
        TopicSpec(s.invoices_topic, n, rf, INFINITE, "issued invoices, read back by invoices and statement"),
        TopicSpec(s.account_status_topic, n, rf, INFINITE, "status changes: a new switch reads them all"),
        TopicSpec(s.calls_rated_topic, n, rf, days(s.calls_rated_retention_days),
                  "derived: the call log keeps every call, and a rebuild sends them again"),
        # Kafka deletes a whole segment once its newest record is past retention, and rolls a
        # segment after segment.ms (a week by default): daily segments, so that a rejected CDR's
        # numbers in clear are gone within a day of retention (R32; settings.py).
        TopicSpec(s.dead_letter_topic, n, rf, {**days(s.dead_letter_retention_days), "segment.ms": str(DAY_MS)},
                  "refused records, kept for operators to inspect and re-drive"),
        # One partition each: the numbering stage sees every events partition's drafts in one
        # order and gives one sequence per issuer (projections/numbering.py).
        TopicSpec(s.invoice_numbering_topic, 1, rf, INFINITE, "drafts and ticks of the legal numbering"),
        TopicSpec(s.invoice_numbers_topic, 1, rf, INFINITE, "legal invoice numbers"),
        TopicSpec(s.rates_topic, 1, rf, {"cleanup.policy": "compact"},
                  "published rate cards: immutable parts, one order"),
        TopicSpec(s.settings_topic, 1, rf, INFINITE, "versions of the fold's settings: what a rebuild must run with"),
        TopicSpec(s.erasure_requests_topic, 1, rf, INFINITE, "subscribers' erasure requests and their answers (R32)"),
        # Faust's, made here first so that they take large records (a worker's Faust makes them
        # with the same configs where they are missing: streams/worker/app.py).
        TopicSpec(s.accounts_changelog_topic(), n, rf, CHANGELOG_CONFIGS,
                  "the accounts table's changelog: each account's latest state"),
        TopicSpec(s.numbering_changelog_topic(), 1, rf, CHANGELOG_CONFIGS,
                  "the numbering stage's changelog: drafts waiting for their epoch, last numbers"),
    ]
    return [replace(t, configs={**t.configs, **LARGE_RECORDS}) for t in specs]


def _admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=settings.broker, request_timeout_ms=10_000, **client_kwargs(settings))


async def ensure_topics(settings: Settings) -> None:
    """Create every missing topic with its configuration, and check the partition counts."""
    admin = _admin(settings)
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await admin.start()
        existing = set(await admin.list_topics())
        wanted = [NewTopic(t.name, num_partitions=t.partitions, replication_factor=t.replication_factor,
                           topic_configs=t.configs) for t in topic_specs(settings) if t.name not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
        await _check_partition_counts(admin, settings, existing)
    finally:
        await admin.close()


async def topic_differences(settings: Settings) -> dict[str, dict[str, tuple[str | None, str]]]:
    """topic -> config -> (what the broker says, what the ledger wants), for each that differs. A
    config the broker does not list is its default, which on a stock Kafka is finite retention."""
    specs = topic_specs(settings)
    admin = _admin(settings)
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await admin.start()
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t.name) for t in specs])
    finally:
        await admin.close()
    actual: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            actual[resource["resource_name"]] = {e["config_names"]: e["config_value"]
                                                 for e in resource["config_entries"]}
    out = {}
    for t in specs:
        have = actual.get(t.name, {})
        wrong = {k: (have.get(k), v) for k, v in t.configs.items() if have.get(k) != v}
        if wrong:
            out[t.name] = wrong
    return out


async def alter_topic_configs(settings: Settings, differences: dict[str, dict[str, tuple[str | None, str]]]) -> str:
    """Set the wanted configs on existing topics; '' when done, else why it could not be."""
    admin = _admin(settings)
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await admin.start()
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, {k: v for k, (_, v) in d.items()})
                                   for name, d in differences.items()])
        return ""
    except Exception as exc:  # a broker without AlterConfigs (Tansu), or no right to alter
        return f"{type(exc).__name__}: {exc}"
    finally:
        await admin.close()


async def require_kept_log(settings: Settings) -> None:
    """Refuse (one line) to run a worker on an events topic that expires, unless allowed."""
    if settings.allow_finite_event_retention:
        return
    wrong = (await topic_differences(settings)).get(settings.events_topic, {})
    if wrong:
        described = ", ".join(f"{k}={have if have is not None else 'the broker default'}"
                              for k, (have, _) in sorted(wrong.items()))
        raise ConfigError(f"allow_finite_event_retention: the events topic {settings.events_topic} has {described}; "
                          "it is the source of truth and must keep every record (retention.ms=-1, "
                          "retention.bytes=-1): run 'voiceledger topics ensure', or set this if the log is kept "
                          "elsewhere")
async def _check_partition_counts(admin: AIOKafkaAdminClient, settings: Settings, existing: set[str]) -> None:
    """Refuse to run when a topic keyed by account has another partition count than ``partitions``.

    An account's partition is murmur2(account) mod the count: with another count, producers and
    the worker would disagree on where accounts live (every event dead-lettered as ``misrouted``),
    states would sit in the wrong changelog partitions, and the invoice numbering stage would
    wait for ticks from partitions that do not exist. Kafka lets anyone add partitions to a topic,
    so this is checked at every start, before any event is read."""
    # The changelog only once Faust has made it (asking a broker about a missing topic may create it).
    changelog = settings.accounts_changelog_topic()
    described = await admin.describe_topics([settings.events_topic, *([changelog] if changelog in existing else [])])
    for topic in described:
        count = len(topic.get("partitions") or ())
        if topic.get("error_code", 0) or not count:
            continue  # not there (yet): Faust creates the changelog with the configured count
        if count != settings.partitions:
            raise ConfigError(
                f"partitions: topic {topic['topic']} has {count} partitions, but partitions = {settings.partitions}. "
                "An account's partition is murmur2(account) mod the partition count, so the two must agree; "
                "changing the count needs the workers stopped and the state rebuilt from the log (README: "
                "Partitions, keys and state)")
