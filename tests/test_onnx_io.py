"""lstmfast.onnx: export to a graph ONNX Runtime runs, and load layers from ONNX models.

ONNX Runtime is the oracle here: an independent implementation of the ONNX LSTM,
GRU and RNN operators. Its CPU kernels run float32 only, so every comparison is in
float32: outputs are bounded by 1 (tanh, sigmoid, softmax), two layers of six steps
with at most 15 products per dot product, and the two libraries sum in different
orders, so a few float32 ulps of 1 (eps = 1.2e-7) per step accumulate:
ATOL = 1e-6 (~8 eps; measured at most 1.8e-7).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import lstmfast  # noqa: E402
from lstmfast.integrations import onnx as lonnx  # noqa: E402
from lstmfast.training import SequenceModel  # noqa: E402

ATOL = 1e-6
LAYERS = {"lstm": lstmfast.LSTM, "gru": lstmfast.GRU, "rnn": lstmfast.RNN}
T, B, I = 6, 4, 3
LENGTHS = np.array([6, 2, 5, 1])


def run(path, x, lengths=None):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"x": x} if lengths is None else {"x": x, "lengths": lengths.astype(np.int32)}
    return session.run(None, feeds)


def inputs(batch_first, seed=0):
    shape = (B, T, I) if batch_first else (T, B, I)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("cell", sorted(LAYERS))
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_layer_export_runs_the_same_in_onnxruntime(tmp_path, cell, direction, batch_first, with_lengths):
    kwargs = {"nonlinearity": "relu"} if cell == "rnn" and direction == "reverse" else {}
    layer = LAYERS[cell](
        I,
        5,
        num_layers=2,
        bidirectional=direction == "bidirectional",
        go_backwards=direction == "reverse",
        batch_first=batch_first,
        seed=1,
        **kwargs,
    )
    x = inputs(batch_first)
    lengths = LENGTHS if with_lengths else None
    path = lonnx.export(layer, tmp_path / "layer.onnx", lengths=with_lengths)
    y, *states = run(path, x, lengths)
    ours_y, ours_h = layer(x, lengths=lengths)
    ours_states = ours_h if isinstance(ours_h, tuple) else (ours_h,)
    assert y.shape == ours_y.shape and len(states) == len(ours_states)
    np.testing.assert_allclose(y, ours_y, rtol=0, atol=ATOL)
    for theirs, ours in zip(states, ours_states):
        assert theirs.shape == ours.shape
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=ATOL)
    assert np.abs(ours_y).max() > 0.05  # a real signal, not zeros matching zeros


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_initial_states_are_inputs_when_asked(tmp_path, cell):
    layer = LAYERS[cell](I, 5, num_layers=2, bidirectional=True, seed=5)
    rng = np.random.default_rng(6)
    state = tuple(rng.uniform(-1, 1, (4, B, 5)).astype(np.float32) for _ in layer.cell.states)
    session = ort.InferenceSession(str(lonnx.export(layer, tmp_path / "layer.onnx", initial_states=True)))
    x = inputs(False)
    theirs = session.run(None, {"x": x, **dict(zip(("h0", "c0"), state))})
    y, final = layer(x, state if cell == "lstm" else state[0])
    for a, b in zip(theirs, (y, *(final if cell == "lstm" else (final,)))):
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)
    assert not np.allclose(theirs[0], run(lonnx.export(layer, tmp_path / "zeros.onnx"), x)[0], atol=1e-3)


@pytest.mark.parametrize("task, output_size", [("binary", 1), ("multiclass", 3), ("regression", 2)])
@pytest.mark.parametrize("output", ["per_step", "last"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_model_export_predicts_the_same(tmp_path, task, output_size, output, batch_first, with_lengths, bidirectional):
    model = SequenceModel(
        input_size=I,
        hidden_size=[5, 4],
        output_size=output_size,
        cell="lstm",
        task=task,
        output=output,
        batch_first=batch_first,
        bidirectional=bidirectional,
        seed=0,
    )
    x = inputs(batch_first, seed=2)
    lengths = LENGTHS if with_lengths else None
    (predictions,) = run(lonnx.export(model, tmp_path / "model.onnx", lengths=with_lengths), x, lengths)
    ours = model.predict(x, lengths=lengths)
    assert predictions.shape == ours.shape
    np.testing.assert_allclose(predictions, ours, rtol=0, atol=ATOL)


def test_last_output_with_lengths_reads_each_sequences_own_last_step(tmp_path):
    """Changing only the padding must change nothing, in ONNX Runtime as in lstmfast."""
    model = SequenceModel(input_size=I, hidden_size=5, cell="gru", output="last", seed=0)
    path = lonnx.export(model, tmp_path / "model.onnx", lengths=True)
    x = inputs(False)
    padded = x.copy()
    for b, n in enumerate(LENGTHS):
        padded[n:, b] = 100.0
    (a,) = run(path, x, LENGTHS)
    (b_,) = run(path, padded, LENGTHS)
    np.testing.assert_array_equal(a, b_)
    np.testing.assert_allclose(a, model.predict(x, lengths=LENGTHS), rtol=0, atol=ATOL)


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_export_then_load_gives_back_the_same_layers(tmp_path, cell):
    """Weights travel bit for bit, so the loaded layers compute exactly what the original did."""
    layer = LAYERS[cell](I, 5, num_layers=2, bidirectional=True, bias=cell != "gru", seed=3)
    loaded = lonnx.load(lonnx.export(layer, tmp_path / "layer.onnx"))
    assert [type(part) for part in loaded] == [type(layer)] * 2
    assert [(part.input_size, part.bidirectional, part.bias) for part in loaded] == [
        (I, True, cell != "gru"),
        (10, True, cell != "gru"),
    ]
    params = layer.parameters()
    for k, part in enumerate(loaded):
        for name, value in part.parameters().items():
            np.testing.assert_array_equal(value, params[name.replace("_l0", f"_l{k}")])
    y = inputs(False)
    for part in loaded:
        y, _ = part(y)
    np.testing.assert_array_equal(y, layer(inputs(False))[0])


def test_loaded_rnn_keeps_its_nonlinearity(tmp_path):
    layer = lstmfast.RNN(I, 5, nonlinearity="relu", go_backwards=True, seed=4)
    (loaded,) = lonnx.load(lonnx.export(layer, tmp_path / "rnn.onnx"))
    assert loaded.nonlinearity == "relu" and loaded.go_backwards
    np.testing.assert_array_equal(loaded(inputs(False))[0], layer(inputs(False))[0])


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_load_what_torch_onnx_export_writes(tmp_path, kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = getattr(torch.nn, kind)(I, 5, num_layers=2, bidirectional=True)
    x = torch.from_numpy(inputs(False))
    # the TorchScript exporter writes the LSTM/GRU/RNN operators (the newer one needs onnxscript)
    with warnings.catch_warnings():  # torch's exporter warns about itself (deprecation, tracing)
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(tmp_path / "torch.onnx"), dynamo=False)
    loaded = lonnx.load(tmp_path / "torch.onnx")
    assert len(loaded) == 2
    y = x.numpy()
    for part in loaded:
        y, _ = part(y)
    with torch.no_grad():
        expected = module(x)[0].numpy()
    np.testing.assert_allclose(y, expected, rtol=0, atol=ATOL)


# -- what load refuses --------------------------------------------------------------------


def node_model(tmp_path, op="LSTM", gates=4, inputs_=None, weights_as_inputs=False, extra=(), **attributes):
    """A one-node ONNX model with random weights (H = 2, I = 3)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    D = 2 if attributes.get("direction") == "bidirectional" else 1
    arrays = {
        "W": rng.standard_normal((D, gates * 2, I)),
        "R": rng.standard_normal((D, gates * 2, 2)),
        "B": rng.standard_normal((D, 2 * gates * 2)),
        **dict(extra),
    }
    initializers = (
        []
        if weights_as_inputs
        else [numpy_helper.from_array(value.astype(np.float32), name) for name, value in arrays.items()]
    )
    names = inputs_ or ["x", "W", "R", "B"]
    graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [T, B, I])]
    if weights_as_inputs:
        graph_inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(arrays[n].shape)) for n in "WRB"]
    graph = helper.make_graph(
        [helper.make_node(op, names, ["y"], name="the_node", hidden_size=2, **attributes)],
        "g",
        graph_inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializers,
    )
    path = tmp_path / "node.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path


