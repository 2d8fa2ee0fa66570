"""Hostile scenario input never crashes: every problem is one line naming the field.

Numbers must be finite, of the exact type and in their documented range; contradictions are
errors; what validation accepts also runs (archetypes used by entrants are complete firms);
YAML duplicates, deep nesting, alias bombs and huge files are refused quickly; the firm count
is bounded. The structured fuzzing of the same rules is in test_fuzz_scenarios.py.
"""

from __future__ import annotations

import copy
import math
import time
import tracemalloc
import typing
from pathlib import Path

import pytest
import yaml

from simulator.cli import main
from simulator.config import ScenarioError, load_scenario, parse_scenario, read_yaml
from simulator.config import schema as scenario_schema
from simulator.config.errors import MAX_ERROR_LINES, one_line
from simulator.config.loading import json_schema
from simulator.config.yaml_safe import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, load_yaml
from simulator.market.data import DataTerms
from simulator.market.events import EVENTS
from simulator.market.params import MAX_FIRMS, MAX_PROJECTED_SIZE
from simulator.model import simulate
from tests.conftest import SMALL_SCENARIO

HOSTILE_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def small(**changes) -> dict:
    data = copy.deepcopy(SMALL_SCENARIO)
    data["market"]["quality_model"] = "placeholder"
    data["market"]["compute_range"] = [1e21, 1e26]
    data.update(changes)
    return data


def errors_of(data) -> list[str]:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data)
    lines = error.value.lines
    assert lines and all(len(line.splitlines()) == 1 for line in lines), lines
    return lines


def setter(path: str):
    """A function putting a value at a dotted path (list items by name or index, creating
    the last mapping level)."""

    def put(data: dict, value) -> None:
        node = data
        parts = path.split(".")
        for part in parts[:-1]:
            if isinstance(node, list):
                node = next((x for x in node if x.get("name") == part), None) or node[int(part)]
            else:
                node = node.setdefault(part, {})
        if isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value

    return put


def with_event(event: dict) -> dict:
    return small(events=[{"step": 2, **event}])


# Every numeric field of the scenario, by the path an error names it with. The last entry of
# each tuple builds the scenario the path lives in (events and archetypes need one).
NUMERIC_FIELDS = [
    *(
        f"market.segments.assistant.{f}"
        for f in (
            "size",
            "growth",
            "price_sensitivity",
            "quality_sensitivity",
            "brand_sensitivity",
            "temperature",
            "outside_utility",
        )
    ),
    *(
        f"market.{f}"
        for f in (
            "brand_decay",
            "compute_price",
            "compute_range.0",
            "compute_range.1",
            "cost_index",
            "learning_output_scale",
            "price_cap",
        )
    ),
    *(
        f"market.open_model.{f}"
        for f in (
            "user_price",
            "usability",
            "finetune_efficiency",
            "releaser_brand_gain",
            "community_rate",
        )
    ),
    *(
        f"market.entry.{f}"
        for f in (
            "base_rate",
            "margin_sensitivity",
            "open_sensitivity",
            "archetypes.startup",
            "entry_cost",
            "open_discount",
        )
    ),
    *(
        f"market.network.{f}"
        for f in (
            "pool_share",
            "returns",
            "brand_share",
            "sharing_value",
            "rivalry",
            "cost.alliance",
        )
    ),
    *(
        f"market.data.{f}"
        for f in (
            "tokens_per_unit",
            "feedback_rate",
            "feedback_rate.code",
            "license_price",
            "pool_share",
            "initial_stock",
        )
    ),
    *(
        f"companies.Big.{f}"
        for f in (
            "data.code",
            "unit_cost",
            "initial_price",
            "price_cap",
            "capacity",
            "cash",
            "fixed_cost",
            "brand",
            "quality.code",
            "initial_compute",
            "data_mix.code",
            "learning_rate",
        )
    ),
    *(
        f"companies.Big.strategy.{name}"
        for name, info in scenario_schema.Strategy.model_fields.items()
        if info.annotation is float
    ),
]
INT_FIELDS = [
    "seed",
    "steps",
    "market.exit_after",
    "market.entry.max_firms",
    "market.network.term",
    "market.network.max_links",
    "market.zoo.threads",
    "companies.Big.release_cycle",
]
EVENT_NUMBERS = [
    ({"kind": "compute_price", "factor": 0.5}, "factor"),
    ({"kind": "cost_index", "factor": 0.5}, "factor"),
    ({"kind": "segment", "segment": "code"}, "size_factor"),
    ({"kind": "segment", "segment": "code"}, "growth"),
    ({"kind": "regulation"}, "unit_cost_add"),
    ({"kind": "regulation", "data_cap": {}}, "data_cap.code"),
    ({"kind": "regulation"}, "feedback_cap"),
    ({"kind": "regulation", "feedback_cap": {}}, "feedback_cap.code"),
    ({"kind": "release", "firm": "Big", "quality": {}}, "quality.code"),
    ({"kind": "release", "firm": "Big"}, "quality_sd"),
    ({"kind": "release", "firm": "Big"}, "compute"),
    ({"kind": "release", "firm": "Big"}, "price"),
    ({"kind": "release", "firm": "Big"}, "unit_cost"),
    ({"kind": "acquire", "acquirer": "Big", "target": "Lab"}, "payment"),
    ({"kind": "enter", "company": {"name": "New", "unit_cost": 1.0}}, "company.cash"),
]


