"""Is the fast path right, and how fast is it? Checks against the NumPy reference, then timings.

* :func:`check_against_reference`: the C++ forward pass and BPTT against
  :mod:`lstmfast.reference` on the same inputs, LSTM and RNN, float32 and float64.
* :func:`time_training_step`: one training step (forward + BPTT) of lstmfast and of
  the NumPy reference, median time and ratio.
* :func:`bench`: a small, self-contained version of ``benchmarks/bench.py`` that runs
  from an installed package: lstmfast, the NumPy reference and PyTorch (when it is
  importable) on a few shapes, each engine validated against the reference before it
  is timed.

Errors are relative to the largest reference value of each array:
``max|fast − ref| / max|ref|``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from .. import functional as F
from .. import reference as ref
from ..config import config as build_config

__all__ = ["CheckRow", "check_against_reference", "check_table", "StepTiming", "time_training_step",
           "BenchRow", "bench", "bench_table", "BENCH_SHAPES", "TOLERANCE", "measure"]

#: Agreement required of the fast path (the test suite's tolerances).
TOLERANCE = {"float32": 2e-5, "float64": 1e-10}
#: Named shapes (T, B, I, H) for :func:`bench`.
BENCH_SHAPES = {
    "tiny": (64, 1, 1, 32),        # a univariate series, one sequence at a time
    "small": (50, 16, 16, 64),
    "medium": (100, 16, 32, 128),  # benchmarks/bench.py's S2
    "long": (1000, 8, 64, 128),    # benchmarks/bench.py's S5
}
# Engines must agree with the reference to this (float32, any summation order) before timing.
_VALIDATE_RTOL = 1e-3


def _rel_err(a: Any, b: Any) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def _problem(cell: str, shape: tuple[int, int, int, int], dtype: Any, seed: int) -> tuple[dict, np.ndarray]:
    """Arguments of ``*_forward`` (PyTorch-like scales, a non-zero initial state) and a dy."""
    T, B, I, H = shape  # noqa: E741
    G = 4 * H if cell == "lstm" else H
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    args = {"x": rng.standard_normal((T, B, I)), "w_ih": rng.uniform(-k, k, (G, I)),
            "w_hh": rng.uniform(-k, k, (G, H)), "b_ih": rng.uniform(-k, k, G), "b_hh": rng.uniform(-k, k, G),
            "h0": 0.5 * rng.standard_normal((B, H))}
    if cell == "lstm":
        args["c0"] = 0.5 * rng.standard_normal((B, H))
    args = {name: v.astype(dtype) for name, v in args.items()}
    return args, rng.standard_normal((T, B, H)).astype(dtype)


def _train_step(module: Any, cell: str, args: dict, dy: np.ndarray) -> Callable[[], tuple[tuple, dict]]:
    """forward(training=True) + backward of ``module`` (lstmfast.functional or reference)."""
    if cell == "lstm":
        def step() -> tuple[tuple, dict]:
            y, h_n, c_n, tape = module.lstm_forward(**args, training=True)
            return (y, h_n, c_n), module.lstm_backward(tape, dy)
    else:
        def step() -> tuple[tuple, dict]:
            y, h_n, tape = module.rnn_forward(**args, training=True)
            return (y, h_n), module.rnn_backward(tape, dy)
    return step


@dataclass(frozen=True)
class CheckRow:
    """One comparison: ``forward`` is the worst relative error over the outputs (y and the
    final state), ``gradients`` over every gradient (x, initial state, weights, biases)."""

    cell: str
    dtype: str
    shape: tuple[int, int, int, int]
    forward: float
    gradients: float

    @property
    def tolerance(self) -> float:
        return TOLERANCE[self.dtype]

    @property
    def ok(self) -> bool:
        return self.forward <= self.tolerance and self.gradients <= self.tolerance


def check_against_reference(shape: tuple[int, int, int, int] = (30, 5, 7, 37), seed: int = 0) -> list[CheckRow]:
    """The fast path against the NumPy reference: LSTM and RNN, float32 and float64.

    The default shape has an odd hidden size (37), so the SIMD kernels' scalar
    tails are exercised too.
    """
    rows = []
    for cell in ("lstm", "rnn"):
        for dtype in (np.float32, np.float64):
            args, dy = _problem(cell, shape, dtype, seed)
            (out, grads) = _train_step(F, cell, args, dy)()
            (ref_out, ref_grads) = _train_step(ref, cell, args, dy)()
            fwd = max(_rel_err(a, b) for a, b in zip(out, ref_out))
            bwd = max(_rel_err(grads[k], ref_grads[k]) for k in ref_grads if ref_grads[k] is not None)
            rows.append(CheckRow(cell, np.dtype(dtype).name, shape, fwd, bwd))
    return rows


def check_table(rows: list[CheckRow]) -> str:
    lines = [f"{'cell':<5} {'dtype':<8} {'forward':>9} {'gradients':>10} {'tolerance':>10}"]
    for r in rows:
        lines.append(f"{r.cell.upper():<5} {r.dtype:<8} {r.forward:>9.1e} {r.gradients:>10.1e} "
                     f"{r.tolerance:>10.0e}  {'ok' if r.ok else 'FAILED'}")
    return "\n".join(lines)


# Seconds to let other libraries' worker threads go idle before timing an engine.
IDLE_PAUSE = 0.3


def measure(fn: Callable[[], Any], *, budget: float = 0.5, samples: int = 7) -> float:
    """Median seconds per call of ``fn``: after a warm-up call, ``samples`` samples of
    n calls each (n so a sample lasts about 10 ms), within roughly ``budget`` seconds
    (at least 3 samples)."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    n = max(1, int(0.01 / once))
    samples = max(3, min(samples, int(budget / (once * n))))
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - start) / n)
    return statistics.median(times)


