"""Every argument check of the package, once.

Each check returns the normalised value or raises ``TypeError`` (wrong kind of
value) or ``ValueError`` (right kind, wrong value) with a message that starts
with the argument's name and says what was expected and what was received,
e.g. ``w_hh: expected shape (4*H, H) = (64, 16), got (64, 15)``.

The array checks of the recurrent functions are shared by the NumPy reference
and the C++ fast path, so both accept the same inputs and raise the same
errors. Their rules:

* any array-like is accepted (``np.asarray``); the arrays returned are C-contiguous
  and aligned, copied only when needed. Inputs are never modified.
* dtypes: float32 or float64, one dtype per call (``TypeError`` otherwise).
* shapes: ``x`` is time-major (T, B, I); H is read from ``w_hh.shape[1]``; a wrong
  ndim or size raises ``ValueError`` naming the argument, the expected shape and
  the received one.
* T = 0 and B = 0 are valid (empty results); H = 0 and I = 0 are not.
* NaN and Inf are not checked: they propagate (except at padded positions, see
  :func:`check_lengths`, which are never read).
* ``lengths`` (:func:`check_lengths`) and ``reverse`` (:func:`check_reverse`) are
  checked after the arrays, in that order, by both paths.
"""

from __future__ import annotations

import math
import numbers
import os
import stat
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import cells

Array = np.ndarray[Any, Any]

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_MAX_LISTED = 5  # offending lengths named in one message


# --------------------------------------------------------------------------- scalars


def integer(
    name: str, value: Any, low: int | None = None, high: int | None = None, *, rule: str = "", kind: str = ""
) -> int:
    """``value`` as an int in [low, high] (either bound may be None).

    ``TypeError`` unless it is an integer (bools are refused), ``ValueError``
    outside the bounds. ``rule`` replaces the default wording of the bounds,
    e.g. ``"1 <= season <= split_time = 6"``, and ``kind`` that of the type
    (default "an int", or "a positive int").
    """
    positive = low == 1 and high is None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        kind = kind or ("a positive int" if positive else "an int")
        raise TypeError(f"{name}: expected {kind}, got {type(value).__name__} {value!r}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        if not rule:
            if positive:
                rule = "a positive int"
            elif low is not None and high is not None:
                rule = f"{low} <= {name} <= {high}"
            else:
                rule = f"an int >= {low}" if low is not None else f"an int <= {high}"
        raise ValueError(f"{name}: expected {rule}, got {number}")
    return number


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1."""
    return integer(name, value, 1)


def real(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    what: str = "a number",
) -> float:
    """``value`` as a finite float in the interval from ``low`` to ``high``
    (closed unless ``low_open`` / ``high_open``); ``what`` names the kind of
    number in the message, e.g. "a probability"."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected {what} in {interval}, got {type(value).__name__} {value!r}")
    number = _as_float(name, value, f"{what} in {interval}")
    above = number > low if low_open else number >= low
    below = number < high if high_open else number <= high
    if not (math.isfinite(number) and above and below):
        raise ValueError(f"{name}: expected {what} in {interval}, got {number}")
    return number


def _as_float(name: str, value: Any, what: str) -> float:
    """``float(value)`` of a real number; an int beyond the float range (10**400)
    raises the caller's ``ValueError`` rather than Python's OverflowError."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name}: expected {what}, got an int beyond the float range") from None


def positive_real(name: str, value: Any, *, allow_zero: bool = False, what: str = "") -> float:
    """``value`` as a finite float > 0 (or >= 0); ``what`` replaces "a finite
    number > 0" in the messages."""
    what = what or f"a finite number {'>= 0' if allow_zero else '> 0'}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name}: expected {what.replace('a finite number', 'a number')}, got {type(value).__name__} {value!r}"
        )
    number = _as_float(name, value, what)
    if not (math.isfinite(number) and (number >= 0 if allow_zero else number > 0)):
        raise ValueError(f"{name}: expected {what}, got {number}")
    return number


