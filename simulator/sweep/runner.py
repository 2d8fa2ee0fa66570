"""Plan a sweep, run what is not done yet, and assemble the tidy tables."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.config import ScenarioError, parse_scenario
from simulator.config.paths import with_values
from simulator.sweep import analysis
from simulator.sweep.design import Design, build_design, run_seeds
from simulator.sweep.executors import ExecutorFailed, available_cores, execute
from simulator.sweep.spec import ResolvedSpec, SweepSpecError, resolve_spec
from simulator.sweep.store import SweepStore
from simulator.sweep.worker import RunRecord, RunTask

MAX_ERROR_LINES = 10


def point_scenario(resolved: ResolvedSpec, point: dict[str, Any]) -> dict[str, Any]:
    """The base scenario with a point's values set, as raw data (not yet validated); a sweep
    over market data calibrates the point's data into its scenario."""
    data = with_values(resolved.base_data, {resolved.paths[k]: v for k, v in point.items()})
    return resolved.prepare(data) if resolved.prepare else data


class PointScenarios(Sequence):
    """Each parameter point's validated scenario (a JSON-ready dict), made when asked for.

    A plan of many points does not hold every point's scenario (kilobytes each): the executors
    ask for them one task at a time, point after point, and the last one made is kept for the
    point's other replications.
    """

    def __init__(self, resolved: ResolvedSpec, points: list[dict[str, Any]]):
        self._resolved = resolved
        self._points = points
        self._last: tuple[int, dict[str, Any], str] | None = None

    def __len__(self) -> int:
        return len(self._points)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._made(index)[1]

    def key(self, index: int) -> str:
        """A digest of point ``index``'s scenario (workers keep what they built from it)."""
        return self._made(index)[2]

    def _made(self, index: int) -> tuple[int, dict[str, Any], str]:
        if self._last is None or self._last[0] != index:
            data = point_scenario(self._resolved, self._points[index])
            scenario = parse_scenario(data).model_dump(mode="json")
            text = json.dumps(scenario, sort_keys=True, allow_nan=True, default=str)
            self._last = (index, scenario, hashlib.sha256(text.encode()).hexdigest())
        return self._last


@dataclass
class SweepPlan:
    """Every run of a sweep, in run order: run = point * replications + replication."""

    resolved: ResolvedSpec
    design: Design
    scenarios: PointScenarios  # made on demand
    seeds: np.ndarray  # (points, replications)

    @property
    def n_points(self) -> int:
        return len(self.design.points)

    @property
    def n_runs(self) -> int:
        return self.seeds.size

    def task(self, run: int) -> RunTask:
        reps = self.resolved.spec.replications
        point, replication = divmod(run, reps)
        return RunTask(
            run=run,
            point=point,
            replication=replication,
            seed=int(self.seeds[point, replication]),
            scenario=self.scenarios[point],
            params=self.design.points[point],
            scenario_key=self.scenarios.key(point),
            outcomes=tuple(self.resolved.spec.outcomes),
            firms=tuple(c.name for c in self.resolved.base.companies),
        )

    def expected_ids(self, run: int) -> dict[str, int]:
        """What a run's stored row must say: its point, replication and seed."""
        point, replication = divmod(run, self.resolved.spec.replications)
        return {
            "point": point,
            "replication": replication,
            "seed": int(self.seeds[point, replication]),
        }


def _blame(line: str, resolved: ResolvedSpec, point: dict[str, Any]) -> tuple[str, str]:
    """Which parameter a scenario error of a sampled point is about: (key, message)."""
    field_path = line.split(": ", 1)[0]
    for text, path in resolved.paths.items():
        if (
            field_path == path.canonical
            or field_path.startswith(path.canonical + ".")
            or path.canonical.startswith(field_path + ".")
        ):
            return text, (
                f"parameters.{text}: value {point[text]!r} gives an invalid scenario ({line})"
            )
    values = ", ".join(f"{k}={v!r}" for k, v in point.items())
    return line, f"parameters: the point {values} gives an invalid scenario ({line})"


def plan_sweep(spec: str | Path | dict[str, Any] | ResolvedSpec) -> SweepPlan:
    """Validate the spec, draw the design, and validate every point's scenario before any run.

    An invalid sampled scenario is reported once per parameter (its first bad value, and how
    many points are bad), never as a traceback in a worker. The validated scenarios are not
    kept: ``plan.scenarios`` makes them again when the runs are handed out.
    """
    resolved = resolve_spec(spec)
    design = build_design(resolved)
    problems: dict[str, list] = {}  # key -> [first message, number of bad points]
    for point in design.points:
        try:
            parse_scenario(point_scenario(resolved, point))
        except ScenarioError as exc:
            for key in dict.fromkeys(_blame(line, resolved, point)[0] for line in exc.lines):
                problems.setdefault(key, [None, 0])[1] += 1
            for line in exc.lines:
                key, message = _blame(line, resolved, point)
                if problems[key][0] is None:
                    problems[key][0] = message
    if problems:
        n = len(design.points)
        errors = [
            message + (f"; {count} of {n} points are invalid" if count > 1 else "")
            for message, count in problems.values()
        ]
        more = len(errors) - MAX_ERROR_LINES
        raise SweepSpecError(
            errors[:MAX_ERROR_LINES]
            + ([f"parameters: ... and {more} more problems"] if more > 0 else [])
        )
    seeds = run_seeds(resolved.root_seed, len(design.points), resolved.spec.replications)
    scenarios = PointScenarios(resolved, design.points)
    return SweepPlan(resolved=resolved, design=design, scenarios=scenarios, seeds=seeds)


