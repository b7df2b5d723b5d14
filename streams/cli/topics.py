"""``voiceledger topics ensure``: create or check every topic with its retention and partitions
(``streams/kafka/topics.py`` says what each must be, and why)."""

from __future__ import annotations

import argparse
import asyncio
import json

from streams.cli.common import settings_of


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    topics = sub.add_parser("topics", help="Kafka topics as configuration")
    topics_sub = topics.add_subparsers(dest="topics_command", required=True)
    ensure = topics_sub.add_parser("ensure", parents=parents,
                                   help="create missing topics with their configuration, check and set the others")
    ensure.add_argument("--dry-run", action="store_true", help="print what would be asked for; touch no broker")
    ensure.add_argument("--json", action="store_true", help="JSON instead of lines")
    ensure.set_defaults(handler=ensure_topics)


def ensure_topics(args: argparse.Namespace) -> int:
    """Exit 0 when every topic is as it must be, 1 when a difference could not be set."""
    from streams.kafka.topics import alter_topic_configs, ensure_topics as create, topic_differences, topic_specs

    settings = settings_of(args)
    specs = topic_specs(settings)
    if args.dry_run:
        print(json.dumps({"topics": [t.as_json() for t in specs]}, indent=1) if args.json
              else "\n".join(f"{t.name}\tpartitions={t.partitions}\treplication={t.replication_factor}\t"
                             + ",".join(f"{k}={v}" for k, v in t.configs.items()) for t in specs))
        return 0
    asyncio.run(create(settings))
    differences = asyncio.run(topic_differences(settings))
    refused = asyncio.run(alter_topic_configs(settings, differences)) if differences else ""
    left = asyncio.run(topic_differences(settings)) if differences and not refused else differences
    report = {"topics": [t.name for t in specs], "set": sorted(set(differences) - set(left)),
              "differences": {name: {k: {"broker": have, "wanted": want} for k, (have, want) in d.items()}
                              for name, d in left.items()}, "could_not_set": refused}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for name, d in report["differences"].items():
            print(f"{name}: " + ", ".join(f"{k}={v['broker']} (wanted {v['wanted']})" for k, v in d.items()))
        print(f"{len(specs)} topics; " + ("all as configured" if not left else f"{len(left)} differ: {refused}"))
    return 1 if left else 0
