"""What every figure of a run shares: limits, firm selection and colours, thinning, compact
arrays, scheduled-event markers, the lean theme, and entries and exits."""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from simulator import schema
from simulator.dashboard.colors import FIRM_PALETTE, OPEN_MODEL_COLOR, firm_colors
from simulator.results import RunResult

READS = {
    "model": (
        "step", "hhi", "price_index", "price_dispersion", "consumer_surplus", "outside_share",
        "open_share", "best_open_quality", "homogenization", "n_firms", "entries", "exits",
        "n_links", "n_alliances", "n_joint_rd", "n_market_sharing", "density",
    ),
    "firms": (
        "step", "firm", "firm_id", "archetype", "price", "profit", "cash", "share",
        "open_weights", "degree_centrality",
    ),
    "segments": ("step", "firm", "segment", "share", "quality", "focus"),
    "edges": ("step", "source", "target", "type", "start_step"),
}  # fmt: skip
"""The output columns the dashboard reads: checked against simulator.schema at import, so a
renamed column fails here, not in a reader's browser."""
for _table, _columns in READS.items():
    schema.require(_table, _columns)

MAX_FIRM_TRACES = 24
"""Firms drawn one by one; beyond this the smallest (by peak share) are folded into 'others'."""

MAX_POINTS = 2000
"""Longest time series drawn; longer runs are thinned to every k-th step (last step kept)."""

OTHERS = "other firms"
OTHERS_COLOR = "#b0b0b0"
SERVED_COLOR = "#222222"

MEANING_COLORS: dict[str, str] = {
    "entries": "#0072b2",
    "exits": "#d55e00",
    "alliance": "#009e73",
    "joint_rd": "#6a3d9a",
    "market_sharing": "#cc79a7",
    "open_share": "#e69f00",
    "open_quality": OPEN_MODEL_COLOR,
}
"""One colour per meaning in the non-firm series (Okabe-Ito hues): entries, exits, each link
type, openness; the best open model's quality wears the open model's own colour."""

EDGE_STYLES: dict[str, tuple[str, str]] = {
    "joint_rd": (MEANING_COLORS["joint_rd"], "solid"),
    "market_sharing": (MEANING_COLORS["market_sharing"], "dash"),
    "alliance": (MEANING_COLORS["alliance"], "dot"),
}
"""Colour and dash per partnership type; unknown types are drawn grey and solid."""

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


def wide_by_step(frame: pd.DataFrame, value: str, how: str = "mean") -> pd.DataFrame:
    """``frame.pivot_table(index="step", columns="firm", values=value, aggfunc=how)`` for
    ``how`` "sum" or "mean", in numpy: the same frame (sorted steps and firms, NaN where a
    firm has no row at a step) in a tenth of pandas' time, which the dashboard pays ~10 times.
    Bit for bit the same for the run tables (one row per step and firm); where rows repeat,
    pandas' compensated sums may differ in the last bit."""
    steps, step_of = np.unique(frame["step"].to_numpy(), return_inverse=True)
    firms, firm_of = np.unique(frame["firm"].to_numpy(), return_inverse=True)
    cell = step_of * len(firms) + firm_of
    size = len(steps) * len(firms)
    values = frame[value].to_numpy(dtype=float)
    valid = ~np.isnan(values)  # pandas skips missing values: a sum of none is 0, a mean NaN
    rows = np.bincount(cell, minlength=size)
    counted = np.bincount(cell[valid], minlength=size)
    out = np.bincount(cell[valid], weights=values[valid], minlength=size)
    if how == "mean":
        if counted.max(initial=0) > 1:  # one row per cell: the mean is the value itself
            out = out / np.maximum(counted, 1)
        out[counted == 0] = np.nan
    elif how != "sum":
        raise ValueError(f"how must be 'sum' or 'mean', got {how!r}")
    out[rows == 0] = np.nan
    wide = pd.DataFrame(
        out.reshape(len(steps), len(firms)),
        index=pd.Index(steps, name="step"),
        columns=pd.Index(firms, name="firm"),
    )
    return wide.dropna(axis=1, how="all")


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
    order = list(
        dict.fromkeys(
            firms.sort_values(["step", "firm_id"] if "firm_id" in firms else ["step"])[
                "firm"
            ].astype(str)
        )
    )
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
        detail = ", ".join(
            f"{key}={value}"
            for key, value in event.items()
            if key not in ("step", "label", "kind") and value not in (None, "", [])
        )
        normalized.append(
            {"step": int(event["step"]), "label": label, "kind": kind, "detail": detail}
        )
    return sorted(normalized, key=lambda e: e["step"])


