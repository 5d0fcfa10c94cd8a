"""Pid files, liveness and stopping of the stack's background processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    """The pid on the first line (PostgreSQL's postmaster.pid has more lines after it)."""
    try:
        lines = pid_file.read_text().splitlines()
    except FileNotFoundError:
        return None
    first = lines[0].strip() if lines else ""
    return int(first) if first.isdigit() else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # Someone else's process: alive, though not ours to signal.
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state letter follows the parenthesised command name, which may itself hold spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


def command_line(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_our_process(pid: int, marker: str) -> bool:
    """True when `pid` runs and `marker` is one of its arguments. A pid recycled by the
    system for an unrelated program after a reboot must not count as our server."""
    if not pid_alive(pid):
        return False
    argv = command_line(pid)
    # Without /proc (not Linux) liveness is all there is to go on.
    return argv is None or marker in argv


def find_by_marker(marker: str) -> int | None:
    """A process with `marker` among its arguments, found through /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        argv = command_line(pid)
        if argv and marker in argv and pid_alive(pid):
            return pid
    return None


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The pid of our server. A stale pid file never blocks a fresh start, and a lost one
    does not hide a server that still runs: /proc is asked, and the file rewritten."""
    pid = read_pid(pid_file)
    if pid is not None and is_our_process(pid, marker):
        return pid
    found = find_by_marker(marker)
    if found is None:
        pid_file.unlink(missing_ok=True)
    else:
        pid_file.write_text(f"{found}\n")
    return found


def port_in_use(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _reap(pid: int) -> None:
    # A server started by this very process stays a zombie until its parent collects it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


def terminate(pid: int, timeout: float) -> bool:
    """SIGTERM, then SIGKILL if the process outlives `timeout`. True when it stopped on
    SIGTERM (for Kafka: a controlled shutdown)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if wait_for_exit(pid, timeout):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    wait_for_exit(pid, 10.0)
    return False


def spawn_detached(argv: list[str], log_file: Path, env: dict[str, str]) -> int:
    """Start `argv` in its own session with output appended to `log_file`, so that it
    outlives the launcher (and a test session) and ignores the terminal's Ctrl-C."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    return os.posix_spawn(
        argv[0],
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
