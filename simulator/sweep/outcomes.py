"""Named outcome metrics of one run: the columns a sweep records per run.

A name is either a market metric (``final_hhi``) or a firm metric with the firm after a dot
(``final_share.OpenLab``). ``OUTCOMES`` is the registry; ``describe_outcomes()`` lists it for
``llm-market sweep --list-outcomes`` and for error messages. Every metric is one float, so the
runs table stays numeric and the sensitivity analysis can use any of them.

Conventions: "final" is the last simulated step; "mean" averages over all steps; money is per
step (consumer_surplus is the last step's, mean_consumer_surplus the average per step); a firm
that has left the market has share 0 and price NaN from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator import schema

if TYPE_CHECKING:
    import pandas as pd

    from simulator.results import RunResult

DEFAULT_OUTCOMES = (
    "final_hhi",
    "mean_hhi",
    "mean_price",
    "consumer_surplus",
    "total_profit",
    "exits",
    "leader_share",
)


MODEL_READS: list[str] = ["step", "entries", "exits", "n_firms"]
"""Model-table columns the outcomes read (grown by the metric factories below)."""
FIRM_READS: list[str] = ["step", "firm", "share"]
"""Firms-table columns the outcomes read (grown by the metric factories below); a sweep's
model records just these (simulator.sweep.lean)."""


def _reads(table: list[str], column: str) -> None:
    schema.require("firms" if table is FIRM_READS else "model", [column])
    if column not in table:
        table.append(column)


@dataclass(frozen=True)
class Outcome:
    """One metric: ``compute(result, firm)`` returns a float; ``per_firm`` needs ``.<firm>``."""

    name: str
    description: str
    compute: Callable[[RunResult, str | None], float]
    per_firm: bool = False


def _final_firms(result: RunResult) -> pd.DataFrame:
    last = result.model["step"].max()
    return result.firms[result.firms["step"] == last].set_index("firm")


def _firm_final(column: str, missing: float) -> Callable[[RunResult, str | None], float]:
    _reads(FIRM_READS, column)

    def compute(result: RunResult, firm: str | None) -> float:
        final = _final_firms(result)
        return float(final.at[firm, column]) if firm in final.index else missing

    return compute


def _firm_series(column: str, how: str) -> Callable[[RunResult, str | None], float]:
    """Mean or sum over all steps of a firm's column; steps after an exit count as 0."""
    _reads(FIRM_READS, column)

    def compute(result: RunResult, firm: str | None) -> float:
        values = result.firms.loc[result.firms["firm"] == firm, column].fillna(0.0)
        total = float(values.sum())
        return total / len(result.model) if how == "mean" else total

    return compute


def _changes(result: RunResult, key: str, sign: int) -> float:
    """Exits or entries: the model's own list (summary) or per-step counts when it keeps them,
    else the steps down (exits) or up (entries) of the number of firms."""
    recorded = result.summary.get(key)
    if recorded is not None:
        return float(len(recorded) if isinstance(recorded, (list, tuple, dict)) else recorded)
    if key in result.model.columns:
        return float(result.model[key].sum())
    counts = np.r_[len(result.scenario.companies), result.model["n_firms"].to_numpy()]
    steps = np.diff(counts) * sign
    return float(steps[steps > 0].sum())


def _model(column: str, how: str) -> Callable[[RunResult, str | None], float]:
    _reads(MODEL_READS, column)

    def compute(result: RunResult, firm: str | None) -> float:
        series = result.model[column]
        if how == "final":
            return float(series.iloc[-1])
        return float(series.mean() if how == "mean" else series.sum())

    return compute


def _leader_share(result: RunResult, firm: str | None) -> float:
    shares = _final_firms(result)["share"]
    return float(shares.max()) if len(shares) else 0.0


def _total_profit(result: RunResult, firm: str | None) -> float:
    return float(result.firms["profit"].sum())


_reads(FIRM_READS, "profit")


