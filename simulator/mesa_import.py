"""Mesa, imported without the stack walk its import does (0.3-0.5 s of the CLI's start-up).

``mesa.model`` names its logger with ``inspect.stack()``, which reads the source of every
frame on the import stack and scans ``sys.modules`` once per frame to map each frame to its
module (``python -X importtime -c "import mesa"`` shows ``mesa.model`` with 0.3-0.5 s of its
own). While Mesa is imported here, ``inspect.stack`` returns the frames only and
``inspect.getmodule`` maps a frame by its globals' ``__name__``: the logger gets the same name
(``MESA.mesa.model``), nothing else changes, and both functions are restored at once.
"""

from __future__ import annotations

import inspect
import sys


def _import_mesa():
    if "mesa" in sys.modules:
        return sys.modules["mesa"]
    stack, getmodule = inspect.stack, inspect.getmodule

    def frames_only(context: int = 1) -> list[tuple]:
        frame, frames = sys._getframe(1), []
        while frame is not None:
            frames.append((frame,))
            frame = frame.f_back
        return frames

    def module_of(obj, _filename=None):
        if inspect.isframe(obj) and obj.f_globals.get("__name__") in sys.modules:
            return sys.modules[obj.f_globals["__name__"]]
        return getmodule(obj, _filename)

    inspect.stack, inspect.getmodule = frames_only, module_of
    try:
        import mesa
    finally:
        inspect.stack, inspect.getmodule = stack, getmodule
    return mesa


mesa = _import_mesa()

__all__ = ["mesa"]
