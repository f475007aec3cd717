r"""Optimizers and gradient clipping for dicts of named NumPy parameters.

Every model in lstmfast exposes its parameters as a dict of live arrays and its
gradients as a dict with the same names (``model.parameters()``,
``layer.backward(...)``). The optimizers here take both dicts at every step and
update the parameter arrays *in place*::

    opt = Adam(lr=1e-2)
    for x, y in batches:
        loss, grads = model.loss_and_gradients(x, y)
        clip_grad_norm(grads, max_norm=1.0)          # optional: tame exploding gradients
        opt.step(model.parameters(), grads)

An optimizer remembers its per-parameter state (momentum, Adam's moments) by
parameter *name*, so one optimizer must be used with one model. Parameters
without a gradient in a step (absent from ``grads``, or None) are left alone,
as PyTorch does for parameters whose ``.grad`` is None.

The update rules are PyTorch's (``torch.optim.SGD``, ``torch.optim.Adam`` without
weight decay), written out in each class's docstring; they compute in the
parameter's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np

from .. import _checks, _core

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "clip_grad_norm"]


def _fraction(name: str, value: Any) -> float:
    """A number in [0, 1)."""
    return _checks.real(name, value, low=0.0, high=1.0, high_open=True)


def _pairs(params: Any, grads: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, parameter, gradient) for every parameter that has a gradient; checked."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict of names to arrays, got {type(params).__name__}")
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads: expected a dict of names to arrays, got {type(grads).__name__}")
    if not grads.keys() <= params.keys():
        unknown = sorted(str(k) for k in grads if k not in params)
        raise KeyError(f"grads: no parameter named {unknown} (parameters: {sorted(map(str, params))})")
    out = []
    for name, p in params.items():
        g = grads.get(name)
        if g is None:
            continue
        # The common case at once: a writeable float array and a gradient of its dtype and shape.
        if (
            type(p) is np.ndarray
            and type(g) is np.ndarray
            and p.dtype.kind == "f"
            and g.dtype == p.dtype
            and g.shape == p.shape
            and p.flags.writeable
        ):
            out.append((name, p, g))
            continue
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            raise TypeError(
                f"params[{name!r}]: expected a float NumPy array, got {type(p).__name__}"
                + (f" of dtype {p.dtype}" if isinstance(p, np.ndarray) else "")
            )
        if not p.flags.writeable:
            raise ValueError(f"params[{name!r}]: the array is read-only; it must be updated in place")
        g = np.asarray(g)
        if g.shape != p.shape:
            raise ValueError(f"grads[{name!r}]: expected the parameter's shape {p.shape}, got {g.shape}")
        if g.dtype.kind not in "fiu":
            raise TypeError(f"grads[{name!r}]: expected real numbers, got dtype {g.dtype}")
        out.append((name, p, g))
    return out


class Optimizer:
    """Base class: ``step(params, grads)`` updates ``params`` in place.

    Subclasses implement :meth:`_update` for one parameter, or :meth:`_apply` for
    all of a step's parameters at once. ``lr`` may be changed between steps (e.g.
    for a schedule).
    """

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = _checks.positive_real("lr", lr)
        self.weight_decay = _checks.positive_real("weight_decay", weight_decay, allow_zero=True)
        self.state: dict[str, dict[str, Any]] = {}

    def step(self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, Any]) -> None:
        """Apply one update to every parameter that has a gradient.

        Parameters
        ----------
        params : dict of str to numpy.ndarray
            The live parameter arrays (e.g. ``model.parameters()``); modified in place.
        grads : dict of str to array_like
            Gradients by the same names; a missing name or None means "no gradient
            this step". Unknown names are an error (``KeyError``), as is a shape that
            differs from the parameter's (``ValueError``).
        """
        self.lr = _checks.positive_real("lr", self.lr)
        updates = []
        for name, p, g in _pairs(params, grads):
            state = self.state.get(name)
            if state is None:
                state = self.state[name] = {}
            for value in state.values():
                if isinstance(value, np.ndarray) and value.shape != p.shape:
                    raise ValueError(
                        f"params[{name!r}]: shape {p.shape} differs from the shape "
                        f"{value.shape} this optimizer saw before (one optimizer per model)"
                    )
            updates.append((p, g if g.dtype == p.dtype else g.astype(p.dtype), state))
        self._apply(updates)

    def _apply(self, updates: list[tuple[np.ndarray, np.ndarray, dict[str, Any]]]) -> None:
        """Update each (parameter, gradient in its dtype, state); by default one at a time."""
        for p, g, state in updates:
            self._update(p, g, state)

    def _decay(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """g + weight_decay·p: the L2 penalty's gradient added (PyTorch's SGD and Adam)."""
        return g + p.dtype.type(self.weight_decay) * p if self.weight_decay else g

    def reset(self) -> None:
        """Forget all state (momentum buffers, moments, step counts)."""
        self.state.clear()

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor's arguments: ``type(opt)(**opt.hyperparameters())`` is a fresh copy."""
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def state_dict(self) -> dict[str, Any]:
        """Everything a later run needs to continue exactly: the kind of optimizer,
        its hyperparameters (including the current ``lr``) and a copy of its state."""
        state = {
            name: {key: value.copy() if isinstance(value, np.ndarray) else value for key, value in s.items()}
            for name, s in self.state.items()
        }
        return {"optimizer": type(self).__name__, "hyperparameters": self.hyperparameters(), "state": state}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Continue from :meth:`state_dict` of an optimizer of the same kind."""
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"optimizer", "hyperparameters", "state"}:
            raise TypeError("state_dict: expected the dict of Optimizer.state_dict()")
        if state_dict["optimizer"] != type(self).__name__:
            raise ValueError(f"state_dict: holds the state of {state_dict['optimizer']}, not of {type(self).__name__}")
        fresh = type(self)(**state_dict["hyperparameters"])  # checks them
        self.__dict__.update({k: v for k, v in vars(fresh).items() if k != "state"})
        self.state = {
            name: {key: np.array(value) if isinstance(value, np.ndarray) else value for key, value in s.items()}
            for name, s in state_dict["state"].items()
        }

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    For each parameter p with gradient g (PyTorch's rule, no dampening)::

        momentum = 0:   p ← p − lr·g
        otherwise:      v ← momentum·v + g        (v = g at the first step)
                        p ← p − lr·v              (nesterov: p ← p − lr·(g + momentum·v))

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    momentum : float
        In [0, 1).
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0``).
    weight_decay : float
        L2 penalty: ``weight_decay·p`` is added to g first (PyTorch's SGD).
    """

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = _fraction("momentum", momentum)
        self.nesterov = _checks.flag("nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0")

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        g = self._decay(p, g)
        if self.momentum == 0:
            p -= self.lr * g
            return
        v = state.get("momentum_buffer")
        if v is None:
            v = state["momentum_buffer"] = g.copy()
        else:
            v *= self.momentum
            v += g
        p -= self.lr * (g + self.momentum * v if self.nesterov else v)

    def __repr__(self) -> str:
        return f"SGD({', '.join(f'{k}={v!r}' for k, v in self.hyperparameters().items())})"


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), PyTorch's form without weight decay.

    For each parameter, at its k-th update (k = 1, 2, ...)::

        m ← β1·m + (1 − β1)·g                     first moment (mean of g)
        v ← β2·v + (1 − β2)·g²                    second moment
        p ← p − lr · (m / (1 − β1^k)) / (sqrt(v / (1 − β2^k)) + eps)

    The divisions by 1 − β^k undo the bias of m and v towards their zero start.

    Parameters
    ----------
    lr : float
        Step size, > 0 (default 1e-3).
    betas : (float, float)
        β1, β2 in [0, 1) (default (0.9, 0.999)).
    eps : float
        > 0, added to the denominator (default 1e-8).
    weight_decay : float
        L2 penalty: ``weight_decay·p`` is added to g first (PyTorch's Adam; see
        :class:`AdamW` for the decoupled form).
    """

    def __init__(
        self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0
    ) -> None:
        super().__init__(lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        self.betas = (_fraction("betas[0]", betas[0]), _fraction("betas[1]", betas[1]))
        self.eps = _checks.positive_real("eps", eps)

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "betas": self.betas, "eps": self.eps}

    def _apply(self, updates: list[tuple[np.ndarray, np.ndarray, dict[str, Any]]]) -> None:
        self._adam_steps(updates, self.weight_decay)

    def _adam_steps(self, updates: list[tuple[np.ndarray, np.ndarray, dict[str, Any]]], weight_decay: float) -> None:
        """The docstring's rule for every parameter in one compiled call (``_core.adam_update``,
        each operation rounded in p's dtype as the NumPy expressions would be)."""
        b1, b2 = self.betas
        params, grads, exp_avgs, exp_avg_sqs, step_sizes, bias2_sqrts = [], [], [], [], [], []
        for p, g, state in updates:
            if not state:
                state.update(step=0, exp_avg=np.zeros(p.shape, p.dtype), exp_avg_sq=np.zeros(p.shape, p.dtype))
            k = state["step"] + 1
            params.append(p)
            grads.append(g)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            step_sizes.append(self.lr / (1 - b1**k))
            bias2_sqrts.append(math.sqrt(1 - b2**k))
        scalars = (b1, b2, self.eps, weight_decay)  # by position: pybind11 matches keywords by name (~0.6 µs)
        try:  # C-contiguous arrays of each p's dtype and shape only; a refused call writes nothing
            _core.adam_update(params, grads, exp_avgs, exp_avg_sqs, step_sizes, bias2_sqrts, *scalars)
        except (TypeError, ValueError):
            # A restored state may hold arrays of another layout or dtype; p and g may be strided.
            for i, (p, g, state) in enumerate(updates):
                for key in ("exp_avg", "exp_avg_sq"):
                    state[key] = np.ascontiguousarray(state[key], dtype=p.dtype)
                target = p if p.flags.c_contiguous and p.flags.aligned else np.ascontiguousarray(p)
                one = ([target], [np.ascontiguousarray(g, dtype=p.dtype)], [state["exp_avg"]], [state["exp_avg_sq"]])
                _core.adam_update(*one, step_sizes[i : i + 1], bias2_sqrts[i : i + 1], *scalars)
                if target is not p:
                    p[...] = target
                state["step"] += 1
            return
        for _, _, state in updates:
            state["step"] += 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.hyperparameters().items())})"


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019; PyTorch's AdamW):
    every parameter first shrinks, ``p ← p − lr·weight_decay·p``, then takes the Adam
    step on its gradient alone. Default ``weight_decay`` 0.01, as PyTorch's."""

    def __init__(
        self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay)

    def _apply(self, updates: list[tuple[np.ndarray, np.ndarray, dict[str, Any]]]) -> None:
        if self.weight_decay:
            for p, _, _ in updates:
                p *= p.dtype.type(1 - self.lr * self.weight_decay)
        self._adam_steps(updates, 0.0)


