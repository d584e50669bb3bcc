"""Inline SVG charts for the plan report: small multiples of weekly series, bands and a capacity heatmap.

Plain strings, no JavaScript: a chart shows in any browser (and offline) as soon as the page parses.
Coordinates are rounded to one decimal so ~500 charts stay within a few megabytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

__all__ = ["Band", "Bar", "Line", "gantt", "heatmap", "series_chart", "utilisation_colour"]

W, H = 300, 120
PAD_L, PAD_R, PAD_T, PAD_B = 34, 6, 8, 16


@dataclass(frozen=True)
class Line:
    """A series drawn as a polyline; ``None`` values break nothing, they are skipped."""

    values: Sequence[float | None]
    css: str
    label: str


@dataclass(frozen=True)
class Band:
    """A shaded band between two series of the same length."""

    low: Sequence[float | None]
    high: Sequence[float | None]
    css: str
    label: str


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}" if a >= 10 else f"{v:.1f}"


def series_chart(weeks: Sequence[date], lines: Sequence[Line], bands: Sequence[Band] = (), *,
                 marker: date | None = None, title: str = "") -> str:
    """An SVG chart of weekly series over ``weeks`` (x) from zero to the largest value (y).

    Args:
        weeks: the x axis, one entry per value of every line and band.
        lines: series drawn as lines, in order (later on top).
        bands: shaded bands drawn below the lines.
        marker: a week marked with a vertical rule (e.g. the run date).
        title: tooltip of the chart.
    """
    n = len(weeks)
    top = max([v for s in lines for v in s.values if v is not None]
              + [v for b in bands for v in b.high if v is not None] + [0.0])
    top = top * 1.05 or 1.0
    span_x, span_y = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(i: int) -> float:
        return PAD_L + (span_x * i / (n - 1) if n > 1 else span_x / 2)

    def y(v: float) -> float:
        return PAD_T + span_y * (1 - v / top)

    def pts(idx: Sequence[int], values: Sequence[float]) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in zip(idx, values, strict=True))

    parts = [(f'<svg class="svgchart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">'
             f"<title>{escape(title)}</title>"),
             f'<line class="axis" x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}"/>',
             f'<text class="tick" x="{PAD_L - 3}" y="{PAD_T + 4}" text-anchor="end">{_fmt(top / 1.05)}</text>',
             f'<text class="tick" x="{PAD_L - 3}" y="{H - PAD_B}" text-anchor="end">0</text>']
    if n:
        parts.append(f'<text class="tick" x="{PAD_L}" y="{H - 3}">{weeks[0]:%Y-%m-%d}</text>')
        parts.append(f'<text class="tick" x="{W - PAD_R}" y="{H - 3}" text-anchor="end">{weeks[-1]:%Y-%m-%d}</text>')
    for b in bands:
        idx = [i for i in range(n) if b.low[i] is not None and b.high[i] is not None]
        if idx:
            outline = pts(idx, [b.high[i] for i in idx]) + " " + pts(idx[::-1], [b.low[i] for i in idx[::-1]])
            parts.append(f'<polygon class="{b.css}" points="{outline}"><title>{escape(b.label)}</title></polygon>')
    if marker is not None and marker in weeks:
        mx = x(list(weeks).index(marker))
        parts.append(f'<line class="marker" x1="{mx:.1f}" y1="{PAD_T}" x2="{mx:.1f}" y2="{H - PAD_B}"/>')
    for s in lines:
        idx = [i for i in range(n) if s.values[i] is not None]
        if idx:
            parts.append(f'<polyline class="{s.css}" points="{pts(idx, [s.values[i] for i in idx])}">'
                         f"<title>{escape(s.label)}</title></polyline>")
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Bar:
    """One campaign on a Gantt row: weeks ``first``..``last`` (inclusive), a changeover at its start or not."""

    row: str
    first: date
    last: date
    label: str
    tooltip: str
    changeover: bool


#: colours cycled over the products of a Gantt chart (colour-blind-safe Okabe-Ito, without black)
_PALETTE = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#999999")


def gantt(rows: Sequence[str], weeks: Sequence[date], bars: Sequence[Bar], *, title: str = "") -> str:
    """An SVG Gantt chart: one row per campaign resource, one bar per campaign, coloured by product and
    labelled with it; a hatched first week marks a changeover.

    Args:
        rows: row labels (resource ids) in order.
        weeks: the columns (every planned week).
        bars: the campaigns.
        title: tooltip of the chart.
    """
    label_w, cell_w, cell_h, head = 92, 22, 24, 16
    # at least three rows high, so a plant with one or two suites still reads when the page scales it down
    width, height = label_w + cell_w * len(weeks) + 8, head + cell_h * max(len(rows), 3) + 4
    col = {w: j for j, w in enumerate(weeks)}
    colours = {p: _PALETTE[i % len(_PALETTE)] for i, p in enumerate(sorted({b.label for b in bars}))}
    parts = [(f'<svg class="svgchart gantt" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
              f'role="img"><title>{escape(title)}</title>'),
             '<defs><pattern id="changeover" width="4" height="4" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="2" height="4" fill="#333" fill-opacity="0.45"/>'
             "</pattern></defs>"]
    for j, w in enumerate(weeks):
        if j % 4 == 0:
            parts.append(f'<text class="tick" x="{label_w + cell_w * j}" y="{head - 5}">{w:%Y-%m-%d}</text>')
    index = {r: i for i, r in enumerate(rows)}
    for i, r in enumerate(rows):
        parts.append(f'<text class="rowlabel" x="{label_w - 4}" y="{head + cell_h * i + 16}" '
                     f'text-anchor="end">{escape(r)}</text>')
    for b in bars:
        if b.row not in index or b.first not in col or b.last not in col:
            continue
        x0, y0 = label_w + cell_w * col[b.first], head + cell_h * index[b.row]
        w = cell_w * (col[b.last] - col[b.first] + 1) - 1
        parts.append(f'<g><title>{escape(b.tooltip)}</title>'
                     f'<rect x="{x0}" y="{y0}" width="{w}" height="{cell_h - 2}" fill="{colours[b.label]}"/>')
        if b.changeover:
            parts.append(f'<rect x="{x0}" y="{y0}" width="{cell_w - 1}" height="{cell_h - 2}" fill="url(#changeover)"/>')
        if w >= 30:
            parts.append(f'<text class="tick" x="{x0 + 3}" y="{y0 + 15}">{escape(b.label)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def utilisation_colour(u: float | None) -> str:
    """Fill colour of a utilisation: grey when unknown, pale to dark red from 0 to 100%."""
    if u is None:
        return "#eeeeee"
    u = max(0.0, min(1.0, u))
    # white (255,255,255) → amber (253,174,97) at 0.7 → red (215,25,28) at 1
    if u <= 0.7:
        t = u / 0.7
        rgb = (255 - 2 * t, 255 - 81 * t, 255 - 158 * t)
    else:
        t = (u - 0.7) / 0.3
        rgb = (253 - 38 * t, 174 - 149 * t, 97 - 69 * t)
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def heatmap(rows: Sequence[str], weeks: Sequence[date], cells: dict[tuple[str, date], tuple[float | None, bool, str]],
            *, title: str = "") -> str:
    """An SVG heatmap: one row per resource, one column per week, bottlenecks marked with a dot.

    Args:
        rows: row labels (resource ids) in order.
        weeks: the columns.
        cells: (row, week) → (utilisation, is bottleneck, tooltip).
        title: tooltip of the chart.
    """
    label_w, cell_w, cell_h, head = 92, 22, 18, 16
    width, height = label_w + cell_w * len(weeks) + 48, head + cell_h * len(rows) + 4
    parts = [(f'<svg class="svgchart heatmap" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img"><title>{escape(title)}</title>')]
    for j, w in enumerate(weeks):
        if j % 4 == 0:
            parts.append(f'<text class="tick" x="{label_w + cell_w * j}" y="{head - 5}">{w:%Y-%m-%d}</text>')
    for i, r in enumerate(rows):
        y0 = head + cell_h * i
        parts.append(f'<text class="rowlabel" x="{label_w - 4}" y="{y0 + 13}" text-anchor="end">{escape(r)}</text>')
        for j, w in enumerate(weeks):
            u, hot, tip = cells.get((r, w), (None, False, f"{r} {w}: no data"))
            x0 = label_w + cell_w * j
            parts.append(f'<rect x="{x0}" y="{y0}" width="{cell_w - 1}" height="{cell_h - 1}" '
                         f'fill="{utilisation_colour(u)}"><title>{escape(tip)}</title></rect>')
            if hot:
                parts.append(f'<circle class="bottleneck" cx="{x0 + cell_w / 2 - 0.5:.1f}" '
                             f'cy="{y0 + cell_h / 2 - 0.5:.1f}" r="3.5"/>')
    parts.append("</svg>")
    return "".join(parts)
