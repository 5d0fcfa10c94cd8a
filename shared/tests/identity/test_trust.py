"""Trust between sites and with a city's identity provider: keys fetched from where they are
published, rotated keys found, claims of an OpenID Connect provider mapped to actors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from jwt.algorithms import RSAAlgorithm

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.identity.keys import SiteKey, key_set
from cityloop_shared.identity.site import (
    JWKS_PATH,
    install_identity,
    published_keys,
    trusted_issuers,
)
from cityloop_shared.identity.sources import key_source
from cityloop_shared.identity.tokens import TokenIssuer, site_issuer
from cityloop_shared.identity.verifier import TokenRefused, TokenVerifier, Trust
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import AuthSettings, RunMode, ServiceSettings, TrustedIssuer
from cityloop_shared.testing.identity import development_issuer

from .keyserver import serving

pytestmark = pytest.mark.unit

REFERENCE = ReferenceData.demo()
CITY, DISTRICT, OTHER = "370200", "370212", "370202"
CITY_LEADER = Actor(id="leader-1", role=Role.LEADER, site=CITY)


def verifier_of(settings: ServiceSettings) -> TokenVerifier:
    return TokenVerifier(
        trusted_issuers(settings, REFERENCE, published_keys(settings)),
        audience="cityloop",
        reference=REFERENCE,
        max_age_seconds=3600,
    )


async def test_a_district_trusts_its_city_by_the_keys_the_city_publishes(tmp_path: Path) -> None:
    city_key, district_key = SiteKey.generate(CITY), SiteKey.generate(DISTRICT)
    (tmp_path / "district.json").write_text(json.dumps(key_set(district_key)))
    with serving() as published:
        published.by_path[JWKS_PATH] = key_set(city_key)
        settings = ServiceSettings(
            site=DISTRICT,
            auth=AuthSettings(
                jwks_file=tmp_path / "district.json",
                trusted=[
                    TrustedIssuer(
                        issuer=site_issuer(CITY), sites=(CITY,), jwks=published.url + JWKS_PATH
                    )
                ],
            ),
        )
        district = verifier_of(settings)
        city_token = TokenIssuer(city_key, issuer=site_issuer(CITY)).issue(CITY_LEADER)
        assert await district.verify(city_token) == CITY_LEADER
        # The city rotates its key: a token under the new key id makes the district fetch
        # the published set again.
        rotated = SiteKey.generate(CITY)
        published.by_path[JWKS_PATH] = key_set(city_key, rotated)
        await _after_refresh_interval(district)
        rotated_token = TokenIssuer(rotated, issuer=site_issuer(CITY)).issue(CITY_LEADER)
        assert await district.verify(rotated_token) == CITY_LEADER
        assert published.requests == [JWKS_PATH, JWKS_PATH]
        # The city's issuer speaks for the city only, never for a district's people.
        forged_local = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=DISTRICT)
        with pytest.raises(TokenRefused, match="may not speak for site 370212"):
            await district.verify(
                TokenIssuer(city_key, issuer=site_issuer(CITY)).issue(forged_local)
            )


async def _after_refresh_interval(check: TokenVerifier) -> None:
    # The remote source refetches at most every 30 s; the test moves its last fetch back.
    for trust in check._trusts.values():
        if hasattr(trust.keys, "_fetched_at"):
            trust.keys._fetched_at -= 60


async def test_unknown_key_ids_do_not_make_a_request_each(tmp_path: Path) -> None:
    with serving() as published:
        published.by_path[JWKS_PATH] = key_set(SiteKey.generate(CITY))
        source = key_source(published.url + JWKS_PATH, site_issuer(CITY))
        for attempt in range(20):
            assert await source.key(f"made-up-{attempt}") is None
        assert published.requests == [JWKS_PATH]


async def test_an_unreachable_key_set_refuses_the_token_and_recovers() -> None:
    city_key = SiteKey.generate(CITY)
    with serving() as published:
        trust = TrustedIssuer(issuer=site_issuer(CITY), sites=(CITY,), jwks=published.url + "/gone")
        check = TokenVerifier(
            [Trust(trust, key_source(trust.jwks, trust.issuer))],
            audience="cityloop",
            reference=REFERENCE,
            max_age_seconds=3600,
        )
        token = TokenIssuer(city_key, issuer=site_issuer(CITY)).issue(CITY_LEADER)
        with pytest.raises(TokenRefused, match="has no key"):
            await check.verify(token)
        published.by_path["/gone"] = key_set(city_key)
        await _after_refresh_interval(check)
        assert await check.verify(token) == CITY_LEADER


async def test_an_openid_connect_provider_s_claims_are_mapped_to_actors() -> None:
    rsa = generate_private_key(public_exponent=65537, key_size=2048)
    public = {**json.loads(RSAAlgorithm.to_jwk(rsa.public_key())), "kid": "idp-1", "alg": "RS256"}
    with serving() as idp:
        idp.by_path["/.well-known/openid-configuration"] = {
            "issuer": idp.url,
            "jwks_uri": idp.url + "/certs",
        }
        idp.by_path["/certs"] = {"keys": [public]}
        trust = TrustedIssuer(
            issuer=idp.url,
            sites=(DISTRICT,),
            audience="cityloop-district-370212",
            subject_claim="preferred_username",
            role_claim="cityloop_group",
            site_claim="division",
            department_claim="org_unit",
            roles={"urban-staff": "department", "centre-chief": "duty_chief"},
        )
        settings = ServiceSettings(
            site=DISTRICT, mode=RunMode.DEVELOPMENT, auth=AuthSettings(trusted=[trust])
        )
        check = verifier_of(settings)
        now = int(time.time())

        def idp_token(**claims: object) -> str:
            base = {
                "iss": idp.url,
                "aud": "cityloop-district-370212",
                "sub": "f3c1-uuid",
                "preferred_username": "wang.li",
                "iat": now,
                "exp": now + 600,
                "division": DISTRICT,
            }
            return jwt.encode({**base, **claims}, rsa, algorithm="RS256", headers={"kid": "idp-1"})

        staff = await check.verify(idp_token(cityloop_group="urban-staff", org_unit="370212-urban"))
        assert staff == Actor(
            id="wang.li", role=Role.DEPARTMENT, site=DISTRICT, department_id="370212-urban"
        )
        chief = await check.verify(idp_token(cityloop_group="centre-chief"))
        assert (chief.role, chief.department_id) == (Role.DUTY_CHIEF, None)
        with pytest.raises(TokenRefused, match="may not speak for site 370202"):
            await check.verify(idp_token(cityloop_group="centre-chief", division=OTHER))
        with pytest.raises(TokenRefused, match="role"):
            await check.verify(idp_token(cityloop_group="visitors"))
        with pytest.raises(TokenRefused, match="not valid"):
            await check.verify(idp_token(cityloop_group="centre-chief", aud="another-app"))
        # The site's own development key still signs its own people's tokens beside the IdP.
        local = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=DISTRICT)
        assert await check.verify(development_issuer(DISTRICT).issue(local)) == local


async def test_in_development_each_level_trusts_the_other_and_no_other_district() -> None:
    district = verifier_of(ServiceSettings(site=DISTRICT, mode=RunMode.DEVELOPMENT))
    assert await district.verify(development_issuer(CITY).issue(CITY_LEADER)) == CITY_LEADER
    neighbour = Actor(id="leader-1", role=Role.LEADER, site=OTHER)
    with pytest.raises(TokenRefused, match="not trusted"):
        await district.verify(development_issuer(OTHER).issue(neighbour))
    # The city trusts its districts: their supervisors report checks it entrusts.
    city = verifier_of(ServiceSettings(site=CITY, mode=RunMode.DEVELOPMENT))
    supervisor = Actor(id="sv-370212-01", role=Role.FIELD_SUPERVISOR, site=DISTRICT)
    assert await city.verify(development_issuer(DISTRICT).issue(supervisor)) == supervisor
    elsewhere = Actor(id="leader-1", role=Role.LEADER, site="370102")
    with pytest.raises(TokenRefused, match="not trusted"):
        await city.verify(development_issuer("370102").issue(elsewhere))


async def test_a_site_publishes_its_public_keys_and_never_the_private_half(tmp_path: Path) -> None:
    key = SiteKey.generate(DISTRICT)
    (tmp_path / "keys.json").write_text(json.dumps(key_set(key)))
    app = FastAPI()
    settings = ServiceSettings(site=DISTRICT, auth=AuthSettings(jwks_file=tmp_path / "keys.json"))
    install_identity(app, settings, REFERENCE)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://site") as client:
        published = (await client.get(JWKS_PATH)).json()
    assert [k["kid"] for k in published["keys"]] == [key.kid]
    assert all("d" not in k for k in published["keys"])
    assert published == key_set(key)
