"""llm-market-sim: an agent-based simulator of competition and cooperation among LLM companies.

Quick start::

    from simulator import simulate
    result = simulate("scenarios/baseline.yaml")
    result.firms  # tidy pandas frame, one row per step x firm
"""

import gc as _gc

# The cyclic garbage collector is paused while the simulator's ~1,000 modules import: what
# they create lives on, so each full collection started by their allocations (two, ~0.1 s in
# all) would walk everything imported so far and free nothing.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from simulator.config import Scenario, ScenarioError, load_scenario
    from simulator.model import MarketModel, simulate
finally:
    if _collecting:
        _gc.enable()

__all__ = ["MarketModel", "Scenario", "ScenarioError", "load_scenario", "simulate"]
