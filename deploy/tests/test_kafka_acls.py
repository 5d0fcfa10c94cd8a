"""Least privilege on the secured Kafka clusters the launcher runs (SASL/SCRAM and ACLs): on the
real brokers, each service's principal writes its own topics and no other, reads what it
follows and nothing else, reads in its own consumer group only; sync writes only the mirrors
it keeps; a login that is not the service's is refused; and a service logged in as its
principal moves a case.

The district 370212 and its city 370200 run on their secured clusters, started by the
launcher; the test's topics and ACLs are made for a namespace of its own, as the launcher
makes them for the demo city, and removed afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

import cityloop_intake
from cityloop_deploy import localstack
from cityloop_deploy.audit import read_log
from cityloop_deploy.fleet import WORKFLOW_STAGES
from cityloop_deploy.kafka_acls import cluster_plan, provision, withdraw
from cityloop_deploy.kafka_logins import KafkaLogins, principal
from cityloop_deploy.service import StackError
from cityloop_deploy.site_fixtures import UpstreamStage, eventually, serve_in_process
from cityloop_deploy.topology import published
from cityloop_shared.contract import Actor, Role, decode
from cityloop_shared.contract.events.casefile import CaseCancelled, ReasonPayload
from cityloop_shared.contract.events.intake import CaseReported
from cityloop_shared.contract.sites import city_of, other_level
from cityloop_shared.contract.topics import (
    Stage,
    analytics_topic,
    case_topics,
    dead_letter_topic,
    event_topic,
)
from cityloop_shared.messaging.security import client_security
from cityloop_shared.settings import KafkaSettings, ServiceSettings

pytestmark = pytest.mark.integration

DISTRICT = "370212"
CITY = "370200"
SITES = {DISTRICT: (), CITY: (DISTRICT,)}
"""Each site's cluster, with the districts a city syncs with."""


@dataclass(frozen=True)
class Secured:
    bootstraps: dict[str, str]
    logins: KafkaLogins
    namespace: str

    def login(self, site: str, user: str) -> KafkaSettings:
        """The settings of a client of the site's cluster logging in as ``user``."""
        return self.logins.settings(self.bootstraps[site], user)

    def admin(self, site: str) -> KafkaSettings:
        return self.logins.broker_security().admin_settings(self.bootstraps[site])


@dataclass(frozen=True)
class Allowed:
    writes: frozenset[str]
    reads: frozenset[str]


def declared(site: str, namespace: str) -> dict[str, Allowed]:
    """What each principal on the site's cluster may do, as the services declare it: a stage
    writes its topic and dead letters (evaluation its analytics topic) and reads the topics of
    what it follows; the city's sync reads the site's case topics and the other level's
    mirrored here, and writes those mirrors."""
    districts = SITES[site]
    allowed = {}
    for topology in published():
        stage = topology.stage
        writes = (
            {analytics_topic(site, namespace)}
            if stage is Stage.EVALUATION
            else {event_topic(site, stage, namespace), dead_letter_topic(site, stage, namespace)}
        )
        allowed[principal(site, stage.value)] = Allowed(
            frozenset(writes), frozenset(topology.sources(site, namespace, districts))
        )
    mirrors = {t for other in other_level(site, districts) for t in case_topics(other, namespace)}
    allowed[principal(city_of(site), Stage.SYNC.value)] = Allowed(
        frozenset(mirrors), frozenset({*case_topics(site, namespace), *mirrors})
    )
    return allowed


@pytest.fixture(scope="module")
def topic_namespace() -> str:
    """One namespace for the module: its ACLs are made once."""
    return f"t{uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def secured(topic_namespace: str) -> Iterator[Secured]:
    stack = localstack.Stack.from_env()
    try:
        bootstraps = localstack.up_sites(stack, list(SITES), secured=True)
    except StackError as error:
        pytest.fail(f"the launcher could not start the secured clusters: {error}", pytrace=False)
    logins = KafkaLogins.of_stack(stack.paths)
    plans = {
        site: cluster_plan(site, districts, topic_namespace) for site, districts in SITES.items()
    }
    for site, plan in plans.items():
        provision(bootstraps[site], logins, plan)
    try:
        yield Secured(bootstraps, logins, topic_namespace)
    finally:
        for site, plan in plans.items():
            withdraw(bootstraps[site], logins, plan)


async def cluster_topics(secured: Secured, site: str) -> list[str]:
    """The test's topics on the site's cluster, as its super-user sees them."""
    admin = AIOKafkaAdminClient(**_client(secured.admin(site)))
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(f"{secured.namespace}."))
    finally:
        await admin.close()


