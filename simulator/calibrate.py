"""Calibration: observed shares and prices in, a scenario that reproduces them out.

``llm-market calibrate DATA --out SCENARIO`` reads a market-data file (format: ``MarketData``
below, ``llm-market calibrate --schema``)::

    name: my-market
    segments:
      - {name: assistant, size: 100.0, outside_share: 0.25, price_sensitivity: 1.0,
         temperature: 0.5}
    firms:
      - {name: A, price: 8.0, unit_cost: 3.0, shares: {assistant: 0.55}}
      - {name: B, price: 2.0, shares: {assistant: 0.45}}     # no unit_cost: backed out

and writes a scenario whose first step, with every firm holding its observed price (pricing
rule ``fixed``), gives the observed inside and outside shares (checked to 1e-6 before the
file is written).

The market's utility is u_js = beta_s Q_js + gamma_s ln(1 + B_j) - alpha_s P_j with a logit
of temperature mu_s and an outside option of utility 0. With s_js = (1 - s_0s) w_js the
firm's share of the segment's potential demand (w_js its observed share of inside sales,
s_0s the outside share), the logit inversion gives each firm's mean utility

    delta_js = mu_s (ln s_js - ln s_0s)

and, with brand 0 and beta_s = 1 in the written scenario (the convention: Q is measured in
utility units), its fixed quality

    Q_js = (delta_js + alpha_s P_j) / beta_s.

A firm without ``unit_cost`` gets the cost at which its observed price satisfies the
multi-segment Bertrand first-order condition (simulator.market.equilibrium.nash_markups)

    c_j = P_j - sum_s M_s s_js / sum_s M_s (alpha_s / mu_s) s_js (1 - s_js),

and the observed price is checked to be its *global* best response at that cost; a negative
implied cost is refused (give the firm's ``unit_cost``). A segment may give an own-price
elasticity ``elasticity`` e_s instead of ``price_sensitivity``: alpha_s is then the value at
which the inside-share-weighted mean own-price elasticity of the firms equals e_s,

    e_s = (alpha_s / mu_s) sum_j w_js P_j (1 - s_js),
    alpha_s = mu_s e_s / sum_j w_js P_j (1 - s_js)

(the logit own-price elasticity of firm j is -(alpha_s / mu_s) P_j (1 - s_js)).

Everything else a step changes is switched off in the written scenario: brand (marketing 0,
brand_sensitivity 0), links (link_rule none), R&D (0), learning (0), capacity (none), entry
(0), scheduled releases (a release cycle longer than any run), and open weights reach users
through no extra product (open model mode outside_option with usability 0).
The optional ``scenario:`` mapping is merged into the written scenario
(events, steps, seed, market options); it may not set the calibrated parts.

A sweep whose ``scenario:`` is a market-data file calibrates every sampled point (its
parameters are paths into the data file, e.g. ``segments.code.elasticity``), so each point's
first step reproduces the data too.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field, ValidationError

from simulator.config import ScenarioError, merge, parse_scenario, read_yaml
from simulator.config.errors import describe, field_path
from simulator.config.yaml_safe import dump_yaml
from simulator.market.demand import SegmentParams
from simulator.market.equilibrium import best_responses, nash_markups
from simulator.market.params import Strict

PositiveFloat = Annotated[float, Field(gt=0)]

SHARE_TOLERANCE = 1e-6
"""How far a segment's inside shares may sum from 1, and step 1 may miss the data."""
NASH_TOLERANCE = 1e-6
"""Relative distance allowed between an observed price and its global best response."""

NEUTRAL_STRATEGY = {
    "pricing": "fixed",
    "rd_share": 0.0,
    "rd_min": 0.0,
    "marketing_share": 0.0,
    "marketing_min": 0.0,
    "link_rule": "none",
    "focus": "fixed",
    "open_source_rule": "never",
}
"""Every calibrated firm's strategy: nothing but a release event changes a step."""


