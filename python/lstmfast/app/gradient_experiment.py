r"""Vanishing gradients, measured: how much of the verb's loss reaches each earlier word.

On probe sentences of ``length`` steps (subject at step 1, the ``<verb>`` marker at
the last step), :func:`lstmfast.diagnostics.gradient_flow` measures

    g<t> = ‖∂L<verb>/∂a<t>‖

from the real BPTT, for a vanilla RNN and an LSTM, first at initialisation and then
after training on the plural-cats task (:mod:`lstmfast.experiments.agreement`).
Each curve is divided by its value at the verb itself, so a number like 1e-20 at
the subject means that only that fraction of the error signal reaches the word the
answer depends on. In a vanilla RNN every step back multiplies the gradient by
``W_aa diag(tanh')``; in the LSTM the cell path multiplies it by the forget gate
Γf only, which training can push toward 1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..datasets import agreement as ag
from ..training.diagnostics import GradientFlow, gradient_flow
from ..training.model import SequenceModel
from .agreement_experiment import COMPARED_CELLS, AgreementConfig, _verb_mask, agreement_experiment

__all__ = ["STAGES", "GradientResult", "gradient_experiment"]

STAGES = ("init", "trained")
_NAMES = {"rnn": "RNN", "lstm": "LSTM"}


@dataclass
class GradientResult:
    """What :func:`gradient_experiment` measured.

    Attributes
    ----------
    length : int
        T, steps of the probe sentences.
    flows : dict of (cell, stage) to GradientFlow
        cell "rnn"/"lstm", stage "init"/"trained".
    probe_accuracy : dict of str to float
        Accuracy of each trained model on the probe sentences (does it still get
        the verb right at this length?).
    config : AgreementConfig
        How the models were trained.
    """

    length: int
    flows: dict[tuple[str, str], GradientFlow]
    probe_accuracy: dict[str, float]
    config: AgreementConfig

    @property
    def subject_distance(self) -> int:
        """Steps from the verb marker (t = T-1) back to the subject (t = 1)."""
        return self.length - 2

    def default_distances(self) -> list[int]:
        picks = [d for d in (0, 1, 2, 5, 10, 20, 40, 60, 100, 150) if d < self.subject_distance]
        return [*picks, self.subject_distance]

    def relative(self, cell: str, stage: str, distance: int) -> float:
        flow = self.flows[(cell, stage)]
        return float(flow.relative[len(flow.norms) - 1 - distance])

    def decay_per_step(self, cell: str, stage: str) -> float:
        """Geometric-mean factor per step between the verb and the subject."""
        rel = self.relative(cell, stage, self.subject_distance)
        return float(rel ** (1.0 / self.subject_distance)) if rel > 0 else 0.0

    def table(self, distances: list[int] | None = None) -> str:
        """Relative gradient norm by distance from the verb, four columns."""
        distances = self.default_distances() if distances is None else distances
        cols = [(cell, stage) for stage in STAGES for cell in COMPARED_CELLS]
        head = f"{'steps back':>10}  " + "  ".join(f"{_NAMES[c] + ' ' + s:>12}" for c, s in cols)
        lines = [head]
        for d in distances:
            row = f"{d:>10}  " + "  ".join(f"{self.relative(c, s, d):>12.1e}" for c, s in cols)
            lines.append(row + ("  <- the subject" if d == self.subject_distance else ""))
        lines.append(
            f"{'per step':>10}  " + "  ".join(f"{'x' + format(self.decay_per_step(c, s), '.3f'):>12}" for c, s in cols)
        )
        return "\n".join(lines)

    def summary(self) -> str:
        c = self.config
        acc = ", ".join(f"{_NAMES[cell]} {self.probe_accuracy[cell]:.2f}" for cell in COMPARED_CELLS)
        return "\n".join(
            [
                f"probe: sentences of {self.length} steps (the subject {self.subject_distance} steps before the "
                f"verb); g<t> = |dL<verb>/da<t>| relative to its value at the verb",
                f"trained: plural-cats task, hidden {c.hidden}, {c.epochs} epochs on {c.train_size} sentences "
                f"(distances {min(c.train_distances)}-{max(c.train_distances)}), seed {c.seed}; "
                f"probe accuracy after training: {acc}",
                "",
                self.table(),
            ]
        )


def gradient_experiment(
    length: int = 100,
    *,
    config: AgreementConfig | None = None,
    models: dict[str, SequenceModel] | None = None,
    probe_size: int = 64,
) -> GradientResult:
    """Gradient flow of an RNN and an LSTM at initialisation and after training.

    Parameters
    ----------
    length : int
        Steps of the probe sentences, >= 5 (the lecture's range: 50–200).
    config : AgreementConfig, optional
        The training recipe (default: the agreement experiment's, one repeat). Its
        ``seed`` seeds the initialisation, so the "init" models are the trained
        models' starting points.
    models : dict {"rnn": SequenceModel, "lstm": SequenceModel}, optional
        Already-trained models (e.g. ``agreement_experiment(keep_models=True).models``),
        trained with ``config``; skips the training.
    probe_size : int
        Probe sentences.

    Returns
    -------
    GradientResult
    """
    if length < 5:
        raise ValueError(f"length: expected >= 5 steps, got {length}")
    config = dataclasses.replace(config or AgreementConfig(), repeats=1)
    distance = length - 3  # <det> <subject> ...distance words... <verb>
    if distance > ag.MAX_DISTANCE:
        raise ValueError(f"length: expected at most {ag.MAX_DISTANCE + 3}, got {length}")
    probe = ag.dataset(
        probe_size,
        distance,
        attractor_prob=config.attractor_prob,
        seed=int(np.random.SeedSequence([config.seed, 2]).generate_state(1)[0]),
        language=config.language,
    )
    targets = probe.targets[..., None]
    if models is None:
        models = agreement_experiment(
            config, keep_models=True, test_distances=(max(config.train_distances),), test_size=64
        ).models
    flows: dict[tuple[str, str], GradientFlow] = {}
    accuracy: dict[str, float] = {}
    for cell in COMPARED_CELLS:
        fresh = SequenceModel(
            probe.x.shape[2], config.hidden, cell=cell, output="per_step", task="binary", seed=config.seed
        )
        flows[(cell, "init")] = gradient_flow(fresh, probe.x, targets)
        flows[(cell, "trained")] = gradient_flow(models[cell], probe.x, targets)
        accuracy[cell] = models[cell].evaluate(probe.x, probe.targets, _verb_mask(probe))["accuracy"]
    return GradientResult(length=length, flows=flows, probe_accuracy=accuracy, config=config)
