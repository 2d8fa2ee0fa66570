"""Strategy: one registry of rule classes per decision a firm takes each step.

| decision | registry | module |
|---|---|---|
| price, R = h(P_1..P_n) | ``PRICING`` | pricing.py |
| R&D budget | ``RD_BUDGET`` | budgets.py |
| licensed-data budget | ``DATA_BUDGET`` | budgets.py |
| marketing budget | ``MARKETING_BUDGET`` | budgets.py |
| open-sourcing | ``OPEN_SOURCE_RULE`` | open_source_rule.py |
| partnership links | ``LINK_RULE`` | links.py |
| segment focus | ``FOCUS`` | focus.py |

Rules that choose (compare payoffs with the market's model of itself) live in their own
modules, imported below: forward_rd.py (R&D), marketing_return.py, open_payoff.py,
farsighted_links.py, learning.py (Q-learning prices); context.py is what they see.

Adding a rule: one class in the decision's module (or a new module imported here), with a
``name``, a ``description``, a ``Params`` model for its parameters, the decision's method,
and the decision's ``register`` decorator. The scenario schema picks it up from ``DECISIONS``.
"""

from simulator.market.strategy import (  # noqa: F401  (each rule module registers its rules)
    farsighted_links,
    fixed,
    forward_rd,
    learning,
    marketing_return,
    open_payoff,
)
from simulator.market.strategy.budgets import (
    DATA_BUDGET,
    MARKETING_BUDGET,
    RD_BUDGET,
    budget_from_revenue,
)
from simulator.market.strategy.focus import FOCUS
from simulator.market.strategy.links import LINK_RULE, LINK_TYPES
from simulator.market.strategy.open_source_rule import OPEN_SOURCE_RULE
from simulator.market.strategy.pricing import (
    PRICING,
    PRICING_RULES,
    MarketView,
    PricingRule,
    best_response_prices,
    make_rule,
    own_market,
    register,
)
from simulator.market.strategy.registry import NoParams, Registry, Rule

DECISIONS: tuple[Registry, ...] = (
    PRICING,
    RD_BUDGET,
    DATA_BUDGET,
    MARKETING_BUDGET,
    OPEN_SOURCE_RULE,
    LINK_RULE,
    FOCUS,
)
"""Every decision's registry, in the order a step takes the decisions."""
DECISION_BY_KEY: dict[str, Registry] = {registry.key: registry for registry in DECISIONS}
"""A decision's registry by its strategy key (``pricing``, ``rd_budget``...)."""

__all__ = [
    "DECISIONS",
    "DECISION_BY_KEY",
    "DATA_BUDGET",
    "FOCUS",
    "LINK_RULE",
    "LINK_TYPES",
    "MARKETING_BUDGET",
    "OPEN_SOURCE_RULE",
    "PRICING",
    "PRICING_RULES",
    "RD_BUDGET",
    "MarketView",
    "NoParams",
    "PricingRule",
    "Registry",
    "Rule",
    "best_response_prices",
    "budget_from_revenue",
    "make_rule",
    "own_market",
    "register",
]


def rules_table() -> str:
    """The README's table of decisions, rules and their parameters."""
    lines = ["| decision (strategy key) | rule | what it does | parameters |", "|---|---|---|---|"]
    for registry in DECISIONS:
        for name, rule in sorted(registry.rules.items()):
            default = " (default)" if name == registry.default else ""
            params = ", ".join(f"`{p}`" for p in rule.Params.model_fields) or "—"
            lines.append(
                f"| {registry.label} (`{registry.key}`) | `{name}`{default} | "
                f"{rule.description} | {params} |"
            )
    return "\n".join(lines)
