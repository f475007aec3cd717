r"""End-to-end forecasting: an LSTM over windows predicts the next value, judged against baselines.

The recipe of the course, start to finish:

1. **Split by time** (:func:`lstmfast.timeseries.fixed_partition`): the first
   ``split_time`` values train, the rest validate. Nothing crosses the split.
2. **Normalise with the training period only**: ``z = (series − mean) / std`` with
   the mean and std of the training values, so nothing about the validation
   period leaks into the inputs.
3. **Windows**: every ``window`` consecutive training values and the value after
   them (:func:`lstmfast.timeseries.make_windows`); the windows are shuffled, the
   order inside each window never is.
4. **Train** an LSTM whose last hidden state feeds a linear head
   (``SequenceModel(output="last", task="regression")``, MSE, Adam).
5. **Forecast the validation period one step ahead**: the value at time t from
   the ``window`` actual values before t (the inputs may reach back into the
   training period; the targets never do), exactly what the naive baseline gets.
6. **Compare** on the validation period with the naive forecast (each value
   predicts the next), a moving average (its window picked on the *training*
   period, never on the validation period) and, when the series has a known
   season, the seasonal naive forecast.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..datasets import timeseries as ts
from ..datasets.series import Series, SeriesError, builtin_series
from ..training.model import SequenceModel
from ..training.optim import Adam

__all__ = [
    "MIN_TRAIN_WINDOWS",
    "MIN_VALID",
    "ForecastConfig",
    "ForecastResult",
    "forecast",
    "minimum_length",
    "resolve_split",
]

#: A forecast needs at least this many training windows ...
MIN_TRAIN_WINDOWS = 10
#: ... and at least this many validation values.
MIN_VALID = 5
#: Training share of a series without a default split.
DEFAULT_TRAIN_FRACTION = 0.8


@dataclass(frozen=True)
class ForecastConfig:
    """The LSTM and its training. The defaults beat both baselines on the sunspots
    (validation 1950–2008) for every seed tried (see ``tests/test_experiments.py``)."""

    window: int = 12
    hidden: int = 32
    epochs: int = 60
    lr: float = 1e-2
    batch_size: int = 16
    seed: int = 0


@dataclass
class ForecastResult:
    """What :func:`forecast` measured.

    Attributes
    ----------
    series : Series
    split_time : int
        First index of the validation period.
    config : ForecastConfig
    actual : numpy.ndarray
        The validation values.
    forecasts : dict of str to numpy.ndarray
        Validation-period forecasts by method, the LSTM first.
    metrics : dict of str to dict of str to float or None
        MAE, RMSE, MSE and MAPE (None where undefined: zeros in the actual values)
        of every method.
    ma_window : int
        The moving-average window (chosen on the training period).
    history : list of float
        Training loss (MSE on the normalised series) per epoch.
    seconds : float
        Training and prediction time.
    """

    series: Series
    split_time: int
    config: ForecastConfig
    actual: np.ndarray
    forecasts: dict[str, np.ndarray]
    metrics: dict[str, dict[str, float | None]]
    ma_window: int
    history: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def valid_time(self) -> np.ndarray:
        return self.series.time[self.split_time :]

    @property
    def model_name(self) -> str:
        return next(iter(self.forecasts))

    def mae(self, method: str) -> float:
        value = self.metrics[method]["MAE"]
        assert value is not None
        return value

    @property
    def beats_baselines(self) -> bool:
        """True if the LSTM's validation MAE is below the naive and moving-average ones."""
        lstm = self.mae(self.model_name)
        return all(lstm < self.mae(m) for m in self.forecasts if m.startswith(("naive", "moving average")))

    def periods(self) -> str:
        t = self.series.time
        n = len(t)
        return (
            f"train {t[0]}..{t[self.split_time - 1]} ({self.split_time} values), "
            f"validation {t[self.split_time]}..{t[n - 1]} ({n - self.split_time} values)"
        )

    def table(self) -> str:
        """The metrics of every method as an aligned plain-text table (MAE first)."""
        names = list(self.forecasts)
        width = max(len(n) for n in names)
        cols = ("MAE", "RMSE", "MAPE %")
        lines = [f"{'':<{width}}  " + "  ".join(f"{c:>8}" for c in cols) + "  vs LSTM (MAE)"]
        lstm = self.mae(self.model_name)
        for name in names:
            m = self.metrics[name]
            cells = [_num(m["MAE"]), _num(m["RMSE"]), _num(m["MAPE"])]
            ratio = "" if name == self.model_name else f"{self.mae(name) / lstm:.2f}x the LSTM's error"
            lines.append((f"{name:<{width}}  " + "  ".join(f"{c:>8}" for c in cells) + f"  {ratio}").rstrip())
        return "\n".join(lines)

    def summary(self) -> str:
        """A few lines: data, split, model, the table, the verdict."""
        c = self.config
        verdict = (
            "the LSTM beats the naive and moving-average baselines on the validation period"
            if self.beats_baselines
            else "the LSTM does NOT beat both baselines on the validation period"
        )
        return "\n".join(
            [
                f"series: {self.series.description}",
                f"split by time: {self.periods()}; normalised with the training mean and std",
                f"LSTM: window {c.window}, hidden {c.hidden}, {c.epochs} epochs, Adam lr {c.lr:g}, "
                f"batch {c.batch_size}, seed {c.seed} ({self.seconds:.1f} s); moving-average window "
                f"{self.ma_window} (best on the training period)",
                "",
                self.table(),
                "",
                f"one step ahead: {verdict}.",
            ]
        )


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"


