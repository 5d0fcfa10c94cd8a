"""A single-node Apache Kafka in KRaft mode, run with Java from the Maven Central jars.

The launcher runs one such broker for the stack (`main_broker`) and, beside it, one per site
that asks for a cluster of its own (`cityloop_deploy.clusters`); every function here works on
any of them, described by a `Broker`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from cityloop_deploy import process, tools
from cityloop_deploy.paths import KafkaPaths, StackPaths
from cityloop_deploy.probe import BrokerNotReadyError, ClusterProbe, run_sync, wait_for_broker
from cityloop_deploy.service import ServiceStatus, StackError
from cityloop_deploy.settings import (
    KAFKA_CONTROLLER_PORT_ENV,
    KAFKA_PORT_ENV,
    StackSettings,
)
from cityloop_shared.messaging.security import PLAINTEXT, ClientSecurity, client_security
from cityloop_shared.settings import KafkaSettings

log = logging.getLogger(__name__)

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
AUTHORIZER_CLASS = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

# The main broker's. Fixed, so the data directory never disagrees with the id it was
# formatted with. It is the URL-safe base64 of 16 bytes, the form Kafka requires.
CLUSTER_ID = "Q2l0eUxvb3AtbG9jYWwwMQ"
NODE_ID = 1

HEAP_OPTIONS = ("-Xms256m", "-Xmx768m")
# The flags of Kafka's own kafka-run-class.sh.
GC_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
)

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 45.0

_POM_STAMP = ".pom.sha256"
_CLIENTS_JAR = re.compile(r"^kafka-clients-(?P<version>\d[\w.\-]*)\.jar$")


class Listeners(Protocol):
    """Where a broker listens: the stack's settings (the main broker) or a `Broker`."""

    @property
    def host(self) -> str: ...

    @property
    def kafka_port(self) -> int: ...

    @property
    def kafka_controller_port(self) -> int: ...


@dataclass(frozen=True)
class BrokerSecurity:
    """A broker that lets in SASL/SCRAM logins only and authorizes every request by its ACLs,
    refusing what no ACL allows. ``admin`` is its super-user, whom no ACL limits: the launcher,
    which creates the services' logins, topics and ACLs, and the operator."""

    admin: str
    admin_password: str = field(repr=False)
    mechanism: str = "SCRAM-SHA-512"

    def admin_settings(self, bootstrap: str) -> KafkaSettings:
        """The super-user's login, as a service's settings would hold it."""
        return KafkaSettings(
            bootstrap_servers=bootstrap,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism=self.mechanism,
            username=self.admin,
            password=SecretStr(self.admin_password),
        )


@dataclass(frozen=True)
class Broker:
    """One single-node KRaft cluster of the launcher: its files, where it listens, the
    cluster id its storage is formatted with, and whether it is secured."""

    name: str
    kafka: KafkaPaths
    host: str
    kafka_port: int
    kafka_controller_port: int
    cluster_id: str
    # Named when one of its ports is taken: the settings that move them.
    port_settings: str = f"{KAFKA_PORT_ENV}, {KAFKA_CONTROLLER_PORT_ENV}"
    security: BrokerSecurity | None = None
    """None: a PLAINTEXT broker that lets everyone do anything."""

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def admin_login(self) -> ClientSecurity:
        """How the launcher logs in to the broker: as its super-user when it is secured."""
        if self.security is None:
            return PLAINTEXT
        return client_security(self.security.admin_settings(self.kafka_bootstrap))


def main_broker(settings: StackSettings, paths: StackPaths) -> Broker:
    """The stack's own broker: the one every single-site service and test uses."""
    return Broker(
        name="kafka",
        kafka=paths.kafka,
        host=settings.host,
        kafka_port=settings.kafka_port,
        kafka_controller_port=settings.kafka_controller_port,
        cluster_id=CLUSTER_ID,
    )


def render_server_properties(
    listeners: Listeners, kafka: KafkaPaths, security: BrokerSecurity | None = None
) -> str:
    host = listeners.host
    port, controller_port = listeners.kafka_port, listeners.kafka_controller_port
    data_dir = str(kafka.data).replace("\\", "\\\\")
    # The listener's name is its protocol's: clients and the broker itself use it alike.
    client = "PLAINTEXT" if security is None else "SASL_PLAINTEXT"
    entries = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        # A static quorum of one voter: plain `format`, no --standalone.
        "controller.quorum.voters": f"{NODE_ID}@{host}:{controller_port}",
        "listeners": f"{client}://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"{client}://{host}:{port}",
        # Never the controller listener: transactional markers would fail.
        "inter.broker.listener.name": client,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": f"CONTROLLER:{client},{client}:{client}",
        **(_sasl_entries(security) if security is not None else {}),
        "log.dirs": data_dir,
        "num.partitions": "1",
        # Every topic has an owner that creates it with its partitions and retention; a typo
        # in a topic name must fail instead of creating a stray topic.
        "auto.create.topics.enable": "false",
        # One broker: every internal topic can have only one replica.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Consumer groups of tests start at once instead of waiting 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
    }
    header = "# Written by cityloop-stack on every start; edit deploy/src/cityloop_deploy/kafka.py"
    return "\n".join([header, *(f"{key}={value}" for key, value in entries.items())]) + "\n"


