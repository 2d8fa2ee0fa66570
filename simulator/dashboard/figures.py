"""The time-series figures of a run: shares, prices, quality, profit and cash, concentration
and market structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator import metrics
from simulator.dashboard.common import (
    EDGE_STYLES,
    OTHERS,
    OTHERS_COLOR,
    SERVED_COLOR,
    Event,
    _array,
    _base_layout,
    _grid,
    _steps,
    _thin,
    add_event_markers,
    firm_lifetimes,
    run_colors,
    scenario_events,
    shown_firms,
)
from simulator.results import RunResult

HHI_BAND_COLORS = ("#2ca02c", "#ffbf00", "#d62728")
HHI_BAND_TEXT_COLORS = ("#1b6e1b", "#8a6500", "#a31d1d")


def _share_views(result: RunResult) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """Per view ('all segments' or a segment): wide inside-sales shares and the served share."""
    model = _thin(result.model)
    views: dict[str, tuple[pd.DataFrame, pd.Series]] = {}
    total = _thin(result.firms).pivot_table(
        index="step", columns="firm", values="share", aggfunc="sum"
    )
    served = pd.Series(1.0 - model["outside_share"].to_numpy(), index=model["step"].to_numpy())
    views["all segments"] = (total, served)
    segments = _thin(result.segments)
    for segment, rows in segments.groupby("segment", sort=False):
        sales = rows.pivot_table(index="step", columns="firm", values="sales", aggfunc="sum")
        inside = sales.sum(axis=1)
        shares = sales.div(inside.where(inside > 0), axis=0)
        views[str(segment)] = (shares, rows.groupby("step")["share"].sum())
    return views


def _fold_others(wide: pd.DataFrame, shown: list[str]) -> pd.DataFrame:
    """Keep the shown firms' columns; sum the rest into one 'other firms' column."""
    hidden = [firm for firm in wide.columns if firm not in shown]
    folded = wide[[firm for firm in shown if firm in wide.columns]].copy()
    if hidden:
        folded[OTHERS] = wide[hidden].sum(axis=1, min_count=1)
    return folded


def share_figure(result: RunResult, segment: str | None = None, events=None) -> go.Figure:
    """Market shares over time as a stacked area per firm, entries and exits marked.

    Shares are each firm's share of the *inside* sales (units sold by all firms, the outside
    option excluded; the definition HHI uses), so every stack sums to exactly 1. The dashed
    line is the served share: 1 - outside share, i.e. the fraction of potential demand that
    buys from any firm (for a segment: the sum of the firms' logit choice probabilities).
    ``segment=None`` shows all segments with a selector to switch to each segment; naming a
    segment shows only it. ``events`` default to the scenario's scheduled events.
    """
    colors, shown = run_colors(result), shown_firms(result)
    views = _share_views(result)
    if segment is not None:
        if segment not in views:
            raise ValueError(f"unknown segment {segment!r}; known: {', '.join(list(views)[1:])}")
        views = {segment: views[segment]}
    figure = go.Figure()
    view_traces: list[list[int]] = []
    for view_index, (name, (wide, served)) in enumerate(views.items()):
        wide = _fold_others(wide, shown)
        indices = []
        for firm in wide.columns:
            column = wide[firm].dropna()
            indices.append(len(figure.data))
            figure.add_trace(
                go.Scatter(
                    x=_steps(column.index),
                    y=_array(column.to_numpy(), 5),
                    name=firm,
                    legendgroup=firm,
                    stackgroup="shares",
                    mode="lines",
                    line={"width": 0.5, "color": colors.get(firm, OTHERS_COLOR)},
                    fillcolor=colors.get(firm, OTHERS_COLOR),
                    visible=view_index == 0,
                    meta={"firm": firm, "view": name},
                    hovertemplate="%{fullData.name}: %{y:.1%}<extra></extra>",
                )
            )
        indices.append(len(figure.data))
        figure.add_trace(
            go.Scatter(
                x=_steps(served.index),
                y=_array(served.to_numpy(), 5),
                name="served (1 − outside share)",
                legendgroup="served",
                mode="lines",
                line={"color": SERVED_COLOR, "dash": "dash", "width": 1.5},
                visible=view_index == 0,
                meta={"view": name, "role": "served"},
                hovertemplate="served: %{y:.1%}<extra></extra>",
            )
        )
        view_traces.append(indices)
    entries, exits = firm_lifetimes(result)
    marker_index = _add_lifetime_markers(figure, entries, exits, colors)
    if len(views) > 1:
        buttons = []
        for name, indices in zip(views, view_traces, strict=True):
            visible = [False] * len(figure.data)
            for index in indices + marker_index:
                visible[index] = True
            title = "Market share of inside sales — " + name
            buttons.append(
                {
                    "label": name,
                    "method": "update",
                    "args": [{"visible": visible}, {"title.text": title}],
                }
            )
        figure.update_layout(
            updatemenus=[
                {
                    "buttons": buttons,
                    "direction": "down",
                    "showactive": True,
                    "active": 0,
                    "x": 1.0,
                    "xanchor": "right",
                    "y": 1.13,
                    "yanchor": "bottom",
                }
            ]
        )
    title = "Market share of inside sales — " + next(iter(views))
    _base_layout(figure, title, height=480)
    figure.update_yaxes(
        title_text="share (stack = 100% of firms' sales)", tickformat=".0%", range=[0, 1.08]
    )
    figure.update_xaxes(title_text="step")
    return add_event_markers(figure, scenario_events(result) if events is None else events)


