"""SequenceModel: gradients of the whole model, training, reproducibility, files, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lstmfast
from lstmfast import _core
from lstmfast.datasets import timeseries as ts
from lstmfast.training.model import FORMAT_VERSION, SequenceModel
from lstmfast.training.optim import SGD, Adam


def memory_task(T: int, N: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bits in, "has a 1 appeared so far?" out, at every step: needs memory of the past."""
    rng = np.random.default_rng(seed)
    x = (rng.random((T, N, 1)) < 0.1).astype(np.float32)
    return x, (np.cumsum(x, axis=0) > 0).astype(np.float32)


def tiny_problem(model: SequenceModel, T: int = 4, N: int = 3, seed: int = 0, mask: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T, N, model.input_size))
    shape = (T, N, model.output_size) if model.output == "per_step" else (N, model.output_size)
    y = rng.random(shape) if model.task == "binary" else rng.standard_normal(shape)
    m = (rng.random(shape[:-1]) < 0.6).astype(np.float64) if mask else None
    return X, y, m


# --------------------------------------------------------------------------- gradients


CONFIGS = [
    (cell, output, task, hidden)
    for cell in ("lstm", "gru", "rnn")
    for output in ("per_step", "last")
    for task in ("binary", "regression")
    for hidden in ([3], [3, 2])
]


@pytest.mark.parametrize("cell,output,task,hidden", CONFIGS)
def test_gradients_match_finite_differences(cell, output, task, hidden):
    """Every element of every parameter (layers + head + loss), float64, centred differences.

    With eps = 1e-6 the truncation error is O(eps² f''') ~ 1e-12 and the rounding
    error ~ 1e-16 · |L| / eps ~ 1e-10, so 1e-7 absolute + 1e-6 relative is loose for
    a correct gradient yet catches any wrong term (those are O(1e-2) here).
    """
    model = SequenceModel(2, hidden, output_size=2, cell=cell, output=output, task=task, dtype=np.float64, seed=1)
    X, y, mask = tiny_problem(model, mask=(task == "binary"))
    loss, grads = model.loss_and_gradients(X, y, mask)
    assert loss == pytest.approx(model.evaluate(X, y, mask)["loss"], rel=1e-12)
    assert list(grads) == list(model.parameters())
    eps = 1e-6
    for name, p in model.parameters().items():
        numeric = np.empty_like(p)
        for i in np.ndindex(p.shape):
            keep = p[i]
            p[i] = keep + eps
            up = model.evaluate(X, y, mask)["loss"]
            p[i] = keep - eps
            down = model.evaluate(X, y, mask)["loss"]
            p[i] = keep
            numeric[i] = (up - down) / (2 * eps)
        assert grads[name].dtype == np.float64
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("output", ["per_step", "last"])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_bidirectional_gradients_match_finite_differences(cell, output, with_lengths):
    """Two bidirectional layers; with lengths, ``last`` reads the forward direction
    at each sequence's own last step and the backward one at t = 0 (tolerances as above)."""
    model = SequenceModel(
        2,
        [3, 2],
        output_size=2,
        cell=cell,
        output=output,
        task="regression",
        bidirectional=True,
        dtype=np.float64,
        seed=2,
    )
    X, y, _ = tiny_problem(model, T=4, N=3, seed=5)
    lengths = np.array([4, 2, 3]) if with_lengths else None
    loss, grads = model.loss_and_gradients(X, y, lengths=lengths)
    assert list(grads) == list(model.parameters())
    assert "lstm.weight_hh_l1_reverse" in grads or cell != "lstm"
    eps = 1e-6
    for name, p in model.parameters().items():
        numeric = np.empty_like(p)
        for i in np.ndindex(p.shape):
            keep = p[i]
            p[i] = keep + eps
            up = model.evaluate(X, y, lengths=lengths)["loss"]
            p[i] = keep - eps
            down = model.evaluate(X, y, lengths=lengths)["loss"]
            p[i] = keep
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-7, err_msg=name)
    if with_lengths and output == "last":  # the padding changes nothing
        padded = X.copy()
        padded[2:, 1] = 50.0
        assert model.evaluate(padded, y, lengths=lengths)["loss"] == pytest.approx(loss, rel=1e-14)


