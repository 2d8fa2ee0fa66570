import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from simulator.cli import main
from simulator.config import ScenarioError, load_scenario

GOOD = "scenarios/validation_bertrand.yaml"


def write_yaml(tmp_path, data) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


BAD_CASES = [
    ("unknown key", lambda d: d.update(stepz=3), "stepz: unknown key"),
    ("wrong type", lambda d: d.update(steps="many"), "steps: Input should be a valid integer"),
    ("event without kind", lambda d: d.update(events=[{"step": 1}]), "events.0: needs a `kind`"),
    (
        "negative size",
        lambda d: d["market"]["segments"][0].update(size=-1),
        "market.segments.assistant.size: Input should be greater than 0 (got -1)",
    ),
    (
        "unknown strategy",
        lambda d: d["companies"][0]["strategy"].update(pricing="telepathy"),
        "companies.A.strategy.pricing: unknown pricing rule 'telepathy'",
    ),
    (
        "duplicate firm",
        lambda d: d["companies"][1].update(name="A"),
        "companies.A: duplicate firm name",
    ),
    (
        "quality for missing segment",
        lambda d: d["companies"][0]["quality"].update(video=1.0),
        "companies.A.quality.video: no such segment",
    ),
    (
        "missing field",
        lambda d: d["companies"][0].pop("unit_cost"),
        "companies.A.unit_cost: required field is missing",
    ),
]


@pytest.mark.parametrize(("label", "mutate", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_scenarios_give_one_line_naming_the_field(tmp_path, capsys, label, mutate, expected):
    data = yaml.safe_load(Path(GOOD).read_text(encoding="utf-8"))
    mutate(data)
    path = write_yaml(tmp_path, data)
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(ScenarioError):
        load_scenario(path)


def test_run_with_bad_yaml_exits_2_without_traceback(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nmarket: [unclosed\n")
    proc = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "invalid YAML" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_shipped_scenarios_validate(capsys):
    import glob

    paths = sorted(glob.glob("scenarios/*.yaml"))
    assert "scenarios/baseline.yaml" in paths
    assert main(["validate", *paths]) == 0


def test_schema_is_json_schema_with_documented_fields(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    company = schema["$defs"]["Company"]["properties"]
    assert "unit_cost" in company and company["unit_cost"]["description"]
    undocumented = [
        f"{name}.{field}"
        for name, model in schema["$defs"].items()
        for field, spec in model.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert undocumented == []


def test_run_writes_the_results_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", GOOD, "--out", str(out), "--steps", "30"]) == 0
    assert f"results written to {out}" in capsys.readouterr().out
    for name in (
        "scenario.yaml",
        "model.parquet",
        "firms.parquet",
        "segments.parquet",
        "summary.json",
    ):
        assert (out / name).exists(), name
    firms = pd.read_parquet(out / "firms.parquet")
    assert {"step", "firm", "price", "quantity", "revenue", "profit", "cash", "share"} <= set(
        firms.columns
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 7 and summary["steps"] == 30
    assert set(summary["final_share"]) == {"A", "B"}
    assert load_scenario(out / "scenario.yaml").steps == 30


@pytest.mark.parametrize("scenario", ["scenarios/open_source_wave.yaml", GOOD])
def test_runs_dashboard_is_the_one_rebuilt_from_its_folder(tmp_path, capsys, scenario):
    """`run` draws its dashboard from the result in memory (no read-back of the folder it just
    wrote); `dashboard DIR` draws from the folder: the two pages are the same bytes (entries,
    exits, links and the open model included)."""
    out = tmp_path / "run"
    assert main(["run", scenario, "--out", str(out), "--steps", "60", "--quiet"]) == 0
    assert main(["dashboard", str(out), "--out", str(tmp_path / "again.html")]) == 0
    assert (out / "dashboard.html").read_bytes() == (tmp_path / "again.html").read_bytes()


@pytest.mark.parametrize(
    "command",
    [["simulator.cli", "archetypes"], ["simulator.lm", "zoo", "show"]],
    ids=["archetypes", "lm zoo show"],
)
def test_a_reader_that_closes_the_pipe_gets_no_traceback(command):
    """`llm-market archetypes | head -1`: the command stops quietly when its reader leaves."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    process.stdout.close()  # the reader goes away before the output comes, like `head -0`
    _, stderr = process.communicate(timeout=120)
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr
    assert process.returncode in (0, 1)


def test_the_command_freezes_start_up_objects_only_as_the_command(tmp_path, monkeypatch):
    """`llm-market` is `console_main`: main's exit code, with the objects alive at start-up and
    at the end moved out of the collector's way (gc.freeze); `main` in-process freezes none."""
    import gc
    import tomllib

    from simulator import cli

    scripts = tomllib.loads(Path("pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["llm-market"] == "simulator.cli:console_main"
    gc.unfreeze()
    try:
        assert main(["run", GOOD, "--out", str(tmp_path / "a"), "--no-dashboard"]) == 0
        assert gc.get_freeze_count() == 0
        monkeypatch.setattr(
            sys, "argv", ["llm-market", "run", GOOD, "--out", str(tmp_path / "b"), "--no-dashboard"]
        )
        assert cli.console_main() == 0
        assert gc.get_freeze_count() > 0
        monkeypatch.setattr(sys, "argv", ["llm-market", "run", "missing.yaml"])
        assert cli.console_main() == 2  # bad input: the same exit code as main's
        # while a bounded command runs, full collections wait; a sweep keeps the default;
        # the process's setting comes back
        before, seen = gc.get_threshold(), []
        monkeypatch.setattr(cli, "_dispatch", lambda args: seen.append(gc.get_threshold()) or 0)
        for command in (["run", GOOD], ["sweep", "spec.yaml"]):
            monkeypatch.setattr(sys, "argv", ["llm-market", *command])
            assert cli.console_main() == 0
            assert gc.get_threshold() == before
        assert seen == [(*before[:2], cli.FULL_COLLECTION_AFTER), before]
        commands = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
        assert set(commands) >= cli.BOUNDED_COMMANDS
    finally:
        gc.unfreeze()
    first = pd.read_parquet(tmp_path / "a" / "firms.parquet")
    pd.testing.assert_frame_equal(first, pd.read_parquet(tmp_path / "b" / "firms.parquet"))


def test_the_package_imports_its_top_level_names_on_first_use():
    """`import simulator.cli` (every command's start) loads neither the model nor networkx;
    `simulator.simulate` and its companions load on first use, as if imported eagerly."""
    code = (
        "import sys, simulator.cli\n"
        "assert not {'simulator.model', 'networkx', 'mesa'} & set(sys.modules), sys.modules\n"
        "import simulator\n"
        "from simulator import MarketModel, Scenario, ScenarioError, load_scenario, simulate\n"
        "from simulator.model import simulate as direct\n"
        "assert simulate is direct is simulator.simulate\n"
        "assert set(simulator.__all__) <= set(dir(simulator))\n"
        "try:\n    simulator.no_such_name\nexcept AttributeError as error:\n    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "module 'simulator' has no attribute 'no_such_name'"
