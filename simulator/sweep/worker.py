"""What a worker does: one simulation run, reduced to a row of outcomes and per-step series.

This module is what worker processes import (process pool, Dask). ``worker_setup`` does the
one-time setup of a worker (imports) and caches it at module level. What runs of one sweep
share is built once per worker and reused by every later run:

- quality sources that read the LM zoo (``quality_model: zoo``), one per distinct zoo
  setting, with training disabled: a worker reads the zoo's measurement table once and never
  trains inside a sweep;
- the validated scenario of each parameter point (``RunTask.scenario_key``), so the
  replications of a point are validated once;
- a run that drew no random number (simulator.sweep.lean): its seed had no effect, so the other
  replications of its point are that run, bit for bit, and are answered from it without
  simulating again.

Runs are simulated by ``lean.simulate``: the same phases as a full run, recording only what
the outcomes and series read.
"""

from __future__ import annotations

import os
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simulator.sweep.lean import COUNT_SERIES, ENTRANTS_SHARE, MODEL_SERIES, series_frame
from simulator.sweep.outcomes import compute_outcomes

__all__ = [
    "COUNT_SERIES",
    "ENTRANTS_SHARE",
    "MODEL_SERIES",
    "RunRecord",
    "RunTask",
    "run_chunk",
    "run_one",
    "series_frame",
    "worker_setup",
]

_WORKER_STATE: dict[str, Any] = {}
KEPT_POINTS = 8
"""Parameter points whose validated scenario (and seed-free run) a worker keeps."""


def worker_setup() -> dict[str, Any]:
    """Once per process: import the simulator (and load shared tables); cached thereafter."""
    if not _WORKER_STATE:
        from simulator.sweep import lean

        _WORKER_STATE["simulate"] = lean.simulate
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
    scenario_key: str = ""  # a digest of ``scenario`` ("": validate it every time)


@dataclass
class RunRecord:
    """A finished run: one row (ids, seed, parameters, outcomes, error) and its series.
    ``seed_free``: the run drew no random number (its seed had no effect); ``file``: its run
    file's content when a worker made it (simulator.sweep.store.run_file)."""

    row: dict[str, Any]
    series: pd.DataFrame = field(repr=False)
    seed_free: bool = False
    file: bytes | None = field(default=None, repr=False)


def _recent(name: str) -> OrderedDict:
    """One of this worker's tables of the last KEPT_POINTS points (see ``_remember``)."""
    return worker_setup().setdefault(name, OrderedDict())


def _recall(table: OrderedDict, key):
    value = table.get(key)
    if value is not None:
        table.move_to_end(key)
    return value


def _remember(table: OrderedDict, key, value) -> None:
    table[key] = value
    table.move_to_end(key)
    if len(table) > KEPT_POINTS:
        table.popitem(last=False)


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


def _ids(task: RunTask) -> dict[str, Any]:
    return {
        "run": task.run,
        "point": task.point,
        "replication": task.replication,
        "seed": task.seed,
        **task.params,
    }


def _simulated(task: RunTask) -> RunRecord:
    """Simulate the run; a run that fails is recorded with its error, not raised."""
    from simulator.config import parse_scenario

    simulate = worker_setup()["simulate"]
    row, seed_free = _ids(task), False
    try:
        scenarios = _recent("scenarios")
        scenario = _recall(scenarios, task.scenario_key) if task.scenario_key else None
        if scenario is None:
            scenario = parse_scenario(task.scenario)
            if task.scenario_key:
                _remember(scenarios, task.scenario_key, scenario)
        source = quality_source(scenario)
        if source is None:
            result, seed_free = simulate(scenario, seed=task.seed)
        else:
            result, seed_free = simulate(scenario, seed=task.seed, quality_source=source)
        row.update(compute_outcomes(result, task.outcomes))
        row["error"] = ""
        series = series_frame(result, task.firms)
    except Exception as exc:  # noqa: BLE001 - one bad point must not lose the sweep
        row.update(dict.fromkeys(task.outcomes, float("nan")))
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
        row["error"] = f"{type(exc).__name__}: {exc}{where}"
        series = pd.DataFrame({"step": pd.Series(dtype="int64")})
        seed_free = False
    series.insert(0, "run", task.run)
    return RunRecord(row=row, series=series, seed_free=seed_free)


def _replica(task: RunTask, template: RunRecord) -> RunRecord:
    """``template`` (a seed-free run of the same point) as the run ``task``."""
    row = _ids(task) | {name: template.row[name] for name in (*task.outcomes, "error")}
    series = template.series.copy()
    series["run"] = task.run
    return RunRecord(row=row, series=series, seed_free=True)


def run_one(task: RunTask) -> RunRecord:
    """One run of the sweep: simulated, or, when an earlier replication of its point drew no
    random number, that run under this task's ids (the same outcomes and series bit for
    bit)."""
    seed_free = _recent("seed_free")
    key = (task.scenario_key, task.outcomes, task.firms)
    template = _recall(seed_free, key) if task.scenario_key else None
    if template is not None:
        return _replica(task, template)
    record = _simulated(task)
    if record.seed_free and task.scenario_key:
        _remember(seed_free, key, record)
    return record


def run_chunk(tasks: list[RunTask]) -> list[RunRecord]:
    """Several runs handed to a worker at once (consecutive runs: a point's replications)."""
    return [run_one(task) for task in tasks]
