"""Sweep throughput: runs per second of the serial, process-pool and Dask executors.

A Latin-hypercube sweep over the baseline scenario (shortened to --steps months) runs once per
executor without writing anything; the process and Dask rows also show their speed-up over
serial (ideal: the number of workers; less when other work shares the cores: check `uptime`).
Executor start-up (process pool, Dask LocalCluster) counts, as it does for a user; the first
line, bare simulate() calls, shows what the sweep machinery itself costs.

    python benchmarks/bench_sweep.py [--runs 24] [--steps 60] [--workers N] [--no-dask]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from simulator import sweep
from simulator.sweep.executors import available_cores

ROOT = Path(__file__).resolve().parent.parent


def bench_spec(runs: int, steps: int) -> dict:
    scenario = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8"))
    scenario["steps"] = steps
    return {
        "scenario": scenario,
        "method": "lhs",
        "samples": runs,
        "replications": 1,
        "parameters": {
            "market.segments.assistant.price_sensitivity": {"uniform": [0.5, 2.0]},
            "market.cost_index": {"uniform": [0.5, 1.5]},
        },
        "outcomes": ["final_hhi", "mean_price", "consumer_surplus"],
    }


def runs_per_second(spec: dict, executor: str, workers: int | None) -> tuple[float, float]:
    start = time.perf_counter()
    result = sweep.run(spec, executor=executor, workers=workers, progress=False)
    seconds = time.perf_counter() - start
    assert result.complete and (result.runs["error"] == "").all()
    return len(result.runs) / seconds, seconds


def raw_simulate_rate(spec: dict) -> float:
    """Runs per second of bare ``simulate`` calls on the sweep's scenarios (serial ceiling)."""
    from simulator.model import simulate

    plan = sweep.plan_sweep(spec)
    start = time.perf_counter()
    for run in range(plan.n_runs):
        task = plan.task(run)
        simulate(task.scenario, seed=task.seed)
    return plan.n_runs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--workers", type=int, default=available_cores())
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    spec = bench_spec(args.runs, args.steps)
    print(
        f"{args.runs} runs of the baseline ({args.steps} steps), {available_cores()} cores, "
        f"{args.workers} workers"
    )
    raw = raw_simulate_rate(spec)
    print(f"  simulate() {raw:6.2f} runs/s  (bare model runs, no sweep machinery)")
    serial, seconds = runs_per_second(spec, "serial", None)
    print(
        f"  serial     {serial:6.2f} runs/s  ({seconds:5.1f} s)  sweep overhead "
        f"{(raw / serial - 1):.0%}"
    )
    executors = ["processes"] + ([] if args.no_dask else ["dask"])
    for executor in executors:
        rate, seconds = runs_per_second(spec, executor, args.workers)
        print(
            f"  {executor:10} {rate:6.2f} runs/s  ({seconds:5.1f} s)  "
            f"speed-up over serial x{rate / serial:.2f}"
        )


if __name__ == "__main__":
    main()
