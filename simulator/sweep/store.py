"""The sweep folder: a stored spec, one file per finished run, and the final tables.

  DIR/sweep.yaml            the resolved spec, its identity (what determines the results) and
                            the identity's fingerprint; written before any run
  DIR/runs/run-000042.parquet   one finished run: its per-step series as the table, its row
                            (ids, seed, parameters, outcomes, error) as JSON in the file's
                            metadata; written atomically (temp file, fsync, rename)
  DIR/runs.parquet, series.parquet, quantiles.parquet, summary.parquet, sensitivity.parquet/.csv
                            the final tables, built from the run files once all runs are done

A run file exists only complete, so a kill at any moment loses at most the runs in flight;
the same command run again skips every run whose file exists. A folder made by a different
spec (different scenario, parameters, design, seeds or outcomes) is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from simulator.atomic import atomic_write, atomic_write_text
from simulator.results import write_frame
from simulator.sweep.spec import ResolvedSpec, SweepSpecError
from simulator.sweep.worker import RunRecord

ROW_KEY = b"llm_market_sweep_row"
RUN_FILE = re.compile(r"^run-(\d+)\.parquet$")
SPEC_FILE = "sweep.yaml"
TABLES = ("runs", "series", "quantiles", "summary", "sensitivity")


def fingerprint(identity: dict[str, Any]) -> str:
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def resolved_spec_document(resolved: ResolvedSpec) -> dict[str, Any]:
    """The spec with every default filled in (root seed included), as stored in the folder."""
    document = resolved.spec.model_dump(mode="json")
    document["seed"] = resolved.root_seed
    document["samples"] = None if resolved.spec.method == "grid" else resolved.spec.n_samples
    document["parameters"] = {
        path: dist.model_dump(mode="json", exclude_none=True)
        for path, dist in resolved.spec.parameters.items()
    }
    return document


class SweepStore:
    """Reads and writes one sweep folder."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.runs_dir = self.out / "runs"

    def claim(self, resolved: ResolvedSpec) -> None:
        """Store the spec in a new folder, or check that an existing one holds the same sweep."""
        identity = resolved.identity()
        key = fingerprint(identity)
        spec_path = self.out / SPEC_FILE
        if spec_path.exists():
            try:
                stored = yaml.safe_load(spec_path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise SweepSpecError(
                    [f"{spec_path}: cannot read the stored spec ({exc})"]
                ) from None
            if stored.get("fingerprint") != key:
                old = stored.get("identity") or {}
                changed = [k for k in identity if old.get(k) != identity[k]] or ["fingerprint"]
                raise SweepSpecError(
                    [
                        f"{self.out}: made by a different sweep spec "
                        f"(changed: {', '.join(changed)}); "
                        "use another --out folder or delete this one"
                    ]
                )
            return
        if self.out.exists() and any(self.out.iterdir()):
            raise SweepSpecError(
                [
                    f"{self.out}: folder is not empty and holds no sweep "
                    f"({SPEC_FILE} missing); use another --out folder"
                ]
            )
        document = {
            "fingerprint": key,
            "spec": resolved_spec_document(resolved),
            "scenario_file": str(resolved.scenario_file) if resolved.scenario_file else None,
            "identity": identity,
        }
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            spec_path,
            "# Resolved sweep spec; resuming checks `fingerprint`.\n"
            + yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
        )

    def run_path(self, run: int) -> Path:
        return self.runs_dir / f"run-{run:06d}.parquet"

    def finished_runs(self) -> set[int]:
        """Ids of the runs whose file exists (temp files of interrupted writes do not count)."""
        if not self.runs_dir.exists():
            return set()
        return {
            int(m.group(1)) for name in os.listdir(self.runs_dir) if (m := RUN_FILE.match(name))
        }

    def write_run(self, record: RunRecord) -> None:
        """Write one run's file atomically and durably: it exists whole or not at all."""
        table = pa.Table.from_pandas(record.series, preserve_index=False)
        metadata = dict(table.schema.metadata or {})
        metadata[ROW_KEY] = json.dumps(record.row, allow_nan=True).encode()
        table = table.replace_schema_metadata(metadata)

        def write(tmp: Path) -> None:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())

        atomic_write(self.run_path(int(record.row["run"])), write)

    def read_run(self, run: int) -> RunRecord:
        table = pq.read_table(self.run_path(run))
        row = json.loads(table.schema.metadata[ROW_KEY])
        return RunRecord(row=row, series=table.to_pandas())

    def read_runs(self, runs: set[int] | None = None) -> list[RunRecord]:
        """The finished runs in run order; an unreadable file is deleted (it will be re-run)."""
        records = []
        for run in sorted(self.finished_runs() if runs is None else runs):
            try:
                records.append(self.read_run(run))
            except (OSError, KeyError, ValueError, pa.ArrowException):
                self.run_path(run).unlink(missing_ok=True)
        return records

    def write_tables(self, tables: dict[str, pd.DataFrame | None]) -> None:
        for name, frame in tables.items():
            if frame is None:
                continue
            write_frame(self.out / f"{name}.parquet", frame)
            if name == "sensitivity":
                atomic_write(
                    self.out / "sensitivity.csv",
                    lambda tmp, frame=frame: frame.to_csv(tmp, index=False),
                )
