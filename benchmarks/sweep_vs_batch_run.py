"""Runs per second of a project sweep against `mesa.batch_run` on the same MarketModel, the same
parameter points and the same number of processes, measured side by side in one run; and the
sweep parent's peak memory over 1,000 and 10,000 runs.

    python benchmarks/sweep_vs_batch_run.py [--points 8] [--replications 3] [--steps 60]
                                            [--processes 2] [--rss]

Both run the baseline scenario with `market.segments.assistant.price_sensitivity` on a grid
of `--points` values, `--replications` seeds each, `--steps` steps. The sweep writes its
folder (one file per run, tables at the end) into a temporary directory; batch_run keeps its
rows in memory. The baseline draws no random number (no entry, no learning rule), so every
replication of a point is the same run: the sweep simulates each point once and answers the
other replications from it (simulator.sweep.worker), batch_run simulates every run. A second
comparison has as many runs, each at its own point (no replications): every run simulated by
both. Timings on a shared machine are noisy: compare the ratios.

``--rss`` also runs sweeps of 1,000 and 10,000 runs (100 replications of 10 and 100 points,
10 steps) in fresh processes and prints the parent's peak RSS and time: runs stream to their
files, so memory grows only with the final tables.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import mesa
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
PATH = "market.segments.assistant.price_sensitivity"


def points(n: int) -> list[float]:
    return [float(v) for v in np.linspace(0.5, 2.0, n)]


def scenarios(values: list[float], steps: int) -> list[dict]:
    from simulator.config import read_yaml

    base = read_yaml(BASELINE)
    out = []
    for value in values:
        data = copy.deepcopy(base)
        data["steps"] = steps
        data["market"]["segments"][0]["price_sensitivity"] = value
        out.append(data)
    return out


def batch_run_seconds(values, replications, steps, processes) -> float:
    from simulator.model import MarketModel

    start = time.perf_counter()
    rows = mesa.batch_run(
        MarketModel,
        parameters={"scenario": scenarios(values, steps), "seed": list(range(replications))},
        iterations=1,
        max_steps=steps,
        number_processes=processes,
        data_collection_period=-1,
        display_progress=False,
    )
    assert len(rows) == len(values) * replications
    return time.perf_counter() - start


def sweep_seconds(values, replications, steps, processes) -> float:
    from simulator import sweep

    spec = {
        "name": "bench",
        "scenario": str(BASELINE),
        "replications": replications,
        "method": "grid",
        "grid_levels": len(values),
        "parameters": {PATH: {"values": values}, "steps": {"values": [steps]}},
    }
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = sweep.run(
            spec,
            out=Path(folder) / "sweep",
            executor="processes",
            workers=processes,
            progress=False,
        )
        elapsed = time.perf_counter() - start
    assert len(result.runs) == len(values) * replications
    return elapsed


def compare(label: str, n_points: int, replications: int, steps: int, processes: int) -> None:
    values = points(n_points)
    runs = n_points * replications
    ours = sweep_seconds(values, replications, steps, processes)
    theirs = batch_run_seconds(values, replications, steps, processes)
    print(
        f"{label}: {runs} runs ({n_points} points x {replications} replications) x {steps} steps,"
    )
    print(f"  {processes} processes")
    print(f"  llm-market sweep : {ours:7.2f} s = {runs / ours:6.2f} runs/s")
    print(f"  mesa.batch_run   : {theirs:7.2f} s = {runs / theirs:6.2f} runs/s")
    print(f"  sweep / batch_run: {theirs / ours:.2f}x (target >= 3x)")


SWEEP_RSS = """
import sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from peak_memory import peak_rss_mb
from simulator import sweep
spec = {
    "name": "rss", "scenario": sys.argv[1], "replications": 100, "method": "grid",
    "grid_levels": int(sys.argv[2]), "executor": "processes", "workers": int(sys.argv[3]),
    "parameters": {"market.segments.assistant.price_sensitivity": {"uniform": [0.5, 2.0]},
                   "steps": {"values": [10]}},
}
if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = sweep.run(spec, out=Path(folder) / "sweep", progress=False)
        elapsed = time.perf_counter() - start
    peak = peak_rss_mb()
    tables = sum(t.memory_usage(index=True).sum() for t in result.tables().values()) / 2**20
    print(len(result.runs), elapsed, peak, tables)
"""


def sweep_rss(n_points: int, processes: int) -> tuple[int, float, float, float]:
    """(runs, seconds, the parent's peak RSS in MB, the final tables' MB) of a sweep of
    ``n_points`` x 100 replications in a fresh process."""
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "rss_sweep.py"
        script.write_text(SWEEP_RSS)
        done = subprocess.run(
            [
                sys.executable,
                str(script),
                str(BASELINE),
                str(n_points),
                str(processes),
                str(Path(__file__).resolve().parent),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    runs, seconds, peak, tables = done.stdout.split()
    return int(runs), float(seconds), float(peak), float(tables)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rss", action="store_true", help="also 1,000- and 10,000-run sweeps")
    args = parser.parse_args()
    compare("replications", args.points, args.replications, args.steps, args.processes)
    every = args.points * args.replications
    compare("every run simulated", every, 1, args.steps, args.processes)
    if args.rss:
        print("sweep parent's memory (baseline, 10 steps, 100 replications per point):")
        for n_points in (10, 100):
            runs, seconds, peak, tables = sweep_rss(n_points, args.processes)
            print(
                f"  {runs:6,} runs: {seconds:6.1f} s, parent peak RSS {peak:5.0f} MB "
                f"(final tables {tables:.0f} MB)"
            )


if __name__ == "__main__":
    main()
