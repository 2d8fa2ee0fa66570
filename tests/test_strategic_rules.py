"""Decisions that are choices: each new rule's comparative static (each can fail), and the
open model outliving the firm that released it."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import simulate
from simulator.market.strategy import LINK_RULE
from simulator.market.strategy.context import DecisionContext, maximise
from simulator.market.strategy.farsighted_links import delayed_weight
from simulator.market.strategy.forward_rd import rd_value
from simulator.market.strategy.links import LinkSituation
from simulator.market.strategy.marketing_return import brand_value
from simulator.model import MarketModel
from simulator.phases.clear import products


class Curve:
    """A quality curve Q = q0 + slope log10(C / c0) in every segment (floored at 0)."""

    def __init__(self, slope: float, q0: float = 0.5, c0: float = 1e24):
        self.slope, self.q0, self.c0 = slope, q0, c0

    def __call__(self, flops, mix):
        q = self.q0 + self.slope * np.log10(np.asarray(flops, dtype=float) / self.c0)
        quality = np.repeat(np.maximum(q, 0.0)[:, None], mix.shape[1], axis=1)
        return quality, np.full(mix.shape, np.nan), np.zeros(len(flops), dtype=bool)


def first_step(data, quality_source=None) -> MarketModel:
    model = MarketModel(data, quality_source=quality_source)
    model.step()
    return model


def context_of(model: MarketModel) -> DecisionContext:
    """The context the next step's decisions will see (before that step runs)."""
    state, market = model.state, model.market
    return DecisionContext(
        state,
        model.steps + 1,
        model.quality_source,
        market.open_model,
        market.brand_decay,
        lambda: products(state, model.network, market.open_model),
    )


# --- R&D: forward-looking -------------------------------------------------------------------


def rd_market(beta: float = 3.0, cash: float = 100.0) -> dict:
    return {
        "name": "rd",
        "steps": 1,
        "market": {
            "quality_model": "placeholder",
            "segments": [
                {"name": "code", "size": 10.0, "quality_sensitivity": beta, "temperature": 0.3}
            ],
        },
        "companies": [
            {"name": "A", "unit_cost": 1.0, "cash": cash, "strategy": {"rd_budget": "forward"}},
            {"name": "B", "unit_cost": 1.0, "quality": {"code": 0.5}},
        ],
    }


def rd_spend(slope: float, **market) -> float:
    return float(first_step(rd_market(**market), Curve(slope)).state.rd_spend[0])


def test_forward_rd_invests_more_with_a_steeper_quality_curve():
    spends = [rd_spend(slope) for slope in (0.05, 0.1, 0.2)]
    assert 0 < spends[0] < spends[1] < spends[2] < 10.0  # 10: the cash limit (0.1 x 100)


def test_forward_rd_invests_nothing_without_quality_sensitivity_or_cash():
    assert rd_spend(0.2, beta=0.0) == 0.0
    assert rd_spend(0.0) == 0.0  # a flat curve: more compute buys no quality
    assert rd_spend(0.2, cash=-5.0) == 0.0
    assert rd_spend(0.4) == pytest.approx(10.0)  # the budget binds: rd_cash_share x cash


def test_forward_rd_spends_where_the_value_of_the_plan_peaks():
    """No spend within the budget is worth more than the chosen one (V = PV gain - PV cost),
    and more cash does not change an interior choice."""
    model = MarketModel(rd_market(), quality_source=Curve(0.1))
    context = context_of(model)
    params = {"rd_discount": np.array([0.99]), "rd_horizon": np.array([24.0])}
    value = rd_value(context, np.array([0]), params)
    model.step()
    chosen = model.state.rd_spend[0]
    assert 0 < chosen < 10
    brute = value(np.linspace(0.0, 10.0, 2001)[None, :])[0]
    assert value(np.array([[chosen]]))[0, 0] >= brute.max() - 1e-6 * abs(brute.max())
    assert brute[0] == 0.0 and brute.max() > 0
    assert rd_spend(0.1, cash=1_000.0) == pytest.approx(chosen, rel=2e-2)


def test_maximise_prefers_no_spending_when_nothing_is_gained():
    best = maximise(lambda x: -x, np.array([5.0, 0.0]))
    np.testing.assert_array_equal(best, [0.0, 0.0])
    peak = maximise(lambda x: -((x - 2.0) ** 2), np.array([10.0]))
    assert peak[0] == pytest.approx(2.0, rel=2e-2)


# --- marketing at its marginal return -------------------------------------------------------