NO_RELEASE_CYCLE = 100_000  # the longest a release cycle may be (MAX_STEPS): never within a run
"""Release cycle of a calibrated firm: its models change only by `release` events."""


class CalibrationError(ScenarioError):
    """Impossible market data: ``lines`` holds one 'field: problem' line per problem."""


class SegmentData(Strict):
    """One segment's observed market."""

    name: str = Field(min_length=1, description="Segment name.")
    size: PositiveFloat = Field(
        description="Total demand per step, the outside option included (M_s)."
    )
    outside_share: float = Field(
        description="Share of the segment's demand that buys no listed firm, in (0, 1)."
    )
    price_sensitivity: PositiveFloat | None = Field(
        None,
        description="alpha_s: utility lost per unit price. Give this or `elasticity` "
        "(default 1.0 when neither is given).",
    )
    elasticity: PositiveFloat | None = Field(
        None,
        description="Own-price elasticity (its magnitude) the firms have on average, weighted "
        "by inside shares; alpha_s = mu_s e / sum_j w_j P_j (1 - s_j).",
    )
    temperature: PositiveFloat = Field(0.25, description="mu_s: logit temperature.")
    growth: float = Field(0.0, gt=-1, description="Growth of the segment's size per step.")


class FirmData(Strict):
    """One firm's observed price and shares."""

    name: str = Field(min_length=1, description="Firm name.")
    price: float = Field(description="The firm's price (one price for every segment), > 0.")
    unit_cost: PositiveFloat | None = Field(
        None,
        description="Unit cost; absent: backed out from the Bertrand first-order condition at "
        "the observed prices.",
    )
    shares: dict[str, float] = Field(
        description="Share of each segment's inside sales (every segment, each > 0; per "
        "segment they sum to 1: list an `Others` firm explicitly)."
    )
    open_weights: bool = Field(False, description="The firm's weights are open.")


class MarketData(Strict):
    """Observed shares and prices of a market, the input of `llm-market calibrate`."""

    name: str = Field(min_length=1, description="Name of the written scenario.")
    description: str = Field("", description="Description of the written scenario.")
    header: str = Field(
        "", description="Text written as comment lines at the top of the scenario file."
    )
    seed: int = Field(0, ge=0, description="Seed of the written scenario.")
    steps: int = Field(24, ge=1, description="Steps of the written scenario.")
    segments: list[SegmentData] = Field(min_length=1, description="The segments.")
    firms: list[FirmData] = Field(min_length=1, description="The firms, `Others` included.")
    scenario: dict[str, Any] = Field(
        default_factory=dict,
        description="Merged into the written scenario (events, market options, ...); it may "
        "not set companies, links or market.segments.",
    )


def json_schema() -> dict[str, Any]:
    return MarketData.model_json_schema()


def is_market_data(data: Any) -> bool:
    """Whether a parsed YAML mapping is market data (firms, no companies) not a scenario."""
    return isinstance(data, dict) and "firms" in data and "companies" not in data


# --- checks ------------------------------------------------------------------------------


def parse_market_data(data: Any) -> MarketData:
    """Validate market data; every problem is one line naming the field (CalibrationError)."""
    if not isinstance(data, dict):
        raise CalibrationError(
            [f"(top level): expected a mapping of market-data keys, got {type(data).__name__}"]
        )
    try:
        market = MarketData.model_validate(data)
    except ValidationError as exc:
        raise CalibrationError(
            [f"{field_path(e['loc'], data, {})}: {describe(e)}" for e in exc.errors()]
        ) from None
    errors = _data_errors(market)
    if errors:
        raise CalibrationError(errors)
    return market


