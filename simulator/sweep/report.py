"""Sweep figures and the sweep dashboard (DIR/dashboard.html).

The dashboard answers, in order: how do concentration, prices and shares evolve across all
runs (fan charts: median, 25-75% and 5-95% bands), how are the outcomes distributed
(histograms), how does each outcome depend on each parameter (scatter), and which parameters
matter (Sobol indices or standardised regression coefficients, with 95% intervals). Every
figure is a plain plotly Figure so a notebook can show any of them alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator.dashboard.colors import firm_colors
from simulator.dashboard.page import write_dashboard_html
from simulator.sweep.analysis import binned_means, is_non_monotone, series_quantiles
from simulator.sweep.heatmap import outcome_heatmaps, two_parameter_grid
from simulator.sweep.labels import (
    parameter_labels,
    point_label,
    short_labels,
    term_label,
    wrap_label,
)
from simulator.sweep.runner import SweepResult
from simulator.sweep.store import SweepStore

MAX_SCATTER_PANELS = 36
MAX_POINT_LINES = 12
MAX_POINT_FANS = 40
"""Grid sweeps with at most this many points get one fan per point (a selector picks it);
beyond, and for sampled designs, fans pool the runs of every point, and say so."""
NEUTRAL = "#1f3b73"
BINNED = "#d55e00"


def _rgba(color: str, alpha: float) -> str:
    color = color.lstrip("#")
    red, green, blue = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha})"


def _band(
    fig: go.Figure,
    frame: pd.DataFrame,
    low: str,
    high: str,
    color: str,
    name: str,
    alpha: float,
    group: str,
    **where,
) -> None:
    fig.add_trace(
        go.Scatter(
            x=frame["step"],
            y=frame[high],
            mode="lines",
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            legendgroup=group,
        ),
        **where,
    )
    fig.add_trace(
        go.Scatter(
            x=frame["step"],
            y=frame[low],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=_rgba(color, alpha),
            name=name,
            hoverinfo="skip",
            showlegend=False,
            legendgroup=group,
        ),
        **where,
    )


def _add_fans(
    fig: go.Figure,
    quantiles: pd.DataFrame,
    variables: list[str],
    colors: dict[str, str] | None,
    labels: dict[str, str] | None,
    visible: bool = True,
    meta: dict | None = None,
    unit: str = "month",
) -> list[int]:
    """Median line with 25-75% and 5-95% bands per variable; returns the traces' indices."""
    start = len(fig.data)
    for variable in variables:
        frame = quantiles[quantiles["variable"] == variable].sort_values("step")
        if frame.empty:
            continue
        label = (labels or {}).get(variable, variable)
        color = (colors or {}).get(variable, NEUTRAL)
        _band(fig, frame, "q05", "q95", color, f"{label} 5-95%", 0.15, label)
        _band(fig, frame, "q25", "q75", color, f"{label} 25-75%", 0.3, label)
        fig.add_trace(
            go.Scatter(
                x=frame["step"],
                y=frame["q50"],
                mode="lines",
                name=label,
                line={"color": color, "width": 2},
                legendgroup=label,
                meta={"variable": variable, "role": "median", **(meta or {})},
                hovertemplate=f"{label}<br>{unit} %{{x}}<br>median %{{y:.4g}}<extra></extra>",
            )
        )
    for index in range(start, len(fig.data)):
        fig.data[index].visible = visible
    return list(range(start, len(fig.data)))


def _fan_layout(fig: go.Figure, title: str, yaxis: str, unit: str) -> go.Figure:
    fig.update_layout(
        title=title,
        xaxis_title=unit,
        yaxis_title=yaxis,
        template="plotly_white",
        height=460,
        margin={"t": 90, "b": 40},
    )
    return fig


def fan_chart(
    pooled: pd.DataFrame,
    variables: list[str],
    title: str,
    yaxis: str,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    unit: str = "month",
    pooled_points: int = 1,
) -> go.Figure:
    """Median line with 25-75% and 5-95% bands over steps, one fan per variable.

    ``pooled`` is ``series_quantiles(series, by=())``: quantiles across all runs of the sweep;
    ``pooled_points`` > 1 says in the title that they mix that many parameter points.
    """
    fig = go.Figure()
    _add_fans(fig, pooled, variables, colors, labels, unit=unit)
    what = "of runs" if pooled_points <= 1 else f"of all runs, pooled over {pooled_points:,} points"
    return _fan_layout(fig, f"{title} (median, 25-75% and 5-95% {what})", yaxis, unit)


