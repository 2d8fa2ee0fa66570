"""Train one byte-level GPT on a data mix for a compute budget and measure its bpb.

`train(TrainConfig) -> Measurement` is cached by config hash: a second call with the same
configuration returns the stored measurement without training. torch is imported only inside
the functions that need it, so importing this module (for TrainConfig / Measurement) is cheap.

Early stopping (data-constrained training). The budget fixes the number of optimizer steps
and the learning-rate schedule. `dev_evals` times during the run the model's bpb on the
development split (carved from the training split, corpus.dev_bytes) is measured; the
checkpoint with the best development bpb is the one kept, evaluated on the untouched validation
split and stored. Training stops early after `patience` evaluations without improvement (the
small assistant corpus, seen tens of times at the top budgets, over-fits). The measurement
records the kept step, the step training stopped at and the epochs of each segment's data seen.

Determinism: the model is initialised on CPU from `seed`, batches come from a numpy generator
seeded with `seed`, and CPU runs use a pinned thread count; so the same config on the same
device (and thread count) gives bit-identical bpb.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.lm import cache, corpus
from simulator.lm.device import autocast, device_name, precision_plan, resolve_device
from simulator.lm.progress import ProgressReporter

if TYPE_CHECKING:
    from simulator.lm.gpt import GPT, GPTConfig

#: Bumped whenever a change to training or evaluation would change measurements.
TRAINING_CODE_VERSION = "bytegpt-v2-devsplit"
#: Fields that choose where/how fast a run executes, not what is measured; not hashed.
UNHASHED_FIELDS = ("device", "threads")


@dataclass
class TrainConfig:
    """One training run. Give the budget as `flops` (~ 6 * params * tokens, see gpt.py) or
    as explicit `steps` (exactly one of the two)."""

    mix: dict[str, float] = field(default_factory=lambda: {"creative": 1.0})
    flops: float | None = None
    steps: int | None = None
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4
    block_size: int = 128
    batch_size: int = 32
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int | None = None  # None: 10% of the steps, at most 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    #: Development-split evaluations spread evenly over the run (the last at the final step);
    #: the best one's checkpoint is kept. 0: no development split use, keep the final weights.
    dev_evals: int = 10
    #: Stop after this many development evaluations without improvement (None: never stop).
    patience: int | None = 3
    #: Share of each trained segment's fit split used, a prefix (corpus.fit_subset): the
    #: zoo's data axis. Hashed only when below 1, so full-data models keep their hashes.
    data_fraction: float = 1.0
    #: Dropout on embeddings, attention and MLP outputs while training (regularises models
    #: that see their data many times; grid.REPEAT_DROPOUT). Hashed only when above 0.
    dropout: float = 0.0
    seed: int = 0
    base: str | None = None  # config hash of a cached model to fine-tune from
    device: str = "auto"  # "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...
    threads: int = 1  # CPU threads torch may use (pinned for determinism)

    def __post_init__(self) -> None:
        self.mix = corpus.normalise_mix(self.mix)
        if (self.flops is None) == (self.steps is None):
            raise ValueError("give exactly one of flops or steps")
        if self.flops is not None and not (math.isfinite(self.flops) and self.flops > 0):
            raise ValueError(f"flops must be a positive number, got {self.flops}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.batch_size < 1 or self.lr <= 0 or self.threads < 1:
            raise ValueError("batch_size, lr and threads must be positive")
        if self.dev_evals < 0 or (self.patience is not None and self.patience < 1):
            raise ValueError("dev_evals must be >= 0 and patience >= 1 (or None)")
        if not (math.isfinite(self.data_fraction) and 0 < self.data_fraction <= 1):
            raise ValueError(f"data_fraction must be in (0, 1], got {self.data_fraction}")
        if not (math.isfinite(self.dropout) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")

    def gpt_config(self) -> GPTConfig:
        from simulator.lm.gpt import GPTConfig

        return GPTConfig(
            self.n_layer, self.n_embd, self.n_head, self.block_size, dropout=self.dropout
        )

    def flops_per_token(self) -> int:
        from simulator.lm.gpt import flops_per_token

        return flops_per_token(self.gpt_config())

    def tokens_per_step(self) -> int:
        return self.batch_size * self.block_size

    def num_steps(self) -> int:
        """Optimizer steps: given, or the budget divided by FLOPs per step (at least one)."""
        if self.steps is not None:
            return self.steps
        assert self.flops is not None
        return max(1, round(self.flops / (self.flops_per_token() * self.tokens_per_step())))

    def hashed_fields(self, code_version: str = TRAINING_CODE_VERSION) -> dict[str, Any]:
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in UNHASHED_FIELDS}
        if fields["data_fraction"] == 1.0:
            del fields["data_fraction"]  # the default: hashes from before the data axis hold
        if fields["dropout"] == 0.0:
            del fields["dropout"]  # likewise for models trained without dropout
        deduplicated = [s for s in self.mix if corpus.is_deduplicated(s)]
        if deduplicated:  # their fit split changed (corpus.dedup_blocks); others' did not
            fields["fit_split"] = {s: corpus.DEDUP_TAG for s in deduplicated}
        fields["code_version"] = code_version
        return fields

    def config_hash(self, code_version: str = TRAINING_CODE_VERSION) -> str:
        """16 hex digits of SHA-256 over the canonical JSON of what determines the result
        (``code_version``: the training code's version tag; the current one by default)."""
        canonical = json.dumps(
            self.hashed_fields(code_version), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Measurement:
    """What one training run measured; JSON-serialisable via to_dict / from_dict."""

    config_hash: str
    config: dict[str, Any]
    mix_name: str
    seed: int
    bpb: dict[str, float]  # validation bits per byte, per segment, over the whole split
    params: int
    steps: int  # optimizer steps of the budget (the schedule's length)
    tokens: int  # training tokens (bytes) seen by the kept checkpoint
    flops: float  # the run's budget: flops_per_token * steps * tokens per step
    cumulative_flops: float  # including the base model's chain when fine-tuning
    wall_time_s: float
    train_time_s: float
    eval_time_s: float
    tokens_per_s: float  # training throughput
    device: str
    torch_version: str
    threads: int
    created_utc: str
    best_step: int = 0  # optimizer steps behind the kept checkpoint (best development bpb)
    stopped_step: int = 0  # optimizer steps run before training ended (early stop or budget)
    dev_bpb: float | None = None  # mix-weighted development bpb of the kept checkpoint
    #: passes over each trained segment's fit split made by the kept checkpoint
    epochs: dict[str, float] = field(default_factory=dict)
    from_cache: bool = False  # set when returned from the cache, never stored as True

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("from_cache")
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_NUMBER_FIELDS = ("params", "steps", "tokens", "flops", "cumulative_flops", "wall_time_s")


def _checked_measurement(entry: cache.Entry) -> tuple[Measurement, TrainConfig]:
    """The entry's measurement and config, if they are well-formed and the config hashes to
    the entry's hash (with the code version it was trained with); else `BrokenEntry`."""
    data, path = entry.data, entry.measurement_path
    try:
        config = TrainConfig.from_dict(data["config"])
        measurement = Measurement.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise cache.BrokenEntry(path, f"does not hold a valid measurement ({detail})") from None
    bpb = measurement.bpb
    numbers_ok = all(
        isinstance(getattr(measurement, name), (int, float))
        and not isinstance(getattr(measurement, name), bool)
        for name in _NUMBER_FIELDS
    )
    bpb_ok = (
        isinstance(bpb, dict)
        and bool(bpb)
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in bpb.values())
    )
    if not (numbers_ok and bpb_ok):
        raise cache.BrokenEntry(path, "does not hold a valid measurement (bad values)")
    code_version = (entry.checksums or {}).get("code_version", TRAINING_CODE_VERSION)
    if not isinstance(code_version, str) or config.config_hash(code_version) != entry.config_hash:
        raise cache.BrokenEntry(
            path, f"holds a configuration that does not hash to {entry.config_hash}"
        )
    return measurement, config


def _check_weights(path, config: TrainConfig) -> None:
    """Format-1 entries: the weights file is whole (torch writes a zip archive with a CRC-32
    per record: `testzip` reads them all), loads, fits the config's architecture and is finite.
    """
    import zipfile

    import torch

    from simulator.lm.gpt import GPT

    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise cache.BrokenEntry(path, f"is not a whole weights file ({exc})") from None
    if bad is not None:
        raise cache.BrokenEntry(path, f"is garbled (record {bad} fails its CRC-32)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        GPT(config.gpt_config()).load_state_dict(state, strict=True)
        finite = all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    except Exception as exc:  # noqa: BLE001 - torch.load raises many kinds; all mean "broken"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise cache.BrokenEntry(
            path, f"cannot be loaded as this configuration's weights ({first[:160]})"
        ) from None
    if not finite:
        raise cache.BrokenEntry(path, "holds non-finite weights")


def cached_measurement(config_hash: str) -> Measurement | None:
    """The cached measurement for a config hash, or None when the cache has none.

    The entry is verified first (checksums of both files, config hash, well-formed values);
    an entry that cannot be trusted raises `cache.BrokenEntry` naming the file. A format-1
    entry (no checksums) is checked as far as it can be (its weights are loaded into the
    config's architecture) and then stamped with checksums, when the cache is writable.
    """
    entry = cache.read_entry(config_hash)
    if entry is None:
        return None
    measurement, config = _checked_measurement(entry)
    if not entry.verified:
        _check_weights(entry.weights_path, config)
        cache.stamp_entry(entry, code_version=TRAINING_CODE_VERSION)
    measurement.from_cache = True
    return measurement


def dev_schedule(total_steps: int, dev_evals: int) -> frozenset[int]:
    """Steps (1-based counts of optimizer steps done) after which the development split is
    evaluated: `dev_evals` evenly spaced, the last at the final step."""
    if dev_evals <= 0:
        return frozenset()
    count = min(dev_evals, total_steps)
    return frozenset(round(total_steps * (k + 1) / count) for k in range(count))


def learning_rate(step: int, total_steps: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio * lr at the last step."""
    warmup = config.warmup_steps
    if warmup is None:
        warmup = min(100, total_steps // 10)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * (config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine)


SPLITS = {"validation": corpus.validation_bytes, "dev": corpus.dev_bytes}


def evaluate_bpb(
    model: GPT,
    segments: tuple[str, ...] = corpus.SEGMENTS,
    device: str = "cpu",
    batch: int = 64,
    split: str = "validation",
) -> dict[str, float]:
    """Bits per byte on each segment's WHOLE validation (or development) split, deterministic.

    Non-overlapping windows of block_size cover the split (corpus.evaluation_windows); every
    byte after the first is scored exactly once, so bpb = total nats / bytes / ln 2.
    """
    import torch
    from torch.nn import functional as F

    block_size = model.config.block_size
    plan = precision_plan(device)
    was_training = model.training
    model.eval()
    result: dict[str, float] = {}
    with torch.inference_mode():
        for segment in segments:
            data = torch.from_numpy(SPLITS[split](segment).astype(np.int64))
            windows = corpus.evaluation_windows(data, block_size)
            total_nats, total_bytes = 0.0, 0
            for first in range(0, len(windows), batch):
                chunk = windows[first : first + batch]
                length = min(block_size, len(data) - 1)
                inputs = torch.stack([data[s : s + length] for s, _ in chunk]).to(device)
                targets = torch.stack([data[s + 1 : s + 1 + length] for s, _ in chunk]).to(device)
                mask = torch.stack(
                    [torch.arange(length) >= scored_from for _, scored_from in chunk]
                ).to(device)
                with autocast(plan):
                    logits = model(inputs)
                nats = F.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]),
                    targets.reshape(-1),
                    reduction="none",
                )
                total_nats += float(nats[mask.reshape(-1)].double().sum())
                total_bytes += int(mask.sum())
            result[segment] = total_nats / total_bytes / math.log(2)
    model.train(was_training)
    return result


def train(config: TrainConfig, *, quiet: bool = False, use_cache: bool = True) -> Measurement:
    """Train (or fetch from the cache) the model described by `config` and measure its bpb.

    The weights are saved next to the measurement in the cache, for fine-tuning and sampling.
    A broken cache entry (truncated, garbled or swapped files) is reported on stderr with its
    path and the model is trained again and rewritten. When the cache cannot be written (not a
    folder, read-only, disk full) the model is still trained and its measurement returned;
    one warning per process names the cache.
    """
    config_hash = config.config_hash()
    if use_cache:
        try:
            cached = cached_measurement(config_hash)
        except cache.BrokenEntry as broken:
            cache.warn_once(str(broken.path), f"{broken}; training it again")
            cached = None
        if cached is not None:
            return cached
    return _train_and_store(config, config_hash, quiet=quiet)


class ModelNotFound(KeyError):
    """No trained model with this config hash in the cache."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "model not found"


def load_model(config_hash: str, device: str = "cpu") -> tuple[GPT, Measurement]:
    """The cached model for a config hash (in eval mode) and its measurement.

    Raises `ModelNotFound` (a KeyError) when there is none, `cache.BrokenEntry` when the entry
    cannot be trusted.
    """
    import torch

    from simulator.lm.gpt import GPT

    measurement = cached_measurement(config_hash)
    if measurement is None:
        raise ModelNotFound(
            f"no trained model with config hash {config_hash!r} in {cache.cache_root()}"
        )
    path = cache.weights_path(config_hash)
    model = GPT(TrainConfig.from_dict(measurement.config).gpt_config())
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:  # noqa: BLE001 - checksummed, so only a change since the check
        raise cache.BrokenEntry(path, f"cannot be loaded ({type(exc).__name__})") from None
    model.to(device).eval()
    return model, measurement


def _store(config_hash: str, state: dict, measurement: Measurement, wall_start: float) -> None:
    """Write the entry; a cache that cannot be written costs a warning, never the result."""
    import torch

    try:
        digest = cache.write_weights(config_hash, lambda path: torch.save(state, path))
        measurement.wall_time_s = time.perf_counter() - wall_start
        cache.write_measurement(
            config_hash, measurement.to_dict(), digest, code_version=TRAINING_CODE_VERSION
        )
    except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as RuntimeError
        root = cache.cache_root()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        cache.warn_once(
            f"unwritable:{root}",
            f"cannot write to the LM cache {root} ({reason}; at {cache.entry_dir(config_hash)}); "
            f"trained models are returned but not cached (set {cache.CACHE_ENV_VAR} to a "
            "writable folder)",
        )
        measurement.wall_time_s = time.perf_counter() - wall_start


def _train_and_store(config: TrainConfig, config_hash: str, *, quiet: bool) -> Measurement:
    import torch

    from simulator.lm.gpt import GPT

    wall_start = time.perf_counter()
    device = resolve_device(config.device)
    on_cuda = device.startswith("cuda")
    plan = precision_plan(device)
    previous_threads = torch.get_num_threads()
    if not on_cuda:
        torch.set_num_threads(config.threads)
    else:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    try:
        torch.manual_seed(config.seed)
        model = GPT(config.gpt_config())
        base_flops = 0.0
        if config.base is not None:
            base_model, base_measurement = load_model(config.base)
            if base_model.config != model.config:
                raise ValueError(
                    f"base model {config.base} has architecture {base_model.config}, "
                    f"not {model.config}"
                )
            model.load_state_dict(base_model.state_dict())
            base_flops = base_measurement.cumulative_flops
        model.to(device).train()

        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=config.lr,
            betas=(0.9, 0.95),
            fused=plan.fused_optimizer,
        )
        sampler = corpus.MixedBatchSampler(
            config.mix, config.block_size, config.batch_size, config.seed, config.data_fraction
        )
        total_steps = config.num_steps()
        label = f"{corpus.mix_name(config.mix)} {config_hash[:8]}"
        progress = ProgressReporter(total_steps, label, quiet)
        checkpoints = dev_schedule(total_steps, config.dev_evals)
        best_dev, best_step, best_state, best_seen, since_best = math.inf, total_steps, None, {}, 0
        stopped_step = total_steps
        dev_time = 0.0
        train_start = time.perf_counter()
        try:
            for step in range(total_steps):
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(step, total_steps, config)
                inputs, targets = (
                    torch.from_numpy(a).to(device, non_blocking=True) for a in sampler.next_batch()
                )
                with autocast(plan):
                    logits = model(inputs)
                loss = torch.nn.functional.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1)
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                if not quiet:
                    elapsed = time.perf_counter() - train_start
                    rate = (step + 1) * config.tokens_per_step() / max(elapsed, 1e-9)
                    progress.update(step, float(loss), rate)
                if step + 1 in checkpoints:
                    dev_start = time.perf_counter()
                    dev = evaluate_bpb(model, tuple(config.mix), device=device, split="dev")
                    dev_time += time.perf_counter() - dev_start
                    dev_mixed = sum(config.mix[s] * dev[s] for s in config.mix)
                    if dev_mixed < best_dev:
                        best_dev, best_step, since_best = dev_mixed, step + 1, 0
                        best_seen = dict(sampler.bytes_seen)
                        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    else:
                        since_best += 1
                        if config.patience is not None and since_best >= config.patience:
                            stopped_step = step + 1
                            break
            if best_state is not None:
                model.load_state_dict(best_state)
            else:
                best_seen = dict(sampler.bytes_seen)
            if on_cuda:
                torch.cuda.synchronize()
        finally:
            progress.close()
        train_time = time.perf_counter() - train_start - dev_time

        eval_start = time.perf_counter()
        bpb = evaluate_bpb(model, device=device)
        eval_time = time.perf_counter() - eval_start + dev_time

        tokens = best_step * config.tokens_per_step()
        flops = float(config.flops_per_token() * total_steps * config.tokens_per_step())
        epochs = {
            s: seen / len(corpus.fit_subset(s, config.data_fraction))
            for s, seen in best_seen.items()
        }
        measurement = Measurement(
            config_hash=config_hash,
            config=config.to_dict(),
            mix_name=corpus.mix_name(config.mix),
            seed=config.seed,
            bpb=bpb,
            params=model.num_parameters(),
            steps=total_steps,
            tokens=tokens,
            flops=flops,
            cumulative_flops=base_flops + flops,
            wall_time_s=0.0,
            train_time_s=train_time,
            eval_time_s=eval_time,
            tokens_per_s=stopped_step * config.tokens_per_step() / max(train_time, 1e-9),
            device=device_name(device),
            torch_version=torch.__version__,
            threads=config.threads if not on_cuda else torch.get_num_threads(),
            created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            best_step=best_step,
            stopped_step=stopped_step,
            dev_bpb=best_dev if math.isfinite(best_dev) else None,
            epochs=epochs,
        )
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        _store(config_hash, state, measurement, wall_start)
        return measurement
    finally:
        torch.set_num_threads(previous_threads)
