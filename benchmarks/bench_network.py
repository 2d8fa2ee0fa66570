"""Cost of the network phase in large markets with links on, per firm-step.

    python benchmarks/bench_network.py [--steps 6] [--sizes 300 1000 3000 10000]

The market of bench_vs_naive_mesa.py (4 segments, best_response pricing, no budgets) with
every firm `gain_seeking` and R&D and marketing budgets, in three variants:

- none: no firm can bring a partner enough to pay a link's cost (the budgets are small);
- giants: one firm in 20 spends 10 a step on R&D and on marketing (`rd_min`,
  `marketing_min`): links pay among those firms only;
- everyone: every firm spends that much: every pair could pay, so the phase is quadratic in
  the number of firms (shown up to 3,000 firms).

The network phase evaluates only pairs of firms that could both gain (network.link_gain_bound),
so its cost follows the number of such firms, not the market's size. Prints the phase's
microseconds per firm-step (its own time, the steps after the first) and the links held at the
end. Timings on a shared machine are noisy: compare the sizes within one run.
"""

from __future__ import annotations

import argparse
import time

from bench_vs_naive_mesa import scenario

EVERYONE_UP_TO = 3000


def network_seconds(n_firms: int, variant: str, steps: int) -> tuple[float, int]:
    """(seconds in the network phase over ``steps`` steps after a first one, links held)."""
    import simulator.model
    from simulator.model import MarketModel

    data = scenario(n_firms, steps + 1)
    for i, company in enumerate(data["companies"]):
        strategy = company["strategy"]
        strategy.update(link_rule="gain_seeking", rd_share=0.1, marketing_share=0.05)
        if variant == "everyone" or (variant == "giants" and i % 20 == 0):
            strategy.update(rd_min=10.0, marketing_min=10.0)
    model = MarketModel(data)
    model.step()
    phase = simulator.model.network.update_links
    spent = [0.0]

    def timed(*args):
        start = time.perf_counter()
        phase(*args)
        spent[0] += time.perf_counter() - start

    simulator.model.network.update_links = timed
    try:
        for _ in range(steps):
            model.step()
    finally:
        simulator.model.network.update_links = phase
    return spent[0], model.network.n_links()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 3000, 10_000])
    args = parser.parse_args()
    print(f"network phase, us per firm-step ({args.steps} steps after the first), links held")
    for n in args.sizes:
        cells = []
        for variant in ("none", "giants", "everyone"):
            if variant == "everyone" and n > EVERYONE_UP_TO:
                cells.append(f"{variant:>8}: {'-':>7}")
                continue
            seconds, links = network_seconds(n, variant, args.steps)
            per = seconds / (n * args.steps) * 1e6
            cells.append(f"{variant:>8}: {per:7.1f} us {links:6,} links")
        print(f"{n:>6} firms  " + "   ".join(cells))


if __name__ == "__main__":
    main()
