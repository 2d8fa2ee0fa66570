"""Property tests: the economics stay well defined for any valid input."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simulator.market.demand import D, SegmentParams
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
    assert np.all(shares.sum(axis=0) <= 1 + 1e-9)
    assert np.all(demand.sum(axis=0) <= size * (1 + 1e-9))


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


@settings(max_examples=100, deadline=None)
@given(markets(), st.data())
def test_best_response_stays_between_floor_and_cap(market, data):
    prices, quality, brand, seg, size = market
    n = len(prices)
    costs = data.draw(arrays(float, n, elements=st.floats(0.01, 100)))
    caps = costs * data.draw(st.floats(1.0, 50.0))
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
    best = make_rule("best_response")(view, np.arange(n), {})
    assert np.all(np.isfinite(best))
    assert np.all(best >= costs - 1e-12) and np.all(best <= caps + 1e-12)


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
