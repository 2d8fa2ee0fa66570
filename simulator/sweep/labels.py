"""Readable names in the sweep report: parameter paths shortened (events named by their label),
parameter points as text, and long outcome names wrapped instead of clipped."""

from __future__ import annotations

import re

import pandas as pd

LABEL_LINE = 22
"""Longest line of a panel or axis title; longer names wrap at their '.' and '_' (never cut)."""


def wrap_label(text: str, width: int = LABEL_LINE) -> str:
    """``text`` broken into lines of at most ``width`` characters (``<br>``), at '.', '_', ' '
    or '=' where possible, so a long outcome name is shown whole instead of clipped."""
    parts = re.split(r"(?<=[._ =])", text)
    lines, line = [], ""
    for part in parts:
        while len(part) > width:  # a part with no break inside: split it hard
            if line:
                lines.append(line)
                line = ""
            lines.append(part[:width])
            part = part[width:]
        if len(line) + len(part) > width and line:
            lines.append(line)
            line = ""
        line += part
    lines.append(line)
    return "<br>".join(piece for piece in lines if piece)


def short_labels(paths: list[str]) -> dict[str, str]:
    """Readable axis labels: the last two parts of each parameter path, unless that is ambiguous.

    ``companies.OpenLab.strategy.pricing`` -> ``strategy.pricing`` would lose the firm, so a
    label grows a part at a time until it is unique among the paths given.
    """
    labels: dict[str, str] = {}
    for path in paths:
        parts = path.split(".")
        for keep in range(2, len(parts) + 1):
            label = ".".join(parts[-keep:])
            clashes = [p for p in paths if p != path and (p == label or p.endswith("." + label))]
            if not clashes:
                break
        labels[path] = label if len(parts) > 1 else path
    return labels


def parameter_labels(paths: list[str], base_data: dict | None = None) -> dict[str, str]:
    """``short_labels``, except that a path into a scheduled event names the event by its label
    (or kind): ``events.0.step`` reads ``step of 'Frontier open-sources'``, not ``0.step``."""
    labels = short_labels(paths)
    events = (base_data or {}).get("events") or []
    for path in paths:
        parts = path.split(".")
        if len(parts) < 3 or parts[0] != "events":
            continue
        item = parts[1]
        event = None
        if item.isdigit() and int(item) < len(events):
            event = events[int(item)]
        else:
            event = next(
                (
                    e
                    for e in events
                    if isinstance(e, dict) and item in (e.get("name"), e.get("label"))
                ),
                None,
            )
        if isinstance(event, dict):
            name = event.get("label") or str(event.get("kind") or "event").replace("_", " ")
            labels[path] = f"{'.'.join(parts[2:])} of event '{name}'"
    return labels


def term_label(term: str, labels: dict[str, str]) -> str:
    name, sep, category = term.partition("=")
    return labels.get(name, name) + sep + category


def point_label(points: pd.DataFrame, point: int, labels: dict[str, str]) -> str:
    """'label=value, ...' of one parameter point (``points``: one row per point)."""
    values = points.loc[point]
    return ", ".join(f"{labels[k]}={v}" for k, v in values.items()) or f"point {point}"
