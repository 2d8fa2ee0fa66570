"""Calibration to observed shares and prices (simulator/calibrate.py), the `fixed` pricing rule,
the `release` event, and the 2025 LLM API market built with them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from simulator import simulate
from simulator.calibrate import (
    CalibrationError,
    calibrate,
    price_sensitivity_from_elasticity,
    segment_params,
)
from simulator.cli import main
from simulator.config import ScenarioError, parse_scenario
from simulator.market.demand import logit_shares, utilities
from simulator.market.equilibrium import bertrand_nash, deviation_gains
from simulator.model import MarketModel

ROOT = Path(__file__).resolve().parents[1]
DATA_2025 = ROOT / "scenarios" / "data" / "llm_api_2025_market.yaml"
SCENARIO_2025 = ROOT / "scenarios" / "llm_api_2025.yaml"

EXAMPLE = {
    "name": "my-market",
    "segments": [
        {
            "name": "assistant",
            "size": 100.0,
            "outside_share": 0.25,
            "price_sensitivity": 1.0,
            "temperature": 0.5,
        }
    ],
    "firms": [
        {"name": "A", "price": 8.0, "unit_cost": 3.0, "shares": {"assistant": 0.55}},
        {"name": "B", "price": 2.0, "shares": {"assistant": 0.45}},
    ],
}


def market_data(quality, prices, alpha, mu, size, costs=None) -> dict:
    """Market data whose shares are the logit shares of known intercepts ``quality``."""
    seg = segment_params(np.asarray(alpha, float), np.asarray(mu, float))
    shares, outside = logit_shares(utilities(prices, quality, np.zeros(len(prices)), seg), seg)
    inside = shares / shares.sum(axis=0)
    names = [f"s{k}" for k in range(len(alpha))]
    return {
        "name": "known",
        "segments": [
            {
                "name": n,
                "size": float(size[k]),
                "outside_share": float(outside[k]),
                "price_sensitivity": float(alpha[k]),
                "temperature": float(mu[k]),
            }
            for k, n in enumerate(names)
        ],
        "firms": [
            {
                "name": f"F{j}",
                "price": float(prices[j]),
                "shares": {n: float(inside[j, k]) for k, n in enumerate(names)},
                **({} if costs is None else {"unit_cost": float(costs[j])}),
            }
            for j in range(len(prices))
        ],
    }


# --- the inversion -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_inversion_recovers_known_intercepts(seed):
    rng = np.random.default_rng(seed)
    firms, segments = rng.integers(2, 7), rng.integers(1, 4)
    quality = rng.normal(0.0, 1.5, (firms, segments))
    prices = rng.uniform(0.5, 5.0, firms)
    alpha, mu = rng.uniform(0.2, 2.0, segments), rng.uniform(0.1, 1.5, segments)
    data = market_data(quality, prices, alpha, mu, rng.uniform(1, 50, segments), prices * 0.3)
    calibration = calibrate(data)
    np.testing.assert_allclose(calibration.quality, quality, rtol=0, atol=1e-9)
    assert calibration.step1_error < 1e-12


def test_the_written_scenario_reproduces_the_data_at_step_one():
    calibration = calibrate(EXAMPLE)
    model = MarketModel(calibration.scenario)
    model.step()
    sales = model._clearing.sales[:, 0]
    np.testing.assert_allclose(sales / sales.sum(), [0.55, 0.45], atol=1e-12)
    np.testing.assert_allclose(model._clearing.outside_demand / model.state.size, [0.25])
    companies = calibration.scenario["companies"]
    assert [c["strategy"]["pricing"] for c in companies] == ["fixed", "fixed"]
    assert [c["initial_price"] for c in companies] == [8.0, 2.0]
    # Q = mu (ln s - ln s0) + alpha P, with s the share of the segment's whole demand
    assert companies[0]["quality"]["assistant"] == pytest.approx(0.5 * np.log(0.4125 / 0.25) + 8)


def test_steps_change_nothing_without_events():
    data = copy.deepcopy(EXAMPLE) | {"steps": 12}
    firms = simulate(calibrate(data).scenario).firms
    for _, rows in firms.groupby("firm"):
        assert rows["price"].nunique() == 1 and rows["share"].max() - rows["share"].min() < 1e-12


def test_price_sensitivity_from_an_elasticity_gives_that_mean_elasticity():
    prices, inside, outside, mu = np.array([8.0, 2.0, 1.0]), np.array([0.5, 0.3, 0.2]), 0.3, 0.7
    alpha = price_sensitivity_from_elasticity(1.11, mu, prices, inside, outside)
    data = market_data(np.zeros((3, 1)), prices, [1.0], [mu], [10.0])  # placeholder shares
    for firm, w in zip(data["firms"], inside, strict=True):
        firm.update(shares={"s0": float(w)}, unit_cost=0.1 * firm["price"])
    data["segments"][0].update(outside_share=outside, price_sensitivity=None, elasticity=1.11)
    calibration = calibrate(data)
    assert calibration.alpha[0] == pytest.approx(alpha)
    # numerical own-price elasticities of the calibrated logit, weighted by inside shares
    seg, q = segment_params(calibration.alpha, np.array([mu])), calibration.quality
    elasticities = []
    for j in range(3):
        up, down = prices.copy(), prices.copy()
        up[j] *= 1 + 1e-6
        down[j] *= 1 - 1e-6
        s_up = logit_shares(utilities(up, q, np.zeros(3), seg), seg)[0][j, 0]
        s_down = logit_shares(utilities(down, q, np.zeros(3), seg), seg)[0][j, 0]
        elasticities.append(-(np.log(s_up) - np.log(s_down)) / (np.log(up[j]) - np.log(down[j])))
    assert float(np.dot(inside, elasticities)) == pytest.approx(1.11, rel=1e-6)


# --- implied costs ---------------------------------------------------------------------------


@pytest.mark.parametrize("segments", [1, 2])
def test_cost_inversion_matches_the_equilibrium_solver(segments):
    rng = np.random.default_rng(10 + segments)
    costs = np.array([1.0, 0.6, 1.4, 0.8])
    quality = rng.uniform(1.0, 3.0, (4, segments))
    alpha, mu, size = np.full(segments, 1.2), np.full(segments, 0.5), np.arange(1.0, segments + 1)
    seg = segment_params(alpha, mu)
    nash = bertrand_nash(costs, quality, np.zeros(4), seg, size)
    calibration = calibrate(market_data(quality, nash, alpha, mu, size))  # no unit costs given
    assert calibration.implied.all()
    np.testing.assert_allclose(calibration.costs, costs, rtol=1e-8)
    np.testing.assert_allclose(
        bertrand_nash(calibration.costs, calibration.quality, np.zeros(4), seg, size),
        nash,
        rtol=1e-8,
    )
    gains = deviation_gains(nash, calibration.costs, calibration.quality, np.zeros(4), seg, size)
    assert gains.max() <= 1e-9


def test_at_implied_costs_best_responders_do_not_move():
    """Switched to best_response (the global best response), no firm changes its price."""
    data = market_data(
        np.array([[2.0], [1.5], [1.0]]), np.array([3.0, 2.5, 2.2]), [1.0], [0.6], [9.0]
    )
    scenario = calibrate(data).scenario
    for company in scenario["companies"]:
        company["strategy"]["pricing"] = "best_response"
    firms = simulate(scenario | {"steps": 5}).firms
    for name, price in zip(("F0", "F1", "F2"), (3.0, 2.5, 2.2), strict=True):
        np.testing.assert_allclose(firms.loc[firms.firm == name, "price"], price, rtol=1e-9)


def test_a_given_cost_is_kept_and_margins_are_reported():
    calibration = calibrate(EXAMPLE)
    assert calibration.costs[0] == 3.0 and not calibration.implied[0]
    assert calibration.implied[1] and 0 < calibration.costs[1] < 2.0
    np.testing.assert_allclose(
        calibration.margins, (calibration.prices - calibration.costs) / [8, 2]
    )


# --- impossible data: one line naming the field, exit code 2 ----------------------------------


def _with(change) -> dict:
    data = copy.deepcopy(EXAMPLE)
    change(data)
    return data


BAD = [
    (
        lambda d: d["firms"][1]["shares"].update(assistant=0.5),
        "segments.assistant: the firms' shares sum to 1.05, not 1 (list an `Others` firm",
    ),
    (
        lambda d: d["firms"][1]["shares"].update(assistant=0.0),
        "firms.B.shares.assistant: must be > 0 (got 0.0)",
    ),
    (
        lambda d: d["firms"][1]["shares"].update(assistant=-0.1),
        "firms.B.shares.assistant: must be > 0 (got -0.1)",
    ),
    (
        lambda d: d["segments"][0].update(outside_share=1.0),
        "segments.assistant.outside_share: must be in (0, 1) (got 1.0)",
    ),
    (
        lambda d: d["segments"][0].update(outside_share=0.0),
        "segments.assistant.outside_share: must be in (0, 1) (got 0.0)",
    ),
    (
        lambda d: d["firms"][1]["shares"].update(chat=0.1),
        "firms.B.shares.chat: no such segment (segments: assistant)",
    ),
    (lambda d: d["firms"][1].update(price=-2.0), "firms.B.price: must be > 0 (got -2.0)"),
    (
        lambda d: d["firms"][1].update(price=0.2),
        "firms.B.unit_cost: the cost implied by the Bertrand first-order condition",
    ),
    (
        lambda d: d["firms"][0].update(shares={}),
        "firms.A.shares.assistant: missing",
    ),
    (
        lambda d: d["segments"][0].update(elasticity=1.0),
        "segments.assistant.elasticity: give price_sensitivity or elasticity, not both",
    ),
    (lambda d: d.update(scenario={"companies": []}), "scenario.companies: set by the calibration"),
    (lambda d: d["firms"][0].update(unit_cost=9.0), "firms.A.unit_cost: above the firm's price"),
    (lambda d: d.update(colour="red"), "colour: unknown key"),
]


@pytest.mark.parametrize(("change", "line"), BAD, ids=[line.split(":")[0] for _, line in BAD])
def test_impossible_data_is_one_line_naming_the_field(change, line, tmp_path, capsys):
    data = _with(change)
    with pytest.raises(CalibrationError) as error:
        calibrate(data)
    assert len(error.value.lines) == 1 and error.value.lines[0].startswith(line)
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {line}") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.yaml").exists()


def test_the_command_writes_a_valid_scenario_and_prints_margins(tmp_path, capsys):
    path, out = tmp_path / "data.yaml", tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(EXAMPLE), encoding="utf-8")
    assert main(["calibrate", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "implied" in printed and "0.3774" in printed and "step 1 reproduces" in printed
    scenario = parse_scenario(yaml.safe_load(out.read_text(encoding="utf-8")))
    assert scenario.companies[1].unit_cost == pytest.approx(calibrate(EXAMPLE).costs[1])
    assert out.read_text(encoding="utf-8").startswith("# Written by `llm-market calibrate")


def test_schema_documents_the_format(capsys):
    assert main(["calibrate", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"segments", "firms", "scenario"} <= set(schema["properties"])
    assert "outside option included" in json.dumps(schema)


# --- the `fixed` pricing rule and the `release` event ---------------------------------------


def _release_scenario(*events) -> dict:
    scenario = calibrate(copy.deepcopy(EXAMPLE) | {"steps": 4}).scenario
    scenario["events"] = list(events)
    return scenario


def test_a_release_changes_quality_and_price_and_fixed_keeps_the_price():
    scenario = _release_scenario(
        {"step": 2, "kind": "release", "firm": "B", "quality": {"assistant": 0.4}, "price": 1.5}
    )
    result = simulate(scenario)
    b = result.firms[result.firms.firm == "B"].set_index("step")
    assert b.loc[1, "price"] == 2.0 and (b.loc[2:, "price"] == 1.5).all()
    q = result.segments[result.segments.firm == "B"].set_index("step")["quality"]
    assert q[2] - q[1] == pytest.approx(0.4) and q[4] == q[2]
    assert b.loc[2, "share"] > b.loc[1, "share"] and b.loc[2, "generation"] == 2


def test_a_release_below_the_old_cost_needs_a_new_cost():
    scenario = _release_scenario(
        {"step": 2, "kind": "release", "firm": "A", "price": 1.0},
        {"step": 3, "kind": "release", "firm": "A", "price": 1.0, "unit_cost": 0.5},
    )
    a = simulate(scenario).firms.query("firm == 'A'").set_index("step")
    assert a.loc[2, "price"] == 3.0  # clipped to the unit cost 3
    assert a.loc[3, "price"] == 1.0 and a.loc[3, "unit_cost"] == 0.5


def test_uncertain_releases_follow_the_seed():
    event = {"step": 2, "kind": "release", "firm": "A", "quality_sd": 0.3}
    quality = [
        simulate(_release_scenario(event), seed=seed).segments.query("firm == 'A'")["quality"]
        for seed in (1, 1, 2)
    ]
    assert quality[0].tolist() == quality[1].tolist() and quality[0].tolist() != quality[2].tolist()


def test_a_release_with_compute_ships_the_quality_model(small_scenario):
    small_scenario["events"] = [{"step": 3, "kind": "release", "firm": "Big", "compute": 1e27}]
    result = simulate(small_scenario)
    big = result.firms.query("firm == 'Big'").set_index("step")
    assert big.loc[2, "model_compute"] < 1e27 and big.loc[3, "model_compute"] == 1e27
    q = result.segments.query("firm == 'Big'").groupby("step")["quality"].mean()
    assert q[3] > q[2]


def test_a_release_for_an_unknown_segment_is_a_validation_error(small_scenario):
    small_scenario["events"] = [
        {"step": 2, "kind": "release", "firm": "Big", "quality": {"video": 1.0}}
    ]
    with pytest.raises(ScenarioError, match=r"events\.0\.quality\.video: no such segment"):
        parse_scenario(small_scenario)


# --- the 2025 LLM API market ----------------------------------------------------------------


def test_the_2025_scenario_is_the_calibration_of_its_data_file():
    written = yaml.safe_load(SCENARIO_2025.read_text(encoding="utf-8"))
    calibration = calibrate(yaml.safe_load(DATA_2025.read_text(encoding="utf-8")))
    assert written == yaml.safe_load(yaml.safe_dump(calibration.scenario))
    names = {c["name"]: c for c in written["companies"]}
    for firm in ("OpenAI", "Anthropic", "Google", "Meta", "DeepSeek", "xAI", "Mistral", "Others"):
        assert firm in names
    assert {n for n, c in names.items() if c["open_weights"]} == {"Meta", "DeepSeek", "Mistral"}
    assert written["steps"] == 36


def test_the_2025_scenarios_step_one_shares_are_the_data_files():
    """Without its events (the releases after July 2025) step 1 is the observed market."""
    data = yaml.safe_load(DATA_2025.read_text(encoding="utf-8"))
    scenario = yaml.safe_load(SCENARIO_2025.read_text(encoding="utf-8")) | {"events": []}
    model = MarketModel(scenario)
    model.step()
    clearing = model._clearing
    segments = [s["name"] for s in data["segments"]]
    observed = np.array([[f["shares"][s] for s in segments] for f in data["firms"]])
    np.testing.assert_allclose(clearing.sales / clearing.sales.sum(axis=0), observed, atol=1e-6)
    outside = [s["outside_share"] for s in data["segments"]]
    np.testing.assert_allclose(clearing.outside_demand / model.state.size, outside, atol=1e-6)
    prices = {f["name"]: f["price"] for f in data["firms"]}
    np.testing.assert_allclose(model.state.price, [prices[n] for n in model.state.names])


def test_the_2025_scenario_runs_its_releases():
    result = simulate(SCENARIO_2025)
    prices = result.firms.pivot_table(index="step", columns="firm", values="price")
    assert prices.loc[1, "OpenAI"] == 10.0 and prices.loc[5, "Google"] == 12.0
    assert prices.loc[3, "DeepSeek"] == 0.42 and prices.loc[36, "Anthropic"] == 15.0
    assert not result.segments["extrapolated"].any()


def test_a_sweep_over_market_data_calibrates_every_point():
    from simulator.sweep import SweepSpecError
    from simulator.sweep.runner import plan_sweep

    data = copy.deepcopy(EXAMPLE) | {"steps": 2}
    spec = {
        "scenario": data,
        "method": "grid",
        "grid_levels": 2,
        "replications": 1,
        "parameters": {"segments.assistant.temperature": {"uniform": [0.25, 1.0]}},
        "outcomes": ["final_hhi"],
        "executor": "serial",
    }
    plan = plan_sweep(spec)
    for scenario, point in zip(plan.scenarios, plan.design.points, strict=True):
        mu = point["segments.assistant.temperature"]
        expected = calibrate(_with(lambda d, mu=mu: d["segments"][0].update(temperature=mu)))
        assert scenario["companies"][0]["quality"] == expected.scenario["companies"][0]["quality"]
    spec["parameters"] = {"firms.B.price": {"values": [2.0, 0.2]}}
    with pytest.raises(
        SweepSpecError,
        match=r"firms\.B\.price=0\.2 gives an invalid scenario \(firms\.B\.unit_cost",
    ):
        plan_sweep(spec)


def test_quality_beyond_the_measured_models_is_flagged_and_shaded(small_scenario):
    from simulator.dashboard import quality_figure

    small_scenario["events"] = [{"step": 3, "kind": "release", "firm": "Big", "compute": 1e30}]
    result = simulate(small_scenario)
    big = result.segments.query("firm == 'Big'").groupby("step")["extrapolated"]
    assert not big.any()[2] and big.all()[3]  # beyond the zoo's largest measured budget
    assert result.summary["extrapolated_from_step"] == {"Big": 3}
    assert not result.segments.query("firm == 'Follower'")["extrapolated"].any()  # fixed Q
    shaded = [
        t for t in quality_figure(result).data if (t.meta or {}).get("role") == "extrapolated"
    ]
    assert {t.meta["firm"] for t in shaded} == {"Big"}
    assert all(np.isnan(y) for t in shaded for x, y in zip(t.x, t.y, strict=True) if x < 3)
