"""``llm-market tournament``: every assignment of a set of rules to the scenario's firms.

For a decision (``pricing`` by default, ``rd_budget`` or any other registry's key) and rules
a, b, c, each of the scenario's firms (or those named by ``--firms``, the players) gets each
rule in turn: all rules^players assignments, each simulated with the same K seeds (common
random numbers: assignments differ only by their rules). Each play (a firm in a run) scores
its rule's mean profit per step and final share. Rules are ranked by mean profit over all
their plays, with 95% t-intervals (plays of one run are not independent, so the intervals are
indicative), and a payoff table gives each rule's mean profit and share against each
profile of the other players' rules (for two players: a rule against a rule).

The folder (resumable like a sweep: one file per finished run, simulator.sweep.store):

  DIR/tournament.yaml     what the tournament is (scenario, decision, rules, players, seeds)
  DIR/runs/run-*.parquet  one finished run each (written atomically)
  DIR/plays.parquet       one row per run x player: assignment, seed, firm, rule, opponents,
                          mean_profit, final_share
  DIR/ranking.csv         rule, plays, mean_profit (and 95% interval), final_share (and interval)
  DIR/tournament.html     standalone page: the ranking and heatmaps of the payoff tables
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simulator.atomic import atomic_write, atomic_write_text
from simulator.config import Scenario, ScenarioError, load_scenario, parse_scenario
from simulator.config.yaml_safe import dump_yaml
from simulator.folders import safe_folder_name
from simulator.market.qlearning import run_seed
from simulator.market.strategy import DECISIONS

SPEC_FILE = "tournament.yaml"
MAX_RUNS = 100_000


class TournamentError(ScenarioError):
    """A tournament that cannot be played, or a folder made for another (one line each)."""


def registry(decision: str):
    for candidate in DECISIONS:
        if candidate.key == decision:
            return candidate
    known = ", ".join(r.key for r in DECISIONS)
    raise TournamentError([f"--decision: unknown decision {decision!r} (known: {known})"])


class Plan:
    """The runs of a tournament: assignment a, seed k is run a * K + k."""

    def __init__(
        self,
        scenario: Scenario,
        rules: list[str],
        decision: str,
        seeds: int,
        players: list[str] | None = None,
    ):
        reg = registry(decision)
        errors = []
        for rule in rules:
            try:
                reg.check(rule)
            except ValueError as exc:
                errors.append(f"--rules: {exc}")
        if len(set(rules)) != len(rules) or not rules:
            errors.append("--rules: give distinct rule names, comma-separated")
        names = [c.name for c in scenario.companies]
        players = players if players else names
        errors += [
            f"--firms: no such firm {p!r} (firms: {', '.join(names)})"
            for p in players
            if p not in names
        ]
        if seeds < 1:
            errors.append(f"--seeds: must be at least 1 (got {seeds})")
        runs = len(rules) ** len(players) * max(seeds, 1)
        if runs > MAX_RUNS:
            errors.append(
                f"--rules/--firms: {len(rules)}^{len(players)} assignments x {seeds} "
                f"seeds = {runs:,} runs (at most {MAX_RUNS:,}); name fewer --firms"
            )
        if errors:
            raise TournamentError(errors)
        self.scenario, self.rules, self.decision = scenario, list(rules), decision
        self.players, self.firms = list(players), names
        self.assignments = list(itertools.product(self.rules, repeat=len(self.players)))
        self.seeds = [run_seed(scenario.seed, k) for k in range(seeds)]
        self.base = scenario.model_dump(mode="json")
        self._scenarios: dict[int, dict[str, Any]] = {}

    @property
    def n_runs(self) -> int:
        return len(self.assignments) * len(self.seeds)

    def identity(self) -> dict[str, Any]:
        return {
            "scenario": self.base,
            "decision": self.decision,
            "rules": self.rules,
            "players": self.players,
            "seeds": self.seeds,
        }

    def scenario_of(self, assignment: int) -> dict[str, Any]:
        if assignment not in self._scenarios:
            data = copy.deepcopy(self.base)
            rules = dict(zip(self.players, self.assignments[assignment], strict=True))
            for company in data["companies"]:
                if company["name"] in rules:
                    company["strategy"][self.decision] = rules[company["name"]]
            self._scenarios[assignment] = parse_scenario(data).model_dump(mode="json")
        return self._scenarios[assignment]

    def outcomes(self) -> tuple[str, ...]:
        return tuple(f"{m}.{p}" for p in self.players for m in ("profit", "final_share"))

    def task(self, run: int):
        from simulator.sweep.worker import RunTask

        assignment, k = divmod(run, len(self.seeds))
        params = {
            f"rule.{p}": r for p, r in zip(self.players, self.assignments[assignment], strict=True)
        }
        return RunTask(
            run=run,
            point=assignment,
            replication=k,
            seed=self.seeds[k],
            scenario=self.scenario_of(assignment),
            params=params,
            outcomes=self.outcomes(),
            firms=tuple(self.firms),
        )


def claim(out: Path, plan: Plan) -> None:
    """Store the plan in a new folder, or check that an existing one holds the same."""
    key = hashlib.sha256(json.dumps(plan.identity(), sort_keys=True).encode()).hexdigest()
    path = out / SPEC_FILE
    if path.exists():
        stored = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if stored.get("fingerprint") != key:
            raise TournamentError(
                [
                    f"{out}: made by another tournament (scenario, decision, "
                    "rules, players or seeds differ); use another --out folder"
                ]
            )
        return
    if out.exists() and not out.is_dir():
        raise TournamentError([f"--out {out}: is a file, not a folder"])
    if out.exists() and any(out.iterdir()):
        raise TournamentError(
            [
                f"{out}: folder is not empty and holds no tournament "
                f"({SPEC_FILE} missing); use another --out folder"
            ]
        )
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TournamentError([f"--out {out}: cannot create the folder ({exc})"]) from None
    document = {"fingerprint": key, "identity": plan.identity()}
    atomic_write_text(
        path,
        "# `llm-market tournament`; resuming checks `fingerprint`.\n" + dump_yaml(document),
    )


def plays_table(plan: Plan, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run x player (runs that failed are left out)."""
    steps = plan.scenario.steps
    out = []
    for row in sorted(rows, key=lambda r: r["run"]):
        if row.get("error"):
            continue
        rules = [row[f"rule.{p}"] for p in plan.players]
        for j, player in enumerate(plan.players):
            others = rules[:j] + rules[j + 1 :]
            out.append(
                {
                    "run": row["run"],
                    "assignment": row["point"],
                    "seed": row["seed"],
                    "firm": player,
                    "rule": rules[j],
                    "opponents": ",".join(sorted(others)) if len(others) != 1 else others[0],
                    "mean_profit": row[f"profit.{player}"] / steps,
                    "final_share": row[f"final_share.{player}"],
                }
            )
    return pd.DataFrame(
        out,
        columns=[
            "run",
            "assignment",
            "seed",
            "firm",
            "rule",
            "opponents",
            "mean_profit",
            "final_share",
        ],
    )


