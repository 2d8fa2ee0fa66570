"""Hostile input never crashes, escapes or corrupts: scenario names never choose where files go,
run folders are replaced as a whole (also when killed), summary.json is strict JSON, names reach
the terminal literally, and the Python API refuses what it cannot simulate with ScenarioError."""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from simulator import folders
from simulator.cli import main
from simulator.config import ScenarioError, load_scenario
from simulator.folders import RunFolderError, check_run_dir, safe_folder_name
from simulator.model import MarketModel, simulate
from simulator.results import read_run, write_run
from simulator.sweep.command import default_out
from simulator.terminal import printable
from tests.conftest import SMALL_SCENARIO

REPO = Path(__file__).resolve().parents[1]
GOOD = REPO / "scenarios" / "validation_bertrand.yaml"
SAFE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


def bertrand(**changes) -> dict:
    data = yaml.safe_load(GOOD.read_text(encoding="utf-8"))
    data.update(changes)
    return data


def write_scenario(folder: Path, data: dict, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def strict_load(text: str):
    """json.loads that refuses NaN / Infinity tokens (Python's json accepts them by default)."""

    def refuse(token):
        raise ValueError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def assert_complete_run(folder: Path) -> dict:
    """The folder is one whole run: it reads back and its summary agrees with its tables."""
    result = read_run(folder)
    summary = strict_load((folder / "summary.json").read_text(encoding="utf-8"))
    model, firms = result.model, result.firms
    assert summary["steps"] == int(model["step"].max()) == len(model) == result.scenario.steps
    final = firms[firms["step"] == firms["step"].max()].set_index("firm")
    assert set(summary["final_share"]) == set(final.index)
    for firm, share in summary["final_share"].items():
        assert share == pytest.approx(final.loc[firm, "share"])
    assert summary["final_hhi"] == pytest.approx(float(model["hhi"].iloc[-1]))
    return summary


# --- 1. the scenario's name never chooses where files go ------------------------------------

HOSTILE_NAMES = {
    "parent": "../../x",
    "absolute": "/tmp/llm-market-escape",
    "separators": "a/b\\c:d",
    "dot": ".",
    "dotdot": "..",
    "dots": "...",
    "hidden": ".bashrc",
    "empty after cleaning": "?*<>|",
    "unicode": "市场-ü",
    "dash": "-rf",
}
REFUSED_NAMES = {
    "spaces": "   ",
    "control": "a\x1b[31m\nb",
    "nul": "a\x00b",
    "long": "x" * 300,
}
"""Names validation refuses (control characters, outer spaces, over 100 characters)."""


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_default_run_folder_is_a_safe_name_inside_runs(tmp_path, monkeypatch, capsys, name):
    work = tmp_path / "work"
    work.mkdir()
    scenario = write_scenario(tmp_path, bertrand(name=name))
    monkeypatch.chdir(work)
    assert main(["run", str(scenario), "--steps", "3", "--quiet", "--no-dashboard"]) == 0
    assert [p.name for p in work.iterdir()] == ["runs"]
    (folder,) = (work / "runs").iterdir()
    assert SAFE.match(folder.name) and len(folder.name) <= 64, folder.name
    assert folder.name != name  # every name above had to change ...
    assert re.search(r"-[0-9a-f]{8}$", folder.name)  # ... so it carries the name's hash
    assert_complete_run(folder)
    assert f"results written to runs/{folder.name}" in capsys.readouterr().out
    assert not Path("/tmp/llm-market-escape").exists()


@pytest.mark.parametrize("name", REFUSED_NAMES.values(), ids=REFUSED_NAMES.keys())
def test_names_that_cannot_be_one_printable_line_are_refused(tmp_path, monkeypatch, capsys, name):
    work = tmp_path / "work"
    work.mkdir()
    scenario = write_scenario(tmp_path, bertrand(name=name))
    monkeypatch.chdir(work)
    assert main(["run", str(scenario), "--steps", "3", "--quiet", "--no-dashboard"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("error: name: ")
    assert "\x1b" not in err and "\x00" not in err
    assert list(work.iterdir()) == []


def test_safe_folder_name_keeps_safe_names_and_separates_different_ones():
    for name in ("baseline", "bertrand-check", "open_source_wave", "v1.2"):
        assert safe_folder_name(name) == name
    names = ["a/b", "a-b", "a b", "a\\b", "../a-b", "市场", "市埸", "", "."]
    slugs = [safe_folder_name(n) for n in names]
    assert len(set(slugs)) == len(names)  # the hash keeps cleaned names apart
    assert all(SAFE.match(s) and len(s) <= 64 for s in slugs)
    assert safe_folder_name("a/b") == safe_folder_name("a/b")  # stable across calls
    assert safe_folder_name("Café").startswith("Cafe-")  # accents dropped, not the letter
    assert safe_folder_name("..").startswith("run-")


@pytest.mark.parametrize("stem", ["..", ".hidden", "市场", "a b", "-x"])
def test_sweep_default_folder_is_a_safe_name_inside_runs_sweeps(stem):
    out = default_out(f"specs/{stem}.yaml")
    assert out.parent == Path("runs") / "sweeps"
    assert SAFE.match(out.name) and out.name not in (".", "..")


# --- 2. run folders --------------------------------------------------------------------------


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if the run command starts simulating."""

    def refuse(*args, **kwargs):
        raise AssertionError("simulated although --out is unusable")

    monkeypatch.setattr("simulator.model.simulate", refuse)


def bad_out_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    return {
        "a file": (a_file, "is a file, not a folder"),
        "under a file": (a_file / "sub" / "run", "lies under a file"),
        "not a run folder": (foreign, "is not a run folder (it holds notes.txt)"),
    }


@pytest.mark.parametrize("case", ["a file", "under a file", "not a run folder"])
def test_bad_out_is_one_line_exit_2_and_nothing_is_simulated(tmp_path, capsys, no_simulation, case):
    out, expected = bad_out_cases(tmp_path)[case]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["run", str(GOOD), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out}: ") and expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "a_file").read_text() == "mine"


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_unwritable_out_is_one_line_exit_2(capsys, no_simulation):
    assert main(["run", str(GOOD), "--out", "/proc/llm-market/run", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out /proc/llm-market/run: cannot write in /proc (")
    assert err.count("\n") == 1


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_folder_is_refused_before_simulating(tmp_path, capsys, no_simulation):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["run", str(GOOD), "--out", str(locked / "run"), "--quiet"]) == 2
    finally:
        locked.chmod(0o700)
    assert "cannot write in" in capsys.readouterr().err
    assert list(locked.iterdir()) == []


def test_bad_seed_on_the_command_line_is_one_line(tmp_path, capsys, no_simulation):
    assert main(["run", str(GOOD), "--out", str(tmp_path / "r"), "--seed", "-5"]) == 2
    assert capsys.readouterr().err == "error: seed: must be a whole number >= 0 (got -5)\n"
    assert not (tmp_path / "r").exists()


def test_force_writes_the_run_into_a_foreign_folder_and_keeps_other_files(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    (folder / "dashboard.html").write_text("stale")
    args = ["run", str(GOOD), "--out", str(folder), "--steps", "4", "--quiet", "--no-dashboard"]
    assert main([*args, "--force"]) == 0
    assert (folder / "notes.txt").read_text() == "keep me"
    assert not (folder / "dashboard.html").exists()  # a run's file name: the stale one is gone
    assert assert_complete_run(folder)["steps"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging left over


def test_python_write_run_refuses_a_foreign_folder_unless_forced(tmp_path, small_scenario):
    result = simulate(small_scenario | {"steps": 3})
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(RunFolderError, match="is not a run folder"):
        write_run(folder, result)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    write_run(folder, result, force=True)
    assert (folder / "notes.txt").read_text() == "keep me"
    assert_complete_run(folder)


def test_rerun_replaces_the_whole_folder_and_drops_the_stale_dashboard(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(GOOD), "--out", str(out), "--steps", "5", "--quiet"]) == 0
    assert (out / "dashboard.html").exists()
    args = ["run", str(GOOD), "--out", str(out), "--steps", "7", "--quiet", "--no-dashboard"]
    assert main(args) == 0
    assert not (out / "dashboard.html").exists()
    assert assert_complete_run(out)["steps"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing left beside it


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "rename fallback"])
def test_a_failure_while_building_leaves_the_old_run_untouched(
    tmp_path, small_scenario, monkeypatch, exchange
):
    if not exchange:
        monkeypatch.setattr(folders, "_exchange", lambda a, b: False)
    out = tmp_path / "run"
    write_run(out, simulate(small_scenario | {"steps": 3}))
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_dashboard(folder: Path) -> None:
        (folder / "dashboard.html").write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_run(out, simulate(small_scenario | {"steps": 5}), extra=broken_dashboard)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    write_run(out, simulate(small_scenario | {"steps": 5}))  # and the swap itself works
    assert assert_complete_run(out)["steps"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_next_run_repairs_an_interrupted_swap(tmp_path, small_scenario):
    out = tmp_path / "run"
    write_run(out, simulate(small_scenario | {"steps": 3}))
    pid = dead_pid()
    # killed between the fallback's two renames: the old run is aside, nothing at `out`
    os.rename(out, tmp_path / f".run.old-{pid}-abc123de")
    (tmp_path / f".run.new-{pid}-0k9x2y7z").mkdir()  # its half-built new run
    (tmp_path / f".run.new-{pid}-0k9x2y7z" / "model.parquet").write_bytes(b"half")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        (tmp_path / f".run.new-{live.pid}-live0000").mkdir()  # another run still working
        check_run_dir(out)
        assert assert_complete_run(out)["steps"] == 3  # the old run is back
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            f".run.new-{live.pid}-live0000",
            "run",
        ]
        live.kill()
    (tmp_path / f".run.trash-{pid}-abc123de").mkdir()  # killed while deleting an old run
    write_run(out, simulate(small_scenario | {"steps": 4}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert assert_complete_run(out)["steps"] == 4


def test_sigkill_during_a_rerun_leaves_the_old_or_the_new_run(tmp_path):
    """Kill a real `python -m simulator.cli run` re-running into an existing folder, 5 times at
    random moments: the folder is always one complete run, the old one or the new one."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    out = tmp_path / "run"

    def command(steps: int) -> list[str]:
        return [sys.executable, "-m", "simulator.cli", "run", str(GOOD), "--out", str(out),
                "--steps", str(steps), "--quiet"]  # fmt: skip

    start = time.perf_counter()
    subprocess.run(command(150), env=env, cwd=tmp_path, check=True, capture_output=True)
    duration = time.perf_counter() - start
    assert assert_complete_run(out)["steps"] == 150
    rng = random.Random(20240611)
    for attempt in range(5):
        delay = rng.uniform(0.4, 1.0) * duration  # imports, simulating, writing, swapping
        proc = subprocess.Popen(command(200), env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        summary = assert_complete_run(out)
        assert summary["steps"] in (150, 200), (attempt, delay)
        assert (out / "dashboard.html").is_file()
    check_run_dir(out)  # what the next run does first: remove what the kills left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert_complete_run(out)


# --- 3. summary.json is strict JSON ----------------------------------------------------------


def test_summary_json_is_strict_when_every_firm_exits(tmp_path):
    data = json.loads(json.dumps(SMALL_SCENARIO))
    data["steps"] = 6
    data["market"]["exit_after"] = 1
    for company in data["companies"]:
        company.update(fixed_cost=1e6, cash=0.0)
    scenario = write_scenario(tmp_path, data)
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--no-dashboard"]) == 0
    result = read_run(out)
    assert result.model["price_index"].isna().any()  # no firm left: no price index
    assert result.model["n_firms"].iloc[-1] == 0
    summary = strict_load((out / "summary.json").read_text(encoding="utf-8"))
    json.dumps(summary, allow_nan=False)
    assert summary["final_share"] == {} and summary["n_firms_final"] == 0


def test_nan_and_infinity_in_the_summary_are_written_as_null(tmp_path, small_scenario):
    result = simulate(small_scenario | {"steps": 3})
    result.summary["mean_price_index"] = float("nan")
    result.summary["final_price"]["Big"] = float("inf")
    result.summary["final_cash"]["Lab"] = np.float64("-inf")
    result.summary["extra"] = [np.float32("nan"), np.int64(3), 1.5]
    write_run(tmp_path / "run", result)
    text = (tmp_path / "run" / "summary.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    summary = strict_load(text)
    assert summary["mean_price_index"] is None
    assert summary["final_price"]["Big"] is None and summary["final_cash"]["Lab"] is None
    assert summary["extra"] == [None, 3, 1.5]
    assert math.isfinite(summary["final_price"]["Cheap"])
    assert read_run(tmp_path / "run").summary == summary


# --- 4. terminal output ----------------------------------------------------------------------

FIRM_NAMES = [
    "[bold red]x[/]",
    "[link=https://evil.example]click[/link]",
    "\u202eevil",  # a bidirectional override: allowed in a name, escaped on the terminal
]


@pytest.fixture
def plain_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def test_names_are_printed_literally_with_control_characters_escaped(
    tmp_path, capsys, plain_terminal
):
    data = bertrand(name="[blink]scenario\u2066")
    data["companies"] = [
        {"name": name, "unit_cost": 1.0, "quality": {"assistant": 2.0}} for name in FIRM_NAMES
    ]
    scenario = write_scenario(tmp_path, data)
    out_dir = tmp_path / "run"
    assert (
        main(["run", str(scenario), "--out", str(out_dir), "--steps", "3", "--no-dashboard"]) == 0
    )
    captured = capsys.readouterr()
    text = captured.out + captured.err
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in text, repr(raw)
    assert "[bold red]x[/]" in captured.out
    assert "[link=https://evil.example]click[/link]" in captured.out
    assert "\\u202eevil" in captured.out
    assert "[blink]scenario\\u2066" in captured.out  # the table's title
    assert set(read_run(out_dir).firms["firm"]) == set(FIRM_NAMES)  # the data is unchanged

    assert main(["validate", str(scenario)]) == 0
    out = capsys.readouterr().out
    assert "[blink]scenario\\u2066: 3 firms" in out and "\u2066" not in out


def test_error_lines_escape_control_characters(tmp_path, capsys):
    data = bertrand()
    data["companies"][1]["name"] = data["companies"][0]["name"] = "\x1b[2J\x1b[Hgotcha"
    scenario = write_scenario(tmp_path, data)
    assert main(["run", str(scenario), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err  # the escape sequence is shown, never sent
    lines = err.splitlines()
    assert lines and all(
        line.startswith("error: companies.\\x1b[2J\\x1b[Hgotcha") for line in lines
    )
    assert "must not contain control characters" in err


def test_printable_escapes_exactly_the_steering_characters():
    assert printable("plain [b]x[/b] café 市场 ✓") == "plain [b]x[/b] café 市场 ✓"
    assert printable("a\x1bb\x9bc\x7fd\ne\tf") == "a\\x1bb\\x9bc\\x7fd\\ne\\tf"
    assert printable("\u202e\u2066x\u2028") == "\\u202e\\u2066x\\u2028"
    assert printable("\ud800") == "\\ud800"


# --- 5. the Python API -----------------------------------------------------------------------

BAD_SCENARIOS = {
    "None": (None, "got NoneType"),
    "bytes": (b"name: x\n", "got bytes"),
    "list": ([1, 2], "got list ([1, 2])"),
    "number": (42, "got int"),
    "empty path": ("", "empty path"),
    "NUL in path": ("a\x00b.yaml", "NUL"),
    "missing file": ("no/such.yaml", "no/such.yaml: no such file"),
    "folder": (".", "is a folder"),
}


@pytest.mark.parametrize("build", [simulate, MarketModel], ids=["simulate", "MarketModel"])
@pytest.mark.parametrize("case", BAD_SCENARIOS, ids=BAD_SCENARIOS.keys())
def test_api_refuses_what_is_not_a_scenario(build, case):
    value, expected = BAD_SCENARIOS[case]
    with pytest.raises(ScenarioError) as info:
        build(value)
    assert len(info.value.lines) == 1 and expected in info.value.lines[0], info.value.lines


BAD_SEEDS = {
    "negative": (-5, "must be a whole number >= 0 (got -5)"),
    "text": ("x", "got str ('x')"),
    "bool": (True, "got bool (True)"),
    "float": (1.5, "got float (1.5)"),
    "whole float": (2.0, "got float (2.0)"),
    "numpy bool": (np.bool_(True), "got bool"),
}


@pytest.mark.parametrize("build", [simulate, MarketModel], ids=["simulate", "MarketModel"])
@pytest.mark.parametrize("case", BAD_SEEDS, ids=BAD_SEEDS.keys())
def test_api_refuses_bad_seeds(build, case):
    seed, expected = BAD_SEEDS[case]
    with pytest.raises(ScenarioError) as info:
        build(str(GOOD), seed=seed)
    (line,) = info.value.lines
    assert line.startswith("seed: ") and expected in line, line


def test_api_accepts_good_scenarios_and_seeds(small_scenario):
    small_scenario["steps"] = 3
    by_dict = simulate(small_scenario, seed=np.int64(5))
    assert by_dict.summary["seed"] == 5 and isinstance(by_dict.summary["seed"], int)
    by_path = simulate(Path(GOOD), seed=0)
    assert by_path.summary["seed"] == 0
    by_scenario = MarketModel(load_scenario(GOOD))
    assert by_scenario.seed_used == load_scenario(GOOD).seed
    pd.testing.assert_frame_equal(simulate(small_scenario, seed=5).firms, by_dict.firms)


def test_a_scenario_object_gets_the_cross_field_checks(small_scenario):
    scenario = load_scenario(GOOD)
    twin = scenario.companies[0].model_copy()
    broken = scenario.model_copy(update={"companies": [*scenario.companies, twin]})
    with pytest.raises(ScenarioError, match="duplicate firm name"):
        simulate(broken)
