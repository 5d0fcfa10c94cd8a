"""Finding the programs the stack runs, with a clear word on what to install if one is missing."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cityloop_deploy.service import StackError


class MissingToolError(StackError):
    pass


JAVA_HINT = "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
MAVEN_HINT = "install Maven (Debian: apt-get install maven)"
POSTGRES_HINT = "install the PostgreSQL 15 server (Debian: apt-get install postgresql-15)"


def require(program: str, hint: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise MissingToolError(f"`{program}` not found on PATH: {hint}")
    return found


def java() -> str:
    return require("java", JAVA_HINT)


def maven() -> str:
    return require("mvn", MAVEN_HINT)


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def _has_server(bindir: Path) -> bool:
    # pg_config may come from the client headers package alone, without a server beside it.
    return all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def _major(bindir: Path) -> str:
    return bindir.parent.name


def postgres_bindir(data_major: str | None = None) -> Path:
    """The server binaries; `data_major` (a data directory's PG_VERSION) must be matched
    exactly, because a cluster only runs under the major version that created it."""
    candidates: list[Path] = []
    configured = _pg_config_bindir()
    if configured is not None:
        candidates.append(configured)
    # Newest major first, so a machine with several servers starts on the most recent one.
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(_major(Path(p))) if _major(Path(p)).isdigit() else 0,
        reverse=True,
    )
    candidates.extend(Path(p) for p in found)
    servers = [bindir for bindir in candidates if _has_server(bindir)]
    if data_major is not None:
        servers = [bindir for bindir in servers if _major(bindir) == data_major]
        if not servers:
            raise MissingToolError(
                f"the stack's database was created by PostgreSQL {data_major}, whose server "
                f"is not installed: install postgresql-{data_major} or remove the data "
                "directory to start afresh"
            )
    if not servers:
        raise MissingToolError(f"no PostgreSQL server binaries (initdb, pg_ctl): {POSTGRES_HINT}")
    return servers[0]


def running_as_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class Account:
    """A system user: the uid and groups the kernel checks its file access against, its home."""

    uid: int
    gid: int
    groups: frozenset[int]
    home: Path


def postgres_account() -> Account:
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        raise MissingToolError(
            "running as root needs a `postgres` system user to own the database "
            f"(initdb refuses root): {POSTGRES_HINT}, which creates it"
        ) from None
    return Account(
        uid=account.pw_uid,
        gid=account.pw_gid,
        groups=frozenset(os.getgrouplist(account.pw_name, account.pw_gid)),
        home=Path(account.pw_dir),
    )


def as_postgres_user(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root, so root hands them to the `postgres` user."""
    if not running_as_root():
        return command
    return [require("runuser", "install util-linux"), "-u", "postgres", "--", *command]
