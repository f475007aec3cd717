"""The README's runnable examples run (its first two Python blocks, in one namespace,
as a reader would paste them)."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_quick_start_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks[:2]:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["y"].shape == (50, 16, 64)  # the bidirectional GRU's output
    assert namespace["grads"]["weight_hh_l0"].shape == (128, 32)


def test_the_example_trains():
    import subprocess
    import sys

    example = README.parent / "examples" / "train_toy.py"
    out = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, check=True).stdout
    assert "step  300" in out and "accuracy 1.000" in out.splitlines()[-2]


def test_the_memmap_example_streams_and_learns(tmp_path):
    """Small and without the memory limit here; CI runs the full-size example (a series
    ten times the process's memory budget) once."""
    import subprocess
    import sys

    example = README.parent / "examples" / "train_on_memmap.py"
    out = subprocess.run(
        [sys.executable, str(example), "--budget", "0", "--values", "300000", "--path", str(tmp_path / "s.npy")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    mae, naive = (float(part.split()[-1].rstrip(")")) for part in out.splitlines()[-1].split(";")[0].split("("))
    assert mae < naive, out


def test_readme_training_examples_run():
    """Each block runs as pasted, and its comments tell the truth."""
    text = README.read_text(encoding="utf-8")
    training = text[text.index("## Training") : text.index("## Dtypes")]
    blocks = re.findall(r"```python\n(.*?)```", training, flags=re.S)
    assert len(blocks) == 3
    ns: dict = {}
    exec(compile(blocks[0], str(README), "exec"), ns)
    assert ns["history"]["accuracy"][-1] == 1.0
    exec(compile(blocks[1], str(README), "exec"), ns)
    assert ns["clf"].evaluate(ns["X"][:, 700:], ns["labels"][700:])["accuracy"] >= 0.95
    assert ns["proba"].shape == (200, 3) and np.allclose(ns["proba"].sum(1), 1, atol=1e-5)
    exec(compile(blocks[2], str(README), "exec"), ns)
    assert len(ns["history"]["loss"]) < 30 and min(ns["history"]["val_loss"]) < 0.01


def _scaling_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Scaling out") : text.index("## The `lstmfast` command")]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2
    return blocks


def test_readme_mpi_script_runs_on_two_ranks(tmp_path):
    """The train.py of "Scaling out", run as it says (mpirun -n 2 here)."""
    import shutil
    import subprocess
    import sys

    pytest.importorskip("mpi4py")
    launcher = shutil.which("mpirun", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("mpirun")
    assert launcher is not None, "mpi4py is installed but mpirun is not"
    script = tmp_path / "train.py"
    script.write_text(_scaling_blocks()[0], encoding="utf-8")
    subprocess.run([launcher, "-n", "2", sys.executable, "train.py"], cwd=tmp_path, check=True, timeout=300)
    from lstmfast.training import SequenceModel

    model = SequenceModel.load(tmp_path / "seen_a_one.npz")
    X = (np.random.default_rng(1).random((20, 200, 1)) < 0.1).astype(np.float32)  # new data
    accuracy = ((model.predict(X) > 0.5) == (np.cumsum(X, axis=0) > 0)).mean()
    assert accuracy > 0.99  # it learned the task


def test_readme_dask_example_runs(capsys):
    pytest.importorskip("distributed")
    namespace: dict = {}
    exec(compile(_scaling_blocks()[1], str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    assert all(f"sensor {k}" in printed for k in range(4))
    serial = namespace["fan_out"](namespace["forecast"], namespace["tasks"], seed=0, scheduler=None)
    for name, result in namespace["results"].items():  # the cluster's results are the serial ones
        for method, values in serial[name].forecasts.items():
            np.testing.assert_array_equal(result.forecasts[method], values)


def test_readme_bfloat16_example_runs():
    """The bfloat16 block runs as pasted, and the layer's output is the functional
    call's (its error against float64 is test_bfloat16's)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### bfloat16 inference") : text.index("## With PyTorch")]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    ns: dict = {}
    exec(compile(block, str(README), "exec"), ns)
    assert ns["y"].shape == (100, 64, 256) and ns["y16"].shape == (5, 2, 256)
    F, p = ns["F"], ns["p"]
    weights = (p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    x = np.random.default_rng(0).standard_normal((100, 64, 256), dtype=np.float32)
    assert np.array_equal(ns["y"], F.lstm_forward(x, *weights, precision="bfloat16")[0])
