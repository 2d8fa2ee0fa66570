"""Scenario YAML loading and one-line errors naming the field.

``load_scenario`` turns a YAML file into a validated ``Scenario`` or raises ``ScenarioError``
whose ``lines`` read like ``companies.B.unit_cost: must be > 0 (got -1)``. Validation runs in
stages, each reporting all its problems at once: the shape of the input (size, nesting), the
`archetypes:` table, `count:` expansion of `companies:`, the pydantic models
(simulator.config.schema), then the cross-field checks (simulator.config.checks).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from simulator.config.archetypes import BUILTIN_ARCHETYPES
from simulator.config.checks import semantic_errors, timeline
from simulator.config.errors import (
    RENAMED_KEYS,
    ScenarioError,
    dedupe,
    describe,
    field_path,
    item_label,
    name_part,
    shown,
)
from simulator.config.files import read_scenario_data, read_yaml
from simulator.config.paths import PathError, apply_settings
from simulator.config.schema import ArchetypeName, Company, Scenario, merge
from simulator.config.yaml_safe import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, dump_yaml
from simulator.market.events import EVENT_KINDS
from simulator.market.params import MAX_FIRMS

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "RENAMED_KEYS",
    "ScenarioError",
    "archetype_defaults",
    "expand_companies",
    "json_schema",
    "load_scenario",
    "parse_scenario",
    "read_scenario_data",
    "read_yaml",
    "scenario_to_yaml",
    "with_settings",
]

ARCHETYPE_ONLY_IN_COMPANIES = ("name", "archetype", "count")
"""Company-item keys an archetype cannot set: a company names itself and its archetype."""


def _shape_errors(data: Any) -> list[str]:
    """Input too large, too deep or containing itself (a mapping built in Python may be)."""
    stack = [(data, 1)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return [
                f"(top level): the scenario holds more than {MAX_NODES:,} values (or contains "
                "itself)"
            ]
        if depth > MAX_DEPTH:
            return [f"(top level): nested deeper than {MAX_DEPTH} levels"]
        if isinstance(node, dict):
            stack += [(value, depth + 1) for value in node.values()]
        elif isinstance(node, (list, tuple, set, frozenset)):
            stack += [(value, depth + 1) for value in node]
    return []


_ARCHETYPE_NAME = TypeAdapter(ArchetypeName)


def _archetype_table_errors(data: dict[str, Any]) -> list[str]:
    """The `archetypes:` table: names, mappings of Company fields that validate as a Company
    would (the unit cost may come from the company using the archetype)."""
    table = data.get("archetypes")
    if table is None:
        return []
    if not isinstance(table, dict):
        return [
            "archetypes: must be a mapping of archetype names to company defaults "
            f"(got {shown(table)})"
        ]
    errors: list[str] = []
    for name, fields in table.items():
        where = f"archetypes.{name_part(name)}"
        try:
            _ARCHETYPE_NAME.validate_python(name)
        except ValidationError as exc:
            errors += [f"{where}: name {describe(e)}" for e in exc.errors()]
            continue
        if not isinstance(fields, dict):
            errors.append(f"{where}: must be a mapping of Company fields (got {shown(fields)})")
            continue
        for key in ARCHETYPE_ONLY_IN_COMPANIES:
            if key in fields:
                errors.append(
                    f"{where}.{key}: an archetype cannot set `{key}` (the company item that "
                    "uses it does)"
                )
        probe = {
            "name": "probe",
            "unit_cost": 1.0,
            **merge(BUILTIN_ARCHETYPES.get(name, {}), fields),
        }
        for key in ARCHETYPE_ONLY_IN_COMPANIES:
            probe.pop(key, None)
        probe["name"] = "probe"
        try:
            Company.model_validate(probe)
        except ValidationError as exc:
            errors += [
                f"{where}.{'.'.join(name_part(k) for k in e['loc'])}: {describe(e)}"
                for e in exc.errors()
            ]
    return errors


def _expand(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Fill archetype defaults into ``data['companies']`` and expand `count:` groups.

    Returns (error lines, a label per expanded company for error paths: its name, or one
    label such as ``startup-1..5`` shared by a group's members).
    """
    companies = data.get("companies")
    if not isinstance(companies, list):
        return [], []
    table = data.get("archetypes")
    user = table if isinstance(table, dict) else {}
    known = sorted(set(BUILTIN_ARCHETYPES) | {n for n in user if isinstance(n, str)})
    expanded: list[Any] = []
    labels: list[str] = []
    errors: list[str] = []
    for i, item in enumerate(companies):
        label = item_label(item, i)
        if len(expanded) >= MAX_FIRMS:
            errors.append(f"companies: more than the limit of {MAX_FIRMS:,} firms")
            break
        if not isinstance(item, dict) or item.get("archetype") is None:
            if isinstance(item, dict) and "count" in item:
                errors.append(
                    f"companies.{label}.count: needs an `archetype` (a group is `count` firms "
                    "of one archetype)"
                )
                continue
            expanded.append(item)
            labels.append(label)
            continue
        defaults = _archetype_defaults(item, user, known, f"companies.{label}", errors)
        if defaults is None:
            continue
        name = item["archetype"]
        own = {k: v for k, v in item.items() if k != "count"}
        count = item.get("count")
        if count is None:
            expanded.append(merge(defaults, own))
            labels.append(label)
            continue
        if not (isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= MAX_FIRMS):
            errors.append(
                f"companies.{label}.count: must be a whole number from 1 to {MAX_FIRMS} "
                f"(got {shown(count)})"
            )
            continue
        if len(expanded) + count > MAX_FIRMS:
            errors.append(
                f"companies.{label}.count: takes the companies past the limit of "
                f"{MAX_FIRMS:,} firms (got {count:,})"
            )
            break
        prefix = own.pop("name", name)
        if not isinstance(prefix, str):
            errors.append(
                f"companies.{label}.name: Input should be a valid string (got {shown(prefix)})"
            )
            continue
        group = f"{name_part(prefix)}-1" + (f"..{count}" if count > 1 else "")
        for k in range(1, count + 1):
            expanded.append(merge(defaults, {**own, "name": f"{prefix}-{k}"}))
            labels.append(group)
    data["companies"] = expanded
    return errors + _expand_entrants(data, user, known), labels


