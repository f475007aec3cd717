"""Training: a trainable model, its losses and optimizers, and gradient diagnostics.

* :class:`SequenceModel` (:mod:`.model`): recurrent layers plus a dense head, with
  ``fit`` / ``predict`` / ``evaluate`` / ``save`` / ``load``;
* :mod:`.losses`: the per-step output head and losses summed over time, with gradients;
* :mod:`.optim`: :class:`SGD`, :class:`Adam` and :func:`clip_grad_norm` for dicts of
  named arrays;
* :mod:`.diagnostics`: :func:`gradient_flow`, how far the gradient reaches back in time.
"""

from . import losses, optim
from .diagnostics import GradientFlow, gradient_flow
from .model import SequenceModel
from .optim import SGD, Adam, clip_grad_norm

__all__ = ["SGD", "Adam", "GradientFlow", "SequenceModel", "clip_grad_norm", "gradient_flow", "losses", "optim"]
