"""What a forward-looking decision rule may see: the ``DecisionContext`` of one step.

The rules of simulator/market/strategy/ first took only last step's numbers (revenue, best
quality, link gains). Rules that *choose* (compare the payoff of one action with another's)
also need the market's model of itself: the products users choose among, the quality curve
(compute -> quality, the quality source), the open-model terms, the brand decay and the
step. ``decide`` (simulator/phases/decide.py) builds one context per step and hands it to
every budget and open-sourcing rule through the base classes' ``spend`` / ``decide`` methods,
whose defaults call the older ``budget`` / ``opens`` methods, so existing rules are unchanged.

``Valuation`` holds the demand-side arithmetic those rules share: a firm's one-period profit
when its own quality or brand changes and everybody else stays where they are.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simulator.market.demand import SegmentParams
from simulator.market.state import MarketState
from simulator.market.strategy.best_response import (
    OwnMarket,
    global_best_response,
    own_price_problems,
    safeguarded_newton,
)

Array = np.ndarray
Products = tuple[Array, Array, Array, SegmentParams]
"""prices (P,), quality (P, S), brand (P,), segment parameters: what users choose among, the
firms first (P >= F: an open product comes last)."""


def planning_source(source):
    """A quality source that only reads measurements: rules evaluate many hypothetical
    budgets and must never train a language model for one (``train_missing``)."""
    if source is None or not getattr(source, "train_missing", False):
        return source
    lookup = copy.copy(source)
    lookup.train_missing = False
    return lookup


@dataclass
class DecisionContext:
    """The market as a rule sees it when it decides, at step ``step``."""

    state: MarketState
    step: int = 0
    quality_source: Any = None  # (real_flops (F,), mix (F, S)) -> (quality, bpb, extrapolated)
    open_model: Any = None  # market.open_model terms (usability, mode, user_price, ...)
    brand_decay: float = 0.1
    products_of: Callable[[], Products] | None = None  # the products now (clear.products)

    def products(self) -> Products:
        """Prices, qualities, brands (allied brand included) and segments users see now."""
        if self.products_of is not None:
            return self.products_of()
        state = self.state
        return state.price.copy(), state.quality.copy(), state.brand.copy(), state.seg

    @property
    def best_quality(self) -> Array:
        """Every firm's best quality over segments (F,)."""
        return self.state.quality.max(axis=1)

    def steps_to_release(self, rows: Array) -> Array:
        """Steps until each firm's next release, this one included (>= 1): R&D spent in
        those steps ships with that model."""
        state = self.state
        due = state.last_release[rows] + state.release_cycle[rows] - self.step
        return np.maximum(due, 1)

    def quality_curve(self, compute: Array, mix: Array) -> Array:
        """Quality (..., S) of models trained with ``compute`` (...,) on data ``mix``
        (..., S), floored at 0 as the market floors it; from the measured quality source."""
        source = planning_source(self.quality_source)
        if source is None:
            raise ValueError("this rule needs the market's quality source")
        compute = np.asarray(compute, dtype=float)
        flat_mix = np.broadcast_to(mix, compute.shape + (mix.shape[-1],)).reshape(-1, mix.shape[-1])
        quality, _, _ = source(compute.reshape(-1), flat_mix)
        return np.maximum(np.asarray(quality, dtype=float), 0.0).reshape(compute.shape + (-1,))


@dataclass(frozen=True)
class Valuation:
    """One-period profits of the firms ``rows`` when their own quality, brand or price moves
    and every other product stays as it is (rivals' prices, qualities and brands fixed)."""

    market: OwnMarket  # rows' own-price problems at the current products
    beta: Array  # (S,)
    gamma: Array  # (S,)
    quality: Array  # rows' current quality (G, S)
    brand: Array  # rows' current brand as demand sees it (G,)
    price: Array  # rows' current price (G,)
    floor: Array  # lowest price (G,)
    cap: Array  # highest price (G,)

    @classmethod
    def of(cls, context: DecisionContext, rows: Array, products: Products | None = None):
        state = context.state
        prices, quality, brand, seg = products if products is not None else context.products()
        rows = np.asarray(rows, dtype=int)
        market = own_price_problems(
            prices,
            quality,
            brand,
            seg,
            state.size,
            rows,
            state.unit_cost[rows],
            state.capacity[rows],
        )
        return cls(
            market,
            seg.beta,
            seg.gamma,
            quality[rows],
            np.asarray(brand, dtype=float)[rows],
            prices[rows],
            state.unit_cost[rows].astype(float),
            state.price_cap[rows].astype(float),
        )

    def _with(self, quality: Array | None = None, brand: Array | None = None) -> OwnMarket:
        """The rows' markets repeated over the trailing axis of ``quality`` (G, N, S) or
        ``brand`` (G, N), flattened to G N rows."""
        shape = (quality.shape[:2]) if quality is not None else brand.shape
        g, n = shape
        base = self.market.base_utility[:, None, :]
        if quality is not None:
            base = base + self.beta * (quality - self.quality[:, None, :])
        if brand is not None:
            own = np.log1p(np.maximum(self.brand, 0.0))[:, None, None]
            new = np.log1p(np.maximum(brand, 0.0))[..., None]
            base = base + self.gamma * (new - own)
        base = np.broadcast_to(base, (g, n, base.shape[-1]))
        index = np.repeat(np.arange(g), n)
        market = self.market.take(index)
        return replace(market, base_utility=base.reshape(g * n, -1))

    def best_profit(self, quality: Array) -> Array:
        """Profit at the own profit-maximising price with quality (G, N, S): share and margin.

        The price is the local maximum of profit nearest the global best response at the
        current quality (``local_best_price``): the quality changes a rule weighs move it
        smoothly, and a global search per candidate would cost a full best response each."""
        g, n = quality.shape[:2]
        market = self._with(quality=quality)
        floor, cap = np.repeat(self.floor, n), np.repeat(np.maximum(self.cap, self.floor), n)
        price = local_best_price(market, np.repeat(self.reference_price, n), floor, cap)
        return market.profit(price).reshape(g, n)

    @property
    def reference_price(self) -> Array:
        """The global best response of each row at its current quality (G,)."""
        if "_reference_price" not in self.__dict__:
            price = global_best_response(self.market, self.floor, np.maximum(self.cap, self.floor))
            object.__setattr__(self, "_reference_price", price)
        return self.__dict__["_reference_price"]

    def profit_at_price(self, brand: Array) -> Array:
        """Profit at the current own price with brand stock (G, N) as demand sees it."""
        g, n = brand.shape
        market = self._with(brand=brand)
        return market.profit(np.repeat(self.price, n)).reshape(g, n)


