"""Actor tokens: a site's own signed JWTs, what makes one refused, and the cache of checked ones."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import pytest

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.identity.keys import SiteKey, key_set
from cityloop_shared.identity.sources import StaticKeys
from cityloop_shared.identity.tokens import TokenIssuer, site_issuer
from cityloop_shared.identity.verifier import TokenRefused, TokenVerifier, Trust
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import TrustedIssuer

pytestmark = pytest.mark.unit

SITE = "370212"
KEY = SiteKey.generate(SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)
REFERENCE = ReferenceData.demo()


def verifier(
    *keys: SiteKey, sites: tuple[str, ...] = (SITE,), max_age: int = 3600
) -> TokenVerifier:
    own = TrustedIssuer(issuer=site_issuer(SITE), sites=sites)
    return TokenVerifier(
        [Trust(own, StaticKeys(key_set(*(keys or (KEY,)))))],
        audience="cityloop",
        reference=REFERENCE,
        max_age_seconds=max_age,
        leeway_seconds=0,
    )


def issue(actor: Actor, key: SiteKey = KEY, **claims: Any) -> str:
    base = jwt.decode(
        TokenIssuer(key, issuer=site_issuer(SITE)).issue(actor),
        options={"verify_signature": False},
    )
    return jwt.encode({**base, **claims}, key.private, algorithm="EdDSA", headers={"kid": key.kid})


async def refused(token: str, check: TokenVerifier | None = None) -> str:
    with pytest.raises(TokenRefused) as refusal:
        await (check or verifier()).verify(token)
    return str(refusal.value)


async def test_a_token_names_its_actor() -> None:
    department = Actor(
        id="staff-7", role=Role.DEPARTMENT, site=SITE, department_id="370212-sanitation"
    )
    assert await verifier().verify(issue(CHIEF)) == CHIEF
    assert await verifier().verify(issue(department)) == department


async def test_a_token_signed_with_another_key_under_the_same_key_id_is_refused() -> None:
    impostor = SiteKey(kid=KEY.kid, private=SiteKey.generate(SITE).private)
    assert "not valid" in await refused(issue(CHIEF, impostor))


async def test_a_token_naming_an_unknown_key_is_refused() -> None:
    assert "has no key" in await refused(issue(CHIEF, SiteKey.generate(SITE)))


async def test_an_expired_token_is_refused() -> None:
    past = int(time.time()) - 100
    assert "expired" in await refused(issue(CHIEF, iat=past - 60, exp=past))


async def test_a_token_living_longer_than_allowed_is_refused() -> None:
    now = int(time.time())
    assert "longer" in await refused(issue(CHIEF, iat=now, exp=now + 7200), verifier(max_age=3600))


async def test_another_audience_or_a_missing_claim_is_refused() -> None:
    assert "not valid" in await refused(issue(CHIEF, aud="another-system"))
    token = issue(CHIEF)
    claims = jwt.decode(token, options={"verify_signature": False})
    del claims["exp"]
    unexpiring = jwt.encode(claims, KEY.private, algorithm="EdDSA", headers={"kid": KEY.kid})
    assert "exp" in await refused(unexpiring)


async def test_an_untrusted_issuer_is_refused() -> None:
    stranger = jwt.decode(issue(CHIEF), options={"verify_signature": False})
    token = jwt.encode(
        {**stranger, "iss": "cityloop:370202"},
        KEY.private,
        algorithm="EdDSA",
        headers={"kid": KEY.kid},
    )
    assert "'cityloop:370202' is not trusted" in await refused(token)


async def test_an_issuer_may_speak_only_for_its_sites() -> None:
    city_chief = Actor(id="chief-1", role=Role.DUTY_CHIEF, site="370200")
    assert "may not speak for site 370200" in await refused(issue(city_chief))


async def test_shared_secret_and_unsigned_tokens_are_never_accepted() -> None:
    claims = jwt.decode(issue(CHIEF), options={"verify_signature": False})
    public_pem = KEY.public_jwk()["x"].encode()
    # A verifier that let the token choose its algorithm would check this HMAC with the
    # public key as its secret, which anyone can read from the published key set.
    confused = jwt.encode(claims, public_pem, algorithm="HS256", headers={"kid": KEY.kid})
    assert "not valid" in await refused(confused)
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": KEY.kid})
    assert "not valid" in await refused(unsigned)


@pytest.mark.parametrize(
    ("actor", "reason"),
    [
        (Actor(id="sv-9", role=Role.FIELD_SUPERVISOR, site=SITE), "not a field supervisor"),
        (
            Actor(id="sv-370202-01", role=Role.FIELD_SUPERVISOR, site=SITE),
            "not a field supervisor of site 370212",
        ),
        (Actor(id="staff-1", role=Role.DEPARTMENT, site=SITE), "must name its department"),
        (
            Actor(id="staff-1", role=Role.DEPARTMENT, site=SITE, department_id="no-such-office"),
            "not a department",
        ),
        (
            Actor(
                id="staff-1", role=Role.UPPER_DEPARTMENT, site=SITE, department_id="370202-urban"
            ),
            "not a department of site 370212",
        ),
        (
            Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE, department_id="370212-urban"),
            "acts for no department",
        ),
        (Actor(id="system:relay", role=Role.SYSTEM, site=SITE), "system role"),
    ],
)
async def test_actors_are_checked_against_the_reference_data(actor: Actor, reason: str) -> None:
    assert reason in await refused(issue(actor))


async def test_claims_that_name_no_actor_are_refused() -> None:
    assert "(role)" in await refused(issue(CHIEF, role="mayor"))


async def test_a_known_token_is_not_checked_again_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = verifier()
    now = int(time.time())
    token = issue(CHIEF, iat=now, exp=now + 2)
    assert await check.verify(token) == CHIEF
    decoded: list[str] = []
    real_decode = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        decoded.append("again")
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    assert await check.verify(token) == CHIEF
    assert decoded == []
    await asyncio.sleep(now + 2.1 - time.time())
    assert "expired" in await refused(token, check)
    assert decoded
