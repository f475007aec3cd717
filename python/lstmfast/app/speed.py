"""Is the fast path right, and how fast is it? Checks against the NumPy reference, then timings.

* :func:`check_against_reference`: the C++ forward pass and BPTT against
  :mod:`lstmfast.reference` on the same inputs, every cell, float32 and float64.
* :func:`time_training_step`: one training step (forward + BPTT) of lstmfast and of
  the NumPy reference, median time and ratio.
* :func:`bench`: a small, self-contained version of ``benchmarks/bench.py`` that runs
  from an installed package: lstmfast, the NumPy reference and PyTorch (when it is
  importable) on a few shapes, each engine validated against the reference before it
  is timed.

The problems, engines, timing and validation here are also those of
``benchmarks/bench.py``, which adds ONNX Runtime, whole layers and thread counts.

Errors are relative to the largest reference value of each array:
``max|fast − ref| / max|ref|``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from .. import cells
from ..config import kernel_config

__all__ = [
    "BENCH_SHAPES",
    "IDLE_PAUSE",
    "TOLERANCE",
    "BenchRow",
    "CheckRow",
    "StepTiming",
    "bench",
    "bench_table",
    "check_against_reference",
    "check_table",
    "engine",
    "measure",
    "problem",
    "rel_err",
    "time_training_step",
    "torch_engine",
    "validate",
]

Array = np.ndarray[Any, Any]
Shape = tuple[int, int, int, int]  # T, B, I, H
#: What an engine returns: the outputs (y and the final state) and, in training, every gradient.
Result = tuple[tuple[Array, ...], Optional[dict[str, Any]]]

#: Agreement required of the fast path (the test suite's tolerances).
TOLERANCE = {"float32": 2e-5, "float64": 1e-10}
#: Named shapes (T, B, I, H) for :func:`bench`.
BENCH_SHAPES: dict[str, Shape] = {
    "tiny": (64, 1, 1, 32),  # a univariate series, one sequence at a time
    "small": (50, 16, 16, 64),
    "medium": (100, 16, 32, 128),  # benchmarks/bench.py's S2
    "long": (1000, 8, 64, 128),  # benchmarks/bench.py's S5
}
# Engines must agree with the reference to this before they are timed: float32
# engines with different summation orders agree to ~1e-5; a wrong gate order or
# a missing term is off by O(1).
VALIDATE_RTOL = 1e-3
#: Seconds to let other libraries' worker threads go idle before timing an engine:
#: longer than the idle spin of OpenBLAS (~2^28 cycles), GNU OpenMP and lstmfast's pool.
IDLE_PAUSE = 0.3


# --------------------------------------------------------------------------- problems and engines


def problem(
    cell: str | cells.Cell, shape: Shape, dtype: Any = np.float32, seed: int = 0, *, state_scale: float = 0.5
) -> tuple[dict[str, Array], Array]:
    """Arguments of ``{cell}_forward`` (PyTorch's initialisation scale, a non-zero
    initial state of standard deviation ``state_scale``) and a dy."""
    kind = cells.get(cell)
    T, B, I, H = shape
    G = kind.gates * H
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    args = {
        "x": rng.standard_normal((T, B, I)),
        "w_ih": rng.uniform(-k, k, (G, I)),
        "w_hh": rng.uniform(-k, k, (G, H)),
        "b_ih": rng.uniform(-k, k, G),
        "b_hh": rng.uniform(-k, k, G),
    }
    for part in kind.states:
        args[part + "0"] = state_scale * rng.standard_normal((B, H))
    args = {name: v.astype(dtype) for name, v in args.items()}
    return args, rng.standard_normal((T, B, H)).astype(dtype)


def engine(functions: cells.Functions, args: dict[str, Array], dy: Array, training: bool) -> Callable[[], Result]:
    """One call of ``functions`` (a cell's fast or reference path) on ``args`` (from
    :func:`problem` for that cell): inference, or forward with a tape and backward."""

    def run() -> Result:  # the plain calls, so that the timings are the functions' own
        *out, tape = functions.forward(**args, training=training)
        return tuple(out), (functions.backward(tape, dy) if training else None)

    return run


def torch_engine(
    torch: Any, args: dict[str, Array], dy: Array, training: bool, cell: str | cells.Cell = "lstm"
) -> Callable[[], Result]:
    """The same call on ``torch.nn.LSTM``, ``GRU`` or ``RNN`` (weights mapped across,
    in the dtype of ``args``)."""
    from ..convert import to_torch_state_dict

    kind = cells.get(cell)
    _, _, I = args["x"].shape
    H = args["w_hh"].shape[1]
    x = torch.from_numpy(args["x"])
    module = getattr(torch.nn, kind.name.upper())(I, H).to(x.dtype)
    weights = {k: args[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh")}
    module.load_state_dict(to_torch_state_dict(weights, tensors=True, cell=kind.name))
    states = [torch.from_numpy(args[part + "0"])[None] for part in kind.states]

    def call(xr: Any, state: list[Any]) -> tuple[Any, list[Any]]:
        y, final = module(xr, tuple(state) if len(state) > 1 else state[0])
        return y, [f[0] for f in (final if isinstance(final, tuple) else (final,))]

    if not training:

        def infer() -> Result:
            with torch.no_grad():
                y, finals = call(x, states)
            return (y.numpy(), *(f.numpy() for f in finals)), None

        return infer
    dyt = torch.from_numpy(dy)

    def step() -> Result:
        xr = x.detach().requires_grad_(True)
        state = [s.detach().requires_grad_(True) for s in states]
        for p in module.parameters():
            p.grad = None
        y, finals = call(xr, state)
        y.backward(dyt)
        grads = {"x": xr.grad.numpy(), **{part + "0": s.grad[0].numpy() for part, s in zip(kind.states, state)}}
        for name, torch_name in (
            ("w_ih", "weight_ih"),
            ("w_hh", "weight_hh"),
            ("b_ih", "bias_ih"),
            ("b_hh", "bias_hh"),
        ):
            grads[name] = getattr(module, torch_name + "_l0").grad.numpy()
        return (y.detach().numpy(), *(f.detach().numpy() for f in finals)), grads

    return step


def import_torch() -> Any | None:
    """torch if it can be imported, else None."""
    try:
        import torch
    except Exception:  # ImportError, or a broken installation
        return None
    return torch


# --------------------------------------------------------------------------- validation


def rel_err(a: Any, b: Any) -> float:
    """``max|a − b| / max|b|``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)) if b.size else 0.0


