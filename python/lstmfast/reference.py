r"""Pure-NumPy LSTM, GRU and vanilla RNN: forward pass and backpropagation through time.

This module is the clarity oracle every fast path is checked against. It is meant
to be read. It computes in the dtype of its inputs (float32 or float64).

Notation
--------
The course writes one example as a column vector and one weight matrix per gate
acting on the concatenation [a<t-1>; x<t>]. The code uses PyTorch's names and
layout: a batch of B row vectors, and the four gate blocks stacked in the rows
of ``w_ih`` (4H, I) and ``w_hh`` (4H, H) in the order i, f, g, o.

=================  ==============  ================================================
course             code (PyTorch)  meaning
=================  ==============  ================================================
x<t>               x[t]            input at step t, (B, I)
a<t>               h[t]            hidden state, (B, H); ``y`` stacks all of them
c<t>               c[t]            cell state, (B, H)
Γu  (update gate)  i               σ(...), how much of c~ to write
Γf  (forget gate)  f               σ(...), how much of c<t-1> to keep
c~<t> (candidate)  g               tanh(...), the value that may be written
Γo  (output gate)  o               σ(...), how much of tanh(c<t>) to show
W_u = [W_ua|W_ux]  [w_hh_i|w_ih_i] rows 0:H of w_hh and w_ih (f: H:2H, g: 2H:3H,
                                   o: 3H:4H); b_u = b_ih[0:H] + b_hh[0:H]
ŷ<t>               σ(logits[t])    output head, see :mod:`lstmfast.losses`
=================  ==============  ================================================

The LSTM step, for all B examples at once (``@`` is matrix product)::

    z     = x<t> @ w_ih.T + b_ih + a<t-1> @ w_hh.T + b_hh    (B, 4H) pre-activations
    Γu, Γf, c~, Γo = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)
    c<t>  = Γu * c~<t> + Γf * c<t-1>
    a<t>  = Γo * tanh(c<t>)

The vanilla RNN step: ``a<t> = act(x<t> @ w_ih.T + b_ih + a<t-1> @ w_hh.T + b_hh)``
with act = tanh (the course) or relu.

GRU
---
PyTorch's formulation (also Keras' ``reset_after=True`` and cuDNN's): three gate
blocks r, z, n in the rows of ``w_ih`` (3H, I), ``w_hh`` (3H, H), ``b_ih``, ``b_hh``
(3H,). The course's GRU has no separate cell state (c<t> = a<t>) and differs in two
details, shown in the table::

    r     = σ(x<t> @ w_ir.T + b_ir + a<t-1> @ w_hr.T + b_hr)       reset gate
    z     = σ(x<t> @ w_iz.T + b_iz + a<t-1> @ w_hz.T + b_hz)       update gate
    n     = tanh(x<t> @ w_in.T + b_in + r * (a<t-1> @ w_hn.T + b_hn))   candidate
    a<t>  = (1 - z) * n + z * a<t-1>

=================  ==============  ================================================
course             code (PyTorch)  meaning
=================  ==============  ================================================
c<t> = a<t>        h[t]            the state, (B, H); also the output
Γr (relevance)     r               σ(...), how much of the recurrent term enters n
Γu (update gate)   1 - z           the course's Γu is the share of the candidate
                                   written; PyTorch's z is the share of a<t-1> kept
c~<t> (candidate)  n               tanh(...); the course multiplies a<t-1> by Γr
                                   *before* the product with W_c, PyTorch (and this
                                   module) multiplies the product w_hn a<t-1> + b_hn
                                   by r *after* it, so b_hn sits inside the reset
=================  ==============  ================================================

So the course's c<t> = Γu * c~<t> + (1 - Γu) * c<t-1> is h = (1 - z) * n + z * h_prev.

With ``reset_after=False`` the GRU is the course's (and Cho et al.'s 2014 original, Keras'
``reset_after=False``, ONNX's ``linear_before_reset=0``): Γr resets a<t-1> *before* the
product, so b_hn is simply added::

    n     = tanh(x<t> @ w_in.T + b_in + (r * a<t-1>) @ w_hn.T + b_hn)

Options from ONNX
-----------------
ONNX's LSTM, GRU and RNN operators add a few options, all off by default:

* ``peepholes`` (LSTM, (3H,): p_u, p_f, p_o, PyTorch order i, f, o): the gates read the
  cell state, Γu = σ(... + p_u * c<t-1>), Γf = σ(... + p_f * c<t-1>) and, after the
  cell update, Γo = σ(... + p_o * c<t>) (Gers and Schmidhuber's peephole connections).
* ``input_forget`` (LSTM): Γf = 1 - Γu, the forget and update gates coupled (the f
  block of the weights is then unused and gets zero gradient).
* ``clip`` (every cell): each gate's pre-activation, peepholes included, is clipped to
  [-clip, clip] before its nonlinearity (also the RNN's and the GRU's candidate; not
  c<t> before the output's tanh, as ONNX Runtime does it). The gradient of a clipped
  value is 0 (where |z| > clip), 1 inside (bounds included).

Variable lengths and direction
------------------------------
Every ``*_forward`` takes ``lengths`` and ``reverse``. ``lengths`` (B,) describes a
right-padded batch: sequence b has ``lengths[b]`` real steps, followed by padding
(any order of lengths; no sorting). Past its end a sequence takes no step: its
state stays frozen (so ``h_n[b]`` is the state after its last real step), its
outputs are 0, and in backward the padding gets gradient 0 and its ``dy`` is
ignored. ``reverse=True`` runs each sequence from its own last real step back to
time 0 (the reverse direction of a bidirectional layer, PyTorch's ``*_reverse``
half); ``y`` stays in time order and ``h_n`` is the state after time 0. A length may
be 0 (ONNX allows it): that sequence takes no step at all, its outputs are 0, its
final state is its initial state, and in backward the gradient reaching its final
state is that of its initial state.

One loop serves every case: loop step s of sequence b works on the time step
``times[s, b]`` (s, or ``lengths[b] - 1 - s`` when reversed) while s is below the
sequence's length (see :func:`_schedule`). The inputs are first rearranged into
that loop-step order (:func:`_reorder`), the recurrence runs with the ended
sequences standing still, and the outputs are put back into time order.

Functions come in forward / backward pairs. ``*_forward(..., training=True)``
returns a *tape* holding copies of exactly what BPTT needs; ``*_backward(tape, dy,
dh_n, dc_n)`` takes the gradient of the loss with respect to every output and
returns the gradient with respect to every input. The gradient of ``foo`` is
called ``dfoo``. Because backward accepts gradients flowing into the final state
(``dh_n``, ``dc_n``) and returns those of the initial state (``h0``, ``c0``), a long
sequence can be processed in chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from . import cells
from ._checks import (
    check_cell_options,
    check_grad,
    check_gru_args,
    check_lengths,
    check_lstm_args,
    check_precision_with_reset,
    check_reverse,
    check_rnn_args,
    check_tape,
    present,
)

__all__ = [
    "GRUTape",
    "LSTMTape",
    "RNNTape",
    "bfloat16_round",
    "gru_backward",
    "gru_cell_backward",
    "gru_cell_forward",
    "gru_forward",
    "lstm_backward",
    "lstm_cell_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "rnn_backward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "sigmoid",
]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function σ(z) = 1 / (1 + exp(-z)), without overflow.

    exp is only ever taken of -|z| (at most 1): for z >= 0 use 1 / (1 + e^-z),
    for z < 0 the equal form e^z / (1 + e^z). Keeps the dtype of ``z``.
    """
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    out: np.ndarray = np.where(z >= 0, 1, e) / (1 + e)
    return out


