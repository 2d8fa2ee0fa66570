"""The speed-ups that must not change a bit: each fast path against the plain computation it
replaces (numpy's reduction, scipy's PCHIP pieces and their evaluation, fit.curve_points, a
fresh best response)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import PchipInterpolator

from simulator.lm.fit import curve_points, fit_power_law
from simulator.lm.grid import load_zoo_table
from simulator.lm.lookup import (
    MonotoneCurve,
    curve_key,
    every_curve_points,
    pchip_coefficients,
    power_law_curves,
    shipped_fits,
)
from simulator.market.demand import SegmentParams, segment_sum
from simulator.market.strategy import MarketView, best_response, best_response_prices, make_rule
from simulator.market.strategy.best_response import search_grid
from simulator.market.strategy.pricing import own_market


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("segments", range(1, 11))
def test_segment_sum_is_numpys_sum_bit_for_bit(segments):
    rng = np.random.default_rng(segments)
    for shape in [(segments,), (3, segments), (5, 7, segments), (1, 1, segments)]:
        values = rng.standard_normal(shape) * 10.0 ** rng.integers(-12, 12, shape)
        values[..., 0].flat[:1] = -0.0  # signed zeros: numpy's sum starts from +0
        assert same_bits(segment_sum(values), values.sum(axis=-1))
        major = np.ascontiguousarray(np.moveaxis(values, -1, 0))
        assert same_bits(segment_sum(major, axis=0), values.sum(axis=-1))
    zeros = -np.zeros((4, segments))
    assert same_bits(segment_sum(zeros), zeros.sum(axis=-1))


@pytest.mark.parametrize("points", [1, 2, 3, 8])
def test_curve_evaluation_is_scipys_pchip_bit_for_bit(points):
    rng = np.random.default_rng(points)
    flops = np.sort(10 ** rng.uniform(14, 20, points))
    bpb = np.sort(rng.uniform(1.0, 4.0, points))[::-1]
    curve = MonotoneCurve(flops, bpb, power_law=False)
    log_flops = np.log10(flops)
    x = np.concatenate(
        [
            log_flops,  # the breakpoints themselves (interval closed at the right end)
            np.nextafter(log_flops, np.inf),
            np.nextafter(log_flops, -np.inf),
            rng.uniform(log_flops[0], log_flops[-1], 200),
        ]
    )
    x = np.clip(x, log_flops[0], log_flops[-1])
    expected = (
        PchipInterpolator(log_flops, curve.bpb, extrapolate=False)(x)
        if points > 1
        else np.full_like(x, curve.bpb[0])
    )
    assert same_bits(curve(x), expected)
    assert same_bits(curve(x[:, None]), expected[:, None])


@pytest.mark.parametrize("points", [2, 3, 4, 9])
def test_pchip_pieces_are_scipys_bit_for_bit(points):
    """Monotone, flat, wiggling and uneven data: the numpy PCHIP pieces equal scipy's."""
    rng = np.random.default_rng(points)
    x = np.sort(rng.uniform(10, 25, points)) + np.arange(points) * 1e-3
    cases = [
        np.sort(rng.uniform(1.0, 4.0, points))[::-1],
        np.full(points, 2.5),
        rng.uniform(-3, 3, points),
        np.round(rng.uniform(0, 2, points), 1),  # repeated values: zero slopes
    ]
    for y in cases:
        assert same_bits(pchip_coefficients(x, y), PchipInterpolator(x, y).c)


def test_zoo_curves_have_scipys_pchip_pieces():
    for flops, bpb in every_curve_points(load_zoo_table()).values():
        curve = MonotoneCurve(flops, bpb, power_law=False)
        if len(flops) >= 2:
            expected = PchipInterpolator(curve.log_flops, curve.bpb, extrapolate=False).c
            assert same_bits(curve.coefficients, expected)


