r"""The course's step-by-step RNN and LSTM, in its own notation, shapes and names.

This module follows the programming exercise "Building your Recurrent Neural
Network – Step by Step" of the Deep Learning Specialization (Course 5, week 1):
the same function names, argument order, parameter keys, caches and gradient
dictionaries, so that you can run your notebook's checks against it and compare
numbers. It is plain NumPy in float64 and meant to be read next to your notebook.

Shapes
------
One column is one example, and time is the *last* axis:

====================  ====================  ==========================================
name                  shape                 meaning
====================  ====================  ==========================================
``x``                 (n_x, m, T_x)         inputs: n_x features, m examples, T_x steps
``xt`` = x[:, :, t]   (n_x, m)              the input x<t> at one step
``a0``, ``a_prev``    (n_a, m)              hidden state a<t-1> (a<0> = ``a0``)
``a``                 (n_a, m, T_x)         every hidden state a<1> ... a<T_x>
``c``                 (n_a, m, T_x)         every LSTM cell state c<t>
``y_pred`` / ``y``    (n_y, m, T_x)         softmax outputs ŷ<t>; columns sum to 1
``Wax``               (n_a, n_x)            RNN: input to hidden
``Waa``               (n_a, n_a)            RNN: hidden to hidden
``Wya``               (n_y, n_a)            RNN: hidden to output
``ba``, ``by``        (n_a, 1), (n_y, 1)    RNN biases
``Wf Wi Wc Wo``       (n_a, n_a + n_x)      LSTM gates, on the column [a<t-1>; x<t>]
``bf bi bc bo``       (n_a, 1)              LSTM gate biases
``Wy``, ``by``        (n_y, n_a), (n_y, 1)  LSTM output head
====================  ====================  ==========================================

The equations
-------------
Vanilla RNN cell::

    a<t>  = tanh(Waa a<t-1> + Wax x<t> + ba)
    ŷ<t>  = softmax(Wya a<t> + by)

LSTM cell (``i`` is the update gate Γu, ``c~`` the candidate)::

    Γf    = σ(Wf [a<t-1>; x<t>] + bf)          forget gate
    Γu    = σ(Wi [a<t-1>; x<t>] + bi)          update gate
    c~<t> = tanh(Wc [a<t-1>; x<t>] + bc)       candidate value
    c<t>  = Γf * c<t-1> + Γu * c~<t>           new cell state
    Γo    = σ(Wo [a<t-1>; x<t>] + bo)          output gate
    a<t>  = Γo * tanh(c<t>)                    new hidden state
    ŷ<t>  = softmax(Wy a<t> + by)

Backward: what ``da`` means
---------------------------
``rnn_backward(da, caches)`` and ``lstm_backward(da, caches)`` do not see the loss.
``da[:, :, t]`` is the gradient of the loss with respect to a<t> *coming from the
output side at step t only* (for a softmax + cross-entropy head that is
``Wyaᵀ (ŷ<t> − y<t>)``; the head's own gradients ``dWya = Σ_t (ŷ<t> − y<t>) a<t>ᵀ``
and ``dby = Σ_t Σ_examples (ŷ<t> − y<t>)`` are yours to compute). Going backwards in
time, the gradient that reaches a<t> is that plus what flows back from step t + 1::

    da_next = da[:, :, t] + da_prev (returned by the cell backward of step t + 1)

and the same for the LSTM's cell state (``dc_prev`` → ``dc_next``). The gradients
``dW...`` are sums over all time steps and all m examples (no division by m).

Comparing with the notebook, and its known quirks
-------------------------------------------------
Seeded the way the notebook seeds its checks (``np.random.seed(1)``, then the
arrays drawn in the notebook's order), all eight functions here reproduce the
notebook's printed "Expected Output" values (``tests/test_course.py`` pins them):

* **lstm_backward is true backpropagation through time, and so is the
  notebook's.** The current notebook prints ``dx[1][2] = [0.00218254,
  0.28205375, -0.48292508, -0.43281115]`` and ``da0[2][3] = 0.312770310257``,
  which the default here (``da_next = da[:, :, t] + da_prev`` and ``dc_next =
  dc_prev`` from step t + 1, checked by finite differences) reproduces digit for
  digit. Earlier versions of the notebook printed the numbers of a loop in which
  no gradient flows from step t + 1 to step t (each step gets only its own
  ``da[:, :, t]`` and ``dc_next = 0``: not the gradient of any loss through the
  sequence); ``lstm_backward(da, caches, through_time=False)`` reproduces those,
  for anyone comparing against an old copy, and shows what is lost without the
  flow through time. ``rnn_backward`` works the same way.
* **The lstm_backward check passes a ``da`` of 4 steps for a forward pass of 7.**
  Accepted: a ``da`` with T ≤ T_x steps means the loss depends on the first T
  hidden states only, and ``dx`` then has T steps, as in the notebook.
* **The cell derivatives.** The notebook's dΓo, dc~, dΓu, dΓf are gradients with
  respect to each gate's *pre-activation* (they include σ' = Γ(1 − Γ) or
  tanh' = 1 − c~²); each uses the total ``dc = dc_next + da_next Γo (1 − tanh²(c<t>))``.
* **Softmax and sigmoid are stable.** The notebook's helper ``softmax`` subtracts
  one global maximum; here each column subtracts its own maximum (same numbers up
  to rounding, ~1e-16, but no column can underflow to 0/0). The sigmoid never
  takes ``exp`` of a large positive number (no overflow warnings).
* **Shapes in the notebook's docstrings.** ``dc_prev`` is (n_a, m), not
  (n_a, m, T_x); ``lstm_forward`` returns ``a, y, c, caches`` in that order (y
  before c); ``lstm_backward`` returns no ``dc0`` because c<0> is fixed at zeros.
* **Caches hold copies.** The inputs and parameters are converted to float64
  copies once per call, so updating your ``parameters`` in place after a forward
  pass cannot change its caches (in the notebook the caches share your arrays).
  Within one ``*_forward`` call, all caches share one such parameters dict that
  holds only the keys the function uses. Inputs are never modified.

Bad input (a wrong shape, a missing key, a non-numeric array) raises ``ValueError``
or ``TypeError`` naming the argument and the shape expected. NaN and Inf are not
checked: they propagate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable

import numpy as np

from .. import _checks
from ..reference import sigmoid as _sigmoid

# In the notebook's order: the RNN forward, the LSTM forward, then both backward passes.
__all__ = [  # noqa: RUF022
    "softmax", "sigmoid",
    "rnn_cell_forward", "rnn_forward",
    "lstm_cell_forward", "lstm_forward",
    "rnn_cell_backward", "rnn_backward",
    "lstm_cell_backward", "lstm_backward",
]  # fmt: skip

RNN_KEYS = ("Waa", "Wax", "Wya", "ba", "by")
LSTM_KEYS = ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo", "Wy", "by")

# Type aliases for readability of the signatures.
RNNCache = tuple[Any, ...]  # (a_next, a_prev, xt, parameters)
LSTMCache = tuple[Any, ...]  # (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)


# --------------------------------------------------------------------------- helpers


def sigmoid(x: Any) -> np.ndarray:
    """σ(x) = 1 / (1 + e^(−x)), elementwise, without overflow.

    Parameters
    ----------
    x : array_like
        Any shape.

    Returns
    -------
    numpy.ndarray
        Same shape, float64, values in [0, 1].
    """
    return _sigmoid(_float64("x", x))


def softmax(x: Any) -> np.ndarray:
    """Softmax over axis 0: each column of ``x`` (n_y, m) becomes a probability vector.

    ``softmax(x)[k, j] = exp(x[k, j]) / Σ_k' exp(x[k', j])``, computed after subtracting
    each column's maximum (this does not change the result, and keeps exp ≤ 1).

    Parameters
    ----------
    x : array_like, (n_y, m)
        Scores ("logits"); any shape with the classes on axis 0 works.

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``, float64; every column is ≥ 0 and sums to 1.
    """
    z = _float64("x", x)
    if z.ndim == 0 or z.shape[0] == 0:
        raise ValueError(f"x: expected an array (n_y, m) with n_y >= 1, got shape {z.shape}")
    e = np.exp(z - z.max(axis=0, keepdims=True))
    p: np.ndarray = e / e.sum(axis=0, keepdims=True)
    return p


def _float64(name: str, value: Any, copy: bool = True) -> np.ndarray:
    """``value`` as float64: a copy, or with ``copy=False`` possibly the array itself.

    Backward passes read their caches with ``copy=False``: they never write into them.
    """
    arr = _checks.array(name, value, kinds="iuf")
    if copy:
        return np.array(arr, dtype=np.float64, copy=True)
    return arr.astype(np.float64, copy=False)


def _check(name: str, arr: np.ndarray, layout: str, expected: tuple[int, ...]) -> None:
    if arr.shape != expected:
        raise ValueError(f"{name}: expected shape {layout} = {expected}, got {arr.shape}")


def _matrix(name: str, arr: np.ndarray, layout: str) -> tuple[int, int]:
    """Check ``arr`` is 2-D with no empty axis; return its shape."""
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name}: expected a 2-D array {layout} with no empty axis, got shape {arr.shape}")
    return arr.shape


def _get_params(parameters: Any, keys: Sequence[str], copy: bool = True) -> dict[str, np.ndarray]:
    """float64 ``parameters[k]`` for k in ``keys`` (other keys are ignored)."""
    if not isinstance(parameters, Mapping):
        raise TypeError(f"parameters: expected a dict with keys {list(keys)}, got {type(parameters).__name__}")
    missing = [k for k in keys if k not in parameters]
    if missing:
        raise ValueError(f"parameters: missing keys {missing}; expected {list(keys)}")
    return {k: _float64(f'parameters["{k}"]', parameters[k], copy) for k in keys}


def _rnn_params(parameters: Any, n_x: int, copy: bool = True) -> dict[str, np.ndarray]:
    """Checked RNN parameters for inputs with ``n_x`` features."""
    p = _get_params(parameters, RNN_KEYS, copy)
    n_a, _ = _matrix('parameters["Waa"]', p["Waa"], "(n_a, n_a)")
    _check('parameters["Waa"]', p["Waa"], "(n_a, n_a)", (n_a, n_a))
    _check('parameters["Wax"]', p["Wax"], "(n_a, n_x)", (n_a, n_x))
    n_y, _ = _matrix('parameters["Wya"]', p["Wya"], "(n_y, n_a)")
    _check('parameters["Wya"]', p["Wya"], "(n_y, n_a)", (n_y, n_a))
    _check('parameters["ba"]', p["ba"], "(n_a, 1)", (n_a, 1))
    _check('parameters["by"]', p["by"], "(n_y, 1)", (n_y, 1))
    return p


def _lstm_params(parameters: Any, n_x: int, copy: bool = True) -> dict[str, np.ndarray]:
    """Checked LSTM parameters for inputs with ``n_x`` features."""
    p = _get_params(parameters, LSTM_KEYS, copy)
    n_a, _ = _matrix('parameters["Wf"]', p["Wf"], "(n_a, n_a + n_x)")
    for gate in "fico":
        _check(f'parameters["W{gate}"]', p["W" + gate], "(n_a, n_a + n_x)", (n_a, n_a + n_x))
        _check(f'parameters["b{gate}"]', p["b" + gate], "(n_a, 1)", (n_a, 1))
    n_y, _ = _matrix('parameters["Wy"]', p["Wy"], "(n_y, n_a)")
    _check('parameters["Wy"]', p["Wy"], "(n_y, n_a)", (n_y, n_a))
    _check('parameters["by"]', p["by"], "(n_y, 1)", (n_y, 1))
    return p


def _sequence(name: str, x: Any, copy: bool = True) -> np.ndarray:
    seq = _float64(name, x, copy)
    if seq.ndim != 3 or 0 in seq.shape:
        raise ValueError(f"{name}: expected a 3-D array (n_x, m, T_x) with no empty axis, got shape {seq.shape}")
    return seq


def _sequence_inputs(
    x: Any, a0: Any, parameters: Any, check_params: Callable[[Any, int], dict[str, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The checked inputs of a forward pass over a sequence: x (n_x, m, T_x), a0 (n_a, m)
    and the parameters (n_a is the rows of their first matrix)."""
    x = _sequence("x", x)
    p = check_params(parameters, x.shape[0])
    a0 = _float64("a0", a0)
    _check("a0", a0, "(n_a, m)", (next(iter(p.values())).shape[0], x.shape[1]))
    return x, a0, p


