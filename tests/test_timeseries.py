"""Tests of lstmfast.timeseries: splits, windows, baselines, metrics and the data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmfast.datasets import timeseries as ts

# --------------------------------------------------------------------------- fixed_partition


def test_fixed_partition_cuts_by_time_without_overlap_or_shuffle():
    series = np.arange(10.0) ** 2
    train, valid = ts.fixed_partition(series, 7)
    assert isinstance(train, ts.Period)
    np.testing.assert_array_equal(train.time, np.arange(7))
    np.testing.assert_array_equal(valid.time, [7, 8, 9])
    np.testing.assert_array_equal(train.values, series[:7])
    np.testing.assert_array_equal(valid.values, series[7:])
    time_train, x_train = train  # unpacks like the course's pairs
    np.testing.assert_array_equal(x_train, series[:7])

    train, valid, test = ts.fixed_partition(series, 5, 8)
    np.testing.assert_array_equal(train.time, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(valid.time, [5, 6, 7])
    np.testing.assert_array_equal(test.time, [8, 9])
    # together: the whole series, in order, each time exactly once
    np.testing.assert_array_equal(np.concatenate([p.time for p in (train, valid, test)]), np.arange(10))
    np.testing.assert_array_equal(np.concatenate([p.values for p in (train, valid, test)]), series)
    assert train.time.max() < valid.time.min() and valid.time.max() < test.time.min()


def test_fixed_partition_with_given_times_and_copies():
    years, values = np.arange(1990, 2000), np.linspace(0, 1, 10)
    train, valid = ts.fixed_partition(values, 8, time=years)
    np.testing.assert_array_equal(train.time, years[:8])
    np.testing.assert_array_equal(valid.time, [1998, 1999])
    dates = np.arange("2000-01-01", "2000-01-11", dtype="datetime64[D]")
    _, valid = ts.fixed_partition(values, 9, time=dates)
    assert valid.time[0] == np.datetime64("2000-01-10")

    series = np.arange(6.0)
    saved = series.copy()
    train, valid = ts.fixed_partition(series, 3)
    train.values[:] = -1
    np.testing.assert_array_equal(series, saved)
    # NaN may be cut (not computed on)
    train, _ = ts.fixed_partition([1.0, np.nan, 3.0], 2)
    assert np.isnan(train.values[1])


@pytest.mark.parametrize(
    "args,kwargs,exc,match",
    [
        ((np.arange(5.0), 0), {}, ValueError, r"split_time: expected 1 <= split_time <= len\(series\) - 1 = 4, got 0"),
        ((np.arange(5.0), 5), {}, ValueError, r"split_time: expected .* got 5"),
        ((np.arange(5.0), 2.0), {}, TypeError, r"split_time: expected an int, got float"),
        ((np.arange(5.0), True), {}, TypeError, r"split_time: expected an int, got bool"),
        ((np.arange(5.0), 2, 2), {}, ValueError, r"test_time: expected split_time < test_time"),
        ((np.arange(5.0), 2, 5), {}, ValueError, r"test_time: expected .* got 5"),
        ((np.zeros((5, 2)), 2), {}, ValueError, r"series: expected a 1-D array .* got shape \(5, 2\)"),
        ((["a", "b", "c"], 1), {}, TypeError, r"series: expected real numbers"),
        ((np.arange(5.0), 2), {"time": np.arange(4)}, ValueError, r"time: expected a 1-D array of the same length"),
        ((None, 2), {}, TypeError, r"series: expected an array, got None"),
    ],
)
def test_fixed_partition_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ts.fixed_partition(*args, **kwargs)


# --------------------------------------------------------------------------- windows


def test_make_windows_matches_manual_slicing():
    series = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])
    X, y = ts.make_windows(series, 3)
    assert X.shape == (3, 4, 1) and y.shape == (4, 1)
    assert X.flags.c_contiguous and X.dtype == np.float64
    for j in range(4):
        np.testing.assert_array_equal(X[:, j, 0], series[j : j + 3])
        assert y[j, 0] == series[j + 3]
    X, y = ts.make_windows(series, 6)
    np.testing.assert_array_equal(X[:, 0, 0], series[:6])
    assert y.tolist() == [[2.0]]
    # X is a copy: writing into it leaves the series alone
    X[:] = 0
    assert series[0] == 3.0


@pytest.mark.parametrize(
    "window_size,exc,match",
    [
        (0, ValueError, r"window_size: expected 1 <= window_size <= len\(series\) - 1 = 4, got 0"),
        (5, ValueError, r"window_size: expected .* got 5"),
        (2.5, TypeError, r"window_size: expected an int"),
    ],
)
def test_make_windows_errors(window_size, exc, match):
    with pytest.raises(exc, match=match):
        ts.make_windows(np.arange(5.0), window_size)


def test_make_windows_rejects_nan():
    with pytest.raises(ValueError, match=r"series: contains 1 NaN or infinite value\(s\), first at index 2"):
        ts.make_windows([1.0, 2.0, np.nan, 4.0], 2)


def test_windowed_dataset_covers_every_window_once_per_epoch():
    series = np.arange(30.0)
    data = ts.windowed_dataset(series, 5, batch_size=7, seed=1)
    assert data.num_windows == 25 and len(data) == 4 and data.window_size == 5
    for _ in range(2):
        batches = list(data)
        assert [y.shape[0] for _, y in batches] == [7, 7, 7, 4]
        x = np.concatenate([x for x, _ in batches], axis=1)
        y = np.concatenate([y for _, y in batches], axis=0)
        assert x.shape == (5, 25, 1)
        assert sorted(y[:, 0].tolist()) == list(range(5, 30))  # each target once
        for j in range(25):  # each window is followed by its target
            np.testing.assert_array_equal(x[:, j, 0], np.arange(y[j, 0] - 5, y[j, 0]))
        assert y[:, 0].tolist() != sorted(y[:, 0].tolist())  # shuffled

    dropped = ts.windowed_dataset(series, 5, batch_size=7, seed=1, drop_remainder=True)
    assert len(dropped) == 3 and all(y.shape == (7, 1) for _, y in dropped)
    ordered = ts.windowed_dataset(series, 5, batch_size=10, shuffle=False)
    assert [y[:, 0].tolist() for _, y in ordered] == [list(range(5, 15)), list(range(15, 25)), list(range(25, 30))]


def test_windowed_dataset_same_seed_same_order():
    series = np.sin(np.arange(50.0))

    def epochs(seed, n=3):
        data = ts.windowed_dataset(series, 4, batch_size=8, seed=seed)
        return [np.concatenate([y[:, 0] for _, y in data]) for _ in range(n)]

    a, b, c = epochs(123), epochs(123), epochs(124)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a[0], a[1])  # a new order every epoch
    assert not all(np.array_equal(ea, ec) for ea, ec in zip(a, c))


def test_windowed_dataset_batches_are_copies():
    series = np.arange(20.0)
    data = ts.windowed_dataset(series, 3, batch_size=4, shuffle=False)
    x, y = next(iter(data))
    x[:] = -1
    y[:] = -1
    np.testing.assert_array_equal(data.X[:, 0, 0], [0, 1, 2])
    assert data.y[0, 0] == 3 and series[0] == 0


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"batch_size": 0}, ValueError, r"batch_size: expected a positive int, got 0"),
        ({"batch_size": 2.0}, TypeError, r"batch_size: expected a positive int"),
        ({"seed": -1}, ValueError, r"seed: expected None or an int >= 0, got -1"),
        ({"shuffle": "yes"}, TypeError, r"shuffle: expected a bool"),
        ({"drop_remainder": 1}, TypeError, r"drop_remainder: expected a bool"),
        ({"window_size": 10}, ValueError, r"window_size: expected 1 <= window_size"),
    ],
)
def test_windowed_dataset_errors(kwargs, exc, match):
    args = {"series": np.arange(10.0), "window_size": 3, **kwargs}
    with pytest.raises(exc, match=match):
        ts.windowed_dataset(**args)


# --------------------------------------------------------------------------- baselines


def test_naive_forecast():
    series = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    np.testing.assert_array_equal(ts.naive_forecast(series, 3), [4.0, 7.0])
    np.testing.assert_array_equal(ts.naive_forecast(series, 1), [1.0, 2.0, 4.0, 7.0])
    with pytest.raises(ValueError, match=r"split_time: expected 1 <= split_time <= len\(series\) - 1 = 4"):
        ts.naive_forecast(series, 5)


def test_moving_average_forecast():
    series = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 7.0])
    np.testing.assert_allclose(ts.moving_average_forecast(series, 2), [1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(ts.moving_average_forecast(series, 3), [2.0, 3.0, 4.0])
    np.testing.assert_allclose(ts.moving_average_forecast(series, 1), series[:-1])
    # the course's alignment: [split_time - w:] is the forecast of series[split_time:]
    long = np.random.default_rng(0).standard_normal(100)
    split, w = 60, 7
    forecast = ts.moving_average_forecast(long, w)[split - w :]
    assert forecast.shape == long[split:].shape
    for k, t in enumerate(range(split, 100)):
        assert forecast[k] == pytest.approx(long[t - w : t].mean(), rel=1e-13)
    with pytest.raises(ValueError, match=r"window_size: expected 1 <= window_size <= len\(series\) - 1 = 5"):
        ts.moving_average_forecast(series, 6)


def test_seasonal_naive_forecast():
    series = np.arange(10.0) * 10
    np.testing.assert_array_equal(ts.seasonal_naive_forecast(series, 6, 4), [20, 30, 40, 50])
    np.testing.assert_array_equal(ts.seasonal_naive_forecast(series, 6, 6), [0, 10, 20, 30])
    np.testing.assert_array_equal(ts.seasonal_naive_forecast(series, 6, 1), ts.naive_forecast(series, 6))
    with pytest.raises(ValueError, match=r"season: expected 1 <= season <= split_time = 6, got 7"):
        ts.seasonal_naive_forecast(series, 6, 7)
    with pytest.raises(TypeError, match=r"season: expected an int"):
        ts.seasonal_naive_forecast(series, 6, None)


def test_baselines_do_not_modify_their_input():
    series = np.random.default_rng(1).standard_normal(40)
    saved = series.copy()
    outs = [
        ts.naive_forecast(series, 30),
        ts.moving_average_forecast(series, 5),
        ts.seasonal_naive_forecast(series, 30, 7),
        *ts.make_windows(series, 5),
    ]
    for out in outs:
        out[...] = 0
    np.testing.assert_array_equal(series, saved)


# --------------------------------------------------------------------------- metrics


def test_metrics_match_their_formulas():
    y_true, y_pred = [1.0, 2.0, 4.0], [2.0, 2.0, 2.0]
    assert ts.mae(y_true, y_pred) == pytest.approx(1.0)  # (1 + 0 + 2) / 3
    assert ts.mse(y_true, y_pred) == pytest.approx(5 / 3)  # (1 + 0 + 4) / 3
    assert ts.rmse(y_true, y_pred) == pytest.approx(math.sqrt(5 / 3))
    assert ts.mape(y_true, y_pred) == pytest.approx(50.0)  # 100 (1/1 + 0/2 + 2/4) / 3
    assert all(isinstance(f(y_true, y_pred), float) for f in (ts.mae, ts.mse, ts.rmse, ts.mape))

    rng = np.random.default_rng(2)
    t, p = rng.standard_normal((4, 5)) + 3, rng.standard_normal((4, 5))  # any equal shapes
    assert ts.mae(t, p) == pytest.approx(np.abs(t - p).sum() / 20)
    assert ts.mse(t, p) == pytest.approx(((t - p) ** 2).sum() / 20)
    assert ts.mape(t, p) == pytest.approx(100 * (np.abs(t - p) / np.abs(t)).sum() / 20)
    assert ts.mae([3], [3]) == 0.0 and ts.mape([-2.0], [-1.0]) == pytest.approx(50.0)


@pytest.mark.parametrize("metric", [ts.mae, ts.mse, ts.rmse, ts.mape])
def test_metric_errors(metric):
    with pytest.raises(ValueError, match=r"y_true and y_pred: expected the same shape, got \(3,\) and \(3, 1\)"):
        metric(np.ones(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"y_true: empty"):
        metric([], [])
    with pytest.raises(TypeError, match=r"y_pred: expected real numbers"):
        metric([1.0], ["a"])
    with pytest.raises(ValueError, match=r"y_pred: contains 1 NaN or infinite value"):
        metric([1.0], [np.nan])


def test_mape_refuses_zero_actuals():
    with pytest.raises(ValueError, match=r"y_true: contains 2 zero\(s\), first at flat index 1"):
        ts.mape([1.0, 0.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0])


# --------------------------------------------------------------------------- data


def course_value(t: int, noise: np.ndarray) -> float:
    """The course's formula at one time step, written out with the math module."""
    s = (t % 365) / 365
    season = math.cos(2 * math.pi * s) if s < 0.4 else 1 / math.exp(3 * s)
    return 10 + 0.05 * t + 40 * season + noise[t]