def _axis_pairs(figure: go.Figure) -> list[tuple[str, str]]:
    """The (x axis, y axis) pairs that carry traces, e.g. [('x', 'y'), ('x2', 'y2')]."""
    pairs = dict.fromkeys(
        (trace.xaxis or "x", trace.yaxis or "y") for trace in figure.data if hasattr(trace, "xaxis")
    )
    return list(pairs) or [("x", "y")]


NOMINAL_PLOT_WIDTH_PX = 900
"""The plot width event labels are packed for (a page section is ~1,000-1,300 px wide)."""
LABEL_CHAR_PX = 6.2
"""Width of one character of a 10 px label, a little over the average of the page's fonts."""
LABEL_GAP_PX = 10
LANE_PX = 15
"""Height of one row ("lane") of event labels above the plots."""
MAX_LANES = 4
MAX_EVENT_LABEL = 34
"""Event labels longer than this are shortened with an ellipsis (the full text is the hover)."""
SUBPLOT_TITLE_PX = 26
"""Room the top row's subplot titles take above the plots; event labels start above it."""
TITLE_PX = 44
"""Room the figure title takes at the top of the figure (anchored there, not in the margin's
middle, so a taller margin does not push it down onto the event labels)."""


def _x_span(figure: go.Figure) -> tuple[float, float]:
    values = [
        np.asarray(trace.x, dtype=float)
        for trace in figure.data
        if getattr(trace, "x", None) is not None and len(trace.x)
    ]
    values = [v[np.isfinite(v)] for v in values if v.dtype.kind == "f"]
    values = [v for v in values if v.size]
    if not values:
        return 0.0, 1.0
    low, high = min(float(v.min()) for v in values), max(float(v.max()) for v in values)
    return low, high if high > low else low + 1.0


