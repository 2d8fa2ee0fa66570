"""llm-market-sim: an agent-based simulator of competition and cooperation among LLM companies.

Quick start::

    from simulator import simulate
    result = simulate("scenarios/baseline.yaml")
    result.firms  # tidy pandas frame, one row per step x firm

The names below are imported on first use, so that ``import simulator.<module>`` (the
``llm-market`` command's ``simulator.cli`` among them) loads only what that module needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.config import Scenario, ScenarioError, load_scenario
    from simulator.model import MarketModel, simulate

_HOME = {
    "MarketModel": "simulator.model",
    "simulate": "simulator.model",
    "Scenario": "simulator.config",
    "ScenarioError": "simulator.config",
    "load_scenario": "simulator.config",
}
__all__ = ["MarketModel", "Scenario", "ScenarioError", "load_scenario", "simulate"]


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
