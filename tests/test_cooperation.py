"""Partnership network, open-sourcing, entry/exit, events, archetypes, homogenisation."""

import copy

import numpy as np
import pandas as pd
import pytest

from simulator import simulate
from simulator.config import ScenarioError, parse_scenario
from simulator.config.schema import NetworkTerms
from simulator.market.dynamics import entry_rate, homogenization, unit_rows
from simulator.market.state import MarketState
from simulator.market.strategy import LINK_RULE
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


def link_state(rd: dict[str, float], link_rules: dict[str, str]) -> MarketState:
    """Firms with the given R&D spend, joint_rd links only, focus overlaps A-B 0, B-C 0.75,
    A-C 0.6 (cosines of the data mixes)."""
    state = MarketState(
        segment_names=["s0", "s1", "s2"],
        seg=segment_params(3),
        size=np.ones(3),
        growth=np.zeros(3),
        cost_index=1.0,
        compute_price=1.0,
        learning_output_scale=100.0,
    )
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
    net.update(3, [], [])  # A-B's term is over
    assert net.n_links() == 1 and net.pooled_compute(names, np.ones(4)).tolist() == [0] * 4
    net.remove_firm("D")
    assert net.n_links() == 0 == net.graph.number_of_edges()
    assert net.link_costs(["A", "B", "C"]).tolist() == [0.0] * 3
