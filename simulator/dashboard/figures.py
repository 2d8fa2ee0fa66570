"""The time-series figures of a run: shares, prices, quality, profit and cash, concentration
and market structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator.dashboard.common import (
    INDEX_MIN_WIDTH,
    MEANING_COLORS,
    NOMINAL_PLOT_WIDTH_PX,
    OTHERS,
    OTHERS_COLOR,
    SERVED_COLOR,
    Event,
    _array,
    _base_layout,
    _grid,
    _steps,
    _thin,
    finish,
    firm_lifetimes,
    level_min_width,
    run_colors,
    shown_firms,
    steady_range,
    time_unit,
    wide_by_step,
)
from simulator.results import RunResult

LIFETIME_LANES = (1.03, 1.075, 1.12)
"""Heights (in share units, above the 100% stack) of the rows entry and exit markers use, so
markers of nearby months sit on different rows instead of piling onto one another."""
LIFETIME_LINES = 8
"""Draw a firm-coloured vertical line per entry or exit only when the run has at most this many
(more would hide the stack)."""


def _share_views(result: RunResult) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """Per view ('all segments' or a segment): wide inside-sales shares and the served share."""
    model = _thin(result.model)
    views: dict[str, tuple[pd.DataFrame, pd.Series]] = {}
    total = wide_by_step(_thin(result.firms), "share", "sum")
    served = pd.Series(1.0 - model["outside_share"].to_numpy(), index=model["step"].to_numpy())
    views["all segments"] = (total, served)
    segments = _thin(result.segments)
    for segment, rows in segments.groupby("segment", sort=False):
        sales = wide_by_step(rows, "sales", "sum")
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
    steps = result.model["step"]
    span = float(steps.max() - steps.min()) or 1.0
    marker_index = _add_lifetime_markers(figure, entries, exits, colors, time_unit(result), span)
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
                    "x": 1.02,
                    "xanchor": "left",
                    "y": 1.0,
                    "yanchor": "top",
                }
            ]
        )
    title = "Market share of inside sales — " + next(iter(views))
    _base_layout(figure, title, height=480)
    figure.update_yaxes(
        title_text="share (stack = 100% of firms' sales)",
        tickformat=".0%",
        range=[0, 1.16 if marker_index else 1.05],
        tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0],
    )
    if len(views) > 1:  # the segment selector sits where the legend would start
        figure.update_layout(legend={"y": 0.9, "yanchor": "top"})
    figure.update_xaxes(title_text=time_unit(result))
    return finish(figure, result, events)


MARKER_GAP_PX = 24
"""Markers closer than this (on a NOMINAL_PLOT_WIDTH_PX-wide plot) go on different rows."""


def _lifetime_points(
    entries: list[Event], exits: list[Event], span: float
) -> list[tuple[str, int, float, list[Event]]]:
    """One marker per (kind, step): (kind, step, height, the firms), heights chosen so a marker
    closer than MARKER_GAP_PX to the previous one of a row moves up a row (``LIFETIME_LANES``);
    ``span`` is the run's length in steps."""
    grouped: dict[tuple[int, str], list[Event]] = {}
    for kind, rows in (("enters", entries), ("exits", exits)):
        for event in rows:
            grouped.setdefault((int(event["step"]), kind), []).append(event)
    points = []
    last = [-np.inf] * len(LIFETIME_LANES)
    gap = span * MARKER_GAP_PX / NOMINAL_PLOT_WIDTH_PX
    for (step, kind), rows in sorted(grouped.items()):
        lane = next((k for k, end in enumerate(last) if step - end >= gap), int(np.argmin(last)))
        last[lane] = step
        points.append((kind, step, LIFETIME_LANES[lane], rows))
    return points


