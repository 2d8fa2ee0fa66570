"""Runs per second of a project sweep against `mesa.batch_run` on the same MarketModel, the same
parameter points and the same number of processes, measured side by side in one run.

    python benchmarks/sweep_vs_batch_run.py [--points 6] [--replications 2] [--steps 60]
                                            [--processes 2]

Both run the baseline scenario with `market.segments.assistant.price_sensitivity` on a grid
of `--points` values, `--replications` seeds each, `--steps` steps. The sweep writes its
folder (one file per run, tables at the end) into a temporary directory; batch_run keeps its
rows in memory. Timings on a shared machine are noisy: compare the ratio.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=6)
    parser.add_argument("--replications", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    values = points(args.points)
    runs = args.points * args.replications
    ours = sweep_seconds(values, args.replications, args.steps, args.processes)
    theirs = batch_run_seconds(values, args.replications, args.steps, args.processes)
    print(f"{runs} runs x {args.steps} steps, {args.processes} processes:")
    print(f"  llm-market sweep : {ours:7.2f} s = {runs / ours:6.2f} runs/s")
    print(f"  mesa.batch_run   : {theirs:7.2f} s = {runs / theirs:6.2f} runs/s")
    print(f"  sweep / batch_run: {theirs / ours:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