def _unpack_cache(cache: Any, names: Sequence[str], what: str) -> list[Any]:
    if not isinstance(cache, (tuple, list)) or len(cache) != len(names):
        raise ValueError(
            f"cache: expected the tuple ({', '.join(names)}) returned by {what}, "
            f"got {type(cache).__name__}" + (f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else "")
        )
    return list(cache)


def _unpack_caches(caches: Any, what: str) -> tuple[list[Any], np.ndarray]:
    if not (isinstance(caches, (tuple, list)) and len(caches) == 2 and isinstance(caches[0], (tuple, list))):
        raise ValueError(f"caches: expected the pair (list_of_caches, x) returned by {what}")
    list_of_caches, x = caches
    if len(list_of_caches) == 0:
        raise ValueError("caches: the list of caches is empty (T_x = 0)")
    x = _sequence("caches[1] (x)", x, copy=False)
    if x.shape[2] != len(list_of_caches):
        raise ValueError(f"caches: {len(list_of_caches)} step caches but x has T_x = {x.shape[2]}")
    return list(list_of_caches), x


def _check_da(da: Any, n_a: int, m: int, T_x: int) -> np.ndarray:
    """``da`` (n_a, m, T) with 1 <= T <= T_x: the loss may depend on the first T states only."""
    arr = _float64("da", da)
    if arr.ndim != 3 or arr.shape[:2] != (n_a, m) or not 1 <= arr.shape[2] <= T_x:
        raise ValueError(
            f"da: expected shape (n_a, m, T) = ({n_a}, {m}, T) with 1 <= T <= T_x = {T_x}, got {arr.shape}"
        )
    return arr


