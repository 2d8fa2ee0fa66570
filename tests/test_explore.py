"""The explorer without a browser: every control addresses a field of the scenario, control
values become a validated scenario (and only the controlled fields change), invalid values
come back as the validation's one-line messages, the app's callback answers over HTTP, and
``llm-market explore`` fails in one line (exit code 2) when it cannot start."""

from __future__ import annotations

import copy
import json
import socket
import sys
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.config import ScenarioError, load_scenario, parse_scenario
from simulator.explore import scenario_controls, scenario_with
from simulator.explore.command import MISSING_DASH
from simulator.market.strategy import PRICING
from tests.test_dashboard import TINY_SCENARIO

SHIPPED = sorted(Path("scenarios").glob("*.yaml"))


def _field(data, keys):
    for key in keys:
        data = data[key]
    return data


def _control(controls, canonical):
    (control,) = [c for c in controls if c.path.canonical == canonical]
    return control


def _tiny():
    return parse_scenario(copy.deepcopy(TINY_SCENARIO))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_control_addresses_its_field_and_starts_at_its_value(path):
    scenario = load_scenario(path)
    data = scenario.model_dump(mode="json")
    controls = scenario_controls(scenario)
    assert [c.key for c in controls] == list(range(len(controls)))
    for control in controls:
        value = _field(data, control.path.keys)
        assert control.field_value(control.value) == value, control.path.canonical
        if control.kind == "slider":
            assert control.low <= control.value <= control.high, control.path.canonical
            assert control.step > 0 and (control.high - control.low) / control.step <= 200
    fields = {c.path.keys[-1] for c in controls}
    assert {"price_sensitivity", "temperature", "growth", "unit_cost", "capacity", "pricing"} <= (
        fields
    )
    assert sum(c.path.keys[-1] == "unit_cost" for c in controls) == len(scenario.companies)
    assert sum(c.path.keys[0] == "events" for c in controls) == len(scenario.events)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_controls_at_their_start_values_give_back_the_scenario(path):
    scenario = load_scenario(path)
    controls = scenario_controls(scenario)
    same = scenario_with(scenario, controls, {c.key: c.value for c in controls})
    assert same.model_dump(mode="json") == scenario.model_dump(mode="json")


def test_moving_a_firms_cost_changes_that_firms_cost_and_nothing_else():
    scenario = load_scenario("scenarios/baseline.yaml")
    controls = scenario_controls(scenario)
    cost = _control(controls, "companies.OpenLab.unit_cost")
    changed = scenario_with(scenario, controls, {cost.key: 1.35})
    before, after = scenario.model_dump(mode="json"), changed.model_dump(mode="json")
    index = cost.path.keys[1]
    assert after["companies"][index]["unit_cost"] == 1.35
    after["companies"][index]["unit_cost"] = before["companies"][index]["unit_cost"]
    assert after == before


def test_a_capacity_slider_at_its_right_end_means_unlimited():
    scenario = load_scenario("scenarios/baseline.yaml")
    controls = scenario_controls(scenario)
    limited = _control(controls, "companies.CodeCraft.capacity")
    unlimited = _control(controls, "companies.Frontier.capacity")
    assert limited.value == 40 and unlimited.value == unlimited.high
    changed = scenario_with(
        scenario, controls, {limited.key: limited.high, unlimited.key: unlimited.high - 5}
    )
    firms = {c.name: c for c in changed.companies}
    assert firms["CodeCraft"].capacity is None
    assert firms["Frontier"].capacity == unlimited.high - 5


def test_an_event_step_slider_moves_the_event_and_takes_whole_steps():
    scenario = load_scenario("scenarios/open_source_wave.yaml")
    controls = scenario_controls(scenario)
    (timing,) = [c for c in controls if c.group == "events"]
    assert (timing.low, timing.high, timing.value) == (1, scenario.steps, 48)
    changed = scenario_with(scenario, controls, {timing.key: 30.0})
    assert changed.events[0].step == 30 and isinstance(changed.events[0].step, int)


def test_the_pricing_dropdown_offers_every_registered_rule_and_sets_the_firms_rule():
    scenario = _tiny()
    controls = scenario_controls(scenario)
    rule = _control(controls, "companies.Cheap.strategy.pricing")
    assert rule.kind == "choice" and set(rule.options) == set(PRICING.rules)
    assert rule.value == "undercut"
    changed = scenario_with(scenario, controls, {rule.key: "cost_plus"})
    assert {c.name: c.strategy.pricing for c in changed.companies}["Cheap"] == "cost_plus"


