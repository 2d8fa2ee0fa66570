"""Training a tiny byte-level GPT: it learns, it is deterministic, and the cache short-cuts it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulator.lm import cache, corpus
from simulator.lm import train as train_module
from simulator.lm.train import Measurement, TrainConfig, train

pytest.importorskip("torch")

TINY = dict(
    mix={"creative": 1.0}, steps=200, n_layer=1, n_embd=32, n_head=2, batch_size=8, lr=2e-2, seed=7
)


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def trained(tmp_cache) -> Measurement:
    return train(TrainConfig(**TINY), quiet=True)


def test_split_is_contiguous_last_tenth():
    data = corpus.load_bytes("assistant")
    train_part, validation = corpus.split("assistant")
    assert len(train_part) + len(validation) == len(data)
    assert abs(len(validation) / len(data) - 0.10) < 1e-3
    assert bytes(validation[:100]) == bytes(data[len(train_part) : len(train_part) + 100])


def test_evaluation_windows_score_every_byte_once():
    for n in (2, 50, 129, 1000, 1025):
        scored = np.zeros(n - 1, dtype=int)
        for start, first in corpus.evaluation_windows(np.zeros(n), 128):
            length = min(128, n - 1)
            scored[start + first : start + length] += 1
        assert (scored == 1).all(), n


def test_unigram_entropy_is_a_byte_level_cross_entropy():
    for segment in corpus.SEGMENTS:
        h = corpus.unigram_entropy(segment)
        assert 3.0 < h < 8.0, segment
    # Chinese UTF-8 spreads over many byte values: higher byte entropy than English.
    assert corpus.unigram_entropy("chinese") > corpus.unigram_entropy("creative")


def test_sampler_follows_seed_and_mix():
    a = corpus.MixedBatchSampler({"code": 1, "creative": 1}, 16, 4, seed=3).next_batch()
    b = corpus.MixedBatchSampler({"code": 1, "creative": 1}, 16, 4, seed=3).next_batch()
    c = corpus.MixedBatchSampler({"code": 1, "creative": 1}, 16, 4, seed=4).next_batch()
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])
    assert np.array_equal(a[0][:, 1:], a[1][:, :-1])  # targets are inputs shifted by one
    with pytest.raises(ValueError, match="klingon"):
        corpus.MixedBatchSampler({"klingon": 1}, 16, 4, seed=0)


def test_training_beats_the_unigram_entropy(trained):
    assert trained.bpb["creative"] < corpus.unigram_entropy("creative") - 0.3
    assert set(trained.bpb) == set(corpus.SEGMENTS)
    assert trained.tokens == 200 * 8 * 128 and trained.flops > 6 * trained.params * trained.tokens
    json.loads(json.dumps(trained.to_dict()))  # JSON-serialisable


def test_same_seed_gives_bit_identical_bpb(trained):
    again = train(TrainConfig(**TINY), quiet=True, use_cache=False)
    assert again.bpb == trained.bpb
    other_seed = train(TrainConfig(**{**TINY, "seed": 8}), quiet=True, use_cache=False)
    assert other_seed.bpb["creative"] != trained.bpb["creative"]


def test_cache_returns_stored_measurement_without_training(trained, tmp_cache, monkeypatch):
    config_hash = TrainConfig(**TINY).config_hash()
    assert (tmp_cache / "lm" / config_hash / "measurement.json").is_file()
    assert (tmp_cache / "lm" / config_hash / "weights.pt").is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("training loop called despite a cached measurement")

    monkeypatch.setattr(train_module, "_train_and_store", no_training)
    cached = train(TrainConfig(**{**TINY, "threads": 2}), quiet=True)  # threads: not hashed
    assert cached.from_cache and cached.bpb == trained.bpb
    with pytest.raises(AssertionError, match="training loop called"):
        train(TrainConfig(**{**TINY, "steps": 201}), quiet=True)


def test_fine_tuning_starts_from_the_base_weights(trained):
    config = TrainConfig(**{**TINY, "steps": 1, "lr": 1e-9, "base": trained.config_hash})
    tuned = train(config, quiet=True)
    assert tuned.cumulative_flops > tuned.flops
    assert abs(tuned.bpb["creative"] - trained.bpb["creative"]) < 1e-3


def test_config_validation():
    with pytest.raises(ValueError, match="exactly one"):
        TrainConfig(mix={"code": 1.0})
    with pytest.raises(ValueError, match="flops"):
        TrainConfig(mix={"code": 1.0}, flops=-1.0)
    with pytest.raises(ValueError, match="martian"):
        TrainConfig(mix={"martian": 1.0}, steps=1)
