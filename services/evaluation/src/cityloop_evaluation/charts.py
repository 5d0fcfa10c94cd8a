"""Small SVG charts for the evaluation reports: a league table of composite scores and a trend
of scores over periods.

Each function returns a standalone SVG document that can be saved as ``.svg``, embedded in
HTML or served as ``image/svg+xml``. Only the standard library is used. Nothing here can load
a font, so text widths are estimated (a CJK character as one em, anything else as 0.6 em);
that is close enough for Noto Sans CJK SC to size the columns so that labels do not collide.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

FONT_FAMILY = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
NO_DATA = "no data"

FONT_SIZE = 13
TITLE_SIZE = 16
PAD = 16
GAP = 8
TOP = PAD + TITLE_SIZE + 16

ROW_HEIGHT = 28
BAR_HEIGHT = 18
BAR_WIDTH = 360

PLOT_WIDTH = 480
PLOT_HEIGHT = 240
GRID_STEPS = 5
LEGEND_ROW = 20
SWATCH = 18

INK = "#222222"
MUTED = "#9e9e9e"
GRID = "#e0e0e0"
BAR_FILL = "#4e79a7"
# Tableau 10: chosen to stay distinguishable from one another, also when printed.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of a league table.

    ``value`` is a composite score from 0 to the chart's maximum, or None when the unit is not
    ranked (e.g. below the minimum case volume). ``note`` is printed after the value, e.g. a
    grade ("优秀") or the volume ("n=12")."""

    label: str
    value: float | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a trend chart: ``(period label, value)`` pairs, None where there is a gap."""

    name: str
    points: Sequence[tuple[str, float | None]]


def league_table_svg(title: str, bars: Sequence[Bar], *, maximum: float = 100.0) -> str:
    """Horizontal bars, one per row in the given order (already ranked), the value printed at
    the bar's end; unranked rows are greyed out with '—' and no bar. Bars are clamped to
    [0, maximum] but the printed value is the score itself."""
    _check_maximum(maximum)
    if not bars:
        return _no_data(title)
    values = [_finite(bar.value) for bar in bars]
    captions = [
        " ".join(part for part in ("—" if v is None else f"{v:.1f}", bar.note) if part)
        for bar, v in zip(bars, values, strict=True)
    ]
    bar_x = PAD + max(_text_width(bar.label) for bar in bars) + GAP
    width = bar_x + BAR_WIDTH + GAP + max(_text_width(c) for c in captions) + PAD
    height = TOP + len(bars) * ROW_HEIGHT + PAD

    body = [_line(bar_x, TOP, bar_x, TOP + len(bars) * ROW_HEIGHT, MUTED, cls="axis")]
    for i, (bar, value, caption) in enumerate(zip(bars, values, captions, strict=True)):
        middle = TOP + (i + 0.5) * ROW_HEIGHT
        baseline = middle + 0.35 * FONT_SIZE
        fill = INK if value is not None else MUTED
        row = [_text(bar_x - GAP, baseline, bar.label, anchor="end", fill=fill, cls="label")]
        end = bar_x
        if value is not None:
            length = BAR_WIDTH * _clamp(value, maximum) / maximum
            row.append(
                f'<rect class="bar" x="{_num(bar_x)}" y="{_num(middle - BAR_HEIGHT / 2)}" '
                f'width="{_num(length)}" height="{BAR_HEIGHT}" fill="{BAR_FILL}"/>'
            )
            end += length
        row.append(_text(end + GAP, baseline, caption, fill=fill, cls="value"))
        kind = "row" if value is not None else "row unranked"
        body.append(f'<g class="{kind}">{"".join(row)}</g>')
    return _document(width, height, title, body)


def trend_svg(title: str, series: Sequence[Series], *, maximum: float = 100.0) -> str:
    """A line chart over periods: the x labels are the first series' period labels, y runs
    from 0 to maximum with gridlines. Every series is placed on those periods by label and
    drawn as one polyline per unbroken run, so a None (or a period it lacks) breaks the line;
    each point also gets a dot, which keeps a lone point between two gaps visible. A legend on
    the right names the series, each in its own colour."""
    _check_maximum(maximum)
    periods = list(dict.fromkeys(label for label, _ in series[0].points)) if series else []
    runs = [_runs(s, periods) for s in series]
    if not any(runs):
        return _no_data(title)

    label_width = max(_text_width(p) for p in periods) + GAP
    # The first and last period labels are centred on the plot's edges and must not be cut off.
    plot_left = PAD + max(_text_width(f"{maximum:g}") + GAP, label_width / 2)
    plot_bottom = TOP + GAP + PLOT_HEIGHT
    # Thin the period labels so that they never overlap, however many periods there are.
    label_every = max(1, math.ceil(len(periods) * label_width / PLOT_WIDTH))

    def x_of(index: int) -> float:
        if len(periods) == 1:
            return plot_left + PLOT_WIDTH / 2
        return plot_left + PLOT_WIDTH * index / (len(periods) - 1)

    def y_of(value: float) -> float:
        return plot_bottom - PLOT_HEIGHT * _clamp(value, maximum) / maximum

    body: list[str] = []
    for step in range(GRID_STEPS + 1):
        level = maximum * step / GRID_STEPS
        y = y_of(level)
        body.append(_line(plot_left, y, plot_left + PLOT_WIDTH, y, GRID, cls="grid"))
        body.append(_text(plot_left - GAP, y + 0.35 * FONT_SIZE, f"{level:g}", anchor="end"))
    for index, period in enumerate(periods):
        if index % label_every == 0:
            body.append(_text(x_of(index), plot_bottom + GAP + FONT_SIZE, period, anchor="middle"))

    legend_x = plot_left + PLOT_WIDTH + max(2 * PAD, label_width / 2 + PAD)
    legend: list[str] = []
    for number, (line, line_runs) in enumerate(zip(series, runs, strict=True)):
        colour = PALETTE[number % len(PALETTE)]
        # Past the palette, colours repeat, so the next round of series is dashed.
        dash = ' stroke-dasharray="6 3"' if number >= len(PALETTE) else ""
        stroke = f'fill="none" stroke="{colour}" stroke-width="2"{dash}'
        drawn: list[str] = []
        for run in line_runs:
            coordinates = " ".join(f"{_num(x_of(i))},{_num(y_of(v))}" for i, v in run)
            drawn.append(f'<polyline points="{coordinates}" {stroke} stroke-linejoin="round"/>')
            drawn.extend(
                f'<circle cx="{_num(x_of(i))}" cy="{_num(y_of(v))}" r="3" fill="{colour}"/>'
                for i, v in run
            )
        body.append(f'<g class="series">{"".join(drawn)}</g>')
        y = TOP + number * LEGEND_ROW
        legend.append(
            f'<g class="legend-item">'
            f'<line x1="{_num(legend_x)}" y1="{_num(y)}" x2="{_num(legend_x + SWATCH)}" '
            f'y2="{_num(y)}" {stroke}/>'
            f"{_text(legend_x + SWATCH + GAP, y + 0.35 * FONT_SIZE, line.name)}</g>"
        )
    body.append(f'<g class="legend">{"".join(legend)}</g>')

    width = legend_x + SWATCH + GAP + max(_text_width(s.name) for s in series) + PAD
    height = max(plot_bottom + GAP + FONT_SIZE + PAD, TOP + len(series) * LEGEND_ROW + PAD)
    return _document(width, height, title, body)


def _runs(series: Series, periods: Sequence[str]) -> list[list[tuple[int, float]]]:
    """The series' unbroken runs of ``(period index, value)``."""
    values = dict(series.points)
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for index, period in enumerate(periods):
        value = _finite(values.get(period))
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        runs.append(current)
    return runs


