"""Industry dynamics as pure functions: entry rate, segment-focus rules, homogenisation.

Entry: expected entrants per step

    lambda = base_rate * (1 + margin_sensitivity * max(mean margin, 0))
                       * (1 + open_sensitivity * mean_s best_open_quality_s)

so entry rises with industry margins and with the availability of strong open models.

Focus: a firm's data mix (where its R&D data goes) moves ``speed`` of the way to a target:
  follow_demand  target_s ∝ M_s                       (everyone chases the big segments)
  differentiate  all weight on argmax_s M_s / (1 + crowding_s), crowding_s = rivals' total
                 weight on s (the segment with the most demand per competitor)
Homogenisation: mean pairwise cosine similarity of the firms' focus vectors (1: identical).
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def entry_rate(
    base_rate: float,
    margin_sensitivity: float,
    open_sensitivity: float,
    mean_margin: float,
    best_open_quality: Array,
) -> float:
    """Expected number of entrants this step (Poisson mean)."""
    open_quality = float(np.mean(best_open_quality)) if np.size(best_open_quality) else 0.0
    margin = 0.0 if not np.isfinite(mean_margin) else max(mean_margin, 0.0)
    return (
        base_rate
        * (1.0 + margin_sensitivity * margin)
        * (1.0 + open_sensitivity * max(open_quality, 0.0))
    )


def demand_focus(mix: Array, size: Array) -> Array:
    """follow_demand target: weights proportional to segment size, for each row of ``mix``."""
    size = np.asarray(size, dtype=float)
    return np.broadcast_to(size / size.sum(), mix.shape)


def niche_focus(mix: Array, size: Array) -> Array:
    """differentiate target for every firm of ``mix`` (F, S): all weight on the segment with
    the most demand per competitor, argmax_s M_s / (1 + rivals' total weight on s)."""
    size = np.asarray(size, dtype=float)
    crowding = mix.sum(axis=0)[None, :] - mix
    niche = np.argmax(size[None, :] / (1.0 + crowding), axis=1)
    return np.eye(len(size))[niche]


def focus_targets(rules: Array, mix: Array, size: Array) -> Array:
    """Target data mix per firm under its focus rule name ('fixed' keeps the current mix)."""
    rules = np.asarray(rules)[:, None]
    return np.where(
        rules == "follow_demand",
        demand_focus(mix, size),
        np.where(rules == "differentiate", niche_focus(mix, size), mix),
    )


def update_focus(mix: Array, target: Array, speed: Array, cap: Array | None = None) -> Array:
    """Move the mix towards the target, renormalise, apply data caps (max weight per segment)."""
    new = mix + np.asarray(speed)[:, None] * (target - mix)
    total = new.sum(axis=1, keepdims=True)
    new = np.where(total > 0, new / np.where(total > 0, total, 1.0), mix)
    return new if cap is None else cap_mix(new, np.broadcast_to(cap, new.shape))


def cap_mix(mix: Array, cap: Array) -> Array:
    """Project mixes onto {sum = 1, weight <= cap}: excess over a cap goes to the uncapped
    segments in proportion to their weights (evenly if they have none). If the caps sum to
    less than 1 the mix is the caps rescaled."""
    mix = mix.copy()
    for _ in range(mix.shape[1]):
        mix = np.minimum(mix, cap)
        deficit = 1.0 - mix.sum(axis=1, keepdims=True)
        if (deficit <= 1e-15).all():
            break
        room = mix < cap - 1e-15
        weights = np.where(room, mix, 0.0)
        even = room / np.maximum(room.sum(axis=1, keepdims=True), 1)
        weights = np.where(weights.sum(axis=1, keepdims=True) > 0, weights, even)
        mix = mix + deficit * weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    total = mix.sum(axis=1, keepdims=True)
    return mix / np.where(total > 0, total, 1.0)


def unit_rows(mix: Array) -> Array:
    """Focus vectors scaled to unit length: their dot products are the focus overlaps
    (cosine similarities) the network's gains and homogenisation use."""
    # np.linalg.norm(mix, axis=1) computes exactly this, through a slower wrapper
    length = np.sqrt(np.add.reduce(mix * mix, axis=1, keepdims=True))
    return mix / np.maximum(length, 1e-12)


def homogenization(mix: Array) -> float:
    """Mean pairwise cosine similarity of focus vectors; 1.0 for fewer than two firms.

    Computed in O(F S) as (|sum_i n_i|^2 - sum_i |n_i|^2) / (F (F - 1)) with n_i the unit
    focus vectors (the sum over pairs i != j of n_i . n_j), never the F x F matrix.
    """
    n = len(mix)
    if n < 2:
        return 1.0
    unit = unit_rows(mix)
    total = unit.sum(axis=0)
    return float((total @ total - (unit * unit).sum()) / (n * (n - 1)))


def price_dispersion(prices: Array) -> float:
    """Coefficient of variation of prices (0 when all equal)."""
    prices = np.asarray(prices, dtype=float)
    n = len(prices)
    if not n:
        return 0.0
    mean = prices.sum() / n  # prices.mean() and prices.std(), without their wrappers
    if not mean > 0:
        return 0.0
    deviation = prices - mean
    return float(np.sqrt((deviation * deviation).sum() / n) / mean)
