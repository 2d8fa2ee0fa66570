"""Mesa, imported without the stack walk its import does and without the parts the simulator
never uses (together 0.6-0.9 s of the CLI's start-up).

- ``mesa.model`` names its logger with ``inspect.stack()``, which reads the source of every
  frame on the import stack and scans ``sys.modules`` once per frame to map each frame to its
  module (``python -X importtime -c "import mesa"`` shows ``mesa.model`` with 0.3-0.5 s of its
  own). While Mesa is imported here, ``inspect.stack`` returns the frames only and
  ``inspect.getmodule`` maps a frame by its globals' ``__name__``: the logger gets the same
  name (``MESA.mesa.model``), nothing else changes, and both functions are restored at once.
- ``mesa/__init__.py`` imports its spaces (``mesa.experimental`` pulls in scipy.spatial,
  ~0.3 s; ``mesa.discrete_space``, ``mesa.space``). They are registered first as deferred
  modules: the names exist as always, and a module runs its code the first time an attribute
  it lacks is read (``mesa.space.MultiGrid`` works as ever). importlib's own LazyLoader does
  not do here: the import statement in ``mesa/__init__.py`` reads ``__spec__``, which loads it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import inspect
import sys
import types

DEFERRED_SUBMODULES = ("mesa.experimental", "mesa.discrete_space", "mesa.space")
"""Mesa's subpackages that the simulator does not use: loaded on first use only."""


class DeferredModule(types.ModuleType):
    """A module whose code runs the first time an attribute it lacks is read."""

    def __getattr__(self, attr: str):
        state = self.__dict__
        if state.get("_deferred") != "waiting":  # loaded, or loading (its own imports)
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        state["_deferred"] = "loading"
        state["__spec__"].loader.exec_module(self)
        state["_deferred"] = "loaded"
        return getattr(self, attr)


def _register_deferred(names: tuple[str, ...]) -> None:
    """Put deferred modules for ``names`` (submodules of one package) into ``sys.modules``,
    without importing the package."""
    package = importlib.util.find_spec(names[0].split(".")[0])
    if package is None or not package.submodule_search_locations:
        return
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.machinery.PathFinder.find_spec(
            name, list(package.submodule_search_locations)
        )
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        module.__class__ = DeferredModule
        module._deferred = "waiting"
        sys.modules[name] = module


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

    _register_deferred(DEFERRED_SUBMODULES)
    inspect.stack, inspect.getmodule = frames_only, module_of
    try:
        import mesa
    finally:
        inspect.stack, inspect.getmodule = stack, getmodule
    return mesa


mesa = _import_mesa()

__all__ = ["mesa"]
