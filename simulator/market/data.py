"""The data flywheel: firms' training-data stocks per segment, and where new data comes from.

Each firm holds a data stock per segment, D_fs, in real training tokens (``market.data``;
without that section data is not modelled and every firm trains as if it had all the data the
zoo measured). A model is trained on the stock it holds when it ships; the zoo then reads its
quality at (compute, data) (simulator.lm.data_axis: less data is less *effective* compute).
Each step the stock grows by

    feedback_fs  = sales_fs x tokens_per_unit x min(feedback_rate_s, feedback_cap_fs)
    licensed_fs  = data_spend_f / license_price x 1e12 x data_mix_fs
    pooled_fs    = pool_share x sum of the new data (feedback + licensed) of f's joint-R&D
                   partners in s

user feedback (a share of the tokens the firm serves becomes training data; a `regulation`
event may cap the share, e.g. a privacy rule), licensed data (a budget rule's spend at a price
per token, spread over segments by the firm's data mix) and data pooled by joint-R&D partners
(the link term). A firm that fine-tunes from an open model gets finetune_efficiency x the open
model's data, as it gets that share of its compute (market.open_source). Pure functions.

Real-world anchors of the default ``data_range`` (training tokens of frontier models):
GPT-3, 300e9 tokens (Brown et al. 2020, "Language Models are Few-Shot Learners",
arXiv:2005.14165, Table 2.2); Llama 3 405B, 15.6e12 tokens (Grattafiori et al. 2024, "The
Llama 3 Herd of Models", arXiv:2407.21783, section 3).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator

from simulator.market.params import MAX_MONEY, Share, Strict, as_tuple

Array = np.ndarray

MAX_TOKENS = 1e30
"""Largest data stock or token count (real training tokens); today's largest corpora are ~1e13."""
TOKENS_PER_LICENSE_UNIT = 1e12
"""license_price is quoted per this many tokens (a trillion)."""

Tokens = Annotated[float, Field(ge=0, le=MAX_TOKENS)]


def _share_form(value: Any) -> str:
    return "<per segment>" if isinstance(value, dict) else "<number>"


SegmentShares = Annotated[
    Annotated[Share, Tag("<number>")] | Annotated[dict[str, Share], Tag("<per segment>")],
    Discriminator(_share_form),
]
"""A share for every segment, or a mapping segment -> share; one error line either way (the
tags, in angle brackets, are left out of error paths: simulator.config.errors.field_path)."""


class DataTerms(Strict):
    """market.data: data stocks, user feedback, licensed data and data pooling."""

    data_range: Annotated[tuple[Tokens, Tokens], BeforeValidator(as_tuple)] = Field(
        (3.0e11, 1.56e13),
        description="Smallest and largest plausible training-data stocks per segment (real "
        "tokens). log10 of the zoo's data fraction is linear in log10 of the stock: the "
        "smallest maps to the zoo's smallest measured fraction (10% of a segment's training "
        "data), the largest to all of it; more counts as all of it, less is extrapolated "
        "(flagged). Default: GPT-3's 300e9 tokens (Brown et al. 2020) to Llama 3's 15.6e12 "
        "(Grattafiori et al. 2024). The largest must be at least 10 x the smallest.",
    )
    tokens_per_unit: float = Field(
        1e12,
        gt=0,
        le=MAX_TOKENS,
        description="Tokens served per demand unit (1e12 when quantities are in trillions of "
        "tokens, as in llm_api_2025); feedback data is counted in these tokens. Above 0, at "
        f"most {MAX_TOKENS:g}.",
    )
    feedback_rate: SegmentShares = Field(
        0.0,
        description="Share of served tokens that becomes training data (user feedback), 0 to "
        "1: one number for every segment, or a mapping per segment (segments left out get 0). "
        "A `regulation` event's feedback_cap may lower it for some firms.",
    )
    license_price: float = Field(
        1.0,
        gt=0,
        le=MAX_MONEY,
        description="Money units per 1e12 tokens of licensed data, bought by data_budget rules "
        f"and spread over segments by the firm's data mix; above 0, at most {MAX_MONEY:g}.",
    )
    pool_share: Share = Field(
        0.0,
        description="Share of each joint-R&D partner's new data (feedback and licensed) a firm "
        "receives per step, 0 to 1 (0: partners pool compute only).",
    )
    initial_stock: Tokens | None = Field(
        None,
        description="Data stock per segment of a firm (or entrant) whose `data` does not give "
        "one; null: data_range's largest (all the data the zoo measured).",
    )

    @field_validator("data_range")
    @classmethod
    def _increasing(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not (value[0] > 0 and value[1] >= 10 * value[0]):
            raise ValueError("must be [smallest, largest] with 0 < smallest and largest >= 10 x it")
        return value

    def rates(self, segments: list[str]) -> Array:
        """feedback_rate as an array over ``segments`` (S,)."""
        return per_segment(self.feedback_rate, segments, 0.0)

    def default_stock(self) -> float:
        return self.data_range[1] if self.initial_stock is None else self.initial_stock


def per_segment(value: float | dict[str, float] | None, segments: list[str], missing: float):
    """A number for every segment, or a mapping per segment (``missing`` for those left out
    and for None), as an array over ``segments`` (S,)."""
    if value is None or isinstance(value, dict):
        return np.array([(value or {}).get(s, missing) for s in segments], dtype=float)
    return np.full(len(segments), float(value))


def feedback_tokens(sales: Array, tokens_per_unit: float, rate: Array, cap: Array) -> Array:
    """User feedback this step (F, S): sales x tokens per unit x the allowed feedback rate."""
    return np.asarray(sales, dtype=float) * tokens_per_unit * np.minimum(rate[None, :], cap)


def licensed_tokens(data_spend: Array, license_price: float, data_mix: Array) -> Array:
    """Licensed data bought this step (F, S): spend / price per 1e12 tokens, by data mix."""
    tokens = np.asarray(data_spend, dtype=float) / license_price * TOKENS_PER_LICENSE_UNIT
    return tokens[:, None] * np.asarray(data_mix, dtype=float)


def finetune_data(own: Array, open_data: Array | None, finetune_efficiency: float) -> Array:
    """Data a shipping firm trains on (F, S): its own stock, or finetune_efficiency x the best
    open model's data where that is more (``open_data`` (S,), None without open weights)."""
    if open_data is None:
        return np.asarray(own, dtype=float)
    return np.maximum(own, finetune_efficiency * np.asarray(open_data)[None, :])


def best_open_data(model_data: Array, open_weights: Array, retired: Array) -> Array | None:
    """Per segment, the most data behind any open model, weights outliving their makers
    included (S,); None when no weights are open."""
    live = np.asarray(model_data)[np.asarray(open_weights, dtype=bool)]
    if not len(live) and not np.any(retired > 0):
        return None
    return np.maximum(live.max(axis=0), retired) if len(live) else np.asarray(retired, float)
