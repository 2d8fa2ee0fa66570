"""Accounting phase: revenue, costs, profit, cash, experience and the R&D pipeline.

    profit = P q - (C q + fixed cost + marketing + R&D + link costs + data),   cash += profit
with q the units sold; unit cost C then falls with this step's output (Wright's law), and this
step's R&D compute, the joint-R&D pool and community contributions join the pending model;
when data is modelled, feedback, licensed and pooled data join the data stocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulator import metrics
from simulator.market.data import DataTerms, feedback_tokens, licensed_tokens
from simulator.market.open_source import community_compute
from simulator.market.state import MarketState
from simulator.market.supply import rd_compute
from simulator.network import PartnershipNetwork
from simulator.phases.clear import Clearing

if TYPE_CHECKING:
    from simulator.config import Market


def account(
    state: MarketState, clearing: Clearing, network: PartnershipNetwork, market: Market
) -> None:
    sales = clearing.sales
    own_compute = rd_compute(state.rd_spend, state.compute_price)
    pooled = network.pooled_compute(state.names, own_compute)
    link_costs = network.link_costs(state.names)
    community = community_compute(
        state.model_compute, state.open_weights, market.open_model.community_rate
    )

    state.demand = clearing.demand
    state.sales = sales
    state.quantity = sales.sum(axis=1)
    state.revenue = state.price * state.quantity
    state.link_cost = link_costs
    state.pooled_compute = pooled
    costs = (
        state.unit_cost * state.quantity
        + state.fixed_cost
        + state.marketing
        + state.rd_spend
        + link_costs
        + state.data_spend
    )
    state.profit = state.revenue - costs
    state.cash += state.profit
    state.negative_cash_steps = np.where(state.cash < 0, state.negative_cash_steps + 1, 0)
    state.cumulative_output += state.quantity
    state.refresh_unit_cost()
    state.pending_compute += own_compute + pooled + community
    if market.data is not None:
        add_data(state, sales, network, market.data)

    state.firm_share = metrics.market_shares(state.quantity)
    every_product = np.concatenate((state.quantity, [clearing.open_demand.sum()]))
    state.share = metrics.market_shares(every_product)[: state.n_firms]
    centrality = network.degree_centrality()
    state.degree_centrality = [float(centrality.get(name, 0.0)) for name in state.names]


def add_data(
    state: MarketState, sales: np.ndarray, network: PartnershipNetwork, terms: DataTerms
) -> None:
    """This step's new training data: user feedback, licensed data and what joint-R&D partners
    pool (simulator.market.data); the stocks grow by their sum."""
    state.data_feedback = feedback_tokens(
        sales, terms.tokens_per_unit, terms.rates(state.segment_names), state.feedback_cap
    )
    state.data_licensed = licensed_tokens(state.data_spend, terms.license_price, state.data_mix)
    own = state.data_feedback + state.data_licensed
    pooled = np.zeros_like(own)
    if terms.pool_share > 0:
        for s in range(state.n_segments):
            pooled[:, s] = network.pooled_data(state.names, own[:, s], terms.pool_share)
    state.data_pooled = pooled
    state.data_stock = state.data_stock + own + pooled