def marketing_market(gamma: float = 0.5, decay: float = 0.1, cash: float = 1_000.0) -> dict:
    strategy = {"pricing": "cost_plus", "markup": 0.6, "marketing_cash_share": 1.0}
    return {
        "name": "mk",
        "steps": 1,
        "market": {
            "brand_decay": decay,
            "segments": [
                {"name": "assistant", "size": 10.0, "brand_sensitivity": gamma, "temperature": 0.3}
            ],
        },
        "companies": [
            {
                "name": "A",
                "unit_cost": 1.0,
                "cash": cash,
                "quality": {"assistant": 1.0},
                "initial_price": 1.6,
                "strategy": strategy | {"marketing_budget": "marginal_return"},
            },
            {
                "name": "B",
                "unit_cost": 1.0,
                "quality": {"assistant": 1.0},
                "initial_price": 1.6,
                "strategy": strategy,
            },
        ],
    }


def marketing(**market) -> float:
    return float(first_step(marketing_market(**market)).state.marketing[0])


def test_marketing_rises_with_brand_sensitivity_and_falls_with_decay():
    assert marketing(gamma=0.0) == 0.0
    spends = [marketing(gamma=g) for g in (0.1, 0.3, 0.5)]
    assert 0 < spends[0] < spends[1] < spends[2]
    assert marketing(gamma=0.5, decay=0.3) < spends[2]
    assert marketing(gamma=0.5, cash=-1.0) == 0.0


def test_marketing_stops_where_its_marginal_return_equals_its_cost():
    model = MarketModel(marketing_market())
    context = context_of(model)
    value = brand_value(context, np.array([0]), np.array([0.99]))
    model.step()
    chosen = model.state.marketing[0]
    h = 1e-4
    w = value(np.array([[chosen - h, chosen + h]]))[0]
    marginal_return = (w[1] - w[0]) / (2 * h) + 1.0  # W = discounted return - spend
    assert marginal_return == pytest.approx(1.0, abs=0.02)


# --- open-sourcing by payoff ----------------------------------------------------------------


def open_market(gain: float, usability: float = 0.8, community: float = 0.01) -> dict:
    return {
        "name": "op",
        "steps": 1,
        "market": {
            "open_model": {
                "releaser_brand_gain": gain,
                "usability": usability,
                "community_rate": community,
            },
            "segments": [
                {
                    "name": "assistant",
                    "size": 10.0,
                    "quality_sensitivity": 2.0,
                    "brand_sensitivity": 0.5,
                    "temperature": 0.3,
                }
            ],
        },
        "companies": [
            {
                "name": "A",
                "unit_cost": 1.0,
                "quality": {"assistant": 0.6},
                "strategy": {"open_source_rule": "payoff"},
            },
            {"name": "B", "unit_cost": 1.0, "quality": {"assistant": 0.9}},
        ],
    }


def opens(data, quality_source=None) -> bool:
    return bool(first_step(data, quality_source).state.open_weights[0])


def break_even_gain(make, quality_source=None) -> float:
    """The smallest brand gain at which the firm opens (bisection)."""
    lo, hi = 0.0, 200.0
    for _ in range(25):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if opens(make(mid), quality_source) else (mid, hi)
    return hi


def test_open_sourcing_weighs_brand_gained_against_margin_lost():
    assert not opens(open_market(gain=0.0))  # nothing gained, users lost to the open model
    assert opens(open_market(gain=50.0))
    thresholds = [
        break_even_gain(lambda g, u=u: open_market(g, usability=u)) for u in (0.0, 0.5, 1.0)
    ]
    assert thresholds[0] < thresholds[1] < thresholds[2]  # a usable open model costs more


def test_community_compute_makes_opening_pay_sooner():
    def learning_firm(gain, community):
        data = open_market(gain, community=community)
        data["companies"][0].pop("quality")
        data["market"]["quality_model"] = "placeholder"
        return data

    thresholds = [
        break_even_gain(lambda g, c=c: learning_firm(g, c), Curve(0.2)) for c in (0.0, 0.2)
    ]
    assert thresholds[1] < thresholds[0]


# --- the open model outlives its maker ------------------------------------------------------


def dying_releaser(outlives: bool) -> dict:
    return {
        "name": "afterlife",
        "steps": 8,
        "market": {
            "exit_after": 2,
            "open_model": {"outlives_releaser": outlives},
            "segments": [{"name": "assistant", "size": 10.0, "temperature": 0.3}],
        },
        "companies": [
            {
                "name": "Open",
                "unit_cost": 1.0,
                "cash": -100.0,
                "fixed_cost": 50.0,
                "open_weights": True,
                "quality": {"assistant": 0.9},
            },
            {"name": "Closed", "unit_cost": 1.0, "quality": {"assistant": 0.5}},
        ],
    }


