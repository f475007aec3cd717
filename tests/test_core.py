"""The C++ fast path against the NumPy reference: forward and every gradient,
on every instruction set this CPU supports, in float64 and float32.

Tolerances (relative to the largest magnitude of the reference array):
* float64: 1e-10. Both sides compute the same sums in a different order, so
  they differ by a few units of roundoff (2.2e-16) times the sum lengths;
  measured ~1e-15 on every shape here.
* float32: the fast path in float32 against the reference in float64 on the
  same (float32-representable) inputs: 2e-5. Unit roundoff is 6e-8; dot
  products of length up to 4H + I ~ 600 accumulate ~sqrt(K) to K of them, and
  the gates (|f| < 1) damp what the recurrence carries. Measured at most 1.6e-6
  (T = 2000 included).
"""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast import reference as ref

RTOL = {np.float64: 1e-10, np.float32: 2e-5}

SHAPES = [  # (T, B, I, H)
    (1, 1, 1, 1),
    (3, 2, 4, 5),
    (5, 3, 5, 37),  # odd sizes: H not a multiple of any vector width
    (4, 7, 3, 16),  # B above the register tile height
    (2, 13, 8, 33),
    (6, 1, 1, 32),  # univariate series
    (10, 16, 32, 128),  # big enough to use two threads
    (2000, 2, 3, 8),  # long sequence
    (3, 7, 4, 300),  # 4H > 1024: the recurrent products run in K chunks (AVX-512)
]


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    if b.size == 0:
        return 0.0
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-300))


CELLS = {4: "lstm", 1: "rnn", 3: "gru"}  # by number of gate blocks


def run_both(case: dict, dtype, gates: int, rng: np.random.Generator, **kw):
    """Fast path in `dtype` and reference in float64 on the same inputs; a
    random linear loss of y and the final state(s) seeds the backward pass."""
    fast_in = {k: None if v is None else v.astype(dtype) for k, v in case.items()}
    ref_in = {k: None if v is None else v.astype(dtype).astype(np.float64) for k, v in case.items()}
    cell = CELLS[gates]
    fwd, bwd = getattr(lstmfast, cell + "_forward"), getattr(lstmfast, cell + "_backward")
    rfwd, rbwd = getattr(ref, cell + "_forward"), getattr(ref, cell + "_backward")
    out = fwd(**fast_in, training=True, **kw)
    rout = rfwd(**ref_in, training=True, **kw)
    T, B, _ = case["x"].shape
    H = case["w_hh"].shape[1]
    seeds = [rng.standard_normal((T, B, H))] + [rng.standard_normal((B, H)) for _ in range(2 if gates == 4 else 1)]
    grads = bwd(out[-1], *[s.astype(dtype) for s in seeds])
    rgrads = rbwd(rout[-1], *[s.astype(dtype).astype(np.float64) for s in seeds])
    return out[:-1], rout[:-1], grads, rgrads


def check_close(out, rout, grads, rgrads, dtype):
    tol = RTOL[dtype]
    for name, a, b in zip(("y", "h_n", "c_n"), out, rout):
        assert a.dtype == dtype
        assert rel_err(a, b) <= tol, name
    assert grads.keys() == rgrads.keys()
    for name in grads:
        if rgrads[name] is None:
            assert grads[name] is None, name
            continue
        assert grads[name].dtype == dtype, name
        assert rel_err(grads[name], rgrads[name]) <= tol, name


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}B{}I{}H{}".format(*s))
def test_lstm_matches_reference(isa, shape, dtype, make_case):
    rng = np.random.default_rng(sum(shape))
    check_close(*run_both(make_case(rng, *shape), dtype, 4, rng), dtype)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}B{}I{}H{}".format(*s))
def test_rnn_matches_reference(isa, shape, dtype, nonlinearity, make_case):
    rng = np.random.default_rng(sum(shape) + 1)
    check_close(*run_both(make_case(rng, *shape, gates=1), dtype, 1, rng, nonlinearity=nonlinearity), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}B{}I{}H{}".format(*s))
def test_gru_matches_reference(isa, shape, dtype, make_case):
    rng = np.random.default_rng(sum(shape) + 2)
    check_close(*run_both(make_case(rng, *shape, gates=3), dtype, 3, rng), dtype)


