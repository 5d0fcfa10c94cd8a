"""The rule the fuzz test holds every 4xx to: it names its field or its reason."""

from __future__ import annotations

import json

import pytest

from .reasons import unnamed_reason

pytestmark = pytest.mark.unit


def body(answer: object) -> bytes:
    return json.dumps(answer).encode()


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (422, {"detail": [{"loc": ["query", "offset"], "msg": "must be at most 2**63-1"}]}),
        (422, {"detail": [{"loc": ["body", ""], "msg": "Extra inputs are not permitted"}]}),
        (422, {"detail": [{"loc": ["body", "evidence", 0], "msg": "Field required"}]}),
        (403, {"detail": "role leader may not do this; allowed: department"}),
        (409, {"detail": "case.closed is not allowed from dispatched", "status": "dispatched"}),
        (429, {"detail": {"reason": "rate_limited", "retry_after": 3}}),
    ],
)
def test_a_refusal_naming_its_field_or_reason_passes(status: int, answer: object) -> None:
    assert unnamed_reason(status, "/cases", body(answer)) is None


@pytest.mark.parametrize(
    ("status", "answer", "problem"),
    [
        (422, {"detail": "offset too large"}, "not a list of refused fields"),
        (422, {"detail": []}, "not a list of refused fields"),
        (422, {"detail": [{"loc": [], "msg": "invalid"}]}, "names no field"),
        (422, {"detail": [{"loc": ["query", "limit"], "msg": " "}]}, "has no msg"),
        (404, {"detail": ""}, "names no reason"),
        (400, {"error": "bad request"}, "names no reason"),
        (429, {"detail": {"retry_after": 3}}, "names no reason"),
    ],
)
def test_a_refusal_naming_nothing_is_caught(status: int, answer: object, problem: str) -> None:
    found = unnamed_reason(status, "/cases", body(answer))
    assert found is not None
    assert problem in found


def test_a_refusal_that_is_not_json_is_caught() -> None:
    found = unnamed_reason(400, "/tasks", b"Bad Request")
    assert found is not None
    assert "not JSON" in found


def test_only_client_errors_are_held_to_the_rule() -> None:
    assert unnamed_reason(200, "/tasks", b"[]") is None
    assert unnamed_reason(503, "/tasks", b"") is None


def test_open311_refusals_are_georeport_error_lists_in_either_format() -> None:
    json_errors = body([{"code": 400, "description": "lat, long: both are required"}])
    xml_errors = (
        b"<?xml version='1.0' encoding='utf-8'?>\n<errors><error><code>403</code>"
        b"<description>invalid or missing api_key</description></error></errors>"
    )
    assert unnamed_reason(400, "/open311/v2/requests.json", json_errors) is None
    assert unnamed_reason(403, "/open311/v2/requests.xml", xml_errors) is None

    blank = body([{"code": 404, "description": ""}])
    assert "without a description" in (unnamed_reason(404, "/open311/v2/x.json", blank) or "")
    neither = body(["not found"])
    assert "not a GeoReport error list" in (
        unnamed_reason(404, "/open311/v2/x.json", neither) or ""
    )
    # A path under the prefix that no route matches is answered as the rest of the app.
    unrouted = body({"detail": "Not Found"})
    assert unnamed_reason(404, "/open311/v2/services/a/b.json", unrouted) is None