@pytest.mark.parametrize("path", NUMERIC_FIELDS)
@pytest.mark.parametrize("label", sorted(HOSTILE_FLOATS))
def test_every_numeric_field_rejects_nan_and_infinity_naming_it(path, label):
    data = small()
    setter(path)(data, HOSTILE_FLOATS[label])
    lines = errors_of(data)
    assert any(line.startswith(f"{path}: ") and "finite number" in line for line in lines), lines


@pytest.mark.parametrize("path", NUMERIC_FIELDS)
def test_every_numeric_field_rejects_a_huge_finite_value_naming_it(path):
    data = small()
    setter(path)(data, 1e300)
    lines = errors_of(data)
    assert any(line.startswith(f"{path}: ") for line in lines), lines


@pytest.mark.parametrize(("event", "field"), EVENT_NUMBERS, ids=lambda x: str(x))
@pytest.mark.parametrize("value", [math.nan, math.inf, 1e300])
def test_event_numbers_are_finite_and_bounded(event, field, value):
    data = with_event(event)
    setter(f"events.0.{field}")(data, value)
    assert any(line.startswith(f"events.0.{field}: ") for line in errors_of(data))


def test_an_archetype_field_rejects_nan_naming_the_archetype():
    lines = errors_of(small(archetypes={"lab": {"cash": math.nan}}))
    assert lines == ["archetypes.lab.cash: Input should be a finite number (got nan)"]


def test_1e400_in_a_file_is_infinity_and_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(small()).replace("size: 10.0", "size: 1e400"))
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert error.value.lines == [
        "market.segments.assistant.size: Input should be a finite number (got inf)"
    ]


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("value", [math.nan, math.inf, 1e300])
def test_data_range_bounds_are_finite_numbers(index, value):
    data = small()
    bounds = [3e11, 1.5e13]
    bounds[index] = value
    data["market"]["data"] = {"data_range": bounds}
    lines = errors_of(data)
    assert any(line.startswith(f"market.data.data_range.{index}: ") for line in lines), lines


def test_every_number_in_the_schema_has_a_finite_documented_range():
    """Every number of the JSON Schema (fields, list items, mapping values) has a lower and an
    upper bound, and its field's description states it."""
    missing = []

    def walk(spec: dict, where: str, description: str) -> None:
        for option in spec.get("anyOf", []):
            walk(option, where, description)
        if spec.get("type") in ("number", "integer"):
            has_low = "minimum" in spec or "exclusiveMinimum" in spec
            has_high = "maximum" in spec or "exclusiveMaximum" in spec
            if not (has_low and has_high):
                missing.append(f"{where}: no range")
        for key in ("items", "additionalProperties"):
            if isinstance(spec.get(key), dict):
                walk(spec[key], f"{where}[]", description)
        for i, item in enumerate(spec.get("prefixItems", [])):
            walk(item, f"{where}.{i}", description)

    for model, spec in json_schema()["$defs"].items():
        for field, prop in spec.get("properties", {}).items():
            if field == "kind":
                continue
            walk(prop, f"{model}.{field}", prop.get("description", ""))
    assert missing == []


