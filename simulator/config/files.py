"""Reading scenario files: YAML within the limits of simulator.config.yaml_safe, and
``extends:``, a scenario that states only what differs from another file.

``read_scenario_data(path)`` reads a file and, while it says ``extends: other.yaml`` (a path
relative to the file that says it), the file it extends, merging each child over its parent
(``merge_data``) before anything is validated. Every file in the chain is read by
``read_yaml``: the same size, nesting and alias limits apply to each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.reader import ReaderError

from simulator.config.errors import ScenarioError, name_part, one_line, shown
from simulator.config.yaml_safe import MAX_FILE_BYTES, load_yaml

MAX_EXTENDS = 16
"""Longest chain of files extending one another."""
SUFFIXES = (".yaml", ".yml")


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


def _code(character: Any) -> str:
    return f"#x{character:04x}" if isinstance(character, int) else shown(character)


def read_scenario_data(path: str | Path) -> Any:
    """A scenario file's data with the chain of files it ``extends`` merged in (not yet
    validated); a missing file, a cycle or too long a chain is one line naming the file."""
    return _read_chain(Path(path), [])


def _read_chain(path: Path, chain: list[Path]) -> Any:
    data = read_yaml(path)
    if not isinstance(data, dict) or "extends" not in data:
        return data
    parent = data.pop("extends")
    where = f"{path}: extends"
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError([f"{where}: must be the path of a scenario file (got {shown(parent)})"])
    target = path.parent / parent
    if target.suffix not in SUFFIXES:
        raise ScenarioError([f"{where}: {parent!r} is not a .yaml or .yml file"])
    here = path.resolve()
    seen = [*chain, here]
    if target.resolve() in seen:
        cycle = " -> ".join(str(p) for p in [*seen[seen.index(target.resolve()) :], target])
        raise ScenarioError([f"{where}: {parent!r} makes a cycle ({cycle})"])
    if len(seen) >= MAX_EXTENDS:
        raise ScenarioError([f"{where}: more than {MAX_EXTENDS} files extend one another"])
    if not target.is_file():
        raise ScenarioError([f"{where}: no such file {parent!r} (looked for {target})"])
    base = _read_chain(target, seen)
    if not isinstance(base, dict):
        raise ScenarioError(
            [f"{target}: a file that is extended must be a mapping of scenario keys"]
        )
    return merge_data(base, data, str(path))


def merge_data(base: Any, override: Any, source: str = "", where: str = "") -> Any:
    """``override`` (a child scenario's data) merged over ``base`` (its parent's).

    Mappings merge key by key; a list whose items are all mappings with a `name` (companies,
    segments, archetype tables...) merges item by item matched by name: a new name is
    appended, ``{name: X, remove: true}`` removes X; ``{append: [...]}`` adds items to any
    list (events, links); any other list or value replaces the parent's.
    """
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            inner = f"{where}.{name_part(key)}" if where else name_part(key)
            out[key] = merge_data(base[key], value, source, inner) if key in base else value
        return out
    if isinstance(base, list) and isinstance(override, dict) and set(override) == {"append"}:
        items = override["append"]
        if not isinstance(items, list):
            raise ScenarioError([f"{source}: {where}.append: must be a list (got {shown(items)})"])
        return [*base, *items]
    if isinstance(base, list) and _named(override) and all(isinstance(i, dict) for i in base):
        return _merge_named(base, override, source, where)
    return override


def _named(items: Any) -> bool:
    return (
        isinstance(items, list)
        and bool(items)
        and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items)
    )


def _merge_named(base: list[dict], override: list[dict], source: str, where: str) -> list:
    out = list(base)
    for item in override:
        name = item["name"]
        inner = f"{where}.{name_part(name)}"
        index = next((i for i, old in enumerate(out) if old.get("name") == name), None)
        if "remove" in item:
            if item["remove"] is not True or set(item) != {"name", "remove"}:
                raise ScenarioError(
                    [
                        f"{source}: {inner}.remove: to remove an item write "
                        f"{{name: {name_part(name)}, remove: true}} and nothing else"
                    ]
                )
            if index is None:
                raise ScenarioError([f"{source}: {inner}: no item named {name!r} to remove"])
            del out[index]
        elif index is None:
            out.append(item)
        else:
            out[index] = merge_data(out[index], item, source, inner)
    return out