def _check_maximum(maximum: float) -> None:
    if not (math.isfinite(maximum) and maximum > 0):
        raise ValueError(f"maximum must be a positive number, not {maximum!r}")


def _finite(value: float | None) -> float | None:
    """None for a missing value, and for NaN or infinity, which have no place on the chart."""
    return value if value is not None and math.isfinite(value) else None


def _clamp(value: float, maximum: float) -> float:
    return min(max(value, 0.0), maximum)


def _no_data(title: str) -> str:
    width = max(320, _text_width(title, TITLE_SIZE) + 2 * PAD)
    height = TOP + 2 * ROW_HEIGHT
    message = _text(
        width / 2, TOP + ROW_HEIGHT, NO_DATA, anchor="middle", fill=MUTED, cls="no-data"
    )
    return _document(width, height, title, [message])


def _document(width: float, height: float, title: str, body: list[str]) -> str:
    # The title may be wider than the chart itself.
    w = _num(max(width, _text_width(title, TITLE_SIZE) + 2 * PAD))
    h = _num(height)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="{FONT_FAMILY}" font-size="{FONT_SIZE}">',
            f"<title>{_escape(title)}</title>",
            # An opaque background, so that the chart stays legible in dark-themed viewers.
            '<rect width="100%" height="100%" fill="#ffffff"/>',
            _text(PAD, PAD + TITLE_SIZE, title, size=TITLE_SIZE, bold=True, cls="title"),
            *body,
            "</svg>",
            "",
        ]
    )


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    fill: str = INK,
    size: int = FONT_SIZE,
    bold: bool = False,
    cls: str = "",
) -> str:
    attributes = f'x="{_num(x)}" y="{_num(y)}" fill="{fill}"'
    if cls:
        attributes = f'class="{cls}" {attributes}'
    if anchor != "start":
        attributes += f' text-anchor="{anchor}"'
    if size != FONT_SIZE:
        attributes += f' font-size="{size}"'
    if bold:
        attributes += ' font-weight="bold"'
    return f"<text {attributes}>{_escape(content)}</text>"


def _line(x1: float, y1: float, x2: float, y2: float, colour: str, *, cls: str) -> str:
    return (
        f'<line class="{cls}" x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
        f'stroke="{colour}" stroke-width="1"/>'
    )


def _escape(text: str) -> str:
    # XML 1.0 forbids most control characters even when escaped, so they are dropped.
    return escape("".join(c for c in text if c >= " " or c in "\t\n"))


def _text_width(text: str, size: int = FONT_SIZE) -> float:
    return sum(size if unicodedata.east_asian_width(c) in "WF" else 0.6 * size for c in text)


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