@pytest.mark.parametrize("output", ["per_step", "last"])
def test_bidirectional_model_matches_torch(output):
    """torch's bidirectional LSTM and a head on [forward at T-1, backward at 0] (last)."""
    torch = pytest.importorskip("torch")
    T, N, I, H, O = 6, 5, 3, 4, 2
    model = SequenceModel(I, [H, H], O, output=output, task="regression", bidirectional=True, dtype=np.float64, seed=3)
    X, y, _ = tiny_problem(model, T, N, seed=4)
    net = torch.nn.Module()
    net.lstm = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    net.head = torch.nn.Linear(2 * H, O, dtype=torch.float64)
    net.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    a, _ = net.lstm(torch.tensor(X))
    z = net.head(a if output == "per_step" else torch.cat([a[-1, :, :H], a[0, :, H:]], dim=1))
    expected = torch.nn.functional.mse_loss(z, torch.tensor(y))
    expected.backward()
    loss, grads = model.loss_and_gradients(X, y)
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize(
    "cell,output,task",
    [("lstm", "per_step", "binary"), ("gru", "per_step", "regression"), ("rnn", "last", "regression")],
)
def test_loss_and_gradients_match_torch(cell, output, task):
    """A torch module with attributes `lstm`/`rnn` and `head` has the same state-dict keys."""
    torch = pytest.importorskip("torch")
    T, N, I, H, O = 6, 5, 3, 4, 2
    model = SequenceModel(I, [H, H], O, cell=cell, output=output, task=task, dtype=np.float64, seed=3)
    X, y, mask = tiny_problem(model, T, N, seed=4, mask=(task == "binary"))

    net = torch.nn.Module()
    rec = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](
        I, H, num_layers=2, dtype=torch.float64
    )
    setattr(net, cell, rec)
    net.head = torch.nn.Linear(H, O, dtype=torch.float64)
    net.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    a, _ = rec(torch.tensor(X))
    z = net.head(a if output == "per_step" else a[-1])
    yt = torch.tensor(y)
    if task == "binary":
        elementwise = torch.nn.functional.binary_cross_entropy_with_logits(z, yt, reduction="none")
        expected = (elementwise * torch.tensor(mask)[..., None]).sum() / N
    else:
        expected = torch.nn.functional.mse_loss(z, yt)
    expected.backward()

    loss, grads = model.loss_and_gradients(X, y, mask)
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


# --------------------------------------------------------------------------- training


def test_fit_learns_the_memory_task():
    X, y = memory_task(20, 256, seed=0)
    X_val, y_val = memory_task(20, 256, seed=1)
    model = SequenceModel(1, 8, seed=0)
    before = model.evaluate(X_val, y_val)
    history = model.fit(
        X, y, epochs=15, batch_size=32, optimizer=Adam(0.02), seed=0, progress=False, validation_data=(X_val, y_val)
    )
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 15 for v in history.values())
    # Measured: summed-over-time BCE per sequence 13.2 -> 0.31, validation accuracy 1.0.
    # Predicting the running frequency without memory cannot go below ~5 per sequence.
    assert before["loss"] > 10
    assert history["loss"][-1] < 1.0 and history["val_loss"][-1] < 1.0
    assert history["val_accuracy"][-1] >= 0.99
    assert history["val_loss"][-1] == pytest.approx(model.evaluate(X_val, y_val)["loss"])
    p = model.predict(X_val)
    assert p.shape == (20, 256, 1) and p.dtype == np.float32 and p.min() >= 0 and p.max() <= 1


def test_fit_learns_a_sine_forecast():
    series = np.sin(0.3 * np.arange(400))
    X, y = ts.make_windows(series, 20)  # X (20, 380, 1), y (380, 1): next value
    model = SequenceModel(1, 8, output="last", task="regression", seed=0)
    history = model.fit(X, y, epochs=20, batch_size=32, optimizer=Adam(0.01), seed=0, progress=False)
    assert set(history) == {"loss"}
    # Measured: MSE 0.41 (about the variance 0.5 of the targets) -> 2.7e-5.
    assert history["loss"][0] > 0.1
    assert history["loss"][-1] < 1e-3
    pred = model.predict(X)
    assert pred.shape == (380, 1)
    assert ts.mse(y[:, 0], pred[:, 0]) < 1e-3


