"""The fast path: LSTM, GRU and vanilla-RNN forward and BPTT in C++.

Same signatures, shapes and errors as :mod:`lstmfast.reference` (both check
their arguments with :mod:`lstmfast._checks`), so either can stand in for
the other; only ``packed`` (weights packed once, :func:`pack_weights`) is the
fast path's own. Arrays are time-major: ``x`` is (T, B, I). LSTM gate blocks in
``w_ih`` (4H, I), ``w_hh`` (4H, H) and the biases are in PyTorch's order
i, f, g, o, so PyTorch weights load unchanged.

The GIL is released while the kernels run; inputs are never modified
(non-contiguous, Fortran-ordered and read-only arrays are accepted, copied
when needed).

Calls go straight to the compiled module, which checks every buffer (dtype,
exact shape, contiguity) and refuses anything else; only then does the
Python validation run, to convert what can be converted or raise its
descriptive error. The checks in Python cost as much as a whole small
problem (~8 us for T=64, H=32), so well-formed calls skip them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional

import numpy as np

from . import _core, cells
from ._checks import (
    as_float_arrays,
    check_cell_args,
    check_cell_options,
    check_grad,
    check_lengths,
    check_nonlinearity,
    check_precision,
    check_reverse,
    check_tape,
    flag,
    present,
)

__all__ = [
    "GRUTape",
    "LSTMTape",
    "PackedWeights",
    "RNNTape",
    "gru_backward",
    "gru_forward",
    "lstm_backward",
    "lstm_forward",
    "pack_weights",
    "rnn_backward",
    "rnn_forward",
]

LSTMTape = _core.LSTMTape
RNNTape = _core.RNNTape
GRUTape = _core.GRUTape
PackedWeights = _core.PackedWeights

Array = np.ndarray[Any, Any]
Grads = dict[str, Optional[Array]]

_STEPS_DOC = """lengths : array_like of int (B,) or None
        Right-padded batches: sequence b has ``lengths[b]`` real steps (0 to T,
        any order). Past its end its outputs are 0 and its state is frozen, so
        the final state is the state after its last real step (the initial
        state for a sequence of length 0).
    reverse : bool
        Run each sequence backwards within its own length (the reverse half of
        a bidirectional layer); ``y`` stays in natural time order."""

_CLIP_DOC = """clip : float or None
        ONNX's ``clip``: every gate's pre-activation is clipped to [-clip, clip]
        before its nonlinearity (its gradient is 0 where clipped)."""

_PRECISION_DOC = """precision : None or "bfloat16"
        None: every product in the input's dtype. ``"bfloat16"`` (inference of
        float32 inputs): the operands of every product (x<t>, h<t-1>, the weights)
        are rounded to bfloat16 (to nearest even; denormals to zero) and summed in
        float32; the cell's math and state stay float32. About twice as fast on
        CPUs with AVX512_BF16; elsewhere the float32 kernels run
        (:func:`lstmfast.config.kernel_config` says which). ``lstmfast.reference`` computes
        the same rounding in NumPy."""


_PACKED_DOC = """packed : PackedWeights or None
        W_ih and W_hh packed once (:func:`pack_weights`), for inference: the call
        packs nothing (a streaming step at H = 512 spends most of its time packing
        otherwise, so one step reads the weights unpacked instead). Pass its own
        ``w_ih`` and ``w_hh`` with it; the call refuses anything else, training, and
        another instruction set or precision than it was packed for."""


def pack_weights(
    cell: Any, w_ih: Any, w_hh: Any, *, reset_after: bool = True, precision: str | None = None
) -> PackedWeights:
    """W_ih and W_hh of one cell packed once for many inference calls.

    Every call of ``lstm_forward`` (``gru_forward``, ``rnn_forward``) lays the
    weights out for its kernels first; ``packed=pack_weights(...)`` does it once.
    What it returns holds private, read-only copies of the weights as they are
    now (``.w_ih``, ``.w_hh``: pass these with it) and their layout for the
    instruction set active now (``.isa``), and for ``precision``.

    Parameters
    ----------
    cell : "lstm", "gru" or "rnn"
    w_ih : array_like (G, I); w_hh : array_like (G, H)
        G = 4H (LSTM), 3H (GRU), H (RNN); float32 or float64.
    reset_after : bool
        The GRU's formulation (see :func:`gru_forward`); the other cells take True.
    precision : None or "bfloat16"
        Pack for calls with this ``precision`` (see :func:`lstm_forward`).

    Returns
    -------
    PackedWeights
        Not picklable (its layout is this process's instruction set's): pickle the
        weights and pack them again, as :meth:`lstmfast.LSTM.prepared` layers do.
    """
    record = cells.get(cell)
    w_ih, w_hh = (present(k, a) for k, a in zip(("w_ih", "w_hh"), as_float_arrays(w_ih=w_ih, w_hh=w_hh)))
    return _core.pack_weights(
        record.name,
        np.ascontiguousarray(w_ih),
        np.ascontiguousarray(w_hh),
        reset_after=flag("reset_after", reset_after),
        precision=check_precision(precision),
    )


def _forward(
    cell: cells.Cell,
    kernel: Callable[..., Any],
    x: Any,
    weights: tuple[Any, ...],
    state: tuple[Any, ...],
    positional: tuple[Any, ...],
    training: bool,
    lengths: Any,
    reverse: Any,
    options: Mapping[str, Any],
    packed: Any = None,
) -> Any:
    """Call ``kernel`` directly; if it refuses the arguments, check and convert
    them (or raise the descriptive error) and call it again. ``options``: the
    cell's keyword options (:attr:`cells.Cell.options`), or :data:`_PLAIN` when
    they are all at their defaults, so that a plain call passes none of them.
    The compiled module takes only plain option values (True or False, a Python
    number as ``clip``, an array of the call's dtype and shape as
    ``peepholes``) and refuses the rest, checked below.

    Every argument goes by position: pybind11 matches keywords by name, which
    took 0.7 µs of a 2.5 µs call (LSTM, B=1, H=32)."""
    if packed is not None and not isinstance(packed, PackedWeights):
        raise TypeError(f"packed: expected None or PackedWeights (pack_weights), got {type(packed).__name__}")
    if type(reverse) is bool:  # else the checks below name the problem, in their order
        try:
            if not options and packed is None:
                return kernel(x, *weights, *state, *positional, bool(training), lengths, reverse)
            tail = _in_order(cell, options)
            return kernel(x, *weights, *state, *positional, bool(training), lengths, reverse, *tail, packed)
        except (TypeError, ValueError):
            pass  # not plain C-contiguous arrays of one dtype and the right shapes
    if cell.nonlinearities:
        check_nonlinearity(positional[0])
    a = check_cell_args(cell, x, *weights, *state)
    lengths = check_lengths(lengths, a.T, a.B, empty_allowed=True)
    reverse = check_reverse(reverse)
    options = check_cell_options(cell, a.H, a.dtype, **options)
    checked_state = (a.h0, a.c0)[: len(cell.states)]
    # the binding checks packed: it must come with its own w_ih and w_hh
    tail = _in_order(cell, options)
    return kernel(
        a.x,
        a.w_ih,
        a.w_hh,
        a.b_ih,
        a.b_hh,
        *checked_state,
        *positional,
        bool(training),
        lengths,
        reverse,
        *tail,
        packed,
    )


def _in_order(cell: cells.Cell, options: Mapping[str, Any]) -> tuple[Any, ...]:
    """The kernel's keyword options by position (:attr:`cells.Cell.kernel_keywords`)."""
    if not options:
        return cell.kernel_defaults
    return tuple(options.get(name, default) for name, default in cell.kernel_keywords)


