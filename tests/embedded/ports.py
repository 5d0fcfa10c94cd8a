"""Ports for an embedded city under test: a block for its sites' services and one for its
console, none of them taken."""

from __future__ import annotations

import random
import socket

from cityloop_deploy.levels import PORTS_PER_SITE

SITES = 3


def free_port_block() -> tuple[int, int]:
    """A base port whose block of ``SITES`` sites is free, and a free console port after it."""
    for _ in range(50):
        # Below the kernel's ephemeral range (32768 up), which outgoing connections take.
        base = random.randrange(20_000, 32_000, 100)
        ports = range(base, base + SITES * PORTS_PER_SITE + 1)
        if all(_free(port) for port in ports):
            return base, ports[-1]
    raise RuntimeError("no free block of ports for an embedded city")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
