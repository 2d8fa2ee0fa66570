"""The run dashboard's figures, the page writer and the `llm-market dashboard` command.

Figures are built from a tiny run (3 firms x 2 segments x 20 steps) and checked on their data:
one trace per firm, stacks that sum to 1, one colour per firm everywhere, concentration bands,
event markers, entry/exit markers and the network slider.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from simulator import dashboard, simulate
from simulator.cli import main

TINY_SCENARIO = {
    "name": "tiny",
    "description": "Three firms, two segments: a dashboard test fixture.",
    "seed": 5,
    "steps": 20,
    "market": {
        "segments": [
            {
                "name": "assistant",
                "size": 10.0,
                "growth": 0.02,
                "quality_sensitivity": 3.0,
                "brand_sensitivity": 0.2,
                "temperature": 0.5,
                "outside_utility": 0.5,
            },
            {
                "name": "code",
                "size": 6.0,
                "price_sensitivity": 0.8,
                "quality_sensitivity": 4.0,
                "temperature": 0.4,
                "outside_utility": 0.5,
            },
        ],
    },
    "companies": [
        {
            "name": "Big",
            "unit_cost": 0.8,
            "initial_compute": 1e25,
            "release_cycle": 4,
            "strategy": {"pricing": "best_response", "rd_share": 0.2, "marketing_share": 0.1},
        },
        {
            "name": "Cheap",
            "unit_cost": 0.5,
            "initial_compute": 1e24,
            "strategy": {"pricing": "undercut", "undercut_by": 0.05},
        },
        {
            "name": "Lab",
            "unit_cost": 1.0,
            "data_mix": {"code": 1.0},
            "capacity": 2.0,
            "strategy": {"pricing": "cost_plus", "markup": 0.4},
        },
    ],
}
FIRMS = ["Big", "Cheap", "Lab"]
SEGMENTS = ["assistant", "code"]
EVENTS = [
    {"step": 5, "label": "compute 10x cheaper", "kind": "compute_price"},
    {"step": 12, "kind": "regulation"},
]


@pytest.fixture(scope="module")
def result():
    return simulate(copy.deepcopy(TINY_SCENARIO))


@pytest.fixture(scope="module")
def figures(result) -> dict[str, go.Figure]:
    return dashboard.run_figures(result, events=EVENTS)


def firm_traces(figure: go.Figure, visible_only: bool = False) -> list:
    """Traces that draw one firm (the figures tag them with meta.firm)."""
    return [
        t
        for t in figure.data
        if isinstance(t.meta, dict)
        and "firm" in t.meta
        and (not visible_only or t.visible is not False)
    ]


def trace_color(trace) -> str:
    return trace.line.color


BASE_COLUMNS = {
    "model": [
        "step",
        "hhi",
        "price_index",
        "consumer_surplus",
        "total_demand",
        "total_sales",
        "outside_share",
        "n_firms",
    ],
    "firms": [
        "step",
        "firm",
        "firm_id",
        "price",
        "quantity",
        "revenue",
        "profit",
        "cash",
        "share",
        "rd_spend",
        "marketing",
        "brand",
        "unit_cost",
        "margin",
        "generation",
    ],
}


def base_result(result):
    """The run as the first run-folder format had it: no network/openness/entry columns."""
    summary = {k: v for k, v in result.summary.items() if k not in ("entries", "exits")}
    return dataclasses.replace(
        result,
        model=result.model[BASE_COLUMNS["model"]],
        firms=result.firms[BASE_COLUMNS["firms"]],
        summary=summary,
    )


def without_edges(result):
    """The run as if it had recorded no edge table (a folder without edges.parquet)."""
    stripped = dataclasses.replace(result)
    stripped.edges = None
    return stripped


def with_events(result, events):
    """The same run, its scenario carrying scheduled events (duck-typed scenario)."""
    scenario = SimpleNamespace(
        name=result.scenario.name,
        seed=result.scenario.seed,
        description=result.scenario.description,
        events=events,
    )
    return dataclasses.replace(result, scenario=scenario)


# --- colours ------------------------------------------------------------------------------


def test_firm_colors_do_not_depend_on_order_and_stay_distinct():
    names = [f"firm{i}" for i in range(40)]
    forward, backward = dashboard.firm_colors(names), dashboard.firm_colors(reversed(names))
    assert forward == backward
    assert len(set(forward.values())) == 40
    assert all(re.fullmatch(r"#[0-9a-f]{6}", color) for color in forward.values())


def test_every_firm_has_one_colour_across_all_figures(result, figures):
    expected = dashboard.firm_colors(FIRMS)
    seen: dict[str, set[str]] = {firm: set() for firm in FIRMS}
    for name, figure in figures.items():
        if name == "network":
            continue
        for trace in firm_traces(figure):
            seen[trace.meta["firm"]].add(trace_color(trace))
            if trace.fillcolor is not None:
                seen[trace.meta["firm"]].add(trace.fillcolor)
    assert seen == {firm: {expected[firm]} for firm in FIRMS}
    nodes = next(t for t in figures["network"].data if t.meta["role"] == "nodes")
    assert dict(zip(nodes.text, nodes.marker.color, strict=True)) == expected


# --- market shares ------------------------------------------------------------------------


def test_share_figure_has_a_view_per_segment_and_a_trace_per_firm(figures):
    figure = figures["share"]
    menu = figure.layout.updatemenus[0]
    assert [button.label for button in menu.buttons] == ["all segments", *SEGMENTS]
    views = {t.meta["view"] for t in firm_traces(figure)}
    assert views == {"all segments", *SEGMENTS}
    for view in views:
        assert sorted(t.name for t in firm_traces(figure) if t.meta["view"] == view) == FIRMS
    # the first view shows; the dropdown's visibility arrays switch whole views
    assert sorted(t.name for t in firm_traces(figure, visible_only=True)) == FIRMS
    for button in menu.buttons:
        visible = button.args[0]["visible"]
        shown = {figure.data[i].meta.get("view") for i, v in enumerate(visible) if v}
        assert shown == {button.label}


def test_stacked_shares_sum_to_one_of_inside_sales_and_served_line_is_one_minus_outside(
    result, figures
):
    """Stacks are shares of the firms' sales (sum 1); the dashed line is 1 - outside share."""
    figure = figures["share"]
    for view in ["all segments", *SEGMENTS]:
        traces = [t for t in firm_traces(figure) if t.meta["view"] == view]
        assert all(t.stackgroup == "shares" for t in traces)
        stacked = (
            pd.concat(
                [pd.Series(np.asarray(t.y, float), index=np.asarray(t.x)) for t in traces], axis=1
            )
            .fillna(0)
            .sum(axis=1)
        )
        assert np.allclose(stacked.to_numpy(), 1.0, atol=1e-4), view
        served = next(
            t for t in figure.data if t.meta.get("role") == "served" and t.meta["view"] == view
        )
        if view == "all segments":
            expected = 1 - result.model["outside_share"].to_numpy()
        else:
            rows = result.segments[result.segments["segment"] == view]
            expected = rows.groupby("step")["share"].sum().to_numpy()
        assert np.allclose(np.asarray(served.y, float), expected, atol=1e-4)
        assert (np.asarray(served.y) < 1).all()  # the outside option takes a share


