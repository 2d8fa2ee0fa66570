"""Training throughput (tokens/s) of a ~0.8M-parameter byte-level GPT on this machine.

Run: python benchmarks/bench_lm_train.py [--threads N] [--steps N] [--device auto|cpu|cuda]
Times optimizer steps only (after warm-up steps), not evaluation, and prints one line per run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled


def measure(threads: int, steps: int, warmup: int, device: str) -> tuple[float, int, str]:
    """(tokens per second, parameter count, device) for the benchmark configuration."""
    import torch

    from simulator.lm.corpus import MixedBatchSampler
    from simulator.lm.gpt import GPT, GPTConfig
    from simulator.lm.train import device_name, resolve_device

    device = resolve_device(device)
    on_cuda = device.startswith("cuda")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = GPTConfig(n_layer=4, n_embd=128, n_head=4, block_size=128)
    model = GPT(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=on_cuda)
    batch_size = 32
    sampler = MixedBatchSampler({"creative": 1.0, "code": 1.0}, config.block_size, batch_size, 0)

    def step() -> None:
        inputs, targets = (torch.from_numpy(a).to(device) for a in sampler.next_batch())
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
            logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if on_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if on_cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    rate = steps * batch_size * config.block_size / elapsed
    return rate, model.num_parameters(), device_name(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    import torch

    for threads in args.threads:
        rate, params, device = measure(threads, args.steps, args.warmup, args.device)
        print(
            f"bench_lm_train: {params:,} params, batch 32x128, {device}, torch "
            f"{torch.__version__}, {threads} thread(s): {rate:,.0f} tokens/s"
        )


if __name__ == "__main__":
    main()