@dataclass
class SweepResult:
    """A sweep's tidy tables. ``complete`` is False when it stopped early (resume to finish)."""

    plan: SweepPlan = field(repr=False)
    runs: pd.DataFrame
    series: pd.DataFrame
    quantiles: pd.DataFrame
    summary: pd.DataFrame
    sensitivity: pd.DataFrame
    out: Path | None
    complete: bool
    ran: int  # runs computed by this call (the rest were done before)
    wall_time_s: float
    warnings: list[str] = field(default_factory=list)  # e.g. bad run files found and redone

    @property
    def spec(self) -> ResolvedSpec:
        return self.plan.resolved

    @property
    def failed(self) -> pd.DataFrame:
        """Runs whose simulation raised (their outcomes are NaN; ``error`` says why)."""
        return self.runs[self.runs["error"] != ""]

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "runs": self.runs,
            "series": self.series,
            "quantiles": self.quantiles,
            "summary": self.summary,
            "sensitivity": self.sensitivity,
        }


def assemble(
    plan: SweepPlan, rows: list[dict[str, Any]], series: pd.DataFrame | None
) -> dict[str, pd.DataFrame]:
    """The tidy tables from finished runs: their rows (any order in, run order out) and all
    their series in one frame (None: none)."""
    rows = sorted(rows, key=lambda row: row["run"])
    firms = [c.name for c in plan.resolved.base.companies]
    runs = analysis.runs_table(rows, plan.resolved)
    series = analysis.series_table(series, rows, firms)
    return {
        "runs": runs,
        "series": series,
        "quantiles": analysis.series_quantiles(series),
        "summary": analysis.outcome_summary(runs, plan.resolved),
        "sensitivity": analysis.sensitivity_table(runs, plan.resolved),
    }


