"""Static benchmarks of the logit price game: Bertrand-Nash and joint-profit prices.

Computed independently of the simulation's dynamics so that tests can check where
best-response dynamics go. Capacities are ignored in both.

Bertrand-Nash: at an interior equilibrium each firm's first-order condition over segments gives

    p_i - c_i = sum_s M_s s_is / sum_s M_s (alpha_s / mu_s) s_is (1 - s_is)

(for one segment the textbook p_i - c_i = mu / (alpha (1 - s_i))). With segments that differ
strongly a root of these conditions need not be an equilibrium (a firm's profit can have
several peaks), and a root finder can wander to prices below cost. So ``bertrand_nash``
searches from several starting points by global best-response iteration (each firm's global
best response, simulator.market.strategy.best_response) polished by a root finder in
log-markup space (prices stay above cost), and returns a point only after a deviation check:
no firm gains more than ``DEVIATION_TOLERANCE`` (relative) by any price. If no start yields
one it raises ``NoEquilibriumError`` saying how much the best deviation gains.

Joint profit: the prices a single owner of all firms would set (the collusive benchmark),
by L-BFGS-B with the analytic gradient from several starts.
"""

from __future__ import annotations

import contextlib

import numpy as np

from simulator.market.demand import D, SegmentParams
from simulator.market.strategy.best_response import (
    OwnMarket,
    global_best_response,
    own_price_problems,
)

Array = np.ndarray

DEVIATION_TOLERANCE = 1e-9
"""Largest relative profit gain from a unilateral deviation an equilibrium may leave."""


class NoEquilibriumError(RuntimeError):
    """No price vector passing the deviation check was found."""


def nash_markups(
    prices: Array, quality: Array, brand: Array, seg: SegmentParams, size: Array
) -> Array:
    """Right-hand side of the logit first-order conditions at ``prices``: markup per firm."""
    _, shares = D(prices, quality, brand, seg, size)
    weight = np.asarray(size) * shares
    return weight.sum(axis=1) / (weight * (seg.alpha / seg.mu) * (1.0 - shares)).sum(axis=1)


def own_markets(
    prices: Array, costs: Array, quality: Array, brand: Array, seg: SegmentParams, size: Array
) -> OwnMarket:
    """Every firm's own-price problem with the others at ``prices`` (no capacities)."""
    n = len(prices)
    return own_price_problems(
        prices, quality, brand, seg, size, np.arange(n), costs, np.full(n, np.inf)
    )


def best_responses(
    prices: Array, costs: Array, quality: Array, brand: Array, seg: SegmentParams, size: Array
) -> Array:
    """Each firm's global best response (price >= cost) to the others' ``prices``."""
    market = own_markets(prices, costs, quality, brand, seg, size)
    return global_best_response(market, market.cost, np.full(len(prices), np.inf))


def deviation_gains(
    prices: Array, costs: Array, quality: Array, brand: Array, seg: SegmentParams, size: Array
) -> Array:
    """Relative profit each firm gains by its best unilateral deviation from ``prices``."""
    market = own_markets(prices, costs, quality, brand, seg, size)
    best = global_best_response(market, market.cost, np.full(len(prices), np.inf))
    now, deviating = market.profit(np.asarray(prices, dtype=float)), market.profit(best)
    return (deviating - now) / np.maximum(np.abs(now), 1e-300)


def _starts(costs: Array, seg: SegmentParams) -> list[Array]:
    width = seg.mu / seg.alpha
    return [costs + scale for scale in (width.mean(), width.min(), width.max(), 4 * width.max())]


def _iterate_best_responses(start: Array, respond, one_at_a_time: bool, rounds: int = 60) -> Array:
    """Best-response iteration, simultaneous (Jacobi) or one firm at a time (Gauss-Seidel)."""
    p = start.copy()
    for _ in range(rounds):
        old = p.copy()
        if one_at_a_time:
            for i in range(len(p)):
                p[i] = respond(p)[i]
        else:
            p = respond(p)
        if np.max(np.abs(p - old) / (1.0 + np.abs(p))) <= 1e-13:
            break
    return p


