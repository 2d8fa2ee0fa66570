"""Open-model economics (simulator/market/open_source.py), each function against a hand
computation, including extreme and heterogeneous cases."""

from __future__ import annotations

import numpy as np

from simulator.market.demand import D, consumer_surplus, utilities
from simulator.market.open_source import (
    best_open_quality,
    community_compute,
    entry_cost,
    finetune_base_compute,
    with_open_model,
)
from tests.conftest import segment_params

QUALITY = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.4], [1.0, 1.0, 1.0]])


def test_best_open_quality_is_per_segment_over_open_firms_only():
    open_weights = np.array([True, True, False])  # the best firm (row 2) is closed
    np.testing.assert_array_equal(best_open_quality(QUALITY, open_weights), [0.9, 0.8, 0.5])
    np.testing.assert_array_equal(best_open_quality(QUALITY, np.zeros(3, bool)), [0, 0, 0])
    assert best_open_quality(np.zeros((0, 3)), np.zeros(0, bool)).shape == (3,)


def test_finetune_base_uses_the_largest_open_compute():
    compute = np.array([1e24, 5e25, 1e26])
    assert finetune_base_compute(compute, np.array([True, True, False]), 0.9) == 0.9 * 5e25
    assert finetune_base_compute(compute, np.zeros(3, bool), 0.9) == 0.0


def test_community_compute_only_for_open_firms():
    compute = np.array([1e24, 2e24])
    np.testing.assert_array_equal(
        community_compute(compute, np.array([False, True]), 0.01), [0.0, 2e22]
    )


def test_entry_discount_applies_only_while_an_open_model_exists():
    assert entry_cost(50.0, 0.5, True) == 25.0
    assert entry_cost(50.0, 0.5, False) == 50.0


def test_free_product_is_an_extra_logit_row_with_no_brand():
    seg = segment_params(3, alpha=np.array([0.5, 1.0, 4.0]), mu=0.3)
    prices, quality, brand = np.array([1.0, 1.5]), QUALITY[:2], np.array([3.0, 0.0])
    open_quality = np.array([0.7, 0.7, 0.7])
    p, q, b, s = with_open_model(prices, quality, brand, seg, open_quality, "free_product", 0.0)
    np.testing.assert_array_equal(p, [1.0, 1.5, 0.0])
    np.testing.assert_array_equal(q[-1], open_quality)
    assert b[-1] == 0.0 and s is seg
    demand, shares = D(p, q, b, s, np.ones(3))
    # the free product takes most where price matters most (alpha = 4)
    assert np.argmax(shares[-1]) == 2 and shares[-1, 2] > 0.9


def test_outside_option_mode_raises_u0_only_where_the_open_model_beats_it():
    seg = segment_params(2, beta=np.array([1.0, 1.0]), u0=np.array([0.0, 5.0]))
    _, _, _, raised = with_open_model(
        np.array([1.0]),
        np.ones((1, 2)),
        np.zeros(1),
        seg,
        np.array([2.0, 2.0]),
        "outside_option",
        0.5,
    )
    # open utility = beta * 2 - alpha * 0.5 = 1.5: above u0 in segment 0, below it in 1
    np.testing.assert_array_equal(raised.u0, [1.5, 5.0])
    np.testing.assert_array_equal(raised.alpha, seg.alpha)
    # consumer surplus measured against the raised outside option is lower than against the
    # original one (the mismatch the correctness issue's item 5 is about)
    u = utilities(np.array([1.0]), np.ones((1, 2)), np.zeros(1), raised)
    assert consumer_surplus(u, raised, np.ones(2))[0] < consumer_surplus(u, seg, np.ones(2))[0]