def _client(login: KafkaSettings) -> dict[str, Any]:
    return {"bootstrap_servers": login.bootstrap_servers, **client_security(login)}


async def writable(login: KafkaSettings, topics: list[str], marker: bytes) -> frozenset[str]:
    """The topics ``login`` could write ``marker`` to; every other one was refused."""
    producer = AIOKafkaProducer(**_client(login), enable_idempotence=True, acks="all")
    written = set()
    try:
        await producer.start()
        for topic in topics:
            try:
                await producer.send_and_wait(topic, marker)
            except TopicAuthorizationFailedError:
                continue
            written.add(topic)
    finally:
        await producer.stop()
    return frozenset(written)


async def readable(login: KafkaSettings, topics: list[str]) -> dict[str, list[bytes]]:
    """What ``login`` could read of each topic, from its start to its end; a topic it was
    refused (hidden from it, or described but not to be fetched) is left out."""
    admin = AIOKafkaAdminClient(**_client(login))
    consumer = AIOKafkaConsumer(
        **_client(login), group_id=None, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await admin.start()
    await consumer.start()
    read: dict[str, list[bytes]] = {}
    try:
        for described in await admin.describe_topics(topics):
            if described["error_code"] == TopicAuthorizationFailedError.errno:
                continue
            assert described["error_code"] == 0, described
            partitions = [
                TopicPartition(described["topic"], p["partition"]) for p in described["partitions"]
            ]
            try:
                read[described["topic"]] = await _fetch_all(consumer, partitions)
            except TopicAuthorizationFailedError:
                continue
    finally:
        await consumer.stop()
        await admin.close()
    return read


async def _fetch_all(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> list[bytes]:
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    ends = await consumer.end_offsets(partitions)
    values: list[bytes] = []
    # At least one fetch, so that a refusal shows on an empty topic too.
    while True:
        batch = await consumer.getmany(*partitions, timeout_ms=200)
        values += [record.value for records in batch.values() for record in records]
        positions = {tp: await consumer.position(tp) for tp in partitions}
        if all(positions[tp] >= ends[tp] for tp in partitions):
            return values


@pytest_asyncio.fixture(scope="module")
async def written(secured: Secured) -> dict[str, dict[str, frozenset[str]]]:
    """Per site, what each principal could write when it tried every topic of the cluster
    (with a marker naming it)."""
    found = {}
    for site in SITES:
        topics = await cluster_topics(secured, site)
        found[site] = {
            user: await writable(secured.login(site, user), topics, user.encode())
            for user in declared(site, secured.namespace)
        }
    return found


@pytest.mark.parametrize("site", list(SITES))
async def test_each_principal_writes_its_own_topics_and_no_other(
    secured: Secured, written: dict[str, dict[str, frozenset[str]]], site: str
) -> None:
    ns = secured.namespace
    assert len(await cluster_topics(secured, site)) > 20
    for user, allowed in declared(site, ns).items():
        assert written[site][user] == allowed.writes, user
    intake = written[site][principal(site, "intake")]
    assert event_topic(site, Stage.CASEFILE, ns) not in intake
    assert event_topic(site, Stage.INTAKE, ns) in intake
    sync = written[site][principal(CITY, "sync")]
    # Sync never writes the site's own topics: only the other level's, which it mirrors here.
    assert not sync & set(case_topics(site, ns))
    assert sync == {t for o in other_level(site, SITES[site]) for t in case_topics(o, ns)}
    evaluation = written[site][principal(site, "evaluation")]
    assert evaluation == {analytics_topic(site, ns)}


@pytest.mark.parametrize("site", list(SITES))
async def test_each_principal_reads_what_it_follows_and_nothing_else(
    secured: Secured, written: dict[str, dict[str, frozenset[str]]], site: str
) -> None:
    ns = secured.namespace
    topics = await cluster_topics(secured, site)
    writers = {topic: user for user, tried in written[site].items() for topic in tried}
    for user, allowed in declared(site, ns).items():
        read = await readable(secured.login(site, user), topics)
        assert set(read) == allowed.reads, user
        for topic in read:
            # What its writer put there in the test, when anyone could write it.
            if topic in writers:
                assert writers[topic].encode() in read[topic], (user, topic)
    # Disposal follows only casefile and dispatch: the public's reports are not for it.
    disposal = declared(site, ns)[principal(site, "disposal")].reads
    assert event_topic(site, Stage.INTAKE, ns) not in disposal
    assert event_topic(site, Stage.CASEFILE, ns) in disposal


async def test_each_stage_reads_in_its_own_consumer_group_only(secured: Secured) -> None:
    ns = secured.namespace
    for index, stage in enumerate(WORKFLOW_STAGES):
        login = secured.login(DISTRICT, principal(DISTRICT, stage))
        own = event_topic(DISTRICT, Stage(stage), ns).removesuffix(".v1")
        other_stage = Stage(WORKFLOW_STAGES[(index + 1) % len(WORKFLOW_STAGES)])
        other = event_topic(DISTRICT, other_stage, ns).removesuffix(".v1")
        followed = sorted(declared(DISTRICT, ns)[principal(DISTRICT, stage)].reads)[0]
        assert await commits_in(login, own, followed), stage
        assert not await commits_in(login, other, followed), stage


async def commits_in(login: KafkaSettings, group: str, topic: str) -> bool:
    """Whether ``login`` may commit a position in ``group``, as a consumer does."""
    consumer = AIOKafkaConsumer(**_client(login), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): 0})
    except GroupAuthorizationFailedError:
        return False
    finally:
        await consumer.stop()
    return True