def clip_grad_norm(grads: MutableMapping[str, np.ndarray | None], max_norm: float) -> float:
    r"""Rescale all gradients together so that their global L2 norm is at most ``max_norm``.

    The global norm is ``sqrt(Σ over all arrays and elements of g²)``. If it exceeds
    ``max_norm`` (more exactly: if ``max_norm / (norm + 1e-6) < 1``, PyTorch's
    ``clip_grad_norm_`` test), every gradient is multiplied by that factor, which
    keeps the direction of the update and caps its length: the classic cure for
    exploding gradients in RNNs (Pascanu et al., 2013).

    Parameters
    ----------
    grads : dict of str to numpy.ndarray (or None, skipped)
        Modified in place (the arrays themselves are scaled).
    max_norm : float
        > 0.

    Returns
    -------
    float
        The global norm *before* clipping (inf or nan if a gradient is not finite;
        then nothing is scaled).
    """
    max_norm = _checks.positive_real("max_norm", max_norm)
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads: expected a dict of names to arrays, got {type(grads).__name__}")
    arrays = []
    for name, g in grads.items():
        if g is None:
            continue
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            raise TypeError(f"grads[{name!r}]: expected a float NumPy array, got {type(g).__name__}")
        if not g.flags.writeable:
            raise ValueError(f"grads[{name!r}]: the array is read-only; it must be scaled in place")
        arrays.append(g)
    # Accumulate in float64: a float32 sum of squares over many elements loses digits.
    total = math.sqrt(sum(float(np.square(g, dtype=np.float64).sum()) for g in arrays))
    scale = max_norm / (total + 1e-6)
    if math.isfinite(total) and scale < 1.0:  # PyTorch's test, so results match it
        for g in arrays:
            g *= g.dtype.type(scale)
    return total
