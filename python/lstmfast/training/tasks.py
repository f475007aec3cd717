r"""What a model's task is, in one place: its loss, its targets, its predictions, its scores.

* ``binary``: ŷ = σ(z), independent per output; binary cross-entropy from the
  logits, **summed over time steps** (and outputs) for each sequence, then
  averaged over the sequences: ``L = (1/N) Σ_n Σ_t Σ_o mask·BCE`` — the course's
  ``L = Σ_t L<t>`` per sequence. Scored also by accuracy, (ŷ > 0.5) == (y > 0.5).
* ``multiclass``: ŷ = softmax(z) over the O = K outputs (classes); cross-entropy
  from the logits, summed over time steps per sequence and averaged over the
  sequences like the binary loss; targets are class indices or one-hot (or
  probability) rows; optional class weights (training only, like Keras').
  Scored also by accuracy, argmax ŷ == argmax y.
* ``regression``: ŷ = z; mean squared error (``loss="mse"``) or the Huber loss
  (``loss="huber"``, delta 1) over all (unmasked) elements.

A mask (the shape of the targets, or without their last axis) weights the
elements (or, for multiclass, the positions) that count.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _checks
from . import losses

__all__ = ["TASKS", "BinaryTask", "MulticlassTask", "RegressionTask", "Scores", "Task", "task"]

Array = np.ndarray[Any, Any]


class Task:
    """One kind of output: how logits become predictions, a loss and scores."""

    name = ""
    #: The losses this task can minimise; the first is the default.
    losses: tuple[str, ...] = ()
    #: Scores besides the loss that :class:`Scores` accumulates.
    metrics: tuple[str, ...] = ()

    def __init__(self, loss: str | None = None, class_weight: Array | None = None) -> None:
        self.loss_name = self.losses[0] if loss is None else _checks.choice("loss", loss, self.losses)
        self.class_weight = class_weight

    def targets(self, name: str, y: Array, shape: tuple[int, ...], dtype: Any) -> Array:
        """The targets as the loss takes them (``shape``: the logits'), or ``ValueError``.
        ``y`` has the shape of the logits, or lacks their last axis (then: one output,
        or class indices)."""
        if shape[-1] == 1 and y.shape == shape[:-1]:
            y = y[..., None]
        return np.ascontiguousarray(y, dtype=dtype)

    def predict(self, logits: Array) -> Array:
        """Predictions from the head's logits."""
        return logits

    def loss(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, Array, float]:
        """``total, dlogits, count``: the summed loss, its gradient, and what to
        divide both by to get the loss :meth:`SequenceModel.fit` minimises."""
        raise NotImplementedError

    def correct(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, float]:
        """(Weighted) number of right predictions and of predictions."""
        raise NotImplementedError

    @staticmethod
    def _weighted(right: Array, mask: Array | None) -> tuple[float, float]:
        if mask is None:
            return float(right.sum()), float(right.size)
        w = np.broadcast_to(mask.reshape(mask.shape[: right.ndim]), right.shape)
        return float(np.sum(w * right, dtype=np.float64)), float(w.sum(dtype=np.float64))


class BinaryTask(Task):
    name = "binary"
    losses = ("bce",)
    metrics = ("accuracy",)

    def targets(self, name: str, y: Array, shape: tuple[int, ...], dtype: Any) -> Array:
        y = super().targets(name, y, shape, dtype)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"{name}: binary targets must be in [0, 1], got values in "
                f"[{y.min()}, {y.max()}] (use task='regression' for other values)"
            )
        return y

    def predict(self, logits: Array) -> Array:
        return losses.sigmoid(logits)

    def loss(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, Array, float]:
        total, dlogits = losses.sigmoid_bce_with_logits(logits, y, mask, reduction="sum")
        return total, dlogits, float(logits.shape[-2])  # N: the loss is per sequence

    def correct(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, float]:
        return self._weighted((logits > 0) == (y > 0.5), mask)


