"""Partnership network, open-sourcing, entry/exit, events, archetypes, homogenisation."""

import copy
import itertools

import numpy as np
import pandas as pd
import pytest

from simulator import simulate
from simulator.config import ScenarioError, parse_scenario
from simulator.config.schema import NetworkTerms
from simulator.market.dynamics import entry_rate, homogenization, unit_rows
from simulator.market.state import MarketState
from simulator.market.strategy import LINK_RULE, LINK_TYPES
from simulator.metrics import HHI_BANDS_2010, hhi_band
from simulator.network import PartnershipNetwork
from simulator.phases.network import update_links
from tests.conftest import segment_params

TWO_FIRMS = {
    "name": "pair",
    "seed": 1,
    "steps": 12,
    "market": {
        "segments": [
            {
                "name": "assistant",
                "size": 20.0,
                "quality_sensitivity": 3.0,
                "brand_sensitivity": 0.5,
                "temperature": 0.5,
            }
        ],
        "network": {"cost": {"joint_rd": 0.1, "market_sharing": 0.1, "alliance": 0.1}},
    },
    "companies": [
        {
            "name": "A",
            "unit_cost": 0.8,
            "strategy": {"rd_min": 5.0, "link_types": [], "marketing_min": 2},
        },
        {
            "name": "B",
            "unit_cost": 0.8,
            "strategy": {"rd_min": 5.0, "link_types": [], "marketing_min": 2},
        },
    ],
}


def scenario(**changes) -> dict:
    data = copy.deepcopy(TWO_FIRMS)
    data.update(changes)
    return data


# --- network -------------------------------------------------------------------------------


C_MIX = np.array([0.6, 0.75, np.sqrt(1 - 0.6**2 - 0.75**2)])
MIXES = {"A": [1.0, 0.0, 0.0], "B": [0.0, 1.0, 0.0], "C": list(C_MIX / C_MIX.sum())}


def three_segment_market() -> MarketState:
    """An empty market of three segments of size 1, for the network phase's tests."""
    return MarketState(
        segment_names=["s0", "s1", "s2"],
        seg=segment_params(3),
        size=np.ones(3),
        growth=np.zeros(3),
        cost_index=1.0,
        compute_price=1.0,
        learning_output_scale=100.0,
    )


def link_state(rd: dict[str, float], link_rules: dict[str, str]) -> MarketState:
    """Firms with the given R&D spend, joint_rd links only, focus overlaps A-B 0, B-C 0.75,
    A-C 0.6 (cosines of the data mixes)."""
    state = three_segment_market()
    for name, spend in rd.items():
        state.add_firm(
            name,
            "",
            {"rd_spend": spend, "data_mix": MIXES[name]},
            {"link_rule": link_rules.get(name, "gain_seeking")},
            {"link_types": ["joint_rd"]},
        )
    return state


LINK_RULES = {"link_rule": {name: LINK_RULE.make(name) for name in LINK_RULE.rules}}
TERMS = {"pool_share": 1.0, "rivalry": 1.0, "cost": {"joint_rd": 1.0}}


def network_for(state: MarketState, **terms) -> PartnershipNetwork:
    net = PartnershipNetwork(NetworkTerms(**(TERMS | terms)))
    for name in state.names:
        net.add_firm(name)
    return net


def test_links_form_only_with_mutual_gain():
    """Gain of i from j: R_j - overlap_ij R_i - cost. With R = (3, 6, 5): A and B gain from
    each other (5, 2); B loses from C (5 - 0.75 x 6 - 1 < 0) while C gains from B; C loses from
    A (3 - 0.6 x 5 - 1 < 0) while A gains from C: only A-B is mutual."""
    state = link_state({"A": 3.0, "B": 6.0, "C": 5.0}, {})
    np.testing.assert_allclose(
        unit_rows(state.data_mix) @ unit_rows(state.data_mix).T,
        [[1, 0, 0.6], [0, 1, 0.75], [0.6, 0.75, 1]],
        atol=1e-12,
    )
    net = network_for(state)
    update_links(state, net, LINK_RULES, 1)
    assert net.edges() == [("A", "B", "joint_rd", 1)]
    # a firm whose rule is `none` never links, whatever the gain
    state = link_state({"A": 3.0, "B": 6.0, "C": 5.0}, {"A": "none"})
    other = network_for(state)
    update_links(state, other, LINK_RULES, 1)
    assert other.edges() == []


