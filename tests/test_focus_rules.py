"""Segment-focus rules (strategy.focus): follow_demand, differentiate, fixed.

The math through simulator.market.dynamics directly (heterogeneous segment sizes), then one
simulated market per rule from a common start.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from simulator import simulate
from simulator.market.dynamics import focus_targets, homogenization, update_focus

RULES = np.array(["follow_demand", "fixed", "differentiate"])


def iterate(rule: str, mix, size, speed: float = 0.2, steps: int = 60):
    """Mixes and homogenisation index after each of ``steps`` updates under ``rule``."""
    mix = np.asarray(mix, dtype=float)
    rules = np.full(len(mix), rule)
    history = [homogenization(mix)]
    for _ in range(steps):
        mix = update_focus(mix, focus_targets(rules, mix, size), np.full(len(mix), speed))
        history.append(homogenization(mix))
    return mix, np.array(history)


def test_follow_demand_targets_segment_sizes_and_fixed_keeps_the_mix():
    size = np.array([50.0, 30.0, 20.0])
    mix = np.array([[0.0, 0.0, 1.0], [0.2, 0.2, 0.6], [1.0, 0.0, 0.0]])
    target = focus_targets(RULES, mix, size)
    np.testing.assert_allclose(target[0], [0.5, 0.3, 0.2])  # M_s / sum M, whatever its mix
    np.testing.assert_array_equal(target[1], mix[1])
    # the same target for every follower, wherever it starts
    followers = focus_targets(np.full(3, "follow_demand"), mix, size)
    np.testing.assert_allclose(followers, np.tile([0.5, 0.3, 0.2], (3, 1)))


@pytest.mark.parametrize(
    ("rivals", "expected"),
    [
        # two rivals in the big segment: 100 / 3 < 40 / 1, the firm takes the second segment
        ([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], 1),
        # one rival there: 100 / 2 > 40, it is still worth sharing the big segment
        ([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], 0),
        # rivals crowd the second segment: the big one is free
        ([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], 0),
        # rivals spread evenly: crowding 2/3 everywhere, the largest segment wins
        ([[1 / 3] * 3, [1 / 3] * 3], 0),
        # the big segment crowded 3.5 units' worth: 100 / 4.5 < 40 / 1.5 > 10 / 1
        ([[1.0, 0.5, 0.0], [1.0, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0]], 1),
    ],
)
def test_differentiate_targets_the_segment_with_most_demand_per_competitor(rivals, expected):
    size = np.array([100.0, 40.0, 10.0])
    mix = np.vstack([[1.0, 0.0, 0.0], rivals])  # the firm itself is all in the big segment
    rules = np.array(["differentiate"] + ["fixed"] * len(rivals))
    target = focus_targets(rules, mix, size)
    np.testing.assert_array_equal(target[0], np.eye(3)[expected])  # own weight not crowding


def test_update_focus_closes_speed_of_the_gap_and_respects_data_caps():
    mix = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    target = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    moved = update_focus(mix, target, np.array([0.25, 1.0]))
    np.testing.assert_allclose(moved, [[0.8, 0.075, 0.125], [1.0, 0.0, 0.0]])
    # repeated: the distance to a fixed target shrinks by (1 - speed) per step
    current = mix[:1]
    for _ in range(5):
        new = update_focus(current, target[:1], np.array([0.25]))
        ratio = np.linalg.norm(new - target[:1]) / np.linalg.norm(current - target[:1])
        assert ratio == pytest.approx(0.75)
        current = new
    # a data cap (regulation) binds on the way: weight above it goes to the other segments
    capped = update_focus(mix, target, np.array([0.25, 1.0]), cap=np.array([0.5, 1.0, 1.0]))
    np.testing.assert_allclose(capped.sum(axis=1), 1.0)
    assert capped[0, 0] == pytest.approx(0.5) and capped[1, 0] == pytest.approx(0.5)
    np.testing.assert_allclose(capped[0, 1:] / capped[0, 1:].sum(), [0.375, 0.625])


START = [[0.5, 0.3, 0.2], [0.3, 0.5, 0.2], [0.3, 0.2, 0.5]]


def test_follow_demand_converges_every_firm_to_the_size_shares():
    size = np.array([40.0, 35.0, 25.0])
    mix, history = iterate("follow_demand", START, size)
    np.testing.assert_allclose(mix, np.tile(size / size.sum(), (3, 1)), atol=1e-5)
    assert np.all(np.diff(history) > -1e-12) and history[-1] == pytest.approx(1.0)


def test_differentiate_spreads_firms_over_comparable_segments():
    size = np.array([40.0, 35.0, 25.0])
    mix, history = iterate("differentiate", START, size)
    assert history[0] > 0.8 and history[-1] < 1e-3
    np.testing.assert_allclose(mix, np.eye(3), atol=1e-4)  # one firm per segment
    # and nobody wants to move from there
    np.testing.assert_array_equal(focus_targets(np.full(3, "differentiate"), mix, size), np.eye(3))


def test_differentiate_shares_a_dominant_segment_and_leaves_a_small_one_empty():
    """With 50 / 30 / 20 two firms share the big segment (50 / 2 > 20 / 1): differentiation
    stops short of a firm per segment, and the allocation is a rest point of the rule."""
    size = np.array([50.0, 30.0, 20.0])
    mix, history = iterate("differentiate", START, size)
    held = mix.round(3)
    assert sorted(held.argmax(axis=1).tolist()) == [0, 0, 1]
    assert held[:, 2].max() == 0.0
    np.testing.assert_allclose(
        focus_targets(np.full(3, "differentiate"), held, size), np.eye(3)[held.argmax(axis=1)]
    )
    assert history[-1] == pytest.approx(1 / 3, abs=1e-3)  # one identical pair out of three


# --- in a simulated market ----------------------------------------------------------------

SIZES = {"assistant": 40.0, "code": 35.0, "creative": 25.0}
FIRMS = {"North": START[0], "South": START[1], "West": START[2]}


def market(rule: str) -> dict:
    return {
        "name": f"focus-{rule}",
        "seed": 1,
        "steps": 30,
        "market": {
            "segments": [
                {"name": name, "size": size, "quality_sensitivity": 3.0, "temperature": 0.5}
                for name, size in SIZES.items()
            ],
            "quality_model": "placeholder",
        },
        "companies": [
            {
                "name": name,
                "unit_cost": 0.8,
                "initial_compute": 1e24,
                "release_cycle": 4,
                "data_mix": dict(zip(SIZES, mix, strict=True)),
                "strategy": {
                    "pricing": "cost_plus",
                    "link_types": [],
                    "focus": rule,
                    "focus_speed": 0.2,
                },
            }
            for name, mix in FIRMS.items()
        ],
    }


@pytest.fixture(scope="module")
def runs():
    return {rule: simulate(market(rule)) for rule in ("fixed", "follow_demand", "differentiate")}


def final_focus(result):
    last = result.segments[result.segments.step == result.segments.step.max()]
    return last.pivot(index="firm", columns="segment", values="focus").loc[list(FIRMS), list(SIZES)]


def test_homogenization_rises_under_follow_demand_and_falls_under_differentiate(runs):
    start = homogenization(np.array(START))
    fixed = runs["fixed"].model.homogenization
    np.testing.assert_allclose(fixed, start)  # the common start, kept by `fixed`
    chase = runs["follow_demand"].model.homogenization.to_numpy()
    spread = runs["differentiate"].model.homogenization.to_numpy()
    assert chase[0] > start and np.all(np.diff(chase) > -1e-12) and chase[-1] > 0.999
    assert spread.max() < start and spread[-1] < 0.01
    shares = np.array(list(SIZES.values())) / sum(SIZES.values())
    np.testing.assert_allclose(
        final_focus(runs["follow_demand"]), np.tile(shares, (3, 1)), atol=2e-3
    )
    np.testing.assert_allclose(final_focus(runs["differentiate"]), np.eye(3), atol=0.01)


def test_focus_moves_quality_to_the_segments_a_firm_chases(runs):
    """Placeholder quality is highest where the data mix is: once West has specialised in
    creative (differentiate) its quality there beats the follow_demand West's."""

    def quality(result, firm, segment):
        rows = result.segments.query("firm == @firm and segment == @segment")
        return rows.set_index("step")["quality"].iloc[-1]

    spread, chase = runs["differentiate"], runs["follow_demand"]
    assert quality(spread, "West", "creative") > quality(chase, "West", "creative")
    assert quality(spread, "West", "assistant") < quality(chase, "West", "assistant")


def test_focus_follows_segment_growth():
    """follow_demand tracks the current sizes: after code quadruples, code is the target."""
    data = market("follow_demand")
    data["steps"] = 40
    data["events"] = [{"step": 10, "kind": "segment", "segment": "code", "size_factor": 4.0}]
    result = simulate(copy.deepcopy(data))
    sizes = np.array([40.0, 140.0, 25.0])
    np.testing.assert_allclose(final_focus(result), np.tile(sizes / sizes.sum(), (3, 1)), atol=2e-3)
