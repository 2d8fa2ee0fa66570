"""Text from data (firm and scenario names, paths, error lines) made safe for a terminal.

``printable(text)`` writes control characters (C0, DEL, C1: ESC starts ANSI sequences),
line and paragraph separators, bidirectional overrides and lone surrogates as visible escapes
(``\\x1b``, ``\\n``, ``\\u202e``), the way Python's ``repr`` does, and leaves everything else as
it is. ``literal(text)`` is that as a ``rich.text.Text``, which rich prints literally: no
``[bold]`` or ``[link=...]`` markup is interpreted. ``run_table(result)`` is the table of a
run's firms that ``llm-market run`` prints, built from such text.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Callable

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _escape(char: str) -> str:
    if char in _BIDI or unicodedata.category(char) in _ESCAPED_CATEGORIES:
        return char.encode("unicode_escape", "backslashreplace").decode("ascii")
    return char


def printable(text: object) -> str:
    """``str(text)`` with every character that could steer a terminal escaped visibly."""
    text = str(text)
    if text.isprintable() and not _BIDI.intersection(text):
        return text
    return "".join(_escape(char) for char in text)


def literal(text: object):
    """``printable(text)`` as a rich Text: printed as these characters, never as markup."""
    from rich.text import Text

    return Text(printable(text))


def format_number(value, spec: str) -> str:
    """``value`` formatted with ``spec``; 'n/a' for a missing or NaN value."""
    if value is None or value != value:
        return "n/a"
    return format(value, spec)


def run_table(result):
    """The run's firms as a rich Table: the firms at the last step by share, then every firm
    that exited, with its last row and the step it left (so no firm silently vanishes)."""
    from rich.table import Table

    summary, firms = result.summary, result.firms
    unit = str(getattr(result.scenario, "time_unit", None) or "month")
    last_step = firms["step"].max()
    final = firms[firms["step"] == last_step].sort_values("share", ascending=False)
    gone = firms[~firms["firm"].isin(final["firm"])]
    gone = gone.sort_values("step").groupby("firm", sort=False).tail(1).sort_values("step")
    title = f"{summary['scenario']} - {unit} {summary['steps']} (seed {summary['seed']})"
    table = Table(title=literal(title))
    columns = ("firm", "share", "price", "unit cost", f"profit/{unit}", "cash", "status")
    for column in columns:
        table.add_column(column, justify="left" if column in ("firm", "status") else "right")
    exits = {str(e.get("firm")): e.get("step") for e in summary.get("exits") or []}
    for rows, active in ((final, True), (gone, False)):
        for row in rows.itertuples():
            status = "active" if active else f"exited {unit} {exits.get(str(row.firm), row.step)}"
            table.add_row(
                literal(row.firm),
                format_number(row.share, ".1%") if active else "-",
                format_number(row.price, ".3f"),
                format_number(row.unit_cost, ".3f"),
                format_number(row.profit, ",.2f"),
                format_number(row.cash, ",.1f"),
                literal(status),
            )
    if len(gone):
        table.caption = "exited firms: their last month's price, cost, profit and cash"
    return table


#: Exit code when the reader of our output went away (`llm-market archetypes | head`).
EXIT_BROKEN_PIPE = 1


def closed_pipe_safe(command: Callable[[], int]) -> int:
    """Run a command; if its reader closes the pipe, stop quietly instead of a traceback.

    Python's documented recipe: point stdout at devnull so the interpreter's final flush does
    not raise again, then exit with a non-zero code.
    """
    try:
        return command()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
