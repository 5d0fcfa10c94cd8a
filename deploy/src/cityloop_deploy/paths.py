"""Where the local stack keeps its jars, data, logs and pid files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cityloop_deploy.service import StackError

STACK_DIR_ENV = "CITYLOOP_STACK_DIR"

# The pom is the one file only this repository has; walking up to it works from an
# editable install and from a plain checkout on sys.path alike.
_ROOT_MARKER = Path("deploy") / "kafka" / "pom.xml"


class RepositoryNotFoundError(StackError):
    pass


def find_repo_root(start: Path | None = None) -> Path:
    here = (start or Path(__file__)).resolve()
    for candidate in (here, *here.parents):
        if (candidate / _ROOT_MARKER).is_file():
            return candidate
    raise RepositoryNotFoundError(
        f"no CityLoop checkout above {here}: the local stack needs {_ROOT_MARKER}"
    )


@dataclass(frozen=True)
class KafkaPaths:
    home: Path

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def console_log(self) -> Path:
        return self.logs / "kafka.out"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def server_properties(self) -> Path:
        return self.home / "server.properties"


@dataclass(frozen=True)
class PostgresPaths:
    home: Path

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"


@dataclass(frozen=True)
class StackPaths:
    repo_root: Path
    stack_dir: Path

    @property
    def kafka(self) -> KafkaPaths:
        return KafkaPaths(self.stack_dir / "kafka")

    @property
    def postgres(self) -> PostgresPaths:
        return PostgresPaths(self.stack_dir / "postgres")

    @property
    def pom(self) -> Path:
        return self.repo_root / "deploy" / "kafka" / "pom.xml"

    @property
    def log4j2_config(self) -> Path:
        return self.repo_root / "deploy" / "kafka" / "log4j2.properties"


def resolve_paths(
    env: Mapping[str, str] | None = None, repo_root: Path | None = None
) -> StackPaths:
    environ = os.environ if env is None else env
    root = repo_root or find_repo_root()
    override = environ.get(STACK_DIR_ENV)
    stack_dir = Path(override).expanduser().resolve() if override else root / ".stack"
    return StackPaths(repo_root=root, stack_dir=stack_dir)
