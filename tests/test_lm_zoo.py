"""The zoo lookup: monotone in compute and in mix weight, quality normalisation, extrapolation,
and the shipped table's measured scaling fit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.lm import corpus, grid, lookup, zoo
from simulator.lm import fit as zoo_fit
from simulator.lm.grid import load_zoo_table
from simulator.lm.lookup import ZooQuality, quality_from_bpb

SHIPPED = grid.shipped_table_path()

REPO_ROOT = Path(__file__).resolve().parents[1]


def synthetic_table(seed: int = 0) -> pd.DataFrame:
    """A zoo-shaped table from known power laws plus noise (non-monotone on purpose)."""
    rng = np.random.default_rng(seed)
    rows = []
    flops = 1e11 * 2.0 ** np.arange(8)
    for mix in grid.ZOO_MIXES:
        for segment in corpus.SEGMENTS:
            h = corpus.unigram_entropy(segment)
            floor = 2.0 if mix == segment else 2.5 if mix == grid.UNIFORM else 4.0
            for level, c in enumerate(flops):
                bpb = floor + 8.0 * (c / 1e9) ** -0.25 + rng.normal(0, 0.05)
                rows.append(
                    dict(
                        level=level,
                        mix_name=mix,
                        segment=segment,
                        bpb=bpb,
                        h_unigram=h,
                        flops=c,
                        config_hash=f"{mix}{level}",
                    )
                )
    return pd.DataFrame(rows)


def test_quality_from_bpb_anchors():
    assert quality_from_bpb(4.5, 4.5, 2.0) == pytest.approx(0.0)
    assert quality_from_bpb(2.0, 4.5, 2.0) == pytest.approx(1.0)
    assert quality_from_bpb(1.5, 4.5, 2.0) > 1.0
    values = quality_from_bpb(np.array([4.5, 3.25, 2.0]), 4.5, 2.0)
    assert np.allclose(values, [0.0, 0.5, 1.0])


def test_compute_frontier_is_the_running_minimum():
    frontier = zoo_fit.compute_frontier([5.0, 4.0, 4.2, 3.0, 3.1, 2.0])
    assert frontier.tolist() == [5.0, 4.0, 4.0, 3.0, 3.0, 2.0]
    c = 1e10 * 2.0 ** np.arange(6)
    fit = zoo_fit.fit_frontier(c, np.array([5.0, 4.0, 4.2, 3.0, 3.1, 2.0]))
    assert fit.n_capped == 2 and fit.r2_raw is not None and fit.r2_raw <= fit.r2 + 1e-9


def test_power_law_fit_recovers_known_exponent():
    c = 1e10 * 2.0 ** np.arange(10)
    fit = zoo_fit.fit_power_law(c, 1.5 + 300.0 * c**-0.3)
    assert fit.alpha == pytest.approx(0.3, rel=1e-3)
    assert abs(fit.E - 1.5) < 1.5e-3
    assert fit.r2 > 0.9999


@pytest.mark.parametrize("source", ["synthetic", "shipped"])
def test_bpb_is_monotone_in_compute_and_in_mix_weight(source):
    table = synthetic_table() if source == "synthetic" else None
    segments = list(corpus.SEGMENTS)
    quality_map = ZooQuality(segments, (1e21, 1e26), table=table)
    real = np.logspace(19, 28, 400)  # covers below, inside and above the range
    for weight in (0.0, 0.1, 0.25, 0.6, 1.0):
        mix = np.tile([weight, *[(1 - weight) / 3] * 3], (len(real), 1))
        _, bpb, _ = quality_map(real, mix)
        assert np.all(np.diff(bpb[:, 0]) <= 1e-12), f"bpb rose with compute at weight {weight}"
    weights = np.linspace(0, 1, 101)
    rest = (1 - weights) / (len(segments) - 1)
    for flops in (1e20, 1e21, 3e23, 1e26, 1e27):
        for j in range(len(segments)):
            mix = np.column_stack([weights if k == j else rest for k in range(len(segments))])
            _, bpb, _ = quality_map(np.full(len(weights), flops), mix)
            assert np.all(np.diff(bpb[:, j]) <= 1e-12), (segments[j], flops)
            assert bpb[-1, j] < bpb[0, j]  # training on s helps s


def test_compute_map_is_log_linear_onto_zoo_range():
    table = synthetic_table()
    quality_map = ZooQuality(["code"], (1e21, 1e26), table=table)
    low, high = quality_map.zoo_range
    mapped = quality_map.zoo_compute(np.array([1e21, 10**23.5, 1e26]))
    assert mapped[0] == pytest.approx(low) and mapped[2] == pytest.approx(high)
    assert mapped[1] == pytest.approx(np.sqrt(low * high))
    assert quality_map.measured_real_range == pytest.approx((1e21, 1e26))


def test_levels_above_the_anchors_are_measured_without_moving_the_map():
    """compute_range maps onto grid levels 0 and 7; levels measured above level 7 extend the
    measured range beyond compute_range[1] instead of squeezing the map."""
    base = synthetic_table()
    top = base[base["level"] == 7].copy()
    extension = [top.assign(level=7 + k, flops=top["flops"] * 2.0**k) for k in (1, 2, 3)]
    extended = pd.concat([base, *extension], ignore_index=True)
    short = ZooQuality(["code", "creative"], (1e21, 1e26), table=base)
    long = ZooQuality(["code", "creative"], (1e21, 1e26), table=extended)
    real = np.array([1e21, 1e24, 1e26])
    assert np.array_equal(short.zoo_compute(real), long.zoo_compute(real))
    assert long.zoo_compute(np.array([1e26]))[0] == pytest.approx(base["flops"].max())
    low, high = long.measured_real_range
    assert low == pytest.approx(1e21) and high == pytest.approx(1e26 * 8 ** (5 / np.log10(128)))
    mix = np.array([[0.5, 0.5]] * 3)
    beyond = np.array([1e26 * 1.5, high / 1.01, high * 1.01])
    assert short(beyond, mix)[2].all(axis=1).tolist() == [True, True, True]
    assert long(beyond, mix)[2].any(axis=1).tolist() == [False, False, True]


def test_extrapolation_is_flagged_per_segment():
    """A segment with a small weight in the mix is read at the compute that holds its data: below
    the measured budgets it is extrapolated while the firm's main segment is measured."""
    quality_map = ZooQuality(["code", "creative"], (1e21, 1e26), table=synthetic_table())
    real = np.array([1e21 * 1.01, 1e24])
    _, bpb, extrapolated = quality_map(real, np.array([[0.95, 0.05], [0.95, 0.05]]))
    assert extrapolated.shape == (2, 2)
    assert extrapolated[:, 0].tolist() == [False, False]
    assert extrapolated[0, 1]  # 5% creative at the lowest budget: far below the measured range
    reduced = quality_map.zoo_compute(real[1:]) * 0.05 / 0.25
    assert bool(extrapolated[1, 1]) == bool(reduced[0] < quality_map.zoo_range[0])


