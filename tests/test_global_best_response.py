"""The best response is global: checked against brute force in heterogeneous markets
(1-5 segments, price sensitivities 0.2-5, temperatures down to 0.01, capacities on and off,
dominant firms), independently of the module's own leave-one-out arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.special import logsumexp

from simulator.market.demand import SegmentParams, utilities
from simulator.market.strategy import MarketView, make_rule


def brute_profit(view: MarketView, firm: int, prices: np.ndarray) -> np.ndarray:
    """(p - c) min(D(p), K) for own prices ``prices``, by explicit log-sum-exp over the
    rivals and the outside option (no subtraction of the firm's own term)."""
    seg = view.seg
    u = utilities(view.prices, view.quality, view.brand, seg)
    others = np.vstack([seg.u0[None, :], np.delete(u, firm, axis=0)]) / seg.mu
    rest = logsumexp(others, axis=0)  # (S,)
    own = (u[firm] + seg.alpha * view.prices[firm])[None, :] - seg.alpha * prices[:, None]
    own = own / seg.mu
    shares = np.exp(own - np.logaddexp(own, rest))
    demand = (view.size * shares).sum(axis=1)
    return (prices - view.costs[firm]) * np.minimum(demand, view.capacity[firm])


def brute_best(view: MarketView, firm: int, points: int = 20001) -> tuple[float, float]:
    """Global grid over [floor, top] refined by a bounded scalar search around the best point."""
    lo = view.floor[firm]
    seg = view.seg
    top = min(view.cap[firm], lo + 60.0 * float(np.max(seg.mu / seg.alpha)) + 60.0)
    grid = np.linspace(lo, top, points)
    profit = brute_profit(view, firm, grid)
    k = int(np.argmax(profit))
    left, right = grid[max(k - 2, 0)], grid[min(k + 2, points - 1)]
    result = optimize.minimize_scalar(
        lambda p: -brute_profit(view, firm, np.array([p]))[0],
        bounds=(left, right),
        method="bounded",
        options={"xatol": 1e-13},
    )
    candidates = np.array([grid[k], result.x])
    values = brute_profit(view, firm, candidates)
    return float(candidates[np.argmax(values)]), float(values.max())


def market(n_firms, n_segments, alpha, mu, beta, quality, size, u0, costs, markups, capacity, cap):
    seg = SegmentParams(
        alpha=np.array(alpha),
        beta=np.array(beta),
        gamma=np.zeros(n_segments),
        mu=np.array(mu),
        u0=np.array(u0),
    )
    costs = np.array(costs)
    return MarketView(
        prices=costs * (1.0 + np.array(markups)),
        costs=costs,
        quality=np.array(quality).reshape(n_firms, n_segments),
        brand=np.zeros(n_firms),
        seg=seg,
        size=np.array(size),
        shares=np.full(n_firms, 1.0 / n_firms),
        capacity=np.array(capacity),
        floor=costs.copy(),
        cap=np.full(n_firms, cap),
        n_firms=n_firms,
    )


@st.composite
def markets(draw):
    n_firms = draw(st.integers(1, 5))
    n_segments = draw(st.integers(1, 5))
    floats = lambda lo, hi, n: st.lists(  # noqa: E731
        st.floats(lo, hi, allow_nan=False), min_size=n, max_size=n
    )
    log_size = draw(floats(0.0, 3.0, n_segments))
    total = float(np.sum(10.0 ** np.array(log_size)))
    capacity = [
        draw(st.one_of(st.just(np.inf), st.floats(0.01 * total, total))) for _ in range(n_firms)
    ]
    return market(
        n_firms,
        n_segments,
        alpha=draw(floats(0.2, 5.0, n_segments)),
        mu=draw(floats(0.01, 1.0, n_segments)),
        beta=draw(floats(0.0, 5.0, n_segments)),
        quality=draw(floats(0.0, 1.2, n_firms * n_segments)),
        size=list(10.0 ** np.array(log_size)),
        u0=draw(floats(-2.0, 3.0, n_segments)),
        costs=draw(floats(0.1, 3.0, n_firms)),
        markups=draw(floats(0.0, 2.0, n_firms)),
        capacity=capacity,
        cap=draw(st.sampled_from([100.0, 4.0])),
    )


def assert_global(view: MarketView) -> None:
    firms = np.arange(view.n_firms)
    best = make_rule("best_response")(view, firms, {})
    for i in firms:
        price, value = brute_best(view, i)
        got = brute_profit(view, i, np.array([best[i]]))[0]
        assert got >= value - 1e-6 * max(abs(value), 1e-9), (i, best[i], got, price, value)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(markets())
def test_best_response_is_the_global_optimum_in_heterogeneous_markets(view):
    assert_global(view)


def test_two_peaks_pick_the_more_profitable_one():
    """A small price-insensitive segment and a large price-sensitive one (alpha 0.2 vs 5):
    profit has a peak at a high price (serve only the insensitive segment) and one at a low
    price (serve both); the low one earns more here and the rule must find it."""
    view = market(
        1,
        2,
        alpha=[0.2, 5.0],
        mu=[0.25, 0.25],
        beta=[1.0, 1.0],
        quality=[0.0, 0.0],
        size=[1.0, 10.0],
        u0=[-0.5, -3.0],
        costs=[0.1],
        markups=[0.5],
        capacity=[np.inf],
        cap=100.0,
    )
    grid = np.linspace(0.1, 20.0, 200001)
    profit = brute_profit(view, 0, grid)
    peaks = grid[1:-1][(profit[1:-1] > profit[:-2]) & (profit[1:-1] > profit[2:])]
    assert len(peaks) == 2  # the market really is bimodal
    best = make_rule("best_response")(view, np.array([0]), {})[0]
    assert best == pytest.approx(grid[np.argmax(profit)], abs=1e-4)
    assert best < peaks.mean()  # the low-price peak


def test_a_price_cap_between_two_peaks_keeps_the_lower_peak():
    view = market(
        1,
        2,
        alpha=[0.2, 5.0],
        mu=[0.25, 0.25],
        beta=[1.0, 1.0],
        quality=[0.0, 0.0],
        size=[10.0, 10.0],
        u0=[-0.5, -3.0],
        costs=[0.1],
        markups=[0.5],
        capacity=[np.inf],
        cap=100.0,
    )
    grid = np.linspace(0.1, 30.0, 300001)
    profit = brute_profit(view, 0, grid)
    peaks = grid[1:-1][(profit[1:-1] > profit[:-2]) & (profit[1:-1] > profit[2:])]
    assert len(peaks) == 2
    cap = 0.5 * (peaks[0] + peaks[1])
    capped = view.__class__(**{**view.__dict__, "cap": np.array([cap])})
    best = make_rule("best_response")(capped, np.array([0]), {})[0]
    inside = grid <= cap
    assert best == pytest.approx(grid[inside][np.argmax(profit[inside])], abs=1e-4)


@pytest.mark.parametrize("mu", [0.01, 0.003])
def test_a_dominant_firm_still_sees_its_rivals(mu):
    """A firm far ahead in quality at a small temperature: its share rounds to 1 at the
    current prices, but the rivals and the outside option still bound its price."""
    view = market(
        3,
        1,
        alpha=[1.0],
        mu=[mu],
        beta=[1.0],
        quality=[3.0, 0.2, 0.1],
        size=[100.0],
        u0=[-1.0],
        costs=[1.0, 1.0, 1.0],
        markups=[0.1, 0.1, 0.1],
        capacity=[np.inf] * 3,
        cap=100.0,
    )
    u = utilities(view.prices, view.quality, view.brand, view.seg) / mu
    assert 1.0 - np.exp(u[0, 0] - logsumexp(np.r_[-1.0 / mu, u[:, 0]])) < 1e-15  # share rounds to 1
    assert_global(view)
    best = make_rule("best_response")(view, np.array([0]), {})[0]
    # it prices to just below where the outside option (u0 = -1) wins: 3 - p > -1
    assert 3.5 < best < 4.0