def test_every_float_field_of_every_model_is_in_the_nan_test():
    """NUMERIC_FIELDS above must grow with the schema: a new float field is tested too."""
    models = [
        scenario_schema.Segment,
        scenario_schema.OpenModelTerms,
        scenario_schema.EntryTerms,
        scenario_schema.NetworkTerms,
        scenario_schema.Market,
        scenario_schema.Company,
        scenario_schema.Strategy,
        DataTerms,
    ]
    tested = {p.split(".")[-1] for p in NUMERIC_FIELDS} | {
        "compute_range",
        "archetypes",
        "cost",
        "quality",
        "data_mix",
        "data_range",  # test_data_range_bounds_are_finite_numbers
        "data",  # companies.Big.data.code
    }
    untested = [
        f"{model.__name__}.{name}"
        for model in models
        for name, info in model.model_fields.items()
        if "float" in str(info.annotation) and name not in tested
    ]
    assert untested == []
    event_fields = {f for _, f in EVENT_NUMBERS} | {"data_cap", "quality"}
    for model, _handler in EVENTS.values():
        for name, info in model.model_fields.items():
            if "float" in str(info.annotation):
                assert name in event_fields, f"{model.__name__}.{name}"


# --- types ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", INT_FIELDS)
@pytest.mark.parametrize("value", [True, "3", 3.0, 2**200])
def test_int_fields_take_only_ints(path, value):
    data = small()
    setter(path)(data, value)
    lines = errors_of(data)
    assert any(line.startswith(f"{path}: ") for line in lines), lines


@pytest.mark.parametrize("value", [True, False, "1.5", "1e3"])
def test_float_fields_refuse_booleans_and_text(value):
    data = small()
    data["market"]["segments"][0]["size"] = value
    (line,) = errors_of(data)
    assert line.startswith("market.segments.assistant.size: Input should be a valid number")
    if isinstance(value, str):
        assert "write numbers without quotes" in line


def test_float_fields_take_ints_and_yaml_exponents_without_a_dot():
    data = load_yaml(yaml.safe_dump(small()).replace("size: 10.0", "size: 12"))
    data["companies"][0]["initial_compute"] = load_yaml("x: 1e25")["x"]
    scenario = parse_scenario(data)
    assert scenario.market.segments[0].size == 12.0
    assert scenario.companies[0].initial_compute == 1e25


def test_booleans_are_not_numbers_and_numbers_not_booleans():
    lines = errors_of(small(steps=True, seed=True))
    assert lines == [
        "seed: Input should be a valid integer (got True)",
        "steps: Input should be a valid integer (got True)",
    ]
    data = small()
    data["companies"][0]["open_weights"] = 1
    assert errors_of(data) == [
        "companies.Big.open_weights: Input should be a valid boolean (got 1)"
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a\nb", "control characters"),
        ("tab\there", "control characters"),
        ("line\u2028sep", "control characters"),
        (" padded", "spaces"),
        ("x" * 101, "at most 100 characters"),
        ("", "at least 1 character"),
    ],
)
def test_names_are_one_printable_line(name, problem):
    data = small()
    data["companies"][0]["name"] = name
    (line,) = errors_of(data)
    assert ".name: " in line and problem in line


@pytest.mark.parametrize("name", ["../elsewhere", "a/b", "..", "c:\\x"])
def test_a_scenario_name_may_hold_path_characters(name):
    """A name is a label; the run folder made from it stays in runs/ (test_hostile_input)."""
    assert parse_scenario(small(name=name)).name == name


def test_an_error_line_is_one_line_whatever_it_was_given():
    assert one_line("a\nb\rc\u2028d\x85e") == "a\\nb\\rc\\u2028d\\x85e"
    error = ScenarioError(["x: one\ntwo"])
    assert error.lines == ["x: one\\ntwo"]
    many = ScenarioError([f"f{i}: bad" for i in range(MAX_ERROR_LINES + 5)])
    assert len(many.lines) == MAX_ERROR_LINES + 1
    assert many.lines[-1] == "(top level): 5 more problems not shown"


