r"""A small trainable model: stacked LSTM, GRU or RNN layers plus a dense output head.

:class:`SequenceModel` is the whole recipe of the course in one object::

    a<t>  = LSTM, GRU or RNN layers (one or more, stacked)  over x<0..T-1>
    z<t>  = W_y a<t> + b_y                                   the dense head
    ŷ<t>  = σ(z<t>) (binary), softmax(z<t>) (multiclass) or z<t> (regression)

with a prediction at every step (``output="per_step"``, the course's ŷ<t>;
sequence labelling) or only from the last step (``output="last"``: sequence
classification, or forecasting the next value, or the next ``output_size``
values, from a window).

Every forward pass and every backpropagation through time runs in the C++ fast
path (:func:`lstmfast.layers.stack_forward`); the head, the loss and the
optimizer are NumPy. Layers are stacked with a Python loop over *layers*, never
over time steps. The losses are those of :mod:`lstmfast.training.tasks`;
training is :mod:`lstmfast.training.loop` (callbacks, checkpoints, streamed
batches); the file format is :mod:`lstmfast.training.checkpoint`.

Shapes
------
Inputs are time-major, ``X`` (T, N, I). Targets are (T, N, O) for
``output="per_step"`` and (N, O) for ``output="last"``; when O = 1 the last axis
may be left out ((T, N) or (N,)), and multiclass targets may be class indices of
that shape instead of one-hot rows. :meth:`~SequenceModel.predict` returns the
(T, N, O) or (N, O) predictions.

Variable lengths: ``lengths`` (N,) right-padded sequences; the kernels skip the
padding (no padded step is computed), per-step losses ignore it, and
``output="last"`` reads each sequence's own last step.

Example
-------
::

    from lstmfast.training import Adam, SequenceModel

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

import math
import os
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import _checks, cells
from ..layers import LAYERS, Layer, Level, StackTape, parameter_names, stack_backward, stack_forward
from ..layers import parameter_shapes as parameter_shapes_of_layers
from . import checkpoint, data, losses
from . import loop as _loop
from .checkpoint import FORMAT_VERSION
from .tasks import TASKS, Scores, Task, task

__all__ = ["FORMAT_VERSION", "OUTPUTS", "SequenceModel", "architecture", "parameter_shapes"]

OUTPUTS = ("per_step", "last")

Array = np.ndarray[Any, Any]
Grads = dict[str, Array]
History = dict[str, list[float]]


def _hidden_sizes(hidden_size: Any) -> list[int]:
    if isinstance(hidden_size, (list, tuple)):
        if not hidden_size:
            raise ValueError("hidden_size: expected a positive int or a non-empty list of them, got []")
        return [_checks.positive_int(f"hidden_size[{k}]", h) for k, h in enumerate(hidden_size)]
    return [_checks.positive_int("hidden_size", hidden_size)]


def architecture(
    input_size: Any,
    hidden_size: Any,
    output_size: Any = 1,
    *,
    cell: Any = "lstm",
    output: Any = "per_step",
    task: Any = "binary",
    loss: Any = None,
    nonlinearity: Any = None,
    forget_bias: Any = None,
    batch_first: Any = False,
    bidirectional: Any = False,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """The arguments of :class:`SequenceModel` checked and normalised, as its
    ``config`` (JSON-serialisable), without building anything."""
    kind = cells.get(cell)
    if nonlinearity is not None and not kind.nonlinearities:
        raise ValueError(f"nonlinearity: only for cell='rnn' (the {kind.title}'s is fixed), got {nonlinearity!r}")
    if forget_bias is not None:
        if "f" not in kind.gate_names:
            raise ValueError(f"forget_bias: only for cell='lstm' (the {kind.title} has no forget gate)")
        forget_bias = _checks.real("forget_bias", forget_bias)
    task_name = _checks.choice("task", task, tuple(TASKS))
    loss = TASKS[task_name][0] if loss is None else _checks.choice("loss", loss, TASKS[task_name])
    output_size = _checks.positive_int("output_size", output_size)
    if task_name == "multiclass" and output_size < 2:
        raise ValueError(f"output_size: a multiclass model needs output_size >= 2 classes, got {output_size}")
    return {
        "input_size": _checks.positive_int("input_size", input_size),
        "hidden_size": _hidden_sizes(hidden_size),
        "output_size": output_size,
        "cell": kind.name,
        "output": _checks.choice("output", output, OUTPUTS),
        "task": task_name,
        "loss": loss,
        "nonlinearity": _checks.check_nonlinearity(nonlinearity or "tanh") if kind.nonlinearities else None,
        "forget_bias": forget_bias,
        "batch_first": _checks.flag("batch_first", batch_first),
        "bidirectional": _checks.flag("bidirectional", bidirectional),
        "dtype": _checks.float_dtype(dtype).name,
    }


def parameter_shapes(config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of ``SequenceModel(**config)``, in
    order, without allocating them (``config`` is checked like the constructor's
    arguments)."""
    c = architecture(**config)
    hidden, D = c["hidden_size"], 2 if c["bidirectional"] else 1
    inputs = [c["input_size"], *(D * h for h in hidden[:-1])]
    layers = parameter_shapes_of_layers(cells.get(c["cell"]), inputs, hidden, directions=D)
    shapes = {f"{c['cell']}.{name}": shape for name, shape in layers.items()}
    shapes.update({"head.weight": (c["output_size"], D * hidden[-1]), "head.bias": (c["output_size"],)})
    return shapes


