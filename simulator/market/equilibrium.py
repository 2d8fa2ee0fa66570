"""Static benchmarks of the logit price game: Bertrand-Nash and joint-profit prices (scipy).

These are computed independently of the pricing rules in ``strategy.py`` so that a test can
check that simulated best-response dynamics converge to the right place.

Bertrand-Nash: each firm's first-order condition over segments gives the markup

    p_i - c_i = sum_s M_s s_is / sum_s M_s (alpha_s / mu_s) s_is (1 - s_is)

which for one segment is the textbook  p_i - c_i = mu / (alpha (1 - s_i)).
Joint profit: the prices a single owner of all firms would set (the collusive benchmark).
Capacities are ignored in both.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from simulator.market.demand import D, SegmentParams

Array = np.ndarray


def nash_markups(
    prices: Array, quality: Array, brand: Array, seg: SegmentParams, size: Array
) -> Array:
    """Right-hand side of the logit first-order conditions at ``prices``: markup per firm."""
    _, shares = D(prices, quality, brand, seg, size)
    weight = np.asarray(size) * shares
    return weight.sum(axis=1) / (weight * (seg.alpha / seg.mu) * (1.0 - shares)).sum(axis=1)


def bertrand_nash(
    costs: Array,
    quality: Array,
    brand: Array,
    seg: SegmentParams,
    size: Array,
    tol: float = 1e-12,
) -> Array:
    """Bertrand-Nash prices: the root of p - c - markup(p) = 0 (scipy.optimize.root)."""
    costs = np.asarray(costs, dtype=float)
    start = costs + seg.mu.mean() / seg.alpha.mean()

    def residual(p: Array) -> Array:
        return p - costs - nash_markups(p, quality, brand, seg, size)

    solution = optimize.root(residual, start, method="hybr", tol=tol)
    if not solution.success or np.max(np.abs(residual(solution.x))) > 1e-9:
        # fall back to the markup fixed-point iteration, which contracts for logit demand
        solution_x = optimize.fixed_point(
            lambda p: costs + nash_markups(p, quality, brand, seg, size),
            start,
            xtol=tol,
            maxiter=10_000,
        )
        return np.asarray(solution_x)
    return solution.x


def joint_profit_prices(
    costs: Array,
    quality: Array,
    brand: Array,
    seg: SegmentParams,
    size: Array,
) -> Array:
    """Prices maximising the sum of all firms' profits (scipy.optimize.minimize, p >= c)."""
    costs = np.asarray(costs, dtype=float)

    def negative_profit(p: Array) -> float:
        demand, _ = D(p, quality, brand, seg, size)
        return -float(((p - costs) * demand.sum(axis=1)).sum())

    start = bertrand_nash(costs, quality, brand, seg, size)
    bounds = [(c, None) for c in costs]
    result = optimize.minimize(
        negative_profit,
        start,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000},
    )
    return result.x
