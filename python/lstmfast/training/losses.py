r"""Per-time-step output head and losses summed over time, each with its gradient.

A training step chains them into the recurrent backward pass::

    y, h_n, c_n, tape = lstm_forward(x, w_ih, w_hh, b_ih, b_hh, training=True)
    logits = dense_forward(y, w_y, b_y)                   # z<t> = W_y a<t> + b_y
    loss, dlogits = sigmoid_bce_with_logits(logits, targets)
    dy, dw_y, db_y = dense_backward(y, w_y, dlogits)
    grads = lstm_backward(tape, dy)

The course's per-step prediction and loss are ``ŷ<t> = σ(z<t>)`` and
``L = Σ_t −y<t> log ŷ<t> − (1 − y<t>) log(1 − ŷ<t>)``. Evaluated as written, this
overflows or gives log(0) for large |z|; :func:`sigmoid_bce_with_logits` uses the equal
form ``softplus(z) − y·z`` instead, whose gradient is simply ``σ(z) − y``.

Masks select (or weight) the elements that count, e.g. to ignore padding after the
end of shorter sequences. They broadcast against the logits, and masked-out elements
contribute exactly zero even if their logits are NaN or Inf.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._checks import array, as_float_arrays, check_shape, present
from ..reference import sigmoid

__all__ = ["dense_backward", "dense_forward", "mse_loss", "sigmoid", "sigmoid_bce_with_logits"]

REDUCTIONS = ("sum", "mean")


def dense_forward(h: Any, w: Any, b: Any = None) -> np.ndarray:
    """Affine output head applied at every time step: ``logits = h @ w.T + b``.

    Parameters
    ----------
    h : array_like, (T, B, H)
        Hidden states (any number of leading axes is accepted: (..., H)).
    w : array_like, (O, H)
        W_y.
    b : array_like (O,) or None
        b_y.

    Returns
    -------
    numpy.ndarray, (T, B, O)
        In the dtype of ``h``.
    """
    h, w, b = as_float_arrays(h=h, w=w, b=b)
    h, w = present("h", h), present("w", w)
    O, H = _check_dense(h, w)
    if b is not None:
        check_shape("b", b, "(O,)", (O,))
    logits = _matmul(h.reshape(-1, H), w.T).reshape((*h.shape[:-1], O))
    if b is not None:
        logits += b
    return logits


def dense_backward(h: Any, w: Any, dlogits: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`dense_forward`.

    Parameters
    ----------
    h : array_like, (T, B, H)
    w : array_like, (O, H)
    dlogits : array_like, (T, B, O)
        dL/dlogits.

    Returns
    -------
    dh : (T, B, H)
        Feed this to ``lstm_backward`` / ``rnn_backward`` as ``dy``.
    dw : (O, H)
    db : (O,)
        Always returned, because the function does not know whether the forward
        used a bias; ignore it if it did not.
    """
    h, w, dlogits = (present(k, a) for k, a in zip(("h", "w", "dlogits"), as_float_arrays(h=h, w=w, dlogits=dlogits)))
    O, H = _check_dense(h, w)
    lead = h.shape[:-1]
    check_shape("dlogits", dlogits, "(..., O)", (*lead, O))
    d2 = dlogits.reshape(-1, O)  # all time steps and examples as rows
    dh = _matmul(d2, w).reshape(h.shape)  # logits = h @ w.T
    dw = _matmul(d2.T, h.reshape(-1, H))  # Σ over steps and examples of dlogits<t>ᵀ h<t>
    db = d2.sum(axis=0)
    return dh, dw, db


# The head's products go through lstmfast's GEMM rather than NumPy's `@`, for
# the speed of a whole training step rather than of the head itself: NumPy's
# OpenBLAS keeps its worker threads spinning for a while after a product, and
# a spinning thread takes a core from the next recurrent call's threads, which
# wait for it at every step's barrier (measured: SequenceModel.fit 0.50 s with
# `@`, 0.26 s with OpenBLAS limited to one thread).
def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _core.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b))


def _check_dense(h: np.ndarray, w: np.ndarray) -> tuple[int, int]:
    if h.ndim < 1:
        raise ValueError(f"h: expected an array (..., H), got shape {h.shape}")
    H = h.shape[-1]
    if w.ndim != 2:
        raise ValueError(f"w: expected a 2-D array (O, H), got shape {w.shape}")
    check_shape("w", w, "(O, H)", (w.shape[0], H))
    return w.shape[0], H


