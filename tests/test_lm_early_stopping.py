"""The development split and early stopping: disjoint from what is trained on, the kept
checkpoint is the best one measured on it, and the CUDA path's choices are testable on CPU."""

from __future__ import annotations

import collections
import math

import pytest

from simulator.lm import corpus, grid
from simulator.lm.device import precision_plan
from simulator.lm.gpt import GPTConfig, count_parameters
from simulator.lm.grid import LARGE_GRID, SMALL_GRID, build_jobs, grid_config, parse_shard
from simulator.lm.train import (
    TrainConfig,
    dev_schedule,
    evaluate_bpb,
    load_model,
    train,
)

SEP = corpus.BLOCK_SEPARATOR


@pytest.mark.parametrize("segment", corpus.SEGMENTS)
def test_dev_split_is_carved_from_training_and_shares_no_block_with_fit(segment):
    fit = bytes(corpus.fit_bytes(segment)).split(SEP)
    dev = bytes(corpus.dev_bytes(segment)).split(SEP)
    train_blocks = bytes(corpus.train_bytes(segment)).split(SEP)
    validation = bytes(corpus.validation_bytes(segment))
    assert not set(dev) & set(fit)
    assert len(dev) == len(set(dev))  # one copy of each development block
    # Every training block is in exactly one of fit and dev; validation is untouched.
    assert collections.Counter(fit) + collections.Counter({b: 0 for b in dev}) == (
        collections.Counter(b for b in train_blocks if b not in set(dev))
    )
    assert set(train_blocks) == set(fit) | set(dev)
    assert corpus.DEV_BYTES <= len(bytes(corpus.dev_bytes(segment))) < 2 * corpus.DEV_BYTES
    assert validation == bytes(corpus.split(segment)[1])


def test_dev_split_prefers_blocks_that_occur_once():
    """The assistant corpus repeats most blocks; its development blocks are the unrepeated ones,
    so removing them costs the fit split only their own bytes."""
    blocks = collections.Counter(bytes(corpus.train_bytes("assistant")).split(SEP))
    dev = bytes(corpus.dev_bytes("assistant")).split(SEP)
    assert all(blocks[b] == 1 for b in dev)
    lost = len(corpus.train_bytes("assistant")) - len(corpus.fit_bytes("assistant"))
    assert lost <= len(corpus.dev_bytes("assistant")) + len(SEP) * len(dev)


def test_sampler_draws_only_fit_bytes():
    sampler = corpus.MixedBatchSampler({"assistant": 1.0}, 64, 16, seed=0)
    fit = bytes(corpus.fit_bytes("assistant"))
    dev_only = [b for b in bytes(corpus.dev_bytes("assistant")).split(SEP) if len(b) > 80]
    for _ in range(20):
        inputs, _ = sampler.next_batch()
        for row in inputs:
            assert bytes(row.astype("uint8")) in fit
    assert dev_only and all(b not in fit for b in dev_only)
    assert sampler.bytes_seen == {"assistant": 20 * 16 * 64}


def test_dev_schedule_spreads_evaluations_and_ends_at_the_last_step():
    assert dev_schedule(100, 10) == frozenset(range(10, 101, 10))
    assert max(dev_schedule(4899, 10)) == 4899 and len(dev_schedule(4899, 10)) == 10
    assert dev_schedule(3, 10) == frozenset({1, 2, 3})
    assert dev_schedule(100, 0) == frozenset()


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_MARKET_CACHE", str(tmp_path / "cache"))


TINY = dict(mix={"assistant": 1.0}, n_layer=1, n_embd=32, n_head=2, batch_size=8, seed=3)


