r"""The LSTM cell as a graph of operations, in the course's notation: run it, print it, draw it.

One description serves three purposes, so that none of them can drift from the
others or from the package:

* :meth:`CellGraph.evaluate` computes one step of the cell by walking the graph
  (the tests compare it with :func:`lstmfast.lstm_forward`, so the graph *is* the
  package's LSTM, gate by gate);
* :meth:`CellGraph.equations` prints the equations from the same nodes;
* :func:`lstmfast.app.plotting.plot_cell` draws the picture from the same nodes
  (``lstmfast cell --plot lstm_cell.png``).

Each gate names the PyTorch gate it is (i, f, g, o), and the rows of the weights
it uses come from the cell record :data:`lstmfast.cells.LSTM`, whose gate order
the kernels use::

    Γf    = σ(W_f [a<t-1>, x<t>] + b_f)          forget gate        (PyTorch f)
    Γu    = σ(W_u [a<t-1>, x<t>] + b_u)          update gate        (PyTorch i)
    c~<t> = tanh(W_c [a<t-1>, x<t>] + b_c)       candidate          (PyTorch g)
    Γo    = σ(W_o [a<t-1>, x<t>] + b_o)          output gate        (PyTorch o)
    c<t>  = Γf * c<t-1> + Γu * c~<t>             cell state         (PyTorch c)
    a<t>  = Γo * tanh(c<t>)                      hidden state       (PyTorch h)

``W_f = [W_hh[f rows] | W_ih[f rows]]`` acts on the concatenation [a<t-1>, x<t>],
and ``b_f = b_ih[f rows] + b_hh[f rows]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _checks, cells
from ..reference import sigmoid

__all__ = ["LSTM_GRAPH", "CellGraph", "Node"]

Array = np.ndarray[Any, Any]

#: What each kind of node computes from its inputs' values.
OPS = ("input", "concat", "gate", "mul", "add", "tanh", "output")


@dataclass(frozen=True)
class Node:
    """One operation of the cell.

    Attributes
    ----------
    name : str
        In the course's notation ("Γf", "c<t>"); an intermediate value is named by
        its expression ("Γf * c<t-1>").
    op : str
        One of :data:`OPS`. A "gate" applies ``activation`` to
        ``W [a<t-1>, x<t>] + b`` with the rows of PyTorch gate ``pytorch``.
    inputs : tuple of str
        The names of the nodes it reads, in order.
    activation : str
        Gates: "σ" or "tanh".
    pytorch : str
        Gates: PyTorch's gate name (i, f, g, o); states: h or c.
    meaning : str
        A few words for the equations and the picture.
    xy : tuple of float
        Where the picture puts it.
    route : str
        How the picture draws the edges into it: "hv" (across, then up or down)
        or "vh" (up or down, then across).
    """

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    activation: str = ""
    pytorch: str = ""
    meaning: str = ""
    xy: tuple[float, float] = (0.0, 0.0)
    route: str = "hv"

    @property
    def symbol(self) -> str:
        """What the picture writes in the node."""
        return {"mul": "×", "add": "+", "tanh": "tanh", "concat": ""}.get(self.op, self.name)

    @property
    def subscript(self) -> str:
        """The gate's letter in W_f, b_f (the course writes W_c for the candidate)."""
        return {"Γf": "f", "Γu": "u", "c~<t>": "c", "Γo": "o"}.get(self.name, self.pytorch)


