"""Where a page of a list query starts: an offset the database takes, or 422 naming it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_OFFSET = 2**63 - 1
"""The largest OFFSET PostgreSQL (a bigint) and SQLite (a 64-bit integer) take: a larger one
fails the query instead of answering an empty page."""

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]
