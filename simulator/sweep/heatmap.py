"""Outcome maps of two-parameter grid sweeps: where in the plane of the two parameters does an
outcome change (e.g. the feedback rate and the data cap at which the data flywheel tips a
market; scenarios/sweeps/data_flywheel.yaml)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator.sweep.labels import short_labels, wrap_label

MAX_HEATMAPS = 4


def two_parameter_grid(runs: pd.DataFrame, parameters: list[str]) -> bool:
    """The design has exactly two parameters, both numeric, crossed on a grid (every pair of
    their levels has runs)."""
    if len(parameters) != 2 or not all(pd.api.types.is_numeric_dtype(runs[p]) for p in parameters):
        return False
    levels = [runs[p].nunique() for p in parameters]
    cells = runs.groupby(parameters).ngroups
    return min(levels) > 1 and cells == levels[0] * levels[1]


def outcome_heatmaps(
    runs: pd.DataFrame,
    parameters: list[str],
    outcomes: list[str],
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """One heatmap per outcome (the first MAX_HEATMAPS): its mean over the replications of each
    grid cell, the first parameter across, the second up; the cell's value on hover."""
    outcomes = outcomes[:MAX_HEATMAPS]
    labels = labels or short_labels(parameters)
    x_name, y_name = parameters
    fig = make_subplots(
        rows=1,
        cols=len(outcomes),
        subplot_titles=[wrap_label(o) for o in outcomes],
        horizontal_spacing=0.12,
    )
    for c, outcome in enumerate(outcomes, start=1):
        cells = runs.groupby([y_name, x_name])[outcome].mean().unstack(x_name)
        fig.add_trace(
            go.Heatmap(
                x=cells.columns.to_numpy(),
                y=cells.index.to_numpy(),
                z=cells.to_numpy(),
                colorscale="Viridis",
                colorbar={"x": c / len(outcomes) - 0.02, "len": 0.8, "thickness": 12},
                meta={"outcome": outcome},
                hovertemplate=f"{x_name} %{{x:.4g}}<br>{y_name} %{{y:.4g}}<br>"
                f"mean {outcome} %{{z:.4g}}<extra></extra>",
            ),
            row=1,
            col=c,
        )
        fig.update_xaxes(title_text=wrap_label(labels[x_name]), row=1, col=c)
        fig.update_yaxes(title_text=wrap_label(labels[y_name]), row=1, col=c)
    fig.update_layout(
        title="Outcomes over the two parameters (mean over each grid cell's replications)",
        template="plotly_white",
        height=460,
    )
    return fig
