r"""End-to-end forecasting, the course's weeks 1-4: split by time, fair baselines, a recurrent
model on windows, a learning-rate sweep, a test period, and forecasts past the end.

1. **Split by time** (:func:`lstmfast.datasets.timeseries.fixed_partition`): the first
   ``split_time`` values train, the next ones validate, and (with ``test``) the
   last ones are a test period touched once, at the end. Nothing crosses a cut.
2. **Normalise with the training period only**: ``z = (series − mean) / std``.
3. **Windows**: every ``window`` consecutive values and the value after them.
4. **Train** a recurrent forecaster (LSTM, GRU or vanilla RNN; optionally
   bidirectional) whose last hidden state feeds a linear head, with MSE or the
   Huber loss, Adam.
5. **Forecast the validation period one step ahead** from the ``window`` actual
   values before each time, exactly what the naive baseline gets.
6. **Fair baselines**, every parameter chosen on the *training* period by the
   criterion the model is trained with (its loss on the normalised values), over
   the same training times for every candidate: the naive forecast; the moving
   average, whose window search includes 1 (the naive forecast itself, so the
   search can never pick something worse than naive on the training period);
   for a series with a season, the seasonal naive forecast and the course's
   differencing (a moving average of the change over one season, plus the past
   smoothed), with its window and smoothing chosen the same way. A parameter
   given by hand is labelled "given".
7. **Test** (with ``test``): retrain the model on training + validation, choose
   the baselines' parameters again on that, and score everything on the test
   period.
8. **Past the end** (``horizon`` > 0): retrain on the whole series and forecast
   ``horizon`` steps after its last value, each step fed the forecasts before it.

:func:`lr_sweep` is the course's learning-rate sweep: one rate per epoch, growing
tenfold every few epochs; the loss against the rate shows where training is
fastest and where it breaks down.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _checks, cells
from ..datasets import timeseries as ts
from ..datasets.series import Series, SeriesError, builtin_series
from ..training.callbacks import Callback, LearningRateScheduler
from ..training.callbacks import lr_sweep as sweep_schedule
from ..training.model import SequenceModel
from ..training.optim import Adam

__all__ = [
    "LOSSES",
    "MIN_TRAIN_WINDOWS",
    "MIN_VALID",
    "ForecastConfig",
    "ForecastResult",
    "LRSweep",
    "Scored",
    "forecast",
    "lr_sweep",
    "minimum_length",
    "resolve_split",
]

#: A forecast needs at least this many training windows ...
MIN_TRAIN_WINDOWS = 10
#: ... and at least this many validation values.
MIN_VALID = 5
#: Training share of a series without a default split.
DEFAULT_TRAIN_FRACTION = 0.8
#: The losses a forecaster can train with.
LOSSES = ("mse", "huber")
#: Moving-average windows searched (1 is the naive forecast), capped by the data.
_MA_WINDOWS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50)
#: The differencing baseline's windows and smoothings searched.
_DIFF_WINDOWS = (1, 5, 10, 20, 30, 50, 100)
_DIFF_SMOOTHING = (1, 3, 5, 10, 20)


@dataclass(frozen=True)
class ForecastConfig:
    """The forecaster and its training. The defaults beat the baselines on the yearly
    sunspots (validation 1950–2008) for every seed tried (see ``tests/test_experiments.py``)."""

    window: int = 12
    hidden: int = 32
    epochs: int = 60
    lr: float = 1e-2
    batch_size: int = 16
    seed: int = 0
    cell: str = "lstm"
    bidirectional: bool = False
    loss: str = "mse"

    @property
    def model_name(self) -> str:
        kind = cells.get(self.cell)
        name = "vanilla RNN" if kind is cells.RNN else kind.title
        return ("bidirectional " if self.bidirectional else "") + name


@dataclass
class Scored:
    """Forecasts of one period and their scores."""

    period: str  # "validation" or "test"
    start: int  # first index of the period
    actual: np.ndarray
    forecasts: dict[str, np.ndarray]  # by method, the model first
    metrics: dict[str, dict[str, float | None]]
    choices: dict[str, str]  # how each baseline's parameter was set

    def mae(self, method: str) -> float:
        value = self.metrics[method]["MAE"]
        assert value is not None
        return value


@dataclass
class ForecastResult:
    """What :func:`forecast` measured.

    Attributes
    ----------
    series : Series
    split_time : int
        First index of the validation period.
    test_time : int or None
        First index of the test period.
    config : ForecastConfig
    validation : Scored
        One-step forecasts of the validation period (model trained on the training period).
    test : Scored or None
        One-step forecasts of the test period (model retrained on training + validation).
    future : numpy.ndarray or None
        ``horizon`` forecasts past the end (model retrained on the whole series).
    future_time : numpy.ndarray or None
        Their times.
    history : list of float
        Training loss per epoch of the first model.
    seconds : float
        Training and prediction time, every model.
    """

    series: Series
    split_time: int
    config: ForecastConfig
    validation: Scored
    test_time: int | None = None
    test: Scored | None = None
    future: np.ndarray | None = None
    future_time: np.ndarray | None = None
    history: list[float] = field(default_factory=list)
    seconds: float = 0.0

    # the validation period, as the picture and older callers read it
    @property
    def actual(self) -> np.ndarray:
        return self.validation.actual

    @property
    def forecasts(self) -> dict[str, np.ndarray]:
        return self.validation.forecasts

    @property
    def metrics(self) -> dict[str, dict[str, float | None]]:
        return self.validation.metrics

    @property
    def valid_time(self) -> np.ndarray:
        end = self.test_time if self.test_time is not None else len(self.series)
        return self.series.time[self.split_time : end]

    @property
    def model_name(self) -> str:
        return next(iter(self.validation.forecasts))

    def mae(self, method: str, period: str = "validation") -> float:
        scored = self.test if period == "test" else self.validation
        if scored is None:
            raise KeyError("period: no test period in this run (pass test=...)")
        return scored.mae(method)

    def baseline(self, prefix: str, period: str = "validation") -> str:
        """The full name of the first method whose name starts with ``prefix``."""
        scored = self.test if period == "test" else self.validation
        assert scored is not None
        return next(m for m in scored.forecasts if m.startswith(prefix))

    def beats_baselines(self, period: str = "validation") -> bool:
        """True if the model's MAE is below every baseline's in ``period``."""
        scored = self.test if period == "test" else self.validation
        assert scored is not None
        model = scored.mae(self.model_name)
        return all(model < scored.mae(m) for m in scored.forecasts if m != self.model_name)

    def periods(self) -> str:
        t = self.series.time
        n = len(t)
        end = self.test_time if self.test_time is not None else n
        text = (
            f"train {t[0]}..{t[self.split_time - 1]} ({self.split_time} values), "
            f"validation {t[self.split_time]}..{t[end - 1]} ({end - self.split_time} values)"
        )
        if self.test_time is not None:
            text += f", test {t[self.test_time]}..{t[n - 1]} ({n - self.test_time} values)"
        return text

    def table(self, period: str = "validation") -> str:
        """The metrics of every method in ``period``: MAE first, and how each baseline's
        parameter was set."""
        scored = self.test if period == "test" else self.validation
        assert scored is not None
        names = list(scored.forecasts)
        width = max(len(n) for n in names)
        cols = ("MAE", "RMSE", "MAPE %")
        lines = [f"{'':<{width}}  " + "  ".join(f"{c:>8}" for c in cols) + "  vs model (MAE)  parameter"]
        model = scored.mae(self.model_name)
        for name in names:
            m = scored.metrics[name]
            cells_ = [_num(m["MAE"]), _num(m["RMSE"]), _num(m["MAPE"])]
            ratio = "" if name == self.model_name else f"{scored.mae(name) / model:.2f}x"
            row = f"{name:<{width}}  " + "  ".join(f"{c:>8}" for c in cells_) + f"  {ratio:>15}"
            lines.append((row + f"  {scored.choices.get(name, '')}").rstrip())
        return "\n".join(lines)

    def summary(self) -> str:
        """A few lines: data, split, model, the tables, the verdicts."""
        c = self.config
        lines = [
            f"series: {self.series.description}",
            f"split by time: {self.periods()}; normalised with the training period's mean and std",
            f"{c.model_name}: window {c.window}, hidden {c.hidden}, {c.epochs} epochs, {c.loss} loss, Adam lr "
            f"{c.lr:g}, batch {c.batch_size}, seed {c.seed} ({self.seconds:.1f} s); baselines' parameters chosen "
            f"on the training period by the model's {c.loss} on the normalised values unless given",
            "",
            "validation period, one step ahead:",
            self.table(),
            "",
            f"validation: {self._verdict('validation')}",
        ]
        if self.test is not None:
            lines += [
                "",
                "test period, one step ahead (the model retrained on training + validation, the baselines' "
                "parameters chosen again on it):",
                self.table("test"),
                "",
                f"test: {self._verdict('test')}",
            ]
        if self.future is not None and self.future_time is not None:
            shown = [f"{t}: {v:.4g}" for t, v in zip(self.future_time[:12], self.future[:12])]
            more = f", ... ({len(self.future)} in all)" if len(self.future) > 12 else ""
            lines += [
                "",
                f"past the end ({c.model_name} retrained on the whole series, each step fed the forecasts "
                f"before it): " + ", ".join(shown) + more,
            ]
        return "\n".join(lines)

    def _verdict(self, period: str) -> str:
        scored = self.test if period == "test" else self.validation
        assert scored is not None
        best = min(scored.forecasts, key=scored.mae)
        if self.beats_baselines(period):
            return f"the {self.model_name} beats every baseline (MAE {scored.mae(self.model_name):.3g})"
        return (
            f"the {self.model_name} does NOT beat every baseline: best is {best} (MAE {scored.mae(best):.3g}, "
            f"model {scored.mae(self.model_name):.3g})"
        )


@dataclass
class LRSweep:
    """What :func:`lr_sweep` measured: one learning rate per epoch and the loss of that epoch."""

    lrs: list[float]
    losses: list[float]
    config: ForecastConfig
    diverged_at: float | None = None

    @property
    def best_lr(self) -> float:
        """The rate of the lowest loss."""
        return self.lrs[int(np.argmin(self.losses))]

    @property
    def suggested_lr(self) -> float:
        """A tenth of :attr:`best_lr`: a rule of thumb (the loss still falls steadily
        there), not a measurement; check it with a normal run."""
        return self.best_lr / 10

    def summary(self) -> str:
        c = self.config
        rows = [f"{'epoch':>5}  {'learning rate':>13}  {'loss':>10}"]
        rows += [f"{k + 1:>5}  {lr:>13.2e}  {loss:>10.4g}" for k, (lr, loss) in enumerate(zip(self.lrs, self.losses))]
        end = (
            f"training diverged at rate {self.diverged_at:.1e}; " if self.diverged_at is not None else "no divergence; "
        )
        return "\n".join(
            [
                f"learning-rate sweep: {c.model_name}, window {c.window}, hidden {c.hidden}, {c.loss} loss, Adam; "
                f"one rate per epoch, x10 every {self._every()} epochs",
                *rows,
                "",
                f"{end}lowest loss at {self.best_lr:.1e}; rule of thumb: about a tenth of it, {self.suggested_lr:.0e} "
                f"(try it: --lr {self.suggested_lr:.0e})",
            ]
        )

    def _every(self) -> int:
        if len(self.lrs) < 2:
            return 1
        return max(1, round(1 / math.log10(self.lrs[1] / self.lrs[0])))


def _model(config: ForecastConfig) -> SequenceModel:
    return SequenceModel(
        1,
        config.hidden,
        cell=config.cell,
        output="last",
        task="regression",
        loss=config.loss,
        bidirectional=config.bidirectional,
        seed=config.seed,
    )


# --------------------------------------------------------------------------- splits and checks


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"


def resolve_split(n: int, split: int | float | None, default: int | None = None, option: str = "--split") -> int:
    """The first validation (or test) index from ``split``: an index (int, negative
    counts from the end), a training fraction in (0, 1) (float), or None (``default``,
    else 80 %)."""
    if split is None:
        return default if default is not None else round(DEFAULT_TRAIN_FRACTION * n)
    if isinstance(split, float) and not split.is_integer():
        if not 0.0 < split < 1.0:
            raise SeriesError(f"{option}: expected an index or a training fraction in (0, 1), got {split}")
        return round(split * n)
    index = int(split)
    if index < 0:
        index += n  # like Python indexing: -60 = the last 60 values validate
    if not 1 <= index < n:
        raise SeriesError(f"{option}: expected an index in [1, {n - 1}] for a series of {n} values, got {split}")
    return index


def minimum_length(window: int, split: float | None = None) -> int:
    """The shortest series :func:`forecast` accepts with this window and a split given
    as a training fraction (None: 80 %). (With an index split the rule is simply
    ``split >= window + MIN_TRAIN_WINDOWS`` and ``len - split >= MIN_VALID``.)"""
    if split is not None and not 0.0 < split < 1.0:
        raise ValueError(f"split: expected None or a training fraction in (0, 1), got {split}")
    n = window + MIN_TRAIN_WINDOWS + MIN_VALID
    while True:  # ends: the training part grows with n, and so does the validation part
        s = resolve_split(n, split)
        if s >= window + MIN_TRAIN_WINDOWS and n - s >= MIN_VALID:
            return n
        n += 1


def _check_lengths(n: int, split_time: int, end: int, window: int, split_arg: int | float | None) -> None:
    need_train = window + MIN_TRAIN_WINDOWS
    if split_time >= need_train and end - split_time >= MIN_VALID:
        return
    if end == n and (split_arg is None or isinstance(split_arg, float)):
        need = minimum_length(window, split_arg)
        raise SeriesError(
            f"the series is too short: {n} values; with --window {window} at least {need} are "
            f"needed ({need_train} to train on, i.e. {MIN_TRAIN_WINDOWS} windows, and "
            f"{MIN_VALID} to validate)"
        )
    raise SeriesError(
        f"--split {split_arg}: the training period has {split_time} values and the validation "
        f"period {end - split_time}; with --window {window} they need at least {need_train} "
        f"({MIN_TRAIN_WINDOWS} windows) and {MIN_VALID}"
    )


def _metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        "MAE": ts.mae(actual, predicted),
        "RMSE": ts.rmse(actual, predicted),
        "MSE": ts.mse(actual, predicted),
    }
    out["MAPE"] = None if np.any(actual == 0) else ts.mape(actual, predicted)
    return out


def _check_config(config: ForecastConfig) -> ForecastConfig:
    for name in ("window", "hidden", "epochs", "batch_size"):
        if not isinstance(getattr(config, name), int) or getattr(config, name) < 1:
            raise SeriesError(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(config, name)}")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise SeriesError(f"--lr: expected a positive number, got {config.lr}")
    _checks.choice("loss", config.loss, LOSSES)
    _checks.flag("bidirectional", config.bidirectional)
    cells.get(config.cell)
    return config


def _as_series(series: Series | str | Any) -> Series:
    if isinstance(series, str):
        return builtin_series(series)
    if isinstance(series, Series):
        return series
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise SeriesError("series: expected a 1-D array of finite numbers")
    return Series("series", values, np.arange(len(values)), description=f"a series of {len(values)} values")


# --------------------------------------------------------------------------- baselines


Criterion = Callable[[np.ndarray, np.ndarray], float]


def _criterion(loss: str, scale: float) -> Criterion:
    """The model's training loss on the normalised values, as a score of forecasts."""
    if loss == "huber":

        def huber(actual: np.ndarray, predicted: np.ndarray) -> float:
            d = np.abs(predicted - actual) / scale
            return float(np.mean(np.where(d <= 1.0, 0.5 * d * d, d - 0.5)))

        return huber
    return lambda actual, predicted: float(np.mean(((predicted - actual) / scale) ** 2))