def test_links_dissolve_when_they_stop_paying_or_expire():
    state = link_state({"A": 3.0, "B": 6.0}, {})
    net = network_for(state, term=3)
    update_links(state, net, LINK_RULES, 1)
    state.params["link_types"][:] = [[], []]
    update_links(state, net, LINK_RULES, 4)  # within term: kept, although nobody proposes
    assert len(net.edges()) == 1
    update_links(state, net, LINK_RULES, 5)  # term over
    assert net.edges() == []
    state.params["link_types"][:] = [["joint_rd"], ["joint_rd"]]
    update_links(state, net, LINK_RULES, 6)
    assert len(net.edges()) == 1
    state.rd_spend[0] = 0.9  # B's gain from A: 0.9 - 0 x 6 - 1 < 0
    update_links(state, net, LINK_RULES, 7)  # B's gain fell below cost
    assert net.edges() == []


def test_a_held_link_of_a_type_nobody_accepts_still_dissolves_when_it_stops_paying():
    """The network phase skips a link type no firm accepts, but not its held links' check."""
    state = link_state({"A": 3.0, "B": 6.0}, {})
    net = network_for(state, term=50)
    update_links(state, net, LINK_RULES, 1)
    assert len(net.edges()) == 1
    state.params["link_types"][:] = [[], []]  # nobody takes joint_rd links any more
    update_links(state, net, LINK_RULES, 2)
    assert len(net.edges()) == 1  # still pays both: kept for its term
    state.rd_spend[0] = 0.9  # B's gain from A: 0.9 - 0 x 6 - 1 < 0
    update_links(state, net, LINK_RULES, 3)
    assert net.edges() == []


def test_skipping_the_types_nobody_accepts_changes_nothing(monkeypatch):
    """Every firm takes part in one link type of three (one held from the start in another),
    some are `farsighted`: the run is the same, bit for bit, as when every type is evaluated
    for every firm."""
    from simulator.market.strategy.links import LinkRule

    data = scenario(links=[{"source": "A", "target": "B", "type": "market_sharing", "term": 6}])
    data["steps"] = 20
    for k, name in enumerate("CDE"):
        data["companies"].append(
            copy.deepcopy(data["companies"][k % 2]) | {"name": name, "unit_cost": 0.7 + 0.05 * k}
        )
    for k, company in enumerate(data["companies"]):
        company["strategy"]["link_types"] = ["joint_rd"] if k % 2 else ["alliance"]
        company["strategy"]["link_rule"] = "farsighted" if k == 3 else "gain_seeking"
    quick = simulate(data)
    monkeypatch.setattr(LinkRule, "may_accept", lambda self, link_type, params: True)
    monkeypatch.setattr(LINK_RULE.rules["gain_seeking"], "may_accept", LinkRule.may_accept)
    full = simulate(data)
    assert len(quick.edges) and set(quick.edges["type"]) >= {"market_sharing"}
    for name in ("firms", "model", "edges"):
        pd.testing.assert_frame_equal(getattr(quick, name), getattr(full, name), check_exact=True)