def _archetype_defaults(
    item: dict[str, Any], user: dict[str, Any], known: list[str], where: str, errors: list[str]
) -> dict[str, Any] | None:
    """The defaults of the archetype ``item`` names (built-in merged with the scenario's
    table), or None with an error line if it names no known archetype."""
    name = item["archetype"]
    if not isinstance(name, str) or name not in known:
        errors.append(
            f"{where}.archetype: unknown archetype {shown(name)} (known: {', '.join(known)})"
        )
        return None
    fields = user.get(name)
    return merge(BUILTIN_ARCHETYPES.get(name, {}), fields if isinstance(fields, dict) else {})


def _expand_entrants(data: dict[str, Any], user: dict[str, Any], known: list[str]) -> list[str]:
    """Fill archetype defaults into the companies of `enter` events, as into companies."""
    events = data.get("events")
    errors: list[str] = []
    for i, event in enumerate(events if isinstance(events, list) else []):
        if not isinstance(event, dict) or event.get("kind") != "enter":
            continue
        company = event.get("company")
        if isinstance(company, dict) and company.get("archetype") is not None:
            defaults = _archetype_defaults(company, user, known, f"events.{i}.company", errors)
            if defaults is not None:
                event["company"] = merge(defaults, company)
    return errors


def expand_companies(data: dict[str, Any]) -> list[str]:
    """Fill archetype defaults into ``data['companies']`` in place and expand `count:` groups.

    Returns error lines for unknown archetypes or bad counts.
    """
    return _expand(data)[0]


def parse_scenario(data: Any) -> Scenario:
    """Validate a scenario given as a mapping; raise ScenarioError with every problem."""
    if data is None:
        raise ScenarioError(["(top level): the scenario is empty"])
    if not isinstance(data, dict):
        raise ScenarioError(
            [f"(top level): expected a mapping of scenario keys, got {type(data).__name__}"]
        )
    errors = _shape_errors(data)
    if errors:
        raise ScenarioError(errors)
    if "extends" in data:
        raise ScenarioError(
            [
                "extends: only a scenario file can extend another (its path is relative to the "
                "file); read it with load_scenario or read_scenario_data"
            ]
        )
    data = copy.deepcopy(data)
    errors = _archetype_table_errors(data)
    if errors:
        raise ScenarioError(dedupe(errors))
    errors, labels = _expand(data)
    if errors:
        raise ScenarioError(dedupe(errors))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{field_path(e['loc'], data, {'companies': labels})}: {describe(e, EVENT_KINDS)}"
            for e in exc.errors()
        ]
        raise ScenarioError(dedupe(lines)) from None
    errors = semantic_errors(scenario, labels)
    if errors:
        raise ScenarioError(dedupe(errors))
    return _canonical_set_paths(scenario)


