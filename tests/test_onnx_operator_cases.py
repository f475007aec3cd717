"""ONNX's own operator test cases for LSTM, GRU and RNN, through lstmfast.onnx.load.

The onnx package defines them in onnx/backend/test/case/node/{lstm,gru,rnn}.py: each
``export_*`` builds a node and computes its expected outputs with ONNX's NumPy
implementation of the operator, and ``onnx.backend.test.case.node.collect_testcases``
runs them. A source checkout of onnx also has them generated under
onnx/backend/test/data/node/test_{lstm,gru,rnn,simple_rnn}_* (model.onnx and
test_data_set_0/{input,output}_*.pb); the wheel does not ship that directory, so the
fixture writes the same files from the cases (or uses the directory if present) and
every test reads only those files.

A case's weights (W, R, B, P) are graph inputs there; a model to load has them as
initializers, so each test moves them into the graph first (the only change), loads
the layer, feeds X, sequence_lens and the initial states, and compares every output
the node produces.

Tolerance: the expected outputs are float32, computed by the NumPy helpers in float32;
ours are the float32 kernels, whose activations are accurate to 2.5e-7 absolute
(tests/test_activations.py), over at most 3 steps with outputs of size at most 1
(tanh, sigmoid): ATOL = 1e-6, a few such errors (~8 ulps of 1); measured at most
1.8e-7 over every case and output.
"""

from __future__ import annotations

import os
import pathlib
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

from lstmfast.integrations import onnx as lonnx  # noqa: E402

ATOL = 1e-6
OPS = ("LSTM", "GRU", "RNN")
INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
WEIGHTS = ("W", "R", "B", "P")
# Every case the onnx package defines for the three operators (1.14 to 1.23 define
# these eighteen); the test fails if one is missing, rather than passing on fewer.
EXPECTED = {
    "test_lstm_defaults",
    "test_lstm_with_initial_bias",
    "test_lstm_with_peepholes",
    "test_lstm_batchwise",
    "test_lstm_reverse",
    "test_lstm_bidirectional",
    "test_gru_defaults",
    "test_gru_with_initial_bias",
    "test_gru_seq_length",
    "test_gru_batchwise",
    "test_gru_reverse",
    "test_gru_bidirectional",
    "test_simple_rnn_defaults",
    "test_simple_rnn_with_initial_bias",
    "test_rnn_seq_length",
    "test_simple_rnn_batchwise",
    "test_simple_rnn_reverse",
    "test_simple_rnn_bidirectional",
}


def _write_cases(target: pathlib.Path) -> None:
    """The node cases of the three operators in onnx's data layout (what its
    ``backend-test-tools generate-data`` writes for every operator)."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():  # other operators' cases warn (overflow in casts) while they are built
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    for case in cases:
        if case.model is None or not any(node.op_type in OPS for node in case.model.graph.node):
            continue
        folder = target / case.name
        (folder / "test_data_set_0").mkdir(parents=True)
        (folder / "model.onnx").write_bytes(case.model.SerializeToString())
        inputs, outputs = case.data_sets[0]
        graph = case.model.graph
        for kind, values, infos in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            for j, (value, info) in enumerate(zip(values, infos)):
                tensor = numpy_helper.from_array(np.asarray(value), info.name)
                (folder / "test_data_set_0" / f"{kind}_{j}.pb").write_bytes(tensor.SerializeToString())


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, pathlib.Path]:
    shipped = pathlib.Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data" / "node"
    root = shipped
    if not (shipped / "test_lstm_defaults").is_dir():
        root = tmp_path_factory.mktemp("onnx_node_cases")
        _write_cases(root)
    prefixes = ("test_lstm", "test_gru", "test_rnn", "test_simple_rnn")
    return {p.name: p for p in root.iterdir() if p.is_dir() and p.name.startswith(prefixes)}


def test_every_case_is_there(cases):
    assert set(cases) >= EXPECTED, f"missing: {sorted(EXPECTED - set(cases))}"


def read(folder: pathlib.Path, kind: str) -> list[np.ndarray]:
    files = sorted((folder / "test_data_set_0").glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
    return [numpy_helper.to_array(onnx.load_tensor(str(f))) for f in files]


def frozen_model(folder: pathlib.Path, tmp_path: pathlib.Path) -> tuple[onnx.NodeProto, dict[str, np.ndarray]]:
    """The case's model with its weights as initializers, saved to tmp_path; the node
    and the values of its remaining inputs, by the operator's input names."""
    model = onnx.load(str(folder / "model.onnx"))
    (node,) = model.graph.node
    values = dict(zip((i.name for i in model.graph.input), read(folder, "input")))
    by_role = {role: name for role, name in zip(INPUTS, node.input) if name}
    for role in WEIGHTS:
        if role in by_role:
            model.graph.initializer.append(numpy_helper.from_array(values[by_role[role]], by_role[role]))
    kept = [i for i in model.graph.input if i.name not in {by_role.get(r) for r in WEIGHTS}]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    onnx.save(model, str(tmp_path / "model.onnx"))
    return node, {role: values[name] for role, name in by_role.items() if role not in WEIGHTS}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_onnx_operator_case(cases, tmp_path, name):
    check_case(cases[name], tmp_path, name)


def test_cases_of_a_newer_onnx_pass_too(cases, tmp_path):
    """A case a later onnx adds (none in 1.14 to 1.23) runs the same way rather than
    being left out: it passes, or this fails and names it."""
    for name in sorted(set(cases) - EXPECTED):
        (tmp_path / name).mkdir()
        check_case(cases[name], tmp_path / name, name)


def check_case(folder: pathlib.Path, tmp_path: pathlib.Path, name: str) -> None:
    node, feeds = frozen_model(folder, tmp_path)
    (layer,) = lonnx.load(tmp_path / "model.onnx")
    batchwise = layer.batch_first  # layout=1: X (B, T, I), Y (B, T, D, H), states (B, D, H)
    state_parts = [feeds[k] for k in ("initial_h", "initial_c") if k in feeds]
    if batchwise:
        state_parts = [s.swapaxes(0, 1) for s in state_parts]
    state = None
    if state_parts:
        state = tuple(state_parts) if len(layer.cell.states) > 1 else state_parts[0]
        if len(state_parts) < len(layer.cell.states):  # initial_c left out: zeros
            state = (state_parts[0], np.zeros_like(state_parts[0]))
    y, final = layer(feeds["X"], state, lengths=feeds.get("sequence_lens"))
    finals = final if isinstance(final, tuple) else (final,)
    D, H = layer.directions, layer.hidden_size
    if batchwise:  # (B, T, D*H) -> (B, T, D, H); states (D, B, H) -> (B, D, H)
        ours = {"Y": y.reshape(*y.shape[:2], D, H), **{k: s.swapaxes(0, 1) for k, s in zip(("Y_h", "Y_c"), finals)}}
    else:  # (T, B, D*H) -> (T, D, B, H)
        ours = {"Y": y.reshape(*y.shape[:2], D, H).transpose(0, 2, 1, 3), **dict(zip(("Y_h", "Y_c"), finals))}
    produced = [role for role, out in zip(("Y", "Y_h", "Y_c"), node.output) if out]
    expected = read(folder, "output")
    assert len(produced) == len(expected) >= 1
    for role, theirs in zip(produced, expected):
        assert ours[role].shape == theirs.shape, role
        assert ours[role].dtype == theirs.dtype, role
        np.testing.assert_allclose(ours[role], theirs, rtol=0, atol=ATOL, err_msg=f"{name}: {role}")
        assert np.abs(theirs).max() > 0.01  # a real signal
