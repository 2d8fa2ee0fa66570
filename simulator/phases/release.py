"""Release phase: a firm whose release cycle T has ended ships the model its compute trained.

Its quality per segment comes from the quality source (the language-model zoo or the
placeholder) at its training compute: own stock plus pending R&D, joint-R&D pool and
community compute, or the best open model it may fine-tune from, whichever is larger; and,
when data is modelled (market.data), at its data stock or the open model's, likewise.
"""

from __future__ import annotations

import numpy as np

from simulator.market.data import finetune_data
from simulator.market.open_source import finetune_base_compute
from simulator.market.quality import QualitySource
from simulator.market.state import MarketState
from simulator.market.supply import release_due

MIN_QUALITY = 0.0
"""A model worse than byte frequencies (zoo Q < 0) is worth nothing to users: Q is floored."""


def ship(
    state: MarketState,
    rows: np.ndarray,
    compute: np.ndarray,
    quality_source: QualitySource,
    step: int,
    finetune_efficiency: float = 0.0,
) -> None:
    """Give the firms in ``rows`` the models trained with ``compute`` (and, when data is
    modelled, their data stocks or finetune_efficiency x the best open model's data, whichever
    is more); a new generation each."""
    rows = np.asarray(rows, dtype=int)
    state.model_compute[rows] = compute
    if state.data_limited:
        state.model_data[rows] = finetune_data(
            state.data_stock[rows], state.open_data(), finetune_efficiency
        )
    state.pending_compute[rows] = 0.0
    state.last_release[rows] = step
    state.generation[rows] += 1
    learners = rows[~state.fixed_quality[rows]]
    if len(learners):
        quality, bpb, extrapolated = state.read_quality(quality_source, learners)
        state.quality[learners] = np.maximum(quality, MIN_QUALITY)
        state.bpb[learners] = bpb
        state.extrapolated[learners] = extrapolated


def release(
    state: MarketState, step: int, quality_source: QualitySource, finetune_efficiency: float
) -> None:
    """Ship the next model of every firm whose release cycle has ended."""
    rows = np.flatnonzero(release_due(step, state.last_release, state.release_cycle))
    if not len(rows):
        return
    base = finetune_base_compute(
        state.model_compute, state.open_weights, finetune_efficiency, state.retired_open_compute
    )
    compute = np.maximum(state.model_compute[rows], base) + state.pending_compute[rows]
    ship(state, rows, compute, quality_source, step, finetune_efficiency)
