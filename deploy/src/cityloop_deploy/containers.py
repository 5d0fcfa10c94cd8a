"""The test harness's last resort on machines with a Docker engine: testcontainers."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

KAFKA_IMAGE_ENV = "CITYLOOP_TEST_KAFKA_IMAGE"
POSTGRES_IMAGE_ENV = "CITYLOOP_TEST_POSTGRES_IMAGE"
# The image testcontainers' KafkaContainer is tested with in KRaft mode; its start script
# drives Confluent's entrypoint, so another cp-kafka tag may be set through the variable.
DEFAULT_KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
DEFAULT_POSTGRES_IMAGE = "postgres:15"


@dataclass(frozen=True)
class Started:
    address: str
    description: str
    stop: Callable[[], None]


def docker_engine_answers() -> bool:
    """True when a Docker engine answers a ping; the client alone does not count."""
    try:
        from testcontainers.core.docker_client import DockerClient

        DockerClient().client.ping()
    except Exception:  # no socket, no permission, no daemon: all mean "no Docker here"
        return False
    return True


def start_kafka() -> Started:
    from testcontainers.community.kafka import KafkaContainer

    image = os.environ.get(KAFKA_IMAGE_ENV, DEFAULT_KAFKA_IMAGE)
    container = KafkaContainer(image).with_kraft()
    container.start(timeout=120)
    return Started(
        address=container.get_bootstrap_server(),
        description=f"Confluent Platform {image.rpartition(':')[2]} ({image})",
        stop=container.stop,
    )


def start_postgres() -> Started:
    from testcontainers.community.postgres import PostgresContainer

    image = os.environ.get(POSTGRES_IMAGE_ENV, DEFAULT_POSTGRES_IMAGE)
    container = PostgresContainer(
        image, username="cityloop", password="cityloop", dbname="cityloop", driver="psycopg"
    )
    container.start()
    return Started(address=container.get_connection_url(), description=image, stop=container.stop)
