"""Property tests: the economics stay well defined for any valid input."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simulator.market.demand import D, SegmentParams, logit_shares, utilities
from simulator.market.dynamics import cap_mix
from simulator.market.strategy import MarketView, make_rule
from simulator.market.supply import S

finite = st.floats(min_value=-50, max_value=50, allow_nan=False)
positive = st.floats(min_value=0.05, max_value=20, allow_nan=False)


@st.composite
def markets(draw):
    n_firms = draw(st.integers(1, 6))
    n_segments = draw(st.integers(1, 4))
    seg = SegmentParams(
        alpha=draw(arrays(float, n_segments, elements=positive)),
        beta=draw(arrays(float, n_segments, elements=st.floats(0, 10))),
        gamma=draw(arrays(float, n_segments, elements=st.floats(0, 2))),
        mu=draw(arrays(float, n_segments, elements=st.floats(0.01, 5))),
        u0=draw(arrays(float, n_segments, elements=finite)),
    )
    prices = draw(arrays(float, n_firms, elements=st.floats(0.01, 1e4)))
    quality = draw(arrays(float, (n_firms, n_segments), elements=finite))
    brand = draw(arrays(float, n_firms, elements=st.floats(0, 1e4)))
    size = draw(arrays(float, n_segments, elements=st.floats(0.01, 1e6)))
    return prices, quality, brand, seg, size


@settings(max_examples=200, deadline=None)
@given(markets())
def test_demand_is_finite_and_never_exceeds_the_market(market):
    prices, quality, brand, seg, size = market
    demand, shares = D(prices, quality, brand, seg, size)
    assert np.all(np.isfinite(shares)) and np.all(shares >= 0)
    assert np.all(demand.sum(axis=0) <= size * (1 + 1e-9))
    # every consumer picks exactly one option: the firms' shares and the outside share add up
    _, outside = logit_shares(utilities(prices, quality, brand, seg), seg)
    np.testing.assert_allclose(shares.sum(axis=0) + outside, 1.0, rtol=1e-9)
    # a dearer product loses share to every rival and to the outside option (weakly)
    dearer = prices.copy()
    dearer[0] *= 1.5
    _, after = D(dearer, quality, brand, seg, size)
    _, outside_after = logit_shares(utilities(dearer, quality, brand, seg), seg)
    assert np.all(after[0] <= shares[0] * (1 + 1e-9))
    assert np.all(after[1:] >= shares[1:] * (1 - 1e-9))
    assert np.all(outside_after >= outside * (1 - 1e-9))


@settings(max_examples=200, deadline=None)
@given(markets(), st.data())
def test_sales_respect_capacity_and_conserve_demand(market, data):
    prices, quality, brand, seg, size = market
    demand, _ = D(prices, quality, brand, seg, size)
    capacity = data.draw(arrays(float, len(prices), elements=st.floats(0, 1e6)))
    for spill in (False, True):
        sales, lost = S(demand, capacity, spill)
        assert np.all(sales.sum(axis=1) <= capacity * (1 + 1e-9) + 1e-9)
        np.testing.assert_allclose(sales.sum() + lost.sum(), demand.sum(), rtol=1e-9, atol=1e-9)


# --- best response: profit-maximising, not merely inside [floor, cap] ----------------------
#
# The pricing rules' output is clipped to [floor, cap] by construction, so bounds say nothing
# about best_response. These properties check what it promises: the profit-maximising price.
# Own profit is recomputed here from demand.D (not from strategy's leave-one-out shortcut).


def own_profit(market, costs, firm, price):
    prices, quality, brand, seg, size = market
    prices = prices.copy()
    prices[firm] = price
    demand, _ = D(prices, quality, brand, seg, size)
    return (price - costs[firm]) * demand[firm].sum()


def unsaturated(market) -> bool:
    """No firm holds (numerically) all of a segment at last prices. best_response's
    leave-one-out denominator ln(total) + ln(1 - s_own) cancels catastrophically as s_own -> 1;
    see test_best_response_known_defects."""
    prices, quality, brand, seg, _ = market
    shares, _ = logit_shares(utilities(prices, quality, brand, seg), seg)
    return bool(np.all(1.0 - shares > 1e-6))


def best_response(market, costs, caps):
    prices, quality, brand, seg, size = market
    n = len(prices)
    view = MarketView(
        prices=prices,
        costs=costs,
        quality=quality,
        brand=brand,
        seg=seg,
        size=size,
        shares=np.full(n, 1 / n),
        capacity=np.full(n, np.inf),
        floor=costs,
        cap=caps,
    )
    return make_rule("best_response")(view, np.arange(n), {})


def one_segment(market):
    prices, quality, brand, seg, size = market
    first = SegmentParams(
        *(np.asarray(v)[:1] for v in (seg.alpha, seg.beta, seg.gamma, seg.mu, seg.u0))
    )
    return prices, quality[:, :1], brand, first, size[:1]


def check_one_segment_best_response(market, data):
    """One segment: logit profit is quasi-concave in own price, so the best response is the
    constrained maximum over [cost, cap]: it beats every price on a fine grid, and where it is
    strictly inside it solves the markup equation p - c = mu / (alpha (1 - s(p)))."""
    market = one_segment(market)
    assume(unsaturated(market))
    prices, quality, brand, seg, size = market
    n = len(prices)
    costs = data.draw(arrays(float, n, elements=st.floats(0.01, 100)), label="costs")
    caps = costs * data.draw(st.floats(1.0, 50.0), label="cap / cost")
    best = best_response(market, costs, caps)
    assert np.all(np.isfinite(best))
    for i in range(n):
        grid = np.linspace(costs[i], caps[i], 201)
        profits = np.array([own_profit(market, costs, i, p) for p in grid])
        at_best = own_profit(market, costs, i, best[i])
        assert at_best >= profits.max() - 1e-9 * abs(profits).max()
        if costs[i] * (1 + 1e-9) < best[i] < caps[i] * (1 - 1e-9) and at_best > 1e-200:
            others = prices.copy()
            others[i] = best[i]
            _, shares = D(others, quality, brand, seg, size)
            markup = seg.mu[0] / (seg.alpha[0] * (1.0 - shares[i, 0]))
            event("interior best response")
            assert best[i] - costs[i] == pytest.approx(markup, rel=1e-6)


def check_interior_best_response_is_a_local_maximum(market, data):
    """Any number of segments: a best response strictly inside (cost, cap) satisfies the
    first-order condition sum_s M_s s_is [1 - (p - c) alpha_s/mu_s (1 - s_is)] = 0 and beats
    the prices just above and below it."""
    assume(unsaturated(market))
    prices, quality, brand, seg, size = market
    n = len(prices)
    costs = data.draw(arrays(float, n, elements=st.floats(0.01, 100)), label="costs")
    caps = costs * data.draw(st.floats(1.0, 50.0), label="cap / cost")
    best = best_response(market, costs, caps)
    assert np.all(np.isfinite(best))
    for i in range(n):
        step = 1e-3 * (best[i] - costs[i])
        if not (costs[i] < best[i] - step and best[i] + step < caps[i]):
            continue
        at_best = own_profit(market, costs, i, best[i])
        if at_best < 1e-200:  # no demand at any price near here: nothing to maximise
            continue
        others = prices.copy()
        others[i] = best[i]
        demand, shares = D(others, quality, brand, seg, size)
        slope = seg.alpha / seg.mu
        terms = demand[i] * (1.0 - (best[i] - costs[i]) * slope * (1.0 - shares[i]))
        assert abs(terms.sum()) <= 1e-6 * demand[i].sum()  # marginal profit / own demand
        event("interior best response")
        for nearby in (best[i] - step, best[i] + step):
            assert own_profit(market, costs, i, nearby) <= at_best * (1 + 1e-12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(markets(), st.data())
def test_one_segment_best_response_is_the_constrained_profit_maximum(market, data):
    check_one_segment_best_response(market, data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(markets(), st.data())
def test_interior_best_response_satisfies_the_first_order_condition(market, data):
    check_interior_best_response_is_a_local_maximum(market, data)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda s: st.tuples(
            arrays(float, (3, s), elements=st.floats(0, 1)),
            arrays(float, s, elements=st.floats(0.05, 1)),
        )
    )
)
def test_capped_mix_sums_to_one_within_caps(case):
    mix, cap = case
    mix = mix + 1e-3
    mix = mix / mix.sum(axis=1, keepdims=True)
    capped = cap_mix(mix, np.broadcast_to(cap, mix.shape))
    np.testing.assert_allclose(capped.sum(axis=1), 1.0)
    if cap.sum() >= 1:
        assert np.all(capped <= cap + 1e-9)


# `make test-slow` (pytest -m slow): the same two best-response properties over many more
# random markets (about a minute together on one CPU core).


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(markets(), st.data())
def test_one_segment_best_response_is_the_constrained_profit_maximum_long(market, data):
    check_one_segment_best_response(market, data)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(markets(), st.data())
def test_interior_best_response_satisfies_the_first_order_condition_long(market, data):
    check_interior_best_response_is_a_local_maximum(market, data)
