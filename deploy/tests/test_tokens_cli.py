"""`cityloop-token`: a key made by an operator signs tokens its site's services accept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cityloop_deploy.tokens import main
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.identity.site import published_keys, trusted_issuers
from cityloop_shared.identity.verifier import TokenVerifier
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import AuthSettings, ServiceSettings

pytestmark = pytest.mark.unit


async def test_keygen_then_issue_gives_a_token_the_site_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keygen", "--site", "370212", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "370212.jwk").stat().st_mode & 0o777 == 0o600
    public = json.loads((tmp_path / "370212.jwks.json").read_text())
    assert all("d" not in key for key in public["keys"])
    capsys.readouterr()
    key = str(tmp_path / "370212.jwk")
    issued = ["issue", "--key", key, "--site", "370212", "--role", "department", "--id", "s-1"]
    assert main([*issued, "--department", "370212-sanitation"]) == 0
    token = capsys.readouterr().out.strip()
    settings = ServiceSettings(
        site="370212", auth=AuthSettings(jwks_file=tmp_path / "370212.jwks.json")
    )
    check = TokenVerifier(
        trusted_issuers(settings, ReferenceData.demo(), published_keys(settings)),
        audience="cityloop",
        reference=ReferenceData.demo(),
        max_age_seconds=12 * 3600,
    )
    assert await check.verify(token) == Actor(
        id="s-1", role=Role.DEPARTMENT, site="370212", department_id="370212-sanitation"
    )


def test_a_person_the_reference_data_does_not_know_gets_no_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["keygen", "--site", "370212", "--out", str(tmp_path)])
    key = str(tmp_path / "370212.jwk")
    issued = ["issue", "--key", key, "--site", "370212", "--role", "field_supervisor"]
    assert main([*issued, "--id", "sv-nobody"]) == 2
    assert "sv-nobody is not a field supervisor of site 370212" in capsys.readouterr().err