_PLAIN: Mapping[str, Any] = {}  # the options of a call that sets none (never changed)


def _backward(
    cell: cells.Cell,
    kernel: Callable[..., Grads],
    tape_type: type,
    tape: Any,
    dy: Any,
    dfinal: tuple[Any, ...],
    input_gradient: Any = True,
) -> Grads:
    """Call ``kernel`` directly; if it refuses the arguments, check them and call it again."""
    if type(input_gradient) is bool:
        try:
            return kernel(tape, dy, *dfinal, input_gradient)
        except (TypeError, ValueError):
            pass
    check_tape(tape, tape_type, f"{cell.name}_forward", f"{cell.name}_backward")
    T, B, _, H = tape.shape
    dy = present("dy", check_grad("dy", dy, (T, B, H), tape.dtype))
    dfinal = tuple(check_grad(f"d{part}_n", d, (B, H), tape.dtype) for part, d in zip(cell.states, dfinal))
    return kernel(tape, dy, *dfinal, flag("input_gradient", input_gradient))


def lstm_forward(
    x: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any,
    b_hh: Any,
    h0: Any = None,
    c0: Any = None,
    *,
    training: bool = False,
    lengths: Any = None,
    reverse: bool = False,
    peepholes: Any = None,
    input_forget: bool = False,
    clip: Any = None,
    precision: str | None = None,
    packed: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LSTMTape | None]:
    """LSTM over a whole sequence.

    Parameters
    ----------
    x : array_like, (T, B, I)
    w_ih : array_like, (4H, I); w_hh : array_like, (4H, H)
        Gate blocks i, f, g, o (PyTorch's ``weight_ih_l0``, ``weight_hh_l0``).
    b_ih, b_hh : array_like (4H,) or None
    h0, c0 : array_like (B, H) or None (zeros)
    training : bool
        Keep what :func:`lstm_backward` needs (see :class:`LSTMTape`).
    {steps}
    peepholes : array_like (3H,) or None
        ONNX's peephole weights p_i, p_f, p_o (this order): z_i and z_f add
        p ⊙ c<t-1>, z_o adds p_o ⊙ c<t>.
    input_forget : bool
        ONNX's coupled gates: f = 1 - i (the forget gate's weights are unused).
    {clip}
    {precision}
    {packed}

    Returns
    -------
    y : (T, B, H), every h<t>;  h_n, c_n : (B, H), the final state;
    tape : LSTMTape if ``training`` else None.
    """
    plain = peepholes is None and input_forget is False and clip is None and precision is None
    options = (
        _PLAIN
        if plain
        else {"peepholes": peepholes, "input_forget": input_forget, "clip": clip, "precision": precision}
    )
    out: tuple[Array, Array, Array, LSTMTape | None] = _forward(
        cells.LSTM,
        _core.lstm_forward,
        x,
        (w_ih, w_hh, b_ih, b_hh),
        (h0, c0),
        (),
        training,
        lengths,
        reverse,
        options,
        packed,
    )
    return out


