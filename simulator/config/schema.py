"""Scenario schema: the pydantic v2 models a scenario YAML validates against.

``llm-market schema`` prints the JSON Schema generated from these models, so every option is
documented in one place: the ``description`` of its field. Loading and error text live in
``simulator.config.loading``; the built-in archetypes in ``simulator.config.archetypes``.
"""

from __future__ import annotations

import copy
import functools
import operator
from typing import Annotated, Any, Literal

from pydantic import Field, create_model, field_validator

from simulator.config.archetypes import BUILTIN_ARCHETYPES
from simulator.market.events import EVENTS
from simulator.market.params import Strict
from simulator.market.strategy import DECISIONS
from simulator.market.strategy.links import LinkType

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class Segment(Strict):
    """One market segment s with its own logit demand."""

    name: str = Field(description="Segment name, e.g. assistant, code, creative, chinese.")
    size: PositiveFloat = Field(description="Market size M_s at step 0 (demand units per step).")
    growth: float = Field(0.0, gt=-1, description="Growth rate of M_s per step (0.01 = +1%/step).")
    price_sensitivity: PositiveFloat = Field(
        1.0, description="alpha_s: utility lost per unit price."
    )
    quality_sensitivity: NonNegativeFloat = Field(
        1.0, description="beta_s: utility per unit of quality Q (Q is ~0..1 for zoo qualities)."
    )
    brand_sensitivity: NonNegativeFloat = Field(
        0.0, description="gamma_s: utility per unit of ln(1 + brand stock)."
    )
    temperature: PositiveFloat = Field(
        0.25, description="mu_s: logit temperature; larger means more horizontal differentiation."
    )
    outside_utility: float = Field(0.0, description="u0_s: utility of buying no LLM product.")




class OpenModelTerms(Strict):
    """What published weights do to the market (simulator/market/open_source.py)."""

    mode: Literal["free_product", "outside_option"] = Field(
        "free_product",
        description="How open weights reach users: 'free_product' adds a product "
        "at `user_price` with the best open quality x `usability`; 'outside_option' raises each "
        "segment's outside utility to that product's utility instead.",
    )
    user_price: NonNegativeFloat = Field(
        0.0, description="Price users pay for the open model (self-hosting or third-party serving)."
    )
    usability: Share = Field(
        0.8,
        description="Share of the open model's quality users get without a firm's product layer.",
    )
    finetune_efficiency: Share = Field(
        0.9,
        description="Every firm's next model starts from this fraction of the best open "
        "model's training compute (fine-tuning), when that beats its own.",
    )
    releaser_brand_gain: NonNegativeFloat = Field(
        20.0, description="One-off brand stock the releaser gains (community goodwill)."
    )
    community_rate: NonNegativeFloat = Field(
        0.01,
        description="Community contributions: compute per step added to the releaser's next "
        "model, as a fraction of its open model's compute.",
    )
    outlives_releaser: bool = Field(
        True,
        description="Released weights stay available after their releaser exits (the open "
        "model keeps the quality and compute it had); false: it leaves with its last "
        "open-weight firm.",
    )


class EntryTerms(Strict):
    """Stochastic entry of new firms (seeded through the model's rng)."""

    base_rate: NonNegativeFloat = Field(
        0.0,
        description="Expected entrants per step at zero industry margin and no open model "
        "(0 with zero sensitivities: no entry).",
    )
    margin_sensitivity: NonNegativeFloat = Field(
        2.0, description="Rate multiplier (1 + this x mean profit margin of incumbents)."
    )
    open_sensitivity: NonNegativeFloat = Field(
        2.0, description="Rate multiplier (1 + this x mean best open quality over segments)."
    )
    archetypes: dict[str, PositiveFloat] = Field(
        default_factory=lambda: {"startup": 1.0},
        description="Entrants' archetypes with relative weights.",
    )
    entry_cost: NonNegativeFloat = Field(50.0, description="Paid from an entrant's starting cash.")
    open_discount: Share = Field(
        0.5, description="Entry cost falls by this share while an open model exists."
    )
    max_firms: int = Field(50, ge=1, description="No entry beyond this many active firms.")


