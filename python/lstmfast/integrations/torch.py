"""PyTorch modules that run on lstmfast's kernels: ``LSTM``, ``GRU`` and ``RNN``.

Drop-in replacements for ``torch.nn.LSTM``, ``torch.nn.GRU`` and ``torch.nn.RNN``:
the same constructor, call signature (tensors or ``PackedSequence``, ``hx``),
outputs and ``Parameter`` names (``weight_ih_l0``, ...), so state dicts move both
ways unchanged and the parameters train with any ``torch.optim`` optimizer. Each
layer and direction is one ``torch.autograd.Function`` whose forward and backward
are one call of lstmfast's C++ forward and BPTT over the whole sequence
(zero-copy on contiguous CPU tensors); stacking, directions and dropout between
layers are ordinary torch operations.

Threads: inside these modules the kernels run on torch's own intra-op threads
(when torch uses OpenMP, as its Linux wheels do), as many as
``torch.get_num_threads()``, so ``torch.set_num_threads`` governs them and
``lstmfast.set_num_threads`` does not. torch's threads keep spinning for a few
milliseconds after each of its operations; a second pool beside them would wait
for the cores they hold (benchmarks/RESULTS.md, T1).

CPU tensors of float32 or float64 only (the kernels' dtypes); ``proj_size`` is
not supported. Needs ``pip install "lstmfast[torch]"``; also reachable as
``lstmfast.torch``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, ClassVar, cast

import numpy as np
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .. import _core, cells
from ..cells import Weights
from ..layers import parameter_names, parameter_shapes

__all__ = ["GRU", "LSTM", "RNN"]


def _array(t: torch.Tensor | None) -> np.ndarray[Any, Any] | None:
    """The tensor's memory as an array (a copy only if it is not contiguous)."""
    return None if t is None else t.detach().contiguous().numpy()


def _tensor(a: np.ndarray[Any, Any] | None) -> torch.Tensor | None:
    return None if a is None else torch.from_numpy(a)


# torch's intra-op (OpenMP) threads keep spinning for milliseconds after each of
# its operations and hold the cores lstmfast's own pool would need; inside a torch
# model the kernels run on those same threads instead, as many as torch uses.
_TORCH_USES_OPENMP = "parallel backend: OpenMP" in torch.__config__.parallel_info()


@contextlib.contextmanager
def _on_torch_threads() -> Iterator[None]:
    borrowed = _TORCH_USES_OPENMP and _core.use_openmp_threads(torch.get_num_threads())
    try:
        yield
    finally:
        if borrowed:
            _core.use_openmp_threads(0)


class _Recurrence(torch.autograd.Function):
    """One layer and direction over whole sequences: lstmfast's forward, and its BPTT
    as the backward."""

    @staticmethod
    def forward(
        ctx: Any,
        cell: cells.Cell,
        options: dict[str, Any],
        lengths: np.ndarray[Any, Any] | None,
        reverse: bool,
        training: bool,
        x: torch.Tensor,
        w_ih: torch.Tensor,
        w_hh: torch.Tensor,
        b_ih: torch.Tensor | None,
        b_hh: torch.Tensor | None,
        h0: torch.Tensor,
        c0: torch.Tensor | None,
    ) -> tuple[torch.Tensor, ...]:
        state = (_array(h0), _array(c0))[: len(cell.states)]
        weights = cast(Weights, (_array(w_ih), _array(w_hh), _array(b_ih), _array(b_hh)))
        with _on_torch_threads():
            y, final, tape = cell.forward(
                _array(x),
                weights,
                state,
                training=training,
                lengths=lengths,
                reverse=reverse,
                options=options,
            )
        ctx.cell, ctx.tape, ctx.biases = cell, tape, (b_ih is not None, b_hh is not None)
        outputs = [torch.from_numpy(y), *(torch.from_numpy(s) for s in final if s is not None)]
        return tuple(outputs)

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor, *dfinal: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        input_gradient = bool(ctx.needs_input_grad[5])  # x: no dG W_ih for data that needs no gradient
        with _on_torch_threads():
            grads, dinitial = ctx.cell.backward(
                ctx.tape, _array(dy), tuple(_array(d) for d in dfinal), input_gradient=input_gradient
            )
        dc0 = _tensor(dinitial[1]) if len(dinitial) > 1 else None
        return (
            None,
            None,
            None,
            None,
            None,
            _tensor(grads["x"]),  # None unless asked for
            _tensor(grads["w_ih"]),
            _tensor(grads["w_hh"]),
            _tensor(grads["b_ih"]) if ctx.biases[0] else None,
            _tensor(grads["b_hh"]) if ctx.biases[1] else None,
            _tensor(dinitial[0]),
            dc0,
        )


