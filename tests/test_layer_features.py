"""Issue-5 features of the layers beyond what torch checks (test_torch_oracle.py):
dropout, statefulness and streaming, truncated BPTT over chunks, cells,
unit_forget_bias, and the errors of each."""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast import reference as ref

CLASSES = [lstmfast.LSTM, lstmfast.GRU, lstmfast.RNN]


def rand(rng, *shape):
    return rng.standard_normal(shape)


@pytest.mark.parametrize("cls", CLASSES)
def test_dropout_is_seeded_off_at_inference_and_differentiated(cls):
    rng = np.random.default_rng(0)
    x = rand(rng, 6, 4, 3)
    a = cls(3, 8, dtype=np.float64, seed=3, num_layers=3, dropout=0.5)
    b = cls(3, 8, dtype=np.float64, seed=3, num_layers=3, dropout=0.5)
    y_a, _, tape_a = a.forward(x)
    y_b, _, tape_b = b.forward(x)
    np.testing.assert_array_equal(y_a, y_b)  # same seed, same masks
    assert not np.array_equal(a.forward(x)[0], y_a)  # a new mask each training call
    plain = cls(3, 8, dtype=np.float64, seed=3, num_layers=3)
    np.testing.assert_array_equal(a(x)[0], plain(x)[0])  # inference: no dropout
    for mask in tape_a.masks:
        assert set(np.unique(mask)) <= {0.0, 2.0}  # kept units scaled by 1/(1-p)
        assert 0.3 < (mask == 0).mean() < 0.7

    # The gradient of sum(y * dy) with the masks of tape_a, by centred differences.
    dy = rand(rng, *y_a.shape)
    grads = a.backward(tape_a, dy)

    def loss(params):
        m = cls(3, 8, dtype=np.float64, num_layers=3)
        m.load_state_dict(params)
        h = x
        for layer in range(3):
            if layer:
                h = h * tape_a.masks[layer - 1]
            w = [params[f"{n}_l{layer}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            fn = {lstmfast.LSTM: ref.lstm_forward, lstmfast.GRU: ref.gru_forward, lstmfast.RNN: ref.rnn_forward}[cls]
            h = fn(h, *w)[0]
        return float((h * dy).sum())

    params = a.state_dict()
    for name in ("weight_hh_l0", "bias_ih_l1", "weight_ih_l2"):
        flat = params[name].reshape(-1)
        for i in (0, flat.size // 2, flat.size - 1):
            old = flat[i]
            flat[i] = old + 1e-6
            up = loss(params)
            flat[i] = old - 1e-6
            down = loss(params)
            flat[i] = old
            num = (up - down) / 2e-6
            assert abs(num - grads[name].reshape(-1)[i]) <= 1e-6 * max(1.0, abs(num))


@pytest.mark.parametrize("cls", CLASSES)
def test_step_by_step_equals_the_whole_sequence(cls):
    rng = np.random.default_rng(1)
    x = rand(rng, 9, 3, 4)
    layer = cls(4, 6, dtype=np.float64, seed=0, num_layers=2)
    y, final = layer(x)
    state = None
    for t in range(9):
        y_t, state = layer.step(x[t], state)
        np.testing.assert_allclose(y_t, y[t], rtol=1e-12, atol=1e-14)
    for ours, theirs in zip(
        state if isinstance(state, tuple) else (state,), final if isinstance(final, tuple) else (final,)
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", CLASSES)
def test_stateful_layer_carries_its_state(cls):
    rng = np.random.default_rng(2)
    x = rand(rng, 12, 2, 3)
    whole = cls(3, 5, dtype=np.float64, seed=4)(x)[0]
    layer = cls(3, 5, dtype=np.float64, seed=4, stateful=True)
    parts = [layer(x[:5])[0], layer(x[5:6])[0], layer(x[6:])[0]]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-12, atol=1e-14)
    streamed = [layer.step(x[t])[0] for t in range(3)]  # continues from the end of x
    layer.reset_state()
    np.testing.assert_allclose(layer(x[:3])[0][0], cls(3, 5, dtype=np.float64, seed=4)(x[:1])[0][0])
    assert not np.allclose(streamed[0], layer(x[:1])[0][0])


@pytest.mark.parametrize("cls", CLASSES)
def test_truncated_bptt_chunks_equal_one_long_sequence(cls):
    """Chunks chained through the state forward and through dstate backward give
    the whole sequence's outputs and gradients (a stack of two layers)."""
    rng = np.random.default_rng(3)
    x = rand(rng, 10, 3, 2)
    layer = cls(2, 5, dtype=np.float64, seed=5, num_layers=2)
    dy = rand(rng, 10, 3, 5)
    y, final, tape = layer.forward(x)
    full = layer.backward(tape, dy)
    cuts = [0, 3, 4, 10]
    state, tapes = None, []
    for a, b in zip(cuts, cuts[1:]):
        _, state, t = layer.forward(x[a:b], state)
        tapes.append(t)
    dstate, dx, dw = None, [], 0
    for (a, b), t in reversed(list(zip(zip(cuts, cuts[1:]), tapes))):
        g = layer.backward(t, dy[a:b], dstate)
        dstate = (g["h0"], g["c0"]) if "c0" in g else g["h0"]
        dx.insert(0, g["x"])
        dw = dw + g["weight_hh_l1"]
    np.testing.assert_allclose(np.concatenate(dx), full["x"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dw, full["weight_hh_l1"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dstate[0] if isinstance(dstate, tuple) else dstate, full["h0"], rtol=1e-10, atol=1e-13)


def test_go_backwards_is_the_reverse_direction():
    rng = np.random.default_rng(4)
    x = rand(rng, 6, 2, 3)
    back = lstmfast.LSTM(3, 4, dtype=np.float64, seed=0, go_backwards=True)
    y, (h, c) = back(x)
    p = back.parameters()
    yr, hr, cr, _ = ref.lstm_forward(
        x, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"], reverse=True
    )
    np.testing.assert_allclose(y, yr, rtol=1e-12)
    np.testing.assert_allclose(h[0], hr, rtol=1e-12)


def test_unit_forget_bias():
    layer = lstmfast.LSTM(3, 4, unit_forget_bias=True, num_layers=2, bidirectional=True)
    for name, p in layer.parameters().items():
        if name.startswith("bias_ih"):
            np.testing.assert_array_equal(p, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
        elif name.startswith("bias_hh"):
            assert not p.any()
    with pytest.raises(ValueError, match="unit_forget_bias: the layer has no bias"):
        lstmfast.LSTM(3, 4, bias=False, unit_forget_bias=True)


@pytest.mark.parametrize(
    "cell_cls,layer_cls",
    [(lstmfast.LSTMCell, lstmfast.LSTM), (lstmfast.GRUCell, lstmfast.GRU), (lstmfast.RNNCell, lstmfast.RNN)],
)
def test_cells_step_like_the_layer_and_backpropagate(cell_cls, layer_cls):
    rng = np.random.default_rng(5)
    cell = cell_cls(3, 4, dtype=np.float64, seed=2)
    layer = layer_cls(3, 4, dtype=np.float64, seed=2)
    assert set(cell.state_dict()) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}
    x = rand(rng, 5, 2, 3)
    state = None
    for t in range(5):
        state = cell(x[t], state)
    final = layer(x)[1]
    for ours, theirs in zip(
        state if isinstance(state, tuple) else (state,), final if isinstance(final, tuple) else (final,)
    ):
        np.testing.assert_allclose(ours, theirs[0], rtol=1e-12, atol=1e-14)
    # One step's gradients equal the layer's on a length-1 sequence.
    s0 = (rand(rng, 2, 4), rand(rng, 2, 4)) if cell_cls is lstmfast.LSTMCell else rand(rng, 2, 4)
    ds = (rand(rng, 2, 4), rand(rng, 2, 4)) if cell_cls is lstmfast.LSTMCell else rand(rng, 2, 4)
    _, tape = cell.forward(x[0], s0)
    g = cell.backward(tape, ds)
    wrap = (lambda s: tuple(v[None] for v in s)) if isinstance(s0, tuple) else (lambda s: s[None])
    _, _, ltape = layer.forward(x[:1], wrap(s0))
    lg = layer.backward(ltape, np.zeros((1, 2, 4)), wrap(ds))
    np.testing.assert_allclose(g["weight_hh"], lg["weight_hh_l0"], rtol=1e-12)
    np.testing.assert_allclose(g["x"], lg["x"][0], rtol=1e-12)
    np.testing.assert_allclose(g["h"], lg["h0"][0], rtol=1e-12)


def test_cells_match_torch_cells():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    for ours_cls, theirs_cls in (
        (lstmfast.LSTMCell, torch.nn.LSTMCell),
        (lstmfast.GRUCell, torch.nn.GRUCell),
        (lstmfast.RNNCell, torch.nn.RNNCell),
    ):
        cell = ours_cls(3, 5, dtype=np.float64, seed=0)
        module = theirs_cls(3, 5).double()
        module.load_state_dict({k: torch.tensor(v) for k, v in cell.state_dict().items()})
        x = rand(rng, 4, 3)
        out = cell(x)
        theirs = module(torch.tensor(x))
        if isinstance(out, tuple):
            for a, b in zip(out, theirs):
                np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12)
        else:
            np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12)


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "kwargs,exc,message",
    [
        ({"num_layers": 0}, ValueError, "num_layers: expected a positive int, got 0"),
        ({"num_layers": 1.5}, TypeError, "num_layers: expected a positive int, got float"),
        ({"dropout": 1.0}, ValueError, r"dropout: expected a probability in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, ValueError, "dropout: expected a probability"),
        ({"bidirectional": "yes"}, TypeError, "bidirectional: expected a bool, got str"),
        ({"batch_first": 1}, TypeError, "batch_first: expected a bool, got int"),
        ({"go_backwards": True, "bidirectional": True}, ValueError, "go_backwards: a bidirectional layer"),
    ],
)
def test_bad_options(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        lstmfast.LSTM(3, 4, **kwargs)


def test_bad_states_lengths_and_steps():
    layer = lstmfast.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = np.zeros((5, 2, 3), np.float32)
    good = np.zeros((4, 2, 4), np.float32)
    with pytest.raises(
        ValueError,
        match=r"state: h0 expected shape \(num_layers \* num_directions, B, H\) = "
        r"\(4, 2, 4\), got \(2, 2, 4\)",
    ):
        layer(x, (np.zeros((2, 2, 4), np.float32), good))
    with pytest.raises(TypeError, match="state: expected None or a pair"):
        layer(x, good)
    with pytest.raises(ValueError, match=r"lengths: every length must be in \[0, T\] = \[0, 5\], got 6"):
        layer(x, lengths=[6, 2])
    with pytest.raises(ValueError, match=r"lengths: every length must be in \[0, T\] = \[0, 5\], got -1"):
        layer(x, lengths=[-1, 2])
    with pytest.raises(ValueError, match="x: expected 3 input features"):
        layer(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(ValueError, match="step: a bidirectional layer needs the whole sequence"):
        layer.step(np.zeros((2, 3), np.float32))
    uni = lstmfast.GRU(3, 4)
    with pytest.raises(ValueError, match=r"x_t: expected shape \(B, input_size\) = \(B, 3\), got \(2, 5\)"):
        uni.step(np.zeros((2, 5), np.float32))
    _, _, tape = uni.forward(x)
    with pytest.raises(ValueError, match=r"dy: expected shape \(T, B, D\*H\) = \(5, 2, 4\), got \(5, 2, 8\)"):
        uni.backward(tape, np.zeros((5, 2, 8), np.float32))
    with pytest.raises(TypeError, match="tape: expected the LayerTape"):
        uni.backward(None, np.zeros((5, 2, 4), np.float32))


def test_cells_check_their_state():
    cell = lstmfast.LSTMCell(3, 4)
    x = np.zeros((2, 3), np.float32)
    h = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match=r"state: c expected shape \(B, H\) = \(2, 4\), got \(2, 5\)"):
        cell(x, (h, np.zeros((2, 5), np.float32)))
    with pytest.raises(TypeError, match=r"state: expected None or a pair \(h, c\)"):
        cell(x, h)
    with pytest.raises(TypeError, match="state: h: expected real numbers or booleans, got dtype complex64"):
        cell(x, (h + 1j, h))
    with pytest.raises(ValueError, match=r"x: expected shape \(B, input_size\) = \(B, 3\), got \(2, 4\)"):
        cell(np.zeros((2, 4), np.float32), (h, h))
    gru = lstmfast.GRUCell(3, 4, dtype=np.float64, seed=1)
    as_lists = gru(x.tolist(), h.tolist())  # converted, like every array argument
    np.testing.assert_array_equal(as_lists, gru(x.astype(np.float64), h.astype(np.float64)))
    with pytest.raises(ValueError, match=r"state: h expected shape \(B, H\) = \(2, 4\), got \(3, 4\)"):
        gru(x, np.zeros((3, 4)))