def flag(name: str, value: Any) -> bool:
    """``value`` as a bool; ``TypeError`` unless it is a bool (or NumPy bool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def seed(value: Any, name: str = "seed") -> int | None:
    """None or an int >= 0."""
    if value is None:
        return None
    return integer(name, value, 0, rule="None or an int >= 0", kind="None or an int >= 0")


def generator(value: Any, name: str = "seed") -> np.random.Generator:
    """A NumPy random generator from None, an int >= 0, a SeedSequence or a Generator
    (returned as is, so a caller can share its own stream)."""
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, np.random.SeedSequence):
        return np.random.default_rng(value)
    kind = "None, an int >= 0, a numpy Generator or SeedSequence"
    return np.random.default_rng(None if value is None else integer(name, value, 0, rule=kind, kind=kind))


def choice(name: str, value: Any, options: Sequence[str]) -> str:
    """``value`` if it is one of the strings ``options``: ``TypeError`` if it is
    not a str, ``ValueError`` if it is another one."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, one of {tuple(options)}, got {type(value).__name__}")
    if value not in options:
        raise ValueError(f"{name}: expected one of {tuple(options)}, got {value!r}")
    return value


def float_dtype(value: Any, name: str = "dtype") -> np.dtype[Any]:
    """float32 or float64 (anything ``np.dtype`` reads as one of them)."""
    try:
        dtype: np.dtype[Any] = np.dtype(value)
    except TypeError:
        raise TypeError(f"{name}: expected float32 or float64, got {value!r}") from None
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {dtype}")
    return dtype


# --------------------------------------------------------------------------- files