def interval(values: pd.Series) -> tuple[float, float, float]:
    """Mean and its 95% t-interval."""
    from scipy import stats

    values = values.dropna().astype(float)
    mean = float(values.mean()) if len(values) else float("nan")
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def ranking(plays: pd.DataFrame) -> pd.DataFrame:
    """Rules by mean profit per step (with 95% intervals) and final share."""
    rows = []
    for rule, group in plays.groupby("rule", sort=False):
        profit, p_lo, p_hi = interval(group["mean_profit"])
        share, s_lo, s_hi = interval(group["final_share"])
        rows.append(
            {
                "rule": rule,
                "plays": len(group),
                "mean_profit": profit,
                "profit_ci_low": p_lo,
                "profit_ci_high": p_hi,
                "final_share": share,
                "share_ci_low": s_lo,
                "share_ci_high": s_hi,
            }
        )
    table = pd.DataFrame(rows).sort_values(["mean_profit", "final_share"], ascending=False)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def payoff_table(
    plays: pd.DataFrame, value: str = "mean_profit", firm: str | None = None
) -> pd.DataFrame:
    """Mean ``value`` of each rule (rows) against each profile of the others' rules
    (columns), over all players or one ``firm``'s plays."""
    chosen = plays if firm is None else plays[plays["firm"] == firm]
    return chosen.pivot_table(index="rule", columns="opponents", values=value, aggfunc="mean")


def write_page(path: Path, plan: Plan, rank: pd.DataFrame, plays: pd.DataFrame) -> Path:
    import plotly.graph_objects as go

    from simulator.dashboard.page import write_dashboard_html

    figures = []
    for value, label in (("mean_profit", "mean profit per step"), ("final_share", "final share")):
        table = payoff_table(plays, value)
        figure = go.Figure(
            go.Heatmap(
                z=table.to_numpy(),
                x=list(table.columns),
                y=list(table.index),
                colorscale="Viridis",
                colorbar={"title": label},
                text=np.round(table.to_numpy(), 4),
                texttemplate="%{text}",
                hovertemplate="rule %{y} against %{x}: %{z:.4g}<extra></extra>",
            )
        )
        figure.update_layout(
            title=f"{label}: own {plan.decision} rule (rows) against the other "
            "players' rules (columns)",
            xaxis_title="other players' rules",
            yaxis_title="own rule",
            height=420 + 30 * len(table),
        )
        figures.append(figure)
    bars = go.Figure(
        go.Bar(
            x=rank["rule"],
            y=rank["mean_profit"],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": rank["profit_ci_high"] - rank["mean_profit"],
                "arrayminus": rank["mean_profit"] - rank["profit_ci_low"],
            },
        )
    )
    bars.update_layout(title="mean profit per step by rule (95% interval)", height=380)
    figures.insert(0, bars)
    header = {
        "decision": plan.decision,
        "rules": ", ".join(plan.rules),
        "players": ", ".join(plan.players),
        "assignments": str(len(plan.assignments)),
        "seeds": str(len(plan.seeds)),
        "best rule": str(rank["rule"].iloc[0]),
    }
    return write_dashboard_html(path, f"tournament: {plan.scenario.name}", header, figures)


