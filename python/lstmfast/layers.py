"""LSTM, GRU and RNN layers (stacked, bidirectional, variable-length, stateful)
and single-step cells, all running the fast functional path.

A layer owns its parameters under PyTorch's names (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``; ``..._l1`` for the second
layer; ``..._reverse`` for the reverse direction), initialised like PyTorch
(uniform on [-1/sqrt(H), 1/sqrt(H)]), so ``state_dict()`` / ``load_state_dict()``
exchange weights with ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` unchanged. Inputs are
time-major, ``x`` (T, B, I), unless ``batch_first=True`` ((B, T, I), like Keras),
and converted to the layer's dtype (float32 unless asked otherwise). States
follow PyTorch: h (and c) of shape (num_layers * num_directions, B, H).

Inference::

    y, (h_n, c_n) = lstm(x)                      # GRU / RNN: y, h_n = gru(x)

Training step (see :mod:`lstmfast.training.losses` for the head and loss)::

    y, state, tape = lstm.forward(x, training=True)
    grads = lstm.backward(tape, dy)              # dy = dL/dy
    for name, p in lstm.parameters().items():
        p -= lr * grads[name]

``backward`` returns the gradient of every parameter under its own name, and of
the inputs under ``"x"``, ``"h0"`` (and ``"c0"`` for the LSTM).

Each layer and direction is one call of the C++ forward (or BPTT) over the
whole sequence; a stack is a Python loop over layers, never over time steps
(:func:`stack_forward` and :func:`stack_backward`, the package's one such loop,
which :class:`~lstmfast.training.SequenceModel` and the gradient diagnostics
use too). Between layers, dropout (``dropout=p``) multiplies the outputs by a
seeded Bernoulli mask scaled by 1/(1-p) during training only.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Callable, ClassVar, Optional, TypeVar, Union

import numpy as np

from . import _checks, _core, cells, functional
from .cells import State, Weights

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "parameter_names", "parameter_shapes"]

# Refuse layers whose parameters alone would need more than this many elements
# (2**31 float32 = 8 GiB): almost certainly a typo, and better a clear error
# than an attempt to allocate it.
MAX_PARAMETERS = 2**31

Array = np.ndarray[Any, Any]
Grads = dict[str, Optional[Array]]
_WEIGHT_KEYS = ("w_ih", "w_hh", "b_ih", "b_hh")


def parameter_names(layer: int, reverse: bool = False) -> dict[str, str]:
    """PyTorch's names of one layer's (and direction's) parameters, keyed like the
    functional gradients: ``{"w_ih": "weight_ih_l0", ..., "b_hh": "bias_hh_l0"}``;
    and, for an LSTM with peepholes (which PyTorch lacks), ``"peepholes_l0"``."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    return {
        "w_ih": "weight_ih" + suffix,
        "w_hh": "weight_hh" + suffix,
        "b_ih": "bias_ih" + suffix,
        "b_hh": "bias_hh" + suffix,
        "peepholes": "peepholes" + suffix,
    }


def parameter_shapes(
    cell: cells.Cell,
    input_sizes: Sequence[int],
    hidden_size: int | Sequence[int],
    directions: int = 1,
    bias: bool = True,
    peepholes: bool = False,
) -> dict[str, tuple[int, ...]]:
    """PyTorch's name and the shape of every parameter of stacked layers, in
    order, without allocating them: layer k reads ``input_sizes[k]`` features and
    has ``hidden_size`` (or ``hidden_size[k]``) units per direction (and, with
    ``peepholes``, a peephole vector per layer and direction).

    ``ValueError`` if they would hold more than :data:`MAX_PARAMETERS` numbers
    (almost certainly a typo, and better a clear error than an attempt to
    allocate them).
    """
    sizes = [hidden_size] * len(input_sizes) if isinstance(hidden_size, int) else list(hidden_size)
    shapes: dict[str, tuple[int, ...]] = {}
    for layer, (inputs, H) in enumerate(zip(input_sizes, sizes)):
        G = cell.gates * H
        for direction in range(directions):
            names = parameter_names(layer, bool(direction))
            shapes.update({names["w_ih"]: (G, inputs), names["w_hh"]: (G, H)})
            if bias:
                shapes.update({names["b_ih"]: (G,), names["b_hh"]: (G,)})
            if peepholes:
                shapes[names["peepholes"]] = (len(cell.peephole_gates) * H,)
    count = sum(math.prod(shape) for shape in shapes.values())
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"input_size={input_sizes[0]}, hidden_size={hidden_size}, num_layers={len(sizes)}: the "
            f"layers would have {count:,} parameters (more than {MAX_PARAMETERS:,}); sizes this "
            f"large are not supported"
        )
    return shapes


# --------------------------------------------------------------------------- the stack


@dataclass(frozen=True)
class Level:
    """One layer of a stack: a cell kind and the weights of each of its directions."""

    cell: cells.Cell
    weights: tuple[Weights, ...]  # per direction, forward first (with the LSTM's peepholes if it has them)
    reverse: tuple[bool, ...]  # per direction: runs backwards through each sequence
    options: Mapping[str, Any]  # extra arguments of the cell's forward (nonlinearity, cell.options)
    # A prepared layer's: per direction the PackedWeights whose own w_ih, w_hh are in `weights`.
    packed: tuple[Any, ...] = ()

    def packed_of(self, d: int) -> Any:
        """Direction d's packed weights, or None."""
        return self.packed[d] if self.packed else None

    def infer(self, x: Array, state: State | None) -> tuple[Array, State]:
        """Inference of the first direction (a unidirectional level): ``y, final_state``."""
        y, final, _ = self.cell.forward(
            x, self.weights[0], state, reverse=self.reverse[0], options=self.options, packed=self.packed_of(0)
        )
        return y, final

    @property
    def hidden_size(self) -> int:
        w_hh = self.weights[0][1]
        assert w_hh is not None
        return int(w_hh.shape[1])

    @property
    def directions(self) -> int:
        return len(self.weights)

    def flops(self, T: int, B: int) -> float:
        """Matrix FLOPs of one direction's forward pass over T steps of B sequences."""
        w_ih, w_hh = self.weights[0][:2]
        assert w_ih is not None and w_hh is not None
        return 2.0 * T * B * int(w_hh.shape[0]) * int(w_ih.shape[1] + w_hh.shape[1])


