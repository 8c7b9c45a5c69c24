"""Tiny inline-SVG charts for the static report: no JavaScript, no fonts or files to fetch.

Every data mark carries a class the tests count: stacked bar segments are `<rect class="bar">`,
line points are `<circle class="pt">`. Each mark has a `<title>` (the browser's tooltip).
"""

from __future__ import annotations

import datetime as dt
import math
from html import escape
from typing import Dict, List, Optional, Sequence, Tuple

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac"]
LINE_COLORS = {"sla": "#1b7f3b", "backlog": "#8e44ad"}  # not in PALETTE: tells the charts apart on screen
WIDTH, HEIGHT = 1100, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44


def nice_max(value: float, ticks: int = 4) -> float:
    """A round axis maximum >= value that splits into `ticks` whole-number steps (1, 1.5, 2, 2.5... x 10^k)."""
    raw = max(value, 1) / ticks
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        size = step * power
        if raw <= size and float(size).is_integer():
            return size * ticks
    return 10 * power * ticks


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _frame(y_max: float, y_suffix: str, days: Sequence[dt.date], x_of) -> List[str]:
    """Axes, horizontal grid lines with labels, and day labels (about ten of them)."""
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="ylab">{_fmt(value)}{y_suffix}</text>')
    step = max(1, math.ceil(len(days) / 10))
    for i, day in enumerate(days):
        if i % step == 0 or i == len(days) - 1:
            parts.append(f'<text x="{x_of(i):.1f}" y="{HEIGHT - BOTTOM + 16}" class="xlab">{day:%b %d}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>')
    return parts


def _svg(label: str, body: List[str], legend: Optional[List[Tuple[str, str]]] = None) -> str:
    items = ""
    if legend:
        x = LEFT
        cells = []
        for name, color in legend:
            cells.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{color}" class="key"/>'
                         f'<text x="{x + 14}" y="{HEIGHT - 5}" class="legend">{escape(name)}</text>')
            x += 22 + 7 * len(name)
        items = "".join(cells)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" role="img" aria-label="{escape(label)}">' + "".join(body) + items + "</svg>")


def stacked_bars(label: str, days: Sequence[dt.date], series: Dict[str, Sequence[int]]) -> str:
    """One bar per day, one coloured segment per series with a non-zero value that day."""
    names = list(series)
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    totals = [sum(series[n][i] for n in names) for i in range(len(days))]
    y_max = nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar_w = max(1.0, slot * 0.8)

    def x_of(i: int) -> float:
        return LEFT + slot * i + slot / 2

    body = _frame(y_max, "", days, x_of)
    for i, day in enumerate(days):
        base = 0.0
        for name in names:
            value = series[name][i]
            if not value:
                continue
            h = plot_h * value / y_max
            y = TOP + plot_h - plot_h * (base + value) / y_max
            body.append(f'<rect class="bar" x="{x_of(i) - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                        f'height="{h:.1f}" fill="{colors[name]}"><title>{day:%Y-%m-%d} {escape(name)}: '
                        f'{value}</title></rect>')
            base += value
    return _svg(label, body, [(n, colors[n]) for n in names])


def line_chart(label: str, days: Sequence[dt.date], values: Sequence[Optional[float]], color: str = PALETTE[0],
               y_max: Optional[float] = None, y_suffix: str = "", area: bool = False) -> str:
    """A line through the known values (gaps where a value is None) with one point per known value."""
    known = [v for v in values if v is not None]
    top = y_max if y_max is not None else nice_max(max(known, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))

    def x_of(i: int) -> float:
        return LEFT + slot * i + slot / 2

    def y_of(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    body = _frame(top, y_suffix, days, x_of)
    runs: List[List[Tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
        else:
            runs[-1].append((x_of(i), y_of(v)))
    for run in (r for r in runs if r):
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        if area:
            floor = TOP + plot_h
            body.append(f'<polygon class="area" points="{run[0][0]:.1f},{floor} {coords} {run[-1][0]:.1f},{floor}" '
                        f'fill="{color}" fill-opacity="0.18"/>')
        body.append(f'<polyline class="line" points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
    for i, (day, v) in enumerate(zip(days, values, strict=True)):
        if v is not None:
            body.append(f'<circle class="pt" cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="3" fill="{color}">'
                        f'<title>{day:%Y-%m-%d}: {_fmt(v)}{y_suffix}</title></circle>')
    return _svg(label, body)
