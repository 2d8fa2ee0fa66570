"""Sweep spec schema (pydantic v2), YAML loading and one-line errors naming the field.

A sweep spec names a base scenario, the parameters to vary (each a path into the scenario and
a distribution), the design method, the number of replications per parameter point and the
outcome metrics to record::

    scenario: ../baseline.yaml      # path: relative to the spec file's folder, else to the CWD
    replications: 20                # seeds per parameter point
    method: lhs                     # grid | random | lhs | sobol
    samples: 64
    parameters:
      market.segments.assistant.price_sensitivity: {uniform: [0.5, 2.0]}
      companies.OpenLab.strategy.pricing: {choice: [best_response, undercut]}
    outcomes: [final_hhi, final_share.OpenLab, mean_price]

Validation checks everything before any run: unknown keys, every parameter path against the
base scenario, every outcome name against the metric registry and the scenario's firms, and the
design's size: a sweep of more than ``MAX_RUNS`` runs (points x replications) is refused with
the count it would need, before anything is drawn or written. A problem is reported as
``SweepSpecError`` (a ScenarioError, so ``llm-market`` prints one line per problem and exits
with code 2).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from simulator.config import Scenario, ScenarioError, parse_scenario, read_yaml
from simulator.config.files import read_scenario_data
from simulator.config.paths import ParameterPath, PathError, resolve_path
from simulator.sweep.outcomes import DEFAULT_OUTCOMES, check_outcome

RESERVED_COLUMNS = ("run", "point", "replication", "seed", "error")
"""Columns of the runs table that a parameter or outcome name may not take."""

DISTRIBUTIONS = ("uniform", "loguniform", "integer", "choice", "values")

MAX_RUNS = 1_000_000
"""The most runs (parameter points x replications) one sweep may have. Planning validates every
point's scenario before the first run (~1 ms a point) and every run leaves a file in DIR/runs/;
a million runs is already hours to days of computing. Larger designs are refused at validation,
before anything is drawn or written, with the run count they would need."""
DASK_CONNECT_TIMEOUT_S = 5.0


class SweepSpecError(ScenarioError):
    """Invalid sweep spec or sweep folder: ``lines`` holds one 'field: problem' line each."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Distribution(Strict):
    """How one parameter varies: a mapping with exactly one of the keys below.

    Every design draws points in the unit cube and maps each coordinate u in [0, 1) through
    the parameter's distribution (its inverse CDF), so Sobol and LHS designs keep their
    properties for discrete parameters too. In a ``grid`` design each parameter takes its
    levels instead (see ``grid_levels`` of the spec).
    """

    uniform: tuple[float, float] | None = Field(
        None,
        description="[lo, hi]: real numbers, uniform on lo..hi. Grid: grid_levels evenly "
        "spaced levels from lo to hi.",
    )
    loguniform: tuple[float, float] | None = Field(
        None,
        description="[lo, hi] with 0 < lo < hi: uniform in log(value), for scale "
        "parameters spanning orders of magnitude. Grid: geometrically spaced levels. The "
        "regression sensitivity uses log10(value).",
    )
    integer: tuple[int, int] | None = Field(
        None,
        description="[lo, hi]: whole numbers lo..hi, both included, equally likely. Grid: "
        "every integer, or grid_levels evenly spaced ones if there are more.",
    )
    choice: list[Any] | None = Field(
        None,
        min_length=1,
        description="Categories (e.g. pricing rules), equally likely, no "
        "order. Grid: every category. The regression sensitivity one-hot encodes them.",
    )
    values: list[Any] | None = Field(
        None,
        min_length=1,
        description="An explicit list of levels (numbers in their order, "
        "e.g. event steps), equally likely. Grid: every value. The regression sensitivity uses "
        "numbers as they are (ordinal); non-numbers are one-hot encoded like a choice.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Distribution:
        given = [name for name in DISTRIBUTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(DISTRIBUTIONS)}"
                + (f" (got {', '.join(given)})" if given else "")
            )
        kind = given[0]
        if kind in ("uniform", "loguniform"):
            lo, hi = getattr(self, kind)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"{kind}: needs [lo, hi] with lo < hi (got [{lo}, {hi}])")
            if kind == "loguniform" and lo <= 0:
                raise ValueError(f"loguniform: needs 0 < lo (got [{lo}, {hi}])")
        if kind == "integer" and self.integer[0] > self.integer[1]:
            raise ValueError(f"integer: needs [lo, hi] with lo <= hi (got {list(self.integer)})")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in DISTRIBUTIONS if getattr(self, name) is not None)

    @property
    def items(self) -> list[Any]:
        """The categories or levels of a choice/values parameter."""
        return list(self.choice if self.choice is not None else self.values or [])

    @property
    def is_numeric(self) -> bool:
        """True if every value it can take is a number (bool is not), so it can be ordered."""
        if self.kind in ("uniform", "loguniform", "integer"):
            return True
        if self.kind == "choice":
            return False
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.items)


