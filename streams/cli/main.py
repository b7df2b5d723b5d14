"""The ``voiceledger`` command line: one parser, a handler per command (``set_defaults``), and
one place where errors become a single line and exit code 2, never a traceback.

Each command group lives in its own module and only parses and prints; the steps are in the
packages it calls. Handlers import those lazily, so ``voiceledger --help`` and a bad setting
stay fast.
"""

from __future__ import annotations

import argparse
import sys

from streams.cli import (analytics, api, dead_letters, disputes, edge, ledger, live, operator, rate, rerate, run,
                         settings, subscriber, topics)
from streams.cli.common import config_option
from streams.config.settings import ConfigError
from streams.observe.logs import quiet_client_libraries

GROUPS = (run, operator, disputes, api, edge, live, ledger, analytics, subscriber, topics, settings, rate, rerate,
          dead_letters)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voiceledger", description="Event-sourced billing ledger for VoIP providers")
    p.add_argument("--config", help="TOML settings file (default: $VOICELEDGER_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)
    parents = [config_option()]
    for group in GROUPS:
        group.register(sub, parents)
    return p


def _known_errors() -> tuple[type[BaseException], ...]:
    """Errors a user causes (bad input, a server that is not there), each said in one line."""
    from schemas.confluent import SchemaRegistryError
    from streams.clickhouse.client import ClickHouseConfigError
    from streams.dev.demo import DemoError
    from streams.dev.embedded import EmbeddedServerError
    from streams.edge.ingest import IngestError
    from streams.edge.rate_decks import RateCardError
    from streams.edge.sealing import SealError
    from streams.worker.supervise import WorkerError

    return (ConfigError, DemoError, WorkerError, ClickHouseConfigError, EmbeddedServerError, RateCardError,
            IngestError, SchemaRegistryError, SealError)


def _server_errors() -> dict[type[BaseException], str]:
    """What an unreachable or failing server raises, by the server's name."""
    from aiokafka.errors import KafkaError
    from clickhouse_driver.errors import Error as ClickHouseError

    return {KafkaError: "Kafka", ClickHouseError: "ClickHouse"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_client_libraries()  # the worker's own logging (JSON lines) is set up when it starts
    errors = _known_errors()
    servers = _server_errors()
    try:
        return args.handler(args)
    except errors as exc:
        print(f"voiceledger: error: {exc}", file=sys.stderr)
        return 2
    except tuple(servers) as exc:
        server = next(name for kind, name in servers.items() if isinstance(exc, kind))
        print(f"voiceledger: error: {server}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError) as exc:
        # Unreachable broker or ClickHouse, missing files: say which, without a traceback.
        print(f"voiceledger: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # The embedded engine's errors, by module: importing chdb to name its class would load
        # the whole engine into every command.
        if type(exc).__module__.split(".")[0] != "chdb":
            raise
        print(f"voiceledger: error: ClickHouse (chDB): {' '.join(str(exc).split())[:500]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
