"""Benchmark lstmfast against the NumPy reference, PyTorch and ONNX Runtime.

    python benchmarks/bench.py                      # the full table (several minutes)
    python benchmarks/bench.py --shapes S1,S2 --threads 1 --json out.json

For every shape, mode (inference; training = forward + backward of all weights
and inputs) and thread count, each engine's output (and, in training, every
gradient) is first checked against the NumPy reference on the same inputs;
only then is it timed. Times are medians over several samples of repeated
calls. GFLOP/s counts matrix FLOPs only: forward 2*T*B*4H*(I+H), training 3x
that. The machine's float32 matmul peak (best of NumPy and PyTorch, large
square products) is measured in the same run at each thread count.

Optional engines are skipped when not installed: torch (`pip install
torch==2.13.0`), onnxruntime + onnx, threadpoolctl (to limit NumPy's threads).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from functools import partial
from typing import Any, Callable

import numpy as np

import lstmfast
from lstmfast import cells
from lstmfast.app.speed import IDLE_PAUSE, engine, measure, problem, torch_engine, validate
from lstmfast.layers import stack_backward, stack_forward

SHAPES = {  # T, B, I, H
    "S1": (64, 1, 1, 32),
    "S2": (100, 16, 32, 128),
    "S3": (100, 64, 256, 256),
    "S4": (50, 128, 512, 1024),
    "S5": (1000, 8, 64, 128),
}
# Whole-layer cases (issue 5), run through lstmfast.LSTM and torch.nn.LSTM:
LAYER_CASES = {
    "S6": {"T": 100, "B": 32, "I": 64, "H": 128, "layers": 2, "bidirectional": True, "ragged": False},
    "S7": {"T": 200, "B": 32, "I": 32, "H": 128, "layers": 1, "bidirectional": False, "ragged": True},
}
# A timing sample lasts at least this long (seconds).
SAMPLE_SECONDS = 0.02


def optional(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


torch = optional("torch")
ort = optional("onnxruntime")
onnx = optional("onnx")
threadpoolctl = optional("threadpoolctl")


# ------------------------------------------------------------------ timing


def timed(fn: Callable[[], Any], budget: float, samples: int = 7) -> float:
    return measure(fn, budget=budget, samples=samples, sample_seconds=SAMPLE_SECONDS)


class Threads:
    """Limit every library's threads to n for the duration of a block."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        lstmfast.set_num_threads(self.n)
        if torch is not None:
            self.torch_threads = torch.get_num_threads()
            torch.set_num_threads(self.n)
        self.limits = threadpoolctl.threadpool_limits(self.n) if threadpoolctl else None
        return self

    def __exit__(self, *exc):
        if torch is not None:
            torch.set_num_threads(self.torch_threads)
        if self.limits is not None:
            self.limits.unregister()


def matmul_peak(threads: int) -> dict[str, float]:
    """Best float32 GFLOP/s of large square matmuls, per library."""
    out = {}
    with Threads(threads):
        time.sleep(IDLE_PAUSE)
        for n in (1024, 2048):
            a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
            flops = 2.0 * n**3
            products = {"numpy": partial(np.matmul, a, a), "lstmfast": partial(lstmfast._core.matmul, a, a)}
            if torch is not None:
                t = torch.from_numpy(a)
                products["torch"] = partial(torch.matmul, t, t)
            for name, product in products.items():
                out[name] = max(out.get(name, 0), flops / timed(product, 1.5) / 1e9)
    return out


# ------------------------------------------------------------------ engines


