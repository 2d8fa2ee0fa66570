"""Scaling fits of the zoo's measurements, and the text `lm zoo show` prints.

Per segment, on the mix trained on that segment only:

- Compute form, L(C) = E + A * C^(-a), C in training FLOPs (the budget), fitted with
  scipy.optimize.curve_fit to the measured points (seeds averaged per level). Models are
  early-stopped on a development split (simulator.lm.train); the small assistant corpus still
  plateaus once its data is exhausted (the data-constrained regime), which this form fits
  poorly. `zoo show` also scores the same curve against the compute frontier (running minimum)
  and counts the levels that are worse than a cheaper one ("capped").
- Data-term form (Chinchilla, Hoffmann et al. 2022), L(N, D) = E + A / N^a + B / D^b, N the
  parameters and D the training tokens seen by the kept checkpoint, fitted to every training
  (seeds separately: early stopping makes their D differ).

- Data-constrained form (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models",
  arXiv:2305.16264): the same with D replaced by the effective data of repeated epochs,
  D' = U + U R* (1 - exp(-R / R*)), U the unique tokens available (the fit split, or the
  data-axis subset), R = D / U - 1 the repetitions beyond the first epoch and R* a fitted
  constant: repeated data is worth less and less, which is how the small assistant corpus
  plateaus. Fitted to every own-segment training, the data axis included.

The market's lookup (simulator.lm.lookup) reads the measured points themselves: monotone
interpolation in compute on the compute grid, and the data axis as data-limited effective
compute (simulator.lm.data_axis). A fitted form is used only beyond the measured budgets (the
compute form, whose one input is what a firm chooses). The data-term forms are reported to
show how well the measured surface follows the published laws.

This module imports numpy and pandas; scipy when a curve is fitted; never torch.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.lm import corpus
from simulator.lm.grid import ZOO_MIXES, data_axis_rows, full_data_rows


@dataclass(frozen=True)
class PowerLawFit:
    """L(C) = E + A * C^(-alpha), C in FLOPs; r2 on the points it was fitted to, r2_raw of the
    same curve against the raw seed-averaged points, r2_frontier against their running minimum.
    """

    E: float
    A: float
    alpha: float
    r2: float
    n_points: int
    r2_raw: float | None = None
    n_capped: int = 0  # points the frontier lowered (worse than a cheaper level)
    r2_frontier: float | None = None

    def __call__(self, flops):
        return self.E + self.A * np.power(np.asarray(flops, dtype=float), -self.alpha)

    @property
    def decreasing(self) -> bool:
        return self.A > 0 and self.alpha > 0


def fit_power_law(flops: Sequence[float], bpb: Sequence[float]) -> PowerLawFit:
    """Least-squares fit of L(C) = E + A * C^(-alpha) (scipy.optimize.curve_fit).

    Fitted as E + A' * (C / C_min)^(-alpha) for conditioning; A = A' * C_min^alpha.
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    c = np.asarray(flops, dtype=float)
    y = np.asarray(bpb, dtype=float)
    if len(c) < 3:
        raise ValueError("need at least three points to fit E, A and alpha")
    c_ref = float(c.min())
    x = c / c_ref

    def model(x_, e, a_scaled, alpha):
        return e + a_scaled * np.power(x_, -alpha)

    guess = (0.8 * float(y.min()), max(float(y.max() - 0.8 * y.min()), 1e-3), 0.3)
    with warnings.catch_warnings():  # flat curves leave the covariance undefined: irrelevant
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(
            model,
            x,
            y,
            p0=guess,
            bounds=([0.0, 0.0, 0.0], [float(y.min()), np.inf, 5.0]),
            maxfev=20000,
        )
    e, a_scaled, alpha = (float(v) for v in params)
    r2 = r_squared(y, model(x, *params))
    return PowerLawFit(E=e, A=a_scaled * c_ref**alpha, alpha=alpha, r2=r2, n_points=len(c))


