"""The worker's ClickHouse writer: one thread owns the client, and every insert retries.

clickhouse-driver clients are not thread-safe, and the worker's event loop must stay free to
heartbeat while an insert runs, so a single-thread executor owns the client: opening it (with
the migrations), inserting, dropping a broken one and closing all run there, in the order they
were asked for. A stop during the start-up migration therefore cannot pull the client away from
under it: the close simply runs after the open.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from streams.clickhouse import cluster
from streams.clickhouse.client import ClickHouse, connect
from streams.clickhouse.migrations import migrate

log = logging.getLogger("voiceledger.worker")

# Waits between insert attempts: about 30 s in all, then the insert raises (the worker exits).
INSERT_RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)

Insert = tuple[str, Sequence[str], list[tuple]]  # (table, columns, rows)
Mutation = tuple[str, str]  # (table, ALTER clause), on every shard of a cluster


class ClickHouseWriter:
    def __init__(self, url: str, client: ClickHouse | None = None, cluster_name: str = "",
                 retry_delays_s: Sequence[float] = INSERT_RETRY_DELAYS_SECONDS) -> None:
        self._url = url
        self._cluster = cluster_name
        self._client = client
        self._retry_delays_s = tuple(retry_delays_s)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")

    async def open(self) -> None:
        """Connect and migrate, off the event loop."""
        await self._run(self._ensure_client)

    async def insert(self, tables: list[Insert], mutations: Sequence[Mutation] = ()) -> None:
        """Insert (table, columns, rows) in order, then run ``mutations``, retrying the whole
        list on a failure: rows collapse by key and the mutations are idempotent, so a repeat is
        harmless."""
        await self._run(self._insert_with_retries, tables, tuple(mutations))

    async def close(self) -> None:
        await self._run(self._drop_client)
        self._executor.shutdown(wait=True)

    async def _run(self, fn, *args) -> None:  # noqa: ANN001 - a callable for the client's thread
        await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _ensure_client(self) -> ClickHouse:
        if self._client is None:
            client = connect(self._url, self._cluster)
            migrate(client)
            self._client = client
        return self._client

    def _drop_client(self) -> None:
        # Close before forgetting: chDB allows one open session per path in a process, so a
        # reconnect next to a leaked session would fail every retry.
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # the connection is already broken; nothing to save
                log.warning("closing the failed clickhouse client: %s", exc)

    def _insert_with_retries(self, tables: list[Insert], mutations: tuple[Mutation, ...]) -> None:
        for attempt, delay in enumerate((*self._retry_delays_s, None)):
            try:
                for table, columns, rows in tables:
                    self._ensure_client().insert(table, columns, rows)
                for table, clause in mutations:
                    cluster.alter(self._ensure_client(), table, clause)
                return
            except Exception as exc:
                if delay is None:
                    raise
                log.warning("clickhouse insert failed (attempt %d): %s; retrying in %.1f s", attempt + 1, exc, delay)
                self._drop_client()  # reconnect on the next attempt
                time.sleep(delay)
