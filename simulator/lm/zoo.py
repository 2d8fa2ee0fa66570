"""The model zoo: measured bpb of small byte-level GPTs over a compute grid, and the map from a
firm's real-world training budget and data mix to product quality per market segment.

Grid. `llm-market lm zoo build` trains every (compute level x mix) point of a grid: compute
levels double from the smallest budget (8 levels = 2.1 orders of magnitude on the CPU "small"
grid), the architecture grows with compute like a scaling-law sweep, and the mixes are the four
single-segment mixes plus the uniform mix. Every model is evaluated on all four segments, so
the shipped table (data/zoo.csv) has one row per (trained config, evaluated segment): columns
level, mix_name, segment, bpb, h_unigram, flops, params, tokens, architecture, seed,
config_hash, device, torch_version, wall time. Points come from `train`, hence from the cache,
so an interrupted build resumes where it stopped; the table is written once, atomically.

Fit. Per segment, on the mix trained on that segment only, L(C) = E + A * C^(-a) is fitted with
scipy.optimize.curve_fit (C in FLOPs as in the table) and R^2 is reported.

Map used by the simulation (ZooQuality):
1. Real budget -> zoo compute. log10(zoo FLOPs) is a linear function of log10(real FLOPs)
   sending compute_range[0] to the smallest measured zoo budget and compute_range[1] to the
   largest; monotone increasing.
2. Zoo compute -> bpb for each measured mix curve. The measured points of each (mix, segment)
   curve are made non-increasing in compute (isotonic regression), then interpolated with
   monotone PCHIP in log10(compute). Outside the measured range the curve continues with its
   fitted power law, shifted to meet the end point (so it stays continuous and monotone; flat if
   the fit does not decrease), and the firm is flagged `extrapolated`.
3. Data mix -> bpb on segment s. With w the firm's weight on s, three anchors are blended
   piecewise-linearly in w: w=0 -> mean bpb on s of the models trained on the other single
   segments ("never saw s"), w=1/4 -> the uniform mix, w=1 -> the model trained on s alone.
   Anchors are first ordered (uniform >= single, never-saw >= uniform, by taking maxima), so more
   weight on s never worsens bpb on s, and more compute never worsens it either.
4. bpb -> quality. Q = (H_unigram - bpb) / (H_unigram - bpb_best): H_unigram is the segment's
   byte-unigram cross-entropy (corpus.unigram_entropy), bpb_best the best bpb in the zoo for
   the segment. Q = 0 knows only byte frequencies, Q = 1 matches the best measured model, Q > 1
   can only come from extrapolation and Q < 0 is worse than byte frequencies (e.g. an
   English-only model on Chinese). Q is not clipped.

This module imports numpy, pandas and scipy only; torch is imported when a point is trained.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simulator.lm import cache, corpus

if TYPE_CHECKING:
    from simulator.lm.train import Measurement, TrainConfig

ZOO_CSV_NAME = "zoo.csv"
UNIFORM = "uniform"
ZOO_MIXES: tuple[str, ...] = (*corpus.SEGMENTS, UNIFORM)


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
    block_size: int = 128


def _doubling_levels(first_flops: float, rungs: Sequence[tuple[int, int, int, int, float]]):
    return tuple(
        GridPoint(level, first_flops * 2.0**level, *rung) for level, rung in enumerate(rungs)
    )


#: CPU grid: ~26 min on one thread of a 2-core laptop-class CPU (5 mixes x 8 levels).
#: rungs: (n_layer, n_embd, n_head, batch_size, lr). FLOPs per token grow ~1.4x per level and
#: so do tokens (compute doubles), like a compute-optimal scaling-law sweep.
SMALL_GRID: tuple[GridPoint, ...] = _doubling_levels(
    7e10,
    [
        (2, 32, 2, 8, 1e-2),
        (2, 40, 2, 8, 1e-2),
        (2, 48, 3, 8, 8e-3),
        (2, 64, 4, 8, 6e-3),
        (3, 64, 4, 16, 6e-3),
        (3, 80, 4, 16, 5e-3),
        (3, 96, 4, 16, 4e-3),
        (3, 112, 4, 16, 4e-3),
    ],
)

#: GPU grid: 10 doublings from 1e13 FLOPs, models up to ~10M parameters.
LARGE_GRID: tuple[GridPoint, ...] = _doubling_levels(
    1e13,
    [
        (3, 96, 4, 32, 4e-3),
        (3, 128, 4, 32, 3e-3),
        (4, 128, 4, 64, 3e-3),
        (4, 160, 5, 64, 2.5e-3),
        (4, 192, 6, 64, 2e-3),
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
    jobs = [(mix, point) for mix in ZOO_MIXES for point in points]
    rows: list[dict] = []
    started = time.perf_counter()
    for index, (mix, point) in enumerate(jobs, start=1):
        config = grid_config(point, mix, seed=seed, threads=threads, device=device)
        measurement = train(config, quiet=True)
        rows.extend(measurement_rows(measurement, grid, point.level))
        source = "cache" if measurement.from_cache else f"{measurement.wall_time_s:.1f}s"
        own = measurement.bpb.get(mix) if mix in corpus.SEGMENTS else None
        own_text = f" {mix} bpb {own:.3f}" if own is not None else ""
        if not quiet:
            log(
                f"[{index}/{len(jobs)}] {mix:9s} level {point.level} flops {point.flops:.3g} "
                f"params {measurement.params:,} ({source}, total {time.perf_counter() - started:.0f}s)"
                f"{own_text}"
            )
    table = pd.DataFrame(rows)
    table["built_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    table["build_wall_s"] = round(time.perf_counter() - started, 1)
    cache.atomic_write(out_path, lambda path: table.to_csv(path, index=False))
    if not quiet:
        log(f"wrote {len(table)} rows ({len(jobs)} trainings) to {out_path}")
    return table


def _main(argv: Sequence[str] | None = None) -> int:
    from simulator.lm.cli import main

    return main(["zoo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(_main())

_ = math  # noqa: used below