def point_fan_chart(
    quantiles: pd.DataFrame,
    point_labels: dict[int, str],
    variables: list[str],
    title: str,
    yaxis: str,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    unit: str = "month",
) -> go.Figure:
    """One fan per parameter point (quantiles across its replications only), a selector to
    switch between points: fans of different points are never pooled into one."""
    fig = go.Figure()
    groups = []
    points = [p for p in point_labels if (quantiles["point"] == p).any()]
    for k, point in enumerate(points):
        frame = quantiles[quantiles["point"] == point]
        groups.append(
            _add_fans(fig, frame, variables, colors, labels, k == 0, {"point": int(point)}, unit)
        )
    full = f"{title} (median, 25-75% and 5-95% of the replications at one point)"
    buttons = []
    for point, indices in zip(points, groups, strict=True):
        visible = [False] * len(fig.data)
        for index in indices:
            visible[index] = True
        buttons.append(
            {
                "label": point_labels[point],
                "method": "update",
                "args": [{"visible": visible}, {"title.text": f"{full}<br>{point_labels[point]}"}],
            }
        )
    fig = _fan_layout(fig, f"{full}<br>{point_labels[points[0]]}" if points else full, yaxis, unit)
    fig.update_layout(
        updatemenus=[
            {
                "buttons": buttons,
                "direction": "down",
                "active": 0,
                "showactive": True,
                "x": 1.0,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
            }
        ]
    )
    return fig


def share_fan_chart(
    quantiles: pd.DataFrame, point_labels: dict[int, str] | None = None, **options
) -> go.Figure:
    """Market share of every firm over time, one colour per firm (its colour everywhere);
    one fan per point with a selector when ``point_labels`` is given, else pooled."""
    variables = sorted(v for v in quantiles["variable"].unique() if v.startswith("share."))
    firms = [v.removeprefix("share.") for v in variables]
    colors = firm_colors(firms)
    common = {
        "colors": {f"share.{f}": colors[f] for f in firms},
        "labels": {f"share.{f}": f for f in firms},
        **options,
    }
    title, axis = "Market share over time", "share of inside sales"
    if point_labels:
        fig = point_fan_chart(quantiles, point_labels, variables, title, axis, **common)
    else:
        fig = fan_chart(quantiles, variables, title, axis, **common)
    fig.update_yaxes(tickformat=".0%")
    return fig


def _grid(count: int, columns: int) -> tuple[int, int]:
    columns = max(1, min(columns, count))
    return math.ceil(count / columns), columns


