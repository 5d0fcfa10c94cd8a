"""The disposal service (任务处理 + 处理反馈) as one process: HTTP commands, task lists,
case queries, Kafka consumer.

The disposal clock belongs to dispatch, which sets and moves the deadline; this service
keeps no clocks of its own.
"""

from __future__ import annotations

from fastapi import FastAPI

from cityloop_disposal.commands import router
from cityloop_disposal.reactions import react
from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.app import service_app
from cityloop_shared.service.consumer import subscribe
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.settings import ServiceSettings


def create_app(settings: ServiceSettings) -> FastAPI:
    runtime = ServiceRuntime(Stage.DISPOSAL, settings)
    subscribe(runtime, react)
    return service_app(runtime, [router])