def regular_file(path: Any, what: str) -> str:
    """``path`` as a str, if it names a regular file; ``what`` names the kind of file
    expected, e.g. "a CSV file".

    ``FileNotFoundError`` if there is none; ``ValueError`` for a directory, a FIFO,
    a device or anything else that is not a regular file (reading those could
    block forever or never end).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    where = os.fspath(path)
    try:
        mode = os.stat(where).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file") from None
    except OSError as err:
        raise ValueError(f"{where}: cannot read the file ({err.strerror or err})") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"{where}: is a directory, not {what}")
    if not stat.S_ISREG(mode):
        raise ValueError(f"{where}: not a regular file (a FIFO, socket or device), not {what}")
    return where


def read_file(path: Any, what: str, limit: int) -> tuple[str, bytes]:
    """``(path as str, contents)`` of the regular file at ``path`` (see
    :func:`regular_file`), refused with ``ValueError`` if it holds more than
    ``limit`` bytes or cannot be read."""
    where = regular_file(path, what)
    try:
        with open(where, "rb") as fid:
            raw = fid.read(limit + 1)
    except OSError as err:
        raise ValueError(f"{where}: cannot read the file ({err.strerror or err})") from None
    if len(raw) > limit:
        raise ValueError(f"{where}: larger than {limit:,} bytes, more than {what} should hold")
    return where, raw


# --------------------------------------------------------------------------- arrays


def to_numpy(value: Any) -> Any:
    """A torch tensor becomes a NumPy array (without importing torch; bfloat16, which
    NumPy lacks, widened exactly to float32); anything else is returned as is."""
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        tensor = value.detach().cpu()
        if str(getattr(tensor, "dtype", "")) == "torch.bfloat16":
            tensor = tensor.float()
        return tensor.numpy()
    return value


def is_real(dtype: np.dtype[Any]) -> bool:
    """Booleans, integers and floats of any width, including the extension floats of
    ml_dtypes (bfloat16, float8...), which NumPy knows as kind "V" castable to float64."""
    if dtype.kind in "biuf":
        return True
    return dtype.kind == "V" and dtype.fields is None and np.can_cast(dtype, np.float64)


def array(name: str, value: Any, kinds: str = "biuf") -> Array:
    """``np.asarray(value)`` (torch tensors too) if its dtype kind is one of ``kinds``
    (default: booleans and real numbers, including bfloat16 and other ml_dtypes
    floats when ``kinds`` has "f"); a clear error otherwise. Never a copy unless
    conversion needs one."""
    if value is None:
        raise TypeError(f"{name}: expected an array, got None")
    try:
        arr = np.asarray(to_numpy(value))
    except (ValueError, TypeError) as err:  # e.g. ragged nested lists
        raise ValueError(f"{name}: cannot be converted to an array ({err})") from None
    extension_float = "f" in kinds and arr.dtype.kind == "V" and is_real(arr.dtype)
    if arr.dtype.kind not in kinds and not extension_float:
        what = "real numbers or booleans" if "b" in kinds else "real numbers"
        raise TypeError(f"{name}: expected {what}, got dtype {arr.dtype}")
    return arr


def real_array(name: str, value: Any, dtype: np.dtype[Any]) -> Array:
    """The one dtype rule of objects that have a dtype (layers, cells, models,
    estimators): ``value`` converted to ``dtype`` if it holds booleans, integers or
    floats of any width (float16, bfloat16, ...), else ``TypeError`` naming
    ``name`` (complex numbers, datetimes, strings, bytes, Python objects). The same
    array if it already is ``dtype``."""
    if type(value) is np.ndarray and value.dtype == dtype:  # the common case, in a microsecond-scale step
        return value
    arr = array(name, value)
    return arr if arr.dtype == dtype else arr.astype(dtype)


def finite(name: str, arr: Array) -> Array:
    """``arr`` if it holds no NaN or infinity."""
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains {int(arr.size - np.isfinite(arr).sum())} NaN or infinite value(s)")
    return arr


def as_float_arrays(**named: Any) -> list[Array | None]:
    """Convert each named value with ``np.asarray`` and check the dtypes.

    ``None`` passes through. Every array must be float32 or float64, and all must
    share the dtype of the first one given (its name appears in the error message).
    """
    # The common case, in every step of a training loop: NumPy arrays of one
    # supported dtype, or None (a few microseconds less per call).
    dtypes = {value.dtype for value in named.values() if type(value) is np.ndarray}
    if (
        len(dtypes) == 1
        and dtypes <= set(SUPPORTED_DTYPES)
        and all(value is None or type(value) is np.ndarray for value in named.values())
    ):
        return list(named.values())
    arrays: dict[str, Array | None] = {}
    for name, value in named.items():
        if value is None:
            arrays[name] = None
            continue
        try:
            arr = np.asarray(to_numpy(value))
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
        bad = [
            f"{name}: dtype {arr.dtype} does not match {first}'s dtype {ref.dtype}"
            for name, arr in given[1:]
            if arr.dtype != ref.dtype
        ]
        if bad:
            raise TypeError("; ".join(bad) + "; all arrays of one call must share a dtype")
    return list(arrays.values())


def present(name: str, arr: Array | None) -> Array:
    """``arr``, which the caller requires: ``TypeError`` naming it if it is None."""
    if arr is None:
        raise TypeError(f"{name}: expected an array, got None")
    return arr


def check_shape(name: str, arr: Array, layout: str, expected: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``arr.shape == expected``.

    ``layout`` is the symbolic shape, e.g. ``"(4*H, H)"``, used in the message.
    """
    if arr.ndim != len(expected):
        raise ValueError(f"{name}: expected a {len(expected)}-D array {layout}, got shape {arr.shape}")
    if arr.shape != expected:
        raise ValueError(f"{name}: expected shape {layout} = {expected}, got {arr.shape}")


def _contiguous(arr: Array | None) -> Array | None:
    """C-contiguous, aligned version of ``arr`` (the same object if it already is)."""
    return None if arr is None else np.require(arr, requirements=("C", "A"))


