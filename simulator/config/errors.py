"""Error text: ``ScenarioError`` and the one-line 'field.path: problem' messages.

Every line of a ScenarioError is one line whatever the input (a name holding a newline is
shown escaped), names the field by its dotted path (list items of named things by their
name), and shows the offending value shortened to ``MAX_SHOWN`` characters.
"""

from __future__ import annotations

import re
from typing import Any

MAX_SHOWN = 60
"""Longest shown value in a message ('(got ...)'), in characters."""
MAX_ERROR_LINES = 100
"""Most problems listed; a last line says how many more there were."""

# Characters str.splitlines() breaks a line at.
_LINE_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with every line-breaking character escaped (\\n, \\r, \\x85, \\u2028...)."""
    return _LINE_BREAKS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class ScenarioError(ValueError):
    """Invalid scenario: ``lines`` holds one 'field.path: problem' line per problem."""

    def __init__(self, lines: list[str]):
        lines = [one_line(str(line)) for line in lines]
        if len(lines) > MAX_ERROR_LINES:
            hidden = len(lines) - MAX_ERROR_LINES
            lines = [*lines[:MAX_ERROR_LINES], f"(top level): {hidden:,} more problems not shown"]
        self.lines = lines
        super().__init__("\n".join(lines))


def shown(value: Any) -> str:
    """``repr(value)``, shortened to MAX_SHOWN characters."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        return "<a number too long to show>"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def name_part(name: Any) -> str:
    """A name as a part of a dotted path (shortened; never a line break)."""
    text = name if isinstance(name, str) else shown(name)
    return text if len(text) <= 100 else text[:97] + "..."


def item_label(item: Any, index: int) -> str:
    """How a list item is named in a path: its `name` if it has a usable one, else its index."""
    name = item.get("name") if isinstance(item, dict) else None
    return name_part(name) if isinstance(name, str) and name.strip() else str(index)


def dedupe(lines: list[str]) -> list[str]:
    """The lines in order, each once (a `count:` group repeats its members' problems)."""
    return list(dict.fromkeys(lines))


def field_path(loc: tuple[Any, ...], data: Any, labels: dict[str, list[str]]) -> str:
    """Dotted path of a pydantic error location; list items of named things by their name.

    ``labels`` gives the names to use for the items of top-level lists (``companies``: the
    expanded firms, a `count:` group's members as one label such as ``startup-1..5``).
    """
    parts: list[str] = []
    node = data
    for depth, key in enumerate(loc):
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            item = node[key]
            given = labels.get(str(parts[0])) if depth == 1 and parts else None
            parts.append(given[key] if given and key < len(given) else item_label(item, key))
            node = item
        elif isinstance(node, dict) and node.get("kind") == key and _after_item(loc, depth):
            continue  # a discriminated union's tag (events), not a field the user wrote
        elif isinstance(key, str) and key.startswith("<") and key.endswith(">"):
            continue  # a tag of a union of a number and a mapping (config.schema.OpenPrice)
        elif key == "[key]":
            continue  # the error is about the key (a name) itself, named by the part before
        else:
            parts.append(name_part(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _after_item(loc: tuple[Any, ...], depth: int) -> bool:
    return depth > 0 and isinstance(loc[depth - 1], int)


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required field is missing",
    "tuple_type": "Input should be a list",
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
    if not isinstance(key, str):
        return None
    return RENAMED_KEYS.get((parent, key)) or (
        RENAMED_KEYS.get((None, key)) if parent not in ("strategy", "market") else None
    )


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def describe(error: dict[str, Any], union_tags: tuple[str, ...] = ()) -> str:
    """The problem part of one pydantic error, with the offending value shortened."""
    kind = error["type"]
    if kind == "union_tag_not_found":
        message = f"needs a `kind` ({', '.join(union_tags)})"
    else:
        message = _MESSAGES.get(kind, error["msg"])
    if kind == "extra_forbidden" and (new := _renamed(tuple(error["loc"]))):
        message = f"unknown key (renamed to `{new}`)"
    message = re.sub(r" or instance of \w+", "", message.removeprefix("Value error, "))
    if tuple(error["loc"][-1:]) == ("[key]",):
        message = f"name {message[0].lower()}{message[1:]}"
    value = error.get("input")
    if kind != "missing" and "input" in error and not isinstance(value, (dict, list)):
        hint = ""
        if kind in ("int_type", "float_type") and isinstance(value, str) and _looks_numeric(value):
            hint = "; write numbers without quotes"
        message += f" (got {shown(value)}{hint})"
    return one_line(message)
