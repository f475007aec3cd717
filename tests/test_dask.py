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


# -- the command's fan-outs ---------------------------------------------------------------


def wide_csv(path, columns=3, n=200, huge=None):
    """A date column and one synthetic series per column (``huge``: the name of a
    column too large to normalise, which its forecast refuses)."""
    series = {f"s{k}": ts.synthetic_series(n=n, period=50, seed=k)[1] for k in range(columns)}
    lines = ["date," + ",".join(series) + ("," + huge if huge else "")]
    for i in range(n):
        extra = f",{(-1) ** i * 1.7e308}" if huge else ""
        lines.append(f"2020-{i}," + ",".join(f"{v[i]:.4f}" for v in series.values()) + extra)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(capsys, *argv):
    from lstmfast.app.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_forecast_columns_on_a_cluster_write_the_serial_forecasts(capsys, tmp_path, client):
    data = wide_csv(tmp_path / "wide.csv")
    common = ["forecast", "--csv", str(data), "--columns", "all", "--epochs", "2", "--horizon", "3"]
    code, here, _ = run_cli(capsys, *common, "--out", str(tmp_path / "here.csv"))
    assert code == 0
    code, there, _ = run_cli(capsys, *common, "--out", str(tmp_path / "there.csv"), "--scheduler", "local")
    assert code == 0
    assert (tmp_path / "here.csv").read_bytes() == (tmp_path / "there.csv").read_bytes()
    rows = (tmp_path / "here.csv").read_text().splitlines()
    assert rows[0] == "column,period,time,actual,forecast"
    assert {r.split(",")[0] for r in rows[1:]} == {"s0", "s1", "s2"}
    assert sum(r.split(",")[1] == "future" for r in rows[1:]) == 9  # 3 columns x horizon 3
    assert "left out (their first value is not a number): date" in here
    assert "as Dask tasks (local)" in there and "one model each, here" in here
    # the table is the same but for the first line (where it ran) and the last (the file)
    assert here.splitlines()[1:-1] == there.splitlines()[1:-1]


def test_forecast_columns_errors(capsys, tmp_path):
    data = wide_csv(tmp_path / "wide.csv", columns=2, huge="huge")
    code, _, err = run_cli(capsys, "forecast", "--csv", str(data), "--columns", "s0,huge", "--epochs", "1")
    assert code == 2 and "task 'huge' failed: SeriesError" in err and "too large to normalise" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "forecast", "--csv", str(data), "--columns", "s0,nope")
    assert code == 2 and "no column 'nope'" in err
    code, _, err = run_cli(capsys, "forecast", "--scheduler", "local")
    assert code == 2 and "--scheduler goes with --columns" in err
    code, _, err = run_cli(capsys, "forecast", "--csv", str(data), "--columns", "all", "--lr-sweep")
    assert code == 2 and "leave out --lr-sweep and --plot" in err
    code, _, err = run_cli(capsys, "forecast", "--csv", str(data), "--columns", "all", "--scheduler", "somewhere")
    assert code == 2 and "expected 'local' or a scheduler address" in err


def test_agreement_grid_on_a_cluster_equals_the_serial_run(client):
    from lstmfast.app.agreement_experiment import agreement_experiment

    small = {"seeds": 2, "distances": (3, 5), "epochs": 2, "train_size": 200, "test_size": 50}
    serial = agreement_experiment(**small)
    spread = agreement_experiment(**small, scheduler=client)
    assert spread.records == serial.records and len(serial.records) == 2 * 2 * 4 * 3
    with pytest.raises(ValueError, match="keep_models: not with scheduler"):
        agreement_experiment(**small, scheduler=client, keep_models=True)


def test_fan_out_to_a_running_cluster_by_its_address(tmp_path):
    """A scheduler and two workers started as a user would (the dask command), reached
    by address: the serial results again."""
    import json
    import shutil
    import subprocess
    import sys
    import time

    dask_command = shutil.which("dask", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert dask_command is not None, "distributed is installed but its dask command is not"
    info = tmp_path / "scheduler.json"
    started = [
        subprocess.Popen(
            [dask_command, "scheduler", "--port", "0", "--dashboard-address", ":0", "--scheduler-file", str(info)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        started.append(
            subprocess.Popen(
                [dask_command, "worker", address, "--nworkers", "2", "--nthreads", "1"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        tasks = series_tasks(2)
        spread = ldask.fan_out(forecast, tasks, seed=1, scheduler=address)
        serial = ldask.fan_out(forecast, tasks, seed=1, scheduler=None)
        for key in tasks:
            for method, values in serial[key].forecasts.items():
                np.testing.assert_array_equal(spread[key].forecasts[method], values)
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=30)
