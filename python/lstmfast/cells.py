"""What a cell kind is, in one place: one record each for the LSTM, GRU and vanilla RNN.

Layers, models, diagnostics, the converters and the benchmarks ask these
records (how many gate blocks, which state parts, which functions) instead of
comparing cell names::

    cell = cells.get("gru")
    cell.gates, cell.states                   # 3, ("h",)
    y, state, tape = cell.forward(x, weights, state, training=True)
    grads, dstate = cell.backward(tape, dy, dstate)
    cell.reference.forward                    # lstmfast.reference.gru_forward

``forward`` and ``backward`` give every cell the same call shape: the weights
as a tuple ``(w_ih, w_hh, b_ih, b_hh)`` (an LSTM with peepholes adds them as a
fifth) and the state as a tuple of its parts (h for the GRU and RNN, (h, c) for
the LSTM), each part an array or None.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import ModuleType
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["CELLS", "GRU", "LSTM", "RNN", "Cell", "Functions", "get"]

Array = np.ndarray[Any, Any]
Weights = tuple[Optional[Array], ...]  # w_ih, w_hh, b_ih, b_hh [, the LSTM's peepholes]
State = tuple[Optional[Array], ...]  # one entry per state part
Grads = dict[str, Optional[Array]]


class Functions:
    """A cell's forward and backward functions and its tape type in one implementation
    (module), looked up on each use, so that patching the module patches them."""

    def __init__(self, module: ModuleType, cell: str) -> None:
        self.module, self.cell = module, cell

    @property
    def forward(self) -> Callable[..., Any]:
        return getattr(self.module, f"{self.cell}_forward")  # type: ignore[no-any-return]

    @property
    def backward(self) -> Callable[..., Grads]:
        return getattr(self.module, f"{self.cell}_backward")  # type: ignore[no-any-return]

    @property
    def tape(self) -> type:
        return getattr(self.module, f"{self.cell.upper()}Tape")  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<{self.module.__name__}.{self.cell}_forward/_backward>"


@dataclass(frozen=True)
class Cell:
    """One recurrent cell kind.

    Attributes
    ----------
    name : str
        "lstm", "gru" or "rnn": the prefix of its functions (``lstm_forward``, ...).
    title : str
        How to print it.
    gate_names : tuple of str
        PyTorch's names of the gate blocks, in the order of the weight rows.
    states : tuple of str
        The parts of the state carried from step to step ("h", and "c" for the LSTM).
    nonlinearities : tuple of str
        The choices of the ``nonlinearity`` option; empty if the cell has none.
    peephole_gates : tuple of str
        The gates that can read the cell state through peephole weights (ONNX's P),
        in the order of their blocks in ``peepholes``; empty if the cell has none.
    flags : tuple of (str, bool)
        The cell's own boolean options and their defaults: the LSTM's
        ``input_forget`` (coupled input and forget gates), the GRU's ``reset_after``
        (where the reset gate acts). Every cell also takes ONNX's ``clip`` and
        ``precision`` (None or "bfloat16", inference).
    """

    name: str
    title: str
    gate_names: tuple[str, ...]
    states: tuple[str, ...]
    nonlinearities: tuple[str, ...] = field(default=())
    peephole_gates: tuple[str, ...] = field(default=())
    flags: tuple[tuple[str, bool], ...] = field(default=())

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options of ``{name}_forward`` after ``reverse``, in order."""
        own = ("peepholes",) if self.peephole_gates else ()
        return own + tuple(name for name, _ in self.flags) + ("clip", "precision")

    @cached_property
    def kernel_keywords(self) -> tuple[tuple[str, Any], ...]:
        """The compiled ``{name}_forward``'s arguments after ``reverse``, in its order,
        with their defaults (``packed`` last, not listed): ``clip``, ``precision``, then
        the cell's own (``peepholes``, the flags)."""
        own = (("peepholes", None),) if self.peephole_gates else ()
        return (("clip", None), ("precision", None), *own, *self.flags)

    @cached_property
    def kernel_defaults(self) -> tuple[Any, ...]:
        """The defaults of :attr:`kernel_keywords`, in order."""
        return tuple(default for _, default in self.kernel_keywords)

    @property
    def gates(self) -> int:
        """Gate blocks stacked in the weight rows: G = gates * H rows."""
        return len(self.gate_names)

    @property
    def layout(self) -> str:
        """The symbolic row count of the weights, e.g. ``"4*H"``."""
        return "H" if self.gates == 1 else f"{self.gates}*H"

    @cached_property
    def fast(self) -> Functions:
        """The C++ path (:mod:`lstmfast.functional`)."""
        return self._functions("lstmfast.functional")

    @cached_property
    def reference(self) -> Functions:
        """The NumPy reference (:mod:`lstmfast.reference`)."""
        return self._functions("lstmfast.reference")

    def _functions(self, module_name: str) -> Functions:
        # Imported on use: functional and reference import this module for the records.
        return Functions(importlib.import_module(module_name), self.name)

    def forward(
        self,
        x: Any,
        weights: Weights,
        state: State | None = None,
        *,
        training: bool = False,
        lengths: Any = None,
        reverse: bool = False,
        options: Mapping[str, Any] | None = None,
        implementation: Functions | None = None,
        packed: Any = None,
    ) -> tuple[Array, State, Any]:
        """``y, final_state, tape`` of ``{name}_forward`` (the fast path unless
        ``implementation`` says otherwise); ``options`` its keyword options (the RNN's
        nonlinearity, :attr:`options`); ``packed`` the fast path's packed weights
        (``weights`` then holds their own w_ih and w_hh)."""
        functions = implementation or self.fast
        initial = state if state is not None else (None,) * len(self.states)
        options = dict(options or {})
        if len(weights) > 4:
            options["peepholes"] = weights[4]
        if packed is not None:
            options["packed"] = packed
        out = functions.forward(
            x, *weights[:4], *initial, training=training, lengths=lengths, reverse=reverse, **options
        )
        return out[0], tuple(out[1:-1]), out[-1]

    def backward(
        self,
        tape: Any,
        dy: Any,
        dstate: State | None = None,
        *,
        implementation: Functions | None = None,
        input_gradient: bool = True,
    ) -> tuple[Grads, State]:
        """``grads, dinitial`` of ``{name}_backward``: the gradients of x (None
        unless ``input_gradient``) and the weights (keys "x", "w_ih", "w_hh",
        "b_ih", "b_hh") and of the initial state."""
        functions = implementation or self.fast
        final = dstate if dstate is not None else (None,) * len(self.states)
        grads = functions.backward(tape, dy, *final, input_gradient=input_gradient)
        return grads, tuple(grads[part + "0"] for part in self.states)

    def __repr__(self) -> str:
        return f"<cell {self.name}: gates {', '.join(self.gate_names)}; state {', '.join(self.states)}>"


LSTM = Cell(
    "lstm",
    "LSTM",
    gate_names=("i", "f", "g", "o"),
    states=("h", "c"),
    peephole_gates=("i", "f", "o"),
    flags=(("input_forget", False),),
)
GRU = Cell("gru", "GRU", gate_names=("r", "z", "n"), states=("h",), flags=(("reset_after", True),))
RNN = Cell("rnn", "RNN", gate_names=("h",), states=("h",), nonlinearities=("tanh", "relu"))

#: Every cell kind by name.
CELLS: dict[str, Cell] = {cell.name: cell for cell in (LSTM, GRU, RNN)}


def get(name: Any, *, argument: str = "cell", none_allowed: bool = False) -> Cell:
    """The record of the cell called ``name``; ``ValueError`` naming ``argument`` otherwise
    (whose message lists None too if the caller accepts it)."""
    if isinstance(name, Cell):
        return name
    if not isinstance(name, str) or name not in CELLS:
        choices = f"{tuple(CELLS)}" + (" or None" if none_allowed else "")
        raise ValueError(f"{argument}: expected one of {choices}, got {name!r}")
    return CELLS[name]
