"""The demo sign-in: the people of a site and role, and the token the console signs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jwt
from fastapi.testclient import TestClient

from cityloop_console.people import people
from cityloop_console.sessions import COOKIE
from cityloop_console.settings import ConsoleSettings
from cityloop_shared.contract.actors import Role
from cityloop_shared.identity.keys import SiteKey
from cityloop_shared.reference.bundle import ReferenceData


def claims(token: str, key: SiteKey) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(
        token, key.private.public_key(), algorithms=["EdDSA"], audience="cityloop"
    )
    return decoded


def test_the_form_offers_sites_roles_and_their_people(client: TestClient) -> None:
    page = client.get("/login")

    assert page.status_code == 200
    for element in ('id="site" name="site"', 'id="role" name="role"', 'id="person"', "sign-in"):
        assert element in page.text
    for role in ("field_supervisor", "acceptance_operator", "department", "leader"):
        assert f'value="{role}"' in page.text
    assert "sv-370212-03" in page.text
    assert "370200-water" in page.text


def test_the_people_of_a_site_come_from_its_reference_data() -> None:
    reference = ReferenceData.demo()

    supervisors = {p.id for p in people(reference, "370212", Role.FIELD_SUPERVISOR)}
    departments = {p.id for p in people(reference, "370212", Role.DEPARTMENT)}
    upper = {p.id for p in people(reference, "370200", Role.UPPER_DEPARTMENT)}

    assert supervisors == {"sv-370212-01", "sv-370212-02", "sv-370212-03"}
    assert "370212-sanitation" in departments
    assert all(d.startswith("370212-") for d in departments)
    assert upper == {"370200-urban"}
    assert [p.id for p in people(reference, "370212", Role.DUTY_CHIEF)] == ["chief-1"]
    assert people(reference, "370200", Role.FIELD_SUPERVISOR) == []


def test_signing_in_sets_an_http_only_cookie_with_the_sites_token_and_goes_home(
    client: TestClient,
) -> None:
    answer = client.post(
        "/login",
        data={"site": "370212", "role": "department", "person": "370212-sanitation"},
        follow_redirects=False,
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/department"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "httponly" in cookie.lower()
    token = client.cookies[COOKIE]
    found = claims(token, SiteKey.development("370212"))
    assert found["iss"] == "cityloop:370212"
    assert found["sub"] == "370212-sanitation"
    assert found["role"] == "department"
    assert found["site"] == "370212"
    assert found["department"] == "370212-sanitation"


def test_a_centre_role_names_no_department_and_a_supervisor_goes_to_the_phone_page(
    client: TestClient,
) -> None:
    chief = client.post(
        "/login",
        data={"site": "370200", "role": "duty_chief", "person": "chief-1"},
        follow_redirects=False,
    )
    assert chief.headers["location"] == "/chief"
    found = claims(client.cookies[COOKIE], SiteKey.development("370200"))
    assert "department" not in found
    assert found["role"] == "duty_chief"

    supervisor = client.post(
        "/login",
        data={"site": "370212", "role": "field_supervisor", "person": "sv-370212-03"},
        follow_redirects=False,
    )
    assert supervisor.headers["location"] == "/supervisor/"


def test_tokens_are_signed_with_the_sites_key_from_the_key_directory(
    tmp_path: Path, console_for: Callable[[ConsoleSettings], TestClient]
) -> None:
    key = SiteKey.generate("370212")
    key.save(tmp_path / "keys" / "370212.jwk")
    settings = ConsoleSettings(
        directory={"370212": {}}, key_dir=tmp_path / "keys", mode="development"
    )
    with console_for(settings) as client:
        client.post("/login", data={"site": "370212", "role": "leader", "person": "leader-1"})
        token = client.cookies[COOKIE]

    assert jwt.get_unverified_header(token)["kid"] == key.kid
    assert claims(token, key)["sub"] == "leader-1"


def test_a_person_not_of_that_site_and_role_is_not_signed_in(client: TestClient) -> None:
    answer = client.post(
        "/login",
        data={"site": "370212", "role": "field_supervisor", "person": "sv-370202-01"},
        follow_redirects=False,
    )

    assert answer.status_code == 422
    assert 'id="sign-in-refused"' in answer.text
    assert COOKIE not in client.cookies


def test_a_forged_cookie_signs_no_one_in(client: TestClient) -> None:
    forged = jwt.encode(
        {"sub": "chief-1", "role": "duty_chief", "site": "370212", "aud": "cityloop"},
        SiteKey.generate("370212").private,
        algorithm="EdDSA",
    )
    client.cookies.set(COOKIE, forged)

    answer = client.get("/chief", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"


def test_signing_out_forgets_the_session(client: TestClient) -> None:
    client.post("/login", data={"site": "370212", "role": "leader", "person": "leader-1"})

    client.post("/logout")

    assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/login"
