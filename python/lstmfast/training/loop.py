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
from .distributed import DataParallel, data_checksum
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
    comm: Any = None,
    sharded: bool = False,
    comm_timeout: float = 600.0,
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
    comm : mpi4py communicator, optional
        Data-parallel training over MPI (``MPI.COMM_WORLD``; ``pip install
        "lstmfast[mpi]"``; launch with ``mpirun -n 4 python train.py``): every
        rank calls ``fit`` with the same arguments, each computes the gradient of
        its part of every batch, and one ``Allreduce`` per step sums them (see
        :mod:`lstmfast.training.distributed`). Every rank starts from rank 0's
        parameters and ends with the same ones; rank 0 alone shows progress and
        writes files (checkpoints, logs); a failing rank stops every rank. Ranks
        on one machine share its cores (each uses cores // ranks kernel threads,
        unless ``set_num_threads`` or ``LSTMFAST_NUM_THREADS`` chose).
    sharded : bool
        With ``comm``: False, every rank passes the same data and each batch is
        split across the ranks (the result is that of one process, but for the
        order of the sums); True, each rank passes its own data and takes
        ``batch_size`` sequences of it per step (the global batch is the sum).
    comm_timeout : float
        With ``comm``: seconds a rank waits for the others at any step before it
        raises ``TimeoutError`` (a rank that died or hung).

    Returns
    -------
    dict of str to list of float
        One value per epoch: ``"loss"`` (the mean training loss over the epoch's
        batches, weighted by their size, with the weights of the moment each
        batch was seen, as Keras reports it), ``"accuracy"`` (classification:
        weighted fraction of right predictions), with validation also
        ``"val_loss"`` (and ``"val_accuracy"``), measured after the epoch, and
        whatever callbacks add (``"lr"``); with ``comm``, ``"allreduce_seconds"``
        (the epoch's time waiting in the step's collectives, on this rank).

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite (try a smaller learning rate or
        ``clip_norm``).
    """
    parallel = _data_parallel(comm, sharded, comm_timeout)
    try:
        run = _Run(model, parallel, epochs, batch_size, optimizer, clip_norm, shuffle, progress, callbacks, seed)
        run.data(X, y, mask, lengths, validation_data, validation_split, class_weight)
        if resume is not None and (parallel is None or parallel.rank == 0):
            run.resume(resume)
    except Exception as err:
        if parallel is not None:
            parallel.agree(None, err)  # every rank stops
        raise
    if parallel is None:
        return run.train()
    parallel.agree(run.description(), None)
    run.share_start()
    with parallel.threads():
        return run.train()


def _data_parallel(comm: Any, sharded: Any, timeout: Any) -> DataParallel | None:
    sharded = _checks.flag("sharded", sharded)
    timeout = _checks.positive_real("comm_timeout", timeout)
    if comm is None:
        if sharded:
            raise ValueError("sharded: only with comm (data-parallel training over MPI)")
        return None
    from .distributed import DataParallel

    return DataParallel(comm, sharded, timeout)


class _Run:
    """One call of :func:`fit`: its checked arguments, data and state, and the loop."""

    def __init__(
        self,
        model: SequenceModel,
        parallel: DataParallel | None,
        epochs: Any,
        batch_size: Any,
        optimizer: Any,
        clip_norm: Any,
        shuffle: Any,
        progress: Any,
        callbacks: Any,
        seed: Any,
    ) -> None:
        self.model, self.parallel = model, parallel
        self.epochs = _checks.positive_int("epochs", epochs)
        self.batch_size = _checks.positive_int("batch_size", batch_size)
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"optimizer: expected an lstmfast.training optimizer (with a step(params, grads) method), "
                f"got {type(optimizer).__name__}"
            )
        self.optimizer: Optimizer | None = optimizer
        self.clip_norm = (
            None
            if clip_norm is None
            else _checks.positive_real("clip_norm", clip_norm, what="None or a finite number > 0")
        )
        self.shuffle = _checks.flag("shuffle", shuffle)
        self.progress = _checks.flag("progress", progress) and (parallel is None or parallel.rank == 0)
        self.callbacks = check_callbacks(callbacks)
        if parallel is not None and parallel.rank != 0:  # files are written by rank 0 only
            self.callbacks = [c for c in self.callbacks if not c.writes_files]
        self.rng = np.random.default_rng(_checks.seed(seed))
        self.history: History = {}
        self.start = 0

    def data(
        self,
        X: Any,
        y: Any,
        mask: Any,
        lengths: Any,
        validation_data: Any,
        validation_split: Any,
        class_weight: Any,
    ) -> None:
        model = self.model
        self.task = model._task(_class_weight(model, class_weight))
        if y is None:  # a source of batches
            if mask is not None or lengths is not None or validation_split is not None:
                raise TypeError(
                    "mask, lengths, validation_split: only with arrays X, y; a source of batches "
                    "carries its own masks and lengths"
                )
            self.train_data: Arrays | Any = _batch_source(X)
            self.val = _validation(model, validation_data)
        else:
            train = model._check_data(X, y, mask, lengths)
            self.train_data, self.val = _split(model, train, validation_data, validation_split)

    def resume(self, path: str | os.PathLike[str]) -> None:
        from .checkpoint import load_training, optimizer_of

        state = load_training(path, self.model)
        self.optimizer = self.optimizer or optimizer_of(state["optimizer"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.history = state["history"]
        self.start = state["epoch"]

    # -- data-parallel: agreeing on the call, starting from rank 0's state ----------------

    def description(self) -> dict[str, Any]:
        """What every rank must agree on before the first step."""
        assert self.parallel is not None
        model, train = self.model, self.train_data
        arrays = isinstance(train, tuple)
        described: dict[str, Any] = {
            "model": model.config,
            "parameters": {name: list(p.shape) for name, p in model.parameters().items()},
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "clip_norm": self.clip_norm,
            "optimizer": None if self.optimizer is None else type(self.optimizer).__name__,
            "class_weight": None if self.task.class_weight is None else self.task.class_weight.tolist(),
            "validation": self.val is not None,
            "data": "arrays" if arrays else "a source of batches",
            "sharded": self.parallel.sharded,
            "ranks": self.parallel.size,
        }
        if arrays and not self.parallel.sharded:  # the same data on every rank, to the bit
            described["data shapes"] = [None if a is None else list(a.shape) for a in train]
            described["data checksum"] = data_checksum(train)
        return described

    def share_start(self) -> None:
        """Every rank starts from rank 0's parameters, optimizer state, shuffling state
        and history (a resumed checkpoint is read by rank 0 only)."""
        assert self.parallel is not None
        model = self.model
        mine = {
            "parameters": model.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "history": self.history,
            "start": self.start,
        }
        start = self.parallel.share(mine)
        if self.parallel.rank != 0:
            from .checkpoint import optimizer_of

            model.load_state_dict(start["parameters"])
            if start["optimizer"] is not None:
                self.optimizer = self.optimizer or optimizer_of(start["optimizer"])
                self.optimizer.load_state_dict(start["optimizer"])
            self.rng.bit_generator.state = start["rng"]
            self.history, self.start = start["history"], start["start"]

    # -- the loop ---------------------------------------------------------------------------

    def train(self) -> History:
        from tqdm import tqdm  # a runtime dependency; imported when training

        model, callbacks, parallel = self.model, self.callbacks, self.parallel
        self.optimizer = optimizer = self.optimizer or Adam(lr=1e-3)
        for c in callbacks:
            c.model, c.optimizer = model, optimizer
            if isinstance(c, ModelCheckpoint):
                c.training_state = lambda epoch: {
                    "epoch": epoch,
                    "optimizer": optimizer.state_dict(),
                    "rng": self.rng.bit_generator.state,
                    "history": self.history,
                }
        train = self.train_data
        per_epoch = -(-train[0].shape[1] // self.batch_size) if isinstance(train, tuple) else _length(train)
        if parallel is not None and parallel.sharded:
            per_epoch = None  # the longest shard decides
        total = None if per_epoch is None else (self.epochs - self.start) * per_epoch
        model.stop_training = False
        logs: dict[str, float] = {}
        _each(callbacks, "on_train_begin", logs)
        with tqdm(total=total, unit="batch", disable=not self.progress, leave=True, dynamic_ncols=True) as bar:
            for epoch in range(self.start, self.epochs):
                bar.set_description(f"epoch {epoch + 1}/{self.epochs}")
                logs = {}  # callbacks may write into it (the learning rate of the epoch, say)
                _each(callbacks, "on_epoch_begin", epoch, logs)
                if parallel is None:
                    scores = self._serial_epoch(epoch, bar)
                    val = None if self.val is None else model._scores(*self.val, self.batch_size)
                    stop = self._end_epoch(epoch, scores, val, logs, bar)
                else:
                    seconds = parallel.seconds
                    scores = self._parallel_epoch(epoch, bar, parallel)
                    logs["allreduce_seconds"] = parallel.seconds - seconds
                    stop = self._parallel_end_epoch(epoch, scores, logs, bar, parallel)
                if stop:
                    break
        _each(callbacks, "on_train_end", logs)
        return self.history

    def _step(self, grads: Mapping[str, Array]) -> None:
        if self.clip_norm is not None:
            clip_grad_norm(grads, self.clip_norm)  # type: ignore[arg-type]
        assert self.optimizer is not None
        self.optimizer.step(self.model.parameters(), grads)

    def _serial_epoch(self, epoch: int, bar: Any) -> Scores:
        model, task, callbacks = self.model, self.task, self.callbacks
        scores = Scores(task)
        for b, batch in enumerate(_epoch(model, self.train_data, self.batch_size, self.shuffle, self.rng)):
            if callbacks:
                _each(callbacks, "on_batch_begin", b, {})
            total_loss, count, grads, logits, loss_mask = model._train_batch(*batch, task=task)
            _check_loss(total_loss, epoch, b)
            self._step(grads)
            scores.add(total_loss, count, logits, batch.y, loss_mask)
            self._batch_end(bar, scores, b, total_loss, count, batch.x.shape[1])
        return scores

    def _parallel_epoch(self, epoch: int, bar: Any, parallel: DataParallel) -> Scores:
        """The serial epoch's steps with every rank's part summed by one Allreduce each."""
        model, task, callbacks = self.model, self.task, self.callbacks
        scores = Scores(task)
        batches = iter(parallel.batches(model, self.train_data, self.batch_size, self.shuffle, self.rng, _epoch))
        batch, more = parallel.first(batches)
        b = 0
        while more:
            _each(callbacks, "on_batch_begin", b, {})
            step, grads, batch = parallel.step(model, batch, batches, task, model.parameters())
            _check_loss(step.loss, epoch, b)
            self._step(grads)
            scores.add_sums(step.loss, step.counted, step.right, step.seen)
            self._batch_end(bar, scores, b, step.loss, step.counted, step.sequences)
            more, b = step.more, b + 1
        return scores

    def _batch_end(self, bar: Any, scores: Scores, b: int, total_loss: float, count: float, size: int) -> None:
        bar.update(1)
        if self.progress:
            bar.set_postfix(loss=f"{scores.loss:.4g}", refresh=False)
        if self.callbacks:
            _each(
                self.callbacks, "on_batch_end", b, {"loss": total_loss / count if count else 0.0, "size": float(size)}
            )

    def _end_epoch(self, epoch: int, scores: Scores, val: Scores | None, logs: dict[str, float], bar: Any) -> bool:
        """Record the epoch, run the callbacks; returns whether to stop."""
        logs = {**scores.result(), **logs}
        if val is not None:
            logs.update({f"val_{k}": v for k, v in val.result().items()})
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)
        _each(self.callbacks, "on_epoch_end", epoch, logs)
        if self.progress:
            bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in self.history.items() if k != "allreduce_seconds"})
        return self.model.stop_training

    def _parallel_end_epoch(
        self, epoch: int, scores: Scores, logs: dict[str, float], bar: Any, parallel: DataParallel
    ) -> bool:
        """The serial end of an epoch, with every rank's failure told to the others and,
        sharded, the validation sums of every rank's shard added up."""
        error: BaseException | None = None
        val: Scores | None = None
        try:
            val = None if self.val is None else self.model._scores(*self.val, self.batch_size)
        except Exception as err:  # told to every rank, then raised here
            error = err
        if self.val is not None and parallel.sharded:
            val, error = parallel.sum_scores(val, self.task, error), None
        stop = False
        if error is None:
            try:
                stop = self._end_epoch(epoch, scores, val, logs, bar)
            except Exception as err:
                error = err
        return parallel.end_epoch(self.model.parameters(), stop, error)


def _check_loss(total_loss: float, epoch: int, b: int) -> None:
    if not math.isfinite(total_loss):
        raise FloatingPointError(
            f"fit: the loss became {total_loss} at epoch {epoch + 1}, batch {b + 1}; "
            f"lower the learning rate or pass clip_norm"
        )


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
        order = rng.permutation(N) if shuffle else None
        for start in range(0, N, batch_size):
            X, y, mask, lengths = train
            idx = slice(start, start + batch_size) if order is None else order[start : start + batch_size]
            yield select(model.output, X, y, mask, lengths, idx)
        return
    items = train() if callable(train) else train
    if not isinstance(items, Iterable):
        raise TypeError(f"X: the function gave {type(items).__name__}, not an iterable of batches")
    for k, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3, 4):
            raise TypeError(f"X: batch {k}: expected a tuple (X, y[, mask[, lengths]]), got {type(item).__name__}")
        X, y, mask, lengths = (*item, None, None)[:4]
        yield Batch(*model._check_data(X, y, mask, lengths, prefix=f"batch {k}: "))
