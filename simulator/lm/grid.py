"""The zoo's compute grid, its build, and the shipped measurement table.

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

`load_zoo_table` reads the table (cached per process), and `ensure_point` trains (or fetches)
one off-grid (mix, compute) point with the architecture of the nearest grid level.

This module imports numpy and pandas only; torch is imported when a point is trained (and
scipy not at all).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

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


#: CPU grid, levels 0-7 (x1.95 per level = 2.03 orders of magnitude). rungs: (n_layer,
#: n_embd, n_head, batch_size, lr, seeds). At these budgets training is limited by optimizer
#: steps, so the batch stays small (8 sequences; 4 at the cheapest level) and steps grow
#: smoothly with compute (~490 -> ~3900) while width and depth grow slowly, like a scaling-law
#: sweep. Every level averages several seeds: short runs scatter by ~0.1-0.2 bpb, and the
#: data-limited assistant models by ~0.05 at levels 5-7. These eight levels anchor the market's
#: budget map (ANCHOR_LEVELS).
_SMALL_BASE: tuple[GridPoint, ...] = _geometric_levels(
    5e10,
    1.95,
    [
        (1, 32, 2, 4, 1e-2, 3),
        (1, 32, 2, 8, 1e-2, 3),
        (2, 32, 2, 8, 1e-2, 3),
        (2, 40, 2, 8, 8e-3, 2),
        (2, 48, 3, 8, 8e-3, 2),
        (3, 48, 3, 8, 8e-3, 2),
        (3, 56, 4, 8, 6e-3, 2),
        (3, 64, 4, 8, 6e-3, 2),
    ],
)
#: Level 8 extends the CPU grid by three doublings (x8) above level 7, so the budgets that
#: firms of the shipped scenarios reach late in a run are measured, not extrapolated (between
#: levels 7 and 8 the curves are interpolated). A wider, deeper model with batches of 16 (the
#: best CPU throughput per FLOP at this size). One level, not three, because on the 2-core
#: build machine each training at this budget takes ~10 CPU-minutes.
_SMALL_EXTENSION: tuple[GridPoint, ...] = (
    GridPoint(8, float(f"{_SMALL_BASE[-1].flops * 8:.4g}"), 4, 128, 4, 16, 3e-3),
)
#: CPU grid: 9 levels, 5.0e10 -> 4.29e13 FLOPs (2.93 orders of magnitude).
SMALL_GRID: tuple[GridPoint, ...] = _SMALL_BASE + _SMALL_EXTENSION
#: Levels whose budgets the market's budget map sends compute_range to (lookup.ZooQuality):
#: the original CPU grid, so extending the grid upward adds measurements beyond
#: compute_range[1] without moving the map.
ANCHOR_LEVELS = (0, 7)

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

#: The data axis (the data-flywheel issue): the single-segment mixes are also trained on nested
#: prefixes of their fit split (corpus.fit_subset) at these fractions, at DATA_LEVELS of each
#: grid, with early stopping, so the table shows where more compute on too little data stops
#: helping. Fraction 1 is the compute grid itself. One seed per point; four levels spanning the
#: anchored range (0 and 7 are the budget map's anchors) keep the CPU build near an hour.
DATA_FRACTIONS: tuple[float, ...] = (0.1, 0.3)
DATA_LEVELS = {"small": (0, 3, 5, 7), "large": (0, 3, 6, 9)}


#: Dropout of trainings that would see some segment's data at least REPEAT_EPOCHS times over
#: their whole schedule (planned_epochs): the deduplicated assistant corpus from level 4 up,
#: the uniform mix at level 8 and the data axis's small prefixes. Many epochs on little data
#: is where models memorise; dropout 0.1 lowered the assistant's level-4-7 bpb by 0.04-0.22
#: in single-seed trials, while on code (under 10 epochs) it cost 0.15-0.2, so it is not used
#: below the threshold.
REPEAT_DROPOUT = 0.1
REPEAT_EPOCHS = 15.0


def config_epochs(config: TrainConfig) -> float:
    """Most passes over any trained segment's (fraction of its) fit split that the whole
    schedule of ``config`` would make: steps x batch x block tokens, shared out by the mix."""
    tokens = config.num_steps() * config.tokens_per_step()
    return max(
        tokens * weight / len(corpus.fit_subset(segment, config.data_fraction))
        for segment, weight in config.mix.items()
    )


def repeat_dropout(config: TrainConfig) -> float:
    """REPEAT_DROPOUT where config_epochs >= REPEAT_EPOCHS, else 0 (see REPEAT_DROPOUT)."""
    return REPEAT_DROPOUT if config_epochs(config) >= REPEAT_EPOCHS else 0.0


def planned_epochs(point: GridPoint, mix: str, data_fraction: float = 1.0) -> float:
    """config_epochs of a named mix trained at a grid point."""
    return config_epochs(grid_config(point, mix, data_fraction=data_fraction))


def zoo_config(
    point: GridPoint,
    mix: str | Mapping[str, float],
    seed: int = 0,
    threads: int = 1,
    device: str = "auto",
    data_fraction: float = 1.0,
    flops: float | None = None,
    steps: int | None = None,
) -> TrainConfig:
    """How the zoo trains ``mix`` (a name or weights) with a grid point's architecture: its
    budget, or ``flops`` / ``steps``, with the dropout rule (repeat_dropout). Build jobs,
    `lm train --zoo-level` and ensure_point all use it, so they reach the same cache entries."""
    config = grid_config(point, mix, seed, threads, device, data_fraction)
    if flops is not None or steps is not None:
        config = replace(config, flops=flops, steps=steps)
    return replace(config, dropout=repeat_dropout(config))


class Job(NamedTuple):
    """One training of a build: a mix at a grid level, a seed and a data fraction."""

    mix: str
    point: GridPoint
    seed: int
    data_fraction: float = 1.0


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


def grid_config(
    point: GridPoint,
    mix: str | Mapping[str, float],
    seed: int = 0,
    threads: int = 1,
    device: str = "auto",
    data_fraction: float = 1.0,
) -> TrainConfig:
    """A grid point's architecture and budget for a mix (a name or weights), no dropout."""
    from simulator.lm.train import TrainConfig

    return TrainConfig(
        mix=mix_weights(mix) if isinstance(mix, str) else dict(mix),
        data_fraction=data_fraction,
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


# --------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------


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
            "best_step": measurement.best_step,
            "stopped_step": measurement.stopped_step,
            "epochs": round(measurement.epochs.get(segment, 0.0), 4),
            "data_fraction": config.get("data_fraction", 1.0),
            "dropout": config.get("dropout", 0.0),
            "dev_bpb": measurement.dev_bpb,
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


def build_jobs(grid: str, seed: int = 0) -> list[Job]:
    """Every training of a grid: the compute grid cheapest level first (all mixes of a level
    before the next level, so an interrupted build leaves whole levels), then the data axis
    (DATA_LEVELS x DATA_FRACTIONS x the single-segment mixes, again level by level)."""
    compute = [
        Job(mix, point, seed + offset)
        for point in GRIDS[grid]
        for mix in BUILD_ORDER
        for offset in range(point.seeds)
    ]
    data = [
        Job(mix, GRIDS[grid][level], seed, fraction)
        for level in DATA_LEVELS[grid]
        for fraction in DATA_FRACTIONS
        for mix in BUILD_ORDER
        if mix != UNIFORM
    ]
    return compute + data


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' -> (i, n) with 0 <= i < n; ValueError otherwise."""
    index, _, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        raise ValueError(f"shard must look like i/n (e.g. 0/2), got {text!r}") from None
    if not 0 <= shard[0] < shard[1]:
        raise ValueError(f"shard {text!r}: need 0 <= i < n")
    return shard


def job_config(job: Job, threads: int = 1, device: str = "auto") -> TrainConfig:
    """The training configuration of a build job (zoo_config: dropout by repeat_dropout)."""
    mix, point, seed, fraction = job
    return zoo_config(point, mix, seed=seed, threads=threads, device=device, data_fraction=fraction)


def build_zoo(
    grid: str = "auto",
    threads: int = 1,
    out: str | Path | None = None,
    device: str = "auto",
    seed: int = 0,
    quiet: bool = False,
    log=print,
    shard: tuple[int, int] | None = None,
    reuse: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Train (or fetch from the cache) every grid point and write the table to `out`.

    Resumable: finished points live in the cache, so a rerun only trains the missing ones.
    The table is written once at the end, atomically. With `shard=(i, n)` only every n-th
    training (starting at i) runs and no table is written: n processes sharing one cache
    build a grid in parallel, and a final unsharded build collects the table from the cache.
    `reuse`, an earlier table: trainings whose config hash has rows there are copied from it,
    neither trained nor looked up (a hash fixes the measurement: same code, data, config and
    seed give the same bpb), and shards split only the remaining trainings.
    """
    from simulator.lm.train import train

    grid = resolve_grid(grid)
    out_path = Path(out) if out is not None else shipped_table_path()
    jobs = build_jobs(grid, seed)
    configs = [job_config(job, threads, device) for job in jobs]
    reused: dict[str, pd.DataFrame] = {}
    if reuse is not None:
        hashes = {config.config_hash() for config in configs}
        known = reuse[reuse["config_hash"].isin(hashes)]
        reused = {key: rows for key, rows in known.groupby("config_hash", sort=False)}
    to_train = [i for i, config in enumerate(configs) if config.config_hash() not in reused]
    if shard is not None:
        to_train = to_train[shard[0] :: shard[1]]
        selected = to_train
    else:
        selected = list(range(len(jobs)))
    if reuse is not None and not quiet:
        copied = sum(config.config_hash() in reused for config in configs)
        log(f"{copied} trainings copied from the reused table; {len(to_train)} to train or fetch")
    parts: list[pd.DataFrame | list[dict]] = []
    started = time.perf_counter()
    for index, job_index in enumerate(selected, start=1):
        (mix, point, point_seed, fraction), config = jobs[job_index], configs[job_index]
        key = config.config_hash()
        if key in reused:
            parts.append(reused[key])
            continue
        measurement = train(config, quiet=True)
        parts.append(measurement_rows(measurement, grid, point.level))
        source = "cache" if measurement.from_cache else f"{measurement.wall_time_s:.1f}s"
        own = measurement.bpb.get(mix) if mix in corpus.SEGMENTS else None
        own_text = f" {mix} bpb {own:.3f}" if own is not None else ""
        if not quiet:
            elapsed = time.perf_counter() - started
            data = f" data {fraction:g}" if fraction < 1 else ""
            drop = f" dropout {config.dropout:g}" if config.dropout else ""
            log(
                f"[{index}/{len(selected)}] {mix:9s} level {point.level} seed {point_seed}{data}"
                f"{drop} flops {point.flops:.3g} params {measurement.params:,} "
                f"({source}, total {elapsed:.0f}s){own_text}"
            )
    frames = [part if isinstance(part, pd.DataFrame) else pd.DataFrame(part) for part in parts]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if shard is not None:
        if not quiet:
            log(f"shard {shard[0]}/{shard[1]}: {len(selected)} trainings done; no table written")
        return table
    table = table.drop(columns=["built_utc", "build_wall_s"], errors="ignore")
    if "dropout" in table.columns:  # rows of tables from before dropout: none used
        table["dropout"] = table["dropout"].fillna(0.0)
        columns = [c for c in table.columns if c != "dropout"]
        columns.insert(columns.index("data_fraction") + 1, "dropout")
        table = table[columns]
    table["built_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    table["build_wall_s"] = round(time.perf_counter() - started, 1)
    atomic_write(out_path, lambda path: table.to_csv(path, index=False))
    if not quiet:
        log(f"wrote {len(table)} rows ({len(jobs)} trainings) to {out_path}")
    return table


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
    config = zoo_config(
        nearest, rounded, seed=seed, threads=threads, flops=float(f"{zoo_flops:.3g}")
    )
    return train(config, quiet=quiet)


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------

REQUIRED_COLUMNS = ("level", "mix_name", "segment", "bpb", "h_unigram", "flops", "config_hash")


def full_data_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The compute grid: rows of models trained on their whole training data."""
    if "data_fraction" not in table.columns:
        return table
    return table[table["data_fraction"] >= 1.0]


def data_axis_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The data axis: rows of models trained on a fraction of their data (DATA_FRACTIONS)."""
    if "data_fraction" not in table.columns:
        return table.iloc[:0]
    return table[table["data_fraction"] < 1.0]


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
    try:
        table = pd.read_csv(table_path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0]
        raise ValueError(f"zoo table {table_path} is not a readable CSV table: {reason}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"zoo table {table_path} lacks columns: {', '.join(missing)}")
    return table
