r"""A small trainable model: stacked LSTM, GRU or RNN layers plus a dense output head.

:class:`SequenceModel` is the whole recipe of the course in one object::

    a<t>  = LSTM, GRU or RNN layers (one or more, stacked)  over x<0..T-1>
    z<t>  = W_y a<t> + b_y                                   the dense head
    ŷ<t>  = σ(z<t>)  (task="binary")   or   z<t>  (task="regression")

with a prediction at every step (``output="per_step"``, the course's ŷ<t>) or
only from the last step (``output="last"``: sequence classification, or
forecasting the next value from a window).

Every forward pass and every backpropagation through time runs in the C++ fast
path (:func:`lstmfast.layers.stack_forward`); the head, the loss and the
optimizer are NumPy. Layers are stacked with a Python loop over *layers*, never
over time steps.

The loss (see :mod:`lstmfast.training.tasks`)
---------------------------------------------
* ``task="binary"``: binary cross-entropy of ŷ = σ(z), computed from the logits,
  **summed over time steps** (and outputs) for each sequence, then averaged over
  the sequences of the batch: ``L = (1/N) Σ_n Σ_t Σ_o mask·BCE``. This is the
  course's ``L = Σ_t L<t>`` per sequence. With ``output="last"`` only the last
  step counts.
* ``task="regression"``: mean squared error over all (unmasked) elements.

A ``mask`` (same shape as the targets, or without their last axis) selects or
weights the elements that count, e.g. only the verb position in the
plural-cats task (:mod:`lstmfast.datasets.agreement`).

Shapes
------
Inputs are time-major, ``X`` (T, N, I). Targets are (T, N, O) for
``output="per_step"`` and (N, O) for ``output="last"``; when O = 1 the last axis
may be left out ((T, N) or (N,)). :meth:`~SequenceModel.predict` returns the same
shapes (always with the O axis).

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
from .checkpoint import FORMAT_VERSION
from .optim import Adam, Optimizer, clip_grad_norm
from .tasks import TASKS, Scores

__all__ = ["FORMAT_VERSION", "OUTPUTS", "SequenceModel"]

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
    nonlinearity: Any = None,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """The arguments of :class:`SequenceModel` checked and normalised, as its
    ``config`` (JSON-serialisable), without building anything."""
    kind = cells.get(cell)
    if nonlinearity is not None and not kind.nonlinearities:
        raise ValueError(f"nonlinearity: only for cell='rnn' (the {kind.title}'s is fixed), got {nonlinearity!r}")
    return {
        "input_size": _checks.positive_int("input_size", input_size),
        "hidden_size": _hidden_sizes(hidden_size),
        "output_size": _checks.positive_int("output_size", output_size),
        "cell": kind.name,
        "output": _checks.choice("output", output, OUTPUTS),
        "task": _checks.choice("task", task, tuple(TASKS)),
        "nonlinearity": _checks.check_nonlinearity(nonlinearity or "tanh") if kind.nonlinearities else None,
        "dtype": _checks.float_dtype(dtype).name,
    }


def parameter_shapes(config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of ``SequenceModel(**config)``, in
    order, without allocating them (``config`` is checked like the constructor's
    arguments)."""
    c = architecture(**config)
    hidden = c["hidden_size"]
    layers = parameter_shapes_of_layers(cells.get(c["cell"]), [c["input_size"], *hidden[:-1]], hidden)
    shapes = {f"{c['cell']}.{name}": shape for name, shape in layers.items()}
    shapes.update({"head.weight": (c["output_size"], hidden[-1]), "head.bias": (c["output_size"],)})
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
        O, outputs of the head per step (binary: independent sigmoids).
    cell : {"lstm", "gru", "rnn"}, keyword-only
        Layer type (``lstmfast.LSTM``, ``lstmfast.GRU`` or the vanilla ``lstmfast.RNN``).
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
    layers : list of LSTM, GRU or RNN
        The recurrent layers, input side first (their parameters are the model's).
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
        nonlinearity: str | None = None,
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
            nonlinearity=nonlinearity,
            dtype=dtype,
        )
        self.input_size: int = config["input_size"]
        self.hidden_sizes: list[int] = config["hidden_size"]
        self.output_size: int = config["output_size"]
        self.cell: str = config["cell"]
        self.output: str = config["output"]
        self.task: str = config["task"]
        self.nonlinearity: str | None = config["nonlinearity"]
        self.dtype = np.dtype(config["dtype"])
        kind = cells.get(self.cell)
        rng = np.random.default_rng(_checks.seed(seed))

        self.layers: list[Layer] = []
        self._names: list[dict[str, str]] = []  # per layer: the layer's name -> the model's name
        in_size = self.input_size
        for k, h in enumerate(self.hidden_sizes):
            layer = LAYERS[kind.name](
                in_size, h, dtype=self.dtype, seed=int(rng.integers(2**63)), nonlinearity=self.nonlinearity
            )
            self.layers.append(layer)
            self._names.append({name: f"{self.cell}.{name[: -len('_l0')]}_l{k}" for name in layer.parameters()})
            in_size = h
        H, O = self.hidden_sizes[-1], self.output_size
        scale = 1.0 / math.sqrt(H)  # like torch.nn.Linear
        self._head = {
            "head.weight": rng.uniform(-scale, scale, (O, H)).astype(self.dtype),
            "head.bias": rng.uniform(-scale, scale, O).astype(self.dtype),
        }

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
            "nonlinearity": self.nonlinearity,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        hidden = self.hidden_sizes[0] if len(self.hidden_sizes) == 1 else self.hidden_sizes
        extra = f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity is not None else ""
        return (
            f"SequenceModel(input_size={self.input_size}, hidden_size={hidden}, "
            f"output_size={self.output_size}, cell={self.cell!r}{extra}, output={self.output!r}, "
            f"task={self.task!r}, dtype={self.dtype.name})"
        )

    # -- data ---------------------------------------------------------------------

    def check_inputs(self, X: Any, name: str = "X") -> Array:
        """``X`` checked and converted: (T, N, I) in the model's dtype."""
        return data.inputs(name, X, self.input_size, self.dtype)

    def target_shape(self, T: int, N: int) -> tuple[tuple[int, ...], str]:
        """The shape of the targets of T steps of N sequences, and its symbolic form."""
        if self.output == "per_step":
            return (T, N, self.output_size), "(T, N, O)"
        return (N, self.output_size), "(N, O)"

    def check_targets(self, y: Any, T: int, N: int, name: str = "y") -> Array:
        """``y`` checked and converted to :meth:`target_shape`."""
        shape, layout = self.target_shape(T, N)
        hint = (" (T and N from X)" if self.output == "per_step" else " (N from X)") + f" for output={self.output!r}"
        arr = data.targets(name, y, shape, layout, hint, self.dtype)
        TASKS[self.task].check_targets(name, arr)
        return arr

    def _check_data(self, X: Any, y: Any, mask: Any, prefix: str = "") -> tuple[Array, Array, Array | None]:
        X = self.check_inputs(X, prefix + "X")
        T, N = X.shape[:2]
        shape, layout = self.target_shape(T, N)
        return (
            X,
            self.check_targets(y, T, N, prefix + "y"),
            data.mask(prefix + "mask", mask, shape, layout, self.dtype),
        )

    def _batch(
        self, X: Array, y: Array | None, mask: Array | None, idx: Any
    ) -> tuple[Array, Array | None, Array | None]:
        """The sequences ``idx`` (a slice or indices) of X, y and mask."""
        pick = (slice(None), idx) if self.output == "per_step" else (idx,)  # where N is in y and mask
        return (X[:, idx], None if y is None else y[pick], None if mask is None else mask[pick])

    # -- forward, loss, backward ---------------------------------------------------

    def levels(self) -> list[Level]:
        """The recurrent layers as :func:`~lstmfast.layers.stack_forward` runs them."""
        return [level for layer in self.layers for level in layer.levels()]

    def _forward(self, x: Array, training: bool) -> tuple[Array, Array, StackTape | None]:
        """``logits, features, tape``: features are what the head reads."""
        h, _, tape = stack_forward(self.levels(), x, training=training)  # C++, whole sequences
        features = h if self.output == "per_step" else h[-1]
        logits = losses.dense_forward(features, self._head["head.weight"], self._head["head.bias"])
        return logits, features, tape

    def _backward(self, dlogits: Array, features: Array, tape: StackTape) -> Grads:
        dfeatures, dw, db = losses.dense_backward(features, self._head["head.weight"], dlogits)
        if self.output == "per_step":
            dy = dfeatures
        else:  # only the last step feeds the head
            dy = np.zeros((tape.shape[0], *dfeatures.shape), dtype=self.dtype)
            dy[-1] = dfeatures
        g = stack_backward(self.levels(), tape, dy)  # BPTT in C++
        grads: Grads = {}
        own = parameter_names(0)  # each layer is a one-layer stack of its own
        for k, names in enumerate(self._names):
            for key, value in g.weights[k][0].items():
                if value is not None:
                    grads[names[own[key]]] = value
        grads.update({"head.weight": dw, "head.bias": db})
        return {name: grads[name] for name in self.parameters()}

    def _train_batch(self, x: Array, y: Array, mask: Array | None) -> tuple[float, float, Grads, Array]:
        logits, features, tape = self._forward(x, training=True)
        assert tape is not None
        total, dlogits, count = TASKS[self.task].loss(logits, y, mask)
        scale = 1.0 / count if count > 0 else 0.0
        grads = self._backward(dlogits * self.dtype.type(scale), features, tape)
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

    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 1,
        batch_size: int = 32,
        *,
        optimizer: Optimizer | None = None,
        clip_norm: float | None = None,
        mask: Any = None,
        validation_data: tuple[Any, ...] | None = None,
        shuffle: bool = True,
        seed: int | None = None,
        progress: bool = True,
    ) -> History:
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
            (:func:`lstmfast.training.clip_grad_norm`).
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
        epochs = _checks.positive_int("epochs", epochs)
        batch_size = _checks.positive_int("batch_size", batch_size)
        if optimizer is None:
            optimizer = Adam(lr=1e-3)
        elif not callable(getattr(optimizer, "step", None)):
            raise TypeError(
                f"optimizer: expected an lstmfast.training optimizer (with a step(params, grads) "
                f"method), got {type(optimizer).__name__}"
            )
        if clip_norm is not None:
            clip_norm = _checks.positive_real("clip_norm", clip_norm, what="None or a finite number > 0")
        val = self._check_validation(validation_data)
        shuffle = _checks.flag("shuffle", shuffle)
        progress = _checks.flag("progress", progress)
        rng = np.random.default_rng(_checks.seed(seed))
        task = TASKS[self.task]

        N = X.shape[1]
        batches = -(-N // batch_size)
        names = ["loss", *task.metrics]
        history: History = {name: [] for name in names + ([f"val_{n}" for n in names] if val else [])}

        from tqdm import tqdm  # a runtime dependency; imported when training

        with tqdm(total=epochs * batches, unit="batch", disable=not progress, leave=True, dynamic_ncols=True) as bar:
            for epoch in range(epochs):
                bar.set_description(f"epoch {epoch + 1}/{epochs}")
                order = rng.permutation(N) if shuffle else np.arange(N)
                scores = Scores(task)
                for b in range(batches):
                    xb, yb, mb = self._batch(X, y, mask, order[b * batch_size : (b + 1) * batch_size])
                    assert yb is not None
                    total, count, grads, logits = self._train_batch(xb, yb, mb)
                    if not math.isfinite(total):
                        raise FloatingPointError(
                            f"fit: the loss became {total} at epoch {epoch + 1}, batch {b + 1}; "
                            f"lower the learning rate or pass clip_norm"
                        )
                    if clip_norm is not None:
                        clip_grad_norm(grads, clip_norm)  # type: ignore[arg-type]
                    optimizer.step(self.parameters(), grads)
                    scores.add(total, count, logits, yb, mb)
                    bar.update(1)
                    if progress:
                        bar.set_postfix(loss=f"{scores.loss:.4g}", refresh=False)
                for name, value in scores.result().items():
                    history[name].append(value)
                if val is not None:
                    for name, value in self._evaluate(*val, batch_size).items():
                        history["val_" + name].append(value)
                if progress:
                    bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in history.items()})
        return history

    def _check_validation(self, validation_data: Any) -> tuple[Array, Array, Array | None] | None:
        if validation_data is None:
            return None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError(
                "validation_data: expected a tuple (X_val, y_val) or (X_val, y_val, mask_val), "
                f"got {type(validation_data).__name__}"
            )
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
        X = self.check_inputs(X)
        batch_size = _checks.positive_int("batch_size", batch_size)
        task = TASKS[self.task]
        out = []
        for start in range(0, X.shape[1], batch_size):
            logits, _, _ = self._forward(X[:, start : start + batch_size], training=False)
            out.append(task.predict(logits))
        return np.concatenate(out, axis=1 if self.output == "per_step" else 0)

    def evaluate(self, X: Any, y: Any, mask: Any = None, batch_size: int = 256) -> dict[str, float]:
        """Loss (as :meth:`fit` defines it) and, for binary tasks, accuracy on a data set.

        Returns
        -------
        dict
            ``{"loss": float}`` plus ``"accuracy"`` for ``task="binary"``.
        """
        X, y, mask = self._check_data(X, y, mask)
        return self._evaluate(X, y, mask, _checks.positive_int("batch_size", batch_size))

    def _evaluate(self, X: Array, y: Array, mask: Array | None, batch_size: int) -> dict[str, float]:
        task = TASKS[self.task]
        scores = Scores(task)
        for start in range(0, X.shape[1], batch_size):
            xb, yb, mb = self._batch(X, y, mask, slice(start, start + batch_size))
            assert yb is not None
            logits, _, _ = self._forward(xb, training=False)
            total, _, count = task.loss(logits, yb, mb)
            scores.add(total, count, logits, yb, mb)
        return scores.result()

    # -- files ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Write the model to an ``.npz`` file (no pickle); returns the path written.

        See :mod:`lstmfast.training.checkpoint` for the format; ``.npz`` is
        appended to ``path`` if missing (as NumPy does).
        """
        return checkpoint.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SequenceModel:
        """Read a model written by :meth:`save` (see :func:`lstmfast.training.checkpoint.load`)."""
        return checkpoint.load(path)
