"""Q-learning pricing: the update by hand, the batched learner against it, exploration,
learning beating random pricing, `llm-market learn` (resumable) and the online rule."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulator import simulate
from simulator.cli import main
from simulator.config import load_scenario, parse_scenario
from simulator.learn import LearnError, run_learning, stage_game
from simulator.market.demand import D
from simulator.market.qlearning import (
    BatchLearner,
    Learners,
    StageGame,
    initial_q,
    learn,
    price_grid,
    q_update,
    run_seed,
)
from tests.conftest import segment_params

ROOT = Path(__file__).resolve().parents[1]
CALVANO = ROOT / "scenarios" / "algorithmic_pricing.yaml"


def calvano_game(points: int = 15) -> StageGame:
    seg = segment_params(1, alpha=1.0, beta=1.0, mu=0.25, u0=0.0)
    return StageGame.build([1.0, 1.0], [[2.0], [2.0]], [0.0, 0.0], seg, [1.0], points, 0.1)


def learners(decay: float, rate: float = 0.15, discount: float = 0.95) -> Learners:
    return Learners(np.full(2, rate), np.full(2, decay), np.full(2, discount))


def test_q_update_on_a_hand_worked_two_state_example():
    # two states, two prices; alpha = 0.5, delta = 0.9
    q = np.array([[1.0, 2.0], [3.0, 0.5]])
    # in state 0 price 1 earned 1.0 and led to state 1: target 1 + 0.9 * max(3, 0.5) = 3.7
    assert q_update(q, 0, 1, 1.0, 1, 0.5, 0.9) == pytest.approx(0.5 * 2.0 + 0.5 * 3.7)  # 2.85
    np.testing.assert_allclose(q, [[1.0, 2.85], [3.0, 0.5]])
    # in state 1 price 0 earned -1 and stayed: target -1 + 0.9 * 3 = 1.7 -> 0.5 3 + 0.5 1.7
    assert q_update(q, 1, 0, -1.0, 1, 0.5, 0.9) == pytest.approx(2.35)
    # the next state's best value is read after the first update (2.85 now beats 1)
    assert q_update(q, 1, 1, 0.0, 0, 0.5, 0.9) == pytest.approx(0.5 * 0.5 + 0.5 * 0.9 * 2.85)
    np.testing.assert_allclose(q, [[1.0, 2.85], [2.35, 0.25 + 0.45 * 2.85]])


def test_grid_spans_nash_and_joint_profit_prices_extended():
    grid = price_grid([1.0, 2.0], [2.0, 4.0], 5, 0.1)
    np.testing.assert_allclose(grid[[0, -1]], [[0.9, 1.8], [2.1, 4.2]])
    game = calvano_game()
    np.testing.assert_allclose(game.nash, 1.4729266600306, atol=1e-9)
    np.testing.assert_allclose(game.joint, 1.92498092, atol=1e-6)
    assert game.grid.shape == (15, 2)


def test_stage_profits_are_the_logit_profits_of_each_price_vector():
    game = calvano_game(points=4)
    seg = segment_params(1, alpha=1.0, beta=1.0, mu=0.25, u0=0.0)
    for a0 in range(4):
        for a1 in range(4):
            prices = np.array([game.grid[a0, 0], game.grid[a1, 1]])
            demand, _ = D(prices, np.array([[2.0], [2.0]]), np.zeros(2), seg, np.ones(1))
            np.testing.assert_allclose(
                game.profits[:, a0 * 4 + a1], (prices - 1.0) * demand[:, 0], rtol=1e-12
            )
    np.testing.assert_allclose(game.gain(game.nash_profit), 0.0, atol=1e-12)
    np.testing.assert_allclose(game.gain(game.joint_profit), 1.0)


def test_batched_learner_is_the_q_update_applied_period_by_period():
    game = calvano_game(points=3)
    params = learners(decay=2e-3, rate=0.3, discount=0.9)
    batch = BatchLearner(game, params, [11, 12])
    start_state = batch.state.copy()
    history: list = []
    batch.learn(400, 10**9, lambda runs, converged: None, history=history)
    q0 = initial_q(game.profits, 3, params.discount)
    for run in range(2):
        tables = [np.tile(q0[i], (batch.states, 1)) for i in range(2)]
        assert history[0][0][run] == start_state[run]
        for state, action, reward, after in history:
            for i in range(2):
                q_update(
                    tables[i], state[run], action[i, run], reward[i, run], after[run], 0.3, 0.9
                )
        for i in range(2):
            np.testing.assert_allclose(batch.Q[i, run], tables[i], rtol=1e-13)
            np.testing.assert_array_equal(batch.greedy[i, run], tables[i].argmax(axis=1))


def test_pure_exploration_gives_uniform_prices_on_the_grid():
    game = calvano_game()
    batch = BatchLearner(game, learners(decay=0.0), [5])
    history: list = []
    batch.learn(30_000, 10**9, lambda runs, converged: None, history=history)
    actions = np.concatenate([h[1][:, 0] for h in history])  # both firms' price indices
    counts = np.bincount(actions, minlength=15)
    assert counts.sum() == 60_000 and (counts > 0).all()
    assert stats.chisquare(counts).pvalue > 1e-3
    # ... and never anything but grid prices: the explored prices are indices 0..14
    assert actions.min() == 0 and actions.max() == 14


def test_a_short_learning_run_beats_random_pricing():
    game = calvano_game()
    seeds = [run_seed(1, r) for r in range(4)]
    outcomes = learn(game, learners(decay=1e-4), range(4), seeds, 80_000, 20_000, 1_000)
    random_profit = game.profits.mean(axis=1)  # uniformly random prices on the grid
    learned = np.array([o.profit for o in outcomes])
    assert learned.mean() > random_profit.mean() + 0.01
    assert (learned.mean(axis=1) > random_profit.mean()).sum() >= 3


def test_same_seed_same_run_whatever_the_batch():
    game = calvano_game(points=5)
    alone = learn(game, learners(2e-4), [3], [run_seed(9, 3)], 20_000, 2_000, 200)
    together = learn(
        game, learners(2e-4), [1, 3], [run_seed(9, 1), run_seed(9, 3)], 20_000, 2_000, 200
    )
    mine = next(o for o in together if o.run == 3)
    assert mine.periods == alone[0].periods
    np.testing.assert_array_equal(mine.profit, alone[0].profit)


def tiny_learning_scenario() -> dict:
    data = load_scenario(CALVANO).model_dump(mode="json")
    data["learning"] = {"max_periods": 3_000, "convergence_periods": 500, "evaluation_periods": 100}
    for company in data["companies"]:
        company["strategy"] |= {"price_grid": 5, "exploration_decay": 2e-3}
    return data


def test_learn_writes_one_row_per_run_and_resumes(tmp_path):
    scenario = parse_scenario(tiny_learning_scenario())
    out = tmp_path / "learn"
    first = run_learning(scenario, 2, out)
    assert list(first.columns[:6]) == ["run", "seed", "periods", "converged", "delta", "price"]
    stored = {p.name: p.read_text() for p in (out / "runs").iterdir()}
    more = run_learning(scenario, 3, out)
    assert len(more) == 3 and (out / "learn.parquet").is_file()
    for name, text in stored.items():  # finished runs are kept, not learned again
        assert (out / "runs" / name).read_text() == text
    pd.testing.assert_frame_equal(more.iloc[:2], first, check_like=True)
    table = pd.read_parquet(out / "learn.parquet")
    assert table["run"].tolist() == [0, 1, 2]
    assert json.loads((out / "runs" / "run-000002.json").read_text())["seed"] == run_seed(
        scenario.seed, 2
    )
    other = tiny_learning_scenario()
    other["learning"]["max_periods"] = 4_000
    with pytest.raises(LearnError, match="made for other learning runs"):
        run_learning(parse_scenario(other), 3, out)


def test_learn_command_prints_the_distribution(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    import yaml

    path.write_text(yaml.safe_dump(tiny_learning_scenario()))
    assert main(["learn", str(path), "--runs", "3", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "delta" in out and "price" in out and "converged:" in out and "Nash price" in out


def test_learn_needs_learners(small_scenario):
    with pytest.raises(LearnError, match="needs every firm to use q_learning"):
        stage_game(parse_scenario(small_scenario))


def test_the_stage_game_is_the_scenarios_market_at_step_0():
    game, params, firms = stage_game(load_scenario(CALVANO))
    assert firms == ["A", "B"]
    np.testing.assert_allclose(game.nash, calvano_game().nash)
    np.testing.assert_allclose(params.rate, 0.15)
    np.testing.assert_allclose(params.decay, 4e-6)


def test_q_learning_prices_online_inside_an_ordinary_run():
    data = load_scenario(CALVANO).model_dump(mode="json") | {"steps": 40}
    run = simulate(data)
    game = calvano_game()
    prices = run.firms.pivot(index="step", columns="firm", values="price")
    for firm, column in zip(("A", "B"), range(2), strict=True):
        on_grid = np.isclose(prices[firm].to_numpy()[:, None], game.grid[None, :, column])
        assert on_grid.any(axis=1).all()
    assert prices.nunique().min() > 3  # it explores
    again = simulate(data)
    pd.testing.assert_frame_equal(run.firms, again.firms)
    other = simulate(data, seed=1)
    assert not np.allclose(other.firms["price"], run.firms["price"])


def test_q_learning_parameter_is_named_apart_from_wrights_law(small_scenario):
    data = copy.deepcopy(small_scenario)
    data["companies"][0]["strategy"] |= {"pricing": "q_learning", "q_learning_rate": 0.3}
    scenario = parse_scenario(data)
    assert scenario.companies[0].strategy.q_learning_rate == 0.3
    assert scenario.companies[0].learning_rate == 0.0  # Wright's law: untouched
    data["companies"][0]["strategy"]["learning_rate"] = 0.3
    with pytest.raises(Exception, match="learning_rate: unknown key"):
        parse_scenario(data)


@pytest.mark.slow
def test_calvano_baseline_learns_prices_above_nash():
    """8 runs of the Calvano et al. baseline to convergence (~1 minute)."""
    game, params, _ = stage_game(load_scenario(CALVANO))
    seeds = [run_seed(2020, r) for r in range(8)]
    outcomes = learn(game, params, range(8), seeds, 5_000_000, 100_000, 1_000)
    deltas = np.array([o.delta.mean() for o in outcomes])
    assert all(o.converged for o in outcomes)
    assert 0.5 < deltas.mean() < 1.0


def test_learn_bad_input_is_one_line(tmp_path, capsys):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    assert main(["learn", str(CALVANO), "--out", str(afile)]) == 2
    assert main(["learn", str(CALVANO), "--runs", "0", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "--runs: must be at least 1" in err
    assert "Traceback" not in err
