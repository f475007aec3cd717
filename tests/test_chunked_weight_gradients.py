"""The LSTM's and the RNN's weight gradients computed a chunk of steps at a time
inside the backward time loop (kernels/weight_gradients.h: ChunkedWeightGradients,
about 256 rows of T*B per chunk, when T*B > 512 and the sequences are of one
length in forward order): every gradient against the reference, on every
instruction set, where chunks do not divide T, where a chunk is one step (B >
256), with the ONNX options, and the same numbers on any thread count.

Tolerances as in test_core.py: float64 1e-10, float32 against the float64
reference 2e-5 (the chunked sums are still sums of T*B products in float32).
"""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast import reference as ref

RTOL = {np.float64: 1e-10, np.float32: 2e-5}

SHAPES = [  # (T, B, I, H): T*B > 512, so the chunked path runs
    (100, 8, 3, 16),  # 32 steps per chunk: 4 chunks, the first in time partial
    (37, 20, 5, 12),  # 12 steps per chunk, 37 = 3 * 12 + 1
    (3, 300, 2, 5),  # B > 256: one step per chunk
    (600, 1, 1, 3),  # B = 1
]


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-300))


def problem(make_case, cell: str, shape, seed: int):
    """The forward's arguments (float64, conftest's random_case) and the gradients seeding BPTT."""
    T, B, I, H = shape
    rng = np.random.default_rng(seed)
    args = make_case(rng, T, B, I, H, gates=4 if cell == "lstm" else 1)
    seeds = [rng.standard_normal((T, B, H))] + [rng.standard_normal((B, H)) for _ in range(2 if cell == "lstm" else 1)]
    return args, seeds


def both(cell: str, args, seeds, dtype, **kw):
    fast_in = {k: v.astype(dtype) for k, v in args.items()}
    ref_in = {k: v.astype(dtype).astype(np.float64) for k, v in args.items()}
    fwd, bwd = getattr(lstmfast, f"{cell}_forward"), getattr(lstmfast, f"{cell}_backward")
    rfwd, rbwd = getattr(ref, f"{cell}_forward"), getattr(ref, f"{cell}_backward")
    grads = bwd(fwd(**fast_in, training=True, **kw)[-1], *[s.astype(dtype) for s in seeds])
    rgrads = rbwd(rfwd(**ref_in, training=True, **kw)[-1], *[s.astype(dtype).astype(np.float64) for s in seeds])
    return grads, rgrads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell,kw", [("lstm", {}), ("rnn", {}), ("rnn", {"nonlinearity": "relu", "clip": 0.8})])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}B{}I{}H{}".format(*s))
def test_chunked_weight_gradients_match_reference(isa, shape, cell, kw, dtype, make_case):
    args, seeds = problem(make_case, cell, shape, seed=sum(shape))
    grads, rgrads = both(cell, args, seeds, dtype, **kw)
    assert grads.keys() == rgrads.keys()
    for name in grads:
        assert grads[name].dtype == dtype, name
        assert rel_err(grads[name], rgrads[name]) <= RTOL[dtype], name


def test_chunked_with_lstm_options(isa, make_case):
    args, seeds = problem(make_case, "lstm", (70, 9, 4, 10), seed=3)
    rng = np.random.default_rng(4)
    for kw in ({"peepholes": rng.uniform(-1, 1, 30), "clip": 1.2}, {"input_forget": True}):
        arrays = {**args, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
        flags = {k: v for k, v in kw.items() if k not in arrays}
        grads, rgrads = both("lstm", arrays, seeds, np.float64, **flags)
        for name in grads:
            assert rel_err(grads[name], rgrads[name]) <= RTOL[np.float64], (name, kw)


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_chunked_gradients_do_not_depend_on_the_thread_count(isa, threads, cell, make_case):
    args, seeds = problem(make_case, cell, (120, 16, 8, 64), seed=11)
    args = {k: v.astype(np.float32) for k, v in args.items()}
    fwd, bwd = getattr(lstmfast, f"{cell}_forward"), getattr(lstmfast, f"{cell}_backward")
    results = []
    for n in (1, 2, 3):
        threads(n)
        results.append(bwd(fwd(**args, training=True)[-1], *[s.astype(np.float32) for s in seeds]))
    for other in results[1:]:
        for name in results[0]:
            np.testing.assert_array_equal(results[0][name], other[name], err_msg=name)


def test_a_bidirectional_layer_adds_both_directions_dx(isa):
    # The two directions of a layer accumulate into one dx: the forward one
    # through the chunked path, the reverse one after its loop.
    layer = lstmfast.LSTM(6, 10, bidirectional=True, dtype="float64", seed=0)
    x = np.random.default_rng(1).standard_normal((80, 9, 6))
    y, _, tape = layer.forward(x, training=True)
    dy = np.random.default_rng(2).standard_normal(y.shape)
    grads = layer.backward(tape, dy)
    eps = 1e-6
    for index in [(0, 0, 0), (40, 4, 3), (79, 8, 5)]:
        bumped = x.copy()
        bumped[index] += eps
        up = np.sum(layer(bumped)[0] * dy)
        bumped[index] -= 2 * eps
        down = np.sum(layer(bumped)[0] * dy)
        assert abs((up - down) / (2 * eps) - grads["x"][index]) <= 1e-6 * max(1.0, abs(grads["x"][index]))