def lstm_backward(tape: LSTMTape, dy: Any, dh_n: Any = None, dc_n: Any = None, *, input_gradient: bool = True) -> Grads:
    """Backpropagation through time for :func:`lstm_forward`.

    Parameters
    ----------
    tape : LSTMTape from ``lstm_forward(..., training=True)`` (reusable).
    dy : array_like, (T, B, H)
        dL/dy, the loss gradient reaching every output step.
    dh_n, dc_n : array_like (B, H) or None (zeros)
        Gradients flowing into the final state (from a later chunk, or a loss on h_n).
    input_gradient : bool
        False: "x" is None, and its product dG W_ih is not computed (a first
        layer, whose input is data: at T=100, B=64, I=8, H=128, 2.5 % of the BPTT).

    Returns
    -------
    dict with keys "x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh" (the bias
    entries are None where forward had no bias) and, if forward had peepholes,
    "peepholes"; in the forward dtype.
    """
    return _backward(cells.LSTM, _core.lstm_backward, LSTMTape, tape, dy, (dh_n, dc_n), input_gradient)


def rnn_forward(
    x: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any,
    b_hh: Any,
    h0: Any = None,
    *,
    nonlinearity: str = "tanh",
    training: bool = False,
    lengths: Any = None,
    reverse: bool = False,
    clip: Any = None,
    precision: str | None = None,
    packed: Any = None,
) -> tuple[np.ndarray, np.ndarray, RNNTape | None]:
    """Vanilla RNN over a whole sequence: h<t> = act(x<t> w_ih^T + b_ih + h<t-1> w_hh^T + b_hh).

    Parameters
    ----------
    x : array_like, (T, B, I); w_ih : (H, I); w_hh : (H, H); b_ih, b_hh : (H,) or None
    h0 : array_like (B, H) or None (zeros)
    nonlinearity : "tanh" or "relu"
    training : bool
        Keep what :func:`rnn_backward` needs (see :class:`RNNTape`).
    {steps}
    {clip}
    {precision}
    {packed}

    Returns
    -------
    y : (T, B, H); h_n : (B, H); tape : RNNTape if ``training`` else None.
    """
    plain = clip is None and precision is None
    out: tuple[Array, Array, RNNTape | None] = _forward(
        cells.RNN,
        _core.rnn_forward,
        x,
        (w_ih, w_hh, b_ih, b_hh),
        (h0,),
        (nonlinearity,),
        training,
        lengths,
        reverse,
        _PLAIN if plain else {"clip": clip, "precision": precision},
        packed,
    )
    return out


