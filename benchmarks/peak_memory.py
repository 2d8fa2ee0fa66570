"""Peak memory of this process, for the benchmarks that print it.

``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is no use in a fresh child process on Linux:
it carries over across fork and execve, so a child started by a benchmark that has itself
simulated 10,000 firms reports the parent's peak. The kernel's high-water mark of the
process's own memory (``VmHWM`` in /proc/self/status) starts afresh with the new program.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (VmHWM; ru_maxrss where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