def test_named_segment_shows_only_that_segment(result):
    figure = dashboard.share_figure(result, segment="code", events=[])
    assert {t.meta["view"] for t in firm_traces(figure)} == {"code"}
    assert not figure.layout.updatemenus
    with pytest.raises(ValueError, match="unknown segment"):
        dashboard.share_figure(result, segment="video")


def test_entries_and_exits_are_marked(result):
    # Lab enters at step 4, Cheap exits after step 15 (their rows simply are absent)
    firms = result.firms[
        ~((result.firms["firm"] == "Lab") & (result.firms["step"] < 4))
        & ~((result.firms["firm"] == "Cheap") & (result.firms["step"] > 15))
    ]
    segments = result.segments.merge(firms[["step", "firm"]], on=["step", "firm"])
    changed = dataclasses.replace(
        result,
        firms=firms,
        segments=segments,
        summary={**result.summary, "exits": [{"firm": "Cheap", "step": 15, "reason": "bankrupt"}]},
    )
    entries, exits = dashboard.firm_lifetimes(changed)
    assert [(e["firm"], e["step"]) for e in entries] == [("Lab", 4)]
    assert [(e["firm"], e["step"], e["detail"]) for e in exits] == [("Cheap", 15, "bankrupt")]
    figure = dashboard.share_figure(changed, events=[])
    markers = [t for t in figure.data if t.meta.get("role") == "lifetimes"]
    assert sorted(int(x) for t in markers for x in t.x) == [4, 15]
    assert "1 firm exits at month 15: Cheap (bankrupt)" in [x for t in markers for x in t.text]
    assert {s.name for s in figure.layout.shapes} == {"entry: Lab", "exit: Cheap"}
    lab = next(
        t for t in firm_traces(figure) if t.name == "Lab" and t.meta["view"] == "all segments"
    )
    assert int(np.asarray(lab.x).min()) == 4
    assert dashboard.run_header(changed)["entries / exits"] == "1 / 1"
    changed = dataclasses.replace(
        base_result(result), firms=firms[BASE_COLUMNS["firms"]], segments=segments
    )
    assert "structure" in dashboard.run_figures(changed, events=[])