def _add_lifetime_markers(
    figure: go.Figure,
    entries: list[Event],
    exits: list[Event],
    colors: dict[str, str],
    unit: str,
    span: float,
) -> list[int]:
    """Entries (triangles) and exits (crosses) above the stack: one marker per month and kind
    (its hover lists the firms), on staggered rows, coloured by the firm when one firm."""
    if not entries and not exits:
        return []
    points = _lifetime_points(entries, exits, span)
    indices = []
    for kind, symbol, name in (("enters", "triangle-down", "entry"), ("exits", "x", "exit")):
        mine = [p for p in points if p[0] == kind]
        if not mine:
            continue
        outline = MEANING_COLORS["entries" if kind == "enters" else "exits"]
        texts = []
        for _, step, _, rows in mine:
            firms = "; ".join(
                e["firm"] + (f" ({e['detail']})" if e["detail"] else "") for e in rows
            )
            verb = kind if len(rows) == 1 else kind[:-1]
            plural = "firm" if len(rows) == 1 else "firms"
            texts.append(f"{len(rows)} {plural} {verb} at {unit} {step}: {firms}")
        indices.append(len(figure.data))
        figure.add_trace(
            go.Scatter(
                x=_steps([step for _, step, _, _ in mine]),
                y=_array([height for _, _, height, _ in mine]),
                mode="markers",
                name=name,
                legendgroup=name,
                marker={
                    "symbol": symbol,
                    "size": [min(10 + 2 * (len(rows) - 1), 20) for *_, rows in mine],
                    "color": [
                        colors.get(rows[0]["firm"], OTHERS_COLOR) if len(rows) == 1 else outline
                        for *_, rows in mine
                    ],
                    "line": {"width": 1.5, "color": outline},
                },
                text=texts,
                hovertemplate="%{text}<extra></extra>",
                meta={"role": "lifetimes", "kind": kind},
            )
        )
    if len(entries) + len(exits) <= LIFETIME_LINES:
        for event, verb in [(e, "entry") for e in entries] + [(e, "exit") for e in exits]:
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
                name=f"{verb}: {event['firm']}",
            )
    return indices


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
    wide = wide_by_step(rows, value, "mean")
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
    prices = result.firms.loc[result.firms["firm"].astype(str).isin(shown), "price"]
    figure.update_yaxes(
        title_text="price", range=steady_range(prices, level_min_width(prices), floor=0.0)
    )
    figure.update_xaxes(title_text=time_unit(result))
    return finish(figure, result, events)


def segment_panels(
    result: RunResult, frame: pd.DataFrame, value: str, hover: str, extra=None
) -> tuple[go.Figure, int]:
    """Small multiples, one panel per segment of ``frame`` (shared axes), each with one line
    per shown firm of ``value``; ``extra(figure, rows of the segment, row, col)`` adds to a
    panel. Returns the figure and its number of panel rows."""
    colors, shown = run_colors(result), shown_firms(result)
    segments = list(dict.fromkeys(frame["segment"].astype(str)))
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
        rows_of_segment = frame[frame["segment"].astype(str) == segment]
        row, col = index // cols + 1, index % cols + 1
        _firm_lines(
            figure,
            _wide(rows_of_segment, value, shown),
            colors,
            hover,
            row=row,
            col=col,
            showlegend=index == 0,
        )
        if extra is not None:
            extra(figure, rows_of_segment, row, col)
    return figure, rows


def quality_figure(result: RunResult, events=None) -> go.Figure:
    """Model quality per segment (small multiples, shared y): who leads where, and when."""
    colors, shown = run_colors(result), shown_firms(result)

    def shade(figure: go.Figure, rows_of_segment: pd.DataFrame, row: int, col: int) -> None:
        _shade_extrapolated(figure, rows_of_segment, shown, colors, row, col)

    figure, rows = segment_panels(result, result.segments, "quality", "%{y:.3f}", shade)
    _base_layout(
        figure,
        "Model quality per segment (higher is better; zoo Q: 0 = byte frequencies, 1 = best "
        "measured model; shaded: extrapolated beyond the measured models)",
        height=max(360, 260 * rows + 120),
    )
    figure.update_xaxes(title_text=time_unit(result), row=rows)
    figure.update_xaxes(showticklabels=True)
    figure.update_yaxes(range=steady_range(result.segments["quality"], INDEX_MIN_WIDTH))
    return finish(figure, result, events)


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
        subplot_titles=(f"profit per {time_unit(result)}", "cash"),
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
    figure.update_xaxes(title_text=time_unit(result), row=2)
    return finish(figure, result, events)