class SequenceModel:
    r"""One or more LSTM, GRU or RNN layers and a dense head, trained with the C++ BPTT.

    Parameters
    ----------
    input_size : int
        I, features per time step.
    hidden_size : int or list of int
        H of each recurrent layer; a list stacks layers (the first reads x, each
        next one reads the previous one's hidden states).
    output_size : int, default 1
        O, outputs of the head per step: independent sigmoids (binary), the classes
        (multiclass) or values (regression; e.g. the next O values of a series).
    cell : {"lstm", "gru", "rnn"}, keyword-only
        Layer type (``lstmfast.LSTM``, ``lstmfast.GRU`` or the vanilla ``lstmfast.RNN``).
    output : {"per_step", "last"}
        A prediction at every time step, or only from the last one.
    task : {"binary", "multiclass", "regression"}
        See :mod:`lstmfast.training.tasks`.
    loss : str or None
        The task's loss: "bce" (binary), "cross_entropy" (multiclass), "mse" or
        "huber" (regression); None: the first of these for the task.
    nonlinearity : {"tanh", "relu"} or None
        For ``cell="rnn"`` only (default "tanh").
    forget_bias : float or None
        For ``cell="lstm"`` only: start every layer's forget gate at this bias
        (``bias_ih``'s forget block; ``bias_hh``'s is 0), e.g. 1 to 3, so that Γf
        starts near σ(forget_bias) and the cell state (and its gradient) is kept
        over long spans from the first epoch. None: PyTorch's initialisation.
    batch_first : bool
        Inputs (N, T, I) and per-step targets and predictions (N, T, O), as Keras
        lays them out; time-major (T, N, ...) otherwise.
    bidirectional : bool
        Every layer also reads each sequence backwards and outputs both
        directions' states (2H features). With ``output="last"`` the head reads
        the forward direction's state after each sequence's last real step and
        the backward direction's after it has read the whole sequence (at t = 0),
        as Keras' ``Bidirectional(return_sequences=False)``.
    dtype : float32 (default) or float64
        Of every parameter and computation. Inputs are converted to it.
    seed : int or None
        Seed of the initialisation (PyTorch's: uniform on ±1/sqrt(H) for every
        layer and the head). Same seed, same weights.

    Attributes
    ----------
    layers : list of LSTM, GRU or RNN
        The recurrent layers, input side first (their parameters are the model's).
    stop_training : bool
        A callback sets it to end :meth:`fit` after the current epoch.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int | list[int],
        output_size: int = 1,
        *,
        cell: str = "lstm",
        output: str = "per_step",
        task: str = "binary",
        loss: str | None = None,
        nonlinearity: str | None = None,
        forget_bias: float | None = None,
        batch_first: bool = False,
        bidirectional: bool = False,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        config = architecture(
            input_size,
            hidden_size,
            output_size,
            cell=cell,
            output=output,
            task=task,
            loss=loss,
            nonlinearity=nonlinearity,
            forget_bias=forget_bias,
            batch_first=batch_first,
            bidirectional=bidirectional,
            dtype=dtype,
        )
        self.input_size: int = config["input_size"]
        self.hidden_sizes: list[int] = config["hidden_size"]
        self.output_size: int = config["output_size"]
        self.cell: str = config["cell"]
        self.output: str = config["output"]
        self.task: str = config["task"]
        self.loss: str = config["loss"]
        self.nonlinearity: str | None = config["nonlinearity"]
        self.forget_bias: float | None = config["forget_bias"]
        self.batch_first: bool = config["batch_first"]
        self.bidirectional: bool = config["bidirectional"]
        self.dtype = np.dtype(config["dtype"])
        self.stop_training = False
        rng = np.random.default_rng(_checks.seed(seed))

        self.layers: list[Layer] = []
        self._names: list[dict[str, str]] = []  # per layer: the layer's name -> the model's name
        in_size = self.input_size
        for k, h in enumerate(self.hidden_sizes):
            layer = LAYERS[self.cell](
                in_size,
                h,
                dtype=self.dtype,
                seed=int(rng.integers(2**63)),
                nonlinearity=self.nonlinearity,
                forget_bias=self.forget_bias,
                bidirectional=self.bidirectional,
            )
            self.layers.append(layer)
            self._names.append({name: f"{self.cell}.{name.replace('_l0', f'_l{k}')}" for name in layer.parameters()})
            in_size = layer.directions * h
        # Where each layer parameter's gradient is in stack_backward's result:
        # (level, direction, functional key) -> the model's name, in the order of parameters().
        self._gradient_names: dict[tuple[int, int, str], str] = {}
        for k, (layer, names) in enumerate(zip(self.layers, self._names)):
            where = {
                own: (k, d, key) for d in range(layer.directions) for key, own in parameter_names(0, bool(d)).items()
            }
            self._gradient_names.update({where[own]: name for own, name in names.items()})
        H, O = in_size, self.output_size
        scale = 1.0 / math.sqrt(H)  # like torch.nn.Linear
        self._head = {
            "head.weight": rng.uniform(-scale, scale, (O, H)).astype(self.dtype),
            "head.bias": rng.uniform(-scale, scale, O).astype(self.dtype),
        }

    # -- parameters ---------------------------------------------------------------

    def parameters(self) -> dict[str, Array]:
        """The live parameter arrays by name (an optimizer updates them in place).

        Layer k's are ``"{cell}.weight_ih_l{k}"``, ``"{cell}.weight_hh_l{k}"``,
        ``"{cell}.bias_ih_l{k}"``, ``"{cell}.bias_hh_l{k}"`` (and, bidirectional,
        the same with ``_reverse``: PyTorch's names); the head's are
        ``"head.weight"`` (O, D*H) and ``"head.bias"`` (O,).
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
        Values are copied into the parameter arrays; nothing is changed if any
        check fails.
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
            value = _checks.array(name, state_dict[name], kinds="fiu")
            if value.shape != p.shape:
                raise ValueError(f"{name}: expected shape {p.shape}, got {value.shape}")
            values[name] = value
        for name, p in own.items():
            np.copyto(p, values[name], casting="unsafe")

    @property
    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p in self.parameters().values())

    @property
    def config(self) -> dict[str, Any]:
        """The architecture, JSON-serialisable: ``SequenceModel(**model.config)`` rebuilds it."""
        return {
            "input_size": self.input_size,
            "hidden_size": list(self.hidden_sizes),
            "output_size": self.output_size,
            "cell": self.cell,
            "output": self.output,
            "task": self.task,
            "loss": self.loss,
            "nonlinearity": self.nonlinearity,
            "forget_bias": self.forget_bias,
            "batch_first": self.batch_first,
            "bidirectional": self.bidirectional,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        hidden = self.hidden_sizes[0] if len(self.hidden_sizes) == 1 else self.hidden_sizes
        extra = f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity is not None else ""
        extra += f", forget_bias={self.forget_bias}" if self.forget_bias is not None else ""
        extra += f", loss={self.loss!r}" if self.loss != TASKS[self.task][0] else ""
        extra += ", bidirectional=True" if self.bidirectional else ""
        return (
            f"SequenceModel(input_size={self.input_size}, hidden_size={hidden}, "
            f"output_size={self.output_size}, cell={self.cell!r}{extra}, output={self.output!r}, "
            f"task={self.task!r}, dtype={self.dtype.name})"
        )

    # -- data ---------------------------------------------------------------------

    def check_inputs(self, X: Any, name: str = "X") -> Array:
        """``X`` checked and converted: (T, N, I), time-major, in the model's dtype
        (given as (N, T, I) when ``batch_first``)."""
        return data.inputs(name, X, self.input_size, self.dtype, self.batch_first)

    def target_shape(self, T: int, N: int) -> tuple[tuple[int, ...], str]:
        """The shape of the targets of T steps of N sequences as the caller gives them
        (batch-first too when ``batch_first``), and its symbolic form."""
        if self.output == "last":
            return (N, self.output_size), "(N, O)"
        if self.batch_first:
            return (N, T, self.output_size), "(N, T, O)"
        return (T, N, self.output_size), "(T, N, O)"

    def _time_major(self, arr: Array | None) -> Array | None:
        """Per-step targets or masks given batch-first, as the loss takes them."""
        if arr is None or not (self.batch_first and self.output == "per_step"):
            return arr
        return np.ascontiguousarray(arr.swapaxes(0, 1))

    def check_targets(self, y: Any, T: int, N: int, name: str = "y") -> Array:
        """``y`` checked and converted (multiclass: to one-hot rows), time-major."""
        shape, layout = self.target_shape(T, N)
        hint = (" (T and N from X)" if self.output == "per_step" else " (N from X)") + f" for output={self.output!r}"
        checked = self._time_major(data.targets(name, y, self._task(), shape, layout, hint, self.dtype))
        assert checked is not None
        return checked

    def check_lengths(self, lengths: Any, T: int, N: int, name: str = "lengths") -> Array | None:
        """None, or int64 (N,) with every length in [1, T]."""
        return _checks.check_lengths(lengths, T, N)

    def _task(self, class_weight: Array | None = None) -> Task:
        return task(self.task, self.loss, class_weight)

    def _check_data(
        self, X: Any, y: Any, mask: Any, lengths: Any = None, prefix: str = ""
    ) -> tuple[Array, Array, Array | None, Array | None]:
        X = self.check_inputs(X, prefix + "X")
        T, N = X.shape[:2]
        shape, layout = self.target_shape(T, N)
        return (
            X,
            self.check_targets(y, T, N, prefix + "y"),
            self._time_major(data.mask(prefix + "mask", mask, shape, layout, self.dtype)),
            self.check_lengths(lengths, T, N, prefix + "lengths"),
        )

    # -- forward, loss, backward ---------------------------------------------------

    def levels(self) -> list[Level]:
        """The recurrent layers as :func:`~lstmfast.layers.stack_forward` runs them."""
        return [level for layer in self.layers for level in layer.levels()]

    def _forward(self, x: Array, training: bool, lengths: Array | None = None) -> tuple[Array, Array, StackTape | None]:
        """``logits, features, tape``: features are what the head reads."""
        h, _, tape = stack_forward(self.levels(), x, training=training, lengths=lengths)  # C++, whole sequences
        if self.output == "per_step":
            features = h
        elif lengths is None and not self.bidirectional:
            features = h[-1]  # a view, (B, H) and contiguous
        else:  # each sequence's own last step (and, bidirectional, the backward direction's first)
            features = h[self._last_steps(h.shape[0], lengths), np.arange(h.shape[1])]
            if self.bidirectional:
                H = self.hidden_sizes[-1]
                features[:, H:] = h[0, :, H:]
        logits = losses._dense(features, self._head["head.weight"], self._head["head.bias"])
        return logits, features, tape

    def _backward(self, dlogits: Array, features: Array, tape: StackTape, lengths: Array | None = None) -> Grads:
        dfeatures, dw, db = losses._dense_gradients(features, self._head["head.weight"], dlogits)
        if self.output == "per_step":
            dy = dfeatures
        else:  # only the last step feeds the head
            T, B = tape.shape
            dy = np.zeros((T, B, dfeatures.shape[-1]), dtype=self.dtype)
            if lengths is None and not self.bidirectional:
                dy[-1] = dfeatures
            elif self.bidirectional:
                H = self.hidden_sizes[-1]
                dy[self._last_steps(T, lengths), np.arange(B), :H] = dfeatures[:, :H]
                dy[0, :, H:] = dfeatures[:, H:]
            else:
                dy[self._last_steps(T, lengths), np.arange(B)] = dfeatures
        g = stack_backward(self.levels(), tape, dy, input_gradient=False)  # BPTT in C++; the data need no gradient
        grads: Grads = {}
        for (k, d, key), name in self._gradient_names.items():
            value = g.weights[k][d].get(key)
            if value is not None:
                grads[name] = value
        grads.update({"head.weight": dw, "head.bias": db})
        return grads

    @staticmethod
    def _last_steps(T: int, lengths: Array | None) -> Any:
        """The index of each sequence's last real step."""
        return T - 1 if lengths is None else lengths - 1

    def _loss_mask(self, mask: Array | None, lengths: Array | None, T: int) -> Array | None:
        """The mask of the loss: ``mask`` and, per step, the real steps of each sequence."""
        if lengths is None or self.output == "last":
            return mask
        real = (np.arange(T)[:, None] < lengths[None, :])[..., None].astype(self.dtype)  # (T, N, 1)
        return real if mask is None else mask * real

    def _train_batch(
        self,
        x: Array,
        y: Array,
        mask: Array | None,
        lengths: Array | None = None,
        task: Task | None = None,
        mean: bool = True,
    ) -> tuple[float, float, Grads, Array, Array | None]:
        """``total, count, grads, logits, mask``: the gradient of the mean loss
        (``mean=False``: of the summed loss, for data-parallel steps)."""
        logits, features, tape = self._forward(x, True, lengths)
        assert tape is not None
        mask = self._loss_mask(mask, lengths, x.shape[0])
        total, dlogits, count = (task or self._task()).loss(logits, y, mask)
        if mean:
            dlogits = dlogits * self.dtype.type(1.0 / count if count > 0 else 0.0)
        grads = self._backward(dlogits, features, tape, lengths)
        return total, count, grads, logits, mask

    def loss_and_gradients(self, X: Any, y: Any, mask: Any = None, lengths: Any = None) -> tuple[float, Grads]:
        """The loss on one batch and its gradient for every parameter (one forward + BPTT).

        Parameters
        ----------
        X : array_like, (T, N, I)
        y : array_like, (T, N, O) or (N, O) (see the module docstring)
        mask : array_like or None
            The shape of ``y``, or without its last axis.
        lengths : array_like of int (N,) or None

        Returns
        -------
        loss : float
            What :meth:`fit` minimises (see :mod:`lstmfast.training.tasks`).
        grads : dict of str to numpy.ndarray
            dL/dp for every name of :meth:`parameters`, in the model's dtype.
        """
        X, y, mask, lengths = self._check_data(X, y, mask, lengths)
        total, count, grads, _, _ = self._train_batch(X, y, mask, lengths)
        return (total / count if count > 0 else 0.0), grads

    # -- training and inference ----------------------------------------------------

    fit = _loop.fit  # the training loop, as a method: model.fit(X, y, epochs=..., ...)

    def predict(self, X: Any, batch_size: int = 256, lengths: Any = None) -> Array:
        """Predictions: probabilities ŷ = σ(z) (binary), class probabilities
        softmax(z) (multiclass) or values z (regression).

        Parameters
        ----------
        X : array_like, (T, N, I)
        batch_size : int
            Sequences per forward call (memory vs. speed; results do not depend on it).
        lengths : array_like of int (N,) or None
            Right-padded sequences: outputs past each end are those of a zero state
            (``per_step``), and ``last`` reads each sequence's own last step.

        Returns
        -------
        numpy.ndarray
            (T, N, O) for ``output="per_step"``, (N, O) for ``output="last"``, in the
            model's dtype.
        """
        X = self.check_inputs(X)
        lengths = self.check_lengths(lengths, X.shape[0], X.shape[1])
        batch_size = _checks.positive_int("batch_size", batch_size)
        out = []
        for start in range(0, X.shape[1], batch_size):
            part = slice(start, start + batch_size)
            logits, _, _ = self._forward(X[:, part], False, None if lengths is None else lengths[part])
            out.append(self._task().predict(logits))
        if self.output == "last":
            return np.concatenate(out, axis=0)
        predictions = np.concatenate(out, axis=1)
        return np.ascontiguousarray(predictions.swapaxes(0, 1)) if self.batch_first else predictions

    def evaluate(
        self, X: Any, y: Any, mask: Any = None, batch_size: int = 256, lengths: Any = None
    ) -> dict[str, float]:
        """Loss (as :meth:`fit` defines it, without class weights) and, for classification
        tasks, accuracy on a data set.

        Returns
        -------
        dict
            ``{"loss": float}`` plus ``"accuracy"`` for binary and multiclass tasks.
        """
        X, y, mask, lengths = self._check_data(X, y, mask, lengths)
        return self._evaluate(X, y, mask, lengths, _checks.positive_int("batch_size", batch_size))

    def _evaluate(
        self, X: Array, y: Array, mask: Array | None, lengths: Array | None, batch_size: int
    ) -> dict[str, float]:
        return self._scores(X, y, mask, lengths, batch_size).result()

    def _scores(self, X: Array, y: Array, mask: Array | None, lengths: Array | None, batch_size: int) -> Scores:
        task_ = self._task()
        scores = Scores(task_)
        for start in range(0, X.shape[1], batch_size):
            part = slice(start, start + batch_size)
            xb, yb, mb, lb = data.select(self.output, X, y, mask, lengths, part)
            logits, _, _ = self._forward(xb, False, lb)
            mb = self._loss_mask(mb, lb, xb.shape[0])
            total, _, count = task_.loss(logits, yb, mb)
            scores.add(total, count, logits, yb, mb)
        return scores

    # -- files ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Write the model to an ``.npz`` file (no pickle); returns the path written.

        See :mod:`lstmfast.training.checkpoint` for the format; ``.npz`` is
        appended to ``path`` if missing (as NumPy does).
        """
        return checkpoint.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SequenceModel:
        """Read a model written by :meth:`save` (or a training checkpoint; see
        :func:`lstmfast.training.checkpoint.load`)."""
        return checkpoint.load(path)
