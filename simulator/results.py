"""Tidy result frames of a run, and their atomic Parquet/JSON/YAML writers and readers.

A run folder holds:
  scenario.yaml      the resolved scenario (every default filled in)
  model.parquet      one row per step (HHI, price index, consumer surplus, ...)
  firms.parquet      one row per step x firm
  segments.parquet   one row per step x firm x segment
  edges.parquet      one row per step x partnership link (source, target, type, start_step)
  data.parquet       one row per step x firm x segment of training-data stocks (market.data;
                     empty without it)
  summary.json       final shares, HHI, prices, wall time, versions, seed
The folder is written as a whole: built in a temporary sibling folder and swapped in
(``simulator.folders``), so a reader, or a run killed at any moment, finds the old complete run
or the new one. ``summary.json`` is strict JSON: NaN and infinities are written as null.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator import metrics, schema
from simulator.atomic import atomic_write, atomic_write_text
from simulator.config import Scenario, parse_scenario, scenario_to_yaml
from simulator.folders import RunFolderError, replace_run_dir

TABLES = tuple(schema.TABLES)


@dataclass
class RunResult:
    """Everything a run produced, as tidy frames."""

    scenario: Scenario
    model: pd.DataFrame
    firms: pd.DataFrame
    segments: pd.DataFrame
    summary: dict[str, Any]
    edges: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=schema.EDGE_COLUMNS))
    data: pd.DataFrame = field(default_factory=lambda: empty_frame("data"))


def empty_frame(table: str) -> pd.DataFrame:
    """A table with its columns and no rows."""
    return pd.DataFrame(columns=schema.column_names(table))


def frames_from_model(model) -> dict[str, pd.DataFrame]:
    """Model-, firm- and segment-level frames from a finished MarketModel's DataCollector."""
    collector = model.datacollector
    model_frame = collector.get_model_vars_dataframe().reset_index(drop=True)
    firms = collector.get_table_dataframe("firms")
    segments = collector.get_table_dataframe("segments")
    edges = collector.get_table_dataframe("edges").astype(
        {
            "step": "int64",
            "source": "object",
            "target": "object",
            "type": "object",
            "start_step": "int64",
        }
    )
    data = collector.get_table_dataframe("data")
    return {
        "model": model_frame,
        "firms": firms.reset_index(drop=True),
        "segments": segments,
        "edges": edges,
        "data": data if len(data) else empty_frame("data"),
    }


def summarize(
    scenario: Scenario,
    frames: dict[str, pd.DataFrame],
    seed: int,
    wall_time_s: float,
    entries: list[dict[str, Any]] = (),
    exits: list[dict[str, Any]] = (),
    quality_source=None,
) -> dict[str, Any]:
    """Headline numbers of a run plus what is needed to reproduce it; with market.data (a
    non-empty data table) and the run's quality source, the quality-gain decomposition."""
    import mesa

    model, firms = frames["model"], frames["firms"]
    last_step = int(model["step"].max())
    final = firms[firms["step"] == last_step].set_index("firm")
    final_hhi = float(model["hhi"].iloc[-1])
    summary = {
        "scenario": scenario.name,
        "seed": seed,
        "steps": last_step,
        "final_hhi": final_hhi,
        "final_hhi_all_products": float(model["hhi_all_products"].iloc[-1]),
        "hhi_band_2023": metrics.hhi_band(final_hhi, metrics.HHI_BANDS_2023),
        "hhi_band_2010": metrics.hhi_band(final_hhi, metrics.HHI_BANDS_2010),
        "final_share": {k: float(v) for k, v in final["share"].items()},
        "final_price": {k: float(v) for k, v in final["price"].items()},
        "final_cash": {k: float(v) for k, v in final["cash"].items()},
        "mean_price_index": float(model["price_index"].mean()),
        "final_consumer_surplus": float(model["consumer_surplus"].iloc[-1]),
        "n_firms_final": int(model["n_firms"].iloc[-1]),
        "extrapolated_from_step": extrapolated_from_step(frames["segments"]),
        "entries": list(entries),
        "exits": list(exits),
        "wall_time_s": round(wall_time_s, 4),
        "versions": {
            "llm_market_sim": _package_version(),
            "python": platform.python_version(),
            "mesa": mesa.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
    }
    data = frames.get("data")
    if data is not None and not data.empty:
        from simulator.data_report import quality_gain

        final_data = data[data["step"] == last_step]
        summary["final_data_stock"] = {
            str(firm): {
                str(s): float(v) for s, v in zip(g["segment"], g["data_stock"], strict=True)
            }
            for firm, g in final_data.groupby("firm", sort=False)
        }
        if quality_source is not None:
            summary["quality_gain"] = quality_gain(frames, quality_source, scenario.segment_names)
    return summary


def extrapolated_from_step(segments: pd.DataFrame) -> dict[str, int]:
    """First step at which each firm's quality was read beyond the measured language models
    (in any segment); firms always measured are absent."""
    if segments.empty or "extrapolated" not in segments.columns:
        return {}
    flagged = segments[segments["extrapolated"].astype(bool)]
    return {str(k): int(v) for k, v in flagged.groupby("firm", sort=True)["step"].min().items()}


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llm-market-sim")
    except PackageNotFoundError:
        return "unknown"


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def strict_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float (numpy ones too) replaced by None, so that it
    is strict JSON (``json.dumps(..., allow_nan=False)`` passes)."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as strict JSON text: NaN and infinities are written as null."""
    return json.dumps(strict_json(summary), indent=2, allow_nan=False) + "\n"


def write_run_files(folder: Path, result: RunResult) -> None:
    """Write the run's files into ``folder`` (an existing folder), ``summary.json`` last."""
    atomic_write_text(folder / "scenario.yaml", scenario_to_yaml(result.scenario))
    for name in TABLES:
        write_frame(folder / f"{name}.parquet", getattr(result, name))
    atomic_write_text(folder / "summary.json", summary_json(result.summary))


def write_run(
    out_dir: str | Path,
    result: RunResult,
    force: bool = False,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write a run folder as a whole: the run is built in a temporary sibling folder and swapped
    in, so ``out_dir`` holds the old complete run or the new one at every moment, never a mix
    (``simulator.folders``). ``extra(folder)`` adds files after the run's own (the CLI's
    dashboard). A non-empty folder that is not a run folder raises ``RunFolderError`` unless
    ``force``; then the run's files are written into it and its other files are kept."""

    def build(folder: Path) -> None:
        write_run_files(folder, result)
        if extra is not None:
            extra(folder)

    try:
        replace_run_dir(out_dir, build, force=force)
    except OSError as exc:
        raise RunFolderError(f"{out_dir}: cannot write the run folder ({exc})") from None
    return Path(out_dir)


def read_run(out_dir: str | Path) -> RunResult:
    """Read a run folder written by ``write_run``."""
    import yaml

    out = Path(out_dir)
    optional = ("edges", "data")  # absent from runs written before these tables existed
    required = (
        "scenario.yaml",
        "summary.json",
        *(f"{t}.parquet" for t in TABLES if t not in optional),
    )
    missing = [n for n in required if not (out / n).exists()]
    if missing:
        raise FileNotFoundError(f"{out}: not a complete run folder (missing {', '.join(missing)})")
    scenario = parse_scenario(yaml.safe_load((out / "scenario.yaml").read_text(encoding="utf-8")))
    frames = {
        name: pd.read_parquet(out / f"{name}.parquet")
        for name in TABLES
        if (out / f"{name}.parquet").exists()
    }
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return RunResult(scenario=scenario, summary=summary, **frames)
