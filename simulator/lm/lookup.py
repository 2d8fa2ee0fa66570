"""The map from a firm's real-world training budget and data mix to product quality per market
segment, read from the zoo's measurements (ZooQuality, used by the market).

1. Real budget -> zoo compute. log10(zoo FLOPs) is a linear function of log10(real FLOPs)
   sending compute_range[0] to the budget of grid level 0 and compute_range[1] to that of
   level 7 (grid.ANCHOR_LEVELS: the original CPU grid; the map does not move when the grid
   grows). The measured zoo reaches further (level 8, 8x level 7's budget): real budgets
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
   byte-unigram cross-entropy (corpus.unigram_entropy), bpb_best the best measured point
   (seeds averaged, any mix) on the segment at budgets up to the anchor level 7 (what
   compute_range[1] maps to). Q = 0 knows
   only byte frequencies, Q = 1 matches the best model measured at the top of the scenario's
   plausible range, Q > 1 is better than that: measured up to level 8, extrapolated (flagged)
   beyond. Q < 0 is worse than byte frequencies (e.g. an English-only model on Chinese). Q is
   not clipped. Anchoring Q like the budget map keeps every scenario's quality scale fixed when
   the grid grows.

5. Data (market.data). A firm's training tokens per segment map log-linearly onto the zoo's
   data fractions (data_range -> [0.1, 1]); where it holds less than all the data, its compute
   on that segment is replaced by the data-limited effective compute of simulator.lm.data_axis
   before steps 2-4. At fraction >= 1 (or without market.data) nothing changes. Such a reading
   is flagged when the firm's own compute is beyond the measured budgets, or its data below
   the smallest measured fraction, or its own-segment data-axis curve is read beyond the
   budgets it was measured at (levels 0-7).

With train_missing=True the firm's exact (mix, compute) point is trained (simulator.lm.grid
.ensure_point, cached) instead of interpolated.

This module imports numpy and pandas only (scipy when a power law is fitted, for extrapolation);
torch is imported when a point is trained (train_missing), never at import and never by a
lookup.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.atomic import atomic_write_text
from simulator.lm import corpus
from simulator.lm.data_axis import DataAxis
from simulator.lm.fit import (
    PowerLawFit,
    compute_frontier,
    curve_points,
    every_curve_points,
    fit_power_law,
)
from simulator.lm.grid import (
    ANCHOR_LEVELS,
    UNIFORM,
    data_axis_rows,
    ensure_point,
    full_data_rows,
    load_zoo_table,
)


def quality_from_bpb(bpb, h_unigram, bpb_best):
    """Q = (H_unigram - bpb) / (H_unigram - bpb_best): 0 at byte frequencies, 1 at the best
    measured model. Works elementwise on numpy arrays and on floats."""
    return (np.asarray(h_unigram) - np.asarray(bpb)) / (
        np.asarray(h_unigram) - np.asarray(bpb_best)
    )


_FITS: dict[str, PowerLawFit | None] = {}
"""Power laws fitted (or read from FITS_FILE) in this process, by curve (``curve_key``): sweeps
and tests build many ZooQuality objects over the same table, and one fit costs as much as a
short run's lookups."""

FITS_FILE = Path(__file__).resolve().parent / "data" / "zoo_fits.json"
"""The power laws of the shipped zoo table's curves, by curve_key, as fit_power_law makes them
(``python -m simulator.lm.lookup`` writes it; tests/test_fast_paths.py checks it against fresh
fits). A run whose curves are in it imports no scipy (scipy.optimize costs ~0.3 s of a run's
start-up); a curve not in it (another table) is fitted as always."""


def curve_key(flops: np.ndarray, bpb: np.ndarray) -> str:
    """A curve's identity: the digest of its points' bits."""
    return hashlib.sha256(flops.tobytes() + bpb.tobytes()).hexdigest()


@functools.cache
def shipped_fits() -> dict[str, PowerLawFit | None]:
    """FITS_FILE's fits ({} without the file)."""
    if not FITS_FILE.is_file():
        return {}
    stored = json.loads(FITS_FILE.read_text(encoding="utf-8"))["fits"]
    return {key: None if fit is None else PowerLawFit(**fit) for key, fit in stored.items()}


