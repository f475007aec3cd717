"""One time step at a time, as online forecasting and sensor streams run (issue 14).

    python benchmarks/streaming.py [--threads 1] [--json FILE]

For B in {1, 16} and H in {32, 128, 512} (I = 16, float32), the latency of one
step, from a Python call with the state in hand to the next state:
``lstmfast.LSTMCell``, the same cell ``prepared()`` (weights packed once) and,
where the CPU has bfloat16 kernels, ``prepared(precision="bfloat16")``,
``lstmfast.LSTM(...).step``, ``torch.nn.LSTMCell``, ``torch.nn.LSTM`` on a
sequence of length 1, and ONNX Runtime running ``lstmfast.onnx.export`` of the
layer with its initial states as inputs (T = 1). Every engine's next state is
checked against lstmfast's reference first (1e-5 relative, float32; the
bfloat16 cell against the reference's bfloat16 rounding). Median of many calls;
ratio = other / lstmfast.LSTMCell.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np

import lstmfast
from lstmfast import reference

try:
    import torch
except ImportError:
    torch = None
try:
    import onnxruntime as ort
except ImportError:
    ort = None

I = 16
GRID = [(B, H) for B in (1, 16) for H in (32, 128, 512)]


def latency(call, seconds: float = 0.3) -> float:
    """Median seconds per call over samples of about 5 ms each."""
    call()
    n, start = 1, time.perf_counter()
    while time.perf_counter() - start < 0.005:
        call()
        n += 1
    samples = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 7:
        start = time.perf_counter()
        for _ in range(n):
            call()
        samples.append((time.perf_counter() - start) / n)
    return statistics.median(samples)


def engines(B: int, H: int, threads: int) -> tuple[dict, dict]:
    """name -> a call computing (h, c) for one step; name -> the reference's h for it."""
    rng = np.random.default_rng(0)
    layer = lstmfast.LSTM(I, H, seed=0)
    cell = lstmfast.LSTMCell(I, H)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in layer.state_dict().items()})
    x = rng.standard_normal((B, I)).astype(np.float32)
    h = (0.5 * rng.standard_normal((B, H))).astype(np.float32)
    c = (0.5 * rng.standard_normal((B, H))).astype(np.float32)
    p = layer.parameters()
    w = (p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    expected = reference.lstm_forward(x[None], *w, h, c)[1]
    prepared = cell.prepared()
    calls = {
        "lstmfast.LSTMCell": lambda: cell(x, (h, c))[0],
        "lstmfast prepared": lambda: prepared(x, (h, c))[0],
        "lstmfast.LSTM.step": lambda: layer.step(x, (h[None], c[None]))[1][0][0],
    }
    references = dict.fromkeys(calls, expected)
    if lstmfast.config.kernel_config()["bfloat16_products"]:
        prepared_bf16 = cell.prepared(precision="bfloat16")
        calls["lstmfast prepared bfloat16"] = lambda: prepared_bf16(x, (h, c))[0]
        references["lstmfast prepared bfloat16"] = reference.lstm_forward(x[None], *w, h, c, precision="bfloat16")[1]
    if torch is not None:
        torch.set_num_threads(threads)
        tcell, tlstm = torch.nn.LSTMCell(I, H), torch.nn.LSTM(I, H)
        with torch.no_grad():
            for module, suffix in ((tcell, ""), (tlstm, "_l0")):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(module, name + suffix).copy_(torch.from_numpy(p[name + "_l0"]))
        xt, ht, ct = torch.from_numpy(x), torch.from_numpy(h), torch.from_numpy(c)

        def torch_cell():
            with torch.no_grad():
                return tcell(xt, (ht, ct))[0].numpy()

        def torch_lstm():
            with torch.no_grad():
                return tlstm(xt[None], (ht[None], ct[None]))[1][0][0].numpy()

        calls["torch.nn.LSTMCell"], calls["torch.nn.LSTM T=1"] = torch_cell, torch_lstm
        references["torch.nn.LSTMCell"] = references["torch.nn.LSTM T=1"] = expected
    if ort is not None:
        from lstmfast.integrations import onnx as lonnx

        with tempfile.TemporaryDirectory() as folder:
            path = lonnx.export(layer, os.path.join(folder, "step.onnx"), initial_states=True)
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {"x": x[None], "h0": h[None], "c0": c[None]}
        calls["onnxruntime"] = lambda: session.run(["h_n"], feeds)[0][0]
        references["onnxruntime"] = expected
    return calls, references


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    lstmfast.set_num_threads(args.threads)
    print(
        f"{lstmfast.config.cpu_name()}; {args.threads} thread(s); lstmfast "
        f"{lstmfast.config.kernel_config()['isa']}; torch {getattr(torch, '__version__', None)}; "
        f"onnxruntime {getattr(ort, '__version__', None)}"
    )
    rows = []
    for B, H in GRID:
        calls, references = engines(B, H, args.threads)
        for name, call in calls.items():
            got, expected = np.asarray(call()), references[name]
            err = float(np.abs(got - expected).max() / np.abs(expected).max())
            if not err < 1e-5:
                raise SystemExit(f"B={B} H={H}: {name} differs from the reference ({err:.1e})")
        us = {name: 1e6 * latency(call) for name, call in calls.items()}
        rows.append({"B": B, "H": H, "us": us})
        base = us["lstmfast.LSTMCell"]
        print(
            f"B={B:2d} H={H:3d}  " + "  ".join(f"{k} {v:8.1f} us ({v / base:4.2f}x)" for k, v in us.items()), flush=True
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
