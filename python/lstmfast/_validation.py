"""Argument checking shared by the NumPy reference and the C++ fast path.

Both paths call these functions first, so they accept the same inputs and raise
the same errors. Rules:

* any array-like is accepted (``np.asarray``); the arrays returned are C-contiguous
  and aligned, copied only when needed. Inputs are never modified.
* dtypes: float32 or float64, one dtype per call (``TypeError`` otherwise).
* shapes: ``x`` is time-major (T, B, I); H is read from ``w_hh.shape[1]``; a wrong
  ndim or size raises ``ValueError`` naming the argument, the expected shape and
  the received one, e.g. ``w_hh: expected shape (4*H, H) = (64, 16), got (64, 15)``.
* T = 0 and B = 0 are valid (empty results); H = 0 and I = 0 are not.
* NaN and Inf are not checked: they propagate (except at padded positions, see
  :func:`check_lengths`, which are never read).
* ``lengths`` (:func:`check_lengths`) and ``reverse`` (:func:`check_reverse`) are
  checked after the arrays, in that order, by both paths.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
NONLINEARITIES = ("tanh", "relu")
_MAX_LISTED = 5  # offending lengths named in one message


class LSTMArgs(NamedTuple):
    """Checked LSTM arguments; ``h0``/``c0`` are zeros when not given."""

    x: np.ndarray  # (T, B, I)
    w_ih: np.ndarray  # (4H, I)
    w_hh: np.ndarray  # (4H, H)
    b_ih: Optional[np.ndarray]  # (4H,) or None
    b_hh: Optional[np.ndarray]  # (4H,) or None
    h0: np.ndarray  # (B, H)
    c0: np.ndarray  # (B, H)
    T: int
    B: int
    I: int  # noqa: E741  (the course's name for the input size)
    H: int
    dtype: np.dtype


class RNNArgs(NamedTuple):
    """Checked vanilla-RNN (and GRU) arguments; ``h0`` is zeros when not given.

    For a GRU the weights have three gate blocks: ``w_ih`` (3H, I), ``w_hh`` (3H, H),
    biases (3H,).
    """

    x: np.ndarray  # (T, B, I)
    w_ih: np.ndarray  # (H, I)
    w_hh: np.ndarray  # (H, H)
    b_ih: Optional[np.ndarray]  # (H,) or None
    b_hh: Optional[np.ndarray]  # (H,) or None
    h0: np.ndarray  # (B, H)
    T: int
    B: int
    I: int  # noqa: E741
    H: int
    dtype: np.dtype


# --------------------------------------------------------------------------- helpers


def as_float_arrays(**named: Any) -> list[Optional[np.ndarray]]:
    """Convert each named value with ``np.asarray`` and check the dtypes.

    ``None`` passes through. Every array must be float32 or float64, and all must
    share the dtype of the first one given (its name appears in the error message).
    """
    arrays: dict[str, Optional[np.ndarray]] = {}
    for name, value in named.items():
        if value is None:
            arrays[name] = None
            continue
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as err:  # e.g. ragged nested lists
            raise ValueError(f"{name}: cannot be converted to an array ({err})") from None
        if arr.dtype.kind == "f" and not arr.dtype.isnative:  # e.g. big-endian data
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.dtype not in SUPPORTED_DTYPES:
            raise TypeError(f"{name}: unsupported dtype {arr.dtype}; expected float32 or float64")
        arrays[name] = arr

    given = [(name, arr) for name, arr in arrays.items() if arr is not None]
    if given:
        first, ref = given[0]
        bad = [f"{name}: dtype {arr.dtype} does not match {first}'s dtype {ref.dtype}"
               for name, arr in given[1:] if arr.dtype != ref.dtype]
        if bad:
            raise TypeError("; ".join(bad) + "; all arrays of one call must share a dtype")
    return list(arrays.values())


def check_shape(name: str, arr: np.ndarray, layout: str, expected: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``arr.shape == expected``.

    ``layout`` is the symbolic shape, e.g. ``"(4*H, H)"``, used in the message.
    """
    if arr.ndim != len(expected):
        raise ValueError(f"{name}: expected a {len(expected)}-D array {layout}, got shape {arr.shape}")
    if arr.shape != expected:
        raise ValueError(f"{name}: expected shape {layout} = {expected}, got {arr.shape}")


