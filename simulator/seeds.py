"""Seed sets: one scenario run with K seeds, for comparisons paired by seed.

``llm-market run SCEN --seeds K`` writes one folder:

  DIR/seeds.json        {"scenario": name, "seeds": [s, s+1, ...], "folders": ["seed-s", ...]}
  DIR/seed-<s>/         an ordinary run folder (results.py) for each seed s..s+K-1

The folder is built whole in a temporary sibling and swapped in (``simulator.folders``), so a
reader finds the old complete set or the new one; ``seeds.json`` is written last. The runs
share everything but the seed, so a comparison of two seed sets made with the same first seed
pairs run with run (``simulator.dashboard.compare``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.atomic import atomic_write_text
from simulator.folders import SEEDS_FILE, RunFolderError, replace_run_dir

MAX_SEEDS = 1000


def seed_folder(seed: int) -> str:
    return f"seed-{seed}"


def write_seed_set(
    out: str | Path,
    scenario,
    seeds: list[int],
    run: Callable[[int], Any],
    extra: Callable[[Any, Path], None] | None = None,
    force: bool = False,
) -> Path:
    """Run ``run(seed)`` (a RunResult) for each seed and write the set to ``out`` as a whole;
    ``extra(result, folder)`` adds files to each run folder (the dashboard)."""
    from simulator.results import write_run_files

    def build(folder: Path) -> None:
        for seed in seeds:
            result = run(seed)
            sub = folder / seed_folder(seed)
            sub.mkdir()
            write_run_files(sub, result)
            if extra is not None:
                extra(result, sub)
        manifest = {
            "scenario": scenario.name,
            "seeds": list(seeds),
            "folders": [seed_folder(seed) for seed in seeds],
        }
        atomic_write_text(folder / SEEDS_FILE, json.dumps(manifest, indent=2) + "\n")

    try:
        replace_run_dir(out, build, force=force)
    except OSError as exc:
        raise RunFolderError(f"{out}: cannot write the seed set ({exc})") from None
    return Path(out)


def read_seed_set(folder: str | Path) -> dict[int, Any]:
    """The runs of a seed set by seed; FileNotFoundError (one line) if it is not one."""
    from simulator.results import read_run

    folder = Path(folder)
    try:
        manifest = json.loads((folder / SEEDS_FILE).read_text(encoding="utf-8"))
        seeds = [int(seed) for seed in manifest["seeds"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FileNotFoundError(f"{folder}: unreadable {SEEDS_FILE} ({exc})") from None
    return {seed: read_run(folder / seed_folder(seed)) for seed in seeds}
