"""``llm-market sweep``: run or resume a sweep, print what it found, optionally the dashboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.folders import safe_folder_name
from simulator.sweep.outcomes import describe_outcomes
from simulator.sweep.runner import SweepResult, run
from simulator.sweep.spec import load_sweep_spec


def default_out(spec_path: str) -> Path:
    return Path("runs") / "sweeps" / safe_folder_name(Path(spec_path).stem)


def _print_summary(result: SweepResult) -> None:
    from rich.console import Console
    from rich.table import Table

    spec = result.spec.spec
    console = Console()
    table = Table(
        title=f"sweep {result.spec.name}: {len(result.runs):,} runs, "
        f"{result.plan.n_points:,} points x {spec.replications} replications"
    )
    for column in ("outcome", "mean", "std", "5%", "median", "95%"):
        table.add_column(column, justify="left" if column == "outcome" else "right")
    for outcome in spec.outcomes:
        values = result.runs[outcome]
        table.add_row(
            outcome,
            f"{values.mean():.4g}",
            f"{values.std():.4g}",
            f"{values.quantile(0.05):.4g}",
            f"{values.median():.4g}",
            f"{values.quantile(0.95):.4g}",
        )
    console.print(table)
    sens = result.sensitivity
    if len(sens):
        index = "ST" if spec.method == "sobol" else "SRC"
        ranked = sens[(sens["index"] == index) & sens["value"].notna()]
        ranked = ranked.assign(size=ranked["value"].abs())
        for outcome, group in ranked.groupby("outcome", sort=False):
            top = group.sort_values("size", ascending=False).head(3)
            parts = ", ".join(f"{row.term} {row.value:+.2f}" for row in top.itertuples())
            console.print(f"  {outcome}: largest {index}: {parts}", soft_wrap=True)


def run_command(args: argparse.Namespace) -> int:
    """Run the sub-command; spec and folder problems raise SweepSpecError (one line, exit 2)."""
    if args.list_outcomes:
        print(describe_outcomes())
        return 0
    if getattr(args, "schema", False):
        import json

        from simulator.sweep.spec import SweepSpec

        print(json.dumps(SweepSpec.model_json_schema(), indent=2))
        return 0
    if args.spec is None:
        print("error: spec: give a sweep spec YAML file", file=sys.stderr)
        return 2
    resolved = load_sweep_spec(args.spec)
    out = Path(args.out) if args.out else default_out(args.spec)
    try:
        result = run(
            resolved,
            out=out,
            executor=args.executor,
            workers=args.workers,
            progress=not args.quiet,
            max_runs=args.max_runs,
            dask_address=args.dask_address,
            on_warning=lambda line: print(f"warning: {line}", file=sys.stderr, flush=True),
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: finished runs are kept in {out}; run the same command to resume",
            file=sys.stderr,
        )
        return 130
    if not result.complete:
        print(
            f"stopped after {result.ran} new runs: {len(result.runs):,} of "
            f"{result.plan.n_runs:,} done in {out}; run the same command to resume"
        )
        return 0
    if not args.quiet:
        _print_summary(result)
    if len(result.failed):
        first = result.failed["error"].iloc[0]
        print(
            f"warning: {len(result.failed)} runs failed (outcomes NaN); first: {first}",
            file=sys.stderr,
        )
    if args.report:
        from simulator.sweep.report import write_report

        print(f"dashboard written to {write_report(result, out)}")
    print(
        f"results written to {out} ({result.ran} runs computed now, "
        f"{len(result.runs) - result.ran} reused; {result.wall_time_s:.1f} s)"
    )
    return 0