def test_fit_with_mask_and_sgd_and_clipping():
    X, y = memory_task(12, 64, seed=2)
    mask = np.zeros((12, 64), np.float32)
    mask[-1] = 1  # only the last step counts
    model = SequenceModel(1, 6, cell="rnn", seed=0)
    first = model.evaluate(X, y, mask)["loss"]
    history = model.fit(
        X,
        y[..., 0],
        epochs=10,
        batch_size=16,
        optimizer=SGD(0.5, momentum=0.9),
        clip_norm=1.0,
        mask=mask,
        seed=0,
        progress=False,
    )
    assert history["loss"][-1] < first


def test_fit_uses_the_fast_path_for_every_forward_and_backward(monkeypatch):
    calls = {"forward": 0, "backward": 0}
    forward, backward = _core.lstm_forward, _core.lstm_backward

    # Count the calls that ran (the functional layer may first try a call that
    # the compiled module refuses before any work, e.g. for float64 input).
    def counting_forward(*args):
        out = forward(*args)
        calls["forward"] += 1
        return out

    def counting_backward(*args):
        out = backward(*args)
        calls["backward"] += 1
        return out

    def refuse(*args, **kwargs):
        raise AssertionError("the NumPy reference must not be used for training")

    monkeypatch.setattr(_core, "lstm_forward", counting_forward)
    monkeypatch.setattr(_core, "lstm_backward", counting_backward)
    monkeypatch.setattr(lstmfast.reference, "lstm_forward", refuse)
    monkeypatch.setattr(lstmfast.reference, "lstm_backward", refuse)
    X, y = memory_task(5, 10, seed=0)
    SequenceModel(1, [4, 3], seed=0).fit(X, y, epochs=2, batch_size=4, progress=False)
    # 3 batches per epoch (4 + 4 + 2), 2 epochs, 2 layers: one C++ call each
    assert calls == {"forward": 12, "backward": 12}


def test_same_seed_gives_bit_identical_training():
    X, y = memory_task(10, 50, seed=0)
    X_val, y_val = memory_task(10, 20, seed=1)

    def run(fit_seed):
        model = SequenceModel(1, [5, 4], seed=7)
        history = model.fit(
            X,
            y,
            epochs=3,
            batch_size=8,
            optimizer=Adam(0.01),
            seed=fit_seed,
            validation_data=(X_val, y_val),
            progress=False,
        )
        return model.state_dict(), history

    (a, ha), (b, hb), (c, _) = run(0), run(0), run(1)
    assert ha == hb
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert any(not np.array_equal(a[name], c[name]) for name in a)  # the seed does shuffle
    assert not np.array_equal(
        SequenceModel(1, 4, seed=1).state_dict()["head.weight"], SequenceModel(1, 4, seed=2).state_dict()["head.weight"]
    )


