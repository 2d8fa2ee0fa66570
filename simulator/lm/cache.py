"""Content-addressed store of trained models: config hash -> measurement JSON + weights.

Layout: `<root>/lm/<config hash>/measurement.json` and `weights.pt`, where root is
`$LLM_MARKET_CACHE` when set, else platformdirs' user cache dir for "llm-market-sim". Every
write goes to a temporary file in the same directory and is then moved into place with
os.replace, so a reader never sees half a file. An entry is written in three moves: the old
measurement (if any) is removed, the weights are written, the measurement is written last; so
the measurement's presence means the entry is complete.

Integrity. `measurement.json` carries a `checksums` object: the SHA-256 of `weights.pt` and of
the measurement itself (its canonical JSON without `checksums`). `read_entry` checks both and
that the measurement belongs to the entry's hash; a missing, truncated, garbled or swapped file
raises `BrokenEntry` naming the file and what is wrong, never a silent hit. Entries written
before checksums existed (format 1) carry none: `read_entry` returns them unverified and
`train.cached_measurement` checks what it can (the JSON, the config hash, the weights' shapes)
and then stamps them with checksums.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.atomic import atomic_write, atomic_write_text

CACHE_ENV_VAR = "LLM_MARKET_CACHE"
MEASUREMENT_FILE = "measurement.json"
WEIGHTS_FILE = "weights.pt"
CHECKSUMS_KEY = "checksums"
#: 1: measurement.json without checksums; 2: with `checksums` (weights and measurement SHA-256).
ENTRY_FORMAT = 2


class BrokenEntry(Exception):
    """A cache entry that is present but cannot be trusted; names the file and the problem."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"LM cache entry {path} {problem}")
        self.path = path
        self.problem = problem


@dataclass
class Entry:
    """A cache entry as read: its measurement dict (without `checksums`) and its files."""

    config_hash: str
    data: dict[str, Any]
    checksums: dict[str, Any] | None  # None: a format-1 entry (nothing verified)
    measurement_path: Path
    weights_path: Path

    @property
    def verified(self) -> bool:
        return self.checksums is not None


def cache_root() -> Path:
    """Root of the cache: $LLM_MARKET_CACHE, else the platform's user cache directory."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("llm-market-sim"))


def entry_dir(config_hash: str) -> Path:
    if not config_hash or not all(c in "0123456789abcdef" for c in config_hash):
        raise ValueError(f"not a config hash: {config_hash!r}")
    return cache_root() / "lm" / config_hash


def measurement_path(config_hash: str) -> Path:
    return entry_dir(config_hash) / MEASUREMENT_FILE


def weights_path(config_hash: str) -> Path:
    return entry_dir(config_hash) / WEIGHTS_FILE


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measurement_digest(data: dict[str, Any]) -> str:
    """SHA-256 of the measurement's canonical JSON (sorted keys, no spaces, no `checksums`)."""
    body = {k: v for k, v in data.items() if k != CHECKSUMS_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. permission denied on a parent: let the read report it
        return True


def read_entry(config_hash: str) -> Entry | None:
    """The entry for a hash; None when there is none; `BrokenEntry` when it cannot be trusted.

    Weights without a measurement are an interrupted write and count as no entry.
    """
    folder = entry_dir(config_hash)
    mpath, wpath = folder / MEASUREMENT_FILE, folder / WEIGHTS_FILE
    if not _exists(mpath):
        if _exists(folder) and not folder.is_dir():
            raise BrokenEntry(folder, "is a file, not a folder")
        return None
    if mpath.is_dir():
        raise BrokenEntry(mpath, "is a folder, not a file")
    try:
        text = mpath.read_bytes().decode("utf-8")
    except OSError as exc:
        raise BrokenEntry(mpath, f"cannot be read ({_reason(exc)})") from None
    except UnicodeDecodeError:
        raise BrokenEntry(mpath, "is not valid JSON (garbled)") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise BrokenEntry(mpath, "is not valid JSON (truncated or garbled)") from None
    if not isinstance(data, dict):
        raise BrokenEntry(mpath, "does not hold a measurement (not a JSON object)")
    checksums = data.pop(CHECKSUMS_KEY, None)
    if checksums is not None:
        if not (
            isinstance(checksums, dict)
            and isinstance(checksums.get("measurement_sha256"), str)
            and isinstance(checksums.get("weights_sha256"), str)
        ):
            raise BrokenEntry(mpath, f"has a malformed '{CHECKSUMS_KEY}' field (garbled)")
        if measurement_digest(data) != checksums["measurement_sha256"]:
            raise BrokenEntry(mpath, "does not match its checksum (garbled or edited)")
    if data.get("config_hash") != config_hash:
        raise BrokenEntry(
            mpath, f"holds the measurement of config {data.get('config_hash')!r}, not this entry's"
        )
    if not wpath.is_file():
        raise BrokenEntry(wpath, "is missing" if not _exists(wpath) else "is not a file")
    if checksums is not None:
        try:
            actual = sha256_file(wpath)
        except OSError as exc:
            raise BrokenEntry(wpath, f"cannot be read ({_reason(exc)})") from None
        if actual != checksums["weights_sha256"]:
            raise BrokenEntry(
                wpath,
                "does not match the checksum in measurement.json (truncated, garbled or "
                "from another entry)",
            )
    return Entry(config_hash, data, checksums, mpath, wpath)


def _prepare(config_hash: str) -> Path:
    """The entry's folder, ready for a rewrite: an old measurement is removed first (so a
    reader in between sees no entry rather than a broken one); a file in the folder's place or
    a folder in a file's place (a broken entry) is removed. Only the entry's own names inside
    `<root>/lm/` are ever removed."""
    folder = entry_dir(config_hash)
    if folder.is_symlink() or (_exists(folder) and not folder.is_dir()):
        folder.unlink()
    for name in (MEASUREMENT_FILE, WEIGHTS_FILE):
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
    mpath = folder / MEASUREMENT_FILE
    if mpath.is_file() or mpath.is_symlink():
        mpath.unlink()
    return folder


def write_weights(config_hash: str, write: Callable[[Path], None]) -> str:
    """Write the weights with ``write(tmp_path)``; returns their SHA-256. Raises OSError."""
    folder = _prepare(config_hash)
    digest: list[str] = []

    def write_and_hash(tmp: Path) -> None:
        write(tmp)
        digest.append(sha256_file(tmp))

    atomic_write(folder / WEIGHTS_FILE, write_and_hash)
    return digest[0]


def write_measurement(
    config_hash: str, measurement: dict[str, Any], weights_sha256: str, **extra: Any
) -> Path:
    """Write the measurement with its checksums (the entry's commit). Raises OSError."""
    body = {k: v for k, v in measurement.items() if k != CHECKSUMS_KEY}
    checksums = {
        "format": ENTRY_FORMAT,
        "measurement_sha256": measurement_digest(body),
        "weights_sha256": weights_sha256,
        **extra,
    }
    path = measurement_path(config_hash)
    text = json.dumps({**body, CHECKSUMS_KEY: checksums}, indent=2, sort_keys=True) + "\n"
    atomic_write_text(path, text)
    return path


def stamp_entry(entry: Entry, **extra: Any) -> bool:
    """Add checksums to a format-1 entry that has been checked; False if it cannot be written."""
    try:
        write_measurement(entry.config_hash, entry.data, sha256_file(entry.weights_path), **extra)
    except OSError:
        return False
    return True


_WARNED: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """Print ``warning: message`` on stderr, once per key and process."""
    if key in _WARNED:
        return
    _WARNED.add(key)
    print(f"warning: {message}", file=sys.stderr, flush=True)
