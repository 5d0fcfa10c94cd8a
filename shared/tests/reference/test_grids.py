import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cityloop_shared.reference import GridCode, ReferenceDataError, load_grids

Write = Callable[[str, str], Path]


def square(west: float, south: float, size: float = 0.01) -> dict[str, Any]:
    east, north = west + size, south + size
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: object, geometry: object, **properties: object) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"grid_code": code, "name": f"网格{code}", **properties},
        "geometry": geometry,
    }


def collection(*features: object) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


TWO_NEIGHBOURS = collection(
    feature("370212001001001", square(120.40, 36.10)),
    feature("370212001001002", square(120.41, 36.10)),
)


def test_a_point_finds_the_grid_it_lies_in(write: Write) -> None:
    grids = load_grids(write("grids.geojson", TWO_NEIGHBOURS))

    inside = grids.grid_at(120.405, 36.105)
    assert inside is not None
    assert inside.grid_code == "370212001001001"
    east = grids.grid_at(120.415, 36.101)
    assert east is not None
    assert east.grid_code == "370212001001002"


def test_a_point_on_a_shared_border_goes_to_the_lower_grid_code(write: Write) -> None:
    grids = load_grids(write("grids.geojson", TWO_NEIGHBOURS))

    on_border = grids.grid_at(120.41, 36.105)

    assert on_border is not None
    assert on_border.grid_code == "370212001001001"


def test_a_point_on_the_outer_edge_belongs_to_its_grid(write: Write) -> None:
    grids = load_grids(write("grids.geojson", TWO_NEIGHBOURS))

    on_edge = grids.grid_at(120.415, 36.11)

    assert on_edge is not None
    assert on_edge.grid_code == "370212001001002"


def test_a_point_outside_every_grid_finds_none(write: Write) -> None:
    grids = load_grids(write("grids.geojson", TWO_NEIGHBOURS))

    assert grids.grid_at(120.43, 36.105) is None
    assert grids.grid_at(36.105, 120.405) is None


def test_the_grid_code_is_split_into_its_parts(write: Write) -> None:
    grids = load_grids(write("grids.geojson", TWO_NEIGHBOURS))
    grid = grids.get("370212001001002")

    assert grid is not None
    assert grid.district == "370212"
    assert grid.code == GridCode(division="370212", street="001", community="001", sequence="002")
    assert grid.code.street_area == "370212001"
    assert grid.code.community_area == "370212001001"
    assert grids.districts == ("370212",)
    assert len(grids.in_area("370212001001")) == 2


def test_a_multipolygon_grid_is_found_in_either_part(write: Write) -> None:
    parts = {
        "type": "MultiPolygon",
        "coordinates": [square(120.40, 36.10)["coordinates"], square(120.50, 36.10)["coordinates"]],
    }
    grids = load_grids(write("grids.geojson", collection(feature("370212001001001", parts))))

    assert grids.grid_at(120.505, 36.105) is not None
    assert grids.grid_at(120.45, 36.105) is None


@pytest.mark.parametrize(
    ("third", "message"),
    [
        (
            feature("37021200", square(120.50, 36.10)),
            "grids.geojson feature 3: grid_code '37021200' must be 15 digits",
        ),
        (
            feature(370212001001003, square(120.50, 36.10), name=""),
            "grids.geojson feature 3: name '': string should have at least 1 character",
        ),
        (
            feature("370212001001003", {"type": "Point", "coordinates": [120.5, 36.1]}),
            "grids.geojson feature 3: geometry must be a Polygon or MultiPolygon, not Point",
        ),
        (
            feature("370212001001003", square(36.10, 120.50)),
            "grids.geojson feature 3: geometry must be WGS84 longitude, latitude",
        ),
        (
            feature(
                "370212001001003",
                {
                    "type": "Polygon",
                    "coordinates": [[[120, 36], [121, 37], [121, 36], [120, 37], [120, 36]]],
                },
            ),
            "grids.geojson feature 3: geometry is not a valid polygon: Self-intersection",
        ),
        (
            feature("370212001001003", {"type": "Polygon", "coordinates": [[120.5]]}),
            "grids.geojson feature 3: geometry has malformed coordinates",
        ),
        (
            feature("370212001001001", square(120.50, 36.10)),
            "grids.geojson feature 3: grid_code '370212001001001' repeats feature 1",
        ),
        (
            feature("370212001001003", square(120.405, 36.105)),
            "grids.geojson feature 3: overlaps feature 1: grids 370212001001003 and "
            "370212001001001",
        ),
        ({"type": "Feature"}, "grids.geojson feature 3: grid_code is required"),
        ([], "grids.geojson feature 3: must be a GeoJSON Feature"),
    ],
)
def test_malformed_features_are_named_by_number_and_field(
    write: Write, third: object, message: str
) -> None:
    base = json.loads(TWO_NEIGHBOURS)["features"]
    path = write("grids.geojson", collection(*base, third))

    with pytest.raises(ReferenceDataError) as refused:
        load_grids(path)

    assert str(refused.value).startswith(message)


def test_grids_touching_along_a_border_do_not_overlap(write: Write) -> None:
    grids = load_grids(write("grids.geojson", TWO_NEIGHBOURS))

    assert len(grids) == 2


def test_a_file_that_is_not_a_feature_collection_is_refused(write: Write) -> None:
    with pytest.raises(
        ReferenceDataError, match=r"^grids\.geojson: must be a GeoJSON FeatureCollection"
    ):
        load_grids(write("grids.geojson", json.dumps(feature("370212001001001", square(1, 1)))))
    with pytest.raises(ReferenceDataError, match=r"^grids\.geojson line 1: not valid JSON"):
        load_grids(write("grids.geojson", "{"))