def chunk_size(runs: int, replications: int, workers: int | None) -> int:
    """Runs handed to a worker at once: a point's replications (a seed-free run answers the
    rest of them in the same worker), fewer when there are too few runs to keep every worker
    busy with two chunks."""
    return max(1, min(replications, runs // (2 * (workers or available_cores()))))


ProgressCallback = Callable[[int, int], None]


class _NoBar:
    """What the run loop calls on a progress bar, doing nothing: a sweep without one (a
    library call, --quiet) does not import rich (~50 ms)."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def _progress_bar(enabled: bool, total: int, done: int, title: str):
    """A rich progress bar on stderr: runs done / total, runs per second, elapsed, ETA."""
    if not enabled:
        return _NoBar(), None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    task = progress.add_task(title, total=total, completed=done, rate="")
    return progress, task


def _capped(lines: list[str], what: str) -> list[str]:
    more = len(lines) - MAX_ERROR_LINES
    return lines[:MAX_ERROR_LINES] + ([f"... and {more} more {what}"] if more > 0 else [])


def run(
    spec: str | Path | dict[str, Any] | ResolvedSpec,
    out: str | Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    max_runs: int | None = None,
    dask_address: str | None = None,
    on_run: ProgressCallback | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run a sweep (or finish one) and return its tables.

    ``spec``: a spec YAML path, a spec mapping (scenario paths relative to the CWD) or a
    resolved spec. ``out``: the sweep folder; every finished run is written there at once, runs
    already there are checked and skipped (a bad run file is moved aside and its run redone in
    this call), and the final tables are written when all runs are done. Without ``out``
    nothing is written. ``executor``/``workers``/``dask_address`` override the spec.
    ``max_runs`` stops after that many new runs (a budget; the result is then incomplete).
    ``on_run(done, total)`` is called after every finished run, ``on_warning(line)`` for each
    problem found (also in ``result.warnings``).

    Memory: runs are handed to the executor one at a time and written as they finish (with
    ``out``), so the loop holds only the runs in flight; the final tables hold every run.
    """
    start = time.perf_counter()
    if workers is not None and workers < 1:
        raise SweepSpecError([f"workers: must be at least 1 (got {workers})"])
    if max_runs is not None and max_runs < 0:
        raise SweepSpecError([f"max_runs: must not be negative (got {max_runs})"])
    if executor is not None and executor not in ("serial", "processes", "dask"):
        raise SweepSpecError([f"executor: unknown {executor!r} (serial, processes, dask)"])
    plan = plan_sweep(spec)
    resolved = plan.resolved
    options = resolved.spec.dask
    if dask_address is not None:
        options = options.model_copy(update={"address": dask_address})
    warnings: list[str] = []

    def warn(lines: list[str], what: str) -> None:
        warnings.extend(lines)
        for line in _capped(lines, what):
            if on_warning is not None:
                on_warning(line)

    store = SweepStore(out) if out is not None else None
    finished: set[int] = set()
    if store is not None and store.check(resolved):
        finished, bad = store.scan_runs(plan.n_runs, plan.expected_ids)
        warn(bad, "bad run files")
    todo = [run for run in range(plan.n_runs) if run not in finished]
    if max_runs is not None:
        todo = todo[: max(0, max_runs)]
    records: list[RunRecord] = []
    done = len(finished)
    # connect (or start the cluster) before writing anything: an unreachable scheduler is
    # one line, and leaves no folder behind
    results: Iterator[RunRecord] = iter(())
    if todo:
        try:
            results = execute(
                (plan.task(run) for run in todo),
                executor or resolved.spec.executor,
                workers or resolved.spec.workers,
                options,
                chunk_size(len(todo), resolved.spec.replications, workers or resolved.spec.workers),
                files=store is not None,
            )
        except ExecutorFailed as exc:
            raise SweepSpecError([str(exc)]) from None
    try:
        if store is not None:
            store.claim(resolved)
        bar, bar_task = _progress_bar(
            progress and bool(todo), plan.n_runs, done, f"sweep {resolved.name}"
        )
        with bar:
            tick = time.perf_counter()
            for count, record in enumerate(results, start=1):
                if store is not None:
                    store.write_run(record)
                else:
                    records.append(record)
                done += 1
                rate = count / max(time.perf_counter() - tick, 1e-9)
                bar.update(bar_task, completed=done, rate=f"{rate:.1f} runs/s")
                if on_run is not None:
                    on_run(done, plan.n_runs)
    except ExecutorFailed as exc:
        kept = (
            f"; the {done:,} finished runs are kept in {out}: run the same command to resume"
            if store is not None
            else ""
        )
        raise SweepSpecError([f"{exc}{kept}"]) from None
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
    if store is not None:
        problems: list[str] = []
        rows, series = store.read_all(
            {r for r in store.finished_runs() if r < plan.n_runs}, plan.expected_ids, problems
        )
        warn(problems, "bad run files")
    else:
        rows = [record.row for record in records]
        frames = [record.series for record in records if len(record.series)]
        series = pd.concat(frames, ignore_index=True) if frames else None
    complete = len(rows) == plan.n_runs
    tables = assemble(plan, rows, series)
    if store is not None and complete:
        store.write_tables(tables)
    return SweepResult(
        plan=plan,
        out=Path(out) if out is not None else None,
        complete=complete,
        ran=len(todo),
        wall_time_s=time.perf_counter() - start,
        warnings=warnings,
        **tables,
    )


def load(out: str | Path) -> SweepResult:
    """Read a finished sweep folder back (for notebooks and reports), without running anything.

    The plan is rebuilt from the stored spec and base scenario, so it does not matter whether
    the spec or scenario files have changed or moved since.
    """
    import yaml

    from simulator.sweep.spec import parse_sweep_spec
    from simulator.sweep.store import SPEC_FILE, TABLES

    out = Path(out)
    spec_path = out / SPEC_FILE
    if not spec_path.is_file():
        raise SweepSpecError([f"{out}: not a sweep folder ({SPEC_FILE} missing)"])
    try:
        stored = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        document = {**stored["spec"], "scenario": stored["identity"]["scenario"]}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise SweepSpecError(
            [f"{spec_path}: cannot read the stored spec ({type(exc).__name__}: {exc})"]
        ) from None
    plan = plan_sweep(parse_sweep_spec(document))
    missing = [name for name in TABLES if not (out / f"{name}.parquet").is_file()]
    if missing:
        raise SweepSpecError(
            [
                f"{out}: the sweep is not finished ({', '.join(missing)} missing); "
                "run it again to finish it"
            ]
        )
    tables = {}
    for name in TABLES:
        try:
            tables[name] = pd.read_parquet(out / f"{name}.parquet")
        except Exception as exc:  # noqa: BLE001 - a damaged table fails in many ways
            raise SweepSpecError(
                [
                    f"{out / f'{name}.parquet'}: cannot be read ({type(exc).__name__}); run the "
                    "same sweep command to rebuild the tables from the run files"
                ]
            ) from None
    return SweepResult(plan=plan, out=out, complete=True, ran=0, wall_time_s=0.0, **tables)
