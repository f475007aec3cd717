r"""Pure-NumPy LSTM and vanilla RNN: forward pass and backpropagation through time.

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
from typing import Any, Optional

import numpy as np

from ._validation import check_grad, check_lstm_args, check_rnn_args, check_tape

__all__ = [
    "sigmoid", "LSTMTape", "RNNTape",
    "lstm_cell_forward", "lstm_cell_backward", "lstm_forward", "lstm_backward",
    "rnn_cell_forward", "rnn_cell_backward", "rnn_forward", "rnn_backward",
]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function σ(z) = 1 / (1 + exp(-z)), without overflow.

    exp is only ever taken of -|z| (at most 1): for z >= 0 use 1 / (1 + e^-z),
    for z < 0 the equal form e^z / (1 + e^z). Keeps the dtype of ``z``.
    """
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1, e) / (1 + e)


def _frozen_copy(a: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """A read-only copy, so a tape cannot be changed from outside or by backward."""
    if a is None:
        return None
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def _bias_sum(b_ih: Optional[np.ndarray], b_hh: Optional[np.ndarray], size: int,
              dtype: np.dtype) -> np.ndarray:
    """b_ih + b_hh, where a missing bias counts as zero. The two always appear summed."""
    b = np.zeros(size, dtype=dtype)
    for part in (b_ih, b_hh):
        if part is not None:
            b = b + part
    return b


# =========================================================================== LSTM


@dataclass(frozen=True)
class LSTMTape:
    """What :func:`lstm_backward` needs, recorded by ``lstm_forward(training=True)``.

    All arrays are read-only copies. ``hs`` and ``cs`` have T + 1 rows: row t is
    the state after step t, and the extra last row (index -1) is the initial state,
    so ``hs[t - 1]`` is the previous state for every t, including t = 0.
    """

    x: np.ndarray  # (T, B, I)
    w_ih: np.ndarray  # (4H, I)
    w_hh: np.ndarray  # (4H, H)
    has_b_ih: bool
    has_b_hh: bool
    gates: np.ndarray  # (T, B, 4H): Γu, Γf, c~, Γo after their nonlinearity
    hs: np.ndarray  # (T + 1, B, H): a<0..T-1>, then a<-1> = h0
    cs: np.ndarray  # (T + 1, B, H): c<0..T-1>, then c<-1> = c0


def lstm_cell_forward(xw_t: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray,
                      w_hh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One LSTM time step for a batch.

    Parameters
    ----------
    xw_t : (B, 4H)
        The input's share of the pre-activations, ``x<t> @ w_ih.T + b_ih + b_hh``
        (computed for all steps at once by :func:`lstm_forward`).
    h_prev, c_prev : (B, H)
        a<t-1> and c<t-1>.
    w_hh : (4H, H)

    Returns
    -------
    h : (B, H)
        a<t>.
    c : (B, H)
        c<t>.
    gates : (B, 4H)
        Γu, Γf, c~<t>, Γo side by side (PyTorch's i, f, g, o), kept for backward.
    """
    H = h_prev.shape[1]
    z = xw_t + h_prev @ w_hh.T  # (B, 4H) pre-activations
    i = sigmoid(z[:, 0 * H:1 * H])  # Γu = σ(W_u [a<t-1>, x<t>] + b_u)
    f = sigmoid(z[:, 1 * H:2 * H])  # Γf = σ(W_f [a<t-1>, x<t>] + b_f)
    g = np.tanh(z[:, 2 * H:3 * H])  # c~<t> = tanh(W_c [a<t-1>, x<t>] + b_c)
    o = sigmoid(z[:, 3 * H:4 * H])  # Γo = σ(W_o [a<t-1>, x<t>] + b_o)
    c = i * g + f * c_prev  # c<t> = Γu * c~<t> + Γf * c<t-1>
    h = o * np.tanh(c)  # a<t> = Γo * tanh(c<t>)
    return h, c, np.concatenate([i, f, g, o], axis=1)


def lstm_cell_backward(dh: np.ndarray, dc: np.ndarray, gates: np.ndarray, c_prev: np.ndarray,
                       c: np.ndarray, w_hh: np.ndarray
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
    c_prev, c : (B, H)
        c<t-1> and c<t>.
    w_hh : (4H, H)

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
    tanh_c = np.tanh(c)
    # a<t> = Γo * tanh(c<t>)
    do = dh * tanh_c
    dc = dc + dh * o * (1 - tanh_c**2)
    # c<t> = Γu * c~<t> + Γf * c<t-1>
    di = dc * g
    dg = dc * i
    df = dc * c_prev
    dc_prev = dc * f
    # through the nonlinearities: σ'(z) = σ(1 - σ), tanh'(z) = 1 - tanh²
    dz = np.concatenate([di * i * (1 - i),
                         df * f * (1 - f),
                         dg * (1 - g**2),
                         do * o * (1 - o)], axis=1)
    # z = xw_t + a<t-1> @ w_hh.T
    dh_prev = dz @ w_hh
    return dz, dh_prev, dc_prev


def lstm_forward(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any = None,
                 c0: Any = None, *, training: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Optional[LSTMTape]]:
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

    Returns
    -------
    y : (T, B, H)
        a<t> for every step.
    h_n, c_n : (B, H)
        Final state (equal to h0, c0 when T = 0).
    tape : LSTMTape or None
        None unless ``training``.
    """
    x, w_ih, w_hh, b_ih, b_hh, h0, c0, T, B, I, H, dtype = check_lstm_args(
        x, w_ih, w_hh, b_ih, b_hh, h0, c0)

    # The input's share of every step's pre-activations, as ONE matmul:
    # (T*B, I) @ (I, 4H). Only a<t-1> @ w_hh.T has to wait for the previous step.
    xw = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, 4 * H) + _bias_sum(b_ih, b_hh, 4 * H, dtype)

    hs = np.empty((T + 1, B, H), dtype=dtype)
    cs = np.empty((T + 1, B, H), dtype=dtype)
    gates = np.empty((T, B, 4 * H), dtype=dtype)
    hs[-1], cs[-1] = h0, c0  # the initial state lives at index -1, so step 0 is not special
    for t in range(T):
        hs[t], cs[t], gates[t] = lstm_cell_forward(xw[t], hs[t - 1], cs[t - 1], w_hh)

    # hs[T - 1] is h0 when T = 0. Copies: the caller may write into its results.
    y, h_n, c_n = hs[:T].copy(), hs[T - 1].copy(), cs[T - 1].copy()
    tape = None
    if training:
        tape = LSTMTape(x=_frozen_copy(x), w_ih=_frozen_copy(w_ih), w_hh=_frozen_copy(w_hh),
                        has_b_ih=b_ih is not None, has_b_hh=b_hh is not None,
                        gates=_frozen_copy(gates), hs=_frozen_copy(hs), cs=_frozen_copy(cs))
    return y, h_n, c_n, tape


def lstm_backward(tape: LSTMTape, dy: Any, dh_n: Any = None,
                  dc_n: Any = None) -> dict[str, Optional[np.ndarray]]:
    """Backpropagation through time for :func:`lstm_forward`.

    Parameters
    ----------
    tape : LSTMTape
        From ``lstm_forward(..., training=True)``; it is not modified and can be
        used again.
    dy : array_like, (T, B, H)
        dL/dy, the gradient of the loss with respect to every a<t>.
    dh_n, dc_n : array_like (B, H) or None
        dL/dh_n and dL/dc_n, gradients flowing into the final state (None: zeros).

    Returns
    -------
    dict
        ``"x"`` (T, B, I), ``"h0"``, ``"c0"`` (B, H), ``"w_ih"`` (4H, I),
        ``"w_hh"`` (4H, H), ``"b_ih"``, ``"b_hh"`` (4H,) or None for an absent
        bias; all in the dtype of the forward pass.
    """
    check_tape(tape, LSTMTape, "lstm_forward", "lstm_backward")
    x, w_ih, w_hh, gates, hs, cs = tape.x, tape.w_ih, tape.w_hh, tape.gates, tape.hs, tape.cs
    T, B, I = x.shape  # noqa: E741
    H = w_hh.shape[1]
    dtype = x.dtype
    dy = check_grad("dy", dy, (T, B, H), dtype)
    dh_n = check_grad("dh_n", dh_n, (B, H), dtype)
    dc_n = check_grad("dc_n", dc_n, (B, H), dtype)

    # dh_next, dc_next: gradient reaching a<t>, c<t> from step t + 1 (at the start: from
    # outside). Copies, so that with T = 0 the returned "h0"/"c0" do not alias dh_n/dc_n.
    dh_next = np.zeros((B, H), dtype=dtype) if dh_n is None else dh_n.copy()
    dc_next = np.zeros((B, H), dtype=dtype) if dc_n is None else dc_n.copy()
    dz = np.empty((T, B, 4 * H), dtype=dtype)
    for t in reversed(range(T)):
        dz[t], dh_next, dc_next = lstm_cell_backward(dy[t] + dh_next, dc_next, gates[t],
                                                     cs[t - 1], cs[t], w_hh)

    # After the loop, each weight gradient is ONE matmul over all steps:
    # dW_ih = Σ_t dz<t>ᵀ x<t>, dW_hh = Σ_t dz<t>ᵀ a<t-1>, db = Σ_t Σ_batch dz<t>.
    h_prev = hs[np.arange(T) - 1]  # (T, B, H): row t is a<t-1> (row 0 is h0)
    dz2 = dz.reshape(T * B, 4 * H)
    db = dz2.sum(axis=0)
    return {
        "x": (dz2 @ w_ih).reshape(T, B, I),  # z = x<t> @ w_ih.T + ...
        "h0": dh_next,
        "c0": dc_next,
        "w_ih": dz2.T @ x.reshape(T * B, I),
        "w_hh": dz2.T @ h_prev.reshape(T * B, H),
        "b_ih": db if tape.has_b_ih else None,
        "b_hh": db.copy() if tape.has_b_hh else None,
    }


# =========================================================================== RNN


@dataclass(frozen=True)
class RNNTape:
    """What :func:`rnn_backward` needs, recorded by ``rnn_forward(training=True)``.

    Read-only copies; ``hs`` has T + 1 rows with the initial state at index -1.
    """

    x: np.ndarray  # (T, B, I)
    w_ih: np.ndarray  # (H, I)
    w_hh: np.ndarray  # (H, H)
    has_b_ih: bool
    has_b_hh: bool
    nonlinearity: str  # "tanh" or "relu"
    hs: np.ndarray  # (T + 1, B, H): a<0..T-1>, then a<-1> = h0


def rnn_cell_forward(xw_t: np.ndarray, h_prev: np.ndarray, w_hh: np.ndarray,
                     nonlinearity: str) -> np.ndarray:
    """One vanilla-RNN step: a<t> = act(W_ax x<t> + W_aa a<t-1> + b_a).

    ``xw_t`` (B, H) is the input's share ``x<t> @ w_ih.T + b_ih + b_hh``,
    ``h_prev`` (B, H) is a<t-1>, ``w_hh`` (H, H) is W_aa. Returns a<t> (B, H).
    """
    z = xw_t + h_prev @ w_hh.T
    return np.tanh(z) if nonlinearity == "tanh" else np.maximum(z, 0)


def rnn_cell_backward(dh: np.ndarray, h: np.ndarray, w_hh: np.ndarray,
                      nonlinearity: str) -> tuple[np.ndarray, np.ndarray]:
    """Backward through one vanilla-RNN step.

    ``dh`` (B, H) is the total dL/da<t>, ``h`` (B, H) is a<t>. Returns
    ``dz`` (B, H), the gradient of the pre-activation, and ``dh_prev`` (B, H).
    """
    # a<t> = act(z): tanh'(z) = 1 - a², relu'(z) = 1 where a > 0 (0 at the kink, like PyTorch)
    dz = dh * (1 - h**2) if nonlinearity == "tanh" else dh * (h > 0)
    # z = xw_t + a<t-1> @ w_hh.T
    return dz, dz @ w_hh


def rnn_forward(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any = None, *,
                nonlinearity: str = "tanh", training: bool = False
                ) -> tuple[np.ndarray, np.ndarray, Optional[RNNTape]]:
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

    Returns
    -------
    y : (T, B, H)
    h_n : (B, H)
    tape : RNNTape or None
    """
    x, w_ih, w_hh, b_ih, b_hh, h0, T, B, I, H, dtype = check_rnn_args(
        x, w_ih, w_hh, b_ih, b_hh, h0, nonlinearity)

    xw = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, H) + _bias_sum(b_ih, b_hh, H, dtype)
    hs = np.empty((T + 1, B, H), dtype=dtype)
    hs[-1] = h0
    for t in range(T):
        hs[t] = rnn_cell_forward(xw[t], hs[t - 1], w_hh, nonlinearity)

    y, h_n = hs[:T].copy(), hs[T - 1].copy()
    tape = None
    if training:
        tape = RNNTape(x=_frozen_copy(x), w_ih=_frozen_copy(w_ih), w_hh=_frozen_copy(w_hh),
                       has_b_ih=b_ih is not None, has_b_hh=b_hh is not None,
                       nonlinearity=nonlinearity, hs=_frozen_copy(hs))
    return y, h_n, tape


def rnn_backward(tape: RNNTape, dy: Any, dh_n: Any = None) -> dict[str, Optional[np.ndarray]]:
    """Backpropagation through time for :func:`rnn_forward`.

    Parameters
    ----------
    tape : RNNTape
        From ``rnn_forward(..., training=True)``; reusable.
    dy : array_like, (T, B, H)
    dh_n : array_like (B, H) or None

    Returns
    -------
    dict
        ``"x"``, ``"h0"``, ``"w_ih"``, ``"w_hh"``, ``"b_ih"``, ``"b_hh"`` (None for
        an absent bias), in the dtype of the forward pass.
    """
    check_tape(tape, RNNTape, "rnn_forward", "rnn_backward")
    x, w_ih, w_hh, hs = tape.x, tape.w_ih, tape.w_hh, tape.hs
    T, B, I = x.shape  # noqa: E741
    H = w_hh.shape[1]
    dtype = x.dtype
    dy = check_grad("dy", dy, (T, B, H), dtype)
    dh_n = check_grad("dh_n", dh_n, (B, H), dtype)

    dh_next = np.zeros((B, H), dtype=dtype) if dh_n is None else dh_n.copy()
    dz = np.empty((T, B, H), dtype=dtype)
    for t in reversed(range(T)):
        dz[t], dh_next = rnn_cell_backward(dy[t] + dh_next, hs[t], w_hh, tape.nonlinearity)

    h_prev = hs[np.arange(T) - 1]  # row t is a<t-1>
    dz2 = dz.reshape(T * B, H)
    db = dz2.sum(axis=0)
    return {
        "x": (dz2 @ w_ih).reshape(T, B, I),
        "h0": dh_next,
        "w_ih": dz2.T @ x.reshape(T * B, I),
        "w_hh": dz2.T @ h_prev.reshape(T * B, H),
        "b_ih": db if tape.has_b_ih else None,
        "b_hh": db.copy() if tape.has_b_hh else None,
    }