def test_progress_bar_on_and_off(capsys):
    X, y = memory_task(5, 8, seed=0)
    model = SequenceModel(1, 3, seed=0)
    model.fit(X, y, epochs=2, batch_size=4, progress=False)
    assert capsys.readouterr().err == ""
    model.fit(X, y, epochs=2, batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "4/4" in err


def test_divergence_is_reported():
    X, y = memory_task(5, 8, seed=0)
    model = SequenceModel(1, 3, seed=0)
    sd = model.state_dict()
    sd["head.weight"][:] = 3e38  # logits overflow to inf in float32
    model.load_state_dict(sd)
    with (
        pytest.raises(FloatingPointError, match=r"the loss became .* at epoch 1, batch 1"),
        np.errstate(over="ignore", invalid="ignore"),
    ):  # NumPy's own overflow warnings
        # Unshuffled, batch 1 holds samples with target 1, which the saturated
        # head gets infinitely wrong; a shuffled batch of only target-0
        # samples (1 in 70) is classified right and its loss is exactly 0.
        model.fit(X, y, epochs=1, batch_size=4, progress=False, shuffle=False)


def test_predict_evaluate_and_shapes():
    X, y = memory_task(7, 10, seed=0)
    model = SequenceModel(1, [4, 3], output_size=1, output="last", seed=0)
    p = model.predict(X, batch_size=3)
    assert p.shape == (10, 1)
    np.testing.assert_allclose(p, model.predict(X), rtol=1e-6)
    scores = model.evaluate(X, y[-1], batch_size=4)
    assert set(scores) == {"loss", "accuracy"}
    loss, _ = model.loss_and_gradients(X, y[-1])
    assert scores["loss"] == pytest.approx(loss, rel=1e-6)
    reg = SequenceModel(1, 3, output_size=2, task="regression", dtype=np.float64, seed=0)
    z = reg.predict(X.astype(np.int64))  # any real dtype is converted
    assert z.shape == (7, 10, 2) and z.dtype == np.float64
    assert set(reg.evaluate(X, np.zeros((7, 10, 2)))) == {"loss"}


def test_parameters_are_live_and_named_like_pytorch():
    model = SequenceModel(3, [5, 4], output_size=2, cell="rnn", nonlinearity="relu", seed=0)
    assert list(model.parameters()) == [
        "rnn.weight_ih_l0",
        "rnn.weight_hh_l0",
        "rnn.bias_ih_l0",
        "rnn.bias_hh_l0",
        "rnn.weight_ih_l1",
        "rnn.weight_hh_l1",
        "rnn.bias_ih_l1",
        "rnn.bias_hh_l1",
        "head.weight",
        "head.bias",
    ]
    assert model.parameters()["rnn.weight_ih_l1"].shape == (4, 5)
    assert model.parameters()["head.weight"].shape == (2, 4)
    assert model.num_parameters == 5 * 3 + 25 + 10 + 4 * 5 + 16 + 8 + 8 + 2
    model.parameters()["rnn.bias_hh_l1"][:] = 0.5  # in place: the layer sees it
    assert np.all(model.layers[1].parameters()["bias_hh_l0"] == 0.5)
    assert "nonlinearity='relu'" in repr(model)
    with pytest.raises(KeyError, match=r"missing keys \['head.bias'\]"):
        model.load_state_dict({k: v for k, v in model.state_dict().items() if k != "head.bias"})
    bad = model.state_dict()
    bad["rnn.weight_hh_l1"] = np.zeros((4, 5))
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"rnn.weight_hh_l1: expected shape \(4, 4\), got \(4, 5\)"):
        model.load_state_dict(bad)
    for name, p in model.state_dict().items():  # nothing changed
        np.testing.assert_array_equal(p, before[name])


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hidden_size": 4},
        {
            "hidden_size": [4, 3],
            "cell": "rnn",
            "nonlinearity": "relu",
            "output": "last",
            "task": "regression",
            "output_size": 2,
            "dtype": np.float64,
        },
        {"hidden_size": [3, 2], "cell": "gru", "bidirectional": True, "output": "last"},
    ],
)
def test_save_load_round_trip(tmp_path, kwargs):
    model = SequenceModel(2, seed=0, **kwargs)
    X = np.random.default_rng(0).standard_normal((6, 5, 2))
    path = model.save(tmp_path / "model")
    assert path == tmp_path / "model.npz" and path.exists()
    loaded = SequenceModel.load(path)
    assert loaded.config == model.config and repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    for name, p in model.parameters().items():
        assert loaded.parameters()[name].dtype == p.dtype
        np.testing.assert_array_equal(loaded.parameters()[name], p)


def _rewrite(tmp_path, change):
    """Save a model, let `change` edit its arrays (a dict), write them to a new file."""
    source = SequenceModel(2, 3, seed=0).save(tmp_path / "good.npz")
    with np.load(source) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    target = tmp_path / "bad.npz"
    np.savez(target, **arrays)
    return target


def _set(key, value):
    return lambda a: a.__setitem__(key, value)


def _pop(key):
    return lambda a: a.pop(key)


