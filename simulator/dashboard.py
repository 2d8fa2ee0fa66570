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

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator import metrics
from simulator.atomic import atomic_write_text
from simulator.results import RunResult, read_run

FIRM_PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#dbdb8d", "#9edae5", "#393b79",
)
"""Colours of the first 20 firms: D3 category10, then its light companions (tab20), which
differ from the first ten by lightness, so neighbours in a stack stay distinguishable."""

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


def _header_html(title: str, header: Mapping[str, str] | str, description: str = "") -> str:
    """The page header: a title, an optional description, then text or labelled facts."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    texts = [description] if description else []
    if isinstance(header, str):
        texts.append(header)
    for text in texts:
        parts += [f"<p>{html.escape(paragraph.strip())}</p>"
                  for paragraph in text.split("\n\n") if paragraph.strip()]
    if not isinstance(header, str) and header:
        facts = "".join(f"<div><dt>{html.escape(str(label))}</dt><dd>{html.escape(str(value))}</dd>"
                        "</div>" for label, value in header.items())
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


def dashboard_html(title: str, header: Mapping[str, str] | str, figures: Iterable[go.Figure],
                   description: str = "", link_legends: bool = False) -> str:
    """The standalone page as a string: plotly.js once in the head, then one div per figure."""
    from plotly.offline import get_plotlyjs

    sections = []
    for index, figure in enumerate(figures):  # fixed div ids: the same run, the same bytes
        div = figure.to_html(full_html=False, include_plotlyjs=False, config=PLOT_CONFIG,
                             auto_play=False, div_id=f"figure-{index + 1}")
        sections.append(f'<section class="figure">{div}</section>')
    link_script = f"<script>{_LINK_LEGENDS_JS}</script>\n" if link_legends else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_PAGE_CSS}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        f"{_header_html(title, header, description)}\n<main>\n" + "\n".join(sections) +
        "\n</main>\n<footer>Made by llm-market (simulator.dashboard). Opens offline: plotly.js "
        f"is embedded.</footer>\n{link_script}</body>\n</html>\n"
    )


def write_dashboard_html(path: str | Path, title: str, header: Mapping[str, str] | str,
                         figures: Iterable[go.Figure], *, description: str = "",
                         link_legends: bool = False) -> Path:
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


# --------------------------------------------------------------------------------------------
# Figures of one run
# --------------------------------------------------------------------------------------------

MAX_FIRM_TRACES = 24
"""Firms drawn one by one; beyond this the smallest (by peak share) are folded into 'others'."""

MAX_POINTS = 2000
"""Longest time series drawn; longer runs are thinned to every k-th step (last step kept)."""

MAX_NETWORK_FRAMES = 60
"""Slider positions of the network figure; long runs show every k-th step."""

OTHERS = "other firms"
OTHERS_COLOR = "#b0b0b0"
SERVED_COLOR = "#222222"

EDGE_STYLES: dict[str, tuple[str, str]] = {
    "joint_rd": ("#6a3d9a", "solid"),
    "market_sharing": ("#e31a1c", "dash"),
    "alliance": ("#33a02c", "dot"),
}
"""Colour and dash per partnership type; unknown types are drawn grey and solid."""

HHI_BAND_COLORS = ("#2ca02c", "#ffbf00", "#d62728")
HHI_BAND_TEXT_COLORS = ("#1b6e1b", "#8a6500", "#a31d1d")

Event = dict[str, object]


def _array(values, digits: int | None = None) -> np.ndarray:
    """Compact float32 data: plotly encodes numpy arrays as base64, ~5 bytes per value."""
    array = np.asarray(values, dtype=float)
    if digits is not None:
        array = np.round(array, digits)
    return array.astype(np.float32)


def _steps(values) -> np.ndarray:
    """Step numbers as the smallest integer type that holds them (int16 for runs < 32,768)."""
    steps = np.asarray(values, dtype=np.int64)
    small = steps.size == 0 or (steps.min() >= -32768 and steps.max() <= 32767)
    return steps.astype(np.int16 if small else np.int32)


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of every k-th step so no series exceeds MAX_POINTS (first and last steps stay)."""
    steps = np.sort(frame["step"].unique())
    if len(steps) <= MAX_POINTS:
        return frame
    stride = int(np.ceil(len(steps) / MAX_POINTS))
    chosen = set(steps[::stride].tolist()) | {int(steps[-1])}
    return frame[frame["step"].isin(chosen)]


def run_colors(result: RunResult) -> dict[str, str]:
    """The firm colours of a run: every firm that ever appears, plus the 'others' grey."""
    colors = firm_colors(result.firms["firm"].astype(str).unique())
    colors[OTHERS] = OTHERS_COLOR
    return colors


def shown_firms(result: RunResult, limit: int | None = None) -> list[str]:
    """Firms drawn individually: all of them, or the ``limit`` (default MAX_FIRM_TRACES) with
    the largest peak share.

    Ordered by first appearance then scenario order, so legends read like the scenario.
    """
    limit = MAX_FIRM_TRACES if limit is None else limit
    firms = result.firms
    order = list(dict.fromkeys(firms.sort_values(["step", "firm_id"] if "firm_id" in firms
                                                 else ["step"])["firm"].astype(str)))
    if len(order) <= limit:
        return order
    peak = firms.groupby("firm")["share"].max()
    largest = set(peak.sort_values(ascending=False).index[:limit].astype(str))
    return [firm for firm in order if firm in largest]


