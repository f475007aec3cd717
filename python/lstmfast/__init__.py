"""lstmfast: a fast CPU LSTM, GRU and vanilla RNN under a NumPy-native API.

The forward pass and backpropagation through time run in C++ SIMD kernels
(:mod:`lstmfast.functional`, :mod:`lstmfast.layers`); :mod:`lstmfast.reference`
is the same math in plain NumPy, written to be read and used as the oracle.

``import lstmfast`` loads only this core. The audiences' subpackages load on
first use (PEP 562): :mod:`lstmfast.training` (``SequenceModel``, losses,
optimizers, gradient diagnostics), :mod:`lstmfast.datasets` (time series, the
agreement sentences), :mod:`lstmfast.teaching` (the course's notebook
functions) and :mod:`lstmfast.app` (the ``lstmfast`` command).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _moved, cells, convert, reference
from .config import get_num_threads, release_memory, set_num_threads, show_config
from .functional import (
    GRUTape,
    LSTMTape,
    PackedWeights,
    RNNTape,
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    pack_weights,
    rnn_backward,
    rnn_forward,
)
from .layers import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

if TYPE_CHECKING:  # what the lazy names below are, for type checkers ("as": re-exported)
    from . import app as app
    from . import datasets as datasets
    from . import teaching as teaching
    from . import training as training
    from .training import SGD as SGD
    from .training import Adam as Adam
    from .training import GradientFlow as GradientFlow
    from .training import SequenceModel as SequenceModel
    from .training import clip_grad_norm as clip_grad_norm
    from .training import gradient_flow as gradient_flow

__version__ = "0.1.0"

# Names served lazily from the subpackages: name -> module that defines it.
_LAZY = {
    "SequenceModel": "lstmfast.training",
    "SGD": "lstmfast.training",
    "Adam": "lstmfast.training",
    "clip_grad_norm": "lstmfast.training",
    "gradient_flow": "lstmfast.training",
    "GradientFlow": "lstmfast.training",
}
_SUBPACKAGES = ("training", "datasets", "teaching", "app", "integrations")

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCell",
    "GRUTape",
    "LSTMCell",
    "LSTMTape",
    "PackedWeights",
    "RNNCell",
    "RNNTape",
    "cells",
    "convert",
    "get_num_threads",
    "gru_backward",
    "gru_forward",
    "lstm_backward",
    "lstm_forward",
    "pack_weights",
    "reference",
    "release_memory",
    "rnn_backward",
    "rnn_forward",
    "set_num_threads",
    "show_config",
    *_LAZY,
    *_SUBPACKAGES,
    *_moved.OLD_PATHS,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _moved.ALIASES:
        return importlib.import_module(f"{__name__}.{name}")  # the finder in _moved resolves it
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
