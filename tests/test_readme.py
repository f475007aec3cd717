"""The README's runnable examples run (its first two Python blocks, in one namespace,
as a reader would paste them)."""

from __future__ import annotations

import pathlib
import re

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