def test_best_in_rows_keeps_the_finite_entries_or_each_rows_partition():
    """Of a sparse matrix's entries, rows with at most ``keep`` give them all, others their
    own partition: the same set as partitioning the dense matrix (ties included: integer
    gains), whatever the order of the entries."""
    from simulator.phases.network import best_in_rows

    rng = np.random.default_rng(3)
    tied = rng.integers(0, 6, size=(40, 90)).astype(float)
    for values, keep in itertools.product((tied, rng.normal(size=(40, 90))), (1, 8, 30)):
        values = values.copy()
        finite_per_row = rng.integers(0, 90, size=40)
        finite_per_row[:4] = [0, keep - 1, keep, 90]
        for row, count in enumerate(finite_per_row):
            values[row, rng.permutation(90)[count:]] = -np.inf
        rows, columns = np.nonzero(np.isfinite(values))
        shuffle = rng.permutation(len(rows))  # the entries in any order
        rows, columns = rows[shuffle], columns[shuffle]
        chosen = best_in_rows(rows, columns, values[rows, columns], 90, keep)
        best = np.argpartition(-values, keep - 1, axis=1)[:, :keep]
        r, c = np.nonzero(np.isfinite(np.take_along_axis(values, best, axis=1)))
        assert sorted(zip(rows[chosen].tolist(), columns[chosen].tolist(), strict=True)) == sorted(
            zip(r.tolist(), best[r, c].tolist(), strict=True)
        )


def test_links_in_a_large_market_are_the_greedy_choice_by_joint_gain():
    """150 firms, every pair mutually gaining: each firm proposes its 64 best later partners,
    links form best joint gain first while both hold fewer than max_links. Checked against a
    pair-by-pair reference."""
    from simulator.phases.network import CANDIDATES_PER_FIRM

    rng = np.random.default_rng(5)
    n = 150
    state = three_segment_market()
    for i in range(n):
        state.add_firm(
            f"f{i:03d}",
            "",
            {"rd_spend": float(rng.uniform(10, 20)), "data_mix": list(rng.dirichlet([1, 1, 1]))},
            {"link_rule": "gain_seeking"},
            {"link_types": ["joint_rd"]},
        )
    net = network_for(state, rivalry=0.3, max_links=2)
    update_links(state, net, LINK_RULES, 1)
    unit = unit_rows(state.data_mix)
    rd = state.rd_spend
    candidates = []
    for i in range(n):
        gains = []
        for j in range(i + 1, n):
            overlap = float(unit[i] @ unit[j])
            g_i = (rd[j] - 0.3 * overlap * rd[i]) - 1.0
            g_j = (rd[i] - 0.3 * overlap * rd[j]) - 1.0
            assert g_i > 0 and g_j > 0
            gains.append((g_i + g_j, i, j))
        candidates += sorted(gains, reverse=True)[:CANDIDATES_PER_FIRM]
    degree = np.zeros(n, dtype=int)
    expected = []
    for _, i, j in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if degree[i] < 2 and degree[j] < 2:
            degree[[i, j]] += 1
            expected.append((f"f{i:03d}", f"f{j:03d}", "joint_rd", 1))
    assert net.edges() == sorted(expected)
    assert len(expected) > 100  # most firms hold two links


def many_firms_state(n: int, seed: int, link_types: list[str]) -> MarketState:
    rng = np.random.default_rng(seed)
    state = three_segment_market()
    for i in range(n):
        state.add_firm(
            f"f{i:03d}",
            "",
            {
                "rd_spend": float(rng.uniform(0, 8)),
                "marketing": float(rng.uniform(0, 8)),
                "revenue": float(rng.uniform(-5, 40)),
                "data_mix": list(rng.dirichlet([1, 1, 1])),
                "release_cycle": 6,
                "last_release": -int(rng.integers(0, 6)),
            },
            {"link_rule": "farsighted" if i % 5 == 0 else "gain_seeking"},
            {"link_types": link_types, "link_discount": 0.9},
        )
    return state