def test_no_entry_exit_markers_when_the_firms_stay(result):
    figures = dashboard.run_figures(base_result(result), events=[])
    assert not [t for t in figures["share"].data if t.meta.get("role") == "lifetimes"]
    assert "structure" not in figures  # nothing to show beyond a constant firm count


def test_structure_figure_shows_the_network_columns_the_run_has(result):
    model = base_result(result).model.assign(
        n_links=[0] * 10 + [2] * 10,
        n_alliances=[0] * 10 + [1] * 10,
        density=0.1,
        open_share=0.0,
        entries=[0] * 19 + [1],
        exits=0,
    )
    figure = dashboard.structure_figure(dataclasses.replace(result, model=model), events=[])
    roles = [t.meta["role"] for t in figure.data]
    assert roles == ["n_firms", "entries", "n_links", "n_alliances", "density", "open_share"]
    titles = [a.text for a in figure.layout.annotations]
    assert titles[:4] == [
        "firms active (bars: entries / exits)",
        "partnership links",
        "network density and clustering",
        "open source",
    ]
    links = next(t for t in figure.data if t.meta["role"] == "n_links")
    assert list(np.asarray(links.y)) == list(model["n_links"])


# --- other time series --------------------------------------------------------------------


def test_price_quality_profit_figures_draw_every_firm_in_every_panel(result, figures):
    assert sorted(t.name for t in firm_traces(figures["price"])) == FIRMS
    price_big = next(t for t in firm_traces(figures["price"]) if t.name == "Big")
    expected = result.firms[result.firms["firm"] == "Big"]["price"].to_numpy()
    assert np.allclose(np.asarray(price_big.y, float), expected, rtol=1e-4)

    quality = figures["quality"]
    assert [a.text for a in quality.layout.annotations[:2]] == SEGMENTS
    assert len(firm_traces(quality)) == len(FIRMS) * len(SEGMENTS)
    assert sum(t.showlegend is not False for t in firm_traces(quality)) == len(FIRMS)
    assert len({t.xaxis for t in firm_traces(quality)}) == len(SEGMENTS)

    profit_cash = figures["profit_cash"]
    assert len(firm_traces(profit_cash)) == 2 * len(FIRMS)
    assert {t.yaxis for t in firm_traces(profit_cash)} == {"y", "y2"}
    legend_groups = {t.legendgroup for t in firm_traces(profit_cash)}
    assert legend_groups == set(FIRMS)


