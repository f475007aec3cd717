"""LSTM and RNN layers: parameters plus the fast functional path.

A layer owns its parameters under PyTorch's names (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``), initialised like PyTorch
(uniform on [-1/sqrt(H), 1/sqrt(H)]), so ``state_dict()`` and
``load_state_dict()`` exchange weights with ``torch.nn.LSTM`` / ``torch.nn.RNN``
unchanged. Inputs are time-major, ``x`` (T, B, I).

Inference::

    y, (h_n, c_n) = lstm(x)                      # RNN: y, h_n = rnn(x)

Training step (see :mod:`lstmfast.losses` for the head and loss)::

    y, state, tape = lstm.forward(x, training=True)
    grads = lstm.backward(tape, dy)              # dy = dL/dy, (T, B, H)
    for name, p in lstm.parameters().items():
        p -= lr * grads[name]

``backward`` returns the gradient of every parameter under its own name, and
of the inputs under ``"x"``, ``"h0"`` (and ``"c0"`` for the LSTM).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, Optional, Union

import numpy as np

from . import functional as F
from ._validation import SUPPORTED_DTYPES, check_nonlinearity

__all__ = ["LSTM", "RNN"]

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


def _tensor_to_numpy(value: Any) -> Any:
    """torch.Tensor -> ndarray without importing torch."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


class _Recurrent:
    """Parameters, initialisation and state dicts shared by LSTM and RNN."""

    gates: int = 1  # gate blocks stacked in the weight rows

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float32, seed: Optional[int] = None) -> None:
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias: expected a bool, got {type(bias).__name__}")
        self.bias = bool(bias)
        self.dtype = _check_dtype(dtype)
        G, H, I = self.gates * self.hidden_size, self.hidden_size, self.input_size  # noqa: E741
        count = G * (I + H) + (2 * G if self.bias else 0)
        if count > MAX_PARAMETERS:
            raise ValueError(f"input_size={I}, hidden_size={H}: the layer would have {count:,} parameters "
                             f"(more than {MAX_PARAMETERS:,}); sizes this large are not supported")
        rng = np.random.default_rng(seed)
        k = 1.0 / np.sqrt(H)
        shapes = {"weight_ih_l0": (G, I), "weight_hh_l0": (G, H)}
        if self.bias:
            shapes.update({"bias_ih_l0": (G,), "bias_hh_l0": (G,)})
        self._params = {name: rng.uniform(-k, k, size=shape).astype(self.dtype)
                        for name, shape in shapes.items()}

    # -- parameters ---------------------------------------------------------------

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

    def _weights(self) -> tuple[Array, Array, Optional[Array], Optional[Array]]:
        p = self._params
        return p["weight_ih_l0"], p["weight_hh_l0"], p.get("bias_ih_l0"), p.get("bias_hh_l0")

    def _param_grads(self, g: Grads) -> Grads:
        out: Grads = {"weight_ih_l0": g["w_ih"], "weight_hh_l0": g["w_hh"]}
        if self.bias:
            out["bias_ih_l0"], out["bias_hh_l0"] = g["b_ih"], g["b_hh"]
        return out

    def _extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, dtype={self.dtype.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._extra_repr()})"


class LSTM(_Recurrent):
    """A single-layer LSTM, PyTorch-compatible (gate order i, f, g, o).

    Parameters
    ----------
    input_size : int
        I, features per time step.
    hidden_size : int
        H, hidden units (and output features).
    bias : bool
        Use ``bias_ih_l0`` and ``bias_hh_l0``.
    dtype : float32 (default) or float64
    seed : int or None
        Seed of the initialisation (same seed, same weights).
    """

    gates = 4

    def __call__(self, x: Any, state: Optional[tuple[Any, Any]] = None) -> tuple[Array, tuple[Array, Array]]:
        """Inference: ``y, (h_n, c_n) = lstm(x, state)``; x (T, B, I), state (h0, c0) or None."""
        y, (h_n, c_n), _ = self.forward(x, state, training=False)
        return y, (h_n, c_n)

    def forward(self, x: Any, state: Optional[tuple[Any, Any]] = None, training: bool = True
                ) -> tuple[Array, tuple[Array, Array], Optional[F.LSTMTape]]:
        """``y, (h_n, c_n), tape``; the tape (None unless ``training``) feeds :meth:`backward`."""
        h0, c0 = _split_state(state, 2)
        y, h_n, c_n, tape = F.lstm_forward(x, *self._weights(), h0, c0, training=training)
        return y, (h_n, c_n), tape

    def backward(self, tape: F.LSTMTape, dy: Any, dstate: Optional[tuple[Any, Any]] = None) -> Grads:
        """Gradients of every parameter (by name) and of ``"x"``, ``"h0"``, ``"c0"``.

        ``dy`` is dL/dy (T, B, H); ``dstate`` = (dh_n, dc_n), gradients reaching
        the final state, or None.
        """
        dh_n, dc_n = _split_state(dstate, 2)
        g = F.lstm_backward(tape, dy, dh_n, dc_n)
        out = self._param_grads(g)
        out.update(x=g["x"], h0=g["h0"], c0=g["c0"])
        return out


class RNN(_Recurrent):
    """A single-layer vanilla RNN, PyTorch-compatible: h<t> = act(W_ih x<t> + b_ih + W_hh h<t-1> + b_hh).

    Parameters are those of :class:`LSTM`, plus ``nonlinearity`` ("tanh" or "relu").
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32,
                 seed: Optional[int] = None, nonlinearity: str = "tanh") -> None:
        self.nonlinearity = check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, seed=seed)

    def __call__(self, x: Any, state: Any = None) -> tuple[Array, Array]:
        """Inference: ``y, h_n = rnn(x, h0)``."""
        y, h_n, _ = self.forward(x, state, training=False)
        return y, h_n

    def forward(self, x: Any, state: Any = None, training: bool = True
                ) -> tuple[Array, Array, Optional[F.RNNTape]]:
        """``y, h_n, tape``; the tape (None unless ``training``) feeds :meth:`backward`."""
        y, h_n, tape = F.rnn_forward(x, *self._weights(), state, nonlinearity=self.nonlinearity,
                                     training=training)
        return y, h_n, tape

    def backward(self, tape: F.RNNTape, dy: Any, dstate: Any = None) -> Grads:
        """Gradients of every parameter (by name) and of ``"x"`` and ``"h0"``."""
        g = F.rnn_backward(tape, dy, dstate)
        out = self._param_grads(g)
        out.update(x=g["x"], h0=g["h0"])
        return out

    def _extra_repr(self) -> str:
        return super()._extra_repr() + f", nonlinearity={self.nonlinearity!r}"


def _split_state(state: Union[None, tuple, list], n: int) -> tuple:
    if state is None:
        return (None,) * n
    if not isinstance(state, (tuple, list)) or len(state) != n:
        raise TypeError(f"state: expected None or a pair (h, c) of (B, H) arrays, got {type(state).__name__}")
    return tuple(state)