def _backward_steps(
    da: Any, caches: Any, through_time: Any, forward: str, cell_forward: str, unpack: Callable[[Any, str], Any]
) -> tuple[bool, np.ndarray, np.ndarray, list[Any]]:
    """The checked inputs of a sequence backward: ``through_time``, x (n_x, m, T_x),
    da (n_a, m, T) and the unpacked caches of the first T steps."""
    through_time = _checks.flag("through_time", through_time)
    list_of_caches, x = _unpack_caches(caches, forward)
    first = unpack(list_of_caches[0], cell_forward)
    da = _check_da(da, first[0].shape[0], x.shape[1], x.shape[2])
    steps = [first] + [unpack(c, cell_forward) for c in list_of_caches[1 : da.shape[2]]]
    return through_time, x, da, steps


# =========================================================================== RNN


def _rnn_step(xt: np.ndarray, a_prev: np.ndarray, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, RNNCache]:
    a_next = np.tanh(p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"])  # a<t>
    yt_pred = softmax(p["Wya"] @ a_next + p["by"])  # ŷ<t>
    return a_next, yt_pred, (a_next, a_prev, xt, p)


def rnn_cell_forward(xt: Any, a_prev: Any, parameters: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, RNNCache]:
    """One step of the vanilla RNN: a<t> = tanh(Waa a<t-1> + Wax x<t> + ba).

    Parameters
    ----------
    xt : array_like, (n_x, m)
        x<t>, the input at this step.
    a_prev : array_like, (n_a, m)
        a<t-1>, the previous hidden state.
    parameters : dict
        ``Wax`` (n_a, n_x), ``Waa`` (n_a, n_a), ``Wya`` (n_y, n_a), ``ba`` (n_a, 1),
        ``by`` (n_y, 1). Other keys are ignored.

    Returns
    -------
    a_next : numpy.ndarray, (n_a, m)
        a<t>.
    yt_pred : numpy.ndarray, (n_y, m)
        ŷ<t> = softmax(Wya a<t> + by); each column sums to 1.
    cache : tuple
        ``(a_next, a_prev, xt, parameters)`` for :func:`rnn_cell_backward` (float64
        copies; ``parameters`` holds only the five keys above).
    """
    xt = _float64("xt", xt)
    n_x, m = _matrix("xt", xt, "(n_x, m)")
    p = _rnn_params(parameters, n_x)
    a_prev = _float64("a_prev", a_prev)
    _check("a_prev", a_prev, "(n_a, m)", (p["Waa"].shape[0], m))
    return _rnn_step(xt, a_prev, p)


def rnn_forward(
    x: Any, a0: Any, parameters: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, tuple[list[RNNCache], np.ndarray]]:
    """The vanilla RNN over a whole sequence: :func:`rnn_cell_forward` for t = 1 ... T_x.

    Parameters
    ----------
    x : array_like, (n_x, m, T_x)
        The inputs, x[:, :, t] at step t.
    a0 : array_like, (n_a, m)
        The initial hidden state.
    parameters : dict
        As for :func:`rnn_cell_forward`.

    Returns
    -------
    a : numpy.ndarray, (n_a, m, T_x)
        Every hidden state: a[:, :, t] is the state after reading x[:, :, t].
    y_pred : numpy.ndarray, (n_y, m, T_x)
        Every ŷ<t>.
    caches : tuple
        ``(list_of_caches, x)``: the T_x cell caches in time order, and (a float64
        copy of) ``x``. Pass it to :func:`rnn_backward`.
    """
    x, a_next, p = _sequence_inputs(x, a0, parameters, _rnn_params)
    (n_a, m), T_x, n_y = a_next.shape, x.shape[2], p["Wya"].shape[0]

    a = np.zeros((n_a, m, T_x))
    y_pred = np.zeros((n_y, m, T_x))
    caches = []
    for t in range(T_x):
        a_next, yt_pred, cache = _rnn_step(x[:, :, t], a_next, p)
        a[:, :, t] = a_next
        y_pred[:, :, t] = yt_pred
        caches.append(cache)
    return a, y_pred, (caches, x)


def _rnn_step_backward(
    da_next: np.ndarray, a_next: np.ndarray, a_prev: np.ndarray, xt: np.ndarray, p: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    # a<t> = tanh(z) with z = Waa a<t-1> + Wax x<t> + ba, and tanh'(z) = 1 - a<t>²
    dz = da_next * (1 - a_next**2)
    return {
        "dxt": p["Wax"].T @ dz,  # (n_x, m)
        "da_prev": p["Waa"].T @ dz,  # (n_a, m)
        "dWax": dz @ xt.T,  # (n_a, n_x), summed over the m examples
        "dWaa": dz @ a_prev.T,  # (n_a, n_a)
        "dba": dz.sum(axis=1, keepdims=True),  # (n_a, 1)
    }


def _rnn_cache(cache: Any, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    a_next, a_prev, xt, parameters = _unpack_cache(cache, ("a_next", "a_prev", "xt", "parameters"), what)
    xt = _float64("cache xt", xt, copy=False)
    n_x, m = _matrix("cache xt", xt, "(n_x, m)")
    p = _rnn_params(parameters, n_x, copy=False)
    n_a = p["Waa"].shape[0]
    a_next = _float64("cache a_next", a_next, copy=False)
    a_prev = _float64("cache a_prev", a_prev, copy=False)
    _check("cache a_next", a_next, "(n_a, m)", (n_a, m))
    _check("cache a_prev", a_prev, "(n_a, m)", (n_a, m))
    return a_next, a_prev, xt, p


def rnn_cell_backward(da_next: Any, cache: RNNCache) -> dict[str, np.ndarray]:
    """Backward through one RNN step.

    With dz = da_next * (1 − a<t>²) (the gradient of the pre-activation, as tanh'
    is 1 − tanh²): ``dxt = Waxᵀ dz``, ``da_prev = Waaᵀ dz``, ``dWax = dz x<t>ᵀ``,
    ``dWaa = dz a<t-1>ᵀ``, ``dba = Σ_examples dz``.

    Parameters
    ----------
    da_next : array_like, (n_a, m)
        dL/da<t>, the total gradient reaching a<t>.
    cache : tuple
        ``(a_next, a_prev, xt, parameters)`` from :func:`rnn_cell_forward`.

    Returns
    -------
    dict
        ``dxt`` (n_x, m), ``da_prev`` (n_a, m), ``dWax`` (n_a, n_x),
        ``dWaa`` (n_a, n_a), ``dba`` (n_a, 1).
    """
    a_next, a_prev, xt, p = _rnn_cache(cache, "rnn_cell_forward")
    da_next = _float64("da_next", da_next)
    _check("da_next", da_next, "(n_a, m)", a_next.shape)
    return _rnn_step_backward(da_next, a_next, a_prev, xt, p)


def rnn_backward(da: Any, caches: tuple[list[RNNCache], Any], *, through_time: bool = True) -> dict[str, np.ndarray]:
    """Backpropagation through time for :func:`rnn_forward`.

    Goes from the last step down to the first, calling the cell backward with
    ``da_next = da[:, :, t] + da_prev`` (``da_prev`` from step t + 1, zero at the
    last step) and summing the weight gradients over the steps.

    Parameters
    ----------
    da : array_like, (n_a, m, T)
        dL/da<t> from the output side at every step (not including the recurrence).
        Normally T = T_x. A shorter ``da`` (T < T_x, as in the notebook's check of
        :func:`lstm_backward`) means the loss depends on the first T states only: the
        result is then that of ``da`` padded with zeros, cut to T steps.
    caches : tuple
        ``(list_of_caches, x)`` from :func:`rnn_forward`.
    through_time : bool, keyword-only
        True (default): full backpropagation through time, the exact gradient.
        False: every step gets only its own ``da[:, :, t]``, no gradient flows
        from step t + 1 to step t (backpropagation truncated to one step).

    Returns
    -------
    dict
        ``dx`` (n_x, m, T), ``da0`` (n_a, m), ``dWax`` (n_a, n_x),
        ``dWaa`` (n_a, n_a), ``dba`` (n_a, 1).
    """
    through_time, x, da, steps = _backward_steps(
        da, caches, through_time, "rnn_forward", "rnn_cell_forward", _rnn_cache
    )
    (n_a, m, T), n_x = da.shape, x.shape[0]

    dx = np.zeros((n_x, m, T))
    dWax, dWaa, dba = np.zeros((n_a, n_x)), np.zeros((n_a, n_a)), np.zeros((n_a, 1))
    da_prevt = np.zeros((n_a, m))  # gradient flowing back into a<t> from step t + 1
    for t in reversed(range(T)):
        da_next = da[:, :, t] + da_prevt if through_time else da[:, :, t]
        g = _rnn_step_backward(da_next, *steps[t])
        da_prevt = g["da_prev"]
        dx[:, :, t] = g["dxt"]
        dWax += g["dWax"]
        dWaa += g["dWaa"]
        dba += g["dba"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}


# =========================================================================== LSTM


def _lstm_step(
    xt: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray, p: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LSTMCache]:
    concat = np.concatenate([a_prev, xt], axis=0)  # [a<t-1>; x<t>], (n_a + n_x, m)
    ft = _sigmoid(p["Wf"] @ concat + p["bf"])  # Γf, forget gate
    it = _sigmoid(p["Wi"] @ concat + p["bi"])  # Γu, update gate
    cct = np.tanh(p["Wc"] @ concat + p["bc"])  # c~<t>, candidate
    c_next = ft * c_prev + it * cct  # c<t>
    ot = _sigmoid(p["Wo"] @ concat + p["bo"])  # Γo, output gate
    a_next = ot * np.tanh(c_next)  # a<t>
    yt_pred = softmax(p["Wy"] @ a_next + p["by"])  # ŷ<t>
    return a_next, c_next, yt_pred, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, p)


def lstm_cell_forward(
    xt: Any, a_prev: Any, c_prev: Any, parameters: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LSTMCache]:
    """One LSTM step (the equations in the module docstring).

    Parameters
    ----------
    xt : array_like, (n_x, m)
        x<t>.
    a_prev : array_like, (n_a, m)
        a<t-1>.
    c_prev : array_like, (n_a, m)
        c<t-1>.
    parameters : dict
        ``Wf``, ``Wi``, ``Wc``, ``Wo`` (n_a, n_a + n_x); ``bf``, ``bi``, ``bc``, ``bo``
        (n_a, 1); ``Wy`` (n_y, n_a); ``by`` (n_y, 1). Other keys are ignored.

    Returns
    -------
    a_next : numpy.ndarray, (n_a, m)
        a<t>.
    c_next : numpy.ndarray, (n_a, m)
        c<t>.
    yt_pred : numpy.ndarray, (n_y, m)
        ŷ<t> = softmax(Wy a<t> + by).
    cache : tuple
        ``(a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)``, where
        ``ft``, ``it``, ``cct``, ``ot`` (n_a, m) are Γf, Γu, c~<t>, Γo.
    """
    xt = _float64("xt", xt)
    n_x, m = _matrix("xt", xt, "(n_x, m)")
    p = _lstm_params(parameters, n_x)
    n_a = p["Wf"].shape[0]
    a_prev, c_prev = _float64("a_prev", a_prev), _float64("c_prev", c_prev)
    _check("a_prev", a_prev, "(n_a, m)", (n_a, m))
    _check("c_prev", c_prev, "(n_a, m)", (n_a, m))
    return _lstm_step(xt, a_prev, c_prev, p)


def lstm_forward(
    x: Any, a0: Any, parameters: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[list[LSTMCache], np.ndarray]]:
    """The LSTM over a whole sequence, starting from a<0> = ``a0`` and c<0> = 0.

    Parameters
    ----------
    x : array_like, (n_x, m, T_x)
    a0 : array_like, (n_a, m)
    parameters : dict
        As for :func:`lstm_cell_forward`.

    Returns
    -------
    a : numpy.ndarray, (n_a, m, T_x)
        Every hidden state a<t>.
    y : numpy.ndarray, (n_y, m, T_x)
        Every prediction ŷ<t>.
    c : numpy.ndarray, (n_a, m, T_x)
        Every cell state c<t> (note the order: ``a, y, c``, as in the notebook).
    caches : tuple
        ``(list_of_caches, x)`` for :func:`lstm_backward`.
    """
    x, a_next, p = _sequence_inputs(x, a0, parameters, _lstm_params)
    (n_a, m), T_x, n_y = a_next.shape, x.shape[2], p["Wy"].shape[0]
    c_next = np.zeros((n_a, m))

    a = np.zeros((n_a, m, T_x))
    c = np.zeros((n_a, m, T_x))
    y = np.zeros((n_y, m, T_x))
    caches = []
    for t in range(T_x):
        a_next, c_next, yt, cache = _lstm_step(x[:, :, t], a_next, c_next, p)
        a[:, :, t], c[:, :, t], y[:, :, t] = a_next, c_next, yt
        caches.append(cache)
    return a, y, c, (caches, x)


_LSTM_CACHE_NAMES = ("a_next", "c_next", "a_prev", "c_prev", "ft", "it", "cct", "ot", "xt", "parameters")


def _lstm_cache(cache: Any, what: str) -> list[Any]:
    *arrays, xt, parameters = _unpack_cache(cache, _LSTM_CACHE_NAMES, what)
    xt = _float64("cache xt", xt, copy=False)
    n_x, m = _matrix("cache xt", xt, "(n_x, m)")
    p = _lstm_params(parameters, n_x, copy=False)
    n_a = p["Wf"].shape[0]
    checked = []
    for name, arr in zip(_LSTM_CACHE_NAMES, arrays):
        arr = _float64(f"cache {name}", arr, copy=False)
        _check(f"cache {name}", arr, "(n_a, m)", (n_a, m))
        checked.append(arr)
    return [*checked, xt, p]


def _lstm_step_backward(
    da_next: np.ndarray,
    dc_next: np.ndarray,
    a_next: np.ndarray,
    c_next: np.ndarray,
    a_prev: np.ndarray,
    c_prev: np.ndarray,
    ft: np.ndarray,
    it: np.ndarray,
    cct: np.ndarray,
    ot: np.ndarray,
    xt: np.ndarray,
    p: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    n_a = a_next.shape[0]
    tanh_c = np.tanh(c_next)
    # a<t> = Γo * tanh(c<t>): gradient of Γo's pre-activation (σ' = Γo (1 - Γo))
    dot = da_next * tanh_c * ot * (1 - ot)
    # ... and the total gradient of c<t>: from step t + 1, plus through a<t>
    dc = dc_next + da_next * ot * (1 - tanh_c**2)
    # c<t> = Γf * c<t-1> + Γu * c~<t>: pre-activation gradients of c~, Γu, Γf
    dcct = dc * it * (1 - cct**2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)
    # each gate's pre-activation is W [a<t-1>; x<t>] + b
    concat_T = np.concatenate([a_prev, xt], axis=0).T  # (m, n_a + n_x)
    dconcat = p["Wf"].T @ dft + p["Wi"].T @ dit + p["Wc"].T @ dcct + p["Wo"].T @ dot  # (n_a + n_x, m)
    return {
        "dxt": dconcat[n_a:],  # (n_x, m): the x rows of [a<t-1>; x<t>]
        "da_prev": dconcat[:n_a],  # (n_a, m): the a rows
        "dc_prev": dc * ft,  # (n_a, m)
        "dWf": dft @ concat_T,
        "dbf": dft.sum(axis=1, keepdims=True),
        "dWi": dit @ concat_T,
        "dbi": dit.sum(axis=1, keepdims=True),
        "dWc": dcct @ concat_T,
        "dbc": dcct.sum(axis=1, keepdims=True),
        "dWo": dot @ concat_T,
        "dbo": dot.sum(axis=1, keepdims=True),
    }


def lstm_cell_backward(da_next: Any, dc_next: Any, cache: LSTMCache) -> dict[str, np.ndarray]:
    """Backward through one LSTM step.

    With the pre-activation gradients (the notebook's dΓo, dc~, dΓu, dΓf)::

        dot  = da_next * tanh(c<t>) * Γo (1 − Γo)
        dc   = dc_next + da_next * Γo * (1 − tanh²(c<t>))    total dL/dc<t>
        dcct = dc * Γu * (1 − c~²)
        dit  = dc * c~ * Γu (1 − Γu)
        dft  = dc * c<t-1> * Γf (1 − Γf)

    ``dW· = d· [a<t-1>; x<t>]ᵀ``, ``db· = Σ_examples d·``, ``dc_prev = dc * Γf``, and
    ``[da_prev; dxt] = Wfᵀ dft + Wiᵀ dit + Wcᵀ dcct + Woᵀ dot`` (first n_a rows and
    last n_x rows).

    Parameters
    ----------
    da_next : array_like, (n_a, m)
        dL/da<t>, total.
    dc_next : array_like, (n_a, m)
        dL/dc<t> arriving from step t + 1 (not through a<t>).
    cache : tuple
        From :func:`lstm_cell_forward`.

    Returns
    -------
    dict
        ``dxt`` (n_x, m), ``da_prev`` (n_a, m), ``dc_prev`` (n_a, m),
        ``dWf``, ``dWi``, ``dWc``, ``dWo`` (n_a, n_a + n_x),
        ``dbf``, ``dbi``, ``dbc``, ``dbo`` (n_a, 1).
    """
    step = _lstm_cache(cache, "lstm_cell_forward")
    shape = step[0].shape
    da_next, dc_next = _float64("da_next", da_next), _float64("dc_next", dc_next)
    _check("da_next", da_next, "(n_a, m)", shape)
    _check("dc_next", dc_next, "(n_a, m)", shape)
    return _lstm_step_backward(da_next, dc_next, *step)


def lstm_backward(da: Any, caches: tuple[list[LSTMCache], Any], *, through_time: bool = True) -> dict[str, np.ndarray]:
    """Backpropagation through time for :func:`lstm_forward`.

    From the last step down to the first: the cell backward with
    ``da_next = da[:, :, t] + da_prev`` and ``dc_next = dc_prev`` (both from step
    t + 1, zero at the last step), summing the weight gradients over the steps.

    Parameters
    ----------
    da : array_like, (n_a, m, T)
        dL/da<t> from the output side at every step. Normally T = T_x; T < T_x
        means the loss depends on the first T states only (the notebook's check
        passes a ``da`` of 4 steps for a forward pass of 7).
    caches : tuple
        ``(list_of_caches, x)`` from :func:`lstm_forward`.
    through_time : bool, keyword-only
        True (default): full backpropagation through time, the exact gradient;
        it reproduces the current notebook's printed "Expected Output".
        False: each step gets only ``da_next = da[:, :, t]`` and ``dc_next = 0``,
        so no gradient flows between steps: not the gradient of the loss, but
        what earlier versions of the notebook printed (reproduced exactly).

    Returns
    -------
    dict
        ``dx`` (n_x, m, T), ``da0`` (n_a, m), ``dWf``, ``dWi``, ``dWc``, ``dWo``
        (n_a, n_a + n_x), ``dbf``, ``dbi``, ``dbc``, ``dbo`` (n_a, 1). No ``dc0``:
        c<0> is fixed at zeros.
    """
    through_time, x, da, steps = _backward_steps(
        da, caches, through_time, "lstm_forward", "lstm_cell_forward", _lstm_cache
    )
    (n_a, m, T), n_x = da.shape, x.shape[0]

    dx = np.zeros((n_x, m, T))
    sums = {f"d{k}{g}": np.zeros((n_a, n_a + n_x) if k == "W" else (n_a, 1)) for g in "fico" for k in "Wb"}
    da_prevt = np.zeros((n_a, m))  # gradients flowing back into a<t>, c<t> from step t + 1
    dc_prevt = np.zeros((n_a, m))
    for t in reversed(range(T)):
        if through_time:
            g = _lstm_step_backward(da[:, :, t] + da_prevt, dc_prevt, *steps[t])
        else:
            g = _lstm_step_backward(da[:, :, t], np.zeros((n_a, m)), *steps[t])
        da_prevt, dc_prevt = g["da_prev"], g["dc_prev"]
        dx[:, :, t] = g["dxt"]
        for k in sums:
            sums[k] += g[k]
    return {"dx": dx, "da0": da_prevt, **{k: sums[k] for k in ("dWf", "dWi", "dWc", "dWo", "dbf", "dbi", "dbc", "dbo")}}