def scenario_events(result: RunResult) -> list[Event]:
    """Scheduled events of the run's scenario as dicts with step, label and kind (may be [])."""
    raw = getattr(result.scenario, "events", None) or []
    return normalize_events(raw)


def normalize_events(events) -> list[Event]:
    """Events as dicts with step, label, kind and detail (the event's other fields, for hover).

    Accepts mappings, pydantic models or plain objects with ``step`` and optional ``label`` and
    ``kind``; a missing label falls back to the kind ('compute_price' -> 'compute price').
    """
    normalized: list[Event] = []
    for event in events or []:
        if hasattr(event, "model_dump"):
            event = event.model_dump(mode="json")
        elif not isinstance(event, Mapping):
            event = vars(event)
        if event.get("step") is None:
            continue
        kind = str(event.get("kind") or "")
        label = str(event.get("label") or kind.replace("_", " ") or "event")
        detail = ", ".join(f"{key}={value}" for key, value in event.items()
                           if key not in ("step", "label", "kind") and value not in (None, "", []))
        normalized.append({"step": int(event["step"]), "label": label, "kind": kind,
                           "detail": detail})
    return sorted(normalized, key=lambda e: e["step"])


def _axis_pairs(figure: go.Figure) -> list[tuple[str, str]]:
    """The (x axis, y axis) pairs that carry traces, e.g. [('x', 'y'), ('x2', 'y2')]."""
    pairs = dict.fromkeys((trace.xaxis or "x", trace.yaxis or "y") for trace in figure.data
                          if hasattr(trace, "xaxis"))
    return list(pairs) or [("x", "y")]


def add_event_markers(figure: go.Figure, events) -> go.Figure:
    """Draw each scheduled event as a vertical dotted line on every time axis, labelled once.

    Shapes are named ``event: <label>`` so tests and readers can find them.
    """
    events = normalize_events(events)
    pairs = _axis_pairs(figure)
    has_subplot_titles = len(figure.layout.annotations) > 0  # labels go above those titles
    top_x = min(pairs, key=lambda pair: _axis_top(figure, pair[1]))[0] if pairs else "x"
    for event in events:
        for x_axis, y_axis in pairs:
            figure.add_shape(type="line", xref=x_axis, yref=f"{y_axis} domain", x0=event["step"],
                             x1=event["step"], y0=0, y1=1, layer="above",
                             line={"color": "#555", "width": 1, "dash": "dot"},
                             name=f"event: {event['label']}")
        kind = ", ".join(part for part in (event["kind"], event["detail"]) if part)
        kind = f" ({kind})" if kind else ""
        figure.add_annotation(x=event["step"], xref=top_x, y=1.0, yref="paper", yanchor="bottom",
                              yshift=24 if has_subplot_titles else 0,
                              text=html.escape(str(event["label"])), showarrow=False,
                              textangle=-30, xanchor="left", font={"size": 10, "color": "#444"},
                              hovertext=html.escape(
                                  f"step {event['step']}: {event['label']}{kind}"),
                              name=f"event: {event['label']}")
    if events:
        figure.update_layout(margin={"t": max(_top_margin(figure),
                                              130 if has_subplot_titles else 110)})
    return figure


def _axis_top(figure: go.Figure, y_axis: str) -> float:
    axis = figure.layout[f"yaxis{y_axis[1:]}"] if y_axis != "y" else figure.layout.yaxis
    domain = axis.domain if axis is not None and axis.domain is not None else (0, 1)
    return -float(domain[1])


def _top_margin(figure: go.Figure) -> int:
    margin = figure.layout.margin
    return int(margin.t) if margin is not None and margin.t is not None else 80


LEAN_TEMPLATE = go.layout.Template(layout={
    "font": {"family": "system-ui, Segoe UI, Roboto, sans-serif", "color": "#2a3f5f"},
    "paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": list(FIRM_PALETTE),
    "hoverlabel": {"align": "left"},
    "xaxis": {"gridcolor": "#ebf0f8", "linecolor": "#ebf0f8", "zerolinecolor": "#ebf0f8",
              "automargin": True},
    "yaxis": {"gridcolor": "#ebf0f8", "linecolor": "#ebf0f8", "zerolinecolor": "#ebf0f8",
              "automargin": True},
})
"""A white theme in ~0.4 kB (plotly_white is ~7 kB, repeated in every figure of a page)."""


def _base_layout(figure: go.Figure, title: str, height: int = 460) -> go.Figure:
    figure.update_layout(title={"text": title, "x": 0.01}, height=height, template=LEAN_TEMPLATE,
                         hovermode="x unified", legend={"title": {"text": "firm"}},
                         margin={"l": 70, "r": 30, "t": 80, "b": 50})
    figure.update_xaxes(title_text=None)
    return figure