def test_concentration_shades_2023_bands_and_marks_2010_thresholds(result):
    figure = dashboard.concentration_figure(base_result(result), events=[])
    bands = {s.name: (s.y0, s.y1) for s in figure.layout.shapes if s.type == "rect"}
    assert bands["2023 band: unconcentrated"][0] == 0
    assert bands["2023 band: moderately concentrated"] == (1000, 1800)
    assert bands["2023 band: highly concentrated"][0] == 1800
    thresholds = sorted(s.y0 for s in figure.layout.shapes if "2010 threshold" in (s.name or ""))
    assert thresholds == [1500, 2500]
    texts = " ".join(a.text for a in figure.layout.annotations)
    assert "2023: >1,800" in texts and "2010: >2,500" in texts
    hhi = next(t for t in figure.data if t.meta["role"] == "hhi")
    assert np.allclose(np.asarray(hhi.y, float), result.model["hhi"], atol=0.1)
    assert "2010 bands" in hhi.hovertemplate
    roles = [t.meta["role"] for t in figure.data]
    assert roles == ["hhi", "consumer_surplus"]  # no homogenization column in this run


def test_concentration_adds_homogenisation_when_the_run_has_it(result):
    model = base_result(result).model.assign(
        homogenization=np.linspace(0.2, 0.6, len(result.model))
    )
    figure = dashboard.concentration_figure(dataclasses.replace(result, model=model), events=[])
    homogenization = next(t for t in figure.data if t.meta["role"] == "homogenization")
    assert np.allclose(np.asarray(homogenization.y, float), model["homogenization"], atol=1e-4)


# --- events -------------------------------------------------------------------------------


def test_events_are_vertical_markers_on_every_time_figure(figures):
    for name in ("share", "price", "quality", "profit_cash", "concentration"):
        figure = figures[name]
        lines = [s for s in figure.layout.shapes if (s.name or "").startswith("event: ")]
        assert {(s.x0, s.name) for s in lines} == {
            (5, "event: compute 10x cheaper"),
            (12, "event: regulation"),
        }, name
        panels = len({t.xaxis for t in figure.data})
        assert len(lines) == 2 * panels, name  # a line in every panel
        labels = {a.text for a in figure.layout.annotations if (a.name or "").startswith("event")}
        assert labels == {"compute 10x cheaper", "regulation"}, name
    network_titles = {f.name: f.layout.title.text for f in figures["network"].frames}
    assert network_titles["5"].endswith("compute 10x cheaper")


def test_events_default_to_the_scenarios_scheduled_events(result):
    event = SimpleNamespace(step=7, label="", kind="open_source", firm="Big")
    figure = dashboard.price_figure(with_events(result, [event]))
    names = [s.name for s in figure.layout.shapes]
    assert names == ["event: open source"]
    annotation = next(a for a in figure.layout.annotations if a.name == "event: open source")
    assert "firm=Big" in annotation.hovertext


def test_no_event_markers_without_events(result):
    figure = dashboard.price_figure(result)  # the tiny scenario schedules nothing
    assert not [s for s in figure.layout.shapes if (s.name or "").startswith("event")]


# --- network ------------------------------------------------------------------------------


def test_network_without_edges_shows_nodes_sized_by_share_and_a_note(result):
    figure = dashboard.network_figure(without_edges(result), events=EVENTS)
    steps = sorted(result.firms["step"].unique())
    assert [int(f.name) for f in figure.frames] == steps
    slider = figure.layout.sliders[0]
    assert [s.label for s in slider.steps] == [str(s) for s in steps]
    assert slider.active == len(steps) - 1
    nodes = next(t for t in figure.data if t.meta["role"] == "nodes")
    final = result.firms[result.firms["step"] == steps[-1]].set_index("firm")["share"]
    sizes = dict(zip(nodes.text, np.asarray(nodes.marker.size), strict=True))
    assert max(sizes, key=sizes.get) == final.idxmax()
    assert min(sizes, key=sizes.get) == final.idxmin()
    assert all(not t.x for t in figure.data if t.meta["role"] == "edges")
    assert any("no edges.parquet" in a.text for a in figure.layout.annotations)
    assert figure.frames[4].layout.title.text.endswith("compute 10x cheaper")  # step 5


def test_network_with_an_empty_edge_table_says_no_partnerships_formed(result):
    empty = dataclasses.replace(result)
    empty.edges = pd.DataFrame(columns=["step", "source", "target", "type", "start_step"])
    figure = dashboard.network_figure(empty, events=[])
    notes = [a.text for a in figure.layout.annotations if a.name == "note"]
    assert notes == ["No partnerships formed in this run."]


