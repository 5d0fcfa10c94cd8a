"""What the launcher says about each server it manages."""

from __future__ import annotations

from dataclasses import dataclass


class StackError(RuntimeError):
    """A start, stop or probe of the local stack failed; the message says what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    address: str
    pid: int | None = None
    version: str | None = None
    detail: str = ""

    def line(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        version = f" {self.version}" if self.version else ""
        detail = f"; {self.detail}" if self.detail else ""
        return f"{self.name}{version}: {state} at {self.address}{detail}"
