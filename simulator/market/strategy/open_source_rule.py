"""The open-sourcing decision (registry ``OPEN_SOURCE_RULE``): whether a firm publishes its
current model's weights this step. Publishing is one-way (weights cannot be taken back); the
economics of an open model are in simulator.market.open_source.
"""

from __future__ import annotations

import numpy as np

from simulator.market.strategy.registry import Registry, Rule

Array = np.ndarray


class OpenSourceRule(Rule):
    """Base class: True for each firm in ``firms`` that opens its weights now."""

    def opens(self, best_quality: Array, firms: Array, params: dict[str, Array]) -> Array:
        """``best_quality``: every firm's best quality over segments (F,)."""
        raise NotImplementedError

    def decide(self, context, firms: Array, params: dict[str, Array]) -> Array:
        """What the decision phase calls, with the step's DecisionContext
        (simulator.market.strategy.context); rules that compare payoffs override it."""
        return self.opens(context.best_quality, firms, params)


OPEN_SOURCE_RULE: Registry[OpenSourceRule] = Registry(
    "open_source_rule", "open-sourcing rule", "never"
)


def rivals_median(values: Array) -> Array:
    """For each firm, the median of the other firms' values (NaN for a lone firm)."""
    n = len(values)
    if n < 2:
        return np.full(n, np.nan)
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    position = np.empty(n, dtype=int)
    position[order] = np.arange(n)
    m = n - 1  # the others, ranked; index j of the others is j (j < own position) or j + 1

    def others(j: int) -> Array:
        return ranked[np.where(j < position, j, j + 1)]

    if m % 2:
        return others(m // 2)
    return (others(m // 2 - 1) + others(m // 2)) / 2


@OPEN_SOURCE_RULE.register
class Never(OpenSourceRule):
    name = "never"
    description = "keep the weights closed (an `open_source` event can still open them)"

    def opens(self, best_quality, firms, params):
        return np.zeros(len(firms), dtype=bool)


@OPEN_SOURCE_RULE.register
class Always(OpenSourceRule):
    name = "always"
    description = "open the weights at the first decision"

    def opens(self, best_quality, firms, params):
        return np.ones(len(firms), dtype=bool)


@OPEN_SOURCE_RULE.register
class WhenBehind(OpenSourceRule):
    name = "when_behind"
    description = "open once the firm's best quality falls below the median of its rivals'"

    def opens(self, best_quality, firms, params):
        return best_quality[firms] < rivals_median(best_quality)[firms]