class NetworkTerms(Strict):
    """Economics of partnership links (simulator/network.py documents the formulas)."""

    pool_share: Share = Field(0.3, description="joint_rd: share of a partner's R&D compute pooled.")
    returns: float = Field(
        0.7,
        gt=0,
        le=1,
        description="joint_rd: pooled compute scales with "
        "k**(returns-1) for k partners (diminishing returns).",
    )
    brand_share: Share = Field(0.3, description="alliance: share of an ally's brand in own demand.")
    sharing_value: NonNegativeFloat = Field(
        0.05, description="market_sharing: expected gain as a share of revenue x focus overlap."
    )
    rivalry: NonNegativeFloat = Field(
        0.5, description="How much helping a rival with overlapping focus counts against a link."
    )
    cost: dict[LinkType, NonNegativeFloat] = Field(
        default_factory=lambda: {"joint_rd": 1.0, "market_sharing": 1.0, "alliance": 1.0},
        description="Cost per step of holding a link of each type (money units).",
    )
    term: int = Field(24, ge=1, description="Steps a link lasts before it must be re-formed.")
    max_links: int = Field(3, ge=0, description="Most links a firm holds at once.")


class ZooOptions(Strict):
    """How the simulation reads the language-model zoo (quality_model: zoo)."""

    train_missing: bool = Field(
        False,
        description="Train (and cache) the zoo point for a firm's exact data mix and "
        "budget instead of interpolating between measured mixes. Slow the first time; a sweep "
        "never trains and ignores this option.",
    )
    threads: int = Field(1, ge=1, description="CPU threads for on-demand training.")