def validate(name: str, result: Result, expected: Result, rtol: float = VALIDATE_RTOL) -> float:
    """The worst relative error of ``result`` against ``expected`` (outputs, and the
    gradients ``expected`` has); ``RuntimeError`` above ``rtol``, so a wrong engine is
    never timed."""
    (out, grads), (ref_out, ref_grads) = result, expected
    errors = {f"output {k}": rel_err(a, b) for k, (a, b) in enumerate(zip(out, ref_out))}
    if ref_grads is not None:
        assert grads is not None
        errors.update({k: rel_err(grads[k], g) for k, g in ref_grads.items() if g is not None})
    worst = max(errors, key=errors.__getitem__)
    if errors[worst] > rtol:
        raise RuntimeError(
            f"{name}: differs from the NumPy reference by {errors[worst]:.2e} (relative, in {worst}); not timing it"
        )
    return errors[worst]


# --------------------------------------------------------------------------- timing


def measure(fn: Callable[[], Any], *, budget: float = 0.5, samples: int = 7, sample_seconds: float = 0.01) -> float:
    """Median seconds per call of ``fn``: after a warm-up call, ``samples`` samples of
    n calls each (n so a sample lasts about ``sample_seconds``, or 1 call for slow
    functions), within roughly ``budget`` seconds (at least 3 samples)."""
    fn()  # warm up (allocations, packing, thread wake-up)
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    n = max(1, int(sample_seconds / once))
    samples = max(3, min(samples, int(budget / (once * n))))
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - start) / n)
    return statistics.median(times)


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class CheckRow:
    """One comparison: ``forward`` is the worst relative error over the outputs (y and the
    final state), ``gradients`` over every gradient (x, initial state, weights, biases)."""

    cell: str
    dtype: str
    shape: Shape
    forward: float
    gradients: float

    @property
    def tolerance(self) -> float:
        return TOLERANCE[self.dtype]

    @property
    def ok(self) -> bool:
        return self.forward <= self.tolerance and self.gradients <= self.tolerance


def check_against_reference(shape: Shape = (30, 5, 7, 37), seed: int = 0) -> list[CheckRow]:
    """The fast path against the NumPy reference: every cell, float32 and float64.

    The default shape has an odd hidden size (37), so the SIMD kernels' scalar
    tails are exercised too.
    """
    rows = []
    for kind in cells.CELLS.values():
        for dtype in (np.float32, np.float64):
            args, dy = problem(kind, shape, dtype, seed)
            out, grads = engine(kind.fast, args, dy, training=True)()
            ref_out, ref_grads = engine(kind.reference, args, dy, training=True)()
            assert grads is not None and ref_grads is not None
            fwd = max(rel_err(a, b) for a, b in zip(out, ref_out))
            bwd = max(rel_err(grads[k], ref_grads[k]) for k in ref_grads if ref_grads[k] is not None)
            rows.append(CheckRow(kind.name, np.dtype(dtype).name, shape, fwd, bwd))
    return rows


