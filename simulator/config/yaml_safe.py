"""YAML reading that refuses hostile input quickly and with bounded memory.

``load_yaml(text)`` is ``yaml.safe_load`` (libyaml's parser when present, PyYAML's composer and
safe constructor) with these differences, each raising a ``yaml.MarkedYAMLError`` whose
problem names the line:

- a key repeated in one mapping is an error (a typo must never silently win): ``duplicate key
  'cash' (first on line 3)``; keys merged in with ``<<:`` may still be overridden;
- nesting deeper than ``MAX_DEPTH`` levels is refused before it is built;
- a document of more than ``MAX_NODES`` values, counting every use of an alias as a copy of
  what it names, is refused as soon as the count passes the limit (alias bombs: a few lines
  that expand to billions of values); an alias to the node that contains it is refused;
- a value that cannot be constructed (an integer of more than 4,300 digits, a date like
  2024-13-45, ``!!float abc``) is an error naming its line, not a ValueError;
- numbers in exponent form without a dot (``1e24``, ``5E-3``) are floats, as in YAML 1.2,
  instead of the strings PyYAML's YAML 1.1 rules make of them.

``MAX_FILE_BYTES`` caps what ``simulator.config.loading.read_yaml`` reads from a file.
``dump_yaml`` writes the YAML the project stores (scenario.yaml, sweep and tournament specs).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest scenario or sweep file read: 4 MiB (10,000 firms written out one per line: 2 MB)."""
MAX_NODES = 500_000
"""Most values (scalars, lists, mappings) a document may expand to, aliases counted per use
(10,000 firms written out: ~270,000)."""
MAX_DEPTH = 64
"""Deepest nesting of lists and mappings (a scenario needs 6)."""

MERGE_TAG = "tag:yaml.org,2002:merge"

try:  # libyaml's parser is ~3x faster; the composer stays PyYAML's, so that it can count
    from yaml.cyaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    CParser = None


class _Resolver(Resolver):
    """PyYAML's YAML 1.1 resolver, plus exponent floats without a dot (YAML 1.2): 1e24."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


class _Counting(Composer, SafeConstructor, _Resolver):
    """Safe loading that counts and bounds what it composes (see the module docstring); the
    subclasses below add a parser (libyaml's or PyYAML's)."""

    def _start(self) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _Resolver.__init__(self)
        self._depth = 0
        self._total = 0
        self._sizes: dict[int, int] = {}  # id(anchored node) -> values it expands to

    def _count(self, n: int, mark: Any) -> None:
        self._total += n
        if self._total > MAX_NODES:
            raise ComposerError(
                None,
                None,
                f"the document expands to more than {MAX_NODES:,} values (aliases count at "
                "every use)",
                mark,
            )

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if self.check_event(AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._sizes:
                raise ComposerError(
                    None,
                    None,
                    f"alias *{event.anchor} refers to a node containing it",
                    event.start_mark,
                )
            node = super().compose_node(parent, index)
            self._count(self._sizes[id(node)], event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark
            )
        before = self._total
        self._count(1, event.start_mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if getattr(event, "anchor", None) is not None:
            self._sizes[id(node)] = self._total - before
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[Any, Any] = {}
        for key_node, _value in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            key = self._key(key_node)
            if key in seen:
                raise ComposerError(
                    None,
                    None,
                    f"duplicate key {key_node.value[:80]!r} (first on line {seen[key].line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return node

    def _key(self, node: ScalarNode) -> Any:
        """The key a scalar node constructs to (so `1` and `1.0` collide as in a dict)."""
        constructor = self.yaml_constructors.get(node.tag)
        try:
            key = constructor(self, node) if constructor else node.value
            hash(key)
        except Exception:  # an invalid scalar is reported when it is constructed
            return (node.tag, node.value)
        return key

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            value = node.value if isinstance(node, ScalarNode) else node.tag
            raise ConstructorError(
                None, None, f"cannot read the value {str(value)[:60]!r} ({exc})", node.start_mark
            ) from None


class _PyLoader(_Counting, Reader, Scanner, Parser):
    def __init__(self, text: str):
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        self._start()


if CParser is not None:

    class _CLoader(_Counting, CParser):
        def __init__(self, text: str):
            CParser.__init__(self, text)
            self._start()

else:  # pragma: no cover
    _CLoader = _PyLoader


def load_yaml(text: str, fast: bool = True) -> Any:
    """Parse one YAML document from ``text`` within the limits above (yaml.YAMLError if not).

    ``fast`` uses libyaml's parser when PyYAML has it, else PyYAML's own (same results)."""
    loader = (_CLoader if fast else _PyLoader)(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(data: Any, width: int | None = None) -> str:
    """``yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=width)``: keys in the
    order given, text as written. With libyaml's emitter when PyYAML has it (the same text,
    ~5x faster: a run's scenario.yaml took 30 ms with PyYAML's own)."""
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=width)
