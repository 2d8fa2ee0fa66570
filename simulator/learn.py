"""``llm-market learn``: independently seeded Q-learning runs of a scenario's pricing game.

The game is the scenario's market at step 0 as a static logit stage game, repeated: the firms'
costs, qualities and brands (and any open product, folded into the outside option) as the
model starts them, capacities ignored (simulator.market.qlearning). Every firm must use
``pricing: q_learning``; its strategy's parameters are its learner's, the scenario's
``learning:`` block says how long runs last. This is not the full market step: inside an
ordinary ``llm-market run`` the same rule learns online from the market's own profits
(simulator.market.strategy.learning), where qualities and rivals move and a few hundred
steps are far too few for the literature's exploration schedule.

The folder:

  DIR/learn.yaml              what the runs are (the scenario, its learning terms) and its
                              fingerprint; a folder made for other runs is refused
  DIR/runs/run-000042.json    one finished run, written atomically as soon as it stops
  DIR/learn.parquet           one row per run once all are done: run, seed, periods,
                              converged, delta, price, and per firm delta.<firm>, price.<firm>

A killed command loses only the runs in progress; the same command again computes only the
missing runs (each run's seed depends on its number alone, ``run_seed``), and ``--runs`` may
grow later. Runs of one call are learned together, vectorised (``--batch`` at a time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simulator.atomic import atomic_write_text
from simulator.config import Scenario, ScenarioError, load_scenario
from simulator.config.yaml_safe import dump_yaml
from simulator.folders import safe_folder_name
from simulator.market.equilibrium import NoEquilibriumError
from simulator.market.qlearning import Learners, RunOutcome, StageGame, fold_products, run_seed
from simulator.market.qlearning import learn as learn_batch

SPEC_FILE = "learn.yaml"
TABLE = "learn.parquet"
RUN_FILE = re.compile(r"^run-(\d+)\.json$")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class LearnError(ScenarioError):
    """A learning run that cannot be made, or a folder made for other runs (one line each)."""


def stage_game(scenario: Scenario) -> tuple[StageGame, Learners, list[str]]:
    """The scenario's stage game at step 0 and its firms' learners."""
    from simulator.model import MarketModel
    from simulator.phases.clear import products

    errors = [
        f"companies.{c.name}.strategy.pricing: `learn` needs every firm to use q_learning "
        f"(got {c.strategy.pricing})"
        for c in scenario.companies
        if c.strategy.pricing != "q_learning"
    ]
    strategies = [c.strategy for c in scenario.companies]
    for key in ("price_grid", "memory"):
        if len({getattr(s, key) for s in strategies}) > 1:
            errors.append(f"companies: every firm's strategy.{key} must be the same in `learn`")
    if errors:
        raise LearnError(errors)
    model = MarketModel(scenario)
    state = model.state
    prices, quality, brand, seg = products(state, model.network, scenario.market.open_model)
    n = state.n_firms
    seg = fold_products(prices, quality, brand, seg, n)
    try:
        game = StageGame.build(
            state.unit_cost.copy(),
            quality[:n],
            brand[:n],
            seg,
            state.size.copy(),
            strategies[0].price_grid,
            np.array([s.grid_extension for s in strategies]),
        )
    except NoEquilibriumError as exc:
        raise LearnError(
            [f"market: the price grid needs a static Nash equilibrium ({exc})"]
        ) from None
    learners = Learners(
        rate=np.array([s.q_learning_rate for s in strategies]),
        decay=np.array([s.exploration_decay for s in strategies]),
        discount=np.array([s.discount for s in strategies]),
        memory=strategies[0].memory,
    )
    return game, learners, list(state.names)


def identity(scenario: Scenario) -> dict[str, Any]:
    """What determines the runs' results: the scenario without its name, text and steps."""
    data = scenario.model_dump(mode="json")
    for key in ("name", "description", "steps"):
        data.pop(key, None)
    return data


