r"""A small trainable model: stacked LSTM/RNN layers plus a dense output head.

:class:`SequenceModel` is the whole recipe of the course in one object::

    a<t>  = LSTM or RNN layers (one or more, stacked)  over x<0..T-1>
    z<t>  = W_y a<t> + b_y                              the dense head
    ŷ<t>  = σ(z<t>)  (task="binary")   or   z<t>  (task="regression")

with a prediction at every step (``output="per_step"``, the course's ŷ<t>) or
only from the last step (``output="last"``: sequence classification, or
forecasting the next value from a window).

Every forward pass and every backpropagation through time runs in the C++ fast
path (:mod:`lstmfast.functional`); the head, the loss and the optimizer are NumPy.
Layers are stacked with a Python loop over *layers*, never over time steps.

The loss
--------
* ``task="binary"``: binary cross-entropy of ŷ = σ(z), computed from the logits,
  **summed over time steps** (and outputs) for each sequence, then averaged over
  the sequences of the batch: ``L = (1/N) Σ_n Σ_t Σ_o mask·BCE``. This is the
  course's ``L = Σ_t L<t>`` per sequence. With ``output="last"`` only the last
  step counts.
* ``task="regression"``: mean squared error over all (unmasked) elements.

A ``mask`` (same shape as the targets, or without their last axis) selects or
weights the elements that count, e.g. only the verb position in the
plural-cats task (:mod:`lstmfast.agreement`).

Shapes
------
Inputs are time-major, ``X`` (T, N, I). Targets are (T, N, O) for
``output="per_step"`` and (N, O) for ``output="last"``; when O = 1 the last axis
may be left out ((T, N) or (N,)). :meth:`~SequenceModel.predict` returns the same
shapes (always with the O axis).

Example
-------
::

    from lstmfast.models import SequenceModel
    from lstmfast.optim import Adam

    model = SequenceModel(input_size=1, hidden_size=16, cell="lstm", task="binary", seed=0)
    history = model.fit(X, y, epochs=20, batch_size=32, optimizer=Adam(1e-2), seed=0)
    p = model.predict(X)                     # probabilities ŷ<t>, (T, N, 1)
    model.save("model.npz")
    same = SequenceModel.load("model.npz")   # same predictions, bit for bit

Parameter names follow PyTorch: a module with attributes ``lstm = nn.LSTM(I, H,
num_layers=L)`` and ``head = nn.Linear(H, O)`` has exactly the state-dict keys of
a SequenceModel with ``hidden_size=[H] * L`` (``lstm.weight_ih_l0``, ...,
``head.weight``, ``head.bias``).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import pathlib
from collections.abc import Mapping
from typing import Any, Optional, Union

import numpy as np

from . import _core, losses
from .layers import GRU, LSTM, RNN, _check_dtype, _check_size
from .optim import Adam, Optimizer, clip_grad_norm

__all__ = ["SequenceModel", "CELLS", "OUTPUTS", "TASKS", "FORMAT_VERSION"]

CELLS = ("lstm", "gru", "rnn")
OUTPUTS = ("per_step", "last")
TASKS = ("binary", "regression")

#: Version of the .npz layout written by :meth:`SequenceModel.save`.
FORMAT_VERSION = 1
_FORMAT_NAME = "lstmfast.SequenceModel"
_FORMAT_KEY, _VERSION_KEY, _CONFIG_KEY, _PARAM_PREFIX = "__format__", "__version__", "__config__", "param."

Array = np.ndarray
Grads = dict[str, Array]
History = dict[str, list[float]]


# --------------------------------------------------------------------------- argument checks


def _choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: expected one of {options}, got {value!r}")
    return value


def _hidden_sizes(hidden_size: Any) -> list[int]:
    if isinstance(hidden_size, (list, tuple)):
        if not hidden_size:
            raise ValueError("hidden_size: expected a positive int or a non-empty list of them, got []")
        return [_check_size(f"hidden_size[{k}]", h) for k, h in enumerate(hidden_size)]
    return [_check_size("hidden_size", hidden_size)]


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return int(value)


def _seed(value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seed: expected None or an int >= 0, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"seed: expected None or an int >= 0, got {value}")
    return int(value)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _real_array(name: str, value: Any) -> np.ndarray:
    """``np.asarray(value)`` if it holds real numbers or booleans, else a clear error."""
    if value is None:
        raise TypeError(f"{name}: expected an array, got None")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise ValueError(f"{name}: cannot be converted to an array ({err})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    return arr


def _check_finite(name: str, arr: np.ndarray) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains {int(np.size(arr) - np.isfinite(arr).sum())} NaN or "
                         f"infinite value(s)")


# --------------------------------------------------------------------------- the model


# The head's products go through lstmfast's GEMM rather than NumPy's `@`, for
# speed through the whole step, not the head itself: NumPy's OpenBLAS keeps its
# worker threads spinning for a while after a product, and a spinning thread
# takes a core from the next LSTM call's threads, which wait for it at every
# step's barrier (measured: fit 0.50 s with `@`, 0.26 s with OpenBLAS limited
# to one thread). Same math as losses.dense_forward / dense_backward.


def _rows(a: Array) -> Array:
    return np.ascontiguousarray(a.reshape(-1, a.shape[-1]))


def _head_forward(h: Array, w: Array, b: Array) -> Array:
    """logits = h w^T + b over the last axis of h."""
    logits = _core.matmul(_rows(h), np.ascontiguousarray(w.T))
    logits += b
    return logits.reshape(h.shape[:-1] + (w.shape[0],))


def _head_backward(h: Array, w: Array, dlogits: Array) -> tuple[Array, Array, Array]:
    """dh, dw, db of :func:`_head_forward`."""
    d2 = _rows(dlogits)
    dh = _core.matmul(d2, np.ascontiguousarray(w)).reshape(h.shape)
    dw = _core.matmul(np.ascontiguousarray(d2.T), _rows(h))
    return dh, dw, d2.sum(axis=0)


class SequenceModel:
    r"""One or more LSTM/RNN layers and a dense head, trained with the C++ BPTT.

    Parameters
    ----------
    input_size : int
        I, features per time step.
    hidden_size : int or list of int
        H of each recurrent layer; a list stacks layers (the first reads x, each
        next one reads the previous one's hidden states).
    output_size : int, default 1
        O, outputs of the head per step (binary: independent sigmoids).
    cell : {"lstm", "gru", "rnn"}, keyword-only
        Layer type (``lstmfast.LSTM`` or the vanilla ``lstmfast.RNN``).
    output : {"per_step", "last"}
        A prediction at every time step, or only from the last one.
    task : {"binary", "regression"}
        Sigmoid + BCE summed over time, or linear + MSE (see the module docstring).
    nonlinearity : {"tanh", "relu"} or None
        For ``cell="rnn"`` only (default "tanh").
    dtype : float32 (default) or float64
        Of every parameter and computation. Inputs are converted to it.
    seed : int or None
        Seed of the initialisation (PyTorch's: uniform on ±1/sqrt(H) for every
        layer and the head). Same seed, same weights.

    Attributes
    ----------
    layers : list of LSTM or RNN
        The recurrent layers, input side first.
    """

    def __init__(self, input_size: int, hidden_size: Union[int, list[int]], output_size: int = 1, *,
                 cell: str = "lstm", output: str = "per_step", task: str = "binary",
                 nonlinearity: Optional[str] = None, dtype: Any = np.float32,
                 seed: Optional[int] = None) -> None:
        self.input_size = _check_size("input_size", input_size)
        self.hidden_sizes = _hidden_sizes(hidden_size)
        self.output_size = _check_size("output_size", output_size)
        self.cell = _choice("cell", cell, CELLS)
        self.output = _choice("output", output, OUTPUTS)
        self.task = _choice("task", task, TASKS)
        if nonlinearity is not None and self.cell != "rnn":
            raise ValueError(f"nonlinearity: only for cell='rnn' (the LSTM's and GRU's are fixed), "
                             f"got {nonlinearity!r}")
        self.nonlinearity = (nonlinearity or "tanh") if self.cell == "rnn" else None
        self.dtype = _check_dtype(dtype)
        rng = np.random.default_rng(_seed(seed))

        self.layers: list[Union[LSTM, GRU, RNN]] = []
        self._names: list[dict[str, str]] = []  # per layer: the layer's name -> the model's name
        in_size = self.input_size
        for k, h in enumerate(self.hidden_sizes):
            layer_seed = int(rng.integers(2**63))
            if self.cell == "rnn":
                layer: Union[LSTM, GRU, RNN] = RNN(in_size, h, dtype=self.dtype, seed=layer_seed,
                                                   nonlinearity=self.nonlinearity)
            else:
                layer = (LSTM if self.cell == "lstm" else GRU)(in_size, h, dtype=self.dtype, seed=layer_seed)
            self.layers.append(layer)
            self._names.append({name: f"{self.cell}.{name[:-len('_l0')]}_l{k}" for name in layer.parameters()})
            in_size = h
        H, O = self.hidden_sizes[-1], self.output_size  # noqa: E741
        k = 1.0 / math.sqrt(H)  # like torch.nn.Linear
        self._head = {"head.weight": rng.uniform(-k, k, (O, H)).astype(self.dtype),
                      "head.bias": rng.uniform(-k, k, O).astype(self.dtype)}

    # -- parameters ---------------------------------------------------------------

    def parameters(self) -> dict[str, Array]:
        """The live parameter arrays by name (an optimizer updates them in place).

        Layer k's are ``"{cell}.weight_ih_l{k}"``, ``"{cell}.weight_hh_l{k}"``,
        ``"{cell}.bias_ih_l{k}"``, ``"{cell}.bias_hh_l{k}"``; the head's are
        ``"head.weight"`` (O, H) and ``"head.bias"`` (O,).
        """
        params: dict[str, Array] = {}
        for layer, names in zip(self.layers, self._names):
            params.update({names[n]: p for n, p in layer.parameters().items()})
        params.update(self._head)
        return params

    def state_dict(self) -> dict[str, Array]:
        """Copies of all parameters, by the names of :meth:`parameters`."""
        return {name: p.copy() for name, p in self.parameters().items()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load every parameter by name (arrays or torch tensors; converted to ``dtype``).

        All names of :meth:`parameters` must be present with their exact shapes;
        missing or extra names raise ``KeyError``, a wrong shape ``ValueError``.
        Nothing is changed if any check fails.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of names to arrays, got {type(state_dict).__name__}")
        own = self.parameters()
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(own))
        if missing or unexpected:
            raise KeyError(f"state_dict: missing keys {missing}, unexpected keys {unexpected}")
        values = {}
        for name, p in own.items():  # check everything before changing anything
            value = np.asarray(_to_numpy(state_dict[name]))
            if value.shape != p.shape:
                raise ValueError(f"{name}: expected shape {p.shape}, got {value.shape}")
            if value.dtype.kind not in "fiu":
                raise TypeError(f"{name}: expected a real-valued array, got dtype {value.dtype}")
            values[name] = value
        for layer, names in zip(self.layers, self._names):
            layer.load_state_dict({n: values[m] for n, m in names.items()})  # copies
        self._head = {name: np.array(values[name], dtype=self.dtype, order="C", copy=True)
                      for name in self._head}

    @property
    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p in self.parameters().values())

    @property
    def config(self) -> dict[str, Any]:
        """The architecture, JSON-serialisable: ``SequenceModel(**model.config)`` rebuilds it."""
        return {"input_size": self.input_size, "hidden_size": list(self.hidden_sizes),
                "output_size": self.output_size, "cell": self.cell, "output": self.output,
                "task": self.task, "nonlinearity": self.nonlinearity, "dtype": self.dtype.name}

    def __repr__(self) -> str:
        hidden = self.hidden_sizes[0] if len(self.hidden_sizes) == 1 else self.hidden_sizes
        extra = f", nonlinearity={self.nonlinearity!r}" if self.cell == "rnn" else ""
        return (f"SequenceModel(input_size={self.input_size}, hidden_size={hidden}, "
                f"output_size={self.output_size}, cell={self.cell!r}{extra}, output={self.output!r}, "
                f"task={self.task!r}, dtype={self.dtype.name})")

    # -- data checks --------------------------------------------------------------

    def _check_x(self, X: Any, name: str = "X") -> Array:
        arr = _real_array(name, X)
        I = self.input_size  # noqa: E741
        if arr.ndim != 3 or arr.shape[2] != I:
            raise ValueError(f"{name}: expected a 3-D array (T, N, I) with I = {I} (time-major), "
                             f"got shape {arr.shape}")
        if arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ValueError(f"{name}: expected at least one time step and one sequence, got shape {arr.shape}")
        _check_finite(name, arr)
        return np.ascontiguousarray(arr, dtype=self.dtype)

    def _target_shape(self, T: int, N: int) -> tuple[tuple[int, ...], str]:
        if self.output == "per_step":
            return (T, N, self.output_size), "(T, N, O)"
        return (N, self.output_size), "(N, O)"

    def _check_y(self, y: Any, T: int, N: int, name: str = "y") -> Array:
        arr = _real_array(name, y)
        shape, layout = self._target_shape(T, N)
        if self.output_size == 1 and arr.shape == shape[:-1]:
            arr = arr[..., None]
        if arr.shape != shape:
            hint = " (T and N from X)" if self.output == "per_step" else " (N from X)"
            raise ValueError(f"{name}: expected shape {layout} = {shape}{hint} for output={self.output!r}, "
                             f"got {arr.shape}")
        _check_finite(name, arr)
        if self.task == "binary" and arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"{name}: binary targets must be in [0, 1], got values in "
                             f"[{arr.min()}, {arr.max()}] (use task='regression' for other values)")
        return np.ascontiguousarray(arr, dtype=self.dtype)

    def _check_mask(self, mask: Any, T: int, N: int, name: str = "mask") -> Optional[Array]:
        if mask is None:
            return None
        arr = _real_array(name, mask)
        shape, layout = self._target_shape(T, N)
        if arr.shape == shape[:-1]:
            arr = arr[..., None]  # the same weight for every output
        elif arr.shape != shape:
            raise ValueError(f"{name}: expected the shape of the targets {layout} = {shape} or "
                             f"{shape[:-1]}, got {arr.shape}")
        _check_finite(name, arr)
        if arr.size and arr.min() < 0:
            raise ValueError(f"{name}: weights must be >= 0 (use 0/1 or booleans)")
        return np.ascontiguousarray(arr, dtype=self.dtype)

    def _check_data(self, X: Any, y: Any, mask: Any, prefix: str = ""
                    ) -> tuple[Array, Array, Optional[Array]]:
        X = self._check_x(X, prefix + "X")
        T, N = X.shape[:2]
        return X, self._check_y(y, T, N, prefix + "y"), self._check_mask(mask, T, N, prefix + "mask")

    def _batch(self, X: Array, y: Optional[Array], mask: Optional[Array], idx: Any
               ) -> tuple[Array, Optional[Array], Optional[Array]]:
        """The sequences ``idx`` (a slice or indices) of X, y and mask."""
        n_axis = 1 if self.output == "per_step" else 0  # where N is in y and mask
        pick = (slice(None), idx) if n_axis else (idx,)
        return (X[:, idx], None if y is None else y[pick], None if mask is None else mask[pick])

    # -- forward, loss, backward ---------------------------------------------------

    def _forward(self, x: Array, training: bool) -> tuple[Array, Array, list[Any]]:
        """``logits, features, tapes``: features are what the head reads."""
        h, tapes = x, []
        for layer in self.layers:
            h, _, tape = layer.forward(h, None, training=training)  # C++, whole sequence
            tapes.append(tape)
        features = h if self.output == "per_step" else h[-1]
        logits = _head_forward(features, self._head["head.weight"], self._head["head.bias"])
        return logits, features, tapes

    def _loss_sum(self, logits: Array, y: Array, mask: Optional[Array]) -> tuple[float, Array, float]:
        """Summed loss, its gradient, and what to divide both by (see the module docstring)."""
        if self.task == "binary":
            total, dlogits = losses.sigmoid_bce_with_logits(logits, y, mask, reduction="sum")
            count = float(logits.shape[-2])  # N: the loss is per sequence
        else:
            total, dlogits = losses.mse(logits, y, mask, reduction="sum")
            count = float(y.size if mask is None else np.broadcast_to(mask, y.shape).sum(dtype=np.float64))
        return total, dlogits, count

    def _correct(self, logits: Array, y: Array, mask: Optional[Array]) -> tuple[float, float]:
        """Binary tasks: (weighted) number of correct predictions and of predictions."""
        right = (logits > 0) == (y > 0.5)
        if mask is None:
            return float(right.sum()), float(right.size)
        w = np.broadcast_to(mask, right.shape)
        return float(np.sum(w * right, dtype=np.float64)), float(w.sum(dtype=np.float64))

    def _backward(self, dlogits: Array, features: Array, tapes: list[Any], T: int) -> Grads:
        dfeatures, dw, db = _head_backward(features, self._head["head.weight"], dlogits)
        if self.output == "per_step":
            dy = dfeatures
        else:  # only the last step feeds the head
            dy = np.zeros((T,) + dfeatures.shape, dtype=self.dtype)
            dy[-1] = dfeatures
        grads: Grads = {}
        for k in reversed(range(len(self.layers))):
            g = self.layers[k].backward(tapes[k], dy)  # BPTT in C++
            grads.update({m: g[n] for n, m in self._names[k].items()})
            dy = g["x"]  # becomes dL/dy of the layer below
        grads.update({"head.weight": dw, "head.bias": db})
        return {name: grads[name] for name in self.parameters()}

    def _train_batch(self, x: Array, y: Array, mask: Optional[Array]
                     ) -> tuple[float, float, Grads, Array]:
        logits, features, tapes = self._forward(x, training=True)
        total, dlogits, count = self._loss_sum(logits, y, mask)
        scale = 1.0 / count if count > 0 else 0.0
        grads = self._backward(dlogits * self.dtype.type(scale), features, tapes, x.shape[0])
        return total, count, grads, logits

    def loss_and_gradients(self, X: Any, y: Any, mask: Any = None) -> tuple[float, Grads]:
        """The loss on one batch and its gradient for every parameter (one forward + BPTT).

        Parameters
        ----------
        X : array_like, (T, N, I)
        y : array_like, (T, N, O) or (N, O) (see the module docstring)
        mask : array_like or None
            The shape of ``y``, or without its last axis.

        Returns
        -------
        loss : float
            As defined in the module docstring (what :meth:`fit` minimises).
        grads : dict of str to numpy.ndarray
            dL/dp for every name of :meth:`parameters`, in the model's dtype.
        """
        X, y, mask = self._check_data(X, y, mask)
        total, count, grads, _ = self._train_batch(X, y, mask)
        return (total / count if count > 0 else 0.0), grads

    # -- training and inference ----------------------------------------------------

    def fit(self, X: Any, y: Any, epochs: int = 1, batch_size: int = 32, *,
            optimizer: Optional[Optimizer] = None, clip_norm: Optional[float] = None, mask: Any = None,
            validation_data: Optional[tuple] = None, shuffle: bool = True, seed: Optional[int] = None,
            progress: bool = True) -> History:
        """Train with mini-batch gradient descent; every forward and BPTT in C++.

        Parameters
        ----------
        X : array_like, (T, N, I)
            Training sequences, time-major.
        y : array_like
            Targets, (T, N, O) or (N, O) (see the module docstring).
        epochs : int
            Passes over the data, >= 1.
        batch_size : int
            Sequences per gradient step, >= 1 (the last batch of an epoch may be smaller).
        optimizer : Optimizer, optional
            Default: a new ``Adam(lr=1e-3)`` for this call. Pass the same optimizer
            to later calls to keep its state (momentum, moments).
        clip_norm : float, optional
            Clip the global gradient norm to this value before each step
            (:func:`lstmfast.optim.clip_grad_norm`).
        mask : array_like, optional
            Which target elements count (the shape of ``y``, or without its last axis).
        validation_data : tuple (X_val, y_val) or (X_val, y_val, mask_val), optional
            Evaluated after every epoch.
        shuffle : bool
            Visit the sequences in a new random order every epoch.
        seed : int, optional
            Seed of the shuffling. A model built with the same ``seed`` and trained
            with the same data, arguments and ``seed`` ends with bit-identical
            parameters and history.
        progress : bool
            Show a tqdm progress bar (on stderr).

        Returns
        -------
        dict of str to list of float
            One value per epoch: ``"loss"`` (the mean training loss over the epoch's
            batches, weighted by their size, with the weights of the moment each
            batch was seen, as Keras reports it), ``"accuracy"`` (binary tasks:
            fraction of unmasked outputs with (ŷ > 0.5) == (y > 0.5)), and with
            ``validation_data`` also ``"val_loss"`` (and ``"val_accuracy"``),
            measured after the epoch.

        Raises
        ------
        FloatingPointError
            If the loss becomes NaN or infinite (try a smaller learning rate or
            ``clip_norm``).
        """
        X, y, mask = self._check_data(X, y, mask)
        epochs = _positive_int("epochs", epochs)
        batch_size = _positive_int("batch_size", batch_size)
        if optimizer is None:
            optimizer = Adam(lr=1e-3)
        elif not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"optimizer: expected an lstmfast.optim optimizer (with a step(params, grads) "
                            f"method), got {type(optimizer).__name__}")
        if clip_norm is not None:
            if isinstance(clip_norm, bool) or not isinstance(clip_norm, numbers.Real) \
                    or not (0 < clip_norm < math.inf):
                raise ValueError(f"clip_norm: expected None or a finite number > 0, got {clip_norm!r}")
        val = self._check_validation(validation_data)
        shuffle = _bool("shuffle", shuffle)
        progress = _bool("progress", progress)
        rng = np.random.default_rng(_seed(seed))

        N = X.shape[1]
        batches = -(-N // batch_size)
        history: History = {"loss": []}
        if self.task == "binary":
            history["accuracy"] = []
        if val is not None:
            history["val_loss"] = []
            if self.task == "binary":
                history["val_accuracy"] = []

        from tqdm import tqdm  # a runtime dependency; imported when training

        with tqdm(total=epochs * batches, unit="batch", disable=not progress, leave=True,
                  dynamic_ncols=True) as bar:
            for epoch in range(epochs):
                bar.set_description(f"epoch {epoch + 1}/{epochs}")
                order = rng.permutation(N) if shuffle else np.arange(N)
                loss_sum = count_sum = right = seen = 0.0
                for b in range(batches):
                    xb, yb, mb = self._batch(X, y, mask, order[b * batch_size:(b + 1) * batch_size])
                    total, count, grads, logits = self._train_batch(xb, yb, mb)
                    if not math.isfinite(total):
                        raise FloatingPointError(
                            f"fit: the loss became {total} at epoch {epoch + 1}, batch {b + 1}; "
                            f"lower the learning rate or pass clip_norm")
                    if clip_norm is not None:
                        clip_grad_norm(grads, clip_norm)
                    optimizer.step(self.parameters(), grads)
                    loss_sum += total
                    count_sum += count
                    if self.task == "binary":
                        r, s = self._correct(logits, yb, mb)
                        right, seen = right + r, seen + s
                    bar.update(1)
                    if progress:
                        bar.set_postfix(loss=f"{loss_sum / count_sum if count_sum else 0.0:.4g}",
                                        refresh=False)
                history["loss"].append(loss_sum / count_sum if count_sum else 0.0)
                if self.task == "binary":
                    history["accuracy"].append(right / seen if seen else math.nan)
                if val is not None:
                    scores = self._evaluate(*val, batch_size)
                    history["val_loss"].append(scores["loss"])
                    if self.task == "binary":
                        history["val_accuracy"].append(scores["accuracy"])
                if progress:
                    bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in history.items()})
        return history

    def _check_validation(self, validation_data: Any) -> Optional[tuple[Array, Array, Optional[Array]]]:
        if validation_data is None:
            return None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError("validation_data: expected a tuple (X_val, y_val) or (X_val, y_val, mask_val), "
                            f"got {type(validation_data).__name__}")
        X, y = validation_data[0], validation_data[1]
        mask = validation_data[2] if len(validation_data) == 3 else None
        return self._check_data(X, y, mask, prefix="validation_data: ")

    def predict(self, X: Any, batch_size: int = 256) -> Array:
        """Predictions: probabilities ŷ = σ(z) (binary) or values z (regression).

        Parameters
        ----------
        X : array_like, (T, N, I)
        batch_size : int
            Sequences per forward call (memory vs. speed; results do not depend on it).

        Returns
        -------
        numpy.ndarray
            (T, N, O) for ``output="per_step"``, (N, O) for ``output="last"``, in the
            model's dtype.
        """
        X = self._check_x(X)
        batch_size = _positive_int("batch_size", batch_size)
        N = X.shape[1]
        out = []
        for start in range(0, N, batch_size):
            logits, _, _ = self._forward(X[:, start:start + batch_size], training=False)
            out.append(losses.sigmoid(logits) if self.task == "binary" else logits)
        return np.concatenate(out, axis=1 if self.output == "per_step" else 0)

    def evaluate(self, X: Any, y: Any, mask: Any = None, batch_size: int = 256) -> dict[str, float]:
        """Loss (as :meth:`fit` defines it) and, for binary tasks, accuracy on a data set.

        Returns
        -------
        dict
            ``{"loss": float}`` plus ``"accuracy"`` for ``task="binary"``.
        """
        X, y, mask = self._check_data(X, y, mask)
        return self._evaluate(X, y, mask, _positive_int("batch_size", batch_size))

    def _evaluate(self, X: Array, y: Array, mask: Optional[Array], batch_size: int) -> dict[str, float]:
        loss_sum = count_sum = right = seen = 0.0
        for start in range(0, X.shape[1], batch_size):
            xb, yb, mb = self._batch(X, y, mask, slice(start, start + batch_size))
            logits, _, _ = self._forward(xb, training=False)
            total, _, count = self._loss_sum(logits, yb, mb)
            loss_sum += total
            count_sum += count
            if self.task == "binary":
                r, s = self._correct(logits, yb, mb)
                right, seen = right + r, seen + s
        scores = {"loss": loss_sum / count_sum if count_sum else 0.0}
        if self.task == "binary":
            scores["accuracy"] = right / seen if seen else math.nan
        return scores

    # -- files ----------------------------------------------------------------------

    def save(self, path: Union[str, os.PathLike]) -> pathlib.Path:
        """Write the model to an ``.npz`` file (no pickle); returns the path written.

        The file holds ``__format__`` ("lstmfast.SequenceModel"), ``__version__``
        (:data:`FORMAT_VERSION`), ``__config__`` (the architecture as JSON, see
        :attr:`config`) and every parameter as ``param.<name>``. ``.npz`` is
        appended to ``path`` if missing (as NumPy does).
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
        path = pathlib.Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = {_FORMAT_KEY: np.array(_FORMAT_NAME), _VERSION_KEY: np.array(FORMAT_VERSION, dtype=np.int64),
                  _CONFIG_KEY: np.array(json.dumps(self.config, sort_keys=True))}
        arrays.update({_PARAM_PREFIX + name: p for name, p in self.parameters().items()})
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "SequenceModel":
        """Read a model written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            No such file.
        ValueError
            With a one-line message, if the file is not a readable ``.npz``
            (corrupt or truncated), is not an lstmfast model, has a missing or
            unsupported format version, an invalid config, missing or extra arrays,
            or arrays of the wrong shape, dtype or with NaN/Inf.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
        where = os.fspath(path)
        contents = _read_npz(where)
        if _FORMAT_KEY not in contents or _scalar(contents[_FORMAT_KEY]) != _FORMAT_NAME:
            raise ValueError(f"{where}: not an lstmfast model file (no '{_FORMAT_KEY}' entry "
                             f"'{_FORMAT_NAME}')")
        if _VERSION_KEY not in contents:
            raise ValueError(f"{where}: the lstmfast model file has no format version ('{_VERSION_KEY}')")
        version = _scalar(contents[_VERSION_KEY])
        if isinstance(version, (bool, np.bool_)) or not isinstance(version, (int, np.integer)) \
                or version != FORMAT_VERSION:
            raise ValueError(f"{where}: format version {version!r} is not supported "
                             f"(this lstmfast reads version {FORMAT_VERSION})")
        if _CONFIG_KEY not in contents:
            raise ValueError(f"{where}: the lstmfast model file has no architecture config ('{_CONFIG_KEY}')")
        try:
            config = json.loads(_scalar(contents[_CONFIG_KEY]))
            if not isinstance(config, dict):
                raise ValueError(f"expected a JSON object, got {type(config).__name__}")
            expected = {"input_size", "hidden_size", "output_size", "cell", "output", "task",
                        "nonlinearity", "dtype"}
            if set(config) != expected:
                raise ValueError(f"expected the keys {sorted(expected)}, got {sorted(config)}")
            model = cls(**config)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: invalid architecture config ({_one_line(err)})") from None

        params = {k[len(_PARAM_PREFIX):]: v for k, v in contents.items() if k.startswith(_PARAM_PREFIX)}
        other = sorted(k for k in contents if not k.startswith(_PARAM_PREFIX)
                       and k not in (_FORMAT_KEY, _VERSION_KEY, _CONFIG_KEY))
        own = model.parameters()
        missing = sorted(set(own) - set(params))
        extra = sorted(set(params) - set(own)) + other
        if missing or extra:
            raise ValueError(f"{where}: the arrays do not match the config: missing {missing}, unexpected {extra}")
        for name, value in params.items():
            if value.shape != own[name].shape:
                raise ValueError(f"{where}: {name}: expected shape {own[name].shape}, got {value.shape}")
            if value.dtype != model.dtype:
                raise ValueError(f"{where}: {name}: expected dtype {model.dtype} (from the config), "
                                 f"got {value.dtype}")
            if not np.isfinite(value).all():
                raise ValueError(f"{where}: {name}: contains NaN or infinite values")
        model.load_state_dict(params)
        return model


# --------------------------------------------------------------------------- helpers


def _to_numpy(value: Any) -> Any:
    """torch.Tensor -> ndarray without importing torch."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _scalar(arr: np.ndarray) -> Any:
    """The Python value of a 0-d array, or None for anything else."""
    return arr.item() if isinstance(arr, np.ndarray) and arr.ndim == 0 else None


def _read_npz(where: str) -> dict[str, np.ndarray]:
    """Every array of an .npz file, read eagerly (so a corrupt member fails here)."""
    if not os.path.exists(where):
        raise FileNotFoundError(f"{where}: no such file")
    if os.path.isdir(where):
        raise ValueError(f"{where}: is a directory, not an lstmfast model file")
    try:
        # Our own file object: np.load would leak the one it opens if the zip is corrupt.
        with open(where, "rb") as fid:
            data = np.load(fid, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                with data:
                    return {name: data[name] for name in data.files}
    except Exception as err:  # zipfile.BadZipFile, zlib.error, EOFError, pickled data, ...
        raise ValueError(f"{where}: not a readable .npz file ({_one_line(err)})") from None
    raise ValueError(f"{where}: not an lstmfast model file (a single .npy array, not an .npz archive)")
