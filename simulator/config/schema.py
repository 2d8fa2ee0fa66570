"""Scenario schema: the pydantic v2 models a scenario YAML validates against.

``llm-market schema`` prints the JSON Schema generated from these models, so every option is
documented in one place: the ``description`` of its field, which states its range. Every model
derives from ``simulator.market.params.Strict``: unknown keys are errors, numbers must be
finite and of the exact type (``true`` is not 1, ``"3"`` is not 3). Loading and error text
live in ``simulator.config.loading``; the built-in archetypes in ``simulator.config.archetypes``.
"""

from __future__ import annotations

import functools
import math
import operator
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, field_validator

from simulator.config.archetypes import BUILTIN_ARCHETYPES
from simulator.config.strategy import Strategy, _strategy_model  # noqa: F401 (re-exported)
from simulator.market.data import DataTerms, Tokens
from simulator.market.events import EVENTS, EnterEvent
from simulator.market.open_source import RelativePrice
from simulator.market.params import (
    MAX_BRAND,
    MAX_CAPACITY,
    MAX_COMPUTE,
    MAX_FACTOR,
    MAX_FIRMS,
    MAX_MONEY,
    MAX_PRICE,
    MAX_PROJECTED_SIZE,
    MAX_SEGMENTS,
    MAX_SENSITIVITY,
    MAX_SIZE,
    MAX_STEPS,
    MIN_COMPUTE_DECADES,
    Compute,
    Growth,
    Index,
    Money,
    NonNegativeMoney,
    NonNegativePrice,
    Price,
    Share,
    Steps,
    Strict,
    as_tuple,
)
from simulator.market.strategy.links import LinkType

Sensitivity = Annotated[float, Field(ge=0, le=MAX_SENSITIVITY)]
PositiveSensitivity = Annotated[float, Field(gt=0, le=MAX_SENSITIVITY)]
Weight = Annotated[float, Field(gt=0, le=MAX_FACTOR)]
Brand = Annotated[float, Field(ge=0, le=MAX_BRAND)]
Quality = Annotated[float, Field(ge=-MAX_SENSITIVITY, le=MAX_SENSITIVITY)]
MixWeight = Annotated[float, Field(ge=0, le=MAX_FACTOR)]

LINE_BREAKING = frozenset({"Cc", "Cs", "Zl", "Zp"})
"""Unicode categories that would break a one-line message (str.splitlines splits on them)."""


def _plain_name(value: str) -> str:
    """A name appears in field paths and output tables: one printable line, no outer spaces."""
    if any(unicodedata.category(c) in LINE_BREAKING for c in value):
        raise ValueError("must not contain control characters (newlines, tabs...)")
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    return value


Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_plain_name)]
"""A firm or segment name: 1 to 100 characters, no control characters, no outer spaces."""
ArchetypeName = Annotated[str, Field(min_length=1, max_length=80), AfterValidator(_plain_name)]
"""An archetype name: like Name, at most 80 characters (entrants are named <archetype>-eN)."""
ScenarioName = Name
"""The scenario's name: a label (the default run folder is made safe from it: simulator.folders)."""


def _range(low: float | str, high: float | str) -> str:
    fmt = lambda v: v if isinstance(v, str) else f"{v:g}"  # noqa: E731
    return f"{fmt(low)} to {fmt(high)}"


class Segment(Strict):
    """One market segment s with its own logit demand."""

    name: Name = Field(
        description="Segment name, e.g. assistant, code, creative, chinese (1 to 100 characters)."
    )
    size: float = Field(
        gt=0,
        le=MAX_SIZE,
        description=f"Market size M_s at step 0 (demand units per step), above 0, at most "
        f"{MAX_SIZE:g}; growth and segment events may take it to at most "
        f"{MAX_PROJECTED_SIZE:g} during the run.",
    )
    growth: Growth = Field(
        0.0, description="Growth rate of M_s per step (0.01 = +1%/step), above -1, at most 1."
    )
    price_sensitivity: PositiveSensitivity = Field(
        1.0,
        description=f"alpha_s: utility lost per unit price, above 0, at most {MAX_SENSITIVITY:g}.",
    )
    quality_sensitivity: Sensitivity = Field(
        1.0,
        description="beta_s: utility per unit of quality Q (Q is ~0..1 for zoo qualities), "
        f"{_range(0, MAX_SENSITIVITY)}.",
    )
    brand_sensitivity: Sensitivity = Field(
        0.0,
        description="gamma_s: utility per unit of ln(1 + brand stock), "
        f"{_range(0, MAX_SENSITIVITY)}.",
    )
    temperature: PositiveSensitivity = Field(
        0.25,
        description="mu_s: logit temperature; larger means more horizontal differentiation. "
        f"Above 0, at most {MAX_SENSITIVITY:g}.",
    )
    outside_utility: float = Field(
        0.0,
        ge=-MAX_SENSITIVITY,
        le=MAX_SENSITIVITY,
        description="u0_s: utility of buying no LLM product, "
        f"{_range(-MAX_SENSITIVITY, MAX_SENSITIVITY)}.",
    )


