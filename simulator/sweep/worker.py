"""What a worker does: one simulation run, reduced to a row of outcomes and per-step series.

This module is what worker processes import (process pool, Dask). ``worker_setup`` does the
one-time setup of a worker (imports) and caches it at module level. Quality sources that read
the LM zoo (``quality_model: zoo``) are built once per worker and distinct zoo settings, with
training disabled, and reused by every later run: a worker reads the zoo's measurement table
once and never trains inside a sweep.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simulator import schema
from simulator.sweep.outcomes import compute_outcomes

MODEL_SERIES = (
    "hhi",
    "price_index",
    "price_dispersion",
    "consumer_surplus",
    "total_demand",
    "total_sales",
    "outside_share",
    "n_firms",
    "entries",
    "exits",
    "open_share",
    "homogenization",
    "n_links",
)
"""Model-level columns kept per step (those the model has); firm shares follow as
``share.<firm>`` columns. A curated list, so quantile tables stay small for big sweeps."""
COUNT_SERIES = ("n_firms", "entries", "exits", "n_links")
schema.require("model", MODEL_SERIES)
ENTRANTS_SHARE = "share.entrants"

_WORKER_STATE: dict[str, Any] = {}


def worker_setup() -> dict[str, Any]:
    """Once per process: import the simulator (and load shared tables); cached thereafter."""
    if not _WORKER_STATE:
        from simulator import model

        _WORKER_STATE["simulate"] = model.simulate
        _WORKER_STATE["pid"] = os.getpid()
        _WORKER_STATE["setups"] = _WORKER_STATE.get("setups", 0) + 1
    return _WORKER_STATE


@dataclass(frozen=True)
class RunTask:
    """One run to do: a parameter point's scenario and the seed of this replication."""

    run: int
    point: int
    replication: int
    seed: int
    scenario: dict[str, Any]
    params: dict[str, Any]
    outcomes: tuple[str, ...]
    firms: tuple[str, ...]  # the base scenario's firms: their share columns always exist


@dataclass
class RunRecord:
    """A finished run: one row (ids, seed, parameters, outcomes, error) and its series."""

    row: dict[str, Any]
    series: pd.DataFrame = field(repr=False)


def series_frame(result, firms: tuple[str, ...]) -> pd.DataFrame:
    """Per-step model-level series, each base firm's share (0 once it has left) and the
    entrants' total share (``share.entrants``: entrants differ from run to run, so their
    individual shares would not line up across runs)."""
    columns = [c for c in MODEL_SERIES if c in result.model.columns]
    frame = result.model[["step", *columns]].copy()
    for column in ("step", *COUNT_SERIES):
        if column in frame:
            frame[column] = frame[column].astype("int64")
    steps = frame["step"].to_numpy()
    firm_steps = result.firms["step"].to_numpy()
    firm_names = result.firms["firm"].to_numpy()
    firm_shares = result.firms["share"].to_numpy(dtype=float)
    rows = np.searchsorted(steps, firm_steps)  # steps are sorted and unique
    for name in firms:
        share = np.zeros(len(steps))
        mine = firm_names == name
        share[rows[mine]] = np.nan_to_num(firm_shares[mine])
        frame[f"share.{name}"] = share
    entrants = np.zeros(len(steps))
    others = ~np.isin(firm_names, list(firms))
    np.add.at(entrants, rows[others], np.nan_to_num(firm_shares[others]))
    frame[ENTRANTS_SHARE if "entrants" not in firms else "share.entrants (new firms)"] = entrants
    return frame.reset_index(drop=True)


def quality_source(scenario) -> Any | None:
    """This worker's cached zoo quality source for the scenario (None: the model's default).

    Built by ``make_quality_source(..., allow_training=False)``, keyed by what it reads, so the
    zoo table is loaded once per worker and zoo settings, never per run.
    """
    market = scenario.market
    if market.quality_model != "zoo" or not scenario.needs_quality_model:
        return None
    from simulator import model

    key = (tuple(scenario.segment_names), tuple(market.compute_range), market.zoo.model_dump_json())
    sources = worker_setup().setdefault("quality_sources", {})
    if key not in sources:
        sources[key] = model.make_quality_source(scenario, allow_training=False)
    return sources[key]


def run_one(task: RunTask) -> RunRecord:
    """Simulate one run; a run that fails is recorded with its error, not raised."""
    simulate = worker_setup()["simulate"]
    row: dict[str, Any] = {
        "run": task.run,
        "point": task.point,
        "replication": task.replication,
        "seed": task.seed,
        **task.params,
    }
    try:
        from simulator.config import parse_scenario

        scenario = parse_scenario(task.scenario)
        source = quality_source(scenario)
        if source is None:
            result = simulate(scenario, seed=task.seed)
        else:
            result = simulate(scenario, seed=task.seed, quality_source=source)
        row.update(compute_outcomes(result, task.outcomes))
        row["error"] = ""
        series = series_frame(result, task.firms)
    except Exception as exc:  # noqa: BLE001 - one bad point must not lose the sweep
        row.update(dict.fromkeys(task.outcomes, float("nan")))
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
        row["error"] = f"{type(exc).__name__}: {exc}{where}"
        series = pd.DataFrame({"step": pd.Series(dtype="int64")})
    series.insert(0, "run", task.run)
    return RunRecord(row=row, series=series)