def test_skipping_firms_that_cannot_gain_forms_and_dissolves_the_same_links(monkeypatch):
    """200 firms, about half of which bring a partner too little to pay a link's cost: the
    network phase evaluates only pairs of firms that could both gain, and forms and dissolves
    the same links, in the same order, as when it evaluates every pair."""
    from simulator.market.strategy.links import GainSeeking
    from simulator.network import link_gain_bound

    terms = {"pool_share": 0.3, "brand_share": 0.3, "sharing_value": 0.05, "rivalry": 0.5}
    terms |= {"max_links": 3, "term": 10, "cost": {t: 1.0 for t in ("joint_rd", "alliance")}}
    types = ["joint_rd", "alliance", "market_sharing"]

    def two_steps() -> tuple[list, list]:
        state = many_firms_state(200, 11, types)
        net = network_for(state, **terms)
        update_links(state, net, LINK_RULES, 1)
        first = net.edges()
        state.rd_spend[::3] *= 0.3  # some links stop paying, some firms stop being worth one
        state.marketing[1::4] = 0.0
        update_links(state, net, LINK_RULES, 2)
        return first, list(net.graph.edges(data=True))

    state = many_firms_state(200, 11, types)
    values = {"rd_spend": state.rd_spend, "marketing": state.marketing, "revenue": state.revenue}
    viable = [link_gain_bound(t, NetworkTerms(**terms), values) > 0 for t in types]
    assert all(0.2 < v.mean() < 0.8 for v in viable)
    quick = two_steps()
    monkeypatch.setattr(GainSeeking, "needs_net_gain", False)
    full = two_steps()
    # nor does leaving out, before formation, the candidates of firms already full
    monkeypatch.setattr(
        PartnershipNetwork, "has_room", lambda self, names: np.ones(len(names), bool)
    )
    unfiltered = two_steps()
    assert len(quick[0]) > 50 and set(t for *_, t, _ in quick[0]) == set(types)
    assert quick[0] == full[0] == unfiltered[0]
    assert quick[1] == full[1] == unfiltered[1]  # the graph's own edge order too
    assert len(quick[1]) != len(quick[0])


def test_the_link_gain_bound_is_above_every_computed_gain():
    """Brute force over partners and overlaps (0, 1 and between), spends at the threshold."""
    from simulator.network import expected_gains, link_gain_bound

    rng = np.random.default_rng(2)
    terms = NetworkTerms(pool_share=0.3, brand_share=0.7, sharing_value=0.05, rivalry=0.9)
    spend = np.concatenate([rng.uniform(0, 10, 300), [0.0, 1.0 / 0.3, 1.0 / 0.7, 20.0]])
    values = {"rd_spend": spend, "marketing": spend[::-1].copy(), "revenue": spend * 6 - 8}
    overlap = np.concatenate([[0.0, 1.0, 1.0 + 2e-16], rng.uniform(0, 1, 40)])[:, None, None]
    rows = {k: v[:, None][None] for k, v in values.items()}
    cols = {k: v[None, :][None] for k, v in values.items()}
    for link_type in LINK_TYPES:
        cost = terms.cost.get(link_type, 1.0)
        bound = link_gain_bound(link_type, terms, values)
        own = expected_gains(link_type, terms, overlap, rows, cols) - cost  # row firm's gain
        partner = expected_gains(link_type, terms, overlap, cols, rows) - cost
        side = own if link_type == "market_sharing" else partner  # the side the bound bounds
        assert (side <= bound[None, :, None]).all()
        assert np.isclose(side.max(axis=(0, 2)), bound).mean() > 0.9  # and is tight
    negative = dict(values, rd_spend=spend - 1.0)
    assert np.isinf(link_gain_bound("joint_rd", terms, negative)).all()