@overload
def _frozen_copy(a: np.ndarray) -> np.ndarray: ...
@overload
def _frozen_copy(a: None) -> None: ...
def _frozen_copy(a: np.ndarray | None) -> np.ndarray | None:
    """A read-only copy, so a tape cannot be changed from outside or by backward."""
    if a is None:
        return None
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def _bias_sum(b_ih: np.ndarray | None, b_hh: np.ndarray | None, size: int, dtype: np.dtype) -> np.ndarray:
    """b_ih + b_hh, where a missing bias counts as zero. The two always appear summed."""
    b = np.zeros(size, dtype=dtype)
    for part in (b_ih, b_hh):
        if part is not None:
            b = b + part
    return b


def _schedule(T: int, B: int, lengths: np.ndarray | None, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """Which time step each sequence works on at each step of the loop.

    Returns ``times`` (T, B) int and ``active`` (T, B) bool. At loop step s,
    sequence b processes time step ``times[s, b]`` if ``active[s, b]``, i.e. while
    s < lengths[b]; after that it has ended and takes no step.

    * forward:  times[s, b] = s
    * reverse:  times[s, b] = lengths[b] - 1 - s   (each sequence starts at its own end)

    Where a sequence has ended, ``times`` is s: any valid index will do, it is never used.
    """
    L = np.full(B, T) if lengths is None else lengths  # (B,)
    s = np.arange(T)[:, None]  # (T, 1)
    active = s < L  # (T, B)
    times = L - 1 - s if reverse else np.broadcast_to(s, (T, B))
    return np.where(active, times, s), active


def bfloat16_round(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (8 significant bits), as float32.

    bfloat16 keeps float32's exponent and the top 7 bits of its fraction, so a
    value is its float32 bits with the low 16 rounded away: to nearest, ties to
    even. NaN stays NaN; denormals (|a| < 2**-126) become zero of their sign, as
    the AVX512_BF16 instructions do. Products of two such values are exact in
    float32, so a bfloat16 dot product with float32 sums differs from float32
    only by the operands' rounding (relative error up to 2**-9 each).
    """
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    magnitude = bits & np.uint32(0x7FFFFFFF)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    nan = (bits | np.uint32(0x00400000)) & np.uint32(0xFFFF0000)
    signed_zero = bits & np.uint32(0x80000000)
    out = np.where(magnitude > 0x7F800000, nan, np.where(magnitude < 0x00800000, signed_zero, rounded))
    return out.astype(np.uint32).view(np.float32).reshape(np.shape(a))


def _precision_operand(precision: str | None, training: bool, dtype: np.dtype) -> Any:
    """What the products' operands go through: nothing, or :func:`bfloat16_round`."""
    if precision is None:
        return lambda a: a
    if training:
        raise ValueError("precision='bfloat16' is for inference: training=True keeps a tape in the input's dtype")
    if dtype != np.float32:
        raise TypeError(f"precision='bfloat16' needs float32 x and weights, got {dtype}")
    return bfloat16_round


def _reorder(a: np.ndarray, times: np.ndarray, active: np.ndarray) -> np.ndarray:
    """``a`` (T, B, K) rearranged so row s holds ``a[times[s, b], b]``; zeros where inactive.

    Used in both directions: time order -> loop-step order (x, dy) and back (y, dx).
    That works because the map s -> times[s, b] undoes itself (it is the identity, or
    s -> L - 1 - s, on the real steps 0..L-1), and the padding is the same set of rows
    (s >= L) in both orders. Padding always comes out as exact zeros, whatever ``a``
    holds there (even NaN), so it can influence nothing.
    """
    out: np.ndarray = a[times, np.arange(a.shape[1])]  # fancy indexing: always a new array
    out[~active] = 0
    return out


def _clip(z: np.ndarray, clip: float | None) -> np.ndarray:
    """What a gate's nonlinearity sees: ``z`` bounded to [-clip, clip], or ``z`` itself
    without ``clip``."""
    return z if clip is None else np.clip(z, -clip, clip)


def _clip_slope(z: np.ndarray | None, clip: float | None) -> Any:
    """d _clip(z) / dz: 1 inside [-clip, clip] (bounds included) and 0 where ``z`` was
    clipped; the number 1 without ``clip`` (``z`` is then not needed)."""
    if clip is None:
        return 1
    assert z is not None
    return np.abs(z) <= clip


def _blocks(a: np.ndarray | None, n: int) -> list[Any]:
    """The n gate blocks of ``a`` (B, n*H), or n Nones."""
    return [None] * n if a is None else np.split(a, n, axis=-1)


# =========================================================================== LSTM


@dataclass(frozen=True)
class LSTMTape:
    """What :func:`lstm_backward` needs, recorded by ``lstm_forward(training=True)``.

    All arrays are read-only copies, in loop-step order (see the module notes; with
    ``lengths=None, reverse=False`` that is plain time order). ``hs`` and ``cs`` have
    T + 1 rows: row s is the state after loop step s, and the extra last row (index
    -1) is the initial state, so ``hs[s - 1]`` is the previous state for every s,
    including s = 0. Past a sequence's end its ``x`` and ``gates`` rows are zero and
    its state rows repeat its final state.
    """

    x: np.ndarray  # (T, B, I), loop-step order, zeros past each sequence's end
    w_ih: np.ndarray  # (4H, I)
    w_hh: np.ndarray  # (4H, H)
    has_b_ih: bool
    has_b_hh: bool
    gates: np.ndarray  # (T, B, 4H): Γu, Γf, c~, Γo after their nonlinearity
    hs: np.ndarray  # (T + 1, B, H): a<0..T-1>, then a<-1> = h0
    cs: np.ndarray  # (T + 1, B, H): c<0..T-1>, then c<-1> = c0
    lengths: np.ndarray | None = None  # (B,) int64, or None: every length is T
    reverse: bool = False
    peepholes: np.ndarray | None = None  # (3H,): p_u, p_f, p_o
    clip: float | None = None
    input_forget: bool = False
    zs: np.ndarray | None = None  # (T, B, 4H) with clip: the pre-activations before clipping


def lstm_cell_forward(
    xw_t: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    w_hh: np.ndarray,
    *,
    peepholes: np.ndarray | None = None,
    clip: float | None = None,
    input_forget: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One LSTM time step for a batch.

    Parameters
    ----------
    xw_t : (B, 4H)
        The input's share of the pre-activations, ``x<t> @ w_ih.T + b_ih + b_hh``
        (computed for all steps at once by :func:`lstm_forward`).
    h_prev, c_prev : (B, H)
        a<t-1> and c<t-1>.
    w_hh : (4H, H)
    peepholes, clip, input_forget
        ONNX's options (see the module notes); None / False: the plain LSTM.

    Returns
    -------
    h : (B, H)
        a<t>.
    c : (B, H)
        c<t>.
    gates : (B, 4H)
        Γu, Γf, c~<t>, Γo side by side (PyTorch's i, f, g, o), kept for backward.
    z : (B, 4H)
        The pre-activations, peepholes included, before clipping (backward needs them
        for the clip's gradient).
    """
    z = xw_t + h_prev @ w_hh.T  # (B, 4H) pre-activations
    z_i, z_f, z_g, z_o = np.split(z, 4, axis=1)
    p_i, p_f, p_o = _blocks(peepholes, 3)
    if peepholes is not None:  # the gates peep at the cell state: Γu and Γf at c<t-1>
        z_i = z_i + p_i * c_prev
        z_f = z_f + p_f * c_prev
    i = sigmoid(_clip(z_i, clip))  # Γu = σ(W_u [a<t-1>, x<t>] + b_u)
    f = 1 - i if input_forget else sigmoid(_clip(z_f, clip))  # Γf = σ(W_f [a<t-1>, x<t>] + b_f)
    g = np.tanh(_clip(z_g, clip))  # c~<t> = tanh(W_c [a<t-1>, x<t>] + b_c)
    c = i * g + f * c_prev  # c<t> = Γu * c~<t> + Γf * c<t-1>
    if peepholes is not None:  # ... and Γo at c<t>
        z_o = z_o + p_o * c
    o = sigmoid(_clip(z_o, clip))  # Γo = σ(W_o [a<t-1>, x<t>] + b_o)
    h = o * np.tanh(c)  # a<t> = Γo * tanh(c<t>)
    return h, c, np.concatenate([i, f, g, o], axis=1), np.concatenate([z_i, z_f, z_g, z_o], axis=1)


def lstm_cell_backward(
    dh: np.ndarray,
    dc: np.ndarray,
    gates: np.ndarray,
    z: np.ndarray | None,
    c_prev: np.ndarray,
    c: np.ndarray,
    w_hh: np.ndarray,
    *,
    peepholes: np.ndarray | None = None,
    clip: float | None = None,
    input_forget: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward through one LSTM step: the lines of :func:`lstm_cell_forward` in reverse.

    Parameters
    ----------
    dh : (B, H)
        dL/da<t>, total: from this step's output and from step t + 1.
    dc : (B, H)
        dL/dc<t> arriving from step t + 1 (not yet including the path through a<t>).
    gates : (B, 4H)
        Γu, Γf, c~<t>, Γo of this step.
    z : (B, 4H) or None
        The pre-activations of this step (only read with ``clip``).
    c_prev, c : (B, H)
        c<t-1> and c<t>.
    w_hh : (4H, H)
    peepholes, clip, input_forget
        As in the forward step.

    Returns
    -------
    dz : (B, 4H)
        dL/d(pre-activations) of this step, gate blocks i, f, g, o.
    dh_prev : (B, H)
        dL/da<t-1> through the recurrence.
    dc_prev : (B, H)
        dL/dc<t-1>.
    """
    i, f, g, o = np.split(gates, 4, axis=1)
    slope_i, slope_f, slope_g, slope_o = (_clip_slope(z_k, clip) for z_k in _blocks(z, 4))
    p_i, p_f, p_o = _blocks(peepholes, 3)
    tanh_c = np.tanh(c)
    # a<t> = Γo * tanh(c<t>), Γo = σ(clip(z_o)); σ'(z) = σ(1 - σ)
    dz_o = dh * tanh_c * o * (1 - o) * slope_o
    dc = dc + dh * o * (1 - tanh_c**2)
    if peepholes is not None:  # z_o = ... + p_o * c<t>
        dc = dc + dz_o * p_o
    # c<t> = Γu * c~<t> + Γf * c<t-1>
    di = dc * g
    dg = dc * i
    df = dc * c_prev
    dc_prev = dc * f
    if input_forget:  # Γf = 1 - Γu: Γf's gradient reaches Γu negated; z_f is unused
        di = di - df
        dz_f = np.zeros_like(df)
    else:
        dz_f = df * f * (1 - f) * slope_f
    # through the nonlinearities: σ'(z) = σ(1 - σ), tanh'(z) = 1 - tanh², clip' = 0 or 1
    dz_i = di * i * (1 - i) * slope_i
    dz_g = dg * (1 - g**2) * slope_g
    if peepholes is not None:  # z_i = ... + p_i * c<t-1>, z_f = ... + p_f * c<t-1>
        dc_prev = dc_prev + dz_i * p_i + dz_f * p_f
    dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)
    # z = xw_t + a<t-1> @ w_hh.T
    dh_prev = dz @ w_hh
    return dz, dh_prev, dc_prev


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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LSTMTape | None]:
    """LSTM over a whole sequence.

    Parameters
    ----------
    x : array_like, (T, B, I)
        Inputs, time-major.
    w_ih : array_like, (4H, I)
        Input weights, gate blocks i, f, g, o (Γu, Γf, c~, Γo).
    w_hh : array_like, (4H, H)
        Recurrent weights, same block order.
    b_ih, b_hh : array_like (4H,) or None
        Biases (they are simply added; None means no bias).
    h0, c0 : array_like (B, H) or None
        Initial hidden and cell state a<-1>, c<-1>; None means zeros.
    training : bool
        If True, also return the tape that :func:`lstm_backward` needs.
    lengths : array_like of int (B,) or None
        Real steps of each sequence of a right-padded batch, each in [0, T]; None
        means all T. Past its end a sequence's outputs are 0 and its state is frozen.
    reverse : bool
        Run each sequence backwards, from time lengths[b] - 1 (which sees h0, c0)
        down to 0.
    peepholes : array_like (3H,) or None
        Peephole weights p_u, p_f, p_o (blocks i, f, o; ONNX's P in another order).
    input_forget : bool
        Couple the forget gate to the update gate: Γf = 1 - Γu (ONNX's ``input_forget``).
    clip : float or None
        Clip every gate's pre-activation to [-clip, clip] (ONNX's ``clip``).
    precision : None or "bfloat16"
        ``"bfloat16"`` (inference, float32): the operands of every product (x<t>,
        a<t-1>, the weights) go through :func:`bfloat16_round` first; the sums, the
        gates and the state stay float32.

    Returns
    -------
    y : (T, B, H)
        a<t> for every step, in time order (zeros past each sequence's end).
    h_n, c_n : (B, H)
        Final state: after each sequence's last processed step (time lengths[b] - 1,
        or time 0 when ``reverse``); equal to h0, c0 for a sequence of length 0.
    tape : LSTMTape or None
        None unless ``training``.
    """
    x, w_ih, w_hh, b_ih, b_hh, h0, c0, T, B, I, H, dtype = check_lstm_args(x, w_ih, w_hh, b_ih, b_hh, h0, c0)
    lengths = check_lengths(lengths, T, B, empty_allowed=True)
    reverse = check_reverse(reverse)
    options = check_cell_options(
        cells.LSTM, H, dtype, peepholes=peepholes, input_forget=input_forget, clip=clip, precision=precision
    )
    peepholes, clip = options["peepholes"], options["clip"]
    operand = _precision_operand(options.pop("precision"), training, dtype)
    x, w_ih, w_hh = operand(x), operand(w_ih), operand(w_hh)
    times, active = _schedule(T, B, lengths, reverse)

    # The inputs in the order the loop visits them (zeros past each sequence's end),
    # and their share of every step's pre-activations as ONE matmul: (T*B, I) @ (I, 4H).
    # Only a<t-1> @ w_hh.T has to wait for the previous step.
    x = _reorder(x, times, active)
    xw = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, 4 * H) + _bias_sum(b_ih, b_hh, 4 * H, dtype)

    hs = np.empty((T + 1, B, H), dtype=dtype)
    cs = np.empty((T + 1, B, H), dtype=dtype)
    gates = np.zeros((T, B, 4 * H), dtype=dtype)
    zs = np.zeros((T, B, 4 * H), dtype=dtype)
    hs[-1], cs[-1] = h0, c0  # the initial state lives at index -1, so step 0 is not special
    for s in range(T):
        on = active[s]  # the sequences still running; the others keep their state
        hs[s], cs[s] = hs[s - 1], cs[s - 1]
        hs[s, on], cs[s, on], gates[s, on], zs[s, on] = lstm_cell_forward(
            xw[s, on], operand(hs[s - 1, on]), cs[s - 1, on], w_hh, **options
        )

    # Back to time order (a new array; zeros on the padding). hs[T - 1] is h0 when T = 0.
    # Copies: the caller may write into its results.
    y, h_n, c_n = _reorder(hs[:T], times, active), hs[T - 1].copy(), cs[T - 1].copy()
    tape = None
    if training:
        tape = LSTMTape(
            x=_frozen_copy(x),
            w_ih=_frozen_copy(w_ih),
            w_hh=_frozen_copy(w_hh),
            has_b_ih=b_ih is not None,
            has_b_hh=b_hh is not None,
            gates=_frozen_copy(gates),
            hs=_frozen_copy(hs),
            cs=_frozen_copy(cs),
            lengths=_frozen_copy(lengths),
            reverse=reverse,
            peepholes=_frozen_copy(peepholes),
            clip=clip,
            input_forget=options["input_forget"],
            zs=_frozen_copy(zs) if clip is not None else None,
        )
    return y, h_n, c_n, tape


def lstm_backward(
    tape: LSTMTape, dy: Any, dh_n: Any = None, dc_n: Any = None, *, input_gradient: bool = True
) -> dict[str, np.ndarray | None]:
    """Backpropagation through time for :func:`lstm_forward`.

    Parameters
    ----------
    tape : LSTMTape
        From ``lstm_forward(..., training=True)``; it is not modified and can be
        used again. It records ``lengths``, ``reverse`` and the options.
    dy : array_like, (T, B, H)
        dL/dy, the gradient of the loss with respect to every a<t>, in time order.
        Entries past a sequence's end are ignored.
    dh_n, dc_n : array_like (B, H) or None
        dL/dh_n and dL/dc_n, gradients flowing into the final state (None: zeros);
        they reach each sequence's last processed step.
    input_gradient : bool
        False: ``"x"`` is None (not computed).

    Returns
    -------
    dict
        ``"x"`` (T, B, I) (zeros past each sequence's end), ``"h0"``, ``"c0"`` (B, H),
        ``"w_ih"`` (4H, I), ``"w_hh"`` (4H, H), ``"b_ih"``, ``"b_hh"`` (4H,) or None
        for an absent bias, and ``"peepholes"`` (3H,) if forward had peepholes; all in
        the dtype of the forward pass.
    """
    check_tape(tape, LSTMTape, "lstm_forward", "lstm_backward")
    x, w_ih, w_hh, gates, hs, cs = tape.x, tape.w_ih, tape.w_hh, tape.gates, tape.hs, tape.cs
    T, B, I = x.shape
    H = w_hh.shape[1]
    dtype = x.dtype
    dy = present("dy", check_grad("dy", dy, (T, B, H), dtype))
    dh_n = check_grad("dh_n", dh_n, (B, H), dtype)
    dc_n = check_grad("dc_n", dc_n, (B, H), dtype)
    options: dict[str, Any] = {"peepholes": tape.peepholes, "clip": tape.clip, "input_forget": tape.input_forget}
    times, active = _schedule(T, B, tape.lengths, tape.reverse)
    dy = _reorder(dy, times, active)  # loop-step order, like the tape; padding dropped

    # dh_next, dc_next: gradient reaching a<t>, c<t> from step t + 1 (at the start: from
    # outside). Copies, so that with T = 0 the returned "h0"/"c0" do not alias dh_n/dc_n.
    dh_next = np.zeros((B, H), dtype=dtype) if dh_n is None else dh_n.copy()
    dc_next = np.zeros((B, H), dtype=dtype) if dc_n is None else dc_n.copy()
    dz = np.zeros((T, B, 4 * H), dtype=dtype)
    for s in reversed(range(T)):
        on = active[s]  # a sequence that took no step passes its gradients through unchanged
        z = None if tape.zs is None else tape.zs[s, on]
        dz[s, on], dh_next[on], dc_next[on] = lstm_cell_backward(
            dy[s, on] + dh_next[on], dc_next[on], gates[s, on], z, cs[s - 1, on], cs[s, on], w_hh, **options
        )

    # After the loop, each weight gradient is ONE matmul over all steps:
    # dW_ih = Σ_t dz<t>ᵀ x<t>, dW_hh = Σ_t dz<t>ᵀ a<t-1>, db = Σ_t Σ_batch dz<t>.
    # dz is zero past each sequence's end, so the padding adds nothing.
    h_prev = hs[np.arange(T) - 1]  # (T, B, H): row s is a<t-1> (row 0 is h0)
    dz2 = dz.reshape(T * B, 4 * H)
    db = dz2.sum(axis=0)
    grads = {
        "x": _reorder((dz2 @ w_ih).reshape(T, B, I), times, active) if input_gradient else None,  # z = x W_ih^T
        "h0": dh_next,
        "c0": dc_next,
        "w_ih": dz2.T @ x.reshape(T * B, I),
        "w_hh": dz2.T @ h_prev.reshape(T * B, H),
        "b_ih": db if tape.has_b_ih else None,
        "b_hh": db.copy() if tape.has_b_hh else None,
    }
    if tape.peepholes is not None:  # p_u, p_f read c<t-1>, p_o reads c<t>: Σ over steps and batch
        dz_i, dz_f, _, dz_o = np.split(dz, 4, axis=2)
        c_prev = cs[np.arange(T) - 1]
        grads["peepholes"] = np.concatenate(
            [(dz_i * c_prev).sum(axis=(0, 1)), (dz_f * c_prev).sum(axis=(0, 1)), (dz_o * cs[:T]).sum(axis=(0, 1))]
        )
    return grads


# =========================================================================== RNN


@dataclass(frozen=True)
class RNNTape:
    """What :func:`rnn_backward` needs, recorded by ``rnn_forward(training=True)``.

    Read-only copies in loop-step order (see :class:`LSTMTape`); ``hs`` has T + 1
    rows with the initial state at index -1.
    """

    x: np.ndarray  # (T, B, I), loop-step order, zeros past each sequence's end
    w_ih: np.ndarray  # (H, I)
    w_hh: np.ndarray  # (H, H)
    has_b_ih: bool
    has_b_hh: bool
    nonlinearity: str  # "tanh" or "relu"
    hs: np.ndarray  # (T + 1, B, H): a<0..T-1>, then a<-1> = h0
    lengths: np.ndarray | None = None  # (B,) int64, or None: every length is T
    reverse: bool = False
    clip: float | None = None
    zs: np.ndarray | None = None  # (T, B, H) with clip: the pre-activations before clipping


def rnn_cell_forward(
    xw_t: np.ndarray, h_prev: np.ndarray, w_hh: np.ndarray, nonlinearity: str, *, clip: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One vanilla-RNN step: a<t> = act(W_ax x<t> + W_aa a<t-1> + b_a).

    ``xw_t`` (B, H) is the input's share ``x<t> @ w_ih.T + b_ih + b_hh``,
    ``h_prev`` (B, H) is a<t-1>, ``w_hh`` (H, H) is W_aa; ``clip`` bounds the
    pre-activation. Returns a<t> (B, H) and the pre-activation (B, H).
    """
    z = xw_t + h_prev @ w_hh.T
    zc = _clip(z, clip)
    h: np.ndarray = np.tanh(zc) if nonlinearity == "tanh" else np.maximum(zc, 0)
    return h, z


def rnn_cell_backward(
    dh: np.ndarray,
    h: np.ndarray,
    z: np.ndarray | None,
    w_hh: np.ndarray,
    nonlinearity: str,
    *,
    clip: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Backward through one vanilla-RNN step.

    ``dh`` (B, H) is the total dL/da<t>, ``h`` (B, H) is a<t>, ``z`` the
    pre-activation (only read with ``clip``). Returns ``dz`` (B, H), the gradient of
    the pre-activation, and ``dh_prev`` (B, H).
    """
    # a<t> = act(clip(z)): tanh'(z) = 1 - a², relu'(z) = 1 where a > 0 (0 at the kink, like PyTorch)
    slope = (1 - h**2) if nonlinearity == "tanh" else (h > 0)
    dz = dh * slope * _clip_slope(z, clip)
    # z = xw_t + a<t-1> @ w_hh.T
    return dz, dz @ w_hh


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
) -> tuple[np.ndarray, np.ndarray, RNNTape | None]:
    """Vanilla RNN over a whole sequence.

    Parameters
    ----------
    x : array_like, (T, B, I)
    w_ih : array_like, (H, I)
        W_ax.
    w_hh : array_like, (H, H)
        W_aa.
    b_ih, b_hh : array_like (H,) or None
        Added together they are b_a.
    h0 : array_like (B, H) or None
        a<-1>; None means zeros.
    nonlinearity : {"tanh", "relu"}
    training : bool
        If True, also return the tape for :func:`rnn_backward`.
    lengths : array_like of int (B,) or None
    reverse : bool
        As in :func:`lstm_forward`.
    clip : float or None
        Clip the pre-activation to [-clip, clip] (ONNX's ``clip``).
    precision : None or "bfloat16"
        As in :func:`lstm_forward`.

    Returns
    -------
    y : (T, B, H)
        Time order, zeros past each sequence's end.
    h_n : (B, H)
    tape : RNNTape or None
    """
    x, w_ih, w_hh, b_ih, b_hh, h0, _, T, B, I, H, dtype = check_rnn_args(x, w_ih, w_hh, b_ih, b_hh, h0, nonlinearity)
    lengths = check_lengths(lengths, T, B, empty_allowed=True)
    reverse = check_reverse(reverse)
    options = check_cell_options(cells.RNN, H, dtype, clip=clip, precision=precision)
    clip = options["clip"]
    operand = _precision_operand(options["precision"], training, dtype)
    x, w_ih, w_hh = operand(x), operand(w_ih), operand(w_hh)
    times, active = _schedule(T, B, lengths, reverse)

    x = _reorder(x, times, active)  # loop-step order, zeros past each sequence's end
    xw = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, H) + _bias_sum(b_ih, b_hh, H, dtype)
    hs = np.empty((T + 1, B, H), dtype=dtype)
    zs = np.zeros((T, B, H), dtype=dtype)
    hs[-1] = h0
    for s in range(T):
        on = active[s]
        hs[s] = hs[s - 1]
        hs[s, on], zs[s, on] = rnn_cell_forward(xw[s, on], operand(hs[s - 1, on]), w_hh, nonlinearity, clip=clip)

    y, h_n = _reorder(hs[:T], times, active), hs[T - 1].copy()
    tape = None
    if training:
        tape = RNNTape(
            x=_frozen_copy(x),
            w_ih=_frozen_copy(w_ih),
            w_hh=_frozen_copy(w_hh),
            has_b_ih=b_ih is not None,
            has_b_hh=b_hh is not None,
            nonlinearity=nonlinearity,
            hs=_frozen_copy(hs),
            lengths=_frozen_copy(lengths),
            reverse=reverse,
            clip=clip,
            zs=_frozen_copy(zs) if clip is not None else None,
        )
    return y, h_n, tape


def rnn_backward(
    tape: RNNTape, dy: Any, dh_n: Any = None, *, input_gradient: bool = True
) -> dict[str, np.ndarray | None]:
    """Backpropagation through time for :func:`rnn_forward`.

    Parameters
    ----------
    tape : RNNTape
        From ``rnn_forward(..., training=True)``; reusable.
    dy : array_like, (T, B, H)
        Time order; entries past a sequence's end are ignored.
    dh_n : array_like (B, H) or None

    Returns
    -------
    dict
        ``"x"``, ``"h0"``, ``"w_ih"``, ``"w_hh"``, ``"b_ih"``, ``"b_hh"`` (None for
        an absent bias), in the dtype of the forward pass.
    """
    check_tape(tape, RNNTape, "rnn_forward", "rnn_backward")
    x, w_ih, w_hh, hs = tape.x, tape.w_ih, tape.w_hh, tape.hs
    T, B, I = x.shape
    H = w_hh.shape[1]
    dtype = x.dtype
    dy = present("dy", check_grad("dy", dy, (T, B, H), dtype))
    dh_n = check_grad("dh_n", dh_n, (B, H), dtype)
    times, active = _schedule(T, B, tape.lengths, tape.reverse)
    dy = _reorder(dy, times, active)

    dh_next = np.zeros((B, H), dtype=dtype) if dh_n is None else dh_n.copy()
    dz = np.zeros((T, B, H), dtype=dtype)
    for s in reversed(range(T)):
        on = active[s]
        z = None if tape.zs is None else tape.zs[s, on]
        dz[s, on], dh_next[on] = rnn_cell_backward(
            dy[s, on] + dh_next[on], hs[s, on], z, w_hh, tape.nonlinearity, clip=tape.clip
        )

    h_prev = hs[np.arange(T) - 1]  # row s is a<t-1>
    dz2 = dz.reshape(T * B, H)
    db = dz2.sum(axis=0)
    return {
        "x": _reorder((dz2 @ w_ih).reshape(T, B, I), times, active) if input_gradient else None,
        "h0": dh_next,
        "w_ih": dz2.T @ x.reshape(T * B, I),
        "w_hh": dz2.T @ h_prev.reshape(T * B, H),
        "b_ih": db if tape.has_b_ih else None,
        "b_hh": db.copy() if tape.has_b_hh else None,
    }


# =========================================================================== GRU


@dataclass(frozen=True)
class GRUTape:
    """What :func:`gru_backward` needs, recorded by ``gru_forward(training=True)``.

    Read-only copies in loop-step order (see :class:`LSTMTape`); ``hs`` has T + 1
    rows with the initial state at index -1. Past a sequence's end its ``x``,
    ``gates`` and ``hw_n`` rows are zero.
    """

    x: np.ndarray  # (T, B, I), loop-step order, zeros past each sequence's end
    w_ih: np.ndarray  # (3H, I)
    w_hh: np.ndarray  # (3H, H)
    has_b_ih: bool
    has_b_hh: bool
    gates: np.ndarray  # (T, B, 3H): r, z, n after their nonlinearity
    hw_n: np.ndarray  # (T, B, H): the recurrent term of n, a<t-1> @ w_hn.T + b_hn (reset after) or (r * a<t-1>) @ ...
    hs: np.ndarray  # (T + 1, B, H): a<0..T-1>, then a<-1> = h0
    lengths: np.ndarray | None = None  # (B,) int64, or None: every length is T
    reverse: bool = False
    reset_after: bool = True
    clip: float | None = None
    zs: np.ndarray | None = None  # (T, B, 3H) with clip: the pre-activations before clipping


def gru_cell_forward(
    xw_t: np.ndarray,
    h_prev: np.ndarray,
    w_hh: np.ndarray,
    b_hh: np.ndarray,
    *,
    reset_after: bool = True,
    clip: float | None = None,
    h_operand: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One GRU time step for a batch.

    Parameters
    ----------
    xw_t : (B, 3H)
        The input's share ``x<t> @ w_ih.T + b_ih``, blocks r, z, n (computed for all
        steps at once by :func:`gru_forward`). Unlike the LSTM, ``b_hh`` cannot be
        folded in: the reset gate scales the n block of the recurrent term, bias included
        (with ``reset_after``).
    h_prev : (B, H)
        a<t-1>.
    w_hh : (3H, H)
    b_hh : (3H,)
        Zeros when the layer has no recurrent bias.
    reset_after : bool
        True: PyTorch's GRU, the reset gate scales ``a<t-1> @ w_hn.T + b_hn``; False:
        the course's, it scales a<t-1> before the product.
    clip : float or None
        Bound of every gate's pre-activation.
    h_operand : (B, H) or None
        a<t-1> as the products read it, if not a<t-1> itself (``precision``:
        rounded to bfloat16); the update still mixes in a<t-1>.

    Returns
    -------
    h : (B, H)
        a<t>.
    gates : (B, 3H)
        r, z, n side by side, kept for backward.
    hw_n : (B, H)
        The recurrent term of n, kept for backward (the derivative of r * hw_n by r).
    z : (B, 3H)
        The pre-activations before clipping.
    """
    H = h_prev.shape[1]
    w_rz, w_n = w_hh[: 2 * H], w_hh[2 * H :]
    h_op = h_prev if h_operand is None else h_operand
    hw_rz = h_op @ w_rz.T + b_hh[: 2 * H]  # (B, 2H) the recurrent terms of r and z
    z_r = xw_t[:, 0 * H : 1 * H] + hw_rz[:, :H]
    z_z = xw_t[:, 1 * H : 2 * H] + hw_rz[:, H:]
    r = sigmoid(_clip(z_r, clip))  # Γr: reset gate
    z = sigmoid(_clip(z_z, clip))  # update gate, z = 1 - Γu
    if reset_after:  # r scales the product, bias included
        hw_n = h_op @ w_n.T + b_hh[2 * H :]
        z_n = xw_t[:, 2 * H :] + r * hw_n
    else:  # Γr * a<t-1> enters the product: c~<t> = tanh(W_c [Γr * a<t-1>, x<t>] + b_c)
        hw_n = (r * h_prev) @ w_n.T + b_hh[2 * H :]
        z_n = xw_t[:, 2 * H :] + hw_n
    n = np.tanh(_clip(z_n, clip))  # c~<t>
    h = (1 - z) * n + z * h_prev  # c<t> = Γu * c~<t> + (1 - Γu) * c<t-1>
    return h, np.concatenate([r, z, n], axis=1), hw_n, np.concatenate([z_r, z_z, z_n], axis=1)


def gru_cell_backward(
    dh: np.ndarray,
    gates: np.ndarray,
    hw_n: np.ndarray,
    z_pre: np.ndarray | None,
    h_prev: np.ndarray,
    w_hh: np.ndarray,
    *,
    reset_after: bool = True,
    clip: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward through one GRU step: the lines of :func:`gru_cell_forward` in reverse.

    Parameters
    ----------
    dh : (B, H)
        dL/da<t>, total: from this step's output and from step t + 1.
    gates : (B, 3H)
        r, z, n of this step.
    hw_n : (B, H)
        The recurrent term of n of this step.
    z_pre : (B, 3H) or None
        The pre-activations (only read with ``clip``).
    h_prev : (B, H)
        a<t-1>.
    w_hh : (3H, H)
    reset_after, clip
        As in the forward step.

    Returns
    -------
    dxw : (B, 3H)
        dL/d(xw_t), the gradient of the input's share, blocks r, z, n.
    dhw : (B, 3H)
        dL/d(hw), the gradient of the recurrent terms (the products with w_hh plus
        b_hh). Its r and z blocks equal those of ``dxw`` (both enter the same sum);
        with ``reset_after`` its n block carries the factor r.
    dh_prev : (B, H)
        dL/da<t-1>, directly and through the recurrence.
    """
    H = h_prev.shape[1]
    w_rz, w_n = w_hh[: 2 * H], w_hh[2 * H :]
    r, z, n = np.split(gates, 3, axis=1)
    slope_r, slope_z, slope_n = (_clip_slope(z_k, clip) for z_k in _blocks(z_pre, 3))
    # h = (1 - z) * n + z * h_prev
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dh_prev = dh * z
    # n = tanh(clip(z_n))
    dz_n = dn * (1 - n**2) * slope_n
    if reset_after:  # z_n = xw_n + r * hw_n, hw_n = a<t-1> @ w_hn.T + b_hn
        dr = dz_n * hw_n
        dhw_n = dz_n * r
        dh_prev = dh_prev + dhw_n @ w_n
    else:  # z_n = xw_n + hw_n, hw_n = (r * a<t-1>) @ w_hn.T + b_hn
        drh = dz_n @ w_n  # dL/d(r * a<t-1>)
        dr = drh * h_prev
        dh_prev = dh_prev + drh * r
        dhw_n = dz_n
    # r = σ(clip(xw_r + hw_r)), z = σ(clip(xw_z + hw_z)): σ' = σ(1 - σ)
    dz_r = dr * r * (1 - r) * slope_r
    dz_z = dz * z * (1 - z) * slope_z
    dxw = np.concatenate([dz_r, dz_z, dz_n], axis=1)
    dhw = np.concatenate([dz_r, dz_z, dhw_n], axis=1)
    # hw_rz = a<t-1> @ w_rz.T + b_rz
    dh_prev = dh_prev + dhw[:, : 2 * H] @ w_rz
    return dxw, dhw, dh_prev


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
) -> tuple[np.ndarray, np.ndarray, GRUTape | None]:
    """GRU over a whole sequence (PyTorch's ``nn.GRU`` equations, or the course's).

    Parameters
    ----------
    x : array_like, (T, B, I)
    w_ih : array_like, (3H, I)
        Input weights, gate blocks r, z, n.
    w_hh : array_like, (3H, H)
        Recurrent weights, same block order.
    b_ih, b_hh : array_like (3H,) or None
        Input and recurrent biases (None means zero). With ``reset_after`` they are
        not interchangeable: the reset gate scales the n block of ``b_hh``.
    h0 : array_like (B, H) or None
        a<-1>; None means zeros.
    training : bool
        If True, also return the tape for :func:`gru_backward`.
    lengths : array_like of int (B,) or None
    reverse : bool
        As in :func:`lstm_forward`.
    reset_after : bool
        True (PyTorch, cuDNN, Keras' default, ONNX ``linear_before_reset=1``): the reset
        gate scales the recurrent product; False (the course, Cho et al. 2014, Keras'
        ``reset_after=False``, ONNX's default ``linear_before_reset=0``): it scales
        a<t-1> before the product.
    clip : float or None
        Clip every gate's pre-activation to [-clip, clip] (ONNX's ``clip``).
    precision : None or "bfloat16"
        As in :func:`lstm_forward`; with ``reset_after=True`` only, as the kernels.

    Returns
    -------
    y : (T, B, H)
        Time order, zeros past each sequence's end.
    h_n : (B, H)
    tape : GRUTape or None
    """
    x, w_ih, w_hh, b_ih, b_hh, h0, _, T, B, I, H, dtype = check_gru_args(x, w_ih, w_hh, b_ih, b_hh, h0)
    lengths = check_lengths(lengths, T, B, empty_allowed=True)
    reverse = check_reverse(reverse)
    options = check_cell_options(cells.GRU, H, dtype, reset_after=reset_after, clip=clip, precision=precision)
    reset_after, clip = options["reset_after"], options["clip"]
    operand = _precision_operand(options["precision"], training, dtype)
    check_precision_with_reset(options["precision"], reset_after)
    x, w_ih, w_hh = operand(x), operand(w_ih), operand(w_hh)
    times, active = _schedule(T, B, lengths, reverse)

    x = _reorder(x, times, active)  # loop-step order, zeros past each sequence's end
    xw = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, 3 * H) + _bias_sum(b_ih, None, 3 * H, dtype)
    b_rec = _bias_sum(b_hh, None, 3 * H, dtype)  # b_hh, or zeros
    hs = np.empty((T + 1, B, H), dtype=dtype)
    gates = np.zeros((T, B, 3 * H), dtype=dtype)
    hw_n = np.zeros((T, B, H), dtype=dtype)
    zs = np.zeros((T, B, 3 * H), dtype=dtype)
    hs[-1] = h0
    for s in range(T):
        on = active[s]
        hs[s] = hs[s - 1]
        hs[s, on], gates[s, on], hw_n[s, on], zs[s, on] = gru_cell_forward(
            xw[s, on], hs[s - 1, on], w_hh, b_rec, reset_after=reset_after, clip=clip, h_operand=operand(hs[s - 1, on])
        )

    y, h_n = _reorder(hs[:T], times, active), hs[T - 1].copy()
    tape = None
    if training:
        tape = GRUTape(
            x=_frozen_copy(x),
            w_ih=_frozen_copy(w_ih),
            w_hh=_frozen_copy(w_hh),
            has_b_ih=b_ih is not None,
            has_b_hh=b_hh is not None,
            gates=_frozen_copy(gates),
            hw_n=_frozen_copy(hw_n),
            hs=_frozen_copy(hs),
            lengths=_frozen_copy(lengths),
            reverse=reverse,
            reset_after=reset_after,
            clip=clip,
            zs=_frozen_copy(zs) if clip is not None else None,
        )
    return y, h_n, tape


