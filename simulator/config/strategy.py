"""The Strategy model of a firm, built from the decision registries (simulator.market.strategy):
a field naming the firm's rule per decision, then every rule's parameters with their ranges."""

from __future__ import annotations

import copy
from typing import Any

import annotated_types
from pydantic import Field, create_model, field_validator

from simulator.market.params import MAX_MONEY, Strict
from simulator.market.strategy import DECISIONS

__all__ = ["Strategy", "_strategy_model"]

_BOUND_WORDS = (
    (annotated_types.Ge, "ge", "at least"),
    (annotated_types.Gt, "gt", "above"),
    (annotated_types.Le, "le", "at most"),
    (annotated_types.Lt, "lt", "below"),
)


def _bounded(info: Any) -> Any:
    """A copy of a rule parameter's field whose description states its range, with an upper
    bound of MAX_MONEY added if its rule declared none (every strategy number has a documented
    finite range)."""
    info = copy.copy(info)
    if info.annotation not in (int, float):
        return info
    if not any(isinstance(m, (annotated_types.Le, annotated_types.Lt)) for m in info.metadata):
        info.metadata = [*info.metadata, annotated_types.Le(MAX_MONEY)]
    words = [
        f"{word} {getattr(m, attr):g}"
        for kind, attr, word in _BOUND_WORDS
        for m in info.metadata
        if isinstance(m, kind)
    ]
    info.description = f"{info.description} Range: {', '.join(words)}."
    return info


def _strategy_model() -> type[Strict]:
    """The Strategy model, built from the decision registries (simulator.market.strategy).

    For each decision, a field naming the firm's rule (e.g. ``pricing: undercut``); then every
    parameter any rule declares, flat (``undercut_by: 0.05``), described with the rules that
    read it. A firm carries every parameter; only its chosen rules read theirs.
    """
    fields: dict[str, Any] = {}
    validators: dict[str, Any] = {}
    for registry in DECISIONS:
        fields[registry.key] = (
            str,
            Field(
                registry.default,
                description=f"{registry.label.capitalize()}: " + registry.describe() + ".",
            ),
        )
        validators[f"_known_{registry.key}"] = field_validator(registry.key)(
            classmethod(lambda cls, value, registry=registry: registry.check(value))
        )
    for registry in DECISIONS:
        for name, (annotation, info, users) in registry.parameters().items():
            if name in fields:
                raise ValueError(f"strategy parameter {name!r} is declared by two decisions")
            info = _bounded(info)
            info.description = f"{', '.join(users)} ({registry.key}): {info.description}"
            fields[name] = (annotation, info)
    model = create_model(
        "Strategy",
        __base__=Strict,
        __doc__="A firm's decision rules, one per decision, and the rules' parameters.",
        __validators__=validators,
        **fields,
    )
    return model


Strategy = _strategy_model()
