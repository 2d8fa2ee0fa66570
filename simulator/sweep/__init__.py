"""Monte Carlo and sensitivity sweeps over scenario parameters.

    from simulator import sweep
    result = sweep.run("scenarios/sweeps/price_sensitivity_x_pricing.yaml", out="runs/sweeps/ps")
    result.runs         # one row per run: run, point, replication, seed, parameters, outcomes
    result.series       # per-step model-level series (and firm shares) of every run
    result.quantiles    # per point, variable and step: mean and 5/25/50/75/95% across replications
    result.summary      # per point and outcome: n, mean, std, min, quantiles, max
    result.sensitivity  # Sobol S1/ST (method sobol) or standardised regression coefficients
    same = sweep.load("runs/sweeps/ps")  # a finished folder, read back

Modules: ``spec`` (schema, validation; parameter paths are simulator.config.paths),
``design`` (grid/random/LHS/Sobol designs and per-run seeds), ``outcomes`` (named metrics),
``worker`` (one run), ``executors`` (serial, processes, Dask), ``store`` (the resumable sweep
folder), ``analysis`` (tables and sensitivity), ``runner`` (``run``), ``report`` (the sweep
figures and DIR/dashboard.html: ``simulator.sweep.report.write_report``; not imported here, so
``import simulator.sweep`` stays free of plotly).
"""

from simulator.config.paths import ParameterPath, PathError, resolve_path
from simulator.sweep.analysis import sobol_indices, standardized_regression
from simulator.sweep.design import build_design, latin_hypercube, run_seeds
from simulator.sweep.outcomes import OUTCOMES, compute_outcomes, describe_outcomes
from simulator.sweep.runner import SweepPlan, SweepResult, load, plan_sweep, run
from simulator.sweep.spec import (
    Distribution,
    ResolvedSpec,
    SweepSpec,
    SweepSpecError,
    load_sweep_spec,
    parse_sweep_spec,
)
from simulator.sweep.store import SweepStore

__all__ = [
    "OUTCOMES",
    "Distribution",
    "ParameterPath",
    "PathError",
    "ResolvedSpec",
    "SweepPlan",
    "SweepResult",
    "SweepSpec",
    "SweepSpecError",
    "SweepStore",
    "build_design",
    "compute_outcomes",
    "describe_outcomes",
    "latin_hypercube",
    "load",
    "load_sweep_spec",
    "parse_sweep_spec",
    "plan_sweep",
    "resolve_path",
    "run",
    "run_seeds",
    "sobol_indices",
    "standardized_regression",
]