class _Recurrent(torch.nn.Module):
    """torch.nn.RNNBase's interface on lstmfast's kernels; a subclass names its cell."""

    cell: ClassVar[cells.Cell]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
        *,
        nonlinearity: str | None = None,
    ) -> None:
        super().__init__()
        from .. import _checks

        if proj_size:
            raise ValueError(f"proj_size: LSTMs with projections are not supported by lstmfast, got {proj_size}")
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(f"device: lstmfast runs on the CPU, got {device}")
        self.input_size = _checks.positive_int("input_size", input_size)
        self.hidden_size = _checks.positive_int("hidden_size", hidden_size)
        self.num_layers = _checks.positive_int("num_layers", num_layers)
        self.bias = _checks.flag("bias", bias)
        self.batch_first = _checks.flag("batch_first", batch_first)
        self.dropout = _checks.real("dropout", dropout, low=0.0, high=1.0, what="a probability")
        self.bidirectional = _checks.flag("bidirectional", bidirectional)
        self.proj_size = 0
        if self.cell.nonlinearities:
            self.nonlinearity = _checks.check_nonlinearity("tanh" if nonlinearity is None else nonlinearity)
        elif nonlinearity is not None:
            raise ValueError(f"nonlinearity: only for the RNN, got {nonlinearity!r}")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype: expected torch.float32 or torch.float64 (the kernels' dtypes), got {dtype}")
        D = 2 if self.bidirectional else 1
        inputs = [self.input_size] + [self.hidden_size * D] * (self.num_layers - 1)
        for name, shape in parameter_shapes(self.cell, inputs, self.hidden_size, D, self.bias).items():
            self.register_parameter(name, torch.nn.Parameter(torch.empty(shape, dtype=dtype)))
        self._dtype: torch.dtype = dtype
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every parameter uniform on ±1/sqrt(hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            torch.nn.init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """Nothing to do (cuDNN's layout); kept so code written for torch.nn runs unchanged."""

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        for name, default in (
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
        ):
            if getattr(self, name) != default:
                parts.append(f"{name}={getattr(self, name)}")
        return ", ".join(parts)

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        packed = isinstance(input, PackedSequence)
        lengths_t = None
        if packed:
            x, lengths_t = pad_packed_sequence(input, batch_first=False)  # (T, B, I), the batch in original order
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(
                f"input: expected (T, B, {self.input_size}) (or batch-first, or a PackedSequence), "
                f"got shape {tuple(input.shape) if not packed else tuple(x.shape)}"
            )
        if x.device.type != "cpu":
            raise ValueError("input: lstmfast runs on the CPU; move the tensor with .cpu()")
        dtype = self._dtype
        x = x.to(dtype)
        T, B = x.shape[:2]
        D, H = (2 if self.bidirectional else 1), self.hidden_size
        lengths = None if lengths_t is None else lengths_t.numpy().astype(np.int64)
        parts = len(self.cell.states)
        if hx is None:
            zeros = x.new_zeros((self.num_layers * D, B, H))
            initial = [zeros] * parts
        else:
            initial = list(hx) if parts > 1 else [hx]
            for name, h in zip(("h0", "c0"), initial):
                if tuple(h.shape) != (self.num_layers * D, B, H):
                    raise ValueError(f"hx: {name} expected shape {(self.num_layers * D, B, H)}, got {tuple(h.shape)}")
        options = {"nonlinearity": self.nonlinearity} if self.cell.nonlinearities else {}
        finals: list[list[torch.Tensor]] = [[] for _ in range(parts)]
        out = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                out = torch.nn.functional.dropout(out, self.dropout, training=True)
            results = []
            for d in range(D):
                k = layer * D + d
                names = parameter_names(layer, bool(d))
                weights = [
                    getattr(self, names[key]) if self.bias or key in ("w_ih", "w_hh") else None
                    for key in ("w_ih", "w_hh", "b_ih", "b_hh")
                ]
                starts = [s[k].to(dtype) for s in initial] + [None] * (2 - parts)
                # keep a tape (what BPTT needs) only if a backward pass can come
                keep = torch.is_grad_enabled() and any(
                    t is not None and t.requires_grad for t in (out, *weights, *starts)
                )
                apply = cast(Any, _Recurrence).apply  # torch types Function.apply loosely
                results.append(apply(self.cell, options, lengths, bool(d), keep, out, *weights, *starts))
            for r in results:
                for p in range(parts):
                    finals[p].append(r[1 + p])
            out = results[0][0] if D == 1 else torch.cat([r[0] for r in results], dim=2)
        state = [torch.stack(f) for f in finals]
        hidden = (state[0], state[1]) if parts > 1 else state[0]
        if lengths_t is not None:
            return pack_padded_sequence(out, lengths_t, enforce_sorted=False), hidden
        return (out.transpose(0, 1) if self.batch_first else out), hidden


class LSTM(_Recurrent):
    """``torch.nn.LSTM`` on lstmfast's kernels (see the module docstring)."""

    cell = cells.LSTM


class GRU(_Recurrent):
    """``torch.nn.GRU`` on lstmfast's kernels (see the module docstring)."""

    cell = cells.GRU


class RNN(_Recurrent):
    """``torch.nn.RNN`` on lstmfast's kernels (see the module docstring); ``nonlinearity``
    "tanh" or "relu"."""

    cell = cells.RNN
