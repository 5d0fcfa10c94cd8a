"""The field supervisor's page as the console serves it: the app shell, its manifest and its
service worker (the page's offline behaviour is shown in tests/e2e/browser)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityloop_console.app import create_app
from cityloop_console.sessions import COOKIE, SiteKeys, sign_in
from cityloop_console.settings import ConsoleSettings
from cityloop_console.supervisor import assets, strings
from cityloop_shared.contract.actors import Role
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import RunMode

pytestmark = pytest.mark.unit

SITE = "370212"
SUPERVISOR = "sv-370212-03"
"""周涛, supervisor of three grids of 崂山区 in the demo roster."""


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(ConsoleSettings(mode=RunMode.DEVELOPMENT, directory={}))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A browser of its own for each test: no cookie carries over."""
    with TestClient(app, follow_redirects=False) as client:
        yield client


def sign_in_as(
    client: TestClient, role: Role = Role.FIELD_SUPERVISOR, person: str = SUPERVISOR
) -> TestClient:
    client.cookies.set(COOKIE, sign_in(SiteKeys(None), SITE, role, person, hours=1).token)
    return client


class _Elements(HTMLParser):
    """The ids, and the JSON of the script blocks, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.json: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "script" and found.get("type") == "application/json":
            self._open = found.get("id")

    def handle_data(self, data: str) -> None:
        if self._open:
            self.json[self._open] = data

    def handle_endtag(self, tag: str) -> None:
        self._open = None


def parsed(html: str) -> _Elements:
    elements = _Elements()
    elements.feed(html)
    return elements


def test_the_shell_is_served_to_a_signed_in_supervisor(client: TestClient) -> None:
    response = sign_in_as(client).get("/supervisor/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = parsed(response.text)
    assert {"network", "queued", "verifications", "checks", "report", "queue", "sent"} <= page.ids
    assert '<link rel="manifest" href="/supervisor/manifest.webmanifest">' in response.text
    session = json.loads(page.json["session"])
    assert session["id"] == SUPERVISOR
    assert session["name"] == "周涛"
    assert session["site"] == SITE
    assert session["city"] == "370200"
    assert [g["code"] for g in session["grids"]] == [
        "370212003001001",
        "370212003002001",
        "370212003003001",
    ]
    assert json.loads(page.json["strings"])["verifications"] == "核实任务"


def test_the_shell_lists_every_category_of_the_dictionary(client: TestClient) -> None:
    response = sign_in_as(client).get("/supervisor/")

    offered = set(re.findall(r'<option value="(\d{4,5})" data-kind=', response.text))
    assert offered == {c.code for c in ReferenceData.demo().categories}


def test_the_shell_speaks_english_when_asked(client: TestClient) -> None:
    response = sign_in_as(client).get("/supervisor/?lang=en")

    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert json.loads(parsed(response.text).json["strings"])["checks"] == "Checks (核查)"


def test_the_page_sends_one_who_is_not_signed_in_to_sign_in(client: TestClient) -> None:
    response = client.get("/supervisor/")

    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_the_page_is_refused_to_another_role(client: TestClient) -> None:
    response = sign_in_as(client, Role.DISPATCHER, "dispatcher-1").get("/supervisor/")

    assert response.status_code == 403


def test_me_names_the_signed_in_supervisor(client: TestClient) -> None:
    response = sign_in_as(client).get("/supervisor/me")

    assert response.status_code == 200
    assert response.json()["id"] == SUPERVISOR
    assert response.json()["site"] == SITE


def test_the_manifest_is_valid_json_with_name_start_url_and_icons(client: TestClient) -> None:
    response = client.get("/supervisor/manifest.webmanifest")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["name"] == "城管通 · 信息监督员"
    assert manifest["short_name"]
    assert manifest["start_url"] == "/supervisor/"
    assert manifest["start_url"].startswith(manifest["scope"])
    assert manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        served = client.get(icon["src"])
        assert served.status_code == 200, icon["src"]
        assert served.headers["content-type"].startswith(icon["type"])


def test_the_service_worker_is_served_as_javascript_under_the_pages_scope(
    client: TestClient,
) -> None:
    response = client.get("/supervisor/sw.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert 'self.addEventListener("fetch"' in response.text
    kept = re.search(r"const ASSETS = (\[.*?\]);", response.text)
    assert kept is not None
    assert json.loads(kept.group(1)) == assets()


def test_everything_the_service_worker_keeps_is_served(client: TestClient) -> None:
    for url in assets():
        assert client.get(url).status_code == 200, url


def test_the_pages_words_are_in_both_languages() -> None:
    words = strings()

    assert set(words) == {"zh", "en"}
    assert words["zh"].keys() == words["en"].keys()
    assert all(text.strip() for language in words.values() for text in language.values())
