"""Where a version of the fold's settings accepted in force starts, in each partition of the log.

``voiceledger settings accept`` records a change already in force on purpose. For a rebuild to
fold what was folded before it with the version it replaces (``streams/config/settings_epochs.py``),
the log must say where, in each partition, the new version's folding begins. ``record`` writes
one ``SettingsStart`` per partition of the events topic on the settings topic: the group's
committed offset or the partition's end offset, whichever is later. That is exact only while no
worker of the group folds, so ``require_stopped`` refuses an acceptance while the group has
members (the workers already refuse to start with the change: an operator accepts with the
group down). Everything folded before was folded by the old version; a worker killed with
applied-but-uncommitted events folds the rest below the start with the old version too.

Tansu (the embedded broker) may report too low an end offset for partitions written in
multi-record batches; a stopped group has committed everything it folded, so the committed
offset keeps the start exact there too unless a worker was killed rather than stopped. Tansu
also keeps a group's members after they leave, so there the group being stopped is the
operator's word, not checked.
"""

from __future__ import annotations

import getpass
import logging
import socket
import time

from aiokafka.admin import AIOKafkaAdminClient

from streams.config.settings import ConfigError, Settings
from streams.kafka.admin import committed_offsets
from streams.kafka.codec import codec_for
from streams.kafka.producer import new_producer
from streams.kafka.reader import end_offsets
from streams.kafka.security import client_kwargs

log = logging.getLogger("voiceledger.settings")


async def require_stopped(settings: Settings) -> None:
    """``ConfigError`` (one line) while a worker of the group is a member of it. Tansu keeps a
    member after it has left (seen with 0.6: still "Stable" 22 s after the worker stopped, its
    session 6 s), so on Tansu (``broker_flavor``) this cannot be told, and is only said."""
    if settings.broker_flavor == "tansu":
        log.warning("settings accept: Tansu cannot tell whether workers of %s run: stop them first", settings.app_id)
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker, request_timeout_ms=10_000, **client_kwargs(settings))
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await admin.start()
        described = await admin.describe_consumer_groups([settings.app_id])
    finally:
        await admin.close()
    members = sum(len(group[5]) for response in described for group in response.groups)
    if members:
        raise ConfigError(f"settings accept: {members} worker(s) of group {settings.app_id} are running: stop them "
                          "first (they fold with the version before), then accept, then start them")


async def first_offsets(settings: Settings) -> dict[int, int]:
    """Per partition of the events topic: where the accepted version's folding begins."""
    committed = await committed_offsets(settings)
    ends = await end_offsets(settings.broker, settings.events_topic, client_kwargs(settings))
    return {p: max(committed.get(p, 0), ends.get(p, 0)) for p in range(settings.partitions)}


async def record(settings: Settings, previous_digest: str, digest: str, now_ms: int | None = None) -> dict[int, int]:
    """One start per partition on the settings topic; returns them."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    starts = await first_offsets(settings)
    codec = codec_for(settings)
    producer = new_producer(settings)
    try:  # stopped in finally even when start fails (no unclosed-client warnings)
        await producer.start()
        for partition, first in sorted(starts.items()):
            value = codec.encode_settings_start({
                "digest": digest, "previous_digest": previous_digest, "partition": partition, "first_offset": first,
                "recorded_at_ms": now_ms, "recorded_by": f"{getpass.getuser()}@{socket.gethostname()}"})
            await producer.send_and_wait(settings.settings_topic, value, key=f"start/{partition}/{digest}".encode(),
                                         partition=0)
    finally:
        await producer.stop()
    return starts