def firm_lifetimes(result: RunResult) -> tuple[list[Event], list[Event]]:
    """Entries and exits: from summary.json when recorded, else from the firm rows.

    A firm whose first row is after the run's first step entered then; one whose last row is
    before the run's last step exited then.
    """
    firms, summary = result.firms, result.summary or {}
    first_step, last_step = int(result.model["step"].min()), int(result.model["step"].max())
    span = firms.groupby("firm")["step"].agg(["min", "max"])
    entries = [{"firm": str(e.get("firm")), "step": int(e.get("step")),
                "detail": str(e.get("archetype") or "")}
               for e in summary.get("entries") or [] if e.get("step") is not None]
    exits = [{"firm": str(e.get("firm")), "step": int(e.get("step")),
              "detail": str(e.get("reason") or "")}
             for e in summary.get("exits") or [] if e.get("step") is not None]
    if not entries:
        entries = [{"firm": str(firm), "step": int(row["min"]), "detail": ""}
                   for firm, row in span.iterrows() if row["min"] > first_step]
    if not exits:
        exits = [{"firm": str(firm), "step": int(row["max"]), "detail": ""}
                 for firm, row in span.iterrows() if row["max"] < last_step]
    return entries, exits


def _share_views(result: RunResult) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """Per view ('all segments' or a segment): wide inside-sales shares and the served share."""
    model = _thin(result.model)
    views: dict[str, tuple[pd.DataFrame, pd.Series]] = {}
    total = _thin(result.firms).pivot_table(index="step", columns="firm", values="share",
                                            aggfunc="sum")
    served = pd.Series(1.0 - model["outside_share"].to_numpy(), index=model["step"].to_numpy())
    views["all segments"] = (total, served)
    segments = _thin(result.segments)
    for segment, rows in segments.groupby("segment", sort=False):
        sales = rows.pivot_table(index="step", columns="firm", values="sales", aggfunc="sum")
        inside = sales.sum(axis=1)
        shares = sales.div(inside.where(inside > 0), axis=0)
        views[str(segment)] = (shares, rows.groupby("step")["share"].sum())
    return views


def _fold_others(wide: pd.DataFrame, shown: list[str]) -> pd.DataFrame:
    """Keep the shown firms' columns; sum the rest into one 'other firms' column."""
    hidden = [firm for firm in wide.columns if firm not in shown]
    folded = wide[[firm for firm in shown if firm in wide.columns]].copy()
    if hidden:
        folded[OTHERS] = wide[hidden].sum(axis=1, min_count=1)
    return folded


def share_figure(result: RunResult, segment: str | None = None,
                 events=None) -> go.Figure:
    """Market shares over time as a stacked area per firm, entries and exits marked.

    Shares are each firm's share of the *inside* sales (units sold by all firms, the outside
    option excluded; the definition HHI uses), so every stack sums to exactly 1. The dashed
    line is the served share: 1 - outside share, i.e. the fraction of potential demand that
    buys from any firm (for a segment: the sum of the firms' logit choice probabilities).
    ``segment=None`` shows all segments with a selector to switch to each segment; naming a
    segment shows only it. ``events`` default to the scenario's scheduled events.
    """
    colors, shown = run_colors(result), shown_firms(result)
    views = _share_views(result)
    if segment is not None:
        if segment not in views:
            raise ValueError(f"unknown segment {segment!r}; known: {', '.join(list(views)[1:])}")
        views = {segment: views[segment]}
    figure = go.Figure()
    view_traces: list[list[int]] = []
    for view_index, (name, (wide, served)) in enumerate(views.items()):
        wide = _fold_others(wide, shown)
        indices = []
        for firm in wide.columns:
            column = wide[firm].dropna()
            indices.append(len(figure.data))
            figure.add_trace(go.Scatter(
                x=_steps(column.index), y=_array(column.to_numpy(), 5), name=firm,
                legendgroup=firm, stackgroup="shares", mode="lines", line={"width": 0.5,
                "color": colors.get(firm, OTHERS_COLOR)}, fillcolor=colors.get(firm, OTHERS_COLOR),
                visible=view_index == 0, meta={"firm": firm, "view": name},
                hovertemplate="%{fullData.name}: %{y:.1%}<extra></extra>"))
        indices.append(len(figure.data))
        figure.add_trace(go.Scatter(
            x=_steps(served.index), y=_array(served.to_numpy(), 5),
            name="served (1 − outside share)", legendgroup="served", mode="lines",
            line={"color": SERVED_COLOR, "dash": "dash", "width": 1.5}, visible=view_index == 0,
            meta={"view": name, "role": "served"},
            hovertemplate="served: %{y:.1%}<extra></extra>"))
        view_traces.append(indices)
    entries, exits = firm_lifetimes(result)
    marker_index = _add_lifetime_markers(figure, entries, exits, colors)
    if len(views) > 1:
        buttons = []
        for name, indices in zip(views, view_traces, strict=True):
            visible = [False] * len(figure.data)
            for index in indices + marker_index:
                visible[index] = True
            title = "Market share of inside sales — " + name
            buttons.append({"label": name, "method": "update",
                            "args": [{"visible": visible}, {"title.text": title}]})
        figure.update_layout(updatemenus=[{
            "buttons": buttons, "direction": "down", "showactive": True, "active": 0,
            "x": 1.0, "xanchor": "right", "y": 1.13, "yanchor": "bottom"}])
    title = "Market share of inside sales — " + next(iter(views))
    _base_layout(figure, title, height=480)
    figure.update_yaxes(title_text="share (stack = 100% of firms' sales)", tickformat=".0%",
                        range=[0, 1.08])
    figure.update_xaxes(title_text="step")
    return add_event_markers(figure, scenario_events(result) if events is None else events)


