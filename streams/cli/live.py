"""``voiceledger receive``: the live CDR receiver (FreeSWITCH mod_json_cdr POSTs and plain JSON
CDRs over HTTP), as a long-running process beside the workers."""

from __future__ import annotations

import argparse

from streams.cli.common import settings_of
from streams.config.settings import LOOPBACK_HOSTS, ConfigError


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    rc = sub.add_parser("receive", parents=parents,
                        help="receive CDRs over HTTP as calls end (POST /cdr/freeswitch, POST /cdr/json)")
    rc.add_argument("--carrier", required=True, help="carrier id of the switch posting: with its ids, the call key")
    rc.add_argument("--time-zone", default="UTC", help="the switch's IANA zone for times written without one")
    rc.add_argument("--directory", metavar="FILE.csv",
                    help="number_or_trunk,account_id lines over the log's numbers (docs/ingest.md)")
    rc.add_argument("--listen", default="127.0.0.1:8090", metavar="HOST:PORT", help="default 127.0.0.1:8090")
    rc.set_defaults(handler=receive)


def listen_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65_536:
        raise ConfigError(f"--listen: {text!r} must be HOST:PORT")
    return host.strip("[]"), int(port)


def receive(args: argparse.Namespace) -> int:
    """Runs until SIGTERM or SIGINT, then exits 0."""
    from streams.cli.edge import source_from_args
    from streams.config.tokens import load_tokens
    from streams.edge.receiver import serve

    settings = settings_of(args)
    host, port = listen_address(args.listen)
    args.format, args.revision = "freeswitch-json", 0
    source = source_from_args(settings, args)
    if not settings.api_tokens_file and host not in LOOPBACK_HOSTS:
        raise ConfigError(f"api_tokens_file: required when the receiver listens on {host} (anyone could post CDRs)")
    tokens = load_tokens(settings.api_tokens_file) if settings.api_tokens_file else None
    serve(settings, source, host, port, tokens)
    return 0