def test_diverging_run_stops_early_and_keeps_the_best_checkpoint(tmp_cache):
    """A learning rate far too high makes the development bpb worse after the first evaluations:
    training stops after `patience` evaluations without improvement and the stored weights are
    the best checkpoint's (re-measured from the cache, they give the recorded numbers)."""
    config = TrainConfig(steps=200, lr=0.3, dev_evals=20, patience=2, warmup_steps=0, **TINY)
    measurement = train(config, quiet=True)
    assert measurement.best_step < measurement.stopped_step < measurement.steps
    assert measurement.stopped_step - measurement.best_step == 2 * 10  # two evaluations later
    model, _ = load_model(measurement.config_hash)
    dev = evaluate_bpb(model, ("assistant",), split="dev")["assistant"]
    assert dev == pytest.approx(measurement.dev_bpb, abs=1e-12)
    assert evaluate_bpb(model) == pytest.approx(measurement.bpb, abs=1e-12)
    assert measurement.tokens == measurement.best_step * 8 * 128
    fit_bytes = len(corpus.fit_bytes("assistant"))
    assert measurement.epochs["assistant"] == pytest.approx(measurement.tokens / fit_bytes)
    assert measurement.flops == config.flops_per_token() * 200 * 8 * 128  # the budget


def test_without_development_evaluations_the_final_weights_are_kept(tmp_cache):
    measurement = train(TrainConfig(steps=30, lr=1e-2, dev_evals=0, **TINY), quiet=True)
    assert measurement.best_step == measurement.stopped_step == measurement.steps == 30
    assert measurement.dev_bpb is None


def test_training_config_rejects_bad_early_stopping_settings():
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(steps=10, patience=0)
    with pytest.raises(ValueError, match="dev_evals"):
        TrainConfig(steps=10, dev_evals=-1)


# ----- the CUDA path, device-independent parts, on CPU -----------------------------------------


def test_cuda_plan_is_bf16_autocast_with_fused_adamw_and_cpu_is_plain_fp32():
    cuda, cuda1, cpu = precision_plan("cuda"), precision_plan("cuda:1"), precision_plan("cpu")
    assert cuda.autocast and cuda.fused_optimizer and cuda.autocast_dtype == "bfloat16"
    assert cuda1 == cuda
    assert not cpu.autocast and not cpu.fused_optimizer


def test_cache_key_does_not_depend_on_the_device_or_threads():
    point = LARGE_GRID[-1]
    on_gpu = grid_config(point, "creative", device="cuda", threads=1)
    on_cpu = grid_config(point, "creative", device="cpu", threads=8)
    assert on_gpu.config_hash() == on_cpu.config_hash()
    assert grid_config(point, "code").config_hash() != on_cpu.config_hash()


def test_large_grid_reaches_a_ten_million_parameter_model_and_auto_picks_it_on_cuda(monkeypatch):
    import torch

    from simulator.lm import grid

    top = LARGE_GRID[-1]
    params = count_parameters(GPTConfig(top.n_layer, top.n_embd, top.n_head, top.block_size))
    assert 8e6 < params < 2e7
    pairs = zip(LARGE_GRID[:-1], LARGE_GRID[1:], strict=True)
    assert all(b.flops == pytest.approx(2 * a.flops) for a, b in pairs)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert grid.resolve_grid("auto") == "large"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert grid.resolve_grid("auto") == "small"


# ----- the grid ------------------------------------------------------------------------------


def test_small_grid_extends_three_doublings_above_the_anchor_levels():
    flops = [p.flops for p in SMALL_GRID]
    assert flops == sorted(flops) and len(flops) == 9
    assert flops[8] / flops[7] == pytest.approx(8, rel=1e-3)
    assert math.log10(flops[-1] / flops[0]) > 2.9


def test_build_jobs_finish_each_level_before_the_next_and_shards_partition_them():
    jobs = build_jobs("small")
    compute = [job for job in jobs if job.data_fraction == 1.0]
    data = [job for job in jobs if job.data_fraction < 1.0]
    assert jobs == compute + data  # the compute grid first, then the data axis
    for part in (compute, data):
        levels = [job.point.level for job in part]
        assert levels == sorted(levels)
    # the data axis: every single-segment mix at each data level and fraction, one seed
    assert {(j.mix, j.point.level, j.data_fraction) for j in data} == {
        (mix, level, fraction)
        for mix in corpus.SEGMENTS
        for level in grid.DATA_LEVELS["small"]
        for fraction in grid.DATA_FRACTIONS
    }
    shards = [jobs[i::3] for i in range(3)]
    assert sorted(map(str, sum(shards, []))) == sorted(map(str, jobs))
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)