@dataclass(frozen=True)
class StepTiming:
    """Median time of one LSTM training step (forward + BPTT), float32."""

    shape: tuple[int, int, int, int]
    fast_ms: float
    reference_ms: float
    threads: int
    isa: str

    @property
    def speedup(self) -> float:
        return self.reference_ms / self.fast_ms

    def table(self) -> str:
        return "\n".join([
            f"{'NumPy reference':<16} {self.reference_ms:>9.2f} ms",
            f"{'lstmfast (C++)':<16} {self.fast_ms:>9.2f} ms   {self.speedup:.1f}x faster",
        ])


def time_training_step(shape: tuple[int, int, int, int] = BENCH_SHAPES["medium"], *, budget: float = 0.5,
                       seed: int = 0) -> StepTiming:
    """Median time of an LSTM training step, lstmfast vs the NumPy reference (float32),
    after checking that both give the same numbers."""
    args, dy = _problem("lstm", shape, np.float32, seed)
    fast, slow = _train_step(F, "lstm", args, dy), _train_step(ref, "lstm", args, dy)
    _validate("lstmfast", fast(), slow())
    info = build_config()
    time.sleep(IDLE_PAUSE)  # the reference's BLAS threads must not share the cores with the timed call
    fast_ms = 1e3 * measure(fast, budget=budget)
    slow_ms = 1e3 * measure(slow, budget=budget)
    return StepTiming(shape, fast_ms, slow_ms, info["threads"], info["isa"])


def _validate(name: str, result: tuple[tuple, dict], expected: tuple[tuple, dict]) -> float:
    (out, grads), (ref_out, ref_grads) = result, expected
    errors = [_rel_err(a, b) for a, b in zip(out, ref_out)]
    errors += [_rel_err(grads[k], ref_grads[k]) for k in ref_grads if ref_grads[k] is not None]
    worst = max(errors)
    if worst > _VALIDATE_RTOL:
        raise RuntimeError(f"{name}: differs from the NumPy reference by {worst:.2e} (relative); not timing it")
    return worst


# --------------------------------------------------------------------------- bench


@dataclass
class BenchRow:
    shape_name: str
    shape: tuple[int, int, int, int]
    mode: str  # "inference" or "training"
    ms: dict[str, float] = field(default_factory=dict)
    max_rel_err: dict[str, float] = field(default_factory=dict)


