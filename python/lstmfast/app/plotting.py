"""Pictures of the experiments (optional: needs matplotlib, ``pip install "lstmfast[plot]"``).

matplotlib is imported here only, and only when a picture is drawn; the rest of
lstmfast never needs it. Figures are drawn with matplotlib's object API (no
pyplot, no GUI backend) and written to a file whose extension picks the format.

* :func:`plot_forecast`: the series, the cuts, and the forecasts against the actual values;
* :func:`plot_lr_sweep`: the training loss against the learning rate;
* :func:`plot_agreement`: every seed's accuracy by training distance (tested at, just
  beyond and twice beyond it) and the share of seeds that solve each distance;
* :func:`plot_cell`: the LSTM cell in the course's notation, drawn from the graph
  of operations the tests run against the package's LSTM;
* :func:`plot_gradients`: gradient norms of a<t> and c<t> by steps back from the loss,
  log scale: at initialisation, exploding, the constant error carousel, trained.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

__all__ = [
    "INSTALL_HINT",
    "MatplotlibMissing",
    "PlotError",
    "check_plot_path",
    "plot_agreement",
    "plot_cell",
    "plot_forecast",
    "plot_gradients",
    "plot_lr_sweep",
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
    """The whole series with the cuts (and the forecasts past the end, if any), then each
    scored period: actual vs every method, one step ahead.

    ``result`` is a :class:`lstmfast.app.forecast_experiment.ForecastResult`.
    """
    periods = [p for p in (result.validation, result.test) if p is not None]
    fig = _figure(10, 3.2 * (1 + len(periods)))
    axes = fig.subplots(1 + len(periods), 1)
    top = axes[0]
    s = result.series
    time = s.time
    top.plot(time, s.values, color="0.4", lw=0.8, label="series")
    top.axvline(time[result.split_time], color="k", ls=":", lw=1)
    cuts = f"split at {time[result.split_time]}"
    if result.test_time is not None:
        top.axvline(time[result.test_time], color="k", ls="--", lw=1)
        cuts += f", test from {time[result.test_time]}"
    if result.future is not None:
        top.plot(
            result.future_time, result.future, color="tab:blue", lw=1.4, label=f"{result.model_name}, past the end"
        )
        top.legend(fontsize=8)
    top.set_title(f"{s.name}: {cuts}")
    top.set_ylabel("value")
    for ax, scored in zip(axes[1:], periods):
        end = scored.start + len(scored.actual)
        t = time[scored.start : end]
        ax.plot(t, scored.actual, color="k", lw=1.6, label="actual")
        for k, (name, values) in enumerate(scored.forecasts.items()):
            style = {"color": "tab:blue", "lw": 1.6} if k == 0 else {"lw": 1, "ls": "--"}
            ax.plot(t, values, label=f"{name}: MAE {scored.mae(name):.3g}", **style)
        ax.set_title(f"{scored.period} period, one step ahead")
        ax.set_xlabel(s.time_label)
        ax.set_ylabel("value")
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_lr_sweep(result: Any, path: str) -> str:
    """Training loss against the learning rate of its epoch, both on log scales.

    ``result`` is a :class:`lstmfast.app.forecast_experiment.LRSweep`.
    """
    fig = _figure(7, 4.5)
    ax = fig.subplots()
    ax.loglog(result.lrs, result.losses, "o-", ms=3, color="tab:blue")
    ax.axvline(result.best_lr, color="0.4", ls=":", lw=1)
    ax.text(result.best_lr, max(result.losses), f" lowest loss\n {result.best_lr:.0e}", va="top", fontsize=8)
    ax.axvline(result.suggested_lr, color="tab:green", ls="--", lw=1)
    ax.text(result.suggested_lr, min(result.losses), f"a tenth: {result.suggested_lr:.0e} ", ha="right", fontsize=8)
    if result.diverged_at is not None:
        ax.axvline(result.diverged_at, color="tab:red", lw=1)
        ax.text(result.diverged_at, max(result.losses), " diverged", color="tab:red", va="top", fontsize=8)
    ax.set_xlabel("learning rate (one per epoch)")
    ax.set_ylabel("training loss of the epoch")
    ax.set_title(f"learning-rate sweep: {result.config.model_name}, {result.config.loss} loss, Adam")
    return _save(fig, path)


_VARIANT_COLOURS = {
    "rnn": "tab:red",
    "rnn-orthogonal": "tab:orange",
    "rnn-identity": "tab:brown",
    "gru": "tab:green",
}


def _variant_colour(key: str, index: int) -> str:
    """Red-brown for the RNNs, blue-purple for the LSTMs by forget bias, green for the GRU."""
    if key in _VARIANT_COLOURS:
        return _VARIANT_COLOURS[key]
    if key.startswith("lstm"):
        return "tab:blue" if not key.endswith(("+0", "-0")) else "tab:purple"
    return f"C{index % 10}"


def plot_agreement(result: Any, path: str) -> str:
    """Every seed as a dot, the median as a bar: accuracy at the training distance d,
    one word further and twice as far; and the share of seeds reaching 95 % at d with
    its 95 % Wilson interval. The last-noun baseline (no model) is drawn as grey crosses.

    ``result`` is a :class:`lstmfast.app.agreement_experiment.AgreementResult`.
    """
    from .agreement_experiment import SOLVED, evaluation_distances, wilson_interval

    fig = _figure(12, 9.2)
    axes = fig.subplots(2, 2).ravel()
    ds = list(result.config.distances)
    found = result.variants
    n_var = len(found)
    spread = 0.8 / n_var  # each distance is one slot on the x axis, shared by the variants
    offsets = [(k - (n_var - 1) / 2) * spread for k in range(n_var)]
    jitter = np.random.default_rng(0)  # fixed: the same picture for the same results
    titles = ("tested at the training distance d", "tested one word further (d + 1)", "tested twice as far (2d)")
    for which, ax in enumerate(axes[:3]):
        for k, v in enumerate(found):
            colour = _variant_colour(v.key, k)
            for j, d in enumerate(ds):
                acc = result.accuracies(v.key, d, evaluation_distances(d)[which])
                x = j + offsets[k] + jitter.uniform(-0.25, 0.25, len(acc)) * spread
                ax.plot(x, acc, "o", ms=4, color=colour, alpha=0.7, mec="none", label=v.label if j == 0 else None)
                ax.plot(
                    [j + offsets[k] - 0.4 * spread, j + offsets[k] + 0.4 * spread],
                    [np.median(acc)] * 2,
                    "-",
                    color=colour,
                    lw=2.5,
                )
        baseline = [result.last_noun[evaluation_distances(d)[which]] for d in ds]
        ax.plot(range(len(ds)), baseline, "x--", color="0.45", lw=1, label="baseline: last noun (no model)")
        ax.axhline(result.chance, color="0.5", ls=":", lw=1, label="chance")
        ax.set_xticks(range(len(ds)))
        labels = [f"{d}\n(tested at {evaluation_distances(d)[which]})" if which else str(d) for d in ds]
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_xlim(-0.6, len(ds) - 0.4)
        ax.set_ylim(-0.03, 1.05)
        ax.set_xlabel("training distance d (words between subject and verb)")
        ax.set_ylabel("accuracy at the verb")
        ax.set_title(titles[which] + " - dot: one seed, bar: median", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), fontsize=8)

    ax = axes[3]
    for k, v in enumerate(found):
        colour = _variant_colour(v.key, k)
        shares, low, high = [], [], []
        for d in ds:
            hits, n = result.solved(v.key, d)
            lo, hi = wilson_interval(hits, n)
            shares.append(hits / n)
            low.append(max(0.0, hits / n - lo))
            high.append(max(0.0, hi - hits / n))
        ax.errorbar(
            np.arange(len(ds)) + offsets[k], shares, yerr=[low, high], fmt="o", color=colour, capsize=3, label=v.label
        )
    ax.set_xticks(range(len(ds)))
    ax.set_xticklabels([str(d) for d in ds], fontsize=8)
    ax.set_xlim(-0.6, len(ds) - 0.4)
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel("training distance d")
    ax.set_ylabel(f"share of seeds >= {SOLVED:.0%} at d")
    ax.set_title(f"seeds that solve d ({result.config.seeds} per point; bars: 95% Wilson interval)", fontsize=10)
    fig.suptitle(
        f"'The cat(s) ... was/were': one model per distance, hidden {result.config.hidden}, "
        f"{result.config.train_size} sentences, {result.config.epochs} epochs",
        fontsize=11,
    )
    return _save(fig, path)


def plot_gradients(result: Any, path: str) -> str:
    """Relative |dL/da<t>| (solid) and |dL/dc<t>| (dashed) by steps back from the loss, log
    scale: at initialisation; exploding and the constant error carousel; after training.

    ``result`` is a :class:`lstmfast.app.gradient_experiment.GradientResult`.
    """
    panels = [
        ("at initialisation", [c for c in result.curves if c.variant == "standard" and not c.trained]),
        ("exploding, and the constant error carousel", [c for c in result.curves if c.variant != "standard"]),
        ("after training", [c for c in result.curves if c.trained]),
    ]
    panels = [(title, chosen) for title, chosen in panels if chosen]
    fig = _figure(5.2 * len(panels), 5.2)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    tiny = np.finfo(np.float64).tiny  # zeros cannot be drawn on a log scale: floor them
    smallest = min(float(np.min(c.relative[c.relative > 0])) for c in result.curves if np.any(c.relative > 0))
    floor = max(1e-100, min(1e-30, smallest / 10))  # every curve in view, down to 1e-100
    labels = sorted({c.label for c in result.curves if c.variant == "standard"}, key=_curve_order)
    colours = {label: _gradient_colour(label, k) for k, label in enumerate(labels)}
    for ax, (title, chosen) in zip(axes, panels):
        for c in chosen:
            steps_back = np.arange(len(c.norms))[::-1]
            colour = colours.get(c.label, "black" if c.variant == "carousel" else "tab:pink")
            name = f"{c.label}: dL/d{c.state}"
            if c.probe_accuracy is not None and c.state == "a":
                name += f" (right {c.probe_accuracy:.0%})"
            ax.semilogy(
                steps_back, np.maximum(c.relative, tiny), ls="-" if c.state == "a" else "--", color=colour, label=name
            )
        ax.axvline(result.subject_steps, color="0.4", ls=":", lw=1)
        ax.text(result.subject_steps, floor * 10, " subject", rotation=90, va="bottom", ha="right", fontsize=8)
        if title.startswith("exploding"):
            k = result.clipping
            ax.text(
                0.02,
                0.5,
                f"clipping: the parameters' gradient norm {k['gradient_norm']:.1e}\nis cut to "
                f"{result.config.clip_norm:g}; the update keeps its direction,\nthe flow drawn here is unchanged",
                transform=ax.transAxes,
                fontsize=8,
                color="0.25",
            )
        ax.axhline(1.0, color="0.6", lw=0.8)
        ax.set_ylim(floor, 1e12)
        ax.set_xlabel("steps back from the loss (at the verb)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=6.5, loc="lower left")
    axes[0].set_ylabel("gradient norm / its value at the loss")
    fig.suptitle(
        f"Gradient flow through {result.config.length} steps (hidden {result.config.hidden}): "
        "solid dL/da<t>, dashed dL/dc<t> (LSTM cell state)",
        fontsize=11,
    )
    return _save(fig, path)


def _curve_order(label: str) -> tuple[int, str]:
    return (0 if label.startswith("vanilla") else 1 if label.startswith("LSTM") else 2, label)


def _gradient_colour(label: str, index: int) -> str:
    if label.startswith("vanilla"):
        return "tab:red"
    if label.startswith("GRU"):
        return "tab:green"
    shades = ("tab:purple", "tab:cyan", "tab:blue", "navy", "tab:olive")
    return shades[(index - 1) % len(shades)]


def plot_cell(path: str, graph: Any = None) -> str:
    """The LSTM cell in the course's notation, drawn from
    :data:`lstmfast.teaching.cell_graph.LSTM_GRAPH` (the graph the tests run against
    the package's LSTM): gates as boxes (σ or tanh, with PyTorch's gate name),
    pointwise operations as circles, the cell state c along the top, the hidden
    state a along the bottom."""
    from matplotlib.patches import Circle, FancyBboxPatch

    from ..teaching.cell_graph import LSTM_GRAPH

    graph = graph or LSTM_GRAPH
    fig = _figure(9.5, 5.6)
    ax = fig.subplots()
    ax.set_xlim(-1.0, 11.0)
    ax.set_ylim(-1.6, 5.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.add_patch(FancyBboxPatch((0.8, -0.2), 8.2, 4.9, boxstyle="round,pad=0.1", fc="0.97", ec="0.6", lw=1))
    cell_path = {"c<t-1>", "Γf * c<t-1>", "Γu * c~<t>", "c<t> sum"}  # drawn in blue: the memory's way
    half = {"gate": 0.42, "mul": 0.22, "add": 0.22, "tanh": 0.32, "concat": 0.06, "input": 0.0, "output": 0.0}

    def border(node: Any, towards: tuple[float, float]) -> tuple[float, float]:
        """Where an edge meets ``node``: its outline, on the side facing ``towards``."""
        x, y = node.xy
        r = half[node.op]
        dx, dy = towards[0] - x, towards[1] - y
        if abs(dx) >= abs(dy):
            return (x + r * np.sign(dx), y)
        return (x, y + r * np.sign(dy))

    for source, target in graph.edges():
        (x0, y0), (x1, y1) = source.xy, target.xy
        corner: tuple[float, float] | None = None
        if x0 != x1 and y0 != y1:  # an elbow: across then up/down, or the other way round
            corner = (x1, y0) if target.route == "hv" else (x0, y1)
        start = border(source, corner or target.xy)
        end = border(target, corner or source.xy)
        points = [start, *([corner] if corner else []), end]
        colour = "tab:blue" if source.name in cell_path else "0.25"
        for a, b in zip(points[:-2], points[1:-1]):
            ax.plot([a[0], b[0]], [a[1], b[1]], color=colour, lw=1.6, solid_capstyle="round")
        ax.annotate("", xy=points[-1], xytext=points[-2], arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.6})

    for n in graph.nodes:
        x, y = n.xy
        if n.op == "gate":
            fill = "#fde9a9" if n.activation == "σ" else "#c9e4f6"
            ax.add_patch(
                FancyBboxPatch(
                    (x - 0.42, y - 0.42), 0.84, 0.84, boxstyle="round,pad=0.02", fc=fill, ec="0.3", lw=1.2, zorder=3
                )
            )
            ax.text(x, y + 0.1, _math(n.name), ha="center", va="center", fontsize=14, zorder=4)
            ax.text(x, y - 0.22, n.activation, ha="center", va="center", fontsize=9, color="0.3", zorder=4)
            ax.text(x + 0.48, y - 0.5, n.pytorch, ha="left", va="center", fontsize=8, color="tab:gray", style="italic")
        elif n.op in ("mul", "add", "tanh"):
            r = half[n.op]
            ax.add_patch(Circle((x, y), r, fc="white", ec="0.3", lw=1.2, zorder=3))
            ax.text(x, y, n.symbol, ha="center", va="center", fontsize=12 if n.op != "tanh" else 8, zorder=4)
        elif n.op == "concat":
            ax.plot([x], [y], "o", color="0.25", ms=4, zorder=3)
        else:
            side = {"input": "right", "output": "left"}[n.op]
            ha = "right" if side == "right" else "left"
            dx = -0.08 if n.op == "input" else 0.08
            if n.op == "input" and n.name == "x<t>":
                ax.text(x, y - 0.12, _math(n.name), ha="center", va="top", fontsize=15)
            else:
                ax.text(x + dx, y, _math(n.name), ha=ha, va="center", fontsize=15)
    equations = [
        f"{_math(n.name)} = {_math_expression(graph.expression(n.name))}" for n in graph.nodes if n.op == "output"
    ]
    ax.text(5.0, -1.4, "        ".join(equations), ha="center", va="center", fontsize=11, color="0.15")
    ax.text(
        10.9,
        -0.9,
        "yellow: σ, a gate in [0, 1]\nblue: tanh\nitalic: PyTorch's gate",
        ha="right",
        va="center",
        fontsize=7.5,
        color="0.35",
    )
    ax.text(0.9, 4.95, graph.title + " (course notation)", ha="left", va="center", fontsize=10, color="0.3")
    return _save(fig, path)


def _math(name: str) -> str:
    """A name in the course's notation as matplotlib mathtext: Γf -> Γ_f, c~<t> -> c̃^<t>."""
    gate = re.fullmatch(r"Γ(\w)", name)
    if gate:
        return rf"$\Gamma_{gate.group(1)}$"
    state = re.fullmatch(r"([a-z])(~?)<([^>]+)>", name)
    if state:
        base = rf"\tilde{{{state.group(1)}}}" if state.group(2) else state.group(1)
        return rf"${base}^{{\langle {state.group(3)} \rangle}}$"
    return name


def _math_expression(text: str) -> str:
    """Every course name inside an expression as mathtext, the operators as symbols."""
    parts = re.split(r"(Γ\w|[a-z]~?<[^>]+>)", text)
    return "".join(_math(p) if p and (p.startswith("Γ") or "<" in p) else p.replace(" * ", r" $\ast$ ") for p in parts)
