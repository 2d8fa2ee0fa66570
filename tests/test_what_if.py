"""What-ifs in one line: `--set`, `extends:`, and the enter / set / acquire events, the open
model's relative price, archetype defaults, and the shipped what-if scenario."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from simulator import MarketModel, simulate
from simulator.cli import default_run_dir, main
from simulator.config import ScenarioError, json_schema, load_scenario, parse_scenario
from simulator.config.files import merge_data
from tests.conftest import SMALL_SCENARIO

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("model", "firms", "segments", "edges")


def small(**changes) -> dict:
    """SMALL_SCENARIO with the placeholder quality model (no zoo lookups) and ``changes``."""
    data = copy.deepcopy(SMALL_SCENARIO)
    data["market"]["quality_model"] = "placeholder"
    data.update(changes)
    return data


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_tables(tmp_path: Path, name: str, argv: list[str]) -> dict[str, pd.DataFrame]:
    out = tmp_path / name
    assert main(["run", *argv, "--out", str(out), "--quiet", "--no-dashboard"]) == 0
    return {t: pd.read_parquet(out / f"{t}.parquet") for t in TABLES} | {
        "summary": json.loads((out / "summary.json").read_text())
    }


def firm_rows(frame: pd.DataFrame, firm: str) -> pd.DataFrame:
    return frame[frame.firm == firm].set_index("step")


# --- --set ----------------------------------------------------------------------------------


def test_set_gives_the_tables_of_the_edited_file(tmp_path):
    base = small(events=[{"kind": "cost_index", "step": 5, "factor": 0.8}])
    edited = copy.deepcopy(base)
    edited["companies"][1]["unit_cost"] = 0.42
    edited["market"]["segments"][1]["price_sensitivity"] = 1.3
    edited["events"][0]["step"] = 9
    edited["companies"][2]["strategy"]["pricing"] = "fixed"
    by_file = run_tables(tmp_path, "file", [str(write(tmp_path / "edited.yaml", edited))])
    settings = [
        "companies.Cheap.unit_cost=0.42",
        "market.segments.code.price_sensitivity=1.3",
        "events.0.step=9",
        "companies.2.strategy.pricing=fixed",
    ]
    args = [str(write(tmp_path / "base.yaml", base))]
    by_set = run_tables(tmp_path, "set", args + [f"--set={s}" for s in settings])
    untouched = run_tables(tmp_path, "base", args)
    for table in TABLES:
        pd.testing.assert_frame_equal(by_set[table], by_file[table])
    assert not by_set["firms"].equals(untouched["firms"])  # the settings did change the run
    assert by_set["summary"]["settings"] == settings  # the folder says how it was made
    assert "settings" not in untouched["summary"]
    folder = load_scenario(tmp_path / "set" / "scenario.yaml")
    assert folder.companies[1].unit_cost == 0.42 and folder.events[0].step == 9


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("companies.Nope.unit_cost=1", "--set companies.Nope.unit_cost=1: no item 'Nope' in"),
        ("companies.Big.unit_cot=1", "no field 'unit_cot' in companies.Big"),
        ("companies.Big.unit_cost=-1", "companies.Big.unit_cost: Input should be greater than 0"),
        ("companies.Big.unit_cost=cheap", "companies.Big.unit_cost: Input should be a valid num"),
        ("market.segments.code.size", "expected PATH=VALUE"),
        ("steps=[1, 2", "is not a YAML value"),
        ("companies.Big.strategy.pricing=telepathy", "unknown pricing rule 'telepathy'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_field(tmp_path, capsys, setting, expected):
    path = str(write(tmp_path / "s.yaml", small()))
    for command in (["run", path, "--out", str(tmp_path / "out"), "--quiet"], ["validate", path]):
        assert main([*command, "--set", setting]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_validate_applies_settings(tmp_path, capsys):
    path = str(write(tmp_path / "s.yaml", small()))
    assert main(["validate", path, "--set", "steps=7"]) == 0
    assert "24 steps" not in capsys.readouterr().out
    assert (
        load_scenario(path, ["steps=7", "companies.Lab.capacity=null"]).companies[2].capacity
        is None
    )


# --- extends --------------------------------------------------------------------------------


def test_merge_matches_named_items_appends_removes_and_replaces_other_lists():
    base = {
        "market": {"brand_decay": 0.1, "segments": [{"name": "a", "size": 1}, {"name": "b"}]},
        "companies": [{"name": "X", "cash": 1, "strategy": {"pricing": "fixed", "markup": 1}}],
        "links": [{"source": "X", "target": "Y"}],
        "events": [{"kind": "segment", "step": 1}],
    }
    child = {
        "market": {"segments": [{"name": "a", "growth": 0.1}, {"name": "b", "remove": True}]},
        "companies": [{"name": "X", "strategy": {"markup": 2}}, {"name": "Z", "cash": 3}],
        "links": [],
        "events": {"append": [{"kind": "cost_index", "step": 2}]},
    }
    merged = merge_data(base, child)
    assert merged["market"] == {
        "brand_decay": 0.1,
        "segments": [{"name": "a", "size": 1, "growth": 0.1}],
    }
    assert merged["companies"] == [
        {"name": "X", "cash": 1, "strategy": {"pricing": "fixed", "markup": 2}},
        {"name": "Z", "cash": 3},
    ]
    assert merged["links"] == []  # an unnamed list is replaced
    assert [e["kind"] for e in merged["events"]] == ["segment", "cost_index"]
    assert base["companies"][0]["strategy"]["markup"] == 1  # the parent's data is untouched


def test_a_chain_of_extends_is_read_relative_to_each_file(tmp_path):
    (tmp_path / "deep").mkdir()
    write(tmp_path / "root.yaml", small())
    write(tmp_path / "deep" / "mid.yaml", {"extends": "../root.yaml", "steps": 10})
    child = {
        "extends": "mid.yaml",
        "name": "child",
        "companies": [{"name": "Lab", "remove": True}, {"name": "Cheap", "unit_cost": 0.3}],
    }
    scenario = load_scenario(write(tmp_path / "deep" / "child.yaml", child))
    assert (scenario.name, scenario.steps) == ("child", 10)
    assert [c.name for c in scenario.companies] == ["Big", "Cheap", "Follower"]
    assert scenario.companies[1].unit_cost == 0.3 and scenario.companies[1].learning_rate == 0.1


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"a.yaml": {"extends": "b.yaml"}, "b.yaml": {"extends": "a.yaml"}},
            "b.yaml: extends: 'a.yaml' makes a cycle",
        ),
        ({"a.yaml": {"extends": "a.yaml"}}, "a.yaml: extends: 'a.yaml' makes a cycle"),
        ({"a.yaml": {"extends": "gone.yaml"}}, "a.yaml: extends: no such file 'gone.yaml'"),
        ({"a.yaml": {"extends": "/etc/passwd"}}, "a.yaml: extends: '/etc/passwd' is not a .yaml"),
        ({"a.yaml": {"extends": 3}}, "a.yaml: extends: must be the path of a scenario file"),
        (
            {"a.yaml": {"extends": "b.yaml", "companies": [{"name": "Q", "remove": True}]}},
            "a.yaml: companies.Q: no item named 'Q' to remove",
        ),
        (
            {"a.yaml": {"extends": "b.yaml", "companies": [{"name": "Lab", "remove": "yes"}]}},
            "a.yaml: companies.Lab.remove: to remove an item write {name: Lab, remove: true}",
        ),
    ],
)
def test_bad_extends_is_one_line_naming_the_file(tmp_path, files, expected):
    write(tmp_path / "b.yaml", small())
    for name, data in files.items():
        write(tmp_path / name, data)
    with pytest.raises(ScenarioError) as error:
        load_scenario(tmp_path / "a.yaml")
    assert len(error.value.lines) == 1 and expected in error.value.lines[0], error.value.lines


def test_every_file_of_a_chain_is_read_within_the_yaml_limits(tmp_path):
    (tmp_path / "b.yaml").write_text("name: x\nname: y\n", encoding="utf-8")
    write(tmp_path / "a.yaml", {"extends": "b.yaml"})
    with pytest.raises(
        ScenarioError, match=r"b\.yaml: line 2, column 1: invalid YAML \(duplicate key 'name'"
    ):
        load_scenario(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_bytes(b"#" * (4 * 1024 * 1024 + 1))
    with pytest.raises(ScenarioError, match="b.yaml: larger than"):
        load_scenario(tmp_path / "a.yaml")


def test_an_extended_scenario_keeps_to_the_run_folder_rules(tmp_path):
    write(tmp_path / "b.yaml", small())
    write(tmp_path / "a.yaml", {"extends": "b.yaml", "name": "../../etc"})
    scenario = load_scenario(tmp_path / "a.yaml")
    assert default_run_dir(scenario.name).parent == Path("runs")
    with pytest.raises(ScenarioError, match="extends: only a scenario file can extend another"):
        parse_scenario(small(extends="b.yaml"))


# --- events ---------------------------------------------------------------------------------


def entrant(**fields) -> dict:
    return {"name": "Newco", "unit_cost": 0.6, "initial_price": 1.1, "capacity": 4.0} | fields


def test_enter_adds_the_firm_at_its_step_with_its_own_parameters():
    event = {
        "kind": "enter",
        "step": 6,
        "company": entrant(archetype="startup", strategy={"pricing": "fixed"}),
    }
    result = simulate(small(events=[event]))
    newco = firm_rows(result.firms, "Newco")
    assert newco.index.min() == 6 and list(newco.index) == list(range(6, 25))
    assert (newco.price == 1.1).all()  # its own price, held by its fixed rule
    assert newco.archetype.iloc[0] == "startup"
    assert result.summary["entries"] == [{"firm": "Newco", "step": 6, "archetype": "startup"}]
    assert newco.cash.iloc[0] == pytest.approx(200 + newco.profit.iloc[0])  # startup's cash
    others = simulate(small())
    before = result.firms[result.firms.step < 6].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        before, others.firms[others.firms.step < 6].reset_index(drop=True)
    )


def test_an_entered_firm_is_validated_like_a_company():
    cases = [
        (entrant(unit_cost=-1), "events.0.company.unit_cost: Input should be greater than 0"),
        (entrant(name="Big"), "events.0.company.name: duplicate firm name 'Big'"),
        (entrant(archetype="titan"), "events.0.company.archetype: unknown archetype 'titan'"),
        (entrant(data_mix={"video": 1}), "events.0.company.data_mix.video: no such segment"),
        (entrant(initial_price=500.0), "events.0.company.initial_price: above the price cap"),
    ]
    for company, expected in cases:
        with pytest.raises(ScenarioError) as error:
            parse_scenario(small(events=[{"kind": "enter", "step": 3, "company": company}]))
        assert any(expected in line for line in error.value.lines), error.value.lines


def test_open_source_may_name_a_firm_once_it_has_entered():
    enter = {"kind": "enter", "step": 5, "company": entrant()}
    opening = {"kind": "open_source", "step": 8, "firm": "Newco"}
    newco = firm_rows(simulate(small(events=[enter, opening])).firms, "Newco")
    assert not newco.loc[5:7, "open_weights"].any() and newco.loc[8:, "open_weights"].all()
    with pytest.raises(ScenarioError) as error:
        parse_scenario(small(events=[enter, opening | {"step": 4}]))
    assert error.value.lines == [
        "events.1.firm: 'Newco' has not entered yet (it enters at step 5: events.0)"
    ]
    parse_scenario(small(events=[enter, opening | {"step": 5}]))  # same step, listed after
    with pytest.raises(ScenarioError, match="events.0.firm: 'Newco' has not entered yet"):
        parse_scenario(small(events=[opening | {"step": 5}, enter]))


def step_to(model: MarketModel, step: int) -> None:
    while model.steps < step:
        model.step()


def test_acquire_adds_up_the_firms_and_the_target_leaves():
    data = small(
        events=[
            {"kind": "acquire", "step": 10, "acquirer": "Lab", "target": "Cheap", "payment": 5.0}
        ]
    )
    data["companies"][1]["capacity"] = 2.0
    model = MarketModel(data)
    step_to(model, 9)
    state = model.state
    lab, cheap = state.row("Lab"), state.row("Cheap")
    capacity = state.capacity[lab] + state.capacity[cheap]
    compute = max(state.model_compute[lab], state.model_compute[cheap]) + 0.0
    experience = state.cumulative_output[lab] + state.cumulative_output[cheap]
    model.step()
    assert "Cheap" not in state.names
    lab = state.row("Lab")
    assert state.capacity[lab] == capacity == 5.0
    assert state.model_compute[lab] >= compute
    assert state.cumulative_output[lab] > experience  # its own and Cheap's, plus step 10's sales
    assert model.exits == [{"firm": "Cheap", "step": 10, "reason": "acquired by Lab"}]
    model.run(14)
    firms = pd.DataFrame(model.datacollector.tables["firms"])
    assert firms[firms.firm == "Cheap"].step.max() == 9  # gone from the firms table from step 10
    assert (firms[firms.step >= 10].groupby("step").share.sum() > 0.99).all()
    assert (firms[(firms.firm == "Lab") & (firms.step >= 10)].quantity <= 5.0 + 1e-9).all()


def test_acquire_validation_names_the_field():
    acquire = {"kind": "acquire", "step": 4, "acquirer": "Big", "target": "Lab"}
    later = {"kind": "release", "step": 6, "firm": "Lab", "price": 2.0}
    with pytest.raises(ScenarioError) as error:
        parse_scenario(small(events=[acquire, later]))
    assert error.value.lines == ["events.1.firm: 'Lab' was acquired by Big at step 4 (events.0)"]
    with pytest.raises(ScenarioError, match="events.0.target: a firm cannot acquire itself"):
        parse_scenario(small(events=[acquire | {"target": "Big"}]))
    with pytest.raises(ScenarioError, match="events.0.acquirer: no such firm 'Nobody'"):
        parse_scenario(small(events=[acquire | {"acquirer": "Nobody"}]))


def test_set_changes_a_parameter_from_its_step_only():
    data = small(
        events=[
            {"kind": "set", "step": 8, "path": "companies.Lab.strategy.pricing", "value": "fixed"},
            {"kind": "set", "step": 8, "path": "companies.Lab.initial_price", "value": 2.5},
            {
                "kind": "set",
                "step": 8,
                "path": "market.segments.code.price_sensitivity",
                "value": 2.0,
            },
            {"kind": "set", "step": 8, "path": "companies.3.capacity", "value": 0.5},
        ]
    )
    model = MarketModel(data)
    step_to(model, 7)
    state = model.state
    assert state.seg.alpha[1] == 0.8 and state.capacity[3] == np.inf
    lab_price = state.price[state.row("Lab")]
    model.run(17)
    assert state.seg.alpha.tolist() == [1.0, 2.0] and state.capacity[3] == 0.5
    firms = pd.DataFrame(model.datacollector.tables["firms"])
    lab = firm_rows(firms, "Lab")
    assert lab.price.loc[7] == lab_price != 2.5 and (lab.price.loc[8:] == 2.5).all()
    assert (firm_rows(firms, "Follower").quantity.loc[8:] <= 0.5 + 1e-12).all()
    assert model.scenario.events[3].path == "companies.Follower.capacity"  # names, not rows


def test_a_rule_set_by_an_event_moves_the_firm_between_rule_groups():
    data = small(
        events=[
            {"kind": "set", "step": 3, "path": "companies.Lab.strategy.pricing", "value": "fixed"}
        ]
    )
    model = MarketModel(data)
    state = model.state
    lab = state.row("Lab")
    step_to(model, 2)
    assert state.group("pricing", "cost_plus").tolist() == [lab]
    model.run(2)  # steps 2 and 3: the event fires at 3
    assert state.group("pricing", "cost_plus").tolist() == []
    assert state.group("pricing", "fixed").tolist() == [lab]
    for rule in ("best_response", "undercut", "match"):
        expected = np.flatnonzero(state.rules["pricing"] == rule)
        assert state.group("pricing", rule).tolist() == expected.tolist() != []


def test_set_can_change_market_terms_and_a_firm_that_entered():
    enter = {"kind": "enter", "step": 3, "company": entrant()}
    events = [
        enter,
        {"kind": "set", "step": 5, "path": "companies.Newco.capacity", "value": None},
        {"kind": "set", "step": 5, "path": "market.brand_decay", "value": 0.5},
    ]
    model = MarketModel(small(events=events))
    step_to(model, 4)
    assert model.state.capacity[model.state.row("Newco")] == 4.0 and model.market.brand_decay == 0.1
    model.step()
    assert (
        model.state.capacity[model.state.row("Newco")] == np.inf and model.market.brand_decay == 0.5
    )


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("companies.Nope.price_cap", 3.0, "events.0.path: no item 'Nope' in companies"),
        (
            "companies.Big.capacity",
            -1.0,
            "events.0.value: Input should be greater than 0 (got -1.0) (as capacity of 'Big')",
        ),
        ("companies.Big.name", "X", "events.0.path: name of a firm cannot change during a run"),
        ("companies.Big.open_weights", False, "events.0.path: open_weights can only become true"),
        (
            "market.segments.code.name",
            "c",
            "events.0.path: market.segments.code.name: a segment's size",
        ),
        ("steps", 3, "events.0.path: no field 'steps' in the scenario"),
        ("market.quality_model", "zoo", "events.0.path: market.quality_model cannot change"),
        (
            "market.open_model.user_price",
            {"relative_to": "dearest", "factor": 1},
            "events.0.value: Input should be 'cheapest'",
        ),
        ("companies.Newco.cash", 1.0, "events.0.path: no item 'Newco' in companies"),
    ],
)
def test_a_bad_set_event_is_one_line_naming_the_field(path, value, expected):
    events = [
        {"kind": "set", "step": 2, "path": path, "value": value},
        {"kind": "enter", "step": 3, "company": entrant()},
    ]
    with pytest.raises(ScenarioError) as error:
        parse_scenario(small(events=events))
    assert len(error.value.lines) == 1 and expected in error.value.lines[0], error.value.lines


def test_the_open_model_can_cost_a_share_of_the_cheapest_price():
    data = small(events=[{"kind": "open_source", "step": 2, "firm": "Big"}])
    data["market"]["open_model"] = {"user_price": {"relative_to": "cheapest", "factor": 0.5}}
    firms = simulate(data).firms
    for step, rows in firms[firms.step >= 2].groupby("step"):
        products = rows[rows.firm != "open model"]
        open_price = rows[rows.firm == "open model"].price.iloc[0]
        assert open_price == 0.5 * products.price.min(), step
    data["market"]["open_model"]["user_price"] = {"relative_to": "leader", "factor": 2.0}
    firms = simulate(data).firms
    above_cheapest = []
    for _step, rows in firms[firms.step >= 2].groupby("step"):  # twice the leader's price
        products = rows[rows.firm != "open model"].price.to_numpy()
        open_price = rows[rows.firm == "open model"].price.iloc[0]
        assert np.isin(open_price, 2.0 * products)
        above_cheapest.append(open_price > 2.0 * products.min())
    assert any(above_cheapest)


# --- archetypes -----------------------------------------------------------------------------


def test_archetype_defaults_are_in_the_schema_and_their_command(capsys):
    builtin = json_schema()["properties"]["archetypes"]["x-builtin-archetypes"]
    assert builtin["giant"]["unit_cost"] == 0.7 and builtin["startup"]["capacity"] == 30.0
    assert main(["archetypes"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["startup"]["capacity"] == 30.0 and printed["startup"]["fixed_cost"] == 0.0
    assert printed["research_lab"]["strategy"]["open_source_rule"] == "when_behind"


def test_archetypes_of_a_scenario_include_its_own(tmp_path, capsys):
    data = small(archetypes={"lab": {"cash": 7.0}, "giant": {"cash": 1.0}})
    assert main(["archetypes", "--scenario", str(write(tmp_path / "s.yaml", data))]) == 0
    out = capsys.readouterr().out
    assert "# (the company using lab must give a unit_cost)" in out
    printed = yaml.safe_load(out)
    assert printed["lab"] == {"cash": 7.0} and printed["giant"]["cash"] == 1.0


def test_an_archetype_data_mix_naming_an_unknown_segment_is_an_error():
    with pytest.raises(ScenarioError) as error:
        parse_scenario(
            small(archetypes={"lab": {"data_mix": {"chinese": 1.0}, "quality": {"video": 1}}})
        )
    assert error.value.lines == [
        "archetypes.lab.quality.video: no such segment (segments: assistant, code)",
        "archetypes.lab.data_mix.chinese: no such segment (segments: assistant, code)",
    ]


# --- the shipped what-if --------------------------------------------------------------------


def test_what_if_china_open_differs_from_its_base_from_month_24(tmp_path):
    what_if = run_tables(tmp_path, "what_if", [str(ROOT / "scenarios" / "what_if_china_open.yaml")])
    base = run_tables(tmp_path, "base", [str(ROOT / "scenarios" / "llm_api_2025.yaml")])
    a, b = what_if["firms"], base["firms"]
    pd.testing.assert_frame_equal(
        a[a.step < 24].reset_index(drop=True), b[b.step < 24].reset_index(drop=True)
    )
    final_a = a[a.step == 36].set_index("firm").share
    final_b = b[b.step == 36].set_index("firm").share
    assert final_a["ChinaLab"] > 0.1 and final_a["open model"] > final_b["open model"] + 0.1
    assert final_a["Anthropic"] < final_b["Anthropic"]
    assert firm_rows(a, "ChinaLab").index.min() == 24
    assert what_if["summary"]["entries"] == [{"firm": "ChinaLab", "step": 24, "archetype": ""}]


def test_a_set_of_segment_growth_is_projected_like_a_segment_event():
    grow = {"kind": "set", "step": 2, "path": "market.segments.1.growth", "value": 0.5}
    with pytest.raises(ScenarioError) as error:
        parse_scenario(small(steps=2000, events=[grow]))
    assert error.value.lines[0].startswith(
        "market.segments.code: the segment would reach 1e+353 demand units per step by step 2000"
    )
    assert parse_scenario(small(events=[grow])).events[0].path == "market.segments.code.growth"


def test_a_sweep_reads_a_scenario_that_extends_another(tmp_path):
    from simulator.sweep import load_sweep_spec

    write(tmp_path / "base.yaml", small())
    write(
        tmp_path / "child.yaml",
        {"extends": "base.yaml", "companies": [{"name": "Big", "unit_cost": 0.7}]},
    )
    spec = {
        "scenario": "child.yaml",
        "replications": 1,
        "method": "random",
        "samples": 2,
        "parameters": {"companies.Big.cash": {"uniform": [10.0, 20.0]}},
    }
    resolved = load_sweep_spec(write(tmp_path / "spec.yaml", spec))
    assert resolved.base.companies[0].unit_cost == 0.7
