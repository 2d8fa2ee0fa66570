"""Scenario schema (pydantic v2), YAML loading and one-line errors naming the field.

A scenario is a YAML file; ``load_scenario`` turns it into a validated ``Scenario`` or raises
``ScenarioError`` whose ``lines`` read like ``companies.B.unit_cost: must be > 0 (got -1)``.
``llm-market schema`` prints the JSON Schema generated from the models below, so every option
is documented in one place: the ``description`` of its field.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulator.market.strategy import PRICING_RULES

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


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


LinkType = Literal["joint_rd", "market_sharing", "alliance"]


class OpenSourceTerms(Strict):
    """What releasing a model's weights does (simulator/model.py, phase 2-5)."""

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
    open_source: OpenSourceTerms = Field(
        default_factory=OpenSourceTerms, description="Effects of open model weights."
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


class Strategy(Strict):
    """A firm's decision rules: R = h(P_1..P_n) for price, shares of revenue for budgets."""

    pricing: str = Field(
        "best_response",
        description="Pricing rule: "
        + ", ".join(f"{name} ({rule.description})" for name, rule in sorted(PRICING_RULES.items())),
    )
    undercut_by: float = Field(
        0.05, gt=0, lt=1, description="undercut: fraction below the cheapest rival's price."
    )
    markup: NonNegativeFloat = Field(0.3, description="cost_plus: price = cost * (1 + markup).")
    follow: Literal["mean", "leader"] = Field(
        "mean",
        description="match: follow the rivals' mean price or the price of the largest rival.",
    )
    speed: float = Field(0.5, gt=0, le=1, description="match: fraction of the gap closed per step.")
    marketing_share: Share = Field(0.05, description="Marketing spend I as a share of revenue.")
    marketing_min: NonNegativeFloat = Field(0.0, description="Marketing spend floor per step.")
    rd_share: Share = Field(0.15, description="R&D spend R as a share of revenue.")
    rd_min: NonNegativeFloat = Field(0.0, description="R&D spend floor per step (paid from cash).")
    network: str = Field(
        "gain_seeking",
        description="Partnership rule: gain_seeking (propose and "
        "accept links with expected gain above cost) or none.",
    )
    links: list[LinkType] = Field(
        default_factory=lambda: ["joint_rd", "alliance"],
        description="Link types the firm proposes and accepts (market_sharing is opt-in).",
    )
    open_source: Literal["never", "always", "when_behind"] = Field(
        "never",
        description="Open-weights rule: never, always, or when_behind (open once the "
        "firm's best quality falls below the median of its rivals').",
    )
    focus: Literal["fixed", "follow_demand", "differentiate"] = Field(
        "fixed",
        description="Segment-focus rule for the data mix: fixed; follow_demand (move "
        "towards the largest segments: products converge); differentiate (move towards segments "
        "rivals neglect).",
    )
    focus_speed: Share = Field(
        0.1, description="Share of the gap to the target focus closed per step."
    )

    @field_validator("network")
    @classmethod
    def _known_network_rule(cls, value: str) -> str:
        from simulator.network import NETWORK_RULES

        if value not in NETWORK_RULES:
            raise ValueError(
                f"unknown network rule {value!r}; known: {', '.join(sorted(NETWORK_RULES))}"
            )
        return value

    @field_validator("pricing")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        if value not in PRICING_RULES:
            raise ValueError(
                f"unknown pricing rule {value!r}; known: {', '.join(sorted(PRICING_RULES))}"
            )
        return value


class Company(Strict):
    """One LLM company (a Mesa agent)."""

    name: str = Field(min_length=1, description="Unique firm name.")
    archetype: str | None = Field(
        None, description="Archetype whose defaults this firm starts from."
    )
    open_source: bool = Field(False, description="Its model's weights are open from step 0.")
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


class EventBase(Strict):
    step: int = Field(ge=1, description="Step at which the event fires (before releases).")
    label: str = Field("", description="Text shown on dashboards; default: the event's kind.")


class ComputePriceEvent(EventBase):
    kind: Literal["compute_price"] = Field(description="Training compute gets cheaper or dearer.")
    factor: PositiveFloat = Field(description="Multiplies market.compute_price (0.5: halves it).")


class CostIndexEvent(EventBase):
    kind: Literal["cost_index"] = Field(description="Serving (inference) cost shock for all firms.")
    factor: PositiveFloat = Field(description="Multiplies market.cost_index.")


class SegmentEvent(EventBase):
    kind: Literal["segment"] = Field(description="A segment grows, shrinks or changes its growth.")
    segment: str = Field(description="Segment name.")
    size_factor: PositiveFloat = Field(1.0, description="Multiplies the segment's current size.")
    growth: float | None = Field(None, gt=-1, description="New growth rate per step (null: keep).")


class RegulationEvent(EventBase):
    kind: Literal["regulation"] = Field(
        description="A rule adds per-unit cost and/or caps data use."
    )
    unit_cost_add: NonNegativeFloat = Field(0.0, description="Compliance cost per unit served.")
    data_cap: dict[str, Share] | None = Field(
        None, description="Highest data-mix weight allowed per segment (e.g. {chinese: 0.1})."
    )
    firms: list[str] | None = Field(None, description="Firms affected (null: all active firms).")


class OpenSourceEvent(EventBase):
    kind: Literal["open_source"] = Field(description="A named firm releases its model's weights.")
    firm: str = Field(description="The firm that open-sources.")


class EntryWaveEvent(EventBase):
    kind: Literal["entry_wave"] = Field(description="Several firms of one archetype enter at once.")
    archetype: str = Field(description="Archetype of the entrants.")
    count: int = Field(1, ge=1, le=1000, description="Number of entrants.")


Event = Annotated[
    ComputePriceEvent
    | CostIndexEvent
    | SegmentEvent
    | RegulationEvent
    | OpenSourceEvent
    | EntryWaveEvent,
    Field(discriminator="kind"),
]

BUILTIN_ARCHETYPES: dict[str, dict[str, Any]] = {
    "giant": {
        "unit_cost": 0.7,
        "cash": 5000.0,
        "initial_compute": 3e25,
        "release_cycle": 6,
        "learning_rate": 0.05,
        "strategy": {
            "pricing": "best_response",
            "rd_share": 0.25,
            "marketing_share": 0.08,
            "rd_min": 10.0,
            "links": ["alliance"],
        },
    },
    "startup": {
        "unit_cost": 1.0,
        "cash": 200.0,
        "capacity": 30.0,
        "initial_compute": 5e23,
        "release_cycle": 4,
        "learning_rate": 0.1,
        "strategy": {
            "pricing": "undercut",
            "undercut_by": 0.03,
            "rd_share": 0.3,
            "marketing_share": 0.05,
            "rd_min": 2.0,
            "links": ["joint_rd", "alliance"],
        },
    },
    "research_lab": {
        "unit_cost": 0.9,
        "cash": 600.0,
        "initial_compute": 5e24,
        "release_cycle": 4,
        "strategy": {
            "pricing": "cost_plus",
            "markup": 0.5,
            "rd_share": 0.35,
            "marketing_share": 0.02,
            "rd_min": 3.0,
            "open_source": "when_behind",
            "links": ["joint_rd"],
        },
    },
    "multinational": {
        "unit_cost": 0.6,
        "cash": 3000.0,
        "initial_compute": 1e25,
        "release_cycle": 6,
        "learning_rate": 0.05,
        "strategy": {
            "pricing": "match",
            "follow": "leader",
            "speed": 0.3,
            "rd_share": 0.2,
            "marketing_share": 0.05,
            "links": ["alliance", "joint_rd"],
        },
    },
}
"""Archetype defaults (any Company field but name); a scenario's `archetypes:` adds or overrides."""


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


class ScenarioError(ValueError):
    """Invalid scenario: ``lines`` holds one 'field.path: problem' line per problem."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


def _field_path(loc: tuple[Any, ...], data: Any) -> str:
    """Dotted path of a pydantic error location; list items of named things by their name."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            item = node[key]
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(str(name) if isinstance(name, str) and name else str(key))
            node = item
        elif isinstance(node, dict) and key not in node and node.get("kind") == key:
            continue  # a discriminated union's tag, not a field the user wrote
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required field is missing",
    "union_tag_not_found": "needs a `kind` (compute_price, cost_index, segment, regulation, "
    "open_source or entry_wave)",
}


