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

from simulator.dashboard.page import firm_colors, write_dashboard_html
from simulator.sweep.analysis import series_quantiles
from simulator.sweep.runner import SweepResult
from simulator.sweep.store import SweepStore

MAX_SCATTER_PANELS = 36
MAX_POINT_LINES = 12
NEUTRAL = "#1f3b73"


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


def fan_chart(
    pooled: pd.DataFrame,
    variables: list[str],
    title: str,
    yaxis: str,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """Median line with 25-75% and 5-95% bands over steps, one fan per variable.

    ``pooled`` is ``series_quantiles(series, by=())``: quantiles across all runs of the sweep.
    """
    fig = go.Figure()
    for variable in variables:
        frame = pooled[pooled["variable"] == variable].sort_values("step")
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
                hovertemplate=f"{label}<br>step %{{x}}<br>median %{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title + " (median, 25-75% and 5-95% of runs)",
        xaxis_title="step",
        yaxis_title=yaxis,
        template="plotly_white",
        height=430,
        margin={"t": 60, "b": 40},
    )
    return fig


def share_fan_chart(pooled: pd.DataFrame) -> go.Figure:
    """Market share of every firm over time across runs, one colour per firm."""
    variables = sorted(v for v in pooled["variable"].unique() if v.startswith("share."))
    firms = [v.removeprefix("share.") for v in variables]
    colors = firm_colors(firms)
    fig = fan_chart(
        pooled,
        variables,
        "Market share over time",
        "share of inside sales",
        colors={f"share.{f}": colors[f] for f in firms},
        labels={f"share.{f}": f for f in firms},
    )
    fig.update_yaxes(tickformat=".0%")
    return fig


def _grid(count: int, columns: int) -> tuple[int, int]:
    columns = max(1, min(columns, count))
    return math.ceil(count / columns), columns


def outcome_histograms(runs: pd.DataFrame, outcomes: list[str]) -> go.Figure:
    """Distribution of every outcome across all runs."""
    rows, cols = _grid(len(outcomes), 3)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=outcomes)
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
        height=max(320, 260 * rows),
        bargap=0.05,
    )
    return fig


def parameter_scatter(runs: pd.DataFrame, parameters: list[str], outcomes: list[str]) -> go.Figure:
    """Each outcome against each parameter (one point per run); rows outcomes, columns params."""
    while len(parameters) * len(outcomes) > MAX_SCATTER_PANELS and len(outcomes) > 1:
        outcomes = outcomes[:-1]
    parameters = parameters[:MAX_SCATTER_PANELS]
    rows, cols = len(outcomes), len(parameters)
    labels = short_labels(parameters)
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
            if r == rows:
                fig.update_xaxes(title_text=labels[parameter], row=r, col=c)
            if c == 1:
                fig.update_yaxes(title_text=outcome, row=r, col=c)
    fig.update_layout(
        title="Outcomes against parameters (one point per run)",
        template="plotly_white",
        height=max(360, 240 * rows),
    )
    return fig


def short_labels(paths: list[str]) -> dict[str, str]:
    """Readable axis labels: the last two parts of each parameter path, unless that is ambiguous.

    ``companies.OpenLab.strategy.pricing`` -> ``strategy.pricing`` would lose the firm, so a
    label grows a part at a time until it is unique among the paths given.
    """
    labels: dict[str, str] = {}
    for path in paths:
        parts = path.split(".")
        for keep in range(2, len(parts) + 1):
            label = ".".join(parts[-keep:])
            clashes = [p for p in paths if p != path and (p == label or p.endswith("." + label))]
            if not clashes:
                break
        labels[path] = label if len(parts) > 1 else path
    return labels


def _term_label(term: str, labels: dict[str, str]) -> str:
    name, sep, category = term.partition("=")
    return labels.get(name, name) + sep + category


