"""Fuzzing: structured mutations of the shipped scenarios and of a small one never crash.

Hypothesis mutates scenarios (scenarios/*.yaml and tests.conftest.SMALL_SCENARIO): wrong
types, missing and extra keys, NaN / infinite / huge / negative numbers, odd names, shared
objects (what YAML aliases make), cycles, deep nesting, events out of range; and the YAML
text itself (duplicate keys, anchors and aliases, alias bombs, stray characters). Each case
must end in a valid Scenario or a ScenarioError whose every line is one line naming a field
path, never another exception. A share of the valid cases is simulated for 3 steps (with the
placeholder quality model or the scenario's own, the zoo), and its outputs must be finite.
A few dozen cases also go through
``llm-market validate`` in-process: exit code 0 or 2, one line per problem on stderr.

The default run is 1,040 cases, derandomised (the same cases every run); set FUZZ_SCALE=10
(or more) for a longer, randomised search.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simulator.cli import main
from simulator.config import Scenario, ScenarioError, parse_scenario, read_yaml
from simulator.config.errors import name_part, one_line
from simulator.market.events import EVENT_KINDS
from simulator.market.open_source import OPEN_MODEL
from simulator.model import simulate
from tests.conftest import SMALL_SCENARIO

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
SHIPPED = {p.stem: read_yaml(p) for p in sorted(Path("scenarios").glob("*.yaml"))}
TEXTS = {p.stem: p.read_text(encoding="utf-8") for p in sorted(Path("scenarios").glob("*.yaml"))}
BASES = {**SHIPPED, "small": SMALL_SCENARIO}
TEXTS["small"] = yaml.safe_dump(SMALL_SCENARIO, sort_keys=False)


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=SCALE == 1,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


# --- hostile values ---------------------------------------------------------------------

NUMBERS = [
    math.nan,
    math.inf,
    -math.inf,
    float("1e400"),
    1e308,
    -1e308,
    1e300,
    1e16,
    1e13,
    1e12,
    1e6,
    -1.0,
    -1e-9,
    0.0,
    -0.0,
    5e-324,
    1e-300,
    0.5,
    1.5,
    2**63,
    10**30,
    -(10**30),
    10**400,
    0,
    -1,
    1,
    3,
    True,
    False,
]
TEXTS_ODD = [
    "",
    "3",
    "1e3",
    "nan",
    "true",
    "a\nb",
    "a\rb",
    "x" * 300,
    "\U0001f4a5",
    "a.b",
    " a",
    "a ",
    "\u2028",
    "\x00",
    "\t",
    "kind",
    "name",
    "../x",
    "startup",
    "giant",
    "assistant",
    "code",
    "startup-e1",
    "A",
    "best_response",
    "undercut",
    "joint_rd",
    "zoo",
    "placeholder",
]
CONTAINERS = [
    [],
    {},
    [1, 2],
    [1e21, 1e26],
    [1e26, 1e21],
    {"a": 1},
    [[[]]],
    {"kind": "bogus"},
    [None],
    {"name": "x"},
    {"name": "x", "unit_cost": 1.0},
    {"archetype": "startup", "count": 3},
    {"archetype": "startup", "count": 10_001},
    {"step": 1, "kind": "entry_wave", "archetype": "startup", "count": 1000},
]
KEYS = [
    "stepz",
    "Name",
    "kind",
    "count",
    "archetype",
    "open_source",
    "name",
    "unit_cost",
    "price_cap",
    "initial_price",
    "strategy",
    "quality",
    "data_mix",
    "segment",
    "firm",
    "firms",
    "",
    "a.b",
    "x\ny",
    "<<",
    "1",
]

BOUNDARY = [
    1e12,
    -1e12,
    1e15,
    1e6,
    1e-6,
    1e40,
    0.999999,
    1.0,
    100,
    1000,
    10_000,
    100_000,
    2**63 - 1,
]
"""Values at or near the documented limits: valid in some fields, so that runs see them."""

hostile = st.one_of(
    st.sampled_from(NUMBERS),
    st.sampled_from(TEXTS_ODD),
    st.sampled_from(CONTAINERS).map(copy.deepcopy),
    st.none(),
    st.floats(),
    st.integers(),
    st.text(max_size=12),
)


def events(steps: int) -> st.SearchStrategy[dict]:
    """An event dict with any kind, a step in or out of range, and hostile fields."""
    return st.fixed_dictionaries(
        {
            "kind": st.sampled_from([*EVENT_KINDS, "bogus"]),
            "step": st.sampled_from([0, 1, 2, steps, steps + 1, -1, 10**9, True, 1.5, "2"]),
        },
        optional={
            "factor": st.sampled_from([0.5, 2.0, 0.0, -1.0, 1e-7, 1e7, math.nan, math.inf]),
            "segment": st.sampled_from(["assistant", "code", "chinese", "nope", 3]),
            "size_factor": st.sampled_from([2.0, 1e6, 1e-6, 0.0, math.inf]),
            "growth": st.sampled_from([0.1, 1.0, -1.0, 2.0, None, math.nan]),
            "unit_cost_add": st.sampled_from([0.1, 1e7, -1.0, math.inf]),
            "data_cap": st.sampled_from([{"chinese": 0.1}, {"nope": 0.1}, {"code": 2.0}, {}]),
            "firms": st.sampled_from([None, [], ["Nope"], ["Big"], "Big"]),
            "firm": st.sampled_from(["Big", "Frontier", "Nope", None, 3]),
            "archetype": st.sampled_from(["startup", "giant", "nope", "lab", None]),
            "count": st.sampled_from([1, 5, 1000, 1001, 0, True]),
            "label": hostile,
        },
    )


# --- paths into a scenario ---------------------------------------------------------------


def paths(data: Any, limit: int = 4000) -> list[tuple]:
    """Every path (keys and list indices) to a node of ``data``, the root first; shared and
    cyclic structures are entered once."""
    out: list[tuple] = [()]
    stack = [((), data)]
    seen = {id(data)}
    while stack and len(out) < limit:
        path, node = stack.pop()
        children = (
            list(node.items())
            if isinstance(node, dict)
            else list(enumerate(node))
            if isinstance(node, list)
            else []
        )
        for key, child in children:
            out.append((*path, key))
            if isinstance(child, (dict, list)) and id(child) not in seen:
                seen.add(id(child))
                stack.append(((*path, key), child))
    return out


def get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


def put(data: Any, path: tuple, value: Any) -> Any:
    """``data`` with ``value`` at ``path`` (the root itself when the path is empty)."""
    if not path:
        return value
    get(data, path[:-1])[path[-1]] = value
    return data


@st.composite
def mutation(draw, data: Any) -> Any:
    """One structured mutation of ``data`` (changed in place where possible)."""
    where = draw(st.sampled_from(paths(data)))
    node = get(data, where)
    kind = draw(
        st.sampled_from(
            [
                "replace",
                "replace",
                "number",
                "boundary",
                "boundary",
                "delete",
                "add_key",
                "duplicate_item",
                "share",
                "nest",
                "event",
                "stringify",
            ]
        )
    )
    if kind == "replace":
        return put(data, where, draw(hostile))
    if kind == "number":
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            factor = draw(st.sampled_from([-1, 0, 1e6, 1e12, 1e300, 1e-300, 1.5, math.nan]))
            try:
                value = node * factor
            except OverflowError:
                value = math.inf
            return put(data, where, value)
        return put(data, where, draw(st.sampled_from(NUMBERS)))
    if kind == "boundary" and isinstance(node, (int, float)) and not isinstance(node, bool):
        return put(data, where, draw(st.sampled_from(BOUNDARY)))
    if kind == "delete" and where:
        parent = get(data, where[:-1])
        del parent[where[-1]]
        return data
    if kind == "add_key" and isinstance(node, dict):
        node[draw(st.sampled_from(KEYS) | st.text(max_size=8))] = draw(hostile)
        return data
    if kind == "duplicate_item" and isinstance(node, list) and node:
        node.append(copy.deepcopy(draw(st.sampled_from(node))))
        return data
    if kind == "share":  # two places hold one object, as after a YAML alias (maybe a cycle)
        source = get(data, draw(st.sampled_from(paths(data))))
        return put(data, where, source)
    if kind == "nest":
        value = node
        for _ in range(draw(st.integers(1, 80))):
            value = [value] if draw(st.booleans()) else {"a": value}
        return put(data, where, value)
    if kind == "event" and isinstance(data, dict):
        steps = data.get("steps") if isinstance(data.get("steps"), int) else 10
        listed = data.get("events")
        if not isinstance(listed, list):
            listed = data["events"] = []
        listed.append(draw(events(steps)))
        return data
    if kind == "stringify" and isinstance(node, (int, float, bool)):
        return put(data, where, str(node))
    return put(data, where, draw(hostile))


@st.composite
def mutated(draw, names: list[str]) -> tuple[str, Any]:
    name = draw(st.sampled_from(names))
    data = copy.deepcopy(BASES[name])
    for _ in range(draw(st.integers(1, 3))):
        data = draw(mutation(data))
    return name, data


# --- the property ------------------------------------------------------------------------

FINITE_COLUMNS = {
    "firms": ["price", "quantity", "revenue", "cash", "unit_cost", "brand", "model_compute"],
    "model": ["hhi", "price_index", "consumer_surplus", "total_demand", "total_sales"],
}


def assert_error_lines(lines: list[str], data: Any) -> None:
    """Every line is one line and starts with a field path: under a key the input has or a
    scenario field (a missing one), or (top level)."""
    assert lines
    given_keys = [one_line(name_part(k)) for k in data] if isinstance(data, dict) else []
    keys = [*given_keys, *Scenario.model_fields]
    for line in lines:
        assert isinstance(line, str) and len(line.splitlines()) == 1, repr(line)
        assert ": " in line, line
        assert line.startswith("(top level): ") or any(
            line.startswith(f"{k}.") or line.startswith(f"{k}: ") for k in keys
        ), (line, keys)


def run_short(data: dict, placeholder: bool) -> None:
    """Simulate a valid scenario for at most 3 steps (events later than that dropped), with
    the placeholder quality model or the scenario's own (the zoo, mostly); the outputs must be
    finite."""
    short = copy.deepcopy(data)
    short["steps"] = min(short["steps"], 3)
    if placeholder:  # the placeholder has no data axis: data stocks are not modelled with it
        short["market"]["quality_model"] = "placeholder"
        short["market"]["data"] = None
        for company in short["companies"]:
            company["strategy"]["data_budget"] = "none"
    short["events"] = [e for e in short["events"] if e["step"] <= short["steps"]]
    result = simulate(parse_scenario(short))  # dropping later events keeps it valid
    for table, columns in FINITE_COLUMNS.items():
        frame = getattr(result, table)
        if table == "firms":  # the open model's row is a product: no cash, costs or links
            frame = frame[frame["firm"] != OPEN_MODEL]
        for column in columns:
            values = frame[column].to_numpy(dtype=float)
            assert np.isfinite(values).all(), f"{table}.{column} not finite"


def check(data: Any, simulate_it: int) -> bool:
    """The fuzz property for one case; True if the scenario was valid. ``simulate_it`` 1: run
    it with the placeholder quality model, 2: with its own; else do not run it."""
    try:
        scenario = parse_scenario(data)
    except ScenarioError as exc:
        assert_error_lines(exc.lines, data)
        event("outcome: ScenarioError")
        return False
    if simulate_it in (1, 2):
        run_short(scenario.model_dump(mode="json"), placeholder=simulate_it == 1)
    event(f"outcome: valid{', simulated' if simulate_it in (1, 2) else ''}")
    return True


@fuzz_settings(500)
@given(case=mutated(sorted(SHIPPED)), simulate_it=st.integers(0, 3))
def test_mutated_shipped_scenarios_validate_or_fail_one_line_per_problem(case, simulate_it):
    check(case[1], simulate_it)


@fuzz_settings(300)
@given(case=mutated(["small"]), simulate_it=st.integers(0, 3))
def test_mutated_small_scenarios_validate_or_fail_one_line_per_problem(case, simulate_it):
    check(case[1], simulate_it)


# --- the YAML text -----------------------------------------------------------------------

BOMB = "".join(
    f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}" if i else "x"] * 10) + "]\n" for i in range(8)
)
SNIPPETS = [
    "{",
    "[",
    "]",
    ":",
    ": ",
    "&a ",
    "*a",
    "*zz",
    "!!float ",
    "!!python/object ",
    "%",
    "'",
    '"',
    "\t",
    "\x00",
    "\n---\n",
    "<<: *a\n",
    "\n  ",
    "- ",
    ".nan",
    "1e400",
    "9" * 5000,
    "2024-13-45",
    "[" * 300,
    "\ufeff",
]


@st.composite
def mutated_text(draw) -> str:
    name = draw(st.sampled_from(sorted(TEXTS)))
    lines = TEXTS[name].splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(
            st.sampled_from(["duplicate", "alias", "snippet", "delete", "bomb", "nest", "value"])
        )
        line = lines[i]
        if kind == "duplicate" and ":" in line:  # the same key twice in one mapping
            lines.insert(i + 1, line)
        elif kind == "alias":
            j = draw(st.integers(0, len(lines) - 1))
            if ": " in line and ": " in lines[j] and i != j:
                key, _, value = line.partition(": ")
                lines[i] = f"{key}: &a {value}"
                key_j, _, _ = lines[j].partition(": ")
                lines[j] = f"{key_j}: *a"
        elif kind == "snippet":
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.sampled_from(SNIPPETS)) + line[at:]
        elif kind == "delete" and line:
            at = draw(st.integers(0, len(line) - 1))
            lines[i] = line[:at] + line[at + draw(st.integers(1, 5)) :]
        elif kind == "bomb":
            indent = len(line) - len(line.lstrip())
            lines.insert(i, "\n".join(" " * indent + b for b in BOMB.splitlines()))
        elif kind == "nest" and ": " in line:
            depth = draw(st.integers(10, 200))
            lines[i] = line.partition(": ")[0] + ": " + "[" * depth + "1" + "]" * depth
        elif kind == "value" and ": " in line:
            value = draw(st.sampled_from([".nan", ".inf", "1e400", "-1e400", "true", "'3'", "~"]))
            lines[i] = line.partition(": ")[0] + ": " + value
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


@fuzz_settings(200)
@given(text=mutated_text(), simulate_it=st.integers(0, 5))
def test_mutated_yaml_text_reads_or_fails_one_line(scratch, text, simulate_it):
    path = scratch / "case.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        data = read_yaml(path)
    except ScenarioError as exc:
        (line,) = exc.lines
        assert len(line.splitlines()) == 1 and line.startswith(f"{path}: "), line
        event("outcome: YAML refused")
        return
    check(data, simulate_it)


# --- through the command -----------------------------------------------------------------


@fuzz_settings(40)
@given(case=mutated(sorted(BASES)))
def test_the_validate_command_exits_0_or_2_with_one_line_per_problem(scratch, case):
    path = scratch / "cli.yaml"
    try:
        text = yaml.safe_dump(case[1], sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, RecursionError, ValueError):
        text = "name: [unclosed\n"  # what safe_dump cannot write (it is no YAML) is bad input
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    assert code in (0, 2)
    if code == 0:
        assert out.getvalue().startswith(f"{path}: ok (") and not err.getvalue()
        return
    lines = err.getvalue().splitlines()
    assert lines and not out.getvalue()
    for line in lines:
        assert line.startswith(f"{path}: "), line
        assert ": " in line[len(str(path)) + 2 :], line