def _add_lifetime_markers(figure: go.Figure, entries: list[Event], exits: list[Event],
                          colors: dict[str, str]) -> list[int]:
    """One marker trace for entries (triangles) and exits (crosses) above the stack."""
    if not entries and not exits:
        return []
    rows = [(e, "enters", "triangle-down") for e in entries] + \
           [(e, "exits", "x") for e in exits]
    figure.add_trace(go.Scatter(
        x=_steps([e["step"] for e, _, _ in rows]), y=_array([1.04] * len(rows)),
        mode="markers", name="entry / exit", legendgroup="entry / exit",
        marker={"symbol": [symbol for _, _, symbol in rows], "size": 11,
                "color": [colors.get(e["firm"], OTHERS_COLOR) for e, _, _ in rows],
                "line": {"width": 1, "color": "#333"}},
        text=[f"{e['firm']} {verb} at step {e['step']}" + (f" ({e['detail']})" if e["detail"]
              else "") for e, verb, _ in rows],
        hovertemplate="%{text}<extra></extra>", meta={"role": "lifetimes"}))
    for event, verb, _ in rows[:50]:
        figure.add_shape(type="line", xref="x", yref="y", x0=event["step"], x1=event["step"],
                         y0=0, y1=1, line={"color": colors.get(event["firm"], OTHERS_COLOR),
                                           "width": 1.5, "dash": "dashdot"},
                         name=f"{'entry' if verb == 'enters' else 'exit'}: {event['firm']}")
    return [len(figure.data) - 1]


def _firm_lines(figure: go.Figure, wide: pd.DataFrame, colors: dict[str, str],
                hover: str, row: int | None = None, col: int | None = None,
                showlegend: bool = True, digits: int = 4) -> None:
    """One line per firm column of ``wide`` (index: step), grouped by firm across panels."""
    for firm in wide.columns:
        column = wide[firm].dropna()
        trace = go.Scatter(x=_steps(column.index), y=_array(column.to_numpy(), digits), name=firm,
                           legendgroup=firm, showlegend=showlegend, mode="lines",
                           line={"color": colors.get(firm, OTHERS_COLOR), "width": 1.8},
                           meta={"firm": firm}, hovertemplate=f"%{{fullData.name}}: {hover}"
                           "<extra></extra>")
        figure.add_trace(trace, row=row, col=col) if row else figure.add_trace(trace)


def _wide(frame: pd.DataFrame, value: str, shown: list[str]) -> pd.DataFrame:
    rows = _thin(frame[frame["firm"].astype(str).isin(shown)])
    wide = rows.pivot_table(index="step", columns="firm", values=value, aggfunc="mean")
    return wide[[firm for firm in shown if firm in wide.columns]]


def price_figure(result: RunResult, events=None) -> go.Figure:
    """Each firm's price per step, with the sales-weighted price index for reference."""
    colors, shown = run_colors(result), shown_firms(result)
    figure = go.Figure()
    _firm_lines(figure, _wide(result.firms, "price", shown), colors, "%{y:.3f}")
    model = _thin(result.model)
    figure.add_trace(go.Scatter(
        x=_steps(model["step"]), y=_array(model["price_index"], 4), name="price index",
        legendgroup="price index", mode="lines", line={"color": SERVED_COLOR, "dash": "dash"},
        meta={"role": "price index"}, hovertemplate="price index: %{y:.3f}<extra></extra>"))
    _base_layout(figure, "Prices (money per demand unit; dashed: sales-weighted price index)")
    figure.update_yaxes(title_text="price")
    figure.update_xaxes(title_text="step")
    return add_event_markers(figure, scenario_events(result) if events is None else events)


