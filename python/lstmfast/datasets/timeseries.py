r"""Time series, the course way: split by time, beat the baselines, then window for an LSTM.

This module follows the recipe of the course "Sequences, Time Series and Prediction"
(DeepLearning.AI TensorFlow Developer, course 4) in plain NumPy.

1. **A series and its parts.** A time series is a sequence of values at equally
   spaced times. Most real ones mix a *trend* (a slow drift), *seasonality* (a
   pattern that repeats every ``period`` steps), and *noise*.
   :func:`synthetic_series` builds the course's four years of daily data from
   exactly these three parts; :func:`load_sunspots` and :func:`load_co2` are two
   real series shipped with the package.

2. **Split by time, never at random.** A forecaster must be judged on a future it
   has not seen, so the data are cut at ``split_time``: everything before is for
   training, everything after for validation (and optionally a later test period).
   :func:`fixed_partition` does this cut; nothing is shuffled across it.

3. **Baselines first.** Before training anything, measure how well trivial
   forecasts do on the validation period:

   * naive: tomorrow equals today (:func:`naive_forecast`);
   * moving average: tomorrow equals the mean of the last ``w`` days
     (:func:`moving_average_forecast`), which follows the trend but not the season;
   * seasonal naive: equals the value one season ago (:func:`seasonal_naive_forecast`).

   * differencing (:func:`difference`, :func:`differenced_forecast`): forecast the
     change over one season, ``series[t] - series[t - 365]``, which has neither trend
     nor season, with a moving average, then add back the value one season before
     (or, less noisy, the mean of a few values around it). On the synthetic series,
     split at 1000, the course's numbers::

         naive                                            MAE 5.94
         moving average (30)                              MAE 7.14   worse than naive
         differenced moving average (50) + the past       MAE 5.84
         ... + the past smoothed over 10 values           MAE 4.57

   A learned model is only worth its cost if it beats these. Choose every
   baseline's parameter (a window, a smoothing) on the training period only, and
   let the search include the naive forecast (a moving average of window 1), or
   the baseline is a straw man.

4. **Metrics.** :func:`mae` (mean absolute error, in the series' own units; the
   course's main score), :func:`mse`, :func:`rmse` and :func:`mape` (percent).

5. **Windows for the network.** A recurrent network learns from examples
   (inputs, target): the ``window_size`` values before a time, and the value at
   that time. :func:`make_windows` builds all of them at once, in the time-major
   layout lstmfast uses — x is (T, B, I) = (window_size, N, 1) — and
   :func:`windowed_dataset` serves them as shuffled mini-batches. The *windows* are
   shuffled (examples are then less correlated within a batch), never the time
   order *inside* a window.

A first session::

    from lstmfast import timeseries as ts

    time, series = ts.synthetic_series()
    train, valid = ts.fixed_partition(series, ts.COURSE_SPLIT_TIME)
    ts.mae(valid.values, ts.naive_forecast(series, ts.COURSE_SPLIT_TIME))   # 5.94
    w = 30
    ts.mae(valid.values, ts.moving_average_forecast(series, w)[ts.COURSE_SPLIT_TIME - w:])  # 7.14

    data = ts.windowed_dataset(train.values, window_size=20, batch_size=32, seed=0)
    for x, y in data:            # x (20, b, 1), y (b, 1): one epoch
        ...                      # e.g. lstmfast.lstm_forward(x, w_ih, w_hh, b_ih, b_hh)

Bad input (a series that is not 1-D numbers, a split outside the series, a window
longer than the series, metrics on arrays of different shapes) raises a
``ValueError`` or ``TypeError`` that names the argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any, NamedTuple

import numpy as np

from .. import _checks

__all__ = [
    "COURSE_SPLIT_TIME",
    "Period",
    "WindowedDataset",
    "autocorrelation",
    "difference",
    "differenced_forecast",
    "fixed_partition",
    "load_co2",
    "load_sunspots",
    "load_sunspots_monthly",
    "mae",
    "make_windows",
    "mape",
    "moving_average_forecast",
    "mse",
    "naive_forecast",
    "rmse",
    "seasonal_naive_forecast",
    "synthetic_series",
    "windowed_dataset",
]

#: The course cuts its synthetic series (1461 daily points) at time 1000: 1000 points
#: (about 2.7 years) for training, the remaining 461 for validation.
COURSE_SPLIT_TIME = 1000


# --------------------------------------------------------------------------- checks


def _series(name: str, series: Any, *, finite: bool = True, min_len: int = 1) -> np.ndarray:
    """A float64 1-D copy of ``series``, with a clear error for anything else."""
    arr = _checks.array(name, series, kinds="iuf")
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array (one value per time step), got shape {arr.shape}")
    if len(arr) < min_len:
        raise ValueError(f"{name}: expected at least {min_len} value(s), got {len(arr)}")
    arr = np.array(arr, dtype=np.float64, copy=True)
    if finite and not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise ValueError(
            f"{name}: contains {len(bad)} NaN or infinite value(s), first at "
            f"index {bad[0]}; fill or drop them first "
            f"(e.g. load_co2(interpolate=True))"
        )
    return arr


def _inside(name: str, value: Any, n: int) -> int:
    """An index that cuts a series of length ``n`` into two non-empty parts."""
    return _checks.integer(name, value, 1, n - 1, rule=f"1 <= {name} <= len(series) - 1 = {n - 1}")


def _series_cut(series: Any, name: str, index: Any) -> tuple[np.ndarray, int]:
    """The series (finite, at least 2 values) and an index inside it (see :func:`_inside`)."""
    checked = _series("series", series, min_len=2)
    return checked, _inside(name, index, len(checked))


# --------------------------------------------------------------------------- splitting


class Period(NamedTuple):
    """One period of a series: its time indices and its values (both 1-D, same length).

    A NamedTuple, so it unpacks like the course's pairs:
    ``time_train, x_train = train``.
    """

    time: np.ndarray
    values: np.ndarray


def fixed_partition(
    series: Any, split_time: int, test_time: int | None = None, *, time: Any = None
) -> tuple[Period, ...]:
    """Cut a series by time into training, validation and (optionally) test periods.

    ``train`` is ``[0, split_time)``, ``valid`` is ``[split_time, test_time)`` (to the
    end without ``test_time``), ``test`` is ``[test_time, end)``. The periods are
    contiguous, in time order, and do not overlap; nothing is shuffled.

    Parameters
    ----------
    series : array_like, (N,)
        The values. NaN is allowed here (only cut, not computed on).
    split_time : int
        First index of the validation period, 1 <= split_time < N (the course: 1000).
    test_time : int, optional
        First index of the test period, split_time < test_time < N.
    time : array_like (N,), optional, keyword-only
        The time of each value (e.g. years, or the dates of :func:`load_co2`);
        default ``np.arange(N)`` as float64.

    Returns
    -------
    tuple of Period
        ``(train, valid)`` or ``(train, valid, test)``; each ``Period(time, values)``
        holds copies (values as float64).

    Examples
    --------
    >>> train, valid = fixed_partition(np.arange(10.0), 7)
    >>> train.values, valid.time
    (array([0., 1., 2., 3., 4., 5., 6.]), array([7., 8., 9.]))
    """
    series = _series("series", series, finite=False, min_len=2)
    n = len(series)
    if time is None:
        time = np.arange(n, dtype=np.float64)
    else:
        time = np.array(time, copy=True)  # any dtype: numbers, datetime64, ...
        if time.ndim != 1 or len(time) != n:
            raise ValueError(f"time: expected a 1-D array of the same length as series ({n}), got shape {time.shape}")
    split_time = _inside("split_time", split_time, n)
    cuts = [0, split_time]
    if test_time is not None:
        test_time = _checks.integer(
            "test_time",
            test_time,
            split_time + 1,
            n - 1,
            rule=f"split_time < test_time < len(series), i.e. {split_time + 1} <= test_time <= {n - 1}",
        )
        cuts.append(test_time)
    cuts.append(n)
    return tuple(Period(time[a:b].copy(), series[a:b].copy()) for a, b in zip(cuts, cuts[1:]))


# --------------------------------------------------------------------------- windows


def make_windows(series: Any, window_size: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``window_size`` consecutive values, and the ``horizon`` values
    that follow it.

    Window j is ``series[j : j + window_size]`` and its target is
    ``series[j + window_size : j + window_size + horizon]``, for j = 0 ... M − 1
    with M = N − window_size − horizon + 1.

    Parameters
    ----------
    series : array_like, (N,)
        Finite values (no NaN).
    window_size : int
        1 <= window_size < N.
    horizon : int
        Values to predict from each window (a model with ``output="last"`` and
        ``output_size=horizon`` forecasts them at once), 1 <= horizon <= N − window_size.

    Returns
    -------
    X : numpy.ndarray, (window_size, M, 1)
        Time-major inputs, ready for ``lstm_forward``: ``X[:, j, 0]`` is window j.
    y : numpy.ndarray, (M, horizon)
        ``y[j]`` is the target of window j.
    """
    values, window_size = _series_cut(series, "window_size", window_size)
    n = len(values)
    horizon = _checks.integer(
        "horizon", horizon, 1, n - window_size, rule=f"1 <= horizon <= len(series) - window_size = {n - window_size}"
    )
    count = n - window_size - horizon + 1
    windows = np.lib.stride_tricks.sliding_window_view(values, window_size)[:count]  # (M, w)
    X = np.array(windows.T, order="C", copy=True)[:, :, None]  # a writable copy
    y = np.lib.stride_tricks.sliding_window_view(values[window_size:], horizon).copy()  # (M, horizon)
    return X, y