@dataclass(frozen=True)
class StackTape:
    """What :func:`stack_forward` keeps for :func:`stack_backward`: a functional
    tape per level and direction and the dropout mask on each level's input."""

    tapes: tuple[tuple[Any, ...], ...]  # [level][direction]
    masks: tuple[Array | None, ...]  # [level]; None: no dropout (always None for level 0)
    shape: tuple[int, int]  # (T, B)


@dataclass(frozen=True)
class StackGrads:
    """What :func:`stack_backward` returns."""

    weights: list[list[Grads]]  # [level][direction]: "w_ih", "w_hh", "b_ih", "b_hh"
    x: Array | None  # dL/dx, (T, B, I); None if stack_backward was not asked for it
    initial: list[list[State]]  # [level][direction]: the initial state's gradient
    outputs: list[Array]  # [level]: dL/d(the level's output), (T, B, D*H)


# The two directions of a bidirectional layer are independent: with two or
# more kernel threads they run side by side, each on half of them, instead of
# one after the other with every step split across threads (a barrier per
# step). Below this many FLOPs per direction the hand-off costs more.
_CONCURRENT_DIRECTIONS_FLOPS = 2e7
_executor: ThreadPoolExecutor | None = None


def _forget_executor() -> None:
    """In a forked child: the parent's worker thread does not exist here, so a
    future submitted to its executor would wait forever; start a new one on use."""
    global _executor
    _executor = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_executor)


