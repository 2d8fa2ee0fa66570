"""MarketState: the one mutable state of the market, as arrays over firms (F) x segments (S).

mesa-frames style: every per-firm quantity is a column (an array with one row per active
firm, in entry order), so a phase of a step is a handful of array operations and touches no
Python attribute per firm. Agents (simulator/agents.py) are thin views over a row.

Rows are added when a firm enters and deleted when it exits; the row order is the order in
which firms entered, which is also the order of every output table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.market.data import best_open_data
from simulator.market.demand import SegmentParams
from simulator.market.open_source import best_open_quality
from simulator.market.supply import unit_cost

Array = np.ndarray

FIRM_VECTORS: dict[str, Any] = {
    # identity and configuration
    "firm_id": np.int64,  # the Mesa agent's unique_id
    "entered": np.int64,  # step at which the firm entered (0: listed at the start)
    "base_cost": float,  # unit cost before learning and the cost index (C at zero output)
    "learning_rate": float,  # Wright's-law cost reduction per doubling of (1 + X / X0)
    "fixed_cost": float,  # fixed cost per step (money units)
    "price_cap": float,  # highest price the firm may set
    "capacity": float,  # serving capacity K per step (np.inf: unlimited)
    "release_cycle": np.int64,  # T: steps between releases
    "fixed_quality": bool,  # quality given in the scenario, not from training compute
    # stocks
    "price": float,
    "unit_cost": float,  # after this step's learning: the cost of the *next* unit served
    "compliance_cost": float,  # per unit served, added by regulation events
    "cash": float,
    "brand": float,
    "open_weights": bool,  # the firm's current model weights are public
    "model_compute": float,  # real training FLOPs behind the shipped model
    "pending_compute": float,  # compute bought or received since the last release
    "last_release": np.int64,
    "generation": np.int64,
    "negative_cash_steps": np.int64,
    "cumulative_output": float,
    # flows of the last step
    "quantity": float,
    "revenue": float,
    "profit": float,
    "marketing": float,
    "rd_spend": float,
    "data_spend": float,  # spend on licensed data (market.data)
    "link_cost": float,
    "pooled_compute": float,
    "firm_share": float,  # share of the firms' units sold (what decisions see)
    "share": float,  # share of all products' units sold, the open model included
    "degree_centrality": float,
}
"""Per-firm vectors of the state, with their dtype (shape (F,))."""

FIRM_MATRICES: dict[str, Any] = {
    "quality": float,
    "bpb": float,
    "extrapolated": bool,  # quality read beyond the measured language models (per segment)
    "data_mix": float,
    "data_cap": float,
    "demand": float,
    "sales": float,
    # the data flywheel (market.data; all zero, and never read, without it)
    "data_stock": float,  # training tokens the firm holds per segment
    "model_data": float,  # training tokens behind the shipped model
    "feedback_cap": float,  # highest feedback rate a regulation allows (1: no cap)
    "data_feedback": float,  # tokens added this step: user feedback,
    "data_licensed": float,  # licensed data bought,
    "data_pooled": float,  # and data from joint-R&D partners
}
"""Per-firm x segment matrices of the state (shape (F, S)), with their dtype."""

ABSORBED = {
    # what the buyer takes over: stocks and last step's business add up
    "sum": (
        "capacity",  # both firms' serving capacity (unlimited stays unlimited)
        "fixed_cost",  # and the cost of running it
        "cash",
        "brand",
        "pending_compute",  # R&D compute bought towards the next model
        "cumulative_output",  # experience (Wright's law)
        "quantity",  # last step's customers, so the next budgets see the combined business
        "revenue",
        "profit",
        "marketing",
        "rd_spend",
        "data_spend",
        "link_cost",
        "pooled_compute",
        "firm_share",
        "share",
        "demand",
        "sales",
        "data_stock",  # both firms' training data
        "data_feedback",
        "data_licensed",
        "data_pooled",
    ),
    # the better of the two models, per segment
    "max": ("model_compute", "quality", "extrapolated", "model_data"),
    "min": ("bpb",),
}
"""How an acquisition (MarketState.absorb) combines two firms' columns; every other column (its
prices, costs, rules, release cycle, data mix, weights...) stays the buyer's."""


