"""The interactive explorer: ``llm-market explore SCENARIO.yaml`` serves a local web app
(Plotly Dash) with sliders for the scenario's main parameters that re-runs the model on change.

Modules: ``controls`` (which fields get a control, their ranges, control values -> a validated
scenario; no web framework, tested without a browser), ``app`` (the Dash layout and callback,
the figures from ``simulator.dashboard``; imports Dash), ``command`` (the CLI command and the
missing-Dash message). Importing this package does not import Dash.
"""

from simulator.explore.controls import Control, scenario_controls, scenario_with

__all__ = ["Control", "scenario_controls", "scenario_with"]