def _data_errors(market: MarketData) -> list[str]:
    errors: list[str] = []
    names = [s.name for s in market.segments]
    known = ", ".join(names)
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"segments.{name}: duplicate segment name")
    firms = [f.name for f in market.firms]
    for name in sorted({n for n in firms if firms.count(n) > 1}):
        errors.append(f"firms.{name}: duplicate firm name")
    for segment in market.segments:
        where = f"segments.{segment.name}"
        if not 0.0 < segment.outside_share < 1.0:
            errors.append(f"{where}.outside_share: must be in (0, 1) (got {segment.outside_share})")
        if segment.price_sensitivity is not None and segment.elasticity is not None:
            errors.append(f"{where}.elasticity: give price_sensitivity or elasticity, not both")
    for firm in market.firms:
        where = f"firms.{firm.name}"
        if not (math.isfinite(firm.price) and firm.price > 0):
            errors.append(f"{where}.price: must be > 0 (got {firm.price})")
        elif firm.unit_cost is not None and firm.unit_cost > firm.price:
            errors.append(
                f"{where}.unit_cost: above the firm's price {firm.price} (got {firm.unit_cost}); "
                "no pricing rule prices below cost"
            )
        for key, value in firm.shares.items():
            if key not in names:
                errors.append(f"{where}.shares.{key}: no such segment (segments: {known})")
            elif not (math.isfinite(value) and value > 0):
                errors.append(f"{where}.shares.{key}: must be > 0 (got {value})")
        for key in names:
            if key not in firm.shares:
                errors.append(
                    f"{where}.shares.{key}: missing (logit demand gives every firm a share > 0 "
                    "in every segment)"
                )
    if not errors:
        for segment in market.segments:
            total = sum(f.shares[segment.name] for f in market.firms)
            if abs(total - 1.0) > SHARE_TOLERANCE:
                errors.append(
                    f"segments.{segment.name}: the firms' shares sum to {total:.6g}, not 1 "
                    "(list an `Others` firm explicitly)"
                )
    for key in ("companies", "links"):
        if key in market.scenario:
            errors.append(f"scenario.{key}: set by the calibration (edit `firms` instead)")
    if "segments" in (market.scenario.get("market") or {}):
        errors.append("scenario.market.segments: set by the calibration (edit `segments`)")
    return errors


# --- the inversion -----------------------------------------------------------------------


@dataclass
class Calibration:
    """What the calibration found, and the scenario it wrote."""

    market: MarketData
    alpha: np.ndarray  # (S,)
    prices: np.ndarray  # (F,)
    inside: np.ndarray  # observed inside shares w (F, S)
    outside: np.ndarray  # observed outside shares (S,)
    quality: np.ndarray  # Q (F, S)
    costs: np.ndarray  # (F,)
    implied: np.ndarray  # (F,) bool: cost backed out
    scenario: dict[str, Any]
    step1_error: float  # largest |share of step 1 - data| over firms, segments and outside

    @property
    def margins(self) -> np.ndarray:
        """(P - c) / P per firm."""
        return (self.prices - self.costs) / self.prices


def segment_params(alpha: np.ndarray, mu: np.ndarray) -> SegmentParams:
    """The written scenario's demand: beta 1, gamma 0, outside utility 0."""
    n = len(alpha)
    return SegmentParams(
        alpha=np.asarray(alpha, dtype=float),
        beta=np.ones(n),
        gamma=np.zeros(n),
        mu=np.asarray(mu, dtype=float),
        u0=np.zeros(n),
    )


def price_sensitivity_from_elasticity(
    elasticity: float, mu: float, prices: np.ndarray, inside: np.ndarray, outside: float
) -> float:
    """alpha = mu e / sum_j w_j P_j (1 - s_j), s_j = (1 - s_0) w_j: the inside-share-weighted
    mean of the firms' own-price elasticities (alpha / mu) P_j (1 - s_j) is then e."""
    shares = (1.0 - outside) * inside
    return mu * elasticity / float(np.sum(inside * prices * (1.0 - shares)))


