r"""Convert LSTM/GRU/RNN weights between lstmfast (= PyTorch) and other conventions.

The common currency is a ``params`` dict with the keys ``"w_ih"``, ``"w_hh"``,
``"b_ih"``, ``"b_hh"`` in PyTorch's layout (a bias may be None or absent):

* LSTM: ``w_ih`` (4H, I), ``w_hh`` (4H, H), ``b_ih`` and ``b_hh`` (4H,); the four gate
  blocks of H rows each are stacked in the order i, f, g, o.
* GRU: ``w_ih`` (3H, I), ``w_hh`` (3H, H), ``b_ih`` and ``b_hh`` (3H,); gate blocks
  r, z, n (PyTorch's ``nn.GRU``: the reset gate scales ``w_hn h + b_hn``).
* RNN: ``w_ih`` (H, I), ``w_hh`` (H, H), ``b_ih`` and ``b_hh`` (H,).

The PyTorch functions serve all three cells: the cell is read from the shapes
(``w_hh`` is (G*H, H) with G = 4, 3 or 1) unless ``cell=`` names it. An LSTM with
peepholes has a fifth key, ``"peepholes"`` (3H,) = p_i, p_f, p_o; only ONNX's LSTM has
them too, so the other converters refuse such params.

Every converter returns new arrays (never views of its input) with the input's dtype.

=============  ==================  ======================  =======================  ==================
lstmfast       PyTorch state dict  Keras LSTM              ONNX LSTM                course dict
=============  ==================  ======================  =======================  ==================
x (T, B, I)    x (T, B, I)         x (B, T, I)             X (T, B, I), layout=0    x (I, B, T)
w_ih (4H, I)   weight_ih_l0        kernel (I, 4H) = w_ihᵀ  W[0] (4H, I)             Wi/Wf/Wc/Wo[:, H:]
w_hh (4H, H)   weight_hh_l0        recurrent_kernel (H,4H) R[0] (4H, H)             Wi/Wf/Wc/Wo[:, :H]
b_ih (4H,)     bias_ih_l0          bias = b_ih + b_hh      B[0, :4H] (Wb)           bi/bf/bc/bo (H, 1)
b_hh (4H,)     bias_hh_l0          (one bias only)         B[0, 4H:] (Rb)           = b_ih + b_hh
gate order     i, f, g, o          i, f, c, o              i, o, f, c               Wi, Wf, Wc, Wo
Γu / Γf        i / f               i / f                   i / f                    Wi, bi / Wf, bf
c~ / Γo        g / o               c / o                   c / o                    Wc, bc / Wo, bo
=============  ==================  ======================  =======================  ==================

Conventions with a single bias (Keras, the course) get ``b_ih = bias`` and ``b_hh = 0``
on the way in, and ``b_ih + b_hh`` on the way out. The equations are the same in all
conventions only with the standard nonlinearities: σ for the gates, tanh for the
candidate and the output (Keras: ``activation="tanh", recurrent_activation="sigmoid"``,
the default since Keras 2.3; ONNX: default activations; its peepholes ``P`` (i, o, f)
are ``params["peepholes"]`` (i, f, o), and ``clip``, ``input_forget`` are layer options,
not weights). The course dicts' output head ``Wy``, ``by`` is
not part of the recurrence: use it with :func:`lstmfast.losses.dense_forward` as
``w = Wy``, ``b = by[:, 0]``.

GRU
---
=============  ==================  ===========================================
lstmfast       PyTorch state dict  Keras GRU, ``reset_after=True``
=============  ==================  ===========================================
w_ih (3H, I)   weight_ih_l0        kernel (I, 3H)
w_hh (3H, H)   weight_hh_l0        recurrent_kernel (H, 3H)
b_ih (3H,)     bias_ih_l0          bias[0] (input bias); bias is (2, 3H)
b_hh (3H,)     bias_hh_l0          bias[1] (recurrent bias)
gate order     r, z, n             z, r, h
=============  ==================  ===========================================

Both keep the two biases apart and apply the reset gate after the recurrent
product, and both mix with the update gate as h = z * h_prev + (1 - z) * n, so
the conversion is exact both ways. ``reset_after=True`` is Keras' default in
TensorFlow 2 and Keras 3. The other variant, ``reset_after=False`` (the default of
TensorFlow 1's tf.keras: reset gate applied to h before the product, one bias (3H,)),
is lstmfast's ``GRU(reset_after=False)``: convert with ``from_keras_gru(w,
reset_after=False)`` (``b_ih`` = the bias, ``b_hh`` = 0) and ``to_keras_gru(params,
reset_after=False)`` (bias = ``b_ih + b_hh``, which that GRU only ever adds). Keras
must also use ``activation="tanh"`` and ``recurrent_activation="sigmoid"`` (again the
defaults in TensorFlow 2 and Keras 3; TensorFlow 1 defaulted to ``hard_sigmoid``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import cells
from ._checks import as_float_arrays, check_shape, check_weights, flag, integer, present
from .layers import parameter_names

__all__ = [
    "from_course_lstm",
    "from_course_rnn",
    "from_keras",
    "from_keras_gru",
    "from_keras_rnn",
    "from_onnx",
    "from_torch_state_dict",
    "to_course_lstm",
    "to_course_rnn",
    "to_keras",
    "to_keras_gru",
    "to_keras_rnn",
    "to_onnx",
    "to_torch_state_dict",
]

PARAM_KEYS = ("w_ih", "w_hh", "b_ih", "b_hh")
_KEYS = (*PARAM_KEYS, "peepholes")  # an LSTM's params may have peepholes
COURSE_LSTM_GATES = ("Wi", "Wf", "Wc", "Wo")  # our block order i, f, g, o
# ONNX stacks an LSTM's gates as i, o, f, c and a GRU's as z, r, h: block k of ONNX's
# rows is our block _ONNX_ORDER[cell][k]; block k of ours is ONNX's block
# _OURS_FROM_ONNX[cell][k].
_ONNX_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn": (0,)}
_OURS_FROM_ONNX = {"lstm": (0, 2, 3, 1), "gru": (1, 0, 2), "rnn": (0,)}
# ONNX's peepholes P are p_i, p_o, p_f; ours p_i, p_f, p_o: swapping the last two goes either way.
_ONNX_PEEPHOLE_ORDER = (0, 2, 1)
# Keras' GRU stacks z, r, h; ours r, z, n. Swapping the first two blocks goes either way.
# (Read from Keras 3's GRUCell, keras/src/layers/rnn/gru.py in keras-team/keras: build()
# makes kernel (input_dim, 3*units), recurrent_kernel (units, 3*units) and, with
# reset_after, bias (2, 3*units); call() splits bias into input_bias = bias[0] and
# recurrent_bias = bias[1], splits x @ kernel + input_bias into x_z, x_r, x_h in that
# order, applies r to (h @ recurrent_kernel[:, 2*units:] + recurrent_bias[2*units:]),
# and returns z * h_tm1 + (1 - z) * hh. Defaults from the tf.keras.layers.GRU API pages:
# TF 2.13 reset_after=True, recurrent_activation='sigmoid'; TF 1.15 reset_after=False,
# 'hard_sigmoid'.)
_KERAS_GRU_ORDER = (1, 0, 2)


# --------------------------------------------------------------------------- helpers


def _copy(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.array(a, copy=True, order="C")


def _cell_of(cell: str | None, w_hh: np.ndarray) -> cells.Cell:
    """The record of ``cell`` ("lstm", "gru", "rnn"); None reads it from w_hh (G*H, H).

    Shapes that fit no cell count as an LSTM's, so that the error message says what an
    LSTM would need.
    """
    if cell is not None:
        return cells.get(cell, none_allowed=True)
    if w_hh.ndim == 2 and w_hh.shape[1] >= 1 and w_hh.shape[0] % w_hh.shape[1] == 0:
        for kind in cells.CELLS.values():
            if w_hh.shape[0] == kind.gates * w_hh.shape[1]:
                return kind
    return cells.LSTM


def _check_params(params: Any, kind: cells.Cell | None = None, cell: str | None = None) -> tuple[Any, ...]:
    """Validate a ``params`` dict; returns (w_ih, w_hh, b_ih, b_hh, I, H).

    ``kind`` the cell record; None takes it from ``cell`` (see :func:`_cell_of`:
    read from the shape of w_hh when ``cell`` is None too). Peepholes are checked
    too (:func:`_peepholes`), and refused here: the callers convert to conventions
    without them.
    """
    w_ih, w_hh, b_ih, b_hh, peepholes, I, H = _check_params_with_peepholes(params, kind, cell)
    if peepholes is not None:
        raise ValueError(
            "params: has peepholes, which this convention does not have (only ONNX's LSTM does: use to_onnx)"
        )
    return w_ih, w_hh, b_ih, b_hh, I, H


def _check_params_with_peepholes(params: Any, kind: cells.Cell | None, cell: str | None) -> tuple[Any, ...]:
    """:func:`_check_params`, returning the peepholes too: (w_ih, w_hh, b_ih, b_hh, peepholes, I, H)."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict with keys {_KEYS}, got {type(params).__name__}")
    unknown = sorted(set(params) - set(_KEYS))
    missing = [k for k in ("w_ih", "w_hh") if k not in params]
    if unknown or missing:
        raise ValueError(
            f"params: expected keys {_KEYS} (biases and peepholes optional); missing {missing}, unknown {unknown}"
        )
    w_ih, w_hh, b_ih, b_hh, peepholes = as_float_arrays(**{k: params.get(k) for k in _KEYS})
    w_ih, w_hh = present("w_ih", w_ih), present("w_hh", w_hh)
    if kind is None:
        kind = _cell_of(cell, w_hh)
    I, H = check_weights(w_ih, w_hh, b_ih, b_hh, cell=kind)
    if peepholes is not None:
        if not kind.peephole_gates:
            raise ValueError(f"peepholes: only an LSTM has them, not a {kind.title}")
        check_shape("peepholes", peepholes, "(3*H,)", (len(kind.peephole_gates) * H,))
    return w_ih, w_hh, b_ih, b_hh, peepholes, I, H


