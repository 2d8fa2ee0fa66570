"""Content-addressed store of trained models: config hash -> measurement JSON + weights.

Layout: `<root>/lm/<config hash>/measurement.json` and `weights.pt`, where root is
`$LLM_MARKET_CACHE` when set, else platformdirs' user cache dir for "llm-market-sim". Every
write goes to a temporary file in the same directory and is then moved into place with
os.replace, so a reader never sees half a file; the measurement is written last, so its
presence means the entry is complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from simulator.atomic import atomic_write_text

CACHE_ENV_VAR = "LLM_MARKET_CACHE"
MEASUREMENT_FILE = "measurement.json"
WEIGHTS_FILE = "weights.pt"


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


def read_measurement_dict(config_hash: str) -> dict[str, Any] | None:
    """The stored measurement for a hash as a dict, or None when the cache has none."""
    path = measurement_path(config_hash)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_measurement_dict(config_hash: str, measurement: dict[str, Any]) -> Path:
    path = measurement_path(config_hash)
    atomic_write_text(path, json.dumps(measurement, indent=2, sort_keys=True) + "\n")
    return path