class WindowedDataset:
    """Mini-batches of (window, next value) pairs; iterate once per epoch.

    Built by :func:`windowed_dataset`. Iterating yields ``(x, y)`` with ``x`` of shape
    (window_size, b, 1) (time-major) and ``y`` of shape (b, 1), where b is
    ``batch_size`` except possibly for the last batch. Each batch is a new array.

    With ``shuffle=True`` the windows are put in a new random order at the start of
    every epoch, drawn from one generator seeded once: two datasets built with the
    same seed give the same sequence of epochs.

    Attributes
    ----------
    X : numpy.ndarray, (window_size, N, 1)
        All windows, in time order (see :func:`make_windows`).
    y : numpy.ndarray, (N, 1)
        All targets.
    batch_size : int
    shuffle : bool
    drop_remainder : bool
    """

    def __init__(
        self, X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int | None, drop_remainder: bool
    ) -> None:
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_remainder = drop_remainder
        self._rng = np.random.default_rng(seed)

    @property
    def num_windows(self) -> int:
        """N, the number of (window, target) pairs."""
        return int(self.y.shape[0])

    @property
    def window_size(self) -> int:
        """Inputs per window (the T of x)."""
        return int(self.X.shape[0])

    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.num_windows, self.batch_size)
        return full + (1 if rest and not self.drop_remainder else 0)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = self.num_windows
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            yield self.X[:, idx], self.y[idx]

    def __repr__(self) -> str:
        return (
            f"WindowedDataset(windows={self.num_windows}, window_size={self.window_size}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, batches={len(self)})"
        )


