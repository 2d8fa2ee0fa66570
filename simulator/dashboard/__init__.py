"""Plotly figures of a run and the standalone HTML dashboard that composes them.

The figures are plain ``plotly.graph_objects.Figure`` objects, so a notebook shows exactly what
the dashboard shows::

    from simulator import simulate, dashboard
    result = simulate("scenarios/baseline.yaml")
    dashboard.share_figure(result).show()
    dashboard.write_run_dashboard(result, "baseline.html")

Modules, each importing only those above it: ``colors`` (a firm's colour from its name, the
same in every page), ``page`` (the page shell; ``write_dashboard_html`` is the one page writer,
used by runs, sweeps and comparisons, and knows nothing of runs), ``common`` (what every run
figure shares: limits, firm selection, thinning, event markers, axis ranges, legends, the
theme), ``figures`` (the firm time series), ``structure`` (concentration and market
structure), ``partnerships`` (the network figure), ``run`` (``run_figures``, the header,
``load_run`` and ``write_run_dashboard``), ``compare`` (the page of several runs side by side).

The limits ``MAX_POINTS``, ``MAX_FIRM_TRACES`` (in ``common``) and ``MAX_NETWORK_FRAMES`` (in
``partnerships``) are read from their own module: change them there, not on this package.
"""

from simulator.dashboard.common import (
    EDGE_STYLES,
    LEAN_TEMPLATE,
    MAX_FIRM_TRACES,
    MAX_POINTS,
    MEANING_COLORS,
    OTHERS,
    OTHERS_COLOR,
    SERVED_COLOR,
    Event,
    add_event_markers,
    firm_lifetimes,
    normalize_events,
    run_colors,
    scenario_events,
    shown_firms,
)
from simulator.dashboard.figures import (
    price_figure,
    profit_cash_figure,
    quality_figure,
    share_figure,
)
from simulator.dashboard.page import (
    FIRM_PALETTE,
    PLOT_CONFIG,
    dashboard_html,
    firm_colors,
    write_dashboard_html,
)
from simulator.dashboard.partnerships import MAX_NETWORK_FRAMES, network_figure, run_edges
from simulator.dashboard.run import (
    has_structure_data,
    load_run,
    run_figures,
    run_header,
    write_run_dashboard,
)
from simulator.dashboard.structure import (
    HHI_BAND_COLORS,
    HHI_BAND_TEXT_COLORS,
    STEP_LIKE,
    STRUCTURE_PANELS,
    concentration_figure,
    structure_figure,
)

__all__ = [
    "EDGE_STYLES",
    "FIRM_PALETTE",
    "HHI_BAND_COLORS",
    "HHI_BAND_TEXT_COLORS",
    "LEAN_TEMPLATE",
    "MEANING_COLORS",
    "MAX_FIRM_TRACES",
    "MAX_NETWORK_FRAMES",
    "MAX_POINTS",
    "OTHERS",
    "OTHERS_COLOR",
    "PLOT_CONFIG",
    "SERVED_COLOR",
    "STEP_LIKE",
    "STRUCTURE_PANELS",
    "Event",
    "add_event_markers",
    "concentration_figure",
    "dashboard_html",
    "firm_colors",
    "firm_lifetimes",
    "has_structure_data",
    "load_run",
    "network_figure",
    "normalize_events",
    "price_figure",
    "profit_cash_figure",
    "quality_figure",
    "run_colors",
    "run_edges",
    "run_figures",
    "run_header",
    "scenario_events",
    "share_figure",
    "shown_firms",
    "structure_figure",
    "write_dashboard_html",
    "write_run_dashboard",
]