def _reorder(a: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """Rearrange the ``len(order)`` equal gate blocks along axis 0 of ``a`` into ``order``."""
    blocks = np.split(a, len(order), axis=0)
    return np.concatenate([blocks[k] for k in order], axis=0)


def _summed_bias(b_ih: np.ndarray | None, b_hh: np.ndarray | None) -> np.ndarray | None:
    if b_ih is None and b_hh is None:
        return None
    if b_ih is None or b_hh is None:
        return _copy(b_ih if b_hh is None else b_hh)
    total: np.ndarray = b_ih + b_hh
    return total


def _params(
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b_ih: np.ndarray | None,
    b_hh: np.ndarray | None,
    peepholes: np.ndarray | None = None,
) -> dict[str, np.ndarray | None]:
    """A ``params`` dict of copies; "peepholes" only if there are any."""
    params = {"w_ih": _copy(w_ih), "w_hh": _copy(w_hh), "b_ih": _copy(b_ih), "b_hh": _copy(b_hh)}
    if peepholes is not None:
        params["peepholes"] = _copy(peepholes)
    return params


# --------------------------------------------------------------------------- PyTorch


def to_torch_state_dict(
    params: Mapping[str, Any], layer: int = 0, *, tensors: bool = False, reverse: bool = False, cell: str | None = None
) -> dict[str, Any]:
    """PyTorch ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` state-dict entries for one layer.

    Parameters
    ----------
    params : dict
        ``w_ih``, ``w_hh``, ``b_ih``, ``b_hh`` (LSTM, GRU or RNN).
    layer : int
        The layer index k in ``weight_ih_l{k}`` etc.
    tensors : bool
        Return ``torch.Tensor`` values (imports torch) instead of NumPy arrays.
    reverse : bool
        The reverse direction of a bidirectional module: ``weight_ih_l{k}_reverse`` etc.
    cell : {"lstm", "gru", "rnn"} or None
        Check the shapes for this cell; None reads it from ``w_hh`` ((4H, H), (3H, H)
        or (H, H)).

    Returns
    -------
    dict
        ``weight_ih_l{k}``, ``weight_hh_l{k}`` and, when present, ``bias_ih_l{k}``,
        ``bias_hh_l{k}`` (a module built with ``bias=False`` has no bias entries).
        Load with ``module.load_state_dict(sd)`` (``strict=False`` for a subset of
        the layers or directions).
    """
    w_ih, w_hh, b_ih, b_hh, _, _ = _check_params(params, cell=cell)
    names = parameter_names(layer, reverse)
    sd = {names["w_ih"]: w_ih, names["w_hh"]: w_hh}
    if b_ih is not None or b_hh is not None:
        zeros = np.zeros_like(b_ih if b_ih is not None else b_hh)
        sd[names["b_ih"]] = b_ih if b_ih is not None else zeros
        sd[names["b_hh"]] = b_hh if b_hh is not None else zeros
    sd = {k: _copy(v) for k, v in sd.items()}
    if tensors:
        import torch  # only when asked for

        sd = {k: torch.from_numpy(v) for k, v in sd.items()}
    return sd


def from_torch_state_dict(
    sd: Mapping[str, Any], layer: int = 0, *, reverse: bool = False, cell: str | None = None
) -> dict[str, np.ndarray | None]:
    """``params`` from a PyTorch ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` state dict.

    Parameters
    ----------
    sd : mapping
        ``module.state_dict()``; values may be tensors (any device) or arrays. Keys
        must be unprefixed (``weight_ih_l0``, not ``lstm.weight_ih_l0``).
    layer : int
    reverse : bool
        Read the reverse direction of a bidirectional module (``*_l{k}_reverse``).
    cell : {"lstm", "gru", "rnn"} or None
        As in :func:`to_torch_state_dict`.

    Returns
    -------
    dict
        ``params``; the biases are None if the module has none.
    """
    names = parameter_names(layer, reverse)
    for key in ("w_ih", "w_hh"):
        if names[key] not in sd:
            raise ValueError(f"sd: no entry {names[key]!r}; present: {sorted(sd)}")
    w_ih, w_hh, b_ih, b_hh, _, _ = _check_params({k: sd[name] for k, name in names.items() if name in sd}, cell=cell)
    return _params(w_ih, w_hh, b_ih, b_hh)


# --------------------------------------------------------------------------- Keras


def to_keras(params: Mapping[str, Any]) -> dict[str, np.ndarray | None]:
    """Keras ``LSTM`` weights (gate order i, f, c, o, transposed).

    Returns
    -------
    dict
        ``kernel`` (I, 4H), ``recurrent_kernel`` (H, 4H), ``bias`` (4H,) = b_ih + b_hh,
        or None without biases. For ``layer.set_weights`` pass
        ``[kernel, recurrent_kernel, bias]`` (omit bias if ``use_bias=False``).
    """
    w_ih, w_hh, b_ih, b_hh, _, _ = _check_params(params, cells.LSTM)
    return {"kernel": _copy(w_ih.T), "recurrent_kernel": _copy(w_hh.T), "bias": _summed_bias(b_ih, b_hh)}


def _keras_weights(weights: Any, kind: cells.Cell) -> tuple[Any, ...]:
    """kernel, recurrent_kernel, bias (unchecked) and H from Keras weights of a cell
    of ``kind``, given as a dict or as the list of ``layer.get_weights()``."""
    if isinstance(weights, Mapping):
        kernel, recurrent, bias = (weights.get(k) for k in ("kernel", "recurrent_kernel", "bias"))
        if kernel is None or recurrent is None:
            raise ValueError(
                f"weights: expected keys 'kernel', 'recurrent_kernel' and optionally 'bias', got {sorted(weights)}"
            )
    elif isinstance(weights, Sequence) and len(weights) in (2, 3):
        kernel, recurrent, bias = (*weights, None)[:3]
    else:
        raise TypeError(
            "weights: expected a dict or the list [kernel, recurrent_kernel(, bias)] of layer.get_weights()"
        )
    kernel, recurrent, bias = as_float_arrays(kernel=kernel, recurrent_kernel=recurrent, bias=bias)
    kernel, recurrent = present("kernel", kernel), present("recurrent_kernel", recurrent)
    g, gates = kind.layout, kind.gates
    if recurrent.ndim != 2 or recurrent.shape[0] < 1:
        raise ValueError(f"recurrent_kernel: expected a 2-D array (H, {g}) with H >= 1, got shape {recurrent.shape}")
    H = recurrent.shape[0]
    check_shape("recurrent_kernel", recurrent, f"(H, {g})", (H, gates * H))
    if kernel.ndim != 2 or kernel.shape[0] < 1:
        raise ValueError(f"kernel: expected a 2-D array (I, {g}) with I >= 1, got shape {kernel.shape}")
    check_shape("kernel", kernel, f"(I, {g})", (kernel.shape[0], gates * H))
    return kernel, recurrent, bias, H


def from_keras(weights: Any) -> dict[str, np.ndarray | None]:
    """``params`` from Keras ``LSTM`` weights.

    Parameters
    ----------
    weights : dict or sequence
        ``{"kernel", "recurrent_kernel", "bias"}`` or ``layer.get_weights()``, i.e.
        ``[kernel (I, 4H), recurrent_kernel (H, 4H)]`` plus ``bias (4H,)`` if the
        layer has one.

    Returns
    -------
    dict
        ``params`` with ``b_ih = bias``, ``b_hh = zeros`` (both None without bias).
    """
    kernel, recurrent, bias, H = _keras_weights(weights, cells.LSTM)
    if bias is not None:
        check_shape("bias", bias, "(4*H,)", (4 * H,))
    b_hh = None if bias is None else np.zeros_like(bias)
    return _params(kernel.T, recurrent.T, bias, b_hh)


def to_keras_gru(params: Mapping[str, Any], reset_after: bool = True) -> dict[str, np.ndarray | None]:
    """Keras ``GRU`` weights (gate order z, r, h, transposed).

    Parameters
    ----------
    params : dict
        GRU ``params``: ``w_ih`` (3H, I), ``w_hh`` (3H, H), ``b_ih``, ``b_hh`` (3H,).
    reset_after : bool
        The Keras layer's ``reset_after``, which must be the lstmfast layer's too
        (``GRU(reset_after=...)``): the two compute different functions.

    Returns
    -------
    dict
        ``kernel`` (I, 3H), ``recurrent_kernel`` (H, 3H) and ``bias``: with
        ``reset_after``, (2, 3H) = [input bias; recurrent bias] (a missing half is
        zeros); without, (3H,) = b_ih + b_hh (they are simply added then); None
        without biases. For ``layer.set_weights`` pass ``[kernel, recurrent_kernel,
        bias]`` (omit bias if ``use_bias=False``).
    """
    w_ih, w_hh, b_ih, b_hh, _, _ = _check_params(params, cells.GRU)
    reset_after = flag("reset_after", reset_after)
    bias = None
    if not reset_after:
        summed = _summed_bias(b_ih, b_hh)
        bias = None if summed is None else _reorder(summed, _KERAS_GRU_ORDER)
    elif b_ih is not None or b_hh is not None:
        zeros = np.zeros(w_hh.shape[0], dtype=w_hh.dtype)
        halves = [zeros if b is None else _reorder(b, _KERAS_GRU_ORDER) for b in (b_ih, b_hh)]
        bias = np.stack(halves)
    return {
        "kernel": _copy(_reorder(w_ih, _KERAS_GRU_ORDER).T),
        "recurrent_kernel": _copy(_reorder(w_hh, _KERAS_GRU_ORDER).T),
        "bias": bias,
    }


def from_keras_gru(weights: Any, reset_after: bool = True) -> dict[str, np.ndarray | None]:
    """``params`` from Keras ``GRU`` weights.

    Parameters
    ----------
    weights : dict or sequence
        ``{"kernel", "recurrent_kernel", "bias"}`` or ``layer.get_weights()``, i.e.
        ``[kernel (I, 3H), recurrent_kernel (H, 3H)]`` plus the bias if the layer has
        one: (2, 3H) with ``reset_after=True``, (3H,) with ``reset_after=False``.
    reset_after : bool
        The Keras layer's ``reset_after``; build the lstmfast layer with the same
        (``GRU(..., reset_after=False)``), since the two compute different functions.

    Returns
    -------
    dict
        GRU ``params``: ``b_ih = bias[0]``, ``b_hh = bias[1]`` (``reset_after=False``:
        ``b_ih = bias``, ``b_hh`` zeros; None without bias). Exact:
        ``to_keras_gru(from_keras_gru(w, r), r)`` gives ``w`` back.
    """
    kernel, recurrent, bias, H = _keras_weights(weights, cells.GRU)
    reset_after = flag("reset_after", reset_after)
    b_ih = b_hh = None
    if bias is not None:
        if reset_after and bias.shape == (3 * H,):
            raise ValueError(
                f"bias: shape {bias.shape} is that of a Keras GRU with reset_after=False (the reset gate "
                f"before the recurrent product, one bias); pass reset_after=False and build the layer "
                f"with GRU(..., reset_after=False), or give the bias (2, 3*H) = {(2, 3 * H)} of reset_after=True"
            )
        if not reset_after and bias.shape == (2, 3 * H):
            raise ValueError(
                f"bias: shape {bias.shape} is that of a Keras GRU with reset_after=True (two biases); "
                f"pass reset_after=True, or give the bias (3*H,) = {(3 * H,)} of reset_after=False"
            )
        if reset_after:
            check_shape("bias", bias, "(2, 3*H)", (2, 3 * H))
            b_ih, b_hh = (_reorder(half, _KERAS_GRU_ORDER) for half in bias)
        else:
            check_shape("bias", bias, "(3*H,)", (3 * H,))
            b_ih, b_hh = _reorder(bias, _KERAS_GRU_ORDER), np.zeros_like(bias)
    return _params(_reorder(kernel.T, _KERAS_GRU_ORDER), _reorder(recurrent.T, _KERAS_GRU_ORDER), b_ih, b_hh)


def to_keras_rnn(params: Mapping[str, Any]) -> dict[str, np.ndarray | None]:
    """Keras ``SimpleRNN`` weights: ``kernel`` (I, H), ``recurrent_kernel`` (H, H),
    ``bias`` (H,) = b_ih + b_hh (None without biases)."""
    w_ih, w_hh, b_ih, b_hh, _, _ = _check_params(params, cells.RNN)
    return {"kernel": w_ih.T.copy(), "recurrent_kernel": w_hh.T.copy(), "bias": _summed_bias(b_ih, b_hh)}


def from_keras_rnn(weights: Any) -> dict[str, np.ndarray | None]:
    """``params`` from Keras ``SimpleRNN`` weights (a dict or ``layer.get_weights()``:
    ``[kernel (I, H), recurrent_kernel (H, H)]`` plus ``bias (H,)``); ``b_ih = bias``,
    ``b_hh = zeros``. Keras' default activation, tanh, is the RNN's default too."""
    kernel, recurrent, bias, H = _keras_weights(weights, cells.RNN)
    if bias is not None:
        check_shape("bias", bias, "(H,)", (H,))
    return _params(kernel.T, recurrent.T, bias, None if bias is None else np.zeros_like(bias))


# --------------------------------------------------------------------------- ONNX


def to_onnx(
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]], cell: str | None = None
) -> dict[str, np.ndarray | None]:
    """Inputs ``W``, ``R``, ``B`` and ``P`` of an ONNX ``LSTM``, ``GRU`` or ``RNN`` node.

    Parameters
    ----------
    params : dict, or a list of two dicts
        One direction's ``params`` (an LSTM's may have ``peepholes``), or ``[forward,
        reverse]`` for a node with ``direction="bidirectional"``.
    cell : {"lstm", "gru", "rnn"} or None
        None: read from the shapes.

    Returns
    -------
    dict
        ``W`` (D, G, I), ``R`` (D, G, H), ``B`` (D, 2G) = [Wb, Rb] (a missing bias half
        is zeros; ``B`` is None if there is no bias at all), with ONNX's gate orders:
        LSTM i, o, f, c; GRU z, r, h; and, if there are peepholes, ``P`` (D, 3H) =
        the LSTM's p_i, p_o, p_f (zeros for a direction without). The GRU's
        W, R, B are the same for both of ONNX's ``linear_before_reset`` (set that
        attribute to ``0`` for a layer with ``reset_after=False``).
    """
    directions = list(params) if isinstance(params, Sequence) and not isinstance(params, Mapping) else [params]
    if not 1 <= len(directions) <= 2 or not all(isinstance(d, Mapping) for d in directions):
        raise TypeError(
            "params: expected a dict, or a list of two (forward, reverse), of w_ih, w_hh, b_ih, b_hh (, peepholes)"
        )
    W: list[np.ndarray] = []
    R: list[np.ndarray] = []
    B: list[np.ndarray | None] = []
    P: list[np.ndarray | None] = []
    for p in directions:
        w_ih, w_hh, b_ih, b_hh, peepholes, _, H = _check_params_with_peepholes(p, None, cell)
        kind = _cell_of(cell, w_hh)
        order = _ONNX_ORDER[kind.name]
        W.append(_reorder(w_ih, order))
        R.append(_reorder(w_hh, order))
        zeros = np.zeros(kind.gates * H, dtype=w_ih.dtype)
        if b_ih is None and b_hh is None:
            B.append(None)
        else:
            B.append(np.concatenate([zeros if b is None else _reorder(b, order) for b in (b_ih, b_hh)]))
        P.append(None if peepholes is None else _reorder(peepholes, _ONNX_PEEPHOLE_ORDER))
    bias = None
    if any(b is not None for b in B):  # a direction without biases gets zeros
        bias = np.stack([np.zeros(2 * W[0].shape[0], W[0].dtype) if b is None else b for b in B])
    onnx_inputs = {"W": np.stack(W), "R": np.stack(R), "B": bias}
    if any(p is not None for p in P):  # a direction without peepholes gets zeros
        onnx_inputs["P"] = np.stack([np.zeros(3 * R[0].shape[2], W[0].dtype) if p is None else p for p in P])
    return onnx_inputs


