"""What every figure of a run shares: limits, firm selection and colours, thinning, compact
arrays, scheduled-event markers, the lean theme, and entries and exits."""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from simulator import schema
from simulator.dashboard.page import FIRM_PALETTE, firm_colors
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

EDGE_STYLES: dict[str, tuple[str, str]] = {
    "joint_rd": ("#6a3d9a", "solid"),
    "market_sharing": ("#e31a1c", "dash"),
    "alliance": ("#33a02c", "dot"),
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
            figure.add_shape(
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
        kind = ", ".join(part for part in (event["kind"], event["detail"]) if part)
        kind = f" ({kind})" if kind else ""
        figure.add_annotation(
            x=event["step"],
            xref=top_x,
            y=1.0,
            yref="paper",
            yanchor="bottom",
            yshift=24 if has_subplot_titles else 0,
            text=html.escape(str(event["label"])),
            showarrow=False,
            textangle=-30,
            xanchor="left",
            font={"size": 10, "color": "#444"},
            hovertext=html.escape(f"step {event['step']}: {event['label']}{kind}"),
            name=f"event: {event['label']}",
        )
    if events:
        figure.update_layout(
            margin={"t": max(_top_margin(figure), 130 if has_subplot_titles else 110)}
        )
    return figure


def _axis_top(figure: go.Figure, y_axis: str) -> float:
    axis = figure.layout[f"yaxis{y_axis[1:]}"] if y_axis != "y" else figure.layout.yaxis
    domain = axis.domain if axis is not None and axis.domain is not None else (0, 1)
    return -float(domain[1])


def _top_margin(figure: go.Figure) -> int:
    margin = figure.layout.margin
    return int(margin.t) if margin is not None and margin.t is not None else 80


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
    figure.update_layout(
        title={"text": title, "x": 0.01},
        height=height,
        template=LEAN_TEMPLATE,
        hovermode="x unified",
        legend={"title": {"text": "firm"}},
        margin={"l": 70, "r": 30, "t": 80, "b": 50},
    )
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