def _price_form(value: Any) -> str:
    return "<relative>" if isinstance(value, dict) else "<number>"


OpenPrice = Annotated[
    Annotated[NonNegativePrice, Tag("<number>")] | Annotated[RelativePrice, Tag("<relative>")],
    Discriminator(_price_form),
]
"""A price or a price relative to the firms'; one error line either way (the tags, in angle
brackets, are left out of error paths: simulator.config.errors.field_path)."""


class OpenModelTerms(Strict):
    """What published weights do to the market (simulator/market/open_source.py)."""

    mode: Literal["free_product", "outside_option"] = Field(
        "free_product",
        description="How open weights reach users: 'free_product' adds a product "
        "at `user_price` with the best open quality x `usability`; 'outside_option' raises each "
        "segment's outside utility to that product's utility instead.",
    )
    user_price: OpenPrice = Field(
        0.0,
        description="Price users pay for the open model (self-hosting or third-party serving): "
        f"a number, {_range(0, MAX_PRICE)}, or a price relative to the firms' re-read every "
        "step, e.g. {relative_to: cheapest, factor: 0.5} (half the cheapest firm's price).",
    )
    usability: Share = Field(
        0.8,
        description="Share of the open model's quality users get without a firm's product "
        "layer, 0 to 1.",
    )
    finetune_efficiency: Share = Field(
        0.9,
        description="Every firm's next model starts from this fraction of the best open "
        "model's training compute (fine-tuning), when that beats its own; 0 to 1.",
    )
    releaser_brand_gain: Brand = Field(
        20.0,
        description="One-off brand stock the releaser gains (community goodwill), "
        f"{_range(0, MAX_BRAND)}.",
    )
    community_rate: Share = Field(
        0.01,
        description="Community contributions: compute per step added to the releaser's next "
        "model, as a fraction of its open model's compute; 0 to 1.",
    )
    outlives_releaser: bool = Field(
        True,
        description="Released weights stay available after their releaser exits (the open "
        "model keeps the quality and compute it had); false: it leaves with its last "
        "open-weight firm.",
    )


class EntryTerms(Strict):
    """Stochastic entry of new firms (seeded through the model's rng)."""

    base_rate: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Expected entrants per step at zero industry margin and no open model "
        "(0 with zero sensitivities: no entry); 0 to 100.",
    )
    margin_sensitivity: float = Field(
        2.0,
        ge=0,
        le=1000,
        description="Rate multiplier (1 + this x mean profit margin of incumbents); 0 to 1000.",
    )
    open_sensitivity: float = Field(
        2.0,
        ge=0,
        le=1000,
        description="Rate multiplier (1 + this x mean best open quality over segments); 0 to 1000.",
    )
    archetypes: dict[ArchetypeName, Weight] = Field(
        default_factory=lambda: {"startup": 1.0},
        description="Entrants' archetypes with relative weights (above 0, at most "
        f"{MAX_FACTOR:g}). Each must resolve to a complete, consistent company (a unit_cost, "
        "a price cap above it): validation checks it before the run.",
    )
    entry_cost: NonNegativeMoney = Field(
        50.0, description=f"Paid from an entrant's starting cash, {_range(0, MAX_MONEY)}."
    )
    open_discount: Share = Field(
        0.5, description="Entry cost falls by this share while an open model exists; 0 to 1."
    )
    max_firms: int = Field(
        50,
        ge=1,
        le=MAX_FIRMS,
        description="No entry beyond this many active firms; 1 to "
        f"{MAX_FIRMS:,} (with entry, companies + entry waves + this must not exceed "
        f"{MAX_FIRMS:,}).",
    )


