"""Where the local stack keeps its jars, data, logs and pid files."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from cityloop_deploy.service import StackError
from cityloop_deploy.tools import Account

STACK_DIR_ENV = "CITYLOOP_STACK_DIR"

# The pom is the one file only this repository has; walking up to it works from an
# editable install and from a plain checkout on sys.path alike.
_ROOT_MARKER = Path("deploy") / "kafka" / "pom.xml"


class RepositoryNotFoundError(StackError):
    pass


class UnreachableError(StackError):
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
    # Set for a site cluster: the jars it runs are the main broker's, not a copy of its own.
    libs_dir: Path | None = None

    @property
    def libs(self) -> Path:
        return self.libs_dir or self.home / "libs"

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
    # Set when the files live outside the stack folder: the symlink there that leads to them.
    link: Path | None = None

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
    def clusters(self) -> Path:
        """Where each site's own Kafka cluster keeps its files, one folder per site."""
        return self.stack_dir / "clusters"

    @property
    def secured_clusters(self) -> Path:
        """The same for the secured site clusters (SASL/SCRAM and ACLs), with the key their
        passwords are derived from."""
        return self.stack_dir / "secured"

    @property
    def postgres(self) -> PostgresPaths:
        """Where PostgreSQL's files belong; `place_postgres` says where they can really go."""
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


def may_search(directory: Path, uid: int, gids: Collection[int]) -> bool:
    """Whether the user `uid` in the groups `gids` may pass through `directory`, by its
    permission bits alone (ACLs are not read: a folder opened by an ACL alone counts as
    closed, which only moves the data)."""
    info = directory.stat()
    # Like the kernel, look at one class of bits only: an owner the owner's bits deny is
    # denied even when everyone else may pass.
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in gids:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def blocking_directory(path: Path, uid: int, gids: Collection[int]) -> Path | None:
    """The first folder above `path`, from / down, that the user `uid` in the groups `gids`
    may not pass through, or None when it can get to `path`.

    `path` itself is not judged: the launcher makes it and hands it to that user, which is
    what lets it write there. Nor are folders not made yet: `up` asks once the stack folder
    is made.
    """
    for directory in reversed(path.parents):
        if not directory.exists():
            return None
        if not may_search(directory, uid, gids):
            return directory
    return None


def fallback_postgres_home(stack_dir: Path, account_home: Path) -> Path:
    """A folder of this stack's own in the postgres user's home: named after the stack folder,
    so every command finds the same one, and two checkouts never share a cluster."""
    digest = hashlib.sha256(str(stack_dir.resolve()).encode()).hexdigest()[:12]
    return account_home / f"cityloop-{digest}"


def _unreachable(configured: Path, blocker: Path, fallback: Path, why: str) -> UnreachableError:
    mode = stat.filemode(blocker.stat().st_mode)
    return UnreachableError(
        f"the `postgres` user, which runs the database for root, may not enter {blocker} "
        f"({mode}), so it cannot reach {configured}; nor can the files go to {fallback}: "
        f"{why}. Set {STACK_DIR_ENV} to a folder the postgres user can reach, such as one "
        f"under /srv, or open the way with `chmod o+x {blocker}`"
    )


def place_postgres(paths: StackPaths, account: Account | None) -> PostgresPaths:
    """Where the server keeps its files.

    Run by root, the server runs as `account` (the postgres user), which must reach them. A
    checkout in a private folder (/root is 0700) is out of its reach, so the files then go to
    a folder of this stack's own in that user's home, and the stack folder links to it.
    """
    if account is None:
        return paths.postgres
    configured = paths.postgres.home
    # Through the link of an earlier start, so the files stay where they are.
    home = configured.resolve()
    blocker = blocking_directory(home, account.uid, account.groups)
    if blocker is None:
        return PostgresPaths(home)
    fallback = fallback_postgres_home(paths.stack_dir, account.home)
    fallback_blocker = blocking_directory(fallback, account.uid, account.groups)
    if fallback_blocker is not None:
        raise _unreachable(
            configured, blocker, fallback, f"it may not enter {fallback_blocker} either"
        )
    if not account.home.is_dir():
        raise _unreachable(configured, blocker, fallback, f"{account.home} does not exist")
    return PostgresPaths(fallback, link=configured)
