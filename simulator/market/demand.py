"""Demand D = f(P, Q, I): multinomial logit per segment with an outside option.

Shapes: F firms, S segments. Everything here is a pure numpy function; the Mesa model
calls in with arrays gathered from its agents.

    u_is = beta_s * Q_is + gamma_s * ln(1 + B_i) - alpha_s * P_i
    s_is = exp(u_is / mu_s) / (exp(u0_s / mu_s) + sum_j exp(u_js / mu_s))
    D_is = M_s * s_is
    B_i <- (1 - decay) * B_i + I_i

The form is that of Calvano et al. (2020, AER). Shares are computed with a log-sum-exp so
that extreme prices (or qualities) give 0/1 shares, never NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray


def segment_sum(values: Array, axis: int = -1) -> Array:
    """``values.sum(axis)`` of a contiguous (..., S) array, bit for bit, several times faster.

    numpy sums fewer than 8 values along a contiguous last axis as ((0 + v0) + v1) + ...; the
    same additions over whole slices skip its slow per-row reduction (the best response's grid
    holds firms x points x segments). ``axis`` names the segment axis of a segment-major
    array. From 8 segments on numpy sums pairwise, so this defers to it.
    """
    n = values.shape[axis]
    if n >= 8 or n == 0:
        return np.ascontiguousarray(np.moveaxis(values, axis, -1)).sum(axis=-1)
    if axis == 0:
        total = 0.0 + values[0]
        for j in range(1, n):
            total += values[j]
    else:
        parts = np.moveaxis(values, axis, 0)
        total = 0.0 + parts[0]
        for j in range(1, n):
            total += parts[j]
    return total


@dataclass(frozen=True)
class SegmentParams:
    """Demand parameters of S segments as arrays of shape (S,).

    alpha: price sensitivity (utility lost per unit of price), > 0.
    beta: quality sensitivity (utility per unit of quality), >= 0.
    gamma: brand sensitivity (utility per unit of ln(1 + brand)), >= 0.
    mu: logit temperature (horizontal differentiation), > 0.
    u0: utility of the outside option (not buying any LLM product).
    """

    alpha: Array
    beta: Array
    gamma: Array
    mu: Array
    u0: Array

    @property
    def n_segments(self) -> int:
        return int(np.asarray(self.alpha).shape[0])


def utilities(prices: Array, quality: Array, brand: Array, seg: SegmentParams) -> Array:
    """Mean utility u_is of firm i's product in segment s, shape (F, S)."""
    prices = np.asarray(prices, dtype=float)[:, None]
    brand_term = np.log1p(np.maximum(np.asarray(brand, dtype=float), 0.0))[:, None]
    return seg.beta * np.asarray(quality, dtype=float) + seg.gamma * brand_term - seg.alpha * prices


def log_inclusive_value(u: Array, seg: SegmentParams) -> Array:
    """ln(exp(u0/mu) + sum_j exp(u_j/mu)) per segment, shape (S,), computed stably."""
    scaled = np.vstack([seg.u0[None, :], u]) / seg.mu
    top = scaled.max(axis=0)
    return top + np.log(np.exp(scaled - top).sum(axis=0))


def logit_shares(u: Array, seg: SegmentParams) -> tuple[Array, Array]:
    """Choice probabilities: firms' shares (F, S) and the outside option's share (S,)."""
    lse = log_inclusive_value(u, seg)
    shares = np.exp(u / seg.mu - lse)
    outside = np.exp(seg.u0 / seg.mu - lse)
    return shares, outside


def D(
    prices: Array, quality: Array, brand: Array, seg: SegmentParams, size: Array
) -> tuple[Array, Array]:
    """Demand D_is = M_s * s_is. Returns (demand (F, S), shares (F, S))."""
    shares, _ = logit_shares(utilities(prices, quality, brand, seg), seg)
    return np.asarray(size, dtype=float) * shares, shares


def update_brand(brand: Array, marketing: Array, decay: float | Array) -> Array:
    """Brand stock: B <- (1 - decay) * B + I. Marketing is a flow, brand the stock it builds."""
    return (1.0 - np.asarray(decay)) * np.asarray(brand, dtype=float) + np.asarray(
        marketing, dtype=float
    )


def consumer_surplus(
    u: Array,
    seg: SegmentParams,
    size: Array,
    reference_u0: Array | None = None,
    unserved: Array | None = None,
) -> Array:
    """Logit consumer surplus per segment relative to 'outside option only', shape (S,).

    CS_s = (M_s - U_s) * mu_s / alpha_s * (ln(exp(u0_s/mu_s) + sum_j exp(u_js/mu_s)) - r_s/mu_s)
    (Small & Rosen 1981), in money units. ``reference_u0`` r (default u0) is the outside
    utility surplus is measured from: the scenario's own, when an open model has raised u0.
    ``unserved`` U: users a capacity limit turned away, who are counted at the outside
    option (every logit choice group has the same expected utility, so the served users keep
    the per-user surplus).
    """
    reference = seg.u0 if reference_u0 is None else np.asarray(reference_u0)
    served = np.asarray(size) - (0.0 if unserved is None else np.asarray(unserved))
    return served * seg.mu / seg.alpha * (log_inclusive_value(u, seg) - reference / seg.mu)
