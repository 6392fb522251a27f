"""Pictures for markdown artifacts, as data URIs the Prefect UI renders inline (checked with Chromium).

SVG line charts are plain text built here (no plotting library to install or import); thumbnails are the
JPEG bytes the caller already has.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

import numpy as np

COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")


def data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


def line_chart(title: str, x: Sequence[float], series: dict[str, Sequence[float]], x_label: str,
               width: int = 640, height: int = 200) -> str:
    """An SVG with one polyline per series over a shared x axis, y scaled to all series, min and max labelled."""
    pad_left, pad, top = 56, 8, 24
    values = np.asarray([v for s in series.values() for v in s], dtype=np.float64)
    xs = np.asarray(x, dtype=np.float64)
    if values.size == 0 or xs.size == 0:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top}"></svg>'
    lo, hi = float(values.min()), float(values.max())
    span_y, span_x = (hi - lo) or 1.0, float(xs.max() - xs.min()) or 1.0
    plot_w, plot_h = width - pad_left - pad, height - top - 2 * pad - 12

    def point(xv: float, yv: float) -> str:
        return (f"{pad_left + (xv - xs.min()) / span_x * plot_w:.1f},"
                f"{top + pad + (1 - (yv - lo) / span_y) * plot_h:.1f}")

    lines = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              'font-family="sans-serif" font-size="11">'),
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{pad_left}" y="15" font-size="13">{escape(title)}</text>',
             f'<text x="4" y="{top + pad + 4}">{hi:.4g}</text>',
             f'<text x="4" y="{top + pad + plot_h}">{lo:.4g}</text>',
             f'<text x="{pad_left}" y="{height - 4}">{xs.min():.4g}</text>',
             f'<text x="{width - pad}" y="{height - 4}" text-anchor="end">{xs.max():.4g} {escape(x_label)}</text>']
    # Series that coincide (RSS and its running peak, most of a bag) stay apart: the first is drawn wide and
    # pale, each later one narrower and dashed on top, so every line shows where they overlap.
    for i, (name, ys) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        points = " ".join(point(float(a), float(b)) for a, b in zip(xs, ys))
        style = ('stroke-width="4" stroke-opacity="0.55"' if i == 0
                 else f'stroke-width="1.5" stroke-dasharray="{2 + 2 * i},3"')
        lines.append(f'<polyline fill="none" stroke="{color}" {style} points="{points}">'
                     f"<title>{escape(name)}</title></polyline>")
    if len(series) <= 6:  # a legend with each series' colour, right-aligned on the title line
        x_end = width - pad
        for i, name in reversed(list(enumerate(series))):
            label_w = 7 * len(name) + 6
            x_end -= label_w
            lines += [(f'<line x1="{x_end - 18}" y1="11" x2="{x_end - 4}" y2="11" stroke="{COLORS[i % len(COLORS)]}" '
                      f'stroke-width="3"/>'), f'<text x="{x_end}" y="15">{escape(name)}</text>']
            x_end -= 22
    else:
        lines.append(f'<text x="{width - pad}" y="15" text-anchor="end">{len(series)} series</text>')
    lines.append("</svg>")
    return "\n".join(lines)


def svg_image(svg: str, alt: str) -> str:
    """Markdown that shows `svg` inline."""
    return f"![{alt}]({data_uri('image/svg+xml', svg.encode())})"