def _grid(count: int) -> tuple[int, int]:
    cols = 1 if count == 1 else 2
    return -(-count // cols), cols


def quality_figure(result: RunResult, events=None) -> go.Figure:
    """Model quality per segment (small multiples, shared y): who leads where, and when."""
    colors, shown = run_colors(result), shown_firms(result)
    segments = list(dict.fromkeys(result.segments["segment"].astype(str)))
    rows, cols = _grid(len(segments))
    figure = make_subplots(rows=rows, cols=cols, shared_xaxes=True, shared_yaxes=True,
                           subplot_titles=segments, vertical_spacing=0.12 / max(rows - 1, 1) + 0.04,
                           horizontal_spacing=0.05)
    for index, segment in enumerate(segments):
        rows_of_segment = result.segments[result.segments["segment"].astype(str) == segment]
        _firm_lines(figure, _wide(rows_of_segment, "quality", shown), colors, "%{y:.3f}",
                    row=index // cols + 1, col=index % cols + 1, showlegend=index == 0)
    _base_layout(figure, "Model quality per segment (higher is better; 0: knows only byte "
                 "frequencies)",
                 height=max(360, 260 * rows + 120))
    figure.update_xaxes(title_text="step", row=rows)
    figure.update_xaxes(showticklabels=True)
    return add_event_markers(figure, scenario_events(result) if events is None else events)


def profit_cash_figure(result: RunResult, events=None) -> go.Figure:
    """Profit per step and cash per firm, stacked panels sharing the time axis and legend."""
    colors, shown = run_colors(result), shown_firms(result)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=("profit per step", "cash"))
    _firm_lines(figure, _wide(result.firms, "profit", shown), colors, "%{y:,.2f}", row=1, col=1,
                digits=3)
    _firm_lines(figure, _wide(result.firms, "cash", shown), colors, "%{y:,.1f}", row=2, col=1,
                showlegend=False, digits=2)
    for row in (1, 2):
        figure.add_hline(y=0, line={"color": "#999", "width": 1}, row=row, col=1)
    _base_layout(figure, "Profit and cash (money units)", height=620)
    figure.update_xaxes(title_text="step", row=2)
    return add_event_markers(figure, scenario_events(result) if events is None else events)


def _band_hover(values: np.ndarray) -> np.ndarray:
    labels = [[metrics.hhi_band(value, metrics.HHI_BANDS_2023),
               metrics.hhi_band(value, metrics.HHI_BANDS_2010)] for value in values]
    return np.array(labels, dtype=object)


def concentration_figure(result: RunResult, events=None) -> go.Figure:
    """HHI on the DOJ/FTC bands, consumer surplus, and homogenisation when the run has it.

    Shaded bands are the 2023 Merger Guidelines (<1,000 unconcentrated, 1,000-1,800 moderately,
    >1,800 highly concentrated); dotted lines mark the 2010 thresholds 1,500 and 2,500.
    """
    model = _thin(result.model)
    extra = [column for column in ("homogenization",) if column in model.columns]
    titles = ["HHI (0-10,000)", "consumer surplus (money units per step)"] + \
             ["homogenisation index" for _ in extra]
    figure = make_subplots(rows=len(titles), cols=1, shared_xaxes=True, vertical_spacing=0.07,
                           subplot_titles=titles, row_heights=[2] + [1] * (len(titles) - 1))
    hhi = model["hhi"].to_numpy(dtype=float)
    figure.add_trace(go.Scatter(
        x=_steps(model["step"]), y=_array(hhi, 1), name="HHI", mode="lines",
        line={"color": "#111", "width": 2.2}, customdata=_band_hover(hhi), meta={"role": "hhi"},
        hovertemplate="HHI %{y:,.0f}: %{customdata[0]} (2023 bands)"
                      "; %{customdata[1]} (2010 bands)<extra></extra>"), row=1, col=1)
    top = max(float(np.nanmax(hhi)) * 1.1 if len(hhi) else 0.0, 2800.0)
    top = min(top, 10_000.0)
    names_2010 = {"moderately concentrated": "2010: 1,500-2,500",
                  "highly concentrated": "2010: >2,500", "unconcentrated": "2010: <1,500"}
    for (low, high, label), color, text_color in zip(
            metrics.HHI_BANDS_2023, HHI_BAND_COLORS, HHI_BAND_TEXT_COLORS, strict=True):
        figure.add_shape(type="rect", xref="x domain", yref="y", x0=0, x1=1, y0=low,
                         y1=min(high, top), fillcolor=color, opacity=0.13, layer="below",
                         line={"width": 0}, name=f"2023 band: {label}")
        bounds = f"<{high:,.0f}" if low == 0 else \
            (f">{low:,.0f}" if high >= 10_000 else f"{low:,.0f}-{high:,.0f}")
        figure.add_annotation(xref="x domain", yref="y", x=0.995, xanchor="right",
                              y=(low + min(high, top)) / 2, showarrow=False,
                              text=f"{label} (2023: {bounds}; {names_2010[label]})",
                              font={"size": 10, "color": text_color})
    for threshold in (1500.0, 2500.0):
        figure.add_shape(type="line", xref="x domain", yref="y", x0=0, x1=1, y0=threshold,
                         y1=threshold, line={"color": "#777", "width": 1, "dash": "dot"},
                         name=f"2010 threshold {threshold:,.0f}")
        figure.add_annotation(xref="x domain", yref="y", x=0.005, xanchor="left", y=threshold,
                              yanchor="bottom", showarrow=False, font={"size": 9, "color": "#777"},
                              text=f"2010 guidelines: {threshold:,.0f}")
    figure.update_yaxes(range=[0, top], row=1, col=1, title_text="HHI")
    figure.add_trace(go.Scatter(
        x=_steps(model["step"]), y=_array(model["consumer_surplus"], 2), name="consumer surplus",
        mode="lines", line={"color": "#1f77b4"}, meta={"role": "consumer_surplus"},
        hovertemplate="consumer surplus %{y:,.1f}<extra></extra>"), row=2, col=1)
    for offset, column in enumerate(extra):
        figure.add_trace(go.Scatter(
            x=_steps(model["step"]), y=_array(model[column], 4), name=column, mode="lines",
            line={"color": "#9467bd"}, meta={"role": column},
            hovertemplate=f"{column} %{{y:.3f}}<extra></extra>"), row=3 + offset, col=1)
    _base_layout(figure, "Concentration (DOJ/FTC 2023 bands shaded; 2010 thresholds dotted) "
                 "and consumer welfare", height=560 + 160 * len(extra))
    figure.update_layout(showlegend=False)
    figure.update_xaxes(title_text="step", row=len(titles))
    return add_event_markers(figure, scenario_events(result) if events is None else events)


STRUCTURE_PANELS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "firms active (bars: entries / exits)": (("n_firms", "firms active", "#444444"),),
    "partnership links": (("n_links", "all links", "#444444"),
                          ("n_joint_rd", "joint R&D", EDGE_STYLES["joint_rd"][0]),
                          ("n_market_sharing", "market sharing", EDGE_STYLES["market_sharing"][0]),
                          ("n_alliances", "alliances", EDGE_STYLES["alliance"][0])),
    "network density and clustering": (("density", "density", "#444444"),
                                       ("clustering", "clustering", "#17becf")),
    "network components": (("components", "components", "#444444"),),
    "open source": (("open_share", "share of firms open-source", "#444444"),
                    ("best_open_quality", "best open model quality", "#2ca02c")),
    "price dispersion": (("price_dispersion", "price dispersion", "#444444"),),
    "compute price and serving cost index": (("compute_price", "compute price", "#444444"),
                                             ("cost_index", "serving cost index", "#e377c2")),
}
"""Panels of the structure figure: (model column, trace name, colour); absent columns skipped."""