def invert_shares(
    inside: np.ndarray, outside: np.ndarray, prices: np.ndarray, alpha: np.ndarray, mu: np.ndarray
) -> np.ndarray:
    """Q_js = delta_js + alpha_s P_j with delta_js = mu_s (ln s_js - ln s_0s), beta = 1."""
    shares = (1.0 - outside) * inside
    delta = mu * (np.log(shares) - np.log(outside))
    return delta + alpha * np.asarray(prices, dtype=float)[:, None]


def implied_costs(
    prices: np.ndarray, quality: np.ndarray, seg: SegmentParams, size: np.ndarray
) -> np.ndarray:
    """c_j = P_j - Bertrand markup_j: the cost at which P_j solves firm j's first-order
    condition given everyone's observed prices."""
    prices = np.asarray(prices, dtype=float)
    return prices - nash_markups(prices, quality, np.zeros(len(prices)), seg, size)


def calibrate(data: Any) -> Calibration:
    """Calibrate market data (a mapping or MarketData); CalibrationError for impossible data."""
    market = data if isinstance(data, MarketData) else parse_market_data(data)
    segments, firms = market.segments, market.firms
    names = [s.name for s in segments]
    prices = np.array([f.price for f in firms], dtype=float)
    inside = np.array([[f.shares[s] for s in names] for f in firms], dtype=float)
    outside = np.array([s.outside_share for s in segments], dtype=float)
    mu = np.array([s.temperature for s in segments], dtype=float)
    size = np.array([s.size for s in segments], dtype=float)
    alpha = np.array(
        [
            s.price_sensitivity
            if s.price_sensitivity is not None
            else price_sensitivity_from_elasticity(
                s.elasticity, s.temperature, prices, inside[:, k], s.outside_share
            )
            if s.elasticity is not None
            else 1.0
            for k, s in enumerate(segments)
        ]
    )
    quality = invert_shares(inside, outside, prices, alpha, mu)
    seg = segment_params(alpha, mu)
    backed_out = implied_costs(prices, quality, seg, size)
    implied = np.array([f.unit_cost is None for f in firms])
    costs = np.where(implied, backed_out, [f.unit_cost or 0.0 for f in firms])
    errors = [
        f"firms.{f.name}.unit_cost: the cost implied by the Bertrand first-order condition at "
        f"the observed prices is {costs[j]:.4g} <= 0 (price {f.price:g}, markup "
        f"{f.price - costs[j]:.4g}): give the firm's unit_cost, or a higher price sensitivity"
        for j, f in enumerate(firms)
        if implied[j] and not costs[j] > 0
    ]
    if errors:
        raise CalibrationError(errors)
    _check_global_best_responses(market, prices, costs, implied, quality, seg, size)
    scenario = _scenario(market, alpha, quality, costs, prices)
    error = _check_step_one(scenario, inside, outside)
    return Calibration(
        market, alpha, prices, inside, outside, quality, costs, implied, scenario, error
    )


def _check_global_best_responses(market, prices, costs, implied, quality, seg, size) -> None:
    """Every firm with an implied cost must not gain by any price (global best response)."""
    if not implied.any():
        return
    best = best_responses(prices, costs, quality, np.zeros(len(prices)), seg, size)
    errors = []
    for j in np.flatnonzero(implied):
        if abs(best[j] - prices[j]) > NASH_TOLERANCE * prices[j]:
            errors.append(
                f"firms.{market.firms[j].name}.unit_cost: at the implied cost {costs[j]:.4g} the "
                f"observed price {prices[j]:g} is not the firm's global best response "
                f"({best[j]:.4g} earns more): give the firm's unit_cost"
            )
    if errors:
        raise CalibrationError(errors)