class LearnStore:
    """One learning folder: the stored identity, one JSON file per finished run, the table."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.runs_dir = self.out / "runs"

    def claim(self, scenario: Scenario) -> None:
        ident = identity(scenario)
        key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
        path = self.out / SPEC_FILE
        if path.exists():
            try:
                stored = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise LearnError([f"{path}: cannot read ({exc})"]) from None
            if stored.get("fingerprint") != key:
                raise LearnError(
                    [
                        f"{self.out}: made for other learning runs (the scenario or its "
                        "learning terms differ); use another --out folder or delete this one"
                    ]
                )
            return
        if self.out.exists() and not self.out.is_dir():
            raise LearnError([f"--out {self.out}: is a file, not a folder"])
        if self.out.exists() and any(self.out.iterdir()):
            raise LearnError(
                [
                    f"{self.out}: folder is not empty and holds no learning runs ({SPEC_FILE} "
                    "missing); use another --out folder"
                ]
            )
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LearnError([f"--out {self.out}: cannot create the folder ({exc})"]) from None
        document = {"fingerprint": key, "scenario": scenario.name, "identity": ident}
        atomic_write_text(
            path,
            "# Learning runs of `llm-market learn`; resuming checks `fingerprint`.\n"
            + dump_yaml(document),
        )

    def finished(self) -> set[int]:
        if not self.runs_dir.exists():
            return set()
        return {
            int(m.group(1)) for name in os.listdir(self.runs_dir) if (m := RUN_FILE.match(name))
        }

    def write(self, row: dict[str, Any]) -> None:
        path = self.runs_dir / f"run-{int(row['run']):06d}.json"
        atomic_write_text(path, json.dumps(row, allow_nan=True))

    def read(self, runs: list[int]) -> list[dict[str, Any]]:
        rows = []
        for run in runs:
            path = self.runs_dir / f"run-{run:06d}.json"
            try:
                rows.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)  # unreadable: it will be learned again
        return rows


def outcome_row(outcome: RunOutcome, firms: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run": outcome.run,
        "seed": outcome.seed,
        "periods": outcome.periods,
        "converged": outcome.converged,
        "delta": float(np.mean(outcome.delta)),
        "price": float(np.mean(outcome.price)),
    }
    for i, firm in enumerate(firms):
        row[f"delta.{firm}"] = float(outcome.delta[i])
        row[f"price.{firm}"] = float(outcome.price[i])
        row[f"profit.{firm}"] = float(outcome.profit[i])
    return row


def run_learning(
    scenario: Scenario | str | Path,
    runs: int,
    out: str | Path | None = None,
    batch: int | None = None,
    progress=None,
) -> pd.DataFrame:
    """Learn runs 0..runs-1 (those not already in ``out``) and return the table of all of them
    (written to ``out``/learn.parquet when given). ``progress(period, active, done, total)``."""
    scenario = load_scenario(scenario) if isinstance(scenario, str | Path) else scenario
    if runs < 1:
        raise LearnError([f"--runs: must be at least 1 (got {runs})"])
    game, learners, firms = stage_game(scenario)
    terms = scenario.learning
    store = LearnStore(out) if out is not None else None
    done: set[int] = set()
    rows: list[dict[str, Any]] = []
    if store is not None:
        store.claim(scenario)
        done = {r for r in store.finished() if r < runs}
    todo = [r for r in range(runs) if r not in done]
    size = batch or len(todo) or 1
    finished = len(done)

    def keep(outcome: RunOutcome) -> None:
        nonlocal finished
        row = outcome_row(outcome, firms)
        if store is not None:
            store.write(row)
        else:
            rows.append(row)
        finished += 1

    for start in range(0, len(todo), size):
        members = todo[start : start + size]
        seeds = [run_seed(scenario.seed, r) for r in members]
        report = None
        if progress is not None:

            def report(period, active, members=members):
                progress(period, active, finished, runs)

        try:
            learn_batch(
                game,
                learners,
                members,
                seeds,
                terms.max_periods,
                terms.convergence_periods,
                terms.evaluation_periods,
                on_outcome=keep,
                progress=report,
            )
        except MemoryError:
            raise LearnError(["--batch: out of memory; learn fewer runs at once"]) from None
        except ValueError as exc:  # the Q-tables would be too large
            raise LearnError([f"learning: {exc}"]) from None
    if store is not None:
        rows = store.read(list(range(runs)))
    table = pd.DataFrame(rows).sort_values("run").reset_index(drop=True)
    if store is not None and len(table) == runs:
        from simulator.results import write_frame

        write_frame(store.out / TABLE, table)
    table.attrs["game"] = game
    return table


def describe(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and quantiles of delta, price and periods over the runs."""
    stats = {}
    for column in ("delta", "price", "periods"):
        values = table[column].astype(float)
        stats[column] = {"mean": values.mean(), "sd": values.std(ddof=1) if len(values) > 1 else 0}
        stats[column] |= {f"{int(q * 100)}%": values.quantile(q) for q in QUANTILES}
    return pd.DataFrame(stats).T


