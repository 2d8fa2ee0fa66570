"""The project against a straightforward Mesa 3 model of the same market, measured in one run.

The naive model: 4 logit segments (temperature 0.25), fixed qualities, every firm
best-responding each step with scipy's bounded scalar minimiser over a Python loop of its
rivals, a DataCollector with model and agent reporters. The project runs the same market
(fixed qualities, best_response pricing, no links, no budgets) through `simulate`.

    python benchmarks/bench_vs_naive_mesa.py [--steps 120] [--quick]

Prints seconds per run, the ratios, per-firm-step cost from 100 to 10,000 firms (the steps'
time alone, the fastest of three in a fresh process per size; building the model, mostly
validating each firm's spec, is printed beside it) and the peak memory (RSS) of a 10,000-firm
run. Timings on a shared machine are noisy: compare ratios measured side by side, not absolute
numbers across runs.

The processes keep freed memory for reuse as the ``llm-market`` command does
(simulator.allocator); each size's steps are also timed with glibc's default allocator, in
another fresh process, to show what that saves.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import mesa
import numpy as np
from peak_memory import peak_rss_mb
from scipy.optimize import minimize_scalar

from simulator.allocator import keep_freed_memory

HERE = Path(__file__).resolve().parent

SEGMENTS = 4
REPEATS = 3
"""Models of each size timed (in one fresh process); the fastest one's steps are printed."""
TEMPERATURE = 0.25


def market(n_firms: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "alpha": rng.uniform(0.5, 2.0, SEGMENTS),
        "beta": np.full(SEGMENTS, 2.0),
        "size": rng.uniform(50, 150, SEGMENTS),
        "cost": rng.uniform(0.5, 1.0, n_firms),
        "quality": rng.uniform(0.5, 1.5, (n_firms, SEGMENTS)),
    }


# --- the naive Mesa model -------------------------------------------------------------------


class NaiveFirm(mesa.Agent):
    def __init__(self, model, cost, quality):
        super().__init__(model)
        self.cost, self.quality = cost, quality
        self.price, self.profit, self.quantity = 1.5 * cost, 0.0, 0.0

    def demand(self, price: float) -> float:
        m = self.model
        total = 0.0
        for s in range(SEGMENTS):
            own = np.exp((m.beta[s] * self.quality[s] - m.alpha[s] * price) / TEMPERATURE)
            rest = 1.0  # the outside option, utility 0
            for rival in m.firms:
                if rival is not self:
                    u = m.beta[s] * rival.quality[s] - m.alpha[s] * rival.last_price
                    rest += np.exp(u / TEMPERATURE)
            total += m.size[s] * own / (own + rest)
        return total

    def choose_price(self) -> None:
        best = minimize_scalar(
            lambda p: -(p - self.cost) * self.demand(p),
            bounds=(self.cost, self.cost + 10.0),
            method="bounded",
        )
        self.next_price = best.x

    def settle(self) -> None:
        self.price = self.next_price
        self.quantity = self.demand(self.price)
        self.profit = (self.price - self.cost) * self.quantity


class NaiveMarket(mesa.Model):
    def __init__(self, n_firms: int, seed: int = 0):
        super().__init__(seed=seed)
        data = market(n_firms, seed)
        self.alpha, self.beta, self.size = data["alpha"], data["beta"], data["size"]
        self.firms = [
            NaiveFirm(self, c, q) for c, q in zip(data["cost"], data["quality"], strict=True)
        ]
        self.datacollector = mesa.DataCollector(
            model_reporters={"mean_price": lambda m: np.mean([f.price for f in m.firms])},
            agent_reporters={"price": "price", "profit": "profit", "quantity": "quantity"},
        )

    def step(self) -> None:
        for firm in self.firms:
            firm.last_price = firm.price
        self.agents.do("choose_price")
        self.agents.do("settle")
        self.datacollector.collect(self)


def naive_seconds(n_firms: int, steps: int) -> float:
    start = time.perf_counter()
    model = NaiveMarket(n_firms)
    for _ in range(steps):
        model.step()
    return time.perf_counter() - start


# --- the project on the same market ----------------------------------------------------------


def scenario(n_firms: int, steps: int) -> dict:
    data = market(n_firms)
    names = [f"s{s}" for s in range(SEGMENTS)]
    return {
        "name": f"bench-{n_firms}",
        "steps": steps,
        "market": {
            "quality_model": "placeholder",
            "entry": {"max_firms": n_firms},
            "segments": [
                {
                    "name": name,
                    "size": float(data["size"][s]),
                    "price_sensitivity": float(data["alpha"][s]),
                    "quality_sensitivity": 2.0,
                    "temperature": TEMPERATURE,
                }
                for s, name in enumerate(names)
            ],
        },
        "companies": [
            {
                "name": f"f{i}",
                "unit_cost": float(data["cost"][i]),
                "quality": {name: float(data["quality"][i, s]) for s, name in enumerate(names)},
                "strategy": {
                    "pricing": "best_response",
                    "link_rule": "none",
                    "rd_share": 0.0,
                    "marketing_share": 0.0,
                },
            }
            for i in range(n_firms)
        ],
    }