def bertrand_nash(
    costs: Array,
    quality: Array,
    brand: Array,
    seg: SegmentParams,
    size: Array,
    tol: float = 1e-12,
) -> Array:
    """Bertrand-Nash prices, verified by a deviation check (see the module docstring)."""
    costs = np.asarray(costs, dtype=float)
    args = (costs, quality, brand, seg, size)

    def respond(p: Array) -> Array:
        return best_responses(p, *args)

    def residual(log_markup: Array) -> Array:
        with np.errstate(all="ignore"):
            p = costs + np.exp(np.minimum(log_markup, 700.0))
            return p - costs - nash_markups(p, quality, brand, seg, size)

    def polish(p: Array) -> Array:
        from scipy import optimize  # on use: a run that never solves for Nash skips the import

        markup = np.maximum(p - costs, 1e-300)
        solution = optimize.root(residual, np.log(markup), method="hybr", tol=tol)
        return costs + np.exp(np.minimum(solution.x, 700.0))

    worst = np.inf
    for start in _starts(costs, seg):
        # the root of the first-order conditions from here (cheap); else best-response
        # iteration from here, polished; the first point passing the deviation check wins
        tries = (
            start if how is None else _iterate_best_responses(start, respond, how)
            for how in (None, False, True)
        )
        for point in tries:
            for candidate in (polish(point), point):
                if not np.all(np.isfinite(candidate)) or np.any(candidate < costs):
                    continue
                gain = float(np.max(deviation_gains(candidate, *args)))
                if gain <= DEVIATION_TOLERANCE:
                    return candidate
                worst = min(worst, gain)
    raise NoEquilibriumError(
        "no pure-strategy Bertrand-Nash equilibrium found from "
        f"{len(_starts(costs, seg))} starts: at the best point found a firm still gains "
        f"{worst:.3g} (relative) by deviating"
    )


def joint_profit(prices: Array, costs: Array, quality: Array, brand: Array, seg, size) -> float:
    demand, _ = D(prices, quality, brand, seg, size)
    return float(((prices - costs) * demand.sum(axis=1)).sum())


def joint_profit_gradient(
    prices: Array, costs: Array, quality: Array, brand: Array, seg: SegmentParams, size: Array
) -> Array:
    """d(sum_i (p_i - c_i) D_i) / dp_k
    = D_k - sum_s M_s (alpha_s / mu_s) s_ks [(p_k - c_k) - sum_i (p_i - c_i) s_is]."""
    demand, shares = D(prices, quality, brand, seg, size)
    markup = (np.asarray(prices) - costs)[:, None]
    weighted = (markup * shares).sum(axis=0)  # (S,)
    inner = np.asarray(size) * (seg.alpha / seg.mu) * shares * (markup - weighted)
    return demand.sum(axis=1) - inner.sum(axis=1)


def joint_profit_prices(
    costs: Array,
    quality: Array,
    brand: Array,
    seg: SegmentParams,
    size: Array,
    starts: int = 6,
    seed: int = 0,
) -> Array:
    """Prices maximising the sum of all firms' profits (p >= c): L-BFGS-B with the analytic
    gradient from the Nash point (when one exists), uniform markups and random starts."""
    costs = np.asarray(costs, dtype=float)
    args = (costs, quality, brand, seg, size)
    width = float(np.max(seg.mu / seg.alpha))
    rng = np.random.default_rng(seed)
    points = [costs + width * m for m in (0.5, 1.0, 3.0)]
    points += [costs + width * rng.uniform(0.1, 10.0, len(costs)) for _ in range(starts)]
    with contextlib.suppress(NoEquilibriumError):  # no Nash point: the other starts remain
        points.insert(0, bertrand_nash(*args))
    from scipy import optimize  # on use (see polish)

    best, best_value = None, -np.inf
    for start in points:
        result = optimize.minimize(
            lambda p: -joint_profit(p, *args),
            start,
            jac=lambda p: -joint_profit_gradient(p, *args),
            method="L-BFGS-B",
            bounds=[(c, None) for c in costs],
            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 20_000},
        )
        value = joint_profit(result.x, *args)
        if value > best_value:
            best, best_value = result.x, value
    return best
