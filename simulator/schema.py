"""Every column of every output table, with its unit and meaning: the one place they are named.

The recorder (MarketModel's DataCollector) takes its reporters from here, the dashboard and
the sweep outcomes read the same names, and the README's tables are generated from
``markdown_table`` (tests/test_schema.py checks that they agree).

Units: one step is one month; money in millions of a currency unit; quantities in the
scenario's demand units per step (real-units scenarios say which at their top).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator import metrics


@dataclass(frozen=True)
class Column:
    name: str
    unit: str
    meaning: str
    read: Callable[[Any], Any] | str | None = None  # model or agent reporter (None: not one)


def _outcome(key: str) -> Callable[[Any], Any]:
    return lambda model: model.outcome[key]


def _network(key: str) -> Callable[[Any], Any]:
    return lambda model: model.outcome["network"][key]


MODEL: tuple[Column, ...] = (
    Column("step", "step", "Step (month) just simulated, from 1.", "steps"),
    Column(
        "hhi",
        "0-10,000",
        "Herfindahl-Hirschman index over the firms (shares among the firms' units sold).",
        _outcome("hhi"),
    ),
    Column(
        "hhi_all_products",
        "0-10,000",
        "Herfindahl-Hirschman index over all products, the open model included.",
        _outcome("hhi_all_products"),
    ),
    Column(
        "hhi_band_2023",
        "label",
        "Concentration band of the 2023 DOJ/FTC Merger Guidelines.",
        lambda m: metrics.hhi_band(m.outcome["hhi"], metrics.HHI_BANDS_2023),
    ),
    Column(
        "hhi_band_2010",
        "label",
        "Concentration band of the 2010 DOJ/FTC Horizontal Merger Guidelines.",
        lambda m: metrics.hhi_band(m.outcome["hhi"], metrics.HHI_BANDS_2010),
    ),
    Column("price_index", "money/unit", "Quantity-weighted mean price.", _outcome("price_index")),
    Column(
        "price_dispersion",
        "ratio",
        "Coefficient of variation of firms' prices.",
        _outcome("price_dispersion"),
    ),
    Column(
        "consumer_surplus",
        "money",
        "Logit consumer surplus of this step (Small-Rosen), summed over segments, measured "
        "from the scenario's own outside option; users a capacity turned away get none.",
        _outcome("consumer_surplus"),
    ),
    Column("total_demand", "units", "Demand for the firms' products.", _outcome("total_demand")),
    Column("total_sales", "units", "Units the firms served.", _outcome("total_sales")),
    Column(
        "market_size", "units", "Potential demand: sum of segment sizes.", _outcome("market_size")
    ),
    Column("open_demand", "units", "Users of the open model.", _outcome("open_demand")),
    Column(
        "outside_demand",
        "units",
        "Users who take no product (the outside option).",
        _outcome("outside_demand"),
    ),
    Column(
        "unserved_demand",
        "units",
        "Demand turned away by capacity limits (after any spillover). total_sales + "
        "open_demand + outside_demand + unserved_demand = market_size.",
        _outcome("unserved_demand"),
    ),
    Column(
        "outside_share",
        "fraction",
        "outside_demand / market_size.",
        _outcome("outside_share"),
    ),
    Column(
        "unserved_share",
        "fraction",
        "unserved_demand / market_size.",
        _outcome("unserved_share"),
    ),
    Column("n_firms", "count", "Active firms.", lambda m: m.state.n_firms),
    Column(
        "n_open",
        "count",
        "Active firms whose weights are open.",
        lambda m: int(m.state.open_weights.sum()),
    ),
    Column(
        "open_share",
        "fraction",
        "Share of inside demand served by open models (the open product and open-weight firms).",
        _outcome("open_share"),
    ),
    Column(
        "best_open_quality",
        "quality",
        "Best open-weight quality, mean over segments.",
        _outcome("best_open_quality"),
    ),
    Column(
        "homogenization",
        "0-1",
        "Mean pairwise cosine similarity of firms' data mixes.",
        _outcome("homogenization"),
    ),
    Column("entries", "count", "Firms that entered as this step began.", "step_entries"),
    Column("exits", "count", "Firms that left as this step began.", "step_exits"),
    Column("n_links", "count", "Partnership links.", _network("n_links")),
    Column("n_alliances", "count", "Alliance links.", _network("n_alliances")),
    Column("n_joint_rd", "count", "Joint-R&D links.", _network("n_joint_rd")),
    Column("n_market_sharing", "count", "Market-sharing links.", _network("n_market_sharing")),
    Column("density", "0-1", "Density of the partnership network.", _network("density")),
    Column("components", "count", "Connected components of the network.", _network("components")),
    Column("clustering", "0-1", "Average clustering of the network.", _network("clustering")),
    Column(
        "compute_price",
        "money per 1e24 FLOPs",
        "Price of training compute bought with R&D.",
        lambda m: m.state.compute_price,
    ),
    Column(
        "cost_index",
        "multiplier",
        "Industry multiplier on unit costs.",
        lambda m: m.state.cost_index,
    ),
)
"""model.parquet: one row per step."""


def _margin(state) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(state.revenue > 0, state.profit / state.revenue, np.nan)


FIRMS: tuple[Column, ...] = (
    Column("step", "step", "Step."),
    Column("firm", "name", "Firm name; `open model` is the open product's row."),
    Column(
        "firm_id", "id", "Mesa agent id (unique within a run); -1 for the open model.", "firm_id"
    ),
    Column("archetype", "name", "Archetype the firm started from ('' if none)."),
    Column("price", "money/unit", "Price set this step.", "price"),
    Column("quantity", "units", "Units sold (after capacity).", "quantity"),
    Column("revenue", "money", "price x quantity.", "revenue"),
    Column(
        "profit",
        "money",
        "revenue - unit cost x quantity - fixed cost - marketing - R&D - link costs - data spend.",
        "profit",
    ),
    Column("cash", "money", "Cash after this step's profit.", "cash"),
    Column(
        "share",
        "fraction",
        "Share of all units sold, the open model's users included (rows sum to 1 per step).",
        "share",
    ),
    Column("rd_spend", "money", "R&D spend R this step.", "rd_spend"),
    Column("marketing", "money", "Marketing spend I this step.", "marketing"),
    Column("brand", "brand stock", "Own brand stock B after this step's marketing.", "brand"),
    Column(
        "unit_cost",
        "money/unit",
        "Unit cost after this step's learning: the cost of the next unit (this row's profit "
        "used the cost before it).",
        "unit_cost",
    ),
    Column("margin", "fraction", "profit / revenue (NaN without revenue).", _margin),
    Column("generation", "count", "Models shipped so far (the first is 1).", "generation"),
    Column(
        "model_compute", "FLOPs", "Real training compute behind the shipped model.", "model_compute"
    ),
    Column(
        "innovation",
        "FLOPs",
        "model_compute per generation.",
        lambda state: state.model_compute / state.generation,
    ),
    Column("open_weights", "bool", "The firm's weights are open.", "open_weights"),
    Column(
        "degree_centrality",
        "0-1",
        "Degree centrality in the partnership network.",
        "degree_centrality",
    ),
    Column("link_cost", "money", "Cost of the links held this step.", "link_cost"),
    Column(
        "pooled_compute",
        "FLOPs",
        "Compute received from joint-R&D partners this step.",
        "pooled_compute",
    ),
)
"""firms.parquet: one row per step x firm."""

SEGMENTS: tuple[Column, ...] = (
    Column("step", "step", "Step."),
    Column("firm", "name", "Firm name, or `open model`."),
    Column("segment", "name", "Segment name."),
    Column("share", "fraction", "Logit share of the segment's potential demand."),
    Column("demand", "units", "Demand for the firm in the segment."),
    Column("sales", "units", "Units served in the segment (after capacity)."),
    Column("quality", "quality", "Quality Q of the firm's model in the segment."),
    Column("bpb", "bits/byte", "Measured bits per byte behind Q (NaN: not from the zoo)."),
    Column("focus", "fraction", "Weight of the segment in the firm's data mix."),
    Column(
        "extrapolated",
        "bool",
        "Q on this segment read beyond the measured language models: the zoo compute the "
        "firm's budget maps to (for a segment under 1/4 of its data mix, the compute holding "
        "as much of its data) lies outside the zoo's measured budgets, where the fitted "
        "power law is used. False for fixed qualities.",
    ),
)
"""segments.parquet: one row per step x firm x segment."""

EDGES: tuple[Column, ...] = (
    Column("step", "step", "Step."),
    Column("source", "name", "One firm (the alphabetically first)."),
    Column("target", "name", "The other firm."),
    Column("type", "link type", "joint_rd, market_sharing or alliance."),
    Column("start_step", "step", "Step at which the link formed."),
)
"""edges.parquet: one row per step x partnership link."""

DATA: tuple[Column, ...] = (
    Column("step", "step", "Step."),
    Column("firm", "name", "Firm name."),
    Column("segment", "name", "Segment name."),
    Column(
        "data_stock",
        "tokens",
        "Training data the firm holds in the segment after this step (real tokens).",
        "data_stock",
    ),
    Column(
        "model_data",
        "tokens",
        "Training data behind the firm's shipped model (its stock when it shipped, or "
        "finetune_efficiency x the open model's data if more).",
        "model_data",
    ),
    Column(
        "feedback",
        "tokens",
        "Added this step by user feedback: sales x tokens_per_unit x the feedback rate "
        "(capped by regulation).",
        "data_feedback",
    ),
    Column("licensed", "tokens", "Added this step by licensed data bought.", "data_licensed"),
    Column("pooled", "tokens", "Added this step by joint-R&D partners.", "data_pooled"),
    Column(
        "data_spend",
        "money",
        "The firm's spend on licensed data this step (the same on each of its segment rows; "
        "part of its costs).",
    ),
)
"""data.parquet: one row per step x firm x segment, only when market.data is set (else empty)."""

TABLES: dict[str, tuple[Column, ...]] = {
    "model": MODEL,
    "firms": FIRMS,
    "segments": SEGMENTS,
    "edges": EDGES,
    "data": DATA,
}
COLLECTED_TABLES = ("firms", "segments", "edges", "data")
"""Tables the recorder appends rows to each step (model.parquet comes from model reporters)."""
EDGE_COLUMNS = [c.name for c in EDGES]


def column_names(table: str) -> list[str]:
    return [c.name for c in TABLES[table]]


def require(table: str, names) -> None:
    """Raise if a module reads a column ``table`` does not have (checked at import)."""
    unknown = sorted(set(names) - set(column_names(table)))
    if unknown:
        raise KeyError(f"{table} table has no column(s) {', '.join(unknown)} (simulator.schema)")


def model_reporters() -> dict[str, Any]:
    """DataCollector model reporters, in table order."""
    return {c.name: c.read for c in MODEL}


def firm_columns(state, step: int, names=None) -> dict[str, list]:
    """This step's firms-table rows from the market state's columns (one row per firm): every
    column, or those in ``names``."""
    n = state.n_firms
    out: dict[str, list] = {"step": [step] * n, "firm": list(state.names)}
    out["archetype"] = list(state.archetypes)
    wanted = FIRMS if names is None else [c for c in FIRMS if c.name in names]
    for column in wanted:
        if column.read is None:
            continue
        values = column.read(state) if callable(column.read) else state.columns[column.read]
        out[column.name] = np.asarray(values).tolist()
    return {c.name: out[c.name] for c in wanted}


def markdown_table(table: str) -> str:
    """The README's table of ``table``'s columns."""
    lines = ["| column | unit | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.unit} | {c.meaning} |" for c in TABLES[table]]
    return "\n".join(lines)


def readme_blocks() -> dict[str, str]:
    """The README's generated blocks: marker name -> content."""
    from simulator.market.strategy import rules_table

    tables = "\n\n".join(f"**{t}.parquet**\n\n{markdown_table(t)}" for t in TABLES)
    return {"output-tables": tables, "decision-rules": rules_table()}


def update_readme(path: str) -> bool:
    """Rewrite the blocks between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers;
    returns whether the file changed."""
    import re
    from pathlib import Path

    file = Path(path)
    text = original = file.read_text(encoding="utf-8")
    for name, content in readme_blocks().items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise KeyError(f"{path}: no <!-- {name}:start --> ... <!-- {name}:end --> block")
        text = pattern.sub(lambda m, c=content: m.group(1) + c + m.group(2), text)
    file.write_text(text, encoding="utf-8")
    return text != original


if __name__ == "__main__":  # python -m simulator.schema README.md
    import sys

    for readme in sys.argv[1:] or ["README.md"]:
        print(f"{readme}: {'updated' if update_readme(readme) else 'up to date'}")