def windowed_dataset(
    series: Any,
    window_size: int,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int | None = None,
    *,
    drop_remainder: bool = False,
) -> WindowedDataset:
    """The course's ``windowed_dataset``: shuffled mini-batches of windows and targets.

    Use it on the *training* period only (``train.values`` from
    :func:`fixed_partition`), so no window reaches into the validation period.

    Parameters
    ----------
    series : array_like, (N,)
        Finite values.
    window_size : int
        Inputs per window, 1 <= window_size < N (the course: 20).
    batch_size : int
        Windows per batch, >= 1 (the course: 32).
    shuffle : bool
        Reshuffle the windows every epoch. The course uses ``tf.data``'s shuffle
        buffer of 1000; this is a full shuffle of all windows.
    seed : int or None
        Seed of the shuffling; the same seed gives the same batches. None: fresh
        randomness.
    drop_remainder : bool, keyword-only
        Drop the last, smaller batch.

    Returns
    -------
    WindowedDataset
        Iterable over ``(x (window_size, b, 1), y (b, 1))``; also holds all windows
        as ``.X`` and ``.y``.
    """
    X, y = make_windows(series, window_size)
    batch_size = _checks.positive_int("batch_size", batch_size)
    return WindowedDataset(
        X,
        y,
        batch_size,
        _checks.flag("shuffle", shuffle),
        _checks.seed(seed),
        _checks.flag("drop_remainder", drop_remainder),
    )