class Market(Strict):
    """Industry-wide parameters."""

    segments: list[Segment] = Field(min_length=1, description="The market segments.")
    brand_decay: Share = Field(0.1, description="Share of brand stock lost per step.")
    compute_price: PositiveFloat = Field(
        1.0, description="Money units per 1e24 training FLOPs bought with R&D spend."
    )
    compute_range: tuple[PositiveFloat, PositiveFloat] = Field(
        (1e21, 1e26),
        description="Smallest and largest plausible real training budgets (FLOPs); they map onto "
        "the quality scale's ends (the zoo's smallest and largest measured budgets).",
    )
    cost_index: PositiveFloat = Field(
        1.0, description="Multiplier on every firm's unit cost (events move it: cheaper inference)."
    )
    learning_output_scale: PositiveFloat = Field(
        100.0, description="X0 in Wright's law: cumulative output at which experience doubles."
    )
    spillover: bool = Field(
        False, description="Unserved demand of capacity-limited firms spills to rivals (else lost)."
    )
    price_cap: PositiveFloat = Field(100.0, description="Default highest price a firm may set.")
    open_model: OpenModelTerms = Field(
        default_factory=OpenModelTerms, description="Effects of open model weights."
    )
    entry: EntryTerms = Field(default_factory=EntryTerms, description="Entry of new firms.")
    exit_after: int = Field(
        6, ge=1, description="A firm leaves after this many consecutive steps with negative cash."
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

    @field_validator("compute_range")
    @classmethod
    def _increasing(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("must be [smallest, largest] with smallest < largest")
        return value


def _strategy_model() -> type[Strict]:
    """The Strategy model, built from the decision registries (simulator.market.strategy).

    For each decision, a field naming the firm's rule (e.g. ``pricing: undercut``); then every
    parameter any rule declares, flat (``undercut_by: 0.05``), described with the rules that
    read it. A firm carries every parameter; only its chosen rules read theirs.
    """
    fields: dict[str, Any] = {}
    validators: dict[str, Any] = {}
    for registry in DECISIONS:
        fields[registry.key] = (
            str,
            Field(registry.default, description=f"{registry.label.capitalize()}: "
                  + registry.describe() + "."),
        )
        validators[f"_known_{registry.key}"] = field_validator(registry.key)(
            classmethod(lambda cls, value, registry=registry: registry.check(value))
        )
    for registry in DECISIONS:
        for name, (annotation, info, users) in registry.parameters().items():
            if name in fields:
                raise ValueError(f"strategy parameter {name!r} is declared by two decisions")
            info = copy.copy(info)
            info.description = f"{', '.join(users)} ({registry.key}): {info.description}"
            fields[name] = (annotation, info)
    model = create_model(
        "Strategy",
        __base__=Strict,
        __doc__="A firm's decision rules, one per decision, and the rules' parameters.",
        __validators__=validators,
        **fields,
    )
    return model


Strategy = _strategy_model()


class Company(Strict):
    """One LLM company (a Mesa agent)."""

    name: str = Field(min_length=1, description="Unique firm name.")
    archetype: str | None = Field(
        None, description="Archetype whose defaults this firm starts from."
    )
    open_weights: bool = Field(False, description="Its model's weights are open from step 0.")
    unit_cost: PositiveFloat = Field(description="Unit cost C per demand unit served at step 0.")
    initial_price: PositiveFloat | None = Field(
        None, description="Price at step 0; default 1.5 x unit_cost."
    )
    price_cap: PositiveFloat | None = Field(
        None, description="Highest price; default market.price_cap."
    )
    capacity: PositiveFloat | None = Field(
        None, description="Serving capacity K (demand units per step); null means unlimited."
    )
    cash: float = Field(100.0, description="Cash at step 0 (money units).")
    fixed_cost: NonNegativeFloat = Field(0.0, description="Fixed cost per step (money units).")
    brand: NonNegativeFloat = Field(0.0, description="Brand stock B at step 0.")
    quality: dict[str, float] | None = Field(
        None,
        description="Fixed quality per segment (no language model: R&D does not change it). "
        "Segments left out get 0.",
    )
    initial_compute: PositiveFloat = Field(
        1e23, description="Real training FLOPs behind the firm's model at step 0."
    )
    data_mix: dict[str, NonNegativeFloat] | None = Field(
        None,
        description="Weights over segments of the firm's training data (its segment focus); "
        "default uniform. Normalised to sum to 1.",
    )
    release_cycle: int = Field(6, ge=1, description="T: steps between model releases.")
    learning_rate: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Wright's law: unit cost falls by this fraction per doubling "
        "of cumulative output (0: no learning-by-doing).",
    )
    strategy: Strategy = Field(default_factory=Strategy, description="Decision rules.")


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
        description="A run has converged (and stops) once every learner's greedy price in every "
        "state has been unchanged for this many periods.",
    )
    evaluation_periods: int = Field(
        1_000,
        ge=1,
        description="Periods of greedy play (no exploration, no learning) after a run stops, "
        "over which its profit gain and prices are averaged.",
    )


class InitialLink(Strict):
    source: str = Field(description="A firm name.")
    target: str = Field(description="Another firm name.")
    type: LinkType = Field(description="joint_rd, market_sharing or alliance.")
    term: int | None = Field(
        None, ge=1, description="Steps it lasts (default market.network.term)."
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

    name: str = Field(min_length=1, description="Scenario name.")
    description: str = Field("", description="What the scenario asks and what to look at.")
    seed: int = Field(0, ge=0, description="Random seed: the same seed gives identical results.")
    steps: int = Field(120, ge=1, le=100_000, description="Number of steps (months) to simulate.")
    market: Market
    archetypes: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="User-defined archetypes (or overrides of the built-in "
        "giant, startup, research_lab, multinational): bundles of Company defaults. "
        "`companies:` items may say `{archetype: startup, count: 5}` or `archetype: giant` plus "
        "their own overrides.",
    )
    companies: list[Company] = Field(min_length=1, description="The firms at step 0.")
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
        return entry or any(c.quality is None for c in self.companies)

    def archetype(self, name: str) -> dict[str, Any]:
        """Defaults of archetype ``name``: built-in merged with the scenario's overrides."""
        return merge(BUILTIN_ARCHETYPES.get(name, {}), self.archetypes.get(name, {}))

    @property
    def archetype_names(self) -> list[str]:
        return sorted(set(BUILTIN_ARCHETYPES) | set(self.archetypes))

    @property
    def segment_names(self) -> list[str]:
        return [segment.name for segment in self.market.segments]