def power_law_of(flops: np.ndarray, bpb: np.ndarray) -> PowerLawFit | None:
    """fit_power_law(flops, bpb), None if it cannot be made; once per curve and process, and
    not at all for a curve in FITS_FILE."""
    key = curve_key(flops, bpb)
    if key not in _FITS:
        shipped = shipped_fits()
        if key in shipped:
            _FITS[key] = shipped[key]
        else:
            try:
                _FITS[key] = fit_power_law(flops, bpb)
            except (ValueError, RuntimeError):
                _FITS[key] = None
    return _FITS[key]


def power_law_curves(table: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """(flops, frontier bpb) of every curve of ``table`` a lookup may continue with a power
    law, as MonotoneCurve fits them: every measured (mix, segment) curve of the compute grid,
    and every own-segment curve of the data axis (ZooQuality._build_data_axis)."""
    curves = [
        (flops, compute_frontier(bpb))
        for flops, bpb in every_curve_points(full_data_rows(table)).values()
    ]
    curves += [(flops, compute_frontier(bpb)) for flops, bpb in data_axis_points(table).values()]
    return curves


def write_shipped_fits(path: Path = FITS_FILE) -> int:
    """Fit every power_law_curves curve of the shipped zoo table and write the fits to
    ``path``; returns how many curves."""
    fits = {}
    for flops, frontier in power_law_curves(load_zoo_table()):
        try:
            fit = dataclasses.asdict(fit_power_law(flops, frontier))
        except (ValueError, RuntimeError):
            fit = None
        fits[curve_key(flops, frontier)] = fit
    document = {
        "about": "power laws of the shipped zoo curves (simulator.lm.lookup.FITS_FILE); "
        "rewrite with `python -m simulator.lm.lookup`",
        "fits": dict(sorted(fits.items())),
    }
    atomic_write_text(path, json.dumps(document, indent=1) + "\n")
    return len(fits)


def log_linear_map(values: np.ndarray, source: tuple[float, float], target: tuple[float, float]):
    """Map values so that log10 is linear, sending the source interval onto the target one."""
    (s_low, s_high), (t_low, t_high) = source, target
    fraction = (np.log10(values) - math.log10(s_low)) / (math.log10(s_high) - math.log10(s_low))
    return 10 ** (math.log10(t_low) + fraction * (math.log10(t_high) - math.log10(t_low)))


def _pchip_edge(h0, h1, m0, m1) -> np.ndarray:
    """scipy's PchipInterpolator._edge_case: the one-sided three-point end slope, kept shape
    preserving."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    mask = np.sign(d) != np.sign(m0)
    mask2 = (np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3.0 * np.abs(m0))
    mmm = (~mask) & mask2
    d[mask] = 0.0
    d[mmm] = 3.0 * m0[mmm]
    return d


def pchip_coefficients(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The (4, n - 1) local power-basis coefficients of the monotone PCHIP interpolant through
    (x, y), x strictly increasing, n >= 2: scipy's PchipInterpolator (scipy 1.17,
    ``_find_derivatives`` and CubicHermiteSpline) operation for operation, so the pieces are
    bit for bit scipy's without importing scipy.interpolate (~0.2 s of a run's start-up)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xc, yc = x[:, None], y[:, None]
    hk = xc[1:] - xc[:-1]
    mk = (yc[1:] - yc[:-1]) / hk
    if len(y) == 2:  # two points: linear
        dk = np.zeros_like(yc)
        dk[0] = mk
        dk[1] = mk
    else:
        smk = np.sign(mk)
        condition = (smk[1:] != smk[:-1]) | (mk[1:] == 0) | (mk[:-1] == 0)
        w1 = 2 * hk[1:] + hk[:-1]
        w2 = hk[1:] + 2 * hk[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            whmean = (w1 / mk[:-1] + w2 / mk[1:]) / (w1 + w2)
        dk = np.zeros_like(yc)
        dk[1:-1][condition] = 0.0
        dk[1:-1][~condition] = 1.0 / whmean[~condition]
        dk[0] = _pchip_edge(hk[0], hk[1], mk[0], mk[1])
        dk[-1] = _pchip_edge(hk[-1], hk[-2], mk[-1], mk[-2])
    dydx = dk.reshape(y.shape)
    dx = np.diff(x)
    slope = np.diff(y, axis=0) / dx
    t = (dydx[:-1] + dydx[1:] - 2 * slope) / dx
    return np.stack((t / dx, (slope - dydx[:-1]) / dx - t, dydx[:-1], y[:-1]))


class MonotoneCurve:
    """bpb as a non-increasing function of compute for one (mix, segment) of the zoo.

    Inside the measured range: monotone PCHIP in log10(FLOPs) through the frontier points.
    Outside: the fitted power law shifted to meet the end point (flat if the fit does not
    decrease or could not be made).
    """

    def __init__(self, flops: np.ndarray, bpb: np.ndarray, power_law: bool = True):
        self.log_flops = np.log10(np.asarray(flops, dtype=float))
        self.bpb = compute_frontier(bpb)
        self._flops = np.asarray(flops, dtype=float)
        self._power_law = power_law
        self._fit: PowerLawFit | None | bool = False  # False: not fitted yet
        #: the PCHIP pieces inside the measured range, (4, points - 1); None for one point
        self.coefficients = (
            pchip_coefficients(self.log_flops, self.bpb) if len(self.log_flops) >= 2 else None
        )
        self._pieces = CurvePieces([self])

    @property
    def fit(self) -> PowerLawFit | None:
        """The power law beyond the measured range, fitted on first use (only extrapolation
        needs it, and fitting every curve up front dominated a short run's start-up); one fit
        per curve and process."""
        if self._fit is False:
            self._fit = power_law_of(self._flops, self.bpb) if self._power_law else None
        return self._fit

    def extend(self, x: np.ndarray, result: np.ndarray) -> np.ndarray:
        """``result`` (the curve inside the measured range at ``x`` clipped to it) continued
        by the shifted power law where ``x`` lies outside the range (as one array: the fit's
        powers are those of the same contiguous arrays as always)."""
        low, high = self.log_flops[0], self.log_flops[-1]
        below, above = x < low, x > high
        if (below.any() or above.any()) and self.fit is not None and self.fit.decreasing:
            result = np.where(below, self.bpb[0] + self.fit(10**x) - self.fit(10**low), result)
            result = np.where(above, self.bpb[-1] + self.fit(10**x) - self.fit(10**high), result)
        return result

    def __call__(self, log_flops: np.ndarray) -> np.ndarray:
        x = np.asarray(log_flops, dtype=float)
        inside = self._pieces.evaluate(np.zeros(1, dtype=int), x.reshape(1, -1))
        return self.extend(x, inside.reshape(x.shape))


class CurvePieces:
    """The PCHIP pieces of several MonotoneCurves stacked in arrays, so that one batch of
    numpy operations evaluates every (curve, points) query of a lookup.

    The arithmetic is scipy's PPoly evaluation, operation for operation (interval i with
    x_i <= x < x_(i+1), closed at the right end; c3 + c2 s + c1 s^2 + c0 s^3 summed in that
    order with s^k built by repeated multiplication), so the values are bit for bit those of
    PchipInterpolator; only the per-call overhead of two dozen small scipy calls is gone.
    """

    def __init__(self, curves: list[MonotoneCurve]):
        self.curves = curves
        points = max(len(c.log_flops) for c in curves)
        self.breaks = np.full((len(curves), max(points, 2)), np.inf)
        self.coef = np.zeros((4, len(curves), max(points - 1, 1)))
        for k, curve in enumerate(curves):
            self.breaks[k, : len(curve.log_flops)] = curve.log_flops
            if curve.coefficients is None:  # one point: the constant c3 = bpb
                self.coef[3, k, 0] = curve.bpb[0]
            else:
                self.coef[:, k, : curve.coefficients.shape[1]] = curve.coefficients
        self.low = np.array([c.log_flops[0] for c in curves])
        self.high = np.array([c.log_flops[-1] for c in curves])

    def evaluate(self, ids: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Curve ``ids[q]``'s bpb at the points ``x[q]`` (log10 FLOPs), for every row q of
        ``x`` (Q, N); see MonotoneCurve."""
        low, high = self.low[ids][:, None], self.high[ids][:, None]
        clipped = np.clip(x, low, high)
        interval = (clipped[..., None] >= self.breaks[ids, None, 1:-1]).sum(axis=-1)
        rows = np.broadcast_to(ids[:, None], x.shape)
        s = clipped - self.breaks[rows, interval]
        c = self.coef[:, rows, interval]
        value, power = 0.0 + c[3], s
        value = value + c[2] * power
        power = power * s
        value = value + c[1] * power
        power = power * s
        value = value + c[0] * power
        for q in np.flatnonzero(((x < low) | (x > high)).any(axis=1)):
            value[q] = self.curves[ids[q]].extend(x[q], value[q])
        return value


def data_axis_points(table: pd.DataFrame) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """(flops, seed-mean bpb) of each own-segment data-axis curve, by (segment, fraction)."""
    axis = data_axis_rows(table)
    return every_curve_points(
        axis[axis["mix_name"] == axis["segment"]], ("segment", "data_fraction")
    )


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
        data_range: tuple[float, float] | None = None,
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
        table = load_zoo_table() if table is None else table
        #: the compute grid (whole training data); the data axis is read by DataAxis
        self.table = full_data_rows(table)
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
        measured = every_curve_points(self.table)

        def points(mix: str, segment: str) -> tuple[np.ndarray, np.ndarray]:
            found = measured.get((mix, segment))
            return found if found is not None else curve_points(self.table, mix, segment)

        segment_of = self.table["segment"].to_numpy()
        h_unigram = self.table["h_unigram"].to_numpy(dtype=float)
        top = self.anchor_range[1] * (1 + 1e-9)
        for segment in self.segments:
            self.h_unigram[segment] = float(h_unigram[segment_of == segment][0])
            # Q = 1 at the best measured point (seeds averaged, any mix) up to the anchor
            # budget compute_range[1] maps to, so measuring more levels above it does not
            # rescale every scenario's quality, and the best mix reaches Q = 1 there.
            self.bpb_best[segment] = min(
                float(bpb[curve_flops <= top].min())
                for (_, on), (curve_flops, bpb) in measured.items()
                if on == segment
            )
            self._own[segment] = MonotoneCurve(*points(segment, segment))
            self._uniform[segment] = MonotoneCurve(*points(UNIFORM, segment))
            # No scaling law for a segment never trained on: flat outside the measured range.
            self._never_saw[segment] = [
                MonotoneCurve(*points(other, segment), power_law=False)
                for other in corpus.SEGMENTS
                if other != segment
            ]
        self._trained: dict[tuple, dict[str, float]] = {}
        curves, self._curve_ids = [], {}
        for segment in self.segments:  # uniform, own, then the never-saw curves
            group = [self._uniform[segment], self._own[segment], *self._never_saw[segment]]
            self._curve_ids[segment] = list(range(len(curves), len(curves) + len(group)))
            curves += group
        self._pieces = CurvePieces(curves)
        self.data_range: tuple[float, float] | None = None
        self.data_axis: DataAxis | None = None
        if data_range is not None:
            self._build_data_axis(table, data_range)

    def _build_data_axis(self, table: pd.DataFrame, data_range: tuple[float, float]) -> None:
        """The own-segment curves at each measured data fraction (see simulator.lm.data_axis)."""
        low, high = (float(v) for v in data_range)
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
            raise ValueError(f"data_range must satisfy 0 < low < high, got {data_range}")
        points = data_axis_points(table)
        curves, measured = {}, {}
        for segment in self.segments:
            own = {f: p for (s, f), p in points.items() if s == segment}
            if not own:
                raise ValueError(
                    f"the zoo table has no data axis for segment {segment!r}; rebuild it with "
                    "`llm-market lm zoo build`"
                )
            curves[segment] = {1.0: self._own[segment]}
            measured[segment] = {}
            for fraction, (flops, bpb) in sorted(own.items()):
                curves[segment][fraction] = MonotoneCurve(flops, bpb)
                measured[segment][fraction] = (math.log10(flops.min()), math.log10(flops.max()))
        self.data_range = (low, high)
        self.data_axis = DataAxis(curves, measured, tuple(math.log10(v) for v in self.zoo_range))

    def data_fraction(self, real_tokens: np.ndarray) -> np.ndarray:
        """The zoo data fraction of real training tokens: log10 linear, sending data_range
        onto [smallest measured fraction, 1]; above 1 (more data than the zoo measured) the
        lookup counts it as 1."""
        if self.data_axis is None or self.data_range is None:
            raise ValueError("this quality map has no data_range (market.data)")
        tokens = np.maximum(np.asarray(real_tokens, dtype=float), 1.0)
        return log_linear_map(tokens, self.data_range, (self.data_axis.smallest_fraction, 1.0))

    def zoo_compute(self, real_flops: np.ndarray) -> np.ndarray:
        """log10(zoo) = linear in log10(real), sending compute_range onto the anchor levels."""
        real = np.asarray(real_flops, dtype=float)
        if np.any(~np.isfinite(real)) or np.any(real <= 0):
            raise ValueError("real_flops must be finite and > 0")
        return log_linear_map(real, self.compute_range, self.anchor_range)

    def real_compute(self, zoo_flops: np.ndarray) -> np.ndarray:
        """The inverse of zoo_compute: the real budget that maps to a zoo budget."""
        return log_linear_map(
            np.asarray(zoo_flops, dtype=float), self.anchor_range, self.compute_range
        )

    @property
    def measured_real_range(self) -> tuple[float, float]:
        """Real training budgets whose quality comes from measured models (inside the zoo's
        measured budgets); outside it the quality is extrapolated."""
        low, high = self.real_compute(np.array(self.zoo_range))
        return float(low), float(high)

    def segment_bpb(self, segment: str, log_zoo_flops: np.ndarray, weight: np.ndarray):
        """bpb on `segment` for compute (log10 zoo FLOPs) and the firm's weight on it."""
        log_c = np.atleast_1d(np.asarray(log_zoo_flops, dtype=float))
        weights = np.broadcast_to(np.asarray(weight, dtype=float), log_c.shape)[:, None]
        return self._segments_bpb([segment], log_c, weights)[0][:, 0]

    def _segments_bpb(
        self,
        segments: list[str],
        log_c: np.ndarray,
        weights: np.ndarray,
        log_flag: np.ndarray | None = None,
    ):
        """(bpb, extrapolated), each (F, len(segments)), for compute ``log_c`` (F,), or per
        segment (segments, F), and the weights (F, segments): every curve of every segment
        read in one batch (CurvePieces). Extrapolated where the compute read off a curve lies
        outside the measured budgets (for w < 1/4, the reduced compute, where it sets bpb);
        ``log_flag``, when given, is the compute the flag is judged at instead (the firms' own
        compute when ``log_c`` is data-limited: that reading maps a measured data-axis point)."""
        u = self.UNIFORM_WEIGHT
        w = np.clip(weights, 0.0, 1.0).T  # (S, F)
        # Below the uniform weight: the uniform model at the compute that holds as much s-data.
        with np.errstate(divide="ignore"):
            log_effective = log_c + np.log10(np.minimum(w, u) / u)
        ids = np.array([self._curve_ids[s] + self._curve_ids[s][:1] for s in segments])
        x = np.empty(ids.shape + w.shape[1:])  # (S, curves, F): read at log_c but the last
        x[:, :-1] = log_c if log_c.ndim == 1 else log_c[:, None, :]
        x[:, -1] = np.maximum(log_effective, -300.0)
        values = self._pieces.evaluate(ids.ravel(), x.reshape(ids.size, -1)).reshape(x.shape)
        uniform = values[:, 0]
        own = np.minimum(values[:, 1], uniform)
        never_saw = np.maximum(np.mean(values[:, 2:-1], axis=1), uniform)
        high_part = uniform + (own - uniform) * (np.maximum(w, u) - u) / (1.0 - u)
        reduced = np.where(w > 0, values[:, -1], np.inf)
        low_part = np.minimum(never_saw, reduced)
        log_low, log_high = (math.log10(v) for v in self.zoo_range)
        tolerance = 1e-9
        if log_flag is not None:
            log_c = log_flag
            with np.errstate(divide="ignore"):
                log_effective = log_c + np.log10(np.minimum(w, u) / u)
        outside = (log_c < log_low - tolerance) | (log_c > log_high + tolerance)  # (F,)
        reduced_outside = (w > 0) & (log_effective < log_low - tolerance) & (reduced < never_saw)
        extrapolated = np.where(w >= u, outside, outside | reduced_outside)
        return np.where(w >= u, high_part, low_part).T, extrapolated.T

    def __call__(
        self, real_flops: np.ndarray, mix: np.ndarray, data: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(quality (F,S), bpb (F,S), extrapolated (F,S)) for F firms over the S segments.

        ``data`` (F,S): each firm's real training tokens per segment (market.data); None: no
        data limit (every firm has all the data the zoo measured)."""
        real = np.atleast_1d(np.asarray(real_flops, dtype=float))
        if real.ndim != 1:
            raise ValueError(f"real_flops must have shape (F,), got {real.shape}")
        weights = self._firm_matrix("mix", "mix weights", mix, len(real))
        totals = weights.sum(axis=1, keepdims=True)
        if np.any(totals <= 0):
            raise ValueError("every firm's mix must have positive total weight")
        weights = weights / totals
        zoo_flops = self.zoo_compute(real)
        log_zoo = np.log10(zoo_flops)
        limited = np.zeros(len(real), dtype=bool)
        if data is None or self.data_axis is None:
            bpb, extrapolated = self._segments_bpb(self.segments, log_zoo, weights)
        else:
            log_eff, data_extrapolated = self.effective_log_compute(log_zoo, data)
            bpb, extrapolated = self._segments_bpb(self.segments, log_eff, weights, log_zoo)
            extrapolated = extrapolated | data_extrapolated.T
            limited = (log_eff < log_zoo).any(axis=0)
        if self.train_missing:
            z_low, z_high = self.zoo_range
            inside = (zoo_flops >= z_low * (1 - 1e-9)) & (zoo_flops <= z_high * (1 + 1e-9))
            inside &= ~limited  # trained points have all the data
            for firm in np.flatnonzero(inside):
                measured = self._measured_bpb(weights[firm], float(zoo_flops[firm]))
                bpb[firm] = [measured[s] for s in self.segments]
                extrapolated[firm] = False
        h = np.array([self.h_unigram[s] for s in self.segments])
        best = np.array([self.bpb_best[s] for s in self.segments])
        return quality_from_bpb(bpb, h, best), bpb, extrapolated

    def _firm_matrix(self, name: str, what: str, values, firms: int) -> np.ndarray:
        """``values`` as a float (F, S) array; ValueError unless that shape, finite and >= 0."""
        array = np.asarray(values, dtype=float)
        if array.shape != (firms, len(self.segments)):
            raise ValueError(
                f"{name} must have shape (F, S) = ({firms}, {len(self.segments)}), "
                f"got {array.shape}"
            )
        if np.any(~np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"{what} must be finite and >= 0")
        return array

    def effective_log_compute(self, log_zoo: np.ndarray, data: np.ndarray):
        """(log10 data-limited zoo compute, extrapolated), each (S, F), for firms' log10 zoo
        compute (F,) and real tokens ``data`` (F, S) (simulator.lm.data_axis)."""
        assert self.data_axis is not None
        tokens = self._firm_matrix("data", "data stocks", data, len(log_zoo))
        fractions = self.data_fraction(tokens)
        out = np.empty((len(self.segments), len(log_zoo)))
        extrapolated = np.zeros(out.shape, dtype=bool)
        for k, segment in enumerate(self.segments):
            out[k], extrapolated[k] = self.data_axis.effective(segment, log_zoo, fractions[:, k])
        return out, extrapolated

    def _measured_bpb(self, weights: np.ndarray, zoo_flops: float) -> dict[str, float]:
        mix = {s: round(float(w), 2) for s, w in zip(self.segments, weights, strict=True)}
        key = (tuple(sorted(mix.items())), float(f"{zoo_flops:.3g}"))
        if key not in self._trained:
            measurement = ensure_point(mix, zoo_flops, grid=self.grid, threads=self.threads)
            self._trained[key] = measurement.bpb
        return self._trained[key]


if __name__ == "__main__":  # python -m simulator.lm.lookup: rewrite FITS_FILE
    print(f"{FITS_FILE}: {write_shipped_fits()} curves")