class MulticlassTask(Task):
    name = "multiclass"
    losses = ("cross_entropy",)
    metrics = ("accuracy",)

    def targets(self, name: str, y: Array, shape: tuple[int, ...], dtype: Any) -> Array:
        K = shape[-1]
        if y.shape == shape[:-1]:  # class indices
            if y.dtype.kind not in "iu" and not (y.size and np.all(y == np.round(y))):
                raise TypeError(f"{name}: class indices must be integers, got dtype {y.dtype}")
            if y.size and (y.min() < 0 or y.max() >= K):
                raise ValueError(
                    f"{name}: class indices must be in [0, {K}) (output_size classes), got values "
                    f"in [{y.min()}, {y.max()}]"
                )
            return losses.one_hot(y.astype(np.int64), K, dtype)
        if y.shape != shape:
            raise ValueError(f"{name}: expected class indices {shape[:-1]} or one-hot rows {shape}, got {y.shape}")
        if y.size and (y.min() < 0 or not np.allclose(y.sum(axis=-1), 1.0, atol=1e-4)):
            raise ValueError(f"{name}: one-hot (or probability) rows must be >= 0 and sum to 1")
        return np.ascontiguousarray(y, dtype=dtype)

    def predict(self, logits: Array) -> Array:
        return losses.softmax(logits)

    def loss(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, Array, float]:
        total, dlogits = losses.softmax_cross_entropy_with_logits(
            logits, y, mask, reduction="sum", class_weight=self.class_weight
        )
        return total, dlogits, float(logits.shape[-2])  # N: the loss is per sequence

    def correct(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, float]:
        return self._weighted(logits.argmax(axis=-1) == y.argmax(axis=-1), mask)


class RegressionTask(Task):
    name = "regression"
    losses = ("mse", "huber")

    def loss(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, Array, float]:
        if self.loss_name == "huber":
            total, dlogits = losses.huber_loss(logits, y, mask, reduction="sum")
        else:
            total, dlogits = losses.mse_loss(logits, y, mask, reduction="sum")
        count = float(y.size if mask is None else np.broadcast_to(mask, y.shape).sum(dtype=np.float64))
        return total, dlogits, count


_KINDS: dict[str, type[Task]] = {kind.name: kind for kind in (BinaryTask, MulticlassTask, RegressionTask)}
#: Every task name, and the losses each can use (the first is its default).
TASKS: dict[str, tuple[str, ...]] = {name: kind.losses for name, kind in _KINDS.items()}


def task(name: str, loss: str | None = None, class_weight: Array | None = None) -> Task:
    """The task called ``name`` with its ``loss`` (None: the task's default)."""
    return _KINDS[_checks.choice("task", name, tuple(_KINDS))](loss, class_weight)


class Scores:
    """The loss and the task's metrics, accumulated over batches (as Keras reports them:
    each batch weighted by its size, with the weights of the moment it was seen)."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.loss_sum = self.count = self.right = self.seen = 0.0

    def add(self, total: float, count: float, logits: Array, y: Array, mask: Array | None) -> None:
        right, seen = self.task.correct(logits, y, mask) if self.task.metrics else (0.0, 0.0)
        self.add_sums(total, count, right, seen)

    def add_sums(self, total: float, count: float, right: float, seen: float) -> None:
        """Add a batch by its sums: the loss, the counted targets, the right and the seen predictions."""
        self.loss_sum += total
        self.count += count
        self.right += right
        self.seen += seen

    def sums(self) -> tuple[float, float, float, float]:
        return self.loss_sum, self.count, self.right, self.seen

    @property
    def loss(self) -> float:
        return self.loss_sum / self.count if self.count else 0.0

    def result(self) -> dict[str, float]:
        scores = {"loss": self.loss}
        if "accuracy" in self.task.metrics:
            scores["accuracy"] = self.right / self.seen if self.seen else math.nan
        return scores
