"""The zoo's data axis: how much less a model is worth when it was trained on less data.

The zoo measures each single-segment mix at grid.DATA_LEVELS on nested prefixes of its
training data (grid.DATA_FRACTIONS of the fit split, plus the whole split: the compute grid),
with early stopping on the development split. On little data, more compute stops helping:
the model over-fits sooner, early stopping keeps an earlier checkpoint, and bpb levels off.

The lookup reads this as *data-limited effective compute*. For segment s, compute C and data
fraction f, let own_f(C) be the measured bpb of the s-only model on fraction f (a monotone
curve in compute, as in lookup.MonotoneCurve). The effective compute is the compute at which
the full-data model does as well:

    C_eff(C, f) = own_1^-1( max(own_f(C), own_1(C)) ),   so C_eff <= C, C_eff(C, 1) = C.

Between measured fractions log10 C_eff is linear in log10 f; the measured fractions are
ordered first (less data never gives more effective compute). Below the smallest measured
fraction f_min, each decade less data is a decade less effective compute,
C_eff(C, f) = C_eff(C, f_min) * f / f_min, and the value is flagged as extrapolated (as it is
where own_f is read beyond the budgets it was measured at). The firm's bpb on s is then the
full-data lookup (mix blend and all) at C_eff instead of C; C_eff may lie below the compute
grid (a model on 10% of the data at a top budget does worse than the smallest full-data
model), where own_1 continues with its power law, so that a firm trained on s alone gets
own_f(C), the measured point, back. Hence bpb is non-increasing in both
compute and data, and a firm with all the data (f >= 1) gets exactly the compute-only lookup.

Imports numpy only (the curves come from lookup.MonotoneCurve).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

#: Points per decade of the grid on which own_1 is inverted (bpb is smooth in log compute).
INVERSE_POINTS_PER_DECADE = 200
#: Decades beyond the measured budgets the inversion grid covers (below: the curve's power law).
INVERSE_MARGIN_DECADES = 6.0


class DataAxis:
    """Effective compute of a model trained on a fraction of a segment's data.

    ``curves[segment]`` maps each measured data fraction (1.0 included) to a callable bpb(log10
    zoo FLOPs) that is non-increasing; ``measured[segment][fraction]`` is the (low, high) range
    of log10 budgets at which that fraction was measured.
    """

    def __init__(
        self,
        curves: Mapping[str, Mapping[float, Callable[[np.ndarray], np.ndarray]]],
        measured: Mapping[str, Mapping[float, tuple[float, float]]],
        log_range: tuple[float, float],
    ):
        self.segments = list(curves)
        self.fractions = {s: sorted(f for f in curves[s] if f < 1.0) for s in self.segments}
        self.curves = curves
        self.measured = measured
        low, high = log_range
        points = int(
            math.ceil((high - low + 2 * INVERSE_MARGIN_DECADES) * INVERSE_POINTS_PER_DECADE)
        )
        self._grid = np.linspace(
            low - INVERSE_MARGIN_DECADES, high + INVERSE_MARGIN_DECADES, points
        )
        # own_1 on the grid, made non-increasing, for the inversion
        self._full = {s: np.minimum.accumulate(curves[s][1.0](self._grid)) for s in self.segments}

    @property
    def smallest_fraction(self) -> float:
        return min((f[0] for f in self.fractions.values() if f), default=1.0)

    def _inverse(self, segment: str, target: np.ndarray) -> np.ndarray:
        """Smallest log10 compute at which own_1 reaches ``target`` (linear between grid
        points; the grid's ends where the target lies beyond the curve)."""
        values, grid = self._full[segment], self._grid
        index = np.clip(np.searchsorted(-values, -target, side="left"), 1, len(grid) - 1)
        upper, lower = values[index - 1], values[index]
        span = upper - lower
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(span > 0, (upper - target) / span, 1.0)
        return grid[index - 1] + np.clip(t, 0.0, 1.0) * (grid[index] - grid[index - 1])

    def effective(self, segment: str, log_c: np.ndarray, fraction: np.ndarray):
        """(log10 C_eff, extrapolated) for compute ``log_c`` and data fractions ``fraction``
        (same shape; fractions above 1 count as 1)."""
        log_c = np.asarray(log_c, dtype=float)
        f = np.minimum(np.asarray(fraction, dtype=float), 1.0)
        result = log_c.copy()
        extrapolated = np.zeros(log_c.shape, dtype=bool)
        short = f < 1.0
        measured = self.fractions.get(segment, [])
        if not short.any() or not measured:
            return result, extrapolated
        c, fs = log_c[short], f[short]
        full_here = self.curves[segment][1.0](c)
        # log C_eff at each measured fraction, from the largest down, ordered
        knots_f = [1.0]
        knots_c = [c]
        beyond = np.zeros(c.shape, dtype=bool)
        for fraction_k in sorted(measured, reverse=True):
            own = np.maximum(self.curves[segment][fraction_k](c), full_here)
            at_k = np.minimum(self._inverse(segment, own), knots_c[-1])
            low, high = self.measured[segment][fraction_k]
            beyond |= (fs < knots_f[-1]) & ((c < low - 1e-9) | (c > high + 1e-9))
            knots_f.append(fraction_k)
            knots_c.append(at_k)
        log_f = np.log10(fs)
        out = np.empty(c.shape)
        for (f_hi, c_hi), (f_lo, c_lo) in zip(
            zip(knots_f, knots_c, strict=True),
            zip(knots_f[1:], knots_c[1:], strict=True),
            strict=False,
        ):
            inside = (fs <= f_hi) & (fs >= f_lo)
            t = (log_f - math.log10(f_lo)) / (math.log10(f_hi) - math.log10(f_lo))
            out = np.where(inside, c_lo + t * (c_hi - c_lo), out)
        f_min, c_min = knots_f[-1], knots_c[-1]
        below = fs < f_min
        out = np.where(below, c_min + (log_f - math.log10(f_min)), out)
        result[short] = out
        extrapolated[short] = beyond | below
        return result, extrapolated