# --- contradictions ------------------------------------------------------------------------


def test_a_price_cap_below_unit_cost_is_an_error():
    data = small()
    data["companies"][0].update(price_cap=0.5, initial_price=0.4)
    assert errors_of(data) == [
        "companies.Big.price_cap: below the firm's unit cost at step 0, 0.8 "
        "(unit_cost x market.cost_index) (got 0.5)"
    ]


def test_the_market_price_cap_below_a_unit_cost_names_the_unit_cost():
    data = small()
    data["market"]["price_cap"] = 0.9
    for company in data["companies"]:
        company["initial_price"] = 0.85
    lines = errors_of(data)
    assert lines == [
        "companies.Lab.unit_cost: the unit cost at step 0, 1 (unit_cost x market.cost_index), "
        "is above market.price_cap 0.9"
    ]


def test_the_cost_index_counts_in_the_unit_cost():
    data = small()
    data["market"]["cost_index"] = 200.0
    assert any(
        "companies.Lab.unit_cost: the unit cost at step 0, 200" in x for x in errors_of(data)
    )


def test_an_initial_price_above_the_cap_is_an_error_below_cost_is_a_launch_price():
    data = small()
    data["companies"][0].update(price_cap=2.0, initial_price=3.0)
    assert errors_of(data) == [
        "companies.Big.initial_price: above the price cap 2 (its price_cap) (got 3)"
    ]
    data["companies"][0].update(initial_price=0.1)  # below unit cost 0.8: allowed
    parse_scenario(data)


def test_a_default_initial_price_above_the_cap_asks_for_one():
    data = small()
    data["companies"][0]["price_cap"] = 1.0  # default initial price 1.5 x 0.8 = 1.2
    assert errors_of(data) == [
        "companies.Big.initial_price: the default, 1.5 x unit_cost = 1.2, is above the price cap "
        "1 (its price_cap); set initial_price"
    ]


def test_a_company_from_an_archetype_is_checked_with_its_resolved_fields():
    data = small(archetypes={"pricey": {"unit_cost": 5.0, "initial_price": 6.0}})
    data["market"]["price_cap"] = 4.0
    data["companies"].append({"name": "P", "archetype": "pricey"})
    assert errors_of(data) == [
        "companies.P.unit_cost: the unit cost at step 0, 5 (unit_cost x market.cost_index), "
        "is above market.price_cap 4",
        "companies.P.initial_price: above the price cap 4 (market.price_cap) (got 6)",
    ]


def test_segments_cannot_grow_past_the_projected_limit():
    (line,) = errors_of(small(steps=5000))  # 10 x 1.01**4999
    assert line.startswith("market.segments.assistant.growth: the segment would reach 4e+22 ")
    assert "by step 5000" in line
    data = small(steps=20)
    data["events"] = [{"step": 5, "kind": "segment", "segment": "code", "size_factor": 1e6}] * 3
    (line,) = errors_of(data)
    assert line.startswith("market.segments.code: the segment would reach 5e+18")
    assert f"above the limit of {MAX_PROJECTED_SIZE:g}" in line


def test_event_factors_must_keep_the_indices_in_range():
    events = [{"step": s, "kind": "compute_price", "factor": 1e-3} for s in (2, 3, 4)]
    assert errors_of(small(events=events)) == [  # 2 x 1e-3 x 1e-3 is fine, x 1e-3 is not
        "events.2.factor: takes market.compute_price to 2e-09, outside 1e-06 to 1e+12"
    ]


def test_initial_links_are_one_per_pair_and_within_max_links():
    link = {"source": "Big", "target": "Cheap", "type": "alliance"}
    lines = errors_of(small(links=[link, {**link, "type": "joint_rd"}]))
    assert lines == [
        "links.1: Big and Cheap are already linked by links.0 (two firms hold at most one link)"
    ]
    data = small(
        links=[{"source": "Big", "target": t, "type": "alliance"} for t in ("Cheap", "Lab")]
    )
    data["market"]["network"] = {"max_links": 1}
    assert errors_of(data) == [
        "links.1: Big would hold more than market.network.max_links (1) links"
    ]


# --- what validation passes also runs ------------------------------------------------------


