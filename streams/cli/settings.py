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
    history.add_argument("--show", metavar="DIGEST",
                         help="every setting of the newest version whose digest starts so (at least 8 characters), "
                              "configured cards' prices included, as JSON")
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
    if v.refused:
        starts = [s for s in asyncio.run(settings_log.read_log(settings_of(args)))[1] if s["digest"] == v.digest]
        print("it starts at " + ", ".join(f"partition {s['partition']} offset {s['first_offset']}" for s in starts)
              + ": a rebuild folds what came before with the version it replaces")
    return 0


def run_history(args: argparse.Namespace) -> int:
    from streams.config.versions import moment
    from streams.worker import settings_log

    if args.show is not None and not (8 <= len(args.show) <= 64 and all(c in "0123456789abcdef" for c in args.show)):
        raise ConfigError("--show: 8 to 64 characters of a version's digest (0-9, a-f), as history lists them")
    found = asyncio.run(settings_log.versions(settings_of(args)))
    if args.show:
        return _show(found, args.show)
    for record in found:
        if args.json:
            print(json.dumps({**record, "fold_settings": _whole(record)}, sort_keys=True))
            continue
        when = moment(record["recorded_at_ms"])
        changed = record["changed_in_force"]
        print(f"{when}\t{record['digest'][:12]}\t{record['recorded_by']}\t{len(record['terms'])} terms\t"
              f"{record['reason']}" + (f"\tchanged in force: {', '.join(changed)}" if changed else ""))
    return 0


def _whole(record: dict):  # noqa: ANN202 - JSON's values
    """A version's settings as JSON values; None for a version that did not keep them."""
    from streams.config.settings_record import plain, unpacked

    blob = record.get("fold_settings") or b""
    try:
        return plain(unpacked(blob)) if blob else None
    except ValueError as exc:
        return {"unreadable": str(exc)}


def _show(found: list[dict], digest: str) -> int:
    chosen = [r for r in found if r["digest"].startswith(digest)]
    if not chosen:
        raise ConfigError(f"--show: no version's digest starts with {digest}")
    whole = _whole(chosen[-1])
    if whole is None:
        raise ConfigError(f"--show: version {digest} was recorded by a release that did not keep the settings whole "
                          "(or they passed 4 MiB compressed): its terms are in 'history --json'")
    print(json.dumps(whole, indent=1, sort_keys=True, ensure_ascii=False))
    return 0
