"""``voiceledger ingest``, ``tick``, ``rates import`` and ``carrier-reconcile``: what enters the
log from outside, and a carrier's file checked against what we billed."""

from __future__ import annotations

import argparse
import dataclasses
import asyncio
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from streams.cli.common import day, positive, settings_of
from streams.config.settings import ConfigError

FORMATS = ("asterisk-csv", "freeswitch-json", "plain-json", "csv", "avro")


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    ing = sub.add_parser("ingest", parents=parents, help="parse carriers' CDR files and produce them to the events topic")
    ing.add_argument("--format", required=True, choices=FORMATS,
                     help="asterisk-csv: Master.csv; freeswitch-json: mod_json_cdr; plain-json: JSON Lines, a call "
                          "per line (docs/ingest.md); csv: any CSV layout, with --mapping; avro: container file")
    ing.add_argument("--mapping", metavar="NAME|FILE.toml",
                     help="with --format csv: a shipped mapping (asterisk-master, freeswitch-cdr-csv, kamailio-acc-cdrs, "
                          "opensips-acc) or a TOML mapping file (docs/ingest.md)")
    ing.add_argument("--carrier", help="carrier id: with the source's unique id, the call key (required "
                                       "for asterisk-csv and freeswitch-json)")
    ing.add_argument("--time-zone", default="UTC",
                     help="the carrier's IANA time zone, for timestamps logged without one (default UTC)")
    ing.add_argument("--envelope", type=positive, default=200, help="CDRs per Kafka message (1 = no envelopes)")
    ing.add_argument("--directory", metavar="FILE.csv",
                     help="number_or_trunk,account_id lines: the account of a CDR with no accountcode, by its "
                          "calling number or its trunk (trunk:NAME)")
    ing.add_argument("--revision", type=revision, default=0, metavar="N",
                     help="the file is the carrier's correction of calls it sent before: its calls get revision N "
                          "(1, 2, ...) and supersede earlier revisions (docs/ingest.md, corrections)")
    ing.add_argument("--follow", action="store_true",
                     help="tail one growing file (Master.csv, JSON Lines) until stopped, through rotations, keeping "
                          "its position in --position")
    ing.add_argument("--position", metavar="FILE", help="with --follow: where the position is kept "
                                                        "(default PATH.position)")
    ing.add_argument("--dry-run", action="store_true",
                     help="parse and assemble only, no broker: one JSON object per call or rejected record")
    ing.add_argument("paths", nargs="+", metavar="PATH")
    ing.set_defaults(handler=ingest)

    tick = sub.add_parser("tick", parents=parents,
                          help="publish the hourly time event (run it every hour: cron, systemd timer)")
    tick.add_argument("--at", help="ISO 8601 time, e.g. 2026-12-01T00:00:00Z (default: now); truncated to the hour")
    tick.set_defaults(handler=publish_tick)

    rates = sub.add_parser("rates", help="rate cards")
    rates_sub = rates.add_subparsers(dest="rates_command", required=True)
    imp = rates_sub.add_parser("import", parents=parents,
                               help="validate a carrier rate deck (CSV) and publish it as a rate card")
    imp.add_argument("path", metavar="FILE.csv")
    imp.add_argument("--currency", required=True, help="the card's currency (USD or EUR)")
    imp.add_argument("--valid-from", help="YYYY-MM-DD (UTC); default: the newest effective_date in the deck")
    imp.add_argument("--valid-to", help="YYYY-MM-DD (UTC), exclusive; default: open-ended")
    imp.add_argument("--card-id", help="default: FILE-stem@valid-from; cards are immutable, so a new deck "
                                       "needs a new id")
    imp.add_argument("--split-bands", action="store_true",
                     help="price a call that crosses a band boundary part by part at each band's rate (per-segment, "
                          "as CGRateS does); default: the whole call at the band of its start")
    imp.add_argument("--card", metavar="NAME", help="the card's name, as plans name it (plan_cards): the id is "
                                                   "NAME@valid-from, a new version of the card NAME")
    imp.add_argument("--band", action="append", default=[], metavar="NAME=DAYS@HH:MM-HH:MM",
                     help="a time band for the deck's band_rates column, e.g. peak=0-4@08:00-18:00 "
                          "(0 = Monday; local time of each account); repeat for more bands")
    imp.add_argument("--dry-run", action="store_true", help="validate only, publish nothing")
    imp.set_defaults(handler=rates_import)

    cr = sub.add_parser("carrier-reconcile", parents=parents,
                        help="a carrier's CDR file against our call log (dispute evidence)")
    cr.add_argument("--carrier", required=True, help="carrier id, as given to ingest")
    cr.add_argument("--format", required=True, choices=FORMATS)
    cr.add_argument("--time-zone", default="UTC", help="the carrier's IANA zone for timestamps without one")
    cr.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD (UTC), included")
    cr.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD (UTC), excluded")
    cr.add_argument("--start-tolerance", type=int, default=2, help="seconds (default 2)")
    cr.add_argument("--duration-tolerance", type=int, default=1, help="seconds (default 1)")
    cr.add_argument("paths", nargs="+", metavar="PATH")
    cr.set_defaults(handler=carrier_reconcile)


