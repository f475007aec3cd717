"""ONNX in and out: ``export`` writes a standard ONNX graph of a layer or a
``SequenceModel``; ``load`` builds lstmfast layers from the LSTM, GRU and RNN nodes
of an ONNX model.

The exported graph uses ONNX's own ``LSTM``, ``GRU`` and ``RNN`` operators, one node
per layer (both directions in one node), with a dynamic batch and time; a model adds
its head (``MatMul`` + ``Add``) and its output function (``Sigmoid``, ``Softmax`` or
none). ONNX Runtime computes the same numbers to float32 rounding (measured: at most
2e-7 absolute on outputs of size ~1, tests/test_onnx_io.py). A float64 model exports
as a valid float64 graph, but ONNX Runtime's CPU LSTM and GRU kernels run float32
only.

What the operators can say, both ways: peepholes (input ``P``, an LSTM built with
``peepholes=True``), ``clip``, ``input_forget`` (LSTM), ``linear_before_reset`` (GRU: 1
is ``reset_after=True``, PyTorch's; 0, ONNX's default, is ``reset_after=False``),
``layout`` (1 loads as ``batch_first=True``; export writes 0 unless asked, since ONNX
Runtime's CPU kernels run only layout 0), directions and sequence lengths (0 allowed:
such a sequence's outputs are 0 and its final state is its initial state, where ONNX
Runtime returns zeros; the two agree from a zero initial state, the default). What
stays refused, with a ValueError naming the node and the attribute: activations
other than the defaults (an RNN may choose Tanh or Relu), ``activation_alpha`` and
``activation_beta``.

Needs ``pip install "lstmfast[onnx]"`` (onnx; onnxruntime to run what you export);
also reachable as ``lstmfast.onnx``.
"""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import _checks, cells, convert
from ..layers import GRU, LSTM, RNN, _Recurrent, parameter_names

if TYPE_CHECKING:
    from ..training import SequenceModel

__all__ = ["export", "load"]

OPSET = 14  # the LSTM/GRU/RNN operators' ``layout`` attribute is from opset 14
_OPS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
_CELLS = {op: name for name, op in _OPS.items()}
_LAYERS: dict[str, type[_Recurrent]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
_ELEMENT = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}
_DEFAULT_ACTIVATIONS = {"lstm": ["sigmoid", "tanh", "tanh"], "gru": ["sigmoid", "tanh"]}
_INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")  # a node's inputs, by position
Shape = list[Union[str, int]]  # a tensor's shape in the graph: named (dynamic) or fixed sizes


