"""Forward-looking R&D (``rd_budget: forward``): invest while the next model's quality pays.

R&D spent now buys training compute that ships with the firm's next model, in tau steps
(tau = steps to its next release, this one included). The rule values a plan of spending R per
step until then:

    compute at release  C(R) = max(own model, fine-tuning base) + pending + tau R / compute_price
    quality             Q(R) = quality source (the measured curve) at C(R) and the firm's mix
    gain per step       g(R) = pi(Q(R)) - pi(Q(0)),  pi(Q) = max_p (p - c) min(D(p; Q), K)
                        (logit demand, rivals' prices and qualities as they are now)
    value               V(R) = g(R) sum_{t=tau}^{tau+H-1} delta^t - R sum_{t<tau} delta^t

and spends argmax_{0 <= R <= rd_cash_share x cash} V(R): it invests while the discounted
share and margin the better model earns over its first H = ``rd_horizon`` steps exceed the
discounted cost (delta = ``rd_discount`` per step), and nothing when quality earns nothing
(zero quality sensitivity, fixed quality) or the firm has no cash. Profit is at the own
best-response price, so a better model is valued for the margin it allows as well as the
share it takes. Segment sizes are held at this step's (growth is not projected).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from simulator.market.open_source import finetune_base_compute
from simulator.market.params import Strict
from simulator.market.strategy.budgets import RD_BUDGET, BudgetRule
from simulator.market.strategy.context import Valuation, annuity, maximise
from simulator.market.supply import rd_compute

Array = np.ndarray


def release_compute(context, rows: Array) -> Array:
    """Compute the next model of each firm in ``rows`` gets without more R&D."""
    state = context.state
    efficiency = getattr(context.open_model, "finetune_efficiency", 0.0)
    base = finetune_base_compute(
        state.model_compute, state.open_weights, efficiency, state.retired_open_compute
    )
    return np.maximum(state.model_compute[rows], base) + state.pending_compute[rows]


@RD_BUDGET.register
class ForwardLooking(BudgetRule):
    name = "forward"
    description = (
        "spend while the discounted share and margin the next model's quality earns (measured "
        "quality curve, logit demand) exceed the cost, within `rd_cash_share` of cash"
    )

    class Params(Strict):
        rd_discount: float = Field(
            0.99, gt=0, le=1, description="Discount factor per step applied to future gains."
        )
        rd_horizon: int = Field(
            24, ge=1, description="Steps after its release over which the next model's gain counts."
        )
        rd_cash_share: float = Field(
            0.1, ge=0, le=1, description="Budget: at most this share of cash per step."
        )

    def spend(self, context, firms, params):
        state = context.state
        firms = np.asarray(firms, dtype=int)
        out = np.zeros(len(firms))
        learns = ~state.fixed_quality[firms] & (state.cash[firms] > 0)
        if not learns.any() or context.quality_source is None:
            return out
        rows = firms[learns]
        local = {k: np.asarray(v)[learns] for k, v in params.items()}
        budget = np.asarray(local["rd_cash_share"], dtype=float) * state.cash[rows]
        out[learns] = maximise(rd_value(context, rows, local), budget)
        return out


def rd_value(context, rows: Array, params: dict[str, Array]):
    """V(R) (G, N) of spending R (G, N) per step until the next release, for firms ``rows``."""
    state = context.state
    discount = np.asarray(params["rd_discount"], dtype=float)
    horizon = np.asarray(params["rd_horizon"], dtype=float)
    tau = context.steps_to_release(rows).astype(float)
    base = release_compute(context, rows)
    mix = state.data_mix[rows]
    valuation = Valuation.of(context, rows)
    gain_weight = annuity(discount, tau, horizon)  # (G,)
    cost_weight = annuity(discount, 0.0, tau)
    reference = valuation.best_profit(context.quality_curve(base[:, None], mix[:, None, :]))

    def value(spend: Array) -> Array:
        compute = base[:, None] + rd_compute(spend * tau[:, None], state.compute_price)
        quality = context.quality_curve(compute, mix[:, None, :])
        gain = valuation.best_profit(quality) - reference
        return gain * gain_weight[:, None] - spend * cost_weight[:, None]

    return value
