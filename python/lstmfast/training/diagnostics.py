r"""Vanishing gradients, measured: how much the last step's loss reaches each earlier step.

Backpropagation through time sends the gradient of a loss at the last step T-1
back through every earlier hidden state. :func:`gradient_flow` measures its size,

    g<t> = ‖∂L<T>/∂a<t>‖      for t = 0 ... T-1,

and, for an LSTM, the gradient reaching its cell state, ‖∂L<T>/∂c<t>‖ (the
memory an LSTM carries is c<t>; a<t> = Γo * tanh(c<t>) is only what it shows),
with the real BPTT of the C++ kernels. In a vanilla RNN every step back multiplies
the gradient by ``diag(tanh')·W_aa``; when those factors are below 1 (small weights,
saturated units) g<t> shrinks geometrically with the distance T-1-t: the first
steps of a long sequence then get almost no learning signal. The LSTM's cell
carries the gradient back through ``c<t-1> = ... Γf * c<t>`` paths, multiplied only
by the forget gate Γf, so with Γf close to 1 the gradient survives many steps.

How it is computed
------------------
The fast backward returns gradients of the parameters, the inputs and the
*initial* state only. So the sequence is run in T chunks of length 1, each
starting from the state the previous one ended in, and the backward runs chunk by
chunk from the end, each handing its initial-state gradients (dh, dc) to the
chunk before as the gradients of that chunk's final state. The gradient reaching
a<t> is then ``dy<t> + dh`` (its own output's share plus the part from later steps)
- exactly what the full-sequence BPTT computes internally (the tests check that the
chained gradients equal the full-sequence ones). The gradient reaching c<t> has two
paths: through a<t> = Γo * tanh(c<t>), i.e. ∂L/∂a<t> * Γo * (1 - tanh²(c<t>)) with Γo
and c<t> read off chunk t's tape, and through c<t+1> = Γu * c~<t+1> + Γf * c<t>, which is
the initial-state gradient ``dc`` of chunk t+1 (none at the last step).

Typical use::

    flow = gradient_flow(model, X, y)          # a SequenceModel and targets
    print(flow.table())
    plt.semilogy(flow.distances, flow.norms)   # log scale: a straight line = geometric decay
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _checks
from ..layers import Layer, Level, StackTape, _Recurrent, stack_backward, stack_forward
from . import data, losses, tasks
from .model import SequenceModel

__all__ = ["GradientFlow", "gradient_flow"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class GradientFlow:
    """Result of :func:`gradient_flow`: gradient norms per time step.

    Attributes
    ----------
    norms : numpy.ndarray, (T,)
        ``norms[t]`` is the mean over the N examples of ‖∂L<T>/∂a<t>‖ (the L2 norm
        over the H hidden units of the top layer, the one the head reads).
    per_example : numpy.ndarray, (T, N)
        The same norms for every example (each example's own loss; examples do not
        interact, so the batch sum's gradient splits exactly by example).
    layer_norms : numpy.ndarray, (L, T)
        ``norms`` for every layer, input side first (``layer_norms[-1]`` is ``norms``).
    cell : str
        "lstm", "gru" or "rnn".
    c_norms : numpy.ndarray (T,) or None
        LSTM: ``c_norms[t]`` is the mean over the examples of ‖∂L<T>/∂c<t>‖ (top
        layer). None for a cell without a cell state.
    c_per_example : numpy.ndarray (T, N) or None
        The same for every example.
    """

    norms: np.ndarray
    per_example: np.ndarray
    layer_norms: np.ndarray
    cell: str
    c_norms: np.ndarray | None = None
    c_per_example: np.ndarray | None = None

    @property
    def steps(self) -> np.ndarray:
        """t = 0 ... T-1."""
        return np.arange(len(self.norms))

    @property
    def distances(self) -> np.ndarray:
        """T-1-t: how many steps before the loss each a<t> is (0 = the last step)."""
        return len(self.norms) - 1 - self.steps

    @property
    def relative(self) -> np.ndarray:
        """``norms / norms[-1]``: 1 at the last step (inf/nan if the last norm is 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios: np.ndarray = self.norms / self.norms[-1]
        return ratios

    @property
    def relative_c(self) -> np.ndarray | None:
        """``c_norms / c_norms[-1]`` (None without a cell state)."""
        if self.c_norms is None:
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios: np.ndarray = self.c_norms / self.c_norms[-1]
        return ratios

    def table(self, distances: Any | None = None) -> str:
        """A plain-text table of distance, step, norm and relative norm.

        Parameters
        ----------
        distances : iterable of int, optional
            Which distances T-1-t to list; default 0, 1, 2, 5, 10, 20, 50, 100, ...
            up to T-1, and T-1 itself.
        """
        T = len(self.norms)
        if distances is None:
            picks, base = {0, T - 1}, 1
            while base < T:
                picks.update(d for d in (base, 2 * base, 5 * base) if d < T)
                base *= 10
            distances = sorted(picks)
        rel = self.relative
        lines = [
            f"{self.cell.upper()}: gradient of the last step's loss reaching each hidden state",
            f"{'distance':>8}  {'step t':>6}  {'|dL<T>/da<t>|':>14}  {'relative':>10}",
        ]
        for d in distances:
            if not 0 <= d < T:
                raise ValueError(f"distances: each must be in [0, T-1] = [0, {T - 1}], got {d}")
            t = T - 1 - d
            lines.append(f"{d:>8}  {t:>6}  {self.norms[t]:>14.4e}  {rel[t]:>10.3e}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def gradient_flow(
    model_or_layer: SequenceModel | Layer, x: Any, targets: Any = None, *, dy_last: Any = None, dtype: Any = np.float64
) -> GradientFlow:
    r"""‖∂L<T>/∂a<t>‖ for every step t, from the C++ BPTT (see the module docstring).

    Parameters
    ----------
    model_or_layer : SequenceModel, LSTM, GRU or RNN
        Its current weights are used (not modified).
    x : array_like, (T, N, I)
        Inputs, time-major, all sequences of full length (no padding).
    targets : array_like, optional
        For a :class:`SequenceModel` (required): targets as :meth:`SequenceModel.fit`
        takes them; only the last step's are used. Then L<T> is the model's head and
        loss at the last step, per example (BCE or squared error, summed over the O
        outputs).
    dy_last : array_like (N, H), optional
        For a bare layer: ∂L<T>/∂a<T-1>, the gradient at the last output. Default:
        every entry 1/sqrt(H), i.e. ``L<T> = Σ_j a<T-1>_j / sqrt(H)`` per example, so
        the norm at the last step is exactly 1 and the others read as ratios.
    dtype : float64 (default) or float32
        Precision of the computation (the kernels have both). float64 keeps the tiny
        norms of long vanilla-RNN sequences from underflowing to 0 in float32.

    Returns
    -------
    GradientFlow
        ``norms`` (T,), ``per_example`` (T, N), ``layer_norms`` (L, T).
    """
    dtype = _checks.float_dtype(dtype)
    if isinstance(model_or_layer, SequenceModel):
        model = model_or_layer
        layers, cell = list(model.layers), model.cell
        if dy_last is not None:
            raise TypeError(
                "dy_last: only for a bare LSTM/GRU/RNN layer; a SequenceModel's gradient "
                "comes from its head and loss (pass targets)"
            )
        if targets is None:
            raise TypeError("targets: required for a SequenceModel (L<T> is its loss at the last step)")
        x = model.check_inputs(x, "x").astype(dtype, copy=False)
        T, N = x.shape[:2]
        y = model.check_targets(targets, T, N, "targets").astype(dtype, copy=False)
        p = model.parameters()
        head = (
            p["head.weight"].astype(dtype),
            p["head.bias"].astype(dtype),
            y[-1] if model.output == "per_step" else y,
            model._task(),
        )
    elif isinstance(model_or_layer, _Recurrent):
        layer = model_or_layer
        if layer.num_layers != 1 or layer.bidirectional or layer.go_backwards:
            raise ValueError(
                "model_or_layer: gradient_flow follows one forward layer; got "
                f"{layer!r} (use a single-layer, unidirectional layer)"
            )
        layers, cell = [layer], layer.cell.name
        if targets is not None:
            raise TypeError("targets: only for a SequenceModel; for a bare layer pass dy_last (or nothing)")
        x = data.inputs("x", x, layer.input_size, dtype)
        T, N = x.shape[:2]
        H = layer.hidden_size
        if dy_last is None:
            dy_last = np.full((N, H), 1.0 / np.sqrt(H), dtype=dtype)
        else:
            dy_last = _checks.finite("dy_last", _checks.array("dy_last", dy_last))
            if dy_last.shape != (N, H):
                raise ValueError(f"dy_last: expected shape (N, H) = {(N, H)}, got {dy_last.shape}")
            dy_last = np.ascontiguousarray(dy_last, dtype=dtype)
        head = None
    else:
        raise TypeError(
            f"model_or_layer: expected a SequenceModel, LSTM, GRU or RNN, got {type(model_or_layer).__name__}"
        )

    run = _chained_bptt(layers, x, head, dy_last, dtype)
    per_layer = [np.linalg.norm(r.astype(np.float64), axis=-1) for r in run["dh"]]  # each (T, N)
    c_per_example = None if run["dc"] is None else np.linalg.norm(run["dc"][-1].astype(np.float64), axis=-1)
    return GradientFlow(
        norms=per_layer[-1].mean(axis=1),
        per_example=per_layer[-1],
        layer_norms=np.stack([n.mean(axis=1) for n in per_layer]),
        cell=cell,
        c_norms=None if c_per_example is None else c_per_example.mean(axis=1),
        c_per_example=c_per_example,
    )


def _in_dtype(level: Level, dtype: np.dtype[Any]) -> Level:
    """``level`` with its weights converted to ``dtype``."""
    weights = tuple(tuple(None if w is None else w.astype(dtype) for w in ws) for ws in level.weights)
    return Level(level.cell, weights, level.reverse, level.options)


def _chained_bptt(
    layers: list[Layer], x: Array, head: tuple[Any, ...] | None, dy_last: Array | None, dtype: np.dtype[Any]
) -> dict[str, Any]:
    """Forward in length-1 chunks carrying the state, then backward chunk by chunk from the end.

    The loss is L<T> only: ``head = (w_y, b_y, targets_last, task)`` applied to the top
    layer's a<T-1> with the loss summed over examples and outputs, or, if ``head`` is
    None, ``dy_last`` is ∂L/∂a<T-1> itself.

    Returns a dict: ``"dh"``, a list per layer of (T, N, H) arrays, the gradient
    reaching every a<t>; ``"dc"``, the same for every c<t> (None without a cell
    state); ``"x"`` (T, N, I); ``"h0"`` and ``"c0"`` (None without a cell
    state), lists per layer of the initial-state gradients; ``"params"``, a list per
    layer of the parameter gradients summed over chunks, keyed like ``lstm_backward``'s;
    and ``"loss"`` (None without a head).
    """
    T, N, _ = x.shape
    levels = [_in_dtype(level, dtype) for layer in layers for level in layer.levels()]

    # forward: step t of every layer is one chunk; the state carried to the next chunk
    state = None
    tapes: list[StackTape] = []
    for t in range(T):
        _, state, tape = stack_forward(levels, x[t : t + 1], state, training=True)
        assert tape is not None  # training=True keeps one
        tapes.append(tape)
    assert state is not None
    top = state[-1][0][0]  # the top layer's a<T-1>

    # ∂L<T>/∂a<T-1> of the top layer
    loss = None
    if head is not None:
        w_y, b_y, y_last, task = head
        logits = losses.dense_forward(top, w_y, b_y)
        loss, dlogits, _ = (tasks.task(task) if isinstance(task, str) else task).loss(logits, y_last, None)
        dy_last, _, _ = losses.dense_backward(top, w_y, dlogits)
    assert dy_last is not None

    # backward, chunk by chunk from the end, carrying the state's gradient
    reach = [np.empty((T, N, level.hidden_size), dtype=dtype) for level in levels]
    has_c = "c" in levels[0].cell.states
    reach_c = [np.empty((T, N, level.hidden_size), dtype=dtype) for level in levels] if has_c else None
    dx = np.empty(x.shape, dtype=dtype)
    params: list[dict[str, Any]] = [{} for _ in levels]
    dstate = None
    for t in reversed(range(T)):
        top_dy = dy_last if t == T - 1 else np.zeros_like(dy_last)
        g = stack_backward(levels, tapes[t], top_dy[None], dstate)
        for k in range(len(levels)):
            # ∂L<T>/∂a<t>: through this step's output, plus through the state into later steps
            reach[k][t] = g.outputs[k][0] + (0 if dstate is None else dstate[k][0][0])
            if reach_c is not None:
                # c<t> reaches the loss through a<t> = Γo * tanh(c<t>) and through
                # c<t+1> = ... + Γf * c<t> (chunk t+1's initial-state gradient; none at T-1)
                cell_tape = tapes[t].tapes[k][0]
                H, o = levels[k].hidden_size, levels[k].cell.gate_names.index("o")
                gate_o = cell_tape.gates[0][:, o * H : (o + 1) * H]
                reach_c[k][t] = reach[k][t] * gate_o * (1 - np.tanh(cell_tape.c[1]) ** 2)
                if dstate is not None:
                    reach_c[k][t] += dstate[k][0][1]
            for name, value in g.weights[k][0].items():
                if value is not None:
                    params[k][name] = params[k].get(name, 0) + value
        assert g.x is not None  # asked for (stack_backward's default)
        dx[t] = g.x[0]
        dstate = g.initial
    assert dstate is not None
    return {
        "dh": reach,
        "dc": reach_c,
        "x": dx,
        "h0": [d[0][0] for d in dstate],
        "c0": [d[0][1] for d in dstate] if has_c else None,
        "params": params,
        "loss": loss,
    }
