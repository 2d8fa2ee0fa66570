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

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from simulator.market.demand import SegmentParams
from simulator.market.params import Strict
from simulator.market.strategy.best_response import (
    OwnMarket,
    global_best_response,
    own_price_problems,
)
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
    # for rules that learn (simulator.market.strategy.learning): last step's profit of each firm
    # (F,), the firms' names (rows move when firms leave), the step and the model's rng
    profit: Array | None = None
    names: tuple[str, ...] | None = None
    step: int = 0
    rng: np.random.Generator | None = None

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


def own_market(view: MarketView, firms: Array) -> OwnMarket:
    """What each firm of ``firms`` faces when it alone moves its price (rivals at last prices)."""
    return own_price_problems(
        view.prices,
        view.quality,
        view.brand,
        view.seg,
        view.size,
        firms,
        view.costs[firms],
        view.capacity[firms],
    )


def best_response_prices(view: MarketView, firms: Array) -> Array:
    """argmax over p in [floor, cap] of (p - c_i) min(D_i(p), K_i), rivals at last prices:
    the global best response of simulator.market.strategy.best_response."""
    return global_best_response(own_market(view, firms), view.floor[firms], view.cap[firms])


def problem_key(view: MarketView, firms: Array) -> bytes:
    """Every input of ``best_response_prices(view, firms)``, bit for bit (shapes included)."""
    seg = view.seg
    parts = (
        view.prices,
        view.quality,
        view.brand,
        seg.alpha,
        seg.beta,
        seg.gamma,
        seg.mu,
        seg.u0,
        view.size,
        np.asarray(firms, dtype=np.int64),
        view.costs[firms],
        view.capacity[firms],
        view.floor[firms],
        view.cap[firms],
    )
    arrays = [np.ascontiguousarray(part, dtype=float) for part in parts]
    shapes = np.array([d for a in arrays for d in (a.ndim, *a.shape)], dtype=np.int64)
    return b"".join([shapes.tobytes(), *(a.tobytes() for a in arrays)])


@register
class BestResponse(PricingRule):
    """Remembers its answers to the last ``MEMORY`` problems. In a stationary market the
    prices settle into a short cycle of problems identical bit for bit (rounding makes the
    fixed point a cycle of a few floats), and the same problem has the same answer, so a
    repeat costs a lookup instead of a global search; any change in any input is a new
    problem, solved in full."""

    name = "best_response"
    description = "maximise own one-period profit given rivals' last prices (myopic Bertrand)"
    MEMORY = 8

    def __init__(self) -> None:
        self._answers: OrderedDict[bytes, Array] = OrderedDict()

    def prices(self, view, firms, params):
        key = problem_key(view, firms)
        if key in self._answers:
            self._answers.move_to_end(key)
        else:
            self._answers[key] = best_response_prices(view, firms)
            if len(self._answers) > self.MEMORY:
                self._answers.popitem(last=False)
        return self._answers[key].copy()


def _first_two(values: Array, largest: bool) -> tuple[int, int]:
    """Indices of the two smallest (or largest) values, ties to the lower index."""
    key = -values if largest else values
    order = np.lexsort((np.arange(len(values)), key))
    return int(order[0]), int(order[1])


def cheapest_rival_price(prices: Array, firms: Array) -> Array:
    """The lowest price among each firm's rivals, in O(F) (the two cheapest suffice)."""
    first, second = _first_two(prices, largest=False)
    return np.where(firms == first, prices[second], prices[first])


def largest_rival(shares: Array, firms: Array) -> Array:
    """Index of each firm's largest-share rival (the lower index on ties), in O(F)."""
    first, second = _first_two(shares, largest=True)
    return np.where(firms == first, second, first)


def rivals_mean_price(prices: Array, firms: Array) -> Array:
    """Mean price of each firm's rivals, in O(F)."""
    return (prices.sum() - prices[firms]) / (len(prices) - 1)


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
        cheapest = cheapest_rival_price(view.firm_prices, firms)
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
        mean_price = rivals_mean_price(view.firm_prices, firms)
        leader_price = view.prices[largest_rival(view.shares[: view.n_firms], firms)]
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
