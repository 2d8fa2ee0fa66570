"""Bertrand-Nash and joint-profit benchmarks in heterogeneous markets: every returned Nash
point survives an independent brute-force deviation check, the solver never returns NaN, and
no random start beats the joint-profit prices."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.market.demand import SegmentParams
from simulator.market.equilibrium import (
    NoEquilibriumError,
    bertrand_nash,
    joint_profit,
    joint_profit_gradient,
    joint_profit_prices,
)
from simulator.market.strategy import MarketView
from tests.test_global_best_response import brute_best, brute_profit


def random_market(rng: np.random.Generator):
    """Strongly different segments: alpha 0.2-5, temperatures 0.01-1, sizes over 3 decades."""
    n_firms, n_segments = int(rng.integers(2, 5)), int(rng.integers(1, 5))
    seg = SegmentParams(
        alpha=rng.uniform(0.2, 5.0, n_segments),
        beta=rng.uniform(0.0, 4.0, n_segments),
        gamma=np.zeros(n_segments),
        mu=rng.uniform(0.01, 1.0, n_segments),
        u0=rng.uniform(-2.0, 2.0, n_segments),
    )
    costs = rng.uniform(0.2, 2.0, n_firms)
    quality = rng.uniform(0.0, 1.2, (n_firms, n_segments))
    size = 10.0 ** rng.uniform(0.0, 3.0, n_segments)
    return costs, quality, np.zeros(n_firms), seg, size


def view_at(prices, costs, quality, brand, seg, size) -> MarketView:
    n = len(prices)
    return MarketView(
        prices=np.asarray(prices, dtype=float),
        costs=costs,
        quality=quality,
        brand=brand,
        seg=seg,
        size=size,
        shares=np.full(n, 1.0 / n),
        capacity=np.full(n, np.inf),
        floor=costs,
        cap=np.full(n, np.inf),
        n_firms=n,
    )


def test_nash_points_survive_an_independent_deviation_check():
    rng = np.random.default_rng(2026)
    found = refused = 0
    for _ in range(150):
        market = random_market(rng)
        try:
            nash = bertrand_nash(*market)
        except NoEquilibriumError as error:
            assert "deviating" in str(error)
            refused += 1
            continue
        found += 1
        assert np.all(np.isfinite(nash)) and np.all(nash >= market[0])
        view = view_at(nash, *market)
        for i in range(len(nash)):
            now = brute_profit(view, i, nash[i : i + 1])[0]
            _, best = brute_best(view, i, points=4001)
            assert best <= now + 1e-8 * max(abs(now), 1e-9), (i, now, best)
    assert found >= 140, (found, refused)  # pure equilibria exist in almost all of them


def test_nash_with_one_segment_reproduces_calvano_et_al():
    """Calvano et al. (2020) baseline: a_i = 2, c = 1, a_0 = 0, mu = 0.25, two firms: the
    static Nash price is 1.4729 (their Table/Section on the logit benchmark)."""
    seg = SegmentParams(np.ones(1), np.ones(1), np.zeros(1), np.full(1, 0.25), np.zeros(1))
    nash = bertrand_nash(np.ones(2), np.full((2, 1), 2.0), np.zeros(2), seg, np.ones(1))
    np.testing.assert_allclose(nash, 1.4729266, atol=1e-6)


def test_joint_profit_gradient_is_the_derivative():
    rng = np.random.default_rng(7)
    for _ in range(20):
        market = random_market(rng)
        p = market[0] + rng.uniform(0.1, 2.0, len(market[0]))
        numeric = [
            (joint_profit(p + h, *market) - joint_profit(p - h, *market)) / (2 * 1e-6)
            for h in np.eye(len(p)) * 1e-6
        ]
        np.testing.assert_allclose(joint_profit_gradient(p, *market), numeric, rtol=1e-5, atol=1e-6)


def test_no_random_start_beats_the_joint_profit_prices():
    rng = np.random.default_rng(11)
    for _ in range(12):
        market = random_market(rng)
        joint = joint_profit_prices(*market)
        best = joint_profit(joint, *market)
        width = float(np.max(market[3].mu / market[3].alpha))
        for _ in range(100):
            trial = market[0] + width * rng.uniform(0.0, 12.0, len(market[0]))
            assert joint_profit(trial, *market) <= best * (1 + 1e-12) + 1e-12
        gradient = joint_profit_gradient(joint, *market)
        interior = joint > market[0] + 1e-9
        assert np.all(np.abs(gradient[interior]) <= 1e-6 * (1 + abs(best)))


@pytest.mark.parametrize("n_firms", [2, 3, 4])
def test_symmetric_collusion_beats_nash(n_firms):
    seg = SegmentParams(np.ones(1), np.ones(1), np.zeros(1), np.full(1, 0.25), np.zeros(1))
    args = (np.ones(n_firms), np.full((n_firms, 1), 2.0), np.zeros(n_firms), seg, np.ones(1))
    nash, joint = bertrand_nash(*args), joint_profit_prices(*args)
    assert np.all(joint > nash) and joint_profit(joint, *args) > joint_profit(nash, *args)
    np.testing.assert_allclose(joint, joint[0], rtol=1e-7)


def test_joint_profit_reproduces_calvano_et_al_monopoly_price():
    """Calvano et al. (2020) baseline: the joint-profit (monopoly) price is 1.925."""
    seg = SegmentParams(np.ones(1), np.ones(1), np.zeros(1), np.full(1, 0.25), np.zeros(1))
    joint = joint_profit_prices(np.ones(2), np.full((2, 1), 2.0), np.zeros(2), seg, np.ones(1))
    np.testing.assert_allclose(joint, 1.92498, atol=1e-5)
