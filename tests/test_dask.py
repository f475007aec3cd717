"""lstmfast.dask: many forecasts as Dask tasks on a LocalCluster of 2 worker
processes, bit for bit equal to the same run in one process."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("distributed")

from lstmfast import _core
from lstmfast.app.forecast_experiment import forecast
from lstmfast.datasets import timeseries as ts
from lstmfast.integrations import dask as ldask


def series_tasks(n: int = 4) -> dict[str, dict]:
    """One short synthetic series per key, each forecast with a small LSTM."""
    return {
        f"sensor {k}": {
            "series": ts.synthetic_series(n=200, period=50, seed=k)[1],
            "epochs": 3,
            "window": 8,
            "hidden": 8,
        }
        for k in range(n)
    }


@pytest.fixture(scope="module")
def client():
    with ldask.cluster("local", workers=2) as c:
        yield c


def test_fan_out_on_a_cluster_equals_the_serial_run(client):
    tasks = series_tasks()
    serial = ldask.fan_out(forecast, tasks, seed=3, scheduler=None)
    spread = ldask.fan_out(forecast, tasks, seed=3, scheduler=client)
    assert list(spread) == list(tasks)
    for key in tasks:
        assert spread[key].config == serial[key].config
        assert spread[key].forecasts.keys() == serial[key].forecasts.keys()
        for method, values in serial[key].forecasts.items():
            np.testing.assert_array_equal(spread[key].forecasts[method], values, err_msg=f"{key}: {method}")
        assert spread[key].history == serial[key].history
    # each task's seed is its own: not the same model four times
    assert len({r.config.seed for r in serial.values()}) == len(tasks)


def test_task_seeds_depend_on_the_key_not_on_the_order():
    keys = ["a", "b", "c", 7]
    forward = {k: ldask.task_seed(11, k) for k in keys}
    backward = {k: ldask.task_seed(11, k) for k in reversed(keys)}
    assert forward == backward
    assert len(set(forward.values())) == len(keys)
    assert ldask.task_seed(12, "a") != forward["a"]
    assert all(0 <= s < 2**63 for s in forward.values())


def test_workers_share_the_cores(client):
    cores = _core.default_num_threads()  # a LocalCluster's workers share this machine
    assert set(ldask.threads_of_workers(client).values()) == {max(1, cores // 2)}


def test_a_failing_task_names_its_key(client):
    tasks = {**series_tasks(1), "too short": {"series": np.arange(12.0), "epochs": 1, "window": 8}}
    for scheduler in (None, client):
        with pytest.raises(ldask.TaskFailed, match=r"task 'too short' failed: SeriesError: .*too short"):
            ldask.fan_out(forecast, tasks, scheduler=scheduler)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="scheduler: expected 'local', a scheduler address like 'tcp://HOST:8786'"):
        ldask.fan_out(forecast, series_tasks(1), scheduler="localhost")
    with pytest.raises(TypeError, match="tasks: expected a mapping"):
        ldask.fan_out(forecast, [1, 2], scheduler=None)
    with pytest.raises(TypeError, match="function: expected a callable, got str"):
        ldask.fan_out("forecast", series_tasks(1), scheduler=None)
    with pytest.raises(ValueError, match="workers: expected"), ldask.cluster("local", workers=0):
        pass


def test_short_name():
    import lstmfast.dask

    assert lstmfast.dask.fan_out is ldask.fan_out
