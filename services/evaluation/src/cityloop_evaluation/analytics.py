"""The analysts' stream (分析数据流): every case event evaluation reads, as analysts receive it
(:func:`~cityloop_shared.contract.analytics.for_analysts`: nothing personal), on the site's
analytics topic, keyed by case id, in the order read. At the city it is city-wide.

Passed on before the batch that read it commits: a crash between the two sends a batch
again, so a reader drops an event id it has seen (at least once, never lost).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from cityloop_shared.contract.analytics import for_analysts
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.messaging import headers
from cityloop_shared.messaging.clients import RecordWriter, record_writer
from cityloop_shared.messaging.security import PLAINTEXT, ClientSecurity


class AnalyticsFeed:
    def __init__(self, bootstrap: str, topic: str, security: ClientSecurity = PLAINTEXT) -> None:
        self.topic = topic
        self._bootstrap = bootstrap
        self._security = security
        self._producer: RecordWriter | None = None

    async def start(self) -> None:
        # Made here, not with the feed: aiokafka makes a client only inside a running loop,
        # and the app is built before its loop runs.
        self._producer = record_writer(self._bootstrap, self._security)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def __call__(self, events: Sequence[CaseEvent]) -> None:
        if self._producer is None:
            raise RuntimeError("the analytics feed has not been started")
        try:
            await self._send(self._producer, events)
        except KafkaError:
            # An idempotent producer whose batches expired in an outage refuses every later
            # send (OutOfOrderSequenceNumber): the batch is passed on again by a fresh one.
            await self._producer.stop()
            await self.start()
            raise

    async def _send(self, producer: RecordWriter, events: Sequence[CaseEvent]) -> None:
        sent = [
            await producer.send(
                self.topic,
                json.dumps(for_analysts(event), ensure_ascii=False).encode(),
                key=str(event.case_id).encode(),
                headers=[
                    (headers.EVENT_TYPE, event.event_type.encode()),
                    (headers.EVENT_ID, str(event.event_id).encode()),
                ],
            )
            for event in events
        ]
        # Every send settles before the batch is judged, so none is still queued when the
        # batch is read and passed on again.
        settled = await asyncio.gather(*sent, return_exceptions=True)
        failed = next((outcome for outcome in settled if isinstance(outcome, BaseException)), None)
        if failed is not None:
            raise failed