def _scenario(market: MarketData, alpha, quality, costs, prices) -> dict[str, Any]:
    names = [s.name for s in market.segments]
    scenario = {
        "name": market.name,
        "description": market.description,
        "seed": market.seed,
        "steps": market.steps,
        "market": {
            "segments": [
                {
                    "name": s.name,
                    "size": s.size,
                    "growth": s.growth,
                    "price_sensitivity": float(alpha[k]),
                    "quality_sensitivity": 1.0,
                    "brand_sensitivity": 0.0,
                    "temperature": s.temperature,
                    "outside_utility": 0.0,
                }
                for k, s in enumerate(market.segments)
            ],
            "price_cap": float(10.0 * max(prices)),
            "open_model": {
                "mode": "outside_option",
                "usability": 0.0,
                "releaser_brand_gain": 0.0,
                "community_rate": 0.0,
            },
            "entry": {"base_rate": 0.0},
        },
        "companies": [
            {
                "name": f.name,
                "open_weights": f.open_weights,
                "unit_cost": float(costs[j]),
                "initial_price": f.price,
                "cash": 0.0,
                "release_cycle": NO_RELEASE_CYCLE,
                "quality": {s: float(quality[j, k]) for k, s in enumerate(names)},
                "strategy": dict(NEUTRAL_STRATEGY),
            }
            for j, f in enumerate(market.firms)
        ],
    }
    return merge(scenario, copy.deepcopy(market.scenario))


def _check_step_one(scenario: dict[str, Any], inside: np.ndarray, outside: np.ndarray) -> float:
    """Run step 1 of the written scenario without its events; its shares must be the data's."""
    from simulator.market.quality import PlaceholderQuality
    from simulator.model import MarketModel

    checked = parse_scenario({**scenario, "events": []})
    model = MarketModel(checked, quality_source=PlaceholderQuality(checked.market.compute_range))
    model.step()
    clearing = model._clearing
    got_inside = clearing.sales / clearing.sales.sum(axis=0)
    got_outside = clearing.outside_demand / model.state.size
    error = float(max(np.max(np.abs(got_inside - inside)), np.max(np.abs(got_outside - outside))))
    if not error <= SHARE_TOLERANCE:
        raise CalibrationError(
            [f"(calibration): step 1 misses the data by {error:.3g} (> {SHARE_TOLERANCE:g})"]
        )
    return error


# --- files -------------------------------------------------------------------------------


def load_market_data(path: str | Path) -> MarketData:
    return parse_market_data(read_yaml(path, CalibrationError))


def scenario_text(calibration: Calibration, source: str | None = None) -> str:
    """The written scenario: a comment header, then the YAML."""
    market = calibration.market
    lines = [f"# {line}".rstrip() for line in market.header.strip().splitlines()]
    if lines:
        lines.append("#")
    origin = f" {source}" if source else ""
    lines += [
        f"# Written by `llm-market calibrate{origin}` (simulator/calibrate.py):",
        "# edit the market data and re-run, not this file.",
        "# Convention: u = Q - alpha P (quality_sensitivity 1, brand 0), outside utility 0; Q is",
        "# in utility units: Q_js = mu_s (ln s_js - ln s_0s) + alpha_s P_j. Step 1 without the",
        "# events reproduces the data's shares (largest difference "
        f"{calibration.step1_error:.1e}).",
        "# Unit costs: "
        + ", ".join(
            f"{r['firm']} {r['unit_cost']:.4g} ({r['cost']}, margin {r['margin']:.0%})"
            for r in report_rows(calibration)
        ),
    ]
    wrapped = []
    for line in lines:  # keep comment lines readable
        while len(line) > 100 and ", " in line[:100]:
            cut = line[:100].rfind(", ") + 1
            wrapped.append(line[:cut])
            line = "#  " + line[cut:].lstrip()
        wrapped.append(line)
    body = dump_yaml(calibration.scenario, width=100)
    return "\n".join(wrapped) + "\n" + body


def report_rows(calibration: Calibration) -> list[dict[str, Any]]:
    """One row per firm: price, cost (given or implied), margin and quality per segment."""
    names = [s.name for s in calibration.market.segments]
    return [
        {
            "firm": f.name,
            "price": calibration.prices[j],
            "unit_cost": calibration.costs[j],
            "cost": "implied" if calibration.implied[j] else "given",
            "margin": calibration.margins[j],
            **{f"Q {s}": calibration.quality[j, k] for k, s in enumerate(names)},
        }
        for j, f in enumerate(calibration.market.firms)
    ]