def every_curve_points(
    table: pd.DataFrame, by: tuple[str, ...] = ("mix_name", "segment")
) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """The measured points of every (mix, segment) curve of ``table`` (or of every group of the
    columns ``by``), in order of first appearance: per curve its distinct budgets, sorted, and
    the mean bpb of the rows (seeds) at each, summed in row order. One numpy pass over the
    table instead of a pandas groupby per curve (most of the zoo's start-up in a short run);
    curve_points reads one curve through it, so the lookup (simulator.lm.lookup), the fits and
    the shipped fits file see the same bits."""
    if table.empty:
        return {}
    keys = [table[column].to_numpy() for column in by]
    codes = np.zeros(len(table), dtype=np.int64)
    for column in keys:  # one code per key combination
        column_codes, uniques = pd.factorize(column, sort=False)
        codes = codes * len(uniques) + column_codes
    _, first_row, curve = np.unique(codes, return_index=True, return_inverse=True)
    flop_codes, flop_values = pd.factorize(table["flops"].to_numpy(dtype=float), sort=True)
    n_flops = len(flop_values)
    cell = curve.ravel() * n_flops + flop_codes
    bpb = table["bpb"].to_numpy(dtype=float)
    total = np.zeros((len(first_row), n_flops))
    np.add.at(total.ravel(), cell, bpb)  # unbuffered: each cell's rows added in row order
    count = np.bincount(cell, minlength=total.size).reshape(total.shape)
    flops = np.asarray(flop_values, dtype=float)
    out = {}
    for index in np.argsort(first_row, kind="stable"):
        row, present = int(first_row[index]), count[index] > 0
        key = tuple(column[row] for column in keys)
        out[tuple(k if isinstance(k, float) else str(k) for k in key)] = (
            flops[present],
            total[index][present] / count[index][present],
        )
    return out


def curve_points(table: pd.DataFrame, mix: str, segment: str) -> tuple[np.ndarray, np.ndarray]:
    """(flops, bpb) of one measured curve, sorted by compute, repeats (seeds) averaged."""
    rows = table[(table["mix_name"] == mix) & (table["segment"] == segment)]
    if rows.empty:
        raise ValueError(f"zoo table has no measurements of mix {mix!r} on segment {segment!r}")
    return every_curve_points(rows)[(mix, segment)]


def compute_frontier(bpb: Sequence[float]) -> np.ndarray:
    """Best bpb at compute <= C: running minimum of points sorted by compute."""
    return np.minimum.accumulate(np.asarray(bpb, dtype=float))


def r_squared(observed: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum((observed - observed.mean()) ** 2))
    return 1.0 - float(np.sum((observed - predicted) ** 2)) / total if total > 0 else 1.0


def fit_raw(flops: np.ndarray, bpb: np.ndarray) -> PowerLawFit:
    """Power law fitted to the measured (seed-averaged) points of one curve; R^2 on them, and
    of the same curve against their compute frontier."""
    raw = np.asarray(bpb, dtype=float)
    frontier = compute_frontier(raw)
    fit = fit_power_law(flops, raw)
    return dataclasses.replace(
        fit,
        r2_raw=fit.r2,
        r2_frontier=r_squared(frontier, fit(flops)),
        n_capped=int(np.sum(frontier < raw - 1e-12)),
    )


def fit_frontier(flops: np.ndarray, bpb: np.ndarray) -> PowerLawFit:
    """Power law fitted to the compute frontier of one curve, with R^2 against raw points."""
    frontier = compute_frontier(bpb)
    fit = fit_power_law(flops, frontier)
    return dataclasses.replace(
        fit,
        r2_raw=r_squared(np.asarray(bpb, dtype=float), fit(flops)),
        n_capped=int(np.sum(frontier < np.asarray(bpb) - 1e-12)),
    )


def fit_segments(table: pd.DataFrame) -> dict[str, PowerLawFit]:
    """Per segment, the power law fitted to the measured points of the model trained on it (on
    all its training data: the compute grid)."""
    table = full_data_rows(table)
    segments = [s for s in corpus.SEGMENTS if s in set(table["segment"])]
    return {s: fit_raw(*curve_points(table, s, s)) for s in segments}


@dataclass(frozen=True)
class DataTermFit:
    """L(N, D) = E + A / N^alpha + B / D^beta (N parameters, D training tokens); r2 on the
    trainings it was fitted to."""

    E: float
    A: float
    alpha: float
    B: float
    beta: float
    r2: float
    n_points: int

    def __call__(self, params, tokens):
        n = np.asarray(params, dtype=float)
        d = np.asarray(tokens, dtype=float)
        return self.E + self.A * np.power(n, -self.alpha) + self.B * np.power(d, -self.beta)