def sensitivity_chart(sensitivity: pd.DataFrame) -> go.Figure:
    """Sobol S1/ST (or SRC) per parameter with 95% interval error bars, one panel per outcome.

    Horizontal bars with the parameters listed once per row of panels, so long parameter
    paths stay readable and outcomes can be compared side by side.
    """
    outcomes = list(dict.fromkeys(sensitivity["outcome"]))
    rows, cols = _grid(max(1, len(outcomes)), 4)
    bars = sensitivity[sensitivity["index"] != "R2"]
    labels = short_labels(list(dict.fromkeys(bars["parameter"])))
    terms = list(dict.fromkeys(bars["term"]))
    titles = []
    for outcome in outcomes:
        r2 = sensitivity[(sensitivity["outcome"] == outcome) & (sensitivity["index"] == "R2")]
        titles.append(outcome + (f" (R² {r2['value'].iloc[0]:.2f})" if len(r2) else ""))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_yaxes=True,
        horizontal_spacing=0.02,
        vertical_spacing=0.12 / max(rows, 1) + 0.04,
        subplot_titles=titles or ["no sensitivity"],
    )
    palette = {"S1": "#1f77b4", "ST": "#ff7f0e", "SRC": NEUTRAL}
    order = [_term_label(t, labels) for t in terms]
    for i, outcome in enumerate(outcomes):
        frame = bars[bars["outcome"] == outcome]
        for index, part in frame.groupby("index", sort=False):
            fig.add_trace(
                go.Bar(
                    y=[_term_label(t, labels) for t in part["term"]],
                    x=part["value"],
                    orientation="h",
                    name=index,
                    marker_color=palette.get(index, NEUTRAL),
                    legendgroup=index,
                    showlegend=i == 0,
                    customdata=part["term"],
                    error_x={"type": "data", "array": part["conf"], "visible": True},
                    hovertemplate="%{customdata}<br>" + index + " %{x:.3f}<extra></extra>",
                ),
                row=i // cols + 1,
                col=i % cols + 1,
            )
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1])
    method = sensitivity["method"].iloc[0] if len(sensitivity) else ""
    title = (
        "Sobol indices: first order S1 and total ST (95% bootstrap intervals; "
        "ST - S1 is the share through interactions)"
        if method == "sobol"
        else "Standardised regression coefficients (95% intervals; trust them when R² is high)"
    )
    per_row = 60 + 28 * len(terms) * (2 if method == "sobol" else 1)
    fig.update_layout(
        title=title, template="plotly_white", barmode="group", height=max(360, 100 + per_row * rows)
    )
    return fig


def point_medians_chart(
    quantiles: pd.DataFrame, points: pd.DataFrame, variable: str, title: str, yaxis: str
) -> go.Figure:
    """The median path of ``variable`` at each parameter point (for designs with few points)."""
    fig = go.Figure()
    frame = quantiles[quantiles["variable"] == variable]
    for point, part in frame.groupby("point", sort=True):
        values = points.loc[point]
        label = (
            ", ".join(f"{short_labels(list(points.columns))[k]}={v}" for k, v in values.items())
            or f"point {point}"
        )
        fig.add_trace(
            go.Scatter(
                x=part["step"],
                y=part["q50"],
                mode="lines",
                name=label,
                hovertemplate=label + "<br>step %{x}<br>median %{y:.4g}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title + " (median across replications, per parameter point)",
        xaxis_title="step",
        yaxis_title=yaxis,
        template="plotly_white",
        height=430,
    )
    return fig


def sweep_figures(result: SweepResult) -> list[go.Figure]:
    """The dashboard's figures, in reading order."""
    spec = result.spec.spec
    pooled = series_quantiles(result.series, by=())
    figures = [
        fan_chart(pooled, ["hhi"], "Concentration (HHI) over time", "HHI (0-10,000)"),
        share_fan_chart(pooled),
        fan_chart(pooled, ["price_index"], "Price index over time", "quantity-weighted price"),
        outcome_histograms(result.runs, list(spec.outcomes)),
    ]
    if spec.parameters and result.plan.n_points <= MAX_POINT_LINES and spec.replications > 1:
        points = (
            result.runs.groupby("point", sort=True)[list(spec.parameters)]
            .first()
            .map(lambda v: f"{v:.3g}" if isinstance(v, float) else v)
        )
        figures += [
            point_medians_chart(result.quantiles, points, variable, title, axis)
            for variable, title, axis in (
                ("hhi", "HHI over time", "HHI (0-10,000)"),
                ("price_index", "Price index over time", "quantity-weighted price"),
            )
        ]
    if spec.parameters:
        figures.append(parameter_scatter(result.runs, list(spec.parameters), list(spec.outcomes)))
    if len(result.sensitivity):
        figures.append(sensitivity_chart(result.sensitivity))
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