def _short(text: str, limit: int = MAX_EVENT_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def label_lanes(
    steps: list[float], texts: list[str], span: tuple[float, float]
) -> list[tuple[int, str, float, float]]:
    """(lane, xanchor, left px, right px) per label, packed left to right so no two labels of a
    lane overlap on a plot NOMINAL_PLOT_WIDTH_PX wide and none runs past either edge: a label
    starts at its event and runs right, or, where that would pass the right edge, ends there
    and runs left. Beyond MAX_LANES lanes, a label goes in the lane that frees up first."""
    low, high = span
    ends = [-np.inf] * MAX_LANES
    placed = []
    for step, text in zip(steps, texts, strict=True):
        at = (float(step) - low) / (high - low) * NOMINAL_PLOT_WIDTH_PX
        width = len(text) * LABEL_CHAR_PX
        anchor = "left" if at + width <= NOMINAL_PLOT_WIDTH_PX else "right"
        left, right = (at, at + width) if anchor == "left" else (at - width, at)
        free = [lane for lane in range(MAX_LANES) if ends[lane] + LABEL_GAP_PX <= left]
        lane = free[0] if free else int(np.argmin(ends))
        ends[lane] = right
        placed.append((lane, anchor, left, right))
    return placed


def add_event_markers(figure: go.Figure, events, time_unit: str = "month") -> go.Figure:
    """Draw each scheduled event as a vertical dotted line on every time axis, labelled once.

    Labels are horizontal, in lanes above the top plots (and above their subplot titles), each
    lane packed so labels neither overlap nor run off the figure (``label_lanes``); the figure
    title sits at the top, above every lane. Shapes and labels are named ``event: <label>`` so
    tests and readers can find them; the hover has the whole event.
    """
    events = normalize_events(events)
    pairs = _axis_pairs(figure)
    has_subplot_titles = any(
        (a.name or "") == "" and a.yref == "paper" for a in figure.layout.annotations
    )
    top_x, top_y = min(pairs, key=lambda pair: _axis_top(figure, pair[1])) if pairs else ("x", "y")
    top = -_axis_top(figure, top_y)
    base = SUBPLOT_TITLE_PX if has_subplot_titles else 4
    texts = [_short(str(event["label"])) for event in events]
    lanes = label_lanes([e["step"] for e in events], texts, _x_span(figure))
    # Built as lists and set once: plotly's add_shape/add_annotation re-validate every shape so
    # far on each call, quadratic in the number of events (20+ s for 50 events on 4 panels).
    shapes, annotations = list(figure.layout.shapes), list(figure.layout.annotations)
    for event, text, (lane, anchor, _, _) in zip(events, texts, lanes, strict=True):
        for x_axis, y_axis in pairs:
            shapes.append(
                dict(
                    type="line",
                    xref=x_axis,
                    yref=f"{y_axis} domain",
                    x0=event["step"],
                    x1=event["step"],
                    y0=0,
                    y1=1,
                    layer="above",
                    line={"color": "#555", "width": 1, "dash": "dot"},
                    name=f"event: {event['label']}",
                )
            )
        kind = ", ".join(part for part in (event["kind"], event["detail"]) if part)
        kind = f" ({kind})" if kind else ""
        annotations.append(
            dict(
                x=event["step"],
                xref=top_x,
                y=top,
                yref="paper",
                yanchor="bottom",
                yshift=base + lane * LANE_PX,
                text=html.escape(text),
                showarrow=False,
                xanchor=anchor,
                font={"size": 10, "color": "#444"},
                hovertext=html.escape(f"{time_unit} {event['step']}: {event['label']}{kind}"),
                name=f"event: {event['label']}",
            )
        )
    if events:
        figure.update_layout(shapes=shapes, annotations=annotations)
        used = 1 + max(lane for lane, _, _, _ in lanes)
        figure.update_layout(margin={"t": max(_top_margin(figure), event_margin(used, base))})
    return figure


def event_margin(lanes: int, base: int) -> int:
    """Top margin that holds the title, ``lanes`` rows of event labels and the ``base`` room
    of the subplot titles."""
    return TITLE_PX + base + lanes * LANE_PX + 6


def _axis_top(figure: go.Figure, y_axis: str) -> float:
    axis = figure.layout[f"yaxis{y_axis[1:]}"] if y_axis != "y" else figure.layout.yaxis
    domain = axis.domain if axis is not None and axis.domain is not None else (0, 1)
    return -float(domain[1])


def _top_margin(figure: go.Figure) -> int:
    margin = figure.layout.margin
    return int(margin.t) if margin is not None and margin.t is not None else 80


def steady_range(
    values, min_width: float, floor: float | None = None, ceiling: float | None = None
) -> list[float] | None:
    """A y range at least ``min_width`` wide around the data, or None when the data span that
    already (plotly's autorange is then fine). Without it a series moving 0.6475 -> 0.6485 fills
    the panel and a 0.001 drift looks like a cliff. The range is kept inside [floor, ceiling]."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return None
    low, high = float(array.min()), float(array.max())
    if high - low >= min_width:
        return None
    middle = (low + high) / 2
    low, high = middle - min_width / 2, middle + min_width / 2
    if floor is not None and low < floor:
        low, high = floor, floor + min_width
    if ceiling is not None and high > ceiling:
        low, high = max(ceiling - min_width, floor if floor is not None else -np.inf), ceiling
    return [low, high]


INDEX_MIN_WIDTH = 0.1
"""Least y span of a 0-1 index (homogenisation, density, clustering, quality, shares of firms)."""
LEVEL_MIN_FRACTION = 0.1
"""Least y span of a level (prices, consumer surplus): this fraction of its largest |value|."""


def level_min_width(values) -> float:
    array = np.abs(np.asarray(values, dtype=float))
    array = array[np.isfinite(array)]
    return LEVEL_MIN_FRACTION * float(array.max()) if array.size and array.max() > 0 else 1.0


LEGEND_ROW_PX = 20
"""Height of one legend entry: a legend taller than its figure scrolls and hides firms."""


def legend_rows(figure: go.Figure) -> int:
    """Entries the legend shows: traces with a name not hidden from it, plus group titles."""
    rows = 0
    titles = set()
    for trace in figure.data:
        if trace.showlegend is False or not trace.name:
            continue
        rows += 1
        title = getattr(trace, "legendgrouptitle", None)
        if title is not None and title.text:
            titles.add(title.text)
    return rows + len(titles)


def fit_legend(figure: go.Figure) -> go.Figure:
    """Make the figure tall enough that its legend never scrolls (every firm stays visible)."""
    if figure.layout.showlegend is False:
        return figure
    margin = figure.layout.margin
    top = margin.t if margin.t is not None else 80
    bottom = margin.b if margin.b is not None else 80
    needed = int(top + bottom + LEGEND_ROW_PX * legend_rows(figure) + 40)
    if (figure.layout.height or 450) < needed:
        figure.update_layout(height=needed)
    return figure


def finish(figure: go.Figure, result: RunResult, events) -> go.Figure:
    """The last steps of every time figure of a run: event markers, then a legend that fits."""
    unit = time_unit(result)
    add_event_markers(figure, scenario_events(result) if events is None else events, unit)
    return fit_legend(figure)


def time_unit(result) -> str:
    """What one step of the run is ("month" unless the scenario says otherwise)."""
    return str(getattr(result.scenario, "time_unit", None) or "month")


LEAN_TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": "system-ui, Segoe UI, Roboto, sans-serif", "color": "#2a3f5f"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": list(FIRM_PALETTE),
        "hoverlabel": {"align": "left"},
        "xaxis": {
            "gridcolor": "#ebf0f8",
            "linecolor": "#ebf0f8",
            "zerolinecolor": "#ebf0f8",
            "automargin": True,
        },
        "yaxis": {
            "gridcolor": "#ebf0f8",
            "linecolor": "#ebf0f8",
            "zerolinecolor": "#ebf0f8",
            "automargin": True,
        },
    }
)
"""A white theme in ~0.4 kB (plotly_white is ~7 kB, repeated in every figure of a page)."""


def _base_layout(figure: go.Figure, title: str, height: int = 460) -> go.Figure:
    """The title, size, theme and margins every figure shares; x axes untitled.

    Set as one new layout (the current one with these keys replaced) rather than through
    ``update_layout``, which validates key by key at several times the cost."""
    layout = figure.layout.to_plotly_json()
    layout.update(
        title={
            "text": title,
            "x": 0.01,
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 12},
        },
        height=height,
        template=LEAN_TEMPLATE,
        hovermode="x unified",
        legend={"title": {"text": "firm"}},
        margin={"l": 70, "r": 30, "t": 80, "b": 50},
    )
    for key, axis in layout.items():
        title = axis.get("title") if key.startswith("xaxis") and isinstance(axis, dict) else None
        if isinstance(title, dict):
            title.pop("text", None)
            if not title:
                del axis["title"]
    figure.layout = layout
    return figure


def firm_lifetimes(result: RunResult) -> tuple[list[Event], list[Event]]:
    """Entries and exits: from summary.json when recorded, else from the firm rows.

    A firm whose first row is after the run's first step entered then; one whose last row is
    before the run's last step exited then.
    """
    firms, summary = result.firms, result.summary or {}
    first_step, last_step = int(result.model["step"].min()), int(result.model["step"].max())
    span = firms.groupby("firm")["step"].agg(["min", "max"])
    entries = [
        {
            "firm": str(e.get("firm")),
            "step": int(e.get("step")),
            "detail": str(e.get("archetype") or ""),
        }
        for e in summary.get("entries") or []
        if e.get("step") is not None
    ]
    exits = [
        {
            "firm": str(e.get("firm")),
            "step": int(e.get("step")),
            "detail": str(e.get("reason") or ""),
        }
        for e in summary.get("exits") or []
        if e.get("step") is not None
    ]
    if not entries:
        entries = [
            {"firm": str(firm), "step": int(row["min"]), "detail": ""}
            for firm, row in span.iterrows()
            if row["min"] > first_step
        ]
    if not exits:
        exits = [
            {"firm": str(firm), "step": int(row["max"]), "detail": ""}
            for firm, row in span.iterrows()
            if row["max"] < last_step
        ]
    return entries, exits


def _grid(count: int) -> tuple[int, int]:
    cols = 1 if count == 1 else 2
    return -(-count // cols), cols
