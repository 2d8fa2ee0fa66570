"""Sweeps under hostile input: designs too big to run, an unreachable Dask scheduler, damaged
run files on resume, folders that cannot be written, and the parent's memory during a sweep."""

from __future__ import annotations

import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator import sweep
from simulator.cli import main
from simulator.sweep import executors
from simulator.sweep import store as store_module
from simulator.sweep.analysis import series_quantiles
from simulator.sweep.design import grid_levels
from simulator.sweep.spec import MAX_RUNS, Distribution, design_points, grid_level_count
from simulator.sweep.store import DIGEST_KEY, ROW_KEY, SweepStore
from simulator.sweep.worker import RunRecord
from tests.test_sweep import assert_same_tables, make_spec, read_tables, write_spec

NUMERIC_AND_CHOICE = {  # 2 numeric parameters and a 2-way choice
    "market.segments.0.price_sensitivity": {"uniform": [0.5, 2.0]},
    "companies.Cheap.strategy.pricing": {"choice": ["undercut", "cost_plus"]},
    "companies.0.unit_cost": {"loguniform": [0.4, 1.2]},
}
CHOICES = {
    f"companies.{i}.unit_cost": {"values": [0.5 + j / 1000 for j in range(200)]} for i in range(3)
}


# --- designs too big to run ---------------------------------------------------------------


LIMIT = " runs, more than the limit of 1,000,000 runs per sweep"
BIG = "1,000,000,000,000"


@pytest.mark.parametrize(
    "change, line",
    [
        (  # YAML reads 1e5 as a string
            {"method": "grid", "samples": None, "grid_levels": "1e5"},
            "grid_levels: the grid has 100,000 x 2 x 100,000 = 20,000,000,000 points x 2 "
            "replications = 40,000,000,000" + LIMIT,
        ),
        (
            {"samples": "1e9"},
            "samples: the lhs design has 1,000,000,000 points x 2 replications = 2,000,000,000"
            + LIMIT,
        ),
        (
            {"method": "random", "samples": 1.0e9},
            "samples: the random design has 1,000,000,000 points x 2 replications = "
            "2,000,000,000" + LIMIT,
        ),
        (
            {"method": "sobol", "samples": 2**20},
            "samples: the sobol design has 1,048,576 x (3 parameters + 2) = 5,242,880 points x 2 "
            "replications = 10,485,760" + LIMIT,
        ),
        (
            {"replications": "1e9"},
            "replications: the lhs design has 4 points x 1,000,000,000 replications = "
            "4,000,000,000" + LIMIT,
        ),
        (
            {"samples": 500_001},
            "replications: the lhs design has 500,001 points x 2 replications = 1,000,002" + LIMIT,
        ),
        (
            {"method": "grid", "samples": None, "parameters": CHOICES},
            "parameters: the grid has 200 x 200 x 200 = 8,000,000 points x 2 replications = "
            "16,000,000" + LIMIT,
        ),
        (  # a product far beyond 64-bit integers: counted exactly, shown in scientific notation
            {
                "method": "grid",
                "samples": None,
                "grid_levels": 10**12,
                "parameters": {**NUMERIC_AND_CHOICE, "steps": {"integer": [1, 10**30]}},
            },
            f"grid_levels: the grid has {BIG} x 2 x {BIG} x {BIG} = 2.0e+36 points x 2 "
            "replications = 4.0e+36" + LIMIT,
        ),
    ],
)
def test_a_design_too_big_is_refused_at_validation_with_its_run_count(change, line):
    started = time.perf_counter()
    with pytest.raises(sweep.SweepSpecError) as error:
        sweep.parse_sweep_spec(make_spec(**change))
    assert error.value.lines == [line]
    assert time.perf_counter() - started < 2.0  # nothing was drawn


def test_the_limit_is_a_million_runs_inclusive():
    assert MAX_RUNS == 1_000_000
    resolved = sweep.parse_sweep_spec(make_spec(samples=500_000))  # exactly 1,000,000 runs
    assert design_points(resolved.spec) * resolved.spec.replications == MAX_RUNS


