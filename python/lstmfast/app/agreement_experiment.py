r"""The plural-cats experiment: does a vanilla RNN lose the subject as the distance grows?

"The cat , which already ate ... , was full" / "The cats , ... , were full": to get
the verb right the net must carry the subject's number across every word in
between (see :mod:`lstmfast.datasets.agreement`). The lecture's claim: a vanilla
RNN, whose gradient shrinks at every step back, fails as that distance grows,
while an LSTM holds.

The design, and why
-------------------
* **One model per distance.** Each model is trained on sentences with exactly
  ``d`` words between subject and verb, for each ``d`` in ``distances``, with no
  shorter sentences mixed in: short sentences act as a curriculum (an RNN that
  learns to latch the number on them keeps it at any distance), which hides the
  effect the lecture is about.
* **Tested at and beyond the training distance**: at ``d``, at ``d + 1`` and at
  ``2d``, on fresh sentences. A net that carries the number holds at all three;
  one that has learned a timer for exactly ``d`` steps does not.
* **A fixed budget** for every cell and distance: the same hidden size, number of
  sentences, epochs, batch size, optimizer, learning rate and clipping.
* **Attractors**: each noun in between has the other number with probability
  ``attractor_prob``, so remembering the last noun is not enough (the
  last-noun baseline shows how far that shortcut gets).
* **Fair to the RNN**: besides PyTorch's initialisation, the RNN is trained from
  an orthogonal (or identity) W_aa, whose gradient neither shrinks nor grows
  through the matrix at the start.
* **The LSTM's forget-gate bias exposed**: ``forget_biases`` (default +3 and 0).
  With 0 the forget gate starts at Γf = σ(0) = 0.5, and the cell halves its
  memory, and its gradient, at every step; +3 starts it at σ(3) ≈ 0.95.
* **Seeds, not means**: ``seeds`` independent runs (data, initialisation and
  batch order); the outcome is nearly all-or-nothing per run, so the result is
  every seed's accuracy, the median, and the share of seeds reaching 95 % with
  its 95 % Wilson interval, never a bare mean.

:data:`QUICK` (the default, 5 seeds, distances 10 and 80) and :data:`FULL`
(10 seeds, distances 5 to 80, the GRU and the identity-initialised RNN too).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _checks, cells
from ..config import get_num_threads, set_num_threads
from ..datasets import agreement as ag
from ..training.model import SequenceModel
from ..training.optim import Adam

__all__ = [
    "FULL",
    "QUICK",
    "RNN_INITS",
    "SOLVED",
    "AgreementConfig",
    "AgreementResult",
    "Variant",
    "agreement_experiment",
    "evaluation_distances",
    "variants",
    "wilson_interval",
]

#: A model "solves" a test distance at this accuracy or more.
SOLVED = 0.95
#: How the RNN's W_aa starts: PyTorch's uniform ±1/sqrt(H), orthogonal, identity.
RNN_INITS = ("pytorch", "orthogonal", "identity")
#: Below this hidden size one kernel thread trains faster: the per-step barrier
#: between threads costs more than the work it splits (measured at H = 16 on 2
#: cores: 0.7 s on one thread vs 2.3 s on two for one model at distance 40).
_ONE_THREAD_BELOW = 64


@dataclass(frozen=True)
class AgreementConfig:
    """Data, training budget (shared by every cell and distance), and what to compare."""

    hidden: int = 16
    train_size: int = 4000
    distances: tuple[int, ...] = (10, 80)
    test_size: int = 400
    attractor_prob: float = 0.5
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 32
    clip_norm: float = 1.0
    seeds: int = 5
    seed: int = 0
    cells: tuple[str, ...] = ("rnn", "lstm")
    forget_biases: tuple[float, ...] = (3.0, 0.0)
    rnn_inits: tuple[str, ...] = ("pytorch", "orthogonal")
    language: str = "en"


#: The default: a few minutes at most on 2 cores, and the effect already plain.
QUICK = AgreementConfig()
#: ``lstmfast agreement --full``.
FULL = AgreementConfig(
    distances=(5, 10, 20, 40, 80),
    seeds=10,
    cells=("rnn", "lstm", "gru"),
    rnn_inits=RNN_INITS,
)


@dataclass(frozen=True)
class Variant:
    """One kind of model: a cell and how it starts."""

    cell: str
    forget_bias: float | None = None
    rnn_init: str | None = None

    @property
    def key(self) -> str:
        """A short name: "rnn", "rnn-orthogonal", "lstm+3", "lstm+0", "gru"."""
        if self.forget_bias is not None:
            return f"{self.cell}{self.forget_bias:+g}"
        if self.rnn_init not in (None, "pytorch"):
            return f"{self.cell}-{self.rnn_init}"
        return self.cell

    @property
    def label(self) -> str:
        """How the table and the plot name it."""
        kind = cells.get(self.cell)
        name = "vanilla RNN" if kind is cells.RNN else kind.title
        if self.forget_bias is not None:
            return f"{name}, forget bias {self.forget_bias:+g}"
        if self.rnn_init not in (None, "pytorch"):
            return f"{name}, {self.rnn_init} W_aa"
        return name


def variants(config: AgreementConfig) -> list[Variant]:
    """The models ``config`` compares, in order: each cell, and for the RNN each
    W_aa initialisation, for the LSTM each forget bias."""
    out = []
    for name in config.cells:
        kind = cells.get(name, argument="cells")
        if "f" in kind.gate_names:  # a forget gate: one variant per starting bias
            out += [Variant(kind.name, forget_bias=float(b)) for b in config.forget_biases]
        elif kind is cells.RNN:
            out += [Variant(kind.name, rnn_init=init) for init in config.rnn_inits]
        else:
            out.append(Variant(kind.name))
    return out


def evaluation_distances(distance: int) -> tuple[int, int, int]:
    """Where a model trained at ``distance`` is tested: there, one word further, twice as far."""
    return distance, distance + 1, 2 * distance


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95 % for the default ``z``).

    Unlike the textbook ``p ± z·sqrt(p(1-p)/n)`` it stays inside [0, 1] and is not
    empty at 0 or n successes, which matter here: 0 of 10 seeds is common.
    """
    n = _checks.positive_int("trials", trials)
    k = _checks.integer("successes", successes, 0, n)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at 0 and n successes the bound is exactly 0 or 1; the formula only gets there up to rounding
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def _check_config(c: AgreementConfig) -> AgreementConfig:
    for name in ("hidden", "train_size", "test_size", "epochs", "batch_size", "seeds"):
        _checks.positive_int(name, getattr(c, name))
    _checks.integer("seed", c.seed, 0)
    _checks.positive_real("lr", c.lr)
    _checks.positive_real("clip_norm", c.clip_norm)
    _checks.real("attractor_prob", c.attractor_prob, low=0.0, high=1.0, what="a probability")
    if not c.distances:
        raise ValueError("distances: expected at least one training distance, got none")
    for d in c.distances:
        _checks.integer("distances", d, 1, ag.MAX_DISTANCE // 2, rule=f"1 <= distance <= {ag.MAX_DISTANCE // 2}")
    if not c.cells:
        raise ValueError("cells: expected at least one of ('rnn', 'lstm', 'gru'), got none")
    for b in c.forget_biases:
        _checks.real("forget_biases", b)
    for init in c.rnn_inits:
        _checks.choice("rnn_inits", init, RNN_INITS)
    found = variants(c)
    if not found:
        raise ValueError("cells: with no forget bias and no RNN initialisation there is nothing to train")
    keys = [v.key for v in found]
    if len(set(keys)) != len(keys):
        raise ValueError(f"cells, forget_biases, rnn_inits: each model once, got {keys}")
    return dataclasses.replace(c, distances=tuple(sorted(set(c.distances))))


@dataclass
class AgreementResult:
    """What :func:`agreement_experiment` measured.

    Attributes
    ----------
    config : AgreementConfig
    records : list of dict
        One per trained model and test distance: ``cell``, ``forget_bias``
        (None but for the LSTM), ``rnn_init`` (None but for the RNN), ``variant``
        (its key), ``train_distance``, ``test_distance``, ``seed``, ``accuracy``
        (on ``config.test_size`` new sentences, at the verb).
    last_noun : dict of int to float
        The "last noun before the verb" baseline (no model) at each test distance.
    chance : float
        0.5: the classes are balanced.
    seconds : dict of str to float
        Training time per variant, every seed and distance.
    """

    config: AgreementConfig
    records: list[dict[str, Any]]
    last_noun: dict[int, float]
    chance: float
    seconds: dict[str, float]
    models: dict[tuple[str, int], SequenceModel] = field(default_factory=dict, repr=False)

    @property
    def variants(self) -> list[Variant]:
        return variants(self.config)

    def accuracies(self, variant: str, train_distance: int, test_distance: int | None = None) -> np.ndarray:
        """Every seed's accuracy (seed order) of ``variant`` (a key) trained at
        ``train_distance`` and tested at ``test_distance`` (default: the same)."""
        test = train_distance if test_distance is None else test_distance
        found = [
            r["accuracy"]
            for r in self.records
            if r["variant"] == variant and r["train_distance"] == train_distance and r["test_distance"] == test
        ]
        if not found:
            raise KeyError(f"no results for {variant!r} trained at {train_distance}, tested at {test}")
        return np.array(found)

    def median(self, variant: str, train_distance: int, test_distance: int | None = None) -> float:
        return float(np.median(self.accuracies(variant, train_distance, test_distance)))

    def solved(self, variant: str, train_distance: int, test_distance: int | None = None) -> tuple[int, int]:
        """(seeds at >= 95 %, seeds)."""
        acc = self.accuracies(variant, train_distance, test_distance)
        return int((acc >= SOLVED).sum()), len(acc)

    def summary_rows(self) -> list[dict[str, Any]]:
        """Per variant, training and test distance: median, share of seeds solved and its
        95 % Wilson interval, worst and best seed."""
        rows = []
        for v in self.variants:
            for d in self.config.distances:
                for t in evaluation_distances(d):
                    acc = self.accuracies(v.key, d, t)
                    k = int((acc >= SOLVED).sum())
                    lo, hi = wilson_interval(k, len(acc))
                    rows.append(
                        {
                            "variant": v.key,
                            "label": v.label,
                            "train_distance": d,
                            "test_distance": t,
                            "seeds": len(acc),
                            "median": float(np.median(acc)),
                            "solved": k,
                            "solved_share": k / len(acc),
                            "solved_ci95": [lo, hi],
                            "min": float(acc.min()),
                            "max": float(acc.max()),
                        }
                    )
        return rows

    def table(self) -> str:
        """Median accuracy over seeds by training distance d, tested at d, d+1 and 2d, and
        the seeds reaching 95 % at d; then the last-noun baseline and chance."""
        ds = self.config.distances
        rows: list[tuple[str, list[str]]] = [("trained at distance d", [f"d={d}: d / d+1 / 2d" for d in ds])]
        for v in self.variants:
            cells_ = []
            for d in ds:
                k, n = self.solved(v.key, d)
                cells_.append(
                    " / ".join(f"{self.median(v.key, d, t):.2f}" for t in evaluation_distances(d)) + f" ({k}/{n})"
                )
            rows.append((v.label, cells_))
        rows.append(
            (
                "baseline: last noun",
                [" / ".join(f"{self.last_noun[t]:.2f}" for t in evaluation_distances(d)) for d in ds],
            )
        )
        rows.append(("chance", [f"{self.chance:.2f}" for _ in ds]))
        first = max(len(label) for label, _ in rows) + 2
        width = max(len(c) for _, cols in rows for c in cols) + 3
        return "\n".join(f"{label:<{first}}" + "".join(f"{c:<{width}}" for c in cols).rstrip() for label, cols in rows)

    def lecture_holds(self) -> dict[str, bool]:
        """The lecture's picture, checked on the medians: at the longest distance the
        vanilla RNN (PyTorch's start) near chance (<= 0.65) and every LSTM with a
        positive forget bias >= 0.95; at the shortest both >= 0.9. Keys name each check;
        variants not in the run are left out."""
        near, far = min(self.config.distances), max(self.config.distances)
        keys = {v.key for v in self.variants}
        checks: dict[str, bool] = {}
        if "rnn" in keys:
            checks[f"rnn median at {far} <= 0.65"] = self.median("rnn", far) <= 0.65
            checks[f"rnn median at {near} >= 0.9"] = self.median("rnn", near) >= 0.9
        for v in self.variants:
            if v.forget_bias is not None and v.forget_bias > 0:
                checks[f"{v.key} median at {far} >= 0.95"] = self.median(v.key, far) >= 0.95
                checks[f"{v.key} median at {near} >= 0.9"] = self.median(v.key, near) >= 0.9
        return checks

    def conclusion(self) -> list[str]:
        """What the numbers say at the shortest and the longest training distance,
        computed from them (each line names the medians it rests on)."""
        near, far = min(self.config.distances), max(self.config.distances)
        lines = []
        for v in self.variants:
            k, n = self.solved(v.key, far)
            lo, hi = wilson_interval(k, n)
            beyond = self.median(v.key, far, 2 * far)
            lines.append(
                f"{v.label}: median {self.median(v.key, near):.2f} at distance {near}, "
                f"{self.median(v.key, far):.2f} at {far} ({k}/{n} seeds >= {SOLVED:.0%}, 95% CI "
                f"{lo:.2f}-{hi:.2f}); trained at {far}, tested at {2 * far}: {beyond:.2f}"
            )
        return lines

    def summary(self) -> str:
        c = self.config
        total = sum(self.seconds.values())
        return "\n".join(
            [
                f"one model per distance and seed: {c.train_size} sentences ({c.language}) with exactly d words "
                f"between subject and verb, attractor probability {c.attractor_prob:g}; loss at the verb only",
                f"every model: hidden {c.hidden}, {c.epochs} epochs, batch {c.batch_size}, Adam lr {c.lr:g}, "
                f"clip {c.clip_norm:g}; seeds {c.seed}..{c.seed + c.seeds - 1}; tests: {c.test_size} new "
                f"sentences at d, d+1 and 2d",
                f"training time: {total:.0f} s for {len(self.variants) * len(c.distances) * c.seeds} models",
                "",
                "median accuracy over seeds at the verb, tested at d / d+1 / 2d (seeds >= 95% at d):",
                self.table(),
                "",
                *self.conclusion(),
                "",
                self.verdict(),
            ]
        )

    def verdict(self) -> str:
        """One line: does the run show the lecture's picture (see :meth:`lecture_holds`)?"""
        checks = self.lecture_holds()
        if not checks:
            return "lecture's picture: not checked (needs the vanilla RNN or an LSTM with a positive forget bias)"
        failed = [name for name, ok in checks.items() if not ok]
        if not failed:
            return "lecture's picture: shown (" + "; ".join(checks) + ")"
        return "lecture's picture: NOT shown by this run; failed: " + "; ".join(failed)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> AgreementResult:
        """The result a ``--json`` document was written from (without the models), e.g. to
        draw it again; ``ValueError`` naming what is missing or malformed."""
        try:
            fields: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v
                for k, v in document["config"].items()
                if k in {f.name for f in dataclasses.fields(AgreementConfig)}
            }
            config = AgreementConfig(**fields)
            records = [dict(r) for r in document["results"]]
            last_noun = {int(d): float(v) for d, v in document["baselines"]["last_noun"].items()}
            chance = float(document["baselines"]["chance"])
            seconds = {str(k): float(v) for k, v in document.get("training_seconds", {}).items()}
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise ValueError(f"document: not an agreement --json document ({type(err).__name__}: {err})") from None
        config = _check_config(config)
        result = cls(config=config, records=records, last_noun=last_noun, chance=chance, seconds=seconds)
        for v in result.variants:  # every model of the configuration must be there
            for d in config.distances:
                for t in evaluation_distances(d):
                    if len(result.accuracies(v.key, d, t)) != config.seeds:
                        raise ValueError(f"document: {v.key} at {d}/{t} has not {config.seeds} seeds")
        return result

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: ``results`` (one record per model and test distance)
        and, as extra keys, the configuration, the baselines and the summary rows."""
        return {
            "results": [dict(r) for r in self.records],
            "config": dataclasses.asdict(self.config),
            "baselines": {
                "last_noun": {str(d): v for d, v in sorted(self.last_noun.items())},
                "chance": self.chance,
            },
            "summary": self.summary_rows(),
            "solved_threshold": SOLVED,
            "lecture_holds": self.lecture_holds(),
            "training_seconds": self.seconds,
        }


def _recurrent_start(model: SequenceModel, variant: Variant, seed: int) -> None:
    """Replace the RNN's W_aa by an orthogonal or identity matrix (same for every distance of a seed)."""
    if variant.rnn_init in (None, "pytorch"):
        return
    w = model.parameters()[f"{variant.cell}.weight_hh_l0"]
    H = w.shape[0]
    if variant.rnn_init == "identity":
        w[:] = np.eye(H)
        return
    # Haar-distributed: QR of a Gaussian matrix with R's diagonal made positive
    q, r = np.linalg.qr(np.random.default_rng([seed, 2]).standard_normal((H, H)))
    w[:] = q * np.sign(np.diag(r))


