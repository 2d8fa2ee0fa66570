"""The ``llm-market`` command.

  llm-market run SCENARIO.yaml [--out DIR] [--seed N] [--set PATH=VALUE ...]
                                                        simulate, write a run folder (--force)
  llm-market run SCENARIO.yaml --seeds K [--out DIR]    K runs, seeds SEED..SEED+K-1, one folder
  llm-market dashboard DIR [--out FILE]                 rebuild DIR/dashboard.html from its tables
  llm-market compare DIR_A DIR_B [...] --out FILE.html  runs, seed sets or sweeps side by side
  llm-market validate SCENARIO.yaml [...]               check scenarios, one line per problem
  llm-market schema                                     JSON Schema of the scenario format
  llm-market archetypes [--scenario FILE]               each archetype's company defaults
  llm-market sweep SWEEP.yaml [--out DIR] [--report]    Monte Carlo / sensitivity sweep (resumable)
  llm-market learn SCENARIO.yaml --runs N [--out DIR]   Q-learning runs of the pricing game
  llm-market tournament SCENARIO.yaml --rules a,b,c     every assignment of rules to firms, ranked
  llm-market explore SCENARIO.yaml [--port N]           sliders in the browser, re-run on change

Bad input prints one line per problem on stderr and exits with code 2, never a traceback.
Names and paths from the data are printed literally (no rich markup) with control characters
escaped (``simulator.terminal``).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

from simulator.allocator import keep_freed_memory
from simulator.config import ScenarioError, json_schema, load_scenario, parse_scenario
from simulator.config.loading import check_seed
from simulator.folders import RunFolderError, safe_folder_name
from simulator.terminal import closed_pipe_safe, format_number, literal, printable, run_table

EXIT_BAD_INPUT = 2


class UserError(Exception):
    """A problem with what the user asked for: reported as one line, exit code 2."""


def _console():
    from rich.console import Console

    return Console(stderr=True)


def cmd_validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.scenarios:
        try:
            scenario = load_scenario(path, args.set or [])
        except ScenarioError as exc:
            for line in exc.lines:
                print(printable(f"{path}: {line}"), file=sys.stderr)
            status = EXIT_BAD_INPUT
        else:
            print(
                printable(
                    f"{path}: ok ({scenario.name}: {len(scenario.companies)} firms, "
                    f"{len(scenario.segment_names)} segments, {scenario.steps} steps)"
                )
            )
    return status


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_archetypes(args: argparse.Namespace) -> int:
    from simulator.config.loading import archetype_defaults
    from simulator.config.yaml_safe import dump_yaml

    scenario = load_scenario(args.scenario) if args.scenario else None
    for name, defaults in archetype_defaults(scenario).items():
        print(printable(f"# {name}: sets {', '.join(defaults['sets'])}"))
        company = defaults["company"]
        if company is None:
            print(printable(f"# (the company using {name} must give a unit_cost)"))
            company = scenario.archetype(name)
        text = dump_yaml({name: company})
        for line in text.splitlines():
            print(printable(line))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from simulator.sweep.command import run_command

    return run_command(args)


def _summary_table(result) -> None:
    from rich.console import Console

    summary = result.summary
    unit = result.scenario.time_unit
    console = Console()
    console.print(run_table(result))
    hhi = format_number(summary["final_hhi"], ",.0f")
    hhi_all = format_number(summary.get("final_hhi_all_products"), ",.0f")
    surplus = format_number(summary["final_consumer_surplus"], ",.2f")
    console.print(
        literal(
            f"HHI {hhi} over firms ({summary['hhi_band_2023']}, 2023 guidelines), {hhi_all} over "
            f"all products  consumer surplus (last {unit}) {surplus}"
            f"  wall time {summary['wall_time_s']:.2f} s"
        )
    )
    extrapolated = summary.get("extrapolated_from_step") or {}
    if extrapolated:
        listed = ", ".join(f"{firm} (from step {step})" for firm, step in extrapolated.items())
        console.print(literal(f"quality extrapolated beyond the measured models: {listed}"))
    gains = summary.get("quality_gain") or {}
    if gains:
        listed = ", ".join(
            f"{firm} {parts['mean']['total']:+.3f} ({parts['mean']['from_data']:+.3f} from data)"
            for firm, parts in gains.items()
        )
        console.print(literal(f"quality gain, mean over segments: {listed}"))


def _progress_bar(quiet: bool):
    """The run's progress bar (rich.progress.Progress; none with --quiet), gone once the run is
    done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_console(),
        disable=quiet,
        transient=True,
    )