def _canonical_set_paths(scenario: Scenario) -> Scenario:
    """Set events' paths with list items named (``companies.1.capacity`` becomes
    ``companies.B.capacity``): they fire against the firms active then, whatever the rows."""
    if not any(event.kind == "set" for event in scenario.events):
        return scenario
    canonical = timeline(scenario)[1]
    events = [
        event.model_copy(update={"path": canonical[i]}) if i in canonical else event
        for i, event in enumerate(scenario.events)
    ]
    return scenario.model_copy(update={"events": events})


def load_scenario(path: str | Path, settings: list[str] = ()) -> Scenario:
    """Read and validate a scenario YAML file, with the files it ``extends`` merged in
    (simulator.config.files) and ``settings`` (``PATH=VALUE``, as ``llm-market run --set``)
    applied to the resolved scenario."""
    data = read_scenario_data(path)
    if not settings:
        return parse_scenario(data)
    return with_settings(parse_scenario(data), settings)


def with_settings(scenario: Scenario, settings: list[str]) -> Scenario:
    """``scenario`` with each ``PATH=VALUE`` of ``settings`` set (the sweep's parameter paths,
    simulator.config.paths), validated as a scenario file is."""
    try:
        data = apply_settings(scenario.model_dump(mode="json"), list(settings))
    except PathError as exc:
        raise ScenarioError([str(exc)]) from None
    return parse_scenario(data)


def scenario_to_yaml(scenario: Scenario) -> str:
    """The resolved scenario, every default filled in, as YAML."""
    return dump_yaml(scenario.model_dump(mode="json"))


def json_schema() -> dict[str, Any]:
    return Scenario.model_json_schema()


def archetype_defaults(scenario: Scenario | None = None) -> dict[str, dict[str, Any]]:
    """Each archetype's defaults (built-in, or with ``scenario``'s own table too): the fields it
    sets, and every Company field a firm of it starts with (``company``; None if the archetype
    leaves a required field, the unit cost, to the company)."""
    names = scenario.archetype_names if scenario else sorted(BUILTIN_ARCHETYPES)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        fields = scenario.archetype(name) if scenario else BUILTIN_ARCHETYPES[name]
        try:
            company = Company.model_validate({**fields, "name": name, "archetype": name})
        except ValidationError:
            full = None
        else:
            full = company.model_dump(mode="json", exclude={"name"})
        out[name] = {"sets": sorted(fields), "company": full}
    return out


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def scenario_from(obj: Any) -> Scenario:
    """A validated Scenario from what ``simulate`` / ``MarketModel`` accept: a Scenario, a path
    to a YAML file (``str`` or ``os.PathLike``) or a mapping of scenario keys.

    Anything else (None, bytes, a list, a number...) raises ``ScenarioError`` with one line
    naming what was given. A Scenario built in Python gets the cross-field checks that
    ``parse_scenario`` runs (duplicate names, unknown segments, ...).
    """
    import os  # imported here, not at the top: these functions were appended to the file
    from collections.abc import Mapping

    if isinstance(obj, Scenario):
        errors = semantic_errors(obj, [company.name for company in obj.companies])
        if errors:
            raise ScenarioError(errors)
        return obj
    if isinstance(obj, str | os.PathLike):
        path = os.fspath(obj)
        if not isinstance(path, str):
            raise ScenarioError(
                [f"scenario: a path must be text, not {type(path).__name__} ({_short_repr(path)})"]
            )
        if not path.strip():
            raise ScenarioError(["scenario: empty path; give a scenario YAML file"])
        if "\x00" in path:
            raise ScenarioError([f"scenario: path contains a NUL character ({path!r})"])
        return load_scenario(path)
    if isinstance(obj, Mapping):
        return parse_scenario(dict(obj))
    hint = (
        " (YAML text? pass yaml.safe_load(text), or the file's path)"
        if isinstance(obj, bytes | bytearray)
        else ""
    )
    raise ScenarioError(
        [
            "scenario: expected a Scenario, a path to a scenario YAML file or a mapping of "
            f"scenario keys, got {type(obj).__name__} ({_short_repr(obj)}){hint}"
        ]
    )


def check_seed(seed: Any) -> int | None:
    """``seed`` as an int if it is None or a whole number >= 0 (numpy integers included);
    otherwise ``ScenarioError`` naming the problem (bools and floats are refused)."""
    import numbers

    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ScenarioError(
            [
                "seed: must be a whole number >= 0 or None, got "
                f"{type(seed).__name__} ({_short_repr(seed)})"
            ]
        )
    if seed < 0:
        raise ScenarioError([f"seed: must be a whole number >= 0 (got {int(seed)})"])
    return int(seed)
