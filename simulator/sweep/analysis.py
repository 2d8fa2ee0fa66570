"""From finished runs to tidy tables: runs, series, quantiles, outcome summaries, sensitivity.

Sensitivity, two ways:
- ``sobol`` designs: first-order (S1) and total (ST) Sobol indices with 95% bootstrap confidence
  half-widths (SALib.analyze.sobol), on each point's outcome averaged over its replications.
- every other design: standardised regression coefficients (SRC): least squares of the
  standardised outcome on the standardised inputs, over all runs. Numeric parameters enter as
  they are (loguniform ones as log10), so SRC is the change of the outcome in standard
  deviations per standard deviation of the input; categorical ones (choice, non-numeric
  values) are one-hot encoded against their first category, one term ``param=category`` per
  other category. ``R2`` says how much of the variance the linear model explains: SRCs
  describe the sensitivity only when R2 is high (near 1).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd

from simulator.sweep.spec import ResolvedSpec
from simulator.sweep.worker import MODEL_SERIES

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_COLUMNS = ("q05", "q25", "q50", "q75", "q95")
ID_COLUMNS = ("run", "point", "replication")
SENSITIVITY_COLUMNS = ("method", "outcome", "parameter", "term", "index", "value", "conf")


def parameter_label(value: Any) -> str:
    """A categorical value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def runs_table(rows: list[dict[str, Any]], resolved: ResolvedSpec) -> pd.DataFrame:
    """One row per run (``rows``: the runs' rows, in run order): run, point, replication, seed,
    parameters, outcomes, error."""
    spec = resolved.spec
    columns: dict[str, pd.Series] = {}
    for name in ("run", "point", "replication", "seed"):
        columns[name] = pd.Series([row[name] for row in rows], dtype="int64")
    for name, dist in spec.parameters.items():
        values = [row[name] for row in rows]
        if dist.kind == "integer" or (
            dist.is_numeric and all(isinstance(v, int) for v in values) and dist.kind == "values"
        ):
            columns[name] = pd.Series(values, dtype="int64")
        elif dist.is_numeric:
            columns[name] = pd.Series(values, dtype="float64")
        else:
            columns[name] = pd.Series([parameter_label(v) for v in values], dtype="str")
    for name in spec.outcomes:
        columns[name] = pd.Series([row[name] for row in rows], dtype="float64")
    columns["error"] = pd.Series([row["error"] for row in rows], dtype="str")
    return pd.DataFrame(columns)


def series_table(
    series: pd.DataFrame | None, rows: list[dict[str, Any]], firms: list[str]
) -> pd.DataFrame:
    """Per-step model-level series of every run (``share.<firm>`` of the base scenario's firms,
    0 once gone, and ``share.entrants``, the total share of firms that entered), from the
    runs' series concatenated in run order (None: no run has one) and their rows."""
    if series is None or not len(series):
        return pd.DataFrame({c: pd.Series(dtype="int64") for c in (*ID_COLUMNS, "step")})
    shares = [c for c in series.columns if c.startswith("share.")]
    series[shares] = series[shares].fillna(0.0)
    base = [f"share.{firm}" for firm in firms]
    ordered_shares = [c for c in base if c in shares] + sorted(set(shares) - set(base))
    point = {row["run"]: row["point"] for row in rows}
    replication = {row["run"]: row["replication"] for row in rows}
    series.insert(1, "point", series["run"].map(point).astype("int64"))
    series.insert(2, "replication", series["run"].map(replication).astype("int64"))
    series["run"] = series["run"].astype("int64")
    ordered = [*ID_COLUMNS, "step", *[c for c in MODEL_SERIES if c in series], *ordered_shares]
    return series[ordered].sort_values(["run", "step"], kind="stable").reset_index(drop=True)


def series_quantiles(series: pd.DataFrame, by: tuple[str, ...] = ("point",)) -> pd.DataFrame:
    """Per-step mean and 5/25/50/75/95% quantiles of every series across runs, per ``by`` group.

    Long format: ``by``..., variable, step, mean, q05..q95. ``by=()`` pools all runs.
    """
    values = sorted(c for c in series.columns if c not in (*ID_COLUMNS, "step"))
    keys = [*by, "variable", "step"]
    if series.empty or not values:
        return pd.DataFrame(columns=[*keys, "mean", *QUANTILE_COLUMNS])
    # every variable in one groupby (the same per-column arithmetic as one at a time), laid
    # out long from the arrays: melting first would make a frame of runs x steps x variables
    # rows (gigabytes for a 10,000-run sweep)
    grouped = series.groupby([*by, "step"], sort=True)[values]
    mean = grouped.mean()  # (groups, variables)
    n_groups, n_values = mean.shape
    quantiles = grouped.quantile(list(QUANTILES)).to_numpy()  # (groups x quantiles, variables)
    quantiles = quantiles.reshape(n_groups, len(QUANTILES), n_values)
    variable = np.arange(n_values).repeat(n_groups)  # variable-major, groups in order below
    group = np.tile(np.arange(n_groups), n_values)
    groups = mean.index.to_frame(index=False)
    table = pd.DataFrame({name: groups[name].to_numpy()[group] for name in groups.columns})
    table.insert(len(by), "variable", np.array(values, dtype=object)[variable])
    table["mean"] = mean.to_numpy().T.reshape(-1)
    for k, column in enumerate(QUANTILE_COLUMNS):
        table[column] = quantiles[:, k, :].T.reshape(-1)
    if by:
        table = table.sort_values([*by, "variable", "step"], kind="stable", ignore_index=True)
    return table


