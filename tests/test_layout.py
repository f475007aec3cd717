"""The package's shape: ``import lstmfast`` loads the core only; the audiences'
subpackages load on first use; the module paths of earlier versions still work."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import lstmfast

CORE = {
    "lstmfast",
    "lstmfast._checks",
    "lstmfast._core",
    "lstmfast._moved",
    "lstmfast.cells",
    "lstmfast.config",
    "lstmfast.convert",
    "lstmfast.functional",
    "lstmfast.layers",
    "lstmfast.reference",
}


def loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(m for m in sys.modules if m.startswith('lstmfast')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_loads_only_the_core():
    assert loaded_after("import lstmfast") == CORE


def test_a_lazy_name_loads_its_subpackage_only():
    loaded = loaded_after("import lstmfast; lstmfast.SequenceModel")
    assert "lstmfast.training.model" in loaded
    assert not any(m.startswith(("lstmfast.datasets", "lstmfast.teaching", "lstmfast.app")) for m in loaded)


@pytest.mark.parametrize(
    "old,new",
    [
        ("models", "training.model"),
        ("losses", "training.losses"),
        ("optim", "training.optim"),
        ("diagnostics", "training.diagnostics"),
        ("timeseries", "datasets.timeseries"),
        ("agreement", "datasets.agreement"),
        ("course", "teaching.course"),
        ("cli", "app.cli"),
    ],
)
def test_old_module_paths_are_the_moved_modules(old, new):
    moved = importlib.import_module(f"lstmfast.{new}")
    assert importlib.import_module(f"lstmfast.{old}") is moved
    assert getattr(lstmfast, old) is moved
    assert loaded_after(f"import lstmfast.{old} as m; assert m.__name__ == 'lstmfast.{new}'") >= {f"lstmfast.{new}"}


def test_public_names_resolve_and_unknown_ones_do_not():
    for name in lstmfast.__all__:
        assert getattr(lstmfast, name) is not None
    assert set(lstmfast.__all__) <= set(dir(lstmfast))
    with pytest.raises(AttributeError, match="no attribute 'LTSM'"):
        lstmfast.LTSM  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("lstmfast.nonexistent")


def test_relative_imports_still_work_after_an_old_path_import():
    """The old path must not change the moved module's own identity (its __spec__):
    relative imports inside it (done lazily, in functions) would warn and break."""
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import lstmfast.models, lstmfast.training.model as m\n"
        "assert m.__spec__.name == 'lstmfast.training.model' and m.__spec__.parent == m.__package__\n"
        "import numpy as np\n"
        "model = lstmfast.models.SequenceModel(1, 2, seed=0)\n"
        "model.fit(np.zeros((3, 4, 1)), np.zeros((3, 4)), progress=False)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
