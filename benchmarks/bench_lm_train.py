"""Training throughput (tokens/s) of the project's training loop against a plain reference loop.

Run: python benchmarks/bench_lm_train.py [--threads N ...] [--steps N] [--device auto|cpu|cuda]

Both train the same ~0.8M-parameter byte-level GPT (4 layers x 128, batch 32 x 128 bytes) on
the same batches, in the same process, alternating (project, reference, project, reference) so
that load on a shared machine hits both alike; the median of the repeats is printed:

- project: `simulator.lm.train.train` (learning-rate schedule, gradient clipping, AdamW with
  decoupled weight decay groups, progress reporting off, development evaluations off so that
  only optimizer steps are timed; the measurement's own tokens/s is read);
- reference: the plainest correct loop (fp32, no compile, no clipping, no schedule): forward,
  cross-entropy, backward, AdamW step.

The ratio says what the project's extras cost per step (it should be close to 1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

CONFIG = dict(n_layer=4, n_embd=128, n_head=4, block_size=128, batch_size=32)
MIX = {"creative": 1.0, "code": 1.0}


def reference_tokens_per_s(threads: int, steps: int, device: str) -> float:
    """A plain fp32 loop over the project's sampler (the data path is the same)."""
    import torch

    from simulator.lm.corpus import MixedBatchSampler
    from simulator.lm.device import resolve_device
    from simulator.lm.gpt import GPT, GPTConfig

    device = resolve_device(device)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = GPTConfig(CONFIG["n_layer"], CONFIG["n_embd"], CONFIG["n_head"], CONFIG["block_size"])
    model = GPT(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sampler = MixedBatchSampler(MIX, config.block_size, CONFIG["batch_size"], 0)
    start = time.perf_counter()
    for _ in range(steps):
        inputs, targets = (torch.from_numpy(a).to(device) for a in sampler.next_batch())
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps * CONFIG["batch_size"] * CONFIG["block_size"] / (time.perf_counter() - start)


def project_tokens_per_s(threads: int, steps: int, device: str, seed: int) -> tuple[float, int]:
    """tokens/s and parameter count of the project's `train` (uncached, no dev evaluations)."""
    from simulator.lm.train import TrainConfig, train

    config = TrainConfig(
        mix=MIX,
        steps=steps,
        lr=1e-3,
        seed=seed,
        threads=threads,
        device=device,
        dev_evals=0,
        **CONFIG,
    )
    measurement = train(config, quiet=True, use_cache=False)
    return measurement.tokens_per_s, measurement.params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats (median)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    import torch

    from simulator.lm.device import device_name, resolve_device

    os.environ["LLM_MARKET_CACHE"] = tempfile.mkdtemp(prefix="bench-lm-")  # never the user's
    device = resolve_device(args.device)
    for threads in args.threads:
        project, reference, params = [], [], 0
        for repeat in range(args.repeats):
            rate, params = project_tokens_per_s(threads, args.steps, device, seed=repeat)
            project.append(rate)
            reference.append(reference_tokens_per_s(threads, args.steps, device))
        p, r = statistics.median(project), statistics.median(reference)
        print(
            f"bench_lm_train: {params:,} params, batch {CONFIG['batch_size']}x"
            f"{CONFIG['block_size']}, {device_name(device)}, torch {torch.__version__}, "
            f"{threads} thread(s): project {p:,.0f} tokens/s, plain reference loop {r:,.0f} "
            f"tokens/s, ratio {p / r:.2f} (median of {args.repeats})"
        )


if __name__ == "__main__":
    main()
