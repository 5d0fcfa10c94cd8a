"""`cityloop-reference check`: a reference data folder loaded part by part, and its problems."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from cityloop_deploy.reference import check, main
from cityloop_shared.reference import DEMO_CITY, ReferenceData, ReferenceDataError

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # Either would make rich take captured output for a terminal.
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)


@pytest.fixture
def city(tmp_path: Path) -> Path:
    """A copy of the demo city to break."""
    return Path(shutil.copytree(DEMO_CITY, tmp_path / "city"))


def demo_counts() -> dict[str, int]:
    demo = ReferenceData.demo()
    return {
        "categories": len(demo.categories),
        "grids": len(demo.grids),
        "departments": len(demo.departments),
        "responsibility": len(demo.responsibility),
        "supervisors": len(demo.supervisors),
        "time limits": len(demo.time_limits),
        "calendar": len(demo.calendar.working_hours),
    }


def problems_of(folder: Path) -> tuple[str, ...]:
    with pytest.raises(ReferenceDataError) as refused:
        ReferenceData.load(folder)
    return refused.value.problems


def test_the_demo_city_is_clean_and_each_part_is_reported_with_its_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check"]) == 0

    lines = capsys.readouterr().out.splitlines()
    part_lines = [f"{part} {count}" for part, count in demo_counts().items()]
    # Off a terminal, one plain line a part, in the order they load.
    assert [line for line in lines if line in part_lines] == part_lines
    assert any(line.startswith("clean: city 370200") for line in lines)
    # And in the summary table: part, file, count, what it counts.
    assert any(re.fullmatch(r"│ grids +│ grids\.geojson +│ +27 │ grids +│", line) for line in lines)


def test_a_broken_file_exits_1_and_names_the_problem(
    city: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (city / "grids.geojson").write_text('{"type": "FeatureCollection", "features": [\n')

    assert main(["check", str(city)]) == 1

    out = capsys.readouterr().out
    assert "grids refused" in out.splitlines()
    assert "departments 19" in out.splitlines()
    [problem] = problems_of(city)
    assert problem.startswith("grids.geojson line 2: not valid JSON")
    assert f"  {problem}" in out.splitlines()


def test_every_problem_between_the_files_is_listed(
    city: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    supervisors = city / "supervisors.yaml"
    kept = [line for line in supervisors.read_text().splitlines() if "sv-370212-03" not in line]
    supervisors.write_text("\n".join(kept) + "\n")

    assert main(["check", str(city)]) == 1

    out = capsys.readouterr().out.splitlines()
    problems = problems_of(city)
    assert len(problems) == 3
    assert f"{len(problems)} problem(s):" in out
    for problem in problems:
        assert "has no supervisor" in problem
        assert f"  {problem}" in out
    assert "supervisors 8" in out


def test_a_missing_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_on_a_terminal_the_parts_are_shown_live_as_they_load() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)

    assert check(DEMO_CITY, console) == 0

    shown = screen.getvalue()
    assert "loading categories" in shown
    assert "cross-checking" in shown
    assert "7/7 parts" in shown
    for part, count in demo_counts().items():
        assert f"✓ {part} {count}" in shown
