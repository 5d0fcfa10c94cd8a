"""How often the public may post (requests and feedback): within the site's limits per API
key and per client address. A post over either is refused with 429 and ``Retry-After``
before anything of it is decided, so it changes nothing.

The key's limit holds an app to its share whichever of its users post; the address's holds
one device or script to a person's pace whichever keys it sends (an unknown key too, so
keys cannot be guessed at speed). The windows are the intake process's own: the site runs
one intake, and a restart forgets them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from fastapi import status
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from cityloop_intake.open311.formats import Open311Error
from cityloop_intake.open311.settings import Open311Settings


class PostingLimits:
    """Moving windows: a burst at the edge of a minute counts as one minute's posts."""

    def __init__(self, settings: Open311Settings) -> None:
        self._per_key = parse_many(settings.key_rate_limit)
        self._per_client = parse_many(settings.client_rate_limit)
        self._windows = MovingWindowRateLimiter(MemoryStorage())

    async def admit_client(self, address: str) -> None:
        """Count a post from ``address``, or refuse it (429) when over the address's limits."""
        await self._admit(self._per_client, "client", address, "this client address")

    async def admit_key(self, owner: str) -> None:
        """Count a post with a key of ``owner``'s, or refuse it (429) when over its limits."""
        await self._admit(self._per_key, "api_key", owner, "this api_key")

    async def _admit(
        self, limits: Sequence[RateLimitItem], kind: str, who: str, named: str
    ) -> None:
        for limit in limits:
            if await self._windows.hit(limit, kind, who):
                continue
            window = await self._windows.get_window_stats(limit, kind, who)
            wait = max(1, math.ceil(window.reset_time - time.time()))
            raise Open311Error(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"{kind}: {named} may post at most {limit}; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
