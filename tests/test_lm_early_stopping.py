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
    # Every training block is in exactly one of fit and dev; validation is untouched. A
    # deduplicated fit split (the assistant's) keeps the first copy of each of its blocks.
    rest = [b for b in train_blocks if b not in set(dev)]
    if corpus.is_deduplicated(segment):
        assert fit == list(dict.fromkeys(rest))
    else:
        assert fit == rest
    assert set(train_blocks) == set(fit) | set(dev)
    assert corpus.DEV_BYTES <= len(bytes(corpus.dev_bytes(segment))) < 2 * corpus.DEV_BYTES
    assert validation == bytes(corpus.split(segment)[1])


def test_dev_split_prefers_blocks_that_occur_once():
    """The assistant corpus repeats most blocks; its development blocks are the unrepeated ones,
    so removing them costs the (undeduplicated) fit split only their own bytes."""
    blocks = collections.Counter(bytes(corpus.train_bytes("assistant")).split(SEP))
    dev = bytes(corpus.dev_bytes("assistant")).split(SEP)
    assert all(blocks[b] == 1 for b in dev)
    lost = len(corpus.train_bytes("assistant")) - len(corpus.dev_split("assistant")[0])
    assert lost <= len(corpus.dev_bytes("assistant")) + len(SEP) * len(dev)


def test_only_the_templated_assistant_corpus_is_deduplicated():
    """Repeated blocks are 64% of the assistant's fit bytes and at most 2.8% of the others':
    only the assistant's fit split loses its repeats (to 72,847 bytes, no block twice)."""
    shares = {s: corpus.repeated_share(corpus.dev_split(s)[0]) for s in corpus.SEGMENTS}
    assert shares["assistant"] == pytest.approx(0.6365, abs=1e-4)
    assert max(shares[s] for s in ("code", "creative", "chinese")) < 0.03
    assert [s for s in corpus.SEGMENTS if corpus.is_deduplicated(s)] == ["assistant"]
    fit = bytes(corpus.fit_bytes("assistant"))
    assert len(fit) == 72_847 and corpus.repeated_share(fit) == 0.0
    assert corpus.repeated_share(b"a\n\nbb\n\na") == pytest.approx(1 / 4)
    assert bytes(corpus.dedup_blocks(b"x\n\ny\n\nx\n\nz")) == b"x\n\ny\n\nz"
    for segment in ("code", "creative", "chinese"):
        assert corpus.fit_bytes(segment) is corpus.dev_split(segment)[0]


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


# ----- data-constrained training: deduplicated data, dropout where data repeats ---------------


def test_dropout_and_deduplicated_data_are_hashed_only_where_they_apply():
    """Configs the change does not touch keep their hashes (the shipped table's code, creative
    and chinese rows stay valid); an assistant mix's hash names its deduplicated fit split."""
    shipped = grid.load_zoo_table()
    for mix in ("code", "creative", "chinese"):
        config = grid.job_config(grid.Job(mix, SMALL_GRID[0], 0))
        assert config.dropout == 0 and "fit_split" not in config.hashed_fields()
        rows = shipped[(shipped["mix_name"] == mix) & (shipped["level"] == 0)]
        assert config.config_hash() in set(rows["config_hash"])
    for mix in ("assistant", "uniform"):
        fields = grid.grid_config(SMALL_GRID[0], mix).hashed_fields()
        assert fields["fit_split"] == {"assistant": corpus.DEDUP_TAG}
    plain = TrainConfig(steps=10, mix={"code": 1.0})
    dropped = TrainConfig(steps=10, mix={"code": 1.0}, dropout=0.1)
    assert "dropout" not in plain.hashed_fields() and dropped.hashed_fields()["dropout"] == 0.1
    assert plain.config_hash() != dropped.config_hash()
    assert dropped.gpt_config().dropout == 0.1
    for bad in (-0.1, 1.0, math.nan):
        with pytest.raises(ValueError, match="dropout"):
            TrainConfig(steps=10, dropout=bad)