@pytest.mark.parametrize(
    "op, gates, attributes, message",
    [
        ("LSTM", 4, {"clip": -1.0}, "attribute clip: expected None or a finite number > 0, got -1.0"),
        ("LSTM", 4, {"input_forget": 2}, "attribute input_forget=2 is not 0 or 1"),
        ("LSTM", 4, {"activations": ["Sigmoid", "Tanh", "Relu"]}, "activations ['Sigmoid', 'Tanh', 'Relu'] are not"),
        ("LSTM", 4, {"activation_beta": [0.5]}, "attribute activation_beta=[0.5] is not supported"),
        ("GRU", 3, {"linear_before_reset": 3}, "attribute linear_before_reset=3 is not 0 or 1"),
        ("GRU", 3, {"activations": ["HardSigmoid", "Tanh"]}, "activations ['HardSigmoid', 'Tanh'] are not supported"),
        ("RNN", 1, {"activations": ["Sigmoid"]}, "activations ['Sigmoid'] are not supported (Tanh or Relu"),
        ("RNN", 1, {"activations": ["Tanh", "Relu"], "direction": "bidirectional"}, "the same for both directions"),
        ("RNN", 1, {"activation_alpha": [0.5]}, "attribute activation_alpha=[0.5] is not supported"),
        ("LSTM", 4, {"direction": "sideways"}, "direction='sideways' is not forward, reverse or bidirectional"),
    ],
)
def test_load_refuses_what_the_kernels_do_not_compute(tmp_path, op, gates, attributes, message):
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        lonnx.load(node_model(tmp_path, op, gates, **attributes))
    assert f"{op} node 'the_node'" in str(info.value)


