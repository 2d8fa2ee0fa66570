"""Q-learning speed: periods per second of the batched learner (simulator.market.qlearning).

The Calvano et al. (2020) baseline of scenarios/algorithmic_pricing.yaml (two firms, 15
prices, memory 1): ``--runs`` runs learn together for ``--periods`` periods (no run converges
that early, so every period updates every run). A period is one stage-game round of every run;
"run-periods" counts a period of each run. A run of this game takes about 1.9 million periods
to converge, so 20 runs to convergence take about 1.9e6 / (periods per second) seconds.

    python benchmarks/bench_learning.py [--runs 20] [--periods 300000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from simulator.config import load_scenario
from simulator.learn import stage_game
from simulator.market.qlearning import BatchLearner, run_seed

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--periods", type=int, default=300_000)
    args = parser.parse_args()
    scenario = load_scenario(ROOT / "scenarios" / "algorithmic_pricing.yaml")
    game, learners, _ = stage_game(scenario)
    for runs in sorted({1, args.runs}):
        batch = BatchLearner(game, learners, [run_seed(0, r) for r in range(runs)])
        start = time.perf_counter()
        batch.learn(args.periods, 10**12, lambda members, converged: None)
        seconds = time.perf_counter() - start
        rate = args.periods / seconds
        print(
            f"{runs:4d} runs: {rate:,.0f} periods/s, {rate * runs:,.0f} run-periods/s "
            f"({args.periods:,} periods in {seconds:.1f} s; 1.9e6 periods: {1.9e6 / rate:.0f} s)"
        )


if __name__ == "__main__":
    main()
