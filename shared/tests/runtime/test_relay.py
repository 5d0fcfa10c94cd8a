"""The relay's loop: a commit that wakes it while it publishes is answered at once, and a
wake-up is answered by one round, not by rounds without end."""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.runtime.relay import OutboxRelay

IDLE_SECONDS = 60.0
"""Far longer than the test waits: a round that comes at all came because it was woken."""


class WokenWhilePublishing(OutboxRelay):
    """A relay whose first round is woken halfway by a transaction that journaled events."""

    def __init__(self) -> None:
        # Its rounds are counted here instead of read from a database.
        super().__init__(cast(Database, None), idle_seconds=IDLE_SECONDS)
        self.rounds = 0
        self.second_round = asyncio.Event()

    async def publish_pending(self) -> int:
        self.rounds += 1
        if self.rounds == 1:
            await asyncio.sleep(0)  # the sends are under way
            self.wake()
        else:
            self.second_round.set()
        return 0


async def test_a_wake_during_publishing_leads_to_a_prompt_second_round() -> None:
    relay = WokenWhilePublishing()
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.second_round.wait(), timeout=5)
        await asyncio.sleep(0.2)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert relay.rounds == 2
