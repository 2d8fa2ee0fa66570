"""`llm-market compare` and `run --seeds`: difference paths, paired-seed effects, firm colours
that stay put across runs and pages, and one-line errors for folders it cannot compare."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulator import dashboard
from simulator.cli import main
from simulator.dashboard import compare
from simulator.results import read_run
from tests.test_dashboard import TINY_SCENARIO


def scenario_file(tmp_path, name: str, **changes) -> str:
    import yaml

    data = copy.deepcopy(TINY_SCENARIO) | {"name": name, **changes}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two single runs (tiny, and tiny with Cheap cheaper and a firm more) and two seed sets."""
    tmp = tmp_path_factory.mktemp("compare")
    base = scenario_file(tmp, "base")
    companies = copy.deepcopy(TINY_SCENARIO["companies"])
    companies[1]["unit_cost"] = 0.3
    companies.append({"name": "Newco", "unit_cost": 0.7, "strategy": {"pricing": "cost_plus"}})
    other = scenario_file(tmp, "other", companies=companies)
    out = {}
    for name, path in (("a", base), ("b", other)):
        assert main(["run", path, "--out", str(tmp / name), "--quiet", "--no-dashboard"]) == 0
        seeds = ["--seeds", "4", "--seed", "7"]
        assert main(["run", path, "--out", str(tmp / f"{name}4"), "--quiet", *seeds]) == 0
        out[name], out[f"{name}4"] = tmp / name, tmp / f"{name}4"
    return out


def test_seeds_writes_one_run_folder_per_seed_and_a_manifest(folders):
    manifest = json.loads((folders["a4"] / "seeds.json").read_text())
    assert manifest["seeds"] == [7, 8, 9, 10]
    for seed in manifest["seeds"]:
        run = read_run(folders["a4"] / f"seed-{seed}")
        assert run.summary["seed"] == seed
        assert (folders["a4"] / f"seed-{seed}" / "dashboard.html").is_file()


def test_difference_paths_are_the_per_firm_differences_of_the_two_tables(folders):
    a, b = read_run(folders["a"]), read_run(folders["b"])
    difference, pairs = compare.difference_paths(
        compare.load_input(folders["a"]), compare.load_input(folders["b"])
    )
    assert pairs == 1  # both ran with the scenario's seed
    for firm in ("Big", "Cheap", "Lab", "Newco"):
        share_a = a.firms[a.firms["firm"] == firm].set_index("step")["share"]
        share_b = b.firms[b.firms["firm"] == firm].set_index("step")["share"]
        steps = a.model["step"]
        expected = share_b.reindex(steps).fillna(0.0) - share_a.reindex(steps).fillna(0.0)
        np.testing.assert_allclose(difference[f"share.{firm}"].to_numpy(), expected.to_numpy())
    price = (
        b.firms[b.firms["firm"] == "Cheap"].set_index("step")["price"]
        - a.firms[a.firms["firm"] == "Cheap"].set_index("step")["price"]
    )
    np.testing.assert_allclose(difference["price.Cheap"].to_numpy(), price.to_numpy())
    np.testing.assert_allclose(
        difference["hhi"].to_numpy(), b.model["hhi"].to_numpy() - a.model["hhi"].to_numpy()
    )
    surplus = [
        (run.firms["revenue"] - run.firms["unit_cost"].fillna(0) * run.firms["quantity"])
        .groupby(run.firms["step"])
        .sum()
        for run in (a, b)
    ]
    np.testing.assert_allclose(difference["producer_surplus"], surplus[1] - surplus[0])