# --------------------------------------------------------------------------- baselines


def naive_forecast(series: Any, split_time: int) -> np.ndarray:
    """Each value predicts the next: the forecast of the validation period.

    For a series of N values and 1 <= split_time < N, returns the N − split_time
    values ``series[split_time - 1 : -1]``, aligned with ``series[split_time:]``.
    """
    values, split_time = _series_cut(series, "split_time", split_time)
    return values[split_time - 1 : -1].copy()


def moving_average_forecast(series: Any, window_size: int) -> np.ndarray:
    """The mean of the last ``window_size`` values, as the forecast of the next one.

    For a series of N values and 1 <= window_size < N, returns N − window_size
    values: element t is ``mean(series[t : t + window_size])``, the forecast for
    time ``t + window_size``. So the forecast of the validation period is
    ``moving_average_forecast(series, w)[split_time - w:]`` (needs split_time >= w).
    """
    values, window_size = _series_cut(series, "window_size", window_size)
    means: np.ndarray = np.lib.stride_tricks.sliding_window_view(values, window_size)[:-1].mean(axis=1)
    return means


def seasonal_naive_forecast(series: Any, split_time: int, season: int) -> np.ndarray:
    """Each value predicts the value one season later: the validation-period forecast.

    The forecast for time t >= split_time is ``series[t - season]``, where
    ``season`` is the period in steps (365 for daily data with a yearly cycle,
    1 <= season <= split_time < N). Returns ``series[split_time - season : N - season]``,
    aligned with ``series[split_time:]``. With ``season=1`` it is :func:`naive_forecast`.
    """
    values, split_time = _series_cut(series, "split_time", split_time)
    season = _checks.integer("season", season, 1, split_time, rule=f"1 <= season <= split_time = {split_time}")
    return values[split_time - season : len(values) - season].copy()


def difference(series: Any, lag: int) -> np.ndarray:
    """``series[lag:] - series[:-lag]``: the change over ``lag`` steps (element t is the
    change from time t to time t + lag). With ``lag`` one season it removes the
    season and turns a linear trend into a constant."""
    values, lag = _series_cut(series, "lag", lag)
    out: np.ndarray = values[lag:] - values[:-lag]
    return out


