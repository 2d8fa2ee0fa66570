"""Parameter paths: dotted addresses of any field of a scenario.

One syntax serves sweep parameters (``simulator.sweep.spec``), ``llm-market run --set
PATH=VALUE`` (``apply_settings``) and ``set`` events (``simulator.config.settings``). A path
such as ``market.segments.assistant.price_sensitivity`` walks the resolved scenario mapping one
part at a time. In a list, a part selects an item by its ``name`` (firms,
segments) or by its 0-based index (``companies.1.unit_cost``, ``events.0.step``); a name that
itself contains dots is matched too (``companies.GPT-4.5.unit_cost``). Paths are resolved
against the base scenario when the sweep spec is validated, so a typo fails before any run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

Key = str | int


class PathError(ValueError):
    """A path that does not address a field of the base scenario (message names the part)."""


@dataclass(frozen=True)
class ParameterPath:
    """A resolved path: the concrete keys into the scenario mapping, and its canonical text.

    ``canonical`` names list items of named things by their name, the way ScenarioError lines
    do (``companies.OpenLab.unit_cost``), so errors of sampled scenarios can be traced back to
    the parameter that set the field.
    """

    text: str
    keys: tuple[Key, ...]
    canonical: str

    def covers(self, other: ParameterPath) -> bool:
        """True if ``other`` is this field or lies inside it (they would overwrite each other)."""
        return other.keys[: len(self.keys)] == self.keys


def _item_names(items: list[Any]) -> list[str | None]:
    return [
        item.get("name") if isinstance(item, dict) and isinstance(item.get("name"), str) else None
        for item in items
    ]


def resolve_path(data: dict[str, Any], text: str) -> ParameterPath:
    """Resolve ``text`` against ``data`` (a resolved scenario mapping) or raise PathError."""
    if not isinstance(text, str) or not text:
        raise PathError("empty parameter path")
    parts = text.split(".")
    if any(part == "" for part in parts):
        raise PathError(f"malformed path {text!r} (empty part between dots)")
    keys: list[Key] = []
    canonical: list[str] = []
    node: Any = data
    i = 0
    while i < len(parts):
        where = ".".join(canonical) or "the scenario"
        if isinstance(node, dict):
            key = parts[i]
            if key not in node:
                fields = ", ".join(str(k) for k in node)
                raise PathError(f"no field {key!r} in {where} (fields: {fields})")
            keys.append(key)
            canonical.append(key)
            node = node[key]
            i += 1
        elif isinstance(node, list):
            names = _item_names(node)
            index = None
            for width in range(len(parts) - i, 0, -1):  # longest name first: names may hold dots
                candidate = ".".join(parts[i : i + width])
                if candidate in names:
                    index = names.index(candidate)
                    i += width
                    break
            if index is None:
                part = parts[i]
                if part.isdigit() and int(part) < len(node):
                    index = int(part)
                    i += 1
                else:
                    known = [n for n in names if n is not None]
                    choices = (f"names: {', '.join(known)}; or " if known else "") + (
                        f"an index 0..{len(node) - 1}" if node else "the list is empty"
                    )
                    raise PathError(f"no item {part!r} in {where} ({choices})")
            keys.append(index)
            canonical.append(names[index] or str(index))
            node = node[index]
        else:
            raise PathError(f"{where} is a value ({node!r}), it has no field {parts[i]!r}")
    return ParameterPath(text=text, keys=tuple(keys), canonical=".".join(canonical))


def _copy_tree(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, scalars), several times faster than
    copy.deepcopy; anything else goes through copy.deepcopy."""
    if isinstance(value, dict):
        return {key: _copy_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_tree(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


def with_values(data: dict[str, Any], assignments: dict[ParameterPath, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with each path set to its value (``data`` is left untouched)."""
    result = _copy_tree(data)
    for path, value in assignments.items():
        node: Any = result
        for key in path.keys[:-1]:
            node = node[key]
        node[path.keys[-1]] = copy.deepcopy(value)
    return result


def parse_setting(text: str) -> tuple[str, Any]:
    """``PATH=VALUE`` as (path, value); the value is read as YAML (``2.5``, ``true``, ``null``,
    ``[joint_rd, alliance]``, ``fixed``) within the limits of simulator.config.yaml_safe."""
    import yaml

    from simulator.config.yaml_safe import load_yaml

    path, equals, value = text.partition("=")
    path = path.strip()
    if not equals or not path:
        raise PathError("expected PATH=VALUE, e.g. companies.OpenAI.initial_price=2.5")
    try:
        return path, load_yaml(value)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise PathError(f"the value {value!r} is not a YAML value ({problem})") from None


def apply_settings(data: dict[str, Any], settings: list[str]) -> dict[str, Any]:
    """``data`` (a resolved scenario mapping) with each ``PATH=VALUE`` of ``settings`` set, in
    order; PathError names the setting. The result is not validated: parse it as a scenario."""
    for text in settings:
        try:
            path, value = parse_setting(text)
            data = with_values(data, {resolve_path(data, path): value})
        except PathError as exc:
            raise PathError(f"--set {text}: {exc}") from None
    return data
