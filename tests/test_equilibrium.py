import numpy as np
import pytest

from simulator.market.demand import D
from simulator.market.equilibrium import bertrand_nash, joint_profit_prices
from simulator.model import simulate
from tests.conftest import segment_params


def test_symmetric_duopoly_matches_hand_solved_markup_equation():
    """Symmetric duopoly, alpha=1, mu=0.25, q=2, c=1: p = 1 + 0.25 / (1 - s(p))."""
    seg = segment_params(1, alpha=1.0, beta=1.0, mu=0.25)
    prices = bertrand_nash(np.ones(2), np.full((2, 1), 2.0), np.zeros(2), seg, np.ones(1))
    p = prices[0]
    s = np.exp((2 - p) / 0.25) / (1 + 2 * np.exp((2 - p) / 0.25))
    assert p - 1 == pytest.approx(0.25 / (1 - s), abs=1e-10)
    assert prices[0] == pytest.approx(prices[1], abs=1e-12)
    assert p == pytest.approx(1.4729266, abs=1e-6)  # solved by hand with bisection


def test_asymmetric_nash_no_firm_gains_by_deviating():
    seg = segment_params(2, alpha=1.0, beta=2.0, mu=0.4)
    costs = np.array([0.8, 1.0, 1.2])
    quality = np.array([[1.0, 0.5], [0.7, 1.0], [1.2, 1.2]])
    size = np.array([5.0, 3.0])
    nash = bertrand_nash(costs, quality, np.zeros(3), seg, size)
    for i in range(3):

        def profit(p, i=i):
            prices = nash.copy()
            prices[i] = p
            return (p - costs[i]) * D(prices, quality, np.zeros(3), seg, size)[0][i].sum()

        best = max(profit(p) for p in np.linspace(costs[i], costs[i] + 3, 3001))
        assert profit(nash[i]) >= best - 1e-9


def test_joint_profit_prices_are_higher_and_more_profitable():
    seg = segment_params(1, mu=0.3)
    costs, quality, size = np.array([1.0, 1.1]), np.array([[2.0], [2.2]]), np.ones(1)
    nash = bertrand_nash(costs, quality, np.zeros(2), seg, size)
    joint = joint_profit_prices(costs, quality, np.zeros(2), seg, size)

    def total_profit(p):
        return float(((p - costs) * D(p, quality, np.zeros(2), seg, size)[0][:, 0]).sum())

    assert np.all(joint > nash)
    assert total_profit(joint) > total_profit(nash)


def test_best_response_dynamics_converge_to_bertrand_nash():
    result = simulate("scenarios/validation_bertrand.yaml")
    final = result.firms[result.firms["step"] == result.firms["step"].max()].set_index("firm")
    seg = segment_params(1, alpha=1.0, beta=1.0, mu=0.25)
    nash = bertrand_nash(np.ones(2), np.full((2, 1), 2.0), np.zeros(2), seg, np.ones(1))
    np.testing.assert_allclose(final.loc[["A", "B"], "price"], nash, atol=1e-4)
    # converged, not passing through: the last 20 steps are a rest point of the dynamics
    prices = result.firms.pivot(index="step", columns="firm", values="price")
    assert np.ptp(prices.iloc[-20:].to_numpy(), axis=0).max() < 1e-6