def _add_lifetime_markers(
    figure: go.Figure, entries: list[Event], exits: list[Event], colors: dict[str, str]
) -> list[int]:
    """One marker trace for entries (triangles) and exits (crosses) above the stack."""
    if not entries and not exits:
        return []
    rows = [(e, "enters", "triangle-down") for e in entries] + [(e, "exits", "x") for e in exits]
    figure.add_trace(
        go.Scatter(
            x=_steps([e["step"] for e, _, _ in rows]),
            y=_array([1.04] * len(rows)),
            mode="markers",
            name="entry / exit",
            legendgroup="entry / exit",
            marker={
                "symbol": [symbol for _, _, symbol in rows],
                "size": 11,
                "color": [colors.get(e["firm"], OTHERS_COLOR) for e, _, _ in rows],
                "line": {"width": 1, "color": "#333"},
            },
            text=[
                f"{e['firm']} {verb} at step {e['step']}"
                + (f" ({e['detail']})" if e["detail"] else "")
                for e, verb, _ in rows
            ],
            hovertemplate="%{text}<extra></extra>",
            meta={"role": "lifetimes"},
        )
    )
    for event, verb, _ in rows[:50]:
        figure.add_shape(
            type="line",
            xref="x",
            yref="y",
            x0=event["step"],
            x1=event["step"],
            y0=0,
            y1=1,
            line={
                "color": colors.get(event["firm"], OTHERS_COLOR),
                "width": 1.5,
                "dash": "dashdot",
            },
            name=f"{'entry' if verb == 'enters' else 'exit'}: {event['firm']}",
        )
    return [len(figure.data) - 1]


def _firm_lines(
    figure: go.Figure,
    wide: pd.DataFrame,
    colors: dict[str, str],
    hover: str,
    row: int | None = None,
    col: int | None = None,
    showlegend: bool = True,
    digits: int = 4,
) -> None:
    """One line per firm column of ``wide`` (index: step), grouped by firm across panels."""
    for firm in wide.columns:
        column = wide[firm].dropna()
        trace = go.Scatter(
            x=_steps(column.index),
            y=_array(column.to_numpy(), digits),
            name=firm,
            legendgroup=firm,
            showlegend=showlegend,
            mode="lines",
            line={"color": colors.get(firm, OTHERS_COLOR), "width": 1.8},
            meta={"firm": firm},
            hovertemplate=f"%{{fullData.name}}: {hover}<extra></extra>",
        )
        figure.add_trace(trace, row=row, col=col) if row else figure.add_trace(trace)


def _wide(frame: pd.DataFrame, value: str, shown: list[str]) -> pd.DataFrame:
    rows = _thin(frame[frame["firm"].astype(str).isin(shown)])
    wide = rows.pivot_table(index="step", columns="firm", values=value, aggfunc="mean")
    return wide[[firm for firm in shown if firm in wide.columns]]


def price_figure(result: RunResult, events=None) -> go.Figure:
    """Each firm's price per step, with the sales-weighted price index for reference."""
    colors, shown = run_colors(result), shown_firms(result)
    figure = go.Figure()
    _firm_lines(figure, _wide(result.firms, "price", shown), colors, "%{y:.3f}")
    model = _thin(result.model)
    figure.add_trace(
        go.Scatter(
            x=_steps(model["step"]),
            y=_array(model["price_index"], 4),
            name="price index",
            legendgroup="price index",
            mode="lines",
            line={"color": SERVED_COLOR, "dash": "dash"},
            meta={"role": "price index"},
            hovertemplate="price index: %{y:.3f}<extra></extra>",
        )
    )
    _base_layout(figure, "Prices (money per demand unit; dashed: sales-weighted price index)")
    figure.update_yaxes(title_text="price")
    figure.update_xaxes(title_text="step")
    return add_event_markers(figure, scenario_events(result) if events is None else events)


