"""Training: a trainable model, its tasks and losses, optimizers, callbacks,
checkpoints, and gradient diagnostics.

* :class:`SequenceModel` (:mod:`.model`): recurrent layers plus a dense head, with
  ``fit`` / ``predict`` / ``evaluate`` / ``save`` / ``load``; its tasks (binary,
  multiclass, regression) in :mod:`.tasks`, its loop in :mod:`.loop`, its file
  format and resumable checkpoints in :mod:`.checkpoint`;
* :mod:`.losses`: the per-step output head and losses summed over time, with gradients;
* :mod:`.optim`: :class:`SGD`, :class:`Adam`, :class:`AdamW` and
  :func:`clip_grad_norm` for dicts of named arrays;
* :mod:`.callbacks`: early stopping, checkpoints, learning-rate schedules, logs;
* :mod:`.diagnostics`: :func:`gradient_flow`, how far the gradient reaches back in time.
"""

from . import callbacks, losses, optim
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LearningRateScheduler,
    ModelCheckpoint,
    cosine_decay,
    exponential_decay,
    lr_sweep,
    step_decay,
)
from .diagnostics import GradientFlow, gradient_flow
from .model import SequenceModel
from .optim import SGD, Adam, AdamW, Optimizer, clip_grad_norm

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "GradientFlow",
    "JSONLogger",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "Optimizer",
    "SequenceModel",
    "callbacks",
    "clip_grad_norm",
    "cosine_decay",
    "exponential_decay",
    "gradient_flow",
    "losses",
    "lr_sweep",
    "optim",
    "step_decay",
]