def outcome_summary(runs: pd.DataFrame, resolved: ResolvedSpec) -> pd.DataFrame:
    """Per parameter point and outcome: n, mean, std, min, quantiles, max across replications."""
    spec = resolved.spec
    params = list(spec.parameters)
    stats = [*("n", "mean", "std", "min"), *QUANTILE_COLUMNS, "max"]
    if runs.empty:
        return pd.DataFrame(columns=["point", *params, "outcome", *stats])
    long = runs.melt(id_vars=["point"], value_vars=list(spec.outcomes), var_name="outcome")
    grouped = long.groupby(["point", "outcome"], sort=False)["value"]
    table = pd.DataFrame(
        {
            "n": grouped.count().astype("int64"),
            "mean": grouped.mean(),
            "std": grouped.std(),
            "min": grouped.min(),
        }
    )
    quantiles = grouped.quantile(list(QUANTILES)).unstack()
    quantiles.columns = list(QUANTILE_COLUMNS)
    table = table.join(quantiles)
    table["max"] = grouped.max()
    table = table.reset_index()
    order = {name: i for i, name in enumerate(spec.outcomes)}
    table = table.sort_values(
        ["point", "outcome"],
        key=lambda s: s.map(order) if s.name == "outcome" else s,
        kind="stable",
    )
    point_params = runs.groupby("point", sort=True)[params].first().reset_index()
    return point_params.merge(table, on="point")[["point", *params, "outcome", *stats]].reset_index(
        drop=True
    )


# --- sensitivity --------------------------------------------------------------------------


def encode_inputs(
    runs: pd.DataFrame, resolved: ResolvedSpec
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Numeric input columns for regression, and the parameter each column belongs to."""
    columns: dict[str, np.ndarray] = {}
    owner: dict[str, str] = {}
    for name, dist in resolved.spec.parameters.items():
        values = runs[name]
        if dist.is_numeric:
            numbers = values.to_numpy(dtype=float)
            columns[name] = np.log10(numbers) if dist.kind == "loguniform" else numbers
            owner[name] = name
            continue
        categories = [parameter_label(v) for v in dist.items]
        for category in categories[1:]:
            term = f"{name}={category}"
            columns[term] = (values == category).to_numpy(dtype=float)
            owner[term] = name
    return pd.DataFrame(columns, index=runs.index), owner


def standardized_regression(
    inputs: pd.DataFrame, y: np.ndarray, conf_level: float = 0.95
) -> tuple[pd.DataFrame, float]:
    """SRCs of ``y`` on ``inputs`` with confidence half-widths (OLS standard errors), and R2.

    Inputs and output are z-scored (population std); constant inputs get NaN. With
    independent inputs and a linear response, SRC_i^2 is input i's share of the variance.
    """
    from scipy import special  # stdtrit is scipy.stats.t.ppf without importing scipy.stats

    y = np.asarray(y, dtype=float)
    x = inputs.to_numpy(dtype=float)
    keep_rows = np.isfinite(y) & np.isfinite(x).all(axis=1)
    x, y = x[keep_rows], y[keep_rows]
    names = list(inputs.columns)
    result = pd.DataFrame({"term": names, "value": np.nan, "conf": np.nan})
    n = len(y)
    if n < 3 or np.std(y) == 0:
        return result, float("nan")
    x_std = x.std(axis=0)
    usable = x_std > 0
    z_x = (x[:, usable] - x[:, usable].mean(axis=0)) / x_std[usable]
    z_y = (y - y.mean()) / y.std()
    coef, *_ = np.linalg.lstsq(z_x, z_y, rcond=None)
    residual = z_y - z_x @ coef
    r2 = float(1.0 - residual @ residual / (z_y @ z_y))
    dof = n - z_x.shape[1] - 1
    if dof > 0:
        sigma2 = residual @ residual / dof
        se = np.sqrt(np.clip(np.diag(sigma2 * np.linalg.pinv(z_x.T @ z_x)), 0, None))
        half = special.stdtrit(dof, 0.5 + conf_level / 2) * se  # Student t quantile
    else:
        half = np.full(len(coef), np.nan)
    result.loc[usable, "value"] = coef
    result.loc[usable, "conf"] = half
    return result, r2


def sobol_indices(
    y: np.ndarray,
    names: list[str],
    seed: int = 0,
    num_resamples: int = 200,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol indices of outputs ``y`` of a ``sobol_design``.

    ``y`` holds one value per design row in the design's order (N * (d + 2) rows). ``conf`` is
    the half-width of the bootstrap confidence interval at ``conf_level``.
    """
    from SALib.analyze import sobol as salib_sobol

    y = np.asarray(y, dtype=float)
    problem = {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}
    if not np.isfinite(y).all() or np.std(y) == 0:
        rows = [
            {"parameter": n, "index": i, "value": np.nan, "conf": np.nan}
            for n in names
            for i in ("S1", "ST")
        ]
        return pd.DataFrame(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        indices = salib_sobol.analyze(
            problem,
            y,
            calc_second_order=False,
            num_resamples=num_resamples,
            conf_level=conf_level,
            seed=seed,
        )
    rows = []
    for i, name in enumerate(names):
        for index in ("S1", "ST"):
            rows.append(
                {
                    "parameter": name,
                    "index": index,
                    "value": float(indices[index][i]),
                    "conf": float(indices[f"{index}_conf"][i]),
                }
            )
    return pd.DataFrame(rows)


def sensitivity_table(runs: pd.DataFrame, resolved: ResolvedSpec) -> pd.DataFrame:
    """Sobol indices (sobol designs) or SRCs (other designs) of every outcome."""
    spec = resolved.spec
    params = list(spec.parameters)
    empty = pd.DataFrame(
        {
            c: pd.Series(dtype="float64" if c in ("value", "conf") else "str")
            for c in SENSITIVITY_COLUMNS
        }
    )
    ok = runs[runs["error"] == ""]
    if not params or ok.empty:
        return empty
    rows: list[dict[str, Any]] = []
    if spec.method == "sobol":
        n_points = spec.n_samples * (len(params) + 2)
        means = ok.groupby("point")[list(spec.outcomes)].mean().reindex(range(n_points))
        for outcome in spec.outcomes:
            table = sobol_indices(means[outcome].to_numpy(), params, seed=resolved.root_seed)
            for row in table.itertuples(index=False):
                rows.append(
                    {
                        "method": "sobol",
                        "outcome": outcome,
                        "parameter": row.parameter,
                        "term": row.parameter,
                        "index": row.index,
                        "value": row.value,
                        "conf": row.conf,
                    }
                )
    else:
        inputs, owner = encode_inputs(ok, resolved)
        for outcome in spec.outcomes:
            table, r2 = standardized_regression(inputs, ok[outcome].to_numpy())
            for row in table.itertuples(index=False):
                rows.append(
                    {
                        "method": "src",
                        "outcome": outcome,
                        "parameter": owner[row.term],
                        "term": row.term,
                        "index": "SRC",
                        "value": row.value,
                        "conf": row.conf,
                    }
                )
            rows.append(
                {
                    "method": "src",
                    "outcome": outcome,
                    "parameter": "",
                    "term": "",
                    "index": "R2",
                    "value": r2,
                    "conf": np.nan,
                }
            )
    table = pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))
    for column in ("method", "outcome", "parameter", "term", "index"):
        table[column] = table[column].astype("str")
    return table.astype({"value": "float64", "conf": "float64"})