@pytest.mark.parametrize(
    "change,message",
    [
        (_pop("__format__"), "not an lstmfast model file"),
        (_set("__format__", np.array("something.else")), "not an lstmfast model file"),
        (_pop("__version__"), "has no format version"),
        (_set("__version__", np.array(4)), r"format version 4 is not supported .*reads versions \[1, 2, 3\]"),
        (_set("__version__", np.array("1")), "format version '1' is not supported"),
        (_pop("__config__"), "has no architecture config"),
        (_set("__config__", np.array("{not json")), "invalid architecture config"),
        (
            _set("__config__", np.array(json.dumps({"input_size": 2}))),
            "invalid architecture config .*expected the keys",
        ),
        (_pop("param.head.bias"), r"missing \['head.bias'\]"),
        (_set("param.head.extra", np.zeros(2, np.float32)), r"unexpected \['head.extra'\]"),
        (_set("stray", np.zeros(2)), r"unexpected \['stray'\]"),
        (_set("param.head.weight", np.zeros((1, 4), np.float32)), r"head.weight: expected shape \(1, 3\)"),
        (_set("param.head.bias", np.zeros(1, np.float64)), "head.bias: expected dtype float32"),
        (_set("param.head.bias", np.full(1, np.nan, np.float32)), "head.bias: contains NaN"),
        (_set("param.head.bias", np.array([None], dtype=object)), "not a readable .npz file"),
    ],
)
def test_load_refuses_bad_files(tmp_path, change, message):
    path = _rewrite(tmp_path, change)
    with pytest.raises(ValueError, match=message) as info:
        SequenceModel.load(path)
    assert "\n" not in str(info.value)


def test_load_refuses_corrupt_and_foreign_files(tmp_path):
    good = SequenceModel(2, 3, seed=0).save(tmp_path / "good.npz")
    data = good.read_bytes()
    cases = {
        "truncated.npz": data[: len(data) // 2],
        "garbage.npz": b"\x00\x01 definitely not a zip file " * 10,
        "empty.npz": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=r"not a readable .npz file") as info:
            SequenceModel.load(tmp_path / name)
        assert "\n" not in str(info.value)
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # inside a stored array: the zip CRC check fails
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError):
        SequenceModel.load(tmp_path / "flipped.npz")
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"a single .npy array"):
        SequenceModel.load(tmp_path / "array.npy")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not an lstmfast model file"):
        SequenceModel.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="is a directory"):
        SequenceModel.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        SequenceModel.load(tmp_path / "missing.npz")


def test_format_version_constant():
    assert FORMAT_VERSION == 3


@pytest.mark.parametrize(
    "version, newer", [(1, ("loss", "forget_bias", "batch_first", "bidirectional")), (2, ("bidirectional",))]
)
def test_older_versions_still_load(tmp_path, version, newer):
    """Version 1 (before loss, forget_bias and batch_first were in the config) and 2
    (before bidirectional) read with the defaults of what they lack."""
    model = SequenceModel(2, 3, seed=0)  # the model _rewrite saves
    old = {k: v for k, v in model.config.items() if k not in newer}
    path = _rewrite(
        tmp_path, lambda a: a.update({"__version__": np.array(version), "__config__": np.array(json.dumps(old))})
    )
    loaded = SequenceModel.load(path)
    assert loaded.config == model.config and loaded.loss == "bce" and loaded.forget_bias is None
    assert not loaded.bidirectional
    for name, p in model.parameters().items():
        np.testing.assert_array_equal(loaded.parameters()[name], p)
    with pytest.raises(ValueError, match="invalid architecture config"):  # version 2 without the new key only
        SequenceModel.load(
            _rewrite(
                tmp_path, lambda a: a.update({"__version__": np.array(3), "__config__": np.array(json.dumps(old))})
            )
        )


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs,exc,message",
    [
        ({"cell": "lsmt"}, ValueError, r"cell: expected one of \('lstm', 'gru', 'rnn'\), got 'lsmt'"),
        ({"output": "all"}, ValueError, "output: expected one of"),
        ({"task": "softmax"}, ValueError, "task: expected one of"),
        ({"hidden_size": []}, ValueError, "hidden_size: expected a positive int or a non-empty list"),
        ({"hidden_size": [3, 0]}, ValueError, r"hidden_size\[1\]: expected a positive int, got 0"),
        ({"hidden_size": 2.0}, TypeError, "hidden_size: expected a positive int"),
        ({"input_size": 0}, ValueError, "input_size: expected a positive int"),
        ({"output_size": -1}, ValueError, "output_size: expected a positive int"),
        ({"nonlinearity": "relu"}, ValueError, "nonlinearity: only for cell='rnn'"),
        ({"cell": "rnn", "nonlinearity": "sigmoid"}, ValueError, "nonlinearity: expected one of"),
        ({"dtype": np.int32}, TypeError, "dtype: expected float32 or float64"),
        ({"seed": -1}, ValueError, "seed: expected None or an int >= 0"),
        ({"seed": 1.5}, TypeError, "seed: expected None or an int >= 0"),
    ],
)
def test_bad_model_arguments(kwargs, exc, message):
    args = {"input_size": 2, "hidden_size": 3, **kwargs}
    with pytest.raises(exc, match=message):
        SequenceModel(**args)


