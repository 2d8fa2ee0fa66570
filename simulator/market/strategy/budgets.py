"""Budget decisions: R&D spend R (registry ``RD_BUDGET``) and marketing spend I
(registry ``MARKETING_BUDGET``), each a rule over the firms that use it.

A budget rule returns this step's spend (money units) for its firms from last step's
outcomes; marketing builds brand stock, R&D buys training compute (market.supply.rd_compute).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from simulator.market.params import Strict
from simulator.market.strategy.registry import Registry, Rule

Array = np.ndarray


class BudgetRule(Rule):
    """Base class: spend per firm in ``firms`` given last step's revenue (all firms)."""

    def budget(self, revenue: Array, firms: Array, params: dict[str, Array]) -> Array:
        raise NotImplementedError

    def spend(self, context, firms: Array, params: dict[str, Array]) -> Array:
        """What the decision phase calls, with the step's DecisionContext
        (simulator.market.strategy.context); rules that look ahead override it."""
        return self.budget(context.state.revenue, firms, params)


RD_BUDGET: Registry[BudgetRule] = Registry("rd_budget", "R&D budget rule", "revenue_share")
MARKETING_BUDGET: Registry[BudgetRule] = Registry(
    "marketing_budget", "marketing budget rule", "revenue_share"
)


def budget_from_revenue(revenue: Array, share: Array, minimum: Array) -> Array:
    """Spend = max(share * last revenue, minimum).

    The minimum lets a pre-revenue entrant keep investing out of its cash.
    """
    return np.maximum(
        np.asarray(share) * np.maximum(np.asarray(revenue, dtype=float), 0.0), minimum
    )


@RD_BUDGET.register
class RdRevenueShare(BudgetRule):
    name = "revenue_share"
    description = "R&D spend = max(`rd_share` x last revenue, `rd_min`)"

    class Params(Strict):
        rd_share: float = Field(0.15, ge=0, le=1, description="R&D spend R as a share of revenue.")
        rd_min: float = Field(0.0, ge=0, description="R&D spend floor per step (paid from cash).")

    def budget(self, revenue, firms, params):
        return budget_from_revenue(revenue[firms], params["rd_share"], params["rd_min"])


@MARKETING_BUDGET.register
class MarketingRevenueShare(BudgetRule):
    name = "revenue_share"
    description = "marketing spend = max(`marketing_share` x last revenue, `marketing_min`)"

    class Params(Strict):
        marketing_share: float = Field(
            0.05, ge=0, le=1, description="Marketing spend I as a share of revenue."
        )
        marketing_min: float = Field(0.0, ge=0, description="Marketing spend floor per step.")

    def budget(self, revenue, firms, params):
        return budget_from_revenue(
            revenue[firms], params["marketing_share"], params["marketing_min"]
        )


DATA_BUDGET: Registry[BudgetRule] = Registry("data_budget", "data budget rule", "none")
"""Licensed data: money a firm spends buying training data (market.data.license_price)."""


@DATA_BUDGET.register
class NoDataBudget(BudgetRule):
    name = "none"
    description = "buys no data (its data grows only by user feedback and partners)"

    def budget(self, revenue, firms, params):
        return np.zeros(len(firms))


@DATA_BUDGET.register
class DataRevenueShare(BudgetRule):
    name = "revenue_share"
    description = (
        "data spend = max(`data_share` x last revenue, `data_min`), buying licensed data at "
        "market.data.license_price (needs market.data)"
    )

    class Params(Strict):
        data_share: float = Field(
            0.05, ge=0, le=1, description="Spend on licensed data as a share of revenue."
        )
        data_min: float = Field(0.0, ge=0, description="Data spend floor per step.")

    def budget(self, revenue, firms, params):
        return budget_from_revenue(revenue[firms], params["data_share"], params["data_min"])
