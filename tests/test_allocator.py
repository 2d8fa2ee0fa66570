"""simulator.allocator: the entry points keep freed memory for reuse, which saves a large
market's page faults and changes nothing that is computed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import allocator
from tests.reference_outputs import REFERENCE, frame_digest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not allocator._glibc(), reason="glibc's malloc only")

BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from bench_vs_naive_mesa import scenario as many_firms  # noqa: E402

# many_firms(n, steps): n firms of unequal costs and qualities best-responding in four unequal
# segments, the performance benchmark's market: from ~100 firms on, the best response's
# temporaries pass glibc's default 128 KiB mmap limit.


CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {benchmarks!r})
from simulator.allocator import keep_freed_memory
from simulator import simulate
from bench_vs_naive_mesa import scenario as many_firms
from tests.reference_outputs import fingerprint, frame_digest, SCENARIOS
kept = keep_freed_memory() if {keep!r} else False
simulate(many_firms(20, 2))  # imports and first-use caches, outside the count
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
result = simulate(many_firms({n_firms}, {steps}))
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
out = {{"kept": kept, "faults": faults, "digests": [frame_digest(result.model),
       frame_digest(result.firms)]}}
if {baseline!r}:
    out["baseline"] = fingerprint([p for p in SCENARIOS if p.name == "baseline.yaml"][0])
print(json.dumps(out))
"""


def python(code: str, env: dict[str, str] | None = None) -> str:
    """The last line a fresh interpreter running ``code`` prints."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip().splitlines()[-1]


def child(keep: bool, n_firms: int, steps: int, baseline: bool = False) -> dict:
    """What a fresh process reports after simulating ``many_firms(n_firms, steps)``."""
    code = CHILD.format(
        root=str(ROOT),
        benchmarks=str(BENCHMARKS),
        keep=keep,
        n_firms=n_firms,
        steps=steps,
        baseline=baseline,
    )
    return json.loads(python(code))


def test_kept_memory_computes_the_same_outputs_bit_for_bit():
    """The allocator decides where arrays live, never what they hold: a 300-firm market and the
    baseline scenario give the same tables (and the baseline its reference fingerprint) in a
    process that keeps freed memory as in this one, which does not."""
    from simulator import simulate

    kept = child(keep=True, n_firms=300, steps=6, baseline=True)
    assert kept["kept"] is True
    here = simulate(many_firms(300, 6))
    assert kept["digests"] == [frame_digest(here.model), frame_digest(here.firms)]
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))["baseline.yaml"]
    assert kept["baseline"] == reference


def test_kept_memory_saves_most_page_faults_of_a_large_market():
    """The point of it: with glibc's defaults a 600-firm step's temporaries (each above 128
    KiB) are mapped and faulted in anew; kept, later steps reuse the heap. Page faults are
    counted, not timed, so the machine's load does not move them."""
    system = child(keep=False, n_firms=600, steps=8)
    kept = child(keep=True, n_firms=600, steps=8)
    assert system["digests"] == kept["digests"]
    assert kept["faults"] * 3 < system["faults"], (kept["faults"], system["faults"])


def test_glibc_settings_in_the_environment_are_left_alone():
    """A user who set glibc's own MALLOC_*_THRESHOLD_ variables has chosen: nothing changes."""
    code = "from simulator.allocator import keep_freed_memory; print(keep_freed_memory())"
    for name in allocator.GLIBC_VARIABLES:
        assert python(code, {**os.environ, name: "131072"}) == "False"
    clean = {k: v for k, v in os.environ.items() if k not in allocator.GLIBC_VARIABLES}
    assert python(code, clean) == "True"


def test_the_command_and_the_pool_workers_keep_freed_memory(monkeypatch):
    """Both entry points the project starts processes through call it; `main` in-process
    (tests, notebooks) does not."""
    from simulator import cli
    from simulator.sweep import executors

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("cli") or True)
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append("pool") or True)
    monkeypatch.setattr(
        sys, "argv", ["llm-market", "validate", str(ROOT / "scenarios" / "baseline.yaml")]
    )
    assert cli.console_main() == 0
    assert calls == ["cli"]
    executors.process_worker_setup()
    assert calls == ["cli", "pool"]
    assert cli.main(["validate", str(ROOT / "scenarios" / "baseline.yaml")]) == 0
    assert calls == ["cli", "pool"]
