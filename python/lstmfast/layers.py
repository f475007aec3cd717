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

Training step (see :mod:`lstmfast.losses` for the head and loss)::

    y, state, tape = lstm.forward(x, training=True)
    grads = lstm.backward(tape, dy)              # dy = dL/dy
    for name, p in lstm.parameters().items():
        p -= lr * grads[name]

``backward`` returns the gradient of every parameter under its own name, and of
the inputs under ``"x"``, ``"h0"`` (and ``"c0"`` for the LSTM).

Each layer and direction is one call of the C++ forward (or BPTT) over the
whole sequence; a stack is a Python loop over layers, never over time steps.
Between layers, dropout (``dropout=p``) multiplies the outputs by a seeded
Bernoulli mask scaled by 1/(1-p) during training only.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import numpy as np

from . import _core
from . import functional as F
from ._validation import SUPPORTED_DTYPES, check_lengths, check_nonlinearity

__all__ = ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"]

# Refuse layers whose parameters alone would need more than this many elements
# (2**31 float32 = 8 GiB): almost certainly a typo, and better a clear error
# than an attempt to allocate it.
MAX_PARAMETERS = 2**31

Array = np.ndarray
Grads = dict[str, Optional[Array]]


def _check_size(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return int(value)


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dt not in SUPPORTED_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    return dt


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return bool(value)


def _tensor_to_numpy(value: Any) -> Any:
    """torch.Tensor -> ndarray without importing torch."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


# The functional calls of each cell, so the layer code is written once.
_FUNCTIONS = {
    "lstm": (F.lstm_forward, F.lstm_backward),
    "gru": (F.gru_forward, F.gru_backward),
    "rnn": (F.rnn_forward, F.rnn_backward),
}


# The two directions of a bidirectional layer are independent: with two or
# more kernel threads they run side by side, each on half of them, instead of
# one after the other with every step split across threads (a barrier per
# step). Below this many FLOPs per direction the hand-off costs more.
_CONCURRENT_DIRECTIONS_FLOPS = 2e7
_executor: Optional[ThreadPoolExecutor] = None


def _run_directions(calls: list[Callable[[], Any]], flops: float) -> list:
    global _executor
    threads = _core.get_num_threads()
    if len(calls) < 2 or threads < 2 or flops < _CONCURRENT_DIRECTIONS_FLOPS:
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


@dataclass(frozen=True)
class LayerTape:
    """What :meth:`forward` with ``training=True`` keeps for :meth:`backward`:
    one functional tape per layer and direction, the dropout masks between
    layers, and how the input was laid out."""

    tapes: tuple  # [layer * directions + direction]
    masks: tuple  # dropout masks on the input of layers 1.. (None: no dropout)
    batch_first: bool
    shape: tuple  # (T, B) of the time-major input


class _Recurrent:
    """Parameters, initialisation, state dicts, stacking and directions shared
    by LSTM, GRU and RNN."""

    cell = "rnn"
    gates = 1  # gate blocks stacked in the weight rows

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32,
                 seed: Optional[int] = None, *, num_layers: int = 1, bidirectional: bool = False,
                 batch_first: bool = False, dropout: float = 0.0, go_backwards: bool = False,
                 stateful: bool = False) -> None:
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.num_layers = _check_size("num_layers", num_layers)
        self.bias = _check_flag("bias", bias)
        self.bidirectional = _check_flag("bidirectional", bidirectional)
        self.batch_first = _check_flag("batch_first", batch_first)
        self.go_backwards = _check_flag("go_backwards", go_backwards)
        self.stateful = _check_flag("stateful", stateful)
        if self.go_backwards and self.bidirectional:
            raise ValueError("go_backwards: a bidirectional layer already runs both ways; use one or the other")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.dtype = _check_dtype(dtype)
        G, H = self.gates * self.hidden_size, self.hidden_size
        count = sum(G * (self._layer_input(layer) + H) + (2 * G if self.bias else 0)
                    for layer in range(self.num_layers)) * self.directions
        if count > MAX_PARAMETERS:
            raise ValueError(f"input_size={self.input_size}, hidden_size={H}, num_layers={self.num_layers}: the "
                             f"layer would have {count:,} parameters (more than {MAX_PARAMETERS:,}); sizes this "
                             f"large are not supported")
        rng = np.random.default_rng(seed)
        k = 1.0 / np.sqrt(H)
        self._params: dict[str, Array] = {}
        for layer in range(self.num_layers):
            for direction in range(self.directions):
                sfx = self._suffix(layer, direction)
                shapes = {"weight_ih": (G, self._layer_input(layer)), "weight_hh": (G, H)}
                if self.bias:
                    shapes.update(bias_ih=(G,), bias_hh=(G,))
                for name, shape in shapes.items():
                    self._params[name + sfx] = rng.uniform(-k, k, size=shape).astype(self.dtype)
        # Dropout masks come from their own generator: same seed, same masks.
        self._dropout_rng = np.random.default_rng(None if seed is None else [seed, 1])
        self._state: Any = None  # carried between calls when stateful

    # -- structure ------------------------------------------------------------------

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _layer_input(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.hidden_size * self.directions

    def _direction_flops(self, T: int, B: int, layer: int) -> float:
        return 2.0 * T * B * self.gates * self.hidden_size * (self._layer_input(layer) + self.hidden_size)

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def _weights(self, layer: int, direction: int) -> tuple[Array, Array, Optional[Array], Optional[Array]]:
        p, sfx = self._params, self._suffix(layer, direction)
        return p["weight_ih" + sfx], p["weight_hh" + sfx], p.get("bias_ih" + sfx), p.get("bias_hh" + sfx)

    # -- parameters -----------------------------------------------------------------

    def parameters(self) -> dict[str, Array]:
        """The parameter arrays themselves (update them in place to train)."""
        return dict(self._params)

    def state_dict(self) -> dict[str, Array]:
        """Copies of the parameters under PyTorch's names."""
        return {name: p.copy() for name, p in self._params.items()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load parameters by PyTorch's names (NumPy arrays or torch tensors).

        Every parameter of the layer must be present with its exact shape; extra
        keys are an error. Values are converted to the layer's dtype and copied.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of names to arrays, got {type(state_dict).__name__}")
        missing = sorted(set(self._params) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(self._params))
        if missing or unexpected:
            raise KeyError(f"state_dict: missing keys {missing}, unexpected keys {unexpected}")
        loaded = {}
        for name, p in self._params.items():
            value = np.asarray(_tensor_to_numpy(state_dict[name]))
            if value.shape != p.shape:
                raise ValueError(f"{name}: expected shape {p.shape}, got {value.shape}")
            if value.dtype.kind not in "fiu":
                raise TypeError(f"{name}: expected a real-valued array, got dtype {value.dtype}")
            loaded[name] = np.array(value, dtype=self.dtype, order="C", copy=True)
        self._params = loaded

    # -- state --------------------------------------------------------------------

    @property
    def _state_parts(self) -> int:
        return 2 if self.cell == "lstm" else 1

    def reset_state(self) -> None:
        """Forget the state a stateful layer carries between calls."""
        self._state = None

    def _initial_state(self, state: Any, B: int) -> list:
        """The initial state as a list of (L*D, B, H) arrays (h, and c for the
        LSTM) or of Nones."""
        parts, shape = self._state_parts, (self.num_layers * self.directions, B, self.hidden_size)
        if state is None and self.stateful and self._state is not None:
            if self._state[0].shape != shape:
                raise ValueError(f"x: this stateful layer carries the state of a batch of {self._state[0].shape[1]} "
                                 f"sequences, got {B}; call reset_state() to start new ones")
            state = self._state if parts == 2 else self._state[0]
        if state is None:
            return [None] * parts
        if parts == 2 and not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise TypeError(f"state: expected None or a pair (h0, c0) of {shape} arrays, got {type(state).__name__}")
        items = list(state) if parts == 2 else [state]
        out = []
        for name, s in zip(("h0", "c0"), items):
            s = np.asarray(s, dtype=self.dtype)
            if s.shape != shape:
                raise ValueError(f"state: {name} expected shape (num_layers * num_directions, B, H) = {shape}, "
                                 f"got {s.shape}")
            out.append(s)
        return out

    def _pack_state(self, parts: list) -> Any:
        return tuple(parts) if self._state_parts == 2 else parts[0]

    # -- the whole sequence -----------------------------------------------------------

    def __call__(self, x: Any, state: Any = None, *, lengths: Any = None) -> tuple[Array, Any]:
        """Inference: ``y, state = layer(x, state)``; see :meth:`forward`."""
        y, state, _ = self.forward(x, state, training=False, lengths=lengths)
        return y, state

    def forward(self, x: Any, state: Any = None, training: bool = True, *,
                lengths: Any = None) -> tuple[Array, Any, Optional[LayerTape]]:
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
            Right-padded batches: sequence b has ``lengths[b]`` real steps. Outputs
            past each end are 0, the final state is each sequence's last real
            step, and the reverse direction reverses each sequence within its
            own length.

        Returns
        -------
        y : (T, B, D*H) (or batch-first), D = 2 if bidirectional else 1;
        state : h_n or (h_n, c_n), each (num_layers * D, B, H);
        tape : a :class:`LayerTape` if ``training`` else None.
        """
        x = np.asarray(x, dtype=self.dtype)  # float64 data into a float32 layer, say
        if x.ndim != 3:
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(f"x: expected a 3-D array {layout}, got shape {x.shape}")
        if self.batch_first:
            x = x.swapaxes(0, 1)  # the kernels read time-major rows; the functional layer copies
        T, B = x.shape[:2]
        if x.shape[2] != self.input_size:
            raise ValueError(f"x: expected {self.input_size} input features (input_size), got {x.shape[2]}")
        lengths = check_lengths(lengths, T, B)
        initial = self._initial_state(state, B)
        forward_fn, _ = _FUNCTIONS[self.cell]
        kw = {"nonlinearity": self.nonlinearity} if self.cell == "rnn" else {}
        finals: list[list] = [[] for _ in range(self._state_parts)]
        tapes, masks = [], []
        inp = x
        for layer in range(self.num_layers):
            if layer > 0 and training and self.dropout > 0:
                mask = (self._dropout_rng.random(inp.shape) >= self.dropout).astype(inp.dtype)
                mask /= 1 - self.dropout
                inp = inp * mask
                masks.append(mask)
            elif layer > 0:
                masks.append(None)
            calls = []
            for direction in range(self.directions):
                k = layer * self.directions + direction
                start = [None if s is None else s[k] for s in initial]
                calls.append(lambda d=direction, start=start, inp=inp: forward_fn(
                    inp, *self._weights(layer, d), *start, training=training, lengths=lengths,
                    reverse=bool(d) != self.go_backwards, **kw))
            results = _run_directions(calls, self._direction_flops(T, B, layer))
            for out in results:
                for part in range(self._state_parts):
                    finals[part].append(out[1 + part])
                tapes.append(out[-1])
            inp = results[0][0] if len(results) == 1 else np.concatenate([out[0] for out in results], axis=2)
        y = np.ascontiguousarray(inp.swapaxes(0, 1)) if self.batch_first else inp
        final = [np.stack(f) for f in finals]
        if self.stateful:
            self._state = tuple(f.copy() for f in final)
        tape = LayerTape(tuple(tapes), tuple(masks), self.batch_first, (T, B)) if training else None
        return y, self._pack_state(final), tape

    def backward(self, tape: LayerTape, dy: Any, dstate: Any = None) -> Grads:
        """Gradients of every parameter (by name) and of ``"x"``, ``"h0"`` (and
        ``"c0"``), from dL/dy and the gradients reaching the final state
        (``dstate``: dh_n or (dh_n, dc_n) shaped like the state, or None)."""
        if not isinstance(tape, LayerTape):
            raise TypeError(f"tape: expected the LayerTape from {type(self).__name__}.forward(..., training=True), "
                            f"got {type(tape).__name__}")
        T, B = tape.shape
        D, H = self.directions, self.hidden_size
        dy = np.asarray(dy, dtype=self.dtype)
        expected = (B, T, D * H) if tape.batch_first else (T, B, D * H)
        if dy.shape != expected:
            layout = "(B, T, D*H)" if tape.batch_first else "(T, B, D*H)"
            raise ValueError(f"dy: expected shape {layout} = {expected}, got {dy.shape}")
        if tape.batch_first:
            dy = dy.swapaxes(0, 1)
        dfinal = self._initial_state(dstate, B) if dstate is not None else [None] * self._state_parts
        _, backward_fn = _FUNCTIONS[self.cell]
        grads: Grads = {}
        first = [[None] * (self.num_layers * D) for _ in range(self._state_parts)]
        d_out = dy
        for layer in reversed(range(self.num_layers)):
            d_in = None
            calls = []
            for direction in range(D):
                k = layer * D + direction
                d_dir = d_out if D == 1 else d_out[:, :, direction * H:(direction + 1) * H]
                calls.append(lambda k=k, d_dir=d_dir: backward_fn(tape.tapes[k], d_dir,
                                                                  *[None if d is None else d[k] for d in dfinal]))
            for direction, g in enumerate(_run_directions(calls, 2 * self._direction_flops(T, B, layer))):
                k = layer * D + direction
                sfx = self._suffix(layer, direction)
                grads["weight_ih" + sfx], grads["weight_hh" + sfx] = g["w_ih"], g["w_hh"]
                if self.bias:
                    grads["bias_ih" + sfx], grads["bias_hh" + sfx] = g["b_ih"], g["b_hh"]
                for part, key in enumerate(("h0", "c0")[:self._state_parts]):
                    first[part][k] = g[key]
                d_in = g["x"] if d_in is None else d_in + g["x"]
            if layer > 0:
                mask = tape.masks[layer - 1]
                d_out = d_in if mask is None else d_in * mask
            else:
                d_out = d_in
        grads["x"] = np.ascontiguousarray(d_out.swapaxes(0, 1)) if tape.batch_first else d_out
        for part, key in enumerate(("h0", "c0")[:self._state_parts]):
            grads[key] = np.stack(first[part])
        return grads

    # -- one step at a time -----------------------------------------------------------

    def step(self, x_t: Any, state: Any = None) -> tuple[Array, Any]:
        """One time step for online inference: ``y_t, state = layer.step(x_t, state)``
        with x_t (B, I); the same numbers as the whole-sequence call, step by step.
        A stateful layer carries the state itself (pass ``state=None``)."""
        if self.bidirectional:
            raise ValueError("step: a bidirectional layer needs the whole sequence (its reverse half runs from "
                             "the end); call the layer on the sequence instead")
        x_t = np.asarray(x_t, dtype=self.dtype)
        if x_t.ndim != 2 or x_t.shape[1] != self.input_size:
            raise ValueError(f"x_t: expected shape (B, input_size) = (B, {self.input_size}), got {x_t.shape}")
        x = x_t[:, None] if self.batch_first else x_t[None]
        y, state = self(x, state)
        return (y[:, 0] if self.batch_first else y[0]), state

    # -- printing -------------------------------------------------------------------

    def _extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("go_backwards", False), ("stateful", False)):
            if getattr(self, name) != default:
                parts.append(f"{name}={getattr(self, name)}")
        return ", ".join(parts + [f"dtype={self.dtype.name}"])

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
    """

    cell = "lstm"
    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32,
                 seed: Optional[int] = None, *, unit_forget_bias: bool = False, **options: Any) -> None:
        super().__init__(input_size, hidden_size, bias, dtype, seed, **options)
        self.unit_forget_bias = _check_flag("unit_forget_bias", unit_forget_bias)
        if self.unit_forget_bias:
            if not self.bias:
                raise ValueError("unit_forget_bias: the layer has no bias (bias=False)")
            H = self.hidden_size
            for name, p in self._params.items():
                if name.startswith("bias_"):
                    p[:] = 0
                    if name.startswith("bias_ih"):
                        p[H:2 * H] = 1  # the forget gate f is the second block (i, f, g, o)

    def __call__(self, x: Any, state: Any = None, *, lengths: Any = None) -> tuple[Array, tuple[Array, Array]]:
        """Inference: ``y, (h_n, c_n) = lstm(x, state)``; see :meth:`forward`."""
        return super().__call__(x, state, lengths=lengths)


class GRU(_Recurrent):
    """GRU layers in PyTorch's formulation (gates r, z, n; reset applied after
    the recurrent product). Options as for :class:`LSTM` (no unit_forget_bias)."""

    cell = "gru"
    gates = 3


class RNN(_Recurrent):
    """Vanilla RNN layers, PyTorch-compatible: h<t> = act(W_ih x<t> + b_ih + W_hh h<t-1> + b_hh).

    Options as for :class:`LSTM`, plus ``nonlinearity`` ("tanh" or "relu").
    """

    cell = "rnn"
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32,
                 seed: Optional[int] = None, nonlinearity: str = "tanh", **options: Any) -> None:
        self.nonlinearity = check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype, seed, **options)

    def _extra_repr(self) -> str:
        return super()._extra_repr() + f", nonlinearity={self.nonlinearity!r}"