def _sasl_entries(security: BrokerSecurity) -> dict[str, str]:
    admin, password, mechanism = security.admin, security.admin_password, security.mechanism
    scram_login = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{admin}" password="{password}";'
    )
    # The controller cannot check SCRAM logins: their credentials are in the metadata log it
    # serves. Its listener takes PLAIN, for the super-user alone, with the password here.
    plain_login = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{admin}" password="{password}" user_{admin}="{password}";'
    )
    return {
        "sasl.enabled.mechanisms": mechanism,
        "sasl.mechanism.inter.broker.protocol": mechanism,
        f"listener.name.sasl_plaintext.{mechanism.lower()}.sasl.jaas.config": scram_login,
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": plain_login,
        "sasl.mechanism.controller.protocol": "PLAIN",
        "authorizer.class.name": AUTHORIZER_CLASS,
        "super.users": f"User:{admin}",
        # Deny by default: a principal does what an ACL allows it, nothing more.
        "allow.everyone.if.no.acl.found": "false",
    }


def write_server_properties(broker: Broker) -> None:
    """The broker's server.properties; readable by its owner alone when it holds the
    super-user's password."""
    path = broker.kafka.server_properties
    path.write_text(render_server_properties(broker, broker.kafka, broker.security))
    if broker.security is not None:
        path.chmod(0o600)


