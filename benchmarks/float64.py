"""float64, the dtype of teaching and gradient checks, against PyTorch's float64.

    python benchmarks/float64.py [--threads 1] [--json FILE]

On CPUs with AVX-512, float64 runs the AVX2 kernels (a smaller build:
src/cpp/CMakeLists.txt); this measures what that costs and where it leaves
float64 against ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` in float64. Each cell,
at S2's and S3's shapes (benchmarks/bench.py), inference and training
(forward with a tape, then BPTT of every weight and the input), is checked
against the NumPy reference first (1e-10 relative; torch too) and then timed:
median of several samples, ratio = torch / lstmfast.

``LSTMFAST_ISA=avx2`` or ``portable`` times another instruction set's kernels.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

import lstmfast
from lstmfast import cells
from lstmfast.app.speed import IDLE_PAUSE, engine, measure, problem, torch_engine, validate
from lstmfast.config import kernel_config

SHAPES = {"S2": (100, 16, 32, 128), "S3": (100, 64, 256, 256)}  # T, B, I, H
RTOL = 1e-10  # float64 against float64: different summation orders agree to ~1e-15


def run(threads: int, budget: float) -> list[dict]:
    try:
        import torch
    except ImportError:
        torch = None
    lstmfast.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    rows = []
    for cell in ("lstm", "gru", "rnn"):
        kind = cells.get(cell)
        for label, shape in SHAPES.items():
            args, dy = problem(cell, shape, np.float64)
            for training in (False, True):
                expected = engine(kind.reference, args, dy, training)()
                engines = {"lstmfast": engine(kind.fast, args, dy, training)}
                if torch is not None:
                    engines["torch"] = torch_engine(torch, args, dy, training, cell)
                row = {"cell": cell, "shape": label, "mode": "training" if training else "inference", "ms": {}}
                for name, fn in engines.items():
                    validate(name, fn(), expected, RTOL)
                    time.sleep(IDLE_PAUSE)
                    row["ms"][name] = 1e3 * measure(fn, budget=budget)
                rows.append(row)
                ratio = row["ms"].get("torch", float("nan")) / row["ms"]["lstmfast"]
                print(
                    f"{cell:4} {label} {row['mode']:9}  lstmfast {row['ms']['lstmfast']:8.2f} ms"
                    f"  torch {row['ms'].get('torch', float('nan')):8.2f} ms  ratio {ratio:.2f}",
                    flush=True,
                )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per engine and cell (roughly)")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers here")
    opts = ap.parse_args()
    config = kernel_config()
    print(f"{config['cpu']}; float64 kernels: {config['float64_isa']}; {opts.threads} thread(s)")
    rows = run(opts.threads, opts.budget)
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as f:
            machine = {"cpu": config["cpu"], "float64_isa": config["float64_isa"], "python": platform.python_version()}
            json.dump({"machine": machine, "threads": opts.threads, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
