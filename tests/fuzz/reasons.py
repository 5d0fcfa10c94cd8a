"""What a refusal must say: every 4xx names the field it refuses or the reason it refuses.

A 422 is FastAPI's shape: ``detail`` a list of items, each with a ``loc`` naming the field
and a ``msg``. Any other 4xx has a ``detail`` that is a non-empty string, or an object that
names the reason. Open311's routes answer in GeoReport's shape, in JSON or XML by the path's
suffix: a list of errors, each with a code and a non-empty description; a path under its
prefix that no route matches is answered as anywhere else in the app.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

OPEN311_PREFIX = "/open311/"


def unnamed_reason(status: int, path: str, body: bytes) -> str | None:
    """Why a 4xx answer to ``path`` fails to name its field or reason; ``None`` if it names it
    (or is not a 4xx)."""
    if not 400 <= status < 500:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if path.startswith(OPEN311_PREFIX) and not isinstance(answer, dict):
        return _open311_unnamed(body)
    if answer is None:
        return f"{status} whose body is not JSON: {body[:200]!r}"
    detail = answer.get("detail") if isinstance(answer, dict) else None
    if status == 422:
        return _validation_unnamed(detail)
    if isinstance(detail, str) and detail.strip():
        return None
    if isinstance(detail, dict) and any(_text(value) for value in detail.values()):
        return None
    return f"{status} whose detail names no reason: {answer!r}"


def _validation_unnamed(detail: Any) -> str | None:
    if not isinstance(detail, list) or not detail:
        return f"422 whose detail is not a list of refused fields: {detail!r}"
    for item in detail:
        if not isinstance(item, dict):
            return f"422 item is not an object: {item!r}"
        # The field's name is the client's: a key it sent may be blank, and still names it.
        loc = item.get("loc")
        if not isinstance(loc, list) or not loc or not all(isinstance(p, str | int) for p in loc):
            return f"422 item names no field in loc: {item!r}"
        if not _text(item.get("msg")):
            return f"422 item has no msg: {item!r}"
    return None


def _open311_unnamed(body: bytes) -> str | None:
    descriptions = _open311_descriptions(body)
    if descriptions is None:
        return f"Open311 refusal that is not a GeoReport error list: {body[:200]!r}"
    if not descriptions or not all(_text(text) for text in descriptions):
        return f"Open311 refusal without a description: {body[:200]!r}"
    return None


def _open311_descriptions(body: bytes) -> list[Any] | None:
    """The descriptions of a GeoReport error list, in JSON or XML; ``None`` if it is neither."""
    try:
        errors = json.loads(body)
    except ValueError:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return None
        if root.tag != "errors":
            return None
        return [error.findtext("description") for error in root.findall("error")]
    if not isinstance(errors, list) or not all(isinstance(error, dict) for error in errors):
        return None
    return [error.get("description") for error in errors]


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
