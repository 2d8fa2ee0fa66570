"""CompanyAgent: one LLM company as a Mesa agent, a thin view over its row of MarketState.

The firm's state lives in the model's MarketState (columns over firms); the agent only knows
its name, archetype and row, so per-agent code never reaches into the scenario. Every state
column is readable as an attribute (``agent.price``, ``agent.quality``), which is what Mesa's
DataCollector agent reporters read.
"""

from __future__ import annotations

import numpy as np

from simulator.market.state import FIRM_MATRICES, FIRM_VECTORS, MarketState
from simulator.mesa_import import mesa


class MarketShell(mesa.Model):
    """What an agent needs of its model: a mesa.Model holding the market state."""

    state: MarketState


class CompanyAgent(mesa.Agent):
    """A firm: a name, an archetype and a row of the market state."""

    model: MarketShell

    def __init__(self, model: MarketShell, name: str, archetype: str, row: int):
        super().__init__(model)
        self.name = name
        self.archetype = archetype
        self.row = row  # kept current by the model when rows before it are removed

    @property
    def margin(self) -> float:
        """Profit over revenue in the last step (NaN without revenue)."""
        revenue = self.revenue
        return self.profit / revenue if revenue > 0 else float("nan")

    @property
    def innovation(self) -> float:
        """Innovation capability: training compute stock per model generation."""
        return self.model_compute / self.generation


def _column(name: str) -> property:
    def read(agent: CompanyAgent) -> np.generic | np.ndarray:
        return agent.model.state.columns[name][agent.row]

    return property(read, doc=f"This firm's `{name}` in the market state.")


for _name in (*FIRM_VECTORS, *FIRM_MATRICES):
    setattr(CompanyAgent, _name, _column(_name))