def _verb_mask(data: ag.AgreementData) -> np.ndarray:
    """Mask of the verb position only."""
    mask = np.zeros_like(data.mask)
    mask[data.verb_positions, np.arange(data.mask.shape[1])] = 1.0
    return mask


@contextlib.contextmanager
def _threads_for(hidden: int) -> Iterator[None]:
    """Kernel threads while the experiment trains (see :data:`_ONE_THREAD_BELOW`)."""
    previous = get_num_threads()
    if hidden < _ONE_THREAD_BELOW:
        set_num_threads(1)
    try:
        yield
    finally:
        set_num_threads(previous)


def train_model(
    config: AgreementConfig, variant: Variant, distance: int, seed: int, train: ag.AgreementData | None = None
) -> SequenceModel:
    """One model of the experiment: ``variant`` trained at ``distance`` with ``seed``
    (data, initialisation, batch order) on the budget of ``config``."""
    c = config
    if train is None:
        train = _train_data(c, distance, seed)
    model = SequenceModel(
        train.x.shape[2],
        c.hidden,
        cell=variant.cell,
        forget_bias=variant.forget_bias,
        output="per_step",
        task="binary",
        seed=seed,
    )
    _recurrent_start(model, variant, seed)
    fit_on_sentences(model, train, c.epochs, c.batch_size, c.lr, c.clip_norm, seed)
    return model


