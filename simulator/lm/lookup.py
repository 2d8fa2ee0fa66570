"""The map from a firm's real-world training budget and data mix to product quality per market
segment, read from the zoo's measurements (ZooQuality, used by the market).

1. Real budget -> zoo compute. log10(zoo FLOPs) is a linear function of log10(real FLOPs)
   sending compute_range[0] to the budget of grid level 0 and compute_range[1] to that of
   level 7 (grid.ANCHOR_LEVELS: the original CPU grid; the map does not move when the grid
   grows). The measured zoo reaches further (levels 8-10, 8x level 7's budget): real budgets
   up to `measured_real_range[1]` are measured, beyond it the quality is extrapolated.
2. Zoo compute -> bpb for each measured mix curve. The measured points of each (mix, segment)
   curve are replaced by their compute frontier (running minimum, see simulator.lm.fit), then
   interpolated with monotone PCHIP in log10(compute). Outside the measured range the curve
   continues with its fitted power law, shifted to meet the end point (so it stays continuous
   and monotone; flat if the fit does not decrease), and the firm is flagged `extrapolated`.
3. Data mix -> bpb on segment s, with w the firm's weight on s and C its zoo compute:
   - w in [1/4, 1]: linear in w from the uniform mix at C (w = 1/4) to the model trained on s
     alone at C (w = 1).
   - w in (0, 1/4): the uniform mix at the reduced compute C * w / (1/4), i.e. the same amount
     of s-data as the firm's (power law below the measured range), capped by the w = 0 anchor.
   - w = 0: the mean bpb on s of the models trained on the other single segments ("never saw
     s"; e.g. ~10-20 bpb for English-only models on Chinese bytes), held flat outside the
     measured compute range.
   Anchors are ordered first: single = min(single, uniform) (where the data disagree, e.g. the
   assistant-only models over-fit at the top budgets and the uniform mix does better on
   assistant, focusing on s is credited with the better value) and never-saw = max(never-saw,
   uniform). So more weight on s never worsens bpb on s, and more compute never worsens it.
4. bpb -> quality. Q = (H_unigram - bpb) / (H_unigram - bpb_best): H_unigram is the segment's
   byte-unigram cross-entropy (corpus.unigram_entropy), bpb_best the best bpb in the zoo for
   the segment. Q = 0 knows only byte frequencies, Q = 1 matches the best measured model, Q > 1
   can only come from extrapolation and Q < 0 is worse than byte frequencies (e.g. an
   English-only model on Chinese). Q is not clipped.

With train_missing=True the firm's exact (mix, compute) point is trained (simulator.lm.grid
.ensure_point, cached) instead of interpolated.

This module imports numpy, pandas and scipy only; torch is imported when a point is trained
(train_missing), never at import and never by a lookup.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulator.lm import corpus
from simulator.lm.fit import PowerLawFit, compute_frontier, curve_points, fit_power_law
from simulator.lm.grid import ANCHOR_LEVELS, UNIFORM, ensure_point, load_zoo_table


def quality_from_bpb(bpb, h_unigram, bpb_best):
    """Q = (H_unigram - bpb) / (H_unigram - bpb_best): 0 at byte frequencies, 1 at the best
    measured model. Works elementwise on numpy arrays and on floats."""
    return (np.asarray(h_unigram) - np.asarray(bpb)) / (
        np.asarray(h_unigram) - np.asarray(bpb_best)
    )


class MonotoneCurve:
    """bpb as a non-increasing function of compute for one (mix, segment) of the zoo.

    Inside the measured range: monotone PCHIP in log10(FLOPs) through the frontier points.
    Outside: the fitted power law shifted to meet the end point (flat if the fit does not
    decrease or could not be made).
    """

    def __init__(self, flops: np.ndarray, bpb: np.ndarray, power_law: bool = True):
        from scipy.interpolate import PchipInterpolator

        self.log_flops = np.log10(np.asarray(flops, dtype=float))
        self.bpb = compute_frontier(bpb)
        self._flops = np.asarray(flops, dtype=float)
        self._power_law = power_law
        self._fit: PowerLawFit | None | bool = False  # False: not fitted yet
        if len(self.log_flops) >= 2:
            self.inside = PchipInterpolator(self.log_flops, self.bpb, extrapolate=False)
        else:
            self.inside = None

    @property
    def fit(self) -> PowerLawFit | None:
        """The power law beyond the measured range, fitted on first use (only extrapolation
        needs it, and fitting every curve up front dominated a short run's start-up)."""
        if self._fit is False:
            self._fit = None
            if self._power_law:
                try:
                    self._fit = fit_power_law(self._flops, self.bpb)
                except (ValueError, RuntimeError):
                    self._fit = None
        return self._fit

    def __call__(self, log_flops: np.ndarray) -> np.ndarray:
        x = np.asarray(log_flops, dtype=float)
        low, high = self.log_flops[0], self.log_flops[-1]
        if self.inside is not None:
            result = self.inside(np.clip(x, low, high))
        else:
            result = np.full_like(x, self.bpb[0])
        below, above = x < low, x > high
        if (below.any() or above.any()) and self.fit is not None and self.fit.decreasing:
            result = np.where(below, self.bpb[0] + self.fit(10**x) - self.fit(10**low), result)
            result = np.where(above, self.bpb[-1] + self.fit(10**x) - self.fit(10**high), result)
        return result


class ZooQuality:
    """Maps a firm's effective training compute and data mix to bpb and quality per segment.

    See the module docstring for the four steps (real budget -> zoo compute -> bpb per measured
    mix -> blend by the firm's mix -> quality).
    """

    #: Weight the uniform zoo mix puts on each segment (anchor of the mix blend).
    UNIFORM_WEIGHT = 1.0 / len(corpus.SEGMENTS)

    def __init__(
        self,
        segments: list[str],
        compute_range: tuple[float, float],
        table: pd.DataFrame | None = None,
        train_missing: bool = False,
        threads: int = 1,
    ):
        for segment in segments:
            if segment not in corpus.SEGMENTS:
                raise ValueError(
                    f"segment {segment!r} has no zoo measurements; "
                    f"supported: {', '.join(corpus.SEGMENTS)}"
                )
        low, high = (float(v) for v in compute_range)
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
            raise ValueError(f"compute_range must satisfy 0 < low < high, got {compute_range}")
        self.segments = list(segments)
        self.compute_range = (low, high)
        self.table = load_zoo_table() if table is None else table
        self.train_missing = train_missing
        self.threads = threads
        self.grid = str(self.table["grid"].iloc[0]) if "grid" in self.table.columns else "small"
        flops = self.table["flops"].to_numpy(dtype=float)
        #: zoo budgets with measurements: inside, quality is interpolated, outside extrapolated
        self.zoo_range = (float(flops.min()), float(flops.max()))
        #: zoo budgets compute_range maps onto (the anchor levels where the table has them)
        self.anchor_range = self.zoo_range
        if "level" in self.table.columns:
            levels = self.table.groupby("level")["flops"].first()
            if all(level in levels.index for level in ANCHOR_LEVELS):
                self.anchor_range = tuple(float(levels[level]) for level in ANCHOR_LEVELS)
        self.h_unigram: dict[str, float] = {}
        self.bpb_best: dict[str, float] = {}
        self._own: dict[str, MonotoneCurve] = {}
        self._uniform: dict[str, MonotoneCurve] = {}
        self._never_saw: dict[str, list[MonotoneCurve]] = {}
        for segment in self.segments:
            rows = self.table[self.table["segment"] == segment]
            self.h_unigram[segment] = float(rows["h_unigram"].iloc[0])
            self.bpb_best[segment] = float(rows["bpb"].min())
            self._own[segment] = MonotoneCurve(*curve_points(self.table, segment, segment))
            self._uniform[segment] = MonotoneCurve(*curve_points(self.table, UNIFORM, segment))
            # No scaling law for a segment never trained on: flat outside the measured range.
            self._never_saw[segment] = [
                MonotoneCurve(*curve_points(self.table, other, segment), power_law=False)
                for other in corpus.SEGMENTS
                if other != segment
            ]
        self._trained: dict[tuple, dict[str, float]] = {}

    def zoo_compute(self, real_flops: np.ndarray) -> np.ndarray:
        """log10(zoo) = linear in log10(real), sending compute_range onto the anchor levels."""
        real = np.asarray(real_flops, dtype=float)
        if np.any(~np.isfinite(real)) or np.any(real <= 0):
            raise ValueError("real_flops must be finite and > 0")
        (r_low, r_high), (z_low, z_high) = self.compute_range, self.anchor_range
        fraction = (np.log10(real) - math.log10(r_low)) / (math.log10(r_high) - math.log10(r_low))
        return 10 ** (math.log10(z_low) + fraction * (math.log10(z_high) - math.log10(z_low)))

    def real_compute(self, zoo_flops: np.ndarray) -> np.ndarray:
        """The inverse of zoo_compute: the real budget that maps to a zoo budget."""
        (r_low, r_high), (z_low, z_high) = self.compute_range, self.anchor_range
        log_zoo = np.log10(np.asarray(zoo_flops, dtype=float))
        fraction = (log_zoo - math.log10(z_low)) / (math.log10(z_high) - math.log10(z_low))
        return 10 ** (math.log10(r_low) + fraction * (math.log10(r_high) - math.log10(r_low)))

    @property
    def measured_real_range(self) -> tuple[float, float]:
        """Real training budgets whose quality comes from measured models (inside the zoo's
        measured budgets); outside it the quality is extrapolated."""
        low, high = self.real_compute(np.array(self.zoo_range))
        return float(low), float(high)

    def segment_bpb(self, segment: str, log_zoo_flops: np.ndarray, weight: np.ndarray):
        """bpb on `segment` for compute (log10 zoo FLOPs) and the firm's weight on it."""
        return self._segment_bpb(segment, log_zoo_flops, weight)[0]

    def _segment_bpb(self, segment: str, log_zoo_flops: np.ndarray, weight: np.ndarray):
        """(bpb, extrapolated) on `segment`: extrapolated where the compute read off a curve
        lies outside the measured budgets (for w < 1/4, the reduced compute where it sets bpb).
        """
        log_c = np.asarray(log_zoo_flops, dtype=float)
        uniform_curve = self._uniform[segment]
        uniform = uniform_curve(log_c)
        own = np.minimum(self._own[segment](log_c), uniform)
        never_saw = np.mean([curve(log_c) for curve in self._never_saw[segment]], axis=0)
        never_saw = np.maximum(never_saw, uniform)
        u = self.UNIFORM_WEIGHT
        w = np.clip(np.asarray(weight, dtype=float), 0.0, 1.0)
        high_part = uniform + (own - uniform) * (np.maximum(w, u) - u) / (1.0 - u)
        # Below the uniform weight: the uniform model at the compute that holds as much s-data.
        with np.errstate(divide="ignore"):
            log_effective = log_c + np.log10(np.minimum(w, u) / u)
        reduced = np.where(w > 0, uniform_curve(np.maximum(log_effective, -300.0)), np.inf)
        low_part = np.minimum(never_saw, reduced)
        log_low, log_high = (math.log10(v) for v in self.zoo_range)
        tolerance = 1e-9
        outside = (log_c < log_low - tolerance) | (log_c > log_high + tolerance)
        reduced_outside = (w > 0) & (log_effective < log_low - tolerance) & (reduced < never_saw)
        extrapolated = np.where(w >= u, outside, outside | reduced_outside)
        return np.where(w >= u, high_part, low_part), extrapolated

    def __call__(
        self, real_flops: np.ndarray, mix: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(quality (F,S), bpb (F,S), extrapolated (F,S)) for F firms over the S segments."""
        real = np.atleast_1d(np.asarray(real_flops, dtype=float))
        weights = np.asarray(mix, dtype=float)
        if real.ndim != 1:
            raise ValueError(f"real_flops must have shape (F,), got {real.shape}")
        if weights.shape != (len(real), len(self.segments)):
            raise ValueError(
                f"mix must have shape (F, S) = ({len(real)}, {len(self.segments)}), "
                f"got {weights.shape}"
            )
        if np.any(~np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("mix weights must be finite and >= 0")
        totals = weights.sum(axis=1, keepdims=True)
        if np.any(totals <= 0):
            raise ValueError("every firm's mix must have positive total weight")
        weights = weights / totals
        zoo_flops = self.zoo_compute(real)
        log_zoo = np.log10(zoo_flops)
        columns = [
            self._segment_bpb(s, log_zoo, weights[:, j]) for j, s in enumerate(self.segments)
        ]
        bpb = np.column_stack([column[0] for column in columns])
        extrapolated = np.column_stack([column[1] for column in columns])
        if self.train_missing:
            z_low, z_high = self.zoo_range
            inside = (zoo_flops >= z_low * (1 - 1e-9)) & (zoo_flops <= z_high * (1 + 1e-9))
            for firm in np.flatnonzero(inside):
                measured = self._measured_bpb(weights[firm], float(zoo_flops[firm]))
                bpb[firm] = [measured[s] for s in self.segments]
                extrapolated[firm] = False
        h = np.array([self.h_unigram[s] for s in self.segments])
        best = np.array([self.bpb_best[s] for s in self.segments])
        return quality_from_bpb(bpb, h, best), bpb, extrapolated

    def _measured_bpb(self, weights: np.ndarray, zoo_flops: float) -> dict[str, float]:
        mix = {s: round(float(w), 2) for s, w in zip(self.segments, weights, strict=True)}
        key = (tuple(sorted(mix.items())), float(f"{zoo_flops:.3g}"))
        if key not in self._trained:
            measurement = ensure_point(mix, zoo_flops, grid=self.grid, threads=self.threads)
            self._trained[key] = measurement.bpb
        return self._trained[key]
