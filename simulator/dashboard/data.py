"""The data-flywheel figure of the run dashboard: each firm's training-data stock per segment
over time (market.data; the figure is left out of runs without it)."""

from __future__ import annotations

import plotly.graph_objects as go

from simulator.dashboard.common import _base_layout, finish, time_unit
from simulator.dashboard.figures import segment_panels
from simulator.results import RunResult


def has_data_stocks(result: RunResult) -> bool:
    data = getattr(result, "data", None)
    return data is not None and not data.empty


def data_figure(result: RunResult, events=None) -> go.Figure:
    """Data stock per firm, one panel per segment, log scale (the flywheel compounds)."""
    figure, rows = segment_panels(result, result.data, "data_stock", "%{y:.3g} tokens")
    _base_layout(
        figure,
        "Training-data stock per segment (real tokens, log scale; grows by user feedback, "
        "licensed data and joint-R&D pooling)",
        height=max(360, 260 * rows + 120),
    )
    figure.update_yaxes(type="log")
    figure.update_xaxes(title_text=time_unit(result), row=rows)
    figure.update_xaxes(showticklabels=True)
    return finish(figure, result, events)
