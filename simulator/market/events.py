"""Scheduled events: one pydantic model and one handler per kind, in a dispatch table.

Adding a kind is one model (its fields documented) and one function decorated with
``@handles(ModelClass)``; the scenario schema's ``events:`` union is built from ``EVENTS``.
A handler changes the market through an ``EventContext`` (the model): its state, and the
actions that need more than the state (opening weights, firms entering, an acquisition, a
scenario parameter changed by its path). The `enter` event's company is a scenario ``Company``
(simulator.config.schema resolves that name: this package never imports the config).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import numpy as np
from pydantic import Field

from simulator.market import dynamics
from simulator.market.data import SegmentShares, per_segment
from simulator.market.params import (
    MAX_FACTOR,
    MAX_PRICE,
    MAX_SENSITIVITY,
    Compute,
    Factor,
    Growth,
    NonNegativeMoney,
    NonNegativePrice,
    Price,
    Share,
    Steps,
    Strict,
)

if TYPE_CHECKING:
    from simulator.market.state import MarketState

QualityStep = Annotated[float, Field(ge=-MAX_SENSITIVITY, le=MAX_SENSITIVITY)]
QualitySpread = Annotated[float, Field(ge=0, le=MAX_SENSITIVITY)]

FACTOR_RANGE = f"above 0, at most {MAX_FACTOR:g}"


class EventContext(Protocol):
    state: MarketState

    def open_weights(self, rows: np.ndarray) -> None: ...

    def enter(self, archetype: str) -> object: ...

    def enter_firm(self, company: Any) -> object: ...

    def acquire(self, acquirer: str, target: str, payment: float) -> None: ...

    def apply_setting(self, path: str, value: Any) -> None: ...


class EventBase(Strict):
    step: Steps = Field(
        description="Step at which the event fires (before releases); 1 to the scenario's steps."
    )
    label: str = Field(
        "",
        max_length=200,
        description="Text shown on dashboards, at most 200 characters; default: the event's kind.",
    )


Handler = Callable[[EventContext, EventBase], None]
EVENTS: dict[str, tuple[type[EventBase], Handler]] = {}
"""kind -> (its model, its handler)."""


def handles(model: type[EventBase]) -> Callable[[Handler], Handler]:
    """Register ``handler`` for the event kind of ``model`` (its ``kind`` literal)."""
    kind = model.model_fields["kind"].annotation.__args__[0]

    def register(handler: Handler) -> Handler:
        EVENTS[kind] = (model, handler)
        return handler

    return register


def fire(context: EventContext, event: EventBase) -> None:
    """Apply one event."""
    EVENTS[event.kind][1](context, event)


class ComputePriceEvent(EventBase):
    kind: Literal["compute_price"] = Field(description="Training compute gets cheaper or dearer.")
    factor: Factor = Field(
        description=f"Multiplies market.compute_price (0.5: halves it); {FACTOR_RANGE}, and "
        "the price it leads to must stay within market.compute_price's range."
    )


@handles(ComputePriceEvent)
def compute_price(context: EventContext, event: ComputePriceEvent) -> None:
    context.state.compute_price *= event.factor


class CostIndexEvent(EventBase):
    kind: Literal["cost_index"] = Field(description="Serving (inference) cost shock for all firms.")
    factor: Factor = Field(
        description=f"Multiplies market.cost_index; {FACTOR_RANGE}, and the index it leads to "
        "must stay within market.cost_index's range."
    )


@handles(CostIndexEvent)
def cost_index(context: EventContext, event: CostIndexEvent) -> None:
    context.state.cost_index *= event.factor
    context.state.refresh_unit_cost()


class SegmentEvent(EventBase):
    kind: Literal["segment"] = Field(description="A segment grows, shrinks or changes its growth.")
    segment: str = Field(description="Segment name.")
    size_factor: Factor = Field(
        1.0,
        description=f"Multiplies the segment's current size; {FACTOR_RANGE} (the size reached "
        "is checked against the largest projected segment size).",
    )
    growth: Growth | None = Field(
        None, description="New growth rate per step, above -1 and at most 1 (null: keep)."
    )


@handles(SegmentEvent)
def segment(context: EventContext, event: SegmentEvent) -> None:
    state = context.state
    s = state.segment_names.index(event.segment)
    state.size[s] *= event.size_factor
    if event.growth is not None:
        state.growth[s] = event.growth


class RegulationEvent(EventBase):
    kind: Literal["regulation"] = Field(
        description="A rule adds per-unit cost and/or caps data use."
    )
    unit_cost_add: NonNegativePrice = Field(
        0.0, description=f"Compliance cost per unit served, 0 to {MAX_PRICE:g}."
    )
    data_cap: dict[str, Share] | None = Field(
        None, description="Highest data-mix weight allowed per segment (e.g. {chinese: 0.1})."
    )
    feedback_cap: SegmentShares | None = Field(
        None,
        description="Highest share of served tokens a firm may keep as training data (a "
        "privacy rule; caps market.data.feedback_rate): one number for every segment, or per "
        "segment, e.g. {assistant: 0}.",
    )
    firms: list[str] | None = Field(
        None, description="Firms affected (null: all firms active when it fires)."
    )


@handles(RegulationEvent)
def regulation(context: EventContext, event: RegulationEvent) -> None:
    state = context.state
    rows = [i for i, n in enumerate(state.names) if event.firms is None or n in event.firms]
    cap = per_segment(event.data_cap, state.segment_names, 1.0)
    feedback = per_segment(event.feedback_cap, state.segment_names, 1.0)
    for i in rows:
        state.feedback_cap[i] = np.minimum(state.feedback_cap[i], feedback)
        state.compliance_cost[i] += event.unit_cost_add
        state.refresh_unit_cost(slice(i, i + 1))
        if event.data_cap:
            state.data_cap[i] = np.minimum(state.data_cap[i], cap)
            state.data_mix[i] = dynamics.cap_mix(state.data_mix[i][None], state.data_cap[i][None])[
                0
            ]


class OpenSourceEvent(EventBase):
    kind: Literal["open_source"] = Field(description="A named firm releases its model's weights.")
    firm: str = Field(
        description="The firm that open-sources: a company, or a firm that entered by an "
        "earlier `enter` event."
    )


@handles(OpenSourceEvent)
def open_source(context: EventContext, event: OpenSourceEvent) -> None:
    rows = [i for i, n in enumerate(context.state.names) if n == event.firm]
    context.open_weights(np.array(rows, dtype=int))


class EntryWaveEvent(EventBase):
    kind: Literal["entry_wave"] = Field(description="Several firms of one archetype enter at once.")
    archetype: str = Field(description="Archetype of the entrants.")
    count: int = Field(
        1,
        ge=1,
        le=1000,
        description="Number of entrants, 1 to 1000 (they count towards the firm limit).",
    )


@handles(EntryWaveEvent)
def entry_wave(context: EventContext, event: EntryWaveEvent) -> None:
    for _ in range(event.count):
        context.enter(event.archetype)


class EnterEvent(EventBase):
    kind: Literal["enter"] = Field(
        description="A named firm with its own parameters enters (fine-tuning from the best open "
        "model if that beats its own compute, as every entrant does; no entry cost: its cash "
        "is what it says)."
    )
    company: Company = Field(  # noqa: F821 - resolved by simulator.config.schema
        description="The firm: every field of a `companies:` item (name, archetype, unit_cost, "
        "initial_price, capacity, initial_compute or quality, open_weights, strategy...), "
        "validated as a company is; its name must be new."
    )


@handles(EnterEvent)
def enter(context: EventContext, event: EnterEvent) -> None:
    context.enter_firm(event.company)


class SetEvent(EventBase):
    kind: Literal["set"] = Field(
        description="A scenario parameter takes a new value from this step on (a price, a "
        "strategy rule or parameter, a capacity, a segment's sensitivity, market terms...)."
    )
    path: str = Field(
        max_length=1000,
        description="The parameter, in the path syntax of `llm-market run --set` and sweeps: "
        "companies.<firm>.<field> (a company or a firm entered by event), "
        "market.segments.<segment>.<field> or market.<field>; README lists what may change.",
    )
    value: Any = Field(
        description="The new value, validated as that field of the scenario is (null for "
        "fields that allow it: capacity null means unlimited)."
    )


@handles(SetEvent)
def set_parameter(context: EventContext, event: SetEvent) -> None:
    context.apply_setting(event.path, event.value)


class AcquireEvent(EventBase):
    kind: Literal["acquire"] = Field(
        description="One firm absorbs another: capacity, brand, cash, experience, R&D compute "
        "in progress and last step's customers add up; the better model per segment is kept; "
        "the absorbed firm exits (reason 'acquired by ...'), its links end."
    )
    acquirer: str = Field(description="The firm that buys (it keeps its prices and rules).")
    target: str = Field(description="The firm bought; it leaves the market at this step.")
    payment: NonNegativeMoney = Field(
        0.0,
        description="Paid by the acquirer to the target's owners (leaves the market), "
        "0 to 1e12 money units.",
    )


@handles(AcquireEvent)
def acquire(context: EventContext, event: AcquireEvent) -> None:
    context.acquire(event.acquirer, event.target, event.payment)


class ReleaseEvent(EventBase):
    kind: Literal["release"] = Field(
        description="A named firm ships a new model and/or changes its list price."
    )
    firm: str = Field(description="The firm that releases.")
    quality: dict[str, QualityStep] | None = Field(
        None,
        description="Change of the firm's quality per segment (added to its current Q; "
        "segments left out keep theirs). For a firm whose quality comes from compute it lasts "
        "until its next release.",
    )
    quality_sd: QualitySpread = Field(
        0.0,
        description="Standard deviation of a normal draw (the model's seeded rng) added to "
        "each segment's quality change: an uncertain release.",
    )
    compute: Compute | None = Field(
        None,
        description="New training compute (real FLOPs) behind the firm's model. A firm whose "
        "quality comes from compute gets the quality model's Q for it now (its release cycle "
        "restarts); a fixed-quality firm only records it (model_compute).",
    )
    price: Price | None = Field(
        None,
        description="New list price. A firm with the `fixed` pricing rule keeps it; other "
        "rules start from it.",
    )
    unit_cost: Price | None = Field(
        None, description="New base unit cost C0 (e.g. a model cheaper to serve; at most 1e6)."
    )


class ReleaseContext(EventContext, Protocol):
    rng: np.random.Generator
    steps: int
    quality_source: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]


@handles(ReleaseEvent)
def release(context: ReleaseContext, event: ReleaseEvent) -> None:
    state = context.state
    rows = [i for i, n in enumerate(state.names) if n == event.firm]
    if not rows:  # the firm has left the market
        return
    i = rows[0]
    if event.compute is not None:
        state.model_compute[i] = event.compute
        state.pending_compute[i] = 0.0
        state.last_release[i] = context.steps
        if state.data_limited:
            state.model_data[i] = state.data_stock[i]
        if not state.fixed_quality[i]:
            quality, bpb, extrapolated = state.read_quality(
                context.quality_source, np.arange(i, i + 1)
            )
            state.quality[i] = np.maximum(quality[0], 0.0)
            state.bpb[i] = bpb[0]
            state.extrapolated[i] = extrapolated[0]
    if event.quality is not None or event.quality_sd > 0:
        change = np.array([(event.quality or {}).get(s, 0.0) for s in state.segment_names])
        if event.quality_sd > 0:
            change = change + context.rng.normal(0.0, event.quality_sd, state.n_segments)
        state.quality[i] = state.quality[i] + change
    if event.price is not None:
        state.price[i] = event.price
    if event.unit_cost is not None:
        state.base_cost[i] = event.unit_cost
        state.refresh_unit_cost(slice(i, i + 1))
    state.generation[i] += 1


EVENT_KINDS = tuple(EVENTS)
"""Every event kind, in the order they are documented."""