class _Graph:
    """The nodes and initializers of the graph being built, with fresh names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, stem: str, value: Any) -> str:
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.array(value, order="C"), name))  # 0-d stays 0-d
        return name

    def node(self, op: str, inputs: list[str], outputs: int = 1, **attributes: Any) -> list[str]:
        names = [self.name(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, **attributes))
        return names

    def first(self, op: str, inputs: list[str], **attributes: Any) -> str:
        return self.node(op, inputs, **attributes)[0]

    def rows(self, name: str, start: int, end: int) -> str:
        """``name[start:end]`` along the first axis."""
        ends = [self.constant("start", np.array([start], np.int64)), self.constant("end", np.array([end], np.int64))]
        return self.first("Slice", [name, *ends])


def _recurrent(
    g: _Graph, layer: _Recurrent, x: str, lengths: str, initial: list[str], layout: int
) -> tuple[str, list[str]]:
    """The layer's nodes reading x ((T, B, I); with ``layout`` 1 (B, T, I)) from the
    initial states ``initial`` (the names of h0 (, c0), (L*D, B, H); none: zeros):
    returns y ((T, B, D*H); layout 1: (B, T, D*H)) and the names of its final states
    [h (L*D, B, H)(, c)]."""
    cell, D = layer.cell, layer.directions
    params = layer.parameters()
    keys = ("w_ih", "w_hh", "b_ih", "b_hh", "peepholes") if layer.peepholes else ("w_ih", "w_hh", "b_ih", "b_hh")
    finals: list[list[str]] = [[] for _ in cell.states]
    for k in range(layer.num_layers):
        names = [parameter_names(k, bool(d)) for d in range(D)]
        w = convert.to_onnx([{key: params.get(n[key]) for key in keys} for n in names], cell=cell.name)
        starts = initial if layer.num_layers == 1 else [g.rows(name, k * D, k * D + D) for name in initial]
        if layout == 1:  # initial_h is (B, D, H) there
            starts = [g.first("Transpose", [name], perm=[1, 0, 2]) for name in starts]
        inputs = [x, *(g.constant(key, w[key]) if w[key] is not None else "" for key in ("W", "R", "B")), lengths]
        inputs += starts or [""] * len(cell.states)
        if "P" in w:
            inputs += [""] * (_INPUTS.index("P") - len(inputs)) + [g.constant("P", w["P"])]
        attributes: dict[str, Any] = {
            "hidden_size": layer.hidden_size,
            "direction": "bidirectional" if D == 2 else ("reverse" if layer.go_backwards else "forward"),
        }
        if layout == 1:
            attributes["layout"] = 1
        if cell is cells.GRU:
            attributes["linear_before_reset"] = int(bool(layer.reset_after))
        if cell is cells.RNN:
            attributes["activations"] = [(layer.nonlinearity or "tanh").capitalize()] * D
        if layer.input_forget:
            attributes["input_forget"] = 1
        if layer.clip is not None:
            attributes["clip"] = layer.clip
        while inputs and not inputs[-1]:  # trailing optional inputs are left out
            inputs.pop()
        y, *states = g.node(_OPS[cell.name], inputs, 1 + len(cell.states), **attributes)
        for part, name in zip(finals, states):
            part.append(name if layout == 0 else g.first("Transpose", [name], perm=[1, 0, 2]))
        if layout == 1:  # (B, T, D, H) -> (B, T, D*H), no copy
            x = g.first("Reshape", [y, g.constant("shape", np.array([0, 0, -1], np.int64))])
        elif D == 1:  # (T, 1, B, H) -> (T, B, H), no copy
            x = g.first("Squeeze", [y, g.constant("axes", np.array([1], np.int64))])
        else:  # (T, D, B, H) -> (T, B, D, H) -> (T, B, D*H)
            y = g.first("Transpose", [y], perm=[0, 2, 1, 3])
            x = g.first("Reshape", [y, g.constant("shape", np.array([0, 0, -1], np.int64))])
    return x, [names[0] if len(names) == 1 else g.first("Concat", names, axis=0) for names in finals]


def _head(g: _Graph, model: SequenceModel, y: str, lengths: bool) -> str:
    """The model's head and output function on the top layer's y (T, B, H)."""
    p = model.parameters()
    if model.output == "per_step":
        features = y
    else:
        if not lengths:  # the last step
            features = g.first("Gather", [y, g.constant("last", np.array(-1, np.int64))], axis=0)
        else:  # each sequence's own last step: y[lengths[b] - 1, b]
            last = g.first("Cast", [g.first("Sub", ["lengths", g.constant("one", np.array(1, np.int32))])], to=7)
            index = g.first("Unsqueeze", [last, g.constant("axes", np.array([1], np.int64))])  # (B, 1) int64
            features = g.first("GatherND", [g.first("Transpose", [y], perm=[1, 0, 2]), index], batch_dims=1)
        if model.bidirectional:  # the backward direction's state after the whole sequence: y[0, b, H:]
            H = model.hidden_sizes[-1]
            first = g.first("Gather", [y, g.constant("first", np.array(0, np.int64))], axis=0)
            halves = [g.constant("axis", np.array([1], np.int64))]
            forward = g.first(
                "Slice",
                [
                    features,
                    g.constant("start", np.array([0], np.int64)),
                    g.constant("end", np.array([H], np.int64)),
                    *halves,
                ],
            )
            backward = g.first(
                "Slice",
                [
                    first,
                    g.constant("start", np.array([H], np.int64)),
                    g.constant("end", np.array([2 * H], np.int64)),
                    *halves,
                ],
            )
            features = g.first("Concat", [forward, backward], axis=1)
    product = g.first("MatMul", [features, g.constant("w", p["head.weight"].T)])
    logits = g.first("Add", [product, g.constant("b", p["head.bias"])])
    if model.task == "binary":
        return g.first("Sigmoid", [logits])
    if model.task == "multiclass":
        return g.first("Softmax", [logits], axis=-1)
    return logits


def export(
    model_or_layer: Any,
    path: str | os.PathLike[str],
    *,
    lengths: bool = False,
    initial_states: bool = False,
    layout: int = 0,
) -> pathlib.Path:
    """Write ``model_or_layer`` (an ``LSTM``, ``GRU`` or ``RNN`` layer, or a
    ``SequenceModel``) as an ONNX model; returns the path.

    Inputs: ``x`` (T, B, I), or (B, T, I) for batch-first ones, with T and B dynamic;
    with ``lengths=True``, ``lengths`` (B,) int32 for right-padded sequences; with
    ``initial_states=True`` (layers only), ``h0`` (and ``c0``) (L*D, B, H), the
    ``state`` a layer call takes (otherwise the graph starts from zeros, also for a
    stateful layer). Outputs: a layer's ``y`` and final state(s) ``h_n`` (and
    ``c_n``), shaped as the layer returns them; a model's ``predictions``, as
    ``predict`` returns them.

    ``layout`` is the recurrent nodes' own: 0 (time-major, the only one ONNX Runtime's
    CPU kernels run; a batch-first layer gets a ``Transpose`` before and after) or 1
    (batch-major; no transposes of a batch-first layer's data). The graph's inputs and
    outputs are the same either way.
    """
    from ..training import SequenceModel

    lengths = _checks.flag("lengths", lengths)
    initial_states = _checks.flag("initial_states", initial_states)
    layout = _checks.integer("layout", layout, 0, 1, rule="0 (time-major) or 1 (batch-major)")
    layers: list[_Recurrent]
    if isinstance(model_or_layer, SequenceModel):
        model, layers = model_or_layer, list(model_or_layer.layers)
        if initial_states:
            raise ValueError("initial_states: only for a layer (a SequenceModel starts from zeros)")
    elif isinstance(model_or_layer, _Recurrent):
        model, layers = None, [model_or_layer]
    else:
        raise TypeError(
            "model_or_layer: expected an LSTM, GRU or RNN layer or a SequenceModel, got "
            f"{type(model_or_layer).__name__}"
        )
    first, top = layers[0], layers[-1]
    element, batch_first = _ELEMENT[first.dtype], model_or_layer.batch_first
    batch_time: Shape = ["B", "T"] if batch_first else ["T", "B"]

    def value(name: str, shape: Shape, kind: int = element) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, kind, shape)

    g = _Graph()
    graph_inputs = [value("x", [*batch_time, first.input_size])]
    if lengths:
        graph_inputs.append(value("lengths", ["B"], TensorProto.INT32))
    initial = ["h0", "c0"][: len(first.cell.states)] if initial_states else []
    graph_inputs += [value(name, [first.num_layers * first.directions, "B", first.hidden_size]) for name in initial]

    node_batch_first = layout == 1
    x = g.first("Transpose", ["x"], perm=[1, 0, 2]) if batch_first != node_batch_first else "x"
    states: list[str] = []
    for layer in layers:
        x, states = _recurrent(g, layer, x, "lengths" if lengths else "", initial, layout)
    if node_batch_first and (model is not None or not batch_first):  # the head reads time-major y
        x = g.first("Transpose", [x], perm=[1, 0, 2])
    if model is None:
        results = {"y": g.first("Transpose", [x], perm=[1, 0, 2]) if batch_first and not node_batch_first else x}
        results.update(zip(("h_n", "c_n"), states))
        state_shape: Shape = [top.num_layers * top.directions, "B", top.hidden_size]
        shapes = {"y": [*batch_time, top.directions * top.hidden_size], "h_n": state_shape, "c_n": state_shape}
    else:
        out = _head(g, model, x, lengths)
        per_step = model.output == "per_step"
        results = {"predictions": g.first("Transpose", [out], perm=[1, 0, 2]) if per_step and batch_first else out}
        shapes = {"predictions": [*batch_time, model.output_size] if per_step else ["B", model.output_size]}
    for name, result in results.items():
        g.nodes.append(helper.make_node("Identity", [result], [name]))
    graph_outputs = [value(name, shapes[name]) for name in results]

    graph = helper.make_graph(g.nodes, "lstmfast", graph_inputs, graph_outputs, g.initializers)
    opset = [helper.make_opsetid("", OPSET)]
    # the oldest IR version the operators allow, so that older runtimes read the file too
    onnx_model = helper.make_model(
        graph, opset_imports=opset, producer_name="lstmfast", ir_version=helper.find_min_ir_version_for(opset)
    )
    onnx.checker.check_model(onnx_model)
    target = pathlib.Path(path)
    onnx.save(onnx_model, os.fspath(target))
    return target


def load(path: str | os.PathLike[str]) -> list[_Recurrent]:
    """lstmfast layers from the ``LSTM``, ``GRU`` and ``RNN`` nodes of an ONNX model, in
    the graph's order: one single-layer layer per node (bidirectional if the node is,
    batch-first if its ``layout`` is 1), its weights from the node's initializers or
    ``Constant`` nodes (what ``torch.onnx.export`` and :func:`export` write).

    Only the recurrent nodes are read: the rest of the graph (a head, transposes) is
    yours to rebuild. A node's ``sequence_lens`` becomes the ``lengths`` you pass when
    calling the layer, and a computed initial state the ``state`` you pass (in the
    layer's layout, (D, B, H), also for ``layout=1``); a constant non-zero initial
    state is refused, since the layer would silently start from zeros instead.
    Peepholes, ``clip``, ``input_forget`` and ``linear_before_reset`` become the
    layer's options (see the module notes). What the kernels cannot compute is refused
    with a ``ValueError`` naming the node and the attribute: activations other than
    the defaults (an RNN's Tanh or Relu), ``activation_alpha``, ``activation_beta``,
    weights or peepholes computed in the graph.
    """
    where = _checks.regular_file(path, "an ONNX model")
    try:
        model = onnx.load(where)
    except Exception as err:  # protobuf's DecodeError and friends: not an ONNX file
        raise ValueError(f"{where}: not an ONNX model ({type(err).__name__}: {err})") from None
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return [_layer(node, constants) for node in model.graph.node if node.op_type in _CELLS]


def _layer(node: onnx.NodeProto, constants: dict[str, np.ndarray[Any, Any]]) -> _Recurrent:
    """The layer computing one LSTM, GRU or RNN node, or a ValueError saying why not."""
    cell = cells.get(_CELLS[node.op_type])
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    where = f"{node.op_type} node {node.name or node.output[0]!r}"
    options = _options(where, cell, attributes)
    inputs = dict(zip(_INPUTS, list(node.input) + [""] * (len(_INPUTS) - len(node.input))))
    for label in ("W", "R", "B", "P"):
        if inputs[label] and inputs[label] not in constants:
            raise ValueError(
                f"{where}: input {label} ({inputs[label]!r}) is neither an initializer nor a Constant "
                "(weights computed in the graph are not supported)"
            )
    for label in ("initial_h", "initial_c"):
        if inputs[label] in constants and np.any(constants[inputs[label]] != 0):
            raise ValueError(
                f"{where}: input {label} is a non-zero constant; pass it as the state when calling the layer"
            )
    W, R = constants[inputs["W"]], constants[inputs["R"]]
    B = constants[inputs["B"]] if inputs["B"] else None
    P = constants[inputs["P"]] if inputs["P"] else None
    if W.dtype not in _ELEMENT or W.ndim != 3 or R.ndim != 3:
        raise ValueError(
            f"{where}: expected float32 or float64 3-D W and R (num_directions, gates*H, ...), got W "
            f"{W.dtype} {W.shape} and R {R.dtype} {R.shape}"
        )
    direction = attributes.get("direction", "forward")
    D = 2 if direction == "bidirectional" else 1
    if W.shape[0] != D:
        raise ValueError(f"{where}: direction={direction!r} needs W with {D} direction(s), got W of shape {W.shape}")
    layer = _LAYERS[cell.name](
        W.shape[2],
        R.shape[2],
        bias=B is not None,
        dtype=W.dtype,
        bidirectional=D == 2,
        go_backwards=direction == "reverse",
        batch_first=attributes.get("layout", 0) == 1,
        peepholes=P is not None,
        **options,
    )
    state = {}
    for d in range(D):
        names = parameter_names(0, bool(d))
        params = convert.from_onnx(W, R, B, P, direction=d, cell=cell.name)
        state.update({names[key]: value for key, value in params.items() if value is not None})
    layer.load_state_dict(state)
    return layer


def _options(where: str, cell: cells.Cell, attributes: dict[str, Any]) -> dict[str, Any]:
    """The layer options of a node's attributes; refuses what the kernels do not compute.
    String attributes arrive as bytes and are decoded in place."""
    for name in ("direction", "activations"):
        if name in attributes:
            value = attributes[name]
            attributes[name] = [a.decode() for a in value] if isinstance(value, list) else value.decode()
    direction = attributes.get("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ValueError(f"{where}: attribute direction={direction!r} is not forward, reverse or bidirectional")
    if attributes.get("layout", 0) not in (0, 1):
        raise ValueError(f"{where}: attribute layout={attributes['layout']} is not 0 or 1")
    activations = attributes.get("activations", [])
    options: dict[str, Any] = {}
    if cell is cells.RNN:
        chosen = {a.lower() for a in activations} or {"tanh"}
        if len(chosen) != 1 or not chosen <= {"tanh", "relu"}:
            raise ValueError(
                f"{where}: activations {activations} are not supported (Tanh or Relu, the same for both directions)"
            )
        options["nonlinearity"] = chosen.pop()
    elif activations:
        default = _DEFAULT_ACTIVATIONS[cell.name]
        if [a.lower() for a in activations] not in (default, default * 2):
            raise ValueError(f"{where}: activations {activations} are not supported (only the defaults {default})")
    for name in ("activation_alpha", "activation_beta"):
        if name in attributes:
            raise ValueError(f"{where}: attribute {name}={attributes[name]} is not supported")
    if "clip" in attributes:
        try:
            options["clip"] = _checks.check_clip(attributes["clip"])
        except ValueError as err:
            raise ValueError(f"{where}: attribute {err}") from None
    flags = {"input_forget": attributes.get("input_forget", 0), "reset_after": attributes.get("linear_before_reset")}
    for name, value in flags.items():
        if name in dict(cell.flags) and value is not None:
            if value not in (0, 1):
                onnx_name = "linear_before_reset" if name == "reset_after" else name
                raise ValueError(f"{where}: attribute {onnx_name}={value} is not 0 or 1")
            options[name] = bool(value)
    if cell is cells.GRU:
        options.setdefault("reset_after", False)  # ONNX's default, linear_before_reset=0
    return options