def test_the_shipped_fits_are_fresh_fits_of_every_shipped_curve():
    """FITS_FILE lets a run skip scipy.optimize; it must hold exactly what fitting gives.
    After a zoo rebuild: `python -m simulator.lm.lookup` rewrites it."""
    shipped = shipped_fits()
    curves = power_law_curves(load_zoo_table())
    assert len(shipped) == len(curves)
    for flops, frontier in curves:
        try:
            fresh = fit_power_law(flops, frontier)
        except (ValueError, RuntimeError):
            fresh = None
        assert shipped[curve_key(flops, frontier)] == fresh


def test_every_curve_points_is_the_row_order_seed_mean_of_each_curve():
    """Against a plain loop (the mean summed in row order, exactly) and pandas' groupby mean
    (within an ulp: pandas compensates its sums), on the shipped table and on random tables
    with repeats; curve_points reads one curve the same way."""
    rng = np.random.default_rng(7)
    random_tables = [
        pd.DataFrame(
            {
                "mix_name": rng.choice(["a", "b", "c"], n),
                "segment": rng.choice(["x", "y"], n),
                "flops": rng.choice([1e10, 2e10, 4e10], n),
                "bpb": rng.normal(3.0, 1.0, n) * 10.0 ** rng.integers(-3, 4, n),
            }
        )
        for n in (1, 7, 40, 200)
    ]
    for table in [load_zoo_table(), *random_tables]:
        every = every_curve_points(table)
        pairs = list(dict.fromkeys(zip(table["mix_name"], table["segment"], strict=True)))
        assert list(every) == pairs  # first appearance order
        for (mix, segment), (flops, bpb) in every.items():
            rows = table[(table["mix_name"] == mix) & (table["segment"] == segment)]
            budgets = sorted(set(rows["flops"]))
            means = []
            for budget in budgets:
                values = rows.loc[rows["flops"] == budget, "bpb"].tolist()
                total = 0.0
                for value in values:
                    total += value
                means.append(total / len(values))
            assert flops.tolist() == budgets and bpb.tolist() == means
            pandas_mean = rows.groupby("flops", sort=True)["bpb"].mean().to_numpy()
            np.testing.assert_allclose(bpb, pandas_mean, rtol=1e-15, atol=0)
            expected = curve_points(table, mix, segment)
            assert same_bits(flops, expected[0]) and same_bits(bpb, expected[1])


def market_view(rng: np.random.Generator, n: int = 5) -> MarketView:
    seg = SegmentParams(
        alpha=rng.uniform(0.5, 2.0, 3),
        beta=np.full(3, 2.0),
        gamma=np.full(3, 0.3),
        mu=rng.uniform(0.1, 0.6, 3),
        u0=np.zeros(3),
    )
    costs = rng.uniform(0.5, 1.0, n)
    return MarketView(
        prices=costs * 1.5,
        costs=costs,
        quality=rng.uniform(0.5, 1.5, (n, 3)),
        brand=rng.uniform(0, 5, n),
        seg=seg,
        size=rng.uniform(50, 150, 3),
        shares=np.full(n, 1.0 / n),
        capacity=np.where(rng.uniform(size=n) < 0.3, 30.0, np.inf),
        floor=costs,
        cap=np.full(n, 100.0),
    )


def test_best_response_rule_answers_every_problem_as_a_fresh_search():
    """Repeats (a cycle of identical problems) come from the rule's memory; any change, down
    to one ulp of one rival's price, is solved afresh; the answers are always those of
    best_response_prices."""
    rng = np.random.default_rng(7)
    views = [market_view(rng) for _ in range(3)]
    nudged = views[0].prices.copy()
    nudged[2] = np.nextafter(nudged[2], np.inf)
    views.append(MarketView(**{**views[0].__dict__, "prices": nudged}))
    rule = make_rule("best_response")
    firms = np.array([0, 2, 3])
    for view in views + views[::-1] + views:
        got = rule(view, firms, {})
        expected = np.clip(best_response_prices(view, firms), view.floor[firms], view.cap[firms])
        assert same_bits(got, expected)
    assert len(rule._answers) == len(views)