def fit_on_sentences(
    model: SequenceModel, train: ag.AgreementData, epochs: int, batch_size: int, lr: float, clip_norm: float, seed: int
) -> None:
    """How every agreement model trains: Adam, clipped gradients, the loss at every
    word of the sentence (the mask), batches shuffled with ``seed``."""
    model.fit(
        train.x,
        train.targets,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=Adam(lr),
        clip_norm=clip_norm,
        mask=train.mask,
        seed=seed,
        progress=False,
    )


def _train_data(c: AgreementConfig, distance: int, seed: int) -> ag.AgreementData:
    return ag.dataset(
        c.train_size,
        distance,
        attractor_prob=c.attractor_prob,
        seed=np.random.SeedSequence([seed, distance]),
        language=c.language,
    )


def _test_sets(c: AgreementConfig) -> dict[int, ag.AgreementData]:
    """The test sentences of every test distance: drawn once, from their own stream,
    the same for every model."""
    test_seed = int(np.random.SeedSequence([c.seed, 1]).generate_state(1)[0])
    wanted = sorted({t for d in c.distances for t in evaluation_distances(d)})
    return {
        t: ag.dataset(c.test_size, t, attractor_prob=c.attractor_prob, seed=test_seed + t, language=c.language)
        for t in wanted
    }