def _loss_inputs(
    name: str, pred: Any, targets: Any, mask: Any, reduction: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check the arguments shared by the losses; targets and mask take pred's dtype."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    pred = present(name, as_float_arrays(**{name: pred})[0])
    targets = array("targets", targets).astype(pred.dtype, copy=False)
    mask = None if mask is None else array("mask", mask).astype(pred.dtype, copy=False)
    if targets.shape != pred.shape:
        raise ValueError(f"targets: expected the shape of {name} {pred.shape}, got {targets.shape}")
    if mask is not None:
        try:
            mask = np.broadcast_to(mask, pred.shape)
        except ValueError:
            raise ValueError(
                f"mask: shape {mask.shape} cannot be broadcast to the shape of {name} {pred.shape}"
            ) from None
        if np.any(mask < 0):
            raise ValueError("mask: weights must be >= 0 (use 0/1 or booleans)")
    return pred, targets, mask


def _reduce(loss: np.ndarray, grad: np.ndarray, mask: np.ndarray | None, reduction: str) -> tuple[float, np.ndarray]:
    """Apply the mask (as weights) and the reduction to elementwise loss and gradient."""
    if mask is None:
        count = loss.size
    else:
        keep = mask != 0  # where, not just multiply: 0 * NaN would be NaN
        loss = np.where(keep, mask * loss, 0)
        grad = np.where(keep, mask * grad, 0)
        count = mask.sum()
    total = loss.sum()
    if reduction == "mean":
        if count == 0:  # nothing to average (e.g. all padding): no loss, no gradient
            return 0.0, np.zeros_like(grad)
        total, grad = total / count, grad / count
    return float(total), grad


def sigmoid_bce_with_logits(
    logits: Any, targets: Any, mask: Any = None, reduction: str = "sum"
) -> tuple[float, np.ndarray]:
    """Binary cross-entropy of ŷ = σ(logits), summed over time steps, from the logits.

    ``L = Σ −y log ŷ − (1 − y) log(1 − ŷ)``, computed per element z, y as
    ``max(z, 0) − z·y + log(1 + exp(−|z|))`` (= softplus(z) − z·y, the same value),
    which never overflows: exp is only taken of −|z|.

    Parameters
    ----------
    logits : array_like, e.g. (T, B, O)
        z = W_y a<t> + b_y, float32 or float64.
    targets : array_like, same shape
        y in [0, 1] (bool and int are accepted).
    mask : array_like or None
        Broadcastable to ``logits``: 0/1 or bool (which elements count), or non-negative
        weights. Masked-out elements contribute exactly 0 to loss and gradient.
    reduction : {"sum", "mean"}
        "sum": the sum over all (unmasked) elements, i.e. over time steps, batch and
        outputs. "mean": that sum divided by the number of unmasked elements (the sum of
        the weights); 0 loss and 0 gradient if there are none.

    Returns
    -------
    loss : float
    dlogits : numpy.ndarray
        dL/dlogits = mask·(σ(z) − y) (divided as the loss is), in the logits' dtype.
    """
    z, y, mask = _loss_inputs("logits", logits, targets, mask, reduction)
    loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return _reduce(loss, sigmoid(z) - y, mask, reduction)


def mse_loss(pred: Any, targets: Any, mask: Any = None, reduction: str = "mean") -> tuple[float, np.ndarray]:
    """Squared error ``L = Σ (pred − targets)²``, optionally averaged.

    Parameters
    ----------
    pred : array_like
        Float32 or float64.
    targets : array_like, same shape
    mask : array_like or None
        As in :func:`sigmoid_bce_with_logits`.
    reduction : {"mean", "sum"}
        "mean" divides by the number of unmasked elements (like PyTorch's MSELoss
        when there is no mask).

    Returns
    -------
    loss : float
    dpred : numpy.ndarray
        dL/dpred = 2·mask·(pred − targets) (divided as the loss is).
    """
    pred, y, mask = _loss_inputs("pred", pred, targets, mask, reduction)
    diff = pred - y
    return _reduce(diff**2, 2 * diff, mask, reduction)