def default_run_dir(scenario_name: str) -> Path:
    """``runs/<safe folder name of the scenario's name>``: always a folder directly in runs/."""
    return Path("runs") / safe_folder_name(scenario_name)


def cmd_run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from simulator.model import simulate
    from simulator.results import write_run

    scenario = load_scenario(args.scenario, args.set or [])
    if args.steps is not None:
        scenario = parse_scenario(scenario.model_dump(mode="json") | {"steps": args.steps})
    seed = check_seed(args.seed)
    if args.seeds is not None:  # checked before any folder is touched or a bar is drawn
        seeds = _seed_list(args.seeds, scenario.seed if seed is None else seed)
    if args.out is not None and not args.out.strip():
        raise UserError("--out: empty folder path")
    out = Path(args.out) if args.out is not None else default_run_dir(scenario.name)
    check_run_dir_or_fail(out, args.force)
    if args.seeds is not None:
        with _progress_bar(args.quiet) as progress:
            finals = _run_seed_set(args, scenario, seeds, out, progress)
        if not args.quiet:
            for value, summary in finals:
                hhi = format_number(summary["final_hhi"], ",.0f")
                print(printable(f"seed {value}: final HHI {hhi}"))
        print(
            printable(
                f"{len(finals)} runs (seeds {finals[0][0]}..{finals[-1][0]}) written to {out}"
            )
        )
        return 0
    with _progress_bar(args.quiet) as progress:
        description = escape(printable(f"simulating {scenario.name}"))
        task = progress.add_task(description, total=scenario.steps)
        result = simulate(
            scenario, seed=seed, progress=lambda step: progress.update(task, completed=step)
        )
    if args.set:  # the run folder's scenario.yaml has them applied; summary.json says which
        result.summary["settings"] = list(args.set)
    extra = None
    if not args.no_dashboard:
        from simulator.dashboard import write_run_dashboard

        def extra(folder: Path) -> None:  # from the result in memory: what the folder holds
            write_run_dashboard(result, folder / "dashboard.html")

    write_run(out, result, force=args.force, extra=extra)
    if not args.quiet:
        _summary_table(result)
    print(printable(f"results written to {out}"))
    return 0


def _seed_list(count: int, first: int) -> list[int]:
    """The seeds of ``run --seeds K``: first..first+K-1; UserError naming --seeds otherwise."""
    from simulator.seeds import MAX_SEEDS

    if not 2 <= count <= MAX_SEEDS:
        raise UserError(f"--seeds: must be 2 to {MAX_SEEDS:,}, got {count}")
    if first + count - 1 > 2**63 - 1:
        raise UserError(f"--seeds: seeds {first}..{first + count - 1} pass 2**63 - 1")
    return list(range(first, first + count))


def _run_seed_set(args: argparse.Namespace, scenario, seeds: list[int], out: Path, progress):
    """``run --seeds K``: one run per seed into one folder (simulator.seeds)."""
    from simulator.model import simulate
    from simulator.seeds import write_seed_set

    task = progress.add_task("simulating seeds", total=scenario.steps * len(seeds))
    finals = []

    def run(value: int):
        done = len(finals) * scenario.steps
        result = simulate(
            scenario,
            seed=value,
            progress=lambda step: progress.update(task, completed=done + step),
        )
        finals.append((value, result.summary))
        return result

    extra = None
    if not args.no_dashboard:
        from simulator.dashboard import write_run_dashboard

        def extra(result, folder: Path) -> None:
            write_run_dashboard(result, folder / "dashboard.html")

    write_seed_set(out, scenario, seeds, run, extra=extra, force=args.force)
    return finals


def check_run_dir_or_fail(out: Path, force: bool) -> None:
    """The ``--out`` check before simulating: a bad folder is one line and exit code 2."""
    from simulator.folders import check_run_dir

    try:
        check_run_dir(out, force)
    except RunFolderError as exc:
        raise UserError(f"--out {exc}") from None


