"""Learning pricing (``pricing: q_learning``): each firm learns its price by Q-learning.

The parameters are those of the algorithmic-pricing literature (Calvano et al. 2020, AER;
simulator.market.qlearning has the algorithm and the batched learner behind `llm-market
learn`). The learning rate is ``q_learning_rate`` rather than ``learning_rate``: strategy
parameters sit beside a company's own fields, and ``companies[].learning_rate`` already means
Wright's-law cost learning; one name keeps one meaning.

Inside an ordinary ``llm-market run`` the rule learns online from the market itself. At its
first decision each firm fixes its price grid from the static Bertrand-Nash and joint-profit
prices of the market as it then is (simulator.market.equilibrium; products no firm prices are
folded into the outside option). Its state is the last ``memory`` periods of (own price
index, rivals' mean price index on its own grid): with two firms that is every firm's price,
with more it keeps the table small whatever the number of rivals. Each step it is rewarded
with its own profit of the step just accounted (the profit column, so costs of R&D, marketing
and links are in it; they move every price's value alike), updates the previous state's
value and picks its next price epsilon-greedily (epsilon = exp(-exploration_decay t), t the
steps it has priced), drawing from the model's rng. Qualities, costs and rivals change in a
market, so the learned game is not stationary there, and with the literature's decay
(4e-6) a run of a few hundred steps is almost pure exploration: `llm-market learn` repeats
the static stage game instead, for the millions of periods learning takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from simulator.market.equilibrium import NoEquilibriumError, bertrand_nash, joint_profit_prices
from simulator.market.params import Strict
from simulator.market.qlearning import epsilon, fold_products, price_grid, q_update
from simulator.market.strategy.pricing import PricingRule, own_market, register

Array = np.ndarray


class QLearningParams(Strict):
    q_learning_rate: float = Field(
        0.15,
        gt=0,
        le=1,
        description="alpha: weight of each new observation in a Q-value "
        "(named apart from companies[].learning_rate, which is Wright's law).",
    )
    exploration_decay: float = Field(
        4e-6, ge=0, description="beta: exploration probability epsilon_t = exp(-beta t)."
    )
    discount: float = Field(0.95, ge=0, lt=1, description="delta: discount factor per period.")
    price_grid: int = Field(15, ge=2, le=100, description="Number of prices on the grid.")
    grid_extension: float = Field(
        0.1,
        ge=0,
        le=10,
        description="The grid spans the static Nash and joint-profit prices extended by this "
        "fraction of their distance on both sides.",
    )
    memory: int = Field(
        1, ge=1, le=4, description="Periods of past prices (all firms') forming the state."
    )


@dataclass
class Learner:
    """One firm's online learner."""

    grid: Array  # (k,)
    q: Array  # (states, k)
    memory: int
    seen: list[int] = field(default_factory=list)  # (own, rival) pair indices, newest last
    state: int | None = None
    action: int | None = None
    periods: int = 0

    def observe(self, own_price: float, rival_price: float) -> int:
        """The state index after observing last step's prices."""
        k = len(self.grid)
        own = int(np.abs(self.grid - own_price).argmin())
        rival = int(np.abs(self.grid - rival_price).argmin())
        self.seen = ([own * k + rival] * self.memory if not self.seen else self.seen)[1:] + [
            own * k + rival
        ]
        index = 0
        for pair in self.seen:
            index = index * k * k + pair
        return index


def grids_for(view, firms: Array, params: dict[str, Array]) -> list[Array]:
    """Each firm's grid from the current market's static benchmarks (firms only)."""
    n = view.n_firms if view.n_firms is not None else len(view.prices)
    seg = fold_products(view.prices, view.quality, view.brand, view.seg, n)
    costs = view.costs[:n]
    quality, brand = view.quality[:n], view.brand[:n]
    try:
        nash = bertrand_nash(costs, quality, brand, seg, view.size)
        joint = joint_profit_prices(costs, quality, brand, seg, view.size)
    except (NoEquilibriumError, ValueError, FloatingPointError):
        width = float(np.max(seg.mu / seg.alpha))
        nash, joint = costs + width, costs + 4.0 * width
    out = []
    for g, i in enumerate(firms):
        points, extension = int(params["price_grid"][g]), float(params["grid_extension"][g])
        grid = price_grid(nash[i : i + 1], joint[i : i + 1], points, extension)[:, 0]
        out.append(np.clip(grid, view.floor[i], view.cap[i]))
    return out


@register
class QLearning(PricingRule):
    name = "q_learning"
    description = (
        "learn prices by Q-learning on a grid around the static Nash and joint-profit prices "
        "(Calvano et al. 2020); `llm-market learn` runs the repeated stage game"
    )
    Params = QLearningParams

    def __init__(self) -> None:
        self.learners: dict[str, Learner] = {}
        self.rng = np.random.default_rng(0)

    def prices(self, view, firms, params):
        firms = np.asarray(firms, dtype=int)
        names = view.names or tuple(str(i) for i in range(len(view.prices)))
        rng = view.rng if view.rng is not None else self.rng
        new = [g for g, i in enumerate(firms) if names[i] not in self.learners]
        if new:
            self._start(view, firms, new, params, names)
        n = view.n_firms if view.n_firms is not None else len(view.prices)
        rival_mean = (view.prices[:n].sum() - view.prices[firms]) / max(n - 1, 1)
        out = np.empty(len(firms))
        for g, i in enumerate(firms):
            learner = self.learners[names[i]]
            rival = rival_mean[g] if n > 1 else view.prices[i]
            state = learner.observe(float(view.prices[i]), float(rival))
            if learner.action is not None and view.profit is not None:
                q_update(
                    learner.q,
                    learner.state,
                    learner.action,
                    float(view.profit[i]),
                    state,
                    float(params["q_learning_rate"][g]),
                    float(params["discount"][g]),
                )
            explore = rng.random() < epsilon(learner.periods, params["exploration_decay"][g])
            k = len(learner.grid)
            action = int(rng.integers(k)) if explore else int(learner.q[state].argmax())
            learner.state, learner.action = state, action
            learner.periods += 1
            out[g] = learner.grid[action]
        return out

    def _start(self, view, firms: Array, new: list[int], params, names) -> None:
        """Grids and initial Q-values of firms seen for the first time: each price's
        one-period profit against the rivals' last prices, / (1 - delta), in every state."""
        chosen = firms[new]
        local = {k: np.asarray(v)[new] for k, v in params.items()}
        grids = grids_for(view, chosen, local)
        market = own_market(view, chosen)
        for g, i in enumerate(chosen):
            grid = grids[g]
            memory = int(local["memory"][g])
            profit = market.take(np.full(len(grid), g)).profit(grid)
            q0 = profit / (1.0 - float(local["discount"][g]))
            states = len(grid) ** (2 * memory)
            self.learners[names[i]] = Learner(grid, np.tile(q0, (states, 1)), memory)
