"""Least privilege on a site's secured Kafka cluster: what each service's principal may do
there, derived from what each service declares in its ``topology.py``, and the launcher
making it so.

On the cluster of a site, each workflow stage's principal may write its own event topic and
its own dead-letter topic, read the topics it follows (its site's, and the other level's that
sync mirrors to this cluster) and read in its own consumer group. Evaluation writes the
site's analytics topic and reads what it follows; it keeps its positions in its own database,
so it has no group. The city's sync reads the case topics of the site and of the other level,
and writes the other level's: the mirrors it keeps on this cluster, never the site's own
topics. Nothing else: the cluster refuses whatever no ACL allows, and its topics are the
launcher's to create (a service may create none).

WRITE implies DESCRIBE, and READ too; an idempotent producer needs no more than WRITE on a
topic (KIP-679). The logins and ACLs are made with the cluster's super-user through the
Admin API (librdkafka's, which has ACLs and SCRAM credentials).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported, not listed
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from cityloop_deploy.kafka_logins import KafkaLogins, principal
from cityloop_deploy.service import StackError
from cityloop_deploy.topology import published
from cityloop_shared.contract.sites import city_of, other_level
from cityloop_shared.contract.topics import (
    Stage,
    analytics_topic,
    case_topics,
    dead_letter_topic,
    event_topic,
)
from cityloop_shared.messaging.topics import EVENT_TOPIC_CONFIG

PARTITIONS = 3
"""As a service would create them: a mirror needs as many partitions as its source has."""
SCRAM_ITERATIONS = 4096
"""Kafka's own default, and the least it takes for SCRAM-SHA-512."""
SETTLE_S = 30.0
ANY: Any = None
"""What an ACL filter takes for "any name, principal or host" (not in librdkafka's stubs)."""

Resource = Literal["topic", "group"]
Operation = Literal["READ", "WRITE"]


@dataclass(frozen=True, order=True)
class Grant:
    """One ACL: ``principal`` (a user name) may ``operation`` the named topic or group."""

    principal: str
    resource: Resource
    name: str
    operation: Operation


@dataclass(frozen=True)
class ClusterPlan:
    """The topics of a site's cluster and every ACL on it."""

    site: str
    topics: tuple[str, ...]
    grants: frozenset[Grant]

    @property
    def principals(self) -> frozenset[str]:
        return frozenset(grant.principal for grant in self.grants)

    def granted(self, user: str, resource: Resource, operation: Operation) -> frozenset[str]:
        """The names of the topics or groups ``user`` may ``operation``."""
        return frozenset(
            grant.name
            for grant in self.grants
            if (grant.principal, grant.resource, grant.operation) == (user, resource, operation)
        )


def cluster_plan(
    site: str, districts: Sequence[str] = (), namespace: str | None = None
) -> ClusterPlan:
    """The topics and ACLs of the cluster of ``site``; a city's ``districts`` are those its
    sync mirrors to and from."""
    others = other_level(site, districts)
    # As each service would have them: every stage's of the site and of the other level.
    topics = [
        name
        for owner in (site, *others)
        for stage in Stage
        for name in (
            event_topic(owner, stage, namespace),
            dead_letter_topic(owner, stage, namespace),
        )
    ]
    topics.append(analytics_topic(site, namespace))
    grants: set[Grant] = set()
    for topology in published():
        user = principal(site, topology.stage.value)
        grants |= _grants(user, "READ", topology.sources(site, namespace, districts))
        if topology.stage is Stage.EVALUATION:
            grants |= _grants(user, "WRITE", [analytics_topic(site, namespace)])
            continue
        own = event_topic(site, topology.stage, namespace)
        grants |= _grants(user, "WRITE", [own, dead_letter_topic(site, topology.stage, namespace)])
        # The group its consumer reads in (cityloop_shared.runtime.consumer.subscribe).
        grants.add(Grant(user, "group", own.removesuffix(".v1"), "READ"))
    sync = principal(city_of(site), Stage.SYNC.value)
    mirrors = [topic for other in others for topic in case_topics(other, namespace)]
    grants |= _grants(sync, "READ", [*case_topics(site, namespace), *mirrors])
    grants |= _grants(sync, "WRITE", mirrors)
    return ClusterPlan(site, tuple(topics), frozenset(grants))


def _grants(user: str, operation: Operation, topics: Iterable[str]) -> set[Grant]:
    return {Grant(user, "topic", topic, operation) for topic in topics}