def test_dissolved_joint_rd_link_stops_pooling_compute():
    data = scenario(links=[{"source": "A", "target": "B", "type": "joint_rd", "term": 5}])
    result = simulate(data)
    pooled = result.firms.pivot(index="step", columns="firm", values="pooled_compute")
    assert (pooled.loc[1:5] > 0).all().all()
    assert (pooled.loc[6:] == 0).all().all()
    edges = result.edges
    assert sorted(edges["step"].unique()) == [1, 2, 3, 4, 5]
    assert set(edges["type"]) == {"joint_rd"}
    # the pooled compute ends up in the partners' next models
    alone = simulate(scenario()).firms.pivot(index="step", columns="firm", values="model_compute")
    together = result.firms.pivot(index="step", columns="firm", values="model_compute")
    assert together.loc[12, "A"] > alone.loc[12, "A"]


def test_market_sharing_partner_price_is_a_floor():
    data = scenario(links=[{"source": "A", "target": "B", "type": "market_sharing", "term": 50}])
    data["companies"][0]["strategy"].update(pricing="undercut", undercut_by=0.2)
    data["companies"][1]["strategy"].update(pricing="best_response")
    prices = simulate(data).firms.pivot(index="step", columns="firm", values="price")
    np.testing.assert_array_less(prices["B"].shift(1).iloc[1:] - 1e-12, prices["A"].iloc[1:])
    free = scenario()
    free["companies"][0]["strategy"].update(pricing="undercut", undercut_by=0.2)
    free_prices = simulate(free).firms.pivot(index="step", columns="firm", values="price")
    assert free_prices["A"].iloc[-1] < prices["A"].iloc[-1]


def test_alliance_shares_brand_reach_and_costs_money():
    base = scenario()
    for firm in base["companies"]:  # fixed markups, so demand differences come from brand reach
        firm["strategy"].update(pricing="cost_plus", marketing_min=10.0)
    allied = copy.deepcopy(base)
    allied["links"] = [{"source": "A", "target": "B", "type": "alliance", "term": 50}]
    a_alone = simulate(base).firms.query("firm == 'A'").set_index("step")
    a_allied = simulate(allied).firms.query("firm == 'A'").set_index("step")
    assert (a_allied["quantity"].iloc[2:] > a_alone["quantity"].iloc[2:]).all()
    assert (a_allied["link_cost"] == 0.1).all() and (a_alone["link_cost"] == 0.0).all()


# --- open source -----------------------------------------------------------------------------


def test_open_sourcing_lowers_releaser_price_and_raises_rivals_next_quality():
    leader = {
        "name": "Leader",
        "unit_cost": 0.8,
        "initial_compute": 1e26,
        "release_cycle": 3,
        "strategy": {"link_types": []},
    }
    laggard = {
        "name": "Laggard",
        "unit_cost": 0.8,
        "initial_compute": 1e23,
        "release_cycle": 3,
        "strategy": {"link_types": []},
    }
    closed = scenario(steps=20, companies=[leader, laggard])
    opened = scenario(
        steps=20,
        companies=[leader, laggard],
        events=[{"step": 10, "kind": "open_source", "firm": "Leader"}],
    )
    closed_run, open_run = simulate(closed), simulate(opened)
    price = lambda r: r.firms.query("firm == 'Leader'").set_index("step")["price"]  # noqa: E731
    # from the release on, month by month, the releaser prices below its closed self
    assert (price(open_run).loc[10:] < price(closed_run).loc[10:]).all()
    q = lambda r: r.segments.query("firm == 'Laggard'").set_index("step")["quality"]  # noqa: E731
    assert q(open_run).loc[12] > q(closed_run).loc[12]  # Laggard's release at step 12 fine-tunes
    assert (q(open_run).loc[:11] == q(closed_run).loc[:11]).all()
    model = open_run.model.set_index("step")
    assert (model.loc[:9, "open_share"] == 0).all() and (model.loc[10:, "open_share"] > 0).all()
    assert (model.loc[10:, "n_open"] == 1).all()
    assert open_run.firms.query("firm == 'Leader' and step == 10")["open_weights"].item()


# --- entry and exit --------------------------------------------------------------------------