async def test_a_login_that_is_not_the_services_is_refused(secured: Secured) -> None:
    login = secured.login(DISTRICT, principal(DISTRICT, "intake"))
    wrong = login.model_copy(update={"password": SecretStr("not-its-password")})
    with pytest.raises(KafkaError):
        await writable(wrong, [event_topic(DISTRICT, Stage.INTAKE, secured.namespace)], b"x")
    anonymous = KafkaSettings(bootstrap_servers=login.bootstrap_servers)
    producer = AIOKafkaProducer(**_client(anonymous), request_timeout_ms=3000)
    try:
        with pytest.raises(KafkaConnectionError):
            await producer.start()
    finally:
        await producer.stop()


async def test_a_service_logged_in_as_its_principal_moves_a_case(
    secured: Secured,
    service_settings: ServiceSettings,
    auth: Callable[..., dict[str, str]],
) -> None:
    """Intake on the district's secured cluster, as its principal: a report becomes its event,
    which casefile's principal reads; the case's cancellation, written as casefile's principal,
    is read by intake in its own group and applied."""
    assert service_settings.topic_namespace == secured.namespace
    settings = service_settings.model_copy(
        update={"kafka": secured.login(DISTRICT, principal(DISTRICT, "intake"))}
    )
    casefile = secured.login(DISTRICT, principal(DISTRICT, "casefile"))
    async with serve_in_process(cityloop_intake, settings) as (client, runtime):
        answer = await client.post(
            "/reports",
            json={
                "channel": "supervisor",
                "category_code": "06001",
                "description": "私搭乱建",
                "location": {"lon": 120.45, "lat": 36.13},
            },
            headers=auth(Role.FIELD_SUPERVISOR, id="sv-370212-03"),
        )
        assert answer.status_code == 201, answer.text
        case_id = UUID(answer.json()["case_id"])

        async def reported() -> list[CaseReported]:
            read = await readable(casefile, [runtime.topic])
            # Beside the markers the other tests wrote as intake.
            events = [decode(value) for value in read.get(runtime.topic, []) if value[:1] == b"{"]
            return [e for e in events if isinstance(e, CaseReported) and e.case_id == case_id]

        report = (await eventually(reported, bool))[0]
        producer = AIOKafkaProducer(**_client(casefile), enable_idempotence=True)
        await producer.start()
        try:
            cancelled = await UpstreamStage(settings, Stage.CASEFILE, producer).emit(
                CaseCancelled,
                case_id=case_id,
                payload=ReasonPayload(reason="不属于城管范围"),
                actor=Actor(id="chief-1", role=Role.DUTY_CHIEF, site=DISTRICT),
                cause=report,
            )
        finally:
            await producer.stop()

        async def applied_from_casefile() -> list[str]:
            async with runtime.database.begin() as uow:
                history = await uow.tracker.history()
            return [a.source for a in history if a.event_id == cancelled.event_id]

        sources = await eventually(applied_from_casefile, bool)
        assert sources[0].startswith(f"{event_topic(DISTRICT, Stage.CASEFILE, secured.namespace)}/")


async def test_the_operator_audits_a_secured_cluster_with_its_login(
    secured: Secured, written: dict[str, dict[str, frozenset[str]]]
) -> None:
    topic = event_topic(DISTRICT, Stage.INTAKE, secured.namespace)
    admin = secured.admin(DISTRICT)
    records = await read_log(admin.bootstrap_servers, [topic], security=client_security(admin))
    # The markers the principals allowed to write intake's topic left there (beside the
    # events of the case another test moved).
    markers = {user.encode() for user, topics in written[DISTRICT].items() if topic in topics}
    assert markers == {b"cityloop-370212-intake"}
    assert markers <= {record.value for record in records}
