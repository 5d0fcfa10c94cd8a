"""A PostgreSQL server of the machine's own binaries, its data reached from the stack folder."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from cityloop_deploy import process, tools
from cityloop_deploy.paths import PostgresPaths, StackPaths, place_postgres
from cityloop_deploy.service import ServiceStatus, StackError
from cityloop_deploy.settings import StackSettings

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60

_INCLUDE_LINE = "include_if_exists = 'cityloop.conf'"
# A unix socket path longer than this does not fit in sockaddr_un on Linux.
_MAX_SOCKET_PATH = 107


def render_config(settings: StackSettings, pg: PostgresPaths) -> str:
    lines = [
        "# Written by cityloop-stack on every start; edit deploy/src/cityloop_deploy/postgres.py",
        f"listen_addresses = '{settings.host}'",
        f"port = {settings.postgres_port}",
        # Inside the stack folder, so the server needs no write access to /var/run.
        f"unix_socket_directories = '{pg.socket_dir}'",
        # Seven services with connection pools, their relays and the tests share one server.
        "max_connections = 200",
    ]
    return "\n".join(lines) + "\n"


def socket_path(settings: StackSettings, pg: PostgresPaths) -> Path:
    return pg.socket_dir / f".s.PGSQL.{settings.postgres_port}"


def data_major(pg: PostgresPaths) -> str | None:
    version_file = pg.data / "PG_VERSION"
    return version_file.read_text().strip() if version_file.is_file() else None


def _run(command: list[str], what: str, new_session: bool = False) -> str:
    result = subprocess.run(
        tools.as_postgres_user(command),
        capture_output=True,
        text=True,
        check=False,
        # pg_ctl leaves the postmaster behind: in a session of its own, a Ctrl-C meant
        # for the test run or the shell does not reach the database.
        start_new_session=new_session,
    )
    if result.returncode != 0:
        raise StackError(
            f"{what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def _walk(root: Path) -> Iterator[Path]:
    yield root
    for directory, subdirs, files in os.walk(root):
        for name in [*subdirs, *files]:
            yield Path(directory) / name


def locate(paths: StackPaths) -> PostgresPaths:
    """Where this stack's server keeps its files, the same answer for every command."""
    account = tools.postgres_account() if tools.running_as_root() else None
    return place_postgres(paths, account)


def _hand_to_postgres(pg: PostgresPaths) -> None:
    if not tools.running_as_root():
        return
    account = tools.postgres_account()
    for path in _walk(pg.home):
        os.lchown(path, account.uid, account.gid)


def _holds_only_empty_folders(root: Path) -> bool:
    return all(path.is_dir() and not path.is_symlink() for path in _walk(root))


def _link_from_stack(link: Path, home: Path) -> None:
    """Whoever looks for the files in the stack folder finds the way to where they are."""
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        # What an initdb the postgres user could not reach leaves behind goes; data never.
        if not _holds_only_empty_folders(link):
            raise StackError(
                f"{link} holds files the postgres user cannot reach, and this stack's "
                f"PostgreSQL now keeps its files in {home}: move what {link} holds there, "
                "or remove it, and run `cityloop-stack up` again"
            )
        shutil.rmtree(link)
    log.info("the postgres user cannot reach %s: PostgreSQL's files go to %s", link, home)
    home.mkdir(parents=True, exist_ok=True)
    # The socket trusts whoever reaches it; under /root that was root alone, and so it stays.
    home.chmod(0o700)
    (home / "README").write_text(
        f"PostgreSQL's files of the CityLoop local stack in {link.parent}, which the postgres "
        f"user cannot reach; {link} links here.\n"
    )
    link.symlink_to(home, target_is_directory=True)


