r"""Vanishing, exploding and constant error flow, measured with the real BPTT.

On probe sentences of the agreement task (:mod:`lstmfast.datasets.agreement`) of
``length`` steps - the subject at step 1, the ``<verb>`` marker and the loss at
the last step T-1 - :func:`lstmfast.training.diagnostics.gradient_flow` measures

    ‖∂L/∂a<t>‖   and, for the LSTM,   ‖∂L/∂c<t>‖        for t = 0 ... T-1,

each divided by its value at the loss (t = T-1). With the default length 102 the
subject is exactly 100 steps back. What it shows:

* **Vanishing** (at initialisation): every step back through a vanilla RNN
  multiplies the gradient by ``W_aaᵀ diag(1 - a²)``; with PyTorch's
  initialisation that shrinks it geometrically. The LSTM's cell path multiplies
  it by Γf only: with a forget-gate bias of 0 (Γf ≈ 0.5) it vanishes as fast, with
  +3 (Γf ≈ 0.95) a visible share survives 100 steps.
* **Exploding**: the same RNN with W_aa rescaled to a spectral radius above 1
  (``explode_radius``); and what gradient clipping does about it: it caps the
  length of the update, it does not change the flow.
* **The constant error carousel** (Hochreiter & Schmidhuber, 1997): an LSTM cell
  with Γf ≡ 1 and no recurrent weights into its gates (W_hh = 0, so the only path
  back in time is the cell's self-connection, as in the 1997 memory cell) carries
  ∂L/∂c<t> back unchanged, step after step.
* **Trained** models (on sentences with 1 to 40 words between subject and verb):
  right at 100 words, although almost no gradient reaches the subject - the
  paradox :meth:`GradientResult.paradox` explains from the measured numbers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _checks, cells
from ..datasets import agreement as ag
from ..layers import stack_forward
from ..training.diagnostics import GradientFlow, gradient_flow
from ..training.model import SequenceModel
from ..training.optim import clip_grad_norm
from .agreement_experiment import _threads_for, _verb_mask, fit_on_sentences

__all__ = ["GradientConfig", "GradientCurve", "GradientResult", "gradient_experiment"]

#: Steps back at which the table reports the relative norms.
TABLE_STEPS = (1, 2, 5, 10, 25, 50, 100)
#: The carousel's forget-gate bias: σ(40) = 1 - 4e-18 is 1.0 in float64.
CAROUSEL_BIAS = 40.0
#: A unit is saturated when |a| exceeds this (tanh' = 1 - a² < 0.02).
SATURATED = 0.99


@dataclass(frozen=True)
class GradientConfig:
    """Probe, models and the training recipe of the trained models."""

    length: int = 102
    hidden: int = 32
    forget_biases: tuple[float, ...] = (0.0, 1.0, 3.0, 5.0)
    probe_size: int = 64
    explode_radius: float = 3.0
    clip_norm: float = 1.0
    clip_lr: float = 0.1
    train: bool = True
    train_size: int = 4000
    train_distances: tuple[int, ...] = tuple(range(1, 41))
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 32
    seed: int = 0
    language: str = "en"


@dataclass(frozen=True)
class GradientCurve:
    """One measured curve: per-step norms of ∂L/∂a<t> or ∂L/∂c<t>, step 0 the earliest."""

    cell: str
    variant: str  # "standard", "exploding" or "carousel"
    forget_bias: float | None
    state: str  # "a" or "c"
    trained: bool
    norms: np.ndarray
    label: str
    probe_accuracy: float | None = None

    @property
    def relative(self) -> np.ndarray:
        """``norms / norms[-1]``: 1 at the loss."""
        out: np.ndarray = self.norms / self.norms[-1]
        return out

    def back(self, steps: int) -> float:
        """The relative norm ``steps`` steps before the loss."""
        return float(self.relative[len(self.norms) - 1 - steps])

    def per_step(self) -> float:
        """Geometric-mean factor per step over the whole probe."""
        far = len(self.norms) - 1
        rel = self.back(far)
        return float(rel ** (1.0 / far)) if rel > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "variant": self.variant,
            "forget_bias": self.forget_bias,
            "state": self.state,
            "trained": self.trained,
            "norms": [float(v) for v in self.norms],
            "label": self.label,
            "probe_accuracy": self.probe_accuracy,
        }


@dataclass
class GradientResult:
    """What :func:`gradient_experiment` measured.

    Attributes
    ----------
    config : GradientConfig
    curves : list of GradientCurve
    clipping : dict
        The exploding RNN's parameter-gradient norm, the update with and without
        clipping, and what the unclipped update does to the network.
    latch : dict of str to float
        The trained RNN: accuracy on the probe, gradient at the subject, and how
        saturated the units carrying the number are (see :meth:`paradox`).
    """

    config: GradientConfig
    curves: list[GradientCurve]
    clipping: dict[str, float]
    latch: dict[str, float] = field(default_factory=dict)

    @property
    def subject_steps(self) -> int:
        """Steps from the loss (t = T-1) back to the subject (t = 1)."""
        return self.config.length - 2

    def curve(
        self, cell: str, state: str = "a", *, variant: str = "standard", trained: bool = False, forget_bias: Any = None
    ) -> GradientCurve:
        """The curve with these keys (``forget_bias`` only for the LSTM)."""
        for c in self.curves:
            if (c.cell, c.state, c.variant, c.trained, c.forget_bias) == (cell, state, variant, trained, forget_bias):
                return c
        raise KeyError(f"no curve {cell}/{state}/{variant}/trained={trained}/forget_bias={forget_bias}")

    def carousel_deviation(self) -> float:
        """max_t |‖∂L/∂c<t>‖ / ‖∂L/∂c<T-1>‖ - 1| of the carousel: 0 for a constant flow."""
        c = self.curve("lstm", "c", variant="carousel", forget_bias=CAROUSEL_BIAS)
        return float(np.max(np.abs(c.relative - 1.0)))

    def table(self) -> str:
        steps = [k for k in TABLE_STEPS if k <= self.config.length - 1]
        width = max(len(c.label) for c in self.curves) + 12
        head = f"{'k steps before the loss':<{width}}" + "".join(f"{'k=' + str(k):>10}" for k in steps)
        head += f"{'per step':>10}"
        lines = [head]
        sections: list[tuple[str, Callable[[GradientCurve], bool]]] = [
            ("at initialisation", lambda c: c.variant == "standard" and not c.trained),
            ("exploding", lambda c: c.variant == "exploding"),
            ("constant error carousel", lambda c: c.variant == "carousel"),
            (self._trained_title(), lambda c: c.trained),
        ]
        for title, keep in sections:
            chosen = [c for c in self.curves if keep(c)]
            if not chosen:
                continue
            lines.append(title)
            for c in chosen:
                name = f"  {c.label}: dL/d{c.state}"
                row = f"{name:<{width}}" + "".join(f"{c.back(k):>10.1e}" for k in steps)
                row += f"{'x' + format(c.per_step(), '.3f'):>10}"
                if c.probe_accuracy is not None and c.state == "a":
                    row += f"   probe accuracy {c.probe_accuracy:.2f}"
                lines.append(row)
        return "\n".join(lines)

    def _trained_title(self) -> str:
        c = self.config
        return (
            f"after training ({c.epochs} epochs on {c.train_size} sentences with {min(c.train_distances)}-"
            f"{max(c.train_distances)} words between subject and verb)"
        )

    def clipping_text(self) -> str:
        k = self.clipping
        return (
            f"clipping (the exploding RNN, one SGD step of rate {self.config.clip_lr:g} on the probe): the "
            f"gradient's norm is {k['gradient_norm']:.1e}; unclipped, the step would move the weights by "
            f"{k['step_unclipped']:.1e} ({k['step_unclipped'] / k['weights_norm']:.0e} times their own norm "
            f"{k['weights_norm']:.1f}), after which {k['saturated_after_unclipped']:.0%} of the hidden units are "
            f"saturated (|a| > {SATURATED}) and {k['flow_after_unclipped']:.1e} of the gradient reaches "
            f"{self.subject_steps} steps back; clipped to norm {self.config.clip_norm:g}, the step is "
            f"{k['step_clipped']:.1e} in the same direction. Clipping bounds the update, not the flow: "
            f"{k['flow_after_clipped']:.1e} still reaches {self.subject_steps} steps back after the clipped step."
        )

    def paradox(self) -> str:
        """One sentence on why a trained net can be right where the gradient has vanished,
        with the trained RNN's own numbers (empty if nothing was trained)."""
        if not self.latch:
            return ""
        k = self.latch
        steps = self.subject_steps
        if k["accuracy"] >= 0.9 and k["relative_gradient"] < 1e-6:
            return (
                f"Paradox: the trained RNN gets {k['accuracy']:.0%} of the verbs right {steps} words after the "
                f"subject although only {k['relative_gradient']:.0e} of the gradient reaches the subject, "
                f"because it has learned on the short sentences (where the gradient is strong) to latch the "
                f"number into saturated units (the {k['units']:.0f} units that differ most between singular and "
                f"plural sit at |a| = {k['carrier_abs']:.3f}, tanh' = {k['carrier_slope']:.0e}) that hold their "
                f"value precisely because small changes die out in them - which is also why the gradient through "
                f"them vanishes: it tells how hard a dependency is to learn, not whether a trained net remembers it."
            )
        return (
            f"The trained RNN gets {k['accuracy']:.0%} of the verbs right {steps} words after the subject, with "
            f"{k['relative_gradient']:.0e} of the gradient reaching the subject: no paradox in this run (a net "
            f"that latches the number into saturated units would be right with a vanishing gradient)."
        )

    def summary(self) -> str:
        c = self.config
        lines = [
            f"probe: {c.probe_size} sentences of {c.length} steps, the subject {self.subject_steps} steps before "
            f"the loss (at the verb); hidden {c.hidden}; relative norms |dL/da<t>| and |dL/dc<t>| (LSTM) "
            f"k steps before the loss, each divided by its value at the loss",
            "",
            self.table(),
            "",
            f"exploding: W_aa rescaled to spectral radius {c.explode_radius:g}; carousel: forget gate "
            f"Γf = σ({CAROUSEL_BIAS:g}) = 1 and W_hh = 0; its |dL/dc<t>| varies by at most "
            f"{self.carousel_deviation():.1e} (relative) over {c.length} steps.",
            self.clipping_text(),
        ]
        if self.latch:
            lines.append(self.paradox())
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: ``curves`` (step 0 the earliest, the last step where the
        loss is) and, as extra keys, the configuration, clipping, the latch and the carousel."""
        return {
            "curves": [c.to_json() for c in self.curves],
            "config": dataclasses.asdict(self.config),
            "subject_steps_back": self.subject_steps,
            "clipping": dict(self.clipping),
            "latch": dict(self.latch),
            "carousel_max_relative_deviation": self.carousel_deviation(),
            "paradox": self.paradox(),
        }


def _check(c: GradientConfig) -> GradientConfig:
    length = _checks.integer("length", c.length, 5, ag.MAX_DISTANCE + 3, rule=f"5 <= length <= {ag.MAX_DISTANCE + 3}")
    for name in ("hidden", "probe_size", "train_size", "epochs", "batch_size"):
        _checks.positive_int(name, getattr(c, name))
    _checks.integer("seed", c.seed, 0)
    _checks.positive_real("explode_radius", c.explode_radius)
    _checks.positive_real("clip_norm", c.clip_norm)
    _checks.positive_real("clip_lr", c.clip_lr)
    _checks.positive_real("lr", c.lr)
    _checks.flag("train", c.train)
    for b in c.forget_biases:
        _checks.real("forget_biases", b)
    if not c.train_distances:
        raise ValueError("train_distances: expected at least one distance, got none")
    for d in c.train_distances:
        _checks.integer("train_distances", d, 1, ag.MAX_DISTANCE)
    return dataclasses.replace(c, length=length, forget_biases=tuple(dict.fromkeys(float(b) for b in c.forget_biases)))


def _label(cell: str, forget_bias: float | None) -> str:
    kind = cells.get(cell)
    name = "vanilla RNN" if kind is cells.RNN else kind.title
    return name if forget_bias is None else f"{name}, forget bias {forget_bias:+g}"


def _curves(
    flow: GradientFlow, cell: str, variant: str, forget_bias: float | None, trained: bool, label: str, acc: Any = None
) -> list[GradientCurve]:
    out = [GradientCurve(cell, variant, forget_bias, "a", trained, flow.norms, label, acc)]
    if flow.c_norms is not None:
        out.append(GradientCurve(cell, variant, forget_bias, "c", trained, flow.c_norms, label, acc))
    return out


def _models(c: GradientConfig, vocab: int) -> list[tuple[str, float | None, SequenceModel]]:
    """Fresh models: the RNN, the LSTM at each forget bias, the GRU (seeded by ``c.seed``)."""
    out: list[tuple[str, float | None, SequenceModel]] = []
    for kind in (cells.RNN, cells.LSTM, cells.GRU):
        biases: list[float | None] = list(c.forget_biases) if "f" in kind.gate_names else [None]
        for b in biases:
            model = SequenceModel(vocab, c.hidden, cell=kind.name, forget_bias=b, task="binary", seed=c.seed)
            out.append((kind.name, b, model))
    return out


def _saturation(model: SequenceModel, x: np.ndarray) -> float:
    """Share of (step, example, unit) with |a| > SATURATED over the probe."""
    h, _, _ = stack_forward(model.levels(), np.asarray(x, dtype=model.dtype))
    return float(np.mean(np.abs(h) > SATURATED))


def _exploding(c: GradientConfig, vocab: int) -> SequenceModel:
    model = SequenceModel(vocab, c.hidden, cell="rnn", task="binary", seed=c.seed)
    w = model.parameters()["rnn.weight_hh_l0"]
    w *= c.explode_radius / np.max(np.abs(np.linalg.eigvals(w.astype(np.float64))))
    return model


def _carousel(c: GradientConfig, vocab: int) -> SequenceModel:
    """Γf ≡ 1 (forget weights 0, bias CAROUSEL_BIAS) and W_hh = 0: the cell's
    self-connection is the only way back in time."""
    model = SequenceModel(vocab, c.hidden, cell="lstm", task="binary", seed=c.seed)
    p = model.parameters()
    H, f = c.hidden, cells.LSTM.gate_names.index("f")
    p["lstm.weight_hh_l0"][:] = 0.0
    p["lstm.weight_ih_l0"][f * H : (f + 1) * H] = 0.0
    p["lstm.bias_ih_l0"][f * H : (f + 1) * H] = CAROUSEL_BIAS
    p["lstm.bias_hh_l0"][f * H : (f + 1) * H] = 0.0
    return model


def _clipping(c: GradientConfig, model: SequenceModel, probe: ag.AgreementData) -> dict[str, float]:
    """One SGD step of the exploding RNN, unclipped and clipped, from the same weights."""
    mask = _verb_mask(probe)
    start = {name: p.copy() for name, p in model.parameters().items()}
    weights_norm = _norm({k: p.astype(np.float64) for k, p in start.items()})
    targets = probe.targets[..., None]
    out: dict[str, float] = {"weights_norm": weights_norm}
    for clipped in (False, True):
        model.load_state_dict(start)
        _, grads = model.loss_and_gradients(probe.x, probe.targets, mask)
        g64 = {k: v.astype(np.float64) for k, v in grads.items()}
        norm = _norm(g64)
        if clipped:
            clip_grad_norm(g64, c.clip_norm)  # type: ignore[arg-type]  # a dict of arrays is a mapping of them
        for name, p in model.parameters().items():
            p -= (c.clip_lr * g64[name]).astype(p.dtype)
        tag = "clipped" if clipped else "unclipped"
        out["gradient_norm"] = norm
        out[f"step_{tag}"] = c.clip_lr * _norm(g64)
        out[f"saturated_after_{tag}"] = _saturation(model, probe.x)
        flow = gradient_flow(model, probe.x, targets)
        out[f"flow_after_{tag}"] = float(flow.relative[1])
    model.load_state_dict(start)
    return out


def _norm(arrays: dict[str, np.ndarray]) -> float:
    """The global L2 norm of all the arrays together."""
    return math.sqrt(sum(float((v**2).sum()) for v in arrays.values()))


def _latch(model: SequenceModel, probe: ag.AgreementData, flow: GradientFlow, accuracy: float) -> dict[str, float]:
    """How the trained RNN holds the number: the units whose mean activation differs
    most between singular and plural subjects, how close to ±1 they sit, and tanh' there."""
    h, _, _ = stack_forward(model.levels(), np.asarray(probe.x, dtype=model.dtype))
    mid = h[h.shape[0] // 2].astype(np.float64)  # halfway between subject and verb
    plural = probe.numbers == ag.PLURAL
    gap = np.abs(mid[plural].mean(axis=0) - mid[~plural].mean(axis=0))
    units = np.argsort(gap)[-3:]
    carrier = float(np.abs(mid[:, units]).mean())
    return {
        "accuracy": accuracy,
        "relative_gradient": float(flow.relative[1]),
        "units": float(len(units)),
        "carrier_abs": carrier,
        "carrier_slope": float(np.mean(1.0 - mid[:, units] ** 2)),
        "carrier_gap": float(gap[units].mean()),
    }


def gradient_experiment(config: GradientConfig | None = None, **overrides: Any) -> GradientResult:
    """Measure every curve of the module docstring.

    Parameters
    ----------
    config : GradientConfig, optional
        Keyword ``overrides`` replace single fields (e.g. ``train=False`` for the
        initialisation, exploding and carousel curves only, in about a second).

    Returns
    -------
    GradientResult
    """
    c = _check(dataclasses.replace(config or GradientConfig(), **overrides))
    probe = ag.dataset(
        c.probe_size,
        c.length - 3,  # <det> <subject> ...distance words... <verb>
        attractor_prob=0.5,
        seed=np.random.SeedSequence([c.seed, 2]),
        language=c.language,
    )
    vocab = probe.x.shape[2]
    targets = probe.targets[..., None]
    curves: list[GradientCurve] = []
    fresh = _models(c, vocab)
    for cell, b, model in fresh:
        curves += _curves(gradient_flow(model, probe.x, targets), cell, "standard", b, False, _label(cell, b))
    exploding = _exploding(c, vocab)
    curves += _curves(
        gradient_flow(exploding, probe.x, targets),
        "rnn",
        "exploding",
        None,
        False,
        f"vanilla RNN, W_aa radius {c.explode_radius:g}",
    )
    carousel = gradient_flow(_carousel(c, vocab), probe.x, targets)
    assert carousel.c_norms is not None
    curves.append(
        GradientCurve("lstm", "carousel", CAROUSEL_BIAS, "c", False, carousel.c_norms, "LSTM, Γf = 1, W_hh = 0")
    )
    clipping = _clipping(c, exploding, probe)

    latch: dict[str, float] = {}
    if c.train:
        train = ag.dataset(
            c.train_size,
            list(c.train_distances),
            attractor_prob=0.5,
            seed=np.random.SeedSequence([c.seed, 3]),
            language=c.language,
        )
        with _threads_for(c.hidden):
            for cell, b, model in fresh:
                fit_on_sentences(model, train, c.epochs, c.batch_size, c.lr, 1.0, c.seed)
                acc = model.evaluate(probe.x, probe.targets, _verb_mask(probe))["accuracy"]
                flow = gradient_flow(model, probe.x, targets)
                curves += _curves(flow, cell, "standard", b, True, _label(cell, b), acc)
                if cells.get(cell) is cells.RNN:
                    latch = _latch(model, probe, flow, acc)
    return GradientResult(config=c, curves=curves, clipping=clipping, latch=latch)