def _run_directions(calls: Sequence[Callable[[], Any]], flops: float) -> list[Any]:
    global _executor
    if len(calls) < 2 or flops < _CONCURRENT_DIRECTIONS_FLOPS:
        return [call() for call in calls]
    threads = _core.get_num_threads()
    if threads < 2:
        return [call() for call in calls]
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmfast-direction")

    def capped(call: Callable[[], Any]) -> Any:
        _core.set_thread_cap(threads // 2)  # this OS thread's kernel calls only
        try:
            return call()
        finally:
            _core.set_thread_cap(0)

    reverse = _executor.submit(capped, calls[1])  # the kernels release the GIL
    return [capped(calls[0]), reverse.result()]


def stack_forward(
    levels: Sequence[Level],
    x: Array,
    initial: Sequence[Sequence[State | None]] | None = None,
    *,
    training: bool = False,
    lengths: Array | None = None,
    dropout: float = 0.0,
    rng: np.random.Generator | None = None,
    reference: bool = False,
) -> tuple[Array, list[list[State]], StackTape | None]:
    """Run stacked recurrent layers over whole sequences: the package's one loop over layers.

    Parameters
    ----------
    levels : the layers, input side first
    x : (T, B, I), time-major, in the weights' dtype
    initial : [level][direction] -> state tuple (or None: zeros); None: all zeros
    training : keep a tape for :func:`stack_backward` and apply dropout
    lengths : checked int64 (B,) or None
    dropout, rng : dropout on the input of every level but the first (training only)
    reference : run the NumPy reference instead of the C++ kernels (the directions
        one after the other)

    Returns
    -------
    y : (T, B, D*H), the last level's outputs, directions concatenated;
    finals : [level][direction] -> the final state tuple;
    tape : a :class:`StackTape` if ``training`` else None.
    """
    T, B = x.shape[:2]
    finals: list[list[State]] = []
    tapes: list[tuple[Any, ...]] = []
    masks: list[Array | None] = []
    inp = x
    for k, level in enumerate(levels):
        mask: Array | None = None
        if k > 0 and training and dropout > 0:
            assert rng is not None
            mask = np.greater_equal(rng.random(inp.shape), dropout).astype(inp.dtype)
            mask /= 1 - dropout
            inp = inp * mask
        masks.append(mask)
        starts = initial[k] if initial is not None else [None] * level.directions
        implementation = level.cell.reference if reference else None
        options = level.options  # Cell.forward copies it
        if training and "precision" in options:  # a layer's precision is that of its inference
            options = {key: value for key, value in options.items() if key != "precision"}
        calls = [
            partial(
                level.cell.forward,
                inp,
                level.weights[d],
                starts[d],
                training=training,
                lengths=lengths,
                reverse=level.reverse[d],
                options=options,
                implementation=implementation,
                packed=level.packed_of(d),
            )
            for d in range(level.directions)
        ]
        results = _run_directions(calls, 0.0 if reference or len(calls) < 2 else level.flops(T, B))
        finals.append([state for _, state, _ in results])
        tapes.append(tuple(tape for _, _, tape in results))
        inp = results[0][0] if len(results) == 1 else np.concatenate([y for y, _, _ in results], axis=2)
    tape = StackTape(tuple(tapes), tuple(masks), (T, B)) if training else None
    return inp, finals, tape


def stack_backward(
    levels: Sequence[Level],
    tape: StackTape,
    dy: Array,
    dfinal: Sequence[Sequence[State | None]] | None = None,
    *,
    reference: bool = False,
    input_gradient: bool = True,
) -> StackGrads:
    """Backpropagation through time through :func:`stack_forward`, top level first.

    ``dy`` (T, B, D*H) is dL/dy of the last level; ``dfinal`` [level][direction]
    the gradients reaching each final state (None: zeros). Every level and
    direction is one C++ BPTT call (or, with ``reference``, one call of the NumPy
    reference); the gradient of a level's input is the ``dy`` of the level below.
    ``input_gradient`` False: the first level's (the stack's dL/dx) is neither
    computed nor returned (``StackGrads.x`` None).
    """
    T, B = tape.shape
    weights: list[list[Grads]] = [[] for _ in levels]
    initial: list[list[State]] = [[] for _ in levels]
    outputs: list[Array] = [dy] * len(levels)
    d_out = dy
    for k in reversed(range(len(levels))):
        level = levels[k]
        H, D = level.hidden_size, level.directions
        outputs[k] = d_out
        dstates = dfinal[k] if dfinal is not None else [None] * D
        implementation = level.cell.reference if reference else None
        calls = [
            partial(
                level.cell.backward,
                tape.tapes[k][d],
                d_out if D == 1 else d_out[:, :, d * H : (d + 1) * H],
                dstates[d],
                implementation=implementation,
                input_gradient=input_gradient or k > 0,
            )
            for d in range(D)
        ]
        results = _run_directions(calls, 0.0 if reference or D < 2 else 2 * level.flops(T, B))
        d_in = None
        for grads, dinitial in results:
            weights[k].append({key: grads[key] for key in (*_WEIGHT_KEYS, "peepholes") if key in grads})
            initial[k].append(dinitial)
            if grads["x"] is not None:
                d_in = grads["x"] if d_in is None else d_in + grads["x"]
        if k == 0:  # the stack's input (no dropout mask at level 0)
            return StackGrads(weights, d_in, initial, outputs)
        assert d_in is not None  # levels above the first always give it
        mask = tape.masks[k]
        d_out = d_in if mask is None else d_in * mask
    return StackGrads(weights, d_out, initial, outputs)  # no levels: dL/dx is dy


# --------------------------------------------------------------------------- layers


def _present(arr: Array | None) -> Array:
    assert arr is not None  # the kernels return every part of a final state
    return arr


@dataclass(frozen=True)
class LayerTape:
    """What :meth:`forward` with ``training=True`` keeps for :meth:`backward`:
    the stack's tape and how the input was laid out."""

    stack: StackTape
    batch_first: bool
    layer: object  # the identity of the layer whose forward made it (see _Recurrent.backward)

    @property
    def masks(self) -> tuple[Array | None, ...]:
        """The dropout masks on the inputs of layers 1, 2, ... (None: no dropout)."""
        return self.stack.masks[1:]


_R = TypeVar("_R", bound="_Recurrent")
_C = TypeVar("_C", bound="_Cell")


class _Recurrent:
    """Parameters, initialisation, state dicts, stacking and directions shared
    by LSTM, GRU and RNN; a subclass only names its cell kind. Every option of
    every cell is in this one signature; an option a cell does not have is
    refused (as PyTorch refuses ``proj_size`` for its GRU)."""

    cell: ClassVar[cells.Cell]
    # The options from ONNX (class-level defaults: layers pickled before them load).
    peepholes: bool = False
    input_forget: bool | None = None
    reset_after: bool | None = None
    clip: float | None = None
    precision: str | None = None  # of inference: None or "bfloat16"
    _prepared: bool = False  # a copy made by prepared(): weights packed once, read-only

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        dtype: Any = np.float32,
        seed: int | None = None,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        batch_first: bool = False,
        dropout: float = 0.0,
        go_backwards: bool = False,
        stateful: bool = False,
        nonlinearity: str | None = None,
        unit_forget_bias: bool = False,
        forget_bias: float | None = None,
        peepholes: bool = False,
        input_forget: bool | None = None,
        reset_after: bool | None = None,
        clip: float | None = None,
        precision: str | None = None,
    ) -> None:
        self.input_size = _checks.positive_int("input_size", input_size)
        self.hidden_size = _checks.positive_int("hidden_size", hidden_size)
        self.num_layers = _checks.positive_int("num_layers", num_layers)
        self.bias = _checks.flag("bias", bias)
        self.bidirectional = _checks.flag("bidirectional", bidirectional)
        self.batch_first = _checks.flag("batch_first", batch_first)
        self.go_backwards = _checks.flag("go_backwards", go_backwards)
        self.stateful = _checks.flag("stateful", stateful)
        if self.go_backwards and self.bidirectional:
            raise ValueError("go_backwards: a bidirectional layer already runs both ways; use one or the other")
        self.dropout = _checks.real("dropout", dropout, low=0.0, high=1.0, high_open=True, what="a probability")
        self.dtype = _checks.float_dtype(dtype)
        self._set_onnx_options(peepholes, input_forget, reset_after, clip)
        self.precision = self._checked_precision(precision)
        shapes = parameter_shapes(
            self.cell,
            [self.input_size] + [self.hidden_size * self.directions] * (self.num_layers - 1),
            self.hidden_size,
            self.directions,
            self.bias,
            self.peepholes,
        )
        rng = np.random.default_rng(seed)
        k = 1.0 / np.sqrt(self.hidden_size)
        self._params: dict[str, Array] = {
            name: rng.uniform(-k, k, size=shape).astype(self.dtype) for name, shape in shapes.items()
        }
        # Tapes carry this token: a layer refuses a tape that another layer made,
        # whose gradients would be those of the other layer's weights.
        self._identity = object()
        # Dropout masks come from their own generator: same seed, same masks.
        self._dropout_rng = np.random.default_rng(None if seed is None else [seed, 1])
        self._state: tuple[Array, ...] | None = None  # carried between calls when stateful
        self.unit_forget_bias = _checks.flag("unit_forget_bias", unit_forget_bias)
        if self.unit_forget_bias:
            self._open_forget_gate("unit_forget_bias", 1.0, others=0.0)
        self.forget_bias = None if forget_bias is None else _checks.real("forget_bias", forget_bias)
        if self.forget_bias is not None:
            if self.unit_forget_bias:
                raise ValueError("forget_bias: give it or unit_forget_bias, not both")
            self._open_forget_gate("forget_bias", self.forget_bias)
        self.nonlinearity: str | None = None
        if self.cell.nonlinearities:
            self.nonlinearity = _checks.check_nonlinearity(
                self.cell.nonlinearities[0] if nonlinearity is None else nonlinearity
            )
        elif nonlinearity is not None:
            raise ValueError(
                f"nonlinearity: only for the RNN (the {self.cell.title}'s are fixed), got {nonlinearity!r}"
            )

    def _set_onnx_options(self, peepholes: Any, input_forget: Any, reset_after: Any, clip: Any) -> None:
        """Check and keep the options ONNX's operators have (see :attr:`cells.Cell.options`);
        one a cell does not have is refused, None means the cell's default."""
        self.peepholes = _checks.flag("peepholes", peepholes)
        if self.peepholes and not self.cell.peephole_gates:
            raise ValueError(f"peepholes: only for the LSTM (the {self.cell.title} has no cell state to read)")
        own = dict(self.cell.flags)
        for name, value in (("input_forget", input_forget), ("reset_after", reset_after)):
            if name in own:
                setattr(self, name, _checks.flag(name, own[name] if value is None else value))
            elif value is not None:
                owner = next(c.title for c in cells.CELLS.values() if name in dict(c.flags))
                raise ValueError(f"{name}: only for the {owner}, not the {self.cell.title}, got {value!r}")
        self.clip = _checks.check_clip(clip)

    def _open_forget_gate(self, option: str, value: float, others: float | None = None) -> None:
        """The forget gate's bias: ``value`` in bias_ih's forget block and 0 in
        bias_hh's, so that Γf starts near σ(value); with ``others``, every other bias
        is set to it (Keras' unit_forget_bias: 1, and 0 elsewhere)."""
        if "f" not in self.cell.gate_names:
            raise ValueError(f"{option}: the {self.cell.title} has no forget gate (an LSTM option)")
        if not self.bias:
            raise ValueError(f"{option}: the layer has no bias (bias=False)")
        H, f = self.hidden_size, self.cell.gate_names.index("f")
        for name, p in self._params.items():
            if name.startswith("bias_"):
                if others is not None:
                    p[:] = others
                p[f * H : (f + 1) * H] = value if name.startswith("bias_ih") else 0

    # -- structure ------------------------------------------------------------------

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _options(self) -> dict[str, Any]:
        """Extra arguments of the cell's forward: the RNN's nonlinearity and the ONNX
        options that differ from the defaults (a plain layer's calls stay lean)."""
        options: dict[str, Any] = {} if self.nonlinearity is None else {"nonlinearity": self.nonlinearity}
        for name, default in self.cell.flags:
            if getattr(self, name) != default:
                options[name] = getattr(self, name)
        if self.clip is not None:
            options["clip"] = self.clip
        if self.precision is not None:
            options["precision"] = self.precision  # inference only: stack_forward drops it for training
        return options

    def levels(self) -> list[Level]:
        """The layers of this stack for :func:`stack_forward`, input side first
        (they hold the live parameter arrays, so they are made once; a prepared
        layer's are packed again if the active instruction set changed)."""
        cached: list[Level] | None = self.__dict__.get("_levels")
        if cached is None or (self._prepared and cached[0].packed[0].isa != _core.isa()):
            cached = self._levels = self._make_levels()
        return list(cached)

    def prepared(self: _R, precision: str | None = None) -> _R:
        """A copy of this layer for inference with its weights packed once.

        Every call of a layer (and every :meth:`step`) lays the weights out for the
        kernels first; at H = 512 that costs more than a step itself, so a step of
        a few sequences reads them unpacked instead. The prepared copy packs them
        here, once (:func:`lstmfast.pack_weights`): measured on Zen 5, one thread,
        an LSTM step at B = 16, H = 512 took 190 µs unpacked and 152 packed; with
        ``precision="bfloat16"``, B = 1, H = 512, 60 → 27 µs.

        The copy's weights are a read-only snapshot of this layer's now: train and
        load weights into this layer, then prepare it again. It has this layer's
        options, state (``stateful``) and methods (call it, :meth:`step`), refuses
        ``training=True`` and an optimizer, and pickles (it packs again where it is
        loaded, for that CPU).

        Parameters
        ----------
        precision : None or "bfloat16"
            "bfloat16": pack for bfloat16 products (float32 layers; see
            :func:`lstmfast.lstm_forward`); None: the layer's own ``precision``.
        """
        chosen = self._checked_precision(precision) or self.precision
        frozen = copy.copy(self)
        frozen.__dict__.pop("_levels", None)
        frozen._params = {name: p.copy() for name, p in self._params.items()}
        for p in frozen._params.values():
            p.flags.writeable = False
        frozen.precision = chosen
        frozen._prepared = True
        frozen._identity = object()  # tapes are this layer's or the copy's, not both
        frozen.levels()  # packed now: the cost and any error come here
        return frozen

    def _checked_precision(self, precision: Any) -> str | None:
        """``precision`` checked for this layer: None, or "bfloat16" for a float32 layer
        with a bfloat16 kernel."""
        checked = _checks.check_precision(precision)
        if checked is not None:
            if self.dtype != np.float32:
                raise ValueError(f"precision={checked!r}: needs dtype float32, got {self.dtype}")
            _checks.check_precision_with_reset(checked, self.reset_after)
        return checked

    def _packed(self, level: Level) -> Level:
        """``level`` with each direction's weights packed (their own copies in its weights)."""
        reset_after = self.reset_after is not False
        packs = tuple(
            functional.pack_weights(self.cell.name, w[0], w[1], reset_after=reset_after, precision=self.precision)
            for w in level.weights
        )
        weights = tuple((p.w_ih, p.w_hh, *w[2:]) for p, w in zip(packs, level.weights))
        return replace(level, weights=weights, packed=packs)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_levels", None)  # rebuilt on use (it holds the cell records' function tables)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._prepared:  # pickle gives arrays back writeable: the snapshot stays read-only
            for p in self._params.values():
                p.flags.writeable = False

    def _make_levels(self) -> list[Level]:
        p = self._params
        out = []
        for layer in range(self.num_layers):
            weights: list[Weights] = []
            for direction in range(self.directions):
                names = parameter_names(layer, bool(direction))
                keys = ("w_ih", "w_hh", "b_ih", "b_hh") + (("peepholes",) if self.peepholes else ())
                weights.append(tuple(p.get(names[key]) for key in keys))
            reverse = tuple(bool(d) != self.go_backwards for d in range(self.directions))
            level = Level(self.cell, tuple(weights), reverse, self._options())
            out.append(self._packed(level) if self._prepared else level)
        return out

    # -- parameters -----------------------------------------------------------------

    def parameters(self) -> dict[str, Array]:
        """The parameter arrays themselves (update them in place to train)."""
        return dict(self._params)

    def state_dict(self) -> dict[str, Array]:
        """Copies of the parameters under PyTorch's names."""
        return {name: p.copy() for name, p in self._params.items()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load parameters by PyTorch's names (NumPy arrays or torch tensors), or, for
        a single-layer unidirectional layer, a ``params`` dict of
        :mod:`lstmfast.convert` (``w_ih``, ``w_hh``, ``b_ih``, ``b_hh``: what
        ``convert.from_keras`` and the other converters return).

        Every parameter of the layer must be present with its exact shape; extra
        keys are an error (a bias given as None counts as absent). Values are
        converted to the layer's dtype and copied into the parameter arrays (which
        stay the same objects). Nothing is changed if any check fails.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of names to arrays, got {type(state_dict).__name__}")
        if self._prepared:
            raise ValueError(
                "load_state_dict: a prepared layer's weights are a read-only snapshot; load them into the "
                "layer it was prepared from and prepare it again"
            )
        if state_dict and set(state_dict) <= {"w_ih", "w_hh", "b_ih", "b_hh", "peepholes"}:
            if self.num_layers != 1 or self.bidirectional:
                raise ValueError(
                    "state_dict: w_ih/w_hh/b_ih/b_hh keys describe one layer and direction; this layer "
                    "has more: use PyTorch's names (weight_ih_l0, ...)"
                )
            names = parameter_names(0)
            state_dict = {names[key]: value for key, value in state_dict.items() if value is not None}
        missing = sorted(set(self._params) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(self._params))
        if missing or unexpected:
            raise KeyError(f"state_dict: missing keys {missing}, unexpected keys {unexpected}")
        values = {}
        for name, p in self._params.items():  # check everything before changing anything
            value = _checks.array(name, state_dict[name], kinds="fiu")
            if value.shape != p.shape:
                raise ValueError(f"{name}: expected shape {p.shape}, got {value.shape}")
            values[name] = value
        for name, p in self._params.items():
            np.copyto(p, values[name], casting="unsafe")

    # -- state --------------------------------------------------------------------

    def reset_state(self) -> None:
        """Forget the state a stateful layer carries between calls."""
        self._state = None

    def _state_shape(self, B: int) -> tuple[int, int, int]:
        return (self.num_layers * self.directions, B, self.hidden_size)

    def _check_state(self, state: Any, B: int, name: str = "state") -> list[Array] | None:
        """The state as a list of (L*D, B, H) arrays, one per part (h, and c for the
        LSTM), or None."""
        parts, shape = self.cell.states, self._state_shape(B)
        if state is None:
            return None
        if len(parts) > 1 and not (isinstance(state, (tuple, list)) and len(state) == len(parts)):
            raise TypeError(f"{name}: expected None or a pair (h0, c0) of {shape} arrays, got {type(state).__name__}")
        items = list(state) if len(parts) > 1 else [state]
        out = []
        for part, s in zip(parts, items):
            s = _checks.real_array(f"{name}: {part}0", s, self.dtype)
            if s.shape != shape:
                raise ValueError(
                    f"{name}: {part}0 expected shape (num_layers * num_directions, B, H) = {shape}, got {s.shape}"
                )
            out.append(s)
        return out

    def _initial_state(self, state: Any, B: int) -> list[Array] | None:
        if state is None and self.stateful and self._state is not None:
            if self._state[0].shape != self._state_shape(B):
                raise ValueError(
                    f"x: this stateful layer carries the state of a batch of {self._state[0].shape[1]} "
                    f"sequences, got {B}; call reset_state() to start new ones"
                )
            return list(self._state)
        return self._check_state(state, B)

    def _per_level(self, parts: list[Array] | None) -> list[list[State]] | None:
        """(L*D, B, H) arrays per state part -> [level][direction] state tuples."""
        if parts is None:
            return None
        D = self.directions
        return [[tuple(s[k * D + d] for s in parts) for d in range(D)] for k in range(self.num_layers)]

    def _stacked(self, per_level: Sequence[Sequence[State]]) -> list[Array]:
        """[level][direction] state tuples -> (L*D, B, H) arrays per state part."""
        flat = [state for level in per_level for state in level]
        return [np.stack([_present(state[p]) for state in flat]) for p in range(len(self.cell.states))]

    def _pack_state(self, parts: list[Array]) -> Any:
        return tuple(parts) if len(self.cell.states) > 1 else parts[0]

    # -- the whole sequence -----------------------------------------------------------

    def __call__(self, x: Any, state: Any = None, *, lengths: Any = None) -> tuple[Array, Any]:
        """Inference: ``y, state = layer(x, state)``; see :meth:`forward`."""
        y, state, _ = self.forward(x, state, training=False, lengths=lengths)
        return y, state

    def forward(
        self, x: Any, state: Any = None, training: bool = True, *, lengths: Any = None
    ) -> tuple[Array, Any, LayerTape | None]:
        """Run the layer over whole sequences.

        Parameters
        ----------
        x : array_like, (T, B, I), or (B, T, I) with ``batch_first``
        state : the initial state, h0 (GRU, RNN) or (h0, c0) (LSTM), each
            (num_layers * num_directions, B, H); None: zeros (or, for a stateful
            layer, the state the previous call ended in).
        training : bool
            Keep a tape for :meth:`backward` and apply dropout.
        lengths : array_like of int (B,) or None
            Right-padded batches: sequence b has ``lengths[b]`` real steps (0 to T).
            Outputs past each end are 0, the final state is each sequence's last
            real step (its initial state for length 0), and the reverse direction
            reverses each sequence within its own length.

        Returns
        -------
        y : (T, B, D*H) (or batch-first), D = 2 if bidirectional else 1;
        state : h_n or (h_n, c_n), each (num_layers * D, B, H);
        tape : a :class:`LayerTape` if ``training`` else None.
        """
        if training and self._prepared:
            raise ValueError(
                "training: a prepared layer is for inference (its weights are a read-only, packed snapshot); "
                "train the layer it was prepared from"
            )
        x = _checks.real_array("x", x, self.dtype)  # the one dtype rule: see _checks.real_array
        if x.ndim != 3:
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(f"x: expected a 3-D array {layout}, got shape {x.shape}")
        if self.batch_first:
            x = x.swapaxes(0, 1)  # the kernels read time-major rows; the functional layer copies
        T, B = x.shape[:2]
        if x.shape[2] != self.input_size:
            raise ValueError(f"x: expected {self.input_size} input features (input_size), got {x.shape[2]}")
        checked_lengths = _checks.check_lengths(lengths, T, B, empty_allowed=True)
        initial = self._per_level(self._initial_state(state, B))
        y, finals, stack_tape = stack_forward(
            self.levels(),
            x,
            initial,
            training=training,
            lengths=checked_lengths,
            dropout=self.dropout,
            rng=self._dropout_rng,
        )
        if self.batch_first:
            y = np.ascontiguousarray(y.swapaxes(0, 1))
        final = self._stacked(finals)
        if self.stateful:
            self._state = tuple(f.copy() for f in final)
        tape = LayerTape(stack_tape, self.batch_first, self._identity) if stack_tape is not None else None
        return y, self._pack_state(final), tape

    def backward(self, tape: LayerTape, dy: Any, dstate: Any = None) -> Grads:
        """Gradients of every parameter (by name) and of ``"x"``, ``"h0"`` (and
        ``"c0"``), from dL/dy and the gradients reaching the final state
        (``dstate``: dh_n or (dh_n, dc_n) shaped like the state, or None)."""
        if not isinstance(tape, LayerTape):
            raise TypeError(
                f"tape: expected the LayerTape from {type(self).__name__}.forward(..., training=True), "
                f"got {type(tape).__name__}"
            )
        if tape.layer is not self._identity:
            raise ValueError(
                f"tape: made by the forward of another layer, not of this {self!r}; its gradients "
                f"would be those of the other layer's weights"
            )
        T, B = tape.stack.shape
        D, H = self.directions, self.hidden_size
        dy = _checks.real_array("dy", dy, self.dtype)
        expected = (B, T, D * H) if tape.batch_first else (T, B, D * H)
        if dy.shape != expected:
            layout = "(B, T, D*H)" if tape.batch_first else "(T, B, D*H)"
            raise ValueError(f"dy: expected shape {layout} = {expected}, got {dy.shape}")
        if tape.batch_first:
            dy = dy.swapaxes(0, 1)
        dfinal = self._per_level(self._check_state(dstate, B, "dstate"))
        g = stack_backward(self.levels(), tape.stack, dy, dfinal)
        grads: Grads = {}
        for layer in range(self.num_layers):
            for direction in range(D):
                names = parameter_names(layer, bool(direction))
                for key, value in g.weights[layer][direction].items():
                    if key not in ("b_ih", "b_hh") or self.bias:
                        grads[names[key]] = value
        assert g.x is not None  # asked for (stack_backward's default)
        grads["x"] = np.ascontiguousarray(g.x.swapaxes(0, 1)) if tape.batch_first else g.x
        for part, value in zip(self.cell.states, self._stacked(g.initial)):
            grads[part + "0"] = value
        return grads

    # -- one step at a time -----------------------------------------------------------

    def step(self, x_t: Any, state: Any = None) -> tuple[Array, Any]:
        """One time step for online inference: ``y_t, state = layer.step(x_t, state)``
        with x_t (B, I); the same numbers as the whole-sequence call, step by step.
        A stateful layer carries the state itself (pass ``state=None``)."""
        if self.bidirectional:
            raise ValueError(
                "step: a bidirectional layer needs the whole sequence (its reverse half runs from "
                "the end); call the layer on the sequence instead"
            )
        x_t = _checks.real_array("x_t", x_t, self.dtype)
        if x_t.ndim != 2 or x_t.shape[1] != self.input_size:
            raise ValueError(f"x_t: expected shape (B, input_size) = (B, {self.input_size}), got {x_t.shape}")
        y, final = self._infer(x_t[None], self._initial_state(state, x_t.shape[0]))
        if self.stateful:
            self._state = tuple(final)  # fresh arrays of the kernels
        return y[0], self._pack_state(final)

    def _infer(self, x: Array, parts: list[Array] | None) -> tuple[Array, list[Array]]:
        """Inference of a unidirectional layer on checked time-major x (T, B, I) from
        checked state parts (each (L, B, H), or None): y and the final parts. The
        lean route of :meth:`step` (a step costs microseconds): no tape, no
        dropout, no stacking of one layer's state."""
        levels = self.levels()
        finals: list[list[Array]] = [[] for _ in self.cell.states]
        for k, level in enumerate(levels):
            start = None if parts is None else tuple(part[k] for part in parts)
            x, state = level.infer(x, start)
            for collected, s in zip(finals, state):
                collected.append(_present(s))
        if len(levels) == 1:
            return x, [f[0][None] for f in finals]
        return x, [np.stack(f) for f in finals]

    # -- printing -------------------------------------------------------------------

    def _extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        for name, default in (
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
            ("go_backwards", False),
            ("stateful", False),
        ):
            if getattr(self, name) != default:
                parts.append(f"{name}={getattr(self, name)}")
        if self.unit_forget_bias:
            parts.append("unit_forget_bias=True")
        if self.forget_bias is not None:
            parts.append(f"forget_bias={self.forget_bias}")
        if self.nonlinearity is not None:
            parts.append(f"nonlinearity={self.nonlinearity!r}")
        if self.peepholes:
            parts.append("peepholes=True")
        for name, default in self.cell.flags:
            if getattr(self, name) != default:
                parts.append(f"{name}={getattr(self, name)}")
        if self.clip is not None:
            parts.append(f"clip={self.clip}")
        if self.precision is not None:
            parts.append(f"precision={self.precision!r}")
        return ", ".join([*parts, f"dtype={self.dtype.name}", *(["prepared"] if self._prepared else [])])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._extra_repr()})"