class NetworkTerms(Strict):
    """Economics of partnership links (simulator/network.py documents the formulas)."""

    pool_share: Share = Field(
        0.3, description="joint_rd: share of a partner's R&D compute pooled; 0 to 1."
    )
    returns: float = Field(
        0.7,
        gt=0,
        le=1,
        description="joint_rd: pooled compute scales with "
        "k**(returns-1) for k partners (diminishing returns); above 0, at most 1.",
    )
    brand_share: Share = Field(
        0.3, description="alliance: share of an ally's brand in own demand; 0 to 1."
    )
    sharing_value: float = Field(
        0.05,
        ge=0,
        le=1000,
        description="market_sharing: expected gain as a share of revenue x focus overlap; "
        "0 to 1000.",
    )
    rivalry: float = Field(
        0.5,
        ge=0,
        le=1000,
        description="How much helping a rival with overlapping focus counts against a link; "
        "0 to 1000.",
    )
    cost: dict[LinkType, NonNegativeMoney] = Field(
        default_factory=lambda: {"joint_rd": 1.0, "market_sharing": 1.0, "alliance": 1.0},
        description="Cost per step of holding a link of each type (money units), "
        f"{_range(0, MAX_MONEY)}; a type left out costs 1.",
    )
    term: Steps = Field(
        24,
        description=f"Steps a link lasts before it must be re-formed; 1 to {MAX_STEPS:,}.",
    )
    max_links: int = Field(
        3, ge=0, le=MAX_FIRMS, description=f"Most links a firm holds at once; 0 to {MAX_FIRMS:,}."
    )


class ZooOptions(Strict):
    """How the simulation reads the language-model zoo (quality_model: zoo)."""

    train_missing: bool = Field(
        False,
        description="Train (and cache) the zoo point for a firm's exact data mix and "
        "budget instead of interpolating between measured mixes. Slow the first time; a sweep "
        "never trains and ignores this option.",
    )
    threads: int = Field(
        1, ge=1, le=1024, description="CPU threads for on-demand training; 1 to 1024."
    )