def test_dropout_goes_to_the_trainings_that_repeat_their_data():
    """planned_epochs is the whole schedule's tokens over the (fraction of the) fit split;
    REPEAT_DROPOUT goes exactly to the jobs at REPEAT_EPOCHS or more: the assistant from level 4,
    the uniform mix at level 8, never a full-data code, creative or chinese model."""
    jobs = build_jobs("small")
    point = SMALL_GRID[4]
    tokens = grid.grid_config(point, "assistant").num_steps() * point.batch_size * 128
    assert grid.planned_epochs(point, "assistant") == pytest.approx(
        tokens / len(corpus.fit_bytes("assistant"))
    )
    assert grid.planned_epochs(point, "uniform") == pytest.approx(
        tokens / 4 / len(corpus.fit_bytes("assistant"))  # the mix's most repeated segment
    )
    for job in jobs:
        epochs = grid.planned_epochs(job.point, job.mix, job.data_fraction)
        expected = grid.REPEAT_DROPOUT if epochs >= grid.REPEAT_EPOCHS else 0.0
        assert grid.job_config(job).dropout == expected, job
    dropped = {
        (j.mix, j.point.level) for j in jobs if grid.job_config(j).dropout and j.data_fraction == 1
    }
    assert dropped == {("assistant", level) for level in range(4, 9)} | {("uniform", 8)}


def test_dropout_training_is_deterministic_and_differs_from_none(tmp_cache):
    runs = [
        train(
            TrainConfig(steps=20, lr=1e-2, dev_evals=2, dropout=d, **TINY),
            quiet=True,
            use_cache=False,
        )
        for d in (0.1, 0.1, 0.0)
    ]
    assert runs[0].bpb == runs[1].bpb  # bit-identical for a seed
    assert runs[0].bpb != runs[2].bpb


def test_build_reuses_rows_of_an_earlier_table_by_config_hash(tmp_cache, tmp_path, monkeypatch):
    """`reuse`: jobs whose hash is in the earlier table are copied, not trained; the rest train
    (and shards split only those)."""
    from simulator.lm import train as train_module

    tiny = (grid.GridPoint(0, 2e8, 1, 32, 2, 4, 1e-2),)
    monkeypatch.setitem(grid.GRIDS, "small", tiny)
    monkeypatch.setitem(grid.DATA_LEVELS, "small", ())
    first = grid.build_zoo("small", out=tmp_path / "a.csv", quiet=True)
    assert first["config_hash"].nunique() == len(grid.ZOO_MIXES)
    trained: list[str] = []
    real_train = train_module.train

    def counting_train(config, **kwargs):
        trained.append(corpus.mix_name(config.mix))
        return real_train(config, **kwargs)

    monkeypatch.setattr(train_module, "train", counting_train)
    again = grid.build_zoo("small", out=tmp_path / "b.csv", quiet=True, reuse=first)
    assert trained == []
    keep = ["bpb", "config_hash", "segment", "wall_time_s"]
    assert again[keep].equals(first[keep])
    partial = first[first["mix_name"] != "code"]
    grid.build_zoo("small", out=tmp_path / "c.csv", quiet=True, reuse=partial, shard=(1, 2))
    assert trained == []  # one job left to train: shard 1 of 2 has none
    table = grid.build_zoo("small", out=tmp_path / "c.csv", quiet=True, reuse=partial)
    assert trained == ["code"] and len(table) == len(first)
    assert (table["dropout"] == 0).all()


def test_zoo_level_commands_and_firm_points_train_as_the_zoo_does():
    """`lm train/sample --zoo-level N --mix M` and ensure_point use the build's dropout rule,
    so they reach the zoo's own cache entries: the shipped table holds the hash of the
    assistant-only model at level 7 (dropout) and the code-only one (none)."""
    import argparse

    from simulator.lm.cli import _config_from_args, add_lm_commands

    parser = argparse.ArgumentParser()
    add_lm_commands(parser.add_subparsers(dest="command"))
    shipped = set(grid.load_zoo_table()["config_hash"])
    for mix, dropout in (("assistant", grid.REPEAT_DROPOUT), ("code", 0.0)):
        args = parser.parse_args(["lm", "train", "--mix", mix, "--zoo-level", "7"])
        config = _config_from_args(args)
        assert config.dropout == dropout
        assert config.config_hash() in shipped, mix
    # a firm's own mix and budget: the rule reads its schedule (more steps, more epochs)
    low = grid.zoo_config(SMALL_GRID[7], {"assistant": 0.5, "code": 0.5}, flops=1e11)
    high = grid.zoo_config(SMALL_GRID[7], {"assistant": 0.5, "code": 0.5}, flops=1e13)
    assert grid.config_epochs(low) < grid.REPEAT_EPOCHS <= grid.config_epochs(high)
    assert (low.dropout, high.dropout) == (0.0, grid.REPEAT_DROPOUT)
