"""No silent defaults: outside development mode a service will not start with the built-in
signing key, Open311 key or database password, and says which setting to set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cityloop_shared.identity.keys import SiteKey, key_set
from cityloop_shared.runtime.built_in import BuiltInSettings, built_in_settings, refuse_built_in
from cityloop_shared.settings import AuthSettings, DatabaseSettings, RunMode, ServiceSettings

pytestmark = pytest.mark.unit

OWN_PASSWORD = "postgresql+psycopg://casefile:k7Qx2mZ@db.internal:5432/cityloop"


def keys_file(tmp_path: Path, key: SiteKey) -> Path:
    path = tmp_path / "site.jwks.json"
    path.write_text(json.dumps(key_set(key)))
    return path


def test_the_built_in_key_and_password_are_each_named(tmp_path: Path) -> None:
    problems = built_in_settings(ServiceSettings())
    assert len(problems) == 2
    assert problems[0].startswith("CITYLOOP_AUTH_JWKS_FILE is not set")
    assert problems[1].startswith("CITYLOOP_DATABASE_URL has a built-in or empty password")
    with pytest.raises(BuiltInSettings, match="CITYLOOP_MODE=development"):
        refuse_built_in(ServiceSettings())


def test_a_published_development_key_is_refused(tmp_path: Path) -> None:
    settings = ServiceSettings(
        auth=AuthSettings(jwks_file=keys_file(tmp_path, SiteKey.development("370212"))),
        database=DatabaseSettings(url=OWN_PASSWORD),
    )
    assert built_in_settings(settings) == [
        f"CITYLOOP_AUTH_JWKS_FILE ({tmp_path / 'site.jwks.json'}) holds a built-in development key"
    ]


def test_a_development_key_under_another_key_id_is_still_refused(tmp_path: Path) -> None:
    disguised = SiteKey(kid="370212-2026", private=SiteKey.development("370212").private)
    settings = ServiceSettings(
        auth=AuthSettings(jwks_file=keys_file(tmp_path, disguised)),
        database=DatabaseSettings(url=OWN_PASSWORD),
    )
    assert len(built_in_settings(settings)) == 1


def test_own_keys_and_password_start(tmp_path: Path) -> None:
    settings = ServiceSettings(
        auth=AuthSettings(jwks_file=keys_file(tmp_path, SiteKey.generate("370212"))),
        database=DatabaseSettings(url=OWN_PASSWORD),
    )
    assert built_in_settings(settings) == []
    refuse_built_in(settings)
    sqlite = ServiceSettings(
        auth=settings.auth, database=DatabaseSettings(url="sqlite+aiosqlite:///cityloop.db")
    )
    assert built_in_settings(sqlite) == []


def test_development_mode_is_chosen_explicitly_and_then_allows_them() -> None:
    refuse_built_in(ServiceSettings(mode=RunMode.DEVELOPMENT), "anything else")
    with pytest.raises(BuiltInSettings) as refusal:
        refuse_built_in(ServiceSettings(), "CITYLOOP_OPEN311_API_KEYS is built in")
    assert refusal.value.problems[-1] == "CITYLOOP_OPEN311_API_KEYS is built in"


@pytest.mark.parametrize(
    ("program", "named"),
    [
        ("cityloop_casefile", ["CITYLOOP_AUTH_JWKS_FILE", "CITYLOOP_DATABASE_URL"]),
        ("cityloop_intake", ["CITYLOOP_AUTH_JWKS_FILE", "CITYLOOP_OPEN311_API_KEYS"]),
        ("cityloop_evaluation", ["CITYLOOP_AUTH_JWKS_FILE"]),
        ("cityloop_sync", ["CITYLOOP_AUTH_JWKS_FILE"]),
    ],
)
def test_a_service_process_refuses_to_start_and_names_the_settings(
    program: str, named: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYLOOP_")}
    env["CITYLOOP_SITE"] = "370200" if program == "cityloop_sync" else "370212"
    # Nothing listens there: the refusal must come before any connection is tried.
    env["CITYLOOP_KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:9"
    ran = subprocess.run(
        [sys.executable, "-m", program], env=env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 1
    assert f"cityloop-{program.removeprefix('cityloop_')}: refusing to start" in ran.stderr
    for setting in named:
        assert setting in ran.stderr
