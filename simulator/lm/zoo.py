"""The model zoo: measured bpb of small byte-level GPTs over a compute grid, and the map from a
firm's real-world training budget and data mix to product quality per market segment.

Grid. `llm-market lm zoo build` trains every (compute level x mix) point of a grid: compute
levels grow geometrically from the smallest budget (8 levels x1.95 = 2.03 orders of magnitude on
the CPU "small" grid), the architecture grows with compute like a scaling-law sweep, and the
mixes are the four single-segment mixes plus the uniform mix. The cheapest levels average
several seeds. Every model is evaluated on all four segments, so the shipped table
(data/zoo.csv) has one row per (trained config, evaluated segment): columns grid, level,
mix_name, segment, bpb, h_unigram, flops, params, tokens, steps, architecture, batch size, lr,
seed, config_hash, wall time, tokens/s, device, threads, torch_version. Points come from
`train`, hence from the cache, so an interrupted build resumes where it stopped; the table is
written once, atomically.

Fit. Per segment, on the mix trained on that segment only (seeds averaged per compute level),
L(C) = E + A * C^(-a) is fitted with scipy.optimize.curve_fit (C in training FLOPs, as in the
table) to the compute frontier: the best bpb measured at compute <= C (running minimum over
levels), as in Chinchilla's envelope approach. A firm with more compute can always train the
cheaper recipe (or stop early), so more compute never buys a worse model. This matters for
the small, repetitive assistant corpus, whose largest budgets over-fit (higher validation bpb
after many epochs); the raw points stay in the table and `zoo show` reports R^2 against both.

Map used by the simulation (ZooQuality):
1. Real budget -> zoo compute. log10(zoo FLOPs) is a linear function of log10(real FLOPs)
   sending compute_range[0] to the smallest measured zoo budget and compute_range[1] to the
   largest; monotone increasing.
2. Zoo compute -> bpb for each measured mix curve. The measured points of each (mix, segment)
   curve are replaced by their compute frontier (running minimum, see Fit), then interpolated
   with monotone PCHIP in log10(compute). Outside the measured range the curve continues with its
   fitted power law, shifted to meet the end point (so it stays continuous and monotone; flat if
   the fit does not decrease), and the firm is flagged `extrapolated`.
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

This module imports numpy, pandas and scipy only; torch is imported when a point is trained.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simulator.atomic import atomic_write
from simulator.lm import corpus

if TYPE_CHECKING:
    from simulator.lm.train import Measurement, TrainConfig

ZOO_CSV_NAME = "zoo.csv"
UNIFORM = "uniform"
ZOO_MIXES: tuple[str, ...] = (*corpus.SEGMENTS, UNIFORM)
#: Order in which `build_zoo` trains the mixes (code first: its curve is the hardest to fit).
BUILD_ORDER: tuple[str, ...] = ("code", "assistant", "creative", "chinese", UNIFORM)


# --------------------------------------------------------------------------------------------
# Grid
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridPoint:
    """One compute level of a grid: budget in FLOPs and the architecture trained at it."""

    level: int
    flops: float
    n_layer: int
    n_embd: int
    n_head: int
    batch_size: int
    lr: float
    seeds: int = 1  # independent trainings averaged at this level (cheap levels are noisy)
    block_size: int = 128


def _geometric_levels(
    first_flops: float, ratio: float, rungs: Sequence[tuple]
) -> tuple[GridPoint, ...]:
    return tuple(
        GridPoint(level, float(f"{first_flops * ratio**level:.4g}"), *rung)
        for level, rung in enumerate(rungs)
    )


#: CPU grid: ~30 min on one thread of a 2-core laptop-class CPU (5 mixes x 8 levels, x1.95
#: per level = 2.03 orders of magnitude). rungs: (n_layer, n_embd, n_head, batch_size, lr,
#: seeds). At these budgets training is limited by optimizer steps, so the batch stays small
#: (8 sequences; 4 at the cheapest level) and steps grow smoothly with compute (~490 -> ~3900)
#: while width and depth grow slowly, like a scaling-law sweep. The cheapest levels average
#: several seeds because single short runs scatter by ~0.1-0.2 bpb.
SMALL_GRID: tuple[GridPoint, ...] = _geometric_levels(
    5e10,
    1.95,
    [
        (1, 32, 2, 4, 1e-2, 3),
        (1, 32, 2, 8, 1e-2, 3),
        (2, 32, 2, 8, 1e-2, 3),
        (2, 40, 2, 8, 8e-3, 2),
        (2, 48, 3, 8, 8e-3, 2),
        (3, 48, 3, 8, 8e-3),
        (3, 56, 4, 8, 6e-3),
        (3, 64, 4, 8, 6e-3),
    ],
)

#: GPU grid: 10 doublings from 1e13 FLOPs, models up to ~10M parameters.
LARGE_GRID: tuple[GridPoint, ...] = _geometric_levels(
    1e13,
    2.0,
    [
        (3, 96, 4, 16, 4e-3),
        (3, 128, 4, 16, 3e-3),
        (4, 128, 4, 32, 3e-3),
        (4, 160, 5, 32, 2.5e-3),
        (4, 192, 6, 32, 2e-3),
        (5, 224, 7, 64, 2e-3),
        (6, 256, 8, 64, 1.5e-3),
        (6, 320, 8, 64, 1.2e-3),
        (8, 320, 8, 64, 1e-3),
        (8, 384, 8, 64, 1e-3),
    ],
)

GRIDS = {"small": SMALL_GRID, "large": LARGE_GRID}


def resolve_grid(name: str) -> str:
    """'auto' -> 'large' when CUDA is available, else 'small'."""
    if name == "auto":
        import torch

        return "large" if torch.cuda.is_available() else "small"
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; use small, large or auto")
    return name


def mix_weights(mix: str) -> dict[str, float]:
    return corpus.parse_mix(mix)


def grid_config(point: GridPoint, mix: str, seed: int = 0, threads: int = 1,
                device: str = "auto") -> TrainConfig:
    from simulator.lm.train import TrainConfig

    return TrainConfig(
        mix=mix_weights(mix),
        flops=point.flops,
        n_layer=point.n_layer,
        n_embd=point.n_embd,
        n_head=point.n_head,
        block_size=point.block_size,
        batch_size=point.batch_size,
        lr=point.lr,
        seed=seed,
        threads=threads,
        device=device,
    )


def measurement_rows(measurement: Measurement, grid: str, level: int) -> list[dict]:
    """One table row per evaluated segment of a measurement."""
    config = measurement.config
    return [
        {
            "grid": grid,
            "level": level,
            "mix_name": measurement.mix_name,
            "segment": segment,
            "bpb": bpb,
            "h_unigram": corpus.unigram_entropy(segment),
            "flops": measurement.flops,
            "params": measurement.params,
            "tokens": measurement.tokens,
            "steps": measurement.steps,
            "n_layer": config["n_layer"],
            "n_embd": config["n_embd"],
            "n_head": config["n_head"],
            "block_size": config["block_size"],
            "batch_size": config["batch_size"],
            "lr": config["lr"],
            "seed": measurement.seed,
            "config_hash": measurement.config_hash,
            "wall_time_s": round(measurement.wall_time_s, 3),
            "train_time_s": round(measurement.train_time_s, 3),
            "tokens_per_s": round(measurement.tokens_per_s, 1),
            "device": measurement.device,
            "threads": measurement.threads,
            "torch_version": measurement.torch_version,
        }
        for segment, bpb in measurement.bpb.items()
    ]


def shipped_table_path() -> Path:
    """Path of data/zoo.csv inside the package (it may not exist yet)."""
    return Path(str(resources.files("simulator.lm").joinpath("data").joinpath(ZOO_CSV_NAME)))


def build_zoo(
    grid: str = "auto",
    threads: int = 1,
    out: str | Path | None = None,
    device: str = "auto",
    seed: int = 0,
    quiet: bool = False,
    log=print,
) -> pd.DataFrame:
    """Train (or fetch from the cache) every grid point and write the table to `out`.

    Resumable: finished points live in the cache, so a rerun only trains the missing ones.
    The table is written once at the end, atomically.
    """
    from simulator.lm.train import train

    grid = resolve_grid(grid)
    points = GRIDS[grid]
    out_path = Path(out) if out is not None else shipped_table_path()
    jobs = [
        (mix, point, seed + offset)
        for mix in BUILD_ORDER
        for point in points
        for offset in range(point.seeds)
    ]
    rows: list[dict] = []
    started = time.perf_counter()
    for index, (mix, point, point_seed) in enumerate(jobs, start=1):
        config = grid_config(point, mix, seed=point_seed, threads=threads, device=device)
        measurement = train(config, quiet=True)
        rows.extend(measurement_rows(measurement, grid, point.level))
        source = "cache" if measurement.from_cache else f"{measurement.wall_time_s:.1f}s"
        own = measurement.bpb.get(mix) if mix in corpus.SEGMENTS else None
        own_text = f" {mix} bpb {own:.3f}" if own is not None else ""
        if not quiet:
            elapsed = time.perf_counter() - started
            log(
                f"[{index}/{len(jobs)}] {mix:9s} level {point.level} seed {point_seed} "
                f"flops {point.flops:.3g} params {measurement.params:,} "
                f"({source}, total {elapsed:.0f}s){own_text}"
            )
    table = pd.DataFrame(rows)
    table["built_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    table["build_wall_s"] = round(time.perf_counter() - started, 1)
    atomic_write(out_path, lambda path: table.to_csv(path, index=False))
    if not quiet:
        log(f"wrote {len(table)} rows ({len(jobs)} trainings) to {out_path}")
    return table


# --------------------------------------------------------------------------------------------
# Table and fit
# --------------------------------------------------------------------------------------------

REQUIRED_COLUMNS = ("level", "mix_name", "segment", "bpb", "h_unigram", "flops", "config_hash")


def load_zoo_table(path: str | Path | None = None) -> pd.DataFrame:
    """Read the zoo table (default: the one shipped in the package); a copy of a cached read,
    so sweeps that build many ZooQuality objects parse the CSV once per process."""
    table_path = Path(path) if path is not None else shipped_table_path()
    stat = table_path.stat() if table_path.is_file() else None
    key = (str(table_path.resolve()), stat.st_mtime_ns if stat else None)
    return _read_zoo_table(*key).copy()


@functools.lru_cache(maxsize=8)
def _read_zoo_table(path: str, mtime_ns: int | None) -> pd.DataFrame:
    table_path = Path(path)
    if not table_path.is_file():
        raise FileNotFoundError(
            f"zoo table not found at {table_path}; build it with `llm-market lm zoo build`"
        )
    table = pd.read_csv(table_path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"zoo table {table_path} lacks columns: {', '.join(missing)}")
    return table


def quality_from_bpb(bpb, h_unigram, bpb_best):
    """Q = (H_unigram - bpb) / (H_unigram - bpb_best): 0 at byte frequencies, 1 at the best
    measured model. Works elementwise on numpy arrays and on floats."""
    return (np.asarray(h_unigram) - np.asarray(bpb)) / (
        np.asarray(h_unigram) - np.asarray(bpb_best)
    )


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
            model, x, y, p0=guess, bounds=([0.0, 0.0, 0.0], [float(y.min()), np.inf, 5.0]),
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


# --------------------------------------------------------------------------------------------
# Lookup for the simulation
# --------------------------------------------------------------------------------------------


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
        self.fit: PowerLawFit | None = None
        if power_law:
            try:
                self.fit = fit_power_law(flops, self.bpb)
            except (ValueError, RuntimeError):
                self.fit = None
        if len(self.log_flops) >= 2:
            self.inside = PchipInterpolator(self.log_flops, self.bpb, extrapolate=False)
        else:
            self.inside = None

    def __call__(self, log_flops: np.ndarray) -> np.ndarray:
        x = np.asarray(log_flops, dtype=float)
        low, high = self.log_flops[0], self.log_flops[-1]
        if self.inside is not None:
            result = self.inside(np.clip(x, low, high))
        else:
            result = np.full_like(x, self.bpb[0])
        if self.fit is not None and self.fit.decreasing:
            below, above = x < low, x > high
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
        self.zoo_range = (float(flops.min()), float(flops.max()))
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
        """log10(zoo) = linear in log10(real), sending compute_range onto the zoo's range."""
        real = np.asarray(real_flops, dtype=float)
        if np.any(~np.isfinite(real)) or np.any(real <= 0):
            raise ValueError("real_flops must be finite and > 0")
        (r_low, r_high), (z_low, z_high) = self.compute_range, self.zoo_range
        fraction = (np.log10(real) - math.log10(r_low)) / (math.log10(r_high) - math.log10(r_low))
        return 10 ** (math.log10(z_low) + fraction * (math.log10(z_high) - math.log10(z_low)))

    def segment_bpb(self, segment: str, log_zoo_flops: np.ndarray, weight: np.ndarray):
        """bpb on `segment` for compute (log10 zoo FLOPs) and the firm's weight on it."""
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
        return np.where(w >= u, high_part, low_part)

    def __call__(
        self, real_flops: np.ndarray, mix: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(quality (F,S), bpb (F,S), extrapolated (F,)) for F firms over the S segments."""
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
        z_low, z_high = self.zoo_range
        extrapolated = (zoo_flops < z_low * (1 - 1e-9)) | (zoo_flops > z_high * (1 + 1e-9))
        bpb = np.column_stack(
            [self.segment_bpb(s, log_zoo, weights[:, j]) for j, s in enumerate(self.segments)]
        )
        if self.train_missing:
            for firm in np.flatnonzero(~extrapolated):
                measured = self._measured_bpb(weights[firm], float(zoo_flops[firm]))
                bpb[firm] = [measured[s] for s in self.segments]
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


def ensure_point(
    mix: Mapping[str, float],
    zoo_flops: float,
    grid: str = "small",
    seed: int = 0,
    threads: int = 1,
    quiet: bool = True,
) -> Measurement:
    """Train (or fetch from the cache) the model for a data mix at a zoo budget.

    The architecture is that of the grid level nearest in log-compute; the mix weights are
    rounded to 2 decimals and the budget to 3 significant digits so nearby requests share a
    cache entry. Meant to run before a simulation, never inside a market step.
    """
    from simulator.lm.train import train

    if not (math.isfinite(zoo_flops) and zoo_flops > 0):
        raise ValueError(f"zoo_flops must be > 0, got {zoo_flops}")
    rounded = corpus.normalise_mix({s: round(float(w), 2) for s, w in mix.items()})
    points = GRIDS[resolve_grid(grid)]
    nearest = min(points, key=lambda p: abs(math.log10(p.flops) - math.log10(zoo_flops)))
    config = grid_config(nearest, "uniform", seed=seed, threads=threads)
    config.mix = rounded
    config.flops = float(f"{zoo_flops:.3g}")
    return train(config, quiet=quiet)


def _main(argv: Sequence[str] | None = None) -> int:
    from simulator.lm.cli import main

    return main(["zoo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(_main())