def test_counts_written_in_scientific_notation_are_whole_numbers():
    resolved = sweep.parse_sweep_spec(make_spec(samples="1e2", replications=3.0))
    assert resolved.spec.samples == 100 and resolved.spec.replications == 3
    with pytest.raises(sweep.SweepSpecError, match="samples: Input should be a valid integer"):
        sweep.parse_sweep_spec(make_spec(samples="2.5e0"))


@pytest.mark.parametrize(
    "dist",
    [
        Distribution(uniform=(0.0, 1.0)),
        Distribution(loguniform=(1.0, 1e6)),
        Distribution(integer=(0, 2)),
        Distribution(integer=(0, 3)),
        Distribution(integer=(-50, 50)),
        Distribution(choice=["a", "b", "c"]),
        Distribution(values=[1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ],
)
@pytest.mark.parametrize("levels", [2, 3, 5, 7])
def test_the_counted_grid_levels_are_those_the_grid_design_draws(dist, levels):
    assert grid_level_count(dist, levels) == len(grid_levels(dist, levels))


@pytest.mark.parametrize(
    "method, samples", [("grid", None), ("lhs", 7), ("random", 3), ("sobol", 4)]
)
def test_the_counted_design_size_is_the_design_built(method, samples):
    parameters = {**NUMERIC_AND_CHOICE, "steps": {"integer": [5, 8]}}
    resolved = sweep.parse_sweep_spec(
        make_spec(method=method, samples=samples, parameters=parameters)
    )
    assert design_points(resolved.spec) == len(sweep.build_design(resolved).points)


def test_cli_refuses_a_design_too_big_before_writing_anything(tmp_path):
    spec_path = write_spec(tmp_path, make_spec(samples=10**9))
    (spec_path.parent / "big.yaml").write_text(  # the YAML a user would write
        spec_path.read_text().replace("samples: 1000000000", "samples: 1e9")
    )
    out = tmp_path / "out"
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator.cli",
            "sweep",
            str(spec_path.parent / "big.yaml"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: samples: the lhs design has 1,000,000,000 points x 2 replications = "
        "2,000,000,000 runs, more than the limit of 1,000,000 runs per sweep"
    ]
    assert not out.exists()
    assert time.perf_counter() - started < 60


# --- an unreachable Dask scheduler --------------------------------------------------------


def test_cli_with_an_unreachable_dask_scheduler_is_one_line_within_seconds(tmp_path):
    spec_path = write_spec(tmp_path, make_spec())
    out = tmp_path / "out"
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator.cli",
            "sweep",
            str(spec_path),
            "--out",
            str(out),
            "--executor",
            "dask",
            "--dask-address",
            "tcp://127.0.0.1:1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: dask.address: cannot reach the Dask scheduler at tcp://127.0.0.1:1 "
        "(connection refused)"
    ]
    assert not out.exists()  # refused before the folder was made
    assert elapsed < 30  # interpreter start-up and imports included; the refusal is at once


def test_a_scheduler_that_never_answers_times_out_after_connect_timeout(tmp_path):
    silent = socket.socket()  # accepts connections (backlog) but never speaks
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
    spec = make_spec(executor="dask", dask={"connect_timeout": 1.0})
    started = time.perf_counter()
    try:
        with pytest.raises(sweep.SweepSpecError) as error:
            sweep.run(spec, out=tmp_path / "out", dask_address=address, progress=False)
    finally:
        silent.close()
    assert time.perf_counter() - started < 1.0 + 4.0
    (line,) = error.value.lines
    assert line.startswith(f"dask.address: cannot reach the Dask scheduler at {address} (")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "address, problem",
    [
        ("nonsense", "missing port number"),
        ("tls://127.0.0.1:1", "TLS"),
    ],
)
def test_a_malformed_dask_address_is_one_line(address, problem):
    with pytest.raises(sweep.SweepSpecError) as error:
        sweep.run(make_spec(), executor="dask", dask_address=address, progress=False)
    (line,) = error.value.lines
    assert line.startswith(f"dask.address: cannot connect to the Dask scheduler at {address!r}")
    assert problem in line


# --- damaged run files on resume ----------------------------------------------------------


