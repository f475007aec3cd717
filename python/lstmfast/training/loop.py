"""The training loop of :meth:`SequenceModel.fit`: batches, the optimizer's steps,
callbacks, validation and resuming from a checkpoint."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _checks
from .callbacks import Callback, ModelCheckpoint, check_callbacks
from .data import Batch, select
from .optim import Adam, Optimizer, clip_grad_norm
from .tasks import Scores

if TYPE_CHECKING:
    from .model import SequenceModel

__all__ = ["fit"]

Array = np.ndarray[Any, Any]
History = dict[str, list[float]]
Arrays = tuple[Array, Array, "Array | None", "Array | None"]  # X, y, mask, lengths


def fit(
    model: SequenceModel,
    X: Any,
    y: Any = None,
    epochs: int = 1,
    batch_size: int = 32,
    *,
    optimizer: Optimizer | None = None,
    clip_norm: float | None = None,
    mask: Any = None,
    lengths: Any = None,
    validation_data: Any = None,
    validation_split: float | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    progress: bool = True,
    callbacks: Any = None,
    class_weight: Any = None,
    resume: str | os.PathLike[str] | None = None,
) -> History:
    """Train ``model`` with mini-batch gradient descent; every forward and BPTT in C++.

    Parameters
    ----------
    X : array_like (T, N, I), or a source of batches
        Training sequences, time-major. Or, with ``y`` None, the batches
        themselves: an iterable (a list, a generator of one epoch, a
        ``Sequence``) of tuples ``(X_b, y_b)``, ``(X_b, y_b, mask_b)`` or ``(X_b,
        y_b, mask_b, lengths_b)``, or a function called at the start of every
        epoch that returns one, for data that does not fit in memory (windows
        cut from a memory-mapped series, say). The same batches in the same order
        give bit-identical parameters to arrays trained with ``shuffle=False``.
    y : array_like
        Targets, (T, N, O) or (N, O) (see :mod:`lstmfast.training.model`).
    epochs : int
        Epochs to end at, >= 1 (counting those of a run resumed from).
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
    lengths : array_like of int (N,), optional
        Right-padded sequences: the kernels skip the padding, per-step losses
        ignore it, ``output="last"`` reads each sequence's own last step.
    validation_data : tuple (X_val, y_val[, mask_val[, lengths_val]]), optional
        Evaluated after every epoch (``val_loss``, ...).
    validation_split : float in (0, 1), optional
        Hold out this fraction of the sequences (the last ones, before any
        shuffling, as Keras does) for validation instead.
    shuffle : bool
        Visit the sequences in a new random order every epoch (arrays only).
    seed : int, optional
        Seed of the shuffling. A model built with the same ``seed`` and trained
        with the same data, arguments and ``seed`` ends with bit-identical
        parameters and history.
    progress : bool
        Show a tqdm progress bar (on stderr).
    callbacks : list of Callback, optional
        See :mod:`lstmfast.training.callbacks`.
    class_weight : dict {class: weight} or sequence of K weights, optional
        Multiclass only: each position's training loss is multiplied by the weight
        of its class (Keras' class_weight; the reported validation loss is not).
    resume : path, optional
        A training checkpoint (:class:`~lstmfast.training.callbacks.ModelCheckpoint`):
        continue from it, with its parameters, optimizer state, shuffling state
        and history, to ``epochs``. The run ends bit-identical to one that never
        stopped.

    Returns
    -------
    dict of str to list of float
        One value per epoch: ``"loss"`` (the mean training loss over the epoch's
        batches, weighted by their size, with the weights of the moment each
        batch was seen, as Keras reports it), ``"accuracy"`` (classification:
        weighted fraction of right predictions), with validation also
        ``"val_loss"`` (and ``"val_accuracy"``), measured after the epoch, and
        whatever callbacks add (``"lr"``).

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite (try a smaller learning rate or
        ``clip_norm``).
    """
    epochs = _checks.positive_int("epochs", epochs)
    batch_size = _checks.positive_int("batch_size", batch_size)
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer: expected an lstmfast.training optimizer (with a step(params, grads) method), "
            f"got {type(optimizer).__name__}"
        )
    if clip_norm is not None:
        clip_norm = _checks.positive_real("clip_norm", clip_norm, what="None or a finite number > 0")
    shuffle = _checks.flag("shuffle", shuffle)
    progress = _checks.flag("progress", progress)
    callbacks = check_callbacks(callbacks)
    task = model._task(_class_weight(model, class_weight))
    rng = np.random.default_rng(_checks.seed(seed))

    if y is None:  # a source of batches
        if mask is not None or lengths is not None or validation_split is not None:
            raise TypeError(
                "mask, lengths, validation_split: only with arrays X, y; a source of batches "
                "carries its own masks and lengths"
            )
        train: Arrays | Any = _batch_source(X)
        val = _validation(model, validation_data)
    else:
        train = model._check_data(X, y, mask, lengths)
        train, val = _split(model, train, validation_data, validation_split)

    history: History = {}
    start = 0
    if resume is not None:
        from .checkpoint import load_training, optimizer_of

        state = load_training(resume, model)
        optimizer = optimizer or optimizer_of(state["optimizer"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        history = state["history"]
        start = state["epoch"]
    optimizer = optimizer or Adam(lr=1e-3)

    for c in callbacks:
        c.model, c.optimizer = model, optimizer
        if isinstance(c, ModelCheckpoint):
            c.training_state = lambda epoch: {
                "epoch": epoch,
                "optimizer": optimizer.state_dict(),
                "rng": rng.bit_generator.state,
                "history": history,
            }

    from tqdm import tqdm  # a runtime dependency; imported when training

    per_epoch = -(-train[0].shape[1] // batch_size) if isinstance(train, tuple) else _length(train)
    total = None if per_epoch is None else (epochs - start) * per_epoch
    model.stop_training = False
    logs: dict[str, float] = {}
    _each(callbacks, "on_train_begin", logs)
    with tqdm(total=total, unit="batch", disable=not progress, leave=True, dynamic_ncols=True) as bar:
        for epoch in range(start, epochs):
            bar.set_description(f"epoch {epoch + 1}/{epochs}")
            logs = {}  # callbacks may write into it (the learning rate of the epoch, say)
            _each(callbacks, "on_epoch_begin", epoch, logs)
            scores = Scores(task)
            for b, batch in enumerate(_epoch(model, train, batch_size, shuffle, rng)):
                _each(callbacks, "on_batch_begin", b, {})
                total_loss, count, grads, logits, loss_mask = model._train_batch(*batch, task=task)
                if not math.isfinite(total_loss):
                    raise FloatingPointError(
                        f"fit: the loss became {total_loss} at epoch {epoch + 1}, batch {b + 1}; "
                        f"lower the learning rate or pass clip_norm"
                    )
                if clip_norm is not None:
                    clip_grad_norm(grads, clip_norm)  # type: ignore[arg-type]
                optimizer.step(model.parameters(), grads)
                scores.add(total_loss, count, logits, batch.y, loss_mask)
                bar.update(1)
                if progress:
                    bar.set_postfix(loss=f"{scores.loss:.4g}", refresh=False)
                _each(
                    callbacks,
                    "on_batch_end",
                    b,
                    {"loss": total_loss / count if count else 0.0, "size": float(batch.x.shape[1])},
                )
            logs = {**scores.result(), **logs}
            if val is not None:
                logs.update({f"val_{k}": v for k, v in model._evaluate(*val, batch_size).items()})
            for name, value in logs.items():
                history.setdefault(name, []).append(value)
            _each(callbacks, "on_epoch_end", epoch, logs)
            if progress:
                bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in history.items()})
            if model.stop_training:
                break
    _each(callbacks, "on_train_end", logs)
    return history


def _each(callbacks: list[Callback], moment: str, *args: Any) -> None:
    for c in callbacks:
        getattr(c, moment)(*args)


def _class_weight(model: SequenceModel, class_weight: Any) -> Array | None:
    if class_weight is None:
        return None
    if model.task != "multiclass":
        raise ValueError(f"class_weight: only for task='multiclass', got task={model.task!r}")
    K = model.output_size
    if isinstance(class_weight, Mapping):
        bad = [k for k in class_weight if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < K]
        if bad:
            raise ValueError(f"class_weight: keys must be classes in [0, {K}), got {bad}")
        weights = np.ones(K)
        for k, w in class_weight.items():
            weights[k] = _checks.positive_real(f"class_weight[{k}]", w, allow_zero=True)
        return weights
    weights = _checks.finite("class_weight", _checks.array("class_weight", class_weight, kinds="iuf"))
    if weights.shape != (K,) or np.any(weights < 0):
        raise ValueError(f"class_weight: expected {K} weights >= 0 (one per class), got shape {weights.shape}")
    return weights.astype(np.float64)


def _split(
    model: SequenceModel, train: Arrays, validation_data: Any, validation_split: float | None
) -> tuple[Arrays, Arrays | None]:
    if validation_split is None:
        return train, _validation(model, validation_data)
    if validation_data is not None:
        raise ValueError("validation_split: give it or validation_data, not both")
    fraction = _checks.real(
        "validation_split", validation_split, low=0.0, high=1.0, low_open=True, high_open=True, what="a fraction"
    )
    N = train[0].shape[1]
    held = round(N * fraction)
    if not 1 <= held < N:
        raise ValueError(
            f"validation_split: {fraction} of {N} sequences leaves {N - held} to train on and {held} "
            f"to validate; both need at least one"
        )
    first, last = slice(0, N - held), slice(N - held, N)
    return tuple(select(model.output, *train, first)), tuple(select(model.output, *train, last))  # type: ignore[return-value]


def _validation(model: SequenceModel, validation_data: Any) -> Arrays | None:
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3, 4):
        raise TypeError(
            "validation_data: expected a tuple (X_val, y_val[, mask_val[, lengths_val]]), "
            f"got {type(validation_data).__name__}"
        )
    X, y, mask, lengths = (*validation_data, None, None)[:4]
    return model._check_data(X, y, mask, lengths, prefix="validation_data: ")


def _batch_source(source: Any) -> Iterable[Any] | Callable[[], Iterable[Any]]:
    if callable(source) or (isinstance(source, Iterable) and not isinstance(source, (str, bytes, np.ndarray))):
        return source  # type: ignore[no-any-return]
    raise TypeError(
        f"X: expected an array (with y) or, without y, an iterable of (X, y) batches or a function "
        f"returning one, got {type(source).__name__}"
    )


def _length(source: Any) -> int | None:
    if callable(source) or not isinstance(source, Sequence):
        return None
    return len(source)


def _epoch(
    model: SequenceModel, train: Any, batch_size: int, shuffle: bool, rng: np.random.Generator
) -> Iterator[Batch]:
    """This epoch's batches: slices of the arrays, or the source's, checked."""
    if isinstance(train, tuple):
        N = train[0].shape[1]
        order = rng.permutation(N) if shuffle else np.arange(N)
        for start in range(0, N, batch_size):
            X, y, mask, lengths = train
            yield select(model.output, X, y, mask, lengths, order[start : start + batch_size])
        return
    items = train() if callable(train) else train
    if not isinstance(items, Iterable):
        raise TypeError(f"X: the function gave {type(items).__name__}, not an iterable of batches")
    for k, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3, 4):
            raise TypeError(f"X: batch {k}: expected a tuple (X, y[, mask[, lengths]]), got {type(item).__name__}")
        X, y, mask, lengths = (*item, None, None)[:4]
        yield Batch(*model._check_data(X, y, mask, lengths, prefix=f"batch {k}: "))
