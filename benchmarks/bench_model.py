"""Per-step cost of the market model as the number of firms grows.

Prints seconds per step for 10, 100 and 1,000 firms (the baseline's six plus start-ups) and the
ratio of the per-firm cost at 1,000 firms to that at 100: near 1 means linear scaling.

    python benchmarks/bench_model.py
"""

from __future__ import annotations

import copy
import time

import yaml

from simulator.model import MarketModel


def seconds_per_step(n_firms: int, steps: int = 10) -> float:
    with open("scenarios/baseline.yaml", encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data = copy.deepcopy(data)
    extra = max(n_firms - len(data["companies"]), 0)
    if extra:
        data["companies"].append({"archetype": "startup", "count": extra})
    data["steps"] = steps
    model = MarketModel(data)
    model.step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    return (time.perf_counter() - start) / steps


if __name__ == "__main__":
    timings = {n: seconds_per_step(n) for n in (10, 100, 1000)}
    for n, t in timings.items():
        per_firm = t / n * 1e6
        print(f"{n:>5} firms: {t * 1e3:8.2f} ms/step  ({per_firm:7.1f} us per firm-step)")
    ratio = (timings[1000] / 1000) / (timings[100] / 100)
    print(f"per-firm cost ratio 1000 vs 100 firms: {ratio:.2f} (1.0 = linear)")
