"""Market outcome metrics: shares, concentration, consumer surplus, margins.

Pure functions of arrays so the model, the sweeps and the tests use one definition each.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray

HHI_BANDS_2023 = (
    (0.0, 1000.0, "unconcentrated"),
    (1000.0, 1800.0, "moderately concentrated"),
    (1800.0, 10_000.0, "highly concentrated"),
)
"""2023 DOJ/FTC Merger Guidelines: markets above 1,800 are highly concentrated."""

HHI_BANDS_2010 = (
    (0.0, 1500.0, "unconcentrated"),
    (1500.0, 2500.0, "moderately concentrated"),
    (2500.0, 10_000.0, "highly concentrated"),
)
"""2010 DOJ/FTC Horizontal Merger Guidelines bands."""


def market_shares(quantities: Array) -> Array:
    """Each firm's share of inside (non-outside-option) sales; zeros if nothing is sold."""
    quantities = np.asarray(quantities, dtype=float)
    total = quantities.sum()
    return quantities / total if total > 0 else np.zeros_like(quantities)


def hhi(shares: Array) -> float:
    """Herfindahl-Hirschman index on the 0-10,000 scale (shares as fractions)."""
    return float(np.sum((100.0 * np.asarray(shares, dtype=float)) ** 2))


def hhi_band(value: float, bands: tuple = HHI_BANDS_2023) -> str:
    """Concentration label of an HHI value under the given guideline bands."""
    for low, high, label in bands:
        if low <= value < high:
            return label
    return bands[-1][2]


def price_index(prices: Array, quantities: Array) -> float:
    """Quantity-weighted mean price; the plain mean when nothing is sold."""
    quantities = np.asarray(quantities, dtype=float)
    prices = np.asarray(prices, dtype=float)
    if len(prices) == 0:
        return float("nan")
    total = quantities.sum()
    return float((prices * quantities).sum() / total) if total > 0 else float(prices.mean())


def profit_margin(profit: Array, revenue: Array) -> Array:
    """Profit over revenue; NaN where revenue is zero."""
    revenue = np.asarray(revenue, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(revenue > 0, np.asarray(profit, dtype=float) / revenue, np.nan)