def quality_figure(result: RunResult, events=None) -> go.Figure:
    """Model quality per segment (small multiples, shared y): who leads where, and when."""
    colors, shown = run_colors(result), shown_firms(result)
    segments = list(dict.fromkeys(result.segments["segment"].astype(str)))
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
        rows_of_segment = result.segments[result.segments["segment"].astype(str) == segment]
        _firm_lines(
            figure,
            _wide(rows_of_segment, "quality", shown),
            colors,
            "%{y:.3f}",
            row=index // cols + 1,
            col=index % cols + 1,
            showlegend=index == 0,
        )
        _shade_extrapolated(
            figure, rows_of_segment, shown, colors, index // cols + 1, index % cols + 1
        )
    _base_layout(
        figure,
        "Model quality per segment (higher is better; zoo Q: 0 = byte frequencies, 1 = best "
        "measured model; shaded: extrapolated beyond the measured models)",
        height=max(360, 260 * rows + 120),
    )
    figure.update_xaxes(title_text="step", row=rows)
    figure.update_xaxes(showticklabels=True)
    return add_event_markers(figure, scenario_events(result) if events is None else events)


def _shade_extrapolated(figure: go.Figure, rows: pd.DataFrame, shown, colors, row, col) -> None:
    """A wide translucent band under a firm's quality where it is extrapolated."""
    if "extrapolated" not in rows.columns or not rows["extrapolated"].any():
        return
    quality = _wide(rows, "quality", shown)
    flagged = _wide(rows.assign(extrapolated=rows["extrapolated"] * 1.0), "extrapolated", shown)
    for firm in quality.columns:
        mask = flagged[firm].reindex(quality.index).fillna(0.0) > 0
        if mask.any():
            color = colors.get(firm, OTHERS_COLOR)
            trace = go.Scatter(
                x=_steps(quality.index),
                y=_array(quality[firm].where(mask).to_numpy(), 4),
                name=f"{firm} (extrapolated)",
                legendgroup=firm,
                showlegend=False,
                mode="lines+markers",
                line={"color": color, "width": 9},
                marker={"color": color, "size": 7},
                opacity=0.3,
                meta={"firm": firm, "role": "extrapolated"},
                hovertemplate="%{fullData.name}: %{y:.3f}<extra></extra>",
            )
            figure.add_trace(trace, row=row, col=col)


def profit_cash_figure(result: RunResult, events=None) -> go.Figure:
    """Profit per step and cash per firm, stacked panels sharing the time axis and legend."""
    colors, shown = run_colors(result), shown_firms(result)
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("profit per step", "cash"),
    )
    _firm_lines(
        figure, _wide(result.firms, "profit", shown), colors, "%{y:,.2f}", row=1, col=1, digits=3
    )
    _firm_lines(
        figure,
        _wide(result.firms, "cash", shown),
        colors,
        "%{y:,.1f}",
        row=2,
        col=1,
        showlegend=False,
        digits=2,
    )
    for row in (1, 2):
        figure.add_hline(y=0, line={"color": "#999", "width": 1}, row=row, col=1)
    _base_layout(figure, "Profit and cash (money units)", height=620)
    figure.update_xaxes(title_text="step", row=2)
    return add_event_markers(figure, scenario_events(result) if events is None else events)


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
    titles = ["HHI (0-10,000)", "consumer surplus (money units per step)"] + [
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
    _base_layout(
        figure,
        "Concentration (DOJ/FTC 2023 bands shaded; 2010 thresholds dotted) and consumer welfare",
        height=560 + 160 * len(extra),
    )
    figure.update_layout(showlegend=False)
    figure.update_xaxes(title_text="step", row=len(titles))
    return add_event_markers(figure, scenario_events(result) if events is None else events)


STRUCTURE_PANELS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "firms active (bars: entries / exits)": (("n_firms", "firms active", "#444444"),),
    "partnership links": (
        ("n_links", "all links", "#444444"),
        ("n_joint_rd", "joint R&D", EDGE_STYLES["joint_rd"][0]),
        ("n_market_sharing", "market sharing", EDGE_STYLES["market_sharing"][0]),
        ("n_alliances", "alliances", EDGE_STYLES["alliance"][0]),
    ),
    "network density and clustering": (
        ("density", "density", "#444444"),
        ("clustering", "clustering", "#17becf"),
    ),
    "network components": (("components", "components", "#444444"),),
    "open source": (
        ("open_share", "share of firms open-source", "#444444"),
        ("best_open_quality", "best open model quality", "#2ca02c"),
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
            for flow, sign, color in (("entries", 1, "#2ca02c"), ("exits", -1, "#d62728")):
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
    _base_layout(figure, "Market structure", height=max(340, 240 * rows + 110))
    figure.update_layout(barmode="relative", legend={"title": {"text": ""}})
    figure.update_xaxes(showticklabels=True)
    return add_event_markers(figure, scenario_events(result) if events is None else events)