def test_an_entrant_archetype_without_a_unit_cost_is_a_validation_error():
    data = small(archetypes={"lab": {"cash": 50.0}})
    data["market"]["entry"] = {"base_rate": 1.0, "archetypes": {"lab": 1.0}}
    assert errors_of(data) == [
        "archetypes.lab.unit_cost: required field is missing (entrants take this archetype as "
        "it is: market.entry.archetypes.lab)"
    ]
    data = small(
        archetypes={"lab": {"cash": 50.0}},
        events=[{"step": 2, "kind": "entry_wave", "archetype": "lab", "count": 2}],
    )
    assert errors_of(data) == [
        "archetypes.lab.unit_cost: required field is missing (entrants take this archetype as "
        "it is: events.0.archetype)"
    ]


def test_an_entrant_archetype_is_checked_against_the_market():
    data = small(events=[{"step": 2, "kind": "entry_wave", "archetype": "giant"}])
    data["market"]["price_cap"] = 0.6  # below the giant's unit cost 0.7
    for company in data["companies"]:
        company.update(unit_cost=0.5, initial_price=0.55)
    note = " (entrants take this archetype as it is: events.0.archetype)"
    assert errors_of(data) == [
        "archetypes.giant.unit_cost: the unit cost at step 0, 0.7 (unit_cost x "
        "market.cost_index), is above market.price_cap 0.6" + note,
        "archetypes.giant.initial_price: the default, 1.5 x unit_cost = 1.05, is above the "
        "price cap 0.6 (market.price_cap); set initial_price" + note,
    ]


def test_valid_entrant_archetypes_enter_during_the_run():
    data = small(steps=4, archetypes={"lab": {"unit_cost": 0.7, "cash": 50.0}})
    data["events"] = [{"step": 2, "kind": "entry_wave", "archetype": "lab", "count": 2}]
    result = simulate(data)
    assert {"lab-e1", "lab-e2"} <= set(result.firms["firm"])


def test_entry_needs_an_archetype_to_draw_from():
    data = small()
    data["market"]["entry"] = {"base_rate": 0.5, "archetypes": {}}
    assert errors_of(data) == [
        "market.entry.archetypes: no archetype to draw entrants from, but "
        "market.entry.base_rate is 0.5"
    ]


def test_entrant_names_are_reserved():
    data = small(events=[{"step": 2, "kind": "entry_wave", "archetype": "startup"}])
    data["companies"][0]["name"] = "startup-e1"
    assert errors_of(data) == [
        "companies.startup-e1: the name is reserved for entrants of archetype startup "
        "(events.0.archetype); rename the firm"
    ]


@pytest.mark.parametrize(
    ("archetypes", "expected"),
    [
        (3, "archetypes: must be a mapping of archetype names to company defaults (got 3)"),
        ({"startup": 3}, "archetypes.startup: must be a mapping of Company fields (got 3)"),
        ({"startup": [1]}, "archetypes.startup: must be a mapping of Company fields (got [1])"),
        ({"x": {"name": "y"}}, "archetypes.x.name: an archetype cannot set `name`"),
        ({"x": {"count": 2}}, "archetypes.x.count: an archetype cannot set `count`"),
        ({"x": {"strategy": 1}}, "archetypes.x.strategy: Input should be a valid dictionary"),
        ({"a\nb": {}}, "archetypes.a\\nb: name must not contain control characters"),
    ],
)
def test_bad_archetype_tables_are_errors_even_when_used(archetypes, expected):
    data = small(archetypes=archetypes)
    data["companies"].append({"name": "S", "archetype": "startup"})
    lines = errors_of(data)
    assert any(line.startswith(expected) for line in lines), lines


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (3, "companies.4: Input should be a valid dictionary (got 3)"),
        ([1, 2], "companies.4: Input should be a valid dictionary"),
        ("Acme", "companies.4: Input should be a valid dictionary (got 'Acme')"),
        ({"name": "Z", "unit_cost": 1, "count": 3}, "companies.Z.count: needs an `archetype`"),
        ({"archetype": "startup", "count": 0}, "companies.4.count: must be a whole number"),
        ({"archetype": "startup", "count": True}, "companies.4.count: must be a whole number"),
        ({"archetype": ["startup"]}, "companies.4.archetype: unknown archetype ['startup']"),
    ],
)
def test_company_items_that_are_not_companies(item, expected):
    data = small()
    data["companies"].append(item)
    lines = errors_of(data)
    assert any(line.startswith(expected) for line in lines), lines