def outcome_histograms(runs: pd.DataFrame, outcomes: list[str]) -> go.Figure:
    """Distribution of every outcome across all runs (titles wrapped, never clipped)."""
    rows, cols = _grid(len(outcomes), 3)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[wrap_label(o, 40) for o in outcomes],
        vertical_spacing=0.16 / max(rows - 1, 1) + 0.06 if rows > 1 else 0.1,
    )
    for i, outcome in enumerate(outcomes):
        fig.add_trace(
            go.Histogram(
                x=runs[outcome], name=outcome, marker_color=NEUTRAL, showlegend=False, nbinsx=30
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_layout(
        title="Outcome distributions across all runs",
        template="plotly_white",
        height=max(340, 280 * rows),
        bargap=0.05,
    )
    return fig


def parameter_scatter(
    runs: pd.DataFrame,
    parameters: list[str],
    outcomes: list[str],
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """Each outcome against each parameter (one point per run) with its binned means (mean and
    2 standard errors per bin: the shape a linear fit cannot show); rows outcomes, columns
    parameters."""
    while len(parameters) * len(outcomes) > MAX_SCATTER_PANELS and len(outcomes) > 1:
        outcomes = outcomes[:-1]
    parameters = parameters[:MAX_SCATTER_PANELS]
    rows, cols = len(outcomes), len(parameters)
    labels = labels or short_labels(parameters)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_yaxes="rows",
        horizontal_spacing=0.03,
        vertical_spacing=0.06 if rows > 1 else 0.1,
    )
    for r, outcome in enumerate(outcomes, start=1):
        for c, parameter in enumerate(parameters, start=1):
            fig.add_trace(
                go.Scattergl(
                    x=runs[parameter],
                    y=runs[outcome],
                    mode="markers",
                    showlegend=False,
                    marker={"size": 4, "color": NEUTRAL, "opacity": 0.45},
                    hovertemplate=f"{parameter} %{{x}}<br>{outcome} %{{y:.4g}}<extra></extra>",
                ),
                row=r,
                col=c,
            )
            if pd.api.types.is_numeric_dtype(runs[parameter]):
                means = binned_means(runs[parameter], runs[outcome])
                fig.add_trace(
                    go.Scatter(
                        x=means["x"],
                        y=means["mean"],
                        error_y={"type": "data", "array": 2 * means["se"].fillna(0.0)},
                        mode="lines+markers",
                        name="binned mean (± 2 s.e.)",
                        legendgroup="binned",
                        showlegend=r == 1 and c == 1,
                        line={"color": BINNED, "width": 2},
                        marker={"size": 6, "color": BINNED},
                        meta={"role": "binned means", "parameter": parameter, "outcome": outcome},
                        hovertemplate="bin mean %{y:.4g}<extra></extra>",
                    ),
                    row=r,
                    col=c,
                )
            if r == rows:
                fig.update_xaxes(title_text=wrap_label(labels[parameter]), row=r, col=c)
            if c == 1:
                fig.update_yaxes(title_text=wrap_label(outcome), row=r, col=c)
    fig.update_layout(
        title="Outcomes against parameters (one point per run; orange: binned means)",
        template="plotly_white",
        height=max(380, 250 * rows),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )
    return fig


def non_monotone_pairs(runs: pd.DataFrame, parameters: list[str], outcomes: list[str]) -> set:
    """(outcome, parameter) pairs whose binned means both rise and fall (``is_non_monotone``)."""
    return {
        (outcome, parameter)
        for parameter in parameters
        if parameter in runs and pd.api.types.is_numeric_dtype(runs[parameter])
        for outcome in outcomes
        if outcome in runs and is_non_monotone(runs[parameter], runs[outcome])
    }


def sensitivity_chart(
    sensitivity: pd.DataFrame,
    labels: dict[str, str] | None = None,
    non_monotone: set | frozenset = frozenset(),
) -> go.Figure:
    """Sobol S1/ST (or SRC) per parameter with 95% interval error bars, one panel per outcome.

    Horizontal bars with the parameters listed once per row of panels, so long parameter
    paths stay readable and outcomes can be compared side by side. Panels are spaced and their
    x ranges padded so bars and error bars stay clear of the neighbouring panel's labels. A
    linear fit (SRC) of a response that rises and falls (``non_monotone``: (outcome, parameter)
    pairs) is marked on its bar and explained in the title.
    """
    outcomes = list(dict.fromkeys(sensitivity["outcome"]))
    rows, cols = _grid(max(1, len(outcomes)), 3)
    bars = sensitivity[sensitivity["index"] != "R2"]
    labels = labels or short_labels(list(dict.fromkeys(bars["parameter"])))
    terms = list(dict.fromkeys(bars["term"]))
    method = sensitivity["method"].iloc[0] if len(sensitivity) else ""
    flagged = set(non_monotone) if method != "sobol" else set()
    titles = []
    for outcome in outcomes:
        r2 = sensitivity[(sensitivity["outcome"] == outcome) & (sensitivity["index"] == "R2")]
        titles.append(
            wrap_label(outcome, 36) + (f"<br>(R² {r2['value'].iloc[0]:.2f})" if len(r2) else "")
        )
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        vertical_spacing=0.14 / max(rows, 1) + 0.06,
        subplot_titles=titles or ["no sensitivity"],
    )
    palette = {"S1": "#1f77b4", "ST": "#ff7f0e", "SRC": NEUTRAL}
    order = [term_label(t, labels) for t in terms]
    for i, outcome in enumerate(outcomes):
        frame = bars[bars["outcome"] == outcome]
        for index, part in frame.groupby("index", sort=False):
            marks = [
                "⚠" if (outcome, parameter) in flagged else "" for parameter in part["parameter"]
            ]
            fig.add_trace(
                go.Bar(
                    y=[term_label(t, labels) for t in part["term"]],
                    x=part["value"],
                    orientation="h",
                    name=index,
                    marker_color=palette.get(index, NEUTRAL),
                    legendgroup=index,
                    showlegend=i == 0,
                    customdata=part["term"],
                    text=marks,
                    textposition="outside",
                    cliponaxis=False,
                    error_x={"type": "data", "array": part["conf"], "visible": True},
                    meta={"outcome": outcome, "flagged": [bool(m) for m in marks]},
                    hovertemplate="%{customdata}<br>" + index + " %{x:.3f}<extra></extra>",
                ),
                row=i // cols + 1,
                col=i % cols + 1,
            )
        ends = pd.concat(
            [frame["value"] - frame["conf"], frame["value"] + frame["conf"], pd.Series([0.0])]
        )
        low, high = float(ends.min()), float(ends.max())
        pad = 0.12 * max(high - low, 1e-9)
        fig.update_xaxes(
            range=[low - pad, high + pad], nticks=4, row=i // cols + 1, col=i % cols + 1
        )
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1])
    title = (
        "Sobol indices: first order S1 and total ST (95% bootstrap intervals; "
        "ST - S1 is the share through interactions)"
        if method == "sobol"
        else "Standardised regression coefficients (95% intervals; trust them when R² is high)"
    )
    if flagged:
        title += (
            "<br>⚠ the outcome rises and falls with this parameter (binned means in "
            "'Outcomes against parameters'): a linear coefficient understates its effect"
        )
    per_row = 80 + 28 * len(terms) * (2 if method == "sobol" else 1)
    fig.update_layout(
        title=title,
        template="plotly_white",
        barmode="group",
        height=max(380, 120 + per_row * rows),
        margin={"t": 120 if flagged else 100},
    )
    return fig


