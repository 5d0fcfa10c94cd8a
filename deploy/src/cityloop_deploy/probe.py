"""Asking a Kafka broker who it is, over the wire, with aiokafka."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.protocol.admin import ApiVersionRequest

from cityloop_deploy.service import StackError
from cityloop_shared.messaging.security import PLAINTEXT, ClientSecurity

T = TypeVar("T")

# Kafka API keys worth naming when a report lists what the broker speaks.
_METADATA_API = 3
_PRODUCE_API = 0
_FETCH_API = 1


class BrokerNotReadyError(StackError):
    pass


@dataclass(frozen=True)
class ClusterProbe:
    cluster_id: str | None
    broker_count: int
    api_versions: dict[int, tuple[int, int]]

    def summary(self) -> str:
        def max_version(key: int) -> str:
            found = self.api_versions.get(key)
            return f"v{found[1]}" if found else "none"

        return (
            f"{self.broker_count} broker(s), cluster id {self.cluster_id}, "
            f"{len(self.api_versions)} APIs advertised (Produce {max_version(_PRODUCE_API)}, "
            f"Fetch {max_version(_FETCH_API)}, Metadata {max_version(_METADATA_API)})"
        )


def _first_host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return host.strip("[]"), int(port)


async def _api_versions(
    bootstrap: str, timeout_ms: int, security: ClientSecurity
) -> dict[int, tuple[int, int]]:
    host, port = _first_host_port(bootstrap)
    conn: Any = await create_conn(host, port, request_timeout_ms=timeout_ms, **security)
    try:
        response: Any = await conn.send(ApiVersionRequest())
    finally:
        conn.close()
    return {key: (low, high) for key, low, high in response.api_versions}


async def probe_cluster(
    bootstrap: str, timeout_ms: int = 5000, security: ClientSecurity = PLAINTEXT
) -> ClusterProbe:
    """One metadata request and one ApiVersions request, logged in with ``security`` on a
    secured broker; raises when the broker does not answer or answers with no broker in its
    metadata."""
    admin: Any = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, **security
    )
    try:
        await admin.start()
        cluster: dict[str, Any] = await admin.describe_cluster()
    finally:
        await admin.close()
    brokers = cluster.get("brokers") or []
    if not brokers:
        raise BrokerNotReadyError(f"{bootstrap} answered metadata without any broker")
    return ClusterProbe(
        cluster_id=cluster.get("cluster_id"),
        broker_count=len(brokers),
        api_versions=await _api_versions(bootstrap, timeout_ms, security),
    )


@contextlib.contextmanager
def _aiokafka_silenced() -> Iterator[None]:
    # While the broker starts, aiokafka logs every refused connection at ERROR.
    logger = logging.getLogger("aiokafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


async def wait_for_broker(
    bootstrap: str,
    within_s: float = 60.0,
    still_starting: Callable[[], bool] = lambda: True,
    security: ClientSecurity = PLAINTEXT,
) -> ClusterProbe:
    """Retry `probe_cluster` until it answers or `within_s` seconds pass. `still_starting`
    lets the caller give up at once when the process it launched has died."""
    deadline = time.monotonic() + within_s
    last_error: BaseException | None = None
    with _aiokafka_silenced():
        while time.monotonic() < deadline:
            if not still_starting():
                raise BrokerNotReadyError(
                    f"the broker process for {bootstrap} exited while starting"
                )
            try:
                return await probe_cluster(bootstrap, security=security)
            except Exception as error:  # any failure here only means "not yet"
                last_error = error
            await asyncio.sleep(0.5)
    raise BrokerNotReadyError(
        f"no Kafka broker answered metadata at {bootstrap} within {within_s:.0f} s: {last_error!r}"
    )


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine from synchronous code, also when the caller already runs a loop
    (inside a pytest-asyncio session): then on a private loop in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


async def described_partitions(
    admin: AIOKafkaAdminClient, topics: list[str]
) -> list[TopicPartition]:
    """Every partition of ``topics`` as the broker describes them (a topic it does not know
    has none): a consumer's own metadata need not know a topic made a moment ago."""
    return [
        TopicPartition(described["topic"], partition["partition"])
        for described in await admin.describe_topics(topics)
        for partition in described["partitions"]
    ]
