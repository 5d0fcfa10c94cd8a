from collections.abc import Callable
from pathlib import Path

import pytest

from cityloop_shared.reference import ReferenceDataError, load_supervisors

Write = Callable[[str, str], Path]

ROSTER = """
supervisors:
  - {id: sv-1, name: 赵磊, site: "370212", grid_codes: ["370212001001001", "370212001002001"]}
  - {id: sv-2, name: 孙丽, site: 370212, grid_codes: [370212002001001]}
"""


def test_each_grid_has_its_supervisor(write: Write) -> None:
    roster = load_supervisors(write("supervisors.yaml", ROSTER))

    first = roster.supervisor_for("370212001002001")
    second = roster.supervisor_for("370212002001001")
    assert first is not None
    assert second is not None
    assert (first.id, first.name) == ("sv-1", "赵磊")
    assert second.id == "sv-2"
    assert roster.supervisor_for("370212009009009") is None
    assert len(roster.grid_codes) == 3


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            '{id: sv-3, name: 周涛, site: "370212", grid_codes: ["370212001001001"]}',
            "supervisors.yaml entry 3 (line 4): grid 370212001001001 is already the responsibility "
            "of 'sv-1' (entry 1 (line 2))",
        ),
        (
            '{id: sv-3, name: 周涛, site: "370212", grid_codes: ["370203001001001"]}',
            "supervisors.yaml entry 3 (line 4): grid_codes: must lie in site 370212: "
            "370203001001001 do not",
        ),
        (
            '{id: sv-3, name: 周涛, site: "370212", grid_codes: ["3702120010010"]}',
            "supervisors.yaml entry 3 (line 4): grid_codes #1 '3702120010010' must be 15 digits",
        ),
        (
            '{id: sv-1, name: 周涛, site: "370212"}',
            "supervisors.yaml entry 3 (line 4): id 'sv-1' repeats entry 1 (line 2)",
        ),
        ("{name: 周涛, site: '370212'}", "supervisors.yaml entry 3 (line 4): id is required"),
    ],
)
def test_malformed_supervisors_are_named_by_entry_and_field(
    write: Write, entry: str, message: str
) -> None:
    path = write("supervisors.yaml", ROSTER + f"  - {entry}\n")

    with pytest.raises(ReferenceDataError) as refused:
        load_supervisors(path)

    assert str(refused.value).startswith(message)


def test_the_file_must_hold_a_supervisors_list(write: Write) -> None:
    with pytest.raises(ReferenceDataError, match=r"^supervisors\.yaml: unknown key 'supervisor'"):
        load_supervisors(write("supervisors.yaml", "supervisor: []\n"))
    with pytest.raises(
        ReferenceDataError, match=r"^supervisors\.yaml: 'supervisors' must be a list"
    ):
        load_supervisors(write("supervisors.yaml", "supervisors: sv-1\n"))
