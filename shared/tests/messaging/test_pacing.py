"""Kafka clients ask a broker that is down for metadata no faster than the pause: a failed
update is answered after it, a successful one at once."""

from __future__ import annotations

import asyncio

from aiokafka.client import AIOKafkaClient

from cityloop_shared.messaging.pacing import pace_metadata_updates, paced

PAUSE_SECONDS = 0.2


async def timed(updated: bool) -> tuple[bool, float]:
    """How an update that answers ``updated`` at once is answered paced, and how soon."""
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    answer.set_result(updated)
    loop = asyncio.get_running_loop()
    began = loop.time()
    found = await paced(answer, PAUSE_SECONDS)
    return found, loop.time() - began


async def test_a_failed_update_is_answered_after_the_pause() -> None:
    found, took = await timed(False)

    assert found is False
    assert took >= PAUSE_SECONDS


async def test_a_successful_update_is_answered_at_once() -> None:
    found, took = await timed(True)

    assert found is True
    assert took < PAUSE_SECONDS


def test_every_client_of_the_process_is_paced_once() -> None:
    pace_metadata_updates()
    paced_once = AIOKafkaClient.force_metadata_update

    pace_metadata_updates()

    assert AIOKafkaClient.force_metadata_update is paced_once
    assert getattr(paced_once, "_cityloop_paced", False)
