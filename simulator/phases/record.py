"""Record phase: the step's outcomes as rows of the output tables (simulator.schema).

``outcomes`` gives the model-level metrics the DataCollector's model reporters read (the
model's DataCollector is a ``Recorder``); ``segment_rows`` and ``edge_rows`` the firm x
segment and link tables.
"""

from __future__ import annotations

import numpy as np

from simulator import metrics, schema
from simulator.market import dynamics
from simulator.market.demand import consumer_surplus, utilities
from simulator.market.open_source import OPEN_MODEL
from simulator.market.state import MarketState
from simulator.mesa_import import mesa
from simulator.network import PartnershipNetwork
from simulator.phases.clear import Clearing


class Recorder(mesa.DataCollector):
    """Mesa's DataCollector, storing each model reporter's value as read: Mesa deep-copies
    every value in case it is mutable, and none of ours is (numbers and labels, from
    simulator.schema), so the copies only cost time (a few percent of a short run)."""

    def collect(self, model) -> None:
        for name, reporter in self.model_reporters.items():
            value = reporter(model) if callable(reporter) else getattr(model, reporter, None)
            self.model_vars[name].append(value)


def outcomes(
    state: MarketState, clearing: Clearing | None, network: PartnershipNetwork
) -> dict[str, float]:
    """Model-level outcomes of the step just cleared (``clearing`` None: no firm is left)."""
    out = {"network": network.metrics()}
    market_size = float(state.size.sum())
    if clearing is None:  # only the outside option remains
        return out | {
            "hhi": 0.0,
            "hhi_all_products": 0.0,
            "total_demand": 0.0,
            "total_sales": 0.0,
            "open_share": 0.0,
            "price_index": float("nan"),
            "price_dispersion": float("nan"),
            "consumer_surplus": 0.0,
            "outside_share": 1.0,
            "unserved_share": 0.0,
            "market_size": market_size,
            "open_demand": 0.0,
            "outside_demand": market_size,
            "unserved_demand": 0.0,
        }
    n = state.n_firms
    sales = clearing.sales
    u = utilities(clearing.prices, clearing.quality, clearing.brand, clearing.seg)
    surplus = consumer_surplus(
        u, clearing.seg, state.size, clearing.reference_u0, clearing.unserved
    )
    total_sales = float(sales.sum())
    open_demand = float(clearing.open_demand.sum())
    open_users = open_demand + sum(float(q) for q in sales[state.open_weights].sum(axis=1))
    inside = open_demand + total_sales
    all_products = metrics.market_shares(np.concatenate((state.quantity, [open_demand])))
    return out | {
        "hhi": metrics.hhi(state.firm_share),
        "hhi_all_products": metrics.hhi(all_products),
        "price_index": metrics.price_index(clearing.prices[:n], state.quantity),
        "price_dispersion": dynamics.price_dispersion(clearing.prices[:n]),
        "consumer_surplus": float(surplus.sum()),
        "total_demand": float(clearing.demand.sum()),
        "total_sales": total_sales,
        "market_size": market_size,
        "open_demand": open_demand,
        "outside_demand": float(clearing.outside_demand.sum()),
        "unserved_demand": float(clearing.unserved.sum()),
        "outside_share": float(clearing.outside_demand.sum()) / market_size,
        "unserved_share": float(clearing.unserved.sum()) / market_size,
        "open_share": open_users / inside if inside > 0 else 0.0,
        "best_open_quality": float(state.open_quality().mean()),
        "homogenization": dynamics.homogenization(state.data_mix),
    }


def segment_rows(state: MarketState, clearing: Clearing | None, step: int) -> dict[str, list]:
    """Columns of the firm x segment rows of this step (firms in row order, then the open
    model's rows while one exists)."""
    n, s = state.n_firms, state.n_segments
    if clearing is None or n == 0:
        return {}
    rows = {
        "share": clearing.shares,
        "demand": clearing.demand,
        "sales": clearing.sales,
        "quality": clearing.quality[:n],
        "bpb": state.bpb,
        "focus": state.data_mix,
        "extrapolated": state.extrapolated,
    }
    names = list(state.names)
    if clearing.open_quality is not None:
        open_rows = np.flatnonzero(state.open_weights)  # the open model is the best of these
        extrapolated = (
            state.extrapolated[open_rows[np.argmax(state.quality[open_rows], axis=0)], np.arange(s)]
            if len(open_rows)
            else np.zeros(s, dtype=bool)  # weights that outlived their maker: measured then
        )
        open_row = {
            "share": clearing.open_share,
            "demand": clearing.open_demand,
            "sales": clearing.open_demand,  # no capacity limit: every user is served
            "quality": clearing.open_quality,
            "bpb": np.full(s, np.nan),
            "focus": np.full(s, np.nan),
            "extrapolated": extrapolated,
        }
        rows = {k: np.vstack([v, open_row[k]]) for k, v in rows.items()}
        names.append(OPEN_MODEL)
    return {
        "step": [step] * (len(names) * s),
        "firm": [name for name in names for _ in range(s)],
        "segment": state.segment_names * len(names),
        **{k: v.ravel().tolist() for k, v in rows.items()},
    }


def open_model_row(state: MarketState, clearing: Clearing | None, step: int) -> dict[str, list]:
    """The open model's row of the firms table this step (empty without an open model).

    It is a product, not a firm: no costs, cash or links (NaN), firm_id -1."""
    if clearing is None or clearing.open_quality is None:
        return {}
    quantity = float(clearing.open_demand.sum())
    price = clearing.open_price
    total = quantity + float(clearing.sales.sum())
    row = dict.fromkeys(schema.column_names("firms"), float("nan"))  # what a product lacks
    row |= {
        "step": step,
        "firm": OPEN_MODEL,
        "firm_id": -1,
        "archetype": "",
        "price": price,
        "quantity": quantity,
        "revenue": price * quantity,
        "share": quantity / total if total > 0 else 0.0,
        "brand": 0.0,
        "generation": 0,
        "model_compute": state.open_compute(),
        "open_weights": True,
    }
    return {column: [value] for column, value in row.items()}


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


def collect(collector: Recorder, model, clearing: Clearing | None, step: int) -> None:
    """A step of a full run: the DataCollector's model row (its reporters read ``model``) and
    the rows of the firms, segments, edges and data tables."""
    state, tables = model.state, collector.tables
    collector.collect(model)
    extend(tables["firms"], schema.firm_columns(state, step))
    extend(tables["firms"], open_model_row(state, clearing, step))
    extend(tables["segments"], segment_rows(state, clearing, step))
    extend(tables["edges"], edge_rows(model.network, step))
    extend(tables["data"], data_rows(state, step))


def extend(table: dict[str, list], rows: dict[str, list]) -> None:
    for column, values in rows.items():
        table[column].extend(values)


def data_rows(state: MarketState, step: int) -> dict[str, list]:
    """Columns of the firm x segment rows of the data table (market.data; none without it)."""
    if not state.data_limited or state.n_firms == 0:
        return {}
    s = state.n_segments
    columns = {
        c.name: state.columns[c.read].ravel().tolist()
        for c in schema.DATA
        if isinstance(c.read, str)
    }
    return {
        "step": [step] * (state.n_firms * s),
        "firm": [name for name in state.names for _ in range(s)],
        "segment": state.segment_names * state.n_firms,
        **columns,
        "data_spend": np.repeat(state.data_spend, s).tolist(),
    }
