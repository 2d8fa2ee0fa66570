"""Keep freed memory for reuse in the processes the project starts (glibc's malloc only).

Why: by default glibc serves each block above 128 KiB with its own ``mmap`` and hands it back
on ``free``, and it trims the heap's top once more than 128 KiB of it is free (both limits
then drift with what was freed last). A large market's step allocates and frees many numpy
temporaries of that size (the best response's grid is 256 firms x ~300 prices x 4 segments,
2.4 MB, per block of firms), so each one is page-faulted in anew and zeroed by the kernel: a
1,000-firm step spent more time in those faults than in its arithmetic, and how fast a
100-firm step was depended on what the process had allocated before it. Fixed limits keep
those blocks in the heap, where the next temporary reuses them (``benchmarks/
bench_vs_naive_mesa.py``; the README's performance section has the numbers).

Only entry points call ``keep_freed_memory``: the ``llm-market`` command (simulator.cli) and
the workers of a sweep's process pool. ``import simulator`` leaves the allocator of a notebook
or a host program as it is; call it there to get the same behaviour. It changes where memory
comes from, never what is computed (tests/test_allocator.py).
"""

from __future__ import annotations

import ctypes
import os

MMAP_THRESHOLD = 32 * 2**20
"""Blocks up to this size come from the heap (glibc's largest fixed value on 64-bit)."""
TRIM_THRESHOLD = 64 * 2**20
"""Free memory at the heap's top kept for reuse before it is returned to the system."""
MALLOPT_M_TRIM_THRESHOLD = -1
MALLOPT_M_MMAP_THRESHOLD = -3
GLIBC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
"""glibc's own settings: when either is set, the user has chosen, and nothing is changed."""


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds to MMAP_THRESHOLD and TRIM_THRESHOLD; whether it
    did (False: not glibc, or a MALLOC_*_THRESHOLD_ variable is set). Safe to call again."""
    if not _glibc():
        return False
    if any(name in os.environ for name in GLIBC_VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(
        mallopt(MALLOPT_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and mallopt(MALLOPT_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # not a POSIX system, or not glibc
        return False
