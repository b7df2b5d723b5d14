"""Benchmark: live CDRs posted to ``voiceledger receive``, as switches post them; prints JSON.

Starts the embedded broker and the receiver process, posts ``--calls`` plain JSON CDRs from
``--concurrency`` connections at once (each posts its next call once the last is answered, as
a switch's ``mod_json_cdr`` does per call; with ``--lines N``, N calls a request as JSON Lines
to ``/cdr/json/lines``, as a mediation system would), then reads the events topic back. It
reports the calls and answers per second, the answer latency (p50, p99), and how many calls a
Kafka message carried:
a worker pays its per-message cost once per message (``bench/pipeline.py --envelope N`` shows
what that is worth to the fold). This is a benchmark, not a test.

    python bench/receiver.py --calls 5000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import replace
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from bench.arguments import within  # noqa: E402
from bench.calibration import calibration  # noqa: E402
from bench.scratch import removed_after_success, scratch_dir  # noqa: E402
from schemas.codec import EventCodec  # noqa: E402
from streams.config.settings import Settings  # noqa: E402
from streams.dev.embedded import EmbeddedBroker, free_port  # noqa: E402
from streams.kafka.reader import read_topic  # noqa: E402
from streams.kafka.topics import ensure_topics  # noqa: E402
from streams.worker.supervise import worker_env  # noqa: E402


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=within(1), default=5_000)
    p.add_argument("--concurrency", type=within(1, 10_000), default=32, help="connections posting at once (switches, or "
                   "a switch's concurrent posts)")
    p.add_argument("--accounts", type=within(1), default=1_000)
    p.add_argument("--lines", type=within(1, 1_000), default=1, help="calls a request: 1 posts each to /cdr/json, "
                   "more posts them together as JSON Lines to /cdr/json/lines")
    return p.parse_args()


def call(n: int, accounts: int) -> bytes:
    minute = n % 60
    return json.dumps({"call_id": f"c-{n}", "caller": f"+1555{n % accounts:07d}", "callee": "+12125550100",
                       "account_id": f"acct-{n % accounts}", "start_at": f"2026-10-05T09:{minute:02d}:01Z",
                       "answer_at": f"2026-10-05T09:{minute:02d}:09Z",
                       "end_at": f"2026-10-05T09:{minute:02d}:59Z"}).encode()


async def post_all(base: str, args: argparse.Namespace) -> tuple[list[float], float, int]:
    """Each connection posts calls one after another; returns the latencies, the seconds, errors."""
    latencies: list[float] = []
    errors = 0
    next_call = iter(range(args.calls))

    async def connection(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        path = "/cdr/json" if args.lines == 1 else "/cdr/json/lines"
        while batch := list(islice(next_call, args.lines)):
            t = time.perf_counter()
            async with session.post(base + path, data=b"\n".join(call(n, args.accounts) for n in batch),
                                    headers={"Content-Type": "application/json"}) as response:
                answer = await response.read()
                ok = response.status == 200 and (args.lines == 1 or json.loads(answer)["produced"] == len(batch))
                errors += 0 if ok else len(batch)
            latencies.append(time.perf_counter() - t)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(connection(session) for _ in range(args.concurrency)))
        return latencies, time.perf_counter() - t0, errors


async def wait_up(url: str, process: subprocess.Popen) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"the receiver exited {process.returncode}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the receiver did not come up")


def main() -> None:
    args = arguments()
    tmp = scratch_dir("vl-bench-receiver-")
    with EmbeddedBroker() as broker:
        settings = replace(Settings(), broker=broker.bootstrap, subscriber_keys_dir=str(tmp / "keys"),
                           clickhouse_url=f"chdb://{tmp / 'chdb'}")
        asyncio.run(ensure_topics(settings))
        port = free_port()
        with open(tmp / "receiver.log", "w") as log:
            receiver = subprocess.Popen([sys.executable, "-m", "streams.cli", "receive", "--carrier", "bench",
                                         "--listen", f"127.0.0.1:{port}"], env=worker_env(settings),
                                        stdout=log, stderr=subprocess.STDOUT)
        try:
            asyncio.run(wait_up(f"http://127.0.0.1:{port}/healthz", receiver))
            latencies, seconds, errors = asyncio.run(post_all(f"http://127.0.0.1:{port}", args))
        finally:
            receiver.terminate()
            receiver.wait(30)
        records = asyncio.run(read_topic(settings.broker, settings.events_topic))
    codec = EventCodec()
    on_log = sum(len(codec.decode_message(r.value)[0]) for r in records)
    latencies.sort()
    print(json.dumps({
        "benchmark": "receiver", "calibration": calibration(), "calls": args.calls, "errors": errors,
        "calls_per_s": round(args.calls / seconds), "answers_per_s": round(len(latencies) / seconds),
        "calls_on_log": on_log, "kafka_messages": len(records),
        "calls_per_message": round(on_log / max(1, len(records)), 2),
        "answer_ms_p50": round(1000 * latencies[len(latencies) // 2], 2),
        "answer_ms_p99": round(1000 * latencies[int(len(latencies) * 0.99)], 2),
        "config": {"concurrency": args.concurrency, "accounts": args.accounts, "calls_per_request": args.lines,
                   "broker": "tansu (embedded)"},
    }, indent=1))


if __name__ == "__main__":
    with removed_after_success():
        main()