def _describe(error: dict[str, Any]) -> str:
    message = _MESSAGES.get(error["type"], error["msg"])
    message = message.removeprefix("Value error, ")
    if (
        error["type"] not in ("missing",)
        and "input" in error
        and not isinstance(error["input"], (dict, list))
    ):
        message += f" (got {error['input']!r})"
    return message


def _semantic_errors(scenario: Scenario) -> list[str]:
    """Cross-field checks pydantic cannot express per field."""
    errors: list[str] = []
    segments = set(scenario.segment_names)
    segment_list = ", ".join(scenario.segment_names)
    seen: set[str] = set()
    for segment in scenario.segment_names:
        if segment in seen:
            errors.append(f"market.segments.{segment}: duplicate segment name")
        seen.add(segment)
    firms: set[str] = set()
    for company in scenario.companies:
        if company.name in firms:
            errors.append(f"companies.{company.name}: duplicate firm name")
        firms.add(company.name)
        for field in ("quality", "data_mix"):
            for key in getattr(company, field) or {}:
                if key not in segments:
                    errors.append(
                        f"companies.{company.name}.{field}.{key}: no such segment "
                        f"(segments: {segment_list})"
                    )
        if company.data_mix is not None and sum(company.data_mix.values()) <= 0:
            errors.append(f"companies.{company.name}.data_mix: weights must not all be 0")
    if scenario.market.quality_model == "zoo" and scenario.needs_quality_model:
        from simulator.lm.corpus import SEGMENTS as ZOO_SEGMENTS

        for segment in scenario.segment_names:
            if segment not in ZOO_SEGMENTS:
                errors.append(
                    f"market.segments.{segment}: no language-model zoo measurements for "
                    f"this segment (zoo: {', '.join(ZOO_SEGMENTS)}); give firms a fixed "
                    "`quality` or set market.quality_model: placeholder"
                )
    for name, archetype in scenario.archetypes.items():
        errors += _archetype_errors(f"archetypes.{name}", archetype)
    for name in scenario.market.entry.archetypes:
        if name not in scenario.archetype_names:
            errors.append(
                f"market.entry.archetypes.{name}: unknown archetype "
                f"(known: {', '.join(scenario.archetype_names)})"
            )
    for i, link in enumerate(scenario.links):
        for end in ("source", "target"):
            if getattr(link, end) not in firms:
                errors.append(f"links.{i}.{end}: no such firm {getattr(link, end)!r}")
        if link.source == link.target:
            errors.append(f"links.{i}.target: a firm cannot link with itself")
    for i, event in enumerate(scenario.events):
        where = f"events.{i}"
        if event.step > scenario.steps:
            errors.append(
                f"{where}.step: after the last step ({scenario.steps}) (got {event.step})"
            )
        if getattr(event, "segment", None) is not None and event.segment not in segments:
            errors.append(
                f"{where}.segment: no such segment {event.segment!r} (segments: {segment_list})"
            )
        if getattr(event, "firm", None) is not None and event.firm not in firms:
            errors.append(f"{where}.firm: no such firm {event.firm!r}")
        for firm in getattr(event, "firms", None) or []:
            if firm not in firms:
                errors.append(f"{where}.firms: no such firm {firm!r}")
        for key in getattr(event, "data_cap", None) or {}:
            if key not in segments:
                errors.append(f"{where}.data_cap.{key}: no such segment (segments: {segment_list})")
        archetype = getattr(event, "archetype", None)
        if archetype is not None and archetype not in scenario.archetype_names:
            errors.append(
                f"{where}.archetype: unknown archetype {archetype!r} "
                f"(known: {', '.join(scenario.archetype_names)})"
            )
    return errors


