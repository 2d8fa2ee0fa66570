"""Network phase: links expire, dissolve when unprofitable, and form where both firms' link
rules accept them (simulator.network has the link economics)."""

from __future__ import annotations

import numpy as np

from simulator.market import dynamics
from simulator.market.state import MarketState
from simulator.market.strategy import LINK_RULE, LINK_TYPES
from simulator.network import PartnershipNetwork, expected_gains, link_cost
from simulator.phases.decide import Rules, groups


def update_links(state: MarketState, network: PartnershipNetwork, rules: Rules, step: int) -> None:
    if state.n_firms < 2:
        return
    overlap = dynamics.cosine_similarity(state.data_mix)
    terms = network.terms
    gains = {
        t: expected_gains(t, terms, overlap, state.rd_spend, state.marketing, state.revenue)
        for t in LINK_TYPES
    }
    willing = {}
    for link_type, gain in gains.items():
        net = gain - link_cost(terms, link_type)
        accepts = np.zeros(net.shape, dtype=bool)
        for rule, rows, params in groups(state, LINK_RULE, rules):
            accepts[rows] = rule.willing(link_type, net[rows], rows, params)
        willing[link_type] = accepts
    network.update(step, state.names, gains, willing)
