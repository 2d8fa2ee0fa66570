"""Every shipped scenario gives, with its own seed, exactly the tables it gave when the
reference was recorded (tests/reference_outputs.py explains how and when to regenerate)."""

from __future__ import annotations

import json

import pytest

from tests.reference_outputs import REFERENCE, SCENARIOS, fingerprint

EXPECTED = json.loads(REFERENCE.read_text(encoding="utf-8"))


def test_every_shipped_scenario_has_a_reference():
    assert sorted(EXPECTED) == sorted(p.name for p in SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_outputs_match_the_reference(path):
    got = fingerprint(path)
    changed = [table for table, digest in EXPECTED[path.name].items() if got[table] != digest]
    assert not changed, f"{path.name}: {', '.join(changed)} differ from the recorded reference"
