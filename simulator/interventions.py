"""The model's side of the `acquire` and `set` events (simulator.market.events dispatches them;
the model passes itself): they need the firms' specs and the market terms, not only the state.

An acquisition merges the target's row into the buyer's (MarketState.absorb, ABSORBED lists
what adds up) and the target exits with the reason 'acquired by <buyer>'. A set event's path
is resolved against the firms active now (simulator.config.settings) and its value written
where the model keeps it: a state column, the segments' demand parameters, the rule tables, or
the market terms the model reads every step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from simulator.config import Company, Market
from simulator.config.paths import PathError
from simulator.config.settings import (
    FIRM_COLUMNS,
    MARKET_STATE,
    SEGMENT_COLUMNS,
    Setting,
    scenario_view,
    setting_target,
)
from simulator.market import dynamics
from simulator.market.state import MarketState
from simulator.market.strategy import DECISION_BY_KEY


class MarketModel(Protocol):
    """What these events need of simulator.model.MarketModel (which imports this module)."""

    state: MarketState
    market: Market
    scenario: Any
    specs: dict[str, Company]
    rules: dict[str, dict[str, Any]]
    network: Any

    def exit_firms(self, rows: np.ndarray, reasons: list[str] | None = None) -> None: ...

    def open_weights(self, rows: np.ndarray) -> None: ...


def acquire(model: MarketModel, acquirer: str, target: str, payment: float) -> None:
    """``acquirer`` absorbs ``target`` and pays ``payment``; nothing happens if either has
    already left the market."""
    state = model.state
    if acquirer not in state.names or target not in state.names:
        return
    buyer, row = state.row(acquirer), state.row(target)
    state.absorb(buyer, row)
    state.cash[buyer] -= payment
    model.exit_firms(np.array([row]), [f"acquired by {acquirer}"])


def apply_setting(model: MarketModel, path: str, value: Any) -> None:
    """Give the parameter at ``path`` its new ``value`` from now on (validated with the
    scenario); nothing happens if the firm it names has left the market."""
    state = model.state
    view = scenario_view(
        [model.specs[name].model_dump(mode="json") for name in state.names],
        model.market.model_dump(mode="json"),
    )
    try:
        setting = setting_target(view, path, value)
    except PathError:
        return
    if setting.scope == "firm":
        _set_firm(model, state.row(setting.name), setting)
        return
    market = Market.model_validate(setting.view["market"])
    if setting.scope == "segment":
        s = state.segment_names.index(setting.name)
        field = setting.keys[0]
        new = getattr(market.segments[s], field)
        if field in ("size", "growth"):
            getattr(state, field)[s] = new
        else:
            column = SEGMENT_COLUMNS[field]
            values = getattr(state.seg, column).copy()
            values[s] = new
            state.seg = replace(state.seg, **{column: values})
    elif setting.keys[0] in MARKET_STATE:
        setattr(state, setting.keys[0], getattr(market, setting.keys[0]))
        state.refresh_unit_cost()
    model.market = market
    model.network.terms = market.network


def _set_firm(model: MarketModel, row: int, setting: Setting) -> None:
    state = model.state
    spec = Company.model_validate(setting.view["companies"][row])
    model.specs[spec.name] = spec
    field = setting.keys[0]
    if field in FIRM_COLUMNS:
        new = getattr(spec, field)
        if field == "capacity" and new is None:
            new = np.inf
        elif field == "price_cap" and new is None:
            new = model.scenario.market.price_cap
        elif field == "initial_price" and new is None:
            new = 1.5 * spec.unit_cost
        state.columns[FIRM_COLUMNS[field]][row] = new
        state.refresh_unit_cost(slice(row, row + 1))
    elif field == "quality" and spec.quality is not None:
        state.quality[row] = [spec.quality.get(s, 0.0) for s in state.segment_names]
    elif field == "data_mix":
        mix = spec.data_mix or dict.fromkeys(state.segment_names, 1.0)
        weights = np.array([[mix.get(s, 0.0) for s in state.segment_names]])
        weights = weights / weights.sum()
        state.data_mix[row] = dynamics.cap_mix(weights, state.data_cap[row][None])[0]
    elif field == "open_weights":
        model.open_weights(np.array([row]))
    elif field == "strategy":
        key = setting.keys[1]
        new = getattr(spec.strategy, key)
        if key in DECISION_BY_KEY:
            model.rules[key].setdefault(new, DECISION_BY_KEY[key].make(new))
            state.set_rule(key, row, new)
        else:
            state.params[key][row] = new