def rnn_backward(tape: RNNTape, dy: Any, dh_n: Any = None, *, input_gradient: bool = True) -> Grads:
    """Backpropagation through time for :func:`rnn_forward`.

    Returns a dict with keys "x", "h0", "w_ih", "w_hh", "b_ih", "b_hh" (see
    :func:`lstm_backward`, also for ``input_gradient``).
    """
    return _backward(cells.RNN, _core.rnn_backward, RNNTape, tape, dy, (dh_n,), input_gradient)


def gru_forward(
    x: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any,
    b_hh: Any,
    h0: Any = None,
    *,
    training: bool = False,
    lengths: Any = None,
    reverse: bool = False,
    reset_after: bool = True,
    clip: Any = None,
    precision: str | None = None,
    packed: Any = None,
) -> tuple[np.ndarray, np.ndarray, GRUTape | None]:
    """GRU over a whole sequence, in PyTorch's formulation (gate rows r, z, n)::

        r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr),  z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn)),  h' = (1 - z) ⊙ n + z ⊙ h

    or, with ``reset_after=False``, the reset gate before the product (Cho et al.
    2014, Keras' ``reset_after=False``, ONNX's ``linear_before_reset=0``)::

        n = tanh(x W_in^T + b_in + (r ⊙ h) W_hn^T + b_hn)

    Parameters
    ----------
    x : array_like, (T, B, I); w_ih : (3H, I); w_hh : (3H, H); b_ih, b_hh : (3H,) or None
    h0 : array_like (B, H) or None (zeros)
    training : bool
        Keep what :func:`gru_backward` needs (see :class:`GRUTape`).
    {steps}
    reset_after : bool
        Where the reset gate acts (above); True is PyTorch's GRU.
    {clip}
    {precision}
        The GRU has it with ``reset_after=True`` only (its other form's second
        product reads r ⊙ h made within the step): ``ValueError`` otherwise.
    {packed}

    Returns
    -------
    y : (T, B, H); h_n : (B, H); tape : GRUTape if ``training`` else None.
    """
    plain = reset_after is True and clip is None and precision is None
    out: tuple[Array, Array, GRUTape | None] = _forward(
        cells.GRU,
        _core.gru_forward,
        x,
        (w_ih, w_hh, b_ih, b_hh),
        (h0,),
        (),
        training,
        lengths,
        reverse,
        _PLAIN if plain else {"reset_after": reset_after, "clip": clip, "precision": precision},
        packed,
    )
    return out


def gru_backward(tape: GRUTape, dy: Any, dh_n: Any = None, *, input_gradient: bool = True) -> Grads:
    """Backpropagation through time for :func:`gru_forward`.

    Returns a dict with keys "x", "h0", "w_ih", "w_hh", "b_ih", "b_hh" (see
    :func:`lstm_backward`, also for ``input_gradient``).
    """
    return _backward(cells.GRU, _core.gru_backward, GRUTape, tape, dy, (dh_n,), input_gradient)


for _f in (lstm_forward, rnn_forward, gru_forward):
    _f.__doc__ = (_f.__doc__ or "").replace("{steps}", _STEPS_DOC).replace("{clip}", _CLIP_DOC)
    _f.__doc__ = _f.__doc__.replace("{precision}", _PRECISION_DOC).replace("{packed}", _PACKED_DOC)
del _f
