"""The Kafka logins of the local stack's secured clusters: the super-user the launcher and
the operator log in as, and a principal for each service of each site.

Every password is derived from one random key kept beside the secured clusters (readable by
its owner alone), so the launcher, the run command and the tests find the same password for
a principal without a file of passwords: `HMAC-SHA256(key, principal)`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from cityloop_deploy.kafka import BrokerSecurity
from cityloop_deploy.paths import StackPaths
from cityloop_deploy.service import StackError
from cityloop_shared.settings import KafkaSettings

ADMIN = "admin"
"""The secured clusters' super-user."""
MECHANISM = "SCRAM-SHA-512"
PROTOCOL = "SASL_PLAINTEXT"
"""On loopback only: a production cluster takes SASL_SSL (docs/kafka-security.md)."""
KEY_FILE = "scram.key"


def key_file(paths: StackPaths) -> Path:
    return paths.secured_clusters / KEY_FILE


def principal(site: str, service: str) -> str:
    """The Kafka user a service of a site logs in as: ``cityloop-370212-intake``. The city's
    sync logs in to its districts' clusters as the city's ``cityloop-370200-sync``."""
    return f"cityloop-{site}-{service}"


@dataclass(frozen=True)
class KafkaLogins:
    key: bytes = field(repr=False)

    @classmethod
    def of_stack(cls, paths: StackPaths) -> KafkaLogins:
        """The stack's logins; the key is made on first use, before any secured cluster."""
        path = key_file(paths)
        if not path.is_file():
            formatted = [p.parent.parent for p in paths.secured_clusters.glob("*/data/meta.*")]
            if formatted:
                # Their super-user's credential was made from the lost key: it could not log in.
                raise StackError(
                    f"{path} is missing but {formatted[0]} holds a secured cluster made with "
                    f"it: remove {paths.secured_clusters} to start the secured clusters afresh"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32) + "\n")
        return cls(bytes.fromhex(path.read_text().strip()))

    @classmethod
    def found(cls, paths: StackPaths) -> KafkaLogins | None:
        """The stack's logins when its key was made, without making one."""
        if not key_file(paths).is_file():
            return None
        return cls.of_stack(paths)

    def password(self, user: str) -> str:
        return hmac.new(self.key, user.encode(), hashlib.sha256).hexdigest()

    def broker_security(self) -> BrokerSecurity:
        return BrokerSecurity(ADMIN, self.password(ADMIN), MECHANISM)

    def settings(self, bootstrap: str, user: str) -> KafkaSettings:
        """The Kafka settings of a client logging in as ``user``."""
        return KafkaSettings(
            bootstrap_servers=bootstrap,
            security_protocol=PROTOCOL,
            sasl_mechanism=MECHANISM,
            username=user,
            password=SecretStr(self.password(user)),
        )

    def service_env(self, site: str, service: str) -> dict[str, str]:
        """What a service process of the site is told to log in with (``CITYLOOP_KAFKA_*``)."""
        user = principal(site, service)
        return {
            "CITYLOOP_KAFKA_SECURITY_PROTOCOL": PROTOCOL,
            "CITYLOOP_KAFKA_SASL_MECHANISM": MECHANISM,
            "CITYLOOP_KAFKA_USERNAME": user,
            "CITYLOOP_KAFKA_PASSWORD": self.password(user),
        }
