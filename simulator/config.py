"""Scenario schema (pydantic v2), YAML loading and one-line errors naming the field.

A scenario is a YAML file; ``load_scenario`` turns it into a validated ``Scenario`` or raises
``ScenarioError`` whose ``lines`` read like ``companies.B.unit_cost: must be > 0 (got -1)``.
``llm-market schema`` prints the JSON Schema generated from the models below, so every option
is documented in one place: the ``description`` of its field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulator.market.strategy import PRICING_RULES

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class Segment(Strict):
    """One market segment s with its own logit demand."""

    name: str = Field(description="Segment name, e.g. assistant, code, creative, chinese.")
    size: PositiveFloat = Field(description="Market size M_s at step 0 (demand units per step).")
    growth: float = Field(0.0, gt=-1, description="Growth rate of M_s per step (0.01 = +1%/step).")
    price_sensitivity: PositiveFloat = Field(1.0, description="alpha_s: utility lost per unit price.")
    quality_sensitivity: NonNegativeFloat = Field(
        1.0, description="beta_s: utility per unit of quality Q (Q is ~0..1 for zoo qualities).")
    brand_sensitivity: NonNegativeFloat = Field(
        0.0, description="gamma_s: utility per unit of ln(1 + brand stock).")
    temperature: PositiveFloat = Field(
        0.25, description="mu_s: logit temperature; larger means more horizontal differentiation.")
    outside_utility: float = Field(0.0, description="u0_s: utility of buying no LLM product.")


class Market(Strict):
    """Industry-wide parameters."""

    segments: list[Segment] = Field(min_length=1, description="The market segments.")
    brand_decay: Share = Field(0.1, description="Share of brand stock lost per step.")
    compute_price: PositiveFloat = Field(
        1.0, description="Money units per 1e24 training FLOPs bought with R&D spend.")
    compute_range: tuple[PositiveFloat, PositiveFloat] = Field(
        (1e21, 1e26),
        description="Smallest and largest plausible real training budgets (FLOPs); they map onto "
        "the quality scale's ends (the zoo's smallest and largest measured budgets).")
    cost_index: PositiveFloat = Field(
        1.0, description="Multiplier on every firm's unit cost (events move it: cheaper inference).")
    learning_output_scale: PositiveFloat = Field(
        100.0, description="X0 in Wright's law: cumulative output at which experience doubles.")
    spillover: bool = Field(
        False, description="Unserved demand of capacity-limited firms spills to rivals (else lost).")
    price_cap: PositiveFloat = Field(100.0, description="Default highest price a firm may set.")
    quality_model: Literal["placeholder"] = Field(
        "placeholder",
        description="Where qualities come from for firms without fixed `quality`: 'placeholder' "
        "is Q = log-compute position x focus (simulator.market.quality).")

    @field_validator("compute_range")
    @classmethod
    def _increasing(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("must be [smallest, largest] with smallest < largest")
        return value


class Strategy(Strict):
    """A firm's decision rules: R = h(P_1..P_n) for price, shares of revenue for budgets."""

    pricing: str = Field("best_response", description="Pricing rule: " + ", ".join(
        f"{name} ({rule.description})" for name, rule in sorted(PRICING_RULES.items())))
    undercut_by: float = Field(0.05, gt=0, lt=1, description="undercut: fraction below the "
                               "cheapest rival's price.")
    markup: NonNegativeFloat = Field(0.3, description="cost_plus: price = cost * (1 + markup).")
    follow: Literal["mean", "leader"] = Field("mean", description="match: follow the rivals' mean "
                                              "price or the price of the largest rival.")
    speed: float = Field(0.5, gt=0, le=1, description="match: fraction of the gap closed per step.")
    marketing_share: Share = Field(0.05, description="Marketing spend I as a share of revenue.")
    marketing_min: NonNegativeFloat = Field(0.0, description="Marketing spend floor per step.")
    rd_share: Share = Field(0.15, description="R&D spend R as a share of revenue.")
    rd_min: NonNegativeFloat = Field(0.0, description="R&D spend floor per step (paid from cash).")

    @field_validator("pricing")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        if value not in PRICING_RULES:
            raise ValueError(f"unknown pricing rule {value!r}; known: {', '.join(sorted(PRICING_RULES))}")
        return value