def test_loading_a_folder_without_edges_parquet_gives_the_nodes_only_note(tmp_path, result):
    from simulator.results import write_run

    write_run(tmp_path, result)
    (tmp_path / "edges.parquet").unlink(missing_ok=True)
    loaded = dashboard.load_run(tmp_path)
    assert dashboard.run_edges(loaded) is None
    figure = dashboard.network_figure(loaded, events=[])
    assert any("no edges.parquet" in a.text for a in figure.layout.annotations)


def test_network_edges_are_coloured_by_type_and_follow_the_slider(result):
    edges = pd.DataFrame(
        {
            "step": [3, 3, 4, 20],
            "source": ["Big", "Cheap", "Big", "Lab"],
            "target": ["Lab", "Lab", "Lab", "Cheap"],
            "type": ["joint_rd", "alliance", "joint_rd", "market_sharing"],
            "start_step": [2, 3, 2, 20],
        }
    )
    with_edges = dataclasses.replace(result)
    with_edges.edges = edges
    figure = dashboard.network_figure(with_edges, events=[])
    edge_traces = [t for t in figure.data if t.meta["role"] == "edges"]
    colors = {t.meta["type"]: t.line.color for t in edge_traces}
    assert len(set(colors.values())) == 3
    frames = {f.name: f for f in figure.frames}
    index = {t.meta["type"]: i for i, t in enumerate(figure.data) if t.meta["role"] == "edges"}

    def segments_of(step: int, edge_type: str) -> int:
        xs = frames[str(step)].data[index[edge_type]].x
        return sum(x is None for x in xs)

    assert (segments_of(3, "joint_rd"), segments_of(3, "alliance")) == (1, 1)
    assert (segments_of(4, "joint_rd"), segments_of(4, "alliance")) == (1, 0)
    assert segments_of(10, "joint_rd") == 0
    assert segments_of(20, "market_sharing") == 1
    assert not any("no edges.parquet" in (a.text or "") for a in figure.layout.annotations)


def test_network_marks_open_source_firms(result):
    firms = base_result(result).firms.assign(
        open_weights=result.firms["firm"] == "Lab", degree_centrality=0.5
    )
    figure = dashboard.network_figure(dataclasses.replace(result, firms=firms), events=[])
    nodes = next(t for t in figure.data if t.meta["role"] == "nodes")
    symbols = dict(zip(nodes.text, nodes.marker.symbol, strict=True))
    assert symbols == {"Big": "circle", "Cheap": "circle", "Lab": "diamond"}
    assert any(
        "open-source" in text and "degree centrality 0.50" in text for text in nodes.hovertext
    )


# --- large runs stay compact --------------------------------------------------------------


def test_long_runs_are_thinned_but_keep_the_last_step(result, monkeypatch):
    monkeypatch.setattr(dashboard.common, "MAX_POINTS", 6)
    monkeypatch.setattr(dashboard.partnerships, "MAX_NETWORK_FRAMES", 5)
    figures = dashboard.run_figures(result, events=[])
    for trace in firm_traces(figures["price"]):
        assert len(trace.x) <= 7 and int(trace.x[-1]) == 20
    assert len(figures["network"].frames) <= 6
    assert figures["network"].frames[-1].name == "20"


def test_many_firms_fold_into_others(result, monkeypatch):
    monkeypatch.setattr(dashboard.common, "MAX_FIRM_TRACES", 2)
    figure = dashboard.share_figure(result, events=[])
    names = {t.name for t in firm_traces(figure) if t.meta["view"] == "all segments"}
    smallest = result.firms.groupby("firm")["share"].max().idxmin()
    assert names == (set(FIRMS) - {smallest}) | {dashboard.OTHERS}


# --- header, page, CLI --------------------------------------------------------------------


def test_header_has_the_headline_numbers(result):
    header = dashboard.run_header(result)
    final = result.firms[result.firms["step"] == 20].set_index("firm")["share"]
    assert header["scenario"] == "tiny" and header["seed"] == "5" and header["months"] == "20"
    assert header["leader"] == f"{final.idxmax()} {final.max():.1%}"
    assert header["final HHI"].startswith(f"{result.model['hhi'].iloc[-1]:,.0f} — ")
    assert "(2023)" in header["final HHI"] and "(2010)" in header["final HHI"]
    assert header["firms"].startswith("3 at the end")
    # the surplus is the last month's, and the header says so
    assert header["consumer surplus, last month (20)"] == (
        f"{result.model['consumer_surplus'].iloc[-1]:,.1f} per month"
    )