def differenced_forecast(series: Any, split_time: int, season: int, window: int, smooth: int = 1) -> np.ndarray:
    """The course's differencing forecast of the validation period.

    For every t >= split_time: the moving average of the last ``window`` changes over
    one season (``difference(series, season)``), which forecasts the change from
    t - season to t, plus the value one season before, ``series[t - season]``, or,
    with ``smooth`` > 1, the mean of the ``smooth`` values around it
    (``series[t - season - smooth // 2 : t - season + smooth - smooth // 2]``; the
    course uses 10: ``series[t - 370 : t - 360]``).

    Parameters
    ----------
    series : array_like (N,)
    split_time : int
        First forecast time; needs ``split_time >= season + window`` and
        ``split_time >= season + smooth // 2``.
    season : int
        Steps per season (365 for the course's daily series).
    window : int
        Changes averaged (the course: 50).
    smooth : int
        Values averaged around the one a season before (1: that value alone).

    Returns
    -------
    numpy.ndarray (N - split_time,)
        Aligned with ``series[split_time:]``.
    """
    values, split_time = _series_cut(series, "split_time", split_time)
    n = len(values)
    season = _checks.integer("season", season, 1, n - 1)
    window = _checks.positive_int("window", window)
    smooth = _checks.integer("smooth", smooth, 1, season, rule=f"1 <= smooth <= season = {season}")
    need = season + max(window, smooth // 2)
    if split_time < need:
        raise ValueError(
            f"split_time: expected >= season + max(window, smooth // 2) = {need} (the forecast reads that far "
            f"back), got {split_time}"
        )
    changes = np.lib.stride_tricks.sliding_window_view(difference(values, season), window)
    change = changes[split_time - season - window : n - season - window].mean(axis=1)  # change up to each t
    start = split_time - season - smooth // 2
    past = np.lib.stride_tricks.sliding_window_view(values[start : start + n - split_time + smooth - 1], smooth)
    forecast: np.ndarray = past.mean(axis=1) + change
    return forecast


def autocorrelation(series: Any, max_lag: int) -> np.ndarray:
    """The sample autocorrelation r_0 ... r_max_lag of ``series``:

        r_k = Σ_t (x_t − x̄)(x_{t+k} − x̄) / Σ_t (x_t − x̄)²

    (the usual estimator, every lag divided by the same sum, so r_0 = 1 and |r_k| <= 1).
    A peak at lag k means the series tends to repeat every k steps: 11 years for the
    sunspots, 12 months for monthly data with a yearly season.
    """
    values, max_lag = _series_cut(series, "max_lag", max_lag)
    centred = values - values.mean()
    total = float(centred @ centred)
    if total == 0:
        raise ValueError("series: constant, its autocorrelation is undefined")
    n = len(centred)
    return np.array([float(centred[: n - k] @ centred[k:]) / total for k in range(max_lag + 1)])


# --------------------------------------------------------------------------- metrics


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = (
        _checks.array(name, value, kinds="iuf").astype(np.float64)
        for name, value in (("y_true", y_true), ("y_pred", y_pred))
    )
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred: expected the same shape, got {t.shape} and {p.shape} "
            f"(no broadcasting: reshape one of them, e.g. with .ravel())"
        )
    if t.size == 0:
        raise ValueError("y_true: empty; a metric needs at least one value")
    return _checks.finite("y_true", t), _checks.finite("y_pred", p)


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error, ``mean(|y_true − y_pred|)``, in the units of the series:
    the course's main score. (Every metric takes the actual values and the forecasts
    as two non-empty arrays of the same shape and returns a float.)"""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error, ``mean((y_true − y_pred)²)``: a score. For training,
    :func:`lstmfast.training.losses.mse_loss` also returns the gradient."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error, ``sqrt(mse)``: back in the units of the series."""
    return float(np.sqrt(mse(y_true, y_pred)))


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error, ``100 · mean(|(y_true − y_pred) / y_true|)``, in
    percent, like Keras' ``mean_absolute_percentage_error``.

    Zeros in ``y_true``: the error is undefined there, so this raises ``ValueError``
    (naming how many and the first index) instead of returning inf or, as Keras
    does, dividing by a tiny epsilon, which gives a huge number that looks like a
    real score. Series with zeros, such as the sunspots, are better measured with
    :func:`mae` or :func:`rmse`. Values near zero also inflate MAPE: mind the scale.
    """
    t, p = _pair(y_true, y_pred)
    zeros = np.flatnonzero(t == 0)
    if zeros.size:
        raise ValueError(
            f"y_true: contains {zeros.size} zero(s), first at flat index {zeros[0]}; "
            f"MAPE divides by the actual values, use mae or rmse instead"
        )
    return float(100 * np.mean(np.abs((t - p) / t)))


# --------------------------------------------------------------------------- data


def synthetic_series(
    *,
    n: int = 4 * 365 + 1,
    baseline: float = 10.0,
    slope: float = 0.05,
    amplitude: float = 40.0,
    period: int = 365,
    phase: float = 0.0,
    noise_level: float = 5.0,
    seed: int | None = 42,
) -> tuple[np.ndarray, np.ndarray]:
    """The course's synthetic daily series: trend + yearly seasonality + noise.

    With ``time = 0, 1, ..., n − 1``::

        s      = ((time + phase) % period) / period          phase of the season, in [0, 1)
        season = cos(2π s)  if s < 0.4  else  1 / exp(3 s)    a peak, then a slow decay
        series = baseline + slope · time + amplitude · season + noise_level · ε,

    with ε = ``np.random.RandomState(seed).randn(n)``: the same generator and draws
    as the course, so the defaults reproduce its series (in float64; notebooks that
    build ``time`` as float32 differ in about the 6th significant digit). The course
    splits it at :data:`COURSE_SPLIT_TIME` = 1000.

    Parameters
    ----------
    n : int
        Number of days (default 4 years + 1 day = 1461).
    baseline, slope, amplitude : float
        Level at time 0, trend per step, and size of the seasonal pattern.
    period : int
        Steps per season (365).
    phase : float
        Shift of the seasonal pattern, in steps.
    noise_level : float
        Standard deviation of the Gaussian noise; 0 gives the clean signal.
    seed : int or None
        Seed of ``np.random.RandomState``; None draws fresh noise.

    Returns
    -------
    time : numpy.ndarray, (n,)
        0.0, 1.0, ..., n − 1 (float64).
    series : numpy.ndarray, (n,)
        float64.
    """
    n = _checks.positive_int("n", n)
    period = _checks.positive_int("period", period)
    seed = _checks.seed(seed)
    baseline, slope, amplitude, phase = (
        _checks.real(name, value)
        for name, value in (("baseline", baseline), ("slope", slope), ("amplitude", amplitude), ("phase", phase))
    )
    noise_level = _checks.positive_real("noise_level", noise_level, allow_zero=True)

    time = np.arange(n, dtype=np.float64)
    s = ((time + phase) % period) / period
    season = np.where(s < 0.4, np.cos(s * 2 * np.pi), 1 / np.exp(3 * s))
    series = baseline + slope * time + amplitude * season
    series += np.random.RandomState(seed).randn(n) * noise_level
    return time, series


def _read_csv(name: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a shipped CSV in ``lstmfast/data`` ('#' lines are comments)."""
    text = resources.files("lstmfast.datasets").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    header = lines[0].split(",")
    return header, [line.split(",") for line in lines[1:]]


