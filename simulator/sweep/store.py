"""The sweep folder: a stored spec, one file per finished run, and the final tables.

  DIR/sweep.yaml            the resolved spec, its identity (what determines the results) and
                            the identity's fingerprint; written before any run
  DIR/runs/run-000042.parquet   one finished run: its per-step series as the table, its row
                            (ids, seed, parameters, outcomes, error) as JSON in the file's
                            metadata; written atomically (temp file, fsync, rename)
  DIR/runs.parquet, series.parquet, quantiles.parquet, summary.parquet, sensitivity.parquet/.csv
                            the final tables, built from the run files once all runs are done

A run file exists only complete, so a kill at any moment loses at most the runs in flight;
the same command run again skips every run whose file exists and is sound. Each run file
carries a SHA-256 digest of its row and its series in its metadata; on resume every run file
is read and checked (digest, run id, point, replication and seed against the plan), and a
truncated, garbled or misplaced one is moved aside to ``run-NNNNNN.parquet.corrupt``, reported,
and run again in the same call. Run files written before the digest existed are checked as far
as they can be (readable, ids and seed match). A folder made by a different spec (different
scenario, parameters, design, seeds or outcomes) is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from simulator.atomic import atomic_write, atomic_write_text
from simulator.config.yaml_safe import dump_yaml
from simulator.results import write_frame
from simulator.sweep.spec import ResolvedSpec, SweepSpecError
from simulator.sweep.worker import RunRecord

ROW_KEY = b"llm_market_sweep_row"
DIGEST_KEY = b"llm_market_sweep_digest"
RUN_FILE = re.compile(r"^run-(\d+)\.parquet$")
CORRUPT_SUFFIX = ".corrupt"
ID_KEYS = ("run", "point", "replication", "seed")
SPEC_FILE = "sweep.yaml"
TABLES = ("runs", "series", "quantiles", "summary", "sensitivity")
READ_BATCH = 256
"""Run files decoded together when the final tables are read back."""


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


class BadRunFile(Exception):
    """A run file that cannot be used: ``path`` and what is wrong with it."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def run_digest(row_json: bytes, series: pd.DataFrame) -> str:
    """SHA-256 of a run's row (its JSON bytes) and its series (column names, dtypes, values)."""
    digest = hashlib.sha256(row_json)
    for name, dtype in series.dtypes.items():
        digest.update(f"\0{name}\0{dtype}".encode())
    if len(series.columns):
        digest.update(pd.util.hash_pandas_object(series, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def run_file(record: RunRecord) -> bytes:
    """A run file's content: its series as a Parquet table whose metadata holds the row (JSON)
    and the digest of row and series."""
    table = pa.Table.from_pandas(record.series, preserve_index=False)
    row_json = json.dumps(record.row, allow_nan=True).encode()
    metadata = dict(table.schema.metadata or {})
    metadata[ROW_KEY] = row_json
    # the digest of what a reader will decode: the series through the same arrow -> pandas
    metadata[DIGEST_KEY] = run_digest(row_json, table.to_pandas()).encode()
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(metadata), sink)
    return sink.getvalue().to_pybytes()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


class SweepStore:
    """Reads and writes one sweep folder."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.runs_dir = self.out / "runs"

    def check(self, resolved: ResolvedSpec) -> bool:
        """True if the folder holds this sweep already, False if it is new (missing or empty);
        a folder of another sweep, a non-empty folder without one, or a path that is not a
        folder is refused (SweepSpecError). Writes nothing."""
        identity = resolved.identity()
        spec_path = self.out / SPEC_FILE
        try:
            if self.out.exists() and not self.out.is_dir():
                raise SweepSpecError([f"{self.out}: is a file, not a sweep folder"])
            if spec_path.exists():
                stored = yaml.safe_load(spec_path.read_text(encoding="utf-8")) or {}
            elif self.out.exists() and any(self.out.iterdir()):
                raise SweepSpecError(
                    [
                        f"{self.out}: folder is not empty and holds no sweep "
                        f"({SPEC_FILE} missing); use another --out folder"
                    ]
                )
            else:
                return False
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            where = spec_path if spec_path.exists() else self.out
            raise SweepSpecError(
                [f"{where}: cannot read the stored spec ({_reason(exc)})"]
            ) from None
        if not isinstance(stored, dict) or stored.get("fingerprint") != fingerprint(identity):
            old = (stored.get("identity") if isinstance(stored, dict) else None) or {}
            if not isinstance(old, dict):
                old = {}
            changed = [k for k in identity if old.get(k) != identity[k]] or ["fingerprint"]
            raise SweepSpecError(
                [
                    f"{self.out}: made by a different sweep spec "
                    f"(changed: {', '.join(changed)}); "
                    "use another --out folder or delete this one"
                ]
            )
        return True

    def claim(self, resolved: ResolvedSpec) -> None:
        """Store the spec in a new folder, or check that an existing one holds the same sweep."""
        if self.check(resolved):
            return
        identity = resolved.identity()
        document = {
            "fingerprint": fingerprint(identity),
            "spec": resolved_spec_document(resolved),
            "scenario_file": str(resolved.scenario_file) if resolved.scenario_file else None,
            "identity": identity,
        }
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(
                self.out / SPEC_FILE,
                "# Resolved sweep spec; resuming checks `fingerprint`.\n" + dump_yaml(document),
            )
        except OSError as exc:
            raise SweepSpecError(
                [f"{self.out}: cannot write the sweep folder ({_reason(exc)})"]
            ) from None

    def run_path(self, run: int) -> Path:
        return self.runs_dir / f"run-{run:06d}.parquet"

    def finished_runs(self) -> set[int]:
        """Ids of the runs whose file exists (temp files of interrupted writes do not count)."""
        try:
            names = os.listdir(self.runs_dir)
        except FileNotFoundError:
            return set()
        except OSError as exc:
            raise SweepSpecError(
                [f"{self.runs_dir}: cannot list the run files ({_reason(exc)})"]
            ) from None
        return {int(m.group(1)) for name in names if (m := RUN_FILE.match(name))}

    def write_run(self, record: RunRecord) -> None:
        """Write one run's file atomically and durably: it exists whole or not at all.

        Its content is ``run_file(record)`` (a worker may have made it: ``record.file``); a
        file that cannot be written raises SweepSpecError (the runs written before are
        kept)."""
        data = record.file if record.file is not None else run_file(record)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())

        path = self.run_path(int(record.row["run"]))
        try:
            atomic_write(path, write)
        except OSError as exc:
            raise SweepSpecError(
                [
                    f"{path}: cannot write the run file ({_reason(exc)}); the runs finished "
                    "before are kept: fix this and run the same command to resume"
                ]
            ) from None

    def _load(self, run: int, expect: dict[str, Any] | None) -> tuple[dict, pa.Table, Any]:
        """Run ``run``'s row and series table, its ids checked against ``expect`` (and the
        stored digest, undecoded). Raises BadRunFile."""
        path = self.run_path(run)
        try:
            table = pq.ParquetFile(path).read()
            metadata = table.schema.metadata or {}
            row_json = metadata[ROW_KEY]
            row = json.loads(row_json)
        except KeyError:
            raise BadRunFile(path, "holds no run row (not a run file, or garbled)") from None
        except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways, all "bad"
            reason = re.sub(r"Could not open Parquet input source '[^']*': ", "", _reason(exc))
            raise BadRunFile(path, f"cannot be read ({reason})") from None
        if not isinstance(row, dict) or any(key not in row for key in (*ID_KEYS, "error")):
            raise BadRunFile(path, "holds no run row (garbled)")
        expected = {"run": run, **(expect or {})}
        wrong = [key for key, value in expected.items() if row.get(key) != value]
        if wrong:
            names = ", ".join(wrong[:-1]) + " and " + wrong[-1] if len(wrong) > 1 else wrong[0]
            verb = "differ" if len(wrong) > 1 else "differs"
            raise BadRunFile(path, f"is not this sweep's run {run} (its {names} {verb})")
        if "run" in table.column_names and table.num_rows:
            runs = table.column("run").to_numpy()
            if not (runs == run).all():
                raise BadRunFile(path, f"holds the series of another run than {run}")
        return row, table, (row_json, metadata.get(DIGEST_KEY))

    def read_run(self, run: int, expect: dict[str, Any] | None = None) -> RunRecord:
        """One run file, checked: readable, its digest (when it has one) matches its row and
        series, its run id is its name's, and its ids and seed are ``expect``'s. Raises
        BadRunFile."""
        row, table, (row_json, stored) = self._load(run, expect)
        series = table.to_pandas()
        if stored is not None and stored.decode("ascii", "replace") != run_digest(row_json, series):
            raise BadRunFile(self.run_path(run), "does not match its digest (garbled)")
        return RunRecord(row=row, series=series)

    def set_aside(self, run: int) -> Path:
        """Move a bad run file out of the way (``.corrupt``), so the run counts as not done."""
        path = self.run_path(run)
        target = path.with_name(path.name + CORRUPT_SUFFIX)
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                os.replace(path, target)
        except OSError as exc:
            raise SweepSpecError(
                [f"{path}: a bad run file that cannot be moved aside ({_reason(exc)}); remove it"]
            ) from None
        return target

    def scan_runs(
        self, n_runs: int, expect: Callable[[int], dict[str, Any]] | None = None
    ) -> tuple[set[int], list[str]]:
        """The runs whose files are sound, and one line per bad file (moved aside): each file
        is read and checked once, one at a time, and dropped."""
        good: set[int] = set()
        problems: list[str] = []
        for run in sorted(r for r in self.finished_runs() if r < n_runs):
            try:
                self.read_run(run, expect(run) if expect else None)
            except BadRunFile as bad:
                self.set_aside(run)
                problems.append(f"{bad}; moved aside, run {run} is run again")
                continue
            good.add(run)
        return good, problems

    def read_runs(
        self,
        runs: set[int] | None = None,
        expect: Callable[[int], dict[str, Any]] | None = None,
        problems: list[str] | None = None,
    ) -> list[RunRecord]:
        """The finished runs in run order; a bad file is moved aside (it will be re-run) and
        reported in ``problems``."""
        records = []
        for run in sorted(self.finished_runs() if runs is None else runs):
            try:
                records.append(self.read_run(run, expect(run) if expect else None))
            except BadRunFile as bad:
                self.set_aside(run)
                if problems is not None:
                    problems.append(f"{bad}; moved aside, run the same command to redo it")
        return records

    def read_all(
        self,
        runs: set[int],
        expect: Callable[[int], dict[str, Any]] | None = None,
        problems: list[str] | None = None,
    ) -> tuple[list[dict[str, Any]], pd.DataFrame | None]:
        """Rows and series of the finished runs ``runs`` (files this call checked or wrote):
        the rows in run order, and the series of all of them as one frame (None if none has a
        series), decoded once, so memory holds the data and not a frame per run. Ids are
        checked as in read_run, digests not (they were, when the file was found or written);
        a file that cannot be read is moved aside and reported in ``problems``."""
        rows: list[dict[str, Any]] = []
        tables: list[pa.Table] = []
        frames: list[pd.DataFrame] = []  # one per READ_BATCH runs: Arrow holds little at once
        for run in sorted(runs):
            try:
                row, table, _ = self._load(run, expect(run) if expect else None)
            except BadRunFile as bad:
                self.set_aside(run)
                if problems is not None:
                    problems.append(f"{bad}; moved aside, run the same command to redo it")
                continue
            rows.append(row)
            if table.num_rows:
                tables.append(table.replace_schema_metadata(None))
            if len(tables) == READ_BATCH:
                frames.append(pa.concat_tables(tables, promote_options="default").to_pandas())
                tables = []
        if tables:
            frames.append(pa.concat_tables(tables, promote_options="default").to_pandas())
        if not frames:
            return rows, None
        return rows, frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def write_tables(self, tables: dict[str, pd.DataFrame | None]) -> None:
        """Write the final tables (each atomically); SweepSpecError if one cannot be written."""
        try:
            for name, frame in tables.items():
                if frame is None:
                    continue
                write_frame(self.out / f"{name}.parquet", frame)
                if name == "sensitivity":
                    atomic_write(
                        self.out / "sensitivity.csv",
                        lambda tmp, frame=frame: frame.to_csv(tmp, index=False),
                    )
        except OSError as exc:
            raise SweepSpecError(
                [
                    f"{self.out}: cannot write the sweep's tables ({_reason(exc)}); every run "
                    "is kept in runs/: fix this and run the same command to write them"
                ]
            ) from None
