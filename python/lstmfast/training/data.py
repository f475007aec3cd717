"""The data a model trains on and predicts from: checks of inputs, targets, masks
and lengths, and the batches :func:`lstmfast.training.loop.fit` draws.

Each check returns a C-contiguous array in the model's dtype or raises an error
that names the argument, the expected shape and the received one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .. import _checks

if TYPE_CHECKING:
    from .tasks import Task

__all__ = ["Batch", "inputs", "mask", "select", "targets"]

Array = np.ndarray[Any, Any]


class Batch(NamedTuple):
    """One step's data: x (T, b, I), targets, mask (or None), lengths (b,) (or None)."""

    x: Array
    y: Array
    mask: Array | None
    lengths: Array | None


def inputs(name: str, X: Any, input_size: int, dtype: Any, batch_first: bool = False) -> Array:
    """Sequences (T, N, I), time-major, with I = ``input_size``, at least one step and
    one sequence, no NaN or infinity; given as (N, T, I) if ``batch_first``."""
    arr = _checks.array(name, X)
    dims, order = ("(N, T, I)", "batch_first") if batch_first else ("(T, N, I)", "time-major")
    if arr.ndim != 3 or arr.shape[2] != input_size:
        raise ValueError(f"{name}: expected a 3-D array {dims} with I = {input_size} ({order}), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: expected at least one time step and one sequence, got shape {arr.shape}")
    _checks.finite(name, arr)
    return np.ascontiguousarray(arr.swapaxes(0, 1) if batch_first else arr, dtype=dtype)


def targets(name: str, y: Any, task: Task, shape: tuple[int, ...], layout: str, hint: str, dtype: Any) -> Array:
    """Targets for ``task`` of exactly ``shape`` (see :meth:`Task.targets` for what
    each task also takes), finite."""
    arr = _checks.finite(name, _checks.array(name, y))
    out = task.targets(name, arr, shape, dtype)
    if out.shape != shape:
        raise ValueError(f"{name}: expected shape {layout} = {shape}{hint}, got {arr.shape}")
    return out


def mask(name: str, value: Any, shape: tuple[int, ...], layout: str, dtype: Any) -> Array | None:
    """None, or non-negative weights of the targets' ``shape`` or of it without its
    last axis (then one weight for every output)."""
    if value is None:
        return None
    arr = _checks.array(name, value)
    if arr.shape == shape[:-1]:
        arr = arr[..., None]
    elif arr.shape != shape:
        raise ValueError(
            f"{name}: expected the shape of the targets {layout} = {shape} or {shape[:-1]}, got {arr.shape}"
        )
    _checks.finite(name, arr)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name}: weights must be >= 0 (use 0/1 or booleans)")
    return np.ascontiguousarray(arr, dtype=dtype)


def select(output: str, X: Array, y: Array, mask: Array | None, lengths: Array | None, idx: Any) -> Batch:
    """The sequences ``idx`` (a slice or indices) of every array: N is axis 1 of X,
    axis 1 of per-step targets and masks, axis 0 of last-step ones and of lengths."""
    pick = (slice(None), idx) if output == "per_step" else (idx,)
    # X contiguous: a slice of axis 1 is a strided view, which the kernels would
    # refuse before the checks copy it (an exception per batch)
    x = np.ascontiguousarray(X[:, idx])
    return Batch(x, y[pick], None if mask is None else mask[pick], None if lengths is None else lengths[idx])
