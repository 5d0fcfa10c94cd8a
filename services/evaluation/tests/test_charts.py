"""The SVG charts, read back as XML: what each row and line shows, and where it is drawn."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from cityloop_evaluation.charts import Bar, Series, league_table_svg, trend_svg

pytestmark = pytest.mark.unit

SVG = "{http://www.w3.org/2000/svg}"


def parse(document: str) -> ET.Element:
    return ET.fromstring(document)


def classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in classes(e)]


def text_of(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def rows(root: ET.Element) -> list[ET.Element]:
    return by_class(root, "row")


def bar_width(row: ET.Element) -> float:
    (bar,) = by_class(row, "bar")
    return float(bar.get("width", "nan"))


def label(row: ET.Element) -> str:
    (element,) = by_class(row, "label")
    return element.text or ""


def value(row: ET.Element) -> str:
    (element,) = by_class(row, "value")
    return element.text or ""


def points(polyline: ET.Element) -> list[tuple[float, float]]:
    pairs = (p.split(",") for p in polyline.get("points", "").split())
    return [(float(x), float(y)) for x, y in pairs]


def polylines(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}polyline"))


def test_a_league_table_is_a_standalone_svg_with_a_cjk_font() -> None:
    root = parse(league_table_svg("各区综合评价", [Bar("东城区", 90.0)]))
    assert root.tag == f"{SVG}svg"
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert width > 0
    assert height > 0
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    family = root.get("font-family", "")
    assert "Noto Sans CJK SC" in family
    assert family.endswith("sans-serif")
    assert "各区综合评价" in text_of(root)


def test_a_ranked_row_has_one_bar_proportional_to_its_value() -> None:
    root = parse(
        league_table_svg(
            "t", [Bar("东城区", 100.0), Bar("西城区", 50.0), Bar("朝阳区", 0.0)], maximum=100.0
        )
    )
    full, half, none = rows(root)
    assert len(by_class(root, "bar")) == 3
    assert bar_width(half) == pytest.approx(bar_width(full) / 2, abs=0.01)
    assert bar_width(none) == 0
    assert bar_width(full) > 0


def test_bars_scale_against_the_given_maximum() -> None:
    root = parse(league_table_svg("t", [Bar("a", 5.0), Bar("b", 4.0)], maximum=5.0))
    top, second = rows(root)
    assert bar_width(second) == pytest.approx(bar_width(top) * 0.8, abs=0.01)


def test_values_outside_the_scale_are_clamped() -> None:
    root = parse(league_table_svg("t", [Bar("a", 100.0), Bar("b", 130.0), Bar("c", -5.0)]))
    full, over, under = rows(root)
    assert bar_width(over) == pytest.approx(bar_width(full))
    assert bar_width(under) == 0


def test_rows_keep_the_given_order_top_to_bottom() -> None:
    names = ["朝阳区", "东城区", "海淀区", "西城区"]
    root = parse(league_table_svg("t", [Bar(n, 80.0 - i) for i, n in enumerate(names)]))
    shown = rows(root)
    assert [label(r) for r in shown] == names
    ys = [float(by_class(r, "label")[0].get("y", "nan")) for r in shown]
    assert ys == sorted(ys)
    assert len(set(ys)) == len(ys)


def test_the_value_and_note_are_printed_at_the_bars_end() -> None:
    root = parse(league_table_svg("t", [Bar("东城区", 87.5, "优秀")]))
    (row,) = rows(root)
    (bar,) = by_class(row, "bar")
    (text,) = by_class(row, "value")
    assert value(row) == "87.5 优秀"
    end = float(bar.get("x", "nan")) + float(bar.get("width", "nan"))
    assert float(text.get("x", "nan")) >= end


def test_an_unranked_row_has_no_bar_and_shows_a_dash() -> None:
    root = parse(league_table_svg("t", [Bar("东城区", 70.0), Bar("延庆区", None, "n=3")]))
    ranked, unranked = rows(root)
    assert len(by_class(ranked, "bar")) == 1
    assert by_class(unranked, "bar") == []
    assert value(unranked) == "— n=3"
    assert label(unranked) == "延庆区"
    assert by_class(unranked, "label")[0].get("fill") != by_class(ranked, "label")[0].get("fill")


def test_labels_titles_and_notes_are_escaped() -> None:
    document = league_table_svg('<评价> & "排名"', [Bar("a<&>b", 60.0, "<note>")])
    root = parse(document)
    (row,) = rows(root)
    assert label(row) == "a<&>b"
    assert value(row) == "60.0 <note>"
    assert '<评价> & "排名"' in text_of(root)


def test_the_height_grows_with_the_number_of_rows() -> None:
    def height(count: int) -> float:
        bars = [Bar(f"单位{i}", 50.0) for i in range(count)]
        return float(parse(league_table_svg("t", bars)).get("height", "nan"))

    assert height(1) < height(2) < height(10)
    assert height(10) - height(9) == pytest.approx(height(2) - height(1))


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(lambda: league_table_svg("空", []), id="no bars"),
        pytest.param(lambda: trend_svg("空", []), id="no series"),
        pytest.param(lambda: trend_svg("空", [Series("a", [])]), id="no periods"),
        pytest.param(lambda: trend_svg("空", [Series("a", [("2026-01", None)])]), id="all gaps"),
    ],
)
def test_empty_input_gives_a_no_data_chart(document: Callable[[], str]) -> None:
    root = parse(document())
    assert root.tag == f"{SVG}svg"
    assert "no data" in text_of(root)
    assert polylines(root) == []
    assert by_class(root, "bar") == []


def test_a_maximum_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maximum"):
        league_table_svg("t", [Bar("a", 1.0)], maximum=0)
    with pytest.raises(ValueError, match="maximum"):
        trend_svg("t", [Series("a", [("2026-01", 1.0)])], maximum=float("nan"))


PERIODS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]


def test_a_trend_is_a_standalone_svg() -> None:
    root = parse(trend_svg("月度趋势", [Series("东城区", [(p, 80.0) for p in PERIODS])]))
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert "Noto Sans CJK SC" in root.get("font-family", "")
    shown = text_of(root)
    assert all(p in shown for p in PERIODS)
    assert "0" in shown
    assert "100" in shown
    assert len(by_class(root, "grid")) >= 3


def test_one_polyline_per_unbroken_run() -> None:
    whole = Series("东城区", [(p, 70.0 + i) for i, p in enumerate(PERIODS)])
    split = Series("西城区", [("2026-01", 60.0), ("2026-02", 61.0), ("2026-03", None),
                             ("2026-04", 63.0), ("2026-05", 64.0)])  # fmt: skip
    twice = Series("朝阳区", [("2026-01", 50.0), ("2026-02", None), ("2026-03", 52.0),
                             ("2026-04", None), ("2026-05", 54.0)])  # fmt: skip
    root = parse(trend_svg("t", [whole, split, twice]))
    assert len(polylines(root)) == 1 + 2 + 3
    per_series = [len(list(g.iter(f"{SVG}polyline"))) for g in by_class(root, "series")]
    assert per_series == [1, 2, 3]


def test_a_period_missing_from_a_later_series_breaks_its_line() -> None:
    first = Series("a", [(p, 50.0) for p in PERIODS])
    sparse = Series("b", [("2026-01", 40.0), ("2026-02", 41.0), ("2026-04", 43.0)])
    root = parse(trend_svg("t", [first, sparse]))
    assert len(polylines(root)) == 1 + 2


def test_points_run_left_to_right_in_period_order() -> None:
    root = parse(trend_svg("t", [Series("a", [(p, 50.0) for p in PERIODS])]))
    (line,) = polylines(root)
    xs = [x for x, _ in points(line)]
    assert len(xs) == len(PERIODS)
    assert all(a < b for a, b in itertools.pairwise(xs))


def test_the_same_period_has_the_same_x_in_every_series() -> None:
    a = Series("a", [(p, 50.0) for p in PERIODS])
    b = Series("b", [(p, 60.0) for p in reversed(PERIODS)])
    first, second = (points(p) for p in polylines(parse(trend_svg("t", [a, b]))))
    assert [x for x, _ in first] == [x for x, _ in second]


def test_higher_values_are_drawn_higher_and_clamped() -> None:
    values = [0.0, 100.0, 150.0, -20.0, 50.0]
    root = parse(trend_svg("t", [Series("a", list(zip(PERIODS, values, strict=True)))]))
    (line,) = polylines(root)
    y_zero, y_max, y_over, y_under, y_half = (y for _, y in points(line))
    assert y_max < y_zero  # SVG's y runs downwards
    assert y_over == y_max
    assert y_under == y_zero
    assert y_half == pytest.approx((y_zero + y_max) / 2)


def test_the_legend_names_every_series_in_distinct_colours() -> None:
    names = ["东城区", "西城区", "a<&>b"]
    series = [Series(n, [(p, 10.0 * i) for p in PERIODS]) for i, n in enumerate(names)]
    root = parse(trend_svg("t", series))
    (legend,) = by_class(root, "legend")
    assert text_of(legend) == names
    colours = [p.get("stroke") for p in polylines(root)]
    assert len(set(colours)) == len(names)


def test_a_lone_point_between_gaps_is_still_drawn() -> None:
    root = parse(trend_svg("t", [Series("a", [("2026-01", None), ("2026-02", 70.0)])]))
    (line,) = polylines(root)
    assert len(points(line)) == 1
    assert len(list(root.iter(f"{SVG}circle"))) == 1
