"""Pictures of the experiments (optional: needs matplotlib, ``pip install "lstmfast[plot]"``).

matplotlib is imported here only, and only when a picture is drawn; the rest of
lstmfast never needs it. Figures are drawn with matplotlib's object API (no
pyplot, no GUI backend) and written to a file whose extension picks the format.

* :func:`plot_forecast`: the series, the split, and the forecasts against the actual values;
* :func:`plot_agreement`: accuracy by distance for the RNN and the LSTM, and at the
  longest distance after each epoch;
* :func:`plot_gradients`: gradient norm by steps back from the loss, log scale.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = [
    "INSTALL_HINT",
    "MatplotlibMissing",
    "PlotError",
    "check_plot_path",
    "plot_agreement",
    "plot_forecast",
    "plot_gradients",
]

INSTALL_HINT = 'pip install "lstmfast[plot]"'
_COLOURS = {"rnn": "tab:red", "lstm": "tab:blue"}
_NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM"}


class PlotError(ValueError):
    """A picture cannot be written (bad path or format); one-line message."""


class MatplotlibMissing(PlotError, ImportError):
    """matplotlib is not installed."""


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MatplotlibMissing(f"--plot needs matplotlib, which is not installed: {INSTALL_HINT}") from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def check_plot_path(path: str) -> None:
    """Fail early, before any computation: matplotlib missing, an unknown file
    extension, or a directory that does not exist.

    Raises
    ------
    MatplotlibMissing, PlotError
    """
    fig = _figure(1, 1)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    formats = fig.canvas.get_supported_filetypes()
    if ext not in formats:
        raise PlotError(
            f"{path}: unknown picture format {('.' + ext) if ext else '(no extension)'}; "
            f"use one of {', '.join('.' + f for f in sorted(formats))}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise PlotError(f"{path}: the folder {folder} does not exist")


def _save(fig: Any, path: str) -> str:
    try:
        fig.savefig(path, dpi=130)
    except OSError as err:
        raise PlotError(f"{path}: cannot write the picture ({err.strerror or err})") from None
    return path


def plot_forecast(result: Any, path: str) -> str:
    """The whole series with the split, and the validation period: actual vs forecasts.

    ``result`` is a :class:`lstmfast.experiments.forecast.ForecastResult`.
    """
    fig = _figure(10, 6.5)
    top, bottom = fig.subplots(2, 1)
    s = result.series
    time = s.time
    top.plot(time, s.values, color="0.4", lw=0.8)
    top.axvline(time[result.split_time], color="k", ls=":", lw=1)
    top.set_title(f"{s.name}: training | validation (split at {time[result.split_time]})")
    top.set_ylabel("value")

    vt = result.valid_time
    bottom.plot(vt, result.actual, color="k", lw=1.6, label="actual")
    styles = {"LSTM": {"color": "tab:blue", "lw": 1.6}}
    for name, values in result.forecasts.items():
        mae = result.metrics[name]["MAE"]
        style = styles.get(name, {"lw": 1, "ls": "--"})
        bottom.plot(vt, values, label=f"{name}: MAE {mae:.3g}", **style)
    bottom.set_title("validation period, one step ahead")
    bottom.set_xlabel(s.time_label)
    bottom.set_ylabel("value")
    bottom.legend(fontsize=8)
    return _save(fig, path)


def plot_agreement(result: Any, path: str) -> str:
    """Accuracy by distance (mean over seeds, band = worst..best) and, at the longest
    distance, after each epoch (one line per seed).

    ``result`` is a :class:`lstmfast.experiments.agreement.AgreementResult`.
    """
    fig = _figure(11, 4.2)
    left, right = fig.subplots(1, 2)
    d = np.array(result.distances)
    for cell in ("rnn", "lstm"):
        acc = result.accuracy[cell]
        left.plot(d, acc.mean(axis=0), "o-", color=_COLOURS[cell], label=_NAMES[cell])
        if acc.shape[0] > 1:
            left.fill_between(d, acc.min(axis=0), acc.max(axis=0), color=_COLOURS[cell], alpha=0.15)
    left.plot(d, result.last_noun, "s--", color="tab:green", label="last-noun shortcut")
    left.axhline(result.chance, color="0.5", ls=":", label="chance")
    left.set_ylim(0.0, 1.05)
    left.set_xlabel("distance (words between subject and verb)")
    left.set_ylabel("accuracy at the verb")
    left.set_title("subject-verb agreement after training")
    left.legend(fontsize=8)

    epochs = np.arange(1, result.curves["rnn"].shape[1] + 1)
    for cell in ("rnn", "lstm"):
        for k, curve in enumerate(result.curves[cell]):
            right.plot(epochs, curve, "-", color=_COLOURS[cell], alpha=0.8, label=_NAMES[cell] if k == 0 else None)
    right.axhline(result.chance, color="0.5", ls=":")
    right.set_ylim(0.0, 1.05)
    right.set_xlabel("epoch")
    right.set_ylabel(f"accuracy at distance {max(result.distances)}")
    right.set_title("learning it (one line per seed)")
    right.legend(fontsize=8)
    return _save(fig, path)


def plot_gradients(result: Any, path: str) -> str:
    """|dL<verb>/da<t>| relative to the verb, by steps back, log scale.

    ``result`` is a :class:`lstmfast.experiments.gradients.GradientResult`.
    """
    fig = _figure(8, 4.8)
    ax = fig.subplots()
    for (cell, stage), flow in result.flows.items():
        ax.semilogy(
            flow.distances,
            flow.relative,
            color=_COLOURS[cell],
            ls="-" if stage == "trained" else "--",
            label=f"{_NAMES[cell]}, {'after training' if stage == 'trained' else 'at initialisation'}",
        )
    ax.axvline(result.subject_distance, color="0.4", ls=":", lw=1)
    ax.text(result.subject_distance, 1.0, " subject", va="top", ha="right", fontsize=8, color="0.3")
    ax.set_xlabel("steps back from the verb")
    ax.set_ylabel("gradient norm, relative to the verb's")
    ax.set_title(f"vanishing gradients: sentences of {result.length} steps")
    ax.legend(fontsize=8)
    return _save(fig, path)