def test_synthetic_series_is_the_courses():
    time, series = ts.synthetic_series()
    assert time.shape == series.shape == (1461,)
    assert time.dtype == series.dtype == np.float64
    np.testing.assert_array_equal(time, np.arange(1461))
    noise = np.random.RandomState(42).randn(1461) * 5
    # 146 = last day with s < 0.4, 147 the first after; 365 starts the second year
    for t in (0, 1, 100, 146, 147, 200, 364, 365, 999, 1000, 1460):
        assert series[t] == pytest.approx(course_value(t, noise), rel=1e-13, abs=1e-12)
    # a few values, to the digits (t = 0: 10 + 40·cos 0 + 5·randn: the first draw is 0.4967...)
    np.testing.assert_allclose(series[:3], [52.48357077, 49.35275206, 53.31473872], atol=1e-8)
    assert ts.COURSE_SPLIT_TIME == 1000
    # the course's first baseline: the naive forecast's MAE on the validation period
    _, valid = ts.fixed_partition(series, ts.COURSE_SPLIT_TIME)
    assert ts.mae(valid.values, ts.naive_forecast(series, 1000)) == pytest.approx(5.93790851532)
    assert ts.mae(valid.values, ts.moving_average_forecast(series, 30)[1000 - 30 :]) == pytest.approx(7.14241857062)