STEP_SHAPES = [(1, 1, 2, 3), (6, 5, 3, 20), (9, 13, 4, 37)]  # (T, B, I, H): B above the tile height, odd H


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("cell", ["lstm", "rnn-tanh", "rnn-relu", "gru"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", STEP_SHAPES, ids=lambda s: "T{}B{}I{}H{}".format(*s))
def test_lengths_and_reverse_match_reference(isa, shape, dtype, cell, ragged, reverse, make_case):
    """Right-padded batches in any order and reversed sequences: outputs (zero
    past each end), final states and every gradient."""
    rng = np.random.default_rng(sum(shape) + len(cell))
    T, B = shape[:2]
    gates = {"lstm": 4, "gru": 3}.get(cell, 1)
    kw = {"reverse": reverse}
    if ragged:
        lengths = rng.integers(1, T + 1, B)
        lengths[0] = T
        lengths[-1] = 1
        kw["lengths"] = lengths
    if cell.startswith("rnn"):
        kw["nonlinearity"] = cell[4:]
    out, rout, grads, rgrads = run_both(make_case(rng, *shape, gates=gates), dtype, gates, rng, **kw)
    check_close(out, rout, grads, rgrads, dtype)
    if ragged:
        for b, length in enumerate(kw["lengths"]):
            assert np.all(out[0][length:, b] == 0)
            assert np.all(grads["x"][length:, b] == 0)


@pytest.mark.parametrize("gates", [4, 1, 3])
@pytest.mark.parametrize("bias", ["none", "ih_only", "hh_only"])
def test_missing_biases(isa, gates, bias, make_case):
    rng = np.random.default_rng(7)
    case = make_case(rng, 4, 3, 5, 9, gates=gates)
    if bias in ("none", "hh_only"):
        case["b_ih"] = None
    if bias in ("none", "ih_only"):
        case["b_hh"] = None
    check_close(*run_both(case, np.float64, gates, rng), np.float64)


@pytest.mark.parametrize("shape", [(0, 3, 2, 4), (4, 0, 2, 4), (0, 0, 1, 1)])
@pytest.mark.parametrize("gates", [4, 1, 3])
def test_empty_sequence_or_batch(isa, shape, gates, make_case):
    rng = np.random.default_rng(3)
    case = make_case(rng, *shape, gates=gates)
    out, rout, grads, rgrads = run_both(case, np.float64, gates, rng)
    T, B, I, H = shape
    assert out[0].shape == (T, B, H)
    check_close(out, rout, grads, rgrads, np.float64)
    assert grads["x"].shape == (T, B, I)
    if T == 0:  # the final state is the initial state; its gradient passes through
        np.testing.assert_array_equal(out[1], case["h0"])


def test_training_forward_equals_inference(isa, make_case):
    # Training projects the whole sequence at once, inference in chunks: each
    # output element is still the same chain of operations, so bit-identical.
    rng = np.random.default_rng(11)
    case = make_case(rng, 300, 3, 7, 20, np.float32)
    y1, h1, c1, _ = lstmfast.lstm_forward(**case, training=False)
    y2, h2, c2, _ = lstmfast.lstm_forward(**case, training=True)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(c1, c2)
    case = make_case(rng, 300, 3, 7, 20, np.float32, gates=1)
    np.testing.assert_array_equal(lstmfast.rnn_forward(**case)[0], lstmfast.rnn_forward(**case, training=True)[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_do_not_depend_on_thread_count(isa, threads, dtype, make_case):
    rng = np.random.default_rng(5)
    lengths = rng.integers(1, 21, 16)
    for gates, kw in ((4, {}), (1, {}), (3, {}), (4, {"lengths": lengths, "reverse": True}), (3, {"lengths": lengths})):
        case = make_case(rng, 20, 16, 32, 128, dtype, gates=gates)
        cell = CELLS[gates]
        fwd, bwd = getattr(lstmfast, cell + "_forward"), getattr(lstmfast, cell + "_backward")
        dy = rng.standard_normal((20, 16, 128)).astype(dtype)
        results = []
        for n in (1, 2, 3):
            threads(n)
            out = fwd(**case, training=True, **kw)
            results.append((out[:-1], bwd(out[-1], dy)))
        for out, grads in results[1:]:
            for a, b in zip(out, results[0][0]):
                np.testing.assert_array_equal(a, b)
            for name in grads:
                np.testing.assert_array_equal(grads[name], results[0][1][name])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(30, 32, 1, 64), (13, 7, 5, 37), (40, 20, 3, 16)], ids=str)
def test_no_input_gradient_changes_no_other_gradient(isa, dtype, shape, make_case):
    # input_gradient=False skips dx's product: "x" is None, every other gradient
    # the same bits (chunked weight products, lengths, reverse, each cell; the
    # reference too).
    rng = np.random.default_rng(13)
    T, B, I, H = shape
    lengths = rng.integers(1, T + 1, B)
    for gates, kw in ((4, {}), (1, {}), (3, {}), (4, {"lengths": lengths, "reverse": True}), (3, {"lengths": lengths})):
        case = make_case(rng, T, B, I, H, dtype, gates=gates)
        cell = CELLS[gates]
        dy = rng.standard_normal((T, B, H)).astype(dtype)
        for module in (lstmfast, ref):
            fwd, bwd = getattr(module, cell + "_forward"), getattr(module, cell + "_backward")
            tape = fwd(**case, training=True, **kw)[-1]
            full, lean = bwd(tape, dy), bwd(tape, dy, input_gradient=False)
            assert full["x"] is not None and lean["x"] is None
            assert full.keys() == lean.keys()
            for name in full.keys() - {"x"}:
                if full[name] is None:
                    assert lean[name] is None, name
                else:
                    np.testing.assert_array_equal(lean[name], full[name], err_msg=name)
    tape = lstmfast.gru_forward(**case, training=True)[-1]  # the last case's cell
    with pytest.raises(TypeError, match="input_gradient: expected a bool, got str"):
        lstmfast.gru_backward(tape, dy, input_gradient="no")


def test_chunks_equal_the_whole_sequence(isa, make_case):
    """Length-1 chunks carrying (h, c) forward and (dh, dc) backward give the
    full-sequence result: what truncated BPTT relies on."""
    rng = np.random.default_rng(2)
    T, B, I, H = 6, 3, 4, 10
    case = make_case(rng, T, B, I, H)
    dy = rng.standard_normal((T, B, H))
    y, h_n, c_n, tape = lstmfast.lstm_forward(**case, training=True)
    full = lstmfast.lstm_backward(tape, dy)

    state = (case["h0"], case["c0"])
    tapes, ys = [], []
    for t in range(T):
        step = dict(case, x=case["x"][t : t + 1], h0=state[0], c0=state[1])
        yt, ht, ct, tp = lstmfast.lstm_forward(**step, training=True)
        ys.append(yt)
        tapes.append(tp)
        state = (ht, ct)
    np.testing.assert_allclose(np.concatenate(ys), y, rtol=0, atol=1e-14)
    dh, dc = None, None
    dw = np.zeros_like(case["w_hh"])
    for t in reversed(range(T)):
        g = lstmfast.lstm_backward(tapes[t], dy[t : t + 1], dh, dc)
        np.testing.assert_allclose(g["x"][0], full["x"][t], rtol=0, atol=1e-13)
        dh, dc = g["h0"], g["c0"]
        dw += g["w_hh"]
    np.testing.assert_allclose(dh, full["h0"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(dc, full["c0"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(dw, full["w_hh"], rtol=0, atol=1e-12)


def test_tape_is_reusable_and_private(isa, make_case):
    rng = np.random.default_rng(4)
    case = make_case(rng, 5, 2, 3, 6)
    keep = {k: v.copy() for k, v in case.items()}
    _, _, _, tape = lstmfast.lstm_forward(**case, training=True)
    dy = rng.standard_normal((5, 2, 6))
    g1 = lstmfast.lstm_backward(tape, dy)
    for v in case.values():  # the caller reuses its buffers after forward
        v[...] = 1e3
    g2 = lstmfast.lstm_backward(tape, dy)
    for name in g1:
        np.testing.assert_array_equal(g1[name], g2[name])
    _, _, _, tape_ref = ref.lstm_forward(**keep, training=True)
    np.testing.assert_allclose(g1["w_hh"], ref.lstm_backward(tape_ref, dy)["w_hh"], rtol=1e-10, atol=0)
    assert not tape.gates.flags.writeable
    with pytest.raises(ValueError):
        tape.gates[0, 0, 0] = 1.0


def test_tape_contents(make_case):
    """The tape shows the learner h, c and the gates; they match the reference."""
    rng = np.random.default_rng(8)
    case = make_case(rng, 4, 2, 3, 5)
    y, _, _, tape = lstmfast.lstm_forward(**case, training=True)
    _, _, _, rtape = ref.lstm_forward(**case, training=True)
    assert tape.shape == (4, 2, 3, 5) and tape.dtype == np.float64
    np.testing.assert_array_equal(tape.h[1:], y)
    np.testing.assert_array_equal(tape.h[0], case["h0"])
    np.testing.assert_allclose(tape.gates, rtape.gates, rtol=1e-12, atol=1e-14)
    # Ours keeps the initial state in front, the reference at the end (hs[-1]).
    np.testing.assert_allclose(tape.c[1:], rtape.cs[:-1], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(tape.c[0], rtape.cs[-1])
    assert "T=4" in repr(tape)


@pytest.mark.parametrize("gates", [4, 1])
def test_inputs_are_never_modified_and_layouts_accepted(isa, gates, make_case):
    rng = np.random.default_rng(9)
    case = make_case(rng, 5, 4, 3, 7, gates=gates)
    fwd = lstmfast.lstm_forward if gates == 4 else lstmfast.rnn_forward
    expected = fwd(**case)[0]
    # Fortran order, non-contiguous slices, read-only arrays.
    odd = {}
    for name, v in case.items():
        big = np.zeros((2, *v.shape), order="F")
        big[0] = v
        view = np.asfortranarray(big[0]) if name == "w_ih" else big[0]
        view.flags.writeable = name != "x"
        odd[name] = view
    snapshot = {k: v.copy() for k, v in odd.items()}
    np.testing.assert_allclose(fwd(**odd)[0], expected, rtol=0, atol=0)
    x_strided = np.repeat(case["x"], 2, axis=2)[:, :, ::2]
    np.testing.assert_allclose(fwd(**dict(case, x=x_strided))[0], expected, rtol=0, atol=0)
    out = fwd(**odd, training=True)
    bwd = lstmfast.lstm_backward if gates == 4 else lstmfast.rnn_backward
    dy = np.asfortranarray(rng.standard_normal(expected.shape))
    dy_copy = dy.copy()
    bwd(out[-1], dy)
    np.testing.assert_array_equal(dy, dy_copy)
    for name, v in odd.items():
        np.testing.assert_array_equal(v, snapshot[name])


@pytest.mark.parametrize("gates", [4, 1])
def test_nan_input_propagates_without_crashing(isa, gates, make_case):
    rng = np.random.default_rng(10)
    case = make_case(rng, 4, 3, 2, 5, np.float32, gates=gates)
    case["x"][1, 0, 0] = np.nan
    fwd = lstmfast.lstm_forward if gates == 4 else lstmfast.rnn_forward
    y = fwd(**case)[0]
    assert np.all(np.isfinite(y[0]))  # before the NaN
    assert np.all(np.isnan(y[1:, 0]))  # the poisoned sequence, from then on
    assert np.all(np.isfinite(y[:, 1:]))  # other sequences untouched


def test_infinite_input_saturates(isa, make_case):
    rng = np.random.default_rng(12)
    case = make_case(rng, 3, 2, 2, 4, np.float32)
    case["x"][0, 0, :] = np.inf
    y = lstmfast.lstm_forward(**case)[0]
    assert np.all(np.abs(y[:, 1]) < 1)  # other sequence unaffected and bounded
    assert not np.any(np.isnan(y[:, 1]))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_large_outputs_and_the_kernels_gradients_start_on_a_cache_line(cell):
    # Threads split rows at multiples of 16 floats; outputs aligned to 64
    # bytes never put two threads' units in one cache line (bindings/arrays.h).
    from lstmfast import cells

    kind = cells.get(cell)
    T, B, I, H = 30, 32, 3, 64
    G = kind.gates * H
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    w_ih, w_hh = rng.standard_normal((G, I)).astype(np.float32), rng.standard_normal((G, H)).astype(np.float32)
    b = rng.standard_normal(G).astype(np.float32)
    for _ in range(5):  # NumPy's own allocations land at varying offsets within a line
        y, *_, tape = kind.fast.forward(x, w_ih, w_hh, b, b, training=True)
        grads = kind.fast.backward(tape, np.ones_like(y))
        # what the kernels write: y, and the gradients of the weights, the input and the initial state
        arrays = [y, *(grads[k] for k in ("x", "w_ih", "w_hh", *(part + "0" for part in kind.states)))]
        for a in arrays:
            assert a.ctypes.data % 64 == 0 and a.flags.writeable and a.flags.c_contiguous
        assert not any(np.shares_memory(p, q) for k, p in enumerate(arrays) for q in arrays[k + 1 :])
