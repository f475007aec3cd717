"""lstmfast: a fast CPU LSTM and vanilla RNN under a NumPy-native API.

The forward pass and backpropagation through time run in C++ SIMD kernels
(:mod:`lstmfast.functional`); :mod:`lstmfast.reference` is the same math in
plain NumPy, written to be read and used as the oracle.
"""

from . import convert, losses, reference
from .config import get_num_threads, set_num_threads, show_config
from .functional import LSTMTape, RNNTape, lstm_backward, lstm_forward, rnn_backward, rnn_forward
from .layers import LSTM, RNN

__version__ = "0.1.0"

__all__ = [
    "lstm_forward", "lstm_backward", "rnn_forward", "rnn_backward", "LSTMTape", "RNNTape",
    "LSTM", "RNN",
    "reference", "convert", "losses",
    "show_config", "set_num_threads", "get_num_threads",
]
