"""Sweeps: designs, parameter paths, validation, seeds, executors, resume, sensitivity, CLI."""

from __future__ import annotations

import copy
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
import yaml

from simulator import sweep
from simulator.cli import main
from simulator.sweep import worker
from simulator.sweep.analysis import encode_inputs, series_quantiles
from simulator.sweep.design import grid_levels, latin_hypercube, sobol_design, value_at
from simulator.sweep.spec import Distribution
from simulator.sweep.store import fingerprint

TINY = {
    "name": "tiny",
    "seed": 11,
    "steps": 10,
    "market": {
        "segments": [
            {
                "name": "chat",
                "size": 50.0,
                "growth": 0.01,
                "price_sensitivity": 1.0,
                "quality_sensitivity": 3.0,
                "temperature": 0.5,
            },
            {"name": "code", "size": 20.0, "price_sensitivity": 0.8, "quality_sensitivity": 4.0},
        ],
        "entry": {"base_rate": 0.4, "max_firms": 6},  # stochastic entry: seeds matter
        "quality_model": "placeholder",
    },  # "chat" has no zoo measurements; sweeps need no LM here
    "companies": [
        {
            "name": "Big",
            "unit_cost": 0.8,
            "initial_compute": 1e25,
            "strategy": {"pricing": "cost_plus", "markup": 0.5},
        },
        {"name": "Cheap", "unit_cost": 0.5, "strategy": {"pricing": "undercut"}},
        {
            "name": "Lab",
            "unit_cost": 1.0,
            "quality": {"chat": 0.4, "code": 0.6},
            "strategy": {"pricing": "match", "follow": "leader"},
        },
    ],
    "events": [{"step": 5, "kind": "cost_index", "factor": 0.8}],
}

OUTCOMES = ["final_hhi", "final_share.Cheap", "mean_price", "consumer_surplus", "exits"]


def make_spec(**changes) -> dict:
    spec = {
        "scenario": copy.deepcopy(TINY),
        "replications": 2,
        "method": "lhs",
        "samples": 4,
        "parameters": {
            "market.segments.0.price_sensitivity": {"uniform": [0.5, 2.0]},
            "companies.Cheap.strategy.pricing": {"choice": ["undercut", "cost_plus"]},
            "companies.0.unit_cost": {"loguniform": [0.4, 1.2]},
        },
        "outcomes": list(OUTCOMES),
        "executor": "serial",
    }
    spec.update(changes)
    return spec