def revision(text: str) -> int:
    from streams.edge.source import REVISION_MAX

    value = positive(text)
    if value > REVISION_MAX:
        raise argparse.ArgumentTypeError(f"{text} is above {REVISION_MAX}")
    return value


def _zone(text: str):  # noqa: ANN202 - a ZoneInfo
    from streams.edge.cdr import carrier_zone

    try:
        return carrier_zone(text)
    except ValueError as exc:
        raise ConfigError(f"--time-zone: {exc}") from None


def ingest(args: argparse.Namespace) -> int:
    """Exit 0 when every record was produced, 1 when some were rejected (and dead-lettered)."""
    from streams.edge.ingest import ingest as run

    settings = settings_of(args)
    source = source_from_args(settings, args)
    if args.dry_run:
        return dry_run(args, source)
    if args.follow:
        return follow(settings, args, source)
    summary = asyncio.run(run(settings, [Path(p) for p in args.paths], source, envelope_max=args.envelope))
    print(summary.line())
    return 1 if summary.rejected else 0


def source_from_args(settings, args: argparse.Namespace):  # noqa: ANN001, ANN202 - Settings, Source
    """How the records of ``args`` are read, from the command line (one line and exit 2 if wrong)."""
    from streams.edge.directory import DirectoryError, NumberDirectory
    from streams.edge.source import Source

    if args.format != "avro" and not args.carrier:
        raise ConfigError(f"--carrier: required for --format {args.format} (it scopes the call key)")
    if args.format == "avro" and args.revision:
        raise ConfigError("--revision: an Avro record carries its own revision")
    mapping = _mapping(args)
    try:
        directory = NumberDirectory.from_csv(args.directory, settings.country_code) if args.directory else None
    except DirectoryError as exc:
        raise ConfigError(f"--directory: {exc}") from None
    return Source(args.format, args.carrier, _zone(args.time_zone), directory, args.revision, mapping)


def _mapping(args: argparse.Namespace):  # noqa: ANN202 - a Mapping or None
    from streams.edge.csv_mapping import Mapping, MappingError

    if (args.format == "csv") != bool(getattr(args, "mapping", None)):
        raise ConfigError("--mapping: required with --format csv, and only with it")
    if args.format != "csv":
        return None
    try:
        return Mapping.load(args.mapping)
    except MappingError as exc:
        raise ConfigError(f"--mapping: {exc}") from None


def follow(settings, args: argparse.Namespace, source) -> int:  # noqa: ANN001 - Settings, Source
    """``ingest --follow``: runs until SIGTERM or SIGINT, then exits 0."""
    from streams.edge.follow import follow as run

    if len(args.paths) != 1 or args.format == "avro":
        raise ConfigError("--follow: one file of a text format (asterisk-csv, csv, plain-json, freeswitch-json as "
                          "JSON Lines)")
    if source.mapping is not None and source.mapping.header:
        raise ConfigError("--follow: a mapping with a header line cannot be followed (a rotated file starts "
                          "without it); use a mapping by column index")
    path = Path(args.paths[0])
    position = Path(args.position) if args.position else path.with_name(path.name + ".position")
    try:
        asyncio.run(run(settings, path, source, position, lambda text: print(text, file=sys.stderr, flush=True)))
    except ValueError as exc:  # a damaged position file
        raise ConfigError(f"--position: {exc}") from None
    return 0


