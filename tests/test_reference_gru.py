"""The GRU of lstmfast.reference: finite differences, an independent loop, PyTorch's nn.GRU."""

from __future__ import annotations

import numpy as np
import pytest

from lstmfast import reference as ref
from test_reference import FD_TOL, SHAPES, fd_error, numeric_grads


def gru_inputs(rng: np.random.Generator, T: int, B: int, I: int, H: int, bias: bool = True) -> dict:
    return {
        "x": rng.standard_normal((T, B, I)),
        "w_ih": 0.6 * rng.standard_normal((3 * H, I)),
        "w_hh": 0.6 * rng.standard_normal((3 * H, H)),
        "b_ih": 0.3 * rng.standard_normal(3 * H) if bias else None,
        "b_hh": 0.3 * rng.standard_normal(3 * H) if bias else None,
        "h0": rng.standard_normal((B, H)),
    }


def naive_gru(x, w_ih, w_hh, b_ih, b_hh, h0):
    """PyTorch's GRU equations, one example and one step at a time, per-gate matrices."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    b_ih = np.zeros(3 * H) if b_ih is None else b_ih
    b_hh = np.zeros(3 * H) if b_hh is None else b_hh
    W_ir, W_iz, W_in = w_ih[:H], w_ih[H : 2 * H], w_ih[2 * H :]
    W_hr, W_hz, W_hn = w_hh[:H], w_hh[H : 2 * H], w_hh[2 * H :]
    b_ir, b_iz, b_in = b_ih[:H], b_ih[H : 2 * H], b_ih[2 * H :]
    b_hr, b_hz, b_hn = b_hh[:H], b_hh[H : 2 * H], b_hh[2 * H :]
    y = np.zeros((T, B, H))
    for n in range(B):
        h = h0[n]
        for t in range(T):
            xt = x[t, n]
            reset = 1 / (1 + np.exp(-(W_ir @ xt + b_ir + W_hr @ h + b_hr)))
            update = 1 / (1 + np.exp(-(W_iz @ xt + b_iz + W_hz @ h + b_hz)))
            cand = np.tanh(W_in @ xt + b_in + reset * (W_hn @ h + b_hn))
            h = (1 - update) * cand + update * h
            y[t, n] = h
    return y


# ----------------------------------------------------------------- finite differences


@pytest.mark.parametrize("bias", ["both", "none", "b_ih only", "b_hh only"])
@pytest.mark.parametrize("T,B,I,H", SHAPES)
def test_gru_gradients_match_finite_differences(T, B, I, H, bias):
    rng = np.random.default_rng([T, B, I, H, len(bias)])
    inputs = gru_inputs(rng, T, B, I, H, bias != "none")
    if bias == "b_ih only":
        inputs["b_hh"] = None
    elif bias == "b_hh only":
        inputs["b_ih"] = None
    R, S = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))

    def loss(p):  # L = Σ y·R + Σ h_n·S, so dy = R, dh_n = S
        y, h_n, _ = ref.gru_forward(**p)
        return np.sum(y * R) + np.sum(h_n * S)

    _, _, tape = ref.gru_forward(**inputs, training=True)
    ana = ref.gru_backward(tape, R, S)
    assert set(ana) == {"x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"}
    assert fd_error(numeric_grads(loss, inputs), ana) < FD_TOL


# ----------------------------------------------------------------- independent oracle


@pytest.mark.parametrize("bias", [True, False])
def test_gru_forward_matches_naive_loop(bias):
    inputs = gru_inputs(np.random.default_rng(7), 5, 3, 2, 4, bias)
    y, h_n, tape = ref.gru_forward(**inputs)
    assert tape is None
    y0 = naive_gru(**inputs)
    np.testing.assert_allclose(y, y0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_n, y0[-1], rtol=0, atol=1e-14)


def test_the_two_biases_are_not_interchangeable():
    """Only the r and z blocks of b_ih and b_hh add up; r scales the n block of b_hh."""
    p = gru_inputs(np.random.default_rng(8), 4, 2, 3, 2)
    H = 2
    moved = {**p, "b_ih": p["b_ih"] + p["b_hh"], "b_hh": np.zeros(3 * H)}
    y, _, _ = ref.gru_forward(**p)
    y_moved, _, _ = ref.gru_forward(**moved)
    assert np.max(np.abs(y - y_moved)) > 1e-3
    rz = {**p, "b_ih": p["b_ih"].copy(), "b_hh": p["b_hh"].copy()}
    rz["b_ih"][: 2 * H] += rz["b_hh"][: 2 * H]
    rz["b_hh"][: 2 * H] = 0
    np.testing.assert_allclose(ref.gru_forward(**rz)[0], y, rtol=0, atol=1e-14)


# ----------------------------------------------------------------- PyTorch


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T,B,I,H", [(1, 1, 1, 1), (6, 3, 4, 5)])
def test_gru_matches_torch(T, B, I, H, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    inputs = gru_inputs(rng, T, B, I, H, bias)
    R, S = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    y, h_n, tape = ref.gru_forward(**inputs, training=True)
    grads = ref.gru_backward(tape, R, S)

    module = torch.nn.GRU(I, H, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(inputs["w_ih"]))
        module.weight_hh_l0.copy_(torch.from_numpy(inputs["w_hh"]))
        if bias:
            module.bias_ih_l0.copy_(torch.from_numpy(inputs["b_ih"]))
            module.bias_hh_l0.copy_(torch.from_numpy(inputs["b_hh"]))
    x = torch.tensor(inputs["x"], requires_grad=True)
    h0 = torch.tensor(inputs["h0"][None], requires_grad=True)
    out, hn = module(x, h0)
    ((out * torch.from_numpy(R)).sum() + (hn[0] * torch.from_numpy(S)).sum()).backward()

    assert np.max(np.abs(y - out.detach().numpy())) < 1e-10
    assert np.max(np.abs(h_n - hn[0].detach().numpy())) < 1e-10
    theirs = {"x": x.grad, "h0": h0.grad[0], "w_ih": module.weight_ih_l0.grad, "w_hh": module.weight_hh_l0.grad}
    if bias:
        theirs.update(b_ih=module.bias_ih_l0.grad, b_hh=module.bias_hh_l0.grad)
    else:
        assert grads["b_ih"] is None and grads["b_hh"] is None
    for k, v in theirs.items():
        assert np.max(np.abs(grads[k] - v.numpy())) < 1e-10, k


# ----------------------------------------------------------------- API contract


@pytest.mark.parametrize("T,B", [(0, 2), (3, 0), (0, 0)])
def test_gru_empty_sequences_and_batches(T, B):
    I, H = 2, 3
    rng = np.random.default_rng(2)
    inputs = gru_inputs(rng, T, B, I, H)
    y, h_n, tape = ref.gru_forward(**inputs, training=True)
    assert y.shape == (T, B, H) and h_n.shape == (B, H)
    dh_n = rng.standard_normal((B, H))
    g = ref.gru_backward(tape, np.zeros((T, B, H)), dh_n)
    assert g["x"].shape == (T, B, I)
    for k in ("w_ih", "w_hh", "b_ih", "b_hh", "h0"):
        assert g[k].shape == inputs[k].shape
    if T == 0:
        np.testing.assert_array_equal(h_n, inputs["h0"])
        np.testing.assert_array_equal(g["h0"], dh_n)
        assert g["h0"] is not dh_n
    assert not np.any(g["w_ih"]) and not np.any(g["w_hh"]) and not np.any(g["b_hh"])


def test_gru_defaults_none_state_means_zeros():
    p = gru_inputs(np.random.default_rng(1), 3, 2, 2, 3)
    a = ref.gru_forward(**{**p, "h0": None})
    b = ref.gru_forward(**{**p, "h0": np.zeros((2, 3))})
    np.testing.assert_array_equal(a[0], b[0])


def test_gru_tape_is_reusable_and_owns_its_data():
    rng = np.random.default_rng(3)
    inputs = gru_inputs(rng, 4, 2, 3, 2)
    saved = {k: v.copy() for k, v in inputs.items()}
    dy, dh_n = rng.standard_normal((4, 2, 2)), rng.standard_normal((2, 2))
    dy_saved = dy.copy()
    y, h_n, tape = ref.gru_forward(**inputs, training=True)
    first = ref.gru_backward(tape, dy, dh_n)
    for k in inputs:  # neither call modified its inputs
        np.testing.assert_array_equal(inputs[k], saved[k])
    np.testing.assert_array_equal(dy, dy_saved)
    for k in ("x", "w_ih", "w_hh", "b_hh"):  # the caller changes its arrays in place ...
        inputs[k][...] = 123.0
    y[...] = 7.0
    second = ref.gru_backward(tape, dy, dh_n)  # ... which does not affect backward
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
    for name in ("x", "w_ih", "w_hh", "gates", "hw_n", "hs"):
        assert not getattr(tape, name).flags.writeable, name
    assert tape.lengths is None and tape.reverse is False


def test_gru_chunks_of_length_one_equal_the_full_sequence():
    T, B, I, H = 5, 2, 3, 4
    rng = np.random.default_rng(6)
    p = gru_inputs(rng, T, B, I, H)
    dy, dh_n = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    y, h_n, tape = ref.gru_forward(**p, training=True)
    full = ref.gru_backward(tape, dy, dh_n)
    h, tapes = p["h0"], []
    for t in range(T):
        y_t, h, tape_t = ref.gru_forward(
            p["x"][t : t + 1], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], h, training=True
        )
        np.testing.assert_allclose(y_t[0], y[t], rtol=0, atol=1e-14)
        tapes.append(tape_t)
    np.testing.assert_allclose(h, h_n, rtol=0, atol=1e-14)
    dh, summed, dxs = dh_n, dict.fromkeys(("w_ih", "w_hh", "b_ih", "b_hh"), 0.0), []
    for t in reversed(range(T)):
        g = ref.gru_backward(tapes[t], dy[t : t + 1], dh)
        dh = g["h0"]
        dxs.insert(0, g["x"])
        for k in summed:
            summed[k] = summed[k] + g[k]
    np.testing.assert_allclose(np.concatenate(dxs), full["x"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(dh, full["h0"], rtol=0, atol=1e-13)
    for k in summed:
        np.testing.assert_allclose(summed[k], full[k], rtol=0, atol=1e-13)


def test_gru_float32_computes_in_float32():
    rng = np.random.default_rng(10)
    p64 = gru_inputs(rng, 4, 3, 2, 5)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    dy = rng.standard_normal((4, 3, 5))
    y64, _, t64 = ref.gru_forward(**p64, training=True)
    y32, h32, t32 = ref.gru_forward(**p32, training=True)
    assert y32.dtype == h32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=0, atol=1e-5)
    g64, g32 = ref.gru_backward(t64, dy), ref.gru_backward(t32, dy.astype(np.float32))
    for k in g64:
        assert g32[k].dtype == np.float32, k
        np.testing.assert_allclose(g32[k], g64[k], rtol=0, atol=1e-4)


def test_gru_nan_propagates_without_error():
    T, B, I, H = 4, 3, 2, 3
    p = gru_inputs(np.random.default_rng(13), T, B, I, H)
    p["x"][1, 0, 0] = np.nan
    y, _, tape = ref.gru_forward(**p, training=True)
    assert np.all(np.isnan(y[1:, 0])) and np.all(np.isfinite(y[:, 1:])) and np.all(np.isfinite(y[0]))
    g = ref.gru_backward(tape, np.ones((T, B, H)))
    assert np.all(np.isfinite(g["x"][:, 1:])) and np.isnan(g["w_hh"]).any()


def test_gru_backward_rejects_missing_or_wrong_tape():
    p = gru_inputs(np.random.default_rng(14), 2, 1, 1, 1)
    _, _, no_tape = ref.gru_forward(**p)
    with pytest.raises(ValueError, match=r"gru_backward: tape is None; call gru_forward\(\.\.\., training=True\)"):
        ref.gru_backward(no_tape, np.zeros((2, 1, 1)))
    _, _, gru_tape = ref.gru_forward(**p, training=True)
    rnn = {**p, "w_ih": p["w_ih"][:1], "w_hh": p["w_hh"][:1], "b_ih": p["b_ih"][:1], "b_hh": p["b_hh"][:1]}
    _, _, rnn_tape = ref.rnn_forward(**rnn, training=True)
    with pytest.raises(TypeError, match=r"gru_backward: expected the GRUTape.*got RNNTape"):
        ref.gru_backward(rnn_tape, np.zeros((2, 1, 1)))
    with pytest.raises(TypeError, match=r"lstm_backward: expected the LSTMTape.*got GRUTape"):
        ref.lstm_backward(gru_tape, np.zeros((2, 1, 1)))
    with pytest.raises(TypeError, match=r"rnn_backward: expected the RNNTape.*got GRUTape"):
        ref.rnn_backward(gru_tape, np.zeros((2, 1, 1)))
