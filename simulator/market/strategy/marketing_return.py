"""Marketing at its marginal return (``marketing_budget: marginal_return``).

Marketing I adds to the brand stock this step (B' = (1 - d) B + I) and keeps paying while
the stock decays: the extra stock at t is I (1 - d)^t. Demand sees gamma_s ln(1 + B) in each
segment's logit utility, so at the current prices (own and rivals') the firm's profit
pi(B) = (p - c) min(sum_s M_s sigma_s(B), K) rises with brand with diminishing returns. The
rule spends

    I* = argmax_{0 <= I <= marketing_cash_share x cash}
         sum_{t<H} delta^t [pi(B_t + I (1 - d)^t) - pi(B_t)] - I,    B_t = (1 - d)^t B'(0)

(delta = ``marketing_discount``, H the steps until delta^t (1 - d)^t < 1e-4, at most 600), so
at an interior optimum the discounted marginal return of the last unit of brand equals its cost:
sum_t delta^t (1 - d)^t pi'(B_t + I* (1 - d)^t) = 1. No brand sensitivity, no margin or a
binding capacity give no marketing. Future marketing is not anticipated (each step tops up).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from simulator.market.params import Strict
from simulator.market.strategy.budgets import MARKETING_BUDGET, BudgetRule
from simulator.market.strategy.context import Valuation, maximise

Array = np.ndarray

TAIL = 1e-4
"""The horizon ends where a unit of brand spent now is worth less than this (discounted)."""
MAX_HORIZON = 600


def horizon(discount: Array, decay: float) -> int:
    """Steps until discount^t (1 - decay)^t falls below TAIL (at least 1, at most 600)."""
    factor = float(np.max(np.asarray(discount) * (1.0 - decay)))
    if factor <= 0:
        return 1
    if factor >= 1:
        return MAX_HORIZON
    return int(min(MAX_HORIZON, max(1, np.ceil(np.log(TAIL) / np.log(factor)))))


def brand_value(context, rows: Array, discount: Array):
    """W(I) (G, N) for spends I (G, N): the discounted profit the extra brand earns, less I."""
    decay = float(context.brand_decay)
    valuation = Valuation.of(context, rows)
    steps = np.arange(horizon(discount, decay))
    keep = (1.0 - decay) ** steps  # (H,)
    weight = np.asarray(discount, dtype=float)[:, None] ** steps[None, :]  # (G, H)
    start = (1.0 - decay) * valuation.brand  # this step's stock before marketing
    path = start[:, None] * keep[None, :]  # (G, H)
    g = len(rows)
    reference = valuation.profit_at_price(path)

    def value(spend: Array) -> Array:
        n = spend.shape[1]
        stock = path[:, None, :] + spend[:, :, None] * keep[None, None, :]  # (G, N, H)
        profit = valuation.profit_at_price(stock.reshape(g, -1)).reshape(g, n, -1)
        gain = ((profit - reference[:, None, :]) * weight[:, None, :]).sum(axis=2)
        return gain - spend

    return value


@MARKETING_BUDGET.register
class MarginalReturn(BudgetRule):
    name = "marginal_return"
    description = (
        "spend where the discounted marginal return of brand (logit demand at current prices) "
        "equals its cost, within `marketing_cash_share` of cash"
    )

    class Params(Strict):
        marketing_discount: float = Field(
            0.99, gt=0, lt=1, description="Discount factor per step applied to future gains."
        )
        marketing_cash_share: float = Field(
            0.1, ge=0, le=1, description="Budget: at most this share of cash per step."
        )

    def spend(self, context, firms, params):
        state = context.state
        firms = np.asarray(firms, dtype=int)
        out = np.zeros(len(firms))
        able = state.cash[firms] > 0
        if not able.any():
            return out
        rows = firms[able]
        discount = np.asarray(params["marketing_discount"], dtype=float)[able]
        share = np.asarray(params["marketing_cash_share"], dtype=float)[able]
        value = brand_value(context, rows, discount)
        out[able] = maximise(value, share * state.cash[rows])
        return out
