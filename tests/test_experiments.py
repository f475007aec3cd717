"""The experiments behind `lstmfast`: forecasting with fixed partitioning, the plural-cats
comparison, gradient flow, the speed checks and the demo. Tiny settings in the default run;
the full-size experiments (the numbers the README quotes) are marked slow."""

from __future__ import annotations

import time

import numpy as np
import pytest

from lstmfast.app import speed
from lstmfast.app.agreement_experiment import AgreementConfig, agreement_experiment
from lstmfast.app.demo import demo_sections
from lstmfast.app.forecast_experiment import ForecastConfig, forecast, minimum_length, resolve_split
from lstmfast.app.gradient_experiment import gradient_experiment
from lstmfast.datasets import timeseries as ts
from lstmfast.datasets.series import Series, SeriesError, builtin_series, read_csv_series

TINY_AGREEMENT = AgreementConfig(
    hidden=8,
    train_size=120,
    train_distances=(1, 2, 3, 4),
    test_distances=(1, 4),
    test_size=20,
    epochs=2,
    repeats=2,
    seed=3,
)

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
    assert next(iter(r.forecasts)) == "LSTM"
    for values in r.forecasts.values():
        assert values.shape == (n_valid,)
    np.testing.assert_array_equal(r.actual, s.values[split:])
    np.testing.assert_array_equal(r.forecasts["naive (last value)"], s.values[split - 1 : -1])
    w = r.ma_window
    np.testing.assert_allclose(
        r.forecasts[f"moving average ({w})"][:3], [s.values[split - w + k : split + k].mean() for k in range(3)]
    )
    np.testing.assert_array_equal(r.forecasts["seasonal naive (365)"], s.values[split - 365 : -365])
    assert r.metrics["LSTM"]["MAE"] == pytest.approx(np.mean(np.abs(r.forecasts["LSTM"] - r.actual)))
    assert len(r.history) == 1
    again = forecast(s, config=cfg)
    np.testing.assert_array_equal(again.forecasts["LSTM"], r.forecasts["LSTM"])
    assert "LSTM" in r.table() and "naive (last value)" in r.summary()


def test_forecast_never_looks_at_the_validation_period_to_train():
    """Changing the last value (a validation target, never an input) changes no forecast:
    neither the training, the normalisation nor the moving-average window saw it."""
    s = builtin_series("sunspots")
    cfg = ForecastConfig(epochs=2)
    a = forecast(s, config=cfg)
    values = s.values.copy()
    values[-1] = 1e6
    b = forecast(Series("changed", values, s.time, s.split_time, s.season), config=cfg)
    assert a.ma_window == b.ma_window
    for name in a.forecasts:
        np.testing.assert_array_equal(a.forecasts[name], b.forecasts[name])
    assert b.mae("LSTM") > a.mae("LSTM")


def test_forecast_mape_is_none_when_actual_has_zeros():
    values = np.abs(np.sin(np.arange(120) / 4.0)) * 10
    values[-3] = 0.0
    r = forecast(values, epochs=1)
    assert all(m["MAPE"] is None for m in r.metrics.values())
    assert "n/a" in r.table()


# --------------------------------------------------------------------------- agreement and gradients


def test_agreement_experiment_tiny():
    r = agreement_experiment(TINY_AGREEMENT, keep_models=True)
    for cell in ("rnn", "lstm"):
        assert r.accuracy[cell].shape == (2, 2)
        assert r.curves[cell].shape == (2, 2)
        assert ((r.accuracy[cell] >= 0) & (r.accuracy[cell] <= 1)).all()
        assert r.models[cell].cell == cell and r.models[cell].hidden_sizes == [8]
    assert r.chance == 0.5
    assert r.last_noun[0] == 1.0  # distance 1: no noun in between, the shortcut is always right
    assert len(r.epochs_to_solve("rnn")) == 2
    text = r.summary()
    assert "vanilla RNN (mean of 2)" in text and "last-noun shortcut" in text and "chance" in text
    again = agreement_experiment(TINY_AGREEMENT)
    for cell in ("rnn", "lstm"):
        np.testing.assert_array_equal(again.accuracy[cell], r.accuracy[cell])


def test_gradient_experiment_tiny_reuses_trained_models():
    cfg = AgreementConfig(hidden=8, train_size=120, train_distances=(1, 2, 3), epochs=1, seed=1)
    trained = agreement_experiment(cfg, keep_models=True, repeats=1, test_distances=(3,), test_size=10).models
    r = gradient_experiment(12, config=cfg, models=trained, probe_size=8)
    assert set(r.flows) == {(c, s) for c in ("rnn", "lstm") for s in ("init", "trained")}
    assert r.subject_distance == 10
    for key, flow in r.flows.items():
        assert flow.norms.shape == (12,)
        assert r.relative(*key, 0) == pytest.approx(1.0)
    assert 0 < r.decay_per_step("rnn", "init") < 1
    table = r.table()
    assert "<- the subject" in table and "per step" in table
    # "init" really is the starting point of the trained models: same seed, same initial weights
    assert r.flows[("lstm", "init")].norms[-1] != r.flows[("lstm", "trained")].norms[-1]
    with pytest.raises(ValueError, match="length"):
        gradient_experiment(4, config=cfg, models=trained)


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


def test_plots_are_written(tmp_path):
    pytest.importorskip("matplotlib")
    from lstmfast.app import plotting

    ag = agreement_experiment(TINY_AGREEMENT, keep_models=True)
    cfg = TINY_AGREEMENT
    gf = gradient_experiment(10, config=cfg, models=ag.models, probe_size=4)
    fc = forecast("sunspots", epochs=1)
    for draw, result, name in (
        (plotting.plot_agreement, ag, "a.png"),
        (plotting.plot_gradients, gf, "g.svg"),
        (plotting.plot_forecast, fc, "f.png"),
    ):
        path = str(tmp_path / name)
        assert draw(result, path) == path
        assert (tmp_path / name).stat().st_size > 1000
    with pytest.raises(plotting.PlotError, match="unknown picture format"):
        plotting.check_plot_path(str(tmp_path / "x.docx"))


# --------------------------------------------------------------------------- full size (slow)


@pytest.mark.slow
def test_sunspots_lstm_beats_both_baselines_for_every_seed():
    maes = []
    for seed in range(10):
        r = forecast("sunspots", seed=seed)
        assert r.beats_baselines, r.table()
        maes.append(r.mae("LSTM"))
    naive = r.mae("naive (last value)")
    assert max(maes) < 0.7 * naive  # not a close call: at least 30 % below the naive error


@pytest.mark.slow
def test_agreement_full_size_lstm_learns_every_seed():
    r = agreement_experiment()
    assert r.solved("lstm") == r.config.repeats, r.summary()
    assert r.last_noun[-1] < 0.6  # attractors defeat the shortcut at distance 40
    assert r.mean_accuracy("lstm")[-1] >= r.mean_accuracy("rnn")[-1]


@pytest.mark.slow
def test_gradient_flow_full_size_lstm_keeps_far_more_than_rnn():
    r = gradient_experiment(100)
    d = r.subject_distance
    assert r.relative("lstm", "trained", d) > 1e6 * r.relative("rnn", "trained", d), r.table()
    for cell in ("rnn", "lstm"):
        assert r.relative(cell, "init", d) < 1e-10  # both vanish at initialisation


@pytest.mark.slow
def test_full_demo_runs_under_two_minutes():
    start = time.perf_counter()
    sections = list(demo_sections())
    assert len(sections) == 5
    assert time.perf_counter() - start < 120
