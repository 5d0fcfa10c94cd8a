from collections.abc import Callable
from pathlib import Path

import pytest

from cityloop_shared.reference import (
    GB_T_47678_5,
    CaseKind,
    ReferenceDataError,
    load_categories,
    load_category_folder,
)
from cityloop_shared.reference.bundle import DEMO_CITY

Write = Callable[[str, str], Path]
HEADER = "kind,major_code,major_name,code,name\n"


def test_the_shipped_national_list_has_its_250_categories() -> None:
    dictionary = load_categories()

    assert (dictionary.standard, dictionary.version, dictionary.code_width) == (
        GB_T_47678_5,
        "2026",
        5,
    )
    assert len(dictionary) == 250
    assert len(dictionary.by_kind(CaseKind.COMPONENT)) == 153
    assert len(dictionary.by_kind(CaseKind.EVENT)) == 97
    assert list(dictionary.majors(CaseKind.EVENT)) == ["06", "07", "08", "09", "10"]
    assert len(dictionary.by_major("01")) == 76


def test_lookup_by_code_and_kind() -> None:
    dictionary = load_categories()

    garbage = dictionary.get("06010")
    assert garbage is not None
    assert (garbage.name, garbage.kind, garbage.major_name) == (
        "暴露垃圾",
        CaseKind.EVENT,
        "市容环境类",
    )
    assert garbage.key == (GB_T_47678_5, CaseKind.EVENT, "06010")
    assert garbage.minor_code == "010"
    assert dictionary.get("06010", CaseKind.COMPONENT) is None
    assert dictionary.get("99999") is None
    assert "01037" in dictionary


def test_the_demo_folder_adds_local_codes_to_the_shipped_list() -> None:
    dictionary = load_category_folder(DEMO_CITY / "categories")

    assert len(dictionary) == 254
    beach = dictionary.get("91001")
    assert beach is not None
    assert beach.local
    assert beach.kind is CaseKind.EVENT
    assert beach.standard == "青岛市数字城管地方扩展"
    assert [e.standard for e in dictionary.editions] == [GB_T_47678_5, "青岛市数字城管地方扩展"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("component,01,市政公用设施,0101,上水井盖", "cats.csv row 3: code '0101' must be 5 digits"),
        ("component,11,其他,11001,某物", "cats.csv row 3: major_code '11' is outside GB/T 47678.5"),
        (
            "event,01,市政公用设施,01002,污水井盖",
            "cats.csv row 3: kind 'event' does not match major 01",
        ),
        (
            "component,01,市政公用设施,02001,路名牌",
            "cats.csv row 3: code '02001' must start with its major code 01",
        ),
        ("component,01,市政公用设施,01001,重复", "cats.csv row 3: code '01001' repeats row 2"),
        ("thing,01,市政公用设施,01003,雨水井盖", "cats.csv row 3: kind 'thing': input should be"),
        ("component,01,,01003,雨水井盖", "cats.csv row 3: major_name is required"),
        ("component,01,市政设施,01003,雨水井盖", "cats.csv row 3: major_name '市政设施' differs"),
    ],
)
def test_malformed_rows_are_named_by_file_row_and_field(
    write: Write, row: str, message: str
) -> None:
    path = write("cats.csv", HEADER + "component,01,市政公用设施,01001,供水井盖\n" + row + "\n")

    with pytest.raises(ReferenceDataError) as refused:
        load_categories(path)

    assert str(refused.value).startswith(message)


def test_every_problem_of_a_file_is_reported_at_once(write: Write) -> None:
    path = write("cats.csv", HEADER + "component,01,x,1,a\nevent,06,y,06001,\n")

    with pytest.raises(ReferenceDataError) as refused:
        load_categories(path)

    assert refused.value.problems == (
        "cats.csv row 2: code '1' must be 5 digits (major + minor)",
        "cats.csv row 3: name is required",
    )


def test_missing_and_unknown_columns_refuse_the_file(write: Write) -> None:
    path = write("cats.csv", "kind,major,major_name,code,name\n")

    with pytest.raises(ReferenceDataError) as refused:
        load_categories(path)

    assert refused.value.problems[0] == "cats.csv row 1: missing column 'major_code'"
    assert refused.value.problems[1].startswith("cats.csv row 1: unknown column 'major'")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError, match=r"^nothing\.csv: file not found"):
        load_categories(tmp_path / "nothing.csv")


def test_local_extensions_use_majors_90_to_99(write: Write) -> None:
    path = write("local.csv", HEADER + "event,06,市容环境类,06999,自定义\n")

    with pytest.raises(
        ReferenceDataError, match=r"local\.csv row 2: major_code '06' must be 90–99"
    ):
        load_categories().with_extension(path, standard="local", version="1")


def test_an_extension_colliding_with_a_loaded_code_is_refused(write: Write) -> None:
    path = write("local.csv", HEADER + "event,91,地方事项,91001,海水浴场秩序\n")
    dictionary = load_categories().with_extension(path, standard="local", version="1")

    with pytest.raises(
        ReferenceDataError, match=r"local\.csv row 2: code '91001' is already 海水浴场秩序"
    ):
        dictionary.with_extension(path, standard="local", version="2")


def test_the_older_4_digit_list_keys_by_kind_and_code(write: Write) -> None:
    path = write(
        "gb30428.csv",
        HEADER + "component,01,公用设施,0101,上水井盖\nevent,01,市容环境,0101,私搭乱建\n",
    )

    dictionary = load_categories(path, standard="GB/T 30428.2", version="2013", code_width=4)

    assert dictionary.code_width == 4
    component = dictionary.get("0101", CaseKind.COMPONENT)
    assert component is not None
    assert component.name == "上水井盖"
    with pytest.raises(ValueError, match="names both component 上水井盖 and event 私搭乱建"):
        dictionary.get("0101")


def test_the_manifest_names_the_extension_it_cannot_find(write: Write) -> None:
    folder = write(
        "categories/dictionary.yaml",
        """
        national: {file: shipped}
        extensions:
          - {standard: local, version: "1", file: missing.csv}
        """,
    ).parent

    with pytest.raises(ReferenceDataError, match=r"^missing\.csv: file not found"):
        load_category_folder(folder)


def test_the_manifest_refuses_unknown_fields(write: Write) -> None:
    folder = write(
        "categories/dictionary.yaml",
        """
        national: {standard: GB/T 47678.5-2026, width: 5}
        """,
    ).parent

    with pytest.raises(
        ReferenceDataError, match=r"dictionary\.yaml national: width is not a known field"
    ):
        load_category_folder(folder)
