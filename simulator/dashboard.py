"""Plotly figures of a run and the standalone HTML dashboard that composes them.

The figures are plain ``plotly.graph_objects.Figure`` objects, so a notebook shows exactly what
the dashboard shows. ``write_dashboard_html`` is the one page writer (runs and sweeps use it):
plotly.js is embedded once in the page head, every figure follows as a ``<div>`` without its own
copy, and the page is written atomically, so it opens offline and is never seen half-written.
"""

from __future__ import annotations

import colorsys
import html
from collections.abc import Iterable, Mapping
from pathlib import Path

import plotly.graph_objects as go

from simulator.results import atomic_write_text

FIRM_PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#e6550d", "#31a354", "#843c39", "#7b4173", "#3182bd",
    "#fdae6b", "#74c476", "#e7969c", "#9e9ac8",
)
"""Distinct colours for the first firms (D3 category10, then darker/lighter companions)."""

PLOT_CONFIG: dict = {"displaylogo": False, "responsive": True}


def firm_colors(firms: Iterable[str]) -> dict[str, str]:
    """A stable colour per firm, so one firm looks the same in every panel of every dashboard.

    Colours are assigned in sorted name order, so the same set of firms gets the same colours
    whatever order the frames list them in. Beyond the palette, colours continue around the
    hue circle by the golden angle, which keeps neighbours distinguishable for any count.
    """
    names = sorted({str(firm) for firm in firms})
    colors: dict[str, str] = {}
    for index, name in enumerate(names):
        if index < len(FIRM_PALETTE):
            colors[name] = FIRM_PALETTE[index]
        else:
            hue = (index * 0.618033988749895) % 1.0
            lightness = (0.35, 0.5, 0.65)[index % 3]
            red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.65)
            colors[name] = f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"
    return colors


_PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header { padding: 16px 24px; background: #fff; border-bottom: 1px solid #ddd; }
header h1 { margin: 0 0 6px 0; font-size: 1.5em; }
header p { margin: 4px 0; max-width: 70em; }
dl.facts { display: flex; flex-wrap: wrap; gap: 8px 12px; margin: 10px 0 0 0; }
dl.facts div { background: #f2f4f7; border-radius: 6px; padding: 6px 10px; }
dl.facts dt { font-size: 0.75em; color: #666; text-transform: uppercase; letter-spacing: .03em; }
dl.facts dd { margin: 0; font-weight: 600; }
main { padding: 8px 16px 24px 16px; }
section.figure { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px;
                 margin: 12px 0; padding: 4px; }
footer { color: #888; font-size: 0.8em; padding: 0 24px 16px 24px; }
"""


def _header_html(title: str, header: Mapping[str, str] | str) -> str:
    """The page header: a title plus either text paragraphs or a row of labelled facts."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if isinstance(header, str):
        parts += [f"<p>{html.escape(paragraph.strip())}</p>"
                  for paragraph in header.split("\n\n") if paragraph.strip()]
    else:
        facts = "".join(f"<div><dt>{html.escape(str(label))}</dt><dd>{html.escape(str(value))}</dd>"
                        "</div>" for label, value in header.items())
        parts.append(f'<dl class="facts">{facts}</dl>')
    return "<header>" + "".join(parts) + "</header>"


def dashboard_html(title: str, header: Mapping[str, str] | str,
                   figures: Iterable[go.Figure]) -> str:
    """The standalone page as a string: plotly.js once in the head, then one div per figure."""
    from plotly.offline import get_plotlyjs

    sections = []
    for figure in figures:
        div = figure.to_html(full_html=False, include_plotlyjs=False, config=PLOT_CONFIG)
        sections.append(f'<section class="figure">{div}</section>')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_PAGE_CSS}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        f"{_header_html(title, header)}\n<main>\n" + "\n".join(sections) + "\n</main>\n"
        "<footer>Made by llm-market (simulator.dashboard). Opens offline: plotly.js is embedded."
        "</footer>\n</body>\n</html>\n"
    )


def write_dashboard_html(path: str | Path, title: str, header: Mapping[str, str] | str,
                         figures: Iterable[go.Figure]) -> Path:
    """Compose figures into one standalone HTML page at ``path``, written atomically.

    ``header`` is either a mapping of label -> value (shown as a row of facts) or plain text
    (escaped; blank lines separate paragraphs). plotly.js is embedded exactly once, so the page
    opens offline and its size is ~4.6 MB plus the figures' data.
    """
    path = Path(path)
    atomic_write_text(path, dashboard_html(title, header, figures))
    return path
