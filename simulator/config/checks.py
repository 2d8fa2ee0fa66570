"""Cross-field checks of a scenario that pydantic cannot express per field.

Each check returns error lines 'field.path: problem'. Together they make sure that whatever
passes validation also runs: names resolve, entrants are complete companies, prices are
consistent with costs, segments cannot grow past ``MAX_PROJECTED_SIZE``, event factors keep the
indices in range and the firm count stays within ``MAX_FIRMS``.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError

from simulator.config.errors import describe, name_part, shown
from simulator.config.schema import Company, Scenario, merge
from simulator.config.settings import setting_errors
from simulator.market.open_source import OPEN_MODEL
from simulator.market.params import MAX_FACTOR, MAX_FIRMS, MAX_MONEY, MAX_PROJECTED_SIZE

COMPUTE_PRICE_RANGE = (1e-6, MAX_MONEY)
COST_INDEX_RANGE = (1 / MAX_FACTOR, MAX_FACTOR)


def semantic_errors(scenario: Scenario, labels: list[str]) -> list[str]:
    """Every cross-field problem of ``scenario``; ``labels[i]`` names companies[i] in paths."""
    return [
        *_segment_errors(scenario),
        *_company_errors(scenario, labels),
        *_entry_errors(scenario),
        *_link_errors(scenario),
        *_event_errors(scenario),
        *_scale_errors(scenario),
    ]


def _segment_errors(scenario: Scenario) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()
    for segment in scenario.segment_names:
        if segment in seen:
            errors.append(f"market.segments.{segment}: duplicate segment name")
        seen.add(segment)
    if scenario.market.quality_model == "zoo" and scenario.needs_quality_model:
        from simulator.lm.corpus import SEGMENTS as ZOO_SEGMENTS

        for segment in scenario.segment_names:
            if segment not in ZOO_SEGMENTS:
                errors.append(
                    f"market.segments.{segment}: no language-model zoo measurements for "
                    f"this segment (zoo: {', '.join(ZOO_SEGMENTS)}); give firms a fixed "
                    "`quality` or set market.quality_model: placeholder"
                )
    errors += _projected_size_errors(scenario)
    errors += _data_errors(scenario)
    return errors


def _data_errors(scenario: Scenario) -> list[str]:
    """market.data names known segments and needs the zoo; buying data needs market.data."""
    market, errors = scenario.market, []
    if market.data is None:
        for where, strategy in _strategies(scenario):
            if strategy.get("data_budget", "none") != "none":
                errors.append(
                    f"{where}.strategy.data_budget: {strategy['data_budget']!r} buys data, "
                    "which needs a market.data section"
                )
        return errors
    if market.quality_model != "zoo":
        errors.append(
            "market.data: data stocks are read from the language-model zoo's data axis; set "
            "market.quality_model: zoo"
        )
    rates = market.data.feedback_rate
    for key in rates if isinstance(rates, dict) else {}:
        if key not in scenario.segment_names:
            errors.append(
                f"market.data.feedback_rate.{name_part(key)}: no such segment "
                f"(segments: {', '.join(scenario.segment_names)})"
            )
    return errors


def _strategies(scenario: Scenario):
    """(path, strategy as a mapping) of every company and archetype."""
    for company in scenario.companies:
        yield f"companies.{company.name}", company.strategy.model_dump()
    for name, fields in scenario.archetypes.items():
        yield f"archetypes.{name}", dict(fields.get("strategy") or {})


def _magnitude(log_value: float) -> str:
    """exp(log_value) written out, also beyond the float range."""
    if log_value < 700:
        return f"{math.exp(log_value):.3g}"
    return f"1e+{log_value / math.log(10):.0f}"


def _peak_size(size: float, growth: float, events: list[Any], steps: int) -> tuple[float, int]:
    """(log of the largest size in use, its step) for a segment of ``size`` and ``growth`` at
    step 0 with its segment ``events``: events fire at their step before the market clears,
    and after every step the size is multiplied by 1 + growth."""
    log_size, step = math.log(size), 1
    points: list[tuple[float, int]] = []
    for event in sorted(events, key=lambda e: e.step):
        if event.step > step:  # in use from `step` to event.step - 1, monotone in between
            rate = math.log1p(growth)
            points += [
                (log_size, step),
                (log_size + (event.step - 1 - step) * rate, event.step - 1),
            ]
            log_size += (event.step - step) * rate
            step = event.step
        if getattr(event, "size", None) is not None:  # a set event's new size
            log_size = math.log(event.size)
        log_size += math.log(event.size_factor)
        growth = event.growth if event.growth is not None else growth
    last = max(steps, step)
    points += [(log_size, step), (log_size + (last - step) * math.log1p(growth), last)]
    return max(points)


def _projected_size_errors(scenario: Scenario) -> list[str]:
    """Segments whose size, through growth and segment events, would pass MAX_PROJECTED_SIZE."""
    errors = []
    sets = timeline(scenario)[1] if any(e.kind == "set" for e in scenario.events) else {}
    for segment in scenario.market.segments:
        events = [e for e in scenario.events if getattr(e, "segment", None) == segment.name]
        for i, path in sets.items():  # set events of its size or growth
            field = path.removeprefix(f"market.segments.{segment.name}.")
            value = scenario.events[i].value
            if field in ("size", "growth") and isinstance(value, (int, float)):
                change = {"size": None, "growth": None, field: float(value)}
                events.append(
                    SimpleNamespace(step=scenario.events[i].step, size_factor=1.0, **change)
                )
        peak, step = _peak_size(segment.size, segment.growth, events, scenario.steps)
        if peak > math.log(MAX_PROJECTED_SIZE):
            where = f"market.segments.{segment.name}" + ("" if events else ".growth")
            errors.append(
                f"{where}: the segment would reach {_magnitude(peak)} demand units per step by "
                f"step {step}{' (with its segment events)' if events else ''}, above the "
                f"limit of {MAX_PROJECTED_SIZE:g}; lower its size or growth, or the steps"
            )
    return errors


def _company_errors(scenario: Scenario, labels: list[str]) -> list[str]:
    errors: list[str] = []
    firms: set[str] = set()
    for i, company in enumerate(scenario.companies):
        if company.name in firms:
            errors.append(f"companies.{company.name}: duplicate firm name")
        if company.name == OPEN_MODEL:
            errors.append(f"companies.{company.name}: the name is reserved for the open product")
        firms.add(company.name)
        label = labels[i] if i < len(labels) else company.name
        errors += _firm_errors(f"companies.{label}", company, scenario)
    return errors


def _firm_errors(where: str, company: Company, scenario: Scenario, note: str = "") -> list[str]:
    """What a valid Company may still get wrong in this scenario: segments it names, its data
    mix, and prices against costs (the pricing rules keep prices in [unit cost, price cap])."""
    fields = {"quality": company.quality, "data_mix": company.data_mix, "data": company.data}
    errors = _segment_key_errors(where, fields, scenario, note)
    if company.data_mix is not None and sum(company.data_mix.values()) <= 0:
        errors.append(f"{where}.data_mix: weights must not all be 0{note}")
    market = scenario.market
    cost = company.unit_cost * market.cost_index
    own_cap = company.price_cap is not None
    cap = company.price_cap if own_cap else market.price_cap
    source = "its price_cap" if own_cap else "market.price_cap"
    if cap < cost:
        if own_cap:
            errors.append(
                f"{where}.price_cap: below the firm's unit cost at step 0, {cost:g} (unit_cost x "
                f"market.cost_index) (got {cap:g}){note}"
            )
        else:
            errors.append(
                f"{where}.unit_cost: the unit cost at step 0, {cost:g} (unit_cost x "
                f"market.cost_index), is above market.price_cap {cap:g}{note}"
            )
    if company.initial_price is not None and company.initial_price > cap:
        errors.append(
            f"{where}.initial_price: above the price cap {cap:g} ({source}) "
            f"(got {company.initial_price:g}){note}"
        )
    elif company.initial_price is None and 1.5 * company.unit_cost > cap:
        errors.append(
            f"{where}.initial_price: the default, 1.5 x unit_cost = {1.5 * company.unit_cost:g}, "
            f"is above the price cap {cap:g} ({source}); set initial_price{note}"
        )
    return errors


def _segment_key_errors(
    where: str, fields: dict[str, Any], scenario: Scenario, note: str = ""
) -> list[str]:
    """Segments named by a company's or an archetype's `quality`, `data_mix` and `data` must
    exist."""
    segment_list = ", ".join(scenario.segment_names)
    return [
        f"{where}.{field}.{name_part(key)}: no such segment (segments: {segment_list}){note}"
        for field in ("quality", "data_mix", "data")
        if isinstance(fields.get(field), dict)
        for key in fields[field]
        if key not in scenario.segment_names
    ]


def entrant_fields(scenario: Scenario, archetype: str, number: int = 1) -> dict[str, Any]:
    """The Company fields of entrant ``number`` of ``archetype``, as MarketModel.enter makes
    them (the archetype as it is, a name <archetype>-e<number>)."""
    return merge(
        scenario.archetype(archetype), {"name": f"{archetype}-e{number}", "archetype": archetype}
    )


def _entry_errors(scenario: Scenario) -> list[str]:
    """Every archetype firms may enter as must resolve to a complete, consistent Company
    (market.entry.archetypes when entry is on, and the archetypes of entry waves)."""
    errors: list[str] = []
    entry = scenario.market.entry
    if entry.base_rate > 0 and not entry.archetypes:
        errors.append(
            f"market.entry.archetypes: no archetype to draw entrants from, but "
            f"market.entry.base_rate is {entry.base_rate:g}"
        )
    entrants: dict[str, str] = {}  # archetype -> where it is named first
    known = scenario.archetype_names
    for name in entry.archetypes:
        if name not in known:
            errors.append(
                f"market.entry.archetypes.{name}: unknown archetype (known: {', '.join(known)})"
            )
        elif entry.base_rate > 0:
            entrants.setdefault(name, f"market.entry.archetypes.{name}")
    for i, event in enumerate(scenario.events):
        if event.kind != "entry_wave":
            continue
        if event.archetype not in known:
            errors.append(
                f"events.{i}.archetype: unknown archetype {shown(event.archetype)} "
                f"(known: {', '.join(known)})"
            )
        else:
            entrants.setdefault(event.archetype, f"events.{i}.archetype")
    for name, fields in scenario.archetypes.items():  # entrants' archetypes are checked whole
        if name not in entrants:
            errors += _segment_key_errors(f"archetypes.{name_part(name)}", fields, scenario)
    for name, used in entrants.items():
        errors += _entrant_errors(scenario, name, used)
        reserved = re.compile(re.escape(name) + r"-e[0-9]+")
        named = [(f"companies.{c.name}", c.name) for c in scenario.companies] + [
            (f"events.{i}.company.name", e.company.name)
            for i, e in enumerate(scenario.events)
            if e.kind == "enter"
        ]
        for where, firm in named:
            if reserved.fullmatch(firm):
                errors.append(
                    f"{where}: the name is reserved for entrants of archetype {name} "
                    f"({used}); rename the firm"
                )
    return errors


def _entrant_errors(scenario: Scenario, name: str, used: str) -> list[str]:
    """An entrant of archetype ``name`` as MarketModel.enter builds it, checked as a firm;
    problems name the archetype (where they are fixed) and where it is used."""
    where = f"archetypes.{name}"
    note = f" (entrants take this archetype as it is: {used})"
    try:
        company = Company.model_validate(entrant_fields(scenario, name))
    except ValidationError as exc:
        return [
            f"{where}.{'.'.join(name_part(k) for k in e['loc'])}: {describe(e)}{note}"
            for e in exc.errors()
        ]
    return _firm_errors(where, company, scenario, note)


def _link_errors(scenario: Scenario) -> list[str]:
    errors: list[str] = []
    firms = {company.name for company in scenario.companies}
    pairs: dict[frozenset[str], int] = {}
    held: dict[str, int] = {}
    max_links = scenario.market.network.max_links
    for i, link in enumerate(scenario.links):
        for end in ("source", "target"):
            if getattr(link, end) not in firms:
                errors.append(f"links.{i}.{end}: no such firm {shown(getattr(link, end))}")
        if link.source == link.target:
            errors.append(f"links.{i}.target: a firm cannot link with itself")
            continue
        pair = frozenset((link.source, link.target))
        if pair in pairs:
            errors.append(
                f"links.{i}: {link.source} and {link.target} are already linked by "
                f"links.{pairs[pair]} (two firms hold at most one link)"
            )
            continue
        pairs[pair] = i
        for firm in pair:
            held[firm] = held.get(firm, 0) + 1
            if held[firm] == max_links + 1:
                errors.append(
                    f"links.{i}: {firm} would hold more than market.network.max_links "
                    f"({max_links}) links"
                )
    return errors


def _event_errors(scenario: Scenario) -> list[str]:
    errors: list[str] = []
    segments = set(scenario.segment_names)
    segment_list = ", ".join(scenario.segment_names)
    for i, event in enumerate(scenario.events):
        where = f"events.{i}"
        if event.step > scenario.steps:
            errors.append(
                f"{where}.step: after the last step ({scenario.steps}) (got {event.step})"
            )
        if getattr(event, "segment", None) is not None and event.segment not in segments:
            errors.append(
                f"{where}.segment: no such segment {shown(event.segment)} "
                f"(segments: {segment_list})"
            )
        for field in ("data_cap", "feedback_cap", "quality"):  # per-segment mappings
            mapping = getattr(event, field, None)
            for key in mapping if isinstance(mapping, dict) else {}:
                if key not in segments:
                    errors.append(
                        f"{where}.{field}.{name_part(key)}: no such segment "
                        f"(segments: {segment_list})"
                    )
    errors += timeline(scenario)[0]
    errors += _index_errors(scenario, "compute_price", COMPUTE_PRICE_RANGE)
    errors += _index_errors(scenario, "cost_index", COST_INDEX_RANGE)
    return errors


def _named_firms(event: Any) -> list[tuple[str, str]]:
    """(field, firm name) of every firm an event names."""
    if event.kind == "acquire":
        return [("acquirer", event.acquirer), ("target", event.target)]
    named = [("firm", event.firm)] if isinstance(getattr(event, "firm", None), str) else []
    return named + [("firms", firm) for firm in getattr(event, "firms", None) or []]


def timeline(scenario: Scenario) -> tuple[list[str], dict[int, str]]:
    """Events in the order they fire (by step, in list order within a step), with the firms
    active at each: a firm an event names must be active then (listed, or entered by an
    earlier `enter` event, and not acquired since). Returns the problems and each set event's
    path in canonical form (by list index)."""
    errors: list[str] = []
    canonical: dict[int, str] = {}
    active = {company.name: company for company in scenario.companies}
    enters = {
        e.company.name: (i, e.step) for i, e in enumerate(scenario.events) if e.kind == "enter"
    }
    gone: dict[str, str] = {}
    for i, event in sorted(enumerate(scenario.events), key=lambda item: item[1].step):
        where = f"events.{i}"
        for field, name in _named_firms(event):
            if name in active:
                continue
            if name in gone:
                problem = f"{shown(name)} was {gone[name]}"
            elif name in enters and enters[name][0] != i:
                j, step = enters[name]
                problem = (
                    f"{shown(name)} has not entered yet (it enters at step {step}: events.{j})"
                )
            else:
                problem = f"no such firm {shown(name)}"
            errors.append(f"{where}.{field}: {problem}")
        if event.kind == "enter":
            company = event.company
            if company.name in active or company.name in gone:
                errors.append(f"{where}.company.name: duplicate firm name {shown(company.name)}")
            elif company.name == OPEN_MODEL:
                errors.append(f"{where}.company.name: the name is reserved for the open product")
            active[company.name] = company
            errors += _firm_errors(f"{where}.company", company, scenario)
        elif event.kind == "acquire":
            if event.acquirer == event.target:
                errors.append(f"{where}.target: a firm cannot acquire itself")
            elif event.target in active:
                active.pop(event.target)
                gone[event.target] = f"acquired by {event.acquirer} at step {event.step} ({where})"
        elif event.kind == "set":
            problems, canonical[i] = setting_errors(
                where, event.path, event.value, active, scenario.market
            )
            errors += problems
    return errors, canonical


def _index_errors(scenario: Scenario, kind: str, bounds: tuple[float, float]) -> list[str]:
    """Events of ``kind`` multiply market.<kind>; the value they lead to must stay in range."""
    value = getattr(scenario.market, kind)
    order = sorted((e.step, i, e) for i, e in enumerate(scenario.events) if e.kind == kind)
    for _step, i, event in order:
        value *= event.factor
        if not bounds[0] <= value <= bounds[1]:
            return [
                f"events.{i}.factor: takes market.{kind} to {value:.3g}, outside "
                f"{bounds[0]:g} to {bounds[1]:g}"
            ]
    return []


def _scale_errors(scenario: Scenario) -> list[str]:
    companies = len(scenario.companies)
    entering = sum(e.kind == "enter" for e in scenario.events)
    waves = sum(e.count for e in scenario.events if e.kind == "entry_wave")
    entry = scenario.market.entry
    poisson = entry.max_firms if entry.base_rate > 0 else 0
    if companies + entering + waves + poisson <= MAX_FIRMS:
        return []
    parts = [f"{companies:,} companies"]
    if entering:
        parts.append(f"{entering:,} firms entered by event")
    if waves:
        parts.append(f"{waves:,} entry-wave entrants")
    if poisson:
        parts.append(f"market.entry.max_firms {poisson:,}")
    return [
        f"companies: {' + '.join(parts)} exceed the limit of {MAX_FIRMS:,} firms in one scenario"
    ]
