"""The sweep's fast paths give what the plain ones give: lean runs the outcomes and series of a
full run, bit for bit; a run that draws no random number is reused for the other replications
of its point, and only then; the tables read back from a sweep folder in one piece equal those
assembled from the runs in memory."""

from __future__ import annotations

import copy
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from simulator import simulate, sweep
from simulator.config import load_scenario, parse_scenario
from simulator.sweep import lean, worker
from simulator.sweep.outcomes import OUTCOMES, compute_outcomes
from tests.test_sweep import TINY, make_spec

ROOT = Path(__file__).resolve().parents[1]


def every_outcome(firms: list[str]) -> tuple[str, ...]:
    return tuple(
        f"{o.name}.{firm}" if o.per_firm else o.name
        for o in OUTCOMES.values()
        for firm in (firms if o.per_firm else [None])
    )


@pytest.mark.parametrize(
    ("name", "steps"), [("baseline", 40), ("open_source_wave", 60), ("price_war", 72)]
)
def test_lean_runs_give_a_full_runs_outcomes_and_series_bit_for_bit(name, steps):
    """Entries, exits, the open model's row and links included (open_source_wave, price_war)."""
    data = load_scenario(ROOT / "scenarios" / f"{name}.yaml").model_dump(mode="json")
    scenario = parse_scenario(data | {"steps": steps})
    firms = tuple(c.name for c in scenario.companies)
    outcomes = every_outcome(list(firms))
    full = simulate(scenario, seed=3)
    small, _ = lean.simulate(scenario, seed=3)
    assert compute_outcomes(small, outcomes) == compute_outcomes(full, outcomes)
    pdt.assert_frame_equal(
        lean.series_frame(small, firms), lean.series_frame(full, firms), check_exact=True
    )
    assert set(small.firms.columns) < set(full.firms.columns)  # it did record less


def test_a_run_without_randomness_says_so_and_one_with_randomness_does_not():
    baseline = parse_scenario(
        load_scenario(ROOT / "scenarios" / "baseline.yaml").model_dump(mode="json") | {"steps": 12}
    )
    first, seed_free = lean.simulate(baseline, seed=1)
    second, _ = lean.simulate(baseline, seed=2)
    assert seed_free  # no entry, no learning rule: the seed never matters
    pdt.assert_frame_equal(first.model, second.model, check_exact=True)
    entry = parse_scenario(TINY)  # Poisson entry draws from the model's rng every step
    assert entry.market.entry.base_rate > 0
    assert not lean.simulate(entry, seed=1)[1]


def deterministic_spec(replications: int) -> dict:
    scenario = copy.deepcopy(TINY)
    scenario["market"]["entry"]["base_rate"] = 0.0
    return make_spec(scenario=scenario, replications=replications, samples=3)


def test_replications_of_a_seed_free_point_are_its_first_run_not_new_simulations(monkeypatch):
    real = worker.worker_setup()["simulate"]
    seeds: list[int] = []

    def counting(scenario, seed=None, **kwargs):
        seeds.append(seed)
        return real(scenario, seed=seed, **kwargs)

    monkeypatch.setitem(worker._WORKER_STATE, "simulate", counting)
    monkeypatch.setitem(worker._WORKER_STATE, "seed_free", OrderedDict())
    reused = sweep.run(deterministic_spec(replications=4), progress=False)
    assert len(seeds) == 3 and len(reused.runs) == 12  # one simulation per point
    monkeypatch.setattr(worker, "KEPT_POINTS", 0)  # nothing kept: every run simulated
    monkeypatch.setitem(worker._WORKER_STATE, "seed_free", OrderedDict())
    seeds.clear()
    every = sweep.run(deterministic_spec(replications=4), progress=False)
    assert len(seeds) == 12
    for name in ("runs", "series", "quantiles", "summary"):
        pdt.assert_frame_equal(getattr(reused, name), getattr(every, name), check_exact=True)
    assert reused.runs["seed"].is_unique  # each run keeps its own seed


def test_stochastic_points_are_simulated_for_every_replication(monkeypatch):
    real = worker.worker_setup()["simulate"]
    calls: list[int] = []

    def counting(scenario, seed=None, **kwargs):
        calls.append(seed)
        return real(scenario, seed=seed, **kwargs)

    monkeypatch.setitem(worker._WORKER_STATE, "simulate", counting)
    result = sweep.run(make_spec(replications=3, samples=2), progress=False)
    assert calls == result.runs["seed"].tolist()
    finals = result.runs.groupby("point")["final_hhi"].nunique()
    assert (finals > 1).all()  # replications differ: none was copied


def test_a_failed_run_is_not_reused(monkeypatch):
    calls: list[int] = []

    def failing(scenario, seed=None, **kwargs):
        calls.append(seed)
        raise RuntimeError("boom")

    monkeypatch.setitem(worker._WORKER_STATE, "simulate", failing)
    result = sweep.run(deterministic_spec(replications=2), progress=False)
    assert len(calls) == 6 and (result.runs["error"].str.startswith("RuntimeError")).all()
    assert np.isnan(result.runs["final_hhi"]).all()
    assert isinstance(result.series, pd.DataFrame)


def test_tables_read_back_from_the_folder_equal_the_tables_from_memory(tmp_path, monkeypatch):
    """Failed runs (no series) and entrants included; one run per worker chunk or more."""
    real = worker.worker_setup()["simulate"]

    def fails_sometimes(scenario, seed=None, **kwargs):
        if seed % 3 == 0:
            raise RuntimeError("boom")
        return real(scenario, seed=seed, **kwargs)

    monkeypatch.setitem(worker._WORKER_STATE, "simulate", fails_sometimes)
    spec = make_spec(replications=3, samples=4)
    stored = sweep.run(spec, out=tmp_path / "out", progress=False)
    in_memory = sweep.run(spec, progress=False)
    assert (stored.runs["error"] != "").any() and (stored.runs["error"] == "").any()
    for name in ("runs", "series", "quantiles", "summary", "sensitivity"):
        pdt.assert_frame_equal(getattr(stored, name), getattr(in_memory, name), check_exact=True)
    loaded = sweep.load(tmp_path / "out")
    pdt.assert_frame_equal(loaded.series, in_memory.series, check_exact=True)


def test_worker_processes_writing_run_files_give_the_serial_tables(tmp_path):
    """Workers encode the run files (and reuse seed-free runs); the parent only writes them."""
    spec = deterministic_spec(replications=3)
    spec["executor"], spec["workers"] = "processes", 2
    stored = sweep.run(spec, out=tmp_path / "out", progress=False)
    serial = sweep.run({**spec, "executor": "serial"}, progress=False)
    for name in ("runs", "series", "quantiles", "summary", "sensitivity"):
        pdt.assert_frame_equal(getattr(stored, name), getattr(serial, name), check_exact=True)