def _flip(path: Path, where: float, count: int = 16) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * where)
    for i in range(start, start + count):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _edit_row(path: Path) -> None:
    """A whole parquet file whose stored row has one outcome changed (the digest kept)."""
    table = pq.read_table(path)
    metadata = dict(table.schema.metadata)
    row = json.loads(metadata[ROW_KEY])
    row["final_hhi"] += 1.0
    metadata[ROW_KEY] = json.dumps(row).encode()
    pq.write_table(table.replace_schema_metadata(metadata), path)


def _edit_series(path: Path) -> None:
    """A whole parquet file with one series value changed (row and digest kept)."""
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.loc[3, "hhi"] += 1.0
    edited = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(edited.replace_schema_metadata(table.schema.metadata), path)


def _from_another_sweep(path: Path, store: SweepStore) -> None:
    """A whole, digest-valid run file whose seed is not this sweep's (copied from elsewhere)."""
    record = store.read_run(int(path.name[4:10]))
    store.write_run(
        RunRecord(row={**record.row, "seed": record.row["seed"] + 1}, series=record.series)
    )


DAMAGE = {
    0: ("truncated", lambda p, s: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
    1: ("garbled data", lambda p, s: _flip(p, 0.3)),
    2: ("garbled footer", lambda p, s: _flip(p, 0.85)),
    3: ("row edited", lambda p, s: _edit_row(p)),
    4: ("another run's file", lambda p, s: shutil.copy(s.run_path(6), p)),
    5: ("empty", lambda p, s: p.write_bytes(b"")),
    7: ("another sweep's run", lambda p, s: _from_another_sweep(p, s)),
    8: ("a folder", lambda p, s: (p.unlink(), p.mkdir())),
    9: ("series edited", lambda p, s: _edit_series(p)),
}
DONE = 10  # runs 0..9 done before the damage; the sweep has 12


def _damaged(spec, out: Path) -> None:
    partial = sweep.run(spec, out=out, max_runs=DONE, progress=False)
    assert not partial.complete and len(partial.runs) == DONE
    store = SweepStore(out)
    for run, (_, damage) in DAMAGE.items():
        damage(store.run_path(run), store)


def test_resume_after_damaged_run_files_redoes_them_in_one_go(tmp_path):
    spec = make_spec(samples=6)  # 12 runs
    whole = sweep.run(spec, out=tmp_path / "whole", progress=False)
    _damaged(spec, tmp_path / "resumed")
    seen: list[str] = []
    resumed = sweep.run(spec, out=tmp_path / "resumed", progress=False, on_warning=seen.append)
    assert resumed.complete and resumed.ran == 12 - DONE + len(DAMAGE)
    assert resumed.runs["run"].tolist() == list(range(12))
    assert_same_tables(whole, resumed)
    on_disk, reference = read_tables(tmp_path / "resumed"), read_tables(tmp_path / "whole")
    for name, table in reference.items():
        pdt.assert_frame_equal(on_disk[name], table, obj=name)
    runs = tmp_path / "resumed" / "runs"
    assert len(seen) == len(DAMAGE) and resumed.warnings == seen
    for line, run in zip(seen, DAMAGE, strict=True):
        assert line.startswith(f"{runs / f'run-{run:06d}.parquet'}: ")
        assert line.endswith(f"; moved aside, run {run} is run again")
    assert sorted(p.name for p in runs.glob("*.corrupt")) == [
        f"run-{run:06d}.parquet.corrupt" for run in DAMAGE if run != 8
    ]  # a folder is removed
    again = sweep.run(spec, out=tmp_path / "resumed", progress=False)
    assert again.ran == 0 and again.warnings == []


def test_cli_resume_after_damaged_run_files_finishes_and_reports_them(tmp_path, capsys):
    spec = make_spec(samples=6)
    spec_path = write_spec(tmp_path, spec)
    _damaged(sweep.load_sweep_spec(spec_path), tmp_path / "out")
    capsys.readouterr()
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == len(DAMAGE) and "Traceback" not in captured.err
    assert "results written to" in captured.out
    whole = sweep.run(spec_path, out=tmp_path / "whole", progress=False)
    for name, table in whole.tables().items():
        pdt.assert_frame_equal(read_tables(tmp_path / "out")[name], table, obj=name)


def test_run_files_without_a_digest_from_the_previous_format_are_used(tmp_path):
    spec = make_spec(samples=3)
    whole = sweep.run(spec, out=tmp_path / "out", progress=False)
    store = SweepStore(tmp_path / "out")
    for run in range(6):  # rewrite each file as the previous format did: the row, no digest
        table = pq.read_table(store.run_path(run))
        metadata = {k: v for k, v in table.schema.metadata.items() if k != DIGEST_KEY}
        pq.write_table(table.replace_schema_metadata(metadata), store.run_path(run))
    again = sweep.run(spec, out=tmp_path / "out", progress=False)
    assert again.ran == 0 and again.warnings == []
    assert_same_tables(whole, again)


# --- folders that cannot be written -------------------------------------------------------


def test_an_out_path_that_is_a_file_is_one_line(tmp_path, capsys):
    spec_path = write_spec(tmp_path, make_spec())
    (tmp_path / "out").write_text("mine")
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {tmp_path / 'out'}: is a file, not a sweep folder"
    ]
    assert (tmp_path / "out").read_text() == "mine"