class LSTM(_Recurrent):
    """LSTM layers, PyTorch-compatible (gate order i, f, g, o).

    Parameters
    ----------
    input_size : int
        I, features per time step.
    hidden_size : int
        H, hidden units per direction.
    bias : bool
        Use ``bias_ih_l*`` and ``bias_hh_l*``.
    dtype : float32 (default) or float64
    seed : int or None
        Seed of the initialisation and of the dropout masks (same seed, same weights).
    num_layers : int
        Stacked layers; layer l+1 reads layer l's outputs.
    bidirectional : bool
        A second direction per layer reading each sequence backwards; outputs
        concatenated ([forward, reverse]) and states laid out like PyTorch's.
    batch_first : bool
        x and y are (B, T, .) (Keras' layout); costs one transpose of each.
    dropout : float
        Dropout on the outputs of every layer but the last, training only.
    go_backwards : bool
        Run (only) backwards over each sequence (Keras' go_backwards); y stays
        aligned with x (y[t] belongs to x[t]).
    stateful : bool
        Carry the final state of a call into the next one (until
        :meth:`reset_state`), for long series processed in chunks.
    unit_forget_bias : bool
        Start the forget gate open: bias_ih's forget block 1, every other bias 0
        (Keras' unit_forget_bias).
    forget_bias : float or None
        Start the forget gate at this bias (bias_ih's forget block; bias_hh's is
        0; the other biases keep PyTorch's initialisation): Γf starts near
        σ(forget_bias), so with 1 to 3 the cell state, and its gradient, is kept over
        long spans from the start. Not with ``unit_forget_bias``.
    peepholes : bool
        Peephole connections (ONNX's P; PyTorch has none): parameters
        ``peepholes_l*`` (3H,) = p_i, p_f, p_o, and z_i, z_f read c<t-1>, z_o reads
        c<t> through them.
    input_forget : bool
        Couple the gates, f = 1 - i (ONNX's input_forget; the forget gate's
        weights are then unused and get zero gradient).
    clip : float or None
        Clip every gate's pre-activation to [-clip, clip] (ONNX's clip).
    precision : None or "bfloat16"
        Of inference (``layer(x)``, :meth:`step`, ``forward(..., training=False)``;
        dtype float32): ``"bfloat16"`` rounds the operands of every product to
        bfloat16 and sums in float32, about twice as fast on CPUs with AVX512_BF16
        (see :func:`lstmfast.functional.lstm_forward`); the GRU's only with
        ``reset_after=True``. Training runs in float32 whatever it says.
    """

    cell = cells.LSTM

    def __call__(self, x: Any, state: Any = None, *, lengths: Any = None) -> tuple[Array, tuple[Array, Array]]:
        """Inference: ``y, (h_n, c_n) = lstm(x, state)``; see :meth:`forward`."""
        y, final = super().__call__(x, state, lengths=lengths)
        h_n, c_n = final
        return y, (h_n, c_n)


