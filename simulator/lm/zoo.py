"""The model zoo, as one import: re-exports the public names of the three modules it is made of.

- simulator.lm.grid: the compute grid, `build_zoo` (trains it), the shipped table
  (`load_zoo_table`, `shipped_table_path`) and `ensure_point` (one off-grid point).
- simulator.lm.fit: the power-law fits of the measured curves and the `lm zoo show` text.
- simulator.lm.lookup: `ZooQuality`, the map from a firm's budget and data mix to bpb and
  quality per segment used by the market, and `quality_from_bpb`.

New code may import from those modules directly; `from simulator.lm.zoo import ZooQuality`
keeps working. This module defines nothing and, like the three, never imports torch. Build or
show the zoo with `llm-market lm zoo build|show` (or `python -m simulator.lm zoo build|show`).
"""

from simulator.lm.fit import (
    PowerLawFit,
    compute_frontier,
    curve_points,
    fit_frontier,
    fit_power_law,
    fit_segments,
    format_fits,
    format_table,
    r_squared,
)
from simulator.lm.grid import (
    BUILD_ORDER,
    GRIDS,
    LARGE_GRID,
    REQUIRED_COLUMNS,
    SMALL_GRID,
    UNIFORM,
    ZOO_CSV_NAME,
    ZOO_MIXES,
    GridPoint,
    build_zoo,
    ensure_point,
    grid_config,
    load_zoo_table,
    measurement_rows,
    mix_weights,
    resolve_grid,
    shipped_table_path,
)
from simulator.lm.lookup import MonotoneCurve, ZooQuality, quality_from_bpb

__all__ = [
    "BUILD_ORDER",
    "GRIDS",
    "LARGE_GRID",
    "REQUIRED_COLUMNS",
    "SMALL_GRID",
    "UNIFORM",
    "ZOO_CSV_NAME",
    "ZOO_MIXES",
    "GridPoint",
    "MonotoneCurve",
    "PowerLawFit",
    "ZooQuality",
    "build_zoo",
    "compute_frontier",
    "curve_points",
    "ensure_point",
    "fit_frontier",
    "fit_power_law",
    "fit_segments",
    "format_fits",
    "format_table",
    "grid_config",
    "load_zoo_table",
    "measurement_rows",
    "mix_weights",
    "quality_from_bpb",
    "r_squared",
    "resolve_grid",
    "shipped_table_path",
]

if __name__ == "__main__":  # the old entry point; the commands live in simulator.lm.cli
    raise SystemExit("use `llm-market lm zoo ...` or `python -m simulator.lm zoo ...`")
