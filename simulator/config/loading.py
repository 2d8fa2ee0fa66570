"""Scenario YAML loading and one-line errors naming the field.

``load_scenario`` turns a YAML file into a validated ``Scenario`` or raises ``ScenarioError``
whose ``lines`` read like ``companies.B.unit_cost: must be > 0 (got -1)``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simulator.config.archetypes import BUILTIN_ARCHETYPES
from simulator.config.schema import Company, Scenario, merge
from simulator.market.events import EVENT_KINDS
from simulator.market.open_source import OPEN_MODEL


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
    "union_tag_not_found": f"needs a `kind` ({', '.join(EVENT_KINDS)})",
}

RENAMED_KEYS: dict[tuple[str | None, str], str] = {
    ("strategy", "open_source"): "open_source_rule",
    ("strategy", "network"): "link_rule",
    ("strategy", "links"): "link_types",
    ("market", "open_source"): "open_model",
    (None, "open_source"): "open_weights",  # a company's or archetype's flag
}
"""Keys renamed in version 0.2 (one meaning per name): (parent key, old key) -> new key."""


def _renamed(loc: tuple[Any, ...]) -> str | None:
    parent = loc[-2] if len(loc) > 1 and isinstance(loc[-2], str) else None
    key = loc[-1] if loc else None
    return RENAMED_KEYS.get((parent, key)) or (
        RENAMED_KEYS.get((None, key)) if parent not in ("strategy", "market") else None
    )


def _describe(error: dict[str, Any]) -> str:
    message = _MESSAGES.get(error["type"], error["msg"])
    if error["type"] == "extra_forbidden" and (new := _renamed(tuple(error["loc"]))):
        message = f"unknown key (renamed to `{new}`)"
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
        if company.name == OPEN_MODEL:
            errors.append(f"companies.{company.name}: the name is reserved for the open product")
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
        for field in ("data_cap", "quality"):  # per-segment mappings (regulation, release)
            for key in getattr(event, field, None) or {}:
                if key not in segments:
                    errors.append(
                        f"{where}.{field}.{key}: no such segment (segments: {segment_list})"
                    )
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
        errors = _semantic_errors(obj)
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
