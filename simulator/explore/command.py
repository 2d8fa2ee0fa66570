"""``llm-market explore SCENARIO.yaml [--host H] [--port N]``: serve the explorer locally.

Dash is an optional extra (``pip install 'llm-market-sim[explore]'``); without it the command
says so in one line and exits with code 2. The server binds to 127.0.0.1 unless ``--host``
says otherwise, since anyone who can reach it can make the machine run simulations.
"""

from __future__ import annotations

import argparse
import logging
import sys

from simulator.config import ScenarioError, load_scenario
from simulator.terminal import printable

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
MISSING_DASH = (
    "explore needs Dash, an optional extra; install it with: pip install 'llm-market-sim[explore]'"
)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ExploreError(ScenarioError):
    """The explorer cannot start (one line each; exit code 2)."""


def check_dash() -> None:
    """Raise ExploreError saying how to install Dash when it is missing."""
    try:
        import dash  # noqa: F401
    except ImportError:
        raise ExploreError([MISSING_DASH]) from None


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def cmd_explore(args: argparse.Namespace) -> int:
    check_dash()
    if not 0 <= args.port <= 65535:
        raise ExploreError([f"--port: must be 0 to 65535 (got {args.port})"])
    scenario = load_scenario(args.scenario)
    from simulator.explore.app import explorer_server

    try:
        server = explorer_server(scenario, args.host, args.port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f"{args.host}:{args.port}"
        raise ExploreError([f"--host/--port: cannot listen on {where} ({reason})"]) from None
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    if args.host not in LOOPBACK:
        print(
            printable(f"note: --host {args.host}: anyone who can reach it can run simulations"),
            file=sys.stderr,
        )
    print(printable(f"exploring {scenario.name} at {url(args.host, server.port)} (Ctrl+C stops)"))
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def add_explore_command(sub) -> None:
    """Register ``explore`` on the ``llm-market`` subcommand parser."""
    explore = sub.add_parser(
        "explore",
        help="interactive explorer in the browser: sliders for the scenario's main parameters, "
        "re-run on change (needs the 'explore' extra: Dash)",
        description="Serve a local web app with sliders for the scenario's segment price "
        "sensitivities, temperatures and growth, each firm's unit cost, capacity and pricing rule, "
        "and each event's step; every change re-runs the scenario (validated like the file) and "
        "redraws shares, prices, HHI and the partnership network.",
    )
    explore.add_argument("scenario", help="scenario YAML file")
    explore.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only; 0.0.0.0 lets "
        "other machines in)",
    )
    explore.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on, 0 to 65535 (default {DEFAULT_PORT}; 0: any free port)",
    )
    explore.set_defaults(func=cmd_explore)
