"""`llm-market tournament`: every assignment of rules to firms, ranked; the payoff table is
symmetric where the game is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.cli import main
from simulator.config import load_scenario, parse_scenario
from simulator.tournament import Plan, TournamentError, payoff_table, play

ROOT = Path(__file__).resolve().parents[1]
RULES = ["best_response", "cost_plus", "undercut"]


def symmetric_scenario(steps: int = 30):
    """Two identical firms (the Bertrand validation market) with the same starting price."""
    data = load_scenario(ROOT / "scenarios" / "validation_bertrand.yaml").model_dump(mode="json")
    data["steps"] = steps
    for company in data["companies"]:
        company["initial_price"] = 1.7
    return parse_scenario(data)


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    out = tmp_path_factory.mktemp("tournament") / "t"
    plan = Plan(symmetric_scenario(), RULES, "pricing", seeds=2)
    return plan, play(plan, out, executor="serial"), out


def test_every_assignment_is_played_with_every_seed(played):
    plan, result, out = played
    plays = result["plays"]
    assert len(plan.assignments) == 9 and plan.n_runs == 18
    assert len(plays) == 36  # runs x players
    assert set(plays["rule"]) == set(RULES)
    assert plays.groupby("rule").size().eq(12).all()
    for name in ("plays.parquet", "ranking.csv", "tournament.html", "tournament.yaml"):
        assert (out / name).is_file()
    page = (out / "tournament.html").read_text(encoding="utf-8")
    assert page.count('class="figure"') == 3 and "heatmap" in page


def test_the_payoff_table_is_symmetric_where_the_game_is(played):
    _, result, _ = played
    outcome = {}  # (seed, A's rule, B's rule) -> (A's profit, share, B's profit, share)
    for _, run in result["plays"].groupby("run"):
        a, b = run.set_index("firm").loc["A"], run.set_index("firm").loc["B"]
        outcome[(a["seed"], a["rule"], b["rule"])] = (
            a["mean_profit"],
            a["final_share"],
            b["mean_profit"],
            b["final_share"],
        )
    assert len(outcome) == 18
    # firm A playing r against s earns what B earns playing r against A's s
    for (seed, r, s), (profit_a, share_a, _, _) in outcome.items():
        _, _, profit_b, share_b = outcome[(seed, s, r)]
        assert profit_a == pytest.approx(profit_b, rel=1e-9, abs=1e-12)
        assert share_a == pytest.approx(share_b, rel=1e-9, abs=1e-12)
    table_a = payoff_table(result["plays"], firm="A")
    table_b = payoff_table(result["plays"], firm="B")
    pd.testing.assert_frame_equal(table_a, table_b, rtol=1e-9)
    both = payoff_table(result["plays"])
    assert list(both.index) == sorted(RULES) and list(both.columns) == sorted(RULES)
    # matched rules split the market evenly
    shares = payoff_table(result["plays"], "final_share")
    np.testing.assert_allclose(np.diag(shares.to_numpy()), 0.5, atol=1e-9)


def test_ranking_has_intervals_and_orders_by_profit(played):
    _, result, out = played
    rank = result["ranking"]
    assert list(rank["rank"]) == [1, 2, 3]
    assert rank["mean_profit"].is_monotonic_decreasing
    assert (rank["profit_ci_low"] <= rank["mean_profit"]).all()
    assert (rank["mean_profit"] <= rank["profit_ci_high"]).all()
    pd.testing.assert_frame_equal(pd.read_csv(out / "ranking.csv"), rank, check_dtype=False)


def test_a_finished_tournament_resumes_without_running_again(played):
    plan, result, out = played
    calls: list = []
    again = play(plan, out, executor="serial", progress=lambda done, total: calls.append(done))
    assert calls == []
    pd.testing.assert_frame_equal(again["plays"], result["plays"])
    other = Plan(symmetric_scenario(), ["best_response", "cost_plus"], "pricing", seeds=2)
    with pytest.raises(TournamentError, match="made by another tournament"):
        play(other, out, executor="serial")


def test_rd_tournament_and_bad_input(tmp_path, small_scenario, capsys):
    scenario = parse_scenario(small_scenario | {"steps": 6})
    plan = Plan(scenario, ["revenue_share", "forward"], "rd_budget", seeds=1, players=["Big"])
    assert plan.n_runs == 2
    result = play(plan, None, executor="serial")
    assert set(result["plays"]["rule"]) == {"revenue_share", "forward"}
    with pytest.raises(TournamentError, match="unknown pricing rule 'telepathy'"):
        Plan(scenario, ["best_response", "telepathy"], "pricing", seeds=1)
    with pytest.raises(TournamentError, match="no such firm 'Nope'"):
        Plan(scenario, ["best_response"], "pricing", seeds=1, players=["Nope"])
    path = ROOT / "scenarios" / "validation_bertrand.yaml"
    assert (
        main(
            ["tournament", str(path), "--rules", "best_response,nope", "--out", str(tmp_path / "x")]
        )
        == 2
    )
    assert "unknown pricing rule 'nope'" in capsys.readouterr().err


def test_tournament_out_must_be_a_folder(tmp_path, capsys):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    path = ROOT / "scenarios" / "validation_bertrand.yaml"
    assert main(["tournament", str(path), "--rules", "cost_plus", "--out", str(afile)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
