"""The page shell: one standalone HTML page of plotly figures (firm colours: ``colors``).

``write_dashboard_html`` is the one page writer (runs and sweeps use it): plotly.js is embedded
once in the page head, every figure follows as a ``<div>`` without its own copy, and the page is
written atomically, so it opens offline and is never seen half-written. Nothing here knows what
a run or a sweep is.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from pathlib import Path

import plotly.graph_objects as go

from simulator.atomic import atomic_write_text
from simulator.dashboard.colors import FIRM_PALETTE, OPEN_MODEL_COLOR, firm_colors

__all__ = [
    "FIRM_PALETTE",
    "OPEN_MODEL_COLOR",
    "PLOT_CONFIG",
    "dashboard_html",
    "firm_colors",
    "write_dashboard_html",
]

PLOT_CONFIG: dict = {"displaylogo": False, "responsive": True}


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


def _header_html(title: str, header: Mapping[str, str] | str, description: str = "") -> str:
    """The page header: a title, an optional description, then text or labelled facts."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    texts = [description] if description else []
    if isinstance(header, str):
        texts.append(header)
    for text in texts:
        parts += [
            f"<p>{html.escape(paragraph.strip())}</p>"
            for paragraph in text.split("\n\n")
            if paragraph.strip()
        ]
    if not isinstance(header, str) and header:
        facts = "".join(
            f"<div><dt>{html.escape(str(label))}</dt><dd>{html.escape(str(value))}</dd></div>"
            for label, value in header.items()
        )
        parts.append(f'<dl class="facts">{facts}</dl>')
    return "<header>" + "".join(parts) + "</header>"


_LINK_LEGENDS_JS = """
// A legend click on one figure shows/hides that legend group (a firm) in every figure.
window.addEventListener("load", function () {
  var plots = Array.prototype.slice.call(document.querySelectorAll(".js-plotly-plot"));
  plots.forEach(function (source) {
    source.on("plotly_legendclick", function (event) {
      var group = event.data[event.curveNumber].legendgroup;
      if (!group) { return true; }
      var shown = event.data[event.curveNumber].visible !== "legendonly";
      plots.forEach(function (plot) {
        var indices = [];
        plot.data.forEach(function (trace, index) {
          if (trace.legendgroup === group && trace.visible !== false) { indices.push(index); }
        });
        if (indices.length) {
          Plotly.restyle(plot, {visible: shown ? "legendonly" : true}, indices);
        }
      });
      return false;
    });
  });
});
"""


def dashboard_html(
    title: str,
    header: Mapping[str, str] | str,
    figures: Iterable[go.Figure],
    description: str = "",
    link_legends: bool = False,
) -> str:
    """The standalone page as a string: plotly.js once in the head, then one div per figure."""
    from plotly.offline import get_plotlyjs

    sections = []
    for index, figure in enumerate(figures):  # fixed div ids: the same run, the same bytes
        div = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            config=PLOT_CONFIG,
            auto_play=False,
            div_id=f"figure-{index + 1}",
        )
        sections.append(f'<section class="figure">{div}</section>')
    link_script = f"<script>{_LINK_LEGENDS_JS}</script>\n" if link_legends else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_PAGE_CSS}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        f"{_header_html(title, header, description)}\n<main>\n"
        + "\n".join(sections)
        + "\n</main>\n<footer>Made by llm-market (simulator.dashboard). Opens offline: plotly.js "
        f"is embedded.</footer>\n{link_script}</body>\n</html>\n"
    )


def write_dashboard_html(
    path: str | Path,
    title: str,
    header: Mapping[str, str] | str,
    figures: Iterable[go.Figure],
    *,
    description: str = "",
    link_legends: bool = False,
) -> Path:
    """Compose figures into one standalone HTML page at ``path``, written atomically.

    ``header`` is either a mapping of label -> value (shown as a row of facts) or plain text
    (escaped; blank lines separate paragraphs); ``description`` adds a paragraph under the
    title. plotly.js is embedded exactly once, so the page opens offline and weighs ~4.6 MB
    plus the figures' data. ``link_legends``: clicking a legend entry toggles the traces of
    the same ``legendgroup`` in every figure (used for one-group-per-firm dashboards).
    """
    path = Path(path)
    atomic_write_text(path, dashboard_html(title, header, figures, description, link_legends))
    return path
