"""MarketModel: the Mesa model that orders the phases of one step of the LLM market.

The state of the market is one MarketState (arrays over firms x segments); each phase is a
function of it in simulator/phases/ (see that package's docstring for how a step flows).
The model owns what Mesa gives: the rng, the AgentSet of CompanyAgent views and the
DataCollector. Entry and exit decided at the end of a step take effect as the next begins, so
a leaving firm's last step is recorded and a step's `entries`/`exits` count who came and went
as it began.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from simulator import interventions, metrics, schema
from simulator.agents import CompanyAgent, MarketShell
from simulator.config import Company, Scenario, merge
from simulator.config.loading import check_seed, scenario_from
from simulator.market import events
from simulator.market.demand import SegmentParams
from simulator.market.open_source import entry_cost, finetune_base_compute
from simulator.market.quality import PlaceholderQuality, QualitySource
from simulator.market.state import MarketState
from simulator.market.strategy import DECISION_BY_KEY, DECISIONS
from simulator.network import PartnershipNetwork
from simulator.phases import account, clear, decide, entry_exit, network, record, release
from simulator.phases.entry_exit import firm_row


def make_quality_source(scenario: Scenario, allow_training: bool = True) -> QualitySource:
    """The quality source the scenario asks for (``market.quality_model``).

    ``allow_training=False`` (sweeps) reads the zoo's measurements only, whatever the scenario
    says about training missing points.
    """
    market = scenario.market
    if market.quality_model == "placeholder" or not scenario.needs_quality_model:
        return PlaceholderQuality(market.compute_range)
    from simulator.lm.lookup import ZooQuality

    return ZooQuality(
        scenario.segment_names,
        market.compute_range,
        train_missing=market.zoo.train_missing and allow_training,
        threads=market.zoo.threads,
        data_range=market.data.data_range if market.data is not None else None,
    )


def initial_state(scenario: Scenario) -> MarketState:
    """An empty market: the segments and industry parameters of ``scenario``, no firms."""
    market = scenario.market
    segments = market.segments
    return MarketState(
        segment_names=scenario.segment_names,
        seg=SegmentParams(
            alpha=np.array([s.price_sensitivity for s in segments]),
            beta=np.array([s.quality_sensitivity for s in segments]),
            gamma=np.array([s.brand_sensitivity for s in segments]),
            mu=np.array([s.temperature for s in segments]),
            u0=np.array([s.outside_utility for s in segments]),
        ),
        size=np.array([s.size for s in segments], dtype=float),
        growth=np.array([s.growth for s in segments], dtype=float),
        cost_index=market.cost_index,
        compute_price=market.compute_price,
        learning_output_scale=market.learning_output_scale,
        data_limited=market.data is not None,
    )


class MarketModel(MarketShell):
    """LLM companies competing and cooperating across market segments.

    ``scenario`` is a Scenario, a path to a YAML file or a mapping; ``seed`` overrides the
    scenario's seed (so ``mesa.batch_run`` can vary it).
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | dict[str, Any],
        seed: int | None = None,
        quality_source: QualitySource | None = None,
    ):
        scenario, seed = scenario_from(scenario), check_seed(seed)
        seed = scenario.seed if seed is None else seed
        super().__init__(seed=seed)
        self.scenario = scenario
        self.seed_used = seed
        self.market = scenario.market
        self.state = initial_state(scenario)
        self.quality_source = quality_source or make_quality_source(scenario)
        self.network = PartnershipNetwork(self.market.network)
        self.rules: decide.Rules = {registry.key: {} for registry in DECISIONS}
        self.firms: list[CompanyAgent] = []
        self.entries: list[dict[str, Any]] = []
        self.exits: list[dict[str, Any]] = []
        self._entrant_count = 0
        self.specs: dict[str, Company] = {}  # every firm's spec as it entered, by name
        self.step_entries = self.step_exits = 0
        self._add_firms(list(scenario.companies))
        for link in scenario.links:
            self.network.link(link.source, link.target, link.type, 0, link.term)
        self._clearing: clear.Clearing | None = None
        self.outcome: dict[str, Any] = record.outcomes(self.state, None, self.network) | {
            "best_open_quality": 0.0,
            "homogenization": 0.0,
        }
        self._initial_sales()
        self.datacollector = record.Recorder(
            model_reporters=schema.model_reporters(),
            tables={name: schema.column_names(name) for name in schema.COLLECTED_TABLES},
        )

    def _initial_sales(self) -> None:
        """What each firm sells at its initial price before step 1, so that step 1's budgets
        and link decisions see a revenue rather than a cold start (cash is not touched)."""
        state = self.state
        if not state.n_firms:
            return
        clearing = clear.clear(state, self.network, self.market.open_model, self.market.spillover)
        state.demand, state.sales = clearing.demand, clearing.sales
        state.quantity = clearing.sales.sum(axis=1)
        state.revenue = state.price * state.quantity
        state.firm_share = state.share = metrics.market_shares(state.quantity)

    # --- firms entering and leaving ---------------------------------------------------------

    def _add_firm(self, spec: Company, entrant: bool = False) -> CompanyAgent:
        return self._add_firms([spec], entrant)[0]

    def _add_firms(self, specs: list[Company], entrant: bool = False) -> list[CompanyAgent]:
        """Add firms' rows, agents and network nodes; ship their first models (one quality
        lookup for all); open the weights of those that start open."""
        state = self.state
        strategies = [spec.strategy.model_dump() for spec in specs]
        rules = [{r.key: strategy.pop(r.key) for r in DECISIONS} for strategy in strategies]
        for firm_rules in rules:
            for key, name in firm_rules.items():
                self.rules[key].setdefault(name, DECISION_BY_KEY[key].make(name))
        self.specs.update({spec.name: spec for spec in specs})
        rows = state.add_firms(
            [spec.name for spec in specs],
            [spec.archetype or "" for spec in specs],
            [firm_row(spec, self.scenario, self.steps) for spec in specs],
            rules,
            strategies,
        )
        state.refresh_unit_cost(rows)
        agents = []
        for spec, row in zip(specs, rows, strict=True):
            agent = CompanyAgent(self, spec.name, spec.archetype or "", int(row))
            state.firm_id[row] = agent.unique_id
            self.network.add_firm(spec.name)
            agents.append(agent)
        self.firms.extend(agents)
        if entrant:  # an entrant starts by fine-tuning the best open model, if that is better
            base = finetune_base_compute(
                state.model_compute,
                state.open_weights,
                self.market.open_model.finetune_efficiency,
                state.retired_open_compute,
            )
            state.model_compute[rows] = np.maximum(state.model_compute[rows], base)
        efficiency = self.market.open_model.finetune_efficiency if entrant else 0.0
        release.ship(
            state, rows, state.model_compute[rows], self.quality_source, self.steps, efficiency
        )
        state.generation[rows] -= 1  # the model a firm starts with is its first generation
        self.open_weights(rows[[spec.open_weights for spec in specs]])
        return agents

    def enter(self, archetype: str) -> CompanyAgent:
        """A new firm of ``archetype`` enters now (cheaper while an open model exists)."""
        self._entrant_count += 1
        entry = self.market.entry
        fields = merge(
            self.scenario.archetype(archetype),
            {"name": f"{archetype}-e{self._entrant_count}", "archetype": archetype},
        )
        spec = Company.model_validate(fields)
        cost = entry_cost(entry.entry_cost, entry.open_discount, self.state.open_model_exists)
        return self.enter_firm(spec.model_copy(update={"cash": spec.cash - cost}))

    def enter_firm(self, spec: Company) -> CompanyAgent:
        """The firm ``spec`` enters now (an `enter` event's company, or an entrant)."""
        firm = self._add_firm(spec, entrant=True)
        self.entries.append({"firm": firm.name, "step": self.steps, "archetype": firm.archetype})
        self.step_entries += 1
        return firm

    def acquire(self, acquirer: str, target: str, payment: float) -> None:
        interventions.acquire(self, acquirer, target, payment)

    def apply_setting(self, path: str, value: Any) -> None:
        interventions.apply_setting(self, path, value)

    def exit_firms(self, rows: np.ndarray, reasons: list[str] | None = None) -> None:
        """The firms in ``rows`` leave now (default reason: sustained negative cash)."""
        state = self.state
        if self.market.open_model.outlives_releaser:
            state.retire_open_weights(rows)
        for k, i in enumerate(rows):
            firm = self.firms[i]
            reason = (
                reasons[k]
                if reasons
                else f"cash below zero for {state.negative_cash_steps[i]} steps"
            )
            self.exits.append({"firm": firm.name, "step": self.steps, "reason": reason})
            self.network.remove_firm(firm.name)
            firm.remove()
        state.remove_firms(rows)
        gone = set(int(i) for i in rows)
        self.firms = [f for i, f in enumerate(self.firms) if i not in gone]
        for row, firm in enumerate(self.firms):
            firm.row = row
        self.step_exits += len(rows)

    def open_weights(self, rows: np.ndarray) -> None:
        """Publish the weights of the firms in ``rows`` (an event, a rule or the scenario)."""
        decide.publish_weights(self.state, rows, self.market.open_model.releaser_brand_gain)

    # --- one step -----------------------------------------------------------------------

    def step(self) -> None:
        state, market, step = self.state, self.market, self.steps
        self.step_entries = self.step_exits = 0
        leaving = entry_exit.exiting(state, market.exit_after)
        if len(leaving):
            self.exit_firms(leaving)
        for archetype in entry_exit.arrivals(state, market.entry, self.rng):
            self.enter(archetype)
        for event in self.scenario.events:
            if event.step == step:
                events.fire(self, event)
        market = self.market  # a set event may have changed the market's terms
        release.release(state, step, self.quality_source, market.open_model.finetune_efficiency)
        decide.decide(
            state,
            self.rules,
            self.network,
            market.open_model,
            market.brand_decay,
            self.quality_source,
            step,
            self.rng,
        )
        network.update_links(state, self.network, self.rules, step)
        self._clearing = None
        if state.n_firms:
            self._clearing = clear.clear(state, self.network, market.open_model, market.spillover)
            account.account(state, self._clearing, self.network, market)
        self.outcome.update(record.outcomes(state, self._clearing, self.network))
        self.record(step)
        state.size = state.size * (1.0 + state.growth)

    def record(self, step: int) -> None:
        """This step's rows (record.collect; a sweep's model records less: sweep.lean)."""
        record.collect(self.datacollector, self, self._clearing, step)

    def run(self, steps: int | None = None, progress=None) -> None:
        """Run ``steps`` steps (default: the scenario's); ``progress(i)`` is called after each."""
        for _ in range(self.scenario.steps if steps is None else steps):
            self.step()
            if progress is not None:
                progress(self.steps)


def simulate(
    scenario: Scenario | str | Path | dict[str, Any],
    seed: int | None = None,
    progress=None,
    quality_source: QualitySource | None = None,
):
    """Build a MarketModel, run it for the scenario's steps and return a RunResult."""
    from simulator.results import RunResult, frames_from_model, summarize

    start = time.perf_counter()
    model = MarketModel(scenario, seed=seed, quality_source=quality_source)
    model.run(progress=progress)
    frames = frames_from_model(model)
    summary = summarize(
        model.scenario,
        frames,
        model.seed_used,
        time.perf_counter() - start,
        entries=model.entries,
        exits=model.exits,
        quality_source=model.quality_source,
    )
    return RunResult(scenario=model.scenario, summary=summary, **frames)