def _scores(model: SequenceModel, distance: int, tests: dict[int, ag.AgreementData]) -> list[float]:
    """Accuracy at the verb at d, d+1 and 2d."""
    return [
        model.evaluate(tests[t].x, tests[t].targets, _verb_mask(tests[t]))["accuracy"]
        for t in evaluation_distances(distance)
    ]


def train_and_score(config: AgreementConfig, variant: Variant, distance: int, seed: int) -> tuple[list[float], float]:
    """One cell of the experiment's grid, on its own (a Dask task): the accuracies at
    d, d+1 and 2d and the training seconds. The same numbers as the serial loop
    (the same sentences, initialisation and batch order)."""
    tests = {t: data for t, data in _test_sets(config).items() if t in evaluation_distances(distance)}
    with _threads_for(config.hidden):
        start = time.perf_counter()
        model = train_model(config, variant, distance, seed)
        seconds = time.perf_counter() - start
    return _scores(model, distance, tests), seconds


def agreement_experiment(
    config: AgreementConfig | None = None,
    *,
    keep_models: bool = False,
    progress: Any = None,
    scheduler: Any = None,
    workers: int = 2,
    **overrides: Any,
) -> AgreementResult:
    """Train every variant at every distance with every seed; test at d, d+1 and 2d.

    Parameters
    ----------
    config : AgreementConfig, optional
        Default :data:`QUICK`; keyword ``overrides`` replace single fields
        (e.g. ``seeds=10``).
    keep_models : bool
        Keep the models of the first seed in ``result.models[(variant key, distance)]``
        (not with ``scheduler``: the models stay on the workers).
    progress : callable(str), optional
        Called with a line after each model (e.g. ``print``).
    scheduler : None, "local", a scheduler address or a ``distributed.Client``
        None: train here, one model after another; else every model is a Dask task
        (:func:`lstmfast.dask.fan_out`), with the same results.
    workers : int
        Worker processes of ``scheduler="local"``.

    Returns
    -------
    AgreementResult

    Notes
    -----
    Seed s draws the training sentences of distance d from ``SeedSequence([s, d])``
    and seeds the initialisation and the batch order with s: at a given seed and
    distance every variant sees the same sentences in the same order. The test
    sentences of each test distance are drawn once, from a separate stream, and
    are the same for every model.
    """
    c = _check_config(dataclasses.replace(config or QUICK, **overrides))
    found = variants(c)
    tests = _test_sets(c)
    wanted = sorted(tests)
    grid = [(seed, d, v) for seed in range(c.seed, c.seed + c.seeds) for d in c.distances for v in found]
    records: list[dict[str, Any]] = []
    seconds = dict.fromkeys((v.key for v in found), 0.0)
    models: dict[tuple[str, int], SequenceModel] = {}

    def record(seed: int, d: int, v: Variant, scores: list[float], spent: float) -> None:
        seconds[v.key] += spent
        for t, acc in zip(evaluation_distances(d), scores):
            records.append(
                {
                    "cell": v.cell,
                    "forget_bias": v.forget_bias,
                    "train_distance": d,
                    "test_distance": t,
                    "seed": seed,
                    "accuracy": acc,
                    "variant": v.key,
                    "rnn_init": v.rnn_init,
                }
            )
        if progress is not None:
            progress(
                f"  seed {seed}, distance {d:>3}: {v.label:<28} "
                + " ".join(f"{s:.2f}" for s in scores)
                + " (at d, d+1, 2d)"
            )

    if scheduler is not None:
        if keep_models:
            raise ValueError("keep_models: not with scheduler (the models stay on the workers)")
        from ..integrations.dask import fan_out

        tasks = {(seed, d, v.key): {"config": c, "variant": v, "distance": d, "seed": seed} for seed, d, v in grid}
        spread = fan_out(train_and_score, tasks, seed=None, scheduler=scheduler, workers=workers)
        for seed, d, v in grid:
            record(seed, d, v, *spread[(seed, d, v.key)])
    else:
        with _threads_for(c.hidden):
            train = None
            for seed, d, v in grid:
                if v is found[0]:  # every variant of a seed and distance trains on the same sentences
                    train = _train_data(c, d, seed)
                start = time.perf_counter()
                model = train_model(c, v, d, seed, train)
                spent = time.perf_counter() - start
                record(seed, d, v, _scores(model, d, tests), spent)
                if keep_models and seed == c.seed:
                    models[(v.key, d)] = model
    last_noun = {t: ag.last_noun_baseline(tests[t].sentences) for t in wanted}
    chance = float(np.mean([ag.chance_accuracy(tests[t].numbers) for t in wanted]))
    return AgreementResult(
        config=c, records=records, last_noun=last_noun, chance=chance, seconds=seconds, models=models
    )
