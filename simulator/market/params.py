"""Base of every parameter model in the project, and the limits every numeric field respects.

``Strict`` is the base of the scenario models, the decision rules' ``Params`` and the events:

- unknown keys are errors (a typo must never be silently ignored);
- numbers are finite: ``.nan``, ``.inf`` and ``1e400`` (which overflows to inf) are refused;
- types are exact (pydantic strict mode): ``true`` is not 1, ``"3"`` is not 3 and ``3.0`` is
  not an int; an int is accepted where a float is asked for.

The limits below are far beyond any real market (money is in millions, one step is a month);
they exist so that a huge but finite value cannot overflow the simulation into NaN. Each
field's description states its range.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Unknown keys are errors, numbers are finite and types exact (see the module docstring)."""

    model_config = ConfigDict(
        extra="forbid", validate_default=True, allow_inf_nan=False, strict=True
    )


def as_tuple(value: Any) -> Any:
    """YAML has no tuples: a list is read as one (strict mode accepts only tuples); for
    ``BeforeValidator`` on tuple fields such as market.compute_range and data_range."""
    return tuple(value) if isinstance(value, list) else value


MAX_STEPS = 100_000
"""Most steps (months) a scenario may simulate; also the bound on every duration in steps."""
MAX_FIRMS = 10_000
"""Most firms a scenario may ever hold: companies (after `count:`), entry waves and
market.entry.max_firms together."""
MAX_SEGMENTS = 100
"""Most market segments."""
MAX_MONEY = 1e12
"""Largest amount of money (cash, fixed costs, budgets, entry and link costs), in money units
(millions): 1e12 millions is 1e18 dollars."""
MAX_PRICE = 1e6
"""Largest price or cost per demand unit (money units per unit)."""
MAX_SIZE = 1e12
"""Largest segment size at step 0 (demand units per step)."""
MAX_PROJECTED_SIZE = 1e15
"""Largest size a segment may reach during the run through growth and segment events."""
MAX_CAPACITY = 1e15
"""Largest serving capacity (demand units per step)."""
MAX_BRAND = 1e12
"""Largest brand stock."""
MAX_COMPUTE = 1e40
"""Largest training compute (real FLOPs); today's largest runs are ~1e26. The smallest is 1."""
MIN_COMPUTE_DECADES = 1.0
"""market.compute_range must span at least this many decades (its largest end at least 10x its
smallest): the quality scale maps it onto the zoo's measured span, and a narrower range would
stretch a firm's compute past the float range."""
MAX_SENSITIVITY = 1e6
"""Largest logit coefficient, temperature, |outside utility| or |quality|."""
MAX_FACTOR = 1e6
"""Largest multiplier an event applies, and the range of an index (1 / MAX_FACTOR to
MAX_FACTOR): what events multiply must stay in its own range."""

Steps = Annotated[int, Field(ge=1, le=MAX_STEPS)]
Money = Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY)]
NonNegativeMoney = Annotated[float, Field(ge=0, le=MAX_MONEY)]
Price = Annotated[float, Field(gt=0, le=MAX_PRICE)]
NonNegativePrice = Annotated[float, Field(ge=0, le=MAX_PRICE)]
Compute = Annotated[float, Field(ge=1, le=MAX_COMPUTE)]
Factor = Annotated[float, Field(gt=0, le=MAX_FACTOR)]
Index = Annotated[float, Field(ge=1 / MAX_FACTOR, le=MAX_FACTOR)]
Share = Annotated[float, Field(ge=0, le=1)]
Growth = Annotated[float, Field(gt=-1, le=1)]
