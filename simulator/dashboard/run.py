"""The run dashboard: every figure of a run in page order, the header facts, and the page
(``<run folder>/dashboard.html``) written from a RunResult or a run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from simulator import metrics
from simulator.dashboard.common import (
    firm_lifetimes,
    normalize_events,
    scenario_events,
    time_unit,
)
from simulator.dashboard.data import data_figure, has_data_stocks
from simulator.dashboard.figures import (
    price_figure,
    profit_cash_figure,
    quality_figure,
    share_figure,
)
from simulator.dashboard.page import write_dashboard_html
from simulator.dashboard.partnerships import network_figure, run_edges
from simulator.dashboard.structure import STRUCTURE_PANELS, concentration_figure, structure_figure
from simulator.results import RunResult, read_run


def run_figures(result: RunResult, events=None) -> dict[str, go.Figure]:
    """Every figure of the run dashboard, in page order, keyed by a short name."""
    events = scenario_events(result) if events is None else normalize_events(events)
    figures = {
        "share": share_figure(result, events=events),
        "price": price_figure(result, events=events),
        "quality": quality_figure(result, events=events),
        "profit_cash": profit_cash_figure(result, events=events),
        "concentration": concentration_figure(result, events=events),
    }
    if has_data_stocks(result):
        figures["data"] = data_figure(result, events=events)
    if has_structure_data(result):
        figures["structure"] = structure_figure(result, events=events)
    figures["network"] = network_figure(result, events=events)
    return figures


def has_structure_data(result: RunResult) -> bool:
    """Whether the structure figure would say more than 'the same firms all along'."""
    extra = [
        spec[0] for specs in STRUCTURE_PANELS.values() for spec in specs if spec[0] != "n_firms"
    ]
    entries, exits = firm_lifetimes(result)
    return bool(
        entries
        or exits
        or result.model["n_firms"].nunique() > 1
        or any(column in result.model.columns for column in extra)
    )


def run_header(result: RunResult) -> dict[str, str]:
    """Headline facts for the page header, computed from the tables (not trusted summary)."""
    scenario, model, firms = result.scenario, result.model, result.firms
    summary = result.summary or {}
    last_step = int(model["step"].max())
    final = firms[firms["step"] == firms["step"].max()]
    leader = final.loc[final["share"].idxmax()] if len(final) else None
    final_hhi = float(model["hhi"].iloc[-1])
    unit = time_unit(result)
    header = {
        "scenario": scenario.name,
        "seed": str(summary.get("seed", scenario.seed)),
        f"{unit}s": f"{last_step:,}",
        "final HHI": f"{final_hhi:,.0f} — {metrics.hhi_band(final_hhi, metrics.HHI_BANDS_2023)} "
        f"(2023); {metrics.hhi_band(final_hhi, metrics.HHI_BANDS_2010)} (2010)",
        "leader": "—" if leader is None else f"{leader['firm']} {leader['share']:.1%}",
        f"consumer surplus, last {unit} ({last_step:,})": (
            f"{float(model['consumer_surplus'].iloc[-1]):,.1f} per {unit}"
        ),
        "firms": f"{int(model['n_firms'].iloc[-1])} at the end "
        f"({firms['firm'].nunique()} over the run)",
    }
    entries, exits = firm_lifetimes(result)
    if entries or exits:
        header["entries / exits"] = f"{len(entries)} / {len(exits)}"
    return header


def load_run(run_dir: str | Path) -> RunResult:
    """A run folder as a RunResult, with its edges attached when the folder has them."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    result = read_run(run_dir)
    edges_file = run_dir / "edges.parquet"
    if not edges_file.exists():
        result.edges = None  # "not recorded", unlike an empty table ("no partnerships")
    elif run_edges(result) is None:
        result.edges = pd.read_parquet(edges_file)  # a RunResult without an edges field
    return result


def write_run_dashboard(
    run_dir_or_result: str | Path | RunResult, path: str | Path | None = None, events=None
) -> Path:
    """Write the single-run dashboard; default path: ``<run folder>/dashboard.html``."""
    if isinstance(run_dir_or_result, RunResult):
        result = run_dir_or_result
        if path is None:
            raise ValueError("write_run_dashboard: give a path when passing a RunResult")
    else:
        result = load_run(run_dir_or_result)
        path = Path(run_dir_or_result) / "dashboard.html" if path is None else path
    figures = run_figures(result, events=events)
    title = f"{result.scenario.name} — LLM market run"
    return write_dashboard_html(
        path,
        title,
        run_header(result),
        list(figures.values()),
        description=result.scenario.description,
        link_legends=True,
    )
