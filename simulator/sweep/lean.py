"""The sweep's model: a MarketModel that records only what a sweep keeps of a run.

A sweep keeps, per run, its outcome metrics (simulator.sweep.outcomes) and its per-step series
(``series_frame``: MODEL_SERIES and the firms' shares). LeanModel runs the same phases as
MarketModel (the economics are the same code) but records only the model and firm columns
those two read: no DataCollector rows, no segment or edge tables, no summary. ``simulate``
hands them over as a RunResult holding just those columns, built like a full run's frames, so
that outcomes and series come from the same code on the same values as from a full run, bit
for bit (tests/test_sweep_lean.py).

It also says whether the run drew a random number at all (both of Mesa's generators still in
their seeded state): if not, the seed had no effect, and every replication of the run's
parameter point is the same run (simulator.sweep.worker reuses it).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd

from simulator import schema
from simulator.model import MarketModel
from simulator.phases import record
from simulator.results import RunResult
from simulator.sweep.outcomes import FIRM_READS, MODEL_READS

MODEL_SERIES = (
    "hhi",
    "price_index",
    "price_dispersion",
    "consumer_surplus",
    "total_demand",
    "total_sales",
    "outside_share",
    "n_firms",
    "entries",
    "exits",
    "open_share",
    "homogenization",
    "n_links",
)
"""Model-level columns kept per step (those the model has); firm shares follow as
``share.<firm>`` columns. A curated list, so quantile tables stay small for big sweeps."""
COUNT_SERIES = ("n_firms", "entries", "exits", "n_links")
schema.require("model", MODEL_SERIES)
ENTRANTS_SHARE = "share.entrants"
MODEL_COLUMNS = tuple(dict.fromkeys(("step", *MODEL_SERIES, *MODEL_READS)))
"""Model-table columns a sweep reads (series and outcomes), in first-use order."""
FIRM_COLUMNS = tuple(dict.fromkeys(("step", "firm", "share", *FIRM_READS)))
"""Firms-table columns a sweep reads (shares for the series, the rest for outcomes)."""
schema.require("model", MODEL_COLUMNS)
schema.require("firms", FIRM_COLUMNS)

_READERS = {c.name: c.read for c in schema.MODEL}


class LeanModel(MarketModel):
    """MarketModel recording MODEL_COLUMNS of the model table and FIRM_COLUMNS of the firms
    table (the open model's row included), nothing else."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.model_rows: dict[str, list] = {name: [] for name in MODEL_COLUMNS}
        self.firm_rows: dict[str, list] = {name: [] for name in FIRM_COLUMNS}
        super().__init__(*args, **kwargs)

    def record(self, step: int) -> None:
        for name in MODEL_COLUMNS:  # what the DataCollector's reporter of the column reads
            read = _READERS[name]
            self.model_rows[name].append(read(self) if callable(read) else getattr(self, read))
        state, rows = self.state, self.firm_rows
        record.extend(rows, schema.firm_columns(state, step, FIRM_COLUMNS))
        product = record.open_model_row(state, self._clearing, step)
        record.extend(rows, {name: product[name] for name in FIRM_COLUMNS} if product else {})

    def drew_no_random_number(self) -> bool:
        """Whether both generators are still as seeded (Mesa seeds them from the seed alone)."""
        seed = self.seed_used
        return (
            self.rng.bit_generator.state == np.random.default_rng(seed).bit_generator.state
            and self.random.getstate() == random.Random(seed).getstate()
        )


def simulate(scenario, seed: int | None = None, quality_source=None) -> tuple[RunResult, bool]:
    """Run ``scenario`` recording what a sweep reads: (the RunResult of those columns, whether
    the run drew no random number)."""
    model = LeanModel(scenario, seed=seed, quality_source=quality_source)
    model.run()
    result = RunResult(
        scenario=model.scenario,
        model=pd.DataFrame(model.model_rows),
        firms=pd.DataFrame(model.firm_rows),
        segments=pd.DataFrame(),
        summary={"seed": model.seed_used, "entries": model.entries, "exits": model.exits},
    )
    return result, model.drew_no_random_number()


def series_frame(result, firms: tuple[str, ...]) -> pd.DataFrame:
    """Per-step model-level series, each base firm's share (0 once it has left) and the
    entrants' total share (``share.entrants``: entrants differ from run to run, so their
    individual shares would not line up across runs)."""
    columns = [c for c in MODEL_SERIES if c in result.model.columns]
    frame = result.model[["step", *columns]].copy()
    for column in ("step", *COUNT_SERIES):
        if column in frame:
            frame[column] = frame[column].astype("int64")
    steps = frame["step"].to_numpy()
    firm_steps = result.firms["step"].to_numpy()
    firm_names = result.firms["firm"].to_numpy()
    firm_shares = result.firms["share"].to_numpy(dtype=float)
    rows = np.searchsorted(steps, firm_steps)  # steps are sorted and unique
    for name in firms:
        share = np.zeros(len(steps))
        mine = firm_names == name
        share[rows[mine]] = np.nan_to_num(firm_shares[mine])
        frame[f"share.{name}"] = share
    entrants = np.zeros(len(steps))
    others = ~np.isin(firm_names, list(firms))
    np.add.at(entrants, rows[others], np.nan_to_num(firm_shares[others]))
    frame[ENTRANTS_SHARE if "entrants" not in firms else "share.entrants (new firms)"] = entrants
    return frame.reset_index(drop=True)