def test_page_embeds_plotlyjs_once_and_every_figure(tmp_path, figures):
    from plotly.offline import get_plotlyjs

    path = dashboard.write_dashboard_html(
        tmp_path / "page.html",
        "A <b>title</b>",
        {"seed": "5", "note": "x < y"},
        list(figures.values()),
        description="About it.",
    )
    text = path.read_text(encoding="utf-8")
    assert text.count(get_plotlyjs()[:400]) == 1
    assert 'src="http' not in text  # nothing fetched: opens offline
    assert text.count('class="plotly-graph-div"') == len(figures)
    assert "A &lt;b&gt;title&lt;/b&gt;" in text and "x &lt; y" in text and "About it." in text
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary file left
    again = dashboard.write_dashboard_html(
        tmp_path / "again.html",
        "A <b>title</b>",
        {"seed": "5", "note": "x < y"},
        list(figures.values()),
        description="About it.",
    )
    assert again.read_bytes() == path.read_bytes()  # deterministic: diffable, cacheable


def test_page_accepts_a_text_header(tmp_path):
    path = dashboard.write_dashboard_html(
        tmp_path / "sweep.html", "Sweep", "First paragraph.\n\nSecond.", [go.Figure()]
    )
    text = path.read_text(encoding="utf-8")
    assert "<p>First paragraph.</p><p>Second.</p>" in text


def test_cli_run_writes_the_dashboard_and_dashboard_rebuilds_it(tmp_path, capsys):
    import yaml

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump(TINY_SCENARIO))
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    page = out / "dashboard.html"
    assert page.stat().st_size > 4_000_000  # plotly.js is inside
    page.unlink()
    assert main(["dashboard", str(out)]) == 0
    assert page.exists()
    assert main(["dashboard", str(out), "--out", str(tmp_path / "copy.html")]) == 0
    assert (tmp_path / "copy.html").exists()
    assert (
        main(["run", str(scenario), "--out", str(tmp_path / "bare"), "--quiet", "--no-dashboard"])
        == 0
    )
    assert not (tmp_path / "bare" / "dashboard.html").exists()


@pytest.mark.parametrize("damage", ["missing", "incomplete", "corrupt"])
def test_cli_dashboard_on_a_bad_folder_is_one_line_and_exit_2(tmp_path, capsys, result, damage):
    from simulator.results import write_run

    folder = tmp_path / "run"
    if damage != "missing":
        write_run(folder, result)
        if damage == "incomplete":
            (folder / "firms.parquet").unlink()
        else:
            (folder / "segments.parquet").write_bytes(b"not parquet")
    capsys.readouterr()
    assert main(["dashboard", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (folder / "dashboard.html").exists()


def test_the_open_model_has_its_own_colour_and_no_network_node():
    from simulator import simulate
    from simulator.dashboard.page import OPEN_MODEL_COLOR
    from simulator.market.open_source import OPEN_MODEL

    result = simulate("scenarios/open_source_wave.yaml")
    colors = dashboard.firm_colors(result.firms["firm"])
    assert colors[OPEN_MODEL] == OPEN_MODEL_COLOR
    assert OPEN_MODEL_COLOR not in {c for f, c in colors.items() if f != OPEN_MODEL}
    # the firms' colours do not depend on whether the open model is in the frame
    firms_only = dashboard.firm_colors(f for f in result.firms["firm"] if f != OPEN_MODEL)
    assert all(colors[f] == c for f, c in firms_only.items())
    shares = dashboard.share_figure(result)
    assert OPEN_MODEL in {trace.name for trace in shares.data}
    nodes = next(t for t in dashboard.network_figure(result).data if t.meta["role"] == "nodes")
    assert not any(str(text).startswith(OPEN_MODEL) for text in nodes.text)
