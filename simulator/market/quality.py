"""Quality Q per firm and segment from effective training compute and data mix.

The seam between the market and the language models. A *quality source* is any callable

    source(real_flops (F,), mix (F, S)) -> (quality (F, S), bpb (F, S), extrapolated (F, S))

``PlaceholderQuality`` below is the documented stand-in used when no language-model zoo is
asked for; ``simulator.lm.zoo.ZooQuality`` is the real one (measured bits-per-byte).

Both share the scale model of DESIGN.md: real-world training FLOPs map log-linearly onto a
position x in [0, 1] between the scenario's smallest and largest plausible budgets
(``market.compute_range``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

Array = np.ndarray


class QualitySource(Protocol):
    def __call__(self, real_flops: Array, mix: Array) -> tuple[Array, Array, Array]: ...


def compute_position(real_flops: Array, compute_range: tuple[float, float]) -> Array:
    """x = (log10 C - log10 C_min) / (log10 C_max - log10 C_min): 0 at the smallest budget, 1 at
    the largest; outside [0, 1] beyond the plausible range."""
    low, high = np.log10(compute_range[0]), np.log10(compute_range[1])
    return (np.log10(np.maximum(np.asarray(real_flops, dtype=float), 1.0)) - low) / (high - low)


class PlaceholderQuality:
    """Stand-in quality: Q_is = max(x_i, 0) * (0.5 + 0.5 * mix_is / max_s mix_is).

    Quality grows with log compute and is highest in the segments a firm's data mix favours;
    a segment outside its focus keeps half. No bits-per-byte exist here (bpb is NaN).
    """

    def __init__(self, compute_range: tuple[float, float]):
        self.compute_range = compute_range

    def __call__(self, real_flops: Array, mix: Array) -> tuple[Array, Array, Array]:
        x = compute_position(real_flops, self.compute_range)
        mix = np.asarray(mix, dtype=float)
        focus = mix / np.maximum(mix.max(axis=1, keepdims=True), 1e-12)
        quality = np.maximum(x, 0.0)[:, None] * (0.5 + 0.5 * focus)
        outside = (x < 0.0) | (x > 1.0)
        return quality, np.full(mix.shape, np.nan), np.repeat(outside[:, None], mix.shape[1], 1)
