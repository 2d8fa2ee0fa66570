"""Open-model economics: what published weights do to the market. Pure functions.

When at least one firm's weights are open, the best open model (per segment, the highest
quality among open-weight firms) reaches users and rivals:

  open product      users get usability x best open quality at ``user_price``: either as an
                    extra product in every segment (mode free_product, its own logit row with
                    no brand) or as a better outside option, u0_s <- max(u0_s, beta_s Q_open -
                    alpha_s user_price) (mode outside_option)
  fine-tuning base  a releasing or entering firm's next model starts from at least
                    finetune_efficiency x the best open model's training compute
  community         an open-weight firm receives community_rate x its model compute per step
                    towards its next model
  entry discount    entry costs entry_cost x (1 - open_discount) while an open model exists
  goodwill          a firm that opens gains releaser_brand_gain brand stock once
  afterlife         released weights outlive their maker: when an open-weight firm exits, its
                    model stays available (MarketState.retired_open_quality / _compute) unless
                    market.open_model.outlives_releaser is false
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import Field

from simulator.market.demand import SegmentParams
from simulator.market.params import MAX_FACTOR, Strict

Array = np.ndarray

OPEN_MODEL = "open model"
"""The open product's name in the firm and segment tables (reserved: no firm may use it)."""


class RelativePrice(Strict):
    """The open product's price as a multiple of the firms' prices, re-read every step."""

    relative_to: Literal["cheapest", "mean", "median", "leader"] = Field(
        description="Which firms' price: 'cheapest' (the lowest list price), 'mean' or "
        "'median' of all firms' prices, 'leader' (the price of the firm with the largest "
        "share of the firms' sales last step)."
    )
    factor: float = Field(
        ge=0,
        le=MAX_FACTOR,
        description=f"Multiplies that price (0.5: half of it); 0 to {MAX_FACTOR:g}.",
    )


def open_price(user_price: float | RelativePrice, prices: Array, firm_share: Array) -> float:
    """What users pay for the open model: a fixed price, or ``factor`` x the chosen firms'
    price (``prices``, ``firm_share``: the firms' list prices and last shares, (F,))."""
    if not isinstance(user_price, RelativePrice):
        return float(user_price)
    if len(prices) == 0:
        return 0.0
    reference = {
        "cheapest": np.min,
        "mean": np.mean,
        "median": np.median,
        "leader": lambda p: p[int(np.argmax(firm_share))],
    }[user_price.relative_to](prices)
    return user_price.factor * float(reference)


def best_open_quality(quality: Array, open_weights: Array, retired: Array | None = None) -> Array:
    """Best quality per segment among open-weight models (S,); zeros when none is open.

    ``retired``: the best quality of weights released by firms that have since left (they stay
    available when ``market.open_model.outlives_releaser``), per segment."""
    best = np.max(quality[open_weights], axis=0) if open_weights.any() else None
    if best is None:
        best = np.zeros(quality.shape[1])
    return best if retired is None else np.maximum(best, retired)


def finetune_base_compute(
    model_compute: Array, open_weights: Array, finetune_efficiency: float, retired: float = 0.0
) -> float:
    """Training compute a fine-tuner's next model starts from (0 when no model is open);
    ``retired``: the compute of open weights whose releaser has left."""
    if not open_weights.any() and retired <= 0:
        return 0.0
    live = max(model_compute[open_weights]) if open_weights.any() else 0.0
    return finetune_efficiency * max(live, retired)


def community_compute(model_compute: Array, open_weights: Array, community_rate: float) -> Array:
    """Compute the community contributes to each firm's next model this step (F,)."""
    return np.where(open_weights, community_rate * model_compute, 0.0)


def entry_cost(cost: float, open_discount: float, open_model_exists: bool) -> float:
    """What an entrant pays from its starting cash."""
    return cost * (1.0 - (open_discount if open_model_exists else 0.0))


def with_open_model(
    prices: Array,
    quality: Array,
    brand: Array,
    seg: SegmentParams,
    open_quality: Array,
    mode: str,
    user_price: float,
) -> tuple[Array, Array, Array, SegmentParams]:
    """The products users choose among once an open model exists.

    ``open_quality`` is the quality users get from it (usability x best open quality).
    free_product appends its row (last); outside_option raises the outside utility instead.
    """
    if mode == "free_product":
        return (
            np.append(prices, user_price),
            np.vstack([quality, open_quality]),
            np.append(brand, 0.0),
            seg,
        )
    open_utility = seg.beta * open_quality - seg.alpha * user_price
    return prices, quality, brand, replace(seg, u0=np.maximum(seg.u0, open_utility))
