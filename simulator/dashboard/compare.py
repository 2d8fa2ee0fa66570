"""The comparison page: several runs side by side, their differences, and paired effects.

``llm-market compare A B [C ...] --out FILE.html`` reads each folder as one of

- a run folder (``llm-market run``): one run, keyed by its seed;
- a seed set (``llm-market run --seeds K``, ``simulator.seeds``): one run per seed;
- a sweep folder (``llm-market sweep``): one run per sweep run, keyed by its seed (runs of a
  sweep have distinct seeds; two sweeps with the same root seed and design share them).

Every run becomes a table of paths over its steps: HHI, price index, consumer surplus,
producer surplus (sum over firms of revenue - unit cost x units; run folders only), each
firm's share (0 on steps it has no row) and price (run folders only). The page shows the
share paths of every input side by side (the mean over its runs), the difference paths
B - A, C - A ... (the mean over seeds both hold of the per-seed difference; without common
seeds, the difference of the means), and, where two inputs share at least two seeds, effect
sizes: per metric the mean paired difference with a 90% t interval (mean +- t(0.95, n-1) x
sd / sqrt(n) over the n pairs) and the standardised effect d_z = mean / sd.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator.dashboard.colors import firm_colors
from simulator.dashboard.common import LEAN_TEMPLATE, _array, time_unit, wide_by_step
from simulator.dashboard.page import write_dashboard_html
from simulator.results import RunResult

MODEL_PATHS = ("hhi", "price_index", "consumer_surplus", "producer_surplus")
PATH_TITLES = {
    "hhi": "HHI",
    "price_index": "price index",
    "consumer_surplus": "consumer surplus",
    "producer_surplus": "producer surplus",
}
LEVEL = 0.90
COMPARISON_COLORS = ("#1f3b73", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")


class CompareError(Exception):
    """A folder that cannot be compared: one line naming it."""


@dataclass
class Input:
    """One folder of the comparison: its paths per seed (index: step)."""

    path: Path
    kind: str  # "run", "seed set" or "sweep"
    scenario: str
    unit: str
    paths: dict[int, pd.DataFrame] = field(repr=False)

    @property
    def label(self) -> str:
        return self.path.name or str(self.path)

    @property
    def firms(self) -> list[str]:
        columns = dict.fromkeys(c for p in self.paths.values() for c in p.columns)
        return [c.removeprefix("share.") for c in columns if c.startswith("share.")]


def run_paths(result: RunResult) -> pd.DataFrame:
    """A run's paths (see the module docstring), one row per step of its model table."""
    model = result.model.set_index("step")
    paths = pd.DataFrame(index=model.index)
    for column in ("hhi", "price_index", "consumer_surplus"):
        paths[column] = model[column].astype(float)
    firms = result.firms
    margin = firms["revenue"] - (firms["unit_cost"] * firms["quantity"]).fillna(0.0)
    paths["producer_surplus"] = margin.groupby(firms["step"]).sum().reindex(paths.index)
    shares = wide_by_step(firms, "share", "sum")
    prices = wide_by_step(firms, "price", "mean")
    shares = shares.reindex(paths.index).fillna(0.0)
    prices = prices.reindex(paths.index)
    for firm in shares.columns:
        paths[f"share.{firm}"] = shares[firm]
    for firm in prices.columns:
        paths[f"price.{firm}"] = prices[firm]
    return paths