def _prepare(settings: StackSettings, pg: PostgresPaths, bindir: Path) -> None:
    if len(str(socket_path(settings, pg))) > _MAX_SOCKET_PATH:
        raise StackError(
            f"the socket path {socket_path(settings, pg)} is too long for a unix socket: "
            "point CITYLOOP_STACK_DIR at a shorter folder"
        )
    if pg.link is not None:
        _link_from_stack(pg.link, pg.home)
    pg.socket_dir.mkdir(parents=True, exist_ok=True)
    if data_major(pg) is None:
        if pg.data.exists() and any(pg.data.iterdir()):
            raise StackError(
                f"{pg.data} holds files but no database cluster (an interrupted initdb?): "
                "remove it and run `cityloop-stack up` again"
            )
        pg.data.mkdir(parents=True, exist_ok=True)
        _hand_to_postgres(pg)
        log.info("creating the database cluster in %s", pg.data)
        _run(
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(pg.data),
                "--username",
                SUPERUSER,
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                # The superuser comes in over the socket, which only this machine's owner of
                # the stack folder can reach; TCP clients give a password.
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
            ],
            "initdb",
        )
        with (pg.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\n{_INCLUDE_LINE}\n")
    (pg.data / "cityloop.conf").write_text(render_config(settings, pg))
    _hand_to_postgres(pg)


def running_pid(pg: PostgresPaths) -> int | None:
    """The postmaster's pid when it runs; PostgreSQL itself discards a stale postmaster.pid."""
    pid = process.read_pid(pg.data / "postmaster.pid")
    if pid is not None and process.is_our_process(pid, str(pg.data)):
        return pid
    return None


def _connect_admin(
    settings: StackSettings, pg: PostgresPaths
) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=str(pg.socket_dir),
        port=settings.postgres_port,
        user=SUPERUSER,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


def wait_ready(settings: StackSettings, pg: PostgresPaths, bindir: Path) -> None:
    """pg_isready over TCP, the way the services will connect."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    command = [
        str(bindir / "pg_isready"),
        "--host",
        settings.host,
        "--port",
        str(settings.postgres_port),
        "--timeout",
        "2",
        "--quiet",
    ]
    while time.monotonic() < deadline:
        if subprocess.run(command, check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise StackError(
        f"PostgreSQL did not accept connections on {settings.host}:{settings.postgres_port} "
        f"within {READY_TIMEOUT_S:.0f} s; see {pg.log_file}"
    )


def ensure_database(settings: StackSettings, pg: PostgresPaths) -> None:
    """The application role and its database, created once and left alone afterwards. The
    role may create databases: each site of a two-level run has one of its own."""
    with _connect_admin(settings, pg) as conn:
        role = sql.Identifier(settings.db_user)
        password = sql.Literal(settings.db_password)
        if conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.db_user,)
        ).fetchone():
            conn.execute(
                sql.SQL("ALTER ROLE {} WITH LOGIN CREATEDB PASSWORD {}").format(role, password)
            )
        else:
            conn.execute(
                sql.SQL("CREATE ROLE {} WITH LOGIN CREATEDB PASSWORD {}").format(role, password)
            )
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (settings.database,)
        ).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(settings.database), role
                )
            )


def server_version(settings: StackSettings, pg: PostgresPaths) -> str:
    with _connect_admin(settings, pg) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def start(settings: StackSettings, pg: PostgresPaths) -> str:
    """Start the server unless ours already runs; returns its version once it answers."""
    bindir = tools.postgres_bindir(data_major(pg))
    if running_pid(pg) is None:
        if process.port_in_use(settings.host, settings.postgres_port):
            raise StackError(
                f"port {settings.postgres_port} on {settings.host} is taken by a process that "
                "is not this stack's PostgreSQL: stop it or set CITYLOOP_STACK_POSTGRES_PORT"
            )
        _prepare(settings, pg, bindir)
        began = time.monotonic()
        _run(
            [
                str(bindir / "pg_ctl"),
                "start",
                "--pgdata",
                str(pg.data),
                "--log",
                str(pg.log_file),
                "--wait",
                "--timeout",
                str(int(READY_TIMEOUT_S)),
            ],
            f"starting PostgreSQL (log: {pg.log_file})",
            new_session=True,
        )
        wait_ready(settings, pg, bindir)
        log.info("PostgreSQL accepted connections %.1f s after launch", time.monotonic() - began)
    else:
        if (pg.data / "cityloop.conf").read_text() != render_config(settings, pg):
            raise StackError(
                "this stack's PostgreSQL runs with other settings than asked for (port?): "
                "stop it with `cityloop-stack down` first"
            )
        wait_ready(settings, pg, bindir)
    ensure_database(settings, pg)
    return server_version(settings, pg)


def stop(pg: PostgresPaths) -> bool:
    """A fast shutdown (open sessions are rolled back); True when a server was running."""
    if running_pid(pg) is None:
        return False
    bindir = tools.postgres_bindir(data_major(pg))
    _run(
        [
            str(bindir / "pg_ctl"),
            "stop",
            "--pgdata",
            str(pg.data),
            "--mode",
            "fast",
            "--wait",
            "--timeout",
            str(STOP_TIMEOUT_S),
        ],
        "stopping PostgreSQL",
    )
    return True


def status(settings: StackSettings, pg: PostgresPaths) -> ServiceStatus:
    pid = running_pid(pg)
    version: str | None = None
    detail = ""
    if pid is not None:
        try:
            version = f"PostgreSQL {server_version(settings, pg)}"
        except psycopg.Error as error:
            detail = f"not answering: {error}"
    elif (major := data_major(pg)) is not None:
        version = f"PostgreSQL {major}"
    return ServiceStatus(
        name="postgres",
        running=pid is not None,
        address=f"{settings.host}:{settings.postgres_port}",
        pid=pid,
        version=version,
        detail=detail,
    )
