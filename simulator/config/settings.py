"""`set` events: which scenario parameters may change during a run, and their validation.

A set event names its parameter by a path (simulator.config.paths, the syntax of sweeps and
``llm-market run --set``) into the scenario *as it is when the event fires*: the companies
active then (those listed, plus firms entered by earlier `enter` events, minus firms acquired)
and the market. ``setting_target`` resolves it into a ``Setting``; validation uses it to check
the path and the value (the new value must pass the same pydantic model as in a file), and the
model uses it to apply the value at the event's step (simulator.interventions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from simulator.config.errors import describe, name_part, shown
from simulator.config.paths import PathError, resolve_path, with_values
from simulator.config.schema import Company, Market

FIRM_COLUMNS = {
    "unit_cost": "base_cost",
    "initial_price": "price",
    "price_cap": "price_cap",
    "capacity": "capacity",
    "fixed_cost": "fixed_cost",
    "brand": "brand",
    "cash": "cash",
    "learning_rate": "learning_rate",
    "release_cycle": "release_cycle",
}
"""Company fields a set event may change -> the MarketState column it sets (initial_price: the
firm's current price; unit_cost: its base unit cost before learning and the cost index)."""
FIRM_FIELDS = (*FIRM_COLUMNS, "quality", "data_mix", "open_weights", "strategy")
"""Every Company field a set event may change (strategy: a rule or a rule's parameter)."""
SEGMENT_COLUMNS = {
    "size": "size",
    "growth": "growth",
    "price_sensitivity": "alpha",
    "quality_sensitivity": "beta",
    "brand_sensitivity": "gamma",
    "temperature": "mu",
    "outside_utility": "u0",
}
"""Segment fields -> MarketState.size / growth or the SegmentParams array they set."""
MARKET_STATE = ("cost_index", "compute_price", "learning_output_scale")
"""Market fields held in the MarketState."""
MARKET_TERMS = ("brand_decay", "spillover", "open_model", "entry", "exit_after", "network")
"""Market fields (and their sub-fields) the model reads from its market terms every step."""


@dataclass(frozen=True)
class Setting:
    """A resolved set path: ``scope`` 'firm' (``name`` a firm), 'segment' (``name`` a segment)
    or 'market'; ``keys`` the field's keys inside it; ``view`` the mapping with the new value."""

    scope: str
    name: str
    keys: tuple[str | int, ...]
    canonical: str
    view: dict[str, Any]


def scenario_view(companies: list[dict[str, Any]], market: dict[str, Any]) -> dict[str, Any]:
    """What a set path is resolved against: the active firms' specs and the market."""
    return {"companies": companies, "market": market}


def setting_target(view: dict[str, Any], text: str, value: Any) -> Setting:
    """Resolve ``text`` in ``view`` and set ``value`` there; PathError if the path is not a
    parameter that may change during a run."""
    path = resolve_path(view, text)
    keys = path.keys
    new = with_values(view, {path: value})
    if keys[0] == "companies":
        if len(keys) < 3:
            raise PathError(f"{path.canonical} is a firm; name one of its fields")
        field = keys[2]
        if field not in FIRM_FIELDS or (field == "strategy" and len(keys) != 4):
            raise PathError(
                f"{field} of a firm cannot change during a run (fields that can: "
                f"{', '.join(FIRM_FIELDS)}; strategy.<rule or parameter>)"
            )
        if field == "open_weights" and value is not True:
            raise PathError("open_weights can only become true (published weights stay public)")
        return Setting("firm", view["companies"][keys[1]]["name"], keys[2:], path.canonical, new)
    if keys[0] == "market" and len(keys) > 1 and keys[1] == "segments":
        if len(keys) != 4 or keys[3] not in SEGMENT_COLUMNS:
            raise PathError(
                f"{path.canonical}: a segment's {', '.join(SEGMENT_COLUMNS)} can change during "
                "a run"
            )
        segment = view["market"]["segments"][keys[2]]["name"]
        return Setting("segment", segment, keys[3:], path.canonical, new)
    if keys[0] == "market" and len(keys) > 1 and keys[1] in (*MARKET_STATE, *MARKET_TERMS):
        return Setting("market", "", keys[1:], path.canonical, new)
    raise PathError(
        f"{path.canonical} cannot change during a run (companies.<firm>.<field>, "
        f"market.segments.<segment>.<field>, market.{' / '.join((*MARKET_STATE, *MARKET_TERMS))})"
    )


def setting_errors(
    where: str, text: str, value: Any, active: dict[str, Company], market: Market
) -> tuple[list[str], str]:
    """Problems of the set event at ``where`` (firms ``active`` when it fires) and its path
    in canonical form (list items by name)."""
    view = scenario_view(
        [spec.model_dump(mode="json") for spec in active.values()], market.model_dump(mode="json")
    )
    try:
        setting = setting_target(view, text, value)
    except PathError as exc:
        return [f"{where}.path: {exc}"], text
    if setting.scope == "firm":
        index = list(active).index(setting.name)
        model, data = Company, setting.view["companies"][index]
    else:
        model, data = Market, setting.view["market"]
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [
            f"{where}.value: {describe(e)} (as {_field(e['loc'])} of "
            f"{'the market' if model is Market else shown(setting.name)})"
            for e in exc.errors()
        ], setting.canonical
    return [], setting.canonical


def _field(loc: tuple[Any, ...]) -> str:
    """A pydantic error location inside a company or the market, without union tags."""
    return ".".join(name_part(k) for k in loc if not (isinstance(k, str) and k.startswith("<")))
