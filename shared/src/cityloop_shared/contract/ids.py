"""Identifiers: time-ordered ids for events and cases, human case numbers."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import uuid_utils.compat as uuid_utils
from pydantic import StringConstraints


def new_id() -> UUID:
    """A UUIDv7: unique across sites without coordination, and ordered by creation time."""
    return uuid_utils.uuid7()


def derived_id(at: datetime, *seed: object) -> UUID:
    """A UUIDv7 for ``at`` whose other bits come from ``seed``: the same seed and moment
    give the same id, so an event a stage derives from another is the same event when a
    replay derives it again."""
    milliseconds = int(at.timestamp() * 1000) & (1 << 48) - 1
    digest = int.from_bytes(hashlib.sha256("/".join(map(str, seed)).encode()).digest()[:10])
    random_a = digest >> 68 & 0xFFF
    random_b = digest & (1 << 62) - 1
    return UUID(int=milliseconds << 80 | 0x7 << 76 | random_a << 64 | 0b10 << 62 | random_b)


class CaseKind(StrEnum):
    """部件 or 事件 (component or event), the two kinds of problem."""

    COMPONENT = "component"
    EVENT = "event"


_KIND_LETTER = {CaseKind.COMPONENT: "C", CaseKind.EVENT: "E"}

CaseNumber = Annotated[str, StringConstraints(pattern=r"^\d{6}[CE]\d{4,5}\d{8}\d{5}$")]
"""Human case number: site + ``C``/``E`` + category + ``YYYYMMDD`` + a 5-digit sequence."""

_CASE_NUMBER = re.compile(r"^(\d{6})([CE])(\d{4,5})(\d{8})(\d{5})$")


def case_number(site: str, kind: CaseKind, category_code: str, day: date, sequence: int) -> str:
    """The number a duty chief's registration gives a case.

    The site prefix makes numbers unique across sites while each site counts on its own.
    """
    if not 1 <= sequence <= 99_999:
        raise ValueError(f"sequence {sequence} is outside 1..99999")
    number = f"{site}{_KIND_LETTER[kind]}{category_code}{day:%Y%m%d}{sequence:05d}"
    if not _CASE_NUMBER.match(number):
        raise ValueError(f"case number {number!r} is malformed")
    return number
