"""The paths of the source document's four city/district flows (市区两级一体化业务流程)."""

from __future__ import annotations

_DISPOSAL_TO_CLOSE = [
    "disposal.accepted",
    "disposal.completed",
    "feedback.forwarded",
    "check.requested",
    "check.passed",
    "case.closed",
]

PUBLIC_DISTRICT = [
    "case.reported",
    "case.accepted",
    "verification.requested",
    "verification.reported",
    "case.registered",
    "case.dispatched",
    *_DISPOSAL_TO_CLOSE,
]
"""社会公众通过各区热线上报区级问题: acceptance, on-site verification, district registration,
district dispatch, disposal, feedback, check, close."""

PUBLIC_CITY = [
    "case.reported",
    "case.accepted",
    "verification.requested",
    "verification.reported",
    "case.registered",
    "case.forwarded_to_city",
    "forwarding.accepted",
    "case.dispatched",
    *_DISPOSAL_TO_CLOSE,
]
"""社会公众通过各区热线上报市级问题: as above to registration at the district; then forwarded
to the city duty chief (转发市值班长), passed to the city command centre (批转), dispatched to a
city department, handled, fed back to the city command centre, reported to the city
supervision centre, checked by the district's supervisor the city entrusts (委托核查), closed.
From the forwarding on, the events are the city site's."""

SUPERVISOR_DISTRICT = [
    "case.reported",
    "case.accepted",
    "case.registered",
    "case.dispatched",
    *_DISPOSAL_TO_CLOSE,
]
"""监督员上报区级问题 (also video): no on-site verification."""

SUPERVISOR_CITY = [
    "case.reported",
    "case.accepted",
    "case.registered",
    "case.forwarded_to_city",
    "forwarding.accepted",
    "case.dispatched",
    *_DISPOSAL_TO_CLOSE,
]
"""监督员上报市级问题 (also video): no verification, forwarded to the city as above."""

SOURCE_FLOWS = {
    "public_district": PUBLIC_DISTRICT,
    "public_city": PUBLIC_CITY,
    "supervisor_district": SUPERVISOR_DISTRICT,
    "supervisor_city": SUPERVISOR_CITY,
}
