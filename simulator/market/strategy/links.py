"""The link decision (registry ``LINK_RULE``): with whom a firm is willing to hold each type of
partnership link. A link forms only when both firms are willing (simulator.network).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from simulator.market.params import Strict
from simulator.market.strategy.registry import Registry, Rule

Array = np.ndarray

LINK_TYPES = ("joint_rd", "market_sharing", "alliance")
"""The partnership link types (simulator/network.py documents their economics)."""
LinkType = Literal[LINK_TYPES]


@dataclass(frozen=True)
class LinkSituation:
    """What a link rule that looks ahead may know besides the gain: the cost per step of
    each link type, the term a link lasts, and every firm's release timing at ``step``."""

    cost: dict[str, float]
    term: int
    last_release: Array  # (F,)
    release_cycle: Array  # (F,)
    step: int

    def steps_to_release(self, firms: Array) -> Array:
        """Steps until each firm's next model ships (1..T): pooled compute waits that long."""
        due = self.last_release[firms] + self.release_cycle[firms] - self.step
        return np.maximum(due, 1)


class LinkRule(Rule):
    """Base class: which partners each firm in ``firms`` accepts for ``link_type``."""

    forms_links: ClassVar[bool] = True  # False: the rule never accepts a link (nothing to do)
    needs_net_gain: ClassVar[bool] = False
    """True: the rule accepts a link only where its net gain is positive, judging each pair on
    its own; the network phase then skips pairs that cannot gain (network.link_gain_bound)."""

    def willing(
        self, link_type: str, net_gain: Array, firms: Array, params: dict[str, Array]
    ) -> Array:
        """``net_gain`` (G, F): expected gain less cost of a link with each firm -> bool (G, F)."""
        raise NotImplementedError

    def may_accept(self, link_type: str, params: dict[str, Array]) -> bool:
        """False only if no firm of ``params`` accepts a ``link_type`` link at any gain (the
        network phase then skips evaluating that type for them)."""
        return self.forms_links

    def decide(
        self, link_type: str, net_gain: Array, firms: Array, params: dict[str, Array], situation
    ) -> Array:
        """What the network phase calls; ``situation`` (a LinkSituation) adds the link's cost
        and term and the firms' release timing for rules that look ahead."""
        return self.willing(link_type, net_gain, firms, params)


LINK_RULE: Registry[LinkRule] = Registry("link_rule", "link rule", "gain_seeking")


def takes_part(link_types: Array, link_type: str) -> Array:
    """Whether each firm's ``link_types`` list includes ``link_type``: bool (G,)."""
    return np.array([link_type in types for types in link_types], dtype=bool)


@LINK_RULE.register
class GainSeeking(LinkRule):
    name = "gain_seeking"
    description = "propose and accept links of its `link_types` with expected gain above cost"
    needs_net_gain = True

    class Params(Strict):
        link_types: list[LinkType] = Field(
            default_factory=lambda: ["joint_rd", "alliance"],
            description="Link types the firm proposes and accepts (market_sharing is opt-in): "
            + ", ".join(LINK_TYPES)
            + ".",
        )

    def willing(self, link_type, net_gain, firms, params):
        return (net_gain > 0) & takes_part(params["link_types"], link_type)[:, None]

    def may_accept(self, link_type, params):
        return bool(takes_part(params["link_types"], link_type).any())


@LINK_RULE.register
class NoLinks(LinkRule):
    name = "none"
    description = "never link"
    forms_links = False
    needs_net_gain = True  # it accepts nothing

    def willing(self, link_type, net_gain, firms, params):
        return np.zeros(net_gain.shape, dtype=bool)
