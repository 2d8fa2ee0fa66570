"""Training progress: a rich progress bar on a terminal, else a log line every ~10% of the steps."""

from __future__ import annotations

import sys
import time


class ProgressReporter:
    """A rich progress bar on a terminal; otherwise a log line every ~10% of the steps."""

    def __init__(self, total_steps: int, label: str, quiet: bool):
        self.total_steps = total_steps
        self.label = label
        self.quiet = quiet
        self.started = time.perf_counter()
        self.bar = None
        self.next_log = 0
        if quiet:
            return
        if sys.stderr.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task(label, total=total_steps)

    def update(self, step: int, loss: float, tokens_per_s: float) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            description = f"{self.label} loss {loss:.3f}"
            self.bar.update(self.task, completed=step + 1, description=description)
        elif step >= self.next_log or step + 1 == self.total_steps:
            elapsed = time.perf_counter() - self.started
            print(
                f"[{self.label}] step {step + 1}/{self.total_steps} loss {loss:.3f} nats "
                f"({tokens_per_s:,.0f} tok/s, {elapsed:.0f}s)",
                file=sys.stderr,
                flush=True,
            )
            self.next_log = step + max(1, self.total_steps // 10)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