def gru_backward(
    tape: GRUTape, dy: Any, dh_n: Any = None, *, input_gradient: bool = True
) -> dict[str, np.ndarray | None]:
    """Backpropagation through time for :func:`gru_forward`.

    Parameters
    ----------
    tape : GRUTape
        From ``gru_forward(..., training=True)``; reusable.
    dy : array_like, (T, B, H)
        Time order; entries past a sequence's end are ignored.
    dh_n : array_like (B, H) or None

    Returns
    -------
    dict
        ``"x"``, ``"h0"``, ``"w_ih"``, ``"w_hh"``, ``"b_ih"``, ``"b_hh"`` (None for
        an absent bias), in the dtype of the forward pass.
    """
    check_tape(tape, GRUTape, "gru_forward", "gru_backward")
    x, w_ih, w_hh, gates, hw_n, hs = tape.x, tape.w_ih, tape.w_hh, tape.gates, tape.hw_n, tape.hs
    T, B, I = x.shape
    H = w_hh.shape[1]
    dtype = x.dtype
    dy = present("dy", check_grad("dy", dy, (T, B, H), dtype))
    dh_n = check_grad("dh_n", dh_n, (B, H), dtype)
    options: dict[str, Any] = {"reset_after": tape.reset_after, "clip": tape.clip}
    times, active = _schedule(T, B, tape.lengths, tape.reverse)
    dy = _reorder(dy, times, active)

    dh_next = np.zeros((B, H), dtype=dtype) if dh_n is None else dh_n.copy()
    dxw = np.zeros((T, B, 3 * H), dtype=dtype)
    dhw = np.zeros((T, B, 3 * H), dtype=dtype)
    for s in reversed(range(T)):
        on = active[s]
        z = None if tape.zs is None else tape.zs[s, on]
        dxw[s, on], dhw[s, on], dh_next[on] = gru_cell_backward(
            dy[s, on] + dh_next[on], gates[s, on], hw_n[s, on], z, hs[s - 1, on], w_hh, **options
        )

    # xw = x<t> @ w_ih.T + b_ih and hw = a<t-1> @ w_hh.T + b_hh (the n block's operand is
    # r * a<t-1> when the reset comes first), for all steps at once.
    h_prev = hs[np.arange(T) - 1]  # row s is a<t-1>
    n_operand = h_prev if tape.reset_after else gates[:, :, :H] * h_prev
    dxw2, dhw2 = dxw.reshape(T * B, 3 * H), dhw.reshape(T * B, 3 * H)
    dw_rz = dhw2[:, : 2 * H].T @ h_prev.reshape(T * B, H)
    dw_n = dhw2[:, 2 * H :].T @ n_operand.reshape(T * B, H)
    return {
        "x": _reorder((dxw2 @ w_ih).reshape(T, B, I), times, active) if input_gradient else None,
        "h0": dh_next,
        "w_ih": dxw2.T @ x.reshape(T * B, I),
        "w_hh": np.concatenate([dw_rz, dw_n]),
        "b_ih": dxw2.sum(axis=0) if tape.has_b_ih else None,
        "b_hh": dhw2.sum(axis=0) if tape.has_b_hh else None,
    }
