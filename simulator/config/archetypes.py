"""Built-in company archetypes: bundles of Company defaults (data only)."""

from __future__ import annotations

from typing import Any

BUILTIN_ARCHETYPES: dict[str, dict[str, Any]] = {
    "giant": {
        "unit_cost": 0.7,
        "cash": 5000.0,
        "initial_compute": 3e25,
        "release_cycle": 6,
        "learning_rate": 0.05,
        "strategy": {
            "pricing": "best_response",
            "rd_share": 0.25,
            "marketing_share": 0.08,
            "rd_min": 10.0,
            "link_types": ["alliance"],
        },
    },
    "startup": {
        "unit_cost": 1.0,
        "cash": 200.0,
        "capacity": 30.0,
        "initial_compute": 5e23,
        "release_cycle": 4,
        "learning_rate": 0.1,
        "strategy": {
            "pricing": "undercut",
            "undercut_by": 0.03,
            "rd_share": 0.3,
            "marketing_share": 0.05,
            "rd_min": 2.0,
            "link_types": ["joint_rd", "alliance"],
        },
    },
    "research_lab": {
        "unit_cost": 0.9,
        "cash": 600.0,
        "initial_compute": 5e24,
        "release_cycle": 4,
        "strategy": {
            "pricing": "cost_plus",
            "markup": 0.5,
            "rd_share": 0.35,
            "marketing_share": 0.02,
            "rd_min": 3.0,
            "open_source_rule": "when_behind",
            "link_types": ["joint_rd"],
        },
    },
    "multinational": {
        "unit_cost": 0.6,
        "cash": 3000.0,
        "initial_compute": 1e25,
        "release_cycle": 6,
        "learning_rate": 0.05,
        "strategy": {
            "pricing": "match",
            "follow": "leader",
            "speed": 0.3,
            "rd_share": 0.2,
            "marketing_share": 0.05,
            "link_types": ["alliance", "joint_rd"],
        },
    },
}
"""Archetype defaults (any Company field but name); a scenario's `archetypes:` adds or overrides."""
