"""bfloat16 inference against float32 and PyTorch's low-precision LSTMs (issue 14, c).

    python benchmarks/bfloat16.py [--threads 1 2] [--rounds 5] [--json FILE]

On S3 (T=100, B=64, I=256, H=256) and S4 (T=50, B=128, I=512, H=1024), one
layer, inference: lstmfast float32 and ``precision="bfloat16"``; torch's
``nn.LSTM`` in float32, under ``torch.autocast("cpu", torch.bfloat16)`` (oneDNN's
bfloat16 RNN) and dynamically quantized to int8
(``torch.ao.nn.quantized.dynamic.LSTM``). Same weights and input for all.
Each round times every engine in turn (median of 3 calls after a warm-up);
a cell is the median over the rounds, so all ratios come from one run.
Errors: max |y - y_float64| over the whole output, against lstmfast's float64
reference on the same weights.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np

import lstmfast
import lstmfast.config
from lstmfast import functional as F
from lstmfast import reference

try:
    import torch
except ImportError:
    torch = None

SHAPES = {"S3": (100, 64, 256, 256), "S4": (50, 128, 512, 1024)}


def problem(T: int, B: int, I: int, H: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(0)
    k = 1 / np.sqrt(H)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    w = tuple(rng.uniform(-k, k, shape).astype(np.float32) for shape in ((4 * H, I), (4 * H, H), (4 * H,), (4 * H,)))
    return x, w


def engines(x: np.ndarray, w: tuple[np.ndarray, ...]) -> dict:
    """name -> a call returning y as a float32 (or float64) array."""
    calls = {
        "lstmfast float32": lambda: F.lstm_forward(x, *w)[0],
        "lstmfast bfloat16": lambda: F.lstm_forward(x, *w, precision="bfloat16")[0],
    }
    if torch is None:
        return calls
    I, H = x.shape[2], w[1].shape[1]
    module = torch.nn.LSTM(I, H)
    with torch.no_grad():
        for name, value in zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), w):
            getattr(module, name).copy_(torch.from_numpy(value))
    # torch 2.13's quantize_dynamic(module, {nn.LSTM}) returns the float module
    # unchanged (measured: float32's time and error), so the quantized module is
    # made directly, with the default dynamic qconfig (int8 weights, per tensor).
    module.qconfig = torch.ao.quantization.default_dynamic_qconfig
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the eager quantization API's deprecation notice
        quantized = torch.ao.nn.quantized.dynamic.LSTM.from_float(module)
    xt = torch.from_numpy(x)

    def run(m, autocast=False):
        def call():
            with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=autocast):
                return m(xt)[0].float().numpy()

        return call

    calls["torch float32"] = run(module)
    calls["torch bfloat16 (autocast)"] = run(module, autocast=True)
    calls["torch int8 (dynamic)"] = run(quantized)
    return calls


def timed(call) -> float:
    call()
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    config = lstmfast.config.kernel_config()
    print(
        f"{config['cpu']}; lstmfast {config['isa']}, bfloat16 products: {config['bfloat16_products']}; "
        f"torch {getattr(torch, '__version__', None)}"
    )
    rows = []
    for shape, dims in SHAPES.items():
        x, w = problem(*dims)
        exact = reference.lstm_forward(x.astype(np.float64), *(a.astype(np.float64) for a in w))[0]
        for threads in args.threads:
            lstmfast.set_num_threads(threads)
            if torch is not None:
                torch.set_num_threads(threads)
            calls = engines(x, w)
            errors = {name: float(np.abs(call() - exact).max()) for name, call in calls.items()}
            times: dict[str, list[float]] = {name: [] for name in calls}
            for _ in range(args.rounds):
                for name, call in calls.items():
                    times[name].append(1e3 * timed(call))
            ms = {name: statistics.median(t) for name, t in times.items()}
            rows.append({"shape": shape, "threads": threads, "ms": ms, "rounds": times, "max_abs_err": errors})
            base = ms["lstmfast bfloat16"]
            print(f"{shape} {threads} thread(s):")
            for name in calls:
                print(f"  {name:28s} {ms[name]:9.2f} ms ({ms[name] / base:4.2f}x)  max|err| {errors[name]:.1e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": config["cpu"], "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
