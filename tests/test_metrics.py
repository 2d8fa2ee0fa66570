"""Concentration: the HHI on the 0-10,000 scale and its DOJ/FTC bands, in metrics and in runs."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import simulate
from simulator.metrics import HHI_BANDS_2010, HHI_BANDS_2023, hhi, hhi_band, market_shares


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
def test_hhi_of_n_equal_firms_is_10000_over_n(n):
    assert hhi(np.full(n, 1.0 / n)) == pytest.approx(10_000 / n)


def test_hhi_is_the_sum_of_squared_percentage_shares():
    assert hhi([0.5, 0.3, 0.2]) == pytest.approx(2500 + 900 + 400)
    np.testing.assert_allclose(market_shares([5.0, 3.0, 2.0]), [0.5, 0.3, 0.2])
    assert hhi(market_shares([0.0, 0.0])) == 0.0  # nothing sold: no concentration, no NaN


def test_a_merger_raises_hhi_by_twice_the_product_of_the_merging_shares():
    """The guidelines' delta: merging firms with shares a and b adds 2ab (in points^2)."""
    shares = np.array([0.35, 0.25, 0.2, 0.2])
    merged = np.array([0.35 + 0.25, 0.2, 0.2])
    assert hhi(merged) - hhi(shares) == pytest.approx(2 * 35 * 25)


@pytest.mark.parametrize(
    ("value", "band_2023", "band_2010"),
    [
        (999.9, "unconcentrated", "unconcentrated"),
        (1000.0, "moderately concentrated", "unconcentrated"),
        (1500.0, "moderately concentrated", "moderately concentrated"),
        (1800.0, "highly concentrated", "moderately concentrated"),
        (2500.0, "highly concentrated", "highly concentrated"),
        (10_000.0, "highly concentrated", "highly concentrated"),
    ],
)
def test_band_thresholds_belong_to_the_upper_band(value, band_2023, band_2010):
    assert hhi_band(value, HHI_BANDS_2023) == band_2023
    assert hhi_band(value, HHI_BANDS_2010) == band_2010


def symmetric_market(n: int) -> dict:
    firm = {
        "unit_cost": 0.8,
        "initial_compute": 1e24,
        "strategy": {"pricing": "best_response", "link_types": []},
    }
    return {
        "name": f"symmetric-{n}",
        "seed": 2,
        "steps": 12,
        "market": {
            "segments": [
                {"name": "assistant", "size": 30.0, "quality_sensitivity": 3.0},
                {"name": "code", "size": 10.0, "quality_sensitivity": 4.0, "temperature": 0.4},
            ],
            "quality_model": "placeholder",
        },
        "companies": [{**firm, "name": f"F{i}"} for i in range(n)],
    }


@pytest.mark.parametrize(
    ("n", "band_2023", "band_2010"),
    [
        (1, "highly concentrated", "highly concentrated"),
        (2, "highly concentrated", "highly concentrated"),
        (6, "moderately concentrated", "moderately concentrated"),  # 1,667
        (12, "unconcentrated", "unconcentrated"),  # 833
    ],
)
def test_n_identical_firms_split_the_market_evenly(n, band_2023, band_2010):
    result = simulate(symmetric_market(n))
    np.testing.assert_allclose(result.firms["share"], 1.0 / n, rtol=1e-12)
    np.testing.assert_allclose(result.model["hhi"], 10_000 / n, rtol=1e-12)
    assert result.summary["final_hhi"] == pytest.approx(10_000 / n)
    assert result.summary["hhi_band_2023"] == band_2023
    assert result.summary["hhi_band_2010"] == band_2010