def test_firm_exits_after_cash_stays_negative_for_configured_steps():
    data = scenario(steps=12)
    data["market"]["exit_after"] = 3
    data["companies"][1].update(cash=5.0, fixed_cost=50.0)
    result = simulate(data)
    assert result.summary["exits"] == [
        {"firm": "B", "step": 4, "reason": "cash below zero for 3 steps"}
    ]
    b = result.firms.query("firm == 'B'")
    assert list(b["step"]) == [1, 2, 3]
    assert (b["cash"] < 0).all()
    assert result.model.set_index("step").loc[4, "exits"] == 1
    # users re-choose: A sells more once B is gone
    a = result.firms.query("firm == 'A'").set_index("step")["quantity"]
    assert a.loc[4] > a.loc[3]


def test_entry_rate_rises_with_open_quality_and_margins():
    rates = [entry_rate(0.1, 2.0, 3.0, 0.2, np.full(2, q)) for q in (0.0, 0.3, 0.9)]
    assert rates[0] < rates[1] < rates[2]
    assert entry_rate(0.1, 2.0, 3.0, 0.5, np.zeros(2)) > entry_rate(0.1, 2.0, 3.0, 0.1, np.zeros(2))
    assert entry_rate(0.0, 2.0, 3.0, 0.5, np.ones(2)) == 0.0


def test_more_entry_with_a_strong_open_model():
    def entries(open_source: bool, seed: int) -> int:
        data = scenario(steps=60, seed=seed)
        data["market"]["entry"] = {"base_rate": 0.05, "open_sensitivity": 5.0, "max_firms": 100}
        data["companies"][0].update(open_weights=open_source, initial_compute=1e26)
        return len(simulate(data).summary["entries"])

    closed = sum(entries(False, s) for s in range(3))
    opened = sum(entries(True, s) for s in range(3))
    assert opened > closed


def test_stochastic_entry_is_reproducible_by_seed():
    data = scenario(steps=40)
    data["market"]["entry"] = {"base_rate": 0.3}
    first, again, other = simulate(data), simulate(data), simulate(data, seed=99)
    pd.testing.assert_frame_equal(first.firms, again.firms)
    assert first.summary["entries"] == again.summary["entries"]
    assert first.summary["entries"] != other.summary["entries"]


# --- events ----------------------------------------------------------------------------------


def test_events_fire_at_their_step():
    data = scenario(
        steps=10,
        events=[
            {"step": 4, "kind": "compute_price", "factor": 0.5},
            {"step": 6, "kind": "segment", "segment": "assistant", "size_factor": 2.0},
            {"step": 7, "kind": "entry_wave", "archetype": "startup", "count": 3},
            {"step": 8, "kind": "regulation", "unit_cost_add": 0.3, "firms": ["A"]},
            {"step": 9, "kind": "cost_index", "factor": 0.5},
        ],
    )
    result = simulate(data)
    model = result.model.set_index("step")
    assert list(model["compute_price"]) == [1.0] * 3 + [0.5] * 7
    demand = model["total_demand"] / (1 - model["outside_share"])
    assert demand.loc[6] == pytest.approx(2 * demand.loc[5])  # segment size doubled at step 6
    assert list(model["n_firms"]) == [2] * 6 + [5] * 4
    assert model.loc[7, "entries"] == 3
    cost = result.firms.pivot(index="step", columns="firm", values="unit_cost")
    assert cost.loc[8, "A"] == pytest.approx(cost.loc[7, "A"] + 0.3)
    assert cost.loc[8, "B"] == pytest.approx(cost.loc[7, "B"])
    assert cost.loc[9, "B"] == pytest.approx(0.5 * cost.loc[8, "B"])
    assert cost.loc[9, "A"] == pytest.approx(0.5 * 0.8 + 0.3)


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"step": 3, "kind": "open_source", "firm": "Z"}, "events.0.firm: no such firm 'Z'"),
        (
            {"step": 3, "kind": "segment", "segment": "video"},
            "events.0.segment: no such segment 'video'",
        ),
        (
            {"step": 99, "kind": "compute_price", "factor": 0.5},
            "events.0.step: after the last step (12)",
        ),
        (
            {"step": 3, "kind": "entry_wave", "archetype": "unicorn"},
            "events.0.archetype: unknown archetype",
        ),
        (
            {"step": 3, "kind": "compute_price", "factor": -1},
            "events.0.factor: Input should be greater than 0",
        ),
        (
            {"step": 3, "kind": "regulation", "data_cap": {"video": 0.1}},
            "events.0.data_cap.video: no such segment",
        ),
    ],
)
def test_invalid_event_targets_are_rejected_naming_the_path(event, expected):
    with pytest.raises(ScenarioError) as error:
        parse_scenario(scenario(events=[event]))
    assert any(expected in line for line in error.value.lines), error.value.lines