@dataclass(frozen=True)
class CellGraph:
    """A recurrent cell as named operations (see the module docstring)."""

    title: str
    cell: cells.Cell
    nodes: tuple[Node, ...]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"name: no node {name!r} in the {self.title} graph")

    @property
    def gates(self) -> list[Node]:
        return [n for n in self.nodes if n.op == "gate"]

    def rows(self, gate: Node, H: int) -> slice:
        """The rows of the stacked weights that ``gate`` uses, from the cell record's gate order."""
        k = self.cell.gate_names.index(gate.pytorch)
        return slice(k * H, (k + 1) * H)

    def evaluate(
        self, x: Any, a_prev: Any, c_prev: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any
    ) -> dict[str, Array]:
        """One step of the cell, node by node, in float64.

        Parameters
        ----------
        x : array_like (B, I)
        a_prev, c_prev : array_like (B, H)
        w_ih (4H, I), w_hh (4H, H), b_ih (4H,), b_hh (4H,) : array_like
            PyTorch's layout, gate order i, f, g, o.

        Returns
        -------
        dict of str to numpy.ndarray
            Every node's value by name, e.g. ``values["a<t>"]``, ``values["Γf"]``.
        """
        arrays = {
            name: _checks.array(name, value, kinds="iuf").astype(np.float64)
            for name, value in (
                ("x", x),
                ("a_prev", a_prev),
                ("c_prev", c_prev),
                ("w_ih", w_ih),
                ("w_hh", w_hh),
                ("b_ih", b_ih),
                ("b_hh", b_hh),
            )
        }
        H = arrays["w_hh"].shape[1]
        B, I = arrays["x"].shape
        for name, expected in (
            ("a_prev", (B, H)),
            ("c_prev", (B, H)),
            ("w_ih", (self.cell.gates * H, I)),
            ("w_hh", (self.cell.gates * H, H)),
            ("b_ih", (self.cell.gates * H,)),
            ("b_hh", (self.cell.gates * H,)),
        ):
            if arrays[name].shape != expected:
                raise ValueError(f"{name}: expected shape {expected}, got {arrays[name].shape}")
        feeds = {"a<t-1>": arrays["a_prev"], "x<t>": arrays["x"], "c<t-1>": arrays["c_prev"]}
        values: dict[str, Array] = {}
        for n in self.nodes:
            ins = [values[i] for i in n.inputs]
            if n.op == "input":
                values[n.name] = feeds[n.name]
            elif n.op == "concat":
                values[n.name] = np.concatenate(ins, axis=1)
            elif n.op == "gate":
                rows = self.rows(n, H)
                w = np.concatenate([arrays["w_hh"][rows], arrays["w_ih"][rows]], axis=1)  # acts on [a<t-1>, x<t>]
                z = ins[0] @ w.T + arrays["b_ih"][rows] + arrays["b_hh"][rows]
                values[n.name] = sigmoid(z) if n.activation == "σ" else np.tanh(z)
            elif n.op == "mul":
                values[n.name] = ins[0] * ins[1]
            elif n.op == "add":
                values[n.name] = ins[0] + ins[1]
            elif n.op == "tanh":
                values[n.name] = np.tanh(ins[0])
            else:  # an output repeats the value it is given a name for
                values[n.name] = ins[0]
        return values

    def expression(self, name: str) -> str:
        """The right-hand side of ``name``'s equation in the course's notation."""
        n = self.node(name)
        if n.op == "gate":
            return f"{n.activation}(W_{n.subscript} [a<t-1>, x<t>] + b_{n.subscript})"
        if n.op == "mul":
            return f"{n.inputs[0]} * {n.inputs[1]}"
        if n.op == "add":
            return " + ".join(self.expression(i) if self.node(i).op == "mul" else i for i in n.inputs)
        if n.op == "tanh":
            return f"tanh({n.inputs[0]})"
        if n.op == "output":
            source = self.node(n.inputs[0])
            return self.expression(source.name) if source.op in ("mul", "add", "tanh") else source.name
        return n.name

    def equations(self) -> str:
        """The equations, one per gate and state, with PyTorch's name and the rows used."""
        lines = [f"{self.title}, one time step, in the course's notation (PyTorch's names on the right):"]
        shown = [n for n in self.nodes if n.op in ("gate", "output")]
        width = max(len(f"{n.name} = {self.expression(n.name)}") for n in shown) + 4
        for n in shown:
            left = f"{n.name} = {self.expression(n.name)}"
            if n.op == "gate":
                k = self.cell.gate_names.index(n.pytorch)
                right = f"{n.meaning} (PyTorch {n.pytorch}: rows {_rows_text(k)} of the weights)"
            else:
                right = f"{n.meaning} (PyTorch {n.pytorch})"
            lines.append(f"  {left:<{width}}{right}")
        lines.append(
            "  W_* = [weight_hh | weight_ih] rows act on the concatenation [a<t-1>, x<t>]; b_* = bias_ih + bias_hh rows"
        )
        return "\n".join(lines)

    def edges(self) -> list[tuple[Node, Node]]:
        """(source, target) pairs, for the picture."""
        by_name = {n.name: n for n in self.nodes}
        return [(by_name[i], n) for n in self.nodes for i in n.inputs]

    def describe(self) -> Mapping[str, str]:
        """Course name -> PyTorch name of every gate and state."""
        return {n.name: n.pytorch for n in self.nodes if n.pytorch}


def _rows_text(k: int) -> str:
    lo = "0" if k == 0 else ("H" if k == 1 else f"{k}H")
    hi = "H" if k == 0 else f"{k + 1}H"
    return f"{lo}:{hi}"


LSTM_GRAPH = CellGraph(
    "LSTM cell",
    cells.LSTM,
    (
        Node("c<t-1>", "input", meaning="previous cell state", xy=(0.0, 4.0)),
        Node("a<t-1>", "input", meaning="previous hidden state", xy=(0.0, 0.6)),
        Node("x<t>", "input", meaning="input", xy=(1.4, -0.9)),
        Node("[a<t-1>, x<t>]", "concat", ("a<t-1>", "x<t>"), xy=(1.4, 0.6)),
        Node("Γf", "gate", ("[a<t-1>, x<t>]",), "σ", "f", "forget gate", xy=(2.6, 2.1)),
        Node("Γu", "gate", ("[a<t-1>, x<t>]",), "σ", "i", "update gate", xy=(4.0, 2.1)),
        Node("c~<t>", "gate", ("[a<t-1>, x<t>]",), "tanh", "g", "candidate value", xy=(5.4, 2.1)),
        Node("Γo", "gate", ("[a<t-1>, x<t>]",), "σ", "o", "output gate", xy=(6.8, 2.1)),
        Node("Γf * c<t-1>", "mul", ("Γf", "c<t-1>"), xy=(2.6, 4.0)),
        Node("Γu * c~<t>", "mul", ("Γu", "c~<t>"), xy=(4.7, 3.1), route="vh"),
        Node("c<t> sum", "add", ("Γf * c<t-1>", "Γu * c~<t>"), xy=(4.7, 4.0)),
        Node("tanh(c<t>)", "tanh", ("c<t> sum",), xy=(8.1, 3.1)),
        Node("Γo * tanh(c<t>)", "mul", ("Γo", "tanh(c<t>)"), xy=(8.1, 2.1)),
        Node("c<t>", "output", ("c<t> sum",), pytorch="c", meaning="new cell state", xy=(9.8, 4.0)),
        Node(
            "a<t>", "output", ("Γo * tanh(c<t>)",), pytorch="h", meaning="new hidden state", xy=(9.8, 0.6), route="vh"
        ),
    ),
)
