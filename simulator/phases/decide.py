"""Decision phase: every firm's rules set focus, open-sourcing, budgets and prices.

All decisions see last step's state (prices, shares, revenue); each registry's rules act on
the group of firms that use them at once (simulator.market.strategy).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from simulator.market import dynamics
from simulator.market.demand import update_brand
from simulator.market.state import MarketState
from simulator.market.strategy import (
    DATA_BUDGET,
    FOCUS,
    MARKETING_BUDGET,
    OPEN_SOURCE_RULE,
    PRICING,
    RD_BUDGET,
    MarketView,
    Registry,
)
from simulator.market.strategy.context import DecisionContext
from simulator.network import PartnershipNetwork
from simulator.phases.clear import products

Rules = dict[str, dict[str, object]]
"""decision key -> rule name -> the model's instance of that rule."""


class RowParams(Mapping):
    """The parameters of some firms, sliced from the state only when a rule reads one."""

    def __init__(self, params: dict[str, np.ndarray], rows: np.ndarray):
        self._params, self._rows, self._cache = params, rows, {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = self._params[key][self._rows]
        return self._cache[key]

    def __iter__(self):
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)


def groups(state: MarketState, registry: Registry, rules: Rules):
    """(rule instance, rows of its firms, their parameters) for each rule in use."""
    for name, rule in rules[registry.key].items():
        rows = state.group(registry.key, name)
        if len(rows):
            yield rule, rows, RowParams(state.params, rows)


def publish_weights(state: MarketState, rows: np.ndarray, brand_gain: float) -> None:
    """Open the weights of the firms in ``rows``; a first release earns community goodwill."""
    for i in np.asarray(rows, dtype=int):
        if not state.open_weights[i]:
            state.open_weights[i] = True
            state.brand[i] += brand_gain


def decide(
    state: MarketState,
    rules: Rules,
    network: PartnershipNetwork,
    open_model,
    brand_decay: float,
    quality_source=None,
    step: int = 0,
    rng: np.random.Generator | None = None,
) -> None:
    """Focus, open-sourcing, budgets (marketing builds brand now), then prices.

    Budget and open-sourcing rules get a DecisionContext (the products now, the quality
    source, the open-model terms, the step); pricing rules the MarketView, with last step's
    profits, the firms' names, the step and the model's rng for rules that learn."""
    if not state.n_firms:
        return
    context = DecisionContext(
        state,
        step,
        quality_source,
        open_model,
        brand_decay,
        lambda: products(state, network, open_model),
    )
    mix = state.data_mix.copy()
    target = mix.copy()
    for rule, rows, params in groups(state, FOCUS, rules):
        target[rows] = rule.targets(mix, state.size, rows, params)
    speed = np.where(state.rules["focus"] == "fixed", 0.0, state.params["focus_speed"])
    state.data_mix = dynamics.update_focus(mix, target, speed.astype(float), state.data_cap)

    opening = np.zeros(state.n_firms, dtype=bool)
    for rule, rows, params in groups(state, OPEN_SOURCE_RULE, rules):
        opening[rows] = rule.decide(context, rows, params)
    publish_weights(state, np.flatnonzero(opening), open_model.releaser_brand_gain)

    budgets = (
        (MARKETING_BUDGET, "marketing"),
        (RD_BUDGET, "rd_spend"),
        (DATA_BUDGET, "data_spend"),
    )
    for registry, column in budgets:
        for rule, rows, params in groups(state, registry, rules):
            state.columns[column][rows] = rule.spend(context, rows, params)
    state.brand = update_brand(state.brand, state.marketing, brand_decay)
    set_prices(state, rules, network, open_model, step, rng)


def set_prices(
    state: MarketState,
    rules: Rules,
    network: PartnershipNetwork,
    open_model,
    step: int = 0,
    rng: np.random.Generator | None = None,
) -> None:
    """Every pricing rule prices its firms at once, all seeing last step's prices."""
    n = state.n_firms
    prices, quality, brand, seg = products(state, network, open_model)
    extra = len(prices) - n  # the open product: a rival no rule prices
    costs, caps = state.unit_cost, state.price_cap
    floors = np.minimum(np.maximum(costs, network.price_floors(state.names, prices[:n])), caps)

    def pad(values: np.ndarray, fill: float) -> np.ndarray:
        return np.concatenate((values, np.full(extra, fill))) if extra else values.copy()

    view = MarketView(
        prices=prices,
        costs=pad(costs, 0.0),
        quality=quality,
        brand=brand,
        seg=seg,
        size=state.size,
        shares=pad(state.firm_share, 0.0),
        capacity=pad(state.capacity, np.inf),
        floor=pad(floors, 0.0),
        cap=pad(caps, np.inf),
        n_firms=n,
        profit=state.profit.copy(),
        names=tuple(state.names),
        step=step,
        rng=rng,
    )
    new_prices = prices[:n].copy()
    for rule, rows, params in groups(state, PRICING, rules):
        new_prices[rows] = rule(view, rows, params)
    state.price = new_prices