def point_medians_chart(
    quantiles: pd.DataFrame,
    points: pd.DataFrame,
    variable: str,
    title: str,
    yaxis: str,
    labels: dict[str, str] | None = None,
    unit: str = "month",
) -> go.Figure:
    """The median path of ``variable`` at each parameter point (for designs with few points)."""
    fig = go.Figure()
    frame = quantiles[quantiles["variable"] == variable]
    labels = labels or short_labels(list(points.columns))
    for point, part in frame.groupby("point", sort=True):
        label = point_label(points, point, labels)
        fig.add_trace(
            go.Scatter(
                x=part["step"],
                y=part["q50"],
                mode="lines",
                name=label,
                hovertemplate=label + f"<br>{unit} %{{x}}<br>median %{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title + " (median across replications, per parameter point)",
        xaxis_title=unit,
        yaxis_title=yaxis,
        template="plotly_white",
        height=430,
    )
    return fig


def sweep_figures(result: SweepResult) -> list[go.Figure]:
    """The dashboard's figures, in reading order."""
    resolved = result.spec
    spec = resolved.spec
    unit = str(getattr(resolved.base, "time_unit", None) or "month")
    parameters = list(spec.parameters)
    labels = parameter_labels(parameters, resolved.base_data)
    points = (
        result.runs.groupby("point", sort=True)[parameters]
        .first()
        .map(lambda v: f"{v:.3g}" if isinstance(v, float) else v)
    )
    n_points = result.plan.n_points
    per_point = bool(parameters) and 1 < n_points <= MAX_POINT_FANS and spec.replications > 1
    fans = [
        (["hhi"], "Concentration (HHI) over time", "HHI (0-10,000)"),
        (["price_index"], "Price index over time", "quantity-weighted price"),
    ]
    if per_point:
        point_labels = {int(p): point_label(points, p, labels) for p in points.index}
        quantiles = result.quantiles
        figures = [
            point_fan_chart(quantiles, point_labels, *fans[0], unit=unit),
            share_fan_chart(quantiles, point_labels, unit=unit),
            point_fan_chart(quantiles, point_labels, *fans[1], unit=unit),
        ]
    else:
        pooled = series_quantiles(result.series, by=())
        figures = [
            fan_chart(pooled, *fans[0], unit=unit, pooled_points=n_points),
            share_fan_chart(pooled, unit=unit, pooled_points=n_points),
            fan_chart(pooled, *fans[1], unit=unit, pooled_points=n_points),
        ]
    figures.append(outcome_histograms(result.runs, list(spec.outcomes)))
    if parameters and n_points <= MAX_POINT_LINES and spec.replications > 1:
        figures += [
            point_medians_chart(result.quantiles, points, variable, title, axis, labels, unit)
            for variable, title, axis in (
                ("hhi", "HHI over time", "HHI (0-10,000)"),
                ("price_index", "Price index over time", "quantity-weighted price"),
            )
        ]
    if parameters and two_parameter_grid(result.runs, parameters):
        figures.append(outcome_heatmaps(result.runs, parameters, list(spec.outcomes), labels))
    if parameters:
        figures.append(parameter_scatter(result.runs, parameters, list(spec.outcomes), labels))
    if len(result.sensitivity):
        flagged = non_monotone_pairs(result.runs, parameters, list(spec.outcomes))
        figures.append(sensitivity_chart(result.sensitivity, labels, flagged))
    return figures


def write_report(result: SweepResult, out: str | Path | None = None) -> Path:
    """Write DIR/dashboard.html (and the sensitivity tables) for a finished sweep."""
    out = Path(out) if out is not None else result.out
    if out is None:
        raise ValueError("write_report needs a folder: the sweep ran without `out`")
    SweepStore(out).write_tables({"sensitivity": result.sensitivity})
    resolved = result.spec
    spec = resolved.spec
    header = {
        "sweep": resolved.name,
        "scenario": resolved.base.name,
        "method": spec.method,
        "parameter points": f"{result.plan.n_points:,}",
        "replications": str(spec.replications),
        "runs": f"{len(result.runs):,}" + ("" if result.complete else " (incomplete)"),
        "failed runs": str(len(result.failed)),
        "root seed": str(resolved.root_seed),
        "parameters": ", ".join(spec.parameters) or "none",
    }
    if spec.description:
        header = {"question": spec.description, **header}
    return write_dashboard_html(
        out / "dashboard.html", f"Sweep: {resolved.name}", header, sweep_figures(result)
    )
