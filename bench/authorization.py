"""Benchmark: authorization latency (R10) at a fixed request rate, through the real endpoint.

Starts the embedded broker and one worker process with its authorization endpoint, funds
``--accounts`` prepaid accounts, then sends ``--rate`` requests per second for ``--seconds``
on an open-loop schedule (each request is timed from when it was *due*, so a slow answer
cannot hide the ones queued behind it). Optionally a stream of CDRs is folded meanwhile
(``--cdr-load``), which competes with the endpoint for the two cores (and, before issue 22's
authorization process, for the GIL). Prints JSON with the client's latencies, the server's own
histogram of the same answers (``in_server_seconds_cumulative``: the time inside the handler),
how late its loop ran (``loop_lag_seconds_cumulative``: the wait before a handler starts),
and how fast the fold ran meanwhile. Not a test.

    python bench/authorization.py [--rate 2000] [--seconds 10] [--cdr-load 20000] [--client raw|aiohttp]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from bench.arguments import seconds_within, within  # noqa: E402
from bench.calibration import calibration  # noqa: E402
from bench.scratch import removed_after_success, scratch_dir  # noqa: E402
from bench.worker_metrics import scrape  # noqa: E402

from projections.events import AccountOpened, CallDetailRecord, Disposition, PaymentReceived  # noqa: E402
from streams.config.settings import Settings  # noqa: E402
from streams.worker.supervise import start_worker, stop_worker, wait_until_committed  # noqa: E402
from streams.dev.embedded import ClickHouseServer, EmbeddedBroker, free_port  # noqa: E402
from streams.kafka.topics import ensure_topics  # noqa: E402
from streams.edge.publish import produce_events  # noqa: E402


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def open_loop(one: Callable[[int, float], Awaitable[None]], rate: int, seconds: float) -> float:
    """Start ``one(n, due)`` for request n at its due time, ``rate`` a second for ``seconds``,
    whether or not the ones before have been answered (an open loop: a slow answer cannot hide
    the requests queued behind it); the rate achieved."""
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    tasks = []
    total = int(rate * seconds)
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    return total / (time.perf_counter() - start)


async def fire(base: str, accounts: list[str], rate: int, seconds: float) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors = 0
    allowed = 0
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(n: int, due: float) -> None:
            nonlocal errors, allowed
            params = {"account": accounts[n % len(accounts)], "callee": "12125550100", "call": f"bench/{n}",
                      "quota_s": "60"}
            try:
                async with session.get(f"{base}/authorize", params=params) as response:
                    body = await response.json()
                    allowed += 1 if body.get("allowed") else 0
                    errors += 0 if response.status == 200 else 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - due)

        achieved = await open_loop(one, rate, seconds)
    return latencies, errors, allowed, achieved


async def fire_raw(base: str, accounts: list[str], rate: int, seconds: float,
                   connections: int = 32) -> tuple[list[float], int, int]:
    """``fire`` with a lean client: HTTP/1.1 written and read by hand on ``connections``
    persistent sockets: about half of aiohttp's CPU per request (165 us against 304 here). On this
    machine the client shares the two cores with the worker, the broker and the authorization
    process, and what it spends is counted as latency; a switch does not share them."""
    host, port = base.removeprefix("http://").split(":")
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, int(port)))
    latencies: list[float] = []
    errors = allowed = 0

    async def one(n: int, due: float) -> None:
        nonlocal errors, allowed
        reader, writer = await pool.get()
        try:
            writer.write(f"GET /authorize?account={accounts[n % len(accounts)]}&callee=12125550100&call=bench/{n}"
                         f"&quota_s=60 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            body = json.loads(await reader.readexactly(length))
            allowed += 1 if body.get("allowed") else 0
            errors += 0 if head.startswith(b"HTTP/1.1 200") else 1
        except (OSError, asyncio.IncompleteReadError, AttributeError, ValueError):
            errors += 1
            writer.close()
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
            except OSError:
                pass  # the closed pair goes back: the next request on it fails and reconnects
        finally:
            pool.put_nowait((reader, writer))
        latencies.append(time.perf_counter() - due)

    achieved = await open_loop(one, rate, seconds)
    while not pool.empty():
        pool.get_nowait()[1].close()
    return latencies, errors, allowed, achieved


def buckets(metric: str, before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """A histogram of the worker's /metrics over the run: cumulative counts by bucket."""
    prefix = metric + '_bucket{le="'
    return {name[len(prefix):-2]: value - before.get(name, 0) for name, value in after.items()
            if name.startswith(prefix)}


def calls_rated(samples: dict[str, float]) -> float:
    return sum(v for name, v in samples.items() if name.startswith("voiceledger_calls_rated_total"))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=within(1, 1_000_000), default=2_000)
    p.add_argument("--seconds", type=seconds_within(0.1, 3_600), default=10)
    p.add_argument("--accounts", type=within(1), default=1_000)
    p.add_argument("--cdr-load", type=within(0), default=0, help="CDRs to fold while the requests run")
    p.add_argument("--client", choices=["raw", "aiohttp"], default="raw",
                   help="the load's client: HTTP/1.1 by hand (the default: less of the client's own CPU on the shared "
                        "cores), or aiohttp (as before 2026-12-04)")
    p.add_argument("--engine", choices=["chdb", "server"], default="chdb",
                   help="ClickHouse in the worker (chdb), or Debian's server in a process of its own, as in production")
    p.add_argument("--realtime-priority", type=int, default=0, choices=range(0, 100), metavar="0-99",
                   help="the worker's authorization_realtime_priority (SCHED_FIFO; 0: an ordinary process)")
    p.add_argument("--open-in-worker", action="store_true", help="the worker opens sealed numbers itself "
                   "(open_sealed_beside_fold off), as before that setting")
    return p.parse_args()


