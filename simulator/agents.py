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
        self.archetype = spec.archetype or ""
        self.entered = model.steps  # 0 for firms present at the start
        self.open_source = spec.open_source
        self.negative_cash_steps = 0
        self.compliance_cost = 0.0  # per unit served, added by regulation events
        self.strategy = spec.strategy
        self.base_cost = spec.unit_cost
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
        self.data_cap = np.ones(len(segments))  # highest data-mix weight per segment (regulation)
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
        self.marketing = self.rd_spend = self.link_cost = self.pooled_compute = 0.0
        self.share = 0.0
        self.degree_centrality = 0.0
        self.update_unit_cost()

    def plan_budgets(self) -> None:
        """Marketing I and R&D R as shares of last revenue; marketing builds brand now."""
        s = self.strategy
        self.marketing = float(
            budget_from_revenue(self.revenue, s.marketing_share, s.marketing_min)
        )
        self.rd_spend = float(budget_from_revenue(self.revenue, s.rd_share, s.rd_min))
        self.brand = float(
            update_brand(self.brand, self.marketing, self.model.scenario.market.brand_decay)
        )

    def release(
        self, compute: float, quality: np.ndarray, bpb: np.ndarray, extrapolated: bool
    ) -> None:
        """Ship the next model, trained with ``compute``: it becomes the product's quality."""
        self.model_compute = compute
        self.pending_compute = 0.0
        self.last_release = self.model.steps
        self.generation += 1
        if not self.fixed_quality:
            self.quality, self.bpb, self.extrapolated = quality, bpb, bool(extrapolated)

    @property
    def own_rd_compute(self) -> float:
        """Training FLOPs this step's R&D budget buys."""
        return float(rd_compute(self.rd_spend, self.model.compute_price))

    def settle(
        self,
        demand: np.ndarray,
        sales: np.ndarray,
        link_cost: float = 0.0,
        pooled_compute: float = 0.0,
        community_compute: float = 0.0,
    ) -> None:
        """Accounting for one step: revenue, costs, profit, cash, experience, R&D pipeline."""
        self.demand, self.sales = demand, sales
        self.quantity = float(sales.sum())
        self.revenue = self.price * self.quantity
        self.link_cost, self.pooled_compute = link_cost, pooled_compute
        costs = (
            self.unit_cost * self.quantity
            + self.spec.fixed_cost
            + self.marketing
            + self.rd_spend
            + link_cost
        )
        self.profit = self.revenue - costs
        self.cash += self.profit
        self.negative_cash_steps = self.negative_cash_steps + 1 if self.cash < 0 else 0
        self.cumulative_output += self.quantity
        self.update_unit_cost()
        self.pending_compute += self.own_rd_compute + pooled_compute + community_compute

    def update_unit_cost(self) -> None:
        """Wright's law times the industry cost index, plus any compliance cost per unit."""
        market = self.model.scenario.market
        self.unit_cost = (
            float(
                unit_cost(
                    self.base_cost,
                    self.cumulative_output,
                    market.learning_output_scale,
                    self.spec.learning_rate,
                    self.model.cost_index,
                )
            )
            + self.compliance_cost
        )

    def open_weights(self) -> None:
        """Release the current model's weights: community goodwill adds to the brand."""
        if not self.open_source:
            self.open_source = True
            self.brand += self.model.scenario.market.open_source.releaser_brand_gain

    @property
    def innovation(self) -> float:
        """Innovation capability: training compute stock per model generation."""
        return self.model_compute / self.generation
