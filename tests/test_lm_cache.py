"""The LM cache under damage: broken entries are detected and retrained (or reported with their
path), entries of the previous format are checked and stamped, and an unwritable cache never
costs a trained model."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.lm import cache
from simulator.lm import train as train_module
from simulator.lm.cli import add_lm_commands
from simulator.lm.train import TrainConfig, cached_measurement, load_model, train

pytest.importorskip("torch")

# ~0.3 s per training (with the evaluation on one segment, below)
TINY = dict(
    mix={"creative": 1.0}, steps=20, n_layer=1, n_embd=16, n_head=2, batch_size=4, lr=2e-2, seed=7
)
OTHER = {**TINY, "seed": 8}  # same architecture, other weights
WIDER = {**TINY, "n_embd": 32}  # other architecture
CONFIGS = {"tiny": TINY, "other": OTHER, "wider": WIDER}


@pytest.fixture(scope="module", autouse=True)
def one_segment_evaluation():
    """Measure bpb on one segment only: a quarter of the ~1 s a tiny training takes."""
    real = train_module.evaluate_bpb
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            train_module,
            "evaluate_bpb",
            lambda model, segments=None, device="cpu", split="validation": real(
                model, segments if split == "dev" else ("creative",), device=device, split=split
            ),
        )
        yield


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """A cache holding the three entries, trained once for the module, and their measurements."""
    root = tmp_path_factory.mktemp("pristine") / "cache"
    old = os.environ.get(cache.CACHE_ENV_VAR)
    os.environ[cache.CACHE_ENV_VAR] = str(root)
    try:
        measured = {
            name: train(TrainConfig(**c), quiet=True).to_dict() for name, c in CONFIGS.items()
        }
    finally:
        if old is None:
            del os.environ[cache.CACHE_ENV_VAR]
        else:
            os.environ[cache.CACHE_ENV_VAR] = old
    return root, measured


@pytest.fixture
def store(pristine, tmp_path, monkeypatch):
    """A fresh copy of the pristine cache, as $LLM_MARKET_CACHE; warnings not yet given."""
    root = tmp_path / "cache"
    shutil.copytree(pristine[0], root)
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(root))
    monkeypatch.setattr(cache, "_WARNED", set())
    return root


@pytest.fixture
def trainings(monkeypatch) -> list[str]:
    """Config hashes of the models actually trained (not fetched) from now on."""
    calls: list[str] = []
    real = train_module._train_and_store

    def counting(config, config_hash, *, quiet):
        calls.append(config_hash)
        return real(config, config_hash, quiet=quiet)

    monkeypatch.setattr(train_module, "_train_and_store", counting)
    return calls


def entry(name: str) -> Path:
    return cache.entry_dir(TrainConfig(**CONFIGS[name]).config_hash())


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="llm-market")
    add_lm_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def flip_middle(path: Path, count: int = 8) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + count):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def edit_bpb(path: Path) -> None:
    """Still valid JSON, one number changed: only the checksum can tell."""
    data = json.loads(path.read_text())
    data["bpb"]["creative"] += 0.5
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


def strip_checksums(path: Path) -> None:
    data = json.loads(path.read_text())
    data.pop(cache.CHECKSUMS_KEY)
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


DAMAGE = {
    "weights truncated": lambda: truncate(entry("tiny") / "weights.pt"),
    "weights garbled": lambda: flip_middle(entry("tiny") / "weights.pt"),
    "weights empty": lambda: (entry("tiny") / "weights.pt").write_bytes(b""),
    "weights deleted": lambda: (entry("tiny") / "weights.pt").unlink(),
    "weights of another entry": lambda: shutil.copy(
        entry("other") / "weights.pt", entry("tiny") / "weights.pt"
    ),
    "measurement truncated": lambda: truncate(entry("tiny") / "measurement.json"),
    "measurement garbled": lambda: flip_middle(entry("tiny") / "measurement.json"),
    "measurement edited": lambda: edit_bpb(entry("tiny") / "measurement.json"),
    "measurement of another entry": lambda: shutil.copy(
        entry("other") / "measurement.json", entry("tiny") / "measurement.json"
    ),
    "both files of another entry": lambda: (
        shutil.rmtree(entry("tiny")),
        shutil.copytree(entry("other"), entry("tiny")),
    ),
    "measurement is a folder": lambda: (
        (entry("tiny") / "measurement.json").unlink(),
        (entry("tiny") / "measurement.json").mkdir(),
    ),
    "entry is a file": lambda: (
        shutil.rmtree(entry("tiny")),
        entry("tiny").write_text("not a folder"),
    ),
}
# what the broken entry is reported as: the damaged file
DAMAGED_FILE = {
    name: (
        "weights.pt"
        if name.startswith("weights")
        else ""
        if name == "entry is a file"
        else "measurement.json"
    )
    for name in DAMAGE
}


def test_an_entry_carries_checksums_of_its_weights_and_its_measurement(store):
    data = json.loads((entry("tiny") / "measurement.json").read_text())
    checksums = data.pop(cache.CHECKSUMS_KEY)
    assert checksums["format"] == cache.ENTRY_FORMAT
    assert checksums["weights_sha256"] == cache.sha256_file(entry("tiny") / "weights.pt")
    assert checksums["measurement_sha256"] == cache.measurement_digest(data)
    assert cached_measurement(data["config_hash"]).bpb == data["bpb"]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_broken_entry_is_detected_with_its_path(damage, store, pristine):
    config_hash = TrainConfig(**TINY).config_hash()
    DAMAGE[damage]()
    with pytest.raises(cache.BrokenEntry) as broken:
        cached_measurement(config_hash)
    assert str(broken.value.path) == str(entry("tiny") / DAMAGED_FILE[damage]).rstrip("/")
    assert str(entry("tiny")) in str(broken.value)
    with pytest.raises(cache.BrokenEntry):
        load_model(config_hash)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_broken_entry_is_retrained_rewritten_and_reported_once(
    damage, store, pristine, trainings, capsys
):
    config_hash = TrainConfig(**TINY).config_hash()
    DAMAGE[damage]()
    measurement = train(TrainConfig(**TINY), quiet=True)
    assert not measurement.from_cache and trainings == [config_hash]
    assert measurement.bpb == pristine[1]["tiny"]["bpb"]  # the same model, trained again
    (warning,) = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith(f"warning: LM cache entry {entry('tiny')}")
    assert warning.endswith("; training it again")
    # rewritten whole: the next call is a verified hit, without a word
    again = train(TrainConfig(**TINY), quiet=True)
    assert again.from_cache and again.bpb == measurement.bpb and trainings == [config_hash]
    assert capsys.readouterr().err == ""
    model, _ = load_model(config_hash)
    assert model.config.n_embd == TINY["n_embd"]
    assert sorted(p.name for p in entry("tiny").iterdir()) == ["measurement.json", "weights.pt"]


@pytest.mark.parametrize(
    "damage", ["weights garbled", "measurement truncated", "measurement of another entry"]
)
def test_cli_never_says_from_cache_for_a_broken_entry(damage, store, capsys):
    argv = [
        "lm",
        "train",
        "--mix",
        "creative",
        "--steps",
        "20",
        "--n-layer",
        "1",
        "--n-embd",
        "16",
        "--n-head",
        "2",
        "--batch-size",
        "4",
        "--lr",
        "0.02",
        "--seed",
        "7",
        "--quiet",
    ]
    config_hash = TrainConfig(**TINY).config_hash()
    DAMAGE[damage]()
    assert run_cli(["lm", "sample", "--hash", config_hash, "--length", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(entry("tiny")) in err[0] and "lm train" in err[0]
    assert run_cli(argv) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["config_hash"] == config_hash
    assert "(from cache" not in captured.err and str(entry("tiny")) in captured.err
    assert run_cli(argv) == 0
    assert f"(from cache: {config_hash})" in capsys.readouterr().err


def test_fine_tuning_from_a_broken_base_is_one_line_naming_it(store, capsys):
    base = TrainConfig(**TINY).config_hash()
    truncate(entry("tiny") / "weights.pt")
    argv = [
        "lm",
        "train",
        "--mix",
        "creative",
        "--steps",
        "1",
        "--n-layer",
        "1",
        "--n-embd",
        "16",
        "--n-head",
        "2",
        "--batch-size",
        "4",
        "--base",
        base,
        "--quiet",
    ]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("llm-market lm train: error: --base: ")
    assert str(entry("tiny") / "weights.pt") in err[0]
    with pytest.raises(cache.BrokenEntry):  # the library says the same
        train(TrainConfig(**{**TINY, "steps": 1, "base": base}), quiet=True)


# --- entries of the previous format (no checksums) ------------------------------------------


def test_an_old_entry_is_checked_used_and_stamped(store, trainings, capsys):
    config_hash = TrainConfig(**TINY).config_hash()
    strip_checksums(entry("tiny") / "measurement.json")
    measurement = train(TrainConfig(**TINY), quiet=True)
    assert measurement.from_cache and trainings == [] and capsys.readouterr().err == ""
    stamped = json.loads((entry("tiny") / "measurement.json").read_text())
    assert stamped[cache.CHECKSUMS_KEY]["weights_sha256"] == cache.sha256_file(
        entry("tiny") / "weights.pt"
    )
    assert cache.read_entry(config_hash).verified


def test_an_old_entry_in_a_read_only_cache_is_still_used(store, trainings, monkeypatch):
    strip_checksums(entry("tiny") / "measurement.json")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache, "atomic_write_text", refuse)
    assert train(TrainConfig(**TINY), quiet=True).from_cache and trainings == []
    assert not cache.read_entry(TrainConfig(**TINY).config_hash()).verified


@pytest.mark.parametrize(
    "damage",
    [
        "weights truncated",
        "weights garbled",
        "wider weights",
        "config edited",
        "measurement truncated",
    ],
)
def test_a_broken_old_entry_is_retrained(damage, store, pristine, trainings, capsys):
    config_hash = TrainConfig(**TINY).config_hash()
    mpath, wpath = entry("tiny") / "measurement.json", entry("tiny") / "weights.pt"
    strip_checksums(mpath)
    if damage == "wider weights":  # another architecture's weights: they do not load
        shutil.copy(entry("wider") / "weights.pt", wpath)
    elif damage == "config edited":  # the config no longer hashes to the entry's name
        data = json.loads(mpath.read_text())
        data["config"]["lr"] = 0.5
        mpath.write_text(json.dumps(data))
    else:
        DAMAGE[damage]()
    measurement = train(TrainConfig(**TINY), quiet=True)
    assert not measurement.from_cache and trainings == [config_hash]
    assert measurement.bpb == pristine[1]["tiny"]["bpb"]
    assert str(entry("tiny")) in capsys.readouterr().err
    assert cache.read_entry(config_hash).verified  # rewritten in the current format


# --- a cache that cannot be written ---------------------------------------------------------


def _file_cache(tmp_path, monkeypatch):
    root = tmp_path / "cache-file"
    root.write_text("I am a file")
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(root))
    return root


def _read_only_cache(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders (the 'permission denied' case covers it)")
    root = tmp_path / "cache-ro"
    root.mkdir()
    root.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(root))
    return root


def _permission_denied(tmp_path, monkeypatch):
    root = tmp_path / "cache-denied"
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(root))
    real = cache.atomic_write

    def denied(path, write):
        if str(path).startswith(str(root)):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, write)

    monkeypatch.setattr(cache, "atomic_write", denied)
    return root


def _disk_full_in_torch_save(tmp_path, monkeypatch):
    import torch

    root = tmp_path / "cache-full"
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(root))

    def full(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04 half")  # torch got this far
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(torch, "save", full)
    return root


UNWRITABLE = {
    "cache path is a file": _file_cache,
    "read-only folder": _read_only_cache,
    "permission denied": _permission_denied,
    "disk full": _disk_full_in_torch_save,
}


@pytest.mark.parametrize("kind", list(UNWRITABLE))
def test_an_unwritable_cache_costs_a_warning_not_the_model(kind, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cache, "_WARNED", set())
    root = UNWRITABLE[kind](tmp_path, monkeypatch)
    first = train(TrainConfig(**TINY), quiet=True)
    assert not first.from_cache and first.bpb["creative"] < 6.0 and first.steps == TINY["steps"]
    (warning,) = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith(f"warning: cannot write to the LM cache {root} (")
    second = train(TrainConfig(**OTHER), quiet=True)  # warned once per process, not per model
    assert not second.from_cache and capsys.readouterr().err == ""
    # nothing half-written is left that could pass for an entry
    assert cached_measurement(first.config_hash) is None
    if root.is_dir():
        leftovers = [p.name for p in root.rglob("*") if p.is_file()]
        assert not [n for n in leftovers if n.endswith(".tmp") or n == "measurement.json"]


def test_cli_train_with_the_cache_path_a_file_prints_the_measurement(tmp_path):
    root = tmp_path / "cache-file"
    root.write_text("I am a file")
    env = {**os.environ, cache.CACHE_ENV_VAR: str(root)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator.lm",
            "train",
            "--mix",
            "creative",
            "--steps",
            "5",
            "--n-layer",
            "1",
            "--n-embd",
            "16",
            "--n-head",
            "2",
            "--batch-size",
            "4",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["steps"] == 5
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: cannot write to the LM cache {root}")
    assert "Traceback" not in done.stderr
    assert root.read_text() == "I am a file"  # the user's file is left alone


# --- the zoo table's destination --------------------------------------------------------


@pytest.fixture
def no_build(monkeypatch):
    from simulator.lm import grid

    def refuse(**kwargs):
        raise AssertionError("the zoo was built although its table cannot be written")

    monkeypatch.setattr(grid, "build_zoo", refuse)


@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_zoo_build_refuses_an_unwritable_table_path_before_training(
    where, tmp_path, no_build, capsys
):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "zoo.csv" if where == "under a file" else tmp_path
    assert run_cli(["lm", "zoo", "build", "--grid", "small", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"llm-market lm zoo build: error: --out: {out} ")


def test_zoo_build_that_cannot_write_its_table_at_the_end_is_one_line(
    tmp_path, monkeypatch, capsys
):
    from simulator.lm import grid

    def full(**kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(grid, "build_zoo", full)
    out = tmp_path / "zoo.csv"
    assert run_cli(["lm", "zoo", "build", "--grid", "small", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"llm-market lm zoo build: error: --out: cannot write {out} (No space left on device); "
        "the trained models are in the cache: run the same command again to write the table"
    ]