class Market(Strict):
    """Industry-wide parameters."""

    segments: list[Segment] = Field(
        min_length=1,
        max_length=MAX_SEGMENTS,
        description=f"The market segments, 1 to {MAX_SEGMENTS}.",
    )
    brand_decay: Share = Field(0.1, description="Share of brand stock lost per step; 0 to 1.")
    compute_price: float = Field(
        1.0,
        ge=1e-6,
        le=MAX_MONEY,
        description="Money units per 1e24 training FLOPs bought with R&D spend, "
        f"{_range(1e-6, MAX_MONEY)} (compute_price events must keep it there).",
    )
    compute_range: Annotated[tuple[Compute, Compute], BeforeValidator(as_tuple)] = Field(
        (1e21, 1e26),
        description="Smallest and largest plausible real training budgets (FLOPs). log10 of the "
        "zoo budget is linear in log10 of the real one: the smallest maps to the zoo's level 0 "
        "(5e10 FLOPs), the largest to level 7 (5.36e12). The zoo measures up to level 8 (8 x "
        "level 7), so quality is measured up to a real budget of largest x (largest / "
        "smallest) ^ 0.444 (1.68e29 for 1e22-1e27) and extrapolated (flagged) beyond. Each 1 "
        f"to {MAX_COMPUTE:g}; the largest at least {10**MIN_COMPUTE_DECADES:g} x the smallest.",
    )
    cost_index: Index = Field(
        1.0,
        description="Multiplier on every firm's unit cost (events move it: cheaper inference), "
        f"{_range(1 / MAX_FACTOR, MAX_FACTOR)} (cost_index events must keep it there).",
    )
    learning_output_scale: float = Field(
        100.0,
        gt=0,
        le=MAX_CAPACITY,
        description="X0 in Wright's law: cumulative output at which experience doubles; above "
        f"0, at most {MAX_CAPACITY:g}.",
    )
    spillover: bool = Field(
        False, description="Unserved demand of capacity-limited firms spills to rivals (else lost)."
    )
    price_cap: Price = Field(
        100.0,
        description="Default highest price a firm may set; above 0, at most "
        f"{MAX_PRICE:g}. Must not be below the step-0 unit cost of a firm that uses it.",
    )
    open_model: OpenModelTerms = Field(
        default_factory=OpenModelTerms, description="Effects of open model weights."
    )
    entry: EntryTerms = Field(default_factory=EntryTerms, description="Entry of new firms.")
    exit_after: Steps = Field(
        6,
        description="A firm leaves after this many consecutive steps with negative cash; 1 to "
        f"{MAX_STEPS:,}.",
    )
    network: NetworkTerms = Field(default_factory=NetworkTerms, description="Partnership links.")
    quality_model: Literal["zoo", "placeholder"] = Field(
        "zoo",
        description="Where qualities come from for firms without fixed `quality`: 'zoo' reads "
        "the measured bits-per-byte of the project's trained language models "
        "(simulator.lm.zoo); 'placeholder' is Q = log-compute position x focus "
        "(simulator.market.quality).",
    )
    zoo: ZooOptions = Field(
        default_factory=lambda: ZooOptions(),
        description="Options of the language-model zoo quality model.",
    )
    data: DataTerms | None = Field(
        None,
        description="The data flywheel: firms' training-data stocks per segment limit their "
        "models' quality (read from the zoo's data axis), and grow by user feedback, licensed "
        "data and joint-R&D pooling (simulator.market.data). Null: data is not modelled "
        "(every model has all the data the zoo measured). Needs quality_model: zoo.",
    )

    @field_validator("compute_range")
    @classmethod
    def _increasing(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("must be [smallest, largest] with smallest < largest")
        if math.log10(value[1]) - math.log10(value[0]) < MIN_COMPUTE_DECADES:
            raise ValueError(
                f"the largest must be at least {10**MIN_COMPUTE_DECADES:g} x the smallest (the "
                "quality scale spans this range)"
            )
        return value


class Company(Strict):
    """One LLM company (a Mesa agent)."""

    name: Name = Field(description="Unique firm name, 1 to 100 characters.")
    archetype: str | None = Field(
        None, description="Archetype whose defaults this firm starts from."
    )
    open_weights: bool = Field(False, description="Its model's weights are open from step 0.")
    unit_cost: Price = Field(
        description="Unit cost C per demand unit served at step 0 (before market.cost_index); "
        f"above 0, at most {MAX_PRICE:g}."
    )
    initial_price: Price | None = Field(
        None,
        description="Price at step 0; default 1.5 x unit_cost. At most the price cap (it may be "
        "below unit cost: a launch price; from step 1 the pricing rules keep prices within "
        "[unit cost, price cap]).",
    )
    price_cap: Price | None = Field(
        None,
        description=f"Highest price, above 0, at most {MAX_PRICE:g}; default market.price_cap. "
        "Must not be below unit_cost x market.cost_index.",
    )
    capacity: float | None = Field(
        None,
        gt=0,
        le=MAX_CAPACITY,
        description="Serving capacity K (demand units per step), above 0, at most "
        f"{MAX_CAPACITY:g}; null means unlimited.",
    )
    cash: Money = Field(
        100.0, description=f"Cash at step 0 (money units), {_range(-MAX_MONEY, MAX_MONEY)}."
    )
    fixed_cost: NonNegativeMoney = Field(
        0.0, description=f"Fixed cost per step (money units), {_range(0, MAX_MONEY)}."
    )
    brand: Brand = Field(0.0, description=f"Brand stock B at step 0, {_range(0, MAX_BRAND)}.")
    quality: dict[str, Quality] | None = Field(
        None,
        description="Fixed quality per segment (no language model: R&D does not change it), "
        f"{_range(-MAX_SENSITIVITY, MAX_SENSITIVITY)}. Segments left out get 0.",
    )
    initial_compute: Compute = Field(
        1e23,
        description="Real training FLOPs behind the firm's model at step 0, 1 to "
        f"{MAX_COMPUTE:g} (outside market.compute_range the quality is extrapolated and "
        "flagged).",
    )
    data_mix: dict[str, MixWeight] | None = Field(
        None,
        description="Weights over segments of the firm's training data (its segment focus); "
        f"default uniform. Each {_range(0, MAX_FACTOR)}, not all 0; normalised to sum to 1.",
    )
    data: dict[str, Tokens] | None = Field(
        None,
        description="Training-data stock per segment at step 0, real tokens (market.data); "
        "segments left out get market.data.initial_stock (default: the top of "
        "market.data.data_range). Ignored without market.data.",
    )
    release_cycle: Steps = Field(
        6, description=f"T: steps between model releases, 1 to {MAX_STEPS:,}."
    )
    learning_rate: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Wright's law: unit cost falls by this fraction per doubling "
        "of cumulative output (0: no learning-by-doing); at least 0, below 1.",
    )
    strategy: Strategy = Field(default_factory=Strategy, description="Decision rules.")