def _contiguous(arr: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """C-contiguous, aligned version of ``arr`` (the same object if it already is)."""
    return None if arr is None else np.require(arr, requirements=("C", "A"))


def check_weights(w_ih: np.ndarray, w_hh: np.ndarray, b_ih: Optional[np.ndarray],
                  b_hh: Optional[np.ndarray], *, gates: int,
                  input_size: Optional[int] = None) -> tuple[int, int]:
    """Check weight shapes for a cell with ``gates`` gate blocks (LSTM 4, GRU 3, RNN 1).

    H is ``w_hh.shape[1]``; I is ``input_size`` or, if None, ``w_ih.shape[1]``.
    Arrays must already be NumPy arrays. Returns ``(I, H)``.
    """
    g = "4*H" if gates == 4 else ("H" if gates == 1 else f"{gates}*H")
    if w_hh.ndim != 2:
        raise ValueError(f"w_hh: expected a 2-D array ({g}, H), got shape {w_hh.shape}")
    H = w_hh.shape[1]
    if H < 1:
        raise ValueError(f"w_hh: hidden size H = w_hh.shape[1] must be >= 1, got shape {w_hh.shape}")
    check_shape("w_hh", w_hh, f"({g}, H)", (gates * H, H))
    if w_ih.ndim != 2:
        raise ValueError(f"w_ih: expected a 2-D array ({g}, I), got shape {w_ih.shape}")
    I = w_ih.shape[1] if input_size is None else input_size  # noqa: E741
    if I < 1:
        raise ValueError(f"w_ih: input size I = w_ih.shape[1] must be >= 1, got shape {w_ih.shape}")
    check_shape("w_ih", w_ih, f"({g}, I)", (gates * H, I))
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None:
            check_shape(name, b, f"({g},)", (gates * H,))
    return I, H


def _check_x(x: np.ndarray) -> tuple[int, int, int]:
    if x.ndim != 3:
        raise ValueError(f"x: expected a 3-D array (T, B, I), got shape {x.shape}")
    T, B, I = x.shape  # noqa: E741
    if I < 1:
        raise ValueError(f"x: input size I = x.shape[2] must be >= 1, got shape {x.shape}")
    return T, B, I


def _state(name: str, s: Optional[np.ndarray], B: int, H: int, dtype: np.dtype) -> np.ndarray:
    if s is None:
        return np.zeros((B, H), dtype=dtype)
    check_shape(name, s, "(B, H)", (B, H))
    return _contiguous(s)


# --------------------------------------------------------------------------- public


def check_lstm_args(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
                    h0: Any = None, c0: Any = None) -> LSTMArgs:
    """Check and normalise the arguments of an LSTM forward pass.

    Parameters
    ----------
    x : array_like, (T, B, I)
    w_ih : array_like, (4H, I), gate blocks i, f, g, o
    w_hh : array_like, (4H, H)
    b_ih, b_hh : array_like (4H,) or None
    h0, c0 : array_like (B, H) or None (zeros)

    Returns
    -------
    LSTMArgs
        C-contiguous arrays of one dtype, plus T, B, I, H and the dtype.

    Raises
    ------
    TypeError
        Unsupported or mixed dtypes.
    ValueError
        Wrong ndim or mismatched sizes; H = 0 or I = 0.
    """
    x, w_ih, w_hh, b_ih, b_hh, h0, c0 = as_float_arrays(
        x=x, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, h0=h0, c0=c0)
    T, B, I = _check_x(x)  # noqa: E741
    _, H = check_weights(w_ih, w_hh, b_ih, b_hh, gates=4, input_size=I)
    h0, c0 = _state("h0", h0, B, H, x.dtype), _state("c0", c0, B, H, x.dtype)
    x, w_ih, w_hh, b_ih, b_hh = map(_contiguous, (x, w_ih, w_hh, b_ih, b_hh))
    return LSTMArgs(x, w_ih, w_hh, b_ih, b_hh, h0, c0, T, B, I, H, x.dtype)


def check_rnn_args(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
                   h0: Any = None, nonlinearity: str = "tanh") -> RNNArgs:
    """Check and normalise the arguments of a vanilla-RNN forward pass.

    Same rules as :func:`check_lstm_args` with one gate block: ``w_ih`` (H, I),
    ``w_hh`` (H, H), biases (H,) or None, ``h0`` (B, H) or None; plus
    ``nonlinearity`` (see :func:`check_nonlinearity`).
    """
    check_nonlinearity(nonlinearity)
    x, w_ih, w_hh, b_ih, b_hh, h0 = as_float_arrays(
        x=x, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, h0=h0)
    T, B, I = _check_x(x)  # noqa: E741
    _, H = check_weights(w_ih, w_hh, b_ih, b_hh, gates=1, input_size=I)
    h0 = _state("h0", h0, B, H, x.dtype)
    x, w_ih, w_hh, b_ih, b_hh = map(_contiguous, (x, w_ih, w_hh, b_ih, b_hh))
    return RNNArgs(x, w_ih, w_hh, b_ih, b_hh, h0, T, B, I, H, x.dtype)


def check_gru_args(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
                   h0: Any = None) -> RNNArgs:
    """Check and normalise the arguments of a GRU forward pass.

    Same rules as :func:`check_lstm_args` with three gate blocks r, z, n:
    ``w_ih`` (3H, I), ``w_hh`` (3H, H), biases (3H,) or None, ``h0`` (B, H) or None
    (zeros). Returns an :class:`RNNArgs` (the fields are the same).
    """
    x, w_ih, w_hh, b_ih, b_hh, h0 = as_float_arrays(
        x=x, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, h0=h0)
    T, B, I = _check_x(x)  # noqa: E741
    _, H = check_weights(w_ih, w_hh, b_ih, b_hh, gates=3, input_size=I)
    h0 = _state("h0", h0, B, H, x.dtype)
    x, w_ih, w_hh, b_ih, b_hh = map(_contiguous, (x, w_ih, w_hh, b_ih, b_hh))
    return RNNArgs(x, w_ih, w_hh, b_ih, b_hh, h0, T, B, I, H, x.dtype)


def check_lengths(lengths: Any, T: int, B: int) -> Optional[np.ndarray]:
    """Check the per-sequence lengths of a right-padded batch.

    Parameters
    ----------
    lengths : array_like of int, (B,), or None
        ``lengths[b]`` is the number of real steps of sequence b; steps
        ``lengths[b] .. T-1`` are padding. Any order (no sorting needed).
        None means every sequence has length T.
    T, B : int
        ``x.shape[0]`` and ``x.shape[1]``.

    Returns
    -------
    numpy.ndarray or None
        A new int64 array (the input is never returned or modified), or None.

    Raises
    ------
    TypeError
        A dtype other than a (signed or unsigned) integer one: floats, even with
        whole values, and bools are refused. An empty ``lengths`` (B = 0) is
        accepted whatever its dtype, since ``np.asarray([])`` is float64.
    ValueError
        Not convertible, shape other than (B,), or a length outside [1, T]
        (every length is invalid when T = 0 and B > 0).
    """
    if lengths is None:
        return None
    try:
        arr = np.asarray(lengths)
    except (ValueError, TypeError) as err:  # e.g. ragged nested lists
        raise ValueError(f"lengths: cannot be converted to an array ({err})") from None
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"lengths: expected an integer array, got dtype {arr.dtype}")
    check_shape("lengths", arr, "(B,)", (B,))
    if B == 0:
        return np.zeros(0, dtype=np.int64)
    if T == 0:
        raise ValueError(f"lengths: every length must be in [1, T], but T = x.shape[0] = 0: an "
                         f"empty batch of sequences has no valid lengths (pass lengths=None)")
    bad = np.flatnonzero((arr < 1) | (arr > T))
    if bad.size:
        listed = ", ".join(f"{arr[k]} at index {k}" for k in bad[:_MAX_LISTED])
        more = f" ({bad.size} invalid in all)" if bad.size > _MAX_LISTED else ""
        raise ValueError(f"lengths: every length must be in [1, T] = [1, {T}], got {listed}{more}")
    return arr.astype(np.int64)  # always a copy: values in [1, T] fit