def check_table(rows: list[CheckRow]) -> str:
    lines = [f"{'cell':<5} {'dtype':<8} {'forward':>9} {'gradients':>10} {'tolerance':>10}"]
    for r in rows:
        lines.append(
            f"{r.cell.upper():<5} {r.dtype:<8} {r.forward:>9.1e} {r.gradients:>10.1e} "
            f"{r.tolerance:>10.0e}  {'ok' if r.ok else 'FAILED'}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- one training step


@dataclass(frozen=True)
class StepTiming:
    """Median time of one LSTM training step (forward + BPTT), float32."""

    shape: Shape
    fast_ms: float
    reference_ms: float
    threads: int
    isa: str

    @property
    def speedup(self) -> float:
        return self.reference_ms / self.fast_ms

    def table(self) -> str:
        return "\n".join(
            [
                f"{'NumPy reference':<16} {self.reference_ms:>9.2f} ms",
                f"{'lstmfast (C++)':<16} {self.fast_ms:>9.2f} ms   {self.speedup:.1f}x faster",
            ]
        )


def time_training_step(shape: Shape = BENCH_SHAPES["medium"], *, budget: float = 0.5, seed: int = 0) -> StepTiming:
    """Median time of an LSTM training step, lstmfast vs the NumPy reference (float32),
    after checking that both give the same numbers."""
    lstm = cells.LSTM
    args, dy = problem(lstm, shape, np.float32, seed)
    fast, slow = engine(lstm.fast, args, dy, True), engine(lstm.reference, args, dy, True)
    validate("lstmfast", fast(), slow())
    info = kernel_config()
    time.sleep(IDLE_PAUSE)  # the reference's BLAS threads must not share the cores with the timed call
    fast_ms = 1e3 * measure(fast, budget=budget)
    slow_ms = 1e3 * measure(slow, budget=budget)
    return StepTiming(shape, fast_ms, slow_ms, info["threads"], info["isa"])


# --------------------------------------------------------------------------- bench


@dataclass
class BenchRow:
    shape_name: str
    shape: Shape
    mode: str  # "inference" or "training"
    ms: dict[str, float] = field(default_factory=dict)
    max_rel_err: dict[str, float] = field(default_factory=dict)


def bench(
    shapes: list[str] | None = None,
    *,
    modes: tuple[str, ...] = ("inference", "training"),
    use_torch: bool = True,
    budget: float = 0.5,
    seed: int = 0,
    progress: Callable[[BenchRow], None] | None = None,
) -> list[BenchRow]:
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
    lstm = cells.LSTM
    rows = []
    for name in shapes:
        shape = BENCH_SHAPES[name]
        args, dy = problem(lstm, shape, np.float32, seed)
        for mode in modes:
            training = mode == "training"
            engines = {
                "lstmfast": engine(lstm.fast, args, dy, training),
                "numpy": engine(lstm.reference, args, dy, training),
            }
            if torch is not None:
                engines["torch"] = torch_engine(torch, args, dy, training)
            expected = engines["numpy"]()
            row = BenchRow(name, shape, mode)
            for label, fn in engines.items():
                row.max_rel_err[label] = validate(label, fn(), expected)
            for label, fn in engines.items():
                # OpenBLAS, OpenMP and lstmfast's pool keep their threads spinning
                # for a while after a call; one of them would take the second core
                # from the engine being timed.
                time.sleep(IDLE_PAUSE)
                row.ms[label] = 1e3 * measure(fn, budget=budget)
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows


def bench_header() -> str:
    info = kernel_config()
    return (
        f"LSTM, float32, median time per call; lstmfast on {info['isa']} with {info['threads']} thread(s); "
        f"each engine checked against the NumPy reference first"
    )


def bench_row_text(row: BenchRow) -> str:
    T, B, I, H = row.shape
    fast = row.ms["lstmfast"]
    parts = [f"{row.shape_name:<7} T={T:<4} B={B:<3} I={I:<3} H={H:<4} {row.mode:<9}  lstmfast {fast:>9.3f} ms"]
    for label, ms in row.ms.items():
        if label != "lstmfast":
            parts.append(f"{label} {ms:>9.3f} ms ({ms / fast:>5.1f}x)")
    return "   ".join(parts)


def bench_table(rows: list[BenchRow]) -> str:
    return "\n".join([bench_header()] + [bench_row_text(r) for r in rows])
