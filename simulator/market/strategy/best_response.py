"""Global best response: argmax over own price of one-period profit, rivals' prices fixed.

For firm i with unit cost c, capacity K and rivals fixed, demand in segment s is the logit

    sigma_s(p) = 1 / (1 + exp(R_s - (a_s - alpha_s p) / mu_s)),    D(p) = sum_s M_s sigma_s(p)

(a_s = beta_s Q_is + gamma_s ln(1 + B_i) the firm's price-free utility, R_s the log of the
rivals' and the outside option's exp-utilities) and profit is (p - c) min(D(p), K). With one
segment the uncapped profit is quasi-concave, but with several segments that differ (a small
price-insensitive one and a large price-sensitive one) it can have several local maxima, so
the first-order condition

    g(p) = sum_s M_s sigma_s (1 - (p - c) k_s (1 - sigma_s)) = 0,     k_s = alpha_s / mu_s

has several roots. The search is global and vectorised over firms:

1. Beyond H = c + max_s (max(p0_s - c, 0) + 2 / k_s), with p0_s the price at which
   sigma_s = 1/2, every segment's term of g is negative (its bracket only falls with p), so
   every maximum lies in [floor, min(cap, H)].
2. g is sampled on a grid made of a uniform grid over that interval plus, per segment, points
   spaced 0.5 / k_s around p0_s (each term's features have the logistic width 1 / k_s).
3. Every bracket where g turns from positive to non-positive is refined by a safeguarded
   Newton iteration (all brackets of all firms at once).
4. Candidates: those roots, both ends, the best grid point and the price at which demand
   equals capacity (below it profit (p - c) K rises with p); the most profitable one wins.

The rivals' log-denominator R is computed by leave-one-out log-sum-exp, directly over the
rivals and the outside option where the firm's own share exceeds 1/2 (where subtracting its
term from the total would lose the rivals' weight to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from simulator.market.demand import SegmentParams, segment_sum, utilities

Array = np.ndarray

LOCAL_GRID = np.arange(-16.0, 16.0 + 1e-9, 0.5)
"""Per-segment grid around sigma = 1/2, in units of the logistic width 1 / k_s."""
UNIFORM_POINTS = 48
"""Points of the uniform grid over the whole search interval."""
_UNIFORM_STEPS = np.linspace(0.0, 1.0, UNIFORM_POINTS)
GRID_BLOCK = 256
"""Firms whose search grid is built and evaluated at once: a block's (segments x firms x
points) temporaries stay small enough for the CPU's cache, and a market of 10,000 firms does
not hold a dozen 100 MB arrays at a time."""


def rivals_log_denominator(scaled: Array, rows: Array) -> Array:
    """ln(sum over every row but ``rows[g]`` of exp(scaled)), per segment: (G, S).

    ``scaled`` (1 + P, S) holds u0/mu in row 0 and each product's u/mu below it; ``rows`` are
    the rows of the firms asked about (>= 1). Exact where a firm's share is near 1.
    """
    top = scaled.max(axis=0)
    lse = top + np.log(np.exp(scaled - top).sum(axis=0))
    own_share = np.exp(scaled[rows] - lse)
    with np.errstate(divide="ignore"):
        rest = lse + np.log1p(-np.minimum(own_share, 1.0))
    dominant = own_share > 0.5  # at most one row per segment
    for s in np.flatnonzero(dominant.any(axis=0)):
        g = np.flatnonzero(dominant[:, s])
        others = np.delete(scaled[:, s], rows[g[0]])
        peak = others.max()
        rest[g, s] = peak + np.log(np.exp(others - peak).sum())
    return rest


@dataclass(frozen=True)
class _Columns:
    """An OwnMarket's parameters shaped for segment-major arithmetic (see OwnMarket._columns)."""

    alpha: Array
    mu: Array
    k: Array
    size: Array
    size_k: Array
    base: Array  # base_utility, (S, G, 1...)
    rest: Array  # log_rest, (S, G, 1...)