def read_properties(path: Path) -> dict[str, str]:
    """A Java properties file of the plain `key=value` kind the launcher and Kafka write;
    empty when the file is missing."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    lines = (line.strip() for line in text.splitlines())
    pairs = (line.split("=", 1) for line in lines if "=" in line and line[0] not in "#!")
    return {key.strip(): value.strip() for key, value in pairs}


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def jars_present(paths: StackPaths) -> bool:
    stamp = paths.kafka.libs / _POM_STAMP
    return stamp.is_file() and stamp.read_text().strip() == _pom_digest(paths.pom)


def ensure_jars(paths: StackPaths) -> None:
    """Copy the broker's jars out of Maven once; again only when the pom changes."""
    if jars_present(paths):
        return
    mvn = tools.maven()
    libs = paths.kafka.libs
    if libs.exists():
        shutil.rmtree(libs)
    log.info("fetching the Kafka jars with Maven into %s", libs)
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(paths.pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(
            f"Maven could not fetch the Kafka jars (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    (libs / _POM_STAMP).write_text(_pom_digest(paths.pom) + "\n")


def _read_version_resource(jar: Path) -> str | None:
    # kafka-clients carries the version Kafka itself reports (AppInfoParser reads it).
    try:
        with zipfile.ZipFile(jar) as archive:
            text = archive.read("kafka/kafka-version.properties").decode()
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "version":
            return value.strip()
    return None


def kafka_version(libs: Path) -> str | None:
    """The Kafka version of the jars the launcher runs, None before they are fetched."""
    if not libs.is_dir():
        return None
    for jar in sorted(libs.iterdir()):
        match = _CLIENTS_JAR.match(jar.name)
        if match:
            return _read_version_resource(jar) or match.group("version")
    return None


def _java_command(kafka: KafkaPaths, log4j2_config: Path, main_class: str, *args: str) -> list[str]:
    return [
        tools.java(),
        *HEAP_OPTIONS,
        *GC_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j2_config}",
        f"-Dkafka.logs.dir={kafka.logs}",
        # The JVM expands the wildcard itself; no shell is involved.
        "-cp",
        str(kafka.libs / "*"),
        main_class,
        *args,
    ]


def is_formatted(kafka: KafkaPaths) -> bool:
    return (kafka.data / "meta.properties").is_file()


def formatted_cluster_id(kafka: KafkaPaths) -> str | None:
    """The cluster id the storage was formatted with, None before it is formatted."""
    return read_properties(kafka.data / "meta.properties").get("cluster.id")


def format_storage(broker: Broker, log4j2_config: Path) -> None:
    """Format with the very jars that will run the broker: storage from a newer storage tool
    is unreadable by an older broker. Storage formatted before is kept, provided it belongs
    to the broker's cluster."""
    kafka = broker.kafka
    if is_formatted(kafka):
        found = formatted_cluster_id(kafka)
        if found != broker.cluster_id:
            raise StackError(
                f"the Kafka storage in {kafka.data} belongs to cluster {found}, not to "
                f"{broker.name}'s {broker.cluster_id}: remove that folder to start afresh"
            )
        return
    # A secured broker's super-user logs in before any ACL or login can be made: its SCRAM
    # credential goes into the metadata log the storage starts with.
    security = broker.security
    scram = (
        [
            "--add-scram",
            f"{security.mechanism}=[name={security.admin},password={security.admin_password}]",
        ]
        if security is not None
        else []
    )
    command = _java_command(
        kafka,
        log4j2_config,
        STORAGE_TOOL_CLASS,
        "format",
        "--cluster-id",
        broker.cluster_id,
        "--config",
        str(kafka.server_properties),
        "--ignore-formatted",
        *scram,
    )
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StackError(
            f"formatting the Kafka storage in {kafka.data} failed:\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )


def _marker(kafka: KafkaPaths) -> str:
    # The properties path is unique to one stack directory, so two checkouts never take
    # each other's broker for their own.
    return str(kafka.server_properties)


def running_pid(kafka: KafkaPaths) -> int | None:
    return process.running_pid(kafka.pid_file, _marker(kafka))


def _log_tail(kafka: KafkaPaths, lines: int = 40) -> str:
    chunks = []
    for log_file in (kafka.console_log, kafka.logs / "server.log"):
        if log_file.is_file():
            tail = log_file.read_text(errors="replace").splitlines()[-lines:]
            chunks.append(f"--- {log_file} ---\n" + "\n".join(tail))
    return "\n".join(chunks)


def start(broker: Broker, paths: StackPaths) -> ClusterProbe:
    """Start the broker unless ours already runs, and return once it answers metadata.
    `paths` are the stack's: the jars (fetched first if need be) and the log configuration
    every broker shares."""
    kafka = broker.kafka
    bootstrap = broker.kafka_bootstrap
    pid = running_pid(kafka)
    if pid is not None:
        # Our broker, but started for other ports: probing the asked-for port could reach
        # somebody else's broker and take it for ours.
        rendered = render_server_properties(broker, kafka, broker.security)
        if kafka.server_properties.read_text() != rendered:
            raise StackError(
                f"this stack's {broker.name} (pid {pid}) runs with other settings than asked "
                "for (ports?): stop it with `cityloop-stack down` first"
            )
        return run_sync(
            lambda: wait_for_broker(bootstrap, READY_TIMEOUT_S, security=broker.admin_login)
        )
    for port in (broker.kafka_port, broker.kafka_controller_port):
        if process.port_in_use(broker.host, port):
            raise StackError(
                f"port {port} on {broker.host} is taken by a process that is not this "
                f"stack's {broker.name}: stop it or choose other ports ({broker.port_settings})"
            )
    tools.java()
    ensure_jars(paths)
    for directory in (kafka.data, kafka.logs):
        directory.mkdir(parents=True, exist_ok=True)
    write_server_properties(broker)
    format_storage(broker, paths.log4j2_config)

    command = _java_command(kafka, paths.log4j2_config, MAIN_CLASS, str(kafka.server_properties))
    began = time.monotonic()
    pid = process.spawn_detached(command, kafka.console_log, dict(os.environ))
    kafka.pid_file.write_text(f"{pid}\n")
    launched = pid

    def still_starting() -> bool:
        return process.pid_alive(launched)

    try:
        probe = run_sync(
            lambda: wait_for_broker(
                bootstrap, READY_TIMEOUT_S, still_starting, security=broker.admin_login
            )
        )
    except BrokerNotReadyError as error:
        process.terminate(launched, STOP_TIMEOUT_S)
        kafka.pid_file.unlink(missing_ok=True)
        raise StackError(f"{error}\n{_log_tail(kafka)}") from None
    log.info("%s answered metadata %.1f s after launch", broker.name, time.monotonic() - began)
    return probe


def stop(kafka: KafkaPaths) -> bool:
    """Controlled shutdown of the broker whose files are `kafka`, keeping its data; True when
    it was running."""
    pid = running_pid(kafka)
    if pid is None:
        return False
    if not process.terminate(pid, STOP_TIMEOUT_S):
        log.warning("Kafka in %s ignored SIGTERM for %.0f s: killed", kafka.home, STOP_TIMEOUT_S)
    kafka.pid_file.unlink(missing_ok=True)
    return True


def status(broker: Broker) -> ServiceStatus:
    kafka = broker.kafka
    pid = running_pid(kafka)
    version = kafka_version(kafka.libs)
    detail = ""
    if pid is not None:
        try:
            detail = run_sync(
                lambda: wait_for_broker(broker.kafka_bootstrap, 5.0, security=broker.admin_login)
            ).summary()
        except BrokerNotReadyError as error:
            detail = f"not answering: {error}"
    return ServiceStatus(
        name=broker.name,
        running=pid is not None,
        address=broker.kafka_bootstrap,
        pid=pid,
        version=f"Apache Kafka {version}" if version else None,
        detail=detail,
    )
