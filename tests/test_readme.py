"""The README's runnable examples run (its first two Python blocks, in one namespace,
as a reader would paste them)."""

from __future__ import annotations

import pathlib
import re

import numpy as np

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
