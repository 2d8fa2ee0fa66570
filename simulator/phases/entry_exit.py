"""Entry and exit: firms with cash below zero for too long leave; new firms arrive at a
Poisson rate that rises with industry margins and strong open models (market.dynamics);
``firm_row`` gives an entering firm's starting row of the state from its spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simulator import metrics
from simulator.market import dynamics
from simulator.market.data import per_segment
from simulator.market.state import MarketState

if TYPE_CHECKING:
    from simulator.config import Company, Scenario


def firm_row(spec: Company, scenario: Scenario, step: int) -> dict[str, Any]:
    """A firm's starting values in the state's columns, from its validated spec."""
    segments = scenario.segment_names
    mix = spec.data_mix or dict.fromkeys(segments, 1.0)
    data_mix = np.array([mix.get(s, 0.0) for s in segments], dtype=float)
    return {
        "entered": step,
        "base_cost": spec.unit_cost,
        "learning_rate": spec.learning_rate,
        "fixed_cost": spec.fixed_cost,
        "price_cap": spec.price_cap or scenario.market.price_cap,
        "capacity": spec.capacity if spec.capacity is not None else np.inf,
        "release_cycle": spec.release_cycle,
        "fixed_quality": spec.quality is not None,
        "price": spec.initial_price if spec.initial_price is not None else 1.5 * spec.unit_cost,
        "cash": spec.cash,
        "brand": spec.brand,
        "model_compute": spec.initial_compute,
        "generation": 1,
        "quality": [(spec.quality or {}).get(s, 0.0) for s in segments],
        "bpb": np.full(len(segments), np.nan),
        "data_mix": data_mix / data_mix.sum(),
        "data_cap": np.ones(len(segments)),
        "feedback_cap": np.ones(len(segments)),
        "data_stock": initial_data(spec, scenario),
    }


def initial_data(spec: Company, scenario: Scenario) -> np.ndarray:
    """A firm's data stock per segment at entry (zeros when data is not modelled)."""
    terms = scenario.market.data
    if terms is None:
        return np.zeros(len(scenario.segment_names))
    return per_segment(spec.data, scenario.segment_names, terms.default_stock())


def exiting(state: MarketState, exit_after: int) -> np.ndarray:
    """Rows of the firms that leave now."""
    return np.flatnonzero(state.negative_cash_steps >= exit_after)


def arrivals(state: MarketState, entry, rng: np.random.Generator) -> list[str]:
    """Archetypes of this step's entrants (drawn with the model's rng), at most up to
    ``entry.max_firms`` active firms."""
    if entry.base_rate <= 0:
        return []
    margins = metrics.profit_margin(state.profit, state.revenue)
    mean_margin = float(np.nanmean(margins)) if np.isfinite(margins).any() else 0.0
    rate = dynamics.entry_rate(
        entry.base_rate,
        entry.margin_sensitivity,
        entry.open_sensitivity,
        mean_margin,
        state.open_quality(),
    )
    count = int(rng.poisson(rate))
    names = sorted(entry.archetypes)
    weights = np.array([entry.archetypes[a] for a in names])
    return [
        names[int(rng.choice(len(names), p=weights / weights.sum()))]
        for _ in range(min(count, max(entry.max_firms - state.n_firms, 0)))
    ]