OUTCOMES: dict[str, Outcome] = {
    o.name: o
    for o in (
        Outcome(
            "final_hhi", "HHI (0-10,000) of inside sales at the last step", _model("hhi", "final")
        ),
        Outcome("mean_hhi", "HHI averaged over all steps", _model("hhi", "mean")),
        Outcome(
            "mean_price",
            "quantity-weighted price index averaged over all steps",
            _model("price_index", "mean"),
        ),
        Outcome(
            "final_price_index",
            "quantity-weighted price index at the last step",
            _model("price_index", "final"),
        ),
        Outcome(
            "consumer_surplus",
            "consumer surplus at the last step (money per step)",
            _model("consumer_surplus", "final"),
        ),
        Outcome(
            "mean_consumer_surplus",
            "consumer surplus averaged over all steps",
            _model("consumer_surplus", "mean"),
        ),
        Outcome(
            "total_consumer_surplus",
            "consumer surplus summed over all steps",
            _model("consumer_surplus", "sum"),
        ),
        Outcome("total_profit", "profit of all firms summed over all steps", _total_profit),
        Outcome(
            "total_sales", "demand units served at the last step", _model("total_sales", "final")
        ),
        Outcome(
            "outside_share",
            "share of demand buying no LLM at the last step",
            _model("outside_share", "final"),
        ),
        Outcome("n_firms", "number of firms at the last step", _model("n_firms", "final")),
        Outcome(
            "exits",
            "firms that left the market (the model's exit list; else n_firms drops)",
            lambda result, firm: _changes(result, "exits", -1),
        ),
        Outcome(
            "entries",
            "firms that entered the market (the model's entry list; else n_firms rises)",
            lambda result, firm: _changes(result, "entries", +1),
        ),
        Outcome("leader_share", "largest firm share at the last step", _leader_share),
        Outcome(
            "final_share",
            "the firm's share of inside sales at the last step (0 if gone)",
            _firm_final("share", 0.0),
            per_firm=True,
        ),
        Outcome(
            "mean_share",
            "the firm's share averaged over all steps (0 while absent)",
            _firm_series("share", "mean"),
            per_firm=True,
        ),
        Outcome(
            "final_price",
            "the firm's price at the last step (NaN if gone)",
            _firm_final("price", float("nan")),
            per_firm=True,
        ),
        Outcome(
            "final_cash",
            "the firm's cash at the last step (NaN if gone)",
            _firm_final("cash", float("nan")),
            per_firm=True,
        ),
        Outcome(
            "profit",
            "the firm's profit summed over all steps",
            _firm_series("profit", "sum"),
            per_firm=True,
        ),
    )
}


def describe_outcomes() -> str:
    """One line per metric, for help texts."""
    return "\n".join(
        f"  {o.name + ('.<firm>' if o.per_firm else ''):28} {o.description}"
        for o in OUTCOMES.values()
    )


def check_outcome(name: str, firms: list[str]) -> None:
    """Raise ValueError (one line) if ``name`` is not a metric of this scenario's firms."""
    metric, _, firm = name.partition(".")
    if metric not in OUTCOMES:
        known = ", ".join(o.name + (".<firm>" if o.per_firm else "") for o in OUTCOMES.values())
        raise ValueError(f"unknown outcome {name!r} (known: {known})")
    outcome = OUTCOMES[metric]
    if outcome.per_firm and not firm:
        raise ValueError(f"{metric} needs a firm: {metric}.<firm> (firms: {', '.join(firms)})")
    if not outcome.per_firm and firm:
        raise ValueError(f"{metric} is a market metric, it takes no firm (got {name!r})")
    if outcome.per_firm and firm not in firms:
        raise ValueError(f"no firm {firm!r} for {name!r} (firms: {', '.join(firms)})")


def compute_outcomes(result: RunResult, names: list[str] | tuple[str, ...]) -> dict[str, float]:
    """The named outcomes of one run, as plain floats."""
    values = {}
    for name in names:
        metric, _, firm = name.partition(".")
        values[name] = float(OUTCOMES[metric].compute(result, firm or None))
    return values
