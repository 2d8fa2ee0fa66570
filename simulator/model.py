"""MarketModel: the Mesa model that orders one step of the LLM market.

Step order (DESIGN.md):
  1. scheduled events fire
  2. releases: firms whose cycle ended ship a model trained on their compute (own R&D,
     joint-R&D pool, community contributions, or the best open model they fine-tune from)
  3. decisions: segment focus, open-sourcing, budgets, prices (R sees rivals' last prices)
  4. network update: links dissolve or form (mutual gain only)
  5. market clearing per segment: D = f(P, Q, I) with the open product, S = g(C, R, T)
  6. accounting; exit after sustained losses and stochastic entry, which take effect at the
     start of the next step (so a leaving firm's last step is recorded, and the step's
     `entries`/`exits` columns count who came and went as that step began)
  7. data collection (model, firm, firm x segment and edge rows)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mesa
import numpy as np

from simulator import metrics
from simulator.agents import CompanyAgent
from simulator.config import Company, Scenario, load_scenario, merge, parse_scenario
from simulator.market import dynamics
from simulator.market.demand import D, SegmentParams, consumer_surplus, utilities
from simulator.market.quality import PlaceholderQuality, QualitySource
from simulator.market.strategy import MarketView, make_rule
from simulator.market.supply import S, release_due
from simulator.network import LinkTerms, PartnershipNetwork, expected_gains

SEGMENT_COLUMNS = ["step", "firm", "segment", "share", "demand", "sales", "quality", "bpb", "focus"]
EDGE_COLUMNS = ["step", "source", "target", "type", "start_step"]
MIN_QUALITY = 0.0
"""A model worse than byte frequencies (zoo Q < 0) is worth nothing to users: Q is floored here."""
PRICING_PARAMS = ("undercut_by", "markup", "follow", "speed")


def make_quality_source(scenario: Scenario, allow_training: bool = True) -> QualitySource:
    """The quality source the scenario asks for (``market.quality_model``).

    ``allow_training=False`` (sweeps) reads the zoo's measurements only, whatever the scenario
    says about training missing points.
    """
    market = scenario.market
    if market.quality_model == "placeholder" or not scenario.needs_quality_model:
        return PlaceholderQuality(market.compute_range)
    from simulator.lm.zoo import ZooQuality

    return ZooQuality(
        scenario.segment_names,
        market.compute_range,
        train_missing=market.zoo.train_missing and allow_training,
        threads=market.zoo.threads,
    )


class MarketModel(mesa.Model):
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
        if isinstance(scenario, (str, Path)):
            scenario = load_scenario(scenario)
        elif isinstance(scenario, dict):
            scenario = parse_scenario(scenario)
        seed = scenario.seed if seed is None else seed
        super().__init__(seed=seed)
        self.scenario = scenario
        self.seed_used = seed
        market = scenario.market
        self.segment_names = scenario.segment_names
        segs = market.segments
        self.seg = SegmentParams(
            alpha=np.array([s.price_sensitivity for s in segs]),
            beta=np.array([s.quality_sensitivity for s in segs]),
            gamma=np.array([s.brand_sensitivity for s in segs]),
            mu=np.array([s.temperature for s in segs]),
            u0=np.array([s.outside_utility for s in segs]),
        )
        self.size = np.array([s.size for s in segs], dtype=float)
        self.growth = np.array([s.growth for s in segs], dtype=float)
        self.cost_index = market.cost_index
        self.compute_price = market.compute_price
        self.quality_source = quality_source or make_quality_source(scenario)
        terms = market.network
        self.network = PartnershipNetwork(
            LinkTerms(
                pool_share=terms.pool_share,
                returns=terms.returns,
                brand_share=terms.brand_share,
                sharing_value=terms.sharing_value,
                rivalry=terms.rivalry,
                cost=dict(terms.cost),
                term=terms.term,
                max_links=terms.max_links,
            )
        )

        self.firms: list[CompanyAgent] = []
        self.rules: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.exits: list[dict[str, Any]] = []
        self._entrant_count = 0
        for spec in scenario.companies:
            self._add_firm(spec)
        for link in scenario.links:
            self.network.link(link.source, link.target, link.type, 0, link.term)
        self._initial_sales()

        # model-level outcomes of the last step (read by the DataCollector)
        self.hhi = self.price_index = self.consumer_surplus = 0.0
        self.total_demand = self.total_sales = self.outside_share = 0.0
        self.open_share = self.best_open_quality = self.homogenization = self.price_dispersion = 0.0
        self.step_entries = self.step_exits = 0
        self.network_metrics = self.network.metrics()
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "step": "steps",
                "hhi": "hhi",
                "hhi_band_2023": lambda m: metrics.hhi_band(m.hhi, metrics.HHI_BANDS_2023),
                "hhi_band_2010": lambda m: metrics.hhi_band(m.hhi, metrics.HHI_BANDS_2010),
                "price_index": "price_index",
                "price_dispersion": "price_dispersion",
                "consumer_surplus": "consumer_surplus",
                "total_demand": "total_demand",
                "total_sales": "total_sales",
                "outside_share": "outside_share",
                "n_firms": lambda m: len(m.firms),
                "n_open": lambda m: sum(f.open_source for f in m.firms),
                "open_share": "open_share",
                "best_open_quality": "best_open_quality",
                "homogenization": "homogenization",
                "entries": "step_entries",
                "exits": "step_exits",
                **{
                    key: (lambda m, key=key: m.network_metrics[key]) for key in self.network_metrics
                },
                "compute_price": "compute_price",
                "cost_index": "cost_index",
            },
            agent_reporters={
                "firm": "name",
                "archetype": "archetype",
                "price": "price",
                "quantity": "quantity",
                "revenue": "revenue",
                "profit": "profit",
                "cash": "cash",
                "share": "share",
                "rd_spend": "rd_spend",
                "marketing": "marketing",
                "brand": "brand",
                "unit_cost": "unit_cost",
                "margin": lambda a: a.profit / a.revenue if a.revenue > 0 else float("nan"),
                "generation": "generation",
                "model_compute": "model_compute",
                "innovation": "innovation",
                "open_source": "open_source",
                "degree_centrality": "degree_centrality",
                "link_cost": "link_cost",
                "pooled_compute": "pooled_compute",
            },
            tables={"segments": SEGMENT_COLUMNS, "edges": EDGE_COLUMNS},
        )

    def _initial_sales(self) -> None:
        """What each firm sells at its initial price before step 1, so that step 1's budgets
        and link decisions see a revenue rather than a cold start (cash is not touched)."""
        if not self.firms:
            return
        prices, quality, brand, seg = self._products()
        demand, _ = D(prices, quality, brand, seg, self.size)
        n = len(self.firms)
        sales, _ = S(
            demand[:n], np.array([f.capacity for f in self.firms]), self.scenario.market.spillover
        )
        shares = metrics.market_shares(sales.sum(axis=1))
        for i, firm in enumerate(self.firms):
            firm.demand, firm.sales = demand[i], sales[i]
            firm.quantity = float(sales[i].sum())
            firm.revenue = firm.price * firm.quantity
            firm.share = float(shares[i])

    # --- firms entering and leaving ---------------------------------------------------------

    def _add_firm(self, spec: Company, entrant: bool = False) -> CompanyAgent:
        firm = CompanyAgent(self, spec)
        if firm.spec.strategy.pricing not in self.rules:
            self.rules[firm.spec.strategy.pricing] = make_rule(firm.spec.strategy.pricing)
        self.firms.append(firm)
        self.network.add_firm(firm.name)
        if entrant:  # an entrant starts by fine-tuning the best open model, if that is better
            firm.model_compute = max(firm.model_compute, self._open_base_compute())
        self._ship([firm], [firm.model_compute], count_generation=False)
        if firm.open_source:
            firm.open_source = False
            firm.open_weights()
        return firm

    def enter(self, archetype: str) -> CompanyAgent:
        """A new firm of ``archetype`` enters now (cheaper while an open model exists)."""
        self._entrant_count += 1
        entry = self.scenario.market.entry
        fields = merge(
            self.scenario.archetype(archetype),
            {"name": f"{archetype}-e{self._entrant_count}", "archetype": archetype},
        )
        spec = Company.model_validate(fields)
        discount = entry.open_discount if self._open_firms() else 0.0
        spec = spec.model_copy(update={"cash": spec.cash - entry.entry_cost * (1.0 - discount)})
        firm = self._add_firm(spec, entrant=True)
        self.entries.append({"firm": firm.name, "step": self.steps, "archetype": archetype})
        self.step_entries += 1
        return firm

    def _exit(self, firm: CompanyAgent, reason: str) -> None:
        self.firms.remove(firm)
        self.network.remove_firm(firm.name)
        firm.remove()
        self.exits.append({"firm": firm.name, "step": self.steps, "reason": reason})
        self.step_exits += 1

    # --- open models ------------------------------------------------------------------------

    def _open_firms(self) -> list[CompanyAgent]:
        return [f for f in self.firms if f.open_source]

    def _open_base_compute(self) -> float:
        """Compute a fine-tuner's next model starts from: a fraction of the best open model's."""
        open_firms = self._open_firms()
        if not open_firms:
            return 0.0
        terms = self.scenario.market.open_source
        return terms.finetune_efficiency * max(f.model_compute for f in open_firms)

    def _best_open_quality(self) -> np.ndarray:
        open_firms = self._open_firms()
        if not open_firms:
            return np.zeros(len(self.segment_names))
        return np.max([f.quality for f in open_firms], axis=0)

    # --- step phases -----------------------------------------------------------------------

    def _fire_events(self) -> None:
        """Phase 1: the scenario's events scheduled for this step, in file order."""
        for event in self.scenario.events:
            if event.step != self.steps:
                continue
            if event.kind == "compute_price":
                self.compute_price *= event.factor
            elif event.kind == "cost_index":
                self.cost_index *= event.factor
                for firm in self.firms:
                    firm.update_unit_cost()
            elif event.kind == "segment":
                s = self.segment_names.index(event.segment)
                self.size[s] *= event.size_factor
                if event.growth is not None:
                    self.growth[s] = event.growth
            elif event.kind == "regulation":
                targets = [f for f in self.firms if event.firms is None or f.name in event.firms]
                for firm in targets:
                    firm.compliance_cost += event.unit_cost_add
                    firm.update_unit_cost()
                    if event.data_cap:
                        cap = np.array([event.data_cap.get(s, 1.0) for s in self.segment_names])
                        firm.data_cap = np.minimum(firm.data_cap, cap)
                        firm.data_mix = dynamics.cap_mix(firm.data_mix[None], firm.data_cap[None])[
                            0
                        ]
            elif event.kind == "open_source":
                for firm in self.firms:
                    if firm.name == event.firm:
                        firm.open_weights()
            elif event.kind == "entry_wave":
                for _ in range(event.count):
                    self.enter(event.archetype)

    def _ship(
        self, firms: list[CompanyAgent], compute: list[float], count_generation: bool = True
    ) -> None:
        """Give ``firms`` the model trained with ``compute``: quality from the quality source."""
        learners = [i for i, f in enumerate(firms) if not f.fixed_quality]
        quality = bpb = extrapolated = None
        if learners:
            quality, bpb, extrapolated = self.quality_source(
                np.array([compute[i] for i in learners]),
                np.array([firms[i].data_mix for i in learners]),
            )
            quality = np.maximum(quality, MIN_QUALITY)
        row = {i: k for k, i in enumerate(learners)}
        for i, firm in enumerate(firms):
            if i in row:
                k = row[i]
                firm.release(compute[i], quality[k], bpb[k], extrapolated[k])
            else:
                firm.release(compute[i], firm.quality, firm.bpb, False)
            if not count_generation:
                firm.generation -= 1

    def _release(self) -> None:
        """Phase 2: firms whose release cycle ended ship their next model."""
        due = release_due(
            self.steps,
            np.array([f.last_release for f in self.firms]),
            np.array([f.spec.release_cycle for f in self.firms]),
        )
        shipping = [f for f, d in zip(self.firms, due, strict=True) if d]
        if not shipping:
            return
        base = self._open_base_compute()
        compute = [max(f.model_compute, base) + f.pending_compute for f in shipping]
        for firm in shipping:
            firm.pending_compute = 0.0
        self._ship(shipping, compute)

    def _decide(self) -> None:
        """Phase 3: focus, open-sourcing, budgets, then prices (all see last step's state)."""
        firms = self.firms
        if not firms:
            return
        mix = np.array([f.data_mix for f in firms])
        target = dynamics.focus_targets(np.array([f.strategy.focus for f in firms]), mix, self.size)
        new_mix = dynamics.update_focus(
            mix,
            target,
            np.array([f.strategy.focus_speed for f in firms]),
            np.array([f.data_cap for f in firms]),
        )
        best = np.array([f.quality.max() for f in firms])
        for i, firm in enumerate(firms):
            firm.data_mix = new_mix[i]
            rule = firm.strategy.open_source
            rivals = np.delete(best, i)
            if rule == "always" or (
                rule == "when_behind" and len(rivals) and best[i] < np.median(rivals)
            ):
                firm.open_weights()
        self.agents.shuffle_do("plan_budgets")
        self._set_prices()

    def _products(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, SegmentParams]:
        """Prices, qualities and brands of the firms' products plus the open product, if any.

        The open product (free_product mode) is the last row; in outside_option mode it instead
        raises the segments' outside utility.
        """
        firms = self.firms
        prices = np.array([f.price for f in firms])
        quality = np.array([f.quality for f in firms]).reshape(len(firms), len(self.segment_names))
        brand = self.network.allied_brand(
            [f.name for f in firms], np.array([f.brand for f in firms])
        )
        seg = self.seg
        if self._open_firms():
            terms = self.scenario.market.open_source
            open_quality = terms.usability * self._best_open_quality()
            if terms.mode == "free_product":
                prices = np.append(prices, terms.user_price)
                quality = np.vstack([quality, open_quality])
                brand = np.append(brand, 0.0)
            else:
                open_utility = seg.beta * open_quality - seg.alpha * terms.user_price
                seg = SegmentParams(
                    seg.alpha, seg.beta, seg.gamma, seg.mu, np.maximum(seg.u0, open_utility)
                )
        return prices, quality, brand, seg

    def _set_prices(self) -> None:
        """Phase 3b: every pricing rule prices its firms at once, all seeing last step's prices."""
        n = len(self.firms)
        prices, quality, brand, seg = self._products()
        extra = len(prices) - n  # the open product: a rival no rule prices
        names = [f.name for f in self.firms]
        costs = np.array([f.unit_cost for f in self.firms])
        caps = np.array([f.price_cap for f in self.firms])
        floors = np.minimum(np.maximum(costs, self.network.price_floors(names, prices[:n])), caps)
        pad = lambda a, v: np.append(a, np.full(extra, v))  # noqa: E731
        view = MarketView(
            prices=prices,
            costs=pad(costs, 0.0),
            quality=quality,
            brand=brand,
            seg=seg,
            size=self.size,
            shares=pad(np.array([f.share for f in self.firms]), 0.0),
            capacity=pad(np.array([f.capacity for f in self.firms]), np.inf),
            floor=pad(floors, 0.0),
            cap=pad(caps, np.inf),
            n_firms=n,
        )
        new_prices = prices[:n].copy()
        for name, rule in self.rules.items():
            group = np.array(
                [i for i, f in enumerate(self.firms) if f.strategy.pricing == name], dtype=int
            )
            if len(group) == 0:
                continue
            strategies = [self.firms[i].strategy for i in group]
            params = {
                key: np.array([getattr(s, key) for s in strategies]) for key in PRICING_PARAMS
            }
            new_prices[group] = rule(view, group, params)
        for firm, price in zip(self.firms, new_prices, strict=True):
            firm.price = float(price)

    def _update_network(self) -> None:
        """Phase 4: links expire, dissolve when unprofitable, form with mutual gain."""
        firms = self.firms
        if len(firms) < 2:
            return
        mix = np.array([f.data_mix for f in firms])
        overlap = dynamics.cosine_similarity(mix)
        rd = np.array([f.rd_spend for f in firms])
        marketing = np.array([f.marketing for f in firms])
        revenue = np.array([f.revenue for f in firms])
        terms = self.network.terms
        gains = {
            t: expected_gains(t, terms, overlap, rd, marketing, revenue)
            for t in ("joint_rd", "market_sharing", "alliance")
        }
        self.network.update(
            self.steps,
            [f.name for f in firms],
            [f.strategy.network for f in firms],
            [set(f.strategy.links) for f in firms],
            gains,
        )

    def _clear_market(self) -> None:
        """Phases 5-6: logit demand, capacity-limited sales, accounting, metrics."""
        firms = self.firms
        n = len(firms)
        names = [f.name for f in firms]
        if n == 0:  # everybody left: only the outside option (and any open product) remain
            self.hhi = self.total_demand = self.total_sales = self.open_share = 0.0
            self.price_index = self.price_dispersion = float("nan")
            self.consumer_surplus, self.outside_share = 0.0, 1.0
            self.network_metrics = self.network.metrics()
            empty = np.zeros((0, len(self.segment_names)))
            self._segment_rows = ([], empty, empty, empty, empty, [], [])
            return
        prices, quality, brand, seg = self._products()
        demand_all, shares_all = D(prices, quality, brand, seg, self.size)
        demand, shares = demand_all[:n], shares_all[:n]
        sales, _lost = S(
            demand, np.array([f.capacity for f in firms]), self.scenario.market.spillover
        )
        own_compute = np.array([f.own_rd_compute for f in firms])
        pooled = self.network.pooled_compute(names, own_compute)
        link_costs = self.network.link_costs(names)
        community_rate = self.scenario.market.open_source.community_rate
        for i, firm in enumerate(firms):
            community = community_rate * firm.model_compute if firm.open_source else 0.0
            firm.settle(demand[i], sales[i], link_costs[i], pooled[i], community)
        quantities = sales.sum(axis=1)
        firm_shares = metrics.market_shares(quantities)
        centrality = self.network.degree_centrality()
        for firm, share in zip(firms, firm_shares, strict=True):
            firm.share = float(share)
            firm.degree_centrality = float(centrality.get(firm.name, 0.0))

        self.hhi = metrics.hhi(firm_shares)
        self.price_index = metrics.price_index(prices[:n], quantities)
        self.price_dispersion = dynamics.price_dispersion(prices[:n])
        u = utilities(prices, quality, brand, seg)
        self.consumer_surplus = float(consumer_surplus(u, seg, self.size).sum())
        self.total_demand = float(demand.sum())
        self.total_sales = float(sales.sum())
        self.outside_share = float(1.0 - demand_all.sum() / self.size.sum())
        open_demand = float(demand_all[n:].sum()) + sum(
            float(d.sum()) for f, d in zip(firms, sales, strict=True) if f.open_source
        )
        inside = float(demand_all[n:].sum()) + self.total_sales
        self.open_share = open_demand / inside if inside > 0 else 0.0
        self.best_open_quality = float(self._best_open_quality().mean())
        self.homogenization = dynamics.homogenization(np.array([f.data_mix for f in firms]))
        self.network_metrics = self.network.metrics()
        self._segment_rows = (
            names,
            shares,
            demand,
            sales,
            quality[:n],
            [f.bpb for f in firms],
            [f.data_mix for f in firms],
        )

    def _exit_and_entry(self) -> None:
        """Phase 6b: firms with cash below zero for too long leave; entrants arrive."""
        market = self.scenario.market
        for firm in list(self.firms):
            if firm.negative_cash_steps >= market.exit_after:
                self._exit(firm, f"cash below zero for {firm.negative_cash_steps} steps")
        entry = market.entry
        if entry.base_rate <= 0:
            return
        margins = metrics.profit_margin(
            np.array([f.profit for f in self.firms]), np.array([f.revenue for f in self.firms])
        )
        mean_margin = float(np.nanmean(margins)) if np.isfinite(margins).any() else 0.0
        rate = dynamics.entry_rate(
            entry.base_rate,
            entry.margin_sensitivity,
            entry.open_sensitivity,
            mean_margin,
            self._best_open_quality(),
        )
        arrivals = int(self.rng.poisson(rate))
        names = sorted(entry.archetypes)
        weights = np.array([entry.archetypes[a] for a in names])
        for _ in range(min(arrivals, max(entry.max_firms - len(self.firms), 0))):
            self.enter(names[int(self.rng.choice(len(names), p=weights / weights.sum()))])

    def _record(self) -> None:
        self.datacollector.collect(self)
        names, shares, demand, sales, quality, bpb, focus = self._segment_rows
        table = self.datacollector.tables["segments"]
        for i, name in enumerate(names):
            for s, segment in enumerate(self.segment_names):
                for column, value in zip(
                    SEGMENT_COLUMNS,
                    (
                        self.steps,
                        name,
                        segment,
                        float(shares[i, s]),
                        float(demand[i, s]),
                        float(sales[i, s]),
                        float(quality[i, s]),
                        float(bpb[i][s]),
                        float(focus[i][s]),
                    ),
                    strict=True,
                ):
                    table[column].append(value)
        edges = self.datacollector.tables["edges"]
        for source, target, link_type, start in self.network.edges():
            for column, value in zip(
                EDGE_COLUMNS, (self.steps, source, target, link_type, start), strict=True
            ):
                edges[column].append(value)

    def step(self) -> None:
        self.step_entries = self.step_exits = 0
        self._exit_and_entry()  # phase 6 of the previous step, taking effect now
        self._fire_events()
        self._release()
        self._decide()
        self._update_network()
        self._clear_market()
        self._record()
        self.size = self.size * (1.0 + self.growth)

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
    import time

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
    )
    return RunResult(scenario=model.scenario, summary=summary, **frames)
