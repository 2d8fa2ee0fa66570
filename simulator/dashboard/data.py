"""The data-flywheel figure of the run dashboard: each firm's training-data stock per segment
over time (market.data; the figure is left out of runs without it)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator.dashboard.common import (
    _base_layout,
    _grid,
    finish,
    run_colors,
    shown_firms,
    time_unit,
)
from simulator.dashboard.figures import _firm_lines, _wide
from simulator.results import RunResult


def has_data_stocks(result: RunResult) -> bool:
    data = getattr(result, "data", None)
    return data is not None and not data.empty


def data_figure(result: RunResult, events=None) -> go.Figure:
    """Data stock per firm, one panel per segment, log scale (the flywheel compounds)."""
    colors, shown = run_colors(result), shown_firms(result)
    data = result.data
    segments = list(dict.fromkeys(data["segment"].astype(str)))
    rows, cols = _grid(len(segments))
    figure = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=segments,
        vertical_spacing=0.12 / max(rows - 1, 1) + 0.04,
        horizontal_spacing=0.05,
    )
    for index, segment in enumerate(segments):
        _firm_lines(
            figure,
            _wide(data[data["segment"].astype(str) == segment], "data_stock", shown),
            colors,
            "%{y:.3g} tokens",
            row=index // cols + 1,
            col=index % cols + 1,
            showlegend=index == 0,
        )
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
