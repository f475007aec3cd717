"""LSTM and RNN layers: construction, parameters, state dicts, a training step."""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast.training import losses


@pytest.mark.parametrize("cls", [lstmfast.LSTM, lstmfast.RNN])
def test_initialisation_like_pytorch(cls):
    layer = cls(7, 50, seed=0)
    gates = 4 if cls is lstmfast.LSTM else 1
    sd = layer.state_dict()
    assert list(sd) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert sd["weight_ih_l0"].shape == (gates * 50, 7) and sd["weight_hh_l0"].shape == (gates * 50, 50)
    k = 1 / np.sqrt(50)
    for p in sd.values():
        assert p.dtype == np.float32
        assert np.abs(p).max() <= k
        assert np.abs(p).max() > 0.9 * k  # spans the interval, not a narrower one
    np.testing.assert_array_equal(cls(7, 50, seed=0).state_dict()["weight_hh_l0"], sd["weight_hh_l0"])
    assert not np.array_equal(cls(7, 50, seed=1).state_dict()["weight_hh_l0"], sd["weight_hh_l0"])
    assert list(cls(7, 5, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("cls", [lstmfast.LSTM, lstmfast.RNN])
@pytest.mark.parametrize(
    "kwargs,exc,message",
    [
        ({"input_size": 0}, ValueError, "input_size: expected a positive int, got 0"),
        ({"hidden_size": -3}, ValueError, "hidden_size: expected a positive int, got -3"),
        ({"hidden_size": 2.5}, TypeError, "hidden_size: expected a positive int, got float 2.5"),
        ({"input_size": True}, TypeError, "input_size: expected a positive int, got bool"),
        ({"hidden_size": "8"}, TypeError, "hidden_size: expected a positive int, got str"),
        ({"hidden_size": 10**6}, ValueError, "sizes this large are not supported"),
        ({"dtype": np.int32}, TypeError, "dtype: expected float32 or float64, got int32"),
        ({"dtype": "float16"}, TypeError, "dtype: expected float32 or float64, got float16"),
        ({"bias": "yes"}, TypeError, "bias: expected a bool, got str"),
    ],
)
def test_bad_layer_arguments(cls, kwargs, exc, message):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises(exc, match=message):
        cls(**args)


def test_rnn_nonlinearity_is_checked():
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        lstmfast.RNN(3, 4, nonlinearity="sigmoid")
    assert "relu" in repr(lstmfast.RNN(3, 4, nonlinearity="relu"))


def test_load_state_dict_checks_and_copies():
    layer = lstmfast.LSTM(3, 4, dtype=np.float64)
    sd = lstmfast.LSTM(3, 4, seed=5).state_dict()  # float32: converted to the layer's dtype
    layer.load_state_dict(sd)
    assert layer.state_dict()["weight_hh_l0"].dtype == np.float64
    sd["weight_hh_l0"][...] = 7  # the layer holds its own copy
    assert not np.any(layer.state_dict()["weight_hh_l0"] == 7)
    with pytest.raises(KeyError, match=r"missing keys \['bias_hh_l0'\]"):
        layer.load_state_dict({k: v for k, v in sd.items() if k != "bias_hh_l0"})
    with pytest.raises(KeyError, match=r"unexpected keys \['weight_ih_l1'\]"):
        layer.load_state_dict({**sd, "weight_ih_l1": sd["weight_ih_l0"]})
    with pytest.raises(ValueError, match=r"weight_ih_l0: expected shape \(16, 3\), got \(16, 2\)"):
        layer.load_state_dict({**sd, "weight_ih_l0": np.zeros((16, 2))})
    with pytest.raises(TypeError, match="state_dict: expected a mapping"):
        layer.load_state_dict([1, 2])


def test_inference_and_training_calls_agree():
    layer = lstmfast.LSTM(3, 5, seed=0)
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    y, (h, c) = layer(x)
    y2, (h2, c2), tape = layer.forward(x)
    np.testing.assert_array_equal(y, y2)
    grads = layer.backward(tape, np.ones_like(y))
    assert set(grads) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "x", "h0", "c0"}
    with pytest.raises(TypeError, match="state: expected None or a pair"):
        layer(x, state=h)
    rnn = lstmfast.RNN(3, 5, seed=0)
    y, h = rnn(x)
    assert y.shape == (6, 2, 5) and h.shape == (1, 2, 5)  # (num_layers * directions, B, H), like PyTorch
    assert set(rnn.backward(rnn.forward(x)[2], y)) == {
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "x",
        "h0",
    }


def test_sgd_on_the_loss_summed_over_time_goes_down():
    """A full training step through the fast path: LSTM layer -> per-step dense
    head -> BCE summed over time -> BPTT -> SGD, 30 steps, float64. Task: at
    every step, has a 1 appeared in the input so far (it needs memory).

    The same loop on the NumPy reference must trace the same loss curve (to
    1e-9 relative: the two differ only in summation order, and 30 SGD steps
    amplify that little), and the loss must fall below 80% of its start
    (measured 0.46; a broken gradient leaves it near 1 or diverges).
    """
    from lstmfast import reference as ref

    T, B, H = 12, 32, 8
    rng = np.random.default_rng(0)
    x = (rng.random((T, B, 1)) < 0.3).astype(np.float64)
    y = (np.cumsum(x, axis=0) > 0).astype(np.float64)
    layer = lstmfast.LSTM(1, H, dtype=np.float64, seed=0)
    head = {"w": rng.uniform(-0.3, 0.3, (1, H)), "b": np.zeros(1)}
    ref_params = {**layer.state_dict(), **{k: v.copy() for k, v in head.items()}}
    lr = 0.3 / B

    def step_fast():
        a, _, tape = layer.forward(x)
        loss, dlogits = losses.sigmoid_bce_with_logits(losses.dense_forward(a, head["w"], head["b"]), y)
        da, dw, db = losses.dense_backward(a, head["w"], dlogits)
        grads = layer.backward(tape, da)
        for name, p in layer.parameters().items():
            p -= lr * grads[name]
        head["w"] -= lr * dw
        head["b"] -= lr * db
        return loss

    def step_ref():
        p = ref_params
        a, _, _, tape = ref.lstm_forward(
            x, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"], training=True
        )
        loss, dlogits = losses.sigmoid_bce_with_logits(losses.dense_forward(a, p["w"], p["b"]), y)
        da, dw, db = losses.dense_backward(a, p["w"], dlogits)
        g = ref.lstm_backward(tape, da)
        for name, key in (
            ("weight_ih_l0", "w_ih"),
            ("weight_hh_l0", "w_hh"),
            ("bias_ih_l0", "b_ih"),
            ("bias_hh_l0", "b_hh"),
        ):
            p[name] -= lr * g[key]
        p["w"] -= lr * dw
        p["b"] -= lr * db
        return loss

    fast = [step_fast() for _ in range(30)]
    slow = [step_ref() for _ in range(30)]
    np.testing.assert_allclose(fast, slow, rtol=1e-9)
    assert fast[-1] < 0.8 * fast[0]


@pytest.mark.parametrize("cls, bidirectional", [(lstmfast.LSTM, False), (lstmfast.GRU, True)])
def test_stack_backward_without_the_input_gradient(cls, bidirectional):
    # What SequenceModel asks for: the stack's dL/dx neither computed nor returned,
    # every weight and initial-state gradient the same bits.
    from lstmfast.layers import stack_backward, stack_forward

    layer = cls(5, 12, num_layers=2, bidirectional=bidirectional, seed=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 4, 5)).astype(np.float32)
    y, _, tape = stack_forward(layer.levels(), x, training=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    full = stack_backward(layer.levels(), tape, dy)
    lean = stack_backward(layer.levels(), tape, dy, input_gradient=False)
    assert full.x is not None and full.x.shape == x.shape and lean.x is None
    for a, b in zip(full.outputs, lean.outputs):
        np.testing.assert_array_equal(a, b)
    for level_a, level_b in zip(full.weights, lean.weights):
        for direction_a, direction_b in zip(level_a, level_b):
            assert direction_a.keys() == direction_b.keys()
            for key in direction_a:
                np.testing.assert_array_equal(direction_a[key], direction_b[key], err_msg=key)
    for level_a, level_b in zip(full.initial, lean.initial):
        for state_a, state_b in zip(level_a, level_b):
            for a, b in zip(state_a, state_b):
                np.testing.assert_array_equal(a, b)
