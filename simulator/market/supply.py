"""Supply S = g(C, R, T): capacity-limited sales, unit cost, R&D compute and release cycles.

C: unit cost per demand unit served, falling with learning-by-doing (Wright's law) and
   scaled by an industry cost index that events can move (cheaper inference hardware).
R: R&D spend buys training compute at the scenario's compute price; it accumulates in a
   pending model that ships only when the release cycle ends.
T: release cycle in steps; quality changes only at a release.

All functions are pure and vectorised over firms (F) x segments (S).
"""

from __future__ import annotations

import math

import numpy as np

Array = np.ndarray

FLOPS_PER_COMPUTE_UNIT = 1e24
"""compute_price is quoted in money units per 1e24 training FLOPs."""


def S(demand: Array, capacity: Array, spill: bool = False) -> tuple[Array, Array]:
    """Sales S_is = min(D_is, share of capacity K_i); returns (sales (F, S), lost (S,)).

    A firm whose total demand exceeds its capacity serves every segment pro rata. Unserved
    demand is lost, or with ``spill`` it goes to rivals with spare capacity in the same
    segment, in proportion to their own demand there, round after round until it is served or
    nobody has spare capacity left.
    """
    demand = np.asarray(demand, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    sales = demand * _fill_ratio(demand.sum(axis=1), capacity)[:, None]
    lost = (demand - sales).sum(axis=0)
    if not spill:
        return sales, lost
    # rationing rounds: the pool goes to firms with spare capacity, pro rata to their own demand
    for _ in range(len(capacity)):
        spare = np.maximum(capacity - sales.sum(axis=1), 0.0)
        weights = demand * (spare > 1e-12)[:, None]
        weight_sum = weights.sum(axis=0)
        if lost.sum() <= 1e-12 or not weight_sum.any():
            break
        # each rival's part of the pool first (<= 1), then the pool: no overflow when a
        # rival's demand is subnormal
        part = np.divide(weights, weight_sum, out=np.zeros_like(weights), where=weight_sum > 0)
        offered = lost * part
        taken = offered * _fill_ratio(offered.sum(axis=1), spare)[:, None]
        sales = sales + taken
        lost = lost - taken.sum(axis=0)
    return sales, np.maximum(lost, 0.0)


def _fill_ratio(wanted: Array, available: Array) -> Array:
    """Fraction of ``wanted`` that ``available`` covers, at most 1."""
    short = wanted > available
    return np.divide(available, wanted, out=np.ones_like(wanted, dtype=float), where=short)


def unit_cost(
    base_cost: Array,
    cumulative_output: Array,
    output_scale: float,
    learning_rate: Array,
    cost_index: float = 1.0,
) -> Array:
    """Wright's law: cost falls by ``learning_rate`` for every doubling of output.

    C = base_cost * cost_index * (1 + X / X0) ** log2(1 - learning_rate), with X the firm's
    cumulative output and X0 = ``output_scale``. learning_rate = 0 keeps cost constant.
    """
    exponent = np.log2(1.0 - np.asarray(learning_rate, dtype=float))
    experience = 1.0 + np.asarray(cumulative_output, dtype=float) / output_scale
    return np.asarray(base_cost, dtype=float) * cost_index * libm_power(experience, exponent)


def libm_power(base: Array, exponent: Array) -> Array:
    """base ** exponent elementwise with the C library's pow.

    numpy's vectorised float64 power (SIMD) can differ from libm's pow in the last bit; this
    keeps a firm's cost bit-identical however many firms are evaluated together (and to the
    per-firm evaluation the reference outputs were recorded with).
    """
    base, exponent = np.broadcast_arrays(np.asarray(base, dtype=float), exponent)
    flat = [
        math.pow(b, e)
        for b, e in zip(base.ravel().tolist(), exponent.ravel().tolist(), strict=True)
    ]
    out = np.array(flat, dtype=float).reshape(base.shape)
    return out if out.ndim else out[()]


def rd_compute(rd_spend: Array, compute_price: float) -> Array:
    """Training FLOPs bought with R&D spend (money units) at ``compute_price`` per 1e24 FLOPs."""
    return (
        np.maximum(np.asarray(rd_spend, dtype=float), 0.0) / compute_price * FLOPS_PER_COMPUTE_UNIT
    )


def release_due(step: int, last_release: Array, release_cycle: Array) -> Array:
    """True for firms whose release cycle T has elapsed since their last release."""
    return step - np.asarray(last_release) >= np.asarray(release_cycle)
