"""Scenario configuration: schema, built-in archetypes, YAML loading and error text.

- ``schema``: the pydantic models (``Scenario``, ``Market``, ``Company``, ``Strategy``, events...)
  and ``merge``; ``llm-market schema`` prints their JSON Schema.
- ``archetypes``: ``BUILTIN_ARCHETYPES``, the built-in bundles of Company defaults.
- ``loading``: ``ScenarioError``, one-line error text, cross-field checks, ``expand_companies``,
  ``parse_scenario`` / ``read_yaml`` / ``load_scenario``, ``scenario_to_yaml``, ``json_schema``.
"""

from simulator.config.archetypes import BUILTIN_ARCHETYPES
from simulator.config.loading import (
    ScenarioError,
    expand_companies,
    json_schema,
    load_scenario,
    parse_scenario,
    read_yaml,
    scenario_to_yaml,
)
from simulator.config.schema import (
    Company,
    Event,
    InitialLink,
    LinkType,
    Market,
    Scenario,
    Segment,
    Strategy,
    merge,
)

__all__ = [
    "BUILTIN_ARCHETYPES",
    "Company",
    "Event",
    "InitialLink",
    "LinkType",
    "Market",
    "Scenario",
    "ScenarioError",
    "Segment",
    "Strategy",
    "expand_companies",
    "json_schema",
    "load_scenario",
    "merge",
    "parse_scenario",
    "read_yaml",
    "scenario_to_yaml",
]