@dataclass(frozen=True)
class OwnMarket:
    """What one group of firms faces when it alone changes its price (arrays over G firms)."""

    base_utility: Array  # a_is = beta_s Q_is + gamma_s ln(1 + B_i), (G, S)
    log_rest: Array  # R_is, (G, S)
    cost: Array  # (G,)
    capacity: Array  # (G,), np.inf when unlimited
    seg: SegmentParams
    size: Array  # (S,)

    def take(self, index: Array | slice) -> OwnMarket:
        """The firms ``index`` (with repetition, or a slice of them), for evaluating many
        prices per firm."""
        return OwnMarket(
            self.base_utility[index],
            self.log_rest[index],
            self.cost[index],
            self.capacity[index],
            self.seg,
            self.size,
        )

    @cached_property
    def k(self) -> Array:
        """k_s = alpha_s / mu_s, the logistic slope of each segment's share (S,)."""
        return self.seg.alpha / self.seg.mu

    def _columns(self, ndim: int) -> _Columns:
        """The parameters shaped to broadcast against segment-major (S, G, ...) arrays of
        prices with ``ndim`` axes (cached per ndim: the Newton iterations reuse them)."""
        cache = self.__dict__.setdefault("_columns_cache", {})
        if ndim not in cache:
            seg = (-1,) + (1,) * ndim
            firm = self.base_utility.shape[::-1] + (1,) * (ndim - 1)
            cache[ndim] = _Columns(
                alpha=self.seg.alpha.reshape(seg),
                mu=self.seg.mu.reshape(seg),
                k=self.k.reshape(seg),
                size=self.size.reshape(seg),
                size_k=(self.size * self.k).reshape(seg),
                base=self.base_utility.T.reshape(firm),
                rest=self.log_rest.T.reshape(firm),
            )
        return cache[ndim]

    def _shares(self, price: Array, c: _Columns) -> Array:
        """sigma at own price (G,) or a grid of prices (G, N), segment-major: (S, *shape).

        1 / (1 + exp(clip(R - (a - alpha p) / mu, -700, 700))) in one buffer; segment-major so
        that every operation runs over the prices' long contiguous axis."""
        z = c.alpha * price
        np.subtract(c.base, z, out=z)
        np.divide(z, c.mu, out=z)
        np.subtract(c.rest, z, out=z)
        np.maximum(z, -700.0, out=z)
        np.minimum(z, 700.0, out=z)
        np.exp(z, out=z)
        np.add(z, 1.0, out=z)
        return np.divide(1.0, z, out=z)

    def shares(self, price: Array) -> Array:
        """sigma_is at own price (G,) or a grid of prices (G, N): shape (..., S)."""
        price = np.asarray(price, dtype=float)
        return np.moveaxis(self._shares(price, self._columns(price.ndim)), 0, -1)

    def _expand(self, values: Array, price: Array) -> Array:
        return values.reshape(values.shape + (1,) * (np.ndim(price) - 1))

    def demand(self, price: Array) -> Array:
        price = np.asarray(price, dtype=float)
        c = self._columns(price.ndim)
        return segment_sum(c.size * self._shares(price, c), axis=0)

    def profit(self, price: Array) -> Array:
        """(p - c) min(D(p), K)."""
        cost, capacity = self._expand(self.cost, price), self._expand(self.capacity, price)
        return (price - cost) * np.minimum(self.demand(price), capacity)

    def excess_demand(self, price: Array) -> tuple[Array, Array]:
        """D(p) - K and its slope -sum_s M_s k_s sigma_s (1 - sigma_s) (falls with p)."""
        price = np.asarray(price, dtype=float)
        c = self._columns(price.ndim)
        s = self._shares(price, c)
        slope = -segment_sum(c.size_k * s * (1.0 - s), axis=0)
        demand = segment_sum(c.size * s, axis=0)
        return demand - self._expand(self.capacity, price), slope

    def _marginal_profit(self, s: Array, markup: Array, size_s: Array, c: _Columns) -> Array:
        """g = sum_s M_s s (1 - markup k_s (1 - s)), from the segment-major shares ``s`` and
        ``size_s`` = M_s s; overwrites ``s``."""
        term = c.k * markup
        np.multiply(term, np.subtract(1.0, s, out=s), out=term)
        np.subtract(1.0, term, out=term)
        return segment_sum(np.multiply(size_s, term, out=term), axis=0)

    def foc(self, price: Array) -> tuple[Array, Array]:
        """g(p) and g'(p) of the uncapped profit (see the module docstring)."""
        price = np.asarray(price, dtype=float)
        c = self._columns(price.ndim)
        s = self._shares(price, c)
        markup = price - self._expand(self.cost, price)
        slope = segment_sum(c.size_k * s * (1.0 - s) * (markup * c.k * (1.0 - 2.0 * s) - 2.0), 0)
        return self._marginal_profit(s, markup, c.size * s, c), slope

    def evaluate(self, price: Array) -> tuple[Array, Array, Array]:
        """g(p), D(p) and (p - c) min(D(p), K) from one evaluation of the shares."""
        price = np.asarray(price, dtype=float)
        c = self._columns(price.ndim)
        s = self._shares(price, c)
        markup = price - self._expand(self.cost, price)
        size_s = c.size * s
        demand = segment_sum(size_s, axis=0)
        profit = markup * np.minimum(demand, self._expand(self.capacity, price))
        return self._marginal_profit(s, markup, size_s, c), demand, profit

    def half_share_price(self) -> Array:
        """p0_is: the own price at which sigma_is = 1/2, (G, S)."""
        return (self.base_utility - self.seg.mu * self.log_rest) / self.seg.alpha

    def search_ceiling(self) -> Array:
        """H: above it every segment's term of g is negative, so no maximum lies there."""
        beyond = np.maximum(self.half_share_price() - self.cost[:, None], 0.0) + 2.0 / self.k
        return self.cost + beyond.max(axis=1) * (1.0 + 1e-12) + 1e-12