def project_seconds(n_firms: int, steps: int) -> float:
    from simulator import simulate

    data = scenario(n_firms, steps)
    start = time.perf_counter()
    simulate(data)
    return time.perf_counter() - start


def build_and_step_seconds(n_firms: int, steps: int) -> tuple[float, float]:
    """(seconds to validate the scenario and build the model, seconds of its ``steps`` steps):
    the per-firm-step cost is the steps' alone (building 10,000 firms' specs is a one-off)."""
    from simulator.model import MarketModel

    data = scenario(n_firms, steps)
    start = time.perf_counter()
    model = MarketModel(data)
    built = time.perf_counter()
    model.run()
    return built - start, time.perf_counter() - built


FRESH_PROCESS = """
import sys
sys.path.insert(0, {here!r})
from bench_vs_naive_mesa import build_and_step_seconds, project_seconds
from peak_memory import peak_rss_mb
from simulator.allocator import keep_freed_memory
if {keep_freed}:
    keep_freed_memory()
project_seconds(10, 2)
timings = [build_and_step_seconds({n_firms}, {steps}) for _ in range({repeats})]
build, stepping = min(timings, key=lambda t: t[1])
print(build, stepping, peak_rss_mb())
"""


def fresh_process(n_firms: int, steps: int, repeats: int, keep_freed: bool):
    """(seconds to build, seconds of ``steps`` steps, peak RSS in MB) of the fastest of
    ``repeats`` models of ``n_firms`` in a fresh process: as a `llm-market run` process has
    them, whatever this process allocated before (which moved a 100-firm step's time by half),
    and its own memory peak, not this one's (peak_memory.py says why). ``keep_freed``: with
    the allocator as the ``llm-market`` command sets it (simulator.allocator)."""
    code = FRESH_PROCESS.format(
        here=str(HERE), keep_freed=keep_freed, n_firms=n_firms, steps=steps, repeats=repeats
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    build, stepping, peak = map(float, out.stdout.split()[-3:])
    return build, stepping, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--quick", action="store_true", help="10 and 100 firms only, 24 steps")
    args = parser.parse_args()
    steps = 24 if args.quick else args.steps
    keep_freed_memory()  # as the `llm-market` command does
    project_seconds(10, 2)  # imports and caches warm
    rows = []
    for n in (10, 100):
        naive, ours = naive_seconds(n, steps), project_seconds(n, steps)
        rows.append((n, naive, ours))
        print(
            f"{n:>6} firms x {steps} steps: naive Mesa {naive:7.2f} s, project {ours:6.2f} s, "
            f"{naive / ours:5.1f}x faster"
        )
    if args.quick:
        return
    naive_100 = rows[1][1]
    ours_1000 = project_seconds(1000, steps)
    print(
        f"  1000 firms x {steps} steps: project {ours_1000:.2f} s = "
        f"{ours_1000 / naive_100:.2f}x the naive model's 100-firm time (target < 0.6x)"
    )
    per_firm_step, system = {}, {}
    few = 30  # the same steps at every size: the first step (from the initial prices) costs more
    for n in (100, 1000, 10_000):
        build, stepping, _ = fresh_process(n, few, REPEATS, keep_freed=True)
        system[n] = fresh_process(n, few, REPEATS, keep_freed=False)[1] / (n * few)
        per_firm_step[n] = stepping / (n * few)
        print(
            f"{n:>6} firms: {per_firm_step[n] * 1e6:8.2f} us per firm-step "
            f"(a fresh process, fastest of {REPEATS}: {few} steps {stepping:.2f} s; "
            f"building the model {build:.2f} s); glibc's default allocator "
            f"{system[n] * 1e6:.2f} us ({system[n] / per_firm_step[n]:.2f}x)"
        )
    print(
        f"per-firm-step cost 10,000 vs 100 firms: {per_firm_step[10_000] / per_firm_step[100]:.2f}x"
    )
    peak = fresh_process(10_000, 10, 1, keep_freed=True)[2]
    print(f"peak RSS of a fresh process, 10,000 firms x 10 steps: {peak:.0f} MB (target < 2,048)")
    print(f"this process (every run above): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
