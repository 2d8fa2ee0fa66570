"""`llm-market lm ...`: train, sample, and build/show the model zoo.

Hooked into the main CLI with add_lm_commands(subparsers); every handler returns an exit code.
Bad input prints one line on stderr naming the option and returns 2 (no traceback).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from simulator.lm import corpus
from simulator.terminal import closed_pipe_safe

USAGE_ERROR = 2


class UsageError(Exception):
    """Bad command-line input; the message names the offending option."""


def _fail(command: str, message: str) -> int:
    print(f"llm-market {command}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def _parse_mix(text: str) -> dict[str, float]:
    try:
        return corpus.parse_mix(text)
    except ValueError as error:
        raise UsageError(f"--mix: {error}") from None


def _parse_positive(option: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{option}: not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option}: must be a positive number, got {text}")
    return value


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options that define a training run (shared by `lm train` and `lm sample`)."""
    parser.add_argument(
        "--mix",
        default="creative",
        help="segment name, 'uniform', or weights like code=0.7,creative=0.3",
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--flops", help="training compute budget in FLOPs (e.g. 1e12)")
    budget.add_argument("--steps", type=int, help="explicit number of optimizer steps")
    parser.add_argument(
        "--zoo-level",
        type=int,
        help="train as the zoo does at this small-grid level: its architecture, budget and "
        "dropout rule (dropout 0.1 where the schedule repeats some segment's data >= 15 times)",
    )
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base", help="config hash of a cached model to fine-tune from")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")