# --- shape of a response ------------------------------------------------------------------

MAX_BINS = 8
"""Bins of a parameter's binned means: its distinct values when at most this many (a grid),
else this many equal-count bins."""


def binned_means(x: pd.Series, y: pd.Series, bins: int = MAX_BINS) -> pd.DataFrame:
    """Mean, standard error and count of ``y`` per bin of ``x`` (numeric), in x order.

    Columns: x (the bin's mean x), mean, se, n. Rows with a NaN on either side are left out.
    """
    frame = pd.DataFrame({"x": pd.to_numeric(x, errors="coerce"), "y": y}).dropna()
    if frame.empty:
        return pd.DataFrame(columns=["x", "mean", "se", "n"])
    if frame["x"].nunique() <= bins:
        keys = frame["x"]
    else:
        keys = pd.qcut(frame["x"].rank(method="first"), bins, labels=False)
    grouped = frame.groupby(keys, sort=True)
    table = pd.DataFrame(
        {
            "x": grouped["x"].mean(),
            "mean": grouped["y"].mean(),
            "se": grouped["y"].std(ddof=1) / np.sqrt(grouped["y"].count()),
            "n": grouped["y"].count(),
        }
    )
    return table.reset_index(drop=True)


def is_non_monotone(x: pd.Series, y: pd.Series) -> bool:
    """Whether ``y`` both rises and falls along ``x`` by more than noise: some step between
    neighbouring bins' means goes up and another goes down, each by more than twice its
    standard error and more than a tenth of the means' range. A linear fit (SRC) of such a
    response understates, or even hides, how much the parameter matters."""
    table = binned_means(x, y)
    if len(table) < 3:
        return False
    means = table["mean"].to_numpy(dtype=float)
    se = np.nan_to_num(table["se"].to_numpy(dtype=float))
    steps = np.diff(means)
    noise = 2 * np.sqrt(se[1:] ** 2 + se[:-1] ** 2)
    floor = 0.1 * (means.max() - means.min())
    big = np.abs(steps) > np.maximum(noise, floor)
    return bool((big & (steps > 0)).any() and (big & (steps < 0)).any())
