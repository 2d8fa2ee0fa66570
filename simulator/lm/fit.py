"""Power-law fits of the zoo's measured scaling curves, and the text `lm zoo show` prints.

Per segment, on the mix trained on that segment only (seeds averaged per compute level),
L(C) = E + A * C^(-a) is fitted with scipy.optimize.curve_fit (C in training FLOPs, as in the
table) to the compute frontier: the best bpb measured at compute <= C (running minimum over
levels), as in Chinchilla's envelope approach. A firm with more compute can always train the
cheaper recipe (or stop early), so more compute never buys a worse model. This matters for
the small, repetitive assistant corpus, whose largest budgets over-fit (higher validation bpb
after many epochs); the raw points stay in the table and `zoo show` reports R^2 against both.

This module imports numpy and pandas; scipy when a curve is fitted; never torch.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.lm import corpus
from simulator.lm.grid import ZOO_MIXES


@dataclass(frozen=True)
class PowerLawFit:
    """L(C) = E + A * C^(-alpha), C in FLOPs; r2 on the points it was fitted to (the frontier),
    r2_raw of the same curve against the raw seed-averaged points."""

    E: float
    A: float
    alpha: float
    r2: float
    n_points: int
    r2_raw: float | None = None
    n_capped: int = 0  # points the frontier lowered (worse than a cheaper level)

    def __call__(self, flops):
        return self.E + self.A * np.power(np.asarray(flops, dtype=float), -self.alpha)

    @property
    def decreasing(self) -> bool:
        return self.A > 0 and self.alpha > 0


def fit_power_law(flops: Sequence[float], bpb: Sequence[float]) -> PowerLawFit:
    """Least-squares fit of L(C) = E + A * C^(-alpha) (scipy.optimize.curve_fit).

    Fitted as E + A' * (C / C_min)^(-alpha) for conditioning; A = A' * C_min^alpha.
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    c = np.asarray(flops, dtype=float)
    y = np.asarray(bpb, dtype=float)
    if len(c) < 3:
        raise ValueError("need at least three points to fit E, A and alpha")
    c_ref = float(c.min())
    x = c / c_ref

    def model(x_, e, a_scaled, alpha):
        return e + a_scaled * np.power(x_, -alpha)

    guess = (0.8 * float(y.min()), max(float(y.max() - 0.8 * y.min()), 1e-3), 0.3)
    with warnings.catch_warnings():  # flat curves leave the covariance undefined: irrelevant
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(
            model,
            x,
            y,
            p0=guess,
            bounds=([0.0, 0.0, 0.0], [float(y.min()), np.inf, 5.0]),
            maxfev=20000,
        )
    e, a_scaled, alpha = (float(v) for v in params)
    r2 = r_squared(y, model(x, *params))
    return PowerLawFit(E=e, A=a_scaled * c_ref**alpha, alpha=alpha, r2=r2, n_points=len(c))


def curve_points(table: pd.DataFrame, mix: str, segment: str) -> tuple[np.ndarray, np.ndarray]:
    """(flops, bpb) of one measured curve, sorted by compute, repeats (seeds) averaged."""
    rows = table[(table["mix_name"] == mix) & (table["segment"] == segment)]
    if rows.empty:
        raise ValueError(f"zoo table has no measurements of mix {mix!r} on segment {segment!r}")
    grouped = rows.groupby("flops", sort=True)["bpb"].mean()
    return grouped.index.to_numpy(dtype=float), grouped.to_numpy(dtype=float)


def compute_frontier(bpb: Sequence[float]) -> np.ndarray:
    """Best bpb at compute <= C: running minimum of points sorted by compute."""
    return np.minimum.accumulate(np.asarray(bpb, dtype=float))


def r_squared(observed: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum((observed - observed.mean()) ** 2))
    return 1.0 - float(np.sum((observed - predicted) ** 2)) / total if total > 0 else 1.0


def fit_frontier(flops: np.ndarray, bpb: np.ndarray) -> PowerLawFit:
    """Power law fitted to the compute frontier of one curve, with R^2 against raw points."""
    frontier = compute_frontier(bpb)
    fit = fit_power_law(flops, frontier)
    return dataclasses.replace(
        fit,
        r2_raw=r_squared(np.asarray(bpb, dtype=float), fit(flops)),
        n_capped=int(np.sum(frontier < np.asarray(bpb) - 1e-12)),
    )


def fit_segments(table: pd.DataFrame) -> dict[str, PowerLawFit]:
    """Per segment, the power law fitted to the frontier of the model trained on it alone."""
    segments = [s for s in corpus.SEGMENTS if s in set(table["segment"])]
    return {s: fit_frontier(*curve_points(table, s, s)) for s in segments}


def format_fits(fits: Mapping[str, PowerLawFit]) -> str:
    lines = [
        "fit L(C) = E + A * C^(-a), C in training FLOPs, own-segment mix, on the compute frontier",
        "(best bpb at compute <= C; 'capped' = levels worse than a cheaper one, R^2 raw = same",
        "curve against the raw seed-averaged points):",
        f"  {'segment':10s} {'E':>8s} {'A':>11s} {'a':>7s} {'R^2':>7s} {'R^2 raw':>8s} capped",
    ]
    for segment, fit in fits.items():
        raw = f"{fit.r2_raw:8.4f}" if fit.r2_raw is not None else f"{'-':>8s}"
        lines.append(
            f"  {segment:10s} {fit.E:8.4f} {fit.A:11.4g} {fit.alpha:7.4f} {fit.r2:7.4f} {raw}"
            f" {fit.n_capped:6d}"
        )
    return "\n".join(lines)


def format_table(table: pd.DataFrame) -> str:
    """bpb per (mix, compute level) and evaluated segment, plus the unigram baseline."""
    table = table.assign(flops=table["flops"].map(lambda v: f"{v:.3g}"))
    wide = table.pivot_table(
        index=["mix_name", "level", "flops", "params", "tokens"],
        columns="segment",
        values="bpb",
        aggfunc="mean",
    )
    order = [m for m in ZOO_MIXES if m in set(table["mix_name"])]
    order += sorted(set(table["mix_name"]) - set(order))
    wide = wide.reindex(order, level="mix_name")
    wide = wide[[s for s in corpus.SEGMENTS if s in wide.columns]]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        body = wide.to_string(float_format=lambda v: f"{v:.3f}")
    unigram = table.groupby("segment")["h_unigram"].first()
    baseline = "  ".join(f"{s} {unigram[s]:.3f}" for s in wide.columns)
    meta = table.iloc[0]
    header = (
        f"zoo: {table['config_hash'].nunique()} trainings on {meta.get('device', '?')} "
        f"(torch {meta.get('torch_version', '?')}, {meta.get('threads', '?')} thread(s)), "
        f"total training wall time {table.drop_duplicates('config_hash')['wall_time_s'].sum():.0f}s"
    )
    return f"{header}\nvalidation bits per byte:\n{body}\nbyte-unigram entropy: {baseline}"