STEP_LIKE = ("n_firms", "n_links", "n_joint_rd", "n_market_sharing", "n_alliances", "components",
             "compute_price", "cost_index")
"""Counts and event-driven levels: drawn as steps, not slopes."""


def structure_figure(result: RunResult, events=None) -> go.Figure:
    """Market structure over time: firm count with entries/exits and, when the run has them,
    partnership, openness, dispersion and cost-level series (one panel per theme)."""
    model = _thin(result.model)
    panels = {title: [spec for spec in specs if spec[0] in model.columns]
              for title, specs in STRUCTURE_PANELS.items()}
    panels = {title: specs for title, specs in panels.items() if specs}
    rows, cols = _grid(len(panels))
    figure = make_subplots(rows=rows, cols=cols, shared_xaxes=True, subplot_titles=list(panels),
                           vertical_spacing=0.12 / max(rows - 1, 1) + 0.05, horizontal_spacing=0.08)
    for index, (title, specs) in enumerate(panels.items()):
        row, col = index // cols + 1, index % cols + 1
        for column, name, color in specs:
            figure.add_trace(go.Scatter(
                x=_steps(model["step"]), y=_array(model[column], 4), name=name, mode="lines",
                line={"color": color, "shape": "hv" if column in STEP_LIKE else "linear"},
                showlegend=len(specs) > 1, meta={"role": column}, legendgroup=title,
                legendgrouptitle={"text": title} if len(specs) > 1 else None,
                hovertemplate=f"{name}: %{{y:,.3~f}}<extra></extra>"), row=row, col=col)
        if specs[0][0] == "n_firms":
            for flow, sign, color in (("entries", 1, "#2ca02c"), ("exits", -1, "#d62728")):
                if flow in model.columns and model[flow].abs().sum() > 0:
                    figure.add_trace(go.Bar(
                        x=_steps(model["step"]), y=_array(sign * model[flow].abs()), name=flow,
                        marker={"color": color}, meta={"role": flow},
                        hovertemplate=f"{flow}: %{{y}}<extra></extra>"), row=row, col=col)
    _base_layout(figure, "Market structure", height=max(340, 240 * rows + 110))
    figure.update_layout(barmode="relative", legend={"title": {"text": ""}})
    figure.update_xaxes(showticklabels=True)
    return add_event_markers(figure, scenario_events(result) if events is None else events)


def run_edges(result: RunResult) -> pd.DataFrame | None:
    """The run's partnership edges; None when the run has no edge table at all (older runs,
    or a folder without edges.parquet), an empty frame when no partnership ever formed."""
    edges = getattr(result, "edges", None)
    return edges if isinstance(edges, pd.DataFrame) else None


def _circle_layout(firms: list[str]) -> dict[str, tuple[float, float]]:
    """Firms on a circle in a fixed order, so nodes stay put while the slider moves."""
    angles = np.pi / 2 - 2 * np.pi * np.arange(len(firms)) / max(len(firms), 1)
    return {firm: (float(np.cos(angle)), float(np.sin(angle)))
            for firm, angle in zip(firms, angles, strict=True)}


def _network_steps(result: RunResult, events: list[Event]) -> list[int]:
    steps = np.sort(result.firms["step"].unique())
    stride = int(np.ceil(len(steps) / MAX_NETWORK_FRAMES)) if len(steps) else 1
    chosen = set(steps[::stride].tolist()) | {int(steps[-1])} if len(steps) else set()
    if stride > 1:
        chosen |= {e["step"] for e in events if e["step"] in set(steps.tolist())}
    return sorted(int(step) for step in chosen)