class GRU(_Recurrent):
    """GRU layers in PyTorch's formulation (gates r, z, n; reset applied after
    the recurrent product). Options as for :class:`LSTM` (no unit_forget_bias,
    forget_bias, peepholes or input_forget), plus:

    reset_after : bool
        True (default): PyTorch's GRU, r ⊙ (h W_hn^T + b_hn). False: the reset
        gate applied to h<t-1> before the product, (r ⊙ h) W_hn^T + b_hn (Cho et
        al. 2014, the course's GRU, Keras' ``reset_after=False``, ONNX's
        ``linear_before_reset=0``). The name and the sense are Keras': True is
        the default of PyTorch, cuDNN and Keras alike.
    """

    cell = cells.GRU


class RNN(_Recurrent):
    """Vanilla RNN layers, PyTorch-compatible: h<t> = act(W_ih x<t> + b_ih + W_hh h<t-1> + b_hh).

    Options as for :class:`LSTM` (``bias`` ... ``stateful`` and ``clip``), plus
    ``nonlinearity`` ("tanh" or "relu").
    """

    cell = cells.RNN


Layer = Union[LSTM, GRU, RNN]
#: The layer class of each cell kind, by the cell's name.
LAYERS: dict[str, type[Layer]] = {cls.cell.name: cls for cls in (LSTM, GRU, RNN)}


