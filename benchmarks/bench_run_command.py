"""The whole `llm-market run scenarios/baseline.yaml --out DIR`: wall time of the command, the
simulation's own time (summary.json `wall_time_s`), the import time of what `run` loads before
it simulates (RUN_IMPORTS), and the stages of a run in one process; checks that `run` never
imports torch.

    python benchmarks/bench_run_command.py [--repeats 5] [--scenario scenarios/baseline.yaml]
                                           [--keep-bytecode-setting] [--against DIR]

Targets (issue 12): simulation < 0.3 s, whole command < 2 s. Each measurement is repeated
(medians and minima printed): on a shared machine single timings are noisy. The commands run
with Python's bytecode cache allowed (PYTHONDONTWRITEBYTECODE removed from their environment,
after one warm-up run writes the cache), as an installed package runs;
``--keep-bytecode-setting`` keeps this shell's setting instead. ``--against DIR`` also times
another checkout of the project (e.g. ``git worktree add DIR <commit>``), its whole command
and simulation alternated with this tree's (which goes first alternates too), and prints the
median of the pairs' ratios: on a shared machine whose speed drifts, the ratio measured side
by side is what compares two versions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def child_env(keep_bytecode_setting: bool, root: Path = ROOT) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    if not keep_bytecode_setting:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(
    command: list[str], env: dict[str, str], root: Path = ROOT
) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return elapsed, done


RUN_IMPORTS = ("simulator.cli", "simulator.model", "simulator.results")
"""What `run` imports before it simulates (the command imports the model once it knows it
was asked to run; the dashboard's modules come after the tables)."""


def cli_import(env: dict[str, str]) -> tuple[float, float, list[tuple[str, float]]]:
    """(wall s of `python -c "import <RUN_IMPORTS>"` less a bare `python -c pass`, the import
    time `-X importtime` reports for them, their largest top-level packages)."""
    statement = "import " + ", ".join(RUN_IMPORTS)
    bare, _ = timed([PYTHON, "-c", "pass"], env)
    wall, _ = timed([PYTHON, "-c", statement], env)
    _, done = timed([PYTHON, "-X", "importtime", "-c", statement], env)
    packages: dict[str, int] = {}
    total = 0
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if not match:
            continue
        own, cumulative, name = int(match[1]), int(match[2]), match[4]
        packages[name.split(".")[0]] = packages.get(name.split(".")[0], 0) + own
        if name in RUN_IMPORTS and len(match[3]) == 1:  # imported by the statement itself
            total += cumulative
    top = sorted(packages.items(), key=lambda kv: -kv[1])[:6]
    return wall - bare, total / 1e6, [(name, us / 1e6) for name, us in top]


def run_command(
    scenario: str,
    out: Path,
    env: dict[str, str],
    dashboard: bool,
    importtime: bool = False,
    root: Path = ROOT,
) -> tuple[float, float, set[str]]:
    """(wall s of the whole command, summary.json wall_time_s, modules it imported: only with
    ``importtime``, which slows the command down, so timed runs go without it)."""
    command = [PYTHON, *(["-X", "importtime"] if importtime else []), "-m", "simulator.cli"]
    command += ["run", scenario, "--out", str(out), "--force", "--quiet"]
    if not dashboard:
        command.append("--no-dashboard")
    wall, done = timed(command, env, root)
    summary = json.loads((out / "summary.json").read_text())
    pattern = r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)"
    imported = {m[4] for m in re.finditer(pattern, done.stderr)}
    return wall, summary["wall_time_s"], imported