def provision(bootstrap: str, logins: KafkaLogins, plan: ClusterPlan) -> None:
    """Make the plan so on the cluster at ``bootstrap``, as its super-user: every principal's
    login, every topic, every ACL; returns once the broker applies them all. Safe to repeat:
    what is there already stays, and a login's password is set again to what the key says."""
    admin = _admin(bootstrap, logins)
    users = sorted(plan.principals)
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
            logins.password(user).encode(),
        )
        for user in users
    ]
    _settle(admin.alter_user_scram_credentials(upserts).values(), "setting the logins")
    existing = set(admin.list_topics(timeout=SETTLE_S).topics)
    missing = [
        NewTopic(topic, PARTITIONS, 1, config=dict(EVENT_TOPIC_CONFIG))
        for topic in plan.topics
        if topic not in existing
    ]
    if missing:
        _settle(admin.create_topics(missing).values(), "creating the topics", _TOPIC_EXISTS)
    bindings = [_binding(grant) for grant in sorted(plan.grants)]
    _settle(admin.create_acls(bindings).values(), "creating the ACLs")
    _await_applied(admin, users, set(bindings), set(plan.topics))


def withdraw(bootstrap: str, logins: KafkaLogins, plan: ClusterPlan) -> None:
    """Delete the plan's ACLs and topics; the logins stay, other plans may need them."""
    admin = _admin(bootstrap, logins)
    filters = [AclBindingFilter(*_binding_fields(grant)) for grant in sorted(plan.grants)]
    _settle(admin.delete_acls(filters).values(), "deleting the ACLs")
    _settle(admin.delete_topics(list(plan.topics)).values(), "deleting the topics", _NO_TOPIC)


_TOPIC_EXISTS = frozenset({KafkaError.TOPIC_ALREADY_EXISTS})
_NO_TOPIC = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART})


def _admin(bootstrap: str, logins: KafkaLogins) -> AdminClient:
    security = logins.broker_security()
    return AdminClient(
        {
            "bootstrap.servers": bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": security.mechanism,
            "sasl.username": security.admin,
            "sasl.password": security.admin_password,
            # Warnings and errors only: not its notes on closing.
            "log_level": 4,
        }
    )


def _binding_fields(grant: Grant) -> tuple[Any, ...]:
    resource = ResourceType.TOPIC if grant.resource == "topic" else ResourceType.GROUP
    operation = AclOperation.READ if grant.operation == "READ" else AclOperation.WRITE
    return (
        resource,
        grant.name,
        ResourcePatternType.LITERAL,
        f"User:{grant.principal}",
        "*",
        operation,
        AclPermissionType.ALLOW,
    )


def _binding(grant: Grant) -> AclBinding:
    return AclBinding(*_binding_fields(grant))


def _settle(
    futures: Iterable[Future[Any]], doing: str, harmless: frozenset[int] = frozenset()
) -> None:
    for future in futures:
        try:
            future.result(timeout=SETTLE_S)
        except KafkaException as error:
            kafka_error: KafkaError = error.args[0]
            if kafka_error.code() not in harmless:
                raise StackError(f"{doing} failed: {kafka_error.str()}") from None


def _await_applied(
    admin: AdminClient, users: list[str], bindings: set[AclBinding], topics: set[str]
) -> None:
    """Until the broker knows every login, topic and ACL: the controller takes them first, and
    a service started before the broker has them would be refused."""
    everything = AclBindingFilter(
        ResourceType.ANY,
        ANY,
        ResourcePatternType.ANY,
        ANY,
        ANY,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    deadline = time.monotonic() + SETTLE_S
    while True:
        known: set[str] = set()
        described = admin.describe_user_scram_credentials(users)
        assert isinstance(described, dict)  # one answer per user named
        for user, future in described.items():
            try:
                future.result(timeout=SETTLE_S)
                known.add(user)
            except KafkaException:
                pass
        missing_users = set(users) - known
        missing_acls = bindings - set(admin.describe_acls(everything).result(timeout=SETTLE_S))
        missing_topics = topics - set(admin.list_topics(timeout=SETTLE_S).topics)
        if not (missing_users or missing_acls or missing_topics):
            return
        if time.monotonic() > deadline:
            raise StackError(
                f"the broker has not applied {len(missing_users)} logins, "
                f"{len(missing_acls)} ACLs and {len(missing_topics)} topics after {SETTLE_S:g} s"
            )
        time.sleep(0.2)