def test_a_run_file_that_cannot_be_written_stops_with_one_line_and_keeps_the_rest(
    tmp_path, monkeypatch
):
    spec = make_spec(samples=4)
    real = store_module.atomic_write
    written: list[Path] = []

    def disk_full_after_three(path, write):
        if path.name.startswith("run-") and len(written) == 3:
            raise OSError(28, "No space left on device")
        real(path, write)
        written.append(path)

    monkeypatch.setattr(store_module, "atomic_write", disk_full_after_three)
    with pytest.raises(sweep.SweepSpecError) as error:
        sweep.run(spec, out=tmp_path / "out", progress=False)
    (line,) = error.value.lines
    assert "cannot write the run file (No space left on device)" in line
    assert "run the same command to resume" in line
    monkeypatch.setattr(store_module, "atomic_write", real)
    assert SweepStore(tmp_path / "out").finished_runs() == {0, 1, 2}
    resumed = sweep.run(spec, out=tmp_path / "out", progress=False)
    assert resumed.ran == 8 - 3
    assert_same_tables(sweep.run(spec, progress=False), resumed)


def test_a_damaged_stored_spec_is_one_line(tmp_path):
    spec = make_spec(samples=2, replications=1)
    sweep.run(spec, out=tmp_path / "out", progress=False)
    (tmp_path / "out" / "sweep.yaml").write_bytes(b"\xff\xfe: [unclosed")
    for call in (
        lambda: sweep.run(spec, out=tmp_path / "out", progress=False),
        lambda: sweep.load(tmp_path / "out"),
    ):
        with pytest.raises(sweep.SweepSpecError) as error:
            call()
        (line,) = error.value.lines
        assert line.startswith(f"{tmp_path / 'out' / 'sweep.yaml'}: cannot read the stored spec")


# --- the parent's memory ------------------------------------------------------------------


def test_a_plan_does_not_hold_every_points_scenario():
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        plan = sweep.plan_sweep(make_spec(samples=1000, replications=1))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # every point's scenario dumped would be ~8 KB a point (8 MB); the points themselves and
    # their seeds are a few hundred bytes each
    assert held < 1000 * 1500, held
    first = plan.scenarios[0]
    assert (
        first["companies"][1]["strategy"]["pricing"]
        == plan.design.points[0]["companies.Cheap.strategy.pricing"]
    )
    assert len(plan.scenarios) == 1000 and plan.task(999).scenario == plan.scenarios[999]


class _Stop(Exception):
    pass


def test_the_parent_does_not_accumulate_results_while_a_sweep_runs(tmp_path, monkeypatch):
    """Runs stream to their files: memory stays flat from the 50th run to the 250th."""
    steps = 4000  # each run's series: 4,000 steps x 3 columns = 96 KB

    def fake_run(task):
        series = pd.DataFrame(
            {"run": task.run, "step": range(steps), "hhi": [float(task.seed % 97)] * steps}
        )
        row = {
            "run": task.run,
            "point": task.point,
            "replication": task.replication,
            "seed": task.seed,
            **task.params,
            **dict.fromkeys(task.outcomes, 1.0),
            "error": "",
        }
        return RunRecord(row=row, series=series)

    monkeypatch.setattr(executors, "run_one", fake_run)
    memory: dict[int, int] = {}
    total = 250

    def on_run(done, n_runs):
        if done == 1:  # count what the loop allocates and keeps from here on
            tracemalloc.start()
        if done in (50, total):
            gc.collect()  # what the loop keeps, not garbage a collection has not reached yet
            memory[done] = tracemalloc.get_traced_memory()[0]
        if done == total:
            raise _Stop

    try:
        with pytest.raises(_Stop):
            sweep.run(
                make_spec(samples=total + 1, replications=1),
                out=tmp_path / "out",
                progress=False,
                on_run=on_run,
            )
    finally:
        tracemalloc.stop()
    assert len(os.listdir(tmp_path / "out" / "runs")) == total
    grown = memory[total] - memory[50]
    assert grown < (total - 50) * 96_000 / 10, grown  # under a tenth of what was written


