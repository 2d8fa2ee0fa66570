"""Record phase: the step's outcomes as rows of the output tables (simulator.schema).

``outcomes`` gives the model-level metrics the DataCollector's model reporters read;
``segment_rows`` and ``edge_rows`` the firm x segment and link tables.
"""

from __future__ import annotations

from simulator import metrics
from simulator.market import dynamics
from simulator.market.demand import consumer_surplus, utilities
from simulator.market.open_source import best_open_quality
from simulator.market.state import MarketState
from simulator.network import PartnershipNetwork
from simulator.phases.clear import Clearing


def outcomes(
    state: MarketState, clearing: Clearing | None, network: PartnershipNetwork
) -> dict[str, float]:
    """Model-level outcomes of the step just cleared (``clearing`` None: no firm is left)."""
    out = {"network": network.metrics()}
    if clearing is None:  # only the outside option (and any open product) remain
        return out | {
            "hhi": 0.0,
            "total_demand": 0.0,
            "total_sales": 0.0,
            "open_share": 0.0,
            "price_index": float("nan"),
            "price_dispersion": float("nan"),
            "consumer_surplus": 0.0,
            "outside_share": 1.0,
        }
    n = state.n_firms
    demand_all, sales = clearing.demand_all, clearing.sales
    u = utilities(clearing.prices, clearing.quality, clearing.brand, clearing.seg)
    total_sales = float(sales.sum())
    open_demand = float(demand_all[n:].sum()) + sum(
        float(q) for q in sales[state.open_weights].sum(axis=1)
    )
    inside = float(demand_all[n:].sum()) + total_sales
    return out | {
        "hhi": metrics.hhi(state.share),
        "price_index": metrics.price_index(clearing.prices[:n], state.quantity),
        "price_dispersion": dynamics.price_dispersion(clearing.prices[:n]),
        "consumer_surplus": float(consumer_surplus(u, clearing.seg, state.size).sum()),
        "total_demand": float(clearing.demand.sum()),
        "total_sales": total_sales,
        "outside_share": float(1.0 - demand_all.sum() / state.size.sum()),
        "open_share": open_demand / inside if inside > 0 else 0.0,
        "best_open_quality": float(best_open_quality(state.quality, state.open_weights).mean()),
        "homogenization": dynamics.homogenization(state.data_mix),
    }


def segment_rows(state: MarketState, clearing: Clearing | None, step: int) -> dict[str, list]:
    """Columns of the firm x segment rows of this step (firms in row order)."""
    n, s = state.n_firms, state.n_segments
    if clearing is None or n == 0:
        return {}
    return {
        "step": [step] * (n * s),
        "firm": [name for name in state.names for _ in range(s)],
        "segment": state.segment_names * n,
        "share": clearing.shares.ravel().tolist(),
        "demand": clearing.demand.ravel().tolist(),
        "sales": clearing.sales.ravel().tolist(),
        "quality": clearing.quality[:n].ravel().tolist(),
        "bpb": state.bpb.ravel().tolist(),
        "focus": state.data_mix.ravel().tolist(),
    }


def edge_rows(network: PartnershipNetwork, step: int) -> dict[str, list]:
    """Columns of this step's link rows (one per link, sorted)."""
    edges = network.edges()
    return {
        "step": [step] * len(edges),
        "source": [e[0] for e in edges],
        "target": [e[1] for e in edges],
        "type": [e[2] for e in edges],
        "start_step": [e[3] for e in edges],
    }


def extend(table: dict[str, list], rows: dict[str, list]) -> None:
    for column, values in rows.items():
        table[column].extend(values)
