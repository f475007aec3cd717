"""Callbacks: code that :meth:`SequenceModel.fit` runs at fixed moments of training.

The protocol is Keras' in small. A callback subclasses :class:`Callback` and
overrides any of::

    on_train_begin(logs)               before the first epoch
    on_epoch_begin(epoch, logs)        epoch counts from 0
    on_batch_begin(batch, logs)        batch counts from 0 within the epoch
    on_batch_end(batch, logs)          logs: {"loss": this batch's loss, "size": its sequences}
    on_epoch_end(epoch, logs)          logs: this epoch's "loss" (and "accuracy",
                                       "val_loss", ...): the values fit returns
    on_train_end(logs)                 logs: the last epoch's

Before training, fit sets ``callback.model`` and ``callback.optimizer``. A
callback stops training after the current epoch with ``model.stop_training = True``
and may change ``optimizer.lr`` (a schedule) or the model's parameters (restore
the best ones).

Built in: :class:`EarlyStopping`, :class:`ModelCheckpoint` (resumable training
checkpoints), :class:`LearningRateScheduler` with :func:`step_decay`,
:func:`exponential_decay`, :func:`cosine_decay` and the forecasting course's
:func:`lr_sweep`, :class:`CSVLogger` and :class:`JSONLogger`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .. import _checks

if TYPE_CHECKING:
    from .model import SequenceModel
    from .optim import Optimizer

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "JSONLogger",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "cosine_decay",
    "exponential_decay",
    "lr_sweep",
    "step_decay",
]

Logs = dict[str, float]
Schedule = Callable[[int, float], float]  # (epoch, current lr) -> lr for this epoch


class Callback:
    """Does nothing at every moment; subclasses override what they need."""

    #: In data-parallel training, callbacks that write files run on rank 0 only.
    writes_files = False

    model: SequenceModel
    optimizer: Optimizer

    def on_train_begin(self, logs: Logs) -> None: ...

    def on_train_end(self, logs: Logs) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: Logs) -> None: ...  # logs: add this epoch's entries

    def on_epoch_end(self, epoch: int, logs: Logs) -> None: ...

    def on_batch_begin(self, batch: int, logs: Logs) -> None: ...

    def on_batch_end(self, batch: int, logs: Logs) -> None: ...


def check_callbacks(callbacks: Any) -> list[Callback]:
    """``callbacks`` as a list, each a :class:`Callback`."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, Sequence):
        raise TypeError(f"callbacks: expected a list of Callback, got {type(callbacks).__name__}")
    for k, c in enumerate(callbacks):
        if not isinstance(c, Callback):
            raise TypeError(f"callbacks[{k}]: expected a lstmfast.training.Callback, got {type(c).__name__}")
    return list(callbacks)