def engine_onnxruntime(p, threads):
    import tempfile

    from lstmfast.integrations import onnx as lstmfast_onnx

    layer = lstmfast.LSTM(p["x"].shape[2], p["w_hh"].shape[1])
    layer.load_state_dict({k: p[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh")})
    with tempfile.TemporaryDirectory() as folder:
        path = lstmfast_onnx.export(layer, os.path.join(folder, "lstm.onnx"), initial_states=True)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feeds = {"x": p["x"], "h0": p["h0"][None], "c0": p["c0"][None]}
    return lambda: ((sess.run(["y"], feeds)[0],), None)


# ------------------------------------------------------------------ one row of the table


def new_row(label, training, threads, flops_forward, **fields):
    """The record of one cell of the table: shape, mode, threads, GFLOP of a call."""
    return {
        "shape": label,
        **fields,
        "mode": "training" if training else "inference",
        "threads": threads,
        "gflop": (3 if training else 1) * flops_forward / 1e9,
        "ms": {},
        "max_rel_err": {},
    }


def validate_then_time(row, engines, expected, budget, numpy_slow):
    """Check every engine against the reference, then time each."""
    for name, fn in engines.items():
        row["max_rel_err"][name] = validate(name, fn(), expected)
    time_engines(row, engines, budget, numpy_slow)


def time_engines(row, engines, budget, numpy_slow):
    """Median time of each engine (``numpy_slow``: the NumPy reference gets 3 samples
    instead of 7)."""
    for name, fn in engines.items():
        # Let every library's worker threads go back to sleep first: OpenBLAS,
        # OpenMP and our own pool spin for a while after a call, and a spinning
        # thread would steal the second core from the engine being timed.
        time.sleep(IDLE_PAUSE)
        slow = name == "numpy" and numpy_slow
        row["ms"][name] = 1e3 * timed(fn, budget, samples=3 if slow else 7)


# ------------------------------------------------------------------ whole layers (S6, S7)


def make_layer_problem(case, seed=0):
    rng = np.random.default_rng(seed)
    T, B, I, H = case["T"], case["B"], case["I"], case["H"]
    layer = lstmfast.LSTM(I, H, num_layers=case["layers"], bidirectional=case["bidirectional"], seed=seed)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    lengths = rng.integers(T // 4, T + 1, B) if case["ragged"] else None  # unsorted
    D = 2 if case["bidirectional"] else 1
    dy = rng.standard_normal((T, B, D * H)).astype(np.float32)
    if lengths is not None:
        dy[np.arange(T)[:, None] >= lengths[None, :]] = 0  # padded outputs are constants
    return layer, x, lengths, dy


def layer_flops(case, lengths):
    """Matrix FLOPs of one forward, counting only real steps."""
    steps = case["T"] * case["B"] if lengths is None else int(np.sum(lengths))
    D, H = (2 if case["bidirectional"] else 1), case["H"]
    total = 0
    for layer in range(case["layers"]):
        inputs = case["I"] if layer == 0 else D * H
        total += D * 2 * steps * 4 * H * (inputs + H)
    return float(total)


def engine_layer_lstmfast(layer, x, lengths, dy, training):
    if not training:
        return lambda: ((layer(x, lengths=lengths)[0],), None)

    def step():
        y, _, tape = layer.forward(x, lengths=lengths)
        g = layer.backward(tape, dy)
        return (y,), {k: v for k, v in g.items() if k not in ("h0", "c0")}

    return step


def engine_layer_reference(layer, x, lengths, dy, training):
    """The NumPy reference run through the same stack of layers and directions."""
    levels = layer.levels()
    reference = True

    def run():
        y, _, tape = stack_forward(levels, x, training=training, lengths=lengths, reference=reference)
        if not training:
            return (y,), None
        g = stack_backward(levels, tape, dy, reference=reference)
        grads = {"x": g.x}
        for k, level in enumerate(g.weights):
            for d, weights in enumerate(level):
                names = lstmfast.layers.parameter_names(k, bool(d))
                grads.update({names[key]: value for key, value in weights.items()})
        return (y,), grads

    return run


def engine_layer_torch(layer, x, lengths, dy, training):
    T = x.shape[0]
    m = torch.nn.LSTM(
        layer.input_size, layer.hidden_size, num_layers=layer.num_layers, bidirectional=layer.bidirectional
    )
    m.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    xt, dyt = torch.from_numpy(x), torch.from_numpy(dy)
    lt = None if lengths is None else torch.from_numpy(lengths)
    pack = torch.nn.utils.rnn.pack_padded_sequence

    def run(inp):
        if lt is None:
            return m(inp)[0]
        out, _ = m(pack(inp, lt, enforce_sorted=False))
        return torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)[0]

    if not training:

        def infer():
            with torch.no_grad():
                return (run(xt).numpy(),), None

        return infer

    def step():
        xr = xt.detach().requires_grad_(True)
        for q in m.parameters():
            q.grad = None
        y = run(xr)
        y.backward(dyt)
        grads = {name: q.grad.numpy() for name, q in m.named_parameters()}
        grads["x"] = xr.grad.numpy()
        return (y.detach().numpy(),), grads

    return step


def run_layer_cases(cases, threads_list, modes, budget, include_reference=True):
    rows = []
    for label in cases:
        case = LAYER_CASES[label]
        layer, x, lengths, dy = make_layer_problem(case)
        flops = layer_flops(case, lengths)
        for training in modes:
            for n in threads_list:
                with Threads(n):
                    expected = engine_layer_reference(layer, x, lengths, dy, training)()
                    engines = {"lstmfast": engine_layer_lstmfast(layer, x, lengths, dy, training)}
                    if include_reference:
                        engines["numpy"] = engine_layer_reference(layer, x, lengths, dy, training)
                    if torch is not None:
                        engines["torch"] = engine_layer_torch(layer, x, lengths, dy, training)
                    row = new_row(label, training, n, flops, **case)
                    validate_then_time(row, engines, expected, budget, numpy_slow=True)
                rows.append(row)
                fast = row["ms"]["lstmfast"]
                others = "  ".join(
                    f"{k} {v:9.3f} ms ({v / fast:5.2f}x)" for k, v in row["ms"].items() if k != "lstmfast"
                )
                print(
                    f"{label} {row['mode']:9s} {n}t  lstmfast {fast:9.3f} ms "
                    f"{row['gflop'] / (fast / 1e3):7.1f} GFLOP/s  {others}",
                    flush=True,
                )
    return rows


# ------------------------------------------------------------------ a torch training step (T1)

# One training step of a small torch model (LSTM + Linear head + Adam), with
# torch.nn.LSTM and with lstmfast.torch.LSTM in its place (issue 11).
TORCH_CASES = {"T1": {"T": 100, "B": 32, "I": 32, "H": 128}}


def torch_model_step(cls, case, x, target):
    """A fresh LSTM + Linear net (seeded) with Adam, and one training step of it."""
    torch.manual_seed(1)
    net = torch.nn.ModuleDict({"lstm": cls(case["I"], case["H"]), "head": torch.nn.Linear(case["H"], 1)})
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(net["head"](net["lstm"](x)[0][-1]), target)
        loss.backward()
        optimizer.step()
        return (loss.detach().numpy()[None],), {n: p.grad.numpy().copy() for n, p in net.named_parameters()}

    return net, step


def run_torch_cases(cases, threads_list, budget):
    import lstmfast.torch as lt

    rows = []
    for label in cases:
        case = TORCH_CASES[label]
        T, B, I, H = case["T"], case["B"], case["I"], case["H"]
        g = torch.Generator().manual_seed(0)
        x, target = torch.randn(T, B, I, generator=g), torch.randn(B, 1, generator=g)
        for n in threads_list:
            with Threads(n):
                ours, theirs = (
                    torch_model_step(lt.LSTM, case, x, target),
                    torch_model_step(torch.nn.LSTM, case, x, target),
                )
                theirs[0].load_state_dict(ours[0].state_dict())  # the same weights: the same first step
                row = new_row(label, True, n, 2.0 * T * B * 4 * H * (I + H), **case)
                row["max_rel_err"]["lstmfast"] = validate("lstmfast.torch", ours[1](), theirs[1]())
                time_engines(row, {"lstmfast": ours[1], "torch": theirs[1]}, budget, numpy_slow=False)
            rows.append(row)
            fast = row["ms"]["lstmfast"]
            print(
                f"{label} torch training step {n}t  lstmfast.torch {fast:9.3f} ms  torch.nn {row['ms']['torch']:9.3f} "
                f"ms ({row['ms']['torch'] / fast:5.2f}x)",
                flush=True,
            )
    return rows


# ------------------------------------------------------------------ main


def run(shapes, threads_list, modes, budget, include_reference=True):
    rows = []
    peaks = {n: matmul_peak(n) for n in threads_list}
    for label in shapes:
        shape = SHAPES[label]
        T, B, I, H = shape
        p, dy = problem(cells.LSTM, shape, state_scale=0.1)
        flops_fwd = 2.0 * T * B * 4 * H * (I + H)
        for training in modes:
            for n in threads_list:
                with Threads(n):
                    expected = engine(cells.LSTM.reference, p, dy, training)()
                    engines = {"lstmfast": engine(cells.LSTM.fast, p, dy, training)}
                    if include_reference:
                        engines["numpy"] = engine(cells.LSTM.reference, p, dy, training)
                    if torch is not None:
                        engines["torch"] = torch_engine(torch, p, dy, training)
                    if ort is not None and onnx is not None and not training:
                        engines["onnxruntime"] = engine_onnxruntime(p, n)
                    row = new_row(label, training, n, flops_fwd, T=T, B=B, I=I, H=H)
                    validate_then_time(row, engines, expected, budget, numpy_slow=row["gflop"] > 20)
                rows.append(row)
                print(format_row(row, peaks[n]), flush=True)
    return rows, peaks


def format_row(row, peak):
    ms = row["ms"]
    fast = ms["lstmfast"]
    gflops = row["gflop"] / (fast / 1e3)
    best_peak = max(peak.get("numpy", 0), peak.get("torch", 0))
    others = "  ".join(f"{k} {v:9.3f} ms ({v / fast:5.2f}x)" for k, v in ms.items() if k != "lstmfast")
    return (
        f"{row['shape']} {row['mode']:9s} {row['threads']}t  lstmfast {fast:9.3f} ms {gflops:7.1f} GFLOP/s "
        f"({100 * gflops / best_peak:5.1f}% of peak)  {others}"
    )


def machine() -> dict[str, Any]:
    cpu = lstmfast.config.cpu_name()
    return {
        "cpu": cpu,
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": getattr(torch, "__version__", None),
        "onnxruntime": getattr(ort, "__version__", None),
        **{f"lstmfast_{k}": v for k, v in lstmfast.config.kernel_config().items()},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--shapes",
        default=",".join(list(SHAPES) + list(LAYER_CASES) + list(TORCH_CASES)),
        help="comma-separated subset of " + ",".join(list(SHAPES) + list(LAYER_CASES) + list(TORCH_CASES)),
    )
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--modes", default="inference,training")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per engine and cell (roughly)")
    ap.add_argument("--no-reference", action="store_true", help="skip timing the NumPy reference (still validates)")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers here")
    args = ap.parse_args(argv)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    known = {**SHAPES, **LAYER_CASES, **TORCH_CASES}
    unknown = [s for s in shapes if s not in known]
    if unknown:
        ap.error(f"unknown shapes {unknown}; choose from {list(known)}")
    threads = [int(t) for t in args.threads.split(",")]
    modes = [m.strip() == "training" for m in args.modes.split(",")]
    info = machine()
    print(json.dumps(info))
    rows, peaks = run([s for s in shapes if s in SHAPES], threads, modes, args.budget, not args.no_reference)
    rows += run_layer_cases([s for s in shapes if s in LAYER_CASES], threads, modes, args.budget, not args.no_reference)
    if torch is not None:
        rows += run_torch_cases([s for s in shapes if s in TORCH_CASES], threads, args.budget)
    print("float32 matmul peak GFLOP/s:", json.dumps(peaks))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "matmul_peak_gflops": peaks, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