def _archetype_errors(where: str, archetype: dict[str, Any]) -> list[str]:
    """Check an archetype's fields as a Company would, without a name or required cost."""
    probe = {"name": "probe", "unit_cost": 1.0, **archetype}
    probe.pop("count", None)
    try:
        Company.model_validate(probe)
    except ValidationError as exc:
        return [
            f"{where}.{'.'.join(str(k) for k in e['loc'])}: {_describe(e)}" for e in exc.errors()
        ]
    return []


def expand_companies(data: dict[str, Any]) -> list[str]:
    """Fill archetype defaults into ``data['companies']`` in place and expand `count:` groups.

    Returns error lines for unknown archetypes or bad counts.
    """
    companies = data.get("companies")
    if not isinstance(companies, list):
        return []
    user = data.get("archetypes") if isinstance(data.get("archetypes"), dict) else {}
    known = sorted(set(BUILTIN_ARCHETYPES) | set(user))
    expanded: list[Any] = []
    errors: list[str] = []
    for i, item in enumerate(companies):
        if not isinstance(item, dict) or item.get("archetype") is None:
            expanded.append(item)
            continue
        name = item["archetype"]
        if not isinstance(name, str) or name not in known:
            errors.append(
                f"companies.{item.get('name', i)}.archetype: unknown archetype {name!r} "
                f"(known: {', '.join(known)})"
            )
            continue
        defaults = merge(BUILTIN_ARCHETYPES.get(name, {}), user.get(name) or {})
        own = {k: v for k, v in item.items() if k != "count"}
        count = item.get("count")
        if count is None:
            expanded.append(merge(defaults, own))
        elif isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= 10_000:
            prefix = own.pop("name", name)
            expanded += [
                merge(defaults, {**own, "name": f"{prefix}-{k}"}) for k in range(1, count + 1)
            ]
        else:
            errors.append(
                f"companies.{i}.count: must be a whole number from 1 to 10000 (got {count!r})"
            )
    data["companies"] = expanded
    return errors


def parse_scenario(data: Any) -> Scenario:
    """Validate a scenario given as a mapping; raise ScenarioError with every problem."""
    if not isinstance(data, dict):
        raise ScenarioError(
            [f"(top level): expected a mapping of scenario keys, got {type(data).__name__}"]
        )
    data = copy.deepcopy(data)
    errors = expand_companies(data)
    if errors:
        raise ScenarioError(errors)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(
            [f"{_field_path(e['loc'], data)}: {_describe(e)}" for e in exc.errors()]
        ) from None
    errors = _semantic_errors(scenario)
    if errors:
        raise ScenarioError(errors)
    return scenario


def read_yaml(path: str | Path, error: type[Exception] = ScenarioError) -> Any:
    """Parse a YAML file; an unreadable file or bad YAML raises ``error([one line])``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error([f"{path}: cannot read ({exc})"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error([f"{path}:{where}: invalid YAML ({problem})"]) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    return parse_scenario(read_yaml(path))


def scenario_to_yaml(scenario: Scenario) -> str:
    """The resolved scenario, every default filled in, as YAML."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def json_schema() -> dict[str, Any]:
    return Scenario.model_json_schema()