def test_a_count_group_reports_a_problem_once():
    data = small()
    data["companies"].append({"archetype": "startup", "count": 50, "cash": "lots"})
    assert errors_of(data) == [
        "companies.startup-1..50.cash: Input should be a valid number (got 'lots')"
    ]


# --- scale ---------------------------------------------------------------------------------


def test_the_firm_count_is_limited():
    data = small()
    data["companies"].append({"archetype": "startup", "count": MAX_FIRMS})
    assert errors_of(data) == [
        f"companies.4.count: takes the companies past the limit of {MAX_FIRMS:,} firms "
        f"(got {MAX_FIRMS:,})"
    ]
    data = small()
    data["companies"].append({"archetype": "startup", "count": MAX_FIRMS - 104})
    data["market"]["entry"] = {"base_rate": 0.1, "max_firms": 50}
    data["events"] = [{"step": 2, "kind": "entry_wave", "archetype": "giant", "count": 60}]
    assert errors_of(data) == [
        f"companies: {MAX_FIRMS - 100:,} companies + 60 entry-wave entrants + "
        f"market.entry.max_firms 50 exceed the limit of {MAX_FIRMS:,} firms in one scenario"
    ]


def test_the_largest_firm_count_validates():
    data = small()
    data["companies"].append({"archetype": "startup", "count": MAX_FIRMS - 4})
    assert len(parse_scenario(data).companies) == MAX_FIRMS


# --- YAML ----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def read_error(path) -> str:
    with pytest.raises(ScenarioError) as error:
        read_yaml(path)
    (line,) = error.value.lines
    return line


def test_a_duplicate_key_names_the_key_and_both_lines(tmp_path):
    text = "name: x\nsteps: 3\nmarket:\n  price_cap: 2\n  brand_decay: 0.1\n  price_cap: 3\n"
    line = read_error(write(tmp_path, text))
    assert line.endswith(
        "scenario.yaml: line 6, column 3: invalid YAML "
        "(duplicate key 'price_cap' (first on line 4))"
    )


def test_merge_keys_may_still_be_overridden(tmp_path):
    text = "base: &b {cash: 1, brand: 2}\nfirm:\n  <<: *b\n  cash: 5\n"
    assert read_yaml(write(tmp_path, text))["firm"] == {"cash": 5, "brand": 2}


def test_keys_that_collide_as_values_are_duplicates():
    with pytest.raises(yaml.YAMLError, match="duplicate key '1.0'"):
        load_yaml("{1: a, 1.0: b}")


@pytest.mark.parametrize(
    "text",
    [
        "[" * 200_000 + "]" * 200_000,
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "x",
        "a: " + "{b: " * 1000 + "1" + "}" * 1000,
    ],
    ids=["flow", "block", "mapping"],
)
def test_deep_nesting_is_refused_quickly(tmp_path, text):
    start = time.perf_counter()
    line = read_error(write(tmp_path, text))
    assert time.perf_counter() - start < 2.0
    assert "invalid YAML" in line and ("nest" in line or "depth" in line), line


