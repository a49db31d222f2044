"""Small HTML building blocks: every value goes through `esc`, charts are inline SVG."""
from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any


def esc(value: Any) -> str:
    if value is None:
        return ""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def fmt_number(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool):
        return esc(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f")
    if isinstance(value, float):
        return esc(f"{value:.{digits}f}") if math.isfinite(value) else esc(value)
    return esc(value)


def fmt_json(value: Any) -> str:
    if isinstance(value, str):
        return esc(value)
    return esc(json.dumps(value, ensure_ascii=False, sort_keys=False, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = (),
          empty: str = "aucune donnée") -> str:
    """`rows` cells are already-escaped HTML fragments; headers are escaped here."""
    if not rows:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{c}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def svg_bars(labels: Sequence[str], values: Sequence[int | float], title: str, x_label: str = "",
             width: int = 720, height: int = 220) -> str:
    """A vertical bar chart as inline SVG (labels and title escaped)."""
    if not values or not any(values):
        return f'<p class="empty">{esc(title)} : aucune donnée</p>'
    top, bottom, left, right = 24, 44, 8, 8
    plot_h = height - top - bottom
    n = len(values)
    slot = (width - left - right) / n
    bar_w = max(1.0, slot * 0.8)
    vmax = max(values) or 1
    parts = [f'<svg role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{esc(title)}">',
             f'<title>{esc(title)}</title>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="axis"/>']
    label_every = max(1, math.ceil(n / 24))
    for i, (label, value) in enumerate(zip(labels, values)):
        h = 0 if not value else max(1.0, plot_h * value / vmax)
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        cx = x + bar_w / 2
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" class="bar">'
                     f'<title>{esc(label)} : {fmt_number(value)}</title></rect>')
        if value:
            parts.append(f'<text x="{cx:.1f}" y="{y - 4:.1f}" class="val">{fmt_number(value)}</text>')
        if i % label_every == 0:
            parts.append(f'<text x="{cx:.1f}" y="{top + plot_h + 14}" class="lbl">{esc(label)}</text>')
    if x_label:
        parts.append(f'<text x="{width / 2:.1f}" y="{height - 6}" class="lbl">{esc(x_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def hbar(value: float, vmax: float) -> str:
    """A horizontal CSS bar (for seconds per stage or partition)."""
    pct = 0.0 if not vmax else max(0.0, min(100.0, 100.0 * value / vmax))
    return f'<span class="hbar" style="width:{pct:.1f}%"></span>'


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2933;padding:0 1rem;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d9e2ec}
.meta{color:#52606d}.empty{color:#7b8794;font-style:italic}
.warning{background:#fff3c4;border:1px solid #f0b429;border-radius:6px;padding:.5rem .9rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d9e2ec;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f4f8}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.bar{width:260px}.hbar{display:inline-block;height:.8rem;background:#3e7bfa;border-radius:2px}
code{font-size:.85rem;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #d9e2ec;border-radius:6px;padding:.5rem .9rem}
.card b{display:block;font-size:1.3rem}
svg .bar{fill:#3e7bfa}svg .axis{stroke:#9aa5b1}svg text{font-size:10px;text-anchor:middle;fill:#52606d}
"""
