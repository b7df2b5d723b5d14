"""The authorization endpoint in its own process (R10, issue 22; streams/authorization/).

First the process alone, fed as the worker feeds it, through its real HTTP port: states and
settles in the pipe's order, states asked for from the table (and refused while the table is
being recovered), partitions assigned and revoked, metrics relayed to the worker's registry,
and the worker ending when the process dies. Then with a real worker on a real broker: the
process is the worker's child, answers for it, ends with it when the worker is SIGKILLed, and
a port in use fails the worker at start with one line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import REGISTRY

from projections.events import AccountOpened, PaymentReceived
from schemas.codec import EventCodec
from streams.authorization import process as authorization_process
from streams.authorization.process import AuthorizationProcess
from streams.config.settings import Settings
from streams.dev.embedded import free_port
from streams.edge.publish import produce_events
from streams.kafka.partitioning import partition_for
from streams.worker.supervise import start_worker, stop_worker, worker_env
from tests.integration.helpers import start_worker_caught_up
from tests.unit.test_authorization import FOLD, account

CODEC = EventCodec()


def state_bytes(account_id: str, balance: int) -> bytes:
    return CODEC.encode_state(replace(account(balance), account_id=account_id))


async def ask(base: str, account_id: str, call: str, **extra: str) -> tuple[int, dict]:
    params = {"account": account_id, "callee": "12125550100", "call": call, "quota_s": "3600", **extra}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/authorize", params=params, allow_redirects=False) as r:
            return r.status, (await r.json() if r.content_type == "application/json" else {"location": r.headers.get("Location")})


def until(check, timeout_s: float = 10.0):  # noqa: ANN001, ANN201 - any check
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def clickhouse_url(tmp_path):
    return f"chdb://{tmp_path / 'chdb'}"


@pytest.fixture
def fed():
    """An authorization process fed by hand, as the worker's fold and rebalance signals feed it."""
    yield from _fed()


def _fed(**changes):  # noqa: ANN003, ANN202 - settings to change; the fixture's generator
    ended: list[str] = []
    settings = replace(Settings(), authorization_port=free_port(), partitions=4, **changes)
    table: dict[bytes, bytes] = {}
    recovered = [True]
    process = AuthorizationProcess(settings, FOLD, None, table, lambda: recovered[0], ended.append)
    process.start()
    yield process, table, recovered, ended, f"http://127.0.0.1:{settings.authorization_port}"
    process._process.kill()  # noqa: SLF001 - the test's own cleanup
    process._process.wait()  # noqa: SLF001
    for metric in authorization_process.RELAYED:  # the registry as other tests expect it
        REGISTRY.register(metric)
    REGISTRY.unregister(process._relayed)  # noqa: SLF001


def test_R10_the_process_answers_from_states_in_the_order_the_fold_sent_them(fed):
    process, table, recovered, ended, base = fed
    assert asyncio.run(ask(base, "a1", "c/1"))[0] == 503  # no assignment known yet
    process.assigned({0, 1, 2, 3}, {})
    assert until(lambda: asyncio.run(ask(base, "a1", "c/1"))[0] == 404)
    status, body = asyncio.run(ask(base, "a1", "c/1"))
    assert (status, body["reason"]) == (404, "unknown_account")

    # Not yet seen: asked for, read from the table. 1.00 at 0.10/min pays ten minutes.
    table[b"a1"] = state_bytes("a1", 1_000_000)
    for at in ("-1", "253402300800000", "9" * 40):  # a time no calendar holds: refused, not a 500
        status, body = asyncio.run(ask(base, "a1", "c/0", at=at))
        assert status == 400 and "at must be" in body["error"], (at, status, body)
    status, body = asyncio.run(ask(base, "a1", "c/1"))
    assert (status, body["max_duration_s"], body["held_micros"]) == (200, 600, 1_000_000)
    assert asyncio.run(ask(base, "a1", "c/2"))[1]["reason"] == "insufficient_funds"  # all of it is held

    # A batch charges call c/1 0.30: the new state, then its settle. The pipe and the requests
    # are not ordered with each other, but a request sees the old balance with the hold (nothing
    # available), the new one with it (less than nothing: too careful), or the new one without
    # it; never the old balance without the hold (1.00 available).
    process.publish({"a1": (state_bytes("a1", 700_000), None)}, [("a1", "c/1")], FOLD)
    seen = []
    until(lambda: seen.append(asyncio.run(ask(base, "a1", f"c/{len(seen) + 3}"))[1]) or seen[-1]["allowed"])
    assert all(not s["allowed"] and s["available_micros"] in (0, -300_000) for s in seen[:-1]), seen
    assert (seen[-1]["max_duration_s"], seen[-1]["available_micros"]) == (420, 700_000), seen
    assert ended == []