# ---------------------------------------------------------------------------- cells


class _Cell:
    """One time step, for users who write their own loop (PyTorch's LSTMCell,
    GRUCell, RNNCell: parameters ``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``; and ``peepholes``). Each call is the whole-sequence kernel with T = 1;
    the options are those of the layers."""

    layer_class: ClassVar[type[_Recurrent]]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        dtype: Any = np.float32,
        seed: int | None = None,
        *,
        nonlinearity: str | None = None,
        unit_forget_bias: bool = False,
        forget_bias: float | None = None,
        peepholes: bool = False,
        input_forget: bool | None = None,
        reset_after: bool | None = None,
        clip: float | None = None,
    ) -> None:
        self._layer = self.layer_class(
            input_size,
            hidden_size,
            bias,
            dtype,
            seed,
            nonlinearity=nonlinearity,
            unit_forget_bias=unit_forget_bias,
            forget_bias=forget_bias,
            peepholes=peepholes,
            input_forget=input_forget,
            reset_after=reset_after,
            clip=clip,
        )
        self.input_size, self.hidden_size = self._layer.input_size, self._layer.hidden_size

    @property
    def _parts(self) -> tuple[str, ...]:
        return self._layer.cell.states

    def _rename(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {name[: -len("_l0")]: p for name, p in params.items()}

    def parameters(self) -> dict[str, Array]:
        return self._rename(self._layer.parameters())

    def state_dict(self) -> dict[str, Array]:
        return self._rename(self._layer.state_dict())

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load parameters by PyTorch's cell names (``weight_ih``, ...), or a ``params``
        dict of :mod:`lstmfast.convert` (``w_ih``, ``w_hh``, ``b_ih``, ``b_hh``)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of names to arrays, got {type(state_dict).__name__}")
        if state_dict and set(state_dict) <= {"w_ih", "w_hh", "b_ih", "b_hh", "peepholes"}:
            self._layer.load_state_dict(state_dict)
            return
        self._layer.load_state_dict({name + "_l0": p for name, p in state_dict.items()})

    def _sequence(self, x: Any) -> Array:
        arr: Array = _checks.real_array("x", x, self._layer.dtype)
        if arr.ndim != 2 or arr.shape[1] != self.input_size:
            raise ValueError(f"x: expected shape (B, input_size) = (B, {self.input_size}), got {arr.shape}")
        return arr[None]

    def _state_in(self, state: Any, name: str = "state") -> Any:
        if state is None:
            return None
        if len(self._parts) > 1:
            if not (isinstance(state, (tuple, list)) and len(state) == len(self._parts)):
                raise TypeError(f"{name}: expected None or a pair (h, c) of (B, H) arrays")
            return tuple(_checks.real_array(name, s, self._layer.dtype)[None] for s in state)
        return _checks.real_array(name, state, self._layer.dtype)[None]

    def _state_out(self, state: Any) -> Any:
        return tuple(s[0] for s in state) if isinstance(state, tuple) else state[0]

    def __call__(self, x: Any, state: Any = None) -> Any:
        """The next state: h (GRU, RNN) or (h, c) (LSTM), each (B, H)."""
        # Straight to the cell's forward with T = 1: a step of a small cell costs
        # a few microseconds, and the layer's route (stacking each part to
        # (layers, B, H) and back) took twice the kernel call's time.
        x = self._sequence(x)
        (level,) = self._layer.levels()  # one layer, one direction
        _, final = level.infer(x, self._parts_in(state, x.shape[1]))
        return final if len(final) > 1 else final[0]

    def _parts_in(self, state: Any, B: int) -> tuple[Array, ...] | None:
        """``state`` checked: a tuple of (B, H) arrays, one per part, or None."""
        if state is None:
            return None
        names = self._parts
        if len(names) > 1 and not (isinstance(state, (tuple, list)) and len(state) == len(names)):
            raise TypeError("state: expected None or a pair (h, c) of (B, H) arrays")
        shape, dtype = (B, self.hidden_size), self._layer.dtype
        parts = []
        for part, s in zip(names, state if len(names) > 1 else (state,)):
            s = _checks.real_array("state: " + part, s, dtype)
            if s.shape != shape:
                raise ValueError(f"state: {part} expected shape (B, H) = {shape}, got {s.shape}")
            parts.append(s)
        return tuple(parts)

    def prepared(self: _C, precision: str | None = None) -> _C:
        """A copy of this cell for inference with its weights packed once (see
        :meth:`lstmfast.LSTM.prepared`): ``fast = cell.prepared()``, then
        ``h, c = fast(x, (h, c))`` step after step. ``precision="bfloat16"``: bfloat16
        products (float32 cells)."""
        frozen = copy.copy(self)
        frozen._layer = self._layer.prepared(precision)
        return frozen

    def forward(self, x: Any, state: Any = None, training: bool = True) -> tuple[Any, LayerTape | None]:
        """The next state and a tape for :meth:`backward`."""
        _, state, tape = self._layer.forward(self._sequence(x), self._state_in(state), training=training)
        return self._state_out(state), tape

    def backward(self, tape: LayerTape, dstate: Any) -> Grads:
        """Gradients of the parameters and of ``"x"``, ``"h"`` (and ``"c"``) from
        the gradient of the next state: dh (GRU, RNN) or (dh, dc) (LSTM)."""
        packed = self._state_in(dstate, "dstate")
        if packed is None:
            raise TypeError("dstate: expected the gradient of the next state, got None")
        dh = packed[0] if len(self._parts) > 1 else packed
        g = self._layer.backward(tape, np.zeros(dh.shape, self._layer.dtype), packed)
        out = self._rename({k: v for k, v in g.items() if k.endswith("_l0")})
        out["x"] = g["x"][0]  # type: ignore[index]
        for part in self._parts:
            out[part] = g[part + "0"][0]  # type: ignore[index]
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._layer._extra_repr()})"


class LSTMCell(_Cell):
    """One LSTM step: ``h, c = cell(x, (h, c))`` with x (B, I), h and c (B, H)."""

    layer_class = LSTM


class GRUCell(_Cell):
    """One GRU step: ``h = cell(x, h)``."""

    layer_class = GRU


class RNNCell(_Cell):
    """One vanilla-RNN step: ``h = cell(x, h)``; ``nonlinearity`` "tanh" or "relu"."""

    layer_class = RNN
