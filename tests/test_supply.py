import numpy as np
import pytest

from simulator.market.supply import S, rd_compute, release_due, unit_cost


def test_capacity_limits_sales_pro_rata_over_segments():
    demand = np.array([[6.0, 4.0], [1.0, 1.0]])
    sales, lost = S(demand, np.array([5.0, np.inf]))
    np.testing.assert_allclose(sales, [[3.0, 2.0], [1.0, 1.0]])
    np.testing.assert_allclose(lost, [3.0, 2.0])


def test_spillover_moves_unserved_demand_to_rivals_with_spare_capacity():
    demand = np.array([[6.0, 0.0], [2.0, 1.0], [2.0, 1.0]])
    sales, lost = S(demand, np.array([3.0, 4.0, np.inf]), spill=True)
    assert sales[0].sum() == pytest.approx(3.0)
    assert sales[1].sum() == pytest.approx(4.0)  # takes up to its capacity
    # nothing is created or destroyed: served + lost = demanded
    assert sales.sum() + lost.sum() == pytest.approx(demand.sum())
    assert lost.sum() == pytest.approx(0.0)


def test_wright_law_cost_falls_by_learning_rate_per_doubling():
    c1 = unit_cost(1.0, 100.0, 100.0, 0.2)  # experience 2
    c2 = unit_cost(1.0, 300.0, 100.0, 0.2)  # experience 4
    assert c2 / c1 == pytest.approx(0.8)
    assert unit_cost(2.0, 1e9, 1.0, 0.0, cost_index=0.5) == pytest.approx(1.0)


def test_rd_compute_and_release_cycle():
    assert rd_compute(3.0, compute_price=1.5) == pytest.approx(2e24)
    assert rd_compute(-1.0, compute_price=1.0) == 0.0
    np.testing.assert_array_equal(
        release_due(6, np.array([0, 2, 6]), np.array([6, 6, 1])), [True, False, False]
    )


def test_spillover_with_a_subnormal_rival_demand_stays_finite():
    """lost / weight_sum overflowed to inf when a rival's demand was subnormal (found by the
    hypothesis property of test_properties.py)."""
    import numpy as np

    from simulator.market.supply import S

    demand = np.array([[10.0], [5e-324]])
    sales, lost = S(demand, np.array([1e-12, 100.0]), spill=True)
    assert np.isfinite(sales).all() and np.isfinite(lost).all()
    assert sales.sum() + lost.sum() == __import__("pytest").approx(demand.sum())
