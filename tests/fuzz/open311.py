"""GeoReport v2's fields, which Open311's routes read from the form and the query themselves,
so that the OpenAPI does not describe them: what the fuzz test sends there besides what
schemathesis generates. Half the time a form a client could send (some of them then go all
the way through), half the time any text under any of the fields."""

from __future__ import annotations

from datetime import UTC

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

OPEN311 = "/open311/v2"

_ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
"""Any text a form or query can carry (no lone surrogates, which no encoding takes)."""
_SERVICE_CODES = st.sampled_from(["06001", "01002", "event-06001", "component-01001", "99999"])
_MOMENTS = st.one_of(
    # The ends of the calendar, where a date range's arithmetic runs out of years.
    st.sampled_from(["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"]),
    st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
)


def _coordinate(low: float, high: float) -> SearchStrategy[str]:
    return st.floats(low, high).map(str)


def _either(
    plausible: SearchStrategy[dict[str, str]], names: list[str]
) -> SearchStrategy[dict[str, str]]:
    return st.one_of(plausible, st.dictionaries(st.sampled_from(names), _ANY_TEXT))


SERVICE_REQUEST = _either(
    st.fixed_dictionaries(
        {
            "service_code": _SERVICE_CODES,
            "lat": _coordinate(36.05, 36.25),
            "long": _coordinate(120.35, 120.65),
        },
        optional={
            "description": _ANY_TEXT,
            "address_string": _ANY_TEXT,
            "email": st.emails(),
            "first_name": _ANY_TEXT,
            "phone": _ANY_TEXT,
            "media_url": st.just("https://media.example.org/photo.jpg"),
            "jurisdiction_id": st.just("370212"),
        },
    ),
    ["service_code", "lat", "long", "description", "email", "media_url", "address_id"],
)
FEEDBACK = _either(
    st.fixed_dictionaries(
        {"score": st.integers(-1, 7).map(str), "token": _ANY_TEXT},
        optional={"comment": _ANY_TEXT},
    ),
    ["score", "token", "comment"],
)
REQUESTS_QUERY = _either(
    st.fixed_dictionaries(
        {},
        optional={
            "start_date": _MOMENTS,
            "end_date": _MOMENTS,
            "service_request_id": st.uuids().map(str),
            "service_code": _SERVICE_CODES,
            "status": st.sampled_from(["open", "closed", "open,closed"]),
        },
    ),
    ["start_date", "end_date", "service_request_id", "service_code", "status"],
)

FORMS = {
    f"POST {OPEN311}/requests.{{fmt}}": SERVICE_REQUEST,
    f"POST {OPEN311}/requests/{{service_request_id}}/feedback.{{fmt}}": FEEDBACK,
}
"""The form each Open311 post reads, by the operation's label."""
QUERIES = {f"GET {OPEN311}/requests.{{fmt}}": REQUESTS_QUERY}
"""The query arguments each Open311 read takes beyond those it declares, by label."""
