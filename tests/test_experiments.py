"""The experiments behind `lstmfast`: forecasting with fixed partitioning, the speed checks
and the demo (the agreement and gradient experiments have their own test files). Tiny
settings in the default run; the full-size experiments are marked slow."""

from __future__ import annotations

import time

import numpy as np
import pytest

from lstmfast.app import speed
from lstmfast.app.demo import demo_sections
from lstmfast.app.forecast_experiment import ForecastConfig, forecast, minimum_length, resolve_split
from lstmfast.datasets import timeseries as ts
from lstmfast.datasets.series import Series, SeriesError, builtin_series, read_csv_series

# --------------------------------------------------------------------------- series


def test_builtin_series_and_their_splits():
    sun = builtin_series("sunspots")
    assert len(sun) == 309 and sun.time[sun.split_time] == 1950 and sun.season == 11
    syn = builtin_series("synthetic")
    assert len(syn) == 4 * 365 + 1 and syn.split_time == ts.COURSE_SPLIT_TIME
    co2 = builtin_series("co2")
    assert np.isfinite(co2.values).all() and str(co2.time[co2.split_time]).startswith("1990")
    with pytest.raises(SeriesError, match="unknown built-in series 'moon'"):
        builtin_series("moon")


def test_read_csv_series_detects_the_delimiter_and_skips_comments(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("# a comment\n\ndate\tprice\n2020-01\t1.5\n2020-02\t 2.5\n# late comment\n2020-03\t-3e1\n")
    s = read_csv_series(str(path), "price")
    np.testing.assert_array_equal(s.values, [1.5, 2.5, -30.0])
    np.testing.assert_array_equal(s.time, [0, 1, 2])
    assert s.name == "data.csv:price"
    with pytest.raises(SeriesError, match="no column 'Price'; available: 'date', 'price'"):
        read_csv_series(str(path), "Price")


# --------------------------------------------------------------------------- forecast


def test_resolve_split_and_minimum_length():
    assert resolve_split(100, None) == 80
    assert resolve_split(100, None, default=70) == 70
    assert resolve_split(100, 0.5) == 50
    assert resolve_split(100, 30) == 30
    assert resolve_split(100, -20) == 80
    with pytest.raises(SeriesError, match=r"index in \[1, 99\]"):
        resolve_split(100, 100)
    n = minimum_length(12)
    series = np.sin(np.arange(n))
    forecast(series, epochs=1)  # the minimum is accepted ...
    with pytest.raises(SeriesError, match=f"too short: {n - 1} values; with --window 12 at least {n} are needed"):
        forecast(series[:-1], epochs=1)  # ... one less is not


def test_forecast_shapes_baselines_and_determinism():
    s = builtin_series("synthetic")
    cfg = ForecastConfig(window=8, hidden=4, epochs=1, batch_size=64, seed=5)
    r = forecast(s, config=cfg)
    split = ts.COURSE_SPLIT_TIME
    n_valid = len(s) - split
    assert r.model_name == "LSTM"
    for values in r.forecasts.values():
        assert values.shape == (n_valid,)
    np.testing.assert_array_equal(r.actual, s.values[split:])
    np.testing.assert_array_equal(r.forecasts["naive (last value)"], s.values[split - 1 : -1])
    ma = r.baseline("moving average")
    w = int(ma.split("(")[1].split(")")[0])
    np.testing.assert_allclose(r.forecasts[ma][:3], [s.values[split - w + k : split + k].mean() for k in range(3)])
    np.testing.assert_array_equal(r.forecasts["seasonal naive (365)"], s.values[split - 365 : -365])
    assert r.metrics["LSTM"]["MAE"] == pytest.approx(np.mean(np.abs(r.forecasts["LSTM"] - r.actual)))
    assert len(r.history) == 1
    again = forecast(s, config=cfg)
    np.testing.assert_array_equal(again.forecasts["LSTM"], r.forecasts["LSTM"])
    assert "LSTM" in r.table() and "naive (last value)" in r.summary()


def test_forecast_never_looks_at_the_validation_period_to_train():
    """Changing the last value (a validation target, never an input) changes no forecast:
    neither the training, the normalisation nor any baseline's parameter saw it."""
    s = builtin_series("sunspots")
    cfg = ForecastConfig(epochs=2)
    a = forecast(s, config=cfg)
    values = s.values.copy()
    values[-1] = 1e6
    b = forecast(Series("changed", values, s.time, s.split_time, s.season), config=cfg)
    assert list(a.forecasts) == list(b.forecasts) and a.validation.choices == b.validation.choices
    for name in a.forecasts:
        np.testing.assert_array_equal(a.forecasts[name], b.forecasts[name])
    assert b.mae("LSTM") > a.mae("LSTM")


def test_forecast_mape_is_none_when_actual_has_zeros():
    values = np.abs(np.sin(np.arange(120) / 4.0)) * 10
    values[-3] = 0.0
    r = forecast(values, epochs=1)
    assert all(m["MAPE"] is None for m in r.metrics.values())
    assert "n/a" in r.table()


# --------------------------------------------------------------------------- speed and demo


def test_fast_path_agrees_with_reference():
    rows = speed.check_against_reference(shape=(6, 3, 4, 5))
    assert {(r.cell, r.dtype) for r in rows} == {(c, d) for c in ("lstm", "gru", "rnn") for d in ("float32", "float64")}
    assert all(r.ok for r in rows), speed.check_table(rows)
    assert "FAILED" not in speed.check_table(rows)


def test_timing_and_bench_validate_then_time():
    t = speed.time_training_step((8, 2, 3, 4), budget=0.02)
    assert t.fast_ms > 0 and t.reference_ms > 0 and t.speedup == t.reference_ms / t.fast_ms
    seen = []
    rows = speed.bench(["tiny"], modes=("training",), use_torch=False, budget=0.02, progress=seen.append)
    assert rows == seen and set(rows[0].ms) == {"lstmfast", "numpy"}
    assert rows[0].max_rel_err["lstmfast"] < 1e-4
    with pytest.raises(ValueError, match="unknown"):
        speed.bench(["enormous"])


def test_bench_refuses_to_time_a_wrong_engine(monkeypatch):
    from lstmfast import functional

    real = functional.lstm_forward

    def wrong(*args, **kwargs):
        y, h, c, tape = real(*args, **kwargs)
        return y * 1.01, h, c, tape

    monkeypatch.setattr(functional, "lstm_forward", wrong)
    with pytest.raises(RuntimeError, match="lstmfast: differs from the NumPy reference"):
        speed.bench(["tiny"], modes=("inference",), use_torch=False, budget=0.02)


def test_demo_quick_sections():
    sections = list(demo_sections(quick=True))
    assert [s.number for s in sections] == [1, 2, 3, 4, 5]
    for s in sections:
        assert s.title and s.context and s.body and s.conclusion
        assert s.text().startswith(f"{s.number}. {s.title}")


def test_forecast_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    from lstmfast.app import plotting

    path = str(tmp_path / "f.png")
    assert plotting.plot_forecast(forecast("sunspots", epochs=1), path) == path
    assert (tmp_path / "f.png").stat().st_size > 1000
    with pytest.raises(plotting.PlotError, match="unknown picture format"):
        plotting.check_plot_path(str(tmp_path / "x.docx"))


# --------------------------------------------------------------------------- full size (slow)


@pytest.mark.slow
def test_sunspots_lstm_beats_both_baselines_for_every_seed():
    maes = []
    for seed in range(10):
        r = forecast("sunspots", seed=seed)
        assert r.beats_baselines(), r.table()
        maes.append(r.mae("LSTM"))
    naive = r.mae("naive (last value)")
    assert max(maes) < 0.7 * naive  # not a close call: at least 30 % below the naive error


@pytest.mark.slow
def test_full_demo_runs_under_two_minutes():
    start = time.perf_counter()
    sections = list(demo_sections())
    assert len(sections) == 5
    assert time.perf_counter() - start < 120