def check_weights(
    w_ih: Array,
    w_hh: Array,
    b_ih: Array | None,
    b_hh: Array | None,
    *,
    cell: cells.Cell,
    input_size: int | None = None,
) -> tuple[int, int]:
    """Check the weight shapes of ``cell`` (G = gates * H rows: LSTM 4H, GRU 3H, RNN H).

    H is ``w_hh.shape[1]``; I is ``input_size`` or, if None, ``w_ih.shape[1]``.
    Arrays must already be NumPy arrays. Returns ``(I, H)``.
    """
    g, gates = cell.layout, cell.gates
    if w_hh.ndim != 2:
        raise ValueError(f"w_hh: expected a 2-D array ({g}, H), got shape {w_hh.shape}")
    H = w_hh.shape[1]
    if H < 1:
        raise ValueError(f"w_hh: hidden size H = w_hh.shape[1] must be >= 1, got shape {w_hh.shape}")
    check_shape("w_hh", w_hh, f"({g}, H)", (gates * H, H))
    if w_ih.ndim != 2:
        raise ValueError(f"w_ih: expected a 2-D array ({g}, I), got shape {w_ih.shape}")
    I = w_ih.shape[1] if input_size is None else input_size
    if I < 1:
        raise ValueError(f"w_ih: input size I = w_ih.shape[1] must be >= 1, got shape {w_ih.shape}")
    check_shape("w_ih", w_ih, f"({g}, I)", (gates * H, I))
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None:
            check_shape(name, b, f"({g},)", (gates * H,))
    return I, H


class CellArgs(NamedTuple):
    """Checked arguments of a forward pass; the initial state is zeros where not given
    (``c0`` is None for cells without a cell state)."""

    x: Array  # (T, B, I)
    w_ih: Array  # (G, I), G = gates * H
    w_hh: Array  # (G, H)
    b_ih: Array | None  # (G,) or None
    b_hh: Array | None  # (G,) or None
    h0: Array  # (B, H)
    c0: Array | None  # (B, H), LSTM only
    T: int
    B: int
    I: int
    H: int
    dtype: np.dtype[Any]


def check_cell_args(cell: cells.Cell, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, *state: Any) -> CellArgs:
    """Check and normalise the arguments of ``cell``'s forward pass.

    Parameters
    ----------
    cell : cells.Cell
        Gives the number of gate blocks G/H and the state parts.
    x : array_like, (T, B, I)
    w_ih : array_like, (G, I); w_hh : array_like, (G, H)
    b_ih, b_hh : array_like (G,) or None
    *state : array_like (B, H) or None (zeros), one per state part (h0, and c0 for the LSTM)

    Returns
    -------
    CellArgs
        C-contiguous arrays of one dtype, plus T, B, I, H and the dtype.

    Raises
    ------
    TypeError
        Unsupported or mixed dtypes.
    ValueError
        Wrong ndim or mismatched sizes; H = 0 or I = 0.
    """
    names = [part + "0" for part in cell.states]
    converted = as_float_arrays(x=x, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, **dict(zip(names, state)))
    xa, w_ih_a, w_hh_a = (present(name, a) for name, a in zip(("x", "w_ih", "w_hh"), converted[:3]))
    b_ih_a, b_hh_a = converted[3:5]
    if xa.ndim != 3:
        raise ValueError(f"x: expected a 3-D array (T, B, I), got shape {xa.shape}")
    T, B, I = xa.shape
    if I < 1:
        raise ValueError(f"x: input size I = x.shape[2] must be >= 1, got shape {xa.shape}")
    _, H = check_weights(w_ih_a, w_hh_a, b_ih_a, b_hh_a, cell=cell, input_size=I)
    initial = []
    for name, s in zip(names, converted[5:]):
        if s is None:
            initial.append(np.zeros((B, H), dtype=xa.dtype))
        else:
            check_shape(name, s, "(B, H)", (B, H))
            initial.append(np.require(s, requirements=("C", "A")))
    c0 = initial[1] if len(initial) > 1 else None
    xa, w_ih_a, w_hh_a = (np.require(a, requirements=("C", "A")) for a in (xa, w_ih_a, w_hh_a))
    return CellArgs(xa, w_ih_a, w_hh_a, _contiguous(b_ih_a), _contiguous(b_hh_a), initial[0], c0, T, B, I, H, xa.dtype)