def test_synthetic_series_parameters():
    time, clean = ts.synthetic_series(
        n=400, noise_level=0, phase=10, slope=0.0, baseline=0.0, amplitude=2.0, period=100
    )
    s = ((np.arange(400) + 10) % 100) / 100
    np.testing.assert_allclose(
        clean, 2 * np.where(s < 0.4, np.cos(2 * np.pi * s), np.exp(-3 * s)), rtol=1e-14, atol=1e-15
    )
    _, a = ts.synthetic_series(seed=7)
    _, b = ts.synthetic_series(seed=7)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"noise_level: expected a finite number >= 0"):
        ts.synthetic_series(noise_level=-1)
    with pytest.raises(TypeError, match=r"n: expected a positive int"):
        ts.synthetic_series(n=10.0)


def test_load_sunspots():
    years, values = ts.load_sunspots()
    assert years.shape == values.shape == (309,)
    assert years.dtype == np.int64 and values.dtype == np.float64
    np.testing.assert_array_equal(years, np.arange(1700, 2009))
    # From statsmodels 0.15.0, statsmodels.datasets.sunspots.load_pandas().data:
    # SUNACTIVITY[0] = 5.0 (1700), [-1] = 2.9 (2008), 3 zeros, minimum 0, maximum 190.2,
    # sum 15373.4.
    assert values[0] == 5.0 and values[-1] == 2.9
    np.testing.assert_array_equal(values[:6], [5.0, 11.0, 16.0, 23.0, 36.0, 58.0])
    assert np.count_nonzero(values == 0) == 3 and values.max() == 190.2
    assert values.sum() == pytest.approx(15373.4)
    with pytest.raises(ValueError, match=r"y_true: contains 3 zero"):
        ts.mape(values, values + 1)


