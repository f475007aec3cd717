"""lstmfast: a fast CPU LSTM, GRU and vanilla RNN under a NumPy-native API.

The forward pass and backpropagation through time run in C++ SIMD kernels
(:mod:`lstmfast.functional`); :mod:`lstmfast.reference` is the same math in
plain NumPy, written to be read and used as the oracle.
"""

from . import agreement, convert, course, diagnostics, losses, models, optim, reference, timeseries
from .config import get_num_threads, release_memory, set_num_threads, show_config
from .functional import (GRUTape, LSTMTape, RNNTape, gru_backward, gru_forward, lstm_backward, lstm_forward,
                         rnn_backward, rnn_forward)
from .diagnostics import GradientFlow, gradient_flow
from .layers import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .models import SequenceModel
from .optim import SGD, Adam, clip_grad_norm

__version__ = "0.1.0"

__all__ = [
    "lstm_forward", "lstm_backward", "rnn_forward", "rnn_backward", "gru_forward", "gru_backward",
    "LSTMTape", "RNNTape", "GRUTape",
    "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell",
    "SequenceModel", "SGD", "Adam", "clip_grad_norm", "gradient_flow", "GradientFlow",
    "reference", "convert", "losses", "models", "optim", "diagnostics", "timeseries", "agreement", "course",
    "show_config", "set_num_threads", "get_num_threads", "release_memory",
]