def test_load_refuses_computed_weights_and_constant_initial_states(tmp_path):
    with pytest.raises(ValueError, match="input W .'W'. is neither an initializer nor a Constant"):
        lonnx.load(node_model(tmp_path, weights_as_inputs=True))
    h0 = node_model(tmp_path, inputs_=["x", "W", "R", "B", "", "h0"], extra={"h0": np.full((1, B, 2), 0.5)})
    with pytest.raises(ValueError, match="input initial_h is a non-zero constant; pass it as the state when calling"):
        lonnx.load(h0)
    zeros = node_model(tmp_path, inputs_=["x", "W", "R", "B", "", "h0"], extra={"h0": np.zeros((1, B, 2))})
    (layer,) = lonnx.load(zeros)  # a zero initial state is what the layer starts from anyway
    assert isinstance(layer, lstmfast.LSTM) and layer.hidden_size == 2


def test_load_refuses_what_is_not_an_onnx_file(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff" * 100)
    with pytest.raises(ValueError, match="junk.onnx: not an ONNX model"):
        lonnx.load(junk)
    with pytest.raises(ValueError, match="is a directory, not an ONNX model"):
        lonnx.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        lonnx.load(tmp_path / "missing.onnx")


def test_load_refuses_weights_of_the_wrong_shape(tmp_path):
    wrong = node_model(tmp_path, extra={"R": np.zeros((1, 8, 3))})
    with pytest.raises(ValueError, match=r"R: expected shape \(D, 4\*H, H\)"):
        lonnx.load(wrong)


def test_export_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(
        TypeError, match="model_or_layer: expected an LSTM, GRU or RNN layer or a SequenceModel, got LSTMCell"
    ):
        lonnx.export(lstmfast.LSTMCell(I, 2), tmp_path / "cell.onnx")
    with pytest.raises(ValueError, match="initial_states: only for a layer"):
        lonnx.export(SequenceModel(input_size=I, hidden_size=2), tmp_path / "m.onnx", initial_states=True)


def test_float64_exports_a_valid_float64_graph(tmp_path):
    layer = lstmfast.GRU(I, 4, dtype=np.float64, seed=0)
    model = onnx.load(str(lonnx.export(layer, tmp_path / "f64.onnx")))
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    (loaded,) = lonnx.load(tmp_path / "f64.onnx")
    assert loaded.dtype == np.float64


def test_short_name():
    import lstmfast.onnx as short

    assert short.export is lonnx.export and short.load is lonnx.load