def local_best_price(market: OwnMarket, start: Array, floor: Array, cap: Array) -> Array:
    """The profit-maximising price nearest ``start`` of each row of ``market``, in [floor, cap]:
    a bracket of the first-order condition grown from ``start`` (in steps of the logit width
    mu / alpha, doubling), refined by safeguarded Newton; with a capacity that demand exceeds
    there, the price at which demand equals capacity (profit (p - c) K rises up to it)."""
    start = np.clip(np.asarray(start, dtype=float), floor, cap)
    width = float(np.min(market.seg.mu / market.seg.alpha))
    rising = market.foc(start)[0] > 0
    lo = np.where(rising, start, np.maximum(start - width, floor))
    hi = np.where(rising, np.minimum(start + width, cap), start)
    for _ in range(60):
        grow_up = rising & (market.foc(hi)[0] > 0) & (hi < cap)
        grow_down = ~rising & (market.foc(lo)[0] <= 0) & (lo > floor)
        if not (grow_up.any() or grow_down.any()):
            break
        lo = np.where(grow_up, hi, lo)
        hi = np.where(grow_up, np.minimum(start + 2.0 * (hi - start) + width, cap), hi)
        hi = np.where(grow_down, lo, hi)
        lo = np.where(grow_down, np.maximum(start - 2.0 * (start - lo) - width, floor), lo)
    at_cap = market.foc(hi)[0] > 0
    at_floor = market.foc(lo)[0] <= 0
    inside = ~at_cap & ~at_floor
    price = np.where(at_cap, hi, lo)
    if inside.any():
        rows = np.flatnonzero(inside)
        price[rows] = safeguarded_newton(market.take(rows).foc, lo[rows], hi[rows])
    short = np.isfinite(market.capacity) & (market.demand(price) > market.capacity)
    if short.any():
        rows = np.flatnonzero(short)
        sub = market.take(rows)
        top = np.asarray(cap, dtype=float)[rows]
        clearing = safeguarded_newton(sub.excess_demand, price[rows], top)
        price[rows] = np.where(sub.demand(top) > sub.capacity, top, clearing)
    return price


def maximise(value: Callable[[Array], Array], upper: Array, points: int = 33) -> Array:
    """argmax over x in [0, upper] (per row) of ``value(x (G, N)) -> (G, N)``: a grid of 0 and
    geometrically spaced points up to ``upper``, then a finer grid between the best point's
    neighbours (two rounds). Ties go to the smaller amount, so no gain means no spending."""
    upper = np.maximum(np.asarray(upper, dtype=float), 0.0)
    fractions = np.concatenate([[0.0], np.geomspace(1e-5, 1.0, points - 1)])
    grid = upper[:, None] * fractions[None, :]
    for _ in range(2):
        values = value(grid)
        best = np.argmax(values, axis=1)  # first maximum: the smallest amount among ties
        rows = np.arange(len(upper))
        lo = grid[rows, np.maximum(best - 1, 0)]
        hi = grid[rows, np.minimum(best + 1, grid.shape[1] - 1)]
        chosen = grid[rows, best]
        if not np.any(hi > lo):
            return chosen
        fine = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, 17)[None, :]
        grid = np.concatenate([chosen[:, None], fine], axis=1)
    values = value(grid)
    best = np.argmax(values, axis=1)
    return grid[np.arange(len(upper)), best]


def annuity(discount: Array, start: Array, length: Array | int) -> Array:
    """sum_{t=start}^{start+length-1} discount^t, elementwise."""
    discount = np.asarray(discount, dtype=float)
    start = np.asarray(start, dtype=float)
    length = np.asarray(length, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        geometric = discount**start * (1.0 - discount**length) / (1.0 - discount)
    return np.where(np.isclose(discount, 1.0), length, geometric)
