"""Shared fixtures: small scenarios that run in well under a second."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import settings

from simulator.market.demand import SegmentParams

# The same examples on every run and every machine (no example database carried between runs):
# a fresh clone in CI tests exactly what a developer's run tested.
settings.register_profile("reproducible", derandomize=True, database=None)
settings.load_profile("reproducible")

SMALL_SCENARIO = {
    "name": "small",
    "seed": 3,
    "steps": 24,
    "market": {
        "segments": [
            {
                "name": "assistant",
                "size": 10.0,
                "growth": 0.01,
                "price_sensitivity": 1.0,
                "quality_sensitivity": 3.0,
                "brand_sensitivity": 0.2,
                "temperature": 0.5,
            },
            {
                "name": "code",
                "size": 5.0,
                "price_sensitivity": 0.8,
                "quality_sensitivity": 4.0,
                "temperature": 0.4,
            },
        ],
        "compute_price": 2.0,
    },
    "companies": [
        {
            "name": "Big",
            "unit_cost": 0.8,
            "initial_compute": 1e25,
            "release_cycle": 4,
            "strategy": {"pricing": "best_response", "rd_share": 0.2, "marketing_share": 0.1},
        },
        {
            "name": "Cheap",
            "unit_cost": 0.5,
            "initial_compute": 1e24,
            "learning_rate": 0.1,
            "strategy": {"pricing": "undercut", "undercut_by": 0.05},
        },
        {
            "name": "Lab",
            "unit_cost": 1.0,
            "data_mix": {"code": 1.0},
            "capacity": 3.0,
            "strategy": {"pricing": "cost_plus", "markup": 0.4},
        },
        {
            "name": "Follower",
            "unit_cost": 0.9,
            "quality": {"assistant": 0.5, "code": 0.5},
            "strategy": {"pricing": "match", "follow": "leader", "speed": 0.5},
        },
    ],
}


@pytest.fixture
def small_scenario() -> dict:
    """A fresh deep copy of a 4-firm, 2-segment, 24-step scenario mapping."""
    return copy.deepcopy(SMALL_SCENARIO)


def segment_params(n: int = 1, alpha=1.0, beta=1.0, gamma=0.0, mu=0.25, u0=0.0) -> SegmentParams:
    full = lambda v: np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()  # noqa: E731
    return SegmentParams(
        alpha=full(alpha), beta=full(beta), gamma=full(gamma), mu=full(mu), u0=full(u0)
    )