@dataclass
class MarketState:
    """All mutable market state. Firm columns are numpy arrays aligned with ``names``."""

    segment_names: list[str]
    seg: SegmentParams  # demand parameters of the segments (alpha, beta, gamma, mu, u0)
    size: Array  # M_s: segment size this step (S,)
    growth: Array  # growth rate of M_s per step (S,)
    cost_index: float  # industry multiplier on unit costs
    compute_price: float  # money units per 1e24 training FLOPs
    learning_output_scale: float  # X0 of Wright's law
    names: list[str] = field(default_factory=list)
    archetypes: list[str] = field(default_factory=list)
    rules: dict[str, Array] = field(default_factory=dict)  # decision -> rule name per firm
    params: dict[str, Array] = field(default_factory=dict)  # rule parameter -> value per firm
    columns: dict[str, Array] = field(default_factory=dict)
    # weights released by firms that have left (the open model outlives its maker)
    retired_open_quality: Array | None = None  # best such quality per segment (S,)
    retired_open_compute: float = 0.0  # and the largest such training compute
    retired_open_data: Array | None = None  # and the most data behind such a model (S,)
    #: firms' data stocks limit their models' quality (market.data is set)
    data_limited: bool = False
    #: rows of each (decision, rule), kept until a firm enters, leaves or changes rule
    _rows_of_rule: dict[tuple[str, str], Array] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        n_seg = len(self.segment_names)
        if self.retired_open_quality is None:
            self.retired_open_quality = np.zeros(n_seg)
        if self.retired_open_data is None:
            self.retired_open_data = np.zeros(n_seg)
        for name, dtype in FIRM_VECTORS.items():
            self.columns.setdefault(name, np.zeros(0, dtype=dtype))
        for name, dtype in FIRM_MATRICES.items():
            self.columns.setdefault(name, np.zeros((0, n_seg), dtype=dtype))
        self._mirror_columns()

    def _mirror_columns(self) -> None:
        """Make each column an attribute too (``state.price`` is ``state.columns["price"]``,
        read as a plain attribute: a phase reads ~80 a step). Called whenever ``columns``
        gets new arrays (firms enter or leave); writes go into the arrays (``__setattr__``)."""
        self.__dict__.update(self.columns)

    def __setattr__(self, name: str, value: Any) -> None:
        columns = self.__dict__.get("columns")
        if columns is not None and name in columns:
            columns[name][...] = value
        else:
            object.__setattr__(self, name, value)

    @property
    def n_firms(self) -> int:
        return len(self.names)

    @property
    def n_segments(self) -> int:
        return len(self.segment_names)

    def row(self, name: str) -> int:
        """Row of the firm called ``name``."""
        return self.names.index(name)

    def add_firm(
        self,
        name: str,
        archetype: str,
        values: dict[str, Any],
        rules: dict[str, str],
        params: dict[str, Any],
    ) -> int:
        """Append one firm's row (columns not in ``values`` start at zero); returns its row."""
        return int(self.add_firms([name], [archetype], [values], [rules], [params])[0])

    def add_firms(
        self,
        names: list[str],
        archetypes: list[str],
        values: list[dict[str, Any]],
        rules: list[dict[str, str]],
        params: list[dict[str, Any]],
    ) -> Array:
        """Append several firms' rows at once (one copy of each column); returns their rows."""
        self._rows_of_rule.clear()
        first = self.n_firms
        self.names.extend(names)
        self.archetypes.extend(archetypes)
        for key, column in self.columns.items():
            default = np.zeros(column.shape[1:], dtype=column.dtype)
            new = np.array([np.asarray(v.get(key, default), dtype=column.dtype) for v in values])
            self.columns[key] = np.concatenate(
                [column, new.reshape((len(values), *column.shape[1:]))]
            )
        self._mirror_columns()
        for table, rows in ((self.rules, rules), (self.params, params)):
            for key in rows[0] if rows else ():
                cells = np.empty(len(rows), dtype=object)
                for i, row in enumerate(rows):
                    cells[i] = row[key]  # lists stay one cell (e.g. link_types)
                old = table.get(key, np.zeros(0, dtype=object))
                table[key] = np.concatenate([old.astype(object), cells])
        for key, column in self.params.items():  # numeric parameters as float arrays
            if column.dtype == object and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in column
            ):
                self.params[key] = column.astype(float)
        return np.arange(first, self.n_firms)

    def remove_firms(self, rows: Array) -> None:
        """Delete the rows of firms that exit."""
        self._rows_of_rule.clear()
        keep = np.ones(self.n_firms, dtype=bool)
        keep[np.asarray(rows, dtype=int)] = False
        self.names = [n for n, k in zip(self.names, keep, strict=True) if k]
        self.archetypes = [a for a, k in zip(self.archetypes, keep, strict=True) if k]
        for table in (self.columns, self.rules, self.params):
            for key in table:
                table[key] = table[key][keep]
        self._mirror_columns()

    def absorb(self, buyer: int, target: int) -> None:
        """Row ``buyer`` takes over row ``target``'s stocks and customers (ABSORBED); the
        caller removes the target's row. The buyer's unit cost is refreshed (experience)."""
        columns = self.columns
        for name in ABSORBED["sum"]:
            columns[name][buyer] = columns[name][buyer] + columns[name][target]
        for name in ABSORBED["max"]:
            columns[name][buyer] = np.maximum(columns[name][buyer], columns[name][target])
        for name in ABSORBED["min"]:
            columns[name][buyer] = np.fmin(columns[name][buyer], columns[name][target])
        self.refresh_unit_cost(slice(buyer, buyer + 1))

    @property
    def open_model_exists(self) -> bool:
        """Some weights are open: a firm's, or those of a releaser that has left."""
        return bool(self.open_weights.any()) or self.retired_open_compute > 0

    def open_quality(self) -> Array:
        """Best open quality per segment (S,), retired releases included; zeros if none."""
        return best_open_quality(self.quality, self.open_weights, self.retired_open_quality)

    def open_compute(self) -> float:
        """Training compute of the best open model (0 if none)."""
        live = float(self.model_compute[self.open_weights].max()) if self.open_weights.any() else 0
        return max(live, self.retired_open_compute)

    def retire_open_weights(self, rows: Array) -> None:
        """The open-weight firms among ``rows`` are leaving: their weights stay available."""
        rows = np.asarray(rows, dtype=int)
        rows = rows[self.open_weights[rows]]
        if len(rows):
            self.retired_open_quality = np.maximum(
                self.retired_open_quality, self.quality[rows].max(axis=0)
            )
            self.retired_open_compute = max(
                self.retired_open_compute, float(self.model_compute[rows].max())
            )
            self.retired_open_data = np.maximum(
                self.retired_open_data, self.model_data[rows].max(axis=0)
            )

    def open_data(self) -> Array | None:
        """Most data behind any open model per segment (S,); None when no weights are open."""
        return best_open_data(self.model_data, self.open_weights, self.retired_open_data)

    def read_quality(self, quality_source, rows: Array):
        """(quality, bpb, extrapolated) of the rows' shipped models: the quality source at
        their training compute and data mix, and their training data when data is modelled."""
        if self.data_limited:
            return quality_source(
                self.model_compute[rows], self.data_mix[rows], self.model_data[rows]
            )
        return quality_source(self.model_compute[rows], self.data_mix[rows])

    def group(self, decision: str, rule: str) -> Array:
        """Rows of the firms whose rule for ``decision`` is ``rule`` (read-only; rules change
        through add_firms, remove_firms and set_rule only, which forget these rows)."""
        key = (decision, rule)
        if key not in self._rows_of_rule:
            rows = np.flatnonzero(self.rules[decision] == rule)
            rows.flags.writeable = False
            self._rows_of_rule[key] = rows
        return self._rows_of_rule[key]

    def set_rule(self, decision: str, row: int, rule: str) -> None:
        """Give the firm in ``row`` the rule ``rule`` for ``decision``."""
        self.rules[decision][row] = rule
        self._rows_of_rule.clear()

    def refresh_unit_cost(self, rows: Array | slice = slice(None)) -> None:
        """Wright's law times the industry cost index, plus any compliance cost per unit."""
        self.unit_cost[rows] = (
            unit_cost(
                self.base_cost[rows],
                self.cumulative_output[rows],
                self.learning_output_scale,
                self.learning_rate[rows],
                self.cost_index,
            )
            + self.compliance_cost[rows]
        )