EnterEvent.model_rebuild(_types_namespace={"Company": Company})

Event = Annotated[
    functools.reduce(operator.or_, [model for model, _handler in EVENTS.values()]),
    Field(discriminator="kind"),
]
"""Any scheduled event: the kinds registered in simulator.market.events."""


class LearningTerms(Strict):
    """How long `llm-market learn` lets Q-learning firms learn (simulator/learn.py)."""

    max_periods: int = Field(
        5_000_000, ge=1, le=1_000_000_000, description="A learning run stops here at the latest."
    )
    convergence_periods: int = Field(
        100_000,
        ge=1,
        le=1_000_000_000,
        description="A run has converged (and stops) once every learner's greedy price in every "
        "state has been unchanged for this many periods (1 to 1e9).",
    )
    evaluation_periods: int = Field(
        1_000,
        ge=1,
        le=1_000_000_000,
        description="Periods of greedy play (no exploration, no learning) after a run stops, "
        "over which its profit gain and prices are averaged (1 to 1e9).",
    )


class InitialLink(Strict):
    source: str = Field(description="A firm name.")
    target: str = Field(description="Another firm name.")
    type: LinkType = Field(description="joint_rd, market_sharing or alliance.")
    term: Steps | None = Field(
        None, description=f"Steps it lasts, 1 to {MAX_STEPS:,} (default market.network.term)."
    )


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``override`` wins, nested mappings merge."""
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


class Scenario(Strict):
    """A complete simulation scenario."""

    name: ScenarioName = Field(
        description="Scenario name, 1 to 100 characters; the default run folder is "
        "runs/<name>, so no '/' or '\\'."
    )
    description: str = Field("", description="What the scenario asks and what to look at.")
    seed: int = Field(
        0,
        ge=0,
        le=2**63 - 1,
        description="Random seed, 0 to 2**63 - 1: the same seed gives identical results.",
    )
    steps: Steps = Field(
        120, description=f"Number of steps (months) to simulate, 1 to {MAX_STEPS:,}."
    )
    time_unit: Literal["day", "week", "month", "quarter", "year"] = Field(
        "month",
        description="What one step is. Only labels use it (axes, page headers, tables); the "
        "economics are per step, so rates and sizes must be per this unit.",
    )
    market: Market
    archetypes: dict[ArchetypeName, dict[str, Any]] = Field(
        default_factory=dict,
        description="User-defined archetypes (or overrides of the built-in "
        "giant, startup, research_lab, multinational): bundles of Company defaults (any "
        "Company field but name, archetype and count). "
        "`companies:` items may say `{archetype: startup, count: 5}` or `archetype: giant` plus "
        "their own overrides. The built-in archetypes' defaults are listed under "
        "x-builtin-archetypes (and by `llm-market archetypes`).",
        json_schema_extra={"x-builtin-archetypes": BUILTIN_ARCHETYPES},
    )
    companies: list[Company] = Field(
        min_length=1,
        description="The firms at step 0; with `count:` groups expanded, together with entry "
        f"waves and market.entry.max_firms (when entry is on) at most {MAX_FIRMS:,}.",
    )
    links: list[InitialLink] = Field(default_factory=list, description="Links in place at step 0.")
    events: list[Event] = Field(default_factory=list, description="Scheduled events.")
    learning: LearningTerms = Field(
        default_factory=LearningTerms,
        description="Learning runs of `llm-market learn` (the repeated stage game of the "
        "firms' Q-learning pricing); an ordinary `run` ignores it.",
    )

    @property
    def needs_quality_model(self) -> bool:
        """Whether some firm's quality comes from compute (no fixed quality, or an entrant)."""
        entry = self.market.entry.base_rate > 0 or any(e.kind == "entry_wave" for e in self.events)
        entered = [e.company for e in self.events if e.kind == "enter"]
        return entry or any(c.quality is None for c in [*self.companies, *entered])

    def archetype(self, name: str) -> dict[str, Any]:
        """Defaults of archetype ``name``: built-in merged with the scenario's overrides."""
        return merge(BUILTIN_ARCHETYPES.get(name, {}), self.archetypes.get(name, {}))

    @property
    def archetype_names(self) -> list[str]:
        return sorted(set(BUILTIN_ARCHETYPES) | set(self.archetypes))

    @property
    def segment_names(self) -> list[str]:
        return [segment.name for segment in self.market.segments]