def sweep_paths(series: pd.DataFrame, runs: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Per-seed paths of a sweep's series table (HHI, price index, surplus, shares)."""
    seeds = runs.set_index("run")["seed"]
    kept = [c for c in series.columns if c in MODEL_PATHS or c.startswith("share.")]
    return {
        int(seeds[run]): part.set_index("step")[kept].astype(float)
        for run, part in series.groupby("run", sort=True)
        if run in seeds.index
    }


def load_input(path: str | Path) -> Input:
    """One folder of the comparison; CompareError (one line) for anything else."""
    from simulator.folders import SEEDS_FILE
    from simulator.results import read_run

    path = Path(path)
    if not path.is_dir():
        raise CompareError(f"{path}: no such folder")
    try:
        if (path / SEEDS_FILE).is_file():
            from simulator.seeds import read_seed_set

            runs = read_seed_set(path)
            first = next(iter(runs.values()))
            paths = {seed: run_paths(run) for seed, run in runs.items()}
            return Input(path, "seed set", first.scenario.name, time_unit(first), paths)
        if (path / "sweep.yaml").is_file():
            from simulator.sweep import load

            result = load(path)
            ok = result.runs[result.runs["error"] == ""]
            paths = sweep_paths(result.series, ok)
            base = result.spec.base
            return Input(path, "sweep", base.name, str(base.time_unit), paths)
        if (path / "summary.json").is_file():
            run = read_run(path)
            seed = int(run.summary.get("seed", run.scenario.seed))
            return Input(path, "run", run.scenario.name, time_unit(run), {seed: run_paths(run)})
    except CompareError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged folder fails in many ways, one line each
        lines = getattr(exc, "lines", None)
        reason = lines[0] if lines else str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CompareError(f"{path}: cannot read it ({reason})") from None
    raise CompareError(
        f"{path}: not a run folder, a `run --seeds` folder or a sweep folder "
        "(no summary.json, seeds.json or sweep.yaml)"
    )


def mean_paths(item: Input) -> pd.DataFrame:
    """The mean over an input's runs of each path, per step (a firm absent from a run: 0)."""
    frames = list(item.paths.values())
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    stacked = [f.reindex(columns=columns) for f in frames]
    for frame in stacked:
        shares = [c for c in columns if c.startswith("share.")]
        frame[shares] = frame[shares].fillna(0.0)
    return pd.concat(stacked).groupby(level=0).mean()


def _aligned(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames on their common steps and on the union of columns, shares of a firm one
    frame lacks set to 0 (it sold nothing); other missing values stay NaN."""
    steps = a.index.intersection(b.index)
    columns = list(dict.fromkeys([*a.columns, *b.columns]))
    a, b = a.reindex(index=steps, columns=columns), b.reindex(index=steps, columns=columns)
    shares = [c for c in columns if c.startswith("share.")]
    a[shares], b[shares] = a[shares].fillna(0.0), b[shares].fillna(0.0)
    return a, b


def difference_paths(base: Input, other: Input) -> tuple[pd.DataFrame, int]:
    """``other - base`` per step and path, and the number of seeds paired for it (0: the
    difference of the two inputs' means)."""
    common = sorted(set(base.paths) & set(other.paths))
    if not common:
        a, b = _aligned(mean_paths(base), mean_paths(other))
        return b - a, 0
    differences = []
    for seed in common:
        a, b = _aligned(base.paths[seed], other.paths[seed])
        differences.append(b - a)
    return pd.concat(differences).groupby(level=0).mean(), len(common)


def run_metrics(paths: pd.DataFrame) -> dict[str, float]:
    """The outcomes of one run compared across inputs (each a number per run)."""
    metrics = {
        "final HHI": paths["hhi"].iloc[-1],
        "mean price index": paths["price_index"].mean(),
        "final consumer surplus": paths["consumer_surplus"].iloc[-1],
        "total consumer surplus": paths["consumer_surplus"].sum(),
    }
    if "producer_surplus" in paths:
        metrics["total producer surplus"] = paths["producer_surplus"].sum()
    for column in paths.columns:
        if column.startswith("share."):
            metrics[f"final share {column.removeprefix('share.')}"] = paths[column].iloc[-1]
    return {name: float(value) for name, value in metrics.items()}


def paired_effects(base: Input, other: Input, level: float = LEVEL) -> pd.DataFrame:
    """Per metric: the mean paired difference (other - base) over the seeds both hold, its
    ``level`` t interval, d_z, and n; empty when fewer than two seeds pair."""
    from scipy import stats

    columns = ["metric", "base", "other", "effect", "low", "high", "d_z", "n"]
    common = sorted(set(base.paths) & set(other.paths))
    if len(common) < 2:
        return pd.DataFrame(columns=columns)
    rows = []
    pairs = []
    for seed in common:
        a, b = _aligned(base.paths[seed], other.paths[seed])
        pairs.append((run_metrics(a), run_metrics(b)))
    names = [n for n in pairs[0][0] if all(n in x and n in y for x, y in pairs)]
    t = float(stats.t.ppf(0.5 + level / 2, len(common) - 1))
    for name in names:
        a = np.array([x[name] for x, _ in pairs])
        b = np.array([y[name] for _, y in pairs])
        d = b - a
        mean, sd = float(d.mean()), float(d.std(ddof=1))
        half = t * sd / np.sqrt(len(d))
        rows.append(
            [name, a.mean(), b.mean(), mean, mean - half, mean + half,
             mean / sd if sd > 0 else np.nan, len(d)]
        )  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _panels(count: int) -> tuple[int, int]:
    cols = min(count, 3)
    return -(-count // cols), cols


def _layout(figure: go.Figure, title: str, height: int) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0.01},
        template=LEAN_TEMPLATE,
        height=height,
        hovermode="x unified",
        margin={"l": 70, "r": 30, "t": 90, "b": 50},
    )
    return figure


def _firm_panel_figure(
    frames: list[tuple[str, pd.DataFrame]],
    prefix: str,
    colors: dict[str, str],
    title: str,
    unit: str,
    tickformat: str | None,
) -> go.Figure:
    """One panel per frame, a line per ``prefix.<firm>`` column, one legend entry per firm."""
    rows, cols = _panels(len(frames))
    figure = make_subplots(
        rows=rows,
        cols=cols,
        shared_yaxes=True,
        subplot_titles=[name for name, _ in frames],
        horizontal_spacing=0.04,
        vertical_spacing=0.12,
    )
    seen: set[str] = set()
    for index, (name, frame) in enumerate(frames):
        for column in [c for c in frame.columns if c.startswith(prefix)]:
            firm = column.removeprefix(prefix)
            values = frame[column].dropna()
            figure.add_trace(
                go.Scatter(
                    x=values.index.to_numpy(),
                    y=_array(values.to_numpy(), 6),
                    name=firm,
                    legendgroup=firm,
                    showlegend=firm not in seen,
                    mode="lines",
                    line={"color": colors.get(firm, "#b0b0b0"), "width": 1.8},
                    meta={"firm": firm, "panel": name},
                    hovertemplate=f"{firm}: %{{y:.4g}}<extra></extra>",
                ),
                row=index // cols + 1,
                col=index % cols + 1,
            )
            seen.add(firm)
    _layout(figure, title, max(420, 320 * rows + 120))
    figure.update_xaxes(title_text=unit)
    if tickformat:
        figure.update_yaxes(tickformat=tickformat)
    figure.update_layout(height=max(figure.layout.height, 140 + 20 * len(seen)))
    return figure


def _market_difference_figure(differences: list[tuple[str, pd.DataFrame]], unit: str) -> go.Figure:
    present = [c for c in MODEL_PATHS if any(c in d.columns for _, d in differences)]
    figure = make_subplots(
        rows=len(present),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[PATH_TITLES[c] + " (difference)" for c in present],
        vertical_spacing=0.08,
    )
    for index, (name, frame) in enumerate(differences):
        color = COMPARISON_COLORS[index % len(COMPARISON_COLORS)]
        for row, column in enumerate(present, start=1):
            if column not in frame:
                continue
            values = frame[column].dropna()
            figure.add_trace(
                go.Scatter(
                    x=values.index.to_numpy(),
                    y=_array(values.to_numpy(), 6),
                    name=name,
                    legendgroup=name,
                    showlegend=row == 1,
                    mode="lines",
                    line={"color": color, "width": 2},
                    meta={"comparison": name, "path": column},
                    hovertemplate=f"{name}: %{{y:.4g}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
            figure.add_hline(y=0, line={"color": "#999", "width": 1}, row=row, col=1)
    title = "Market-level differences (HHI, prices, consumer and producer surplus)"
    _layout(figure, title, 220 * len(present) + 140)
    figure.update_xaxes(title_text=unit, row=len(present))
    return figure


def _effects_figure(effects: list[tuple[str, pd.DataFrame]]) -> go.Figure:
    """A table of the paired effects (every comparison with at least two pairs)."""
    rows = pd.concat(
        [frame.assign(comparison=name) for name, frame in effects if len(frame)],
        ignore_index=True,
    )
    cells = [
        rows["comparison"],
        rows["metric"],
        rows["base"].map("{:,.4g}".format),
        rows["other"].map("{:,.4g}".format),
        rows["effect"].map("{:+,.4g}".format),
        [f"[{lo:+,.4g}, {hi:+,.4g}]" for lo, hi in zip(rows["low"], rows["high"], strict=True)],
        rows["d_z"].map(lambda v: "n/a" if v != v else f"{v:+.2f}"),
        rows["n"].astype(str),
    ]  # fmt: skip
    header = ["comparison", "metric", "base mean", "other mean", "effect (mean of pairs)",
              f"{LEVEL:.0%} interval", "d_z", "pairs"]  # fmt: skip
    figure = go.Figure(
        go.Table(
            header={"values": header, "align": "left", "fill_color": "#f2f4f7"},
            cells={"values": cells, "align": "left"},
            meta={"role": "effects"},
        )
    )
    _layout(
        figure,
        f"Effect sizes across paired seeds (mean of per-seed differences, {LEVEL:.0%} t interval)",
        max(300, 120 + 26 * len(rows)),
    )
    return figure


def _runs(item: Input) -> str:
    return f"{len(item.paths)} run" + ("s" if len(item.paths) > 1 else "")


def compare_figures(inputs: list[Input]) -> tuple[list[go.Figure], list[str]]:
    """The page's figures and its notes (what differs between the inputs, what is missing)."""
    base, others = inputs[0], inputs[1:]
    unit = base.unit
    colors = firm_colors(f for item in inputs for f in item.firms)
    notes = []
    firm_sets = {item.label: set(item.firms) for item in inputs}
    if len({frozenset(s) for s in firm_sets.values()}) > 1:
        everywhere = set.intersection(*firm_sets.values())
        for label, firms in firm_sets.items():
            only = sorted(firms - everywhere)
            if only:
                notes.append(f"{label} has firms not in every input: {', '.join(only)}")
        notes.append(
            "a firm's share is 0 on months it has no row; prices compare where both have one"
        )
    if len({item.unit for item in inputs}) > 1:
        notes.append(
            "the inputs' time units differ: " + ", ".join(f"{i.label}: {i.unit}" for i in inputs)
        )
    names = [f"{item.label} − {base.label}" for item in others]
    differences, effects = [], []
    for name, item in zip(names, others, strict=True):
        difference, pairs = difference_paths(base, item)
        differences.append((name, difference))
        effect = paired_effects(base, item)
        effects.append((name, effect))
        how = (
            f"mean over {pairs} paired seeds"
            if pairs
            else "difference of the means (no seed in common)"
        )
        notes.append(f"{name}: {how}")
        if len(effect) == 0:
            notes.append(f"{name}: no effect sizes (they need at least two seeds in both)")
    if any(item.kind == "sweep" for item in inputs):
        notes.append("sweep series hold no per-firm prices or producer surplus: those are left out")
    sides = [(f"{i.label} ({i.kind}, {_runs(i)})", mean_paths(i)) for i in inputs]
    figures = [
        _firm_panel_figure(
            sides, "share.", colors, "Market shares side by side (mean over each input's runs)",
            unit, ".0%",
        ),
        _firm_panel_figure(
            differences, "share.", colors, "Share differences per firm (matched by name)",
            unit, ".1%",
        ),
    ]  # fmt: skip
    if any(c.startswith("price.") for _, d in differences for c in d.columns):
        figures.append(
            _firm_panel_figure(
                differences, "price.", colors, "Price differences per firm", unit, None
            )
        )
    figures.append(_market_difference_figure(differences, unit))
    if any(len(frame) for _, frame in effects):
        figures.append(_effects_figure(effects))
    return figures, notes


METHOD = (
    "Differences are other - base on the months both have, per firm matched by name (a firm "
    "with no row has share 0). Where two inputs hold the same seeds (two `run --seeds` folders "
    "or two sweeps with the same first seed), runs are paired by seed: each difference path is "
    "the mean over the pairs of the per-seed difference, and each effect is the mean paired "
    "difference with a 90% t interval, mean ± t(0.95, n-1) · sd / √n over the n pairs, and "
    "d_z = mean / sd. Producer surplus is the firms' revenue minus unit cost times units sold, "
    "summed over firms (before R&D, marketing and fixed costs)."
)


def write_compare_page(folders: list[str | Path], out: str | Path) -> Path:
    """Read the folders and write the comparison page at ``out`` (atomically)."""
    if len(folders) < 2:
        raise CompareError("compare: give at least two folders")
    inputs = [load_input(folder) for folder in folders]
    for item in inputs:
        if not item.paths:
            raise CompareError(f"{item.path}: holds no finished run")
    figures, notes = compare_figures(inputs)
    header = {
        f"{'base' if i == 0 else 'input ' + str(i + 1)}: {item.label}": (
            f"{item.scenario} ({item.kind}, {_runs(item)})"
        )
        for i, item in enumerate(inputs)
    }
    text = METHOD + "\n\n" + "\n\n".join(notes)
    title = "Comparison: " + " vs ".join(item.label for item in inputs)
    return write_dashboard_html(out, title, header, figures, description=text, link_legends=True)
