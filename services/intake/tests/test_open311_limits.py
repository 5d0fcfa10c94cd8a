"""How often the public may post through Open311, over real Kafka and PostgreSQL: within the
site's limit per client address, whatever key it sends, and per API key, from whatever
address; a post over either is answered 429 with Retry-After, and opens no case."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from cityloop_deploy.site_fixtures import topic_records
from cityloop_shared.contract import decode
from cityloop_shared.runtime.service import ServiceRuntime

pytestmark = pytest.mark.integration

Served = tuple[httpx.AsyncClient, ServiceRuntime]
FromAddress = Callable[[str], httpx.AsyncClient]

V2 = "/open311/v2"
FORM = {"service_code": "06001", "lat": "36.13", "long": "120.45", "description": "路边占道经营"}


async def post(client: httpx.AsyncClient, key: str, fmt: str = "json") -> httpx.Response:
    return await client.post(f"{V2}/requests.{fmt}", data={**FORM, "api_key": key})


def refused_as_too_many(answer: httpx.Response, naming: str) -> None:
    """A 429 in GeoReport's error list that names the limit, and says when to come back."""
    assert answer.status_code == 429, answer.text
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    if answer.headers["content-type"].startswith("application/json"):
        [error] = answer.json()
        assert (error["code"], naming in error["description"]) == (429, True), error
    else:
        assert "<code>429</code>" in answer.text
        assert naming in answer.text


async def opened(runtime: ServiceRuntime, client: httpx.AsyncClient, count: int) -> set[str]:
    """The cases the posts opened, once ``count`` are on the topic: as Open311 lists them,
    which must be the ones on the topic."""
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, count)
    on_topic = {str(decode(record.value).case_id) for record in records}
    listed = {r["service_request_id"] for r in (await client.get(f"{V2}/requests.json")).json()}
    assert listed == on_topic
    return on_topic


@pytest.mark.parametrize(
    "open311_environment",
    [
        {
            "CITYLOOP_OPEN311_CLIENT_RATE_LIMIT": "2/minute",
            "CITYLOOP_OPEN311_KEY_RATE_LIMIT": "100/minute",
        }
    ],
)
async def test_a_client_address_posts_within_its_limit_whatever_key_it_sends(
    intake: Served, from_address: FromAddress, open311_key: str, other_open311_key: str
) -> None:
    client, runtime = intake
    first = [await post(client, open311_key), await post(client, other_open311_key)]
    assert [answer.status_code for answer in first] == [201, 201]
    refused_as_too_many(await post(client, open311_key), "client address")
    refused_as_too_many(await post(client, other_open311_key, "xml"), "client address")
    # A key that is no key is refused as too many too: keys are not guessed at speed.
    refused_as_too_many(await post(client, "guess"), "client address")
    [request] = first[0].json()
    feedback = await client.post(
        f"{V2}/requests/{request['service_request_id']}/feedback.json",
        data={"api_key": open311_key, "token": request["token"], "score": "5"},
    )
    refused_as_too_many(feedback, "client address")

    # Another address posts with the very same key.
    elsewhere = await post(from_address("203.0.113.7"), open311_key)
    assert elsewhere.status_code == 201, elsewhere.text

    made = {answer.json()[0]["service_request_id"] for answer in [*first, elsewhere]}
    assert await opened(runtime, client, 3) == made


@pytest.mark.parametrize(
    "open311_environment",
    [
        {
            "CITYLOOP_OPEN311_CLIENT_RATE_LIMIT": "100/minute",
            "CITYLOOP_OPEN311_KEY_RATE_LIMIT": "2/minute",
        }
    ],
)
async def test_an_api_key_posts_within_its_limit_from_whatever_address(
    intake: Served, from_address: FromAddress, open311_key: str, other_open311_key: str
) -> None:
    client, runtime = intake
    here, there = from_address("198.51.100.20"), from_address("203.0.113.7")
    first = [await post(here, open311_key), await post(there, open311_key)]
    assert [answer.status_code for answer in first] == [201, 201]
    refused_as_too_many(await post(here, open311_key), "api_key")
    refused_as_too_many(await post(client, open311_key, "xml"), "api_key")
    # The other key is its own: the same addresses post with it.
    others = [await post(here, other_open311_key), await post(there, other_open311_key)]
    assert [answer.status_code for answer in others] == [201, 201]
    refused_as_too_many(await post(there, other_open311_key), "api_key")

    made = {answer.json()[0]["service_request_id"] for answer in [*first, *others]}
    assert await opened(runtime, client, 4) == made
