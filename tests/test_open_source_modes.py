"""Open weights: the two ways an open model reaches users (market.open_source.mode) and the
open-sourcing rules (strategy.open_source_rule: always, when_behind).

Qualities are fixed and prices cost-plus, so the only thing that differs between two runs is
the open model; every run takes a few hundredths of a second.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from simulator import simulate
from simulator.market.demand import D, SegmentParams
from simulator.market.open_source import OPEN_MODEL

OPEN_STEP = 6
SEGMENTS = [
    {"name": "assistant", "size": 20.0, "quality_sensitivity": 3.0, "temperature": 0.5},
    {
        "name": "code",
        "size": 10.0,
        "price_sensitivity": 0.8,
        "quality_sensitivity": 4.0,
        "temperature": 0.4,
    },
]
QUALITY = {
    "Opener": {"assistant": 0.9, "code": 0.8},
    "Rival": {"assistant": 0.6, "code": 0.7},
    "Third": {"assistant": 0.5, "code": 0.5},
}
THREE_FIRMS = {
    "name": "open-modes",
    "seed": 1,
    "steps": 12,
    "market": {"segments": SEGMENTS, "quality_model": "placeholder"},
    "companies": [
        {
            "name": name,
            "unit_cost": 0.8,
            "quality": quality,
            "strategy": {"pricing": "cost_plus", "markup": 0.5, "link_types": []},
        }
        for name, quality in QUALITY.items()
    ],
}


def run(mode: str | None = None, **terms):
    """Nobody opens (mode None), or Opener releases its weights at OPEN_STEP under ``mode``."""
    data = copy.deepcopy(THREE_FIRMS)
    if mode is not None:
        data["market"]["open_model"] = {"mode": mode, **terms}
        data["events"] = [{"step": OPEN_STEP, "kind": "open_source", "firm": "Opener"}]
    return simulate(data)


def by_step(result, column: str) -> pd.DataFrame:
    """The firms' ``column`` by step (the open model's own row left out)."""
    firms = result.firms[result.firms.firm != OPEN_MODEL]
    return firms.pivot(index="step", columns="firm", values=column)


def size() -> np.ndarray:
    return np.array([s["size"] for s in SEGMENTS])


def segment_params(u0=(0.0, 0.0)) -> SegmentParams:
    return SegmentParams(
        alpha=np.array([s.get("price_sensitivity", 1.0) for s in SEGMENTS]),
        beta=np.array([s["quality_sensitivity"] for s in SEGMENTS]),
        gamma=np.zeros(len(SEGMENTS)),
        mu=np.array([s["temperature"] for s in SEGMENTS]),
        u0=np.asarray(u0, dtype=float),
    )


def firm_inputs(result, step: int):
    """Prices (F,), qualities (F, S) and per-segment demand (F, S) at ``step``, firms in order."""
    names = list(QUALITY)
    prices = by_step(result, "price").loc[step, names].to_numpy()
    rows = result.segments[result.segments.step == step]
    quality = rows.pivot(index="firm", columns="segment", values="quality").loc[names]
    demand = rows.pivot(index="firm", columns="segment", values="demand").loc[names]
    order = [s["name"] for s in SEGMENTS]
    return prices, quality[order].to_numpy(), demand[order].to_numpy()


@pytest.fixture(scope="module")
def closed():
    return run()


def test_nothing_changes_before_the_release(closed):
    for mode in ("outside_option", "free_product"):
        opened = run(mode)
        before = opened.model.step < OPEN_STEP
        pd.testing.assert_frame_equal(opened.model[before], closed.model[before])
        assert (opened.model.loc[before, "open_share"] == 0).all()
        assert (opened.model.loc[~before, "n_open"] == 1).all()


def test_outside_option_mode_raises_the_outside_share_and_adds_no_product(closed):
    opened = run("outside_option")
    model = opened.model
    after = model.step >= OPEN_STEP
    # users who take the open model (the raised outside option) leave the firms' market:
    # open users plus non-buyers rise well above the non-buyers of the closed run, and every
    # firm (the releaser too) sells less than when nobody opens
    left = (model.outside_demand + model.open_demand) / model.market_size
    assert (left[after] > closed.model.outside_share[after] + 0.1).all()
    assert (model.open_demand[after] > 0).all() and (model.outside_demand[after] == 0).all()
    quantity, closed_quantity = by_step(opened, "quantity"), by_step(closed, "quantity")
    assert (quantity.loc[OPEN_STEP:] < closed_quantity.loc[OPEN_STEP:]).all().all()
    # no product beyond the firms' in the logit: their demand is all the inside demand
    inside = size().sum() - model.outside_demand - model.open_demand
    np.testing.assert_allclose(model.total_demand, inside, rtol=1e-12)
    # and it is the logit demand with u0_s raised to the open model's utility
    # beta_s * usability * Q_open,s - alpha_s * user_price (usability 0.8, user_price 0)
    prices, quality, demand = firm_inputs(opened, OPEN_STEP + 1)
    seg = segment_params()
    open_utility = seg.beta * 0.8 * quality[0] - seg.alpha * 0.0
    expected, _ = D(prices, quality, np.zeros(3), segment_params(open_utility), size())
    np.testing.assert_allclose(demand, expected, rtol=1e-9)
    # open_share: the open model's users plus the releaser's own sales, over all served
    sales = by_step(opened, "quantity").loc[OPEN_STEP:]
    users = model.open_demand[after].to_numpy()
    np.testing.assert_allclose(
        model.open_share[after], (users + sales["Opener"]) / (users + sales.sum(axis=1))
    )


def test_free_product_mode_shows_open_demand_in_open_share_and_draws_users_in(closed):
    opened = run("free_product")
    model = opened.model.set_index("step")
    # demand for the free product = everything inside the market that no firm sells
    open_demand = size().sum() * (1.0 - model.outside_share) - model.total_demand
    np.testing.assert_allclose(open_demand.loc[: OPEN_STEP - 1], 0.0, atol=1e-9)
    assert (open_demand.loc[OPEN_STEP:] > 1.0).all()
    # unlike outside_option mode, a free product draws non-buyers in: outside share falls
    closed_outside = closed.model.set_index("step").outside_share
    assert (model.outside_share.loc[OPEN_STEP:] < closed_outside.loc[OPEN_STEP:]).all()
    quantity = by_step(opened, "quantity")
    assert (quantity.loc[OPEN_STEP:] < by_step(closed, "quantity").loc[OPEN_STEP:]).all().all()
    # open_share: free-product demand plus the releaser's sales, over all inside demand served
    expected = (open_demand + quantity["Opener"]) / (open_demand + model.total_sales)
    np.testing.assert_allclose(model.open_share.loc[OPEN_STEP:], expected.loc[OPEN_STEP:])
    # the product is the best open model at user_price 0 with usability 0.8
    prices, quality, demand = firm_inputs(opened, OPEN_STEP + 1)
    with_open = np.vstack([quality, 0.8 * quality[0]])
    expected, _ = D(np.append(prices, 0.0), with_open, np.zeros(4), segment_params(), size())
    np.testing.assert_allclose(demand, expected[:3], rtol=1e-9)
    assert open_demand.loc[OPEN_STEP + 1] == pytest.approx(expected[3].sum(), rel=1e-9)


def test_an_open_model_dearer_than_its_worth_is_no_outside_option(closed):
    """outside_option takes max(u0, open utility): at user_price 5 the open model's utility
    is below not buying at all, so the market is exactly as if nobody had opened."""
    opened = run("outside_option", user_price=5.0)
    np.testing.assert_allclose(opened.model.outside_share, closed.model.outside_share)
    np.testing.assert_allclose(by_step(opened, "quantity"), by_step(closed, "quantity"))
    # as a free product the same price makes it a product hardly anyone buys
    free = run("free_product", user_price=5.0).model.set_index("step")
    open_demand = size().sum() * (1.0 - free.outside_share) - free.total_demand
    assert (open_demand.loc[OPEN_STEP:] < 1e-3 * size().sum()).all()


# --- open-sourcing rules ----------------------------------------------------------------


def rule_scenario(rules: dict[str, str], quality: dict[str, float], steps: int = 12) -> dict:
    data = copy.deepcopy(THREE_FIRMS)
    data["steps"] = steps
    data["companies"] = [
        {
            "name": name,
            "unit_cost": 0.8,
            "quality": {"assistant": quality[name], "code": quality[name]},
            "strategy": {"pricing": "cost_plus", "link_types": [], "open_source_rule": rules[name]},
        }
        for name in rules
    ]
    return data


def test_always_opens_from_step_one_and_the_releaser_gains_goodwill():
    quality = {"A": 0.8, "B": 0.6, "C": 0.4}
    never = simulate(rule_scenario(dict.fromkeys(quality, "never"), quality))
    always = simulate(rule_scenario({"A": "never", "B": "always", "C": "never"}, quality))
    is_open = by_step(always, "open_weights")
    assert is_open["B"].all() and not is_open[["A", "C"]].any().any()
    assert not by_step(never, "open_weights").any().any()
    model = always.model.set_index("step")
    assert (model.n_open == 1).all() and (model.open_share > 0).all()
    # community goodwill: the brand stock carries (1 - brand_decay) x releaser_brand_gain
    # (defaults 0.1 and 20) into step 1, on top of the same marketing
    gain = by_step(always, "brand").loc[1] - by_step(never, "brand").loc[1]
    assert gain["B"] == pytest.approx(0.9 * 20.0)
    assert gain[["A", "C"]].tolist() == pytest.approx([0.0, 0.0])


def test_when_behind_opens_the_firms_below_their_rivals_median_only():
    # best qualities 0.9 > 0.7 > 0.5 > 0.3: the rivals' median is 0.5 for A and B (they stay
    # closed) and 0.7 for C and D (they open at once)
    quality = {"A": 0.9, "B": 0.7, "C": 0.5, "D": 0.3}
    result = simulate(rule_scenario(dict.fromkeys(quality, "when_behind"), quality))
    is_open = by_step(result, "open_weights")
    assert is_open[["C", "D"]].all().all()
    assert not is_open[["A", "B"]].any().any()
    assert (result.model.n_open == 2).all()


def test_when_behind_at_exactly_the_median_stays_closed():
    """'Below the median' is strict: B's 0.5 is the median of 0.75 and 0.25 (exact floats)."""
    quality = {"A": 0.75, "B": 0.5, "C": 0.25}
    result = simulate(rule_scenario(dict.fromkeys(quality, "when_behind"), quality))
    is_open = by_step(result, "open_weights")
    assert is_open["C"].all() and not is_open[["A", "B"]].any().any()


