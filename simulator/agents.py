"""CompanyAgent: one LLM company. It holds its state; the economics live in simulator.market."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from simulator.config import Company
from simulator.market.demand import update_brand
from simulator.market.strategy import budget_from_revenue
from simulator.market.supply import rd_compute, unit_cost

if TYPE_CHECKING:
    from simulator.model import MarketModel


class CompanyAgent(mesa.Agent):
    """A firm: price, costs, cash, brand, its current model's quality, its R&D pipeline."""

    model: MarketModel

    def __init__(self, model: MarketModel, spec: Company):
        super().__init__(model)
        segments = model.scenario.segment_names
        self.spec = spec
        self.name = spec.name
        self.strategy = spec.strategy
        self.base_cost = spec.unit_cost
        self.unit_cost = spec.unit_cost * model.scenario.market.cost_index
        self.price = spec.initial_price if spec.initial_price is not None else 1.5 * spec.unit_cost
        self.price_cap = spec.price_cap or model.scenario.market.price_cap
        self.capacity = spec.capacity if spec.capacity is not None else np.inf
        self.cash = spec.cash
        self.brand = spec.brand
        # product: fixed quality, or quality of the model trained with the R&D compute stock
        self.fixed_quality = spec.quality is not None
        self.quality = np.array([(spec.quality or {}).get(s, 0.0) for s in segments])
        mix = spec.data_mix or dict.fromkeys(segments, 1.0)
        self.data_mix = np.array([mix.get(s, 0.0) for s in segments], dtype=float)
        self.data_mix /= self.data_mix.sum()
        self.model_compute = spec.initial_compute  # training FLOPs behind the shipped model
        self.pending_compute = 0.0  # R&D compute bought since the last release
        self.bpb = np.full(len(segments), np.nan)
        self.extrapolated = False
        self.last_release = 0
        self.generation = 1
        # flows of the last step
        self.cumulative_output = 0.0
        self.demand = np.zeros(len(segments))
        self.sales = np.zeros(len(segments))
        self.quantity = self.revenue = self.profit = 0.0
        self.marketing = self.rd_spend = 0.0
        self.share = 0.0

    def plan_budgets(self) -> None:
        """Marketing I and R&D R as shares of last revenue; marketing builds brand now."""
        s = self.strategy
        self.marketing = float(budget_from_revenue(self.revenue, s.marketing_share, s.marketing_min))
        self.rd_spend = float(budget_from_revenue(self.revenue, s.rd_share, s.rd_min))
        self.brand = float(update_brand(self.brand, self.marketing, self.model.scenario.market.brand_decay))

    def release(self, quality: np.ndarray, bpb: np.ndarray, extrapolated: bool) -> None:
        """Ship the next model: the R&D compute stock becomes the product's quality."""
        self.model_compute += self.pending_compute
        self.pending_compute = 0.0
        self.last_release = self.model.steps
        self.generation += 1
        if not self.fixed_quality:
            self.quality, self.bpb, self.extrapolated = quality, bpb, bool(extrapolated)

    def settle(self, demand: np.ndarray, sales: np.ndarray) -> None:
        """Accounting for one step: revenue, costs, profit, cash, experience, R&D pipeline."""
        market = self.model.scenario.market
        self.demand, self.sales = demand, sales
        self.quantity = float(sales.sum())
        self.revenue = self.price * self.quantity
        costs = self.unit_cost * self.quantity + self.spec.fixed_cost + self.marketing + self.rd_spend
        self.profit = self.revenue - costs
        self.cash += self.profit
        self.cumulative_output += self.quantity
        self.unit_cost = float(unit_cost(self.base_cost, self.cumulative_output,
                                         market.learning_output_scale, self.spec.learning_rate,
                                         self.model.cost_index))
        self.pending_compute += float(rd_compute(self.rd_spend, self.model.compute_price))

    @property
    def effective_compute(self) -> float:
        """Compute the next model is trained with: the shipped model's plus what is pending."""
        return self.model_compute + self.pending_compute