def test_paired_effects_match_a_direct_paired_t_interval(folders):
    base, other = compare.load_input(folders["a4"]), compare.load_input(folders["b4"])
    effects = compare.paired_effects(base, other).set_index("metric")
    d = []
    for seed in (7, 8, 9, 10):
        a = read_run(folders["a4"] / f"seed-{seed}").model["consumer_surplus"].sum()
        b = read_run(folders["b4"] / f"seed-{seed}").model["consumer_surplus"].sum()
        d.append(b - a)
    d = np.array(d)
    half = stats.t.ppf(0.95, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    row = effects.loc["total consumer surplus"]
    assert row["n"] == 4
    np.testing.assert_allclose(
        [row["effect"], row["low"], row["high"]], [d.mean(), d.mean() - half, d.mean() + half]
    )
    share = effects.loc["final share Cheap"]
    final = [
        read_run(folders[k] / f"seed-{seed}").firms.query("firm == 'Cheap'")["share"].iloc[-1]
        for seed in (7, 8, 9, 10)
        for k in ("a4", "b4")
    ]
    np.testing.assert_allclose(share["effect"], np.mean(np.diff(np.reshape(final, (4, 2)))))
    # no two seeds in common, no effects
    assert compare.paired_effects(base, compare.load_input(folders["b"])).empty


def test_compare_page_states_the_method_the_mismatched_firms_and_the_effects(folders, tmp_path):
    out = tmp_path / "page.html"
    assert main(["compare", str(folders["a4"]), str(folders["b4"]), "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count('<script type="text/javascript">') == 1  # plotly.js inlined once
    assert "90% t interval" in page and "paired seeds" in page
    assert "has firms not in every input: Newco" in page
    assert '"role":"effects"' in page.replace(" ", "")


def test_a_firm_keeps_its_colour_across_runs_and_pages(folders):
    a = dashboard.load_run(folders["a"])
    b = dashboard.load_run(folders["b"])  # another firm set: Newco is there too
    first, second = dashboard.run_colors(a), dashboard.run_colors(b)
    for firm in ("Big", "Cheap", "Lab"):
        assert first[firm] == second[firm] == dashboard.colors.preferred_color(firm)
    share_a = dashboard.share_figure(a, events=[])
    figures, _ = compare.compare_figures(
        [compare.load_input(folders["a"]), compare.load_input(folders["b"])]
    )
    compare_colors = {t.meta["firm"]: t.line.color for t in figures[0].data}
    run_colors = {t.meta["firm"]: t.fillcolor for t in share_a.data if "firm" in (t.meta or {})}
    assert all(compare_colors[firm] == color for firm, color in run_colors.items())


def test_colliding_names_are_resolved_the_same_way_whatever_the_order():
    palette = dashboard.FIRM_PALETTE
    names = [f"firm{i}" for i in range(200)]
    by_slot: dict[str, list[str]] = {}
    for name in names:
        by_slot.setdefault(dashboard.colors.preferred_color(name), []).append(name)
    clash = next(group for group in by_slot.values() if len(group) >= 2)[:2]
    colors = dashboard.firm_colors(clash)
    assert colors == dashboard.firm_colors(reversed(clash))
    assert colors[min(clash)] == dashboard.colors.preferred_color(min(clash))
    assert colors[max(clash)] != colors[min(clash)] and colors[max(clash)] in palette


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "missing", "no such folder"),
        (lambda tmp: tmp, "not a run folder, a `run --seeds` folder or a sweep folder"),
    ],
)
def test_bad_folders_are_one_line_and_exit_2(tmp_path, capsys, folders, make, message):
    (tmp_path / "stray.txt").write_text("x")
    code = main(
        ["compare", str(folders["a"]), str(make(tmp_path)), "--out", str(tmp_path / "p.html")]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "p.html").exists()


def test_one_folder_or_an_out_folder_is_refused(tmp_path, capsys, folders):
    assert main(["compare", str(folders["a"]), "--out", str(tmp_path / "p.html")]) == 2
    assert "at least two folders" in capsys.readouterr().err
    assert main(["compare", str(folders["a"]), str(folders["b"]), "--out", str(tmp_path)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_seeds_out_of_range_is_one_line(tmp_path, capsys):
    path = scenario_file(tmp_path, "s")
    assert main(["run", path, "--seeds", "1", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "--seeds: must be 2 to 1,000" in capsys.readouterr().err


def test_a_seed_set_may_replace_a_run_and_back(tmp_path, folders):
    path = scenario_file(tmp_path, "swap")
    out = tmp_path / "swap"
    common = ["--out", str(out), "--quiet", "--no-dashboard"]
    assert main(["run", path, *common]) == 0
    assert main(["run", path, "--seeds", "2", *common]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["seed-5", "seed-6", "seeds.json"]
    assert main(["run", path, *common]) == 0
    assert (out / "summary.json").is_file() and not (out / "seeds.json").exists()


def test_sweep_folders_pair_by_seed(tmp_path):
    import yaml

    scenario = scenario_file(tmp_path, "sw", steps=8)
    spec = {"name": "s", "scenario": scenario, "replications": 3, "seed": 3,
            "outcomes": ["final_hhi"], "executor": "serial"}  # fmt: skip
    for name in ("s1", "s2"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(spec))
        args = ["sweep", str(tmp_path / f"{name}.yaml"), "--out", str(tmp_path / name), "--quiet"]
        assert main(args) == 0
    base, other = (compare.load_input(tmp_path / name) for name in ("s1", "s2"))
    assert base.kind == "sweep" and len(base.paths) == 3 and set(base.paths) == set(other.paths)
    effects = compare.paired_effects(base, other)
    np.testing.assert_allclose(effects["effect"], 0.0)  # the same sweep twice: no effect
    assert (effects["n"] == 3).all()
    difference, pairs = compare.difference_paths(base, other)
    assert pairs == 3 and "price.Big" not in difference and (difference["hhi"] == 0).all()


def test_mean_paths_count_an_absent_firm_as_zero_share():
    one = pd.DataFrame({"share.A": [0.5, 0.5]}, index=[1, 2])
    two = pd.DataFrame({"share.A": [0.2, 0.4], "share.B": [0.8, 0.6]}, index=[1, 2])
    item = compare.Input(path=__import__("pathlib").Path("x"), kind="seed set", scenario="x",
                         unit="month", paths={1: one, 2: two})  # fmt: skip
    means = compare.mean_paths(item)
    np.testing.assert_allclose(means["share.B"], [0.4, 0.3])
    np.testing.assert_allclose(means["share.A"], [0.35, 0.45])