def test_when_behind_opens_at_the_step_rivals_overtake_and_stays_open():
    """A fixed-quality firm ahead of two learners at first; their R&D ships better models and
    it opens in the very step its best quality drops below the median of theirs."""
    learner = {
        "unit_cost": 0.8,
        "initial_compute": 1e22,
        "strategy": {"pricing": "cost_plus", "link_types": [], "rd_min": 2.0},
    }
    data = copy.deepcopy(THREE_FIRMS)
    data["steps"] = 14
    data["companies"] = [
        {
            "name": "Fixed",
            "unit_cost": 0.8,
            "quality": {"assistant": 0.45, "code": 0.45},
            "strategy": {
                "pricing": "cost_plus",
                "link_types": [],
                "open_source_rule": "when_behind",
            },
        },
        {**copy.deepcopy(learner), "name": "L1", "release_cycle": 4},
        {**copy.deepcopy(learner), "name": "L2", "release_cycle": 5},
    ]
    result = simulate(data)
    best = result.segments.groupby(["step", "firm"])["quality"].max().unstack()
    behind = best["Fixed"] < best[["L1", "L2"]].median(axis=1)
    assert not behind.iloc[0] and behind.any()  # ahead at first, overtaken later
    first_behind = behind.idxmax()
    is_open = by_step(result, "open_weights")
    assert is_open["Fixed"].idxmax() == first_behind
    assert not is_open["Fixed"].loc[: first_behind - 1].any()
    assert is_open["Fixed"].loc[first_behind:].all()  # opening is for good
    assert not is_open[["L1", "L2"]].any().any()  # their rule is `never`