def load_sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Yearly mean sunspot numbers, 1700–2008: a real series with an ~11-year cycle.

    309 values, the copy distributed with statsmodels (``statsmodels.datasets.sunspots``;
    NOAA National Geophysical Data Center; sunspot numbers from the Royal Observatory
    of Belgium's SIDC, before its 2015 recalibration). Public domain. Three years have
    0 sunspots, so use :func:`mae` rather than :func:`mape` on it.

    Returns
    -------
    years : numpy.ndarray, (309,)
        1700 ... 2008, int64.
    values : numpy.ndarray, (309,)
        float64.
    """
    _, rows = _read_csv("sunspots.csv")
    years = np.array([int(r[0]) for r in rows], dtype=np.int64)
    values = np.array([float(r[1]) for r in rows], dtype=np.float64)
    return years, values


def load_sunspots_monthly() -> tuple[np.ndarray, np.ndarray]:
    """Monthly mean sunspot numbers, January 1749 to June 2009: 3126 values.

    The copy distributed with statsmodels (``statsmodels/datasets/sunspots/src/
    sunspots_monthly.dat``; NOAA National Geophysical Data Center, sunspot numbers of
    the SIDC, version 1, before the 2015 recalibration). Public domain. February 1824
    had no observation; its value is the mean of January and March (as shipped).
    The course uses a longer file (3,235 months to 2018, the recalibrated version 2
    numbers, about 1.67 times these); its MAE figures do not apply to this series.

    Returns
    -------
    months : numpy.ndarray of datetime64[M], (3126,)
    values : numpy.ndarray, (3126,)
        float64.
    """
    _, rows = _read_csv("sunspots_monthly.csv")
    months = np.array([r[0] for r in rows], dtype="datetime64[M]")
    values = np.array([float(r[1]) for r in rows], dtype=np.float64)
    return months, values


def load_co2(*, interpolate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Weekly atmospheric CO2 (ppmv) at Mauna Loa, 1958-03-29 to 2001-12-29.

    2284 weeks (Saturdays), 59 of them without a measurement: a trend plus a yearly
    cycle of 52 weeks. The copy distributed with statsmodels
    (``statsmodels.datasets.co2``; Keeling and Whorf, CDIAC, 2004). Public domain.

    Parameters
    ----------
    interpolate : bool, keyword-only
        False: missing weeks are NaN. True: they are filled by linear
        interpolation between the neighbouring weeks (none is at either end).

    Returns
    -------
    dates : numpy.ndarray of datetime64[D], (2284,)
    values : numpy.ndarray, (2284,)
        float64, ppmv.
    """
    interpolate = _checks.flag("interpolate", interpolate)
    _, rows = _read_csv("co2.csv")
    dates = np.array([r[0] for r in rows], dtype="datetime64[D]")
    values = np.array([float(r[1]) if r[1] else np.nan for r in rows], dtype=np.float64)
    if interpolate:
        missing = np.isnan(values)
        idx = np.arange(len(values))
        values[missing] = np.interp(idx[missing], idx[~missing], values[~missing])
    return dates, values
