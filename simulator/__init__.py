"""llm-market-sim: an agent-based simulator of competition and cooperation among LLM companies.

Quick start::

    from simulator import simulate
    result = simulate("scenarios/baseline.yaml")
    result.firms  # tidy pandas frame, one row per step x firm
"""

from simulator.config import Scenario, ScenarioError, load_scenario
from simulator.model import MarketModel, simulate

__all__ = ["MarketModel", "Scenario", "ScenarioError", "load_scenario", "simulate"]
