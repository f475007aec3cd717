"""Every public object survives pickle, deepcopy, joblib and process pools (fork and
spawn) and computes the same numbers afterwards; tapes, which hold what a backward
pass needs in memory of the kernels', refuse pickling by name."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import lstmfast
from lstmfast.training import SGD, Adam, AdamW, SequenceModel

X = np.random.default_rng(0).normal(size=(6, 4, 3)).astype(np.float32)


def layers():
    return [
        lstmfast.LSTM(3, 5, num_layers=2, bidirectional=True, seed=0),
        lstmfast.GRU(3, 5, batch_first=True, seed=1),
        lstmfast.RNN(3, 5, nonlinearity="relu", seed=2),
        lstmfast.LSTM(3, 5, stateful=True, seed=3),
    ]


def run(obj):
    """What an object computes, to compare before and after travelling."""
    if isinstance(obj, SequenceModel):
        return obj.predict(X)
    if isinstance(obj, lstmfast.layers._Cell):
        return obj(X[0])
    if isinstance(obj, (Adam, SGD)):
        params = {"p": np.ones(3, np.float32)}
        obj.step(params, {"p": np.full(3, 0.5, np.float32)})
        return params["p"]
    return obj(X)[0]


def objects():
    model = SequenceModel(3, [5, 4], 2, cell="gru", task="regression", seed=0)
    model.fit(X, np.zeros((6, 4, 2)), epochs=1, progress=False)
    optimizer = Adam(1e-2)
    optimizer.step({"p": np.ones(3, np.float32)}, {"p": np.ones(3, np.float32)})  # with state
    return [
        *layers(),
        lstmfast.LSTMCell(3, 5, seed=0),
        lstmfast.RNNCell(3, 5, seed=0),
        model,
        optimizer,
        AdamW(1e-3),
        SGD(0.1, momentum=0.9),
    ]


def same(a, b):
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b))
    return np.array_equal(a, b)


@pytest.mark.parametrize("obj", objects(), ids=lambda o: type(o).__name__)
def test_pickle_and_deepcopy_keep_what_objects_compute(obj):
    for travelled in (pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)):
        assert same(run(travelled), run(copy.deepcopy(obj)))


def test_joblib_round_trip(tmp_path):
    joblib = pytest.importorskip("joblib")
    for obj in objects():
        joblib.dump(obj, tmp_path / "o.joblib")
        assert same(run(joblib.load(tmp_path / "o.joblib")), run(copy.deepcopy(obj)))


def _predict(model):
    return model.predict(X)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_models_travel_to_process_pools(method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    models = [SequenceModel(3, 4, seed=k) for k in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: forking a process with threads
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
            results = list(pool.map(_predict, models, timeout=120))
    for model, result in zip(models, results):
        np.testing.assert_array_equal(result, model.predict(X))


def test_tapes_refuse_pickling_by_name():
    for make in (
        lambda: lstmfast.lstm_forward(
            X, np.zeros((20, 3), np.float32), np.zeros((20, 5), np.float32), None, None, training=True
        )[-1],
        lambda: lstmfast.GRU(3, 5).forward(X)[-1],
    ):
        with pytest.raises(TypeError, match="(cannot pickle|pickle).*Tape"):
            pickle.dumps(make())


def test_unpickled_arrays_are_inputs_like_any():
    layer = lstmfast.LSTM(3, 5, seed=0)
    np.testing.assert_array_equal(layer(pickle.loads(pickle.dumps(X)))[0], layer(X)[0])
    p = {k: pickle.loads(pickle.dumps(v)) for k, v in layer.parameters().items()}
    y = lstmfast.lstm_forward(
        pickle.loads(pickle.dumps(X)), p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]
    )[0]
    np.testing.assert_array_equal(y, layer(X)[0])