def test_released_weights_stay_available_after_the_releaser_exits():
    run = simulate(dying_releaser(outlives=True))
    assert [e["firm"] for e in run.summary["exits"]] == ["Open"]
    gone = run.summary["exits"][0]["step"]
    after = run.firms[run.firms["step"] >= gone]
    assert "Open" not in set(after["firm"])
    open_rows = after[after["firm"] == "open model"]
    assert len(open_rows) == run.model["step"].max() - gone + 1
    assert (open_rows["quantity"] > 0).all()
    assert (run.model.loc[run.model["step"] >= gone, "best_open_quality"] == 0.9).all()
    quality = run.segments[(run.segments["firm"] == "open model") & (run.segments["step"] >= gone)]
    np.testing.assert_allclose(quality["quality"], 0.8 * 0.9)  # usability x the released model


def test_released_weights_can_leave_with_their_maker():
    run = simulate(dying_releaser(outlives=False))
    gone = run.summary["exits"][0]["step"]
    after = run.firms[run.firms["step"] >= gone]
    assert "open model" not in set(after["firm"])
    assert (run.model.loc[run.model["step"] >= gone, "best_open_quality"] == 0.0).all()


# --- links: farsighted ----------------------------------------------------------------------


def situation(cycle: int, last_release: int = 0, step: int = 1, term: int = 24) -> LinkSituation:
    costs = {"joint_rd": 1.0, "alliance": 1.0, "market_sharing": 1.0}
    return LinkSituation(costs, term, np.full(2, last_release), np.full(2, cycle), step)


def farsighted(link_type, net_gain, discount, cycle):
    rule = LINK_RULE.make("farsighted")
    params = {
        "link_types": np.array([["joint_rd", "alliance"]] * 2, dtype=object),
        "link_discount": np.full(2, discount),
    }
    return rule.decide(link_type, net_gain, np.arange(2), params, situation(cycle))


def test_farsighted_links_discount_gains_that_wait_for_a_release():
    net = np.array([[0.0, 0.1], [0.1, 0.0]])  # gain 1.1 per step against a cost of 1
    gain_seeking = LINK_RULE.make("gain_seeking").willing(
        "joint_rd", net, np.arange(2), {"link_types": [["joint_rd"], ["joint_rd"]]}
    )
    assert gain_seeking[0, 1]
    assert farsighted("joint_rd", net, 1.0, 6)[0, 1]  # no discounting: the same choice
    assert farsighted("joint_rd", net, 0.99, 6)[0, 1]  # a short wait is worth it
    assert not farsighted("joint_rd", net, 0.99, 24)[0, 1]  # a long one is not
    assert not farsighted("joint_rd", net, 0.9, 6)[0, 1]  # nor an impatient firm's
    assert farsighted("alliance", net, 0.9, 24)[0, 1]  # alliances pay as they go


def test_delayed_weight_is_the_discounted_wait():
    weight = delayed_weight(np.array([0.9]), np.array([3]), np.array([3]), 3)
    expected = (0.9**3 + 0.9 ** (1 + 2) + 0.9 ** (2 + 1)) / (1 + 0.9 + 0.81)
    assert weight[0] == pytest.approx(expected)
    assert delayed_weight(np.array([1.0]), np.array([5]), np.array([6]), 24)[0] == 1.0


def test_farsighted_firms_form_fewer_joint_rd_links(small_scenario):
    def links(rule: str, discount: float) -> int:
        data = {**small_scenario, "steps": 12}
        # a cost low enough that pooling pays for myopic firms on the zoo's quality curve (with
        # the early-stopped zoo the gain of pooling at these budgets is below 0.03 per step)
        data["market"] = data["market"] | {"network": {"cost": {"joint_rd": 0.02}}}
        for company in data["companies"]:
            company["release_cycle"] = 12
            company["strategy"] = company["strategy"] | {
                "link_rule": rule,
                "link_types": ["joint_rd"],
            }
            if rule == "farsighted":
                company["strategy"]["link_discount"] = discount
        return int(simulate(data).model["n_joint_rd"].sum())

    assert links("farsighted", 1.0) == links("gain_seeking", 1.0) > 0
    assert links("farsighted", 0.8) < links("gain_seeking", 1.0)