def from_onnx(
    W: Any, R: Any, B: Any = None, P: Any = None, *, direction: int = 0, cell: str | None = None
) -> dict[str, np.ndarray | None]:
    """``params`` of one direction of an ONNX ``LSTM``, ``GRU`` or ``RNN`` node.

    Parameters
    ----------
    W : array_like, (D, G, I); R : array_like, (D, G, H); B : array_like (D, 2G) or None
        The node's inputs (G = 4H, 3H or H); [Wb, Rb] in ``B`` become ``b_ih``,
        ``b_hh``. None gives no biases.
    P : array_like (D, 3H) or None
        An LSTM node's peepholes p_i, p_o, p_f; they become ``peepholes`` (p_i, p_f,
        p_o). None gives none.
    direction : int
        0 (forward) or, for a bidirectional node, 1 (reverse).
    cell : {"lstm", "gru", "rnn"} or None
        None: read from the shapes. A GRU's weights mean the same for both of ONNX's
        ``linear_before_reset``; build the layer with ``reset_after=False`` for
        ``linear_before_reset=0`` (see :mod:`lstmfast.onnx`).
    """
    W, R, B, P = as_float_arrays(W=W, R=R, B=B, P=P)
    W, R = present("W", W), present("R", R)
    for name, a in (("W", W), ("R", R)):
        if a.ndim != 3 or a.shape[0] not in (1, 2) or a.shape[2] < 1:
            raise ValueError(
                f"{name}: expected a 3-D array (num_directions, G, {'I' if name == 'W' else 'H'}) with "
                f"1 or 2 directions, got shape {a.shape}"
            )
    D, H = R.shape[0], R.shape[2]
    kind = _cell_of(cell, R[0])
    g = kind.layout
    check_shape("R", R, f"(D, {g}, H)", (D, kind.gates * H, H))
    check_shape("W", W, f"(D, {g}, I)", (D, kind.gates * H, W.shape[2]))
    d = integer("direction", direction, 0, D - 1, rule=f"0 <= direction <= num_directions - 1 = {D - 1}")
    order = _OURS_FROM_ONNX[kind.name]
    b_ih = b_hh = None
    if B is not None:
        check_shape("B", B, f"(D, 2*{g})", (D, 2 * kind.gates * H))
        b_ih, b_hh = (_reorder(half, order) for half in np.split(B[d], 2))
    peepholes = None
    if P is not None:
        if not kind.peephole_gates:
            raise ValueError(f"P: only an LSTM node has peepholes, not a {kind.title}")
        check_shape("P", P, "(D, 3*H)", (D, 3 * H))
        peepholes = _reorder(P[d], _ONNX_PEEPHOLE_ORDER)
    return _params(_reorder(W[d], order), _reorder(R[d], order), b_ih, b_hh, peepholes)


