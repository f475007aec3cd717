"""Checks of the data a model trains on and predicts from: inputs, targets, masks.

Each returns a C-contiguous array in the model's dtype or raises an error that
names the argument, the expected shape and the received one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _checks

__all__ = ["inputs", "mask", "targets"]

Array = np.ndarray[Any, Any]


def inputs(name: str, X: Any, input_size: int, dtype: Any) -> Array:
    """Sequences (T, N, I), time-major, with I = ``input_size``, at least one step and
    one sequence, no NaN or infinity."""
    arr = _checks.array(name, X)
    if arr.ndim != 3 or arr.shape[2] != input_size:
        raise ValueError(
            f"{name}: expected a 3-D array (T, N, I) with I = {input_size} (time-major), got shape {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: expected at least one time step and one sequence, got shape {arr.shape}")
    _checks.finite(name, arr)
    return np.ascontiguousarray(arr, dtype=dtype)


def targets(name: str, y: Any, shape: tuple[int, ...], layout: str, hint: str, dtype: Any) -> Array:
    """Targets of exactly ``shape`` (the last axis, of size 1, may be left out), finite."""
    arr = _checks.array(name, y)
    if shape[-1] == 1 and arr.shape == shape[:-1]:
        arr = arr[..., None]
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {layout} = {shape}{hint}, got {arr.shape}")
    _checks.finite(name, arr)
    return np.ascontiguousarray(arr, dtype=dtype)


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