def _node_trace(step_rows: pd.DataFrame, positions: dict[str, tuple[float, float]],
                colors: dict[str, str]) -> go.Scatter:
    rows = step_rows[step_rows["firm"].isin(list(positions))]
    open_source = rows["open_source"].astype(bool) if "open_source" in rows else \
        pd.Series(False, index=rows.index)
    centrality = rows.get("degree_centrality")
    text = []
    for position, row in enumerate(rows.itertuples()):
        line = f"{row.firm}: share {row.share:.1%}"
        archetype = getattr(row, "archetype", None)
        if isinstance(archetype, str) and archetype:
            line += f" ({archetype})"
        if bool(open_source.iloc[position]):
            line += ", open-source"
        if centrality is not None:
            line += f", degree centrality {centrality.iloc[position]:.2f}"
        text.append(line)
    return go.Scatter(
        x=_array([positions[f][0] for f in rows["firm"]], 4),
        y=_array([positions[f][1] for f in rows["firm"]], 4),
        mode="markers+text", name="firms (size: share)", text=list(rows["firm"]),
        textposition="top center", hovertext=text, hovertemplate="%{hovertext}<extra></extra>",
        marker={"size": _array(10 + 60 * np.sqrt(rows["share"].clip(lower=0).to_numpy()), 1),
                "color": [colors.get(f, OTHERS_COLOR) for f in rows["firm"]],
                "symbol": ["diamond" if o else "circle" for o in open_source],
                "line": {"width": 1, "color": "#333"}, "opacity": 1.0},
        meta={"role": "nodes"})


def _edge_traces(step_edges: pd.DataFrame | None, positions: dict[str, tuple[float, float]],
                 types: list[str]) -> list[go.Scatter]:
    """One line trace per partnership type (always all types, so every frame matches)."""
    traces = []
    for edge_type in types:
        color, dash = EDGE_STYLES.get(edge_type, ("#888888", "solid"))
        xs: list[float | None] = []
        ys: list[float | None] = []
        if step_edges is not None:
            rows = step_edges[step_edges["type"] == edge_type]
            for source, target in zip(rows["source"].astype(str), rows["target"].astype(str),
                                      strict=True):
                if source in positions and target in positions:
                    xs += [positions[source][0], positions[target][0], None]
                    ys += [positions[source][1], positions[target][1], None]
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", name=edge_type.replace("_", " "),
                                 legendgroup=edge_type, line={"color": color, "dash": dash,
                                                              "width": 2.5},
                                 hoverinfo="skip", meta={"role": "edges", "type": edge_type}))
    return traces


def network_figure(result: RunResult, events=None) -> go.Figure:
    """The partnership network with a step slider: nodes sized by share, edges coloured by type.

    Node colours are the firm colours (diamonds: open-source models when the run records it).
    Without an edges table the figure still shows the firms, with a note saying why.
    """
    events = normalize_events(scenario_events(result) if events is None else events)
    colors = run_colors(result)
    shown = shown_firms(result)
    positions = _circle_layout(shown)
    edges = run_edges(result)
    known = list(EDGE_STYLES)
    types = known if edges is None else known + sorted(set(edges["type"].astype(str)) - set(known))
    steps = _network_steps(result, events)
    by_step = dict(tuple(result.firms.groupby("step")))
    edges_by_step = dict(tuple(edges.groupby("step"))) if edges is not None and len(edges) else {}
    event_labels: dict[int, list[str]] = {}
    for event in events:
        event_labels.setdefault(event["step"], []).append(str(event["label"]))

    def frame_data(step: int) -> list[go.Scatter]:
        return _edge_traces(edges_by_step.get(step), positions, types) + \
            [_node_trace(by_step[step], positions, colors)]

    def frame_update(step: int) -> list[dict]:
        """Only what changes between steps: frames merge into the traces, keeping the file small."""
        changing = []
        for trace in frame_data(step):
            update = {"x": trace.x, "y": trace.y}
            if trace.meta["role"] == "nodes":
                update |= {"text": trace.text, "hovertext": trace.hovertext,
                           "marker": {"size": trace.marker.size, "color": trace.marker.color,
                                      "symbol": trace.marker.symbol}}
            changing.append(update)
        return changing

    def frame_title(step: int) -> str:
        labels = event_labels.get(step)
        return f"Partnership network at step {step}" + (f" — {'; '.join(labels)}" if labels else "")

    last = steps[-1]
    figure = go.Figure(data=frame_data(last))
    trace_indices = list(range(len(figure.data)))
    figure.frames = [go.Frame(data=frame_update(step), traces=trace_indices, name=str(step),
                              layout={"title": {"text": frame_title(step)}}) for step in steps]
    slider_steps = [{"label": str(step), "method": "animate",
                     "args": [[str(step)], {"mode": "immediate", "frame": {"duration": 0,
                                                                           "redraw": True},
                                            "transition": {"duration": 0}}]} for step in steps]
    figure.update_layout(
        sliders=[{"active": len(steps) - 1, "steps": slider_steps, "x": 0.08, "len": 0.9,
                  "currentvalue": {"prefix": "step "}, "pad": {"t": 30}}],
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0.0, "y": 0, "xanchor": "left",
                      "yanchor": "top", "pad": {"t": 40}, "buttons": [
                          {"label": "▶", "method": "animate",
                           "args": [None, {"frame": {"duration": 250, "redraw": True},
                                           "fromcurrent": True, "transition": {"duration": 0}}]},
                          {"label": "❚❚", "method": "animate",
                           "args": [[None], {"mode": "immediate", "frame": {"duration": 0,
                                                                            "redraw": False}}]}]}])
    _base_layout(figure, frame_title(last), height=620)
    figure.update_layout(hovermode="closest", legend={"title": {"text": "partnership"}})
    figure.update_xaxes(visible=False, range=[-1.4, 1.4])
    figure.update_yaxes(visible=False, range=[-1.3, 1.35], scaleanchor="x")
    if edges is None:
        note = "No partnership data in this run (no edges.parquet): firms only."
    elif len(edges) == 0:
        note = "No partnerships formed in this run."
    else:
        note = ""
    if note:
        figure.add_annotation(text=note, xref="paper", yref="paper", x=0.5, y=1.02,
                              showarrow=False, font={"size": 12, "color": "#a33"}, name="note")
    if len(shown) < result.firms["firm"].nunique():
        figure.add_annotation(text=f"{len(shown)} largest of {result.firms['firm'].nunique()} "
                              "firms shown", xref="paper", yref="paper", x=1, y=0, xanchor="right",
                              showarrow=False, font={"size": 10, "color": "#666"})
    return figure


