"""Layers, cells and converters with ONNX's options: LSTM(peepholes, input_forget,
clip), GRU(reset_after=False, clip), RNN(clip), sequences of length 0.

The layers call the functional kernels, so their numbers are checked against the
NumPy reference on the same weights: float32 layers against the float64 reference,
2e-5 relative to the largest magnitude (tests/test_core.py's float32 tolerance).
"""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

import lstmfast
from lstmfast import convert
from lstmfast import reference as ref
from lstmfast.layers import parameter_names
from lstmfast.training import SequenceModel
from test_core import RTOL, rel_err

T, B, I, H = 6, 4, 3, 5


def x_of(seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((T, B, I)).astype(dtype)


def test_peepholes_are_parameters_with_names_and_gradients():
    layer = lstmfast.LSTM(I, H, peepholes=True, num_layers=2, bidirectional=True, seed=0)
    names = [n for n in layer.parameters() if n.startswith("peepholes")]
    assert names == ["peepholes_l0", "peepholes_l0_reverse", "peepholes_l1", "peepholes_l1_reverse"]
    assert all(layer.parameters()[n].shape == (3 * H,) for n in names)
    assert set(layer.state_dict()) == set(layer.parameters())
    y, _, tape = layer.forward(x_of(), training=True)
    grads = layer.backward(tape, np.ones_like(y))
    assert set(names) <= set(grads) and all(grads[n].shape == (3 * H,) and np.any(grads[n]) for n in names)


@pytest.mark.parametrize(
    "cls, options",
    [
        (lstmfast.LSTM, {"peepholes": True, "input_forget": True, "clip": 0.7}),
        (lstmfast.LSTM, {"peepholes": True}),
        (lstmfast.GRU, {"reset_after": False, "clip": 0.9}),
        (lstmfast.RNN, {"clip": 0.5}),
    ],
)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_layer_equals_the_reference_forward_and_backward(cls, options, go_backwards):
    layer = cls(I, H, seed=3, go_backwards=go_backwards, **options)
    cell = layer.cell
    p = {k: v.astype(np.float64) for k, v in layer.parameters().items()}
    names = parameter_names(0)
    kw = {name: getattr(layer, name) for name in cell.options if name != "peepholes"}
    if layer.peepholes:
        kw["peepholes"] = p[names["peepholes"]]
    weights = [p.get(names[k]) for k in ("w_ih", "w_hh", "b_ih", "b_hh")]
    x, lengths = x_of(1), np.array([6, 0, 3, 1])
    y, _, tape = layer.forward(x, training=True, lengths=lengths)
    forward = getattr(ref, cell.name + "_forward")
    rout = forward(x.astype(np.float64), *weights, lengths=lengths, reverse=go_backwards, training=True, **kw)
    assert rel_err(y, rout[0]) <= RTOL[np.float32]
    dy = np.random.default_rng(4).standard_normal(y.shape)
    grads = layer.backward(tape, dy.astype(np.float32))
    rgrads = getattr(ref, cell.name + "_backward")(rout[-1], dy)
    for key, name in names.items():
        if name in grads:
            assert rel_err(grads[name], rgrads[key]) <= RTOL[np.float32], name


@pytest.mark.parametrize(
    "cls, kwargs, error, message",
    [
        (lstmfast.GRU, {"peepholes": True}, ValueError, "peepholes: only for the LSTM (the GRU has no cell state"),
        (lstmfast.RNN, {"input_forget": True}, ValueError, "input_forget: only for the LSTM, not the RNN, got True"),
        (lstmfast.LSTM, {"reset_after": False}, ValueError, "reset_after: only for the GRU, not the LSTM, got False"),
        (lstmfast.LSTM, {"clip": -1.0}, ValueError, "clip: expected None or a finite number > 0, got -1.0"),
        (lstmfast.GRU, {"clip": float("inf")}, ValueError, "clip: expected None or a finite number > 0, got inf"),
        (lstmfast.RNN, {"clip": "big"}, TypeError, "clip: expected None or a number > 0, got str 'big'"),
        (lstmfast.LSTM, {"peepholes": 1}, TypeError, "peepholes: expected a bool, got int 1"),
        (lstmfast.GRU, {"reset_after": 0}, TypeError, "reset_after: expected a bool, got int 0"),
    ],
)
def test_layers_refuse_options_they_do_not_have(cls, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        cls(I, H, **kwargs)


def test_options_show_in_repr_survive_pickling_and_stepping():
    layer = lstmfast.LSTM(I, H, seed=2, peepholes=True, input_forget=True, clip=1.5)
    assert repr(layer) == f"LSTM({I}, {H}, peepholes=True, input_forget=True, clip=1.5, dtype=float32)"
    assert repr(lstmfast.GRU(I, H, reset_after=False)) == f"GRU({I}, {H}, reset_after=False, dtype=float32)"
    again = pickle.loads(pickle.dumps(layer))
    x = x_of(2)
    np.testing.assert_array_equal(again(x)[0], layer(x)[0])
    state = None
    for t in range(T):  # one step at a time: the same numbers as the whole sequence
        y_t, state = layer.step(x[t], state)
        np.testing.assert_allclose(y_t, layer(x[: t + 1])[0][t], rtol=0, atol=1e-6)
    cell = lstmfast.GRUCell(I, H, seed=1, reset_after=False, clip=0.5)
    gru = lstmfast.GRU(I, H, seed=1, reset_after=False, clip=0.5)
    np.testing.assert_array_equal(cell(x[0]), gru(x[:1])[0][0])


def test_layers_accept_sequences_of_length_zero_and_models_refuse_them():
    """The layers keep an empty sequence's initial state; a SequenceModel needs a last
    step (output="last") or a step to score, so it refuses length 0, naming it."""
    layer = lstmfast.GRU(I, H, seed=0)
    h0 = np.random.default_rng(1).standard_normal((1, B, H)).astype(np.float32)
    y, h_n = layer(x_of(), h0, lengths=[0, 6, 2, 0])
    assert not y[:, [0, 3]].any()
    np.testing.assert_array_equal(h_n[0, [0, 3]], h0[0, [0, 3]])
    model = SequenceModel(input_size=I, hidden_size=H, output="last")
    message = "lengths: every length must be in [1, T] = [1, 6], got 0 at index 1"
    with pytest.raises(ValueError, match=re.escape(message)):
        model.predict(x_of(), lengths=[6, 0, 2, 1])


# ----------------------------------------------------------------- converters


def keras_gru_reset_before(x, kernel, recurrent, bias):
    """Keras' GRU with reset_after=False, batch-major, blocks z, r, h, one bias (its
    GRUCell.call: x_z, x_r, x_h = x @ kernel + bias; hh = tanh(x_h + (r * h) @
    recurrent[:, 2H:]); h = z * h + (1 - z) * hh), written out for one example."""
    units = recurrent.shape[0]
    h = np.zeros(units)
    out = []
    for xt in x:
        xz, xr, xh = np.split(xt @ kernel + bias, 3)
        rz, rr = np.split(h @ recurrent[:, : 2 * units], 2)
        z, r = 1 / (1 + np.exp(-(xz + rz))), 1 / (1 + np.exp(-(xr + rr)))
        hh = np.tanh(xh + (r * h) @ recurrent[:, 2 * units :])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.array(out)


def test_keras_gru_reset_after_false_converts_both_ways():
    rng = np.random.default_rng(5)
    weights = [rng.standard_normal((I, 3 * H)), rng.standard_normal((H, 3 * H)), rng.standard_normal(3 * H)]
    params = convert.from_keras_gru(weights, reset_after=False)
    layer = lstmfast.GRU(I, H, dtype=np.float64, reset_after=False)
    layer.load_state_dict(params)
    x = rng.standard_normal((T, 1, I))
    # float64 both sides, the same sums in other orders
    np.testing.assert_allclose(layer(x)[0][:, 0], keras_gru_reset_before(x[:, 0], *weights), rtol=0, atol=1e-12)
    back = convert.to_keras_gru(params, reset_after=False)
    for theirs, ours in zip(weights, (back["kernel"], back["recurrent_kernel"], back["bias"])):
        np.testing.assert_array_equal(theirs, ours)
    with pytest.raises(ValueError, match=re.escape("bias: shape (15,) is that of a Keras GRU with reset_after=False")):
        convert.from_keras_gru(weights)
    with pytest.raises(ValueError, match=re.escape("bias: shape (2, 15) is that of a Keras GRU with reset_after=True")):
        convert.from_keras_gru([*weights[:2], np.zeros((2, 3 * H))], reset_after=False)


def test_onnx_peepholes_convert_both_ways_in_onnx_order():
    rng = np.random.default_rng(6)
    params = {
        **convert.from_onnx(rng.standard_normal((1, 4 * H, I)), rng.standard_normal((1, 4 * H, H))),
        "peepholes": np.arange(3.0 * H),
    }
    onnx_in = convert.to_onnx([params, params])
    assert onnx_in["P"].shape == (2, 3 * H)
    np.testing.assert_array_equal(
        onnx_in["P"][0], np.concatenate([np.arange(H), np.arange(2 * H, 3 * H), np.arange(H, 2 * H)])
    )  # i, o, f
    back = convert.from_onnx(onnx_in["W"], onnx_in["R"], onnx_in["B"], onnx_in["P"], direction=1)
    np.testing.assert_array_equal(back["peepholes"], params["peepholes"])
    with pytest.raises(ValueError, match=re.escape("P: expected shape (D, 3*H) = (2, 15), got (2, 12)")):
        convert.from_onnx(onnx_in["W"], onnx_in["R"], None, np.zeros((2, 12)))


def test_conventions_without_peepholes_refuse_them():
    layer = lstmfast.LSTM(I, H, peepholes=True)
    params = {k: layer.parameters()[v] for k, v in parameter_names(0).items()}
    for convert_to in (convert.to_torch_state_dict, convert.to_keras, convert.to_course_lstm):
        with pytest.raises(ValueError, match="params: has peepholes, which this convention does not have"):
            convert_to(params)
    with pytest.raises(ValueError, match="peepholes: only an LSTM has them, not a GRU"):
        convert.to_onnx({**convert.from_onnx(np.zeros((1, 6, 2)), np.zeros((1, 6, 2))), "peepholes": np.zeros(6)})