def own_price_problems(
    prices: Array,
    quality: Array,
    brand: Array,
    seg: SegmentParams,
    size: Array,
    firms: Array,
    cost: Array,
    capacity: Array,
) -> OwnMarket:
    """What each firm of ``firms`` faces when it alone moves its price, every other product at
    ``prices`` (``cost`` and ``capacity`` are those of ``firms``)."""
    u = utilities(prices, quality, brand, seg)
    scaled = np.vstack([seg.u0[None, :], u]) / seg.mu
    firms = np.asarray(firms)
    return OwnMarket(
        base_utility=u[firms] + seg.alpha * np.asarray(prices)[firms][:, None],  # before price
        log_rest=rivals_log_denominator(scaled, firms + 1),
        cost=np.asarray(cost, dtype=float),
        capacity=np.asarray(capacity, dtype=float),
        seg=seg,
        size=np.asarray(size, dtype=float),
    )


def safeguarded_newton(
    fn_and_slope, lo: Array, hi: Array, start: Array | None = None, iterations: int = 100
) -> Array:
    """Vectorised Newton iteration kept inside a shrinking bracket [lo, hi].

    ``fn_and_slope(x) -> (f, f')`` with f > 0 at lo and f <= 0 at hi. A Newton step that
    leaves the bracket is replaced by bisection, so convergence is guaranteed; near the root
    it is quadratic. ``start`` (default the midpoint) is the first iterate. A step that is not
    finite (a flat slope) fails a bracket comparison, so it bisects too (or lands on an
    infinite bound, where bisection lands as well).
    """
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    x = 0.5 * (lo + hi) if start is None else np.clip(start, lo, hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(iterations):
            value, slope = fn_and_slope(x)
            positive = value > 0
            np.copyto(lo, x, where=positive)
            np.copyto(hi, x, where=~positive)
            newton = x - value / slope
            inside = (newton >= lo) & (newton <= hi)
            new_x = np.where(inside, newton, 0.5 * (lo + hi))
            tolerance = 1e-13 * (1.0 + np.abs(x))
            done = (np.abs(new_x - x) <= tolerance) | (hi - lo <= tolerance)
            x = new_x
            if done.all():
                break
    return x


def search_grid(market: OwnMarket, lo: Array, hi: Array) -> Array:
    """Sorted sample prices in [lo, hi] per firm, (G, N)."""
    uniform = lo[:, None] + (hi - lo)[:, None] * _UNIFORM_STEPS
    width = market.seg.mu / market.seg.alpha  # 1 / k_s
    local = market.half_share_price()[:, :, None] + width[None, :, None] * LOCAL_GRID
    grid = np.concatenate([uniform, local.reshape(len(lo), -1)], axis=1)
    return np.sort(np.clip(grid, lo[:, None], hi[:, None]), axis=1)


def evaluate_grid(market: OwnMarket, lo: Array, hi: Array) -> tuple[Array, ...]:
    """The search grid of every firm and g, D and profit on it, (G, N) each, built
    ``GRID_BLOCK`` firms at a time (each number is computed from its own firm's row only, so
    the blocks give the one-call numbers bit for bit)."""
    if len(lo) > GRID_BLOCK:
        blocks = [slice(start, start + GRID_BLOCK) for start in range(0, len(lo), GRID_BLOCK)]
        parts = [evaluate_grid(market.take(rows), lo[rows], hi[rows]) for rows in blocks]
        return tuple(np.concatenate(columns) for columns in zip(*parts, strict=True))
    grid = search_grid(market, lo, hi)
    return (grid, *market.evaluate(grid))


def _interpolated(lo: Array, hi: Array, f_lo: Array, f_hi: Array) -> Array:
    """Where the chord through (lo, f_lo) and (hi, f_hi) crosses zero (a first iterate)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = lo + f_lo * (hi - lo) / (f_lo - f_hi)
    return np.where(np.isfinite(x), x, 0.5 * (lo + hi))


def global_best_response(market: OwnMarket, floor: Array, cap: Array) -> Array:
    """The profit-maximising own price in [floor, cap] of every firm of ``market``."""
    n = len(floor)
    lo = np.asarray(floor, dtype=float)
    hi = np.maximum(np.minimum(np.asarray(cap, dtype=float), market.search_ceiling()), lo)
    grid, value, demand, profit = evaluate_grid(market, lo, hi)  # (G, N) each

    firm_index = np.arange(n)
    candidates = [lo, hi, grid[firm_index, np.argmax(profit, axis=1)]]
    owners = [firm_index] * 3

    # a local maximum of the uncapped profit (not where every share has underflowed to 0)
    turns = (value[:, :-1] > 0) & (value[:, 1:] <= 0) & ((value[:, 1:] < 0) | (demand[:, 1:] > 0))
    g, j = np.nonzero(turns)
    if len(g):
        left, right = grid[g, j], grid[g, j + 1]
        start = _interpolated(left, right, value[g, j], value[g, j + 1])
        candidates.append(safeguarded_newton(market.take(g).foc, left, right, start))
        owners.append(g)

    excess = demand - market.capacity[:, None]  # -inf where capacity is unlimited
    binding = excess[:, 0] > 0  # demand at the floor exceeds capacity
    if binding.any():  # the price at which demand falls to capacity (profit rises below it)
        rows = np.flatnonzero(binding)
        sub = market.take(rows)
        crossed = excess[rows] <= 0
        inside = crossed.any(axis=1)
        j = np.argmax(crossed, axis=1)  # first grid point with demand <= capacity
        left = np.where(inside, grid[rows, np.maximum(j - 1, 0)], hi[rows])
        right = np.where(inside, grid[rows, j], hi[rows])
        if inside.all():  # demand crosses capacity on the grid, already evaluated there
            f_left, f_right = excess[rows, j - 1], excess[rows, j]
        else:
            ceiling = np.asarray(cap, dtype=float)[rows]
            for _ in range(200):  # beyond the search ceiling: widen up to the cap
                short = ~inside & (sub.demand(right) > sub.capacity) & (right < ceiling)
                if not short.any():
                    break
                right = np.where(
                    short, np.minimum(right + 2.0 * (right - lo[rows]) + 1.0, ceiling), right
                )
            f_left, f_right = sub.excess_demand(left)[0], sub.excess_demand(right)[0]
        start = _interpolated(left, right, f_left, f_right)
        clearing = safeguarded_newton(sub.excess_demand, left, right, start)
        candidates.append(np.where(f_right > 0, right, clearing))
        owners.append(rows)

    price = np.concatenate(candidates)
    owner = np.concatenate(owners)
    earned = market.take(owner).profit(price)
    order = np.lexsort((-earned, owner))  # per firm, the most profitable candidate first
    sorted_owner = owner[order]
    first = np.concatenate(([True], sorted_owner[1:] != sorted_owner[:-1]))
    best = np.empty(n)
    best[sorted_owner[first]] = price[order][first]
    return best
