"""The market-level figures of a run: concentration (HHI on the DOJ/FTC bands), consumer
surplus and homogenisation, and the market structure (firm count, partnerships, openness,
dispersion, cost levels)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator import metrics
from simulator.dashboard.common import (
    INDEX_MIN_WIDTH,
    MEANING_COLORS,
    _array,
    _base_layout,
    _grid,
    _steps,
    _thin,
    finish,
    level_min_width,
    steady_range,
    time_unit,
)
from simulator.results import RunResult

HHI_BAND_COLORS = ("#2ca02c", "#ffbf00", "#d62728")
HHI_BAND_TEXT_COLORS = ("#1b6e1b", "#8a6500", "#a31d1d")


def _band_hover(values: np.ndarray) -> np.ndarray:
    labels = [
        [
            metrics.hhi_band(value, metrics.HHI_BANDS_2023),
            metrics.hhi_band(value, metrics.HHI_BANDS_2010),
        ]
        for value in values
    ]
    return np.array(labels, dtype=object)


def concentration_figure(result: RunResult, events=None) -> go.Figure:
    """HHI on the DOJ/FTC bands, consumer surplus, and homogenisation when the run has it.

    Shaded bands are the 2023 Merger Guidelines (<1,000 unconcentrated, 1,000-1,800 moderately,
    >1,800 highly concentrated); dotted lines mark the 2010 thresholds 1,500 and 2,500.
    """
    model = _thin(result.model)
    extra = [column for column in ("homogenization",) if column in model.columns]
    unit = time_unit(result)
    titles = ["HHI (0-10,000)", f"consumer surplus (money units per {unit})"] + [
        "homogenisation index" for _ in extra
    ]
    figure = make_subplots(
        rows=len(titles),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        subplot_titles=titles,
        row_heights=[2] + [1] * (len(titles) - 1),
    )
    hhi = model["hhi"].to_numpy(dtype=float)
    figure.add_trace(
        go.Scatter(
            x=_steps(model["step"]),
            y=_array(hhi, 1),
            name="HHI",
            mode="lines",
            line={"color": "#111", "width": 2.2},
            customdata=_band_hover(hhi),
            meta={"role": "hhi"},
            hovertemplate="HHI %{y:,.0f}: %{customdata[0]} (2023 bands)"
            "; %{customdata[1]} (2010 bands)<extra></extra>",
        ),
        row=1,
        col=1,
    )
    top = max(float(np.nanmax(hhi)) * 1.1 if len(hhi) else 0.0, 2800.0)
    top = min(top, 10_000.0)
    names_2010 = {
        "moderately concentrated": "2010: 1,500-2,500",
        "highly concentrated": "2010: >2,500",
        "unconcentrated": "2010: <1,500",
    }
    for (low, high, label), color, text_color in zip(
        metrics.HHI_BANDS_2023, HHI_BAND_COLORS, HHI_BAND_TEXT_COLORS, strict=True
    ):
        figure.add_shape(
            type="rect",
            xref="x domain",
            yref="y",
            x0=0,
            x1=1,
            y0=low,
            y1=min(high, top),
            fillcolor=color,
            opacity=0.13,
            layer="below",
            line={"width": 0},
            name=f"2023 band: {label}",
        )
        bounds = (
            f"<{high:,.0f}"
            if low == 0
            else (f">{low:,.0f}" if high >= 10_000 else f"{low:,.0f}-{high:,.0f}")
        )
        figure.add_annotation(
            xref="x domain",
            yref="y",
            x=0.995,
            xanchor="right",
            y=(low + min(high, top)) / 2,
            showarrow=False,
            text=f"{label} (2023: {bounds}; {names_2010[label]})",
            font={"size": 10, "color": text_color},
        )
    for threshold in (1500.0, 2500.0):
        figure.add_shape(
            type="line",
            xref="x domain",
            yref="y",
            x0=0,
            x1=1,
            y0=threshold,
            y1=threshold,
            line={"color": "#777", "width": 1, "dash": "dot"},
            name=f"2010 threshold {threshold:,.0f}",
        )
        figure.add_annotation(
            xref="x domain",
            yref="y",
            x=0.005,
            xanchor="left",
            y=threshold,
            yanchor="bottom",
            showarrow=False,
            font={"size": 9, "color": "#777"},
            text=f"2010 guidelines: {threshold:,.0f}",
        )
    figure.update_yaxes(range=[0, top], row=1, col=1, title_text="HHI")
    figure.add_trace(
        go.Scatter(
            x=_steps(model["step"]),
            y=_array(model["consumer_surplus"], 2),
            name="consumer surplus",
            mode="lines",
            line={"color": "#1f77b4"},
            meta={"role": "consumer_surplus"},
            hovertemplate="consumer surplus %{y:,.1f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    for offset, column in enumerate(extra):
        figure.add_trace(
            go.Scatter(
                x=_steps(model["step"]),
                y=_array(model[column], 4),
                name=column,
                mode="lines",
                line={"color": "#9467bd"},
                meta={"role": column},
                hovertemplate=f"{column} %{{y:.3f}}<extra></extra>",
            ),
            row=3 + offset,
            col=1,
        )
        figure.update_yaxes(
            range=steady_range(model[column], INDEX_MIN_WIDTH, 0.0, 1.0), row=3 + offset, col=1
        )
    surplus = model["consumer_surplus"]
    figure.update_yaxes(range=steady_range(surplus, level_min_width(surplus)), row=2, col=1)
    _base_layout(
        figure,
        "Concentration (DOJ/FTC 2023 bands shaded; 2010 thresholds dotted) and consumer welfare",
        height=560 + 160 * len(extra),
    )
    figure.update_layout(showlegend=False)
    figure.update_xaxes(title_text=unit, row=len(titles))
    return finish(figure, result, events)


STRUCTURE_PANELS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "firms active (bars: entries / exits)": (("n_firms", "firms active", "#444444"),),
    "partnership links": (
        ("n_links", "all links", "#444444"),
        ("n_joint_rd", "joint R&D", MEANING_COLORS["joint_rd"]),
        ("n_market_sharing", "market sharing", MEANING_COLORS["market_sharing"]),
        ("n_alliances", "alliances", MEANING_COLORS["alliance"]),
    ),
    "network density and clustering": (
        ("density", "density", "#444444"),
        ("clustering", "clustering", "#17becf"),
    ),
    "network components": (("components", "components", "#444444"),),
    "open source": (
        ("open_share", "share of firms open-source", MEANING_COLORS["open_share"]),
        ("best_open_quality", "best open model quality", MEANING_COLORS["open_quality"]),
    ),
    "price dispersion": (("price_dispersion", "price dispersion", "#444444"),),
    "compute price and serving cost index": (
        ("compute_price", "compute price", "#444444"),
        ("cost_index", "serving cost index", "#e377c2"),
    ),
}
"""Panels of the structure figure: (model column, trace name, colour); absent columns skipped."""

STEP_LIKE = (
    "n_firms",
    "n_links",
    "n_joint_rd",
    "n_market_sharing",
    "n_alliances",
    "components",
    "compute_price",
    "cost_index",
)
"""Counts and event-driven levels: drawn as steps, not slopes."""

UNIT_INTERVAL = ("density", "clustering", "open_share", "best_open_quality", "homogenization")
"""Series on [0, 1]: their axes span at least INDEX_MIN_WIDTH (a 0.001 drift is no cliff)."""


def structure_figure(result: RunResult, events=None) -> go.Figure:
    """Market structure over time: firm count with entries/exits and, when the run has them,
    partnership, openness, dispersion and cost-level series (one panel per theme)."""
    model = _thin(result.model)
    panels = {
        title: [spec for spec in specs if spec[0] in model.columns]
        for title, specs in STRUCTURE_PANELS.items()
    }
    panels = {title: specs for title, specs in panels.items() if specs}
    rows, cols = _grid(len(panels))
    figure = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes=True,
        subplot_titles=list(panels),
        vertical_spacing=0.12 / max(rows - 1, 1) + 0.05,
        horizontal_spacing=0.08,
    )
    for index, (title, specs) in enumerate(panels.items()):
        row, col = index // cols + 1, index % cols + 1
        for column, name, color in specs:
            figure.add_trace(
                go.Scatter(
                    x=_steps(model["step"]),
                    y=_array(model[column], 4),
                    name=name,
                    mode="lines",
                    line={"color": color, "shape": "hv" if column in STEP_LIKE else "linear"},
                    showlegend=len(specs) > 1,
                    meta={"role": column},
                    legendgroup=title,
                    legendgrouptitle={"text": title} if len(specs) > 1 else None,
                    hovertemplate=f"{name}: %{{y:,.3~f}}<extra></extra>",
                ),
                row=row,
                col=col,
            )
        if specs[0][0] == "n_firms":
            for flow, sign in (("entries", 1), ("exits", -1)):
                color = MEANING_COLORS[flow]
                if flow in model.columns and model[flow].abs().sum() > 0:
                    figure.add_trace(
                        go.Bar(
                            x=_steps(model["step"]),
                            y=_array(sign * model[flow].abs()),
                            name=flow,
                            marker={"color": color},
                            meta={"role": flow},
                            hovertemplate=f"{flow}: %{{y}}<extra></extra>",
                        ),
                        row=row,
                        col=col,
                    )
        columns = [spec[0] for spec in specs]
        if all(column in UNIT_INTERVAL for column in columns):
            values = model[columns].to_numpy().ravel()
            span = steady_range(values, INDEX_MIN_WIDTH, 0.0, 1.0)
        elif not any(column in STEP_LIKE for column in columns):
            values = model[columns].to_numpy().ravel()
            span = steady_range(values, level_min_width(values))
        else:
            span = None
        figure.update_yaxes(range=span, row=row, col=col)
    _base_layout(figure, "Market structure", height=max(340, 240 * rows + 110))
    figure.update_layout(barmode="relative", legend={"title": {"text": ""}})
    figure.update_xaxes(showticklabels=True)
    figure.update_xaxes(title_text=time_unit(result), row=rows)
    return finish(figure, result, events)
