"""``lstmfast demo``: the lecture's claims, measured on built-in data, in about half a minute
(26 s measured on a 2-core AMD EPYC; ``quick=True``: 3 s).

:func:`demo_sections` computes the five sections one after the other and yields
each as a :class:`Section` (title, one line of context, the numbers as text, a
one-line conclusion computed from those numbers), so a caller can print them as
they arrive. Nothing here prints.

1. the C++ fast path agrees with the NumPy reference (forward and gradients);
2. how much faster a training step is than the NumPy reference;
3. forecasting the sunspots with fixed partitioning: LSTM vs naive and moving average;
4. the plural-cats task: vanilla RNN vs LSTM, one model per distance, several seeds;
5. vanishing gradients: how much of the verb's loss reaches each earlier word.

``quick=True`` runs a much smaller version (a few seconds), for tests and a first look.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..config import kernel_config
from . import speed
from .agreement_experiment import QUICK, agreement_experiment
from .forecast_experiment import forecast
from .gradient_experiment import GradientConfig, gradient_experiment

__all__ = ["Section", "demo_sections", "demo_settings"]


@dataclass
class Section:
    """One part of the demo report."""

    number: int
    title: str
    context: str
    body: str
    conclusion: str
    seconds: float
    result: Any = field(default=None, repr=False)

    def text(self) -> str:
        indent = "   "
        lines = [f"{self.number}. {self.title}", f"{indent}{self.context}", ""]
        lines += [indent + line if line else "" for line in self.body.splitlines()]
        lines += ["", f"{indent}=> {self.conclusion}  [{self.seconds:.1f} s]"]
        return "\n".join(lines)


def demo_settings(quick: bool) -> dict[str, Any]:
    """The sizes used by the full and the quick demo."""
    if quick:
        return {
            "speed_shapes": ("tiny", "small"),
            "budget": 0.1,
            "agreement": dataclasses.replace(
                QUICK,
                distances=(5, 40),
                seeds=1,
                train_size=1000,
                test_size=100,
                forget_biases=(3.0,),
                rnn_inits=("pytorch",),
            ),
            "gradients": GradientConfig(length=52, train=False),
        }
    return {
        "speed_shapes": ("tiny", "medium"),
        "budget": 0.5,
        "agreement": dataclasses.replace(QUICK, seeds=3, rnn_inits=("pytorch",)),
        "gradients": GradientConfig(train=False),
    }


def header(quick: bool) -> str:
    info = kernel_config()
    size = "quick version: small settings, numbers only indicative" if quick else "full version"
    return (
        f"lstmfast demo ({size}); kernels: {info['isa']}, {info['threads']} thread(s)\n"
        f"Each section: what is measured, the numbers, and what they say."
    )


def demo_sections(*, quick: bool = False, seed: int = 0) -> Iterator[Section]:
    """Run the demo, yielding each :class:`Section` as soon as it is computed."""
    settings = demo_settings(quick)

    # 1. correctness
    start = time.perf_counter()
    rows = speed.check_against_reference(seed=seed)
    worst32 = max(max(r.forward, r.gradients) for r in rows if r.dtype == "float32")
    worst64 = max(max(r.forward, r.gradients) for r in rows if r.dtype == "float64")
    ok = all(r.ok for r in rows)
    T, B, I, H = rows[0].shape
    yield Section(
        1,
        "The fast path computes the same numbers as the NumPy reference",
        f"Forward propagation and BPTT in C++ vs the readable NumPy version, same inputs "
        f"(T={T}, B={B}, I={I}, H={H}); max relative error.",
        speed.check_table(rows),
        (
            f"agree to {worst64:.0e} in float64 and {worst32:.0e} in float32 (about float32's precision)"
            if ok
            else "DISAGREEMENT beyond the tolerance: the fast path is wrong, see the table"
        ),
        time.perf_counter() - start,
        rows,
    )

    # 2. speed
    start = time.perf_counter()
    timings = [
        speed.time_training_step(speed.BENCH_SHAPES[name], budget=settings["budget"], seed=seed)
        for name in settings["speed_shapes"]
    ]
    lines = [f"{'shape (T, B, I, H)':<22} {'NumPy reference':>16} {'lstmfast':>10} {'ratio':>8}"]
    for t in timings:
        lines.append(f"{t.shape!s:<22} {t.reference_ms:>13.2f} ms {t.fast_ms:>7.2f} ms {t.speedup:>7.1f}x")
    yield Section(
        2,
        "Speed of one training step",
        "One LSTM training step = forward through all T steps + backpropagation through time "
        "(float32, median of repeated runs; a shared machine makes timings noisy).",
        "\n".join(lines),
        " and ".join(f"{t.speedup:.0f}x faster at T={t.shape[0]}, B={t.shape[1]}, H={t.shape[3]}" for t in timings)
        + " than the NumPy reference",
        time.perf_counter() - start,
        timings,
    )

    # 3. forecasting
    start = time.perf_counter()
    fc = forecast("sunspots", seed=seed)
    naive = next(m for m in fc.forecasts if m.startswith("naive"))
    ma = next(m for m in fc.forecasts if m.startswith("moving average"))
    years = fc.series.time
    yield Section(
        3,
        "Forecasting a real series with fixed partitioning (yearly sunspots)",
        f"Train on {years[0]}-{years[fc.split_time - 1]} only (normalised with its mean and std), then predict each "
        f"year of {years[fc.split_time]}-{years[-1]} from the {fc.config.window} years before it; lower MAE is better.",
        fc.table(),
        f"LSTM MAE {fc.mae('LSTM'):.1f} vs naive {fc.mae(naive):.1f} and moving average {fc.mae(ma):.1f}: "
        + ("the LSTM beats every baseline" if fc.beats_baselines() else "the LSTM does NOT beat every baseline"),
        time.perf_counter() - start,
        fc,
    )

    # 4. agreement
    start = time.perf_counter()
    cfg = dataclasses.replace(settings["agreement"], seed=seed)
    ag = agreement_experiment(cfg)
    near, far = min(cfg.distances), max(cfg.distances)
    yield Section(
        4,
        f"'The cat(s) ... was/were': agreement across {near} and {far} words",
        f"One model per distance and seed ({cfg.seeds} seed(s)), trained only on sentences with exactly that many "
        f"words between subject and verb (attractor nouns in between), hidden {cfg.hidden}, {cfg.epochs} epochs; "
        f"median accuracy at the verb, tested at d / d+1 / 2d; chance = {ag.chance:.2f}.",
        ag.table(),
        _agreement_conclusion(ag),
        time.perf_counter() - start,
        ag,
    )

    # 5. gradient flow
    start = time.perf_counter()
    gf = gradient_experiment(dataclasses.replace(settings["gradients"], seed=seed))
    k = gf.subject_steps
    rnn = gf.curve("rnn").back(k)
    lstm = {b: gf.curve("lstm", "c", forget_bias=b).back(k) for b in gf.config.forget_biases}
    yield Section(
        5,
        "Vanishing gradients: how much of the verb's error reaches each earlier word",
        f"|dL/da<t>| and |dL/dc<t>| from the real BPTT on sentences of {gf.config.length} steps, relative to their "
        f"size at the verb, at initialisation; an RNN with an exploding W_aa; the constant error carousel.",
        gf.table(),
        f"{k} steps back the RNN keeps {rnn:.0e} of the gradient, the LSTM's cell state "
        + ", ".join(f"{v:.0e} (forget bias {b:+g})" for b, v in lstm.items())
        + f"; the carousel keeps all of it (deviation {gf.carousel_deviation():.0e})",
        time.perf_counter() - start,
        gf,
    )


def _agreement_conclusion(ag: Any) -> str:
    """The medians at the shortest and longest distance, and whether they show the lecture's picture."""
    near, far = min(ag.config.distances), max(ag.config.distances)
    parts = [f"{v.label} {ag.median(v.key, near):.2f} -> {ag.median(v.key, far):.2f}" for v in ag.variants]
    verdict: str = ag.verdict()
    return f"median from distance {near} to {far}: " + "; ".join(parts) + ". " + verdict
