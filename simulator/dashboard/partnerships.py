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


def _node_trace(
    step_rows: pd.DataFrame, positions: dict[str, tuple[float, float]], colors: dict[str, str]
) -> go.Scatter:
    rows = step_rows[step_rows["firm"].isin(list(positions))]
    flag = next((c for c in ("open_weights", "open_source") if c in rows), None)  # 0.1 runs
    open_weights = rows[flag].astype(bool) if flag else pd.Series(False, index=rows.index)
    centrality = rows.get("degree_centrality")
    text = []
    for position, row in enumerate(rows.itertuples()):
        line = f"{row.firm}: share {row.share:.1%}"
        archetype = getattr(row, "archetype", None)
        if isinstance(archetype, str) and archetype:
            line += f" ({archetype})"
        if bool(open_weights.iloc[position]):
            line += ", open-source"
        if centrality is not None:
            line += f", degree centrality {centrality.iloc[position]:.2f}"
        text.append(line)
    return go.Scatter(
        x=_array([positions[f][0] for f in rows["firm"]], 4),
        y=_array([positions[f][1] for f in rows["firm"]], 4),
        mode="markers+text",
        name="firms (size: share)",
        text=list(rows["firm"]),
        textposition="top center",
        hovertext=text,
        hovertemplate="%{hovertext}<extra></extra>",
        marker={
            "size": _array(10 + 60 * np.sqrt(rows["share"].clip(lower=0).to_numpy()), 1),
            "color": [colors.get(f, OTHERS_COLOR) for f in rows["firm"]],
            "symbol": ["diamond" if o else "circle" for o in open_weights],
            "line": {"width": 1, "color": "#333"},
            "opacity": 1.0,
        },
        meta={"role": "nodes"},
    )


def _edge_traces(
    step_edges: pd.DataFrame | None, positions: dict[str, tuple[float, float]], types: list[str]
) -> list[go.Scatter]:
    """One line trace per partnership type (always all types, so every frame matches)."""
    traces = []
    for edge_type in types:
        color, dash = EDGE_STYLES.get(edge_type, ("#888888", "solid"))
        xs: list[float | None] = []
        ys: list[float | None] = []
        if step_edges is not None:
            rows = step_edges[step_edges["type"] == edge_type]
            for source, target in zip(
                rows["source"].astype(str), rows["target"].astype(str), strict=True
            ):
                if source in positions and target in positions:
                    xs += [positions[source][0], positions[target][0], None]
                    ys += [positions[source][1], positions[target][1], None]
        traces.append(
            go.Scatter(
                x=xs,
                y=ys,
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
    by_step = dict(tuple(result.firms.groupby("step")))
    edges_by_step = dict(tuple(edges.groupby("step"))) if edges is not None and len(edges) else {}
    event_labels: dict[int, list[str]] = {}
    for event in events:
        event_labels.setdefault(event["step"], []).append(str(event["label"]))

    def frame_data(step: int) -> list[go.Scatter]:
        return _edge_traces(edges_by_step.get(step), positions, types) + [
            _node_trace(by_step[step], positions, colors)
        ]

    def frame_update(step: int) -> list[dict]:
        """Only what changes between steps: frames merge into the traces, keeping the file small."""
        changing = []
        for trace in frame_data(step):
            update = {"x": trace.x, "y": trace.y}
            if trace.meta["role"] == "nodes":
                update |= {
                    "text": trace.text,
                    "hovertext": trace.hovertext,
                    "marker": {
                        "size": trace.marker.size,
                        "color": trace.marker.color,
                        "symbol": trace.marker.symbol,
                    },
                }
            changing.append(update)
        return changing

    def frame_title(step: int) -> str:
        labels = event_labels.get(step)
        return f"Partnership network at step {step}" + (f" — {'; '.join(labels)}" if labels else "")

    last = steps[-1]
    figure = go.Figure(data=frame_data(last))
    trace_indices = list(range(len(figure.data)))
    figure.frames = [
        go.Frame(
            data=frame_update(step),
            traces=trace_indices,
            name=str(step),
            layout={"title": {"text": frame_title(step)}},
        )
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