def resolve_split(n: int, split: int | float | None, default: int | None = None) -> int:
    """The first validation index from ``split``: an index (int), a training fraction
    in (0, 1) (float), or None (``default``, else 80 %)."""
    if split is None:
        return default if default is not None else round(DEFAULT_TRAIN_FRACTION * n)
    if isinstance(split, float) and not split.is_integer():
        if not 0.0 < split < 1.0:
            raise SeriesError(f"--split: expected an index or a training fraction in (0, 1), got {split}")
        return round(split * n)
    index = int(split)
    if index < 0:
        index += n  # like Python indexing: -60 = the last 60 values validate
    if not 1 <= index < n:
        raise SeriesError(f"--split: expected an index in [1, {n - 1}] for a series of {n} values, got {split}")
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


def _check_lengths(n: int, split_time: int, window: int, split_arg: int | float | None) -> None:
    need_train = window + MIN_TRAIN_WINDOWS
    if split_time >= need_train and n - split_time >= MIN_VALID:
        return
    if split_arg is None or isinstance(split_arg, float):
        need = minimum_length(window, split_arg)
        raise SeriesError(
            f"the series is too short: {n} values; with --window {window} at least {need} are "
            f"needed ({need_train} to train on, i.e. {MIN_TRAIN_WINDOWS} windows, and "
            f"{MIN_VALID} to validate)"
        )
    raise SeriesError(
        f"--split {split_arg}: the training period has {split_time} values and the validation "
        f"period {n - split_time}; with --window {window} they need at least {need_train} "
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


def best_moving_average_window(train: np.ndarray, largest: int) -> int:
    """The moving-average window in 2..largest with the lowest MAE on the training period."""
    candidates = [w for w in range(2, max(2, largest) + 1) if w < len(train) - 1]
    if not candidates:
        return 2
    errors = [ts.mae(train[w:], ts.moving_average_forecast(train, w)) for w in candidates]
    return candidates[int(np.argmin(errors))]


def forecast(
    series: Series | str | Any,
    *,
    split: int | float | None = None,
    config: ForecastConfig | None = None,
    ma_window: int | None = None,
    season: int | None = None,
    **overrides: Any,
) -> ForecastResult:
    """Train an LSTM forecaster on the training period and score it and the baselines
    on the validation period (see the module docstring for every step).

    Parameters
    ----------
    series : Series, a built-in name ("sunspots", "synthetic", "co2") or a 1-D array
    split : int, float or None
        First validation index, or the training fraction (float in (0, 1)); default:
        the series' own split (sunspots: 1950), else 80 %.
    config : ForecastConfig, optional
        Window, hidden size, epochs, learning rate, batch size, seed; keyword
        ``overrides`` (e.g. ``epochs=10``) replace single fields.
    ma_window : int, optional
        The moving-average window; default: chosen on the training period.
    season : int, optional
        Steps per season for the seasonal-naive baseline; default: the series' own.

    Returns
    -------
    ForecastResult

    Raises
    ------
    SeriesError
        If the series is too short for the window and split (the message says the minimum).
    """
    if isinstance(series, str):
        series = builtin_series(series)
    elif not isinstance(series, Series):
        values = np.asarray(series, dtype=np.float64)
        if values.ndim != 1 or not np.all(np.isfinite(values)):
            raise SeriesError("series: expected a 1-D array of finite numbers")
        series = Series("series", values, np.arange(len(values)), description=f"a series of {len(values)} values")
    config = config or ForecastConfig()
    if overrides:
        config = dataclasses.replace(config, **overrides)
    for name in ("window", "hidden", "epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise SeriesError(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(config, name)}")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise SeriesError(f"--lr: expected a positive number, got {config.lr}")

    values = series.values
    n = len(values)
    split_time = resolve_split(n, split, series.split_time)
    _check_lengths(n, split_time, config.window, split)
    train, valid = ts.fixed_partition(values, split_time)
    w = config.window

    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(train.values.mean()), float(train.values.std())
    if not (math.isfinite(mean) and math.isfinite(std)):
        peak = float(np.abs(values).max())
        raise SeriesError(
            f"the values are too large to normalise (up to {peak:.3g}); rescale the series, "
            f"e.g. divide it by a power of ten"
        )
    std = std if std > 0 else 1.0  # a constant training period: only shift
    z = (values - mean) / std
    X, y = ts.make_windows(z[:split_time], w)  # training windows only
    model = SequenceModel(1, config.hidden, cell="lstm", output="last", task="regression", seed=config.seed)
    history = model.fit(
        X,
        y,
        epochs=config.epochs,
        batch_size=config.batch_size,
        optimizer=Adam(config.lr),
        seed=config.seed,
        progress=False,
    )
    X_all, _ = ts.make_windows(z, w)  # window j predicts time j + w
    lstm = model.predict(X_all[:, split_time - w :])[:, 0].astype(np.float64) * std + mean
    seconds = time.perf_counter() - start

    ma = ma_window if ma_window is not None else best_moving_average_window(train.values, max(w, 30))
    if not 1 <= ma <= split_time:
        raise SeriesError(f"--ma-window: expected 1..{split_time} (the training length), got {ma}")
    forecasts = {
        "LSTM": lstm,
        "naive (last value)": ts.naive_forecast(values, split_time),
        f"moving average ({ma})": ts.moving_average_forecast(values, ma)[split_time - ma :],
    }
    season = season if season is not None else series.season
    if season is not None and 1 < season <= split_time:
        forecasts[f"seasonal naive ({season})"] = ts.seasonal_naive_forecast(values, split_time, season)
    metrics = {name: _metrics(valid.values, f) for name, f in forecasts.items()}
    return ForecastResult(
        series=series,
        split_time=split_time,
        config=config,
        actual=valid.values,
        forecasts=forecasts,
        metrics=metrics,
        ma_window=ma,
        history=history["loss"],
        seconds=seconds,
    )
