"""A training step's LSTM on a machine busier than its cores (issue 14).

    python benchmarks/busy_cores.py [--repeats 9] [--json FILE]

Shared machines, Dask workers and MPI ranks on one node often leave a library
fewer free cores than it has threads. Here, for T=100, B=64, I=8, H=128
(float32), forward and backward are timed on 1 and on all threads, first on
idle cores, then with one spinning process per core started beside them;
lstmfast against torch.nn.LSTM (forward, then backward of y.sum()). Medians;
``loops alone`` counts lstmfast's time loops that finished on one thread
because a pool thread kept losing its core (show_config's loops_finished_alone).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

import lstmfast
from lstmfast import _core

try:
    import torch
except ImportError:
    torch = None

T, B, I, H = 100, 64, 8, 128


def time_lstmfast(repeats: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    w = [rng.uniform(-0.1, 0.1, s).astype(np.float32) for s in ((4 * H, I), (4 * H, H), (4 * H,), (4 * H,))]
    fwd, bwd = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        y, _, _, tape = lstmfast.lstm_forward(x, *w, training=True)
        t1 = time.perf_counter()
        lstmfast.lstm_backward(tape, np.ones_like(y))
        fwd.append(t1 - t0)
        bwd.append(time.perf_counter() - t1)
    return statistics.median(fwd), statistics.median(bwd)


def time_torch(repeats: int) -> tuple[float, float]:
    assert torch is not None
    lstm = torch.nn.LSTM(I, H)
    x = torch.randn(T, B, I)
    fwd, bwd = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        y, _ = lstm(x)
        t1 = time.perf_counter()
        y.sum().backward()
        fwd.append(t1 - t0)
        bwd.append(time.perf_counter() - t1)
    return statistics.median(fwd), statistics.median(bwd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    cores = _core.default_num_threads()
    rows = []
    for busy in (0, cores):
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(0.5)
            for threads in sorted({1, cores}):
                _core.set_num_threads(threads)
                alone = _core.loops_alone()
                f, b = time_lstmfast(args.repeats)
                row = {"busy": busy, "threads": threads, "lstmfast_fwd": f, "lstmfast_bwd": b}
                row["loops_alone"] = _core.loops_alone() - alone
                time.sleep(0.3)  # the pool's threads back to sleep before torch's run
                if torch is not None:
                    torch.set_num_threads(threads)
                    row["torch_fwd"], row["torch_bwd"] = time_torch(args.repeats)
                rows.append(row)
        finally:
            for p in spinners:
                p.kill()
                p.wait()
    print(
        f"CPU: {lstmfast.config.cpu_name()}, {cores} cores; T={T} B={B} I={I} H={H} float32, median of {args.repeats}"
    )
    print("| other busy processes | threads | lstmfast fwd / bwd ms | loops alone | torch fwd / bwd ms |")
    print("|---|---|---|---|---|")
    for r in rows:
        torch_ms = f"{1e3 * r['torch_fwd']:.1f} / {1e3 * r['torch_bwd']:.1f}" if "torch_fwd" in r else "–"
        print(
            f"| {r['busy']} | {r['threads']} | {1e3 * r['lstmfast_fwd']:.1f} / {1e3 * r['lstmfast_bwd']:.1f} "
            f"| {r['loops_alone']}/{2 * args.repeats} | {torch_ms} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": lstmfast.config.cpu_name(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
