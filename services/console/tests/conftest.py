"""The console against services played by a stand-in transport: what it sends them, and
what it makes of their answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cityloop_console.app import create_app
from cityloop_console.settings import STAGES, ConsoleSettings
from cityloop_shared.settings import RunMode

SITES = ("370212", "370202", "370200")

Answerer = Callable[[httpx.Request], httpx.Response]


@dataclass
class StandIn:
    """Every site's services as one transport: records each request, answers with
    ``answer`` (an empty list of cases by default)."""

    sent: list[httpx.Request] = field(default_factory=list)
    answer: Answerer | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if self.answer is not None:
            return self.answer(request)
        return httpx.Response(200, json={"total": 0, "cases": []})


def directory() -> dict[str, dict[str, str]]:
    return {
        site: {stage: f"http://{stage}.{site}.test" for stage in STAGES if stage != "sync"}
        | ({"sync": f"http://sync.{site}.test"} if site.endswith("00") else {})
        for site in SITES
    }


@pytest.fixture
def settings(tmp_path: Path) -> ConsoleSettings:
    return ConsoleSettings(
        directory=directory(), media_dir=tmp_path / "media", mode=RunMode.DEVELOPMENT
    )


@pytest.fixture
def services() -> StandIn:
    return StandIn()


@pytest.fixture
def client(settings: ConsoleSettings, services: StandIn) -> Iterator[TestClient]:
    app = create_app(settings, transport=httpx.MockTransport(services.handle))
    with TestClient(app, base_url="http://console.test") as client:
        yield client


SignIn = Callable[[str, str, str], TestClient]


@pytest.fixture
def sign_in(client: TestClient) -> SignIn:
    """Signs the client in through the form, as ``person`` in ``role`` at ``site``."""

    def signed_in(site: str, role: str, person: str) -> TestClient:
        answer = client.post(
            "/login", data={"site": site, "role": role, "person": person}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        return client

    return signed_in


@pytest.fixture
def console_for(services: StandIn) -> Callable[[ConsoleSettings], TestClient]:
    """A console of other settings, in front of the same stand-in services."""

    def make(settings: ConsoleSettings) -> TestClient:
        return TestClient(create_app(settings, transport=httpx.MockTransport(services.handle)))

    return make
