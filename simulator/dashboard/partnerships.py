"""The partnership network of a run: a circle of firms with a step slider."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from simulator.dashboard.common import (
    EDGE_STYLES,
    OTHERS_COLOR,
    Event,
    _array,
    _base_layout,
    normalize_events,
    run_colors,
    scenario_events,
    shown_firms,
)
from simulator.market.open_source import OPEN_MODEL
from simulator.results import RunResult

MAX_NETWORK_FRAMES = 60
"""Slider positions of the network figure; long runs show every k-th step."""


def run_edges(result: RunResult) -> pd.DataFrame | None:
    """The run's partnership edges; None when the run has no edge table at all (older runs,
    or a folder without edges.parquet), an empty frame when no partnership ever formed."""
    edges = getattr(result, "edges", None)
    return edges if isinstance(edges, pd.DataFrame) else None


def _circle_layout(firms: list[str]) -> dict[str, tuple[float, float]]:
    """Firms on a circle in a fixed order, so nodes stay put while the slider moves."""
    angles = np.pi / 2 - 2 * np.pi * np.arange(len(firms)) / max(len(firms), 1)
    return {
        firm: (float(np.cos(angle)), float(np.sin(angle)))
        for firm, angle in zip(firms, angles, strict=True)
    }


def _network_steps(result: RunResult, events: list[Event]) -> list[int]:
    steps = np.sort(result.firms["step"].unique())
    stride = int(np.ceil(len(steps) / MAX_NETWORK_FRAMES)) if len(steps) else 1
    chosen = set(steps[::stride].tolist()) | {int(steps[-1])} if len(steps) else set()
    if stride > 1:
        chosen |= {e["step"] for e in events if e["step"] in set(steps.tolist())}
    return sorted(int(step) for step in chosen)


def _rows_by_step(steps: np.ndarray, rows: np.ndarray) -> dict[int, np.ndarray]:
    """``rows`` (table row numbers, in table order) grouped by their ``steps`` value."""
    rows = rows[np.argsort(steps[rows], kind="stable")]
    cuts = np.flatnonzero(np.diff(steps[rows])) + 1
    return {int(steps[part[0]]): part for part in np.split(rows, cuts) if len(part)}


class _FirmRows:
    """The firm table's columns the nodes show, as arrays, and the row numbers of each step
    (firms drawn only, in table order): one pass over the table instead of a filter per
    frame."""

    def __init__(self, firms: pd.DataFrame, positions: dict[str, tuple[float, float]]):
        drawn = firms["firm"].isin(list(positions)).to_numpy()
        flag = next((c for c in ("open_weights", "open_source") if c in firms), None)  # 0.1 runs
        self.firm = firms["firm"].to_numpy(dtype=object)
        self.share = firms["share"].to_numpy(dtype=float)
        self.open = (
            firms[flag].astype(bool).to_numpy() if flag else np.zeros(len(firms), dtype=bool)
        )
        self.archetype = firms["archetype"].to_numpy(dtype=object) if "archetype" in firms else None
        self.centrality = (
            firms["degree_centrality"].to_numpy(dtype=float)
            if "degree_centrality" in firms
            else None
        )
        self.by_step = _rows_by_step(firms["step"].to_numpy(), np.flatnonzero(drawn))


def _node_update(
    table: _FirmRows,
    step: int,
    positions: dict[str, tuple[float, float]],
    colors: dict[str, str],
) -> dict:
    """What the node trace shows at ``step``: positions, labels, hover lines and markers."""
    rows = table.by_step.get(step, np.zeros(0, dtype=int))
    firms = table.firm[rows].tolist()
    shares = table.share[rows]
    opened = table.open[rows].tolist()
    text = []
    for k, (firm, share) in enumerate(zip(firms, shares.tolist(), strict=True)):
        line = f"{firm}: share {share:.1%}"
        archetype = table.archetype[rows[k]] if table.archetype is not None else None
        if isinstance(archetype, str) and archetype:
            line += f" ({archetype})"
        if opened[k]:
            line += ", open-source"
        if table.centrality is not None:
            line += f", degree centrality {table.centrality[rows[k]]:.2f}"
        text.append(line)
    return {
        "x": _array([positions[f][0] for f in firms], 4),
        "y": _array([positions[f][1] for f in firms], 4),
        "text": firms,
        "hovertext": text,
        "marker": {
            "size": _array(10 + 60 * np.sqrt(np.clip(shares, 0, None)), 1),
            "color": [colors.get(f, OTHERS_COLOR) for f in firms],
            "symbol": ["diamond" if o else "circle" for o in opened],
        },
    }


def _node_trace(update: dict) -> go.Scatter:
    """The node trace of the figure, showing ``update`` (a _node_update)."""
    return go.Scatter(
        x=update["x"],
        y=update["y"],
        mode="markers+text",
        name="firms (size: share)",
        text=update["text"],
        textposition="top center",
        hovertext=update["hovertext"],
        hovertemplate="%{hovertext}<extra></extra>",
        marker=update["marker"] | {"line": {"width": 1, "color": "#333"}, "opacity": 1.0},
        meta={"role": "nodes"},
    )


class _EdgeRows:
    """The edge table as arrays, and the rows of each step."""

    def __init__(self, edges: pd.DataFrame | None):
        self.by_step: dict[int, np.ndarray] = {}
        if edges is None or not len(edges):
            return
        self.source = edges["source"].astype(str).to_numpy(dtype=object)
        self.target = edges["target"].astype(str).to_numpy(dtype=object)
        self.type = edges["type"].to_numpy(dtype=object)
        self.by_step = _rows_by_step(edges["step"].to_numpy(), np.arange(len(edges)))


def _edge_updates(
    table: _EdgeRows, step: int, positions: dict[str, tuple[float, float]], types: list[str]
) -> list[dict]:
    """The line segments of each partnership type at ``step`` (every type, so that every
    frame has the same traces)."""
    lines: dict[str, tuple[list, list]] = {edge_type: ([], []) for edge_type in types}
    rows = table.by_step.get(step)
    if rows is not None:
        for source, target, edge_type in zip(
            table.source[rows], table.target[rows], table.type[rows], strict=True
        ):
            if edge_type in lines and source in positions and target in positions:
                xs, ys = lines[edge_type]
                xs += [positions[source][0], positions[target][0], None]
                ys += [positions[source][1], positions[target][1], None]
    return [{"x": xs, "y": ys} for xs, ys in lines.values()]


def _edge_traces(updates: list[dict], types: list[str]) -> list[go.Scatter]:
    """One line trace per partnership type, showing ``updates`` (from _edge_updates)."""
    traces = []
    for edge_type, update in zip(types, updates, strict=True):
        color, dash = EDGE_STYLES.get(edge_type, ("#888888", "solid"))
        traces.append(
            go.Scatter(
                x=update["x"],
                y=update["y"],
                mode="lines",
                name=edge_type.replace("_", " "),
                legendgroup=edge_type,
                line={"color": color, "dash": dash, "width": 2.5},
                hoverinfo="skip",
                meta={"role": "edges", "type": edge_type},
            )
        )
    return traces


def network_figure(result: RunResult, events=None) -> go.Figure:
    """The partnership network with a step slider: nodes sized by share, edges coloured by type.

    Node colours are the firm colours (diamonds: open-source models when the run records it).
    Without an edges table the figure still shows the firms, with a note saying why.
    """
    events = normalize_events(scenario_events(result) if events is None else events)
    colors = run_colors(result)
    shown = [firm for firm in shown_firms(result) if firm != OPEN_MODEL]  # a product, no links
    positions = _circle_layout(shown)
    edges = run_edges(result)
    known = list(EDGE_STYLES)
    types = known if edges is None else known + sorted(set(edges["type"].astype(str)) - set(known))
    steps = _network_steps(result, events)
    firm_rows, edge_rows = _FirmRows(result.firms, positions), _EdgeRows(edges)
    event_labels: dict[int, list[str]] = {}
    for event in events:
        event_labels.setdefault(event["step"], []).append(str(event["label"]))

    def frame_update(step: int) -> list[dict]:
        """What changes between steps (edge lines, then the nodes): frames merge into the
        traces, keeping the file small."""
        return _edge_updates(edge_rows, step, positions, types) + [
            _node_update(firm_rows, step, positions, colors)
        ]

    def frame_title(step: int) -> str:
        labels = event_labels.get(step)
        return f"Partnership network at step {step}" + (f" — {'; '.join(labels)}" if labels else "")

    last = steps[-1]
    *edge_lines, nodes = frame_update(last)
    figure = go.Figure(data=_edge_traces(edge_lines, types) + [_node_trace(nodes)])
    trace_indices = list(range(len(figure.data)))
    # the shared layout first: setting a whole layout re-validates everything in it, and the
    # slider below holds an entry per step
    _base_layout(figure, frame_title(last), height=620)
    figure.frames = [  # plain dicts: the figure validates each frame once
        {
            "data": frame_update(step),
            "traces": trace_indices,
            "name": str(step),
            "layout": {"title": {"text": frame_title(step)}},
        }
        for step in steps
    ]
    slider_steps = [
        {
            "label": str(step),
            "method": "animate",
            "args": [
                [str(step)],
                {
                    "mode": "immediate",
                    "frame": {"duration": 0, "redraw": True},
                    "transition": {"duration": 0},
                },
            ],
        }
        for step in steps
    ]
    figure.update_layout(
        sliders=[
            {
                "active": len(steps) - 1,
                "steps": slider_steps,
                "x": 0.08,
                "len": 0.9,
                "currentvalue": {"prefix": "step "},
                "pad": {"t": 30},
            }
        ],
        updatemenus=[
            {
                "type": "buttons",
                "showactive": False,
                "x": 0.0,
                "y": 0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 40},
                "buttons": [
                    {
                        "label": "▶",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": 250, "redraw": True},
                                "fromcurrent": True,
                                "transition": {"duration": 0},
                            },
                        ],
                    },
                    {
                        "label": "❚❚",
                        "method": "animate",
                        "args": [
                            [None],
                            {"mode": "immediate", "frame": {"duration": 0, "redraw": False}},
                        ],
                    },
                ],
            }
        ],
    )
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
        figure.add_annotation(
            text=note,
            xref="paper",
            yref="paper",
            x=0.5,
            y=1.02,
            showarrow=False,
            font={"size": 12, "color": "#a33"},
            name="note",
        )
    if len(shown) < result.firms["firm"].nunique():
        figure.add_annotation(
            text=f"{len(shown)} largest of {result.firms['firm'].nunique()} firms shown",
            xref="paper",
            yref="paper",
            x=1,
            y=0,
            xanchor="right",
            showarrow=False,
            font={"size": 10, "color": "#666"},
        )
    return figure