# --------------------------------------------------------------------------- course


def to_course_lstm(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The course's per-gate LSTM dict ``{Wf, bf, Wi, bi, Wc, bc, Wo, bo}``.

    Each W is (H, H + I) and acts on the column vector [a<t-1>; x<t>] (first H columns
    on a, last I on x); each b is (H, 1) and holds b_ih + b_hh (zeros without biases).
    ``Wi``, ``bi`` are the update gate Γu (PyTorch's i), ``Wc``, ``bc`` the candidate c~.
    """
    w_ih, w_hh, b_ih, b_hh, _, H = _check_params(params, cells.LSTM)
    b = _summed_bias(b_ih, b_hh)
    if b is None:
        b = np.zeros(4 * H, dtype=w_ih.dtype)
    course = {}
    for k, name in enumerate(COURSE_LSTM_GATES):
        rows = slice(k * H, (k + 1) * H)
        course[name] = np.hstack([w_hh[rows], w_ih[rows]])
        course["b" + name[1]] = b[rows].reshape(H, 1).copy()
    return course


def _course_bias(name: str, b: np.ndarray, H: int) -> np.ndarray:
    if b.shape not in ((H, 1), (H,)):
        raise ValueError(f"{name}: expected shape (H, 1) = {(H, 1)}, got {b.shape}")
    return b.reshape(H)


def from_course_lstm(course: Mapping[str, Any]) -> dict[str, np.ndarray | None]:
    """``params`` from the course's dict ``{Wf, bf, Wi, bi, Wc, bc, Wo, bo}``.

    W* are (H, H + I) on [a<t-1>; x<t>], b* are (H, 1) (or (H,)). The bias goes to
    ``b_ih``; ``b_hh`` is zeros. Other keys (e.g. the output head Wy, by) are ignored.
    """
    keys = [k for g in COURSE_LSTM_GATES for k in (g, "b" + g[1])]
    missing = [k for k in keys if k not in course]
    if missing:
        raise ValueError(f"course: missing keys {missing}; expected {keys}")
    arrays = {k: present(k, a) for k, a in zip(keys, as_float_arrays(**{k: course[k] for k in keys}))}
    Wf = arrays["Wf"]
    if Wf.ndim != 2 or Wf.shape[0] < 1 or Wf.shape[1] <= Wf.shape[0]:
        raise ValueError(f"Wf: expected a 2-D array (H, H + I) with H >= 1 and I >= 1, got shape {Wf.shape}")
    H, I = Wf.shape[0], Wf.shape[1] - Wf.shape[0]
    for g in COURSE_LSTM_GATES:
        check_shape(g, arrays[g], "(H, H + I)", (H, H + I))
    W = np.concatenate([arrays[g] for g in COURSE_LSTM_GATES])  # (4H, H + I), blocks i, f, g, o
    b = np.concatenate([_course_bias("b" + g[1], arrays["b" + g[1]], H) for g in COURSE_LSTM_GATES])
    return _params(W[:, H:], W[:, :H], b, np.zeros_like(b))


def to_course_rnn(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The course's RNN dict ``{Wax (H, I), Waa (H, H), ba (H, 1)}``; ba = b_ih + b_hh."""
    w_ih, w_hh, b_ih, b_hh, _, H = _check_params(params, cells.RNN)
    b = _summed_bias(b_ih, b_hh)
    if b is None:
        b = np.zeros(H, dtype=w_ih.dtype)
    return {"Wax": w_ih.copy(), "Waa": w_hh.copy(), "ba": b.reshape(H, 1).copy()}


def from_course_rnn(course: Mapping[str, Any]) -> dict[str, np.ndarray | None]:
    """``params`` from ``{Wax (H, I), Waa (H, H), ba (H, 1)}``: b_ih = ba, b_hh = zeros.

    Other keys (Wya, by) are ignored.
    """
    missing = [k for k in ("Wax", "Waa", "ba") if k not in course]
    if missing:
        raise ValueError(f"course: missing keys {missing}; expected ['Wax', 'Waa', 'ba']")
    Wax, Waa, ba = (
        present(k, a)
        for k, a in zip(("Wax", "Waa", "ba"), as_float_arrays(Wax=course["Wax"], Waa=course["Waa"], ba=course["ba"]))
    )
    if Waa.ndim != 2 or Waa.shape[0] < 1:
        raise ValueError(f"Waa: expected a 2-D array (H, H) with H >= 1, got shape {Waa.shape}")
    H = Waa.shape[0]
    check_shape("Waa", Waa, "(H, H)", (H, H))
    if Wax.ndim != 2 or Wax.shape[1] < 1:
        raise ValueError(f"Wax: expected a 2-D array (H, I) with I >= 1, got shape {Wax.shape}")
    check_shape("Wax", Wax, "(H, I)", (H, Wax.shape[1]))
    b = _course_bias("ba", ba, H)
    return _params(Wax, Waa, b, np.zeros_like(b))