def stages(scenario: str, out: Path) -> dict[str, float]:
    """One run in this process, stage by stage (what `run` does, in its order)."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    import simulator.cli  # noqa: F401
    from simulator.config import load_scenario
    from simulator.model import simulate
    from simulator.results import write_run_files

    times["import " + ", ".join(RUN_IMPORTS)] = time.perf_counter() - start
    mark = time.perf_counter()
    loaded = load_scenario(scenario)
    times["load scenario"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result = simulate(loaded)
    times["simulate"] = time.perf_counter() - mark
    out.mkdir(parents=True, exist_ok=True)
    mark = time.perf_counter()
    write_run_files(out, result)
    times["write tables"] = time.perf_counter() - mark
    mark = time.perf_counter()
    from simulator.dashboard import write_run_dashboard

    times["import dashboard"] = time.perf_counter() - mark
    mark = time.perf_counter()
    write_run_dashboard(result, out / "dashboard.html")
    times["dashboard"] = time.perf_counter() - mark
    return times


def against(other: Path, scenario: str, repeats: int, keep_bytecode_setting: bool) -> None:
    """This tree's whole command and simulation alternated with another checkout's."""
    trees = {"this tree": ROOT, str(other): other}
    timings = {name: ([], []) for name in trees}
    with tempfile.TemporaryDirectory() as folder:
        for root in trees.values():  # warm-up (bytecode cache)
            run_command(
                scenario,
                Path(folder) / "warm",
                child_env(keep_bytecode_setting, root),
                dashboard=True,
                root=root,
            )
        for repeat in range(repeats):
            order = list(trees.items())  # alternate which tree goes first (drift cancels)
            for name, root in order if repeat % 2 == 0 else order[::-1]:
                env = child_env(keep_bytecode_setting, root)
                wall, simulated, _ = run_command(
                    scenario, Path(folder) / "run", env, dashboard=True, root=root
                )
                timings[name][0].append(wall)
                timings[name][1].append(simulated)
    print(f"alternated with {other}, {repeats} repeats each:")
    for name, (whole, sim) in timings.items():
        print(
            f"  {name:36} whole median {statistics.median(whole):5.2f} s (min {min(whole):.2f}),"
            f" simulation median {statistics.median(sim):5.3f} s (min {min(sim):.3f})"
        )
    (ours_whole, ours_sim), (their_whole, their_sim) = timings.values()
    whole_ratio = statistics.median(t / o for t, o in zip(their_whole, ours_whole, strict=True))
    sim_ratio = statistics.median(t / o for t, o in zip(their_sim, ours_sim, strict=True))
    print(
        f"  {other} / this tree, median of the {repeats} side-by-side pairs: whole command "
        f"{whole_ratio:.2f}x, simulation {sim_ratio:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenario", default="scenarios/baseline.yaml")
    parser.add_argument("--keep-bytecode-setting", action="store_true")
    parser.add_argument("--against", type=Path, help="another checkout to time alternately")
    args = parser.parse_args()
    if args.against is not None and not (args.against / "simulator" / "cli.py").is_file():
        parser.error(f"--against: {args.against} is not a checkout of this project")
    env = child_env(args.keep_bytecode_setting)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run"
        # warm-up (bytecode cache, disk), and what the command imports
        imported = run_command(args.scenario, out, env, dashboard=True, importtime=True)[2]
        whole, sim, bare, imports, importtime = [], [], [], [], []
        for _ in range(args.repeats):
            wall, simulated, _ = run_command(args.scenario, out, env, dashboard=True)
            whole.append(wall)
            sim.append(simulated)
            bare.append(run_command(args.scenario, out, env, dashboard=False)[0])
            wall_import, reported, top = cli_import(env)
            imports.append(wall_import)
            importtime.append(reported)
        in_process = stages(args.scenario, Path(folder) / "stages")

    def line(label: str, values: list[float], target: str = "") -> None:
        print(
            f"  {label:36} median {statistics.median(values):6.2f} s  "
            f"min {min(values):6.2f} s  {target}"
        )

    print(f"llm-market run {args.scenario} --out DIR, {args.repeats} repeats:")
    line("simulation (summary wall_time_s)", sim, "(target < 0.3 s)")
    line("whole command", whole, "(target < 2 s)")
    line("whole command, --no-dashboard", bare)
    line("imports of run (wall)", imports)
    line("imports of run (-X importtime)", importtime)
    print("  largest packages in that import: " + ", ".join(f"{n} {s:.2f} s" for n, s in top))
    print(
        "  stages of one run in one process: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in in_process.items())
    )
    torch = sorted(m for m in imported if m == "torch" or m.startswith("torch."))
    print(f"  torch imported by run: {'YES: ' + ', '.join(torch[:3]) if torch else 'no'}")
    print(
        f"  bytecode cache: {'as this shell sets it' if args.keep_bytecode_setting else 'allowed'}"
    )
    if args.against is not None:
        against(args.against.resolve(), args.scenario, args.repeats, args.keep_bytecode_setting)


if __name__ == "__main__":
    main()