def test_unknown_segment_and_bad_inputs_are_rejected():
    table = synthetic_table()
    with pytest.raises(ValueError, match="legal"):
        ZooQuality(["code", "legal"], (1e21, 1e26), table=table)
    quality_map = ZooQuality(["code"], (1e21, 1e26), table=table)
    with pytest.raises(ValueError, match="real_flops"):
        quality_map(np.array([-1.0]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="shape"):
        quality_map(np.array([1e22, 1e23]), np.array([[1.0]]))


def test_shipped_table_shapes_quality_and_extrapolation_flag():
    table = load_zoo_table()
    segments = ["assistant", "code", "chinese"]
    quality_map = ZooQuality(segments, (1e21, 1e26))
    real = np.array([1e20, 1e21, 1e23, 1e26, 1e27])
    mix = np.array([[1.0, 0, 0], [0.2, 0.5, 0.3], [1 / 3] * 3, [0, 1.0, 0], [0, 0, 1.0]])
    quality, bpb, extrapolated = quality_map(real, mix)
    assert quality.shape == bpb.shape == extrapolated.shape == (5, 3)
    assert extrapolated[0].all() and not extrapolated[2:4].any()
    assert not extrapolated[1, 1:].any()  # 0.5 code, 0.3 chinese at the bottom: measured
    # The shipped grid reaches 8x the budget compute_range[1] maps to: 1e27 is measured.
    assert quality_map.measured_real_range[1] > 1e27 and not extrapolated[4].any()
    far = quality_map(np.array([quality_map.measured_real_range[1] * 2]), mix[4:])[2]
    assert far.all()
    # Q = 1 is the best point measured up to level 7 (what compute_range[1] maps to; seeds
    # averaged, any mix): the code-only firm at the top of the range is there, and the measured
    # level 8 is above 1.
    top = grid.full_data_rows(table)
    top = top[top["level"] <= 7].groupby(["mix_name", "segment", "level"])["bpb"].mean()
    best = top.groupby("segment").min()
    h = table.groupby("segment")["h_unigram"].first()
    assert np.allclose(quality[:, 1], (h["code"] - bpb[:, 1]) / (h["code"] - best["code"]))
    assert quality[3, 1] == pytest.approx(1.0)
    assert quality[4, 2] > quality_map(np.array([1e26]), np.array([[0, 0, 1.0]]))[0][0, 2]
    level_8 = quality_map(np.array([quality_map.measured_real_range[1]]), mix[3:4])
    assert level_8[0][0, 1] > 1.0 and not level_8[2].any()  # better than Q = 1, and measured


def test_shipped_table_grid_and_fit_quality():
    shipped = load_zoo_table()
    assert shipped["config_hash"].nunique() == len(grid.build_jobs("small"))
    table = grid.full_data_rows(shipped)  # the compute grid; the data axis: test_data_flywheel
    per_mix = table.groupby("mix_name")["flops"].nunique()
    assert set(grid.ZOO_MIXES) <= set(per_mix.index)
    assert (per_mix[list(grid.ZOO_MIXES)] == len(grid.SMALL_GRID)).all()
    assert table["flops"].max() / table["flops"].min() >= 800  # 2.9 orders of magnitude
    for segment in corpus.SEGMENTS:
        own = table[(table["mix_name"] == segment) & (table["segment"] == segment)]
        smallest = own[own["flops"] == own["flops"].min()]["bpb"].mean()
        assert smallest < corpus.unigram_entropy(segment), segment
    fits = zoo_fit.fit_segments(table)
    assert set(fits) == set(corpus.SEGMENTS)
    for segment, fit in fits.items():
        assert fit.alpha > 0 and fit.A > 0
        flops, bpb = zoo_fit.curve_points(table, segment, segment)
        assert fit.r2 == pytest.approx(zoo_fit.r_squared(bpb, fit(flops)))
        assert fit.r2 >= 0.95, (segment, fit)  # on the measured (seed-averaged) points
    # The assistant's deduplicated corpus (72,847 bytes to train on) is repeated 16-100 times
    # from level 4 up, where its trainings use dropout (grid.REPEAT_DROPOUT); all others do not.
    own = table[(table["mix_name"] == "assistant") & (table["segment"] == "assistant")]
    late = own[own["level"] >= 4]
    assert (late["dropout"] == grid.REPEAT_DROPOUT).all() and (late["epochs"] > 5).all()
    assert (
        table[table["mix_name"] != "assistant"].groupby("level")["dropout"].max()[:8] == 0
    ).all()
    # Early stopping: every kept checkpoint is no later than the step training stopped at.
    assert (table["best_step"] <= table["stopped_step"]).all()
    assert (table["stopped_step"] <= table["steps"]).all()


def test_zoo_show_prints_table_and_fit():
    result = subprocess.run(
        [sys.executable, "-m", "simulator.lm", "zoo", "show"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "R^2" in result.stdout and "validation bits per byte" in result.stdout
    for segment in corpus.SEGMENTS:
        assert segment in result.stdout


def test_zoo_facade_reexports_the_split_modules():
    assert zoo.ZooQuality is lookup.ZooQuality and zoo.quality_from_bpb is lookup.quality_from_bpb
    assert zoo.load_zoo_table is grid.load_zoo_table and zoo.fit_segments is zoo_fit.fit_segments
    for name in zoo.__all__:
        defined = [getattr(module, name, None) for module in (grid, zoo_fit, lookup)]
        assert any(value is getattr(zoo, name) for value in defined), name


def test_train_missing_measures_the_firm_point_and_caches_it(tmp_path, monkeypatch):
    from simulator.lm import cache
    from simulator.lm import train as train_module

    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    table = synthetic_table()
    table["flops"] = table["flops"] / 100.0  # zoo range 1e9 .. 1.28e11: a 1e9 point is ~10 steps
    quality_map = ZooQuality(["code", "creative"], (1e21, 1e26), table=table, train_missing=True)
    real = np.array([1e21, 1e27])
    mix = np.array([[0.7, 0.3], [0.7, 0.3]])
    _, bpb, extrapolated = quality_map(real, mix)
    assert extrapolated.all(axis=1).tolist() == [False, True]
    measured = grid.ensure_point({"code": 0.7, "creative": 0.3}, 1e9)
    assert measured.from_cache  # the lookup above trained and stored exactly this point
    assert bpb[0].tolist() == [measured.bpb["code"], measured.bpb["creative"]]

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(train_module, "_train_and_store", no_training)
    again = ZooQuality(["code", "creative"], (1e21, 1e26), table=table, train_missing=True)
    assert np.array_equal(again(real, mix)[1], bpb)