def print_summary(table: pd.DataFrame, scenario: Scenario) -> None:
    from rich.console import Console
    from rich.table import Table

    from simulator.terminal import literal

    game: StageGame | None = table.attrs.get("game")
    console = Console()
    stats = describe(table)
    shown = Table(title=literal(f"{scenario.name}: {len(table)} learning runs"))
    for column in ("", *stats.columns):
        shown.add_column(column, justify="left" if not column else "right")
    for name, row in stats.iterrows():
        if name == "periods":  # in millions, so the table fits a terminal
            shown.add_row("periods (M)", *(format(v / 1e6, ".3f") for v in row))
        else:
            shown.add_row(name, *(format(v, ".4f") for v in row))
    console.print(shown)
    converged = int(table["converged"].sum())
    console.print(
        f"converged: {converged} of {len(table)} runs ({converged / len(table):.0%})"
        + (
            f"; static Nash price {np.round(game.nash, 4).tolist()} (profit "
            f"{np.round(game.nash_profit, 4).tolist()}), joint-profit price "
            f"{np.round(game.joint, 4).tolist()} (profit {np.round(game.joint_profit, 4).tolist()})"
            if game is not None
            else ""
        ),
        soft_wrap=True,
    )


def cmd_learn(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from simulator.terminal import printable

    scenario = load_scenario(args.scenario)
    out = Path(args.out) if args.out else Path("runs") / "learn" / safe_folder_name(scenario.name)
    if args.batch is not None and args.batch < 1:
        raise LearnError([f"--batch: must be at least 1 (got {args.batch})"])
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=args.quiet,
        transient=True,
    )
    with bar:
        task = bar.add_task("learning runs", total=args.runs, note="")

        def progress(period: int, active: int, done: int, total: int) -> None:
            note = f"{done}/{total} done, {active} learning, period {period / 1e6:.2f}M"
            bar.update(task, completed=done, note=note)

        try:
            table = run_learning(scenario, args.runs, out, args.batch, progress)
        except KeyboardInterrupt:
            print(
                printable(
                    f"interrupted: finished runs are kept in {out}; run the same command to resume"
                ),
                file=sys.stderr,
            )
            return 130
    if not args.quiet:
        print_summary(table, scenario)
    print(printable(f"results written to {out / TABLE}"))
    return 0


def add_learn_command(subparsers) -> None:
    """Register ``learn`` on the main CLI's subparsers."""
    learn = subparsers.add_parser(
        "learn",
        help="independently seeded Q-learning runs of the scenario's repeated pricing game "
        "(resumable)",
    )
    learn.add_argument("scenario", help="scenario YAML file (every firm: pricing: q_learning)")
    learn.add_argument("--runs", type=int, default=20, help="number of runs (default 20)")
    learn.add_argument(
        "--out", help="folder (default runs/learn/<name>); finished runs there are kept"
    )
    learn.add_argument(
        "--batch", type=int, help="runs learned together, vectorised (default: all at once)"
    )
    learn.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    learn.set_defaults(func=cmd_learn)