class Company(Strict):
    """One LLM company (a Mesa agent)."""

    name: str = Field(min_length=1, description="Unique firm name.")
    unit_cost: PositiveFloat = Field(description="Unit cost C per demand unit served at step 0.")
    initial_price: PositiveFloat | None = Field(
        None, description="Price at step 0; default 1.5 x unit_cost.")
    price_cap: PositiveFloat | None = Field(None, description="Highest price; default market.price_cap.")
    capacity: PositiveFloat | None = Field(
        None, description="Serving capacity K (demand units per step); null means unlimited.")
    cash: float = Field(100.0, description="Cash at step 0 (money units).")
    fixed_cost: NonNegativeFloat = Field(0.0, description="Fixed cost per step (money units).")
    brand: NonNegativeFloat = Field(0.0, description="Brand stock B at step 0.")
    quality: dict[str, float] | None = Field(
        None, description="Fixed quality per segment (no language model: R&D does not change it). "
        "Segments left out get 0.")
    initial_compute: PositiveFloat = Field(
        1e23, description="Real training FLOPs behind the firm's model at step 0.")
    data_mix: dict[str, NonNegativeFloat] | None = Field(
        None, description="Weights over segments of the firm's training data (its segment focus); "
        "default uniform. Normalised to sum to 1.")
    release_cycle: int = Field(6, ge=1, description="T: steps between model releases.")
    learning_rate: float = Field(
        0.0, ge=0, lt=1, description="Wright's law: unit cost falls by this fraction per doubling "
        "of cumulative output (0: no learning-by-doing).")
    strategy: Strategy = Field(default_factory=Strategy, description="Decision rules.")


class Scenario(Strict):
    """A complete simulation scenario."""

    name: str = Field(min_length=1, description="Scenario name.")
    description: str = Field("", description="What the scenario asks and what to look at.")
    seed: int = Field(0, ge=0, description="Random seed: the same seed gives identical results.")
    steps: int = Field(120, ge=1, le=100_000, description="Number of steps (months) to simulate.")
    market: Market
    companies: list[Company] = Field(min_length=1, description="The firms at step 0.")

    @property
    def segment_names(self) -> list[str]:
        return [segment.name for segment in self.market.segments]


class ScenarioError(ValueError):
    """Invalid scenario: ``lines`` holds one 'field.path: problem' line per problem."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


def _field_path(loc: tuple[Any, ...], data: Any) -> str:
    """Dotted path of a pydantic error location; list items of named things by their name."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            item = node[key]
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(str(name) if isinstance(name, str) and name else str(key))
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required field is missing",
}


def _describe(error: dict[str, Any]) -> str:
    message = _MESSAGES.get(error["type"], error["msg"])
    message = message.removeprefix("Value error, ")
    if error["type"] not in ("missing",) and "input" in error and not isinstance(
        error["input"], (dict, list)
    ):
        message += f" (got {error['input']!r})"
    return message


def _semantic_errors(scenario: Scenario) -> list[str]:
    """Cross-field checks pydantic cannot express per field."""
    errors: list[str] = []
    segments = set(scenario.segment_names)
    seen: set[str] = set()
    for segment in scenario.segment_names:
        if segment in seen:
            errors.append(f"market.segments.{segment}: duplicate segment name")
        seen.add(segment)
    seen = set()
    for company in scenario.companies:
        if company.name in seen:
            errors.append(f"companies.{company.name}: duplicate firm name")
        seen.add(company.name)
        for field in ("quality", "data_mix"):
            mapping = getattr(company, field) or {}
            for key in mapping:
                if key not in segments:
                    errors.append(f"companies.{company.name}.{field}.{key}: no such segment "
                                  f"(segments: {', '.join(scenario.segment_names)})")
        if company.data_mix is not None and sum(company.data_mix.values()) <= 0:
            errors.append(f"companies.{company.name}.data_mix: weights must not all be 0")
    return errors


def parse_scenario(data: Any) -> Scenario:
    """Validate a scenario given as a mapping; raise ScenarioError with every problem."""
    if not isinstance(data, dict):
        raise ScenarioError([f"(top level): expected a mapping of scenario keys, got {type(data).__name__}"])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(
            [f"{_field_path(e['loc'], data)}: {_describe(e)}" for e in exc.errors()]
        ) from None
    errors = _semantic_errors(scenario)
    if errors:
        raise ScenarioError(errors)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read ({exc})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([f"{path}:{where}: invalid YAML ({problem})"]) from None
    return parse_scenario(data)


def scenario_to_yaml(scenario: Scenario) -> str:
    """The resolved scenario, every default filled in, as YAML."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def json_schema() -> dict[str, Any]:
    return Scenario.model_json_schema()