def cdr_load(accounts: list[str], now: int, n: int) -> list[CallDetailRecord]:
    """``n`` answered calls of the accounts, ten minutes ago, to fold while the requests run."""
    rng = random.Random(5)
    return [CallDetailRecord(f"e{i}", "load", f"l{i}", rng.choice(accounts), "15550000001", "12125550100",
                             now - 600_000, now - 599_000, now - 599_000 + rng.randrange(1, 600) * 1000,
                             Disposition.ANSWERED) for i in range(n)]


def main() -> None:
    args = parse_args()
    tmp = scratch_dir("vl-bench-authz-")
    with EmbeddedBroker() as broker, contextlib.ExitStack() as stack:
        server = stack.enter_context(ClickHouseServer(str(tmp / "ch"))) if args.engine == "server" else None
        settings = replace(Settings(), broker=broker.bootstrap, broker_flavor="tansu",
                           clickhouse_url=server.url if server else f"chdb://{tmp / 'chdb'}", app_id="bench-authz",
                           metrics_port=free_port(), authorization_port=free_port(), log_level="warning",
                           authorization_realtime_priority=args.realtime_priority,
                           open_sealed_beside_fold=not args.open_in_worker)
        now = int(time.time() * 1000)
        accounts = [f"acct-{n:06d}" for n in range(args.accounts)]
        setup = []
        for a in accounts:
            setup += [AccountOpened(f"o-{a}", a, now - 3_600_000, "USD", "basic", "prepaid", ("15550000001",)),
                      PaymentReceived(f"p-{a}", a, now - 3_500_000, 1_000_000_000, "USD")]
        asyncio.run(ensure_topics(settings))
        offsets = asyncio.run(produce_events(settings, setup))
        worker = start_worker(settings, tmp / "worker.log")
        try:
            worker = wait_until_committed(settings, worker, 300, offsets, show_progress=False,
                                          log_path=tmp / "worker.log")
            base = f"http://127.0.0.1:{settings.authorization_port}"
            asyncio.run(fire(base, accounts, 200, 1))  # warm up: connections, caches
            if args.cdr_load:
                asyncio.run(produce_events(settings, cdr_load(accounts, now, args.cdr_load), envelope_max=200))
            # The client's own full collections (over everything this process made) would pause
            # it, and be counted as the server's latency: freeze what exists, as the worker does.
            gc.collect()
            gc.freeze()
            before = scrape(settings.metrics_port)
            started, cpu_started = time.perf_counter(), time.process_time()
            client = fire_raw if args.client == "raw" else fire
            latencies, errors, allowed, achieved = asyncio.run(client(base, accounts, args.rate, args.seconds))
            elapsed, client_cpu = time.perf_counter() - started, time.process_time() - cpu_started
            after = scrape(settings.metrics_port)
            time.sleep(1.5)  # the authorization process reports its metrics to the worker once a second
            answered = scrape(settings.metrics_port)
        finally:
            stop_worker(worker)
    ms = [x * 1000 for x in latencies]
    print(json.dumps({
        "benchmark": "authorization", "requests": len(ms), "rate_target_per_s": args.rate,
        "rate_achieved_per_s": round(achieved), "errors": errors, "allowed": allowed,
        "latency_ms_p50": round(quantile(ms, 0.5), 3), "latency_ms_p90": round(quantile(ms, 0.9), 3),
        "latency_ms_p99": round(quantile(ms, 0.99), 3), "latency_ms_p999": round(quantile(ms, 0.999), 3),
        "latency_ms_max": round(max(ms), 3), "calibration": calibration(),
        "cdr_load": args.cdr_load, "accounts": args.accounts, "engine": args.engine, "client": args.client,
        "realtime_priority": args.realtime_priority, "opening_process": not args.open_in_worker,
        "client_cpu_us_per_request": round(client_cpu / max(1, len(latencies)) * 1e6),
        # The time in the handler, and how late the process's loop ran a check due every 10 ms
        # (the wait before a handler starts): the server's part of a switch's wait, without the
        # client's, which here shares the two cores with everything else.
        "in_server_seconds_cumulative": buckets("voiceledger_authorization_seconds", before, answered),
        "loop_lag_seconds_cumulative": buckets("voiceledger_authorization_loop_lag_seconds", before, answered),
        # Did the fold run at full speed meanwhile, and at what speed? (0 without --cdr-load)
        "fold_cdr_per_s_while_answering": round((calls_rated(after) - calls_rated(before)) / elapsed),
        "note": "client and worker share this 2-core machine; latency is timed from each request's due time",
    }))


if __name__ == "__main__":
    with removed_after_success():
        main()
