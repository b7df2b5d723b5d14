"""What the authorization process keeps of its worker (R10, streams/authorization/mirror.py):
states in the pipe's order, asked for once, never mirrored from a table being recovered, and
forgotten with a lost partition; who owns which partition."""

from __future__ import annotations

import asyncio

import pytest

from schemas.codec import EventCodec
from streams.authorization.mirror import Owners, StateMirror
from streams.http.authorization import NotReady
from streams.kafka.partitioning import partition_for
from tests.unit.test_authorization import account

CODEC = EventCodec()


def encoded(account_id: str, balance: int) -> bytes:
    from dataclasses import replace
    return CODEC.encode_state(replace(account(balance), account_id=account_id))


def mirror(asked: list[str], partitions: int = 4) -> StateMirror:
    return StateMirror(CODEC, partitions, asked.append)


def test_R10_a_state_not_seen_is_asked_for_once_and_read_when_it_comes():
    async def scenario() -> None:
        asked: list[str] = []
        m = mirror(asked)
        waits = [asyncio.create_task(m.ensure("a1")) for _ in range(3)]
        await asyncio.sleep(0)
        assert asked == ["a1"] and not any(w.done() for w in waits)  # three requests, one question
        m.apply([("a1", encoded("a1", 700_000))])
        await asyncio.gather(*waits)
        assert m.load("a1").balance_micros == 700_000
        await m.ensure("a1")
        assert asked == ["a1"]  # known now: no question
    asyncio.run(scenario())


def test_R10_later_states_replace_earlier_ones_and_an_unknown_account_is_asked_for_again():
    async def scenario() -> None:
        asked: list[str] = []
        m = mirror(asked)
        m.apply([("a1", encoded("a1", 1_000_000)), ("a1", encoded("a1", 400_000))])
        assert m.load("a1").balance_micros == 400_000
        task = asyncio.create_task(m.ensure("nobody"))
        await asyncio.sleep(0)
        m.apply([("nobody", None)])  # the worker has no such account
        await task
        assert m.load("nobody") is None
        task = asyncio.create_task(m.ensure("nobody"))  # it may have been opened since: asked again
        await asyncio.sleep(0)
        assert asked == ["nobody", "nobody"]
        m.apply([("nobody", encoded("nobody", 5))])
        await task
        assert m.load("nobody").balance_micros == 5
    asyncio.run(scenario())


def test_R10_a_state_from_a_table_being_recovered_is_refused_not_mirrored():
    async def scenario() -> None:
        asked: list[str] = []
        m = mirror(asked)
        task = asyncio.create_task(m.ensure("a1"))
        await asyncio.sleep(0)
        m.not_ready("a1")
        with pytest.raises(NotReady):
            await task
        assert m.load("a1") is None
        task = asyncio.create_task(m.ensure("a1"))  # asked again on the next request
        await asyncio.sleep(0)
        assert asked == ["a1", "a1"]
        task.cancel()
    asyncio.run(scenario())


def test_R10_states_of_a_lost_partition_are_forgotten_the_others_kept():
    ids = [f"acct-{n}" for n in range(40)]
    m = mirror([])
    m.apply([(a, encoded(a, 1)) for a in ids])
    assert all(m.load(a) is not None for a in ids)
    lost = {partition_for(ids[0], 4)}
    m.drop(lost)
    for a in ids:
        assert (m.load(a) is None) == (partition_for(a, 4) in lost), a


def test_R10_a_lost_partition_forgets_what_came_and_went_before_it_and_what_comes_back_after():
    """The mirror keeps each account under its partition, so that a revoke drops them without a
    hash of every account mirrored (~0.7 s of the loop for 300k): an account the worker said it
    no longer has, one sent again, one of a partition lost and sent again, all stay right."""
    ids = [f"acct-{n}" for n in range(40)]
    m = mirror([])
    m.apply([(a, encoded(a, 1)) for a in ids])
    gone, again = ids[0], ids[1]
    m.apply([(gone, None), (again, encoded(again, 2)), (again, encoded(again, 3))])
    lost = {partition_for(a, 4) for a in ids[:3]}
    m.drop(lost)
    for a in ids:
        assert (m.load(a) is None) == (a == gone or partition_for(a, 4) in lost), a
    m.apply([(again, encoded(again, 4))])  # the partition came back: mirrored anew
    assert m.load(again).balance_micros == 4
    m.drop(set(range(4)))
    assert all(m.load(a) is None for a in ids)
    m.drop(set(range(4)))  # nothing left: nothing to do


def test_R10_a_decoded_state_is_reused_until_its_bytes_change():
    m = mirror([])
    m.apply([("a1", encoded("a1", 1))])
    first = m.load("a1")
    assert m.load("a1") is first
    m.apply([("a1", encoded("a1", 1))])  # equal bytes, a new record: decoded again
    assert m.load("a1") is not first and m.load("a1") == first


def test_R10_owners_say_who_answers_for_an_account_and_nobody_during_a_rebalance():
    owners = Owners(4)
    ids = {partition_for(f"acct-{n}", 4): f"acct-{n}" for n in range(40)}
    with pytest.raises(NotReady):
        owners.url_of(ids[0])  # no assignment yet
    owners.assign({0, 1}, {0: "http://me:1", 1: "http://me:1", 2: "http://other:2", 3: "http://other:2"})
    assert owners.url_of(ids[0]) is None and owners.url_of(ids[1]) is None
    assert owners.url_of(ids[2]) == "http://other:2"
    owners.revoke({1, 2})
    for p in (1, 2):  # neither this worker (it lost it) nor a redirect to a stale owner
        with pytest.raises(NotReady):
            owners.url_of(ids[p])
    assert owners.url_of(ids[0]) is None and owners.url_of(ids[3]) == "http://other:2"
