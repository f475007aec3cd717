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
from .._checks import (
    SUPPORTED_DTYPES,
    array,
    as_float_arrays,
    check_shape,
    float_dtype,
    integer,
    positive_real,
    present,
)
from ..reference import sigmoid

__all__ = [
    "dense_backward",
    "dense_forward",
    "huber_loss",
    "mse_loss",
    "one_hot",
    "sigmoid",
    "sigmoid_bce_with_logits",
    "softmax",
    "softmax_cross_entropy_with_logits",
]

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
    O, _ = _check_dense(h, w)
    if b is not None:
        check_shape("b", b, "(O,)", (O,))
    return _dense(h, w, b)


def _dense(h: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """:func:`dense_forward` of checked arrays of one dtype (a model's own head)."""
    O, H = w.shape
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
    O, _ = _check_dense(h, w)
    check_shape("dlogits", dlogits, "(..., O)", (*h.shape[:-1], O))
    return _dense_gradients(h, w, dlogits)


def _dense_gradients(h: np.ndarray, w: np.ndarray, dlogits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`dense_backward` of checked arrays of one dtype (a model's own head)."""
    O, H = w.shape
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
    if (  # the common case at once (a model's training step): arrays of one dtype and shape, no mask
        mask is None
        and type(pred) is np.ndarray
        and type(targets) is np.ndarray
        and pred.dtype in SUPPORTED_DTYPES
        and targets.dtype == pred.dtype
        and targets.shape == pred.shape
        and type(reduction) is str
        and reduction in REDUCTIONS
    ):
        return pred, targets, None
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    pred = present(name, as_float_arrays(**{name: pred})[0])
    targets = array("targets", targets).astype(pred.dtype, copy=False)
    mask = None if mask is None else array("mask", mask).astype(pred.dtype, copy=False)
    if targets.shape != pred.shape:
        raise ValueError(f"targets: expected the shape of {name} {pred.shape}, got {targets.shape}")
    if mask is not None:
        mask = _mask_weights(mask, pred.shape, f"the shape of {name}")
    return pred, targets, mask


def _mask_weights(mask: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``mask`` broadcast to ``shape``, its weights checked (>= 0)."""
    try:
        weights = np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(f"mask: shape {mask.shape} cannot be broadcast to {what} {shape}") from None
    if np.any(weights < 0):
        raise ValueError("mask: weights must be >= 0 (use 0/1 or booleans)")
    return weights


def _reduce(
    loss: np.ndarray, grad: np.ndarray, mask: np.ndarray | None, reduction: str, *, grad_weights_axis: bool = False
) -> tuple[float, np.ndarray]:
    """Apply the mask (as weights) and the reduction to elementwise loss and gradient
    (``grad_weights_axis``: the gradient has one more axis than the loss, the classes,
    and each position's weight applies along it)."""
    if mask is None:
        count = loss.size
    else:
        keep = mask != 0  # where, not just multiply: 0 * NaN would be NaN
        loss = np.where(keep, mask * loss, 0)
        gm, gk = (mask[..., None], keep[..., None]) if grad_weights_axis else (mask, keep)
        grad = np.where(gk, gm * grad, 0)
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


def huber_loss(
    pred: Any, targets: Any, mask: Any = None, reduction: str = "mean", delta: float = 1.0
) -> tuple[float, np.ndarray]:
    """Huber loss: squared near the target, linear far from it, so outliers pull less.

    Per element, with d = pred − targets: ``0.5·d²`` where ``|d| <= delta``, else
    ``delta·(|d| − 0.5·delta)`` (Keras' ``Huber``, PyTorch's ``HuberLoss``; the
    forecasting course's loss for noisy series).

    Parameters
    ----------
    pred, targets, mask, reduction
        As in :func:`mse_loss`.
    delta : float
        Where the loss turns from quadratic to linear, > 0.

    Returns
    -------
    loss : float
    dpred : numpy.ndarray
        dL/dpred = mask·clip(d, −delta, delta) (divided as the loss is).
    """
    delta = positive_real("delta", delta)
    pred, y, mask = _loss_inputs("pred", pred, targets, mask, reduction)
    d = pred - y
    small = np.abs(d) <= delta
    loss = np.where(small, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))
    return _reduce(loss, np.clip(d, -delta, delta), mask, reduction)


def softmax(logits: Any, axis: int = -1) -> np.ndarray:
    """Softmax over ``axis``, stable for any logits (the largest is subtracted first)."""
    z = present("logits", as_float_arrays(logits=logits)[0])
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    p: np.ndarray = e / e.sum(axis=axis, keepdims=True)
    return p


def softmax_cross_entropy_with_logits(
    logits: Any, targets: Any, mask: Any = None, reduction: str = "sum", class_weight: Any = None
) -> tuple[float, np.ndarray]:
    """Cross-entropy of ŷ = softmax(logits) over the last axis (K classes), from the logits.

    Per position (every index but the last): ``L = −Σ_k y_k log ŷ_k``, computed as
    ``logsumexp(z) − Σ_k y_k z_k`` (the largest logit subtracted first, so nothing
    overflows); its gradient is ``ŷ − y`` (for targets that sum to 1).

    Parameters
    ----------
    logits : array_like, (..., K)
    targets : array_like
        One-hot rows or class probabilities, shaped like ``logits`` (use
        :func:`one_hot` for class indices).
    mask : array_like or None
        Weights of the positions: broadcastable to ``logits.shape[:-1]`` (or to
        ``logits``, with one weight repeated over the K classes).
    reduction : {"sum", "mean"}
        "sum": over all (unmasked) positions; "mean": divided by their number (the
        sum of the weights).
    class_weight : array_like (K,) or None
        Each position's loss is multiplied by the weight of its class (Keras'
        ``class_weight``; for probability targets, by Σ_k y_k w_k).

    Returns
    -------
    loss : float
    dlogits : numpy.ndarray
        dL/dlogits, in the logits' dtype.
    """
    z, y, _ = _loss_inputs("logits", logits, targets, None, reduction)
    if z.ndim < 1 or z.shape[-1] < 2:
        raise ValueError(f"logits: expected an array (..., K) with K >= 2 classes, got shape {z.shape}")
    weights = None
    if mask is not None:
        m = array("mask", mask).astype(z.dtype, copy=False)
        if m.ndim == z.ndim and m.shape[-1] == 1:  # one weight per position, on an axis of its own
            m = m[..., 0]
        elif m.shape == z.shape:  # the same weight repeated over the classes
            m = m[..., 0] if m.size == 0 else m.max(axis=-1)
        weights = _mask_weights(m, z.shape[:-1], "the positions of logits")
    if class_weight is not None:
        cw = array("class_weight", class_weight).astype(z.dtype, copy=False)
        check_shape("class_weight", cw, "(K,)", (z.shape[-1],))
        if np.any(cw < 0) or not np.isfinite(cw).all():
            raise ValueError("class_weight: weights must be finite and >= 0")
        per_position = y @ cw
        weights = per_position if weights is None else weights * per_position
    shifted = z - z.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    loss = -(y * (shifted - log_norm)).sum(axis=-1)
    grad = np.exp(shifted - log_norm) * y.sum(axis=-1, keepdims=True) - y
    return _reduce(loss, grad, None if weights is None else weights, reduction, grad_weights_axis=True)


def one_hot(labels: Any, classes: int, dtype: Any = np.float32) -> np.ndarray:
    """Class indices (any shape) as one-hot rows: shape ``labels.shape + (classes,)``."""
    idx = array("labels", labels, kinds="iu")
    classes = integer("classes", classes, 2)
    if idx.size and (idx.min() < 0 or idx.max() >= classes):
        raise ValueError(f"labels: class indices must be in [0, {classes}), got values in [{idx.min()}, {idx.max()}]")
    out = np.zeros((*idx.shape, classes), dtype=float_dtype(dtype))
    np.put_along_axis(out, idx[..., None].astype(np.intp), 1, axis=-1)
    return out
