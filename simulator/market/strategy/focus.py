"""The segment-focus decision (registry ``FOCUS``): where a firm's training data goes.

A rule sets each firm's target data mix; the mix then moves ``focus_speed`` of the way to it
and data caps apply (simulator.market.dynamics.update_focus).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from simulator.market import dynamics
from simulator.market.params import Strict
from simulator.market.strategy.registry import Registry, Rule

Array = np.ndarray


class FocusRule(Rule):
    """Base class: target data mix (G, S) of each firm in ``firms``."""

    def targets(self, mix: Array, size: Array, firms: Array, params: dict[str, Array]) -> Array:
        """``mix``: every firm's current mix (F, S); ``size``: segment sizes (S,)."""
        raise NotImplementedError


FOCUS: Registry[FocusRule] = Registry("focus", "focus rule", "fixed")


class _Moving(Strict):
    focus_speed: float = Field(
        0.1, ge=0, le=1, description="Share of the gap to the target focus closed per step."
    )


@FOCUS.register
class Fixed(FocusRule):
    name = "fixed"
    description = "keep the data mix"

    def targets(self, mix, size, firms, params):
        return mix[firms]


@FOCUS.register
class FollowDemand(FocusRule):
    name = "follow_demand"
    description = "move towards the largest segments (products converge)"
    Params = _Moving

    def targets(self, mix, size, firms, params):
        return dynamics.demand_focus(mix[firms], size)


@FOCUS.register
class Differentiate(FocusRule):
    name = "differentiate"
    description = "move towards the segments rivals neglect"
    Params = _Moving

    def targets(self, mix, size, firms, params):
        return dynamics.niche_focus(mix, size)[firms]
