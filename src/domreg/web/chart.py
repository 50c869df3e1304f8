"""The dashboard's activity chart: stacked bars per day as inline SVG, drawn on the server
(no script), with a title and description for screen readers."""

from __future__ import annotations

from datetime import date
from html import escape

SERIES = ("create", "renew", "transfer", "delete")


def bars(data: list[tuple[date, dict[str, int]]], width: int = 760, height: int = 220) -> str:
    left, bottom, top = 36, 24, 10
    plot_w, plot_h = width - left - 6, height - bottom - top
    peak = max([sum(v.values()) for _, v in data] + [1])
    step = plot_w / max(len(data), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Domain activity per day</title>',
        '<desc id="chart-desc">'
        + escape(
            "; ".join(
                f"{day.isoformat()}: " + ", ".join(f"{v[s]} {s}" for s in SERIES)
                for day, v in data
                if sum(v.values())
            )
            or "No activity in this period."
        )
        + "</desc>",
    ]
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<line x1="{left}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{round(peak * frac)}</text>"
        )
    for i, (day, values) in enumerate(data):
        x = left + i * step + step * 0.15
        y = top + plot_h
        for s in SERIES:
            h = plot_h * values[s] / peak
            if h > 0:
                y -= h
                parts.append(
                    f'<rect class="s-{s}" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
                    f'height="{h:.1f}"><title>{day.isoformat()}: {values[s]} {s}</title></rect>'
                )
        if i % 5 == 0 or i == len(data) - 1:
            parts.append(
                f'<text x="{x + step * 0.35:.1f}" y="{height - 6}" font-size="11" '
                f'text-anchor="middle">{day.strftime("%m-%d")}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
