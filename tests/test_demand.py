import numpy as np
import pytest

from simulator.market.demand import (
    D,
    consumer_surplus,
    logit_shares,
    update_brand,
    utilities,
)
from tests.conftest import segment_params


def test_shares_match_hand_computed_logit_and_sum_to_one_with_outside():
    seg = segment_params(1, alpha=1.0, beta=1.0, mu=0.5, u0=0.0)
    prices, quality, brand = np.array([1.0, 2.0]), np.array([[2.0], [2.0]]), np.zeros(2)
    demand, shares = D(prices, quality, brand, seg, np.array([10.0]))
    e = np.exp(np.array([1.0, 0.0]) / 0.5)  # u = 2 - p
    expected = e / (1.0 + e.sum())
    np.testing.assert_allclose(shares[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(demand[:, 0], 10.0 * expected, rtol=1e-12)
    _, outside = logit_shares(utilities(prices, quality, brand, seg), seg)
    assert shares.sum() + outside[0] == pytest.approx(1.0, abs=1e-12)


def test_brand_and_quality_raise_share_price_lowers_it():
    seg = segment_params(2, gamma=0.5)
    base = dict(prices=np.array([1.0, 1.0]), quality=np.ones((2, 2)), brand=np.zeros(2))
    _, s0 = D(**base, seg=seg, size=np.ones(2))
    _, s_brand = D(base["prices"], base["quality"], np.array([5.0, 0.0]), seg, np.ones(2))
    _, s_price = D(np.array([1.2, 1.0]), base["quality"], base["brand"], seg, np.ones(2))
    assert np.all(s_brand[0] > s0[0]) and np.all(s_price[0] < s0[0])
    assert np.all(s_price[1] > s0[1])  # the rival gains when firm 0 raises its price


@pytest.mark.parametrize("price", [1e-9, 1e6, 1e300])
def test_extreme_prices_give_finite_shares(price):
    seg = segment_params(1, mu=0.01)
    _, shares = D(np.array([price, 1.0]), np.array([[1.0], [1.0]]), np.zeros(2), seg, np.ones(1))
    assert np.all(np.isfinite(shares)) and shares.sum() <= 1.0 + 1e-12


def test_brand_stock_accumulates_and_decays():
    brand = update_brand(np.array([10.0, 0.0]), np.array([1.0, 2.0]), 0.1)
    np.testing.assert_allclose(brand, [10.0, 2.0])


def test_consumer_surplus_derivative_is_minus_demand():
    """Roy's identity for logit: dCS/dp_i = -D_i."""
    seg = segment_params(1, alpha=1.5, mu=0.3)
    quality, brand, size = np.array([[1.0], [1.5]]), np.zeros(2), np.array([7.0])
    prices = np.array([1.1, 1.4])
    h = 1e-6
    up, down = prices.copy(), prices.copy()
    up[0] += h
    down[0] -= h
    cs = lambda p: consumer_surplus(utilities(p, quality, brand, seg), seg, size)[0]  # noqa: E731
    derivative = (cs(up) - cs(down)) / (2 * h)
    demand, _ = D(prices, quality, brand, seg, size)
    assert derivative == pytest.approx(-demand[0, 0], rel=1e-6)
