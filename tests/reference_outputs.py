"""Reference fingerprints of every shipped scenario's outputs (the "behaviour must not change"
guarantee of the architecture issue).

A fingerprint is the SHA-256 of a table's contents (column names, dtypes and values, bit for
bit) and of summary.json without its wall time and versions. ``tests/test_reference_outputs.py``
re-runs each scenario and compares. Regenerate deliberately, with a note in the commit message,
only when a change is meant to alter behaviour:

    python -m tests.reference_outputs --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
REFERENCE = ROOT / "tests" / "data" / "reference_outputs.json"
TABLES = ("model", "firms", "segments", "edges")
VOLATILE_SUMMARY_KEYS = ("wall_time_s", "versions")


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's column names, dtypes and values (floats bit for bit)."""
    digest = hashlib.sha256()
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        values = frame[column]
        digest.update(f"{column}:{values.dtype}\n".encode())
        if values.dtype.kind in "biuf":
            digest.update(np.ascontiguousarray(values.to_numpy()).tobytes())
        else:
            digest.update("\x1f".join(map(repr, values.tolist())).encode())
    return digest.hexdigest()


def summary_digest(summary: dict) -> str:
    kept = {k: v for k, v in summary.items() if k not in VOLATILE_SUMMARY_KEYS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def fingerprint(path: Path) -> dict[str, str]:
    """Fingerprints of one scenario's run (its own seed, the shipped zoo)."""
    from simulator import simulate

    result = simulate(path)
    out = {name: frame_digest(getattr(result, name)) for name in TABLES}
    out["summary"] = summary_digest(result.summary)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {REFERENCE.name}")
    args = parser.parse_args()
    prints = {p.name: fingerprint(p) for p in SCENARIOS}
    text = json.dumps(prints, indent=2, sort_keys=True) + "\n"
    if args.write:
        REFERENCE.write_text(text, encoding="utf-8")
        print(f"wrote {REFERENCE}")
    else:
        print(text)


if __name__ == "__main__":
    main()