# --- the machinery failing mid-sweep ------------------------------------------------------


class _KillsTheWorker:
    """Unpickled in a worker process, it ends that process at once (like the OOM killer)."""

    def __reduce__(self):
        return (os._exit, (9,))


def test_a_worker_process_that_dies_is_one_line_not_a_traceback():
    plan = sweep.plan_sweep(make_spec(samples=1, replications=1))
    task = plan.task(0)
    bomb = type(task)(**{**task.__dict__, "scenario": _KillsTheWorker()})
    with pytest.raises(executors.ExecutorFailed, match="a worker process died"):
        list(executors.run_processes([bomb], workers=1))


def test_an_executor_failing_mid_sweep_keeps_the_finished_runs(tmp_path, monkeypatch):
    from simulator.sweep import runner

    real = runner.execute

    def fails_after_two(tasks, *args, **kwargs):
        for count, record in enumerate(real(tasks, "serial")):
            if count == 2:
                raise executors.ExecutorFailed("the Dask cluster failed: KilledWorker: boom")
            yield record

    monkeypatch.setattr(runner, "execute", fails_after_two)
    out = tmp_path / "out"
    with pytest.raises(sweep.SweepSpecError) as error:
        sweep.run(make_spec(), out=out, progress=False)
    assert error.value.lines == [
        "the Dask cluster failed: KilledWorker: boom; the 2 finished runs are kept in "
        f"{out}: run the same command to resume"
    ]
    assert SweepStore(out).finished_runs() == {0, 1}


def _melted_quantiles(series: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    """The definition: every variable melted into one long frame, grouped, quantiles."""
    values = [c for c in series.columns if c not in ("run", "point", "replication", "step")]
    long = series.melt(id_vars=[*by, "step"], value_vars=values, var_name="variable")
    grouped = long.groupby([*by, "variable", "step"], sort=True)["value"]
    table = grouped.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
    table.columns = ["q05", "q25", "q50", "q75", "q95"]
    table.insert(0, "mean", grouped.mean())
    return table.reset_index()


def _many_series(runs: int, replications: int, steps: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = runs * steps
    frame = pd.DataFrame(
        {
            "run": np.repeat(np.arange(runs), steps),
            "point": np.repeat(np.arange(runs) // replications, steps),
            "replication": np.repeat(np.arange(runs) % replications, steps),
            "step": np.tile(np.arange(1, steps + 1), runs),
        }
    )
    for name in ("hhi", "price_index", "n_firms", "share.B", "share.A", "share.entrants"):
        frame[name] = rng.random(rows)
    frame.loc[7, "hhi"] = np.nan
    frame.loc[frame["step"] == 2, "share.entrants"] = np.nan  # before any entrant: no value
    frame["n_firms"] = rng.integers(1, 9, rows)  # a count: integers
    return frame


@pytest.mark.parametrize("by", [("point",), ()])
def test_series_quantiles_equal_the_melted_definition(by):
    series = _many_series(runs=60, replications=4, steps=9)
    expected = _melted_quantiles(series, by)
    pdt.assert_frame_equal(series_quantiles(series, by=by), expected, check_exact=True)


def test_series_quantiles_need_little_more_memory_than_the_series():
    """The melt made a frame of runs x steps x variables rows: ~10x the series at its peak."""
    series = _many_series(runs=400, replications=20)
    size = int(series.memory_usage(index=True).sum())
    tracemalloc.start()
    try:
        series_quantiles(series)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * size, (peak, size)
