"""Sampling designs and seeds: which parameter points a sweep runs, with which random streams.

Every design except ``grid`` first draws points in the unit cube [0, 1)^d, then maps each
coordinate through its parameter's distribution (``value_at``). Randomness comes from one root
seed: ``SeedSequence(root).spawn(2)`` gives an independent stream for the design and one for
the runs; the runs' stream is spawned once per parameter point and again once per replication,
so every (point, replication) has its own independent stream whatever the executor.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.sweep.spec import Distribution, ResolvedSpec


def latin_hypercube(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """n points in [0, 1)^d with exactly one point in each of the n strata of every dimension."""
    strata = np.argsort(rng.random((d, n)), axis=1).T  # a random permutation per dimension
    return (strata + rng.random((n, d))) / n


def sobol_design(n: int, d: int, seed: int) -> np.ndarray:
    """Saltelli's extension of a scrambled Sobol' sequence: n * (d + 2) points (SALib order).

    The rows come in blocks of d + 2 (A, AB_1..AB_d, B) as SALib.analyze.sobol expects them;
    second-order indices are not computed.
    """
    from SALib.sample import sobol as salib_sobol

    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    return salib_sobol.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)


def unit_design(method: str, n: int, d: int, seed_sequence: np.random.SeedSequence) -> np.ndarray:
    """Points in the unit cube for method random, lhs or sobol."""
    rng = np.random.default_rng(seed_sequence)
    if method == "random":
        return rng.random((n, d))
    if method == "lhs":
        return latin_hypercube(n, d, rng)
    if method == "sobol":
        return sobol_design(n, d, int(seed_sequence.generate_state(1)[0]))
    raise ValueError(f"no unit-cube design for method {method!r}")


def value_at(dist: Distribution, u: float) -> Any:
    """The parameter value at quantile u in [0, 1] of its distribution (inverse CDF)."""
    kind = dist.kind
    if kind == "uniform":
        lo, hi = dist.uniform
        return float(lo + u * (hi - lo))
    if kind == "loguniform":
        lo, hi = dist.loguniform
        return float(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
    if kind == "integer":
        lo, hi = dist.integer
        count = hi - lo + 1
        return int(lo + min(int(u * count), count - 1))
    items = dist.items
    return items[min(int(u * len(items)), len(items) - 1)]


def grid_levels(dist: Distribution, levels: int) -> list[Any]:
    """The levels a parameter takes in a grid design."""
    kind = dist.kind
    if kind == "uniform":
        return [float(v) for v in np.linspace(*dist.uniform, levels)]
    if kind == "loguniform":
        return [float(v) for v in np.geomspace(*dist.loguniform, levels)]
    if kind == "integer":
        lo, hi = dist.integer
        if hi - lo + 1 <= levels:
            return list(range(lo, hi + 1))
        return sorted({int(round(v)) for v in np.linspace(lo, hi, levels)})
    return dist.items


@dataclass
class Design:
    """The parameter points of a sweep (``unit`` is None for a grid)."""

    points: list[dict[str, Any]]
    unit: np.ndarray | None


def build_design(resolved: ResolvedSpec) -> Design:
    """The sweep's parameter points, in a fixed order (point i is row i)."""
    spec = resolved.spec
    names = list(spec.parameters)
    dists = [spec.parameters[name] for name in names]
    if spec.method == "grid" or not names:
        combos = itertools.product(*(grid_levels(d, spec.grid_levels) for d in dists))
        return Design(points=[dict(zip(names, combo, strict=True)) for combo in combos], unit=None)
    design_stream, _ = np.random.SeedSequence(resolved.root_seed).spawn(2)
    unit = unit_design(spec.method, spec.n_samples, len(names), design_stream)
    points = [
        {name: value_at(dist, float(u)) for name, dist, u in zip(names, dists, row, strict=True)}
        for row in unit
    ]
    return Design(points=points, unit=unit)


def run_seeds(root_seed: int, n_points: int, replications: int) -> np.ndarray:
    """Integer seed of each (point, replication), from independent spawned streams.

    Shape (n_points, replications); the same root always gives the same seeds, and a run's seed
    does not depend on which executor or worker runs it.
    """
    _, runs_stream = np.random.SeedSequence(root_seed).spawn(2)
    seeds = np.empty((n_points, replications), dtype=np.int64)
    for point, point_stream in enumerate(runs_stream.spawn(n_points)):
        for rep, stream in enumerate(point_stream.spawn(replications)):
            seeds[point, rep] = int(stream.generate_state(1, dtype=np.uint32)[0])
    return seeds