def _better(mode: str, value: float, best: float, min_delta: float) -> bool:
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _mode(mode: str, monitor: str) -> str:
    mode = _checks.choice("mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        return "max" if "accuracy" in monitor else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs; with ``restore_best_weights``, end with the parameters of
    the best epoch (else those of the last).

    ``monitor``: a key of fit's history ("val_loss", "loss", "val_accuracy", ...);
    None: "val_loss" when fit validates, else "loss". ``mode``: "min", "max", or
    "auto" (max for accuracies, min otherwise).
    """

    def __init__(
        self,
        monitor: str | None = None,
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        self.monitor = monitor
        self.patience = _checks.integer("patience", patience, 0)
        self.min_delta = _checks.positive_real("min_delta", min_delta, allow_zero=True)
        self.mode_arg = mode
        self.restore_best_weights = _checks.flag("restore_best_weights", restore_best_weights)
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None

    def on_train_begin(self, logs: Logs) -> None:
        self.wait = 0
        self.best = math.nan
        self.best_weights: dict[str, np.ndarray] | None = None
        self.stopped_epoch = self.best_epoch = None

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        monitor = self.monitor or ("val_loss" if "val_loss" in logs else "loss")
        if monitor not in logs:
            raise ValueError(
                f"EarlyStopping: monitor {monitor!r} is not in the history ({sorted(logs)}); "
                f"pass validation data for val_* keys"
            )
        mode, value = _mode(self.mode_arg, monitor), logs[monitor]
        if math.isnan(self.best) or _better(mode, value, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.model.stop_training = True
            self.stopped_epoch = epoch

    def on_train_end(self, logs: Logs) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Write a training checkpoint every ``every`` epochs (after the epoch): the
    parameters, the optimizer's state, the epoch, the shuffling generator's state
    and the history so far. ``fit(..., resume=path)`` continues from it, to the
    same parameters bit for bit as a run that never stopped;
    :meth:`SequenceModel.load` reads it as a model file.

    ``path`` may contain ``{epoch}`` (1-based) to keep one file per checkpoint;
    with ``save_best_only`` a checkpoint is written only when ``monitor`` improves.
    """

    writes_files = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        every: int = 1,
        save_best_only: bool = False,
        monitor: str | None = None,
        mode: str = "auto",
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
        self.path = os.fspath(path)
        self.every = _checks.positive_int("every", every)
        self.save_best_only = _checks.flag("save_best_only", save_best_only)
        self.monitor, self.mode_arg = monitor, mode
        self.best = math.nan
        self.written: list[pathlib.Path] = []
        self.training_state: Callable[[int], dict[str, Any]] | None = None  # set by fit

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        from .checkpoint import save_training

        if (epoch + 1) % self.every:
            return
        if self.save_best_only:
            monitor = self.monitor or ("val_loss" if "val_loss" in logs else "loss")
            value = logs[monitor]
            if not (math.isnan(self.best) or _better(_mode(self.mode_arg, monitor), value, self.best, 0.0)):
                return
            self.best = value
        assert self.training_state is not None
        path = self.path.replace("{epoch}", str(epoch + 1))
        self.written.append(save_training(self.model, path, **self.training_state(epoch + 1)))


def step_decay(initial: float, factor: float = 0.5, every: int = 10) -> Schedule:
    """``initial · factor^(epoch // every)``."""
    _checks.positive_real("initial", initial)
    _checks.positive_real("factor", factor)
    _checks.positive_int("every", every)
    return lambda epoch, lr: initial * factor ** (epoch // every)


def exponential_decay(initial: float, rate: float) -> Schedule:
    """``initial · rate^epoch``."""
    _checks.positive_real("initial", initial)
    _checks.positive_real("rate", rate)
    return lambda epoch, lr: initial * rate**epoch


def cosine_decay(initial: float, epochs: int, minimum: float = 0.0) -> Schedule:
    """From ``initial`` down to ``minimum`` over ``epochs`` along half a cosine, then ``minimum``."""
    _checks.positive_real("initial", initial)
    _checks.positive_int("epochs", epochs)
    _checks.positive_real("minimum", minimum, allow_zero=True)
    return lambda epoch, lr: minimum + 0.5 * (initial - minimum) * (1 + math.cos(math.pi * min(epoch, epochs) / epochs))


def lr_sweep(start: float = 1e-8, factor: float = 10.0, every: int = 20) -> Schedule:
    """``start · factor^(epoch / every)``: the forecasting course's learning-rate sweep
    (``1e-8 * 10**(epoch / 20)``), one learning rate per epoch, to read the best one
    off a plot of the loss against the rate."""
    _checks.positive_real("start", start)
    _checks.positive_real("factor", factor)
    _checks.positive_int("every", every)
    return lambda epoch, lr: start * factor ** (epoch / every)


class LearningRateScheduler(Callback):
    """Set ``optimizer.lr = schedule(epoch, current lr)`` at the start of every
    epoch (epoch from 0); the rate used is recorded in the history as ``"lr"``."""

    def __init__(self, schedule: Schedule) -> None:
        if not callable(schedule):
            raise TypeError(f"schedule: expected a function (epoch, lr) -> lr, got {type(schedule).__name__}")
        self.schedule = schedule

    def on_epoch_begin(self, epoch: int, logs: Logs) -> None:
        self.optimizer.lr = _checks.positive_real("schedule(epoch, lr)", self.schedule(epoch, self.optimizer.lr))
        logs["lr"] = self.optimizer.lr


class _FileLogger(Callback):
    writes_files = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
        self.path = pathlib.Path(path)
        self.rows: list[dict[str, float]] = []

    def on_train_begin(self, logs: Logs) -> None:
        self.rows = []

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        self.rows.append({"epoch": epoch + 1, **logs})
        self._write()

    def _write(self) -> None:
        raise NotImplementedError


class CSVLogger(_FileLogger):
    """Write the history to a CSV file after every epoch (one row per epoch)."""

    def _write(self) -> None:
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        with open(self.path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)


class JSONLogger(_FileLogger):
    """Write the history to a JSON file after every epoch: ``{"epochs": [{...}, ...]}``."""

    def _write(self) -> None:
        self.path.write_text(json.dumps({"epochs": self.rows}, indent=1), encoding="utf-8")