def _config_from_args(args: argparse.Namespace):
    """TrainConfig from the shared model options, or UsageError naming the bad option."""
    from simulator.lm.grid import GRIDS, zoo_config
    from simulator.lm.train import TrainConfig

    mix = _parse_mix(args.mix)
    flops = _parse_positive("--flops", args.flops)
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps: must be >= 1, got {args.steps}")
    if args.threads < 1:
        raise UsageError(f"--threads: must be >= 1, got {args.threads}")
    if args.base is not None:
        from simulator.lm.cache import BrokenEntry
        from simulator.lm.train import cached_measurement

        try:
            found = cached_measurement(args.base)
        except ValueError as error:
            raise UsageError(f"--base: {error}") from None
        except BrokenEntry as error:
            raise UsageError(f"--base: {error}; train the base model again") from None
        if found is None:
            raise UsageError(f"--base: no trained model with config hash {args.base!r}")
    if args.zoo_level is not None:
        levels = GRIDS["small"]
        if not 0 <= args.zoo_level < len(levels):
            raise UsageError(f"--zoo-level: must be 0..{len(levels) - 1}, got {args.zoo_level}")
        config = zoo_config(
            levels[args.zoo_level],
            mix,
            seed=args.seed,
            threads=args.threads,
            device=args.device,
            flops=flops,
            steps=args.steps,
        )
        config.base = args.base
        return config
    if flops is None and args.steps is None:
        raise UsageError("--flops or --steps (or --zoo-level) is required")
    try:
        return TrainConfig(
            mix=mix,
            flops=flops,
            steps=args.steps,
            n_layer=args.n_layer,
            n_embd=args.n_embd,
            n_head=args.n_head,
            block_size=args.block_size,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            base=args.base,
            device=args.device,
            threads=args.threads,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None


def handle_train(args: argparse.Namespace) -> int:
    from simulator.lm.cache import BrokenEntry
    from simulator.lm.train import ModelNotFound, train

    try:
        config = _config_from_args(args)
        if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
            raise UsageError(f"--device: unknown device {args.device!r}; use auto, cpu or cuda")
        measurement = train(config, quiet=args.quiet)
    except UsageError as error:
        return _fail("lm train", str(error))
    except BrokenEntry as error:  # the base model's entry (the model's own is retrained)
        return _fail("lm train", f"--base: {error}; train the base model again")
    except ModelNotFound as error:  # the base model went missing after the check
        return _fail("lm train", f"--base: {error}")
    except ValueError as error:  # e.g. CUDA requested but absent
        return _fail("lm train", f"--device: {error}" if "device" in str(error) else str(error))
    print(measurement.to_json())
    if measurement.from_cache:
        print(f"(from cache: {measurement.config_hash})", file=sys.stderr)
    return 0


def handle_sample(args: argparse.Namespace) -> int:
    import torch

    from simulator.lm.cache import BrokenEntry
    from simulator.lm.grid import load_zoo_table
    from simulator.lm.lookup import quality_from_bpb
    from simulator.lm.train import load_model

    try:
        if args.length < 1:
            raise UsageError(f"--length: must be >= 1, got {args.length}")
        if args.temperature < 0:
            raise UsageError(f"--temperature: must be >= 0, got {args.temperature}")
        if args.hash is not None:
            config_hash, option = args.hash, "--hash"
        else:
            config_hash, option = _config_from_args(args).config_hash(), "model options"
        try:
            model, measurement = load_model(config_hash)
        except BrokenEntry as error:
            raise UsageError(
                f"{option}: {error}; train it again with `llm-market lm train` and the same options"
            ) from None
        except (KeyError, ValueError):
            raise UsageError(
                f"{option}: no trained model with config hash {config_hash!r} in the cache "
                "(train it first with `llm-market lm train` and the same options)"
            ) from None
    except UsageError as error:
        return _fail("lm sample", str(error))
    torch.set_num_threads(args.threads)
    prompt = args.prompt.encode("utf-8") or b"\n"
    idx = torch.tensor([list(prompt)], dtype=torch.long)
    generator = torch.Generator().manual_seed(args.sample_seed)
    out = model.generate(
        idx, args.length, temperature=args.temperature, top_k=args.top_k, generator=generator
    )
    text = bytes(out[0].tolist()).decode("utf-8", errors="replace")
    qualities = ""
    try:
        table = load_zoo_table()
        best = table.groupby("segment")["bpb"].min()
        qualities = "  quality " + " ".join(
            f"{s}={float(quality_from_bpb(b, corpus.unigram_entropy(s), best[s])):.2f}"
            for s, b in measurement.bpb.items()
        )
    except FileNotFoundError:
        pass
    bpb_text = " ".join(f"{s}={b:.3f}" for s, b in measurement.bpb.items())
    print(
        f"# model {config_hash} mix {measurement.mix_name} params {measurement.params:,} "
        f"flops {measurement.flops:.3g}\n# bpb {bpb_text}{qualities}"
    )
    print(text)
    return 0


def _unwritable(path: Path) -> str | None:
    """Why a file cannot be written at `path` (checked by writing a probe), or None."""
    import tempfile

    if path.is_dir():
        return "is a folder"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the build creates the missing folders
    try:
        if not folder.is_dir():
            return f"{folder} is not a folder"
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"cannot write in {folder} ({error.strerror or error})"
    return None


def handle_zoo_build(args: argparse.Namespace) -> int:
    from simulator.lm.grid import build_zoo, parse_shard, resolve_grid, shipped_table_path

    shard = None
    if args.shard is not None:
        try:
            shard = parse_shard(args.shard)
        except ValueError as error:
            return _fail("lm zoo build", f"--shard: {error}")
    if args.threads < 1:
        return _fail("lm zoo build", f"--threads: must be >= 1, got {args.threads}")
    try:
        resolve_grid(args.grid)
    except ValueError as error:
        return _fail("lm zoo build", f"--grid: {error}")
    out = Path(args.out) if args.out is not None else shipped_table_path()
    problem = _unwritable(out)
    if problem is not None:  # found now, not after hours of training
        return _fail("lm zoo build", f"--out: {out} {problem}")
    reuse = None
    if args.reuse is not None:
        from simulator.lm.grid import load_zoo_table

        try:
            reuse = load_zoo_table(args.reuse)
        except (OSError, ValueError) as error:
            return _fail("lm zoo build", f"--reuse: {error}")
    try:
        table = build_zoo(
            grid=args.grid,
            threads=args.threads,
            out=args.out,
            device=args.device,
            seed=args.seed,
            quiet=args.quiet,
            log=lambda line: print(line, file=sys.stderr, flush=True),
            shard=shard,
            reuse=reuse,
        )
    except OSError as error:
        return _fail(
            "lm zoo build",
            f"--out: cannot write {out} ({error.strerror or error}); the trained models are "
            "in the cache: run the same command again to write the table",
        )
    if not args.quiet and shard is None:
        print(zoo_report(table))
    return 0


def zoo_report(table) -> str:
    """The fits and the data axis, as `zoo build` and `zoo show` print them."""
    from simulator.lm.fit import (
        fit_constrained_segments,
        fit_data_segments,
        fit_segments,
        format_data_axis,
        format_fits,
    )

    fits = format_fits(
        fit_segments(table), fit_data_segments(table), fit_constrained_segments(table)
    )
    return f"{format_data_axis(table)}\n{fits}"


def handle_zoo_show(args: argparse.Namespace) -> int:
    from simulator.lm.fit import format_table
    from simulator.lm.grid import load_zoo_table

    try:
        table = load_zoo_table(args.table)
    except (FileNotFoundError, ValueError) as error:
        return _fail("lm zoo show", f"--table: {error}")
    if args.compute_range is not None:
        from simulator.market.params import MAX_COMPUTE, MIN_COMPUTE_DECADES

        low, high = args.compute_range
        # the bounds of a scenario's market.compute_range
        if not (1 <= low < high <= MAX_COMPUTE and high >= low * 10**MIN_COMPUTE_DECADES):
            return _fail(
                "lm zoo show",
                f"--compute-range: need 1 <= LOW, HIGH >= {10**MIN_COMPUTE_DECADES:g} x LOW, "
                f"HIGH <= {MAX_COMPUTE:g} (as market.compute_range), got {low:g} {high:g}",
            )
    if args.data_range is not None:
        from simulator.market.data import MAX_TOKENS

        low, high = args.data_range
        if not (low > 0 and high >= 10 * low and high <= MAX_TOKENS):
            return _fail(
                "lm zoo show",
                f"--data-range: need 0 < LOW, HIGH >= 10 x LOW, HIGH <= {MAX_TOKENS:g} (as "
                f"market.data.data_range), got {low:g} {high:g}",
            )
    print(format_table(table))
    print(zoo_report(table))
    if args.compute_range is not None:
        print(format_scale_map(table, tuple(args.compute_range)))
    if args.data_range is not None:
        compute_range = tuple(args.compute_range or DEFAULT_COMPUTE_RANGE)
        try:
            print(format_data_map(table, compute_range, tuple(args.data_range)))
        except ValueError as error:
            return _fail("lm zoo show", f"--data-range: {error}")
    return 0


def format_scale_map(table, compute_range: tuple[float, float]) -> str:
    """bpb, quality and the extrapolation flag of a uniform-mix firm per decade of real compute
    (the README's scale-map table)."""
    import numpy as np

    from simulator.lm import corpus
    from simulator.lm.lookup import ZooQuality

    segments = [s for s in corpus.SEGMENTS if s in set(table["segment"])]
    zoo = ZooQuality(segments, compute_range, table=table)
    high = zoo.measured_real_range[1]
    # from the range's lowest decade to two decades past the measured end
    first, last = math.floor(math.log10(compute_range[0])), math.ceil(math.log10(high)) + 1
    real = 10.0 ** np.arange(first, last + 1)
    mix = np.full((len(real), len(segments)), 1.0 / len(segments))
    quality, bpb, extrapolated = zoo(real, mix)
    zoo_flops = zoo.zoo_compute(real)
    lines = [
        f"scale map for compute_range {compute_range[0]:.3g} .. {compute_range[1]:.3g}, uniform "
        f"mix; measured up to real {high:.3g} FLOPs (zoo {zoo.zoo_range[1]:.3g}):",
        "  real FLOPs  zoo FLOPs  "
        + "  ".join(f"{s + ' bpb/Q':>16s}" for s in segments)
        + "  extrapolated",
    ]
    for i, value in enumerate(real):
        cells = "  ".join(f"{bpb[i, j]:9.3f}/{quality[i, j]:6.3f}" for j in range(len(segments)))
        flag = ",".join(s for j, s in enumerate(segments) if extrapolated[i, j]) or "no"
        lines.append(f"  {value:10.0e}  {zoo_flops[i]:9.3g}  {cells}  {flag}")
    return "\n".join(lines)


DEFAULT_COMPUTE_RANGE = (1e22, 1e27)


def format_data_map(table, compute_range, data_range) -> str:
    """Per half decade of real tokens: the zoo data fraction, and each segment's quality for a
    model trained on that segment alone with that much data at compute_range[1] (the README's
    data-map table)."""
    import numpy as np

    from simulator.lm import corpus
    from simulator.lm.lookup import ZooQuality

    segments = [s for s in corpus.SEGMENTS if s in set(table["segment"])]
    zoo = ZooQuality(segments, compute_range, table=table, data_range=data_range)
    first = math.floor(2 * math.log10(data_range[0])) - 2
    last = math.ceil(2 * math.log10(data_range[1])) + 1
    tokens = 10.0 ** (np.arange(first, last + 1) / 2)
    lines = [
        f"data map for data_range {data_range[0]:.3g} .. {data_range[1]:.3g}: quality of a "
        f"single-segment model at {compute_range[1]:.3g} real FLOPs (* extrapolated):",
        "  real tokens  fraction  " + "  ".join(f"{s:>10s}" for s in segments),
    ]
    top = np.full(len(tokens), compute_range[1])
    data = np.repeat(tokens[:, None], len(segments), axis=1)
    quality, flagged = np.empty(data.shape), np.empty(data.shape, dtype=bool)
    for k in range(len(segments)):  # one lookup per single-segment mix, every row at once
        mix = np.zeros(data.shape)
        mix[:, k] = 1.0
        q, _, f = zoo(top, mix, data)
        quality[:, k], flagged[:, k] = q[:, k], f[:, k]
    fractions = np.minimum(zoo.data_fraction(tokens), 1.0)
    for i, value in enumerate(tokens):
        cells = "  ".join(
            f"{quality[i, k]:9.3f}{'*' if flagged[i, k] else ' '}" for k in range(len(segments))
        )
        lines.append(f"  {value:11.2e}  {fractions[i]:8.3f}  {cells}")
    return "\n".join(lines)


def _print_help(parser: argparse.ArgumentParser):
    def handler(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return USAGE_ERROR

    return handler


def add_lm_commands(subparsers) -> None:
    """Register `lm` (train, sample, zoo build, zoo show) on the main CLI's subparsers."""
    lm = subparsers.add_parser("lm", help="small language models behind product quality")
    lm.set_defaults(func=_print_help(lm))
    lm_sub = lm.add_subparsers(dest="lm_command")

    train = lm_sub.add_parser("train", help="train one model (cached) and print its measurement")
    _add_model_options(train)
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(func=handle_train)

    sample = lm_sub.add_parser("sample", help="generate text from a trained model in the cache")
    sample.add_argument("--hash", help="config hash of the model (else: the model options)")
    _add_model_options(sample)
    sample.add_argument("--prompt", default="", help="text to continue")
    sample.add_argument("--length", type=int, default=300, help="bytes to generate")
    sample.add_argument("--temperature", type=float, default=0.8)
    sample.add_argument("--top-k", type=int, default=None)
    sample.add_argument(
        "--sample-seed",
        type=int,
        default=0,
        help="seed of the sampler (--seed is the training seed)",
    )
    sample.set_defaults(func=handle_sample)

    zoo_parser = lm_sub.add_parser("zoo", help="the measured model zoo")
    zoo_parser.set_defaults(func=_print_help(zoo_parser))
    zoo_sub = zoo_parser.add_subparsers(dest="zoo_command")
    build = zoo_sub.add_parser("build", help="train the zoo grid and write the table")
    build.add_argument("--grid", default="auto", help="small (CPU), large (GPU) or auto")
    build.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    build.add_argument("--out", default=None, help="table path (default: the shipped zoo.csv)")
    build.add_argument("--device", default="auto")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--quiet", action="store_true")
    build.add_argument(
        "--shard",
        metavar="I/N",
        help="train only every N-th training starting at I (0-based) and write no table: run "
        "N such processes in parallel, then the same command without --shard writes the table",
    )
    build.add_argument(
        "--reuse",
        metavar="TABLE",
        help="an earlier zoo table (e.g. the shipped simulator/lm/data/zoo.csv): trainings "
        "whose config hash has rows there are copied from it instead of trained",
    )
    build.set_defaults(func=handle_zoo_build)
    show = zoo_sub.add_parser("show", help="print the zoo table and the power-law fits")
    show.add_argument("--table", default=None, help="table path (default: the shipped zoo.csv)")
    show.add_argument(
        "--compute-range",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="also print the scale map of a scenario's market.compute_range: per decade of real "
        "FLOPs, the zoo budget, each segment's bpb and quality for a uniform mix, and whether "
        "it is extrapolated",
    )
    show.add_argument(
        "--data-range",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="also print the data map of a scenario's market.data.data_range: per half decade "
        "of real training tokens, the zoo data fraction and the quality of a single-segment "
        "model on that much data at the top of the compute range (--compute-range, default "
        "1e22 1e27)",
    )
    show.set_defaults(func=handle_zoo_show)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `llm-market lm <argv>` standalone (`python -m simulator.lm ...`)."""
    parser = argparse.ArgumentParser(prog="llm-market")
    subparsers = parser.add_subparsers(dest="command")
    add_lm_commands(subparsers)
    args = parser.parse_args(["lm", *(sys.argv[1:] if argv is None else argv)])
    return closed_pipe_safe(lambda: args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
