"""One mechanism for every per-firm decision: a registry of rule classes per decision.

A rule is a class with a ``name``, a one-line ``description`` and a ``Params`` pydantic model
declaring its parameters (type, default, range, meaning). The scenario schema, validation and
``llm-market schema`` read the parameters from the registries, so adding a rule is one class in
one file (plus its tests): decorate it with its decision's ``register``.

A rule acts on the whole group of firms that use it at once: it receives the rows of those
firms and their parameters as arrays aligned with the rows. The model keeps one instance of
each rule in use, so a learning rule may keep state between steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simulator.market.params import Strict


class NoParams(Strict):
    """A rule without parameters."""


class Rule:
    """Base of every decision rule."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams


R = TypeVar("R", bound=Rule)


@dataclass
class Registry(Generic[R]):
    """The rules of one decision, selectable per firm by ``key`` in its strategy."""

    key: str  # the strategy field naming the rule, e.g. "pricing"
    label: str  # what the decision is, for messages: "pricing rule"
    default: str  # rule a firm uses when its strategy names none
    rules: dict[str, type[R]] = field(default_factory=dict)

    def register(self, rule: type[R]) -> type[R]:
        """Class decorator: add ``rule`` under its ``name``."""
        if not rule.name:
            raise ValueError(f"{rule.__qualname__} has no name")
        if rule.name in self.rules:
            raise ValueError(f"{self.label} {rule.name!r} is registered twice")
        self.rules[rule.name] = rule
        return rule

    def known(self) -> str:
        return ", ".join(sorted(self.rules))

    def check(self, name: str) -> str:
        """``name`` if it is a registered rule, else a ValueError listing the known ones."""
        if name not in self.rules:
            raise ValueError(f"unknown {self.label} {name!r}; known: {self.known()}")
        return name

    def make(self, name: str) -> R:
        """A fresh instance of rule ``name``."""
        try:
            return self.rules[name]()
        except KeyError:
            raise KeyError(f"unknown {self.label} {name!r} (known: {self.known()})") from None

    def describe(self) -> str:
        """The decision's rules with their descriptions, for the schema."""
        return ", ".join(f"{n} ({r.description})" for n, r in sorted(self.rules.items()))

    def parameters(self) -> dict[str, tuple[Any, FieldInfo, list[str]]]:
        """Every parameter any rule declares: name -> (type, field, rules that use it).

        Two rules may share a parameter (same name, type and default); its meaning must then
        be the same for both.
        """
        out: dict[str, tuple[Any, FieldInfo, list[str]]] = {}
        for rule_name, rule in sorted(self.rules.items()):
            for name, info in rule.Params.model_fields.items():
                if name in out:
                    annotation, first, users = out[name]
                    if annotation != info.annotation or first.default != info.default:
                        raise ValueError(
                            f"{self.label} parameter {name!r} is declared differently by "
                            f"{users[0]} and {rule_name}"
                        )
                    users.append(rule_name)
                else:
                    out[name] = (info.annotation, info, [rule_name])
        return out
