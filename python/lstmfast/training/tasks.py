r"""What a model's task is, in one place: its loss, its predictions and its scores.

* ``binary``: ŷ = σ(z); binary cross-entropy from the logits, **summed over time
  steps** (and outputs) for each sequence, then averaged over the sequences:
  ``L = (1/N) Σ_n Σ_t Σ_o mask·BCE`` — the course's ``L = Σ_t L<t>`` per
  sequence. Scored also by accuracy, (ŷ > 0.5) == (y > 0.5).
* ``regression``: ŷ = z; mean squared error over all (unmasked) elements.

A mask (the shape of the targets) weights the elements that count.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import losses

__all__ = ["TASKS", "BinaryTask", "RegressionTask", "Task"]

Array = np.ndarray[Any, Any]


class Task:
    """One kind of output: how logits become predictions and a loss."""

    name = ""
    #: Scores besides the loss that :class:`Scores` accumulates.
    metrics: tuple[str, ...] = ()

    def check_targets(self, name: str, y: Array) -> None:
        """Raise ``ValueError`` if the targets (already shaped) cannot be this task's."""

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


class BinaryTask(Task):
    name = "binary"
    metrics = ("accuracy",)

    def check_targets(self, name: str, y: Array) -> None:
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"{name}: binary targets must be in [0, 1], got values in "
                f"[{y.min()}, {y.max()}] (use task='regression' for other values)"
            )

    def predict(self, logits: Array) -> Array:
        return losses.sigmoid(logits)

    def loss(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, Array, float]:
        total, dlogits = losses.sigmoid_bce_with_logits(logits, y, mask, reduction="sum")
        return total, dlogits, float(logits.shape[-2])  # N: the loss is per sequence

    def correct(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, float]:
        right = (logits > 0) == (y > 0.5)
        if mask is None:
            return float(right.sum()), float(right.size)
        w = np.broadcast_to(mask, right.shape)
        return float(np.sum(w * right, dtype=np.float64)), float(w.sum(dtype=np.float64))


class RegressionTask(Task):
    name = "regression"

    def loss(self, logits: Array, y: Array, mask: Array | None) -> tuple[float, Array, float]:
        total, dlogits = losses.mse_loss(logits, y, mask, reduction="sum")
        count = float(y.size if mask is None else np.broadcast_to(mask, y.shape).sum(dtype=np.float64))
        return total, dlogits, count


#: Every task by name.
TASKS: dict[str, Task] = {task.name: task for task in (BinaryTask(), RegressionTask())}


class Scores:
    """The loss and the task's metrics, accumulated over batches (as Keras reports them:
    each batch weighted by its size, with the weights of the moment it was seen)."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.loss_sum = self.count = self.right = self.seen = 0.0

    def add(self, total: float, count: float, logits: Array, y: Array, mask: Array | None) -> None:
        self.loss_sum += total
        self.count += count
        if self.task.metrics:
            right, seen = self.task.correct(logits, y, mask)
            self.right += right
            self.seen += seen

    @property
    def loss(self) -> float:
        return self.loss_sum / self.count if self.count else 0.0

    def result(self) -> dict[str, float]:
        scores = {"loss": self.loss}
        if "accuracy" in self.task.metrics:
            scores["accuracy"] = self.right / self.seen if self.seen else math.nan
        return scores
