"""lstmfast.onnx with ONNX's options: peepholes (P), clip, input_forget,
linear_before_reset and layout, both ways, against ONNX Runtime (float32 only) and
ONNX's reference evaluator (for layout 1, which ONNX Runtime's CPU kernels refuse).

Tolerance: outputs bounded by 1, two layers of six steps, float32 on both sides. The
layers here have weights up to 1 in magnitude (so that clips and peepholes matter), and
through the recurrence each side's rounding grows to ~1e-6 of float64's result (measured:
lstmfast up to 9.9e-7 on the portable path's bidirectional RNN, ONNX's evaluator 4e-7),
so two float32 implementations may differ by the sum: ATOL = 2e-6 (~17 ulps of 1),
against ~1e-3 and more for a wrong option (test_options_export_runs_the_same_in_onnxruntime).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import lstmfast  # noqa: E402
from lstmfast.integrations import onnx as lonnx  # noqa: E402
from test_onnx_io import LENGTHS, B, I, T, inputs, node_model, run  # noqa: E402

ATOL = 2e-6

EMPTY_LENGTHS = np.array([6, 0, 5, 1])  # a sequence of length 0: ONNX allows it
LAYER_OPTIONS = [
    (lstmfast.LSTM, {"peepholes": True}),
    (lstmfast.LSTM, {"input_forget": True}),
    (lstmfast.LSTM, {"clip": 0.6}),
    (lstmfast.LSTM, {"peepholes": True, "input_forget": True, "clip": 0.8}),
    (lstmfast.GRU, {"reset_after": False}),
    (lstmfast.GRU, {"clip": 0.5}),
    (lstmfast.GRU, {"reset_after": False, "clip": 0.7}),
    (lstmfast.RNN, {"clip": 0.4}),
]
IDS = [f"{cls.__name__}-{'+'.join(options)}" for cls, options in LAYER_OPTIONS]


def make(cls, options, seed=1, **kwargs):
    """A layer whose weights are large enough that the clips and peepholes matter."""
    layer = cls(I, 5, seed=seed, **options, **kwargs)
    rng = np.random.default_rng(seed)
    layer.load_state_dict({k: rng.uniform(-1, 1, v.shape) for k, v in layer.state_dict().items()})
    return layer


@pytest.mark.parametrize("cls, options", LAYER_OPTIONS, ids=IDS)
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_options_export_runs_the_same_in_onnxruntime(tmp_path, cls, options, direction, with_lengths):
    layer = make(
        cls, options, num_layers=2, bidirectional=direction == "bidirectional", go_backwards=direction == "reverse"
    )
    x = inputs(False)
    # ONNX Runtime's RNN reads outside its output for a forward sequence of length 0
    # (its final state comes from step lengths[b] - 1); the LSTM and GRU return zeros,
    # which is the initial state here.
    lengths = (LENGTHS if cls is lstmfast.RNN else EMPTY_LENGTHS) if with_lengths else None
    path = lonnx.export(layer, tmp_path / "layer.onnx", lengths=with_lengths)
    y, *states = run(path, x, lengths)
    ours_y, ours_h = layer(x, lengths=lengths)
    np.testing.assert_allclose(y, ours_y, rtol=0, atol=ATOL)
    for theirs, ours in zip(states, ours_h if isinstance(ours_h, tuple) else (ours_h,)):
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=ATOL)
    plain = make(
        cls, {}, seed=1, num_layers=2, bidirectional=direction == "bidirectional", go_backwards=direction == "reverse"
    )
    assert np.abs(plain(x, lengths=lengths)[0] - ours_y).max() > 1e-3  # the options mattered


@pytest.mark.parametrize("cls, options", LAYER_OPTIONS, ids=IDS)
def test_export_then_load_keeps_the_options(tmp_path, cls, options):
    layer = make(cls, options, bidirectional=True)
    (loaded,) = lonnx.load(lonnx.export(layer, tmp_path / "layer.onnx"))
    for name in ("peepholes", "input_forget", "reset_after"):
        assert getattr(loaded, name) == getattr(layer, name), name
    assert np.float32(loaded.clip or 0) == np.float32(layer.clip or 0)  # ONNX's clip is a float32 attribute
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value, err_msg=name)
    x = inputs(False)
    np.testing.assert_array_equal(loaded(x)[0], layer(x)[0])


@pytest.mark.parametrize(
    "op, gates, attributes, extra",
    [
        ("LSTM", 4, {"clip": 0.5}, {}),
        ("LSTM", 4, {"input_forget": 1, "direction": "reverse"}, {}),
        ("LSTM", 4, {}, {"P": np.linspace(-2, 2, 6).reshape(1, 6)}),
        ("LSTM", 4, {"direction": "bidirectional", "clip": 1.5}, {"P": np.linspace(-1, 1, 12).reshape(2, 6)}),
        ("GRU", 3, {}, {}),  # linear_before_reset=0, ONNX's default
        ("GRU", 3, {"linear_before_reset": 0, "clip": 0.3, "direction": "bidirectional"}, {}),
        ("GRU", 3, {"linear_before_reset": 1}, {}),
        ("RNN", 1, {"clip": 0.2, "activations": ["Relu"]}, {}),
    ],
)
def test_load_computes_what_onnxruntime_computes(tmp_path, op, gates, attributes, extra):
    """Nodes written by hand (not by export), loaded and run both ways."""
    names = ["x", "W", "R", "B"] + (["", "", "", "P"] if "P" in extra else [])
    path = node_model(tmp_path, op, gates, inputs_=names, extra=extra, **attributes)
    (layer,) = lonnx.load(path)
    x = inputs(False)
    (y,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    D = layer.directions
    ours = layer(x)[0].reshape(T, B, D, 2).transpose(0, 2, 1, 3)  # ONNX's Y is (T, D, B, H)
    np.testing.assert_allclose(y, ours, rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    "cls, options",
    [
        (lstmfast.LSTM, {"peepholes": True}),
        (lstmfast.GRU, {"reset_after": False}),
        (lstmfast.GRU, {}),
        (lstmfast.RNN, {}),
    ],
)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layout_1_export(tmp_path, cls, options, batch_first, bidirectional):
    """Nodes with layout=1, which ONNX's reference evaluator runs (ONNX Runtime's CPU
    kernels refuse it); the graph's inputs and outputs are the layer's either way. The
    evaluator computes in float32 with NumPy's exp and tanh: ATOL as above (the case
    that needed it: the portable path's bidirectional RNN, 1.2e-6)."""
    from onnx.reference import ReferenceEvaluator

    layer = make(cls, options, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    path = lonnx.export(layer, tmp_path / "layer.onnx", layout=1, initial_states=True)
    model = onnx.load(str(path))
    assert {
        a.i for n in model.graph.node if n.op_type in ("LSTM", "GRU", "RNN") for a in n.attribute if a.name == "layout"
    } == {1}
    x = inputs(batch_first)
    rng = np.random.default_rng(2)
    state = tuple(rng.uniform(-1, 1, (2 * layer.directions, B, 5)).astype(np.float32) for _ in layer.cell.states)
    feeds = {"x": x, **dict(zip(("h0", "c0"), state))}
    theirs = ReferenceEvaluator(model).run(None, feeds)
    ours_y, ours_h = layer(x, state if len(state) > 1 else state[0])
    for a, b in zip(theirs, (ours_y, *(ours_h if isinstance(ours_h, tuple) else (ours_h,)))):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)
    (loaded, _) = lonnx.load(path)
    assert loaded.batch_first


def test_export_refuses_other_layouts(tmp_path):
    with pytest.raises(ValueError, match=re.escape("layout: expected 0 (time-major) or 1 (batch-major), got 2")):
        lonnx.export(lstmfast.LSTM(I, 2), tmp_path / "x.onnx", layout=2)