# ---------------------------------------------------------------------------- cells


class _Cell:
    """One time step, for users who write their own loop (PyTorch's LSTMCell,
    GRUCell, RNNCell: parameters ``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``). Each call is the whole-sequence kernel with T = 1."""

    layer_class: type = _Recurrent

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32,
                 seed: Optional[int] = None, **options: Any) -> None:
        self._layer = self.layer_class(input_size, hidden_size, bias, dtype, seed, **options)
        self.input_size, self.hidden_size = self._layer.input_size, self._layer.hidden_size

    def _rename(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {name[:-len("_l0")]: p for name, p in params.items()}

    def parameters(self) -> dict[str, Array]:
        return self._rename(self._layer.parameters())

    def state_dict(self) -> dict[str, Array]:
        return self._rename(self._layer.state_dict())

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of names to arrays, got {type(state_dict).__name__}")
        self._layer.load_state_dict({name + "_l0": p for name, p in state_dict.items()})

    def _sequence(self, x: Any) -> Array:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"x: expected shape (B, input_size) = (B, {self.input_size}), got {x.shape}")
        return x[None]

    def _state_in(self, state: Any) -> Any:
        if state is None:
            return None
        if self._layer._state_parts == 2:
            if not (isinstance(state, (tuple, list)) and len(state) == 2):
                raise TypeError("state: expected None or a pair (h, c) of (B, H) arrays")
            return tuple(np.asarray(s)[None] for s in state)
        return np.asarray(state)[None]

    def _state_out(self, state: Any) -> Any:
        return tuple(s[0] for s in state) if isinstance(state, tuple) else state[0]

    def __call__(self, x: Any, state: Any = None) -> Any:
        """The next state: h (GRU, RNN) or (h, c) (LSTM), each (B, H)."""
        _, state = self._layer(self._sequence(x), self._state_in(state))
        return self._state_out(state)

    def forward(self, x: Any, state: Any = None, training: bool = True) -> tuple[Any, Optional[LayerTape]]:
        """The next state and a tape for :meth:`backward`."""
        _, state, tape = self._layer.forward(self._sequence(x), self._state_in(state), training=training)
        return self._state_out(state), tape

    def backward(self, tape: LayerTape, dstate: Any) -> Grads:
        """Gradients of the parameters and of ``"x"``, ``"h"`` (and ``"c"``) from
        the gradient of the next state: dh (GRU, RNN) or (dh, dc) (LSTM)."""
        if self._layer._state_parts == 2:
            if not (isinstance(dstate, (tuple, list)) and len(dstate) == 2):
                raise TypeError("dstate: expected a pair (dh, dc) of (B, H) arrays")
            dh = np.asarray(dstate[0])
        else:
            dh = np.asarray(dstate)
        g = self._layer.backward(tape, np.zeros((1,) + dh.shape, self._layer.dtype), self._state_in(dstate))
        out = self._rename({k: v for k, v in g.items() if k.endswith("_l0")})
        out["x"] = g["x"][0]
        out["h"] = g["h0"][0]
        if "c0" in g:
            out["c"] = g["c0"][0]
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


Layer = Union[LSTM, GRU, RNN]