def dry_run(args: argparse.Namespace, source) -> int:  # noqa: ANN001 - Source
    """What ingest would produce, as JSON lines: a contract scripts rely on (docs/ingest.md).
    No broker: the directory is the ``--directory`` file only."""
    from schemas.codec import EventCodec
    from streams.edge.ingest import call_json, rejected_json
    from streams.edge.source import parse_file

    rejected = 0
    for path in args.paths:
        for parsed in parse_file(Path(path), source, EventCodec()):
            if parsed.cdr is None:
                rejected += 1
                print(json.dumps(rejected_json(parsed, path)))
            else:
                print(json.dumps(call_json(parsed.cdr, parsed.legs)))
    return 1 if rejected else 0


def publish_tick(args: argparse.Namespace) -> int:
    from streams.kafka.topics import ensure_topics
    from streams.kafka.producer import publish_tick as publish

    settings = settings_of(args)
    if args.at:
        try:
            moment = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"--at: {args.at!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise ConfigError(f"--at: {args.at!r} has no time zone (add Z or +hh:mm)")
    else:
        moment = datetime.now(timezone.utc)  # the edge where wall time enters
    asyncio.run(ensure_topics(settings))
    offsets = asyncio.run(publish(settings, int(moment.timestamp() * 1000)))
    print(f"tick {moment.astimezone(timezone.utc):%Y-%m-%dT%H}:00Z published to {len(offsets)} partition(s)")
    return 0


def rates_import(args: argparse.Namespace) -> int:
    from streams.edge.rate_decks import check_route_fits, load_rate_card, parse_band
    from streams.worker.rate_feed import publish_card

    settings = settings_of(args)
    t0 = time.perf_counter()
    bands = tuple(parse_band(spec) for spec in args.band)
    if args.card and (args.card_id or "@" in args.card or not args.card.strip()):
        raise ConfigError("--card: a name without @ (the id is NAME@valid-from), and not with --card-id")
    card = load_rate_card(args.path, args.currency, args.valid_from, valid_to=args.valid_to, bands=bands,
                          card_id=args.card_id)
    if args.split_bands:
        card = dataclasses.replace(card, split_at_bands=True)
    if args.card:  # a named version: plans pick cards by name, the version in effect by date (R5)
        card = dataclasses.replace(card, card_id=f"{args.card}@{card.card_id.split('@', 1)[1]}")
    if settings.seal_personal_data:
        check_route_fits(card, settings.route_digits)
    summary = {"card_id": card.card_id, "currency": card.currency, "destinations": len(card.destinations),
               "bands": [b.name for b in card.bands], "valid_from_ms": card.valid_from_ms,
               "valid_to_ms": card.valid_to_ms, "load_seconds": round(time.perf_counter() - t0, 3), "published": False}
    if not args.dry_run:
        # The publication time is the edge where wall time enters; the book itself uses the
        # log time of the records (projections/rate_book.py).
        now_ms = int(time.time() * 1000)
        summary["parts"] = asyncio.run(publish_card(settings, card, event_id=f"ratecard:{card.card_id}",
                                                    published_at_ms=now_ms))
        summary["published"] = True
        summary["takes_effect_from_ms"] = max(card.valid_from_ms, now_ms + settings.rate_card_lead_seconds * 1000)
        summary["seconds"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(summary))
    return 0


def carrier_reconcile(args: argparse.Namespace) -> int:
    from streams.clickhouse.client import connect
    from streams.edge.carrier_reconcile import CallSide, compare, theirs_in_window

    settings = settings_of(args)
    bounds = [int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp())
              for d in (day("--from", args.date_from), day("--to", args.date_to))]
    theirs, unreadable = theirs_in_window([Path(p) for p in args.paths], args.format, args.carrier,
                                          _zone(args.time_zone), bounds)
    carrier = args.carrier.replace("'", "")
    ch = connect(settings.clickhouse_url, settings.clickhouse_cluster)
    try:
        rows = ch.query("SELECT call_key, toUInt32(start_at), duration_s, charge_micros FROM call_log FINAL "
                        f"WHERE carrier_id = '{carrier}' AND start_at >= toDateTime({bounds[0]}) "
                        f"AND start_at < toDateTime({bounds[1]})")
    finally:
        ch.close()
    result = compare(theirs, [CallSide(k, int(s), int(d), int(m)) for k, s, d, m in rows], args.start_tolerance,
                     args.duration_tolerance)
    for line in result.lines():
        print(line)
    if unreadable:
        print(f"{unreadable} record(s) of the carrier's file could not be parsed (see voiceledger ingest for why)")
    return 0 if result.clean else 1