def _moving_average_at(values: np.ndarray, window: int, start: int, end: int) -> np.ndarray:
    """The moving-average forecasts of times start..end-1 (each the mean of the window before it)."""
    return ts.moving_average_forecast(values[:end], window)[start - window :] if end > window else np.empty(0)


def _choose(scores: dict[Any, float]) -> Any:
    """The candidate with the lowest score (the first of equals)."""
    return min(scores, key=lambda k: scores[k])


def _baselines(
    values: np.ndarray,
    fit_end: int,
    start: int,
    end: int,
    season: int | None,
    ma_window: int | None,
    criterion: Criterion,
    season_given: bool,
    fitted_on: str = "the training period",
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Forecasts of times start..end-1 by every baseline, their parameters chosen on
    times before ``fit_end`` (all candidates scored on the same times)."""
    past = values[:fit_end]
    forecasts: dict[str, np.ndarray] = {"naive (last value)": values[start - 1 : end - 1].copy()}
    choices = {"naive (last value)": "none"}

    if ma_window is None:
        windows = [w for w in _MA_WINDOWS if w <= fit_end // 2]
        first = max(windows)  # score every window on the same training times
        scores: dict[Any, float] = {
            w: criterion(past[first:], _moving_average_at(past, w, first, fit_end)) for w in windows
        }
        w = int(_choose(scores))
        how = f"window {w} best of {windows[0]}..{windows[-1]} on {fitted_on}"
    else:
        w = ma_window
        how = f"window {w}, given"
    name = f"moving average ({w} = naive)" if w == 1 else f"moving average ({w})"
    forecasts[name] = ts.moving_average_forecast(values[:end], w)[start - w :]
    choices[name] = how

    if season is not None and 1 < season <= start:
        name = f"seasonal naive ({season})"
        forecasts[name] = values[start - season : end - season].copy()
        choices[name] = f"season {season}, " + ("given" if season_given else "the series' known season")
        grid = [(w_, s_) for w_ in _DIFF_WINDOWS for s_ in _DIFF_SMOOTHING if s_ <= season]
        first = season + max(max(w_, s_ // 2) for w_, s_ in grid)
        if fit_end - first >= MIN_VALID:
            scores = {
                (w_, s_): criterion(past[first:], ts.differenced_forecast(past, first, season, w_, s_))
                for w_, s_ in grid
            }
            dw, ds = _choose(scores)
            name = f"differenced MA ({dw}) + past smoothed ({ds})"
            forecasts[name] = ts.differenced_forecast(values[:end], start, season, dw, ds)
            choices[name] = (
                f"season {season}; window {dw} and smoothing {ds} best of {_DIFF_WINDOWS[0]}..{_DIFF_WINDOWS[-1]} x "
                f"{_DIFF_SMOOTHING[0]}..{_DIFF_SMOOTHING[-1]} on {fitted_on}"
            )
    return forecasts, choices


# --------------------------------------------------------------------------- training and forecasting


def _normaliser(train: np.ndarray) -> tuple[float, float]:
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(train.mean()), float(train.std())
    if not (math.isfinite(mean) and math.isfinite(std)):
        peak = float(np.abs(train).max())
        raise SeriesError(
            f"the values are too large to normalise (up to {peak:.3g}); rescale the series, "
            f"e.g. divide it by a power of ten"
        )
    return mean, (std if std > 0 else 1.0)  # a constant training period: only shift


def _train(
    config: ForecastConfig, z: np.ndarray, callbacks: Any = None
) -> tuple[SequenceModel, dict[str, list[float]]]:
    X, y = ts.make_windows(z, config.window)
    model = _model(config)
    history = model.fit(
        X,
        y,
        epochs=config.epochs,
        batch_size=config.batch_size,
        optimizer=Adam(config.lr),
        seed=config.seed,
        progress=False,
        callbacks=callbacks,
    )
    return model, history


def _one_step(model: SequenceModel, z: np.ndarray, window: int, start: int, end: int) -> np.ndarray:
    """Forecasts of z[start:end], each from the ``window`` actual values before it."""
    windows = np.lib.stride_tricks.sliding_window_view(z[:end], window)[start - window : end - window]
    out: np.ndarray = model.predict(np.ascontiguousarray(windows.T)[:, :, None])[:, 0].astype(np.float64)
    return out


def _recursive(model: SequenceModel, z: np.ndarray, window: int, horizon: int) -> np.ndarray:
    """``horizon`` forecasts after the end of z, each step fed the forecasts before it."""
    history = list(z[-window:])
    out = []
    for _ in range(horizon):
        x = np.array(history[-window:], dtype=np.float32)[:, None, None]
        value = float(model.predict(x)[0, 0])
        out.append(value)
        history.append(value)
    return np.array(out)


def _future_time(time_values: np.ndarray, horizon: int) -> np.ndarray:
    """The times of ``horizon`` steps after the last, one step of the series' own size each."""
    step = time_values[-1] - time_values[-2]
    out: np.ndarray = time_values[-1] + step * np.arange(1, horizon + 1)
    return out


def _score_period(
    config: ForecastConfig,
    values: np.ndarray,
    fit_end: int,
    end: int,
    series: Series,
    period: str,
    ma_window: int | None,
    season: int | None,
    season_given: bool,
) -> tuple[Scored, dict[str, list[float]]]:
    """Train on values[:fit_end], forecast values[fit_end:end] one step ahead, with the baselines."""
    mean, std = _normaliser(values[:fit_end])
    z = (values - mean) / std
    model, history = _train(config, z[:fit_end])
    predicted = _one_step(model, z, config.window, fit_end, end) * std + mean
    criterion = _criterion(config.loss, std)
    fitted_on = "the training period" if period == "validation" else "training + validation"
    baselines, choices = _baselines(
        values, fit_end, fit_end, end, season, ma_window, criterion, season_given, fitted_on
    )
    if ma_window is not None and ma_window > fit_end:
        raise SeriesError(f"--ma-window: expected 1..{fit_end} (the training length), got {ma_window}")
    forecasts = {config.model_name: predicted, **baselines}
    actual = values[fit_end:end]
    metrics = {name: _metrics(actual, f) for name, f in forecasts.items()}
    return Scored(period, fit_end, actual, forecasts, metrics, {config.model_name: "trained", **choices}), history


def forecast(
    series: Series | str | Any,
    *,
    split: int | float | None = None,
    test: int | float | None = None,
    horizon: int = 0,
    config: ForecastConfig | None = None,
    ma_window: int | None = None,
    season: int | None = None,
    **overrides: Any,
) -> ForecastResult:
    """Train a recurrent forecaster and score it and the baselines (see the module docstring).

    Parameters
    ----------
    series : Series, a built-in name ("sunspots", "sunspots-monthly", "synthetic", "co2")
        or a 1-D array
    split : int, float or None
        First validation index, or the training fraction (float in (0, 1)); default:
        the series' own split (sunspots: 1950), else 80 %.
    test : int, float or None
        First test index, or the fraction before it; None: no test period.
    horizon : int
        Steps to forecast past the end of the series (0: none).
    config : ForecastConfig, optional
        Keyword ``overrides`` (e.g. ``epochs=10``, ``cell="gru"``) replace single fields.
    ma_window : int, optional
        The moving-average window; default: chosen on the training period (1 = naive included).
    season : int, optional
        Steps per season for the seasonal baselines; default: the series' own.

    Returns
    -------
    ForecastResult

    Raises
    ------
    SeriesError
        If the series is too short for the window and split (the message says the minimum).
    """
    series = _as_series(series)
    config = _check_config(dataclasses.replace(config or ForecastConfig(), **overrides))
    horizon = _checks.integer("horizon", horizon, 0, 100_000)
    values = series.values
    n = len(values)
    split_time = resolve_split(n, split, series.split_time)
    test_time = None if test is None else resolve_split(n, test, option="--test")
    if test_time is not None and test_time <= split_time + MIN_VALID - 1:
        raise SeriesError(
            f"--test: the test period must start at least {MIN_VALID} values after the split ({split_time}), "
            f"got {test_time}"
        )
    end = test_time if test_time is not None else n
    _check_lengths(n, split_time, end, config.window, split)
    if test_time is not None and n - test_time < MIN_VALID:
        raise SeriesError(f"--test: the test period needs at least {MIN_VALID} values, got {n - test_time}")
    season_given = season is not None
    season = season if season is not None else series.season

    start = time.perf_counter()
    validation, history = _score_period(
        config, values, split_time, end, series, "validation", ma_window, season, season_given
    )
    tested = None
    if test_time is not None:
        tested, _ = _score_period(config, values, test_time, n, series, "test", ma_window, season, season_given)
    future = future_time = None
    if horizon:
        mean, std = _normaliser(values)
        z = (values - mean) / std
        model, _ = _train(config, z)
        future = _recursive(model, z, config.window, horizon) * std + mean
        future_time = _future_time(series.time, horizon)
    return ForecastResult(
        series=series,
        split_time=split_time,
        config=config,
        validation=validation,
        test_time=test_time,
        test=tested,
        future=future,
        future_time=future_time,
        history=history["loss"],
        seconds=time.perf_counter() - start,
    )


class _Record(Callback):
    """Keeps every epoch's rate and loss, so that a sweep that diverges keeps what came before."""

    def __init__(self, out: LRSweep) -> None:
        self.out = out

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> None:
        self.out.lrs.append(float(logs["lr"]))
        self.out.losses.append(float(logs["loss"]))


def lr_sweep(
    series: Series | str | Any,
    *,
    split: int | float | None = None,
    config: ForecastConfig | None = None,
    start: float = 1e-5,
    every: int = 10,
    **overrides: Any,
) -> LRSweep:
    """The course's learning-rate sweep on the training period: epoch k trains with rate
    ``start · 10^(k / every)`` (the course: ``1e-8 · 10^(epoch / 20)`` for SGD; Adam's
    useful rates are higher, hence 1e-5), for ``config.epochs`` epochs or until the loss
    is no longer finite.

    Returns
    -------
    LRSweep
        The rate and the training loss of every epoch.
    """
    series = _as_series(series)
    config = _check_config(dataclasses.replace(config or ForecastConfig(), **overrides))
    start = _checks.positive_real("start", start)
    every = _checks.positive_int("every", every)
    n = len(series.values)
    split_time = resolve_split(n, split, series.split_time)
    _check_lengths(n, split_time, n, config.window, split)
    mean, std = _normaliser(series.values[:split_time])
    z = (series.values[:split_time] - mean) / std
    result = LRSweep([], [], config)
    schedule = LearningRateScheduler(sweep_schedule(start, 10.0, every))
    try:
        _train(config, z, callbacks=[schedule, _Record(result)])
    except FloatingPointError:
        result.diverged_at = start * 10 ** (len(result.losses) / every)
    if not result.losses:
        raise SeriesError(f"the first epoch already diverged at rate {start:g}: try a smaller start")
    return result
