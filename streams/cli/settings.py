"""``voiceledger settings check | accept | history``: the versions of the fold's settings.

A worker refuses to start with settings that change a price or rule already in force (a rebuild
would no longer equal live; ``streams/config/versions.py``). ``check`` says, before a deploy,
what a worker would say; ``accept`` records such a change on purpose, with a reason that stays on
the settings topic; ``history`` lists every version recorded there.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from streams.cli.common import settings_of
from streams.config.settings import ConfigError

REASON_CHARS_MAX = 500


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    group = sub.add_parser("settings", help="versions of the fold's settings on the log")
    commands = group.add_subparsers(dest="settings_command", required=True)
    check = commands.add_parser("check", parents=parents,
                                help="the changes since the recorded version; exit 1 if a worker would refuse them")
    check.add_argument("--json", action="store_true", help="JSON instead of lines")
    check.set_defaults(handler=run_check)
    accept = commands.add_parser("accept", parents=parents,
                                 help="record the settings at hand, changes in force included, with a reason")
    accept.add_argument("--reason", required=True, help="why a change in force is right (kept on the log)")
    accept.set_defaults(handler=run_accept)
    history = commands.add_parser("history", parents=parents, help="every recorded version, oldest first")
    history.add_argument("--json", action="store_true", help="JSON lines, terms included")
    history.set_defaults(handler=run_history)


def run_check(args: argparse.Namespace) -> int:
    from streams.worker import settings_log

    v = asyncio.run(settings_log.verdict(settings_of(args)))
    refused = {c.name for c in v.refused}
    if args.json:
        print(json.dumps({"digest": v.digest, "recorded": v.last["digest"] if v.last else None,
                          "changes": [{"name": c.name, "starts_ms": c.starts_ms, "before": c.before, "after": c.after,
                                       "in_force": c.name in refused} for c in v.found]}, indent=1))
    else:
        for c in v.found:
            print(("IN FORCE  " if c.name in refused else "taken     ") + c.described())
        print("no version recorded yet: a worker records this one" if v.last is None else
              "the recorded version" if v.unchanged else
              f"{len(v.found)} change(s), {len(v.refused)} in force: a worker would "
              + ("refuse them (voiceledger settings accept --reason TEXT)" if v.refused else "record them"))
    return 1 if v.refused else 0


def run_accept(args: argparse.Namespace) -> int:
    from streams.worker import settings_log

    reason = " ".join(args.reason.split())
    if not reason or len(reason) > REASON_CHARS_MAX or not reason.isprintable():
        raise ConfigError(f"--reason: say why, in 1 to {REASON_CHARS_MAX} printable characters")
    v = asyncio.run(settings_log.accept(settings_of(args), reason))
    if v.unchanged:
        print("the settings at hand are the recorded version: nothing to accept")
        return 0
    for c in v.found:
        print(("accepted  " if c in v.refused else "taken     ") + c.described())
    print(f"recorded version {v.digest[:12]}: {len(v.found)} change(s), {len(v.refused)} of them in force")
    return 0


def run_history(args: argparse.Namespace) -> int:
    from streams.config.versions import moment
    from streams.worker import settings_log

    for record in asyncio.run(settings_log.versions(settings_of(args))):
        if args.json:
            print(json.dumps(record, sort_keys=True))
            continue
        when = moment(record["recorded_at_ms"])
        changed = record["changed_in_force"]
        print(f"{when}\t{record['digest'][:12]}\t{record['recorded_by']}\t{len(record['terms'])} terms\t"
              f"{record['reason']}" + (f"\tchanged in force: {', '.join(changed)}" if changed else ""))
    return 0