#: Fewest trainings, and distinct parameter counts and token counts, a data-term fit needs.
MIN_DATA_TERM_POINTS = 6


def fit_data_term(params, tokens, bpb) -> DataTermFit:
    """Least-squares fit of L = E + A / N^alpha + B / D^beta (scipy.optimize.curve_fit), on
    N / N_min and D / D_min for conditioning. ValueError when the points cannot identify it."""
    from scipy.optimize import OptimizeWarning, curve_fit

    n = np.asarray(params, dtype=float)
    d = np.asarray(tokens, dtype=float)
    y = np.asarray(bpb, dtype=float)
    if len(y) < MIN_DATA_TERM_POINTS or len(set(n)) < 3 or len(set(d)) < 3:
        raise ValueError(
            f"a data-term fit needs >= {MIN_DATA_TERM_POINTS} trainings with >= 3 distinct "
            "parameter and token counts"
        )
    n_ref, d_ref = float(n.min()), float(d.min())
    x = np.vstack([n / n_ref, d / d_ref])

    def model(x_, e, a_scaled, alpha, b_scaled, beta):
        return e + a_scaled * np.power(x_[0], -alpha) + b_scaled * np.power(x_[1], -beta)

    spread = max(float(y.max() - 0.8 * y.min()), 1e-3)
    guess = (0.8 * float(y.min()), spread / 2, 0.3, spread / 2, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        fitted, _ = curve_fit(
            model,
            x,
            y,
            p0=guess,
            bounds=([0.0, 0.0, 0.0, 0.0, 0.0], [float(y.min()), np.inf, 5.0, np.inf, 5.0]),
            maxfev=40000,
        )
    e, a_scaled, alpha, b_scaled, beta = (float(v) for v in fitted)
    return DataTermFit(
        E=e,
        A=a_scaled * n_ref**alpha,
        alpha=alpha,
        B=b_scaled * d_ref**beta,
        beta=beta,
        r2=r_squared(y, model(x, *fitted)),
        n_points=len(y),
    )


def fit_data_segments(table: pd.DataFrame) -> dict[str, DataTermFit | None]:
    """Per segment, the data-term form fitted to every training on that segment alone (None
    where the table cannot identify it, e.g. a table without the `params`/`tokens` columns)."""
    fits: dict[str, DataTermFit | None] = {}
    for segment in [s for s in corpus.SEGMENTS if s in set(table["segment"])]:
        rows = table[(table["mix_name"] == segment) & (table["segment"] == segment)]
        try:
            fits[segment] = fit_data_term(rows["params"], rows["tokens"], rows["bpb"])
        except (KeyError, ValueError, RuntimeError):
            fits[segment] = None
    return fits


@dataclass(frozen=True)
class DataConstrainedFit:
    """L = E + A / N^alpha + B / D'^beta with D' = U + U R* (1 - exp(-R / R*)), R = D/U - 1
    (Muennighoff et al. 2023); r2 on the trainings it was fitted to."""

    E: float
    A: float
    alpha: float
    B: float
    beta: float
    r_star: float
    r2: float
    n_points: int

    def __call__(self, params, tokens, unique):
        n = np.asarray(params, dtype=float)
        d_eff = effective_data(tokens, unique, self.r_star)
        return self.E + self.A * np.power(n, -self.alpha) + self.B * np.power(d_eff, -self.beta)


def effective_data(tokens, unique, r_star: float) -> np.ndarray:
    """D' = U + U R* (1 - exp(-R / R*)), R = max(D / U - 1, 0); D' = D within the first epoch."""
    d = np.asarray(tokens, dtype=float)
    u = np.asarray(unique, dtype=float)
    repeats = np.maximum(d / u - 1.0, 0.0)
    return np.where(d <= u, d, u + u * r_star * (1.0 - np.exp(-repeats / r_star)))


def fit_data_constrained(params, tokens, unique, bpb) -> DataConstrainedFit:
    """Least-squares fit of the data-constrained form (scipy.optimize.curve_fit, on N / N_min
    and D' / U_min); ValueError when the points cannot identify it."""
    from scipy.optimize import OptimizeWarning, curve_fit

    n = np.asarray(params, dtype=float)
    d = np.asarray(tokens, dtype=float)
    u = np.asarray(unique, dtype=float)
    y = np.asarray(bpb, dtype=float)
    if len(y) < MIN_DATA_TERM_POINTS + 1 or len(set(n)) < 3 or len(set(u)) < 2:
        raise ValueError(
            "a data-constrained fit needs >= 7 trainings, >= 3 parameter counts and >= 2 "
            "amounts of unique data"
        )
    n_ref, d_ref = float(n.min()), float(u.min())

    def model(x_, e, a_scaled, alpha, b_scaled, beta, log_r_star):
        d_eff = effective_data(x_[1], x_[2], 10.0**log_r_star) / d_ref
        return e + a_scaled * np.power(x_[0] / n_ref, -alpha) + b_scaled * np.power(d_eff, -beta)

    spread = max(float(y.max() - 0.8 * y.min()), 1e-3)
    guess = (0.8 * float(y.min()), spread / 2, 0.3, spread / 2, 0.3, 1.0)
    x = np.vstack([n, d, u])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        fitted, _ = curve_fit(
            model,
            x,
            y,
            p0=guess,
            bounds=(
                [0.0, 0.0, 0.0, 0.0, 0.0, -2.0],
                [float(y.min()), np.inf, 5.0, np.inf, 5.0, 4.0],
            ),
            maxfev=60000,
        )
    e, a_scaled, alpha, b_scaled, beta, log_r_star = (float(v) for v in fitted)
    return DataConstrainedFit(
        E=e,
        A=a_scaled * n_ref**alpha,
        alpha=alpha,
        B=b_scaled * d_ref**beta,
        beta=beta,
        r_star=10.0**log_r_star,
        r2=r_squared(y, model(x, *fitted)),
        n_points=len(y),
    )


def unique_tokens(rows: pd.DataFrame, segment: str) -> np.ndarray:
    """U of each own-segment training: the bytes of its fit split, or of its data-axis subset."""
    fractions = rows["data_fraction"] if "data_fraction" in rows.columns else [1.0] * len(rows)
    return np.array([len(corpus.fit_subset(segment, float(f))) for f in fractions], dtype=float)


def fit_constrained_segments(table: pd.DataFrame) -> dict[str, DataConstrainedFit | None]:
    """Per segment, the data-constrained form fitted to the own-segment measured points, the
    data axis included, seeds averaged per (level, data fraction) as for the compute form (None
    where the table cannot identify it, e.g. no data axis)."""
    fits: dict[str, DataConstrainedFit | None] = {}
    if "data_fraction" not in table.columns:
        table = table.assign(data_fraction=1.0)
    for segment in [s for s in corpus.SEGMENTS if s in set(table["segment"])]:
        own = table[(table["mix_name"] == segment) & (table["segment"] == segment)]
        try:
            rows = own.groupby(["level", "data_fraction"], as_index=False)[
                ["params", "tokens", "bpb"]
            ].mean()
            fits[segment] = fit_data_constrained(
                rows["params"], rows["tokens"], unique_tokens(rows, segment), rows["bpb"]
            )
        except (KeyError, ValueError, RuntimeError):
            fits[segment] = None
    return fits


def format_fits(
    fits: Mapping[str, PowerLawFit],
    data_fits: Mapping[str, DataTermFit | None] | None = None,
    constrained: Mapping[str, DataConstrainedFit | None] | None = None,
) -> str:
    lines = [
        "fit L(C) = E + A * C^(-a), C in training FLOPs, own-segment mix, on the measured points",
        "(seeds averaged; R^2 frontier = same curve against the running minimum, capped = levels",
        "worse than a cheaper one). The lookup reads the measured points and continues beyond them",
        "with this form.",
        f"  {'segment':10s} {'E':>8s} {'A':>11s} {'a':>7s} {'R^2':>7s} {'frontier':>8s} capped",
    ]
    for segment, fit in fits.items():
        front = f"{fit.r2_frontier:8.4f}" if fit.r2_frontier is not None else f"{'-':>8s}"
        lines.append(
            f"  {segment:10s} {fit.E:8.4f} {fit.A:11.4g} {fit.alpha:7.4f} {fit.r2:7.4f} {front}"
            f" {fit.n_capped:6d}"
        )
    if data_fits:
        header = [
            "fit L(N, D) = E + A / N^a + B / D^b (N parameters, D tokens seen by the kept",
            "checkpoint), every own-segment training, the data axis included (reported, not",
            "used by the lookup):",
            f"  {'segment':10s} {'E':>8s} {'A':>10s} {'a':>7s} {'B':>10s} {'b':>7s} {'R^2':>7s}",
        ]
        lines += _fit_block(
            header,
            data_fits,
            lambda f: (
                f"{f.E:8.4f} {f.A:10.4g} {f.alpha:7.4f} {f.B:10.4g} {f.beta:7.4f} {f.r2:7.4f}"
            ),
        )
    if constrained:
        header = [
            "fit data-constrained (Muennighoff et al. 2023): D -> D' = U + U R* (1 - exp(-R/R*)),",
            "U unique tokens available, R = D/U - 1 repeated epochs; own-segment points, seeds",
            "averaged per level and data share:",
            f"  {'segment':10s} {'E':>8s} {'a':>7s} {'b':>7s} {'R*':>8s} {'R^2':>7s} points",
        ]
        lines += _fit_block(
            header,
            constrained,
            lambda f: (
                f"{f.E:8.4f} {f.alpha:7.4f} {f.beta:7.4f} {f.r_star:8.3g} {f.r2:7.4f} "
                f"{f.n_points:6d}"
            ),
        )
    return "\n".join(lines)


def _fit_block(header: list[str], fits: Mapping, row) -> list[str]:
    """``header``, then one line per segment: ``row(fit)``, or that the table cannot
    identify the fit."""
    return header + [
        f"  {segment:10s} " + ("(not identified by this table)" if fit is None else row(fit))
        for segment, fit in fits.items()
    ]


def format_data_axis(table: pd.DataFrame) -> str:
    """Own-segment bpb at each data level x data fraction (the data axis), next to the whole
    data's, and the epochs the kept checkpoint saw."""
    axis = data_axis_rows(table)
    if axis.empty:
        return "data axis: none in this table (rebuild with `llm-market lm zoo build`)"
    full = full_data_rows(table)
    own = pd.concat([axis, full[full["level"].isin(set(axis["level"]))]])
    own = own[own["mix_name"] == own["segment"]]
    wide = own.pivot_table(
        index=["segment", "level"], columns="data_fraction", values="bpb", aggfunc="mean"
    )
    epochs = own.pivot_table(
        index=["segment", "level"], columns="data_fraction", values="epochs", aggfunc="mean"
    )
    lines = [
        "data axis: own-segment validation bpb (epochs seen by the kept checkpoint) by share of",
        "the training data; on little data more compute stops helping:",
        f"  {'segment':10s} {'level':>5s} "
        + " ".join(f"{f'{f:g} of data':>18s}" for f in wide.columns),
    ]
    for (segment, level), row in wide.iterrows():
        cells = " ".join(
            f"{row[f]:8.3f} ({epochs.loc[(segment, level), f]:6.1f} ep)" for f in wide.columns
        )
        lines.append(f"  {segment:10s} {int(level):5d} {cells}")
    return "\n".join(lines)


def format_table(table: pd.DataFrame) -> str:
    """bpb per (mix, compute level) and evaluated segment, plus the unigram baseline."""
    table = table.assign(flops=table["flops"].map(lambda v: f"{v:.3g}"))
    table = full_data_rows(table)  # the data axis has its own view (format_data_axis)
    wide = table.pivot_table(
        index=["mix_name", "level", "flops", "params", "tokens"],
        columns="segment",
        values="bpb",
        aggfunc="mean",
    )
    order = [m for m in ZOO_MIXES if m in set(table["mix_name"])]
    order += sorted(set(table["mix_name"]) - set(order))
    wide = wide.reindex(order, level="mix_name")
    wide = wide[[s for s in corpus.SEGMENTS if s in wide.columns]]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        body = wide.to_string(float_format=lambda v: f"{v:.3f}")
    unigram = table.groupby("segment")["h_unigram"].first()
    baseline = "  ".join(f"{s} {unigram[s]:.3f}" for s in wide.columns)
    meta = table.iloc[0]
    header = (
        f"zoo: {table['config_hash'].nunique()} trainings on {meta.get('device', '?')} "
        f"(torch {meta.get('torch_version', '?')}, {meta.get('threads', '?')} thread(s)), "
        f"total training wall time {table.drop_duplicates('config_hash')['wall_time_s'].sum():.0f}s"
    )
    return f"{header}\nvalidation bits per byte:\n{body}\nbyte-unigram entropy: {baseline}"
