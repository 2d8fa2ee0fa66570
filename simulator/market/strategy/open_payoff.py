"""Open-sourcing by expected payoff (``open_source_rule: payoff``).

A closed firm compares what opening its weights earns with what it costs, over the next H =
``open_source_horizon`` steps discounted at delta = ``open_source_discount`` per step, with
prices held where they are (simulator.market.open_source has the economics):

  gained  the one-off brand gain (market.open_model.releaser_brand_gain, decaying with the
          brand) and, from its next release on (in tau steps), a better model: community
          contributions of community_rate x its model's compute per step until then
  lost    the margin users take to the free open product (usability x its quality at
          user_price, as an extra product or a better outside option), and, from the rivals'
          next releases on, rivals that fine-tune from its weights (finetune_efficiency x its
          compute, where that beats theirs)

    Delta = sum_{t<tau} delta^t (pi_open,now - pi_closed,now)
          + sum_{tau<=t<H} delta^t (pi_open,later - pi_closed,later)

and it opens when Delta > 0. Unlike ``when_behind`` (a rank), the decision moves with the
payoffs: a larger brand gain or community, or a worse open product (low usability), make a
firm open; a usable open product that takes its users keeps it closed.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from simulator.market.demand import D
from simulator.market.open_source import open_price, with_open_model
from simulator.market.params import Strict
from simulator.market.strategy.context import annuity
from simulator.market.strategy.forward_rd import release_compute
from simulator.market.strategy.open_source_rule import OPEN_SOURCE_RULE, OpenSourceRule

Array = np.ndarray


def own_profit(state, i: int, prices, quality, brand, seg) -> float:
    """Firm i's profit at these products' prices (capacity applied), (p - c) min(D, K)."""
    demand, _ = D(prices, quality, brand, seg, state.size)
    sold = min(float(demand[i].sum()), float(state.capacity[i]))
    return (float(prices[i]) - float(state.unit_cost[i])) * sold


class Scene:
    """The firms' products (allied brands included) with or without extra open weights."""

    def __init__(self, context):
        self.context = context
        self.state = context.state
        prices, _, brand, _ = context.products()
        n = self.state.n_firms
        self.prices, self.brand = prices[:n].copy(), brand[:n].copy()
        self.terms = context.open_model

    def profit(self, i: int, quality: Array, open_quality: Array | None, brand: Array) -> float:
        """Firm i's profit with these firm qualities and brands and, unless None, an open
        model whose best weights reach ``open_quality`` per segment."""
        state, terms = self.state, self.terms
        prices, seg = self.prices, state.seg
        if open_quality is not None:
            prices, quality, brand, seg = with_open_model(
                prices,
                quality,
                brand,
                seg,
                terms.usability * open_quality,
                terms.mode,
                open_price(terms.user_price, state.price, state.firm_share),
            )
        return own_profit(state, i, prices, quality, brand, seg)


def next_qualities(context, rows: Array, compute: Array) -> Array:
    """Quality of the next models of ``rows`` trained with ``compute``; fixed-quality firms
    (and markets without a quality source) keep theirs."""
    state = context.state
    quality = state.quality[rows].copy()
    learns = ~state.fixed_quality[rows]
    if learns.any() and context.quality_source is not None:
        quality[learns] = context.quality_curve(compute[learns], state.data_mix[rows][learns])
    return quality


@OPEN_SOURCE_RULE.register
class Payoff(OpenSourceRule):
    name = "payoff"
    description = (
        "open when the discounted brand and community compute gained exceed the margin lost "
        "to the open product and to rivals fine-tuning from it"
    )

    class Params(Strict):
        open_source_discount: float = Field(
            0.99, gt=0, le=1, description="Discount factor per step applied to future payoffs."
        )
        open_source_horizon: int = Field(
            36, ge=1, description="Steps over which opening is weighed against staying closed."
        )

    def decide(self, context, firms, params):
        state, terms = context.state, context.open_model
        firms = np.asarray(firms, dtype=int)
        out = state.open_weights[firms].copy()
        closed = np.flatnonzero(~out)
        if not len(closed) or terms is None:
            return out
        scene = Scene(context)
        everyone = np.arange(state.n_firms)
        decay = float(context.brand_decay)
        existing = state.open_quality() if state.open_model_exists else None
        release = release_compute(context, everyone)  # each firm's next model, as things are
        closed_later = next_qualities(context, everyone, release)
        for g in closed:
            i = int(firms[g])
            delta = float(params["open_source_discount"][g])
            horizon = float(params["open_source_horizon"][g])
            tau = float(min(context.steps_to_release(np.array([i]))[0], horizon))
            brand = scene.brand.copy()
            brand[i] += terms.releaser_brand_gain
            later_brand = scene.brand.copy()
            later_brand[i] += terms.releaser_brand_gain * (1.0 - decay) ** tau
            # now: the open product appears; the firm's brand jumps
            mine = state.quality[i]
            best = mine if existing is None else np.maximum(existing, mine)
            now = scene.profit(i, state.quality, best, brand) - scene.profit(
                i, state.quality, existing, scene.brand
            )
            # later: own model gets the community's compute, rivals fine-tune from it
            community = terms.community_rate * state.model_compute[i] * tau
            rival_compute = np.maximum(release, terms.finetune_efficiency * state.model_compute[i])
            rival_compute[i] = release[i] + community
            open_later = next_qualities(context, everyone, rival_compute)
            best_later = open_later[i] if existing is None else np.maximum(existing, open_later[i])
            later = scene.profit(i, open_later, best_later, later_brand) - scene.profit(
                i, closed_later, existing, scene.brand
            )
            value = annuity(delta, 0.0, tau) * now + annuity(delta, tau, horizon - tau) * later
            out[g] = value > 0
        return out
