"""Strategy R = h(P_1..P_n): the pricing rules (registry ``PRICING``).

A pricing rule prices a *group* of firms at once (all firms that use it), given a
``MarketView`` of last step's prices and everybody's costs, qualities and brands.

Every rule's output is clipped to [floor, cap]: the floor is the firm's unit cost (raised by
agreements such as market-sharing, which treat a partner's price as a floor), the cap the
firm's configured price cap.

Per-firm parameters (each rule's ``Params``) come in ``params`` as arrays aligned with the
group's firms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from simulator.market.demand import SegmentParams, log_inclusive_value, utilities
from simulator.market.params import Strict
from simulator.market.strategy.registry import Registry, Rule

Array = np.ndarray


@dataclass(frozen=True)
class MarketView:
    """What a pricing rule may see at decision time (all arrays over all F firms)."""

    prices: Array  # last step's prices (F,)
    costs: Array  # unit costs (F,)
    quality: Array  # current quality (F, S)
    brand: Array  # brand stock (F,)
    seg: SegmentParams
    size: Array  # segment sizes M_s (S,)
    shares: Array  # last step's share of inside sales (F,)
    capacity: Array  # (F,), np.inf when unlimited
    floor: Array  # lowest allowed price (F,)
    cap: Array  # highest allowed price (F,)
    n_firms: int | None = None  # products beyond the first n_firms (the open model) are not firms

    @property
    def firm_prices(self) -> Array:
        """Prices of the firms only (not of products no firm sells)."""
        return self.prices[: self.n_firms]


class PricingRule(Rule):
    """Base class: set prices for the firms ``firms`` (indices into the view's arrays)."""

    def prices(self, view: MarketView, firms: Array, params: dict[str, Array]) -> Array:
        raise NotImplementedError

    def __call__(self, view: MarketView, firms: Array, params: dict[str, Array]) -> Array:
        raw = self.prices(view, firms, params)
        return np.clip(raw, view.floor[firms], view.cap[firms])


PRICING: Registry[PricingRule] = Registry("pricing", "pricing rule", "best_response")
PRICING_RULES = PRICING.rules
register = PRICING.register
make_rule = PRICING.make


# --- best response: maximise own one-period profit given rivals' last prices -------------


def _rivals_log_denominator(view: MarketView, firms: Array) -> Array:
    """ln(exp(u0/mu) + sum_{j != i} exp(u_j/mu)) for each firm i in ``firms``: shape (G, S)."""
    u = utilities(view.prices, view.quality, view.brand, view.seg)
    lse = log_inclusive_value(u, view.seg)
    own_share = np.exp(u[firms] / view.seg.mu - lse)
    # leave-one-out: total minus own term, kept positive by the outside option
    return lse + np.log1p(-np.minimum(own_share, 1.0 - 1e-16))


def own_demand(
    price: Array, view: MarketView, firms: Array, log_rest: Array
) -> tuple[Array, Array]:
    """Each firm's total demand and per-segment shares at its own ``price``, rivals fixed."""
    v = utilities(price, view.quality[firms], view.brand[firms], view.seg)
    shares = 1.0 / (1.0 + np.exp(np.clip(log_rest - v / view.seg.mu, -700, 700)))
    return (view.size * shares).sum(axis=1), shares


def _bisect(fn, lo: Array, hi: Array, iterations: int = 100) -> Array:
    """Vectorised bisection for a function positive at ``lo`` and negative at ``hi``."""
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        positive = fn(mid) > 0
        lo = np.where(positive, mid, lo)
        hi = np.where(positive, hi, mid)
    return 0.5 * (lo + hi)


def _safeguarded_newton(fn_and_slope, lo: Array, hi: Array, iterations: int = 100) -> Array:
    """Vectorised Newton iteration kept inside a shrinking bracket [lo, hi].

    ``fn_and_slope(x) -> (f, f')`` with f > 0 at lo and f < 0 at hi. A Newton step that
    leaves the bracket is replaced by bisection, so convergence is guaranteed; near the root
    it is quadratic (a handful of iterations instead of bisection's ~50).
    """
    x = 0.5 * (lo + hi)
    for _ in range(iterations):
        value, slope = fn_and_slope(x)
        positive = value > 0
        lo = np.where(positive, x, lo)
        hi = np.where(positive, hi, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = x - value / slope
        inside = np.isfinite(newton) & (newton > lo) & (newton < hi)
        new_x = np.where(inside, newton, 0.5 * (lo + hi))
        done = np.abs(new_x - x) <= 1e-13 * (1.0 + np.abs(x))
        x = new_x
        if done.all():
            break
    return x


def best_response_prices(view: MarketView, firms: Array) -> Array:
    """argmax_p (p - c_i) * min(D_i(p), K_i) with rivals at their last prices, per firm.

    The logit profit is quasi-concave in own price, so the optimum is the root of the
    first-order condition  sum_s M_s s_is [1 - (p - c_i) alpha_s / mu_s (1 - s_is)] = 0,
    found by a vectorised Newton iteration safeguarded by bisection. With a binding capacity
    the firm prices up to the price at which demand equals capacity when that is higher.
    """
    costs = view.costs[firms]
    log_rest = _rivals_log_denominator(view, firms)
    slope = view.seg.alpha / view.seg.mu

    def marginal_profit(p: Array) -> Array:
        _, s = own_demand(p, view, firms, log_rest)
        return (view.size * s * (1.0 - (p - costs)[:, None] * slope * (1.0 - s))).sum(axis=1)

    def marginal_profit_and_slope(p: Array) -> tuple[Array, Array]:
        _, s = own_demand(p, view, firms, log_rest)
        markup = (p - costs)[:, None]
        value = (view.size * s * (1.0 - markup * slope * (1.0 - s))).sum(axis=1)
        curvature = view.size * slope * s * (1.0 - s) * (markup * slope * (1.0 - 2.0 * s) - 2.0)
        return value, curvature.sum(axis=1)

    lo = costs.copy()
    hi = costs + 1.0 / slope.min()
    for _ in range(200):  # widen until the FOC is negative at hi for every firm
        still_positive = marginal_profit(hi) > 0
        if not still_positive.any():
            break
        hi = np.where(still_positive, costs + 2.0 * (hi - costs), hi)
    price = _safeguarded_newton(marginal_profit_and_slope, lo, hi)

    capacity = view.capacity[firms]
    limited = np.isfinite(capacity)
    if limited.any():

        def excess_demand(p: Array) -> Array:
            return own_demand(p, view, firms, log_rest)[0] - capacity

        binding = limited & (excess_demand(price) > 0)
        if binding.any():
            cap_hi = np.maximum(view.cap[firms], price)
            clearing = _bisect(excess_demand, price, cap_hi)
            price = np.where(binding, np.maximum(price, clearing), price)
    return price


@register
class BestResponse(PricingRule):
    name = "best_response"
    description = "maximise own one-period profit given rivals' last prices (myopic Bertrand)"

    def prices(self, view, firms, params):
        return best_response_prices(view, firms)


def _rival_prices(view: MarketView, firms: Array) -> np.ma.MaskedArray:
    """Rivals' last prices for each firm in ``firms``, own price masked out: (G, F)."""
    prices = view.firm_prices
    grid = np.broadcast_to(prices, (len(firms), len(prices)))
    own = np.zeros(grid.shape, dtype=bool)
    own[np.arange(len(firms)), firms] = True
    return np.ma.masked_array(grid, mask=own)


@register
class Undercut(PricingRule):
    name = "undercut"
    description = "price `undercut_by` below the cheapest rival (never below the floor)"

    class Params(Strict):
        undercut_by: float = Field(
            0.05, gt=0, lt=1, description="Fraction below the cheapest rival's price."
        )

    def prices(self, view, firms, params):
        if len(view.firm_prices) < 2:
            return view.prices[firms]
        cheapest = _rival_prices(view, firms).min(axis=1).filled(np.inf)
        return cheapest * (1.0 - params["undercut_by"])


@register
class Match(PricingRule):
    name = "match"
    description = "move `speed` of the way to the rivals' mean price, or the leader's (`follow`)"

    class Params(Strict):
        follow: Literal["mean", "leader"] = Field(
            "mean", description="Follow the rivals' mean price or the price of the largest rival."
        )
        speed: float = Field(0.5, gt=0, le=1, description="Fraction of the gap closed per step.")

    def prices(self, view, firms, params):
        own = view.prices[firms]
        if len(view.firm_prices) < 2:
            return own
        rivals = _rival_prices(view, firms)
        mean_price = rivals.mean(axis=1).filled(np.nan)
        rival_shares = np.ma.masked_array(
            np.broadcast_to(view.shares[: view.n_firms], rivals.shape), mask=rivals.mask
        )
        leader = rival_shares.argmax(axis=1)
        leader_price = view.prices[leader]
        target = np.where(params["follow"] == "leader", leader_price, mean_price)
        return own + params["speed"] * (target - own)


@register
class CostPlus(PricingRule):
    name = "cost_plus"
    description = "unit cost times (1 + `markup`)"

    class Params(Strict):
        markup: float = Field(0.3, ge=0, description="Price = unit cost x (1 + markup).")

    def prices(self, view, firms, params):
        return view.costs[firms] * (1.0 + params["markup"])