@pytest.mark.parametrize(
    ("canonical", "value", "expected"),
    [
        ("companies.Big.unit_cost", 2.0, "companies.Big.price_cap"),  # above its cap of 1.5
        ("companies.Big.unit_cost", -1.0, "companies.Big.unit_cost"),
        ("companies.Big.unit_cost", "cheap", "companies.Big.unit_cost"),
        ("market.segments.code.temperature", 0.0, "market.segments.code.temperature"),
        ("companies.Cheap.strategy.pricing", "telepathy", "unknown pricing rule 'telepathy'"),
    ],
)
def test_an_invalid_value_raises_the_validations_message(canonical, value, expected):
    data = copy.deepcopy(TINY_SCENARIO)
    data["companies"][0]["price_cap"] = 1.5
    scenario = parse_scenario(data)
    controls = scenario_controls(scenario)
    with pytest.raises(ScenarioError) as caught:
        scenario_with(scenario, controls, {_control(controls, canonical).key: value})
    assert any(expected in line for line in caught.value.lines), caught.value.lines


def _post_controls(
    client, controls, values, figures=("share", "price", "concentration", "network")
):
    """One call of the app's callback over HTTP, as the page makes it."""
    inputs = [
        {"id": {"key": c.key, "type": "control"}, "property": "value", "value": values[c.key]}
        for c in controls
    ]
    outputs = [f"{name}.figure" for name in figures]
    outputs += ["status.children", "problems.children", "problems.style"]
    body = {
        "output": ".." + "...".join(outputs) + "..",
        "outputs": [dict(zip(("id", "property"), o.split("."), strict=True)) for o in outputs],
        "inputs": [inputs],
        "changedPropIds": [],
        "state": [],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:500]
    return json.loads(response.data)["response"]


def test_the_app_reruns_on_new_values_and_reports_invalid_ones_without_new_figures():
    pytest.importorskip("dash", reason="the explorer needs the 'explore' extra (Dash)")
    from simulator.explore.app import build_app

    scenario = _tiny()
    controls = scenario_controls(scenario)
    client = build_app(scenario).server.test_client()
    values = {c.key: c.value for c in controls}
    first = _post_controls(client, controls, values)
    assert set(first) == {"share", "price", "concentration", "network", "status", "problems"}
    assert first["problems"]["children"] is None and "final HHI" in first["status"]["children"]

    cost = _control(controls, "companies.Big.unit_cost")
    dearer = _post_controls(client, controls, values | {cost.key: 2.0})
    assert dearer["share"]["figure"] != first["share"]["figure"]

    invalid = _post_controls(client, controls, values | {cost.key: -1.0})
    assert set(invalid) == {"problems"}  # the figures and the status keep the last run's
    assert "companies.Big.unit_cost" in invalid["problems"]["children"]


def test_explore_without_dash_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dash", None)  # `import dash` raises ImportError
    assert main(["explore", "scenarios/baseline.yaml"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {MISSING_DASH}\n"
    assert "pip install 'llm-market-sim[explore]'" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--port", "70000"], "error: --port: must be 0 to 65535 (got 70000)"),
        (["--host", "no such host.invalid"], "error: --host/--port: cannot listen on"),
    ],
)
def test_explore_with_a_bad_address_fails_in_one_line(argv, expected, capsys):
    pytest.importorskip("dash", reason="the explorer needs the 'explore' extra (Dash)")
    assert main(["explore", "scenarios/price_war.yaml", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1, err


def test_explore_on_a_port_in_use_fails_in_one_line(capsys):
    pytest.importorskip("dash", reason="the explorer needs the 'explore' extra (Dash)")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["explore", "scenarios/price_war.yaml", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --host/--port: cannot listen on 127.0.0.1:{port}"), err
    assert err.count("\n") == 1


def test_explore_of_a_bad_scenario_names_the_field(tmp_path, capsys):
    pytest.importorskip("dash", reason="the explorer needs the 'explore' extra (Dash)")
    data = copy.deepcopy(TINY_SCENARIO)
    data["companies"][0]["unit_cost"] = -1
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(data))
    assert main(["explore", str(path)]) == 2
    assert "companies.Big.unit_cost" in capsys.readouterr().err


def test_a_data_scenario_gets_a_feedback_slider_and_the_data_figure():
    pytest.importorskip("dash", reason="the explorer needs the 'explore' extra (Dash)")
    from simulator.explore.app import build_app

    scenario = load_scenario("scenarios/data_flywheel.yaml")
    controls = scenario_controls(scenario)
    rate = _control(controls, "market.data.feedback_rate")
    assert rate.value == 0.003 and rate.low == 0.0 and rate.high >= 0.01
    client = build_app(scenario).server.test_client()
    values = {c.key: c.value for c in controls}
    figures = ("share", "data", "price", "concentration", "network")
    first = _post_controls(client, controls, values, figures)
    assert "data" in first and "log" in json.dumps(first["data"]["figure"]["layout"])
    off = _post_controls(client, controls, values | {rate.key: 0.0}, figures)
    assert off["share"]["figure"] != first["share"]["figure"]
    plain = scenario_controls(_tiny())
    assert not any(c.path.keys[:2] == ("market", "data") for c in plain)