def test_the_grids_excess_demand_is_a_fresh_evaluation_bit_for_bit():
    """The capacity solve starts from the grid points where demand crosses capacity and reads
    their excess demand from the grid's evaluation: it must be what evaluating the same
    prices again gives, bit for bit, or the answer would depend on where the grid was."""
    rng = np.random.default_rng(11)
    for _ in range(20):
        view = market_view(rng, n=int(rng.integers(1, 7)))
        firms = np.arange(len(view.prices))
        market = own_market(view, firms)
        grid = search_grid(market, view.floor, view.cap)
        _, demand, _ = market.evaluate(grid)
        for column in rng.integers(0, grid.shape[1], 5):
            again = market.excess_demand(grid[:, column])[0]
            assert same_bits(demand[:, column] - market.capacity, again)


@pytest.mark.parametrize("block", [1, 7, 256])
def test_the_grid_in_blocks_of_firms_is_the_grid_in_one_call_bit_for_bit(monkeypatch, block):
    """A large market's search grid is built and evaluated GRID_BLOCK firms at a time (for the
    cache and the memory): every grid point, g, demand and profit, and so every best response,
    must be what one call over all firms gives."""
    rng = np.random.default_rng(5)
    view = market_view(rng, n=601)  # not a multiple of any block
    firms = np.arange(len(view.prices))
    market = own_market(view, firms)
    hi = np.maximum(np.minimum(view.cap, market.search_ceiling()), view.floor)
    monkeypatch.setattr(best_response, "GRID_BLOCK", 10**9)
    whole = best_response.evaluate_grid(market, view.floor, hi)
    whole_answer = best_response_prices(view, firms)
    grid = search_grid(market, view.floor, hi)
    assert all(same_bits(a, b) for a, b in zip(whole, (grid, *market.evaluate(grid)), strict=True))
    monkeypatch.setattr(best_response, "GRID_BLOCK", block)
    blocks = best_response.evaluate_grid(market, view.floor, hi)
    assert [a.shape for a in blocks] == [a.shape for a in whole]
    assert all(same_bits(a, b) for a, b in zip(blocks, whole, strict=True))
    assert same_bits(best_response_prices(view, firms), whole_answer)


@pytest.mark.parametrize("dof", [1, 2, 3, 7, 30, 1000])
def test_the_sensitivity_t_quantile_is_scipy_stats_bit_for_bit(dof):
    """analysis.standardized_regression reads stdtrit (scipy.special) instead of importing
    scipy.stats (~0.5 s) for t.ppf."""
    from scipy import special, stats

    for level in (0.5, 0.9, 0.95, 0.99):
        q = 0.5 + level / 2
        assert same_bits(np.float64(special.stdtrit(dof, q)), np.float64(stats.t.ppf(q, dof)))


@pytest.mark.parametrize("width", [None, 100])
def test_stored_yaml_is_pyyamls_own_text(width):
    """dump_yaml writes with libyaml's emitter (~5x faster): every shipped scenario, resolved,
    and awkward values (unicode, long and multi-line strings, YAML 1.1 keywords as strings,
    extreme floats) must come out as yaml.safe_dump writes them."""
    from pathlib import Path

    import yaml

    from simulator.config import load_scenario
    from simulator.config.yaml_safe import dump_yaml

    documents = [
        load_scenario(path).model_dump(mode="json")
        for path in sorted(Path(__file__).resolve().parents[1].glob("scenarios/*.yaml"))
    ]
    documents.append(
        {
            "text": "héllo wörld — ✓ " * 20,
            "values": [1.0, 1e-300, float("inf"), -0.0, None, True, "yes", "0x1f", "", " x"],
            "lines": "multi\nline\ttext",
            "long": "x" * 300,
            "nested": {"a": [{"b": 1}, []], "c": {}},
        }
    )
    for document in documents:
        expected = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=width)
        assert dump_yaml(document, width=width) == expected
