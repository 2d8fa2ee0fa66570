"""The explorer web app (Plotly Dash): the scenario's controls on the left, the run's share,
price, concentration and network figures on the right, re-run whenever a control changes.

The figures are the run dashboard's own (``simulator.dashboard``), so the explorer shows what
``dashboard.html`` shows. Sliders report their value when released (``updatemode='mouseup'``):
dragging does not start a run per pixel. Runs are serialised by a lock, one at a time; a
combination the scenario's validation rejects leaves the last figures in place and lists the
problems above them.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import plotly.graph_objects as go
from dash import ALL, Dash, Input, Output, ctx, dcc, html, no_update

from simulator.config import Scenario, ScenarioError
from simulator.dashboard import (
    PLOT_CONFIG,
    concentration_figure,
    network_figure,
    price_figure,
    run_header,
    scenario_events,
    share_figure,
)
from simulator.explore.controls import Control, scenario_controls, scenario_with
from simulator.model import simulate
from simulator.results import RunResult

FIGURES = {
    "share": share_figure,
    "price": price_figure,
    "concentration": concentration_figure,
    "network": network_figure,
}
"""The explorer's figures, in page order: graph id -> the dashboard's figure function (plus
the data-stock figure for scenarios with market.data: figure_functions)."""


def figure_functions(scenario: Scenario) -> dict[str, Any]:
    """FIGURES, with the data-stock figure after the shares when the scenario models data."""
    if scenario.market.data is None:
        return FIGURES
    from simulator.dashboard.data import data_figure

    return {"share": share_figure, "data": data_figure} | FIGURES


CONTROL_TYPE = "control"
"""The ``type`` of every control's pattern-matching id: ``{"type": "control", "key": k}``."""

PAGE_STYLE = {"fontFamily": "system-ui, sans-serif", "margin": "0 1rem", "color": "#222"}
SIDEBAR_STYLE = {
    "flex": "0 0 22rem",
    "maxHeight": "calc(100vh - 6rem)",
    "overflowY": "auto",
    "padding": "0 0.75rem 0 1rem",
    "fontSize": "0.85rem",
}
PROBLEM_STYLE = {
    "color": "#a31d1d",
    "background": "#fdecea",
    "padding": "0.5rem 0.75rem",
    "whiteSpace": "pre-wrap",
}


def explorer_figures(result: RunResult) -> dict[str, go.Figure]:
    """The explorer's figures of ``result``, its scenario's events marked."""
    events = scenario_events(result)
    functions = figure_functions(result.scenario).items()
    return {name: figure(result, events=events) for name, figure in functions}


def _control_input(control: Control) -> Any:
    """The Dash component of one control."""
    component_id = {"type": CONTROL_TYPE, "key": control.key}
    if control.kind == "choice":
        options = list(control.options)
        return dcc.Dropdown(id=component_id, options=options, value=control.value, clearable=False)
    high_mark = "∞" if control.unlimited_at_high else f"{control.high:g}"
    return dcc.Slider(
        id=component_id,
        min=control.low,
        max=control.high,
        step=control.step,
        value=control.value,
        marks={control.low: f"{control.low:g}", control.high: high_mark},
        updatemode="mouseup",
        tooltip={"placement": "bottom"},
    )


def _sidebar(controls: list[Control]) -> html.Aside:
    """The controls grouped by segment, firm and events, each group a foldable section (the
    first of each kind open)."""
    groups: dict[str, list[Control]] = {}
    for control in controls:
        groups.setdefault(control.group, []).append(control)
    sorts = [group.split(" ")[0] for group in groups]  # "segment", "firm" or "events"
    first = {sorts.index(sort) for sort in sorts}  # open: the first segment, firm and events
    sections = [
        html.Details(
            [
                html.Summary(group, style={"fontWeight": "600", "cursor": "pointer"}),
                *[
                    html.Div(
                        [
                            html.Label(
                                control.label, title=control.path.canonical, className="label"
                            ),
                            _control_input(control),
                        ],
                        style={"margin": "0.4rem 0 0.8rem"},
                        className="control",
                    )
                    for control in members
                ],
            ],
            open=index in first,
            style={"marginBottom": "0.6rem"},
        )
        for index, (group, members) in enumerate(groups.items())
    ]
    return html.Aside(sections, id="controls", style=SIDEBAR_STYLE)


def _status(result: RunResult, run_s: float, figures_s: float) -> str:
    header = run_header(result)
    facts = [
        key
        for key in header
        if key in ("final HHI", "leader", "firms") or key.startswith("consumer surplus")
    ]
    times = f"run {run_s:.2f} s, figures {figures_s:.2f} s"
    return "  ·  ".join([*(f"{key}: {header[key]}" for key in facts), times])


def build_app(scenario: Scenario) -> Dash:
    """The Dash app exploring ``scenario`` (already validated)."""
    controls = scenario_controls(scenario)
    base = scenario.model_dump(mode="json")
    run_lock = threading.Lock()
    figures_shown = figure_functions(scenario)
    app = Dash(
        __name__,
        title=f"{scenario.name} — LLM market explorer",
        update_title=None,
        serve_locally=True,
    )
    graphs = [dcc.Graph(id=name, config=PLOT_CONFIG) for name in figures_shown]
    app.layout = html.Div(
        [
            html.Header(
                [
                    html.H1(f"{scenario.name} — explorer", style={"marginBottom": "0.2rem"}),
                    html.P(scenario.description, style={"margin": "0 0 0.5rem"}),
                ]
            ),
            html.Div(
                [
                    _sidebar(controls),
                    html.Main(
                        [
                            html.Div(id="status", style={"fontSize": "0.9rem"}),
                            html.Div(id="problems", role="alert"),
                            dcc.Loading(graphs, delay_show=300),
                        ],
                        style={"flex": "1 1 auto", "minWidth": 0},
                    ),
                ],
                style={"display": "flex", "gap": "1.5rem"},
            ),
        ],
        style=PAGE_STYLE,
    )

    @app.callback(
        *[Output(name, "figure") for name in figures_shown],
        Output("status", "children"),
        Output("problems", "children"),
        Output("problems", "style"),
        Input({"type": CONTROL_TYPE, "key": ALL}, "value"),
    )
    def rerun(_values: list[Any]) -> tuple:
        values = {item["id"]["key"]: item["value"] for item in ctx.inputs_list[0]}
        try:
            changed = scenario_with(base, controls, values)
        except ScenarioError as exc:
            text = "Not applied (the scenario's validation says):\n" + "\n".join(exc.lines)
            return (*[no_update] * len(figures_shown), no_update, text, PROBLEM_STYLE)
        with run_lock:
            start = time.perf_counter()
            result = simulate(changed)
            run_s = time.perf_counter() - start
            figures = explorer_figures(result)
            figures_s = time.perf_counter() - start - run_s
        status = _status(result, run_s, figures_s)
        return (*figures.values(), status, None, {"display": "none"})

    return app


def explorer_server(scenario: Scenario, host: str = "127.0.0.1", port: int = 8050):
    """A werkzeug server of the explorer app (``port=0``: any free port, see
    ``server.port``); call ``serve_forever()`` to run it and ``shutdown()`` to stop it."""
    from werkzeug.serving import get_sockaddr, make_server, select_address_family

    # bind here, not in werkzeug: its bind failure prints and exits; this raises OSError
    family = select_address_family(host, port)
    with socket.create_server(get_sockaddr(host, port, family), family=family) as listening:
        return make_server(
            host, port, build_app(scenario).server, threaded=True, fd=listening.fileno()
        )
