"""The API's way onto the events topic: one producer for the process's life, on a loop of its own.

Starting an aiokafka producer costs a metadata round trip and a connection (~100 ms here), so
the API starts one at its first command and keeps it; routes run on Starlette's threads and
hand each command to the producer's loop, waiting for the broker's acknowledgement. A producer
that fails is dropped and started again by the next command.
"""

from __future__ import annotations

import asyncio
import threading

from streams.config.settings import Settings
from streams.edge.publish import produce_events
from streams.kafka.producer import new_producer
from streams.kafka.topics import ensure_topics

SEND_TIMEOUT_S = 30


class LogWriter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._producer = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="log-writer", daemon=True)
        self._thread.start()

    def send(self, events: list) -> None:
        """Put ``events`` on the events topic; raises once the broker has not taken them."""
        asyncio.run_coroutine_threadsafe(self._send(events), self._loop).result(SEND_TIMEOUT_S + 5)

    async def _send(self, events: list) -> None:
        if self._producer is None:
            await ensure_topics(self.settings)
            producer = new_producer(self.settings)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        try:
            await asyncio.wait_for(produce_events(self.settings, events, producer=self._producer), SEND_TIMEOUT_S)
        except BaseException:
            producer, self._producer = self._producer, None
            await producer.stop()
            raise

    def close(self) -> None:
        if self._producer is not None:
            asyncio.run_coroutine_threadsafe(self._producer.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