# --- archetypes ------------------------------------------------------------------------------


def test_archetype_groups_expand_with_defaults_and_overrides():
    data = scenario(
        companies=[
            {"archetype": "startup", "count": 3},
            {"name": "Big", "archetype": "giant", "cash": 1.0},
            {"name": "Custom", "archetype": "boutique"},
        ],
        archetypes={"boutique": {"unit_cost": 2.0, "strategy": {"pricing": "cost_plus"}}},
    )
    parsed = parse_scenario(data)
    names = [c.name for c in parsed.companies]
    assert names == ["startup-1", "startup-2", "startup-3", "Big", "Custom"]
    assert parsed.companies[0].capacity == 30.0 and parsed.companies[0].archetype == "startup"
    assert parsed.companies[3].cash == 1.0 and parsed.companies[3].unit_cost == 0.7
    assert parsed.companies[4].strategy.pricing == "cost_plus"
    with pytest.raises(ScenarioError, match="companies.X.archetype: unknown archetype 'nope'"):
        parse_scenario(scenario(companies=[{"name": "X", "archetype": "nope"}]))
    with pytest.raises(ScenarioError, match="archetypes.bad.unit_cost"):
        parse_scenario(scenario(archetypes={"bad": {"unit_cost": -1}}))


# --- metrics ---------------------------------------------------------------------------------


def test_homogenization_index_and_hhi_bands():
    assert homogenization(np.eye(3)) == pytest.approx(0.0)
    assert homogenization(np.ones((3, 4))) == pytest.approx(1.0)
    assert hhi_band(1900) == "highly concentrated"
    assert hhi_band(1900, HHI_BANDS_2010) == "moderately concentrated"
    assert hhi_band(900) == "unconcentrated"


def test_what_the_network_keeps_follows_every_change_of_the_graph():
    """The link count, partners and link costs are kept between changes of the graph (a
    10,000-firm graph is O(firms) to count); every change through the network's methods
    must show at once: links formed, expired, dissolved with an exiting firm."""
    net = PartnershipNetwork(NetworkTerms(**TERMS))
    names = ["A", "B", "C", "D"]
    for name in names:
        net.add_firm(name)

    def seen() -> tuple:
        return (net.n_links(), net.metrics()["n_links"], net.link_costs(names).tolist())

    assert seen() == (0, 0, [0.0] * 4)
    net.link("A", "B", "joint_rd", 0, term=2)
    assert seen() == (1, 1, [1.0, 1.0, 0.0, 0.0])
    net.link("C", "D", "alliance", 0, term=9)
    assert net.n_links() == 2 and net.pooled_compute(names, np.ones(4)).tolist() == [1, 1, 0, 0]
    net.dissolve(3, [])  # A-B's term is over
    assert net.n_links() == 1 and net.pooled_compute(names, np.ones(4)).tolist() == [0] * 4
    net.remove_firm("D")
    assert net.n_links() == 0 == net.graph.number_of_edges()
    assert net.link_costs(["A", "B", "C"]).tolist() == [0.0] * 3