def check_lstm_args(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any = None, c0: Any = None) -> CellArgs:
    """:func:`check_cell_args` for the LSTM (w_ih (4H, I), w_hh (4H, H), h0 and c0)."""
    return check_cell_args(cells.LSTM, x, w_ih, w_hh, b_ih, b_hh, h0, c0)


def check_gru_args(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any = None) -> CellArgs:
    """:func:`check_cell_args` for the GRU (w_ih (3H, I), w_hh (3H, H), h0)."""
    return check_cell_args(cells.GRU, x, w_ih, w_hh, b_ih, b_hh, h0)


def check_rnn_args(
    x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any = None, nonlinearity: Any = "tanh"
) -> CellArgs:
    """:func:`check_cell_args` for the vanilla RNN (w_ih (H, I), w_hh (H, H), h0),
    after its ``nonlinearity``."""
    check_nonlinearity(nonlinearity)
    return check_cell_args(cells.RNN, x, w_ih, w_hh, b_ih, b_hh, h0)


def check_nonlinearity(value: Any) -> str:
    """Return ``value`` if it is ``"tanh"`` or ``"relu"`` (the vanilla RNN's choices)."""
    return choice("nonlinearity", value, cells.RNN.nonlinearities)


def check_clip(clip: Any) -> float | None:
    """None (no clipping) or the bound of ONNX's ``clip``: a finite number > 0 that
    the gates' pre-activations are clipped to, [-clip, clip]."""
    if clip is None:
        return None
    return positive_real("clip", clip, what="None or a finite number > 0")


PRECISIONS = ("bfloat16",)


def check_precision(precision: Any) -> str | None:
    """None (every product in the input's dtype) or ``"bfloat16"``: the operands of
    the products rounded to bfloat16, sums and state in float32 (the LSTM's inference)."""
    if precision is None or (isinstance(precision, str) and precision in PRECISIONS):
        return precision
    raise ValueError(f"precision: expected None or one of {PRECISIONS}, got {precision!r}")


def check_precision_with_reset(precision: str | None, reset_after: bool | None) -> None:
    """The GRU with the reset gate before its product (``reset_after=False``) has no
    bfloat16 kernel: its second product reads r * h<t-1>, made within the step."""
    if precision is not None and reset_after is False:
        raise ValueError(
            f"precision={precision!r}: the GRU with reset_after=False has no bfloat16 kernel; "
            "use reset_after=True or precision=None"
        )


def check_peepholes(peepholes: Any, H: int, dtype: np.dtype[Any]) -> Array | None:
    """None, or the LSTM's peephole weights: (3*H,), blocks p_i, p_f, p_o (the input,
    forget and output gates' weights on the cell state), in the call's dtype."""
    if peepholes is None:
        return None
    (arr,) = as_float_arrays(peepholes=peepholes)
    assert arr is not None
    if arr.dtype != dtype:
        raise TypeError(
            f"peepholes: dtype {arr.dtype} does not match x's dtype {dtype}; all arrays of one call must share a dtype"
        )
    check_shape("peepholes", arr, "(3*H,)", (3 * H,))
    return np.require(arr, requirements=("C", "A"))


def check_cell_options(cell: cells.Cell, H: int, dtype: np.dtype[Any], **options: Any) -> dict[str, Any]:
    """The keyword options of ``cell``'s forward (:attr:`cells.Cell.options`), checked
    in that order: ``peepholes`` (:func:`check_peepholes`), the cell's flags (bools),
    ``clip`` (:func:`check_clip`), ``precision`` (:func:`check_precision`). An option
    the cell does not have is a ``TypeError``, as for any function."""
    unknown = sorted(set(options) - set(cell.options))
    if unknown:
        raise TypeError(f"{cell.name}_forward: unexpected option(s) {unknown}; its options are {list(cell.options)}")
    checked: dict[str, Any] = {}
    for name in cell.options:
        if name not in options:
            continue
        value = options[name]
        if name == "peepholes":
            checked[name] = check_peepholes(value, H, dtype)
        elif name == "clip":
            checked[name] = check_clip(value)
        elif name == "precision":
            checked[name] = check_precision(value)
        else:
            checked[name] = flag(name, value)
    return checked


