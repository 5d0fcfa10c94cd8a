"""Every number a client may send a service is bounded to what the database takes, so that
one past it is refused with 422 naming it rather than failing its query with a 500."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from cityloop_shared.settings import ServiceSettings

from .bounds import unbounded_numbers
from .services import SERVICES, app_of, settings_for


@pytest.mark.parametrize("service", SERVICES)
async def test_every_number_a_service_takes_is_bounded(
    service: str, service_settings: ServiceSettings
) -> None:
    app = app_of(service, settings_for(service, service_settings))
    assert unbounded_numbers(app.openapi()) == []


class Extension(BaseModel):
    days: int = Field(ge=1)
    hours: int = Field(ge=0, le=24)


@pytest.mark.unit
def test_an_unbounded_number_is_named_by_where_it_is_taken() -> None:
    app = FastAPI()

    @app.get("/tasks")
    def tasks(
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
        page: Annotated[int, Query(ge=0, le=2**64)] = 0,
    ) -> None:
        """A page of a list."""

    @app.post("/extensions")
    def extend(extension: Extension) -> None:
        """A longer deadline."""

    assert unbounded_numbers(app.openapi()) == [
        "GET /tasks query offset",
        "GET /tasks query page",
        "POST /extensions body.days",
    ]
