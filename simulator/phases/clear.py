"""Clearing phase: logit demand D = f(P, Q, I) over the firms' products and the open model,
capacity-limited sales S = g(C, R, T)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.market.demand import D, SegmentParams
from simulator.market.open_source import best_open_quality, with_open_model
from simulator.market.state import MarketState
from simulator.market.supply import S
from simulator.network import PartnershipNetwork

Array = np.ndarray


def products(
    state: MarketState, network: PartnershipNetwork, open_model
) -> tuple[Array, Array, Array, SegmentParams]:
    """Prices, qualities and brands users choose among: the firms' products (allied brand
    included) and, once weights are open, the open model (market.open_source)."""
    brand = network.allied_brand(state.names, state.brand)
    prices, quality, seg = state.price.copy(), state.quality.copy(), state.seg
    if state.open_weights.any():
        open_quality = open_model.usability * best_open_quality(state.quality, state.open_weights)
        return with_open_model(
            prices, quality, brand, seg, open_quality, open_model.mode, open_model.user_price
        )
    return prices, quality, brand, seg


@dataclass
class Clearing:
    """What one clearing produced: every product's demand, the firms' sales."""

    prices: Array  # every product's price, firms first (P,)
    quality: Array  # (P, S)
    brand: Array  # (P,)
    seg: SegmentParams  # with the outside utility the open model may have raised
    demand_all: Array  # demand of every product (P, S)
    shares: Array  # firms' logit shares (F, S)
    sales: Array  # firms' sales after capacity (F, S)

    @property
    def demand(self) -> Array:
        return self.demand_all[: len(self.sales)]


def clear(
    state: MarketState, network: PartnershipNetwork, open_model, spillover: bool
) -> Clearing:
    prices, quality, brand, seg = products(state, network, open_model)
    demand_all, shares_all = D(prices, quality, brand, seg, state.size)
    n = state.n_firms
    sales, _lost = S(demand_all[:n], state.capacity, spillover)
    return Clearing(prices, quality, brand, seg, demand_all, shares_all[:n], sales)