def check_lengths(lengths: Any, T: int, B: int, *, empty_allowed: bool = False) -> Array | None:
    """Check the per-sequence lengths of a right-padded batch.

    Parameters
    ----------
    lengths : array_like of int, (B,), or None
        ``lengths[b]`` is the number of real steps of sequence b; steps
        ``lengths[b] .. T-1`` are padding. Any order (no sorting needed).
        None means every sequence has length T.
    T, B : int
        ``x.shape[0]`` and ``x.shape[1]``.
    empty_allowed : bool
        Accept sequences of length 0 (the recurrent functions and layers do: such a
        sequence's outputs are 0 and its final state is its initial state). Callers
        that need a last step of every sequence (a model's ``output="last"``) leave
        it False.

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
        Not convertible, shape other than (B,), or a length outside [1, T] ([0, T]
        with ``empty_allowed``; every length is invalid when T = 0 and B > 0 unless
        empty sequences are allowed).
    """
    if lengths is None:
        return None
    try:
        arr = np.asarray(to_numpy(lengths))
    except (ValueError, TypeError) as err:  # e.g. ragged nested lists
        raise ValueError(f"lengths: cannot be converted to an array ({err})") from None
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"lengths: expected an integer array, got dtype {arr.dtype}")
    check_shape("lengths", arr, "(B,)", (B,))
    if B == 0:
        return np.zeros(0, dtype=np.int64)
    low = 0 if empty_allowed else 1
    if T == 0 and not empty_allowed:
        raise ValueError(
            "lengths: every length must be in [1, T], but T = x.shape[0] = 0: an "
            "empty batch of sequences has no valid lengths (pass lengths=None)"
        )
    bad = np.flatnonzero((arr < low) | (arr > T))
    if bad.size:
        listed = ", ".join(f"{arr[k]} at index {k}" for k in bad[:_MAX_LISTED])
        more = f" ({bad.size} invalid in all)" if bad.size > _MAX_LISTED else ""
        raise ValueError(f"lengths: every length must be in [{low}, T] = [{low}, {T}], got {listed}{more}")
    return arr.astype(np.int64)  # always a copy: values in [0, T] fit


def check_reverse(reverse: Any) -> bool:
    """Return ``reverse`` as a bool; ``TypeError`` unless it is a bool (or NumPy bool)."""
    if not isinstance(reverse, (bool, np.bool_)):
        raise TypeError(f"reverse: expected a bool, got {type(reverse).__name__}")
    return bool(reverse)


_GRAD_LAYOUTS = {"dy": "(T, B, H)", "dh_n": "(B, H)", "dc_n": "(B, H)"}


def check_grad(name: str, arr: Any, expected_shape: tuple[int, ...], dtype: Any) -> Array | None:
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
    (checked,) = as_float_arrays(**{name: arr})
    assert checked is not None
    if checked.dtype != np.dtype(dtype):
        raise TypeError(
            f"{name}: dtype {checked.dtype} does not match the forward pass dtype "
            f"{np.dtype(dtype)}; all arrays of one call must share a dtype"
        )
    layout = _GRAD_LAYOUTS.get(name, str(tuple(expected_shape)))
    check_shape(name, checked, layout, tuple(expected_shape))
    return _contiguous(checked)


def check_tape(tape: Any, kind: type, forward: str, backward: str) -> None:
    """Raise unless ``tape`` is a ``kind`` returned by ``forward(..., training=True)``.

    ``ValueError`` for None (forward ran with ``training=False``), ``TypeError``
    for anything else of the wrong type (e.g. an RNN tape given to the LSTM).
    """
    if tape is None:
        raise ValueError(
            f"{backward}: tape is None; call {forward}(..., training=True) to record what backpropagation needs"
        )
    if not isinstance(tape, kind):
        raise TypeError(
            f"{backward}: expected the {kind.__name__} returned by "
            f"{forward}(..., training=True), got {type(tape).__name__}"
        )
