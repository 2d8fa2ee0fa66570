"""Clearing phase: logit demand D = f(P, Q, I) over the firms' products and the open model,
capacity-limited sales S = g(C, R, T)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.market.demand import D, SegmentParams
from simulator.market.open_source import open_price, with_open_model
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
    if state.open_model_exists:
        open_quality = open_model.usability * state.open_quality()
        price = open_price(open_model.user_price, state.price, state.firm_share)
        return with_open_model(prices, quality, brand, seg, open_quality, open_model.mode, price)
    return prices, quality, brand, seg


@dataclass
class Clearing:
    """What one clearing produced. Per segment, every potential user is in exactly one of
    firms' sales, the open model's demand, the outside option or unserved (turned away by a
    capacity limit): they add up to the segment size."""

    prices: Array  # every product's price, firms first (P,)
    quality: Array  # (P, S)
    brand: Array  # (P,)
    seg: SegmentParams  # with the outside utility the open model may have raised
    reference_u0: Array  # the scenario's own outside utility (S,): surplus is measured from it
    demand_all: Array  # demand of every product (P, S)
    shares: Array  # firms' logit shares (F, S)
    sales: Array  # firms' sales after capacity (F, S)
    unserved: Array  # demand turned away by capacity limits, after any spillover (S,)
    open_demand: Array  # users of the open model (S,); zeros without one
    open_share: Array  # their share of each segment (S,)
    open_quality: Array | None  # quality users get from the open model (S,), None without one
    open_price: float  # what users pay for it
    outside_demand: Array  # users who take the outside option (S,)

    @property
    def demand(self) -> Array:
        return self.demand_all[: len(self.sales)]


def clear(state: MarketState, network: PartnershipNetwork, open_model, spillover: bool) -> Clearing:
    prices, quality, brand, seg = products(state, network, open_model)
    size = state.size
    demand_all, shares_all = D(prices, quality, brand, seg, size)
    n = state.n_firms
    sales, unserved = S(demand_all[:n], state.capacity, spillover)
    outside = size - demand_all.sum(axis=0)  # everyone not choosing a product
    open_demand = np.zeros(state.n_segments)
    open_quality = None
    if state.open_model_exists:
        open_quality = open_model.usability * state.open_quality()
        if open_model.mode == "free_product":
            open_demand = demand_all[n:].sum(axis=0)
        else:  # the open model is the outside option wherever it beats doing without
            open_demand = np.where(seg.u0 > state.seg.u0, outside, 0.0)
            outside = outside - open_demand
    return Clearing(
        prices,
        quality,
        brand,
        seg,
        state.seg.u0,
        demand_all,
        shares_all[:n],
        sales,
        unserved,
        open_demand,
        open_demand / size,
        open_quality,
        open_price(open_model.user_price, state.price, state.firm_share),
        np.maximum(outside, 0.0),
    )
