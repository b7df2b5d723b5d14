"""``voiceledger api``: the operator and integration HTTP API (streams/api/), a process of its
own, stateless: run as many as needed behind a load balancer."""

from __future__ import annotations

import argparse

from streams.cli.common import settings_of
from streams.cli.live import listen_address
from streams.config.settings import ConfigError


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    api = sub.add_parser("api", parents=parents, help="serve the HTTP API (/v1, OpenAPI at /v1/openapi.json)")
    api.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT", help="default 127.0.0.1:8080")
    api.set_defaults(handler=serve_api)


def serve_api(args: argparse.Namespace) -> int:
    """Runs until SIGTERM or SIGINT, then exits 0."""
    from streams.api.serve import serve
    from streams.config.tokens import load_tokens

    settings = settings_of(args)
    host, port = listen_address(args.listen)
    if not settings.api_tokens_file:
        raise ConfigError("api_tokens_file: required by voiceledger api (nothing is open by default); lines of "
                          "'TOKEN operator|finance|switch|portal:ACCOUNT'")
    serve(settings, load_tokens(settings.api_tokens_file), host, port)
    return 0