def alias_bomb(levels: int = 9, indent: str = "") -> str:
    lines = [f"{indent}l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*l{i - 1}"] * 10)
        lines.append(f"{indent}l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text",
    [
        alias_bomb(),
        "name: x\nmarket:\n  segments:\n    deep:\n" + alias_bomb(indent="      "),
        "a: &a {k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1}\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} {{"
            + ", ".join(f"k{j}: *{chr(97 + i)}" for j in range(8))
            + "}\n"
            for i in range(8)
        ),
        "a: &a [x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} {{"
            + ", ".join(f"? [*{chr(97 + i)}, {j}] : 1" for j in range(8))
            + "}\n"
            for i in range(8)
        ),
    ],
    ids=["lists", "nested-in-keys", "mappings", "as-keys"],
)
def test_alias_bombs_are_refused_quickly_with_bounded_memory(tmp_path, text):
    path = write(tmp_path, text)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        line = read_error(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 5.0
    assert peak < 200e6
    assert f"more than {MAX_NODES:,} values" in line or "unhashable" in line, line


def test_an_alias_inside_itself_is_refused(tmp_path):
    line = read_error(write(tmp_path, "a: &a [1, *a]\n"))
    assert "alias *a refers to a node containing it" in line


def test_dev_zero_and_huge_files_are_refused_quickly(tmp_path):
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as stream:  # 100 MB, sparse
        stream.truncate(100 * 1024 * 1024)
    for path in ("/dev/zero", huge):
        if not Path(path).exists():
            continue
        start = time.perf_counter()
        line = read_error(path)
        assert time.perf_counter() - start < 2.0
        assert f"larger than {MAX_FILE_BYTES:,} bytes" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: " + "9" * 5000 + "\n", "line 1, column 4: invalid YAML (cannot read the value"),
        ("a: 2024-13-45\n", "invalid YAML (cannot read the value '2024-13-45' (month must be"),
        ("a: !!float abc\n", "invalid YAML (cannot read the value 'abc'"),
        ("a: !!python/object:os.system ls\n", "could not determine a constructor"),
        ("a: 1\n---\nb: 2\n", "but found another document"),
        ("a: \x00\n", "line 1, column 4: invalid YAML (character #x0000 is not allowed"),
        ("a: [1,\n b: c\n", "invalid YAML"),
        ("a: *nope\n", "found undefined alias 'nope'"),
    ],
)
def test_bad_yaml_values_are_one_line_errors(tmp_path, text, expected):
    line = read_error(write(tmp_path, text))
    assert expected in line, line


def test_unreadable_files_are_one_line_errors(tmp_path):
    assert read_error(tmp_path).endswith("is a folder, not a YAML file")
    assert read_error(tmp_path / "missing.yaml").endswith("no such file")
    binary = tmp_path / "latin1.yaml"
    binary.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert "not UTF-8 text: byte 9 is 0xe9" in read_error(binary)
    empty = write(tmp_path, "")
    with pytest.raises(ScenarioError, match=r"\(top level\): the scenario is empty"):
        load_scenario(empty)


def test_read_yaml_keeps_its_signature_for_the_sweep_loader(tmp_path):
    class SpecError(ScenarioError):
        pass

    with pytest.raises(SpecError):
        read_yaml(write(tmp_path, "a: 1\na: 2\n"), SpecError)
    assert list(typing.get_type_hints(read_yaml)) == ["path", "error", "return"]


def test_both_yaml_parsers_read_the_shipped_files_as_pyyaml_does():
    for path in sorted(Path("scenarios").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert load_yaml(text) == load_yaml(text, fast=False) == yaml.safe_load(text), path


def test_a_mapping_built_in_python_that_contains_itself_is_refused():
    data = small()
    data["archetypes"] = {"loop": {}}
    data["archetypes"]["loop"]["strategy"] = data["archetypes"]
    assert errors_of(data) == ["(top level): nested deeper than 64 levels"]


# --- the command ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "run"])
def test_the_command_exits_2_with_one_line_per_problem(tmp_path, capsys, command):
    path = write(tmp_path, yaml.safe_dump(small(steps=True)).replace("size: 10.0", "size: .nan"))
    args = [command, str(path)] + (["--out", str(tmp_path / "out")] if command == "run" else [])
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert any(
        line.endswith("market.segments.assistant.size: Input should be a finite number (got nan)")
        for line in err
    )
    assert any(line.endswith("steps: Input should be a valid integer (got True)") for line in err)
    assert not (tmp_path / "out").exists()


def test_the_readme_documents_the_limits():
    readme = Path("README.md").read_text(encoding="utf-8")
    section = readme.split("### Scenario files", 1)[1].split("\n## ", 1)[0]
    for text in (
        f"{MAX_FIRMS:,}",
        f"{MAX_FILE_BYTES // (1024 * 1024)} MiB",
        f"{MAX_NODES:,}",
        f"{MAX_DEPTH}",
        f"{MAX_PROJECTED_SIZE:.0e}".replace("+", ""),
    ):
        assert text in section, text
