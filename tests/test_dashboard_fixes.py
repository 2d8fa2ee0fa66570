"""What a first reader tripped on in the dashboards, each as a check that fails if it returns:
event labels, lifetime markers, legends, colours per meaning, axis ranges, time unit, the
header, the console table, and the sweep report's names, fans and sensitivity panels."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from simulator import dashboard, simulate
from simulator.dashboard import common, figures
from simulator.sweep import labels as sweep_labels
from simulator.sweep import report
from tests.test_dashboard import TINY_SCENARIO

LONG_EVENTS = [
    {"step": 2, "label": "a very long label for the first event of the run", "kind": "x"},
    {"step": 3, "label": "another long label right next to the first", "kind": "x"},
    {"step": 19, "label": "a late event whose label would run off the right edge", "kind": "x"},
]


@pytest.fixture(scope="module")
def result():
    return simulate(copy.deepcopy(TINY_SCENARIO))


def event_labels(figure):
    return [a for a in figure.layout.annotations if (a.name or "").startswith("event")]


def test_event_labels_sit_above_subplot_titles_and_below_the_figure_title(result):
    figure = dashboard.quality_figure(result, events=LONG_EVENTS)  # has subplot titles
    labels = event_labels(figure)
    titles = [a for a in figure.layout.annotations if not a.name]
    top = max(t.y for t in titles)
    assert labels and all(a.y >= top and a.yshift >= common.SUBPLOT_TITLE_PX for a in labels)
    highest = max(a.yshift for a in labels) + common.LANE_PX
    assert figure.layout.margin.t >= highest + common.TITLE_PX  # the title has its own room
    assert figure.layout.title.yref == "container" and figure.layout.title.yanchor == "top"


def test_event_labels_of_one_lane_do_not_overlap_and_stay_inside(result):
    figure = dashboard.price_figure(result, events=LONG_EVENTS)
    labels = event_labels(figure)
    assert all(a.textangle in (None, 0) for a in labels)  # horizontal: no clipped diagonals
    span = common._x_span(figure)
    placed = common.label_lanes([a.x for a in labels], [a.text for a in labels], span)
    lanes: dict[int, list[tuple[float, float]]] = {}
    for lane, _, left, right in placed:
        lanes.setdefault(lane, []).append((left, right))
        assert left >= 0 and right <= common.NOMINAL_PLOT_WIDTH_PX
    for spans in lanes.values():
        spans.sort()
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False))
    assert len({a.yshift for a in labels[:2]}) == 2  # the two neighbours got different lanes
    assert labels[-1].xanchor == "right"  # the late one runs left, not off the figure


def lifetime_result(result, entrants: int):
    """The run as if ``entrants`` copies of Lab entered, one a month from month 3."""
    rows = [result.firms]
    for k in range(entrants):
        copy_rows = result.firms[result.firms["firm"] == "Lab"].copy()
        copy_rows = copy_rows[copy_rows["step"] >= 3 + k // 2]
        copy_rows["firm"] = f"entrant-{k}"
        rows.append(copy_rows)
    return dataclasses.replace(result, firms=pd.concat(rows, ignore_index=True))


def test_entry_markers_do_not_pile_up(result):
    figure = dashboard.share_figure(lifetime_result(result, 10), events=[])
    markers = [t for t in figure.data if (t.meta or {}).get("role") == "lifetimes"]
    points = [(int(x), float(y)) for t in markers for x, y in zip(t.x, t.y, strict=True)]
    assert len(points) == len(set(points))  # one marker per month and kind, never on another
    assert sorted(x for x, _ in points) == list(range(3, 8))  # 2 entrants a month: 5 markers
    px = common.NOMINAL_PLOT_WIDTH_PX / (result.model["step"].max() - result.model["step"].min())
    for a, b in zip(sorted(points), sorted(points)[1:], strict=False):
        assert (b[0] - a[0]) * px >= figures.MARKER_GAP_PX or a[1] != b[1]
    assert "2 firms enter at month 3" in markers[0].text[0]
    assert not [s for s in figure.layout.shapes if (s.name or "").startswith("entry")]


@pytest.mark.parametrize("span", [20.0, 200.0, 2000.0])
def test_nearby_entry_markers_go_on_different_rows(span):
    entries = [{"firm": f"f{k}", "step": 10 + k, "detail": ""} for k in range(6)]
    points = figures._lifetime_points(entries, [], span)
    px = common.NOMINAL_PLOT_WIDTH_PX / span
    rows: dict[float, list[int]] = {}
    for _, step, height, _ in points:
        rows.setdefault(height, []).append(step)
    for steps in rows.values():
        gaps = np.diff(sorted(steps)) * px
        # rows run out only when more markers crowd together than there are rows
        assert len(rows) == len(figures.LIFETIME_LANES) or (gaps >= figures.MARKER_GAP_PX).all()
    assert (len(rows) > 1) == (px < figures.MARKER_GAP_PX)


def test_legends_never_scroll(result, monkeypatch):
    many = lifetime_result(result, 30)
    for name, figure in dashboard.run_figures(many, events=[]).items():
        if figure.layout.showlegend is False:
            continue
        margin = figure.layout.margin
        room = figure.layout.height - margin.t - margin.b
        assert common.legend_rows(figure) * common.LEGEND_ROW_PX <= room, name


def test_alliances_entries_and_open_quality_have_their_own_colours(result):
    colors = common.MEANING_COLORS
    meanings = ("alliance", "entries", "exits", "open_quality", "open_share")
    assert len({colors[m] for m in meanings}) == len(meanings)
    assert dashboard.EDGE_STYLES["alliance"][0] == colors["alliance"]
    panels = dashboard.STRUCTURE_PANELS
    assert (
        dict((c, col) for c, _, col in panels["open source"])["best_open_quality"]
        == (colors["open_quality"])
    )


def test_a_nearly_flat_index_gets_a_sensible_axis_range(result):
    model = result.model.copy()
    model["homogenization"] = np.linspace(0.6475, 0.6485, len(model))
    figure = dashboard.concentration_figure(dataclasses.replace(result, model=model), events=[])
    low, high = figure.layout.yaxis3.range
    assert high - low >= common.INDEX_MIN_WIDTH and low <= 0.6475 and high >= 0.6485
    assert common.steady_range([0.0, 0.5, 1.0], 0.1) is None  # a real move keeps autorange
    assert common.steady_range([0.99, 0.995], 0.1, 0.0, 1.0) == [0.9, 1.0]


def test_time_axes_say_month_or_the_scenarios_unit(result):
    figures = dashboard.run_figures(result, events=[])
    titles = {
        axis.title.text
        for name, figure in figures.items()
        if name != "network"
        for axis in figure.select_xaxes()
        if axis.title.text
    }
    assert titles == {"month"}
    quarterly = simulate(copy.deepcopy(TINY_SCENARIO) | {"time_unit": "quarter"})
    assert dashboard.price_figure(quarterly, events=[]).layout.xaxis.title.text == "quarter"
    assert "consumer surplus, last quarter (20)" in dashboard.run_header(quarterly)


def test_console_table_lists_exited_firms(result):
    from rich.console import Console

    firms = result.firms[~((result.firms["firm"] == "Cheap") & (result.firms["step"] > 15))]
    summary = {**result.summary, "exits": [{"firm": "Cheap", "step": 16, "reason": "cash"}]}
    gone = dataclasses.replace(result, firms=firms, summary=summary)
    from simulator.terminal import run_table

    console = Console(width=200, record=True)
    console.print(run_table(gone))
    text = console.export_text()
    cheap = next(line for line in text.splitlines() if "Cheap" in line)
    assert "exited month 16" in cheap and "active" in text


def test_sweep_outcome_names_wrap_whole_and_events_are_named():
    name = "final_share.a_rather_long_firm_name_indeed"
    wrapped = sweep_labels.wrap_label(name)
    assert wrapped.replace("<br>", "") == name
    assert all(len(line) <= sweep_labels.LABEL_LINE for line in wrapped.split("<br>"))
    base = {"events": [{"step": 12, "kind": "open_source", "label": "Frontier open-sources"}]}
    labels = sweep_labels.parameter_labels(["events.0.step", "companies.A.unit_cost"], base)
    assert labels["events.0.step"] == "step of event 'Frontier open-sources'"
    assert labels["companies.A.unit_cost"] == "A.unit_cost"


def test_fans_of_different_grid_points_are_never_pooled():
    rows = []
    for point, level in ((0, 1000.0), (1, 5000.0)):
        for step in (1, 2, 3):
            rows.append({"point": point, "variable": "hhi", "step": step, "mean": level,
                         "q05": level - 2, "q25": level - 1, "q50": level, "q75": level + 1,
                         "q95": level + 2})  # fmt: skip
    quantiles = pd.DataFrame(rows)
    figure = report.point_fan_chart(quantiles, {0: "x=1", 1: "x=2"}, ["hhi"], "HHI", "HHI")
    medians = [t for t in figure.data if (t.meta or {}).get("role") == "median"]
    assert [t.meta["point"] for t in medians] == [0, 1]
    assert [set(t.y) for t in medians] == [{1000.0}, {5000.0}]
    assert [t.visible for t in medians] == [True, False]
    buttons = figure.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["x=1", "x=2"]
    shown = buttons[1].args[0]["visible"]
    assert [shown[i] for i, t in enumerate(figure.data) if t in medians] == [False, True]
    pooled = report.fan_chart(quantiles.drop(columns="point"), ["hhi"], "HHI", "HHI",
                              pooled_points=2)  # fmt: skip
    assert "pooled over 2 points" in pooled.layout.title.text


def test_sensitivity_panels_are_spaced_and_bars_fit_their_range():
    sensitivity = pd.DataFrame(
        [("src", f"outcome_{k}", "p", "p", "SRC", v, 0.2) for k, v in enumerate((-0.9, 0.5, 0.1))],
        columns=["method", "outcome", "parameter", "term", "index", "value", "conf"],
    )
    figure = report.sensitivity_chart(sensitivity)
    domains = sorted(axis.domain for axis in figure.select_xaxes())
    assert all(b[0] - a[1] >= 0.05 for a, b in zip(domains, domains[1:], strict=False))
    for bar in figure.data:
        axis = figure.layout["xaxis" + (bar.xaxis[1:] if bar.xaxis != "x" else "")]
        low, high = axis.range
        value = bar.x[0]
        assert low < value - 0.2 and value + 0.2 < high


def test_non_monotone_responses_are_flagged_and_binned_means_drawn():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 400)
    runs = pd.DataFrame(
        {"p": x, "u_shape": (x - 0.5) ** 2 + rng.normal(0, 0.005, 400), "line": 2 * x}
    )
    flagged = report.non_monotone_pairs(runs, ["p"], ["u_shape", "line"])
    assert flagged == {("u_shape", "p")}
    sensitivity = pd.DataFrame(
        [("src", o, "p", "p", "SRC", 0.0, 0.1) for o in ("u_shape", "line")],
        columns=["method", "outcome", "parameter", "term", "index", "value", "conf"],
    )
    figure = report.sensitivity_chart(sensitivity, non_monotone=flagged)
    assert "rises and falls" in figure.layout.title.text
    assert [b.meta["flagged"] for b in figure.data] == [[True], [False]]
    scatter = report.parameter_scatter(runs, ["p"], ["u_shape"])
    means = next(t for t in scatter.data if (t.meta or {}).get("role") == "binned means")
    bins = pd.qcut(runs["p"].rank(method="first"), 8, labels=False)
    np.testing.assert_allclose(means.y, runs.groupby(bins)["u_shape"].mean())
