"""The shape of the code: module sizes, no import cycles, one registry mechanism per decision,
one handler per event kind, the market state's row bookkeeping, the output schema."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import numpy as np
import pytest

from simulator import schema, simulate
from simulator.config import ScenarioError, parse_scenario
from simulator.config.schema import _strategy_model
from simulator.market.events import EVENTS
from simulator.market.state import FIRM_MATRICES, FIRM_VECTORS, MarketState
from simulator.market.strategy import DECISIONS, PRICING, PricingRule
from simulator.market.strategy.open_source_rule import rivals_median
from tests.conftest import SMALL_SCENARIO, segment_params

PACKAGE = Path(__file__).resolve().parents[1] / "simulator"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> project modules it imports (lazy and TYPE_CHECKING imports included)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                # a module may import its own parent package (simulator) but not the reverse
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_600_lines_and_a_short_model():
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {str(p): n for p, n in sizes.items() if n > 600} == {}
    assert sizes[PACKAGE / "model.py"] <= 300


def test_market_package_never_imports_mesa_or_config():
    graph = import_graph()
    for module, imports in graph.items():
        if module.startswith("simulator.market"):
            assert not any(i.startswith(("simulator.config", "simulator.model")) for i in imports)
    for path in (PACKAGE / "market").rglob("*.py"):
        assert "import mesa" not in path.read_text(encoding="utf-8"), path


# --- decisions: one registry mechanism ------------------------------------------------------


def test_every_decision_is_a_strategy_field_with_its_rules_parameters():
    fields = _strategy_model().model_fields
    for registry in DECISIONS:
        assert fields[registry.key].default == registry.default
        for rule in registry.rules.values():
            for name, info in rule.Params.model_fields.items():
                assert fields[name].default == info.default, name
                assert rule.name in fields[name].description


def test_unknown_rule_names_the_decision_and_the_known_rules():
    data = copy.deepcopy(SMALL_SCENARIO)
    data["companies"][0]["strategy"] = {"focus": "wander", "link_rule": "telepathy"}
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data)
    assert "companies.Big.strategy.focus: unknown focus rule 'wander'; known: differentiate" in (
        str(error.value)
    )
    assert "unknown link rule 'telepathy'; known: farsighted, gain_seeking, none" in str(
        error.value
    )


@pytest.mark.parametrize(
    ("where", "old", "new"),
    [
        (("companies", 0, "strategy"), "open_source", "open_source_rule"),
        (("companies", 0, "strategy"), "links", "link_types"),
        (("companies", 0, "strategy"), "network", "link_rule"),
        (("companies", 0), "open_source", "open_weights"),
        (("market",), "open_source", "open_model"),
    ],
)
def test_renamed_keys_say_their_new_name(where, old, new):
    data = copy.deepcopy(SMALL_SCENARIO)
    node = data
    for key in where:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[old] = {} if old == "open_source" and where == ("market",) else "never"
    with pytest.raises(ScenarioError, match=f"unknown key \\(renamed to `{new}`\\)"):
        parse_scenario(data)


def test_a_new_rule_is_one_class(small_scenario):
    """Register a pricing rule in a test and use it in a scenario at once."""

    class Sticky(PricingRule):
        name = "sticky_test_rule"
        description = "keep last step's price"

        def prices(self, view, firms, params):
            return view.prices[firms]

    PRICING.register(Sticky)
    try:
        small_scenario["companies"][0]["strategy"]["pricing"] = "sticky_test_rule"
        small_scenario["companies"][0]["initial_price"] = 2.5
        firms = simulate(small_scenario).firms
        assert (firms.loc[firms.firm == "Big", "price"] == 2.5).all()
        assert "sticky_test_rule" in _strategy_model().model_fields["pricing"].description
    finally:
        del PRICING.rules["sticky_test_rule"]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8])
def test_rivals_median_is_the_median_of_the_others(n):
    rng = np.random.default_rng(n)
    for values in (rng.uniform(size=n), rng.integers(0, 3, size=n).astype(float)):
        expected = [np.median(np.delete(values, i)) if n > 1 else np.nan for i in range(n)]
        np.testing.assert_array_equal(rivals_median(values), expected)


# --- events: one handler per kind -----------------------------------------------------------


def test_every_event_kind_has_a_model_a_handler_and_a_schema_entry():
    from simulator.config import json_schema

    text = str(json_schema())
    for kind, (model, handler) in EVENTS.items():
        assert model.model_fields["kind"].annotation.__args__ == (kind,)
        assert callable(handler)
        assert f"'const': '{kind}'" in text or f"'enum': ['{kind}']" in text


def test_an_event_without_a_known_kind_lists_every_kind():
    data = copy.deepcopy(SMALL_SCENARIO)
    data["events"] = [{"step": 1}]
    with pytest.raises(ScenarioError, match="needs a `kind` \\(" + ", ".join(EVENTS)):
        parse_scenario(data)


# --- the market state --------------------------------------------------------------------


def empty_state(segments: int = 2) -> MarketState:
    return MarketState(
        segment_names=[f"s{i}" for i in range(segments)],
        seg=segment_params(segments),
        size=np.ones(segments),
        growth=np.zeros(segments),
        cost_index=1.0,
        compute_price=1.0,
        learning_output_scale=100.0,
    )


def test_state_rows_stay_aligned_when_firms_enter_and_exit():
    state = empty_state()
    for k, name in enumerate("ABCD"):
        state.add_firm(
            name,
            "",
            {"price": k + 1.0, "quality": [k, -k], "base_cost": 1.0},
            {"pricing": "undercut"},
            {"undercut_by": 0.1 * (k + 1), "link_types": ["alliance"] * k},
        )
    assert set(state.columns) == set(FIRM_VECTORS) | set(FIRM_MATRICES)
    state.remove_firms(np.array([0, 2]))
    assert state.names == ["B", "D"]
    np.testing.assert_array_equal(state.price, [2.0, 4.0])
    np.testing.assert_array_equal(state.quality, [[1, -1], [3, -3]])
    np.testing.assert_allclose(state.params["undercut_by"], [0.2, 0.4])
    assert list(state.params["link_types"]) == [["alliance"], ["alliance"] * 3]
    assert state.row("D") == 1 and list(state.group("pricing", "undercut")) == [0, 1]
    state.price = [5.0, 6.0]  # assignment writes into the column
    assert state.columns["price"].tolist() == [5.0, 6.0]


# --- the output schema ----------------------------------------------------------------------


def test_recorded_tables_have_exactly_the_schema_columns(small_scenario):
    small_scenario["links"] = [{"source": "Big", "target": "Cheap", "type": "alliance"}]
    small_scenario["market"]["network"] = {"rivalry": 0.0, "cost": {"alliance": 0.0}}
    result = simulate(small_scenario)
    for table in schema.TABLES:
        assert list(getattr(result, table).columns) == schema.column_names(table), table
    assert len(result.edges) > 0


def test_readme_tables_are_the_generated_ones():
    """README blocks between markers are generated: `python -m simulator.schema README.md`."""
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    for name, content in schema.readme_blocks().items():
        block = f"<!-- {name}:start -->\n{content}\n<!-- {name}:end -->"
        assert block in readme, f"README's {name} block is stale: python -m simulator.schema"


def test_require_names_the_missing_column():
    with pytest.raises(KeyError, match="model table has no column\\(s\\) hhhi"):
        schema.require("model", ["hhi", "hhhi"])


def test_a_step_allocates_less_than_one_firms_by_firms_matrix():
    """Memory linear in firms: with 3,000 firms a step's peak allocation stays below a single
    F x F float matrix (the network phase once built several)."""
    import tracemalloc

    from simulator.model import MarketModel

    n = 3000
    data = {
        "name": "scale",
        "steps": 2,
        "market": {
            "quality_model": "placeholder",
            "entry": {"max_firms": n},
            "segments": [{"name": "a", "size": 1000.0}],
        },
        "companies": [
            {
                "archetype": "startup",
                "count": n,
                "strategy": {"pricing": "best_response", "link_types": ["joint_rd", "alliance"]},
            }
        ],
    }
    model = MarketModel(data)
    model.step()  # warm up caches and lazy imports
    tracemalloc.start()
    model.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert model.state.n_firms == n
    assert peak < n * n * 8, f"peak {peak / 1e6:.0f} MB for {n} firms"