def _torch_engine(torch: Any, args: dict, dy: np.ndarray, training: bool) -> Callable[[], Any]:
    from ..convert import to_torch_state_dict

    T, B, I = args["x"].shape  # noqa: E741
    H = args["w_hh"].shape[1]
    lstm = torch.nn.LSTM(I, H)
    lstm.load_state_dict(to_torch_state_dict({k: args[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh")}, tensors=True))
    x = torch.from_numpy(args["x"])
    h0, c0 = torch.from_numpy(args["h0"])[None], torch.from_numpy(args["c0"])[None]
    if not training:
        def infer() -> np.ndarray:
            with torch.no_grad():
                return lstm(x, (h0, c0))[0].numpy()
        return infer
    dyt = torch.from_numpy(dy)

    def step() -> tuple[tuple, dict]:
        xr, h, c = (t.detach().requires_grad_(True) for t in (x, h0, c0))
        for p in lstm.parameters():
            p.grad = None
        y, (h_n, c_n) = lstm(xr, (h, c))
        y.backward(dyt)
        grads = {"x": xr.grad.numpy(), "h0": h.grad[0].numpy(), "c0": c.grad[0].numpy(),
                 "w_ih": lstm.weight_ih_l0.grad.numpy(), "w_hh": lstm.weight_hh_l0.grad.numpy(),
                 "b_ih": lstm.bias_ih_l0.grad.numpy(), "b_hh": lstm.bias_hh_l0.grad.numpy()}
        return (y.detach().numpy(), h_n[0].detach().numpy(), c_n[0].detach().numpy()), grads
    return step


def import_torch() -> Optional[Any]:
    """torch if it can be imported, else None."""
    try:
        import torch
    except Exception:  # ImportError, or a broken installation
        return None
    return torch


def bench(shapes: Optional[list[str]] = None, *, modes: tuple[str, ...] = ("inference", "training"),
          use_torch: bool = True, budget: float = 0.5, seed: int = 0,
          progress: Optional[Callable[[BenchRow], None]] = None) -> list[BenchRow]:
    """Time lstmfast, the NumPy reference and (if importable) PyTorch: LSTM, float32.

    Every engine's output (and in training every gradient) is compared with the
    reference first (relative error <= 1e-3, or RuntimeError); then it is timed
    (:func:`measure`: median of several samples). ``progress`` is called with each
    finished row.
    """
    shapes = list(shapes or ("tiny", "medium"))
    unknown = [s for s in shapes if s not in BENCH_SHAPES]
    if unknown:
        raise ValueError(f"shapes: unknown {unknown}; choose from {list(BENCH_SHAPES)}")
    torch = import_torch() if use_torch else None
    rows = []
    for name in shapes:
        shape = BENCH_SHAPES[name]
        args, dy = _problem("lstm", shape, np.float32, seed)
        for mode in modes:
            training = mode == "training"
            if training:
                engines = {"lstmfast": _train_step(F, "lstm", args, dy), "numpy": _train_step(ref, "lstm", args, dy)}
            else:
                engines = {"lstmfast": lambda: F.lstm_forward(**args)[0],
                           "numpy": lambda: ref.lstm_forward(**args)[0]}
            if torch is not None:
                engines["torch"] = _torch_engine(torch, args, dy, training)
            expected = engines["numpy"]()
            row = BenchRow(name, shape, mode)
            for engine, fn in engines.items():
                if training:
                    row.max_rel_err[engine] = _validate(engine, fn(), expected)
                else:
                    err = _rel_err(fn(), expected)
                    if err > _VALIDATE_RTOL:
                        raise RuntimeError(f"{engine}: differs from the NumPy reference by {err:.2e}; not timing it")
                    row.max_rel_err[engine] = err
            for engine, fn in engines.items():
                # OpenBLAS, OpenMP and lstmfast's pool keep their threads spinning
                # for a while after a call; one of them would take the second core
                # from the engine being timed.
                time.sleep(IDLE_PAUSE)
                row.ms[engine] = 1e3 * measure(fn, budget=budget)
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows


def bench_header() -> str:
    info = build_config()
    return (f"LSTM, float32, median time per call; lstmfast on {info['isa']} with {info['threads']} thread(s); "
            f"each engine checked against the NumPy reference first")


def bench_row_text(row: BenchRow) -> str:
    T, B, I, H = row.shape  # noqa: E741
    fast = row.ms["lstmfast"]
    parts = [f"{row.shape_name:<7} T={T:<4} B={B:<3} I={I:<3} H={H:<4} {row.mode:<9}  lstmfast {fast:>9.3f} ms"]
    for engine, ms in row.ms.items():
        if engine != "lstmfast":
            parts.append(f"{engine} {ms:>9.3f} ms ({ms / fast:>5.1f}x)")
    return "   ".join(parts)


def bench_table(rows: list[BenchRow]) -> str:
    return "\n".join([bench_header()] + [bench_row_text(r) for r in rows])
