"""The import paths of modules that moved into subpackages keep working.

``import lstmfast.timeseries as ts`` gives the module
:mod:`lstmfast.datasets.timeseries` itself (the same object, so monkeypatching
either name patches both), loaded only when first asked for. A meta path
finder serves the old names instead of a file per old name, so the top-level
folder holds only the core. Type checkers do not see these aliases: typed
code should import the new paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

# old name under lstmfast -> where the module lives now
OLD_PATHS = {
    "models": "training.model",
    "losses": "training.losses",
    "optim": "training.optim",
    "diagnostics": "training.diagnostics",
    "timeseries": "datasets.timeseries",
    "agreement": "datasets.agreement",
    "course": "teaching.course",
    "cli": "app.cli",
}
# short names of the integrations, served the same way
ALIASES = {
    **OLD_PATHS,
    "sklearn": "integrations.sklearn",
    "torch": "integrations.torch",
    "onnx": "integrations.onnx",
    "dask": "integrations.dask",
}
_PACKAGE = __name__.rpartition(".")[0]


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)  # the module object itself, not a copy
        self.spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # Already executed under its new name. The import system has just set
        # __spec__ to the old name's; put the module's own back, or its relative
        # imports would see __package__ != __spec__.parent.
        module.__spec__ = self.spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != _PACKAGE or name not in ALIASES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"{_PACKAGE}.{ALIASES[name]}"))


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.append(_AliasFinder())
