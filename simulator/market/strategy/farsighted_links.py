"""Farsighted links (``link_rule: farsighted``): a link valued over its term, discounted.

``gain_seeking`` takes a link whose expected gain per step g beats its cost per step c. A
link is held for a term of L steps (market.network.term), its cost is paid every step, but
not every gain arrives when the cost is paid: compute pooled by a joint_rd partner in step t
is worth something only once it ships in the firm's next model, at the first release after t
(d(t) steps later, 1 <= d(t) <= T, the firm's release cycle). The farsighted rule values a
link of type k over its term at

    V = sum_{t<L} delta^t (g delta^{d_k(t)} - c),
    d_joint_rd(t) = d(t),   d_alliance(t) = d_market_sharing(t) = 0

(delta = ``link_discount`` per step) and takes it when V > 0 and the type is among its
``link_types``. With delta = 1 it agrees with gain_seeking; with delta < 1 it turns down
joint R&D whose pooled compute waits long for a release, and more so with longer release
cycles. Alliances and market sharing pay as they go and are valued as gain_seeking values
them.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from simulator.market.strategy.links import (
    LINK_RULE,
    GainSeeking,
    takes_part,
)

Array = np.ndarray

DELAYED = ("joint_rd",)
"""Link types whose gain arrives with the firm's next release."""


def delayed_weight(discount: Array, first_delay: Array, cycle: Array, term: int) -> Array:
    """sum_{t<term} delta^(t + d(t)) / sum_{t<term} delta^t, d(t) = ((d0 - 1 - t) mod T) + 1:
    what a gain that waits for the next release is worth per unit of cost paid as it goes."""
    t = np.arange(term)[None, :]
    delay = np.mod(first_delay[:, None] - 1 - t, cycle[:, None]) + 1
    discount = np.asarray(discount, dtype=float)[:, None]
    return (discount ** (t + delay)).sum(axis=1) / (discount**t).sum(axis=1)


@LINK_RULE.register
class Farsighted(GainSeeking):
    """Without a situation (or for a type that pays as it goes) it decides as gain_seeking.
    V > 0 only where the net gain g - c is positive (the delay weights are at most 1 and the
    cost is not negative), so it asks for a net gain as gain_seeking does (needs_net_gain)."""

    name = "farsighted"
    description = (
        "value a link over its term, discounted at `link_discount` (joint R&D pays only when "
        "the next model ships); take it if that beats the discounted cost"
    )

    class Params(GainSeeking.Params):
        link_discount: float = Field(
            0.95, gt=0, le=1, description="Discount factor per step over a link's term."
        )

    def decide(self, link_type, net_gain, firms, params, situation):
        if situation is None or link_type not in DELAYED:
            return self.willing(link_type, net_gain, firms, params)
        cost = float(situation.cost[link_type])
        gain = net_gain + cost
        weight = delayed_weight(
            params["link_discount"],
            situation.steps_to_release(firms),
            situation.release_cycle[firms],
            situation.term,
        )
        value = gain * weight[:, None] - cost  # V / sum_t delta^t
        return (value > 0) & takes_part(params["link_types"], link_type)[:, None]
