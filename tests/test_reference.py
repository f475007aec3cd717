"""Tests of lstmfast.reference: finite differences, an independent loop, PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from lstmfast import reference as ref

# Sizes (T, B, I, H), tiny so that finite differences over every element stay fast.
# Together they cover T = 1, B = 1, I = 1 and H = 1.
SHAPES = [(1, 1, 1, 1), (4, 3, 3, 3), (3, 2, 1, 2), (2, 1, 3, 1), (3, 3, 2, 1)]

# Finite differences: dL/dp ≈ (L(p + ε) − L(p − ε)) / 2ε. With ε = 1e-6 the truncation
# error is ~ε²·|L'''|/6 ≈ 1e-13 and the rounding error ~2⁻⁵²·|L|/ε ≈ 1e-10·|L|; |L| is
# at most ~30 here, so the numeric gradient is good to ~1e-8 absolute. We accept
# |num − ana| ≤ FD_TOL·max(1, |num| + |ana|): absolute for small gradients (a relative
# rule would fail on gradients that are ~0), relative for large ones. FD_TOL = 1e-7
# is ~40x the largest error measured (2.7e-9, relu RNN), while a wrong term in backward
# gives errors of order 1e-4..1.
FD_EPS = 1e-6
FD_TOL = 1e-7


def lstm_inputs(rng: np.random.Generator, T: int, B: int, I: int, H: int, bias: bool = True) -> dict:
    return {
        "x": rng.standard_normal((T, B, I)),
        "w_ih": 0.6 * rng.standard_normal((4 * H, I)),
        "w_hh": 0.6 * rng.standard_normal((4 * H, H)),
        "b_ih": 0.3 * rng.standard_normal(4 * H) if bias else None,
        "b_hh": 0.3 * rng.standard_normal(4 * H) if bias else None,
        "h0": rng.standard_normal((B, H)),
        "c0": rng.standard_normal((B, H)),
    }


def rnn_inputs(rng: np.random.Generator, T: int, B: int, I: int, H: int, bias: bool = True) -> dict:
    p = lstm_inputs(rng, T, B, I, H, bias)
    del p["c0"]
    for k in ("w_ih", "w_hh", "b_ih", "b_hh"):
        if p[k] is not None:
            p[k] = p[k][:H]
    return p


def numeric_grads(loss, inputs: dict, eps: float = FD_EPS) -> dict:
    """Centred differences of loss(inputs) with respect to every element of every array."""
    grads = {}
    for name, value in inputs.items():
        if value is None:
            grads[name] = None
            continue
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus, minus = value.copy(), value.copy()
            plus[idx] += eps
            minus[idx] -= eps
            g[idx] = (loss({**inputs, name: plus}) - loss({**inputs, name: minus})) / (2 * eps)
        grads[name] = g
    return grads


def fd_error(num: dict, ana: dict) -> float:
    """Largest |num − ana| / max(1, |num| + |ana|) over all arrays."""
    worst = 0.0
    for name, n in num.items():
        a = ana[name]
        if n is None:
            assert a is None, name
            continue
        assert a.shape == n.shape, name
        if n.size:
            worst = max(worst, float(np.max(np.abs(n - a) / np.maximum(1, np.abs(n) + np.abs(a)))))
    return worst


# ----------------------------------------------------------------- finite differences


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T,B,I,H", SHAPES)
def test_lstm_gradients_match_finite_differences(T, B, I, H, bias):
    rng = np.random.default_rng([T, B, I, H, bias])
    inputs = lstm_inputs(rng, T, B, I, H, bias)
    R, S, U = rng.standard_normal((T, B, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))

    def loss(p):  # L = Σ y·R + Σ h_n·S + Σ c_n·U, so dy = R, dh_n = S, dc_n = U
        y, h_n, c_n, _ = ref.lstm_forward(**p)
        return np.sum(y * R) + np.sum(h_n * S) + np.sum(c_n * U)

    _, _, _, tape = ref.lstm_forward(**inputs, training=True)
    ana = ref.lstm_backward(tape, R, S, U)
    assert set(ana) == {"x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"}
    assert fd_error(numeric_grads(loss, inputs), ana) < FD_TOL


def relu_safe_rnn_inputs(T, B, I, H, bias, margin=0.05):
    """RNN inputs whose relu pre-activations all stay at least ``margin`` from the kink.

    The derivative jumps at 0; a pre-activation within ε·|dz/dp| of 0 would make the
    centred difference straddle the kink. We draw seeds until none is closer than
    ``margin`` (≫ FD_EPS), using the independent loop below to find the pre-activations.
    """
    for seed in range(1000):
        inputs = rnn_inputs(np.random.default_rng([seed, T, B, I, H]), T, B, I, H, bias)
        _, zs = naive_rnn(**inputs, nonlinearity="relu")
        if zs.size == 0 or np.min(np.abs(zs)) > margin:
            return inputs, np.random.default_rng(seed)
    raise AssertionError("no seed found")  # pragma: no cover


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T,B,I,H", SHAPES)
def test_rnn_gradients_match_finite_differences(T, B, I, H, bias, nonlinearity):
    if nonlinearity == "relu":
        inputs, rng = relu_safe_rnn_inputs(T, B, I, H, bias)
    else:
        rng = np.random.default_rng([T, B, I, H, bias])
        inputs = rnn_inputs(rng, T, B, I, H, bias)
    R, S = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))

    def loss(p):
        y, h_n, _ = ref.rnn_forward(**p, nonlinearity=nonlinearity)
        return np.sum(y * R) + np.sum(h_n * S)

    _, _, tape = ref.rnn_forward(**inputs, nonlinearity=nonlinearity, training=True)
    ana = ref.rnn_backward(tape, R, S)
    assert set(ana) == {"x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"}
    assert fd_error(numeric_grads(loss, inputs), ana) < FD_TOL


def test_sigmoid_is_stable_and_keeps_dtype():
    for dtype in (np.float32, np.float64):
        z = np.array([-1e4, -50, -1, 0, 1, 50, 1e4], dtype=dtype)
        s = ref.sigmoid(z)
        assert s.dtype == dtype
        assert np.all(np.isfinite(s)) and s[0] == 0 and s[-1] == 1 and s[3] == 0.5
        np.testing.assert_allclose(
            s[1:-1], 1 / (1 + np.exp(-z[1:-1].astype(np.float64))), rtol=1e-6 if dtype == np.float32 else 1e-15
        )


# ----------------------------------------------------------------- independent oracle


def naive_lstm(x, w_ih, w_hh, b_ih, b_hh, h0, c0):
    """Course-style LSTM, one example and one step at a time, column vectors on [a; x]."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    b = (b_ih if b_ih is not None else 0) + (b_hh if b_hh is not None else 0) + np.zeros(4 * H)
    W = np.hstack([w_hh, w_ih])  # acts on [a<t-1>; x<t>]
    y = np.zeros((T, B, H))
    h_n, c_n = h0.copy(), c0.copy()
    for n in range(B):
        a, c = h0[n].reshape(H, 1), c0[n].reshape(H, 1)
        for t in range(T):
            concat = np.vstack([a, x[t, n].reshape(-1, 1)])
            z = W @ concat + b.reshape(-1, 1)
            gate_u = 1 / (1 + np.exp(-z[0:H]))
            gate_f = 1 / (1 + np.exp(-z[H : 2 * H]))
            c_tilde = np.tanh(z[2 * H : 3 * H])
            gate_o = 1 / (1 + np.exp(-z[3 * H : 4 * H]))
            c = gate_u * c_tilde + gate_f * c
            a = gate_o * np.tanh(c)
            y[t, n] = a[:, 0]
        h_n[n], c_n[n] = a[:, 0], c[:, 0]
    return y, h_n, c_n


