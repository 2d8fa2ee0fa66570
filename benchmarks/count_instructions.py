"""Instructions one baseline simulation executes, counted by valgrind (callgrind): a measure
of the simulation's cost that does not drift with the machine's load, for comparing two
versions whose difference is below the noise of wall-clock timings.

    python benchmarks/count_instructions.py [--scenario scenarios/baseline.yaml] [--runs 2]
                                            [--against DIR]

Counts a process that loads the scenario and simulates it ``--runs`` times, less one that only
loads it (imports, scenario), divided by ``--runs``: the instructions of one simulation, the
first (cold) one averaged in. ``--against DIR`` counts another checkout too (e.g.
``git worktree add DIR <commit>``) and prints the ratio. Python's hash seed is fixed
(PYTHONHASHSEED=0), so a tree's count repeats to within ~0.1%. Needs ``valgrind`` on PATH;
each count takes about a minute (valgrind runs Python ~50x slower).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = """
import sys
from simulator.config import load_scenario
from simulator.model import simulate
loaded = load_scenario(sys.argv[1])
for _ in range(int(sys.argv[2])):
    simulate(loaded)
"""


def instructions(root: Path, scenario: str, runs: int) -> int:
    """Instructions valgrind counts for PROGRAM in the checkout ``root``."""
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONHASHSEED="0")
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        + [sys.executable, "-c", PROGRAM, scenario, str(runs)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode or not found:
        raise SystemExit(f"valgrind failed in {root}:\n{done.stderr[-2000:]}")
    return int(found[1])


def per_simulation(root: Path, scenario: str, runs: int) -> float:
    """Instructions of one simulation in ``root`` (both counts run at once, one per core)."""
    with ThreadPoolExecutor(2) as pool:
        full = pool.submit(instructions, root, scenario, runs)
        bare = pool.submit(instructions, root, scenario, 0)
        return (full.result() - bare.result()) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/baseline.yaml")
    parser.add_argument("--runs", type=int, default=2, help="simulations counted (>= 1)")
    parser.add_argument("--against", type=Path, help="another checkout to count too")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.against is not None and not (args.against / "simulator" / "model.py").is_file():
        parser.error(f"--against: {args.against} is not a checkout of this project")
    scenario = str(Path(args.scenario).resolve())
    ours = per_simulation(ROOT, scenario, args.runs)
    print(f"{args.scenario}: {ours / 1e6:,.0f} M instructions per simulation (this tree)")
    if args.against is not None:
        theirs = per_simulation(args.against.resolve(), scenario, args.runs)
        print(f"{args.scenario}: {theirs / 1e6:,.0f} M instructions per simulation (DIR)")
        print(f"  DIR = {args.against}; DIR / this tree: {theirs / ours:.3f}x")


if __name__ == "__main__":
    main()
