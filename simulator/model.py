"""MarketModel: the Mesa model that orders one step of the LLM market.

Step order (DESIGN.md):
  1. scheduled events             4. network update
  2. model releases               5. market clearing: D = f(P, Q, I), S = g(C, R, T)
  3. decisions (price, budgets)   6. accounting        7. data collection
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mesa
import numpy as np

from simulator import metrics
from simulator.agents import CompanyAgent
from simulator.config import Scenario, load_scenario, parse_scenario
from simulator.market.demand import D, SegmentParams, consumer_surplus, utilities
from simulator.market.quality import PlaceholderQuality, QualitySource
from simulator.market.strategy import MarketView, make_rule
from simulator.market.supply import S, release_due

SEGMENT_COLUMNS = ["step", "firm", "segment", "share", "demand", "sales", "quality", "bpb"]


def make_quality_source(scenario: Scenario) -> QualitySource:
    """The quality source the scenario asks for (``market.quality_model``)."""
    return PlaceholderQuality(scenario.market.compute_range)


class MarketModel(mesa.Model):
    """LLM companies competing (and cooperating) across market segments.

    ``scenario`` is a Scenario, a path to a YAML file or a mapping; ``seed`` overrides the
    scenario's seed (so ``mesa.batch_run`` can vary it).
    """

    def __init__(self, scenario: Scenario | str | Path | dict[str, Any], seed: int | None = None,
                 quality_source: QualitySource | None = None):
        if isinstance(scenario, (str, Path)):
            scenario = load_scenario(scenario)
        elif isinstance(scenario, dict):
            scenario = parse_scenario(scenario)
        seed = scenario.seed if seed is None else seed
        super().__init__(seed=seed)
        self.scenario = scenario
        self.seed_used = seed
        self.segment_names = scenario.segment_names
        segs = scenario.market.segments
        self.seg = SegmentParams(
            alpha=np.array([s.price_sensitivity for s in segs]),
            beta=np.array([s.quality_sensitivity for s in segs]),
            gamma=np.array([s.brand_sensitivity for s in segs]),
            mu=np.array([s.temperature for s in segs]),
            u0=np.array([s.outside_utility for s in segs]),
        )
        self.size = np.array([s.size for s in segs], dtype=float)
        self.growth = np.array([s.growth for s in segs], dtype=float)
        self.cost_index = scenario.market.cost_index
        self.compute_price = scenario.market.compute_price
        self.quality_source = quality_source or make_quality_source(scenario)

        self.firms: list[CompanyAgent] = [CompanyAgent(self, spec) for spec in scenario.companies]
        self.rules = {name: make_rule(name) for name in sorted({f.strategy.pricing for f in self.firms})}
        self._release(self.firms, ship=False)

        # model-level outcomes of the last step (read by the DataCollector)
        self.hhi = self.price_index = self.consumer_surplus = 0.0
        self.total_demand = self.total_sales = self.outside_share = 0.0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "step": "steps", "hhi": "hhi", "price_index": "price_index",
                "consumer_surplus": "consumer_surplus", "total_demand": "total_demand",
                "total_sales": "total_sales", "outside_share": "outside_share",
                "n_firms": lambda m: len(m.firms),
            },
            agent_reporters={
                "firm": "name", "price": "price", "quantity": "quantity", "revenue": "revenue",
                "profit": "profit", "cash": "cash", "share": "share", "rd_spend": "rd_spend",
                "marketing": "marketing", "brand": "brand", "unit_cost": "unit_cost",
                "margin": lambda a: a.profit / a.revenue if a.revenue > 0 else float("nan"),
                "generation": "generation", "model_compute": "model_compute",
            },
            tables={"segments": SEGMENT_COLUMNS},
        )

    # --- step phases -----------------------------------------------------------------------

    def _release(self, firms: list[CompanyAgent], ship: bool = True) -> None:
        """Phase 2: firms whose release cycle ended ship a model trained on their compute stock."""
        learners = [f for f in firms if not f.fixed_quality]
        if learners:
            compute = np.array([f.effective_compute for f in learners])
            mix = np.array([f.data_mix for f in learners])
            quality, bpb, extrapolated = self.quality_source(compute, mix)
            for i, firm in enumerate(learners):
                if ship:
                    firm.release(quality[i], bpb[i], extrapolated[i])
                else:
                    firm.quality, firm.bpb = quality[i], bpb[i]
                    firm.extrapolated = bool(extrapolated[i])
        if ship:
            for firm in firms:
                if firm.fixed_quality:
                    firm.release(firm.quality, firm.bpb, False)

    def _market_view(self) -> MarketView:
        firms = self.firms
        return MarketView(
            prices=np.array([f.price for f in firms]),
            costs=np.array([f.unit_cost for f in firms]),
            quality=np.array([f.quality for f in firms]),
            brand=np.array([f.brand for f in firms]),
            seg=self.seg, size=self.size,
            shares=np.array([f.share for f in firms]),
            capacity=np.array([f.capacity for f in firms]),
            floor=np.array([f.unit_cost for f in firms]),
            cap=np.array([f.price_cap for f in firms]),
        )

    def _set_prices(self) -> None:
        """Phase 3a: every pricing rule prices its firms at once, all seeing last step's prices."""
        view = self._market_view()
        new_prices = view.prices.copy()
        for name, rule in self.rules.items():
            group = np.array([i for i, f in enumerate(self.firms) if f.strategy.pricing == name], dtype=int)
            if len(group) == 0:
                continue
            strategies = [self.firms[i].strategy for i in group]
            params = {key: np.array([getattr(s, key) for s in strategies])
                      for key in ("undercut_by", "markup", "follow", "speed")}
            new_prices[group] = rule(view, group, params)
        for firm, price in zip(self.firms, new_prices, strict=True):
            firm.price = float(price)

    def _clear_market(self) -> None:
        """Phase 5-6: logit demand, capacity-limited sales, accounting, metrics."""
        firms = self.firms
        prices = np.array([f.price for f in firms])
        quality = np.array([f.quality for f in firms])
        brand = np.array([f.brand for f in firms])
        demand, shares = D(prices, quality, brand, self.seg, self.size)
        sales, _lost = S(demand, np.array([f.capacity for f in firms]), self.scenario.market.spillover)
        for i, firm in enumerate(firms):
            firm.settle(demand[i], sales[i])
        quantities = sales.sum(axis=1)
        firm_shares = metrics.market_shares(quantities)
        for firm, share in zip(firms, firm_shares, strict=True):
            firm.share = float(share)

        self.hhi = metrics.hhi(firm_shares)
        self.price_index = metrics.price_index(prices, quantities)
        u = utilities(prices, quality, brand, self.seg)
        self.consumer_surplus = float(consumer_surplus(u, self.seg, self.size).sum())
        self.total_demand = float(demand.sum())
        self.total_sales = float(sales.sum())
        self.outside_share = float(1.0 - demand.sum() / self.size.sum())
        self._segment_rows = (shares, demand, sales, quality)

    def _record(self) -> None:
        self.datacollector.collect(self)
        shares, demand, sales, quality = self._segment_rows
        table = self.datacollector.tables["segments"]
        names = [f.name for f in self.firms]
        for i, firm in enumerate(self.firms):
            for s, segment in enumerate(self.segment_names):
                table["step"].append(self.steps)
                table["firm"].append(names[i])
                table["segment"].append(segment)
                table["share"].append(float(shares[i, s]))
                table["demand"].append(float(demand[i, s]))
                table["sales"].append(float(sales[i, s]))
                table["quality"].append(float(quality[i, s]))
                table["bpb"].append(float(firm.bpb[s]))

    def step(self) -> None:
        due = release_due(self.steps, np.array([f.last_release for f in self.firms]),
                          np.array([f.spec.release_cycle for f in self.firms]))
        self._release([f for f, d in zip(self.firms, due, strict=True) if d])
        for firm in self.firms:
            firm.plan_budgets()
        self._set_prices()
        self._clear_market()
        self._record()
        self.size = self.size * (1.0 + self.growth)

    def run(self, steps: int | None = None, progress=None) -> None:
        """Run ``steps`` steps (default: the scenario's); ``progress(i)`` is called after each."""
        for _ in range(self.scenario.steps if steps is None else steps):
            self.step()
            if progress is not None:
                progress(self.steps)


def simulate(scenario: Scenario | str | Path | dict[str, Any], seed: int | None = None,
             progress=None, quality_source: QualitySource | None = None):
    """Build a MarketModel, run it for the scenario's steps and return a RunResult."""
    import time

    from simulator.results import RunResult, frames_from_model, summarize

    start = time.perf_counter()
    model = MarketModel(scenario, seed=seed, quality_source=quality_source)
    model.run(progress=progress)
    frames = frames_from_model(model)
    summary = summarize(model.scenario, frames, model.seed_used, time.perf_counter() - start)
    return RunResult(scenario=model.scenario, summary=summary, **frames)
