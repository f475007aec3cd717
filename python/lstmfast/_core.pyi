# The compiled module (src/cpp/bindings), as type checkers see it. Kept by hand:
# every function and tape property the bindings register, with the arrays it
# accepts. The buffers must be C-contiguous, of one float dtype and the exact
# shapes; the Python layer (lstmfast.functional) converts anything else first.
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

_Array = NDArray[Any]
_Grads = dict[str, _Array | None]

class _Tape:
    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(T, B, I, H)"""
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def h(self) -> _Array:
        """(T+1, B, H), read-only: the initial state and the state after each step."""
    @property
    def lengths(self) -> _Array | None: ...
    @property
    def reverse(self) -> bool: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def clip(self) -> float | None:
        """ONNX's clip of the pre-activations, or None."""

class LSTMTape(_Tape):
    @property
    def c(self) -> _Array:
        """(T+1, B, H), read-only: the cell states, laid out like h."""
    @property
    def gates(self) -> _Array:
        """(T, B, 4H), read-only: the activated gates i, f, g, o."""
    @property
    def peepholes(self) -> _Array | None:
        """(3H,), read-only: the peephole weights p_i, p_f, p_o, or None."""
    @property
    def input_forget(self) -> bool: ...

class GRUTape(_Tape):
    @property
    def gates(self) -> _Array:
        """(T, B, 4H), read-only: r, z, n and hn = h<t-1> W_hn^T + b_hn (reset_after=False: r * h<t-1>)."""
    @property
    def reset_after(self) -> bool: ...

class RNNTape(_Tape):
    @property
    def nonlinearity(self) -> str: ...

class PackedWeights:
    """A cell's W_ih and W_hh packed once for inference (pack_weights)."""

    @property
    def w_ih(self) -> _Array:
        """(G, I): the private copy to pass as w_ih"""
    @property
    def w_hh(self) -> _Array:
        """(G, H): the private copy to pass as w_hh"""
    @property
    def isa(self) -> str:
        """the instruction set whose kernels read it"""
    @property
    def precision(self) -> str | None: ...
    @property
    def nbytes(self) -> int: ...

def pack_weights(
    cell: str, w_ih: _Array, w_hh: _Array, *, reset_after: bool = True, precision: str | None = None
) -> PackedWeights:
    """PackedWeights of a cell ('lstm', 'gru', 'rnn') for the active instruction set (and precision)."""

def lstm_forward(
    x: _Array,
    w_ih: _Array,
    w_hh: _Array,
    b_ih: _Array | None,
    b_hh: _Array | None,
    h0: _Array | None,
    c0: _Array | None,
    training: bool,
    lengths: _Array | None = None,
    reverse: bool = False,
    clip: float | None = None,
    precision: str | None = None,
    peepholes: _Array | None = None,
    input_forget: bool = False,
    packed: PackedWeights | None = None,
) -> tuple[_Array, _Array, _Array, LSTMTape | None]: ...
def lstm_backward(
    tape: LSTMTape, dy: _Array, dh_n: _Array | None, dc_n: _Array | None, input_gradient: bool = True
) -> _Grads: ...
def gru_forward(
    x: _Array,
    w_ih: _Array,
    w_hh: _Array,
    b_ih: _Array | None,
    b_hh: _Array | None,
    h0: _Array | None,
    training: bool,
    lengths: _Array | None = None,
    reverse: bool = False,
    clip: float | None = None,
    precision: str | None = None,
    reset_after: bool = True,
    packed: PackedWeights | None = None,
) -> tuple[_Array, _Array, GRUTape | None]: ...
def gru_backward(tape: GRUTape, dy: _Array, dh_n: _Array | None, input_gradient: bool = True) -> _Grads: ...
def rnn_forward(
    x: _Array,
    w_ih: _Array,
    w_hh: _Array,
    b_ih: _Array | None,
    b_hh: _Array | None,
    h0: _Array | None,
    nonlinearity: str,
    training: bool,
    lengths: _Array | None = None,
    reverse: bool = False,
    clip: float | None = None,
    precision: str | None = None,
    packed: PackedWeights | None = None,
) -> tuple[_Array, _Array, RNNTape | None]: ...
def rnn_backward(tape: RNNTape, dy: _Array, dh_n: _Array | None, input_gradient: bool = True) -> _Grads: ...
def adam_update(
    params: Sequence[_Array],
    grads: Sequence[_Array],
    exp_avgs: Sequence[_Array],
    exp_avg_sqs: Sequence[_Array],
    step_sizes: Sequence[float],
    bias2_sqrts: Sequence[float],
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
) -> None:
    """One Adam step in place for each parameter, in order (lstmfast.training.Adam's rule, each
    operation rounded in the parameter's dtype; one call for all of a model's parameters). Every
    parameter is checked before any is written."""

def matmul(a: _Array, b: _Array) -> _Array:
    """a (M, K) @ b (K, N) on lstmfast's GEMM."""

def sigmoid(x: _Array) -> _Array: ...
def tanh(x: _Array) -> _Array: ...
def isa() -> str:
    """Instruction set of the kernels in use."""

def vector_bytes() -> int: ...
def float64_isa() -> str: ...
def set_isa(name: str) -> None:
    """Use another compiled instruction set (tests, benchmarks)."""

def compiled_isas() -> list[str]: ...
def usable_isas() -> list[str]: ...
def bfloat16_products() -> bool: ...
def get_num_threads() -> int: ...
def loops_alone() -> int: ...
def set_num_threads(n: int) -> None: ...
def set_thread_cap(n: int) -> None:
    """Cap the threads of kernel calls made from the calling thread (0: no cap)."""

def use_openmp_threads(n: int) -> bool:
    """Run kernel calls made from the calling thread on the OpenMP runtime already
    loaded in the process (torch's threads), at most n of them; 0: lstmfast's own
    pool. False if no OpenMP runtime is loaded."""

def default_num_threads() -> int: ...
def compiler() -> str: ...
def release_memory() -> None:
    """Return the kernels' cached scratch memory to the system."""

def cached_memory_bytes() -> int: ...
