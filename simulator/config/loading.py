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

import yaml
from pydantic import TypeAdapter, ValidationError
from yaml.reader import ReaderError

from simulator.config.archetypes import BUILTIN_ARCHETYPES
from simulator.config.checks import semantic_errors
from simulator.config.errors import (
    RENAMED_KEYS,
    ScenarioError,
    dedupe,
    describe,
    field_path,
    item_label,
    name_part,
    one_line,
    shown,
)
from simulator.config.schema import ArchetypeName, Company, Scenario, merge
from simulator.config.yaml_safe import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, load_yaml
from simulator.market.events import EVENT_KINDS
from simulator.market.params import MAX_FIRMS

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "RENAMED_KEYS",
    "ScenarioError",
    "expand_companies",
    "json_schema",
    "load_scenario",
    "parse_scenario",
    "read_yaml",
    "scenario_to_yaml",
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
        name = item["archetype"]
        if not isinstance(name, str) or name not in known:
            errors.append(
                f"companies.{label}.archetype: unknown archetype {shown(name)} "
                f"(known: {', '.join(known)})"
            )
            continue
        fields = user.get(name)
        defaults = merge(
            BUILTIN_ARCHETYPES.get(name, {}), fields if isinstance(fields, dict) else {}
        )
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
    return errors, labels


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
    return scenario


def read_yaml(path: str | Path, error: type[Exception] = ScenarioError) -> Any:
    """Parse a YAML file; an unreadable, oversized or bad file raises ``error([one line])``.

    At most MAX_FILE_BYTES are read; the YAML limits are those of simulator.config.yaml_safe
    (duplicate keys, nesting depth, alias expansion).
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise error([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise error([f"{path}: is a folder, not a YAML file"]) from None
    except OSError as exc:
        raise error([f"{path}: cannot read ({exc.strerror or exc})"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise error(
            [f"{path}: larger than {MAX_FILE_BYTES:,} bytes, the limit for a scenario file"]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            [f"{path}: cannot read (not UTF-8 text: byte {exc.start} is {raw[exc.start]:#04x})"]
        ) from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise error([f"{path}: {_yaml_problem(exc, text)}"]) from None
    except RecursionError:  # pragma: no cover - the depth limit comes first
        raise error([f"{path}: invalid YAML (nested too deeply)"]) from None


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """One line: 'line L, column C: invalid YAML (problem; context)'."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable"
        if exc.problem and exc.context:
            where = f" on line {exc.context_mark.line + 1}" if exc.context_mark else ""
            problem += f"; {exc.context}{where}"
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    elif isinstance(exc, ReaderError):
        before = text[: exc.position]
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        where = f"line {line}, column {column}: "
        problem = f"character {_code(exc.character)} is not allowed ({exc.reason})"
    else:
        where, problem = "", str(exc)
    return one_line(f"{where}invalid YAML ({' '.join(problem.split())})")


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


def _code(character: Any) -> str:
    return f"#x{character:04x}" if isinstance(character, int) else shown(character)