def check_reverse(reverse: Any) -> bool:
    """Return ``reverse`` as a bool; ``TypeError`` unless it is a bool (or NumPy bool)."""
    if not isinstance(reverse, (bool, np.bool_)):
        raise TypeError(f"reverse: expected a bool, got {type(reverse).__name__}")
    return bool(reverse)


_GRAD_LAYOUTS = {"dy": "(T, B, H)", "dh_n": "(B, H)", "dc_n": "(B, H)"}


def check_grad(name: str, arr: Any, expected_shape: tuple[int, ...],
               dtype: np.dtype) -> Optional[np.ndarray]:
    """Check a gradient flowing into backward (``dy``, ``dh_n``, ``dc_n``).

    Parameters
    ----------
    name : str
        Argument name, used in messages.
    arr : array_like or None
        None passes through (the caller treats it as zeros).
    expected_shape : tuple of int
    dtype : numpy dtype
        The dtype of the forward pass; ``arr`` must have exactly this dtype.

    Returns
    -------
    numpy.ndarray or None
        C-contiguous array, or None.
    """
    if arr is None:
        return None
    (arr,) = as_float_arrays(**{name: arr})
    if arr.dtype != np.dtype(dtype):
        raise TypeError(f"{name}: dtype {arr.dtype} does not match the forward pass dtype "
                        f"{np.dtype(dtype)}; all arrays of one call must share a dtype")
    layout = _GRAD_LAYOUTS.get(name, str(tuple(expected_shape)))
    check_shape(name, arr, layout, tuple(expected_shape))
    return _contiguous(arr)


def check_nonlinearity(nonlinearity: Any) -> str:
    """Return ``nonlinearity`` if it is ``"tanh"`` or ``"relu"``.

    Raises ``TypeError`` if it is not a str, ``ValueError`` for any other string.
    """
    if not isinstance(nonlinearity, str):
        raise TypeError(f"nonlinearity: expected a str, one of {NONLINEARITIES}, "
                        f"got {type(nonlinearity).__name__}")
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}")
    return nonlinearity


def check_tape(tape: Any, kind: type, forward: str, backward: str) -> None:
    """Raise unless ``tape`` is a ``kind`` returned by ``forward(..., training=True)``.

    ``ValueError`` for None (forward ran with ``training=False``), ``TypeError``
    for anything else of the wrong type (e.g. an RNN tape given to the LSTM).
    """
    if tape is None:
        raise ValueError(f"{backward}: tape is None; call {forward}(..., training=True) to "
                         f"record what backpropagation needs")
    if not isinstance(tape, kind):
        raise TypeError(f"{backward}: expected the {kind.__name__} returned by "
                        f"{forward}(..., training=True), got {type(tape).__name__}")