def test_load_co2():
    dates, values = ts.load_co2()
    assert dates.shape == values.shape == (2284,)
    assert dates.dtype == np.dtype("datetime64[D]")
    # From statsmodels 0.15.0, statsmodels.datasets.co2.load_pandas().data: weekly (W-SAT)
    # from 1958-03-29 (316.1) to 2001-12-29 (371.5), 59 missing, mean of the rest 340.14224719.
    assert dates[0] == np.datetime64("1958-03-29") and dates[-1] == np.datetime64("2001-12-29")
    assert np.all(np.diff(dates) == np.timedelta64(7, "D"))
    assert values[0] == 316.1 and values[-1] == 371.5
    missing = np.isnan(values)
    assert missing.sum() == 59
    assert np.nanmean(values) == pytest.approx(340.1422471910112, rel=1e-12)

    _, filled = ts.load_co2(interpolate=True)
    assert not np.any(np.isnan(filled))
    np.testing.assert_array_equal(filled[~missing], values[~missing])
    for i in np.flatnonzero(missing):  # between the nearest measured weeks
        lo = values[:i][~np.isnan(values[:i])][-1]
        hi = values[i + 1 :][~np.isnan(values[i + 1 :])][0]
        assert min(lo, hi) <= filled[i] <= max(lo, hi)
    with pytest.raises(TypeError, match=r"interpolate: expected a bool"):
        ts.load_co2(interpolate="yes")
