"""`llm-market lm ...` handlers: exit codes, one-line errors naming the option, output."""

from __future__ import annotations

import argparse
import json

import pytest

from simulator.lm import cache
from simulator.lm.cli import add_lm_commands

TINY = [
    "--mix",
    "creative",
    "--steps",
    "30",
    "--n-layer",
    "1",
    "--n-embd",
    "32",
    "--n-head",
    "2",
    "--batch-size",
    "8",
    "--lr",
    "0.02",
]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="llm-market")
    add_lm_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "cache"))


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["lm", "train", "--mix", "poetry", "--steps", "5"], "--mix"),
        (["lm", "train", "--mix", "code=-1,creative=1", "--steps", "5"], "--mix"),
        (["lm", "train", "--mix", "code", "--flops=-3e12"], "--flops"),
        (["lm", "train", "--mix", "code", "--flops", "-5"], "--flops"),
        (["lm", "train", "--mix", "code", "--flops", "lots"], "--flops"),
        (["lm", "train", "--mix", "code", "--steps", "5", "--base", "0123abcd"], "--base"),
        (["lm", "sample", "--hash", "deadbeefdeadbeef"], "--hash"),
        (["lm", "zoo", "build", "--grid", "huge"], "--grid"),
        (["lm", "zoo", "build", "--shard", "2/2"], "--shard"),
        (["lm", "zoo", "show", "--compute-range", "nan", "1e27"], "--compute-range"),
        (["lm", "zoo", "show", "--compute-range", "1e22", "1e300"], "--compute-range"),
        (["lm", "zoo", "show", "--compute-range", "1e27", "1e22"], "--compute-range"),
        (["lm", "zoo", "show", "--compute-range", "1e22", "5e22"], "--compute-range"),
    ],
)
def test_bad_input_is_one_line_naming_the_option(argv, option, capsys):
    assert run(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and option in err[0] and "Traceback" not in err[0]


def test_train_prints_measurement_and_sample_reads_the_cache(capsys):
    assert run(["lm", "train", *TINY, "--quiet"]) == 0
    measurement = json.loads(capsys.readouterr().out)
    assert measurement["steps"] == 30 and set(measurement["bpb"]) >= {"creative", "code"}
    assert (
        run(
            [
                "lm",
                "sample",
                "--hash",
                measurement["config_hash"],
                "--length",
                "40",
                "--prompt",
                "ROMEO:",
                "--sample-seed",
                "1",
            ]
        )
        == 0
    )
    by_hash = capsys.readouterr().out
    assert measurement["config_hash"] in by_hash and "ROMEO:" in by_hash
    again = ["lm", "sample", *TINY, "--length", "40", "--prompt", "ROMEO:", "--sample-seed", "1"]
    assert run(again) == 0
    assert capsys.readouterr().out == by_hash  # same model by options, same seed, same text


def test_zoo_show_prints_the_scale_map_of_a_compute_range(capsys):
    """One line per decade of real compute; a decade is flagged exactly when it lies past the
    real budget the zoo's largest measurement maps to."""
    from simulator.lm.lookup import ZooQuality

    assert run(["lm", "zoo", "show", "--compute-range", "1e22", "1e27"]) == 0
    out = capsys.readouterr().out
    rows = out[out.index("scale map for") :].splitlines()[2:]
    measured_up_to = ZooQuality(["code"], (1e22, 1e27)).measured_real_range[1]
    assert len(rows) >= 8
    for row in rows:
        real = float(row.split()[0])
        assert row.rstrip().endswith(" no") == (real <= measured_up_to), row


@pytest.mark.parametrize(
    "content", [b"", b"# not a table\na,b\n1,2,3\n", b"\xd0\xcf\x11\xe0\xff\n"]
)
@pytest.mark.parametrize("command", [["zoo", "build", "--reuse"], ["zoo", "show", "--table"]])
def test_a_file_that_is_not_a_zoo_table_is_one_line_and_exit_2(tmp_path, capsys, content, command):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    assert run(["lm", *command, str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and command[-1] in err and str(bad) in err
    assert "Traceback" not in err