def naive_rnn(x, w_ih, w_hh, b_ih, b_hh, h0, nonlinearity="tanh"):
    """Per-example, per-step RNN; also returns every pre-activation (T, B, H)."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    b = (b_ih if b_ih is not None else 0) + (b_hh if b_hh is not None else 0) + np.zeros(H)
    y, zs = np.zeros((T, B, H)), np.zeros((T, B, H))
    for n in range(B):
        a = h0[n]
        for t in range(T):
            zs[t, n] = w_hh @ a + w_ih @ x[t, n] + b
            a = np.tanh(zs[t, n]) if nonlinearity == "tanh" else np.where(zs[t, n] > 0, zs[t, n], 0.0)
            y[t, n] = a
    return y, zs


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_forward_matches_naive_loop(bias):
    inputs = lstm_inputs(np.random.default_rng(7), 5, 3, 2, 4, bias)
    y, h_n, c_n, tape = ref.lstm_forward(**inputs)
    assert tape is None
    y0, h0, c0 = naive_lstm(**inputs)
    np.testing.assert_allclose(y, y0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_n, h0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(c_n, c0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_forward_matches_naive_loop(nonlinearity):
    inputs = rnn_inputs(np.random.default_rng(8), 5, 3, 2, 4)
    y, h_n, tape = ref.rnn_forward(**inputs, nonlinearity=nonlinearity)
    assert tape is None
    y0, _ = naive_rnn(**inputs, nonlinearity=nonlinearity)
    np.testing.assert_allclose(y, y0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_n, y0[-1], rtol=0, atol=1e-14)


# ----------------------------------------------------------------- PyTorch


def _torch_compare(module, inputs, states, run, grads, names):
    """Copy weights into ``module``, run ``run`` under autograd, compare to ``grads``."""
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(inputs["w_ih"]))
        module.weight_hh_l0.copy_(torch.from_numpy(inputs["w_hh"]))
        if inputs["b_ih"] is not None:
            module.bias_ih_l0.copy_(torch.from_numpy(inputs["b_ih"]))
            module.bias_hh_l0.copy_(torch.from_numpy(inputs["b_hh"]))
    leaves = {k: torch.tensor(inputs[k], requires_grad=True) for k in ["x", *states]}
    outputs = run(leaves)
    params = {
        "w_ih": module.weight_ih_l0,
        "w_hh": module.weight_hh_l0,
        "b_ih": getattr(module, "bias_ih_l0", None),
        "b_hh": getattr(module, "bias_hh_l0", None),
    }
    worst = 0.0
    for name in names:
        t = leaves[name] if name in leaves else params[name]
        if t is None:
            assert grads[name] is None
            continue
        worst = max(worst, float(np.max(np.abs(t.grad.numpy() - grads[name]))))
    return outputs, worst


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T,B,I,H", [(1, 1, 1, 1), (6, 3, 4, 5)])
def test_lstm_matches_torch(T, B, I, H, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    inputs = lstm_inputs(rng, T, B, I, H, bias)
    R, S, U = rng.standard_normal((T, B, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    y, h_n, c_n, tape = ref.lstm_forward(**inputs, training=True)
    grads = ref.lstm_backward(tape, R, S, U)

    def run(v):
        out, (hn, cn) = module(v["x"], (v["h0"][None], v["c0"][None]))
        loss = (
            (out * torch.from_numpy(R)).sum()
            + (hn[0] * torch.from_numpy(S)).sum()
            + (cn[0] * torch.from_numpy(U)).sum()
        )
        loss.backward()
        return out.detach().numpy(), hn[0].detach().numpy(), cn[0].detach().numpy()

    module = torch.nn.LSTM(I, H, bias=bias, dtype=torch.float64)
    (ty, th, tc), worst = _torch_compare(
        module, inputs, ["h0", "c0"], run, grads, ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"]
    )
    assert np.max(np.abs(y - ty)) < 1e-10
    assert np.max(np.abs(h_n - th)) < 1e-10 and np.max(np.abs(c_n - tc)) < 1e-10
    assert worst < 1e-10


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_matches_torch(nonlinearity, bias):
    torch = pytest.importorskip("torch")
    T, B, I, H = 6, 3, 4, 5
    rng = np.random.default_rng(12)
    inputs = rnn_inputs(rng, T, B, I, H, bias)
    R, S = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    y, h_n, tape = ref.rnn_forward(**inputs, nonlinearity=nonlinearity, training=True)
    grads = ref.rnn_backward(tape, R, S)

    def run(v):
        out, hn = module(v["x"], v["h0"][None])
        ((out * torch.from_numpy(R)).sum() + (hn[0] * torch.from_numpy(S)).sum()).backward()
        return out.detach().numpy(), hn[0].detach().numpy()

    module = torch.nn.RNN(I, H, nonlinearity=nonlinearity, bias=bias, dtype=torch.float64)
    (ty, th), worst = _torch_compare(module, inputs, ["h0"], run, grads, ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"])
    assert np.max(np.abs(y - ty)) < 1e-10 and np.max(np.abs(h_n - th)) < 1e-10
    assert worst < 1e-10


# ----------------------------------------------------------------- API contract


def test_defaults_none_state_means_zeros_and_no_bias_means_zero_bias():
    inputs = lstm_inputs(np.random.default_rng(1), 3, 2, 2, 3)
    B, H = 2, 3
    zero = {**inputs, "h0": np.zeros((B, H)), "c0": np.zeros((B, H))}
    a = ref.lstm_forward(**{**inputs, "h0": None, "c0": None})
    b = ref.lstm_forward(**zero)
    for u, v in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(u, v)
    nobias = ref.lstm_forward(**{**inputs, "b_ih": None, "b_hh": None})
    zerobias = ref.lstm_forward(**{**inputs, "b_ih": np.zeros(4 * H), "b_hh": np.zeros(4 * H)})
    np.testing.assert_array_equal(nobias[0], zerobias[0])


@pytest.mark.parametrize("T,B", [(0, 2), (3, 0), (0, 0)])
def test_empty_sequences_and_batches(T, B):
    I, H = 2, 3
    rng = np.random.default_rng(2)
    inputs = lstm_inputs(rng, T, B, I, H)
    y, h_n, c_n, tape = ref.lstm_forward(**inputs, training=True)
    assert y.shape == (T, B, H) and h_n.shape == (B, H) and c_n.shape == (B, H)
    np.testing.assert_array_equal(h_n, inputs["h0"] if T == 0 else h_n)
    dh_n, dc_n = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    g = ref.lstm_backward(tape, np.zeros((T, B, H)), dh_n, dc_n)
    assert g["x"].shape == (T, B, I)
    for k in ("w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0"):
        assert g[k].shape == (inputs[k].shape)
    if T == 0:  # nothing happens: state and its gradient pass straight through
        np.testing.assert_array_equal(c_n, inputs["c0"])
        np.testing.assert_array_equal(g["h0"], dh_n)
        np.testing.assert_array_equal(g["c0"], dc_n)
        assert g["h0"] is not dh_n
    assert not np.any(g["w_ih"]) and not np.any(g["w_hh"]) and not np.any(g["b_ih"])

    rinputs = rnn_inputs(rng, T, B, I, H)
    y, h_n, tape = ref.rnn_forward(**rinputs, training=True)
    assert y.shape == (T, B, H) and h_n.shape == (B, H)
    g = ref.rnn_backward(tape, np.zeros((T, B, H)))
    assert g["x"].shape == (T, B, I) and g["w_hh"].shape == (H, H) and g["h0"].shape == (B, H)
    assert not np.any(g["w_ih"])


def test_tape_is_reusable_and_owns_its_data():
    rng = np.random.default_rng(3)
    inputs = lstm_inputs(rng, 4, 2, 3, 2)
    dy = rng.standard_normal((4, 2, 2))
    y, h_n, c_n, tape = ref.lstm_forward(**inputs, training=True)
    first = ref.lstm_backward(tape, dy, h_n, c_n)
    for k in ("x", "w_ih", "w_hh"):  # the caller changes its arrays in place ...
        inputs[k][...] = 123.0
    y[...] = 7.0  # ... and the outputs
    second = ref.lstm_backward(tape, dy, h_n, c_n)
    for k in first:  # ... which does not affect backward, run a second time
        np.testing.assert_array_equal(first[k], second[k])

    rinputs = rnn_inputs(rng, 4, 2, 3, 2)
    _, _, rtape = ref.rnn_forward(**rinputs, training=True)
    r1 = ref.rnn_backward(rtape, dy)
    rinputs["w_hh"][...] = 0.0
    r2 = ref.rnn_backward(rtape, dy)
    for k in r1:
        np.testing.assert_array_equal(r1[k], r2[k])


def test_inputs_are_not_modified():
    rng = np.random.default_rng(4)
    inputs = lstm_inputs(rng, 3, 2, 3, 2)
    dy, dh_n, dc_n = rng.standard_normal((3, 2, 2)), rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    saved = {k: v.copy() for k, v in inputs.items()}
    grads_in = [dy.copy(), dh_n.copy(), dc_n.copy()]
    _, _, _, tape = ref.lstm_forward(**inputs, training=True)
    ref.lstm_backward(tape, dy, dh_n, dc_n)
    for k in inputs:
        np.testing.assert_array_equal(inputs[k], saved[k])
    for a, b in zip([dy, dh_n, dc_n], grads_in):
        np.testing.assert_array_equal(a, b)

    rinputs = rnn_inputs(rng, 3, 2, 3, 2)
    rsaved = {k: v.copy() for k, v in rinputs.items()}
    _, _, rtape = ref.rnn_forward(**rinputs, nonlinearity="relu", training=True)
    ref.rnn_backward(rtape, dy, dh_n)
    for k in rinputs:
        np.testing.assert_array_equal(rinputs[k], rsaved[k])
    np.testing.assert_array_equal(dy, grads_in[0])


def _awkward(a: np.ndarray, how: str):
    """The same values as ``a`` in an unusual memory layout or container."""
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "strided":  # a view with gaps: every other element of a larger array
        big = np.zeros((*a.shape[:-1], 2 * a.shape[-1]))
        big[..., ::2] = a
        return big[..., ::2]
    if how == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if how == "list":
        return a.tolist()
    raise ValueError(how)


@pytest.mark.parametrize("how", ["fortran", "strided", "readonly", "list"])
def test_unusual_layouts_are_accepted(how):
    rng = np.random.default_rng(5)
    inputs = lstm_inputs(rng, 3, 2, 3, 4)
    dy = rng.standard_normal((3, 2, 4))
    y, h_n, c_n, tape = ref.lstm_forward(**inputs, training=True)
    g = ref.lstm_backward(tape, dy)
    odd = {k: _awkward(v, how) for k, v in inputs.items()}
    y2, h2, c2, tape2 = ref.lstm_forward(**odd, training=True)
    g2 = ref.lstm_backward(tape2, _awkward(dy, how))
    for a, b in [(y, y2), (h_n, h2), (c_n, c2)] + [(g[k], g2[k]) for k in g]:
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)

    rinputs = rnn_inputs(rng, 3, 2, 3, 4)
    ry, _, rtape = ref.rnn_forward(**rinputs, training=True)
    ry2, _, rtape2 = ref.rnn_forward(**{k: _awkward(v, how) for k, v in rinputs.items()}, training=True)
    np.testing.assert_allclose(ry, ry2, rtol=0, atol=1e-14)
    np.testing.assert_allclose(
        ref.rnn_backward(rtape, dy)["w_hh"], ref.rnn_backward(rtape2, _awkward(dy, how))["w_hh"], rtol=0, atol=1e-14
    )


def test_chunks_of_length_one_equal_the_full_sequence():
    """Forward carrying (h, c) step by step, backward carrying (dh, dc), equal the whole run."""
    T, B, I, H = 5, 2, 3, 4
    rng = np.random.default_rng(6)
    p = lstm_inputs(rng, T, B, I, H)
    dy, dh_n, dc_n = rng.standard_normal((T, B, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    y, h_n, c_n, tape = ref.lstm_forward(**p, training=True)
    full = ref.lstm_backward(tape, dy, dh_n, dc_n)

    h, c, ys, tapes = p["h0"], p["c0"], [], []
    for t in range(T):
        y_t, h, c, tape_t = ref.lstm_forward(
            p["x"][t : t + 1], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], h, c, training=True
        )
        ys.append(y_t)
        tapes.append(tape_t)
    np.testing.assert_allclose(np.concatenate(ys), y, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h, h_n, rtol=0, atol=1e-14)
    np.testing.assert_allclose(c, c_n, rtol=0, atol=1e-14)

    dh, dc = dh_n, dc_n
    summed = dict.fromkeys(("w_ih", "w_hh", "b_ih", "b_hh"), 0.0)
    dxs = []
    for t in reversed(range(T)):
        g = ref.lstm_backward(tapes[t], dy[t : t + 1], dh, dc)
        dh, dc = g["h0"], g["c0"]
        dxs.insert(0, g["x"])
        for k in summed:
            summed[k] = summed[k] + g[k]
    np.testing.assert_allclose(np.concatenate(dxs), full["x"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(dh, full["h0"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(dc, full["c0"], rtol=0, atol=1e-13)
    for k in summed:
        np.testing.assert_allclose(summed[k], full[k], rtol=0, atol=1e-13)


def test_rnn_chunks_of_length_one_equal_the_full_sequence():
    T, B, I, H = 5, 2, 3, 4
    rng = np.random.default_rng(9)
    p = rnn_inputs(rng, T, B, I, H)
    dy, dh_n = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    y, h_n, tape = ref.rnn_forward(**p, training=True)
    full = ref.rnn_backward(tape, dy, dh_n)
    h, tapes = p["h0"], []
    for t in range(T):
        y_t, h, tape_t = ref.rnn_forward(
            p["x"][t : t + 1], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], h, training=True
        )
        np.testing.assert_allclose(y_t[0], y[t], rtol=0, atol=1e-14)
        tapes.append(tape_t)
    dh, dw_hh = dh_n, 0.0
    for t in reversed(range(T)):
        g = ref.rnn_backward(tapes[t], dy[t : t + 1], dh)
        dh, dw_hh = g["h0"], dw_hh + g["w_hh"]
    np.testing.assert_allclose(dh, full["h0"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(dw_hh, full["w_hh"], rtol=0, atol=1e-13)


def test_float32_computes_in_float32():
    rng = np.random.default_rng(10)
    p64 = lstm_inputs(rng, 4, 3, 2, 5)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    dy = rng.standard_normal((4, 3, 5))
    y64, _, _, t64 = ref.lstm_forward(**p64, training=True)
    y32, h32, c32, t32 = ref.lstm_forward(**p32, training=True)
    g64 = ref.lstm_backward(t64, dy)
    g32 = ref.lstm_backward(t32, dy.astype(np.float32))
    assert y32.dtype == h32.dtype == c32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=0, atol=1e-5)
    for k in g64:
        assert g32[k].dtype == np.float32, k
        np.testing.assert_allclose(g32[k], g64[k], rtol=0, atol=1e-4)

    r32 = {k: v.astype(np.float32) for k, v in rnn_inputs(rng, 4, 3, 2, 5).items()}
    ry, rh, rtape = ref.rnn_forward(**r32, nonlinearity="relu", training=True)
    assert ry.dtype == rh.dtype == np.float32
    assert all(v.dtype == np.float32 for v in ref.rnn_backward(rtape, dy.astype(np.float32)).values())


def test_nan_propagates_without_error():
    T, B, I, H = 4, 3, 2, 3
    rng = np.random.default_rng(13)
    p = lstm_inputs(rng, T, B, I, H)
    p["x"][1, 0, 0] = np.nan  # example 0 is poisoned from step 1 on; the others are not
    y, h_n, c_n, tape = ref.lstm_forward(**p, training=True)
    assert np.all(np.isnan(y[1:, 0])) and np.all(np.isfinite(y[:, 1:])) and np.all(np.isfinite(y[0]))
    g = ref.lstm_backward(tape, np.ones((T, B, H)))
    assert np.all(np.isfinite(g["x"][:, 1:])) and np.isnan(g["w_hh"]).any()

    r = rnn_inputs(rng, T, B, I, H)
    r["x"][1, 0, 0] = np.nan
    for nl in ("tanh", "relu"):
        ry, _, _ = ref.rnn_forward(**r, nonlinearity=nl)
        assert np.all(np.isnan(ry[1:, 0])) and np.all(np.isfinite(ry[:, 1:]))


def test_backward_rejects_missing_or_wrong_tape():
    p = lstm_inputs(np.random.default_rng(14), 2, 1, 1, 1)
    _, _, _, no_tape = ref.lstm_forward(**p)
    with pytest.raises(ValueError, match=r"lstm_forward\(\.\.\., training=True\)"):
        ref.lstm_backward(no_tape, np.zeros((2, 1, 1)))
    with pytest.raises(ValueError, match=r"rnn_forward\(\.\.\., training=True\)"):
        ref.rnn_backward(None, np.zeros((2, 1, 1)))
    _, _, _, lstm_tape = ref.lstm_forward(**p, training=True)
    _, _, rnn_tape = ref.rnn_forward(**rnn_inputs(np.random.default_rng(0), 2, 1, 1, 1), training=True)
    with pytest.raises(TypeError, match=r"expected the LSTMTape.*got RNNTape"):
        ref.lstm_backward(rnn_tape, np.zeros((2, 1, 1)))
    with pytest.raises(TypeError, match=r"expected the RNNTape.*got LSTMTape"):
        ref.rnn_backward(lstm_tape, np.zeros((2, 1, 1)))