def play(
    plan: Plan,
    out: str | Path | None = None,
    executor: str = "processes",
    workers: int | None = None,
    progress=None,
) -> dict[str, pd.DataFrame]:
    """Run (or finish) the tournament; returns its plays and ranking tables."""
    from simulator.sweep.executors import execute
    from simulator.sweep.store import SweepStore

    store = SweepStore(out) if out is not None else None
    finished: set[int] = set()
    if store is not None:
        claim(Path(out), plan)
        finished = {r for r in store.finished_runs() if r < plan.n_runs}
    todo = [plan.task(r) for r in range(plan.n_runs) if r not in finished]
    rows = []
    for count, record in enumerate(execute(todo, executor, workers), start=1):
        if store is not None:
            store.write_run(record)
        rows.append(record.row)
        if progress is not None:
            progress(len(finished) + count, plan.n_runs)
    if store is not None:
        rows = [r.row for r in store.read_runs(set(range(plan.n_runs)))]
    plays = plays_table(plan, rows)
    rank = ranking(plays) if len(plays) else pd.DataFrame()
    failed = [r for r in rows if r.get("error")]
    if store is not None and len(rows) == plan.n_runs and len(plays):
        from simulator.results import write_frame

        folder = Path(out)
        write_frame(folder / "plays.parquet", plays)
        atomic_write(folder / "ranking.csv", lambda tmp: rank.to_csv(tmp, index=False))
        write_page(folder / "tournament.html", plan, rank, plays)
    return {"plays": plays, "ranking": rank, "failed": pd.DataFrame(failed)}


def cmd_tournament(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    from simulator.terminal import literal, printable

    scenario = load_scenario(args.scenario)
    if args.steps is not None:
        scenario = parse_scenario(scenario.model_dump(mode="json") | {"steps": args.steps})
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    players = [f.strip() for f in args.firms.split(",") if f.strip()] if args.firms else None
    plan = Plan(scenario, rules, args.decision, args.seeds, players)
    default = Path("runs") / "tournaments" / safe_folder_name(scenario.name)
    out = Path(args.out) if args.out else default
    bar = Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=args.quiet,
        transient=True,
    )
    with bar:
        task = bar.add_task(
            f"{len(plan.assignments)} assignments x {len(plan.seeds)} seeds", total=plan.n_runs
        )
        try:
            result = play(
                plan,
                out,
                args.executor,
                args.workers,
                lambda done, total: bar.update(task, completed=done),
            )
        except KeyboardInterrupt:
            print(
                printable(
                    f"interrupted: finished runs are kept in {out}; run the same command to resume"
                ),
                file=sys.stderr,
            )
            return 130
    rank = result["ranking"]
    if not args.quiet and len(rank):
        table = Table(title=literal(f"{scenario.name}: {args.decision} rules ranked"))
        for column in ("rank", "rule", "plays", "mean profit (95% CI)", "final share (95% CI)"):
            table.add_column(column, justify="left" if column == "rule" else "right")
        for row in rank.itertuples():
            table.add_row(
                str(row.rank),
                literal(row.rule),
                str(row.plays),
                f"{row.mean_profit:.3g} [{row.profit_ci_low:.3g}, {row.profit_ci_high:.3g}]",
                f"{row.final_share:.3f} [{row.share_ci_low:.3f}, {row.share_ci_high:.3f}]",
            )
        Console().print(table)
    if len(result["failed"]):
        first = result["failed"]["error"].iloc[0]
        print(
            printable(f"warning: {len(result['failed'])} runs failed; first: {first}"),
            file=sys.stderr,
        )
    print(printable(f"results written to {out}"))
    return 0


def add_tournament_command(subparsers) -> None:
    """Register ``tournament`` on the main CLI's subparsers."""
    keys = [r.key for r in DECISIONS]
    parser = subparsers.add_parser(
        "tournament",
        help="play every assignment of rules to the firms across seeds, rank the rules (resumable)",
    )
    parser.add_argument("scenario", help="scenario YAML file")
    parser.add_argument("--rules", required=True, help="comma-separated rule names")
    parser.add_argument(
        "--decision",
        default="pricing",
        choices=keys,
        help="the decision the rules are for (default pricing; e.g. rd_budget)",
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds per assignment (default 5)")
    parser.add_argument("--firms", help="comma-separated players (default: every firm)")
    parser.add_argument("--steps", type=int, help="override the scenario's number of steps")
    parser.add_argument("--out", help="folder (default runs/tournaments/<name>)")
    parser.add_argument("--executor", choices=["serial", "processes"], default="processes")
    parser.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or table")
    parser.set_defaults(func=cmd_tournament)
