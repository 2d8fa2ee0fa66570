"""Pricing rule ``fixed``: hold the firm's current price.

The price a firm starts with (``initial_price``: an observed list price in a calibrated
scenario) stays until something else changes it: a ``release`` event's new list price
(simulator.market.events), which this rule then keeps. Like every pricing rule its price is
clipped to [floor, cap] (unit cost, or a market-sharing partner's price, up to the cap).
"""

from __future__ import annotations

from simulator.market.strategy.pricing import PricingRule, register


@register
class Fixed(PricingRule):
    name = "fixed"
    description = "keep the current price (the initial one, or a `release` event's new price)"

    def prices(self, view, firms, params):
        return view.prices[firms]