class DaskOptions(Strict):
    """Where the Dask executor runs."""

    address: str | None = Field(
        None,
        description="Scheduler address (tcp://host:8786); null "
        "starts a LocalCluster on this machine.",
    )
    processes: bool = Field(
        True,
        description="LocalCluster workers are processes (else threads "
        "of this process; only useful for debugging).",
    )
    connect_timeout: float = Field(
        DASK_CONNECT_TIMEOUT_S,
        gt=0,
        le=600,
        description="Seconds to wait for the scheduler at `address` before giving up with a "
        "one-line error.",
    )


class SweepSpec(Strict):
    """A Monte Carlo / sensitivity sweep over a base scenario."""

    name: str | None = Field(None, description="Sweep name; default: the spec file's stem.")
    description: str = Field("", description="What the sweep asks and what to look at.")
    scenario: str | dict[str, Any] = Field(
        description="Base scenario: a YAML path (relative to the spec file's folder; if no such "
        "file there, relative to the current directory) or an inline scenario mapping."
    )
    seed: int | None = Field(
        None,
        ge=0,
        description="Root seed of the whole sweep (design and "
        "runs); default: the base scenario's seed.",
    )
    replications: int = Field(
        10,
        ge=1,
        description="Runs per parameter point, each with its own "
        "independent random stream (SeedSequence.spawn). A sweep has at most 1,000,000 runs "
        "(points x replications).",
    )
    method: Literal["grid", "random", "lhs", "sobol"] = Field(
        "lhs",
        description="grid: every combination of the parameters' levels; random: "
        "independent uniform draws; lhs: Latin hypercube (each parameter's range cut into "
        "`samples` strata, one point in each); sobol: Saltelli/Sobol' design for Sobol indices.",
    )
    samples: int | None = Field(
        None,
        ge=1,
        description="random/lhs: number of parameter points (default 64). sobol: the "
        "base sample N, a power of 2 (default 64); the design has N x (parameters + 2) points. "
        "grid: not used (the design size is the product of the levels).",
    )
    grid_levels: int = Field(
        5, ge=2, description="grid: levels of each uniform, loguniform or integer parameter."
    )
    parameters: dict[str, Distribution] = Field(
        default_factory=dict,
        description="Scenario field path -> distribution. Paths are "
        "dotted; list items by name or 0-based index: market.segments.code.size, "
        "companies.1.unit_cost, events.0.step.",
    )
    outcomes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_OUTCOMES),
        min_length=1,
        description="Outcome metrics recorded per run (see `llm-market sweep --list-outcomes`).",
    )
    executor: Literal["serial", "processes", "dask"] = Field(
        "processes",
        description="serial: in this process; processes: a local process pool "
        "(all cores unless `workers`); dask: a Dask distributed cluster (see `dask`).",
    )
    workers: int | None = Field(
        None,
        ge=1,
        description="Worker processes (processes, or a Dask LocalCluster); default: all cores.",
    )
    dask: DaskOptions = Field(default_factory=DaskOptions, description="Dask executor options.")

    @field_validator("replications", "samples", "grid_levels", "workers", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        """Counts written as 1e9 (a string to YAML) or 1.0e9 (a float) are whole numbers."""
        if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
            try:
                number = float(value)
            except ValueError:
                return value
        elif isinstance(value, float):
            number = value
        else:
            return value
        return int(number) if math.isfinite(number) and number == int(number) else value

    @field_validator("outcomes")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        duplicates = sorted({v for v in value if value.count(v) > 1})
        if duplicates:
            raise ValueError(f"duplicate outcome {duplicates[0]!r}")
        return value

    @property
    def n_samples(self) -> int:
        return self.samples if self.samples is not None else 64


def grid_level_count(dist: Distribution, levels: int) -> int:
    """How many levels a parameter takes in a grid design (``design.grid_levels`` draws them)."""
    if dist.kind in ("uniform", "loguniform"):
        return levels
    if dist.kind == "integer":
        lo, hi = dist.integer
        return min(hi - lo + 1, levels)
    return len(dist.items)


def design_points(spec: SweepSpec) -> int:
    """The number of parameter points of the spec's design, computed without drawing it."""
    if spec.method == "grid" or not spec.parameters:
        return math.prod(grid_level_count(d, spec.grid_levels) for d in spec.parameters.values())
    if spec.method == "sobol":
        return spec.n_samples * (len(spec.parameters) + 2)
    return spec.n_samples


def count_text(n: int) -> str:
    """A count for a message: 1,234,567, or 1.2e+40 when it is too long to read."""
    if n < 10**15:
        return f"{n:,}"
    exponent = math.floor(math.log10(n))
    return f"{10 ** (math.log10(n) - exponent):.1f}e+{exponent}"


def design_size_error(spec: SweepSpec) -> str | None:
    """The one-line error of a design with more than MAX_RUNS runs, else None."""
    points = design_points(spec)
    runs = points * spec.replications
    if runs <= MAX_RUNS:
        return None
    if spec.method == "grid" or not spec.parameters:
        counts = [grid_level_count(d, spec.grid_levels) for d in spec.parameters.values()]
        numeric = any(
            d.kind in ("uniform", "loguniform", "integer") for d in spec.parameters.values()
        )
        key = "grid_levels" if numeric else "parameters"
        product = (
            " x ".join(count_text(c) for c in counts)
            if len(counts) <= 6
            else f"the product of {len(counts)} parameters' levels"
        )
        design = f"the grid has {product} = {count_text(points)} points"
    elif spec.method == "sobol":
        key = "samples"
        design = (
            f"the sobol design has {count_text(spec.n_samples)} x "
            f"({len(spec.parameters)} parameters + 2) = {count_text(points)} points"
        )
    else:
        key = "samples"
        design = f"the {spec.method} design has {count_text(points)} points"
    if points <= MAX_RUNS:
        key = "replications"
    return (
        f"{key}: {design} x {count_text(spec.replications)} replications = "
        f"{count_text(runs)} runs, more than the limit of {count_text(MAX_RUNS)} runs "
        "per sweep"
    )


class ResolvedSpec:
    """A validated spec plus what validation resolved: base scenario, paths, root seed."""

    def __init__(
        self,
        spec: SweepSpec,
        base: Scenario,
        base_data: dict[str, Any],
        paths: dict[str, ParameterPath],
        root_seed: int,
        scenario_file: Path | None,
        prepare=None,
    ):
        self.prepare = prepare  # market data: a sampled data mapping -> its calibrated scenario
        self.spec = spec
        self.base = base
        self.base_data = base_data
        self.paths = paths
        self.root_seed = root_seed
        self.scenario_file = scenario_file

    @property
    def name(self) -> str:
        return self.spec.name or self.base.name

    def identity(self) -> dict[str, Any]:
        """Everything that determines the results (not how they are computed): the resume key."""
        spec = self.spec
        return {
            "scenario": self.base_data,
            "seed": self.root_seed,
            "replications": spec.replications,
            "method": spec.method,
            "samples": None if spec.method == "grid" else spec.n_samples,
            "grid_levels": spec.grid_levels if spec.method == "grid" else None,
            # a list, not a mapping: the parameters' order shapes the design
            "parameters": [
                [path, dist.model_dump(mode="json", exclude_none=True)]
                for path, dist in spec.parameters.items()
            ],
            "outcomes": list(spec.outcomes),
        }


def _loc_text(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "model_type" and error["loc"][:1] == ("parameters",):
        return f"expected a mapping with one of {', '.join(DISTRIBUTIONS)} (got {error['input']!r})"
    if "input" in error and not isinstance(error["input"], (dict, list)):
        message += f" (got {error['input']!r})"
    return message


def _structure_errors(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = error["loc"]
        # a union's alternatives each report: keep one line per field (str | dict scenario)
        if loc[:1] == ("scenario",):
            loc = ("scenario",)
            error = {**error, "msg": "expected a scenario file path or a scenario mapping"}
        line = f"{_loc_text(loc)}: {_describe(error)}"
        if line not in lines:
            lines.append(line)
    return lines


def _base(data: Any) -> tuple[Scenario, dict[str, Any] | None, Any]:
    """A scenario, or market data (simulator.calibrate): calibrated here and at every point."""
    from simulator.calibrate import is_market_data, sweep_base

    return sweep_base(data) if is_market_data(data) else (parse_scenario(data), None, None)


def _load_base(spec: SweepSpec, base_dir: Path | None) -> tuple[Scenario, Any, Any, Path | None]:
    if isinstance(spec.scenario, dict):
        try:
            return *_base(spec.scenario), None
        except ScenarioError as exc:
            raise SweepSpecError([f"scenario.{line}" for line in exc.lines]) from None
    candidates = [Path(spec.scenario)]
    if base_dir is not None and not Path(spec.scenario).is_absolute():
        candidates.insert(0, base_dir / spec.scenario)
    for path in candidates:
        if path.is_file():
            try:
                return *_base(read_scenario_data(path)), path.resolve()
            except ScenarioError as exc:
                raise SweepSpecError([f"scenario ({path}): {line}" for line in exc.lines]) from None
    tried = " or ".join(dict.fromkeys(str(p.resolve()) for p in candidates))
    raise SweepSpecError([f"scenario: no such file {spec.scenario!r} (tried {tried})"])


def parse_sweep_spec(data: Any, base_dir: str | Path | None = None) -> ResolvedSpec:
    """Validate a spec mapping; ``base_dir`` is the spec file's folder (scenario paths)."""
    if not isinstance(data, dict):
        raise SweepSpecError(
            [f"(top level): expected a mapping of sweep keys, got {type(data).__name__}"]
        )
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SweepSpecError(_structure_errors(exc)) from None
    base, data, prepare, scenario_file = _load_base(
        spec, Path(base_dir) if base_dir is not None else None
    )
    base_data = data if data is not None else base.model_dump(mode="json")
    firms = [company.name for company in base.companies]

    errors: list[str] = []
    paths: dict[str, ParameterPath] = {}
    for text in spec.parameters:
        if text in RESERVED_COLUMNS:
            hint = "; the sweep sets seeds per run (spec `seed`)" if text == "seed" else ""
            errors.append(f"parameters.{text}: reserved name{hint}")
            continue
        try:
            path = resolve_path(base_data, text)
        except PathError as exc:
            errors.append(f"parameters.{text}: {exc}")
            continue
        for other_text, other in paths.items():
            if other.covers(path) or path.covers(other):
                inner = other.canonical if other.covers(path) else path.canonical
                errors.append(
                    f"parameters.{text}: overlaps parameters.{other_text} (both set {inner})"
                )
        paths[text] = path
    for i, name in enumerate(spec.outcomes):
        try:
            check_outcome(name, firms)
        except ValueError as exc:
            errors.append(f"outcomes.{i}: {exc}")
        if name in spec.parameters:
            errors.append(f"outcomes.{i}: {name!r} is also a parameter name")
    if spec.method == "grid" and spec.samples is not None:
        errors.append(
            "samples: not used by method grid (its size is the product of the "
            "levels; set grid_levels)"
        )
    if spec.method == "sobol":
        n = spec.n_samples
        if n & (n - 1):
            lower = 1 << (n.bit_length() - 1)
            errors.append(
                f"samples: sobol needs a power of 2 (got {n}; try {lower} or {lower * 2})"
            )
        if not spec.parameters:
            errors.append("parameters: sobol needs at least one parameter")
    too_big = design_size_error(spec)
    if too_big is not None:
        errors.append(too_big)
    if errors:
        raise SweepSpecError(errors)
    root_seed = spec.seed if spec.seed is not None else base.seed
    return ResolvedSpec(spec, base, base_data, paths, root_seed, scenario_file, prepare)


def load_sweep_spec(path: str | Path) -> ResolvedSpec:
    """Read and validate a sweep spec YAML file (scenario paths relative to its folder)."""
    path = Path(path)
    data = read_yaml(path, SweepSpecError)
    resolved = parse_sweep_spec(data, base_dir=path.parent)
    if resolved.spec.name is None:
        resolved.spec = resolved.spec.model_copy(update={"name": path.stem})
    return resolved


def resolve_spec(spec: str | Path | dict[str, Any] | ResolvedSpec) -> ResolvedSpec:
    """Accept a spec file path, a spec mapping (paths relative to the CWD) or a resolved spec."""
    if isinstance(spec, ResolvedSpec):
        return spec
    if isinstance(spec, (str, Path)):
        return load_sweep_spec(spec)
    return parse_sweep_spec(spec)