def cmd_dashboard(args: argparse.Namespace) -> int:
    import yaml

    from simulator.dashboard import load_run, write_run_dashboard

    try:
        result = load_run(args.run_dir)
    except (FileNotFoundError, ScenarioError):
        raise
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        raise UserError(f"{args.run_dir}: cannot read the run folder ({exc})") from exc
    out = Path(args.out) if args.out else Path(args.run_dir) / "dashboard.html"
    print(printable(f"dashboard written to {write_run_dashboard(result, out)}"))
    return 0


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="change one parameter of the scenario (repeatable, applied in order): PATH is a "
        "sweep parameter path into the resolved scenario, list items by name or 0-based index "
        "(companies.OpenAI.initial_price=2.5, market.segments.code.price_sensitivity=1.2, "
        "events.0.step=24, companies.Lab.strategy.pricing=fixed); VALUE is read as YAML "
        "(2.5, true, null, [joint_rd, alliance]). The result is validated as the file is",
    )


def cmd_compare(args: argparse.Namespace) -> int:
    from simulator.dashboard.compare import CompareError, write_compare_page

    out = Path(args.out)
    if not args.out.strip() or out.is_dir():
        raise UserError(f"--out {args.out}: give an HTML file path, not a folder")
    if len(args.folders) < 2:
        raise UserError("compare: give at least two folders (the first is the base)")
    try:
        page = write_compare_page(args.folders, out)
    except CompareError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(
            f"--out {args.out}: cannot write the page ({exc.strerror or exc})"
        ) from None
    print(printable(f"comparison written to {page}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-market", description="Agent-based simulator of the LLM market."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a scenario and write a results folder")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument(
        "--out",
        help="results folder (default: runs/<name>, <name> made from the scenario's name: "
        "characters other than A-Z a-z 0-9 . _ - become '-' (accents dropped), no leading or "
        "trailing dots or dashes, at most 64 characters, plus '-' and 8 hex digits of the "
        "name's SHA-256 when that changed it or left nothing ('run-<hash>')). The run is built "
        "in a temporary sibling folder and swapped in, replacing an earlier run there as a whole",
    )
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    add_set_option(run)
    run.add_argument(
        "--seeds",
        type=int,
        metavar="K",
        help="run K times (2 to 1,000) with seeds SEED..SEED+K-1 (SEED: --seed or the "
        "scenario's) into one folder: DIR/seeds.json and a run folder DIR/seed-<seed>/ per seed; "
        "`llm-market compare` pairs two such folders run by run",
    )
    run.add_argument("--steps", type=int, help="override the scenario's number of steps")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    run.add_argument("--no-dashboard", action="store_true", help="skip writing dashboard.html")
    run.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty --out folder that is not a run folder: files named like a "
        "run's (scenario.yaml, the .parquet tables, summary.json, dashboard.html) are replaced "
        "or removed, every other file is kept",
    )
    run.set_defaults(func=cmd_run)

    dashboard = sub.add_parser("dashboard", help="rebuild a run folder's dashboard.html")
    dashboard.add_argument("run_dir", metavar="DIR", help="run folder written by `llm-market run`")
    dashboard.add_argument("--out", metavar="FILE", help="HTML file (default: DIR/dashboard.html)")
    dashboard.set_defaults(func=cmd_dashboard)

    compare = sub.add_parser(
        "compare",
        help="one page comparing run folders, `run --seeds` folders or sweeps (first = base)",
        description="Shares side by side, difference paths (B - A, C - A ...) of shares and "
        "prices per firm and of HHI, price index, consumer and producer surplus, and effect "
        "sizes with 90%% intervals across runs paired by seed. The page is standalone HTML "
        "(plotly.js embedded), written atomically.",
    )
    compare.add_argument(
        "folders", nargs="+", metavar="DIR", help="two or more folders; the first is the base"
    )
    compare.add_argument("--out", required=True, metavar="FILE", help="HTML file to write")
    compare.set_defaults(func=cmd_compare)

    validate = sub.add_parser("validate", help="check scenario files, one line per problem")
    validate.add_argument("scenarios", nargs="+", help="scenario YAML files")
    add_set_option(validate)
    validate.set_defaults(func=cmd_validate)

    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of the scenario format (built-in archetypes' defaults "
        "under archetypes.x-builtin-archetypes)",
    )
    schema.set_defaults(func=cmd_schema)

    archetypes = sub.add_parser(
        "archetypes",
        help="print each archetype's defaults: the fields it sets and every company field a "
        "firm of it starts with (YAML)",
    )
    archetypes.add_argument(
        "--scenario", metavar="FILE", help="include this scenario's own `archetypes:` table"
    )
    archetypes.set_defaults(func=cmd_archetypes)

    from simulator.lm.cli import add_lm_commands

    add_lm_commands(sub)
    from simulator.calibrate import add_command as add_calibrate_command

    add_calibrate_command(sub)

    from simulator.learn import add_learn_command
    from simulator.tournament import add_tournament_command

    add_learn_command(sub)
    add_tournament_command(sub)
    from simulator.explore.command import add_explore_command

    add_explore_command(sub)

    sweep = sub.add_parser(
        "sweep",
        help="Monte Carlo / sensitivity sweep over scenario "
        "parameters (resumable: run it again to finish)",
    )
    sweep.add_argument("spec", nargs="?", help="sweep spec YAML file (see scenarios/sweeps/)")
    sweep.add_argument(
        "--out",
        help="sweep folder (default: runs/sweeps/<name>, <name> the spec file's name without "
        ".yaml, made safe as for `run --out`)",
    )
    sweep.add_argument(
        "--executor", choices=["serial", "processes", "dask"], help="override the spec's executor"
    )
    sweep.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    sweep.add_argument("--dask-address", help="Dask scheduler, e.g. tcp://host:8786")
    sweep.add_argument("--max-runs", type=int, help="stop after this many new runs")
    sweep.add_argument(
        "--report", action="store_true", help="write sensitivity tables and DIR/dashboard.html"
    )
    sweep.add_argument("--list-outcomes", action="store_true", help="list outcome metrics")
    sweep.add_argument("--schema", action="store_true", help="print the sweep spec JSON Schema")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    sweep.set_defaults(func=cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    return _run_parsed(build_parser().parse_args(argv))


def _run_parsed(args: argparse.Namespace) -> int:
    return closed_pipe_safe(lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except ScenarioError as exc:
        for line in exc.lines:
            print(printable(f"error: {line}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (UserError, FileNotFoundError, RunFolderError) as exc:
        print(printable(f"error: {exc}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


FULL_COLLECTION_AFTER = 1000
"""Collections of the middle generation between two full ones while a bounded command runs
(Python's default is 10): see console_main."""
BOUNDED_COMMANDS = frozenset({"run", "dashboard", "compare", "validate", "schema", "archetypes"})
"""Commands whose work ends with one scenario's runs and pages (a sweep, a server or a
learning run go on far longer and keep Python's default)."""


def console_main() -> int:
    """The `llm-market` command: `main`, with the cyclic garbage collector told to skip the
    objects that outlive a command.

    A command imports up to ~1,100 modules (pandas, plotly, networkx...), most of them once it
    knows what it was asked (``llm-market --help`` needs few), and their objects live until
    the process ends. With Python's defaults, their allocations start a full collection every
    ten collections of the middle generation, and each walks everything imported so far and
    frees next to nothing (two in a baseline run, ~0.1 s); so do the interpreter's collections
    at exit (0.3-0.4 s). So while a BOUNDED_COMMANDS command runs, a full collection waits for
    FULL_COLLECTION_AFTER middle ones (young objects are still collected as usual; a sweep
    measured 25% slower so, and keeps the default), and for every command `gc.freeze` moves
    what is alive to the permanent generation before and after it (the CPython
    documentation's use for long-lived start-up objects). Objects are still freed by reference
    counting, and exit handlers and finalizers still run. Only the command-line entry point
    does this: `main` called in-process (the tests, notebooks) leaves the collector alone.
    For the same reason only this entry point keeps freed memory for reuse
    (simulator.allocator: large markets' numpy temporaries are not page-faulted in anew).
    """
    keep_freed_memory()
    args = build_parser().parse_args()
    thresholds = gc.get_threshold()
    if args.command in BOUNDED_COMMANDS:
        gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTION_AFTER)
    gc.freeze()
    try:
        return _run_parsed(args)
    finally:
        gc.freeze()
        gc.set_threshold(*thresholds)


if __name__ == "__main__":
    sys.exit(console_main())
