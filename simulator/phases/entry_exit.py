"""Entry and exit: firms with cash below zero for too long leave; new firms arrive at a
Poisson rate that rises with industry margins and strong open models (market.dynamics)."""

from __future__ import annotations

import numpy as np

from simulator import metrics
from simulator.market import dynamics
from simulator.market.state import MarketState


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
