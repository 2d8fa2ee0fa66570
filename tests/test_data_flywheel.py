"""The data flywheel: the zoo's data axis, firms' data stocks, and what they do to a market.

Checked against identities (stock accounting, the Shapley split adding up, the compute-only
lookup at full data) and against the measured zoo (monotone in compute and in data)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from simulator import simulate
from simulator.cli import main
from simulator.lm import corpus, grid
from simulator.lm.lookup import ZooQuality
from simulator.market.data import DataTerms, feedback_tokens, licensed_tokens
from simulator.sweep.heatmap import outcome_heatmaps, two_parameter_grid
from tests.reference_outputs import SCENARIOS, frame_digest

REPO = Path(__file__).resolve().parents[1]
FLYWHEEL = yaml.safe_load((REPO / "scenarios" / "data_flywheel.yaml").read_text())
RANGE = (1e22, 1e27)
DATA_RANGE = DataTerms().data_range


def flywheel(**market_data) -> dict:
    scenario = copy.deepcopy(FLYWHEEL)
    scenario["market"]["data"].update(market_data)
    return scenario


def final_shares(result) -> dict[str, float]:
    firms = result.firms
    return firms[firms["step"] == firms["step"].max()].set_index("firm")["share"].to_dict()


@pytest.fixture(scope="module")
def zoo() -> ZooQuality:
    return ZooQuality(list(corpus.SEGMENTS), RANGE, data_range=DATA_RANGE)


@pytest.fixture(scope="module")
def base_run():
    return simulate(FLYWHEEL)


# --- the zoo's data axis -------------------------------------------------------------------


def test_shipped_zoo_has_the_data_axis():
    table = grid.load_zoo_table()
    axis = grid.data_axis_rows(table)
    trained = axis.drop_duplicates("config_hash")
    expected = {
        (mix, level, fraction)
        for mix in corpus.SEGMENTS
        for level in grid.DATA_LEVELS["small"]
        for fraction in grid.DATA_FRACTIONS
    }
    found = zip(trained["mix_name"], trained["level"], trained["data_fraction"], strict=True)
    assert set(found) == expected
    # data-constrained: on the smallest subset the top level's own-segment model is worse than
    # on all the data, for every segment (early stopping caps what more compute can do)
    full = grid.full_data_rows(table)
    top = max(grid.DATA_LEVELS["small"])
    for segment in corpus.SEGMENTS:
        own = (axis["mix_name"] == segment) & (axis["segment"] == segment)
        little = axis[own & (axis["level"] == top) & (axis["data_fraction"] == 0.1)]["bpb"]
        whole = full[
            (full["mix_name"] == segment) & (full["segment"] == segment) & (full["level"] == top)
        ]["bpb"].mean()
        assert float(little.iloc[0]) > whole, segment


def test_lookup_is_monotone_in_compute_and_data(zoo):
    compute = np.logspace(21, 28.5, 31)
    data = np.logspace(10, 14, 25)
    mixes = [
        np.full(4, 0.25),
        np.array([0.7, 0.1, 0.1, 0.1]),
        np.array([0.05, 0.85, 0.05, 0.05]),
        np.array([0.0, 0.5, 0.5, 0.0]),
    ]
    for mix in mixes:
        c, d = np.meshgrid(compute, data, indexing="ij")
        tokens = np.repeat(d.ravel()[:, None], 4, axis=1)
        quality, bpb, _ = zoo(c.ravel(), np.tile(mix, (c.size, 1)), tokens)
        q = quality.reshape(len(compute), len(data), 4)
        assert (np.diff(q, axis=0) >= -1e-12).all(), "more compute must not lower quality"
        assert (np.diff(q, axis=1) >= -1e-12).all(), "more data must not lower quality"
        # and data matters: at the top budget, the least data is clearly worse
        assert (q[-1, 0, mix > 0.2] < q[-1, -1, mix > 0.2] - 0.1).all()


def test_all_the_data_gives_exactly_the_compute_only_lookup(zoo):
    compute = np.logspace(21, 28, 15)
    mix = np.tile([0.4, 0.3, 0.2, 0.1], (15, 1))
    plain = ZooQuality(list(corpus.SEGMENTS), RANGE)
    for tokens in (DATA_RANGE[1], 10 * DATA_RANGE[1]):
        got = zoo(compute, mix, np.full((15, 4), tokens))
        want = plain(compute, mix)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    # no data argument: the compute-only lookup as well
    for a, b in zip(zoo(compute, mix), plain(compute, mix), strict=True):
        np.testing.assert_array_equal(a, b)


def test_data_map_is_log_linear_and_flags_what_the_zoo_did_not_measure(zoo):
    low, high = DATA_RANGE
    fractions = zoo.data_fraction(np.array([low, np.sqrt(low * high), high]))
    np.testing.assert_allclose(fractions, [0.1, np.sqrt(0.1), 1.0], rtol=1e-12)
    # less data than data_range[0] (below the smallest measured fraction) is extrapolated
    compute = np.full(2, 1e25)
    tokens = np.array([[low / 10] * 4, [low * 2] * 4])
    _, _, extrapolated = zoo(compute, np.full((2, 4), 0.25), tokens)
    assert extrapolated[0].all() and not extrapolated[1].any()


def test_effective_compute_never_exceeds_compute(zoo):
    log_zoo = np.log10(zoo.zoo_compute(np.logspace(22, 27, 11)))
    for tokens in (3e11, 1e12, 5e12):
        effective, _ = zoo.effective_log_compute(log_zoo, np.full((11, 4), tokens))
        assert (effective <= log_zoo + 1e-12).all()


def test_zoo_show_reports_the_data_axis_fits_and_the_data_map(capsys):
    assert main(["lm", "zoo", "show", "--data-range", "3e11", "1.56e13"]) == 0
    out = capsys.readouterr().out
    assert "data axis" in out and "data-constrained" in out
    rows = out.split("data map for data_range")[1].splitlines()[2:]
    table = [[float(cell.rstrip("*")) for cell in row.split()] for row in rows if row.strip()]
    values = np.array(table)  # tokens, fraction, quality per segment
    assert (np.diff(values[:, 0]) > 0).all() and (np.diff(values[:, 2:], axis=0) >= 0).all()
    np.testing.assert_allclose(values[values[:, 0] >= 1.56e13, 2:], 1.0)  # all the data: Q 1
    assert main(["lm", "zoo", "show", "--data-range", "3e11", "1e11"]) == 2
    assert "--data-range" in capsys.readouterr().err


# --- firms' data stocks ----------------------------------------------------------------------


def test_data_stocks_add_up_to_feedback_licensed_and_pooled(base_run):
    data = base_run.data.sort_values(["firm", "segment", "step"])
    scenario = base_run.scenario
    terms = scenario.market.data
    for (_firm, segment), rows in data.groupby(["firm", "segment"]):
        start = (scenario.companies[0].data or {}).get(segment, terms.default_stock())
        previous = np.concatenate([[start], rows["data_stock"].to_numpy()[:-1]])
        added = rows["feedback"] + rows["licensed"] + rows["pooled"]
        np.testing.assert_allclose(rows["data_stock"] - previous, added, rtol=1e-9)
    # feedback = served tokens x the rate, from the segments table's sales
    sales = base_run.segments.set_index(["step", "firm", "segment"])["sales"]
    keyed = data.set_index(["step", "firm", "segment"])
    expected = sales.loc[keyed.index] * terms.tokens_per_unit * terms.feedback_rate
    np.testing.assert_allclose(keyed["feedback"], expected, rtol=1e-12)
    assert (keyed["feedback"] > 0).all()


def test_a_privacy_cap_binds_and_slows_the_flywheel(base_run):
    capped = copy.deepcopy(FLYWHEEL)
    capped["events"][0]["feedback_cap"] = 0.001  # below the 0.3% rate
    result = simulate(capped)
    data = result.data.set_index(["step", "firm", "segment"])
    sales = result.segments.set_index(["step", "firm", "segment"])["sales"].loc[data.index]
    tokens_per_unit = result.scenario.market.data.tokens_per_unit
    np.testing.assert_allclose(data["feedback"], sales * tokens_per_unit * 0.001, rtol=1e-12)
    assert final_shares(result)["Alpha"] < final_shares(base_run)["Alpha"] - 0.1


def test_the_flywheel_turns_a_small_lead_into_dominance(base_run):
    without = simulate(flywheel(feedback_rate=0.0))
    with_shares, without_shares = final_shares(base_run), final_shares(without)
    assert without_shares["Alpha"] < 0.6  # the brand lead alone: a small lead
    assert with_shares["Alpha"] > 0.75  # with user data: dominance
    assert base_run.model["hhi"].iloc[-1] > without.model["hhi"].iloc[-1] + 1000
    # the data gap is what grew: Alpha holds more data in every segment at the end
    last = base_run.data[base_run.data["step"] == base_run.data["step"].max()]
    stock = last.pivot(index="firm", columns="segment", values="data_stock")
    assert (stock.loc["Alpha"] > 1.5 * stock.loc["Beta"]).all()


def test_an_open_model_brings_its_data_and_damps_the_flywheel(base_run):
    result = simulate(REPO / "scenarios" / "data_flywheel_open.yaml")
    lab = result.scenario.events[-1].company
    efficiency = result.scenario.market.open_model.finetune_efficiency
    firms = result.data["firm"].isin(["Alpha", "Beta"])
    before = result.data[firms & (result.data["step"] < 12)]
    pd.testing.assert_frame_equal(before, base_run.data[base_run.data["step"] < 12])
    after = result.data[firms & (result.data["step"] >= 13)]  # both have released since
    floor = efficiency * lab.data["assistant"]
    assert (after["model_data"] >= floor * (1 - 1e-12)).all()
    assert final_shares(result)["Alpha"] < final_shares(base_run)["Alpha"] - 0.1


def test_zero_feedback_reproduces_every_shipped_scenario_exactly():
    """market.data with no feedback and all the data: the tables of the scenario without it."""
    checked = 0
    for path in SCENARIOS:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "extends" in data or data["market"].get("quality_model") == "placeholder":
            continue  # extends: its base is checked itself; the placeholder has no data axis
        if "data" in data["market"]:
            data["market"].pop("data")
            for event in data.get("events", []):
                event.pop("feedback_cap", None)
        plain = simulate(data)
        data["market"]["data"] = {"feedback_rate": 0.0}
        limited = simulate(data)
        assert not plain.data.shape[0] and limited.data.shape[0]
        for table in ("model", "firms", "segments", "edges"):
            assert frame_digest(getattr(plain, table)) == frame_digest(getattr(limited, table)), (
                f"{path.name}: {table}"
            )
        checked += 1
    assert checked >= 8


def test_licensed_data_costs_money_and_adds_tokens_by_mix():
    scenario = flywheel(feedback_rate=0.0, license_price=2.0)
    for company in scenario["companies"]:
        company["strategy"]["data_budget"] = "revenue_share"
        company["strategy"]["data_share"] = 0.1
    result = simulate(scenario)
    data = result.data
    spend = data.groupby(["firm", "step"])["data_spend"].first()
    revenue = result.firms.set_index(["firm", "step"])["revenue"]
    last_revenue = revenue.groupby(level="firm").shift(1).dropna()  # spend follows last revenue
    np.testing.assert_allclose(spend.loc[last_revenue.index], 0.1 * last_revenue, rtol=1e-12)
    assert (spend > 0).all()
    mix = result.segments.set_index(["step", "firm", "segment"])["focus"]
    keyed = data.set_index(["step", "firm", "segment"])
    expected = keyed["data_spend"] / 2.0 * 1e12 * mix.loc[keyed.index]
    np.testing.assert_allclose(keyed["licensed"], expected, rtol=1e-12)
    np.testing.assert_allclose(
        licensed_tokens(np.array([3.0]), 2.0, np.array([[0.25, 0.75]])), [[0.375e12, 1.125e12]]
    )
    # the spend is a cost: profit = revenue - every cost, data included
    plain = simulate(flywheel(feedback_rate=0.0))
    assert result.firms["profit"].sum() < plain.firms["profit"].sum()


def test_joint_rd_partners_pool_their_new_data():
    scenario = flywheel(pool_share=0.5)
    scenario["links"] = [{"source": "Alpha", "target": "Beta", "type": "joint_rd"}]
    result = simulate(scenario)
    data = result.data.set_index(["step", "segment", "firm"]).sort_index()
    own = data["feedback"] + data["licensed"]
    partner = own.groupby(level=["step", "segment"]).transform(lambda x: x[::-1].to_numpy())
    edges = result.edges[result.edges["type"] == "joint_rd"]
    linked = data.index.get_level_values("step").isin(edges["step"])
    assert linked.sum() >= 8  # the link held for a while (the rules may end it later)
    np.testing.assert_allclose(data["pooled"][linked], 0.5 * partner[linked], rtol=1e-12)
    assert (data["pooled"][~linked] == 0).all()


def test_feedback_tokens_respect_a_per_segment_cap():
    got = feedback_tokens(
        np.array([[10.0, 20.0]]), 1e12, np.array([0.01, 0.01]), np.array([[1.0, 0.0]])
    )
    np.testing.assert_allclose(got, [[1e11, 0.0]])


def test_quality_gain_split_adds_up_and_is_zero_where_nothing_grew(base_run):
    gain = base_run.summary["quality_gain"]
    assert set(gain) == {"Alpha", "Beta"}
    for parts in gain.values():
        for part in parts.values():
            assert part["from_compute"] + part["from_data"] == pytest.approx(
                part["total"], abs=1e-12
            )
    assert gain["Alpha"]["mean"]["from_data"] > gain["Beta"]["mean"]["from_data"]
    no_feedback = simulate(flywheel(feedback_rate=0.0)).summary["quality_gain"]
    for parts in no_feedback.values():
        assert all(abs(p["from_data"]) < 1e-12 for p in parts.values())
    no_rd = copy.deepcopy(FLYWHEEL)
    for company in no_rd["companies"]:
        company["strategy"]["rd_share"] = 0.0
    for parts in simulate(no_rd).summary["quality_gain"].values():
        assert all(abs(p["from_compute"]) < 1e-12 for p in parts.values())


def test_an_acquirer_takes_the_targets_data():
    scenario = copy.deepcopy(FLYWHEEL)
    scenario["events"].append(
        {"step": 10, "kind": "acquire", "acquirer": "Alpha", "target": "Beta"}
    )
    result = simulate(scenario)
    data = result.data.pivot_table(index=["step", "segment"], columns="firm", values="data_stock")
    before, after = data.xs(9, level="step"), data.xs(10, level="step")
    fed = result.data[(result.data["step"] == 10)].set_index("segment")
    grown = fed["feedback"] + fed["licensed"] + fed["pooled"]
    np.testing.assert_allclose(after["Alpha"], before["Alpha"] + before["Beta"] + grown, rtol=1e-9)


# --- input, outputs, sweep -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s["market"].update(quality_model="placeholder"), "market.data"),
        (lambda s: s["market"]["data"].update(feedback_rate={"klingon": 0.1}), "feedback_rate"),
        (lambda s: s["market"]["data"].update(data_range=[1e13, 1e12]), "data_range"),
        (lambda s: s["market"]["data"].update(feedback_rate=1.5), "feedback_rate"),
        (lambda s: s["companies"][0].update(data={"poetry": 1e12}), "data"),
        (lambda s: s["events"][0].update(feedback_cap={"klingon": 0.0}), "feedback_cap"),
        (
            lambda s: (
                s["market"].pop("data"),
                s["events"].clear(),
                s["companies"][0]["strategy"].update(data_budget="revenue_share"),
            ),
            "data_budget",
        ),
    ],
)
def test_bad_data_input_is_one_line_naming_the_field(tmp_path, capsys, change, field):
    scenario = copy.deepcopy(FLYWHEEL)
    change(scenario)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert field in err and "Traceback" not in err


def test_run_folder_has_the_data_table_and_dashboard(tmp_path):
    out = tmp_path / "run"
    assert (
        main(["run", str(REPO / "scenarios" / "data_flywheel.yaml"), "--out", str(out), "--quiet"])
        == 0
    )
    data = pd.read_parquet(out / "data.parquet")
    assert set(data["firm"]) == {"Alpha", "Beta"} and (data["data_stock"] > 0).all()
    html = (out / "dashboard.html").read_text(encoding="utf-8")
    assert "Training-data stock per segment" in html
    plain = tmp_path / "plain"
    assert (
        main(
            [
                "run",
                str(REPO / "scenarios" / "validation_bertrand.yaml"),
                "--out",
                str(plain),
                "--quiet",
            ]
        )
        == 0
    )
    assert pd.read_parquet(plain / "data.parquet").empty
    assert "Training-data stock" not in (plain / "dashboard.html").read_text(encoding="utf-8")


def test_two_parameter_grids_get_outcome_maps():
    runs = pd.DataFrame(
        {
            "rate": [0.0, 0.0, 0.1, 0.1, 0.0, 0.1],
            "cap": [0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
            "final_hhi": [5000.0, 5000.0, 5000.0, 7000.0, 5100.0, 7100.0],
        }
    )
    assert two_parameter_grid(runs, ["rate", "cap"])
    assert not two_parameter_grid(runs, ["rate"])
    assert not two_parameter_grid(runs.iloc[:3], ["rate", "cap"])  # a missing cell
    figure = outcome_heatmaps(runs, ["rate", "cap"], ["final_hhi"])
    z = np.array(figure.data[0].z)
    np.testing.assert_allclose(z, [[5050.0, 5000.0], [5000.0, 7050.0]])


def test_only_the_binding_one_of_rate_and_cap_matters_and_more_data_tips_further():
    hhi = {}
    for rate, cap in [(0.0, 1.0), (0.002, 1.0), (0.004, 0.002), (0.004, 1.0)]:
        scenario = flywheel(feedback_rate=rate)
        scenario["events"][0]["feedback_cap"] = cap
        hhi[rate, cap] = float(simulate(scenario).model["hhi"].iloc[-1])
    assert hhi[0.004, 0.002] == hhi[0.002, 1.0]  # min(rate, cap) = 0.2% both: bit for bit
    assert hhi[0.0, 1.0] < hhi[0.002, 1.0] < hhi[0.004, 1.0]
