"""Kafka clients that wait a moment before asking a broker that is down again.

aiokafka's producer and consumer ask for new metadata whenever a partition they send to or
read from has no known leader, and wait for the answer before their next round. With the
broker down the answer is an immediate failure, so they ask again at once: every service
process spun a core and logged two errors a millisecond for as long as its broker was
stopped, starving the machine the broker was restarting on. Paced, a failed update answers
only after a pause; a successful one at once, so nothing waits once the broker is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from aiokafka.client import AIOKafkaClient

RETRY_SECONDS = 0.5
_PACED = "_cityloop_paced"


def pace_metadata_updates(retry_seconds: float = RETRY_SECONDS) -> None:
    """Pace the metadata updates of every aiokafka client of the process; once is enough."""
    update = AIOKafkaClient.force_metadata_update
    if getattr(update, _PACED, False):
        return

    def force_metadata_update(client: Any) -> asyncio.Future[bool]:
        return asyncio.ensure_future(paced(update(client), retry_seconds))

    setattr(force_metadata_update, _PACED, True)
    AIOKafkaClient.force_metadata_update = force_metadata_update


async def paced(answer: Awaitable[bool], retry_seconds: float) -> bool:
    """``answer``, given only after ``retry_seconds`` when it is a failure."""
    updated = await answer
    if not updated:
        await asyncio.sleep(retry_seconds)
    return updated
