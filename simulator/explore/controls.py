"""The explorer's controls: which scenario fields get a slider or a dropdown, their ranges,
and how a set of control values becomes a validated scenario.

No web framework here, so the mapping is tested without a browser. A control addresses its
field with the sweep's parameter paths (``simulator.config.paths``), by list index so a firm
name containing dots cannot be mistaken for a deeper path; applying values goes through
``parse_scenario``, the same validation a scenario file gets, so a combination the schema
rejects (a unit cost above the firm's price cap, say) raises ScenarioError with the usual
one-line messages instead of reaching the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from simulator.config import Scenario, parse_scenario
from simulator.config.paths import ParameterPath, resolve_path, with_values
from simulator.market.strategy import PRICING

SLIDER_POSITIONS = 100
"""A slider's range is cut into about this many steps (rounded to a 1, 2 or 5 step)."""
RELATIVE_RANGE = (0.25, 3.0)
"""A positive parameter's slider spans these multiples of its scenario value."""
GROWTH_RANGE = (-0.05, 0.1)
"""Growth per step: the slider spans at least this range (wider if the scenario's value is)."""
FLOAT_DIGITS = 10
"""A moved slider's value is rounded to this many decimals (drops float noise: 0.1 + 0.2)."""
CAPACITY_SPAN = 2.0
"""A capacity slider reaches this multiple of the whole market's step-0 size (or 3x the firm's
capacity, if larger); its top position means unlimited capacity."""


@dataclass(frozen=True)
class Control:
    """One input on the page: a slider over numbers or a dropdown over names.

    ``path`` addresses the field in the resolved scenario (index form); ``label`` and ``group``
    are what the page shows. ``unlimited_at_high`` marks a capacity slider whose top position
    stands for ``null`` (no capacity limit).
    """

    key: int
    group: str
    label: str
    path: ParameterPath
    kind: Literal["slider", "choice"]
    value: float | int | str
    low: float = 0.0
    high: float = 0.0
    step: float = 0.0
    integer: bool = False
    options: tuple[str, ...] = ()
    unlimited_at_high: bool = False

    def field_value(self, value: Any) -> Any:
        """The scenario value of a control value (a number of the field's type, a rule name,
        or None for an unlimited capacity); validation judges it, this only converts."""
        if self.kind == "choice" or value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value  # left for validation to reject with the field's name
        if self.unlimited_at_high and value >= self.high:
            return None
        if value == self.value:
            return self.value  # the scenario's own value, however many digits it has
        if self.integer:
            return int(round(value))
        return round(float(value), FLOAT_DIGITS)


FEEDBACK_RANGE_MIN = 0.01
"""The feedback-rate slider runs from 0 to 3 x the scenario's rate, at least to this."""


def _nice_step(span: float) -> float:
    """A 1, 2 or 5 x 10^k step that cuts ``span`` into about SLIDER_POSITIONS positions."""
    raw = span / SLIDER_POSITIONS
    exponent = math.floor(math.log10(raw))
    for mantissa in (1, 2, 5, 10):
        if mantissa * 10**exponent >= raw:
            return mantissa * 10.0**exponent
    raise AssertionError("unreachable")


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step))) if step > 0 else 0


def _range(low: float, high: float) -> tuple[float, float, float]:
    """(low, high, step) with the ends on the step grid, low rounded down and high up."""
    step = _nice_step(high - low)
    digits = _decimals(step)
    return (
        round(math.floor(low / step + 1e-9) * step, digits),
        round(math.ceil(high / step - 1e-9) * step, digits),
        step,
    )


def _relative(value: float) -> tuple[float, float, float]:
    low, high = RELATIVE_RANGE
    return _range(value * low, value * high)


def scenario_controls(scenario: Scenario) -> list[Control]:
    """The controls of ``scenario``, in page order: each segment's price sensitivity,
    temperature and growth; each firm's unit cost, capacity and pricing rule; with market.data
    the feedback rate; each scheduled event's step."""
    data = scenario.model_dump(mode="json")
    controls: list[Control] = []

    def slider(group: str, label: str, text: str, value: float, bounds, **extra: Any) -> None:
        low, high, step = bounds
        path = resolve_path(data, text)
        controls.append(
            Control(len(controls), group, label, path, "slider", value, low, high, step, **extra)
        )

    for i, segment in enumerate(scenario.market.segments):
        group, where = f"segment {segment.name}", f"market.segments.{i}"
        alpha, mu, growth = segment.price_sensitivity, segment.temperature, segment.growth
        slider(group, "price sensitivity α", f"{where}.price_sensitivity", alpha, _relative(alpha))
        slider(group, "temperature μ", f"{where}.temperature", mu, _relative(mu))
        low, high = min(GROWTH_RANGE[0], growth), min(1.0, max(GROWTH_RANGE[1], 2 * growth))
        slider(group, "growth per step", f"{where}.growth", growth, _range(low, high))
    market_size = sum(segment.size for segment in scenario.market.segments)
    for i, company in enumerate(scenario.companies):
        group, where = f"firm {company.name}", f"companies.{i}"
        cost, capacity = company.unit_cost, company.capacity
        slider(group, "unit cost", f"{where}.unit_cost", cost, _relative(cost))
        _, top, step = _range(0.0, max(CAPACITY_SPAN * market_size, 3 * (capacity or 0.0)))
        shown = top if capacity is None else capacity
        label = "capacity (right end: unlimited)"
        slider(group, label, f"{where}.capacity", shown, (step, top, step), unlimited_at_high=True)
        path = resolve_path(data, f"{where}.strategy.pricing")
        rules = tuple(sorted(PRICING.rules))
        pricing = company.strategy.pricing
        controls.append(
            Control(len(controls), group, "pricing rule", path, "choice", pricing, options=rules)
        )
    terms = scenario.market.data
    if terms is not None:  # the data flywheel: the feedback rate, one or per segment
        rates = terms.feedback_rate
        named = rates.items() if isinstance(rates, dict) else [(None, rates)]
        for segment, rate in named:
            label = "feedback rate" + (f" ({segment})" if segment else "")
            where = "market.data.feedback_rate" + (f".{segment}" if segment else "")
            bounds = _range(0.0, max(FEEDBACK_RANGE_MIN, 3 * rate))
            slider("data flywheel", label, where, rate, bounds)
    for i, event in enumerate(scenario.events):
        label = f"{event.label or event.kind}: step"
        slider(
            "events", label, f"events.{i}.step", event.step, (1, scenario.steps, 1), integer=True
        )
    return controls


def scenario_with(
    base: Scenario | Mapping[str, Any], controls: list[Control], values: Mapping[int, Any]
) -> Scenario:
    """``base`` with each control's field set from ``values`` (control key -> value), validated
    like a scenario file: raises ScenarioError (one line per problem) if the result is invalid.
    Controls without a value keep the base's value."""
    data = base.model_dump(mode="json") if isinstance(base, Scenario) else dict(base)
    assignments = {
        control.path: control.field_value(values[control.key])
        for control in controls
        if control.key in values
    }
    return parse_scenario(with_values(data, assignments))