def sweep_base(data: dict[str, Any]):
    """For a sweep over a market-data file: (base Scenario, the data with every default filled
    in as the mapping parameter paths address, and the function from a sampled data mapping
    to its calibrated scenario mapping)."""
    market = parse_market_data(data)

    def prepare(point: dict[str, Any]) -> dict[str, Any]:
        return calibrate(point).scenario

    base_data = market.model_dump(mode="json")
    return parse_scenario(calibrate(market).scenario), base_data, prepare


# --- the command -------------------------------------------------------------------------


def cmd_calibrate(args) -> int:
    import json
    import sys

    from simulator.atomic import atomic_write_text
    from simulator.terminal import printable

    if args.schema:
        print(json.dumps(json_schema(), indent=2))
        return 0
    if not args.data or not args.out:
        print("error: calibrate needs DATA and --out SCENARIO (or --schema)", file=sys.stderr)
        return 2
    calibration = calibrate(read_yaml(args.data, CalibrationError))
    atomic_write_text(args.out, scenario_text(calibration, args.data))
    rows = report_rows(calibration)
    header = list(rows[0])
    table = [header] + [
        [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()] for row in rows
    ]
    widths = [max(len(r[k]) for r in table) for k in range(len(header))]
    for r in table:
        print(printable("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True))))
    print(
        printable(
            f"step 1 reproduces the data to {calibration.step1_error:.1e}; "
            f"scenario written to {args.out}"
        )
    )
    return 0


def add_command(sub) -> None:
    """`llm-market calibrate DATA --out SCENARIO` (or `--schema`)."""
    parser = sub.add_parser(
        "calibrate",
        help="write a scenario whose first step reproduces observed shares and prices",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("data", nargs="?", help="market-data YAML file (see --schema)")
    parser.add_argument("--out", metavar="SCENARIO", help="scenario YAML file to write")
    parser.add_argument("--schema", action="store_true", help="print the market-data JSON Schema")
    parser.set_defaults(func=cmd_calibrate)


# --- the projection table of a sweep ----------------------------------------------------


def projection_table(sweep_dir: str | Path, months: tuple[int, ...] = (6, 12, 24, 36)) -> str:
    """Markdown table of a finished sweep: per firm share, HHI and price index at ``months``
    (steps), as the median and the 5-95% band over every run (all points and replications)."""
    import pandas as pd

    series = pd.read_parquet(Path(sweep_dir) / "series.parquet")
    steps = [m for m in months if m in set(series["step"])]
    rows = series[series["step"].isin(steps)]
    columns = [c for c in rows.columns if c.startswith("share.") and c != "share.entrants"]
    columns += ["hhi", "price_index"]
    lines = [
        "| | " + " | ".join(f"month {m}" for m in steps) + " |",
        "|---|" + "---|" * len(steps),
    ]
    for column in columns:
        by_step = rows.groupby("step")[column]
        low, mid, high = (by_step.quantile(q) for q in (0.05, 0.5, 0.95))
        if column.startswith("share."):
            label, cell = f"share {column[6:]}", "{:.1%} ({:.1%}-{:.1%})"
        elif column == "hhi":
            label, cell = "HHI", "{:,.0f} ({:,.0f}-{:,.0f})"
        else:
            label, cell = "price index ($/M output tokens)", "{:.2f} ({:.2f}-{:.2f})"
        cells = [cell.format(mid[s], low[s], high[s]) for s in steps]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    runs = series["run"].nunique()
    lines.append("")
    lines.append(f"Median (5%-95%) over {runs} runs.")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m simulator.calibrate projection SWEEP_DIR
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "projection":
        sys.exit("usage: python -m simulator.calibrate projection SWEEP_DIR")
    print(projection_table(sys.argv[2]))