X_OK, Y_OK = memory_task(5, 6, seed=0)


@pytest.mark.parametrize(
    "call,exc,message",
    [
        (lambda m: m.fit(X_OK[0], Y_OK), ValueError, r"X: expected a 3-D array \(T, N, I\) with I = 1"),
        (lambda m: m.fit(np.zeros((5, 6, 2)), Y_OK), ValueError, r"X: expected a 3-D array .* got shape \(5, 6, 2\)"),
        (lambda m: m.fit(np.zeros((0, 6, 1)), Y_OK), ValueError, "X: expected at least one time step"),
        (lambda m: m.fit(X_OK.astype(str), Y_OK), TypeError, "X: expected real numbers"),
        (lambda m: m.fit(np.full((5, 6, 1), np.nan), Y_OK), ValueError, "X: contains 30 NaN or infinite"),
        (
            lambda m: m.fit(X_OK, Y_OK[:, :5]),
            ValueError,
            r"y: expected shape \(T, N, O\) = \(5, 6, 1\) \(T and N from X\) for output='per_step', got \(5, 5, 1\)",
        ),
        (lambda m: m.fit(X_OK, Y_OK[-1]), ValueError, r"y: expected shape \(T, N, O\)"),
        (lambda m: m.fit(X_OK, 2 * Y_OK), ValueError, r"y: binary targets must be in \[0, 1\]"),
        (lambda m: m.fit(X_OK, Y_OK, mask=np.ones((5, 5))), ValueError, "mask: expected the shape of the targets"),
        (lambda m: m.fit(X_OK, Y_OK, mask=-np.ones((5, 6))), ValueError, "mask: weights must be >= 0"),
        (lambda m: m.fit(X_OK, Y_OK, epochs=0), ValueError, "epochs: expected a positive int, got 0"),
        (lambda m: m.fit(X_OK, Y_OK, batch_size=0), ValueError, "batch_size: expected a positive int, got 0"),
        (lambda m: m.fit(X_OK, Y_OK, batch_size=2.5), TypeError, "batch_size: expected a positive int"),
        (
            lambda m: m.fit(X_OK, Y_OK, optimizer="adam"),
            TypeError,
            "optimizer: expected an lstmfast.training optimizer",
        ),
        (lambda m: m.fit(X_OK, Y_OK, clip_norm=-1.0), ValueError, "clip_norm: expected None or a finite number > 0"),
        (lambda m: m.fit(X_OK, Y_OK, validation_data=X_OK), TypeError, "validation_data: expected a tuple"),
        (
            lambda m: m.fit(X_OK, Y_OK, validation_data=(X_OK, Y_OK[:, :2])),
            ValueError,
            r"validation_data: y: expected shape",
        ),
        (lambda m: m.fit(X_OK, Y_OK, seed=-3), ValueError, "seed: expected None or an int >= 0"),
        (lambda m: m.fit(X_OK, Y_OK, progress="yes"), TypeError, "progress: expected a bool"),
        (lambda m: m.predict(X_OK, batch_size=0), ValueError, "batch_size: expected a positive int"),
        (lambda m: m.evaluate(X_OK, Y_OK[:4]), ValueError, "y: expected shape"),
    ],
)
def test_bad_data_arguments(call, exc, message):
    model = SequenceModel(1, 3, seed=0)
    with pytest.raises(exc, match=message):
        call(model)


def test_last_output_targets_and_missing_output_axis():
    model = SequenceModel(1, 3, output="last", seed=0)
    with pytest.raises(ValueError, match=r"y: expected shape \(N, O\) = \(6, 1\) \(N from X\) for output='last'"):
        model.fit(X_OK, Y_OK, progress=False)
    history = model.fit(X_OK, Y_OK[-1, :, 0], epochs=1, mask=np.ones(6), progress=False)  # (N,) targets
    assert len(history["loss"]) == 1
