"""The 24-hour chart of deliveries and failures, drawn on the server as SVG.

No chart library and no script: the browser shows plain SVG elements with presentation
attributes (``fill``, ``stroke``), which the Content-Security-Policy allows (no ``style``).
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from markupsafe import Markup

from hub.dashboard.formatting import LOCAL_TZ

__all__ = ["deliveries_chart"]

WIDTH, HEIGHT = 480, 120
LEFT, BOTTOM, TOP = 34, 18, 6
DELIVERED, FAILED = "#2e7d32", "#c62828"


def _nice_max(value: int) -> int:
    for step in (1, 2, 5):
        for power in range(0, 9):
            candidate = int(step * 10**power)
            if candidate >= value:
                return candidate
    return value


def deliveries_chart(
    series: list[tuple[int, int]], *, start: float, bucket_seconds: int, label: str
) -> Markup:
    """Stacked bars per bucket (delivered below, failed on top), an axis with the maximum and
    a time label every six hours (Bucharest time)."""
    n = max(1, len(series))
    top = _nice_max(max((d + f for d, f in series), default=0) or 1)
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    bar_w = plot_w / n
    total_ok = sum(d for d, _ in series)
    total_failed = sum(f for _, f in series)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(label)}">',
        f"<title>{escape(label)}: {total_ok} livrate, {total_failed} eșuate</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 4}" y2="{TOP + plot_h}" '
        'stroke="#888" stroke-width="1"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10" '
        f'fill="#444">{top}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" font-size="10" '
        'fill="#444">0</text>',
    ]
    for i, (ok, failed) in enumerate(series):
        x = LEFT + i * bar_w
        h_ok = plot_h * ok / top
        h_failed = plot_h * failed / top
        if ok:
            parts.append(
                f'<rect class="ok" x="{x:.1f}" y="{TOP + plot_h - h_ok:.1f}" '
                f'width="{max(1.0, bar_w - 1):.1f}" height="{h_ok:.1f}" fill="{DELIVERED}">'
                f"<title>{ok} livrate</title></rect>"
            )
        if failed:
            parts.append(
                f'<rect class="failed" x="{x:.1f}" y="{TOP + plot_h - h_ok - h_failed:.1f}" '
                f'width="{max(1.0, bar_w - 1):.1f}" height="{h_failed:.1f}" fill="{FAILED}">'
                f"<title>{failed} eșuate</title></rect>"
            )
    per_label = max(1, (6 * 3600) // bucket_seconds)
    for i in range(0, n + 1, per_label):
        at = datetime.fromtimestamp(start + i * bucket_seconds, LOCAL_TZ)
        x = LEFT + i * bar_w
        anchor = "end" if i == n else "start" if i == 0 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 4}" text-anchor="{anchor}" font-size="10" '
            f'fill="#444">{at:%H:%M}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