def write_spec(folder: Path, spec: dict, scenario_name: str = "tiny.yaml") -> Path:
    """Write the spec and its scenario as YAML files side by side; return the spec path."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = dict(spec)
    if isinstance(spec["scenario"], dict):
        (folder / scenario_name).write_text(yaml.safe_dump(spec["scenario"]))
        spec["scenario"] = scenario_name
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def assert_same_tables(left: sweep.SweepResult, right: sweep.SweepResult) -> None:
    for name, table in left.tables().items():
        pdt.assert_frame_equal(table, right.tables()[name], obj=name)


def read_tables(out: Path) -> dict[str, pd.DataFrame]:
    names = ("runs", "series", "quantiles", "summary", "sensitivity")
    return {name: pd.read_parquet(out / f"{name}.parquet") for name in names}


# --- designs --------------------------------------------------------------------------------


@pytest.mark.parametrize("n, d", [(1, 1), (7, 3), (50, 5)])
def test_latin_hypercube_has_exactly_one_point_per_stratum_in_every_dimension(n, d):
    design = latin_hypercube(n, d, np.random.default_rng(1))
    assert design.shape == (n, d)
    assert ((design >= 0) & (design < 1)).all()
    for column in design.T:
        assert sorted(np.floor(column * n).astype(int)) == list(range(n))


def test_lhs_design_stratifies_every_parameter_after_the_transform():
    spec = make_spec(
        samples=20,
        parameters={
            "market.segments.chat.price_sensitivity": {"uniform": [0.5, 2.0]},
            "companies.0.unit_cost": {"loguniform": [0.1, 10.0]},
        },
    )
    points = sweep.build_design(sweep.parse_sweep_spec(spec)).points
    assert len(points) == 20
    alpha = np.array([p["market.segments.chat.price_sensitivity"] for p in points])
    cost = np.array([p["companies.0.unit_cost"] for p in points])
    assert sorted(np.floor((alpha - 0.5) / 1.5 * 20).astype(int)) == list(range(20))
    # loguniform: stratified in log space
    assert sorted(np.floor((np.log(cost) - np.log(0.1)) / np.log(100) * 20).astype(int)) == list(
        range(20)
    )


ALL_KINDS = {
    "market.segments.chat.price_sensitivity": {"uniform": [0.5, 2.0]},
    "companies.Big.initial_compute": {"loguniform": [1e22, 1e26]},
    "steps": {"integer": [5, 8]},
    "companies.Cheap.strategy.pricing": {"choice": ["undercut", "cost_plus", "match"]},
    "companies.Lab.unit_cost": {"values": [0.9, 1.1]},
}


@pytest.mark.parametrize(
    "method, samples, size",
    [
        ("random", 40, 40),
        ("lhs", 40, 40),
        ("sobol", 8, 8 * (5 + 2)),
        ("grid", None, 5 * 5 * 4 * 3 * 2),
    ],
)
def test_every_design_has_the_documented_size_and_stays_within_bounds(method, samples, size):
    spec = make_spec(method=method, samples=samples, parameters=ALL_KINDS)
    points = sweep.build_design(sweep.parse_sweep_spec(spec)).points
    assert len(points) == size
    for p in points:
        assert 0.5 <= p["market.segments.chat.price_sensitivity"] <= 2.0
        assert 1e22 <= p["companies.Big.initial_compute"] <= 1e26
        assert isinstance(p["steps"], int) and 5 <= p["steps"] <= 8
        assert p["companies.Cheap.strategy.pricing"] in ("undercut", "cost_plus", "match")
        assert p["companies.Lab.unit_cost"] in (0.9, 1.1)
    if method != "sobol":  # every integer and category is reached
        assert {p["steps"] for p in points} == {5, 6, 7, 8}
        assert {p["companies.Cheap.strategy.pricing"] for p in points} == {
            "undercut",
            "cost_plus",
            "match",
        }


def test_grid_levels_and_inverse_cdf_of_each_distribution():
    uniform = Distribution(uniform=(1.0, 3.0))
    assert grid_levels(uniform, 3) == [1.0, 2.0, 3.0]
    assert grid_levels(Distribution(loguniform=(1.0, 100.0)), 3) == pytest.approx([1, 10, 100])
    assert grid_levels(Distribution(integer=(2, 4)), 5) == [2, 3, 4]
    assert grid_levels(Distribution(integer=(0, 100)), 3) == [0, 50, 100]
    assert value_at(uniform, 0.25) == 1.5
    assert value_at(Distribution(loguniform=(1.0, 100.0)), 0.5) == pytest.approx(10.0)
    assert [value_at(Distribution(integer=(0, 2)), u) for u in (0, 0.34, 0.67, 1.0)] == [0, 1, 2, 2]
    choice = Distribution(choice=["a", "b"])
    assert [value_at(choice, u) for u in (0.2, 0.7, 1.0)] == ["a", "b", "b"]


# --- parameter paths ------------------------------------------------------------------------


def test_paths_address_list_items_by_name_or_by_index():
    data = sweep.parse_sweep_spec(make_spec()).base_data
    by_name = sweep.resolve_path(data, "market.segments.code.size")
    by_index = sweep.resolve_path(data, "market.segments.1.size")
    assert by_name.keys == by_index.keys == ("market", "segments", 1, "size")
    assert by_index.canonical == "market.segments.code.size"
    by_index = sweep.resolve_path(data, "companies.1.unit_cost")
    assert by_index.canonical == "companies.Cheap.unit_cost"
    assert sweep.resolve_path(data, "companies.Lab.quality.code").keys == (
        "companies",
        2,
        "quality",
        "code",
    )


def test_event_fields_are_addressed_by_index_and_set_in_every_point():
    spec = make_spec(
        method="grid",
        samples=None,
        replications=1,
        parameters={"events.0.step": {"values": [3, 7]}, "events.0.factor": {"values": [0.5]}},
    )
    plan = sweep.plan_sweep(spec)
    assert plan.resolved.paths["events.0.step"].keys == ("events", 0, "step")
    assert [s["events"][0]["step"] for s in plan.scenarios] == [3, 7]
    assert [s["events"][0]["factor"] for s in plan.scenarios] == [0.5, 0.5]
    assert TINY["events"][0]["step"] == 5  # the base scenario is left alone


def test_item_names_with_dots_are_matched_whole():
    data = {"companies": [{"name": "GPT-4.5", "unit_cost": 1.0}, {"name": "GPT", "unit_cost": 2}]}
    path = sweep.resolve_path(data, "companies.GPT-4.5.unit_cost")
    assert path.keys == ("companies", 0, "unit_cost")


@pytest.mark.parametrize(
    "path, message",
    [
        (
            "companies.Nope.unit_cost",
            "no item 'Nope' in companies (names: Big, Cheap, Lab; or an index 0..2)",
        ),
        ("companies.3.unit_cost", "no item '3' in companies"),
        ("market.segments.chat.sizee", "no field 'sizee' in market.segments.chat"),
        ("events.1.step", "no item '1' in events (an index 0..0)"),
        ("steps.0", "steps is a value (10), it has no field '0'"),
        ("market..size", "malformed path"),
    ],
)
def test_bad_parameter_path_is_one_line_naming_it(path, message):
    spec = make_spec(parameters={path: {"values": [1, 2]}})
    with pytest.raises(sweep.SweepSpecError) as error:
        sweep.parse_sweep_spec(spec)
    assert len(error.value.lines) == 1
    assert error.value.lines[0].startswith(f"parameters.{path}: ")
    assert message in error.value.lines[0]


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"replicatons": 3}, "replicatons: unknown key"),
        ({"method": "halton"}, "method: Input should be 'grid', 'random', 'lhs' or 'sobol'"),
        ({"replications": 0}, "replications: Input should be greater than or equal to 1"),
        ({"outcomes": ["final_hhi", "happiness"]}, "outcomes.1: unknown outcome 'happiness'"),
        ({"outcomes": ["final_share.Ghost"]}, "outcomes.0: no firm 'Ghost'"),
        ({"outcomes": ["final_share"]}, "outcomes.0: final_share needs a firm"),
        (
            {"method": "sobol", "samples": 10},
            "samples: sobol needs a power of 2 (got 10; try 8 or 16)",
        ),
        ({"method": "grid", "samples": 10}, "samples: not used by method grid"),
        (
            {"parameters": {"steps": {"uniform": [3, 1]}}},
            "parameters.steps: uniform: needs [lo, hi] with lo < hi",
        ),
        (
            {"parameters": {"steps": {"uniform": [1, 3], "integer": [1, 3]}}},
            "parameters.steps: give exactly one of uniform, loguniform, integer, choice, values",
        ),
        ({"parameters": {"steps": {"normal": [1, 3]}}}, "parameters.steps.normal: unknown key"),
        ({"parameters": {"steps": 5}}, "parameters.steps: expected a mapping with one of uniform"),
        (
            {
                "parameters": {
                    "market.segments.code.size": {"values": [1]},
                    "market.segments.1.size": {"values": [2]},
                }
            },
            "parameters.market.segments.1.size: overlaps parameters.market.segments.code.size",
        ),
        ({"parameters": {"seed": {"values": [1]}}}, "parameters.seed: reserved name"),
        ({"scenario": "no/such/file.yaml"}, "scenario: no such file 'no/such/file.yaml'"),
    ],
)
def test_bad_spec_is_one_line_naming_the_field(change, expected):
    with pytest.raises(sweep.SweepSpecError) as error:
        sweep.parse_sweep_spec(make_spec(**change))
    assert len(error.value.lines) == 1, error.value.lines
    assert error.value.lines[0].startswith(expected), error.value.lines


def test_invalid_sampled_value_is_reported_with_the_parameter_name():
    spec = make_spec(parameters={"companies.Cheap.unit_cost": {"uniform": [-1.0, 1.0]}}, samples=8)
    with pytest.raises(sweep.SweepSpecError) as error:
        sweep.plan_sweep(spec)
    (line,) = error.value.lines
    assert line.startswith("parameters.companies.Cheap.unit_cost: value -")
    assert (
        "gives an invalid scenario (companies.Cheap.unit_cost: Input should be greater than 0"
    ) in line
    assert "4 of 8 points are invalid" in line


def test_scenario_path_is_relative_to_the_spec_folder_then_the_cwd(tmp_path, monkeypatch):
    spec_path = write_spec(tmp_path / "specs", make_spec())
    assert sweep.load_sweep_spec(spec_path).base.name == "tiny"  # next to the spec
    (tmp_path / "scenarios").mkdir()
    os.replace(spec_path.parent / "tiny.yaml", tmp_path / "scenarios" / "tiny.yaml")
    spec_path.write_text(yaml.safe_dump({**make_spec(), "scenario": "scenarios/tiny.yaml"}))
    monkeypatch.chdir(tmp_path)
    resolved = sweep.load_sweep_spec(spec_path)  # not in specs/: found from the CWD
    assert resolved.scenario_file == (tmp_path / "scenarios" / "tiny.yaml").resolve()
    assert resolved.spec.name == "sweep"  # default name: the spec file's stem


def test_cli_bad_spec_exits_2_with_one_line_and_no_traceback(tmp_path):
    spec_path = write_spec(
        tmp_path, make_spec(parameters={"companies.Ghost.unit_cost": {"uniform": [1, 2]}})
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator.cli",
            "sweep",
            str(spec_path),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: parameters.companies.Ghost.unit_cost: no item 'Ghost' in companies "
        "(names: Big, Cheap, Lab; or an index 0..2)"
    ]
    assert not (tmp_path / "out").exists()


# --- seeds ----------------------------------------------------------------------------------


def test_run_seeds_are_distinct_reproducible_spawned_streams():
    seeds = sweep.run_seeds(7, 30, 5)
    assert seeds.shape == (30, 5)
    assert len(np.unique(seeds)) == seeds.size
    np.testing.assert_array_equal(seeds, sweep.run_seeds(7, 30, 5))
    assert not np.array_equal(seeds, sweep.run_seeds(8, 30, 5))
    # a run's seed depends on its (point, replication) only, not on how many points follow
    np.testing.assert_array_equal(sweep.run_seeds(7, 3, 5), seeds[:3])
    # the streams behind them are SeedSequence spawns: distinct spawn keys, distinct states
    _, runs_stream = np.random.SeedSequence(7).spawn(2)
    children = runs_stream.spawn(3)[1].spawn(5)
    assert len({c.spawn_key for c in children}) == 5
    assert [int(c.generate_state(1)[0]) for c in children] == seeds[1].tolist()


def test_each_run_is_simulated_with_its_recorded_seed(monkeypatch):
    real_simulate = worker.worker_setup()["simulate"]
    seen: list[int] = []

    def recording_simulate(scenario, seed=None):
        seen.append(seed)
        return real_simulate(scenario, seed=seed)

    monkeypatch.setitem(worker._WORKER_STATE, "simulate", recording_simulate)
    runs = sweep.run(make_spec(replications=3, samples=2), progress=False).runs
    assert seen == runs["seed"].tolist()
    assert runs["seed"].is_unique


def test_replications_get_different_outcomes_from_their_independent_streams():
    """With stochastic entry, replications of one parameter point differ; reruns do not."""
    result = sweep.run(make_spec(replications=4, samples=3), progress=False)
    runs = result.runs
    for _, point in runs.groupby("point"):
        assert point["final_hhi"].nunique() > 1
    again = sweep.run(make_spec(replications=4, samples=3), progress=False)
    pdt.assert_frame_equal(runs, again.runs)
    band = result.quantiles.query("variable == 'hhi' and step == 10")
    assert (band["q95"] > band["q05"]).any()  # the replications spread the fan


# --- executors and resume -------------------------------------------------------------------


def test_serial_processes_and_dask_give_identical_tables():
    spec = make_spec()
    serial = sweep.run(spec, executor="serial", progress=False)
    processes = sweep.run(spec, executor="processes", workers=2, progress=False)
    dask = sweep.run(spec, executor="dask", workers=2, progress=False)
    assert len(serial.runs) == 4 * 2 and (serial.runs["error"] == "").all()
    assert_same_tables(serial, processes)
    assert_same_tables(serial, dask)


def test_dask_executor_reaches_a_running_scheduler_by_address():
    from dask.distributed import LocalCluster

    spec = make_spec(samples=2)
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        remote = sweep.run(
            spec, executor="dask", dask_address=cluster.scheduler_address, progress=False
        )
    assert_same_tables(sweep.run(spec, progress=False), remote)


def test_resume_after_a_stop_finishes_the_rest_and_matches_an_uninterrupted_sweep(tmp_path):
    spec = make_spec(samples=5)
    whole = sweep.run(spec, out=tmp_path / "whole", progress=False)
    assert whole.complete

    partial = sweep.run(spec, out=tmp_path / "resumed", max_runs=3, progress=False)
    assert not partial.complete and partial.ran == 3 and len(partial.runs) == 3
    assert not (tmp_path / "resumed" / "runs.parquet").exists()
    # a run lost in a kill, and the temp file of a write cut short
    os.remove(tmp_path / "resumed" / "runs" / "run-000001.parquet")
    (tmp_path / "resumed" / "runs" / ".run-000005.parquet.abc.tmp").write_bytes(b"PAR1 half")

    resumed = sweep.run(
        spec, out=tmp_path / "resumed", executor="processes", workers=2, progress=False
    )
    assert resumed.complete and resumed.ran == 10 - 2
    assert resumed.runs["run"].tolist() == list(range(10))  # nothing lost, nothing twice
    assert_same_tables(whole, resumed)
    on_disk, reference = read_tables(tmp_path / "resumed"), read_tables(tmp_path / "whole")
    for name, table in reference.items():
        pdt.assert_frame_equal(on_disk[name], table, obj=name)

    again = sweep.run(spec, out=tmp_path / "resumed", progress=False)
    assert again.ran == 0
    assert_same_tables(whole, again)
    assert_same_tables(whole, sweep.load(tmp_path / "resumed"))


def test_resume_after_a_real_kill_of_the_command(tmp_path):
    spec_path = write_spec(tmp_path, make_spec(samples=12, replications=3))
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "simulator.cli",
        "sweep",
        str(spec_path),
        "--out",
        str(out),
        "--executor",
        "serial",
        "--quiet",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = list((out / "runs").glob("run-*.parquet")) if (out / "runs").exists() else []
        if len(done) >= 3 or process.poll() is not None:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_with = len(list((out / "runs").glob("run-*.parquet")))
    assert 3 <= killed_with < 36, "the sweep should have been killed part way"
    assert not (out / "runs.parquet").exists()

    assert main(command[3:]) == 0  # the same command resumes
    whole = sweep.run(spec_path, out=tmp_path / "whole", progress=False)
    on_disk = read_tables(out)
    for name, table in whole.tables().items():
        pdt.assert_frame_equal(on_disk[name], table, obj=name)


def test_a_folder_made_by_a_different_spec_is_refused(tmp_path, capsys):
    spec_path = write_spec(tmp_path / "a", make_spec(samples=2, replications=1))
    out = tmp_path / "out"
    assert main(["sweep", str(spec_path), "--out", str(out), "--quiet"]) == 0
    other = write_spec(tmp_path / "b", make_spec(samples=3, replications=1))
    capsys.readouterr()
    assert main(["sweep", str(other), "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {out}: made by a different sweep spec (changed: samples); "
        "use another --out folder or delete this one"
    )
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(sweep.SweepSpecError, match="folder is not empty and holds no sweep"):
        sweep.run(spec_path, out=tmp_path / "busy", progress=False)


def test_worker_setup_runs_once_per_process():
    state = worker.worker_setup()
    assert worker.worker_setup() is state and state["setups"] == 1


def test_zoo_quality_is_built_once_per_worker_and_never_trains(monkeypatch):
    from simulator import model
    from simulator.market.quality import PlaceholderQuality

    calls = []

    def counting_source(scenario, allow_training=True):
        calls.append(allow_training)
        return PlaceholderQuality(scenario.market.compute_range)

    monkeypatch.setattr(model, "make_quality_source", counting_source)
    monkeypatch.setitem(worker._WORKER_STATE, "quality_sources", {})
    scenario = copy.deepcopy(TINY)
    scenario["market"]["quality_model"] = "zoo"
    scenario["market"]["segments"][0]["name"] = "assistant"
    scenario["companies"][2]["quality"] = {"assistant": 0.4, "code": 0.6}
    result = sweep.run(make_spec(scenario=scenario, replications=2, samples=3), progress=False)
    assert (result.runs["error"] == "").all() and len(result.runs) == 6
    assert calls == [False]  # one source for all six runs, training disabled


# --- tables and outcomes ----------------------------------------------------------------------


def test_tables_are_tidy_and_consistent_with_the_runs():
    result = sweep.run(make_spec(replications=3), progress=False)
    runs, series = result.runs, result.series
    assert list(runs.columns[:4]) == ["run", "point", "replication", "seed"]
    assert runs["companies.Cheap.strategy.pricing"].isin(["undercut", "cost_plus"]).all()
    shares = series[[c for c in series.columns if c.startswith("share.")]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    last = series[series["step"] == 10].set_index("run")
    np.testing.assert_allclose(runs.set_index("run")["final_hhi"], last["hhi"])
    np.testing.assert_allclose(runs.set_index("run")["final_share.Cheap"], last["share.Cheap"])
    q = result.quantiles.query("point == 1 and variable == 'hhi' and step == 4").iloc[0]
    direct = series.query("point == 1 and step == 4")["hhi"]
    assert q["q50"] == pytest.approx(direct.median())
    assert q["q05"] <= q["q25"] <= q["q50"] <= q["q75"] <= q["q95"]
    summary = result.summary.query("point == 2 and outcome == 'mean_price'").iloc[0]
    assert summary["mean"] == pytest.approx(runs.query("point == 2")["mean_price"].mean())
    assert summary["n"] == 3
    pooled = series_quantiles(series, by=())
    assert set(pooled.columns) >= {"variable", "step", "q05", "q50", "q95"}


def test_exits_count_the_models_exit_list_or_drops_in_the_number_of_firms():
    base = sweep.parse_sweep_spec(make_spec()).base
    model = pd.DataFrame({"step": [1, 2, 3, 4], "n_firms": [3, 2, 3, 1], "hhi": 0.0})
    result = type("R", (), {"summary": {}, "model": model, "scenario": base})()
    assert sweep.OUTCOMES["exits"].compute(result, None) == 3.0
    assert sweep.OUTCOMES["entries"].compute(result, None) == 1.0
    result.model = model.assign(exits=[0, 2, 0, 0])  # the model's per-step counts
    assert sweep.OUTCOMES["exits"].compute(result, None) == 2.0
    result.summary = {"exits": [{"firm": "Lab", "step": 2}], "entries": []}  # its own list
    assert sweep.OUTCOMES["exits"].compute(result, None) == 1.0
    assert sweep.OUTCOMES["entries"].compute(result, None) == 0.0


# --- sensitivity ------------------------------------------------------------------------------


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_recover_the_ishigami_function():
    design = sobol_design(2048, 3, seed=1)
    y = ishigami(-math.pi + 2 * math.pi * design)
    table = sweep.sobol_indices(y, ["x1", "x2", "x3"], seed=1).set_index(["parameter", "index"])
    # analytic values for a=7, b=0.1
    expected = {
        ("x1", "S1"): 0.3139,
        ("x2", "S1"): 0.4424,
        ("x3", "S1"): 0.0,
        ("x1", "ST"): 0.5576,
        ("x2", "ST"): 0.4424,
        ("x3", "ST"): 0.2437,
    }
    for key, value in expected.items():
        assert table.loc[key, "value"] == pytest.approx(value, abs=0.04), key
        assert 0 < table.loc[key, "conf"] < 0.1


def test_standardized_regression_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(
        {
            "a": rng.uniform(0, 1, 4000),
            "b": rng.uniform(0, 1, 4000),
            "c": rng.uniform(0, 1, 4000),
            "const": 1.0,
        }
    )
    y = 3 * x["a"] + 1 * x["b"] + rng.normal(0, 0.01, 4000)
    table, r2 = sweep.standardized_regression(x, y.to_numpy())
    table = table.set_index("term")
    assert table.loc["a", "value"] == pytest.approx(3 / math.sqrt(10), abs=0.01)
    assert table.loc["b", "value"] == pytest.approx(1 / math.sqrt(10), abs=0.01)
    assert abs(table.loc["c", "value"]) < table.loc["c", "conf"] + 0.005
    assert np.isnan(table.loc["const", "value"])  # a constant input has no SRC
    assert r2 == pytest.approx(1.0, abs=0.001)


def test_categorical_parameters_are_one_hot_against_their_first_category():
    resolved = sweep.parse_sweep_spec(make_spec())
    runs = pd.DataFrame(
        {
            "market.segments.0.price_sensitivity": [1.0, 2.0],
            "companies.Cheap.strategy.pricing": ["undercut", "cost_plus"],
            "companies.0.unit_cost": [0.1, 1.0],
        }
    )
    inputs, owner = encode_inputs(runs, resolved)
    assert list(inputs.columns) == [
        "market.segments.0.price_sensitivity",
        "companies.Cheap.strategy.pricing=cost_plus",
        "companies.0.unit_cost",
    ]
    assert inputs["companies.Cheap.strategy.pricing=cost_plus"].tolist() == [0.0, 1.0]
    assert inputs["companies.0.unit_cost"].tolist() == [-1.0, 0.0]  # loguniform: log10
    assert owner["companies.Cheap.strategy.pricing=cost_plus"] == "companies.Cheap.strategy.pricing"


def test_sobol_sweep_through_the_cli_writes_indices_and_the_dashboard(tmp_path, capsys):
    spec = make_spec(
        method="sobol",
        samples=8,
        replications=1,
        parameters={
            "market.segments.chat.price_sensitivity": {"uniform": [0.5, 2.0]},
            "companies.Cheap.unit_cost": {"uniform": [0.3, 0.9]},
        },
    )
    spec_path = write_spec(tmp_path, spec)
    out = tmp_path / "out"
    assert (
        main(["sweep", str(spec_path), "--out", str(out), "--report", "--quiet", "--workers", "2"])
        == 0
    )
    sensitivity = pd.read_csv(out / "sensitivity.csv")
    assert len(sensitivity) == len(OUTCOMES) * 2 * 2
    assert set(sensitivity["index"]) == {"S1", "ST"}
    cheap = sensitivity.query("outcome == 'final_share.Cheap' and index == 'ST'")
    assert cheap.set_index("parameter")["value"]["companies.Cheap.unit_cost"] > 0.05
    page = (out / "dashboard.html").read_text()
    for title in (
        "Concentration (HHI) over time",
        "Market share over time",
        "Outcome distributions",
        "Outcomes against parameters",
        "Sobol indices",
    ):
        assert title in page
    assert len(pd.read_parquet(out / "runs.parquet")) == 8 * 4


def test_cli_lists_outcomes_and_prints_the_spec_schema(capsys):
    assert main(["sweep", "--list-outcomes"]) == 0
    listing = capsys.readouterr().out
    assert "final_share.<firm>" in listing and "exits" in listing
    assert main(["sweep", "--schema"]) == 0
    schema = yaml.safe_load(capsys.readouterr().out)  # JSON is YAML
    assert set(schema["$defs"]["Distribution"]["properties"]) == {
        "uniform",
        "loguniform",
        "integer",
        "choice",
        "values",
    }


SHIPPED_SPECS = sorted(
    (Path(__file__).resolve().parent.parent / "scenarios" / "sweeps").glob("*.yaml")
)


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=[p.stem for p in SHIPPED_SPECS])
def test_shipped_sweep_specs_are_documented_and_valid(path):
    text = path.read_text()
    assert text.startswith("# ") and "What to look at" in text and "Measured:" in text
    plan = sweep.plan_sweep(path)  # every path, outcome and sampled scenario checks out
    assert plan.n_runs <= 300  # runnable in a few minutes on two cores


def test_reordering_parameters_changes_the_design_and_the_sweep_identity():
    spec = make_spec()
    swapped = make_spec(parameters=dict(reversed(list(spec["parameters"].items()))))
    first, second = sweep.parse_sweep_spec(spec), sweep.parse_sweep_spec(swapped)
    assert sweep.build_design(first).points != sweep.build_design(second).points
    assert fingerprint(first.identity()) != fingerprint(second.identity())