def test_R10_a_table_being_recovered_is_not_mirrored_and_a_lost_partition_is_forgotten(fed):
    process, table, recovered, ended, base = fed
    other = "http://127.0.0.1:1"
    process.assigned({0, 1, 2, 3}, {})
    assert until(lambda: asyncio.run(ask(base, "a2", "c/0"))[0] == 404)
    table[b"a2"] = state_bytes("a2", 2_000_000)
    recovered[0] = False
    assert asyncio.run(ask(base, "a2", "c/1"))[0] == 503  # the table may be older than the log
    recovered[0] = True
    assert asyncio.run(ask(base, "a2", "c/1"))[1]["available_micros"] == 2_000_000

    p = partition_for("a2", 4)
    process.revoked({p})  # nobody known for it until the assignment (the pipe is applied soon, not at once)
    assert until(lambda: asyncio.run(ask(base, "a2", "c/2"))[0] == 503)
    process.assigned({0, 1, 2, 3} - {p}, {p: other})
    assert until(lambda: asyncio.run(ask(base, "a2", "c/2"))[0] == 307)
    status, body = asyncio.run(ask(base, "a2", "c/2"))
    assert body["location"].startswith(other + "/authorize?")

    # It comes back, paid into while another worker had it: the old mirror is not used. (The
    # hold of c/1 is this process's own: still there.)
    table[b"a2"] = state_bytes("a2", 5_000_000)
    process.assigned({0, 1, 2, 3}, {})
    assert until(lambda: asyncio.run(ask(base, "a2", "c/3"))[0] == 200)
    assert asyncio.run(ask(base, "a2", "c/3"))[1]["available_micros"] == 5_000_000 - 2_000_000


def test_R10_its_metrics_are_the_workers_and_the_worker_ends_when_it_dies(fed):
    process, table, recovered, ended, base = fed
    table[b"a3"] = state_bytes("a3", 1_000_000)
    process.assigned({0, 1, 2, 3}, {})
    assert until(lambda: asyncio.run(ask(base, "a3", "c/1"))[0] == 200)

    def ok_answers() -> float | None:
        return REGISTRY.get_sample_value("voiceledger_authorizations_total", {"reason": "ok"})
    assert until(lambda: ok_answers() == 1.0), ok_answers()
    assert until(lambda: REGISTRY.get_sample_value("voiceledger_funds_held_micros") == 1_000_000)
    # How late its loop runs, checked every 10 ms: ~100 observations a second reach the worker.
    assert until(lambda: (REGISTRY.get_sample_value("voiceledger_authorization_loop_lag_seconds_count") or 0) >= 100)

    process._process.kill()  # noqa: SLF001
    assert until(lambda: ended == ["the authorization process ended"]), ended


def may_run_realtime() -> bool:
    """Whether a process started from here may take SCHED_FIFO (root, CAP_SYS_NICE or an
    RLIMIT_RTPRIO): asked of a throwaway process, as the authorization process will ask."""
    probe = "import os; os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(3))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def test_R10_the_process_runs_at_the_realtime_priority_it_is_given_or_the_worker_fails_at_start():
    """``authorization_realtime_priority``: every thread of the process at SCHED_FIFO, so that a
    switch's request does not wait out the fold's time slice; where that is not allowed, the
    worker fails at start with one line that says what to grant, never runs without it."""
    if not may_run_realtime():
        with pytest.raises(OSError, match=r"authorization_realtime_priority 3: .*LimitRTPRIO"):
            next(_fed(authorization_realtime_priority=3))
        return
    fed = _fed(authorization_realtime_priority=3)
    process, table, _, _, base = next(fed)
    try:
        table[b"a5"] = state_bytes("a5", 1_000_000)
        process.assigned({0, 1, 2, 3}, {})
        assert until(lambda: asyncio.run(ask(base, "a5", "c/1"))[0] == 200)
        pid = process._process.pid  # noqa: SLF001 - the process under test
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        assert len(threads) >= 3  # the reader, the server's loop, the sender
        assert {(os.sched_getscheduler(t), os.sched_getparam(t).sched_priority) for t in threads} \
            == {(os.SCHED_FIFO, 3)}
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the worker's side stays ordinary
    finally:
        next(fed, None)  # the fixture's cleanup: the process killed, the registry as it was


def answered(base: str, account_id: str) -> int | None:
    try:
        return asyncio.run(ask(base, account_id, "c/again", quota_s="60"))[0]
    except aiohttp.ClientError:  # not listening yet
        return None


