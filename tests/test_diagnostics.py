"""gradient_flow: chained BPTT equals the full sequence, agrees with the reference and with
finite differences, and shows vanishing gradients in a vanilla RNN but not in an LSTM."""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast import reference as ref
from lstmfast.training import losses
from lstmfast.training.diagnostics import GradientFlow, _chained_bptt, gradient_flow
from lstmfast.training.model import SequenceModel

NAMES = {"w_ih": "weight_ih_l0", "w_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}


def weights(layer):
    p = layer.parameters()
    return p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]


def ref_run(layer, x, h0=None, c0=None, training=False):
    """The NumPy reference over x from (h0, c0): (y, states..., tape)."""
    if isinstance(layer, lstmfast.LSTM):
        return ref.lstm_forward(x, *weights(layer), h0, c0, training=training)
    return ref.rnn_forward(x, *weights(layer), h0, nonlinearity=layer.nonlinearity, training=training)


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("cls", [lstmfast.LSTM, lstmfast.RNN])
def test_chained_chunks_equal_full_sequence_bptt(cls):
    T, N, I, H = 7, 3, 2, 4
    rng = np.random.default_rng(0)
    layer = cls(I, H, dtype=np.float64, seed=1)
    x = rng.standard_normal((T, N, I))
    dy_last = rng.standard_normal((N, H))
    run = _chained_bptt([layer], x, None, dy_last, np.dtype(np.float64))

    _, _, tape = layer.forward(x, training=True)
    dy = np.zeros((T, N, H))
    dy[-1] = dy_last
    full = layer.backward(tape, dy)
    np.testing.assert_allclose(run["x"], full["x"], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(run["h0"][0], full["h0"][0], rtol=1e-10, atol=1e-15)
    if cls is lstmfast.LSTM:
        np.testing.assert_allclose(run["c0"][0], full["c0"][0], rtol=1e-10, atol=1e-15)
    for short, name in NAMES.items():
        np.testing.assert_allclose(run["params"][0][short], full[name], rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(run["dh"][0][-1], dy_last)  # at the last step: the loss gradient itself


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_chained_stack_with_head_equals_model_gradients(cell):
    """Two layers + head + loss at the last step = a SequenceModel with output="last"."""
    model = SequenceModel(2, [4, 3], output_size=2, cell=cell, output="last", dtype=np.float64, seed=2)
    rng = np.random.default_rng(3)
    T, N = 6, 5
    x, y = rng.standard_normal((T, N, 2)), rng.random((N, 2))
    p = model.parameters()
    run = _chained_bptt(model.layers, x, (p["head.weight"], p["head.bias"], y, "binary"), None, np.dtype(np.float64))
    loss, grads = model.loss_and_gradients(x, y)  # the mean over examples; the chain sums them
    assert run["loss"] / N == pytest.approx(loss, rel=1e-12)
    for k in range(2):
        for short, name in NAMES.items():
            model_name = f"{cell}.{name[:-1]}{k}"
            np.testing.assert_allclose(run["params"][k][short] / N, grads[model_name], rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("cls", [lstmfast.LSTM, lstmfast.RNN])
def test_layer_norms_match_the_reference_restarted_at_each_step(cls):
    """∂L<T>/∂a<t> independently: the reference re-run from (a<t>, c<t>) over steps t+1..T-1,
    whose backward returns the gradient of its initial state."""
    T, N, I, H = 8, 3, 2, 5
    rng = np.random.default_rng(4)
    layer = cls(I, H, dtype=np.float64, seed=5)
    x = rng.standard_normal((T, N, I))
    dy_last = rng.standard_normal((N, H))
    flow = gradient_flow(layer, x, dy_last=dy_last)
    tape = ref_run(layer, x, training=True)[-1]
    expected = np.empty((T, N))
    expected[-1] = np.linalg.norm(dy_last, axis=1)
    for t in range(T - 1):
        dy = np.zeros((T - 1 - t, N, H))
        dy[-1] = dy_last
        if cls is lstmfast.LSTM:
            sub = ref_run(layer, x[t + 1 :], tape.hs[t], tape.cs[t], training=True)[-1]
            g = ref.lstm_backward(sub, dy)
        else:
            sub = ref_run(layer, x[t + 1 :], tape.hs[t], training=True)[-1]
            g = ref.rnn_backward(sub, dy)
        expected[t] = np.linalg.norm(g["h0"], axis=1)
    np.testing.assert_allclose(flow.per_example, expected, rtol=1e-10)
    np.testing.assert_allclose(flow.norms, expected.mean(axis=1), rtol=1e-10)
    assert flow.layer_norms.shape == (1, T)


@pytest.mark.parametrize("cell,task", [("lstm", "binary"), ("rnn", "regression")])
def test_model_norms_match_finite_differences_on_the_hidden_state(cell, task):
    """Perturb a<t> itself, re-run the reference from step t+1, apply the head and each
    example's loss at the last step (summed over outputs): centred differences in float64.
    Examples do not interact, so one perturbation of all of them gives each one's own."""
    T, N, H = 5, 2, 3
    model = SequenceModel(2, H, output_size=2, cell=cell, task=task, dtype=np.float64, seed=6)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((T, N, 2))
    y = rng.random((T, N, 2))
    flow = gradient_flow(model, x, y)
    layer = model.layers[0]
    w_y, b_y = model.parameters()["head.weight"], model.parameters()["head.bias"]
    tape = ref_run(layer, x, training=True)[-1]

    def last_loss(t, h):
        if t < T - 1:
            rest = ref_run(layer, x[t + 1 :], h, tape.cs[t] if cell == "lstm" else None)
            h = rest[1]  # a<T-1>
        z, target = losses.dense_forward(h, w_y, b_y), y[-1]
        if task == "binary":  # per example, summed over the outputs
            return (np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))).sum(axis=1)
        return ((z - target) ** 2).sum(axis=1)

    eps = 1e-6
    for t in range(T):
        grad = np.empty((N, H))
        for j in range(H):
            step = np.zeros((N, H))
            step[:, j] = eps
            grad[:, j] = (last_loss(t, tape.hs[t] + step) - last_loss(t, tape.hs[t] - step)) / (2 * eps)
        np.testing.assert_allclose(flow.per_example[t], np.linalg.norm(grad, axis=1), rtol=1e-6)


# --------------------------------------------------------------------------- the lesson


def test_vanishing_in_a_vanilla_rnn_but_not_in_an_lstm_with_forget_bias():
    """Thresholds and why:

    RNN, W_hh rescaled to spectral norm 0.5: one step back multiplies the gradient by
    W_hhᵀ diag(1 - a²), whose norm is at most 0.5, so per example
    ‖∂L/∂a<T-1-d>‖ <= 0.5^d ‖∂L/∂a<T-1>‖ — a proven bound, 9.5e-7 at d = 20 and
    8.9e-16 at d = 50 (measured: 4.7e-11 and 5.6e-26).

    LSTM with forget-gate bias +3 (b_f = 3 via load_state_dict): Γf ≈ σ(3) ≈ 0.95
    (measured mean 0.95, min 0.82), so the cell path keeps about 0.95^d (0.36 at 20,
    0.08 at 50) times the ~0.1 that the first step back through the gates and W_hh
    leaves (measured 0.11 at d = 1). Measured relative norms: 0.036 at d = 20, 0.048
    at d = 50 (over init seeds 0-4 at least 7e-3 and 1.2e-3). Asserted: >= 1e-3 and
    >= 1e-4, margins of 30x and more.

    The same LSTM with its default small biases (Γf ≈ 0.5) decays like the RNN
    (measured 8.9e-6 at d = 20, 2.3e-11 at d = 50): the forget gate is what matters.
    """
    T, N, I, H = 60, 8, 4, 16
    x = np.random.default_rng(0).standard_normal((T, N, I))

    rnn = lstmfast.RNN(I, H, dtype=np.float64, seed=0)
    sd = rnn.state_dict()
    sd["weight_hh_l0"] *= 0.5 / np.linalg.norm(sd["weight_hh_l0"], 2)
    rnn.load_state_dict(sd)
    rnn_flow = gradient_flow(rnn, x)

    lstm = lstmfast.LSTM(I, H, dtype=np.float64, seed=0)
    default_flow = gradient_flow(lstm, x)
    sd = lstm.state_dict()
    sd["bias_ih_l0"][H : 2 * H] = 3.0  # forget-gate block f
    sd["bias_hh_l0"][H : 2 * H] = 0.0
    lstm.load_state_dict(sd)
    lstm_flow = gradient_flow(lstm, x)

    for flow in (rnn_flow, lstm_flow, default_flow):
        assert flow.norms[-1] == pytest.approx(1.0)  # the default dy_last has norm 1
    d = np.arange(T)
    bound = 0.5 ** d[::-1]  # indexed by step t: 0.5^(T-1-t)
    assert np.all(rnn_flow.per_example <= bound[:, None] * rnn_flow.per_example[-1] * (1 + 1e-9))
    at = {dist: T - 1 - dist for dist in (20, 50)}
    assert rnn_flow.relative[at[20]] <= 0.5**20 and rnn_flow.relative[at[50]] <= 0.5**50
    assert lstm_flow.relative[at[20]] >= 1e-3 and lstm_flow.relative[at[50]] >= 1e-4
    assert lstm_flow.relative[at[50]] > 1e4 * default_flow.relative[at[50]]


# --------------------------------------------------------------------------- result and errors


def test_result_object_and_table():
    T = 60
    layer = lstmfast.RNN(2, 4, seed=0)
    x = np.random.default_rng(0).standard_normal((T, 3, 2)).astype(np.float32)
    flow = gradient_flow(layer, x)
    assert isinstance(flow, GradientFlow) and flow.cell == "rnn"
    assert flow.norms.shape == (T,) and flow.per_example.shape == (T, 3) and flow.layer_norms.shape == (1, T)
    assert flow.norms.dtype == np.float64
    np.testing.assert_array_equal(flow.distances, np.arange(T)[::-1])
    assert flow.relative[-1] == 1.0
    lines = flow.table().splitlines()
    assert "RNN" in lines[0] and "distance" in lines[1]
    assert [int(line.split()[0]) for line in lines[2:]] == [0, 1, 2, 5, 10, 20, 50, 59]
    assert str(flow) == flow.table()
    assert len(flow.table([0, 3]).splitlines()) == 4
    with pytest.raises(ValueError, match=r"distances: each must be in \[0, T-1\] = \[0, 59\], got 60"):
        flow.table([60])
    f32 = gradient_flow(layer, x, dtype=np.float32)  # the float32 kernels: same up to rounding
    np.testing.assert_allclose(f32.norms[-10:], flow.norms[-10:], rtol=1e-4)


def test_stacked_model_reports_every_layer():
    model = SequenceModel(2, [4, 3], cell="lstm", output="last", seed=0)
    x = np.random.default_rng(0).standard_normal((9, 5, 2))
    flow = gradient_flow(model, x, np.ones(5))
    assert flow.layer_norms.shape == (2, 9)
    np.testing.assert_array_equal(flow.layer_norms[-1], flow.norms)
    assert np.all(flow.layer_norms > 0)


@pytest.mark.parametrize(
    "call,exc,message",
    [
        (
            lambda m, l, x: gradient_flow("lstm", x),
            TypeError,
            "model_or_layer: expected a SequenceModel, LSTM, GRU or RNN",
        ),
        (lambda m, l, x: gradient_flow(m, x), TypeError, "targets: required for a SequenceModel"),
        (
            lambda m, l, x: gradient_flow(m, x, np.ones((4, 3)), dy_last=np.ones((3, 2))),
            TypeError,
            "dy_last: only for a bare LSTM/GRU/RNN layer",
        ),
        (lambda m, l, x: gradient_flow(m, x, np.ones((4, 2))), ValueError, "targets: expected shape"),
        (lambda m, l, x: gradient_flow(l, x, np.ones((4, 3))), TypeError, "targets: only for a SequenceModel"),
        (lambda m, l, x: gradient_flow(l, x[0]), ValueError, r"x: expected a 3-D array \(T, N, I\) with I = 2"),
        (lambda m, l, x: gradient_flow(l, x[:0]), ValueError, "x: expected at least one time step"),
        (
            lambda m, l, x: gradient_flow(l, x, dy_last=np.ones((3, 3))),
            ValueError,
            r"dy_last: expected shape \(N, H\) = \(3, 2\), got \(3, 3\)",
        ),
        (lambda m, l, x: gradient_flow(l, x, dtype=np.int64), TypeError, "dtype: expected float32 or float64"),
    ],
)
def test_bad_arguments(call, exc, message):
    model = SequenceModel(2, 2, seed=0)
    layer = lstmfast.LSTM(2, 2, seed=0)
    x = np.zeros((4, 3, 2))
    with pytest.raises(exc, match=message):
        call(model, layer, x)


# --------------------------------------------------------------------------- the cell state's gradient


def test_cell_state_gradient_matches_finite_differences():
    """Perturb c<t> itself, and with it a<t> = Γo * tanh(c<t>) (Γo<t> read from the
    reference's tape), then re-run the reference from that state over the steps after t:
    the total derivative, both paths of c<t>. Centred differences, ε = 1e-6 in float64: the
    truncation error is O(ε²) ~ 1e-12 and the rounding error ~1e-16/ε = 1e-10 relative to
    gradients of order 0.1-1 (the smallest here, 100 steps of forget gate ~0.5 away, is
    ~1e-3), so rtol 1e-6 leaves a margin of about 1000."""
    T, N, H = 6, 2, 3
    model = SequenceModel(2, H, output_size=2, cell="lstm", dtype=np.float64, seed=8)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((T, N, 2))
    y = rng.random((T, N, 2))
    flow = gradient_flow(model, x, y)
    assert flow.c_norms is not None and flow.c_per_example is not None
    layer = model.layers[0]
    w_y, b_y = model.parameters()["head.weight"], model.parameters()["head.bias"]
    tape = ref_run(layer, x, training=True)[-1]

    def last_loss(t, c):
        h = tape.gates[t][:, 3 * H :] * np.tanh(c)  # a<t> = Γo<t> * tanh(c<t>)
        if t < T - 1:
            h = ref_run(layer, x[t + 1 :], h, c)[1]
        z = losses.dense_forward(h, w_y, b_y)
        return (np.maximum(z, 0) - z * y[-1] + np.log1p(np.exp(-np.abs(z)))).sum(axis=1)

    eps = 1e-6
    for t in range(T):
        grad = np.empty((N, H))
        for j in range(H):
            step = np.zeros((N, H))
            step[:, j] = eps
            grad[:, j] = (last_loss(t, tape.cs[t] + step) - last_loss(t, tape.cs[t] - step)) / (2 * eps)
        np.testing.assert_allclose(flow.c_per_example[t], np.linalg.norm(grad, axis=1), rtol=1e-6)
    np.testing.assert_allclose(flow.c_norms, flow.c_per_example.mean(axis=1))
    assert flow.relative_c is not None and flow.relative_c[-1] == 1.0


def test_cell_state_gradient_matches_torch_autograd():
    """An independent oracle: PyTorch's autograd through an unrolled nn.LSTMCell with the
    same weights (float64), the gradient of every c<t> and a<t> kept with retain_grad."""
    torch = pytest.importorskip("torch")
    T, N, I, H = 12, 3, 4, 5
    layer = lstmfast.LSTM(I, H, dtype=np.float64, forget_bias=1.0, seed=10)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((T, N, I))
    dy_last = rng.standard_normal((N, H))
    flow = gradient_flow(layer, x, dy_last=dy_last)

    cell = torch.nn.LSTMCell(I, H, dtype=torch.float64)
    with torch.no_grad():
        for name, value in layer.parameters().items():
            getattr(cell, name.removesuffix("_l0")).copy_(torch.from_numpy(value))
    h = torch.zeros(N, H, dtype=torch.float64)
    c = torch.zeros(N, H, dtype=torch.float64)
    hs, cs = [], []
    for t in range(T):
        h, c = cell(torch.from_numpy(x[t]), (h, c))
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    (hs[-1] * torch.from_numpy(dy_last)).sum().backward()
    da = np.stack([np.linalg.norm(v.grad.numpy(), axis=1) for v in hs])
    dc = np.stack([np.linalg.norm(v.grad.numpy(), axis=1) for v in cs])
    np.testing.assert_allclose(flow.per_example, da, rtol=1e-10)
    np.testing.assert_allclose(flow.c_per_example, dc, rtol=1e-10)


def test_cell_state_gradient_of_every_layer_and_none_without_a_cell_state():
    """Two stacked LSTM layers against PyTorch's autograd: the lower layer's c<t> reach the
    loss through the upper layer, and its gradients come out of the same chain."""
    torch = pytest.importorskip("torch")
    T, N, I = 7, 5, 2
    layers = lstmfast.LSTM(I, 4, num_layers=2, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((T, N, I))
    dy_last = np.random.default_rng(1).standard_normal((N, 4))
    split = [lstmfast.LSTM(I, 4, dtype=np.float64), lstmfast.LSTM(4, 4, dtype=np.float64)]
    cells = [torch.nn.LSTMCell(I, 4, dtype=torch.float64), torch.nn.LSTMCell(4, 4, dtype=torch.float64)]
    for k in range(2):
        own = {name.replace(f"_l{k}", "_l0"): v for name, v in layers.parameters().items() if name.endswith(f"_l{k}")}
        split[k].load_state_dict(own)
        with torch.no_grad():
            for name, value in own.items():
                getattr(cells[k], name.removesuffix("_l0")).copy_(torch.from_numpy(value))
    run = _chained_bptt(split, x, None, dy_last, np.dtype(np.float64))

    states = [(torch.zeros(N, 4, dtype=torch.float64),) * 2 for _ in range(2)]
    kept = [[], []]
    for t in range(T):
        inp = torch.from_numpy(x[t])
        for k in range(2):
            h, c = cells[k](inp, states[k])
            c.retain_grad()
            kept[k].append(c)
            states[k] = (h, c)
            inp = h
    (states[1][0] * torch.from_numpy(dy_last)).sum().backward()
    for k in range(2):
        expected = np.stack([c.grad.numpy() for c in kept[k]])
        np.testing.assert_allclose(run["dc"][k], expected, rtol=1e-10, atol=1e-14)
    for cell in ("gru", "rnn"):
        flow = gradient_flow(SequenceModel(2, 3, cell=cell, seed=0), x, np.ones((7, 5)))
        assert flow.c_norms is None and flow.c_per_example is None and flow.relative_c is None
