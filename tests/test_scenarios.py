"""Each shipped scenario runs and shows its headline effect in the outputs."""

import copy
from pathlib import Path

import pytest
import yaml

from simulator import simulate
from simulator.config import load_scenario
from simulator.metrics import HHI_BANDS_2010, HHI_BANDS_2023, hhi_band


def before_after(frame, column: str, step: int) -> tuple[float, float]:
    return frame.loc[frame.step < step, column].mean(), frame.loc[frame.step >= step, column].mean()


@pytest.fixture(scope="module")
def runs():
    names = [
        "baseline",
        "open_source_wave",
        "challenger_alliance",
        "price_war",
        "homogenization",
        "homogenization_differentiated",
        "china_market",
    ]
    return {name: simulate(f"scenarios/{name}.yaml") for name in names}


def test_baseline_runs_six_firms_four_segments(runs):
    result = runs["baseline"]
    assert set(result.segments.segment) == {"assistant", "code", "creative", "chinese"}
    assert result.firms.query("step == 1").shape[0] >= 6
    assert result.model.step.max() == 120
    # the headline HHI is the one of the last step's shares in the firms table, with its bands
    last = result.firms[result.firms.step == 120].set_index("firm")["share"]
    assert result.summary["final_share"] == pytest.approx(last.to_dict())
    assert result.summary["final_hhi"] == pytest.approx(float(((100 * last) ** 2).sum()))
    assert result.summary["hhi_band_2023"] == hhi_band(result.summary["final_hhi"], HHI_BANDS_2023)
    assert result.summary["hhi_band_2010"] == hhi_band(result.summary["final_hhi"], HHI_BANDS_2010)


def test_open_source_wave_lowers_prices_and_raises_entry(runs):
    result = runs["open_source_wave"]
    release = load_scenario("scenarios/open_source_wave.yaml").events[0].step
    price_before, price_after = before_after(result.model, "price_index", release)
    assert price_after < price_before
    entries_before = result.model.loc[result.model.step < release, "entries"].sum()
    entries_after = result.model.loc[result.model.step >= release, "entries"].sum()
    assert entries_after > entries_before
    assert result.model.loc[result.model.step >= release, "open_share"].min() > 0.1


def test_challenger_alliance_startups_pool_and_gain_quality(runs):
    result = runs["challenger_alliance"]
    pairs = set(zip(result.edges.source, result.edges.target, result.edges.type, strict=True))
    assert pairs == {("Alpha", "Beta", "joint_rd")}
    data = yaml.safe_load(Path("scenarios/challenger_alliance.yaml").read_text(encoding="utf-8"))
    solo = copy.deepcopy(data)
    for firm in solo["companies"]:
        firm.setdefault("strategy", {})["link_rule"] = "none"
    alone = simulate(solo)

    def quality(run):
        last = run.segments[run.segments.step == run.segments.step.max()]
        return last[last.firm.isin(["Alpha", "Beta"])]["quality"].mean()

    # pooling lifts the start-ups' final quality (0.980 vs 0.965 on the early-stopped zoo)
    assert quality(result) > quality(alone) + 0.01
    assert alone.edges.empty


def test_price_war_ends_in_exits(runs):
    result = runs["price_war"]
    exits = result.summary["exits"]
    assert len(exits) >= 2
    assert all("cash below zero" in e["reason"] for e in exits)
    assert "Incumbent" not in {e["firm"] for e in exits}
    firms = result.firms
    first_exit = min(e["step"] for e in exits)
    war = firms[(firms.firm != "Incumbent") & (firms.step >= 3) & (firms.step < first_exit)]
    assert ((war.price - war.unit_cost) / war.unit_cost).mean() < 0.02  # margins competed away
    incumbent = firms[firms.firm == "Incumbent"].set_index("step")["price"]
    assert incumbent.iloc[-1] > incumbent.loc[3:first_exit].max()  # monopoly pricing afterwards
    assert result.model.hhi.iloc[-1] > result.model.hhi.iloc[0]


def test_chasing_demand_homogenizes_more_than_differentiating(runs):
    chase = runs["homogenization"].model.homogenization
    spread = runs["homogenization_differentiated"].model.homogenization
    assert chase.iloc[-1] > 0.95 and chase.iloc[-1] > chase.iloc[0]
    assert spread.iloc[-1] < chase.iloc[-1] - 0.2


def test_china_regulation_cuts_foreign_share_of_the_chinese_segment(runs):
    result = runs["china_market"]
    rule = load_scenario("scenarios/china_market.yaml").events[0]
    foreign = result.segments.query("segment == 'chinese' and firm in @rule.firms")
    by_step = foreign.groupby("step", as_index=False)["sales"].sum()
    total = (
        result.segments.query("segment == 'chinese'").groupby("step", as_index=False)["sales"].sum()
    )
    by_step["share"] = by_step["sales"] / total["sales"]
    before, after = before_after(by_step, "share", rule.step)
    assert after < 0.5 * before
    focus = result.segments.query("segment == 'chinese' and firm == 'Frontier'").set_index("step")[
        "focus"
    ]
    assert focus.loc[rule.step :].max() <= 0.1 + 1e-9