def children_of(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append((int(entry.name), cmdline))
    return found


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_R10_the_workers_authorization_process_answers_for_it_and_ends_with_it(settings, tmp_path):
    settings = replace(settings, authorization_port=free_port())
    base = f"http://127.0.0.1:{settings.authorization_port}"
    now = int(time.time() * 1000)
    setup = [AccountOpened("open-p", "acct-p", now - 60_000, "USD", "basic", "prepaid", ("15550004000",)),
             PaymentReceived("pay-p", "acct-p", now - 50_000, 1_000_000, "USD")]
    offsets = asyncio.run(produce_events(settings, setup))

    with socket.socket() as taken:  # the port in use: the worker fails at start, with one line
        taken.bind(("127.0.0.1", settings.authorization_port))
        taken.listen()
        failed = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], capture_output=True, text=True,
                                env=worker_env(settings), timeout=120)
    assert failed.returncode == 2, failed.stderr[-2000:]
    assert "authorization port" in failed.stderr and "Traceback" not in failed.stderr, failed.stderr[-2000:]

    log = tmp_path / "worker.log"
    worker = start_worker_caught_up(settings, offsets, log)
    try:
        (child,) = [pid for pid, cmd in children_of(worker.pid) if "streams.authorization.child" in cmd]
        status, body = asyncio.run(ask(base, "acct-p", "c/1", quota_s="60"))
        assert (status, body["allowed"], body["held_micros"]) == (200, True, 10_000)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert until(lambda: not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()
                     .rsplit(")", 1)[1].split()[0]), "the authorization process outlived its worker"
        assert until(lambda: port_free(settings.authorization_port)), "its port is still taken"
        worker = start_worker(settings, log)  # a new worker, a new process: the port is free again
        assert until(lambda: answered(base, "acct-p") == 200, 90)
    finally:
        stop_worker(worker)


def test_R10_a_batch_split_over_many_messages_lands_in_order(fed, monkeypatch):
    process, table, recovered, ended, base = fed
    monkeypatch.setattr(authorization_process, "STATE_BYTES_PER_MESSAGE", 1)  # one state a message
    monkeypatch.setattr(authorization_process, "SETTLES_PER_MESSAGE", 1)
    ids = [f"split-{n}" for n in range(20)]
    process.assigned({0, 1, 2, 3}, {})
    # A hold the last settle of the split batch releases: the relayed gauge reaching 0 says the
    # whole batch was applied, without asking for any of its accounts (an ask answered from this
    # table, which the fold never wrote, would say "no such account" and race the batch).
    table[b"holder"] = state_bytes("holder", 1_000_000)
    answers: list = []  # 503 until the assignment sent above is applied (soon, not at once)
    until(lambda: answers.append(asyncio.run(ask(base, "holder", "c/h", quota_s="60"))) or answers[-1][0] == 200)
    status, body = answers[-1]
    assert status == 200 and body["held_micros"] > 0, answers
    assert until(lambda: REGISTRY.get_sample_value("voiceledger_funds_held_micros") == body["held_micros"])
    process.publish({a: (state_bytes(a, 1_000_000), None) for a in ids}, [], FOLD)
    process.publish({a: (state_bytes(a, 100_000 * (n + 1)), None) for n, a in enumerate(ids)},
                    [(a, "never-held") for a in ids] + [("holder", "c/h")], FOLD)
    assert until(lambda: REGISTRY.get_sample_value("voiceledger_funds_held_micros") == 0)
    for n, a in enumerate(ids):  # every account at its second state, none at its first
        status, body = asyncio.run(ask(base, a, "c/1"))
        assert (status, body.get("available_micros")) == (200, 100_000 * (n + 1)), (a, status, body)
    assert ended == []


def test_R10_a_process_that_stops_answering_is_killed_and_the_worker_ends(monkeypatch):
    monkeypatch.setattr(authorization_process, "SILENT_MAX_S", 3.0)
    fed = _fed()
    process, table, recovered, ended, base = next(fed)
    try:
        time.sleep(6)  # twice the window: a process whose loop turns reports every second
        assert ended == [] and process._process.poll() is None  # noqa: SLF001
        os.kill(process._process.pid, signal.SIGSTOP)  # noqa: SLF001 - wedged: accepts, never answers
        assert until(lambda: ended, 15) == ["the authorization process said nothing for 3 s: killed as wedged"]
        assert process._process.wait(5) == -signal.SIGKILL  # noqa: SLF001
    finally:
        next(fed, None)