def run_figures(result: RunResult, events=None) -> dict[str, go.Figure]:
    """Every figure of the run dashboard, in page order, keyed by a short name."""
    events = scenario_events(result) if events is None else normalize_events(events)
    figures = {
        "share": share_figure(result, events=events),
        "price": price_figure(result, events=events),
        "quality": quality_figure(result, events=events),
        "profit_cash": profit_cash_figure(result, events=events),
        "concentration": concentration_figure(result, events=events),
    }
    if has_structure_data(result):
        figures["structure"] = structure_figure(result, events=events)
    figures["network"] = network_figure(result, events=events)
    return figures


def has_structure_data(result: RunResult) -> bool:
    """Whether the structure figure would say more than 'the same firms all along'."""
    extra = [spec[0] for specs in STRUCTURE_PANELS.values() for spec in specs
             if spec[0] != "n_firms"]
    entries, exits = firm_lifetimes(result)
    return bool(entries or exits or result.model["n_firms"].nunique() > 1
                or any(column in result.model.columns for column in extra))


def run_header(result: RunResult) -> dict[str, str]:
    """Headline facts for the page header, computed from the tables (not trusted summary)."""
    scenario, model, firms = result.scenario, result.model, result.firms
    summary = result.summary or {}
    last_step = int(model["step"].max())
    final = firms[firms["step"] == firms["step"].max()]
    leader = final.loc[final["share"].idxmax()] if len(final) else None
    final_hhi = float(model["hhi"].iloc[-1])
    header = {
        "scenario": scenario.name,
        "seed": str(summary.get("seed", scenario.seed)),
        "steps": f"{last_step:,}",
        "final HHI": f"{final_hhi:,.0f} — {metrics.hhi_band(final_hhi, metrics.HHI_BANDS_2023)} "
                     f"(2023); {metrics.hhi_band(final_hhi, metrics.HHI_BANDS_2010)} (2010)",
        "leader": "—" if leader is None else f"{leader['firm']} {leader['share']:.1%}",
        "consumer surplus": f"{float(model['consumer_surplus'].iloc[-1]):,.1f} per step",
        "firms": f"{int(model['n_firms'].iloc[-1])} at the end "
                 f"({firms['firm'].nunique()} over the run)",
    }
    entries, exits = firm_lifetimes(result)
    if entries or exits:
        header["entries / exits"] = f"{len(entries)} / {len(exits)}"
    return header


def load_run(run_dir: str | Path) -> RunResult:
    """A run folder as a RunResult, with its edges attached when the folder has them."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    result = read_run(run_dir)
    edges_file = run_dir / "edges.parquet"
    if not edges_file.exists():
        result.edges = None  # "not recorded", unlike an empty table ("no partnerships")
    elif run_edges(result) is None:
        result.edges = pd.read_parquet(edges_file)  # a RunResult without an edges field
    return result


def write_run_dashboard(run_dir_or_result: str | Path | RunResult,
                        path: str | Path | None = None, events=None) -> Path:
    """Write the single-run dashboard; default path: ``<run folder>/dashboard.html``."""
    if isinstance(run_dir_or_result, RunResult):
        result = run_dir_or_result
        if path is None:
            raise ValueError("write_run_dashboard: give a path when passing a RunResult")
    else:
        result = load_run(run_dir_or_result)
        path = Path(run_dir_or_result) / "dashboard.html" if path is None else path
    figures = run_figures(result, events=events)
    title = f"{result.scenario.name} — LLM market run"
    return write_dashboard_html(path, title, run_header(result), list(figures.values()),
                                description=result.scenario.description, link_legends=True)
