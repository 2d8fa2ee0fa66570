"""The market reads product quality from the language-model zoo (measured bits-per-byte)."""

import subprocess
import sys

import numpy as np

from simulator import simulate
from simulator.lm.lookup import ZooQuality, quality_from_bpb


def test_scenario_run_uses_zoo_qualities(small_scenario):
    result = simulate(small_scenario)
    assert result.scenario.market.quality_model == "zoo"
    learners = result.segments[result.segments.firm != "Follower"]  # Follower has fixed quality
    assert learners["bpb"].notna().all()
    zoo = ZooQuality(["assistant", "code"], result.scenario.market.compute_range)
    for segment in ("assistant", "code"):
        rows = learners[learners.segment == segment]
        expected = quality_from_bpb(rows["bpb"], zoo.h_unigram[segment], zoo.bpb_best[segment])
        np.testing.assert_allclose(rows["quality"], np.maximum(expected, 0.0), rtol=1e-12)
    # the firm with 10x more compute than its rival measures lower bpb on every segment
    first = learners[learners.step == 1].pivot(index="firm", columns="segment", values="bpb")
    assert (first.loc["Big"] < first.loc["Cheap"]).all()
    assert result.segments.loc[result.segments.firm == "Follower", "bpb"].isna().all()


def test_placeholder_quality_model_is_still_available(small_scenario):
    small_scenario["market"]["quality_model"] = "placeholder"
    result = simulate(small_scenario)
    assert result.segments["bpb"].isna().all()


def test_run_does_not_import_torch(tmp_path):
    code = (
        "import sys; from simulator.cli import main; "
        f"assert main(['run', 'scenarios/baseline.yaml', '--out', r'{tmp_path}', '--quiet']) == 0; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
