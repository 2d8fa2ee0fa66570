"""Where every potential user goes, and what consumers gain, in every open-model mode and
with capacity limits (with and without spillover)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from simulator import simulate
from simulator.market.open_source import OPEN_MODEL


def scenario(mode: str = "free_product", spillover: bool = False, capacity=1.0) -> dict:
    return {
        "name": "accounting",
        "seed": 1,
        "steps": 16,
        "market": {
            "quality_model": "placeholder",
            "spillover": spillover,
            "segments": [
                {
                    "name": "a",
                    "size": 20.0,
                    "price_sensitivity": 0.5,
                    "quality_sensitivity": 3.0,
                    "temperature": 0.3,
                    "outside_utility": 0.5,
                },
                {
                    "name": "b",
                    "size": 8.0,
                    "growth": 0.02,
                    "price_sensitivity": 3.0,
                    "quality_sensitivity": 2.0,
                    "temperature": 0.05,
                },
            ],
            "open_model": {"mode": mode, "usability": 0.9},
        },
        "companies": [
            {
                "name": "Lead",
                "unit_cost": 0.5,
                "quality": {"a": 1.0, "b": 0.9},
                "strategy": {"pricing": "best_response"},
            },
            {
                "name": "Small",
                "unit_cost": 0.6,
                "capacity": capacity,
                "quality": {"a": 0.7, "b": 0.0},
                "strategy": {"pricing": "undercut"},
            },
            {
                "name": "Lab",
                "unit_cost": 0.7,
                "quality": {"a": 0.8, "b": 0.5},
                "strategy": {"pricing": "cost_plus"},
            },
        ],
        "events": [{"step": 8, "kind": "open_source", "firm": "Lab"}],
    }


@pytest.mark.parametrize("mode", ["free_product", "outside_option"])
@pytest.mark.parametrize("spillover", [False, True])
def test_sales_open_outside_and_unserved_add_up_to_the_market(mode, spillover):
    result = simulate(scenario(mode, spillover))
    m = result.model
    total = m.total_sales + m.open_demand + m.outside_demand + m.unserved_demand
    np.testing.assert_allclose(total, m.market_size, rtol=1e-12)
    assert (m.unserved_demand[m.step < 8] > 0).any() or spillover  # the capacity binds
    # per segment: firms' sales + open model + what the segment table cannot hold = size
    seg = result.segments
    firms_sales = seg[seg.firm != OPEN_MODEL].groupby("step")["sales"].sum()
    np.testing.assert_allclose(firms_sales.to_numpy(), m.total_sales.to_numpy(), rtol=1e-12)
    open_rows = seg[seg.firm == OPEN_MODEL].groupby("step")["demand"].sum()
    np.testing.assert_allclose(open_rows.to_numpy(), m.open_demand[m.step >= 8], rtol=1e-12)


def test_the_open_model_is_a_product_row_and_shares_sum_to_one():
    result = simulate(scenario())
    firms = result.firms
    open_rows = firms[firms.firm == OPEN_MODEL]
    assert open_rows.step.min() == 8 and (open_rows.firm_id == -1).all()
    assert (open_rows.share > 0.05).all() and open_rows.cash.isna().all()
    np.testing.assert_allclose(firms.groupby("step")["share"].sum(), 1.0)
    m = result.model.set_index("step")
    # HHI over firms renormalises among firms; over all products it counts the open model
    step = firms[firms.step == 12]
    firm_rows = step[step.firm != OPEN_MODEL]
    among_firms = firm_rows.quantity / firm_rows.quantity.sum()
    assert m.loc[12, "hhi"] == pytest.approx(((100 * among_firms) ** 2).sum())
    assert m.loc[12, "hhi_all_products"] == pytest.approx(((100 * step.share) ** 2).sum())
    assert m.loc[12, "hhi_all_products"] < m.loc[12, "hhi"]
    assert result.summary["final_share"][OPEN_MODEL] == pytest.approx(open_rows.share.iloc[-1])


def test_outside_option_mode_open_model_raises_consumer_surplus():
    """Consumers gain when a free open model becomes their fallback: surplus is measured from
    the scenario's own outside option, not the raised one."""
    opened = simulate(scenario("outside_option", capacity=None))
    closed_data = scenario("outside_option", capacity=None)
    closed_data["events"] = []
    closed = simulate(closed_data)
    gain = opened.model.consumer_surplus - closed.model.consumer_surplus
    assert (gain[opened.model.step < 8].abs() < 1e-9).all()
    assert (gain[opened.model.step >= 8] > 0).all()
    assert (opened.model.open_demand[opened.model.step >= 8] > 0).all()


def test_rationed_users_get_no_surplus():
    """Halving the small firm's capacity turns more users away: they count at the outside
    option, so surplus falls although the logit choice probabilities at equal prices agree."""
    wide, narrow = scenario(capacity=1.0), scenario(capacity=0.5)
    for data in (wide, narrow):
        data["events"] = []
        data["steps"] = 1
        for firm in data["companies"]:
            firm["strategy"] = {"pricing": "cost_plus"}
    runs = [simulate(wide), simulate(narrow)]
    a, b = (run.model.iloc[0] for run in runs)
    assert b.unserved_demand > a.unserved_demand == 0.0
    # everyone turned away is in segment a, where a user's logit surplus is
    # -(mu/alpha) ln(outside share) (Small-Rosen, from the segment table's shares)
    seg = runs[0].segments
    outside_a = 1.0 - seg[seg.segment == "a"]["share"].sum()
    per_user_a = -(0.3 / 0.5) * np.log(outside_a)
    lost = a.consumer_surplus - b.consumer_surplus
    assert lost == pytest.approx(b.unserved_demand * per_user_a, rel=1e-9)


def test_a_firm_may_not_be_called_open_model():
    from simulator.config import ScenarioError, parse_scenario

    data = copy.deepcopy(scenario())
    data["companies"][0]["name"] = OPEN_MODEL
    with pytest.raises(ScenarioError, match="reserved for the open product"):
        parse_scenario(data)
