"""Training as practitioners use it: every task, callbacks, schedules, resumable
checkpoints, streamed batches, variable lengths, weight decay.

Tolerances: float64 runs compare gradients with their finite-difference or
separately computed values at rtol 1e-9 (rounding only, over sums of a few dozen
terms); "bit-identical" claims use exact equality."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstmfast.training import (
    SGD,
    Adam,
    AdamW,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LearningRateScheduler,
    ModelCheckpoint,
    SequenceModel,
    cosine_decay,
    exponential_decay,
    losses,
    lr_sweep,
    step_decay,
)


def numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


# --------------------------------------------------------------------------- losses


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_cross_entropy_gradient(reduction):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 2, 4)) * 3
    y = losses.one_hot(rng.integers(0, 4, (3, 2)), 4, np.float64)
    mask = (rng.random((3, 2)) < 0.7).astype(float)
    weights = np.array([1.0, 2.0, 0.5, 0.0])
    loss, grad = losses.softmax_cross_entropy_with_logits(z, y, mask, reduction, class_weight=weights)
    f = lambda a: losses.softmax_cross_entropy_with_logits(a, y, mask, reduction, class_weight=weights)[0]  # noqa: E731
    np.testing.assert_allclose(grad, numeric_grad(f, z.copy()), rtol=1e-6, atol=1e-9)
    # the value by its definition, -Σ w_y mask log softmax(z)[y]
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    per = -(y * np.log(p)).sum(-1) * mask * (y @ weights)
    expected = per.sum() / ((mask * (y @ weights)).sum() if reduction == "mean" else 1)
    assert loss == pytest.approx(expected, rel=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1e4, -1e4, 0.0]])
    loss, grad = losses.softmax_cross_entropy_with_logits(z, [[0.0, 1.0, 0.0]])
    assert loss == pytest.approx(2e4) and np.isfinite(grad).all()


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_loss_value_and_gradient(delta):
    rng = np.random.default_rng(1)
    p, y = rng.normal(size=(4, 3)) * 2, rng.normal(size=(4, 3))
    loss, grad = losses.huber_loss(p, y, reduction="sum", delta=delta)
    d = p - y
    assert loss == pytest.approx(np.where(np.abs(d) <= delta, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta)).sum())
    np.testing.assert_allclose(
        grad,
        numeric_grad(lambda a: losses.huber_loss(a, y, reduction="sum", delta=delta)[0], p.copy()),
        rtol=1e-6,
        atol=1e-8,
    )


def test_one_hot_and_its_errors():
    np.testing.assert_array_equal(losses.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"labels: class indices must be in \[0, 3\)"):
        losses.one_hot([3], 3)


# --------------------------------------------------------------------------- tasks


def count_task(n, T, K, seed):
    """Which of K symbols occurs most often in a sequence: a classification the
    network can only do by counting over time."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, K, (T, n))
    X = np.eye(K, dtype=np.float32)[ids]
    counts = np.stack([(ids == k).sum(0) for k in range(K)], axis=1)
    return X, counts.argmax(1)


@pytest.mark.parametrize("loss_kind", ["indices", "one_hot"])
def test_multiclass_last_step_classification_learns(loss_kind):
    X, y = count_task(600, 12, 3, seed=0)
    targets = y if loss_kind == "indices" else losses.one_hot(y, 3)
    model = SequenceModel(3, 24, 3, output="last", task="multiclass", seed=0)
    model.fit(X, targets, epochs=30, batch_size=32, optimizer=Adam(1e-2), seed=0, progress=False)
    X_test, y_test = count_task(300, 12, 3, seed=1)
    p = model.predict(X_test)
    assert p.shape == (300, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    accuracy = (p.argmax(1) == y_test).mean()
    assert accuracy > 0.9, accuracy  # ties (about 1 in 10) make 1.0 out of reach
    assert model.evaluate(X_test, y_test)["accuracy"] == pytest.approx(accuracy)


def test_multiclass_per_step_tagging_with_a_mask_and_class_weights():
    # tag every step with the symbol seen 2 steps before (0 where there is none)
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 4, (10, 200))
    X = np.eye(4, dtype=np.float32)[ids]
    y = np.zeros_like(ids)
    y[2:] = ids[:-2]
    mask = np.ones(ids.shape)
    mask[:2] = 0
    model = SequenceModel(4, 16, 4, task="multiclass", seed=0)
    history = model.fit(
        X,
        y,
        epochs=20,
        batch_size=20,
        optimizer=Adam(2e-2),
        mask=mask,
        seed=0,
        progress=False,
        class_weight={0: 1.0, 1: 2.0},
    )
    assert history["accuracy"][-1] > 0.95
    assert model.evaluate(X, y, mask)["accuracy"] > 0.95


def test_class_weight_zero_equals_masking_that_class_out():
    X, y = count_task(20, 6, 3, seed=3)
    model = SequenceModel(3, 5, 3, output="last", task="multiclass", dtype=np.float64, seed=0)
    a = SequenceModel(3, 5, 3, output="last", task="multiclass", dtype=np.float64, seed=0)
    model.fit(
        X, y, epochs=1, batch_size=20, optimizer=SGD(0.1), shuffle=False, progress=False, class_weight=[1.0, 0.0, 1.0]
    )
    a.fit(X, y, epochs=1, batch_size=20, optimizer=SGD(0.1), shuffle=False, progress=False, mask=(y != 1))
    for name, p in model.parameters().items():
        np.testing.assert_allclose(p, a.parameters()[name], rtol=1e-12, atol=1e-15)


def test_huber_regression_learns_despite_outliers():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(8, 300, 1)).astype(np.float32)
    y = X.sum(axis=0)[:, 0] / 3
    y[::15] += 50  # outliers the squared error would chase
    huber = SequenceModel(1, 16, output="last", task="regression", loss="huber", seed=0)
    huber.fit(X, y, epochs=40, batch_size=30, optimizer=Adam(1e-2), seed=0, progress=False)
    clean = np.ones(300, bool)
    clean[::15] = False
    error = np.abs(huber.predict(X)[:, 0] - y)[clean].mean()
    assert error < 0.15, error
    assert "loss='huber'" in repr(huber)


def test_horizon_head_predicts_several_steps():
    from lstmfast.datasets import timeseries as ts

    t = np.arange(600)
    series = np.sin(2 * np.pi * t / 25)
    X, Y = ts.make_windows(series, 30, horizon=5)
    assert X.shape == (30, 566, 1) and Y.shape == (566, 5)
    np.testing.assert_array_equal(Y[0], series[30:35])
    model = SequenceModel(1, 24, 5, output="last", task="regression", seed=0)
    model.fit(X, Y, epochs=40, batch_size=32, optimizer=Adam(1e-2), seed=0, progress=False)
    assert np.abs(model.predict(X) - Y).mean() < 0.05


def test_task_and_loss_errors():
    with pytest.raises(ValueError, match=r"loss: expected one of \('mse', 'huber'\), got 'bce'"):
        SequenceModel(1, 2, task="regression", loss="bce")
    with pytest.raises(ValueError, match="output_size: a multiclass model needs output_size >= 2"):
        SequenceModel(1, 2, 1, task="multiclass")
    model = SequenceModel(1, 2, 3, output="last", task="multiclass")
    with pytest.raises(ValueError, match=r"y: class indices must be in \[0, 3\)"):
        model.fit(np.zeros((2, 4, 1)), [0, 1, 2, 3], progress=False)
    with pytest.raises(ValueError, match="rows must be >= 0 and sum to 1"):
        model.fit(np.zeros((2, 2, 1)), np.ones((2, 3)), progress=False)
    with pytest.raises(ValueError, match="class_weight: only for task='multiclass'"):
        SequenceModel(1, 2).fit(np.zeros((2, 2, 1)), np.zeros((2, 2)), class_weight=[1, 1], progress=False)
    with pytest.raises(ValueError, match="forget_bias: only for cell='lstm'"):
        SequenceModel(1, 2, cell="gru", forget_bias=1.0)


def test_forget_bias_sets_only_the_forget_gate():
    plain, biased = SequenceModel(2, 3, seed=5), SequenceModel(2, 3, forget_bias=2.5, seed=5)
    b_ih, b_hh = biased.parameters()["lstm.bias_ih_l0"], biased.parameters()["lstm.bias_hh_l0"]
    np.testing.assert_array_equal(b_ih[3:6], 2.5)
    np.testing.assert_array_equal(b_hh[3:6], 0)
    np.testing.assert_array_equal(b_ih[:3], plain.parameters()["lstm.bias_ih_l0"][:3])  # the rest unchanged
    np.testing.assert_array_equal(biased.parameters()["lstm.weight_hh_l0"], plain.parameters()["lstm.weight_hh_l0"])


# --------------------------------------------------------------------------- lengths


@pytest.mark.parametrize("output", ["per_step", "last"])
def test_lengths_give_the_gradients_of_the_unpadded_sequences(output):
    rng = np.random.default_rng(6)
    T, I = 6, 2
    lens = np.array([3, 6, 1, 4])
    X = rng.normal(size=(T, 4, I))
    y = rng.normal(size=(T, 4) if output == "per_step" else (4,))
    X[np.arange(T)[:, None] >= lens] = 1e3  # padding that would wreck anything that read it
    model = SequenceModel(I, 5, output=output, task="regression", dtype=np.float64, seed=0)
    loss, grads = model.loss_and_gradients(X, y, lengths=lens)
    # the same, one sequence at a time at its own length, combined as the loss is
    total, parts, weights = 0.0, [], []
    for b, L in enumerate(lens):
        yb = y[:L, b : b + 1] if output == "per_step" else y[b : b + 1]
        lb, gb = model.loss_and_gradients(X[:L, b : b + 1], yb)
        w = L if output == "per_step" else 1  # the mean is over (unmasked) elements
        total, parts, weights = total + lb * w, [*parts, gb], [*weights, w]
    assert loss == pytest.approx(total / sum(weights), rel=1e-10)
    for name in grads:
        expected = sum(w * g[name] for w, g in zip(weights, parts)) / sum(weights)
        np.testing.assert_allclose(grads[name], expected, rtol=1e-9, atol=1e-12)
    pred = model.predict(X, lengths=lens)
    assert np.isfinite(pred).all()
    if output == "last":
        for b, L in enumerate(lens):
            np.testing.assert_allclose(pred[b], model.predict(X[:L, b : b + 1])[0], rtol=1e-12)


# --------------------------------------------------------------------------- the loop


def memory_task(n, T, seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, (T, n, 1)).astype(np.float32)
    return X, X[0, :, 0].copy()  # remember the first bit


def test_streamed_batches_equal_arrays_bit_for_bit():
    X, y = memory_task(100, 8, seed=0)
    a, b = SequenceModel(1, 6, output="last", seed=1), SequenceModel(1, 6, output="last", seed=1)
    ha = a.fit(X, y, epochs=3, batch_size=16, shuffle=False, optimizer=Adam(1e-2), progress=False)
    batches = [(X[:, k : k + 16], y[k : k + 16]) for k in range(0, 100, 16)]
    hb = b.fit(batches, epochs=3, optimizer=Adam(1e-2), progress=False)  # a list: reusable every epoch
    assert ha == hb
    for name, p in a.parameters().items():
        np.testing.assert_array_equal(p, b.parameters()[name])
    c = SequenceModel(1, 6, output="last", seed=1)
    c.fit(lambda: iter(batches), epochs=3, optimizer=Adam(1e-2), progress=False)  # a function: one per epoch
    for name, p in a.parameters().items():
        np.testing.assert_array_equal(p, c.parameters()[name])


def test_batch_source_errors():
    model = SequenceModel(1, 2, output="last")
    with pytest.raises(TypeError, match="batch 0: expected a tuple"):
        model.fit([np.zeros((2, 3, 1))], progress=False)
    with pytest.raises(ValueError, match=r"batch 1: y: expected shape"):
        model.fit([(np.zeros((2, 3, 1)), np.zeros(3)), (np.zeros((2, 3, 1)), np.zeros(4))], progress=False)
    with pytest.raises(TypeError, match="X: expected an array"):
        model.fit(5, progress=False)


def test_validation_split_holds_out_the_last_sequences():
    X, y = memory_task(50, 6, seed=1)
    model = SequenceModel(1, 4, output="last", seed=0)
    history = model.fit(X, y, epochs=2, validation_split=0.2, shuffle=False, progress=False)
    expected = SequenceModel(1, 4, output="last", seed=0)
    expected_history = expected.fit(
        X[:, :40], y[:40], epochs=2, validation_data=(X[:, 40:], y[40:]), shuffle=False, progress=False
    )
    assert history == expected_history
    with pytest.raises(ValueError, match="validation_split: give it or validation_data"):
        model.fit(X, y, validation_split=0.2, validation_data=(X, y), progress=False)


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = memory_task(64, 6, seed=2)
    model = SequenceModel(1, 4, output="last", seed=0)
    seen = []

    class Spy(EarlyStopping):
        def on_epoch_end(self, epoch, logs):
            seen.append((logs["val_loss"], self.model.state_dict()))
            super().on_epoch_end(epoch, logs)

    stop = Spy(patience=1, restore_best_weights=True)
    # a learning rate so large that the validation loss soon goes up
    history = model.fit(
        X, y, epochs=50, validation_data=(X, y), optimizer=SGD(8.0), callbacks=[stop], progress=False, seed=0
    )
    epochs = len(history["loss"])
    assert epochs < 50 and stop.stopped_epoch == epochs - 1
    best = int(np.argmin(history["val_loss"]))
    assert stop.best_epoch == best and history["val_loss"][best] == min(v for v, _ in seen)
    for name, p in model.parameters().items():
        np.testing.assert_array_equal(p, seen[best][1][name])


def test_schedules():
    assert step_decay(1.0, 0.5, 10)(25, 0) == 0.25
    assert exponential_decay(2.0, 0.5)(3, 0) == 0.25
    assert cosine_decay(1.0, 10)(5, 0) == pytest.approx(0.5) and cosine_decay(1.0, 10, 0.1)(20, 0) == 0.1
    assert lr_sweep()(40, 0) == pytest.approx(1e-6)  # the course's 1e-8 * 10**(epoch / 20)


def test_learning_rate_scheduler_sets_and_records_each_epochs_rate():
    X, y = memory_task(20, 4, seed=3)
    model = SequenceModel(1, 3, output="last", seed=0)
    optimizer = SGD(1.0)
    history = model.fit(
        X, y, epochs=4, optimizer=optimizer, progress=False, callbacks=[LearningRateScheduler(lr_sweep(1e-3, 10, 1))]
    )
    assert history["lr"] == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])
    assert optimizer.lr == pytest.approx(1.0) and next(iter(history)) == "loss"


def test_a_resumed_run_ends_bit_identical(tmp_path):
    X, y = memory_task(90, 7, seed=4)
    for optimizer in (lambda: Adam(1e-2), lambda: AdamW(1e-2), lambda: SGD(0.2, momentum=0.9)):
        straight = SequenceModel(1, 5, output="last", seed=3)
        h_straight = straight.fit(X, y, epochs=6, batch_size=16, optimizer=optimizer(), seed=7, progress=False)

        first = SequenceModel(1, 5, output="last", seed=3)
        checkpoint = ModelCheckpoint(tmp_path / "run-{epoch}.npz", every=1)
        first.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer(), seed=7, progress=False, callbacks=[checkpoint])
        assert [p.name for p in checkpoint.written] == ["run-1.npz", "run-2.npz", "run-3.npz"]

        resumed = SequenceModel(1, 5, output="last", seed=99)  # other weights: the checkpoint's replace them
        h_resumed = resumed.fit(
            X, y, epochs=6, batch_size=16, seed=7, progress=False, resume=tmp_path / "run-3.npz"
        )  # the optimizer, too, comes from it
        assert h_resumed == h_straight
        for name, p in straight.parameters().items():
            np.testing.assert_array_equal(p, resumed.parameters()[name])
        assert SequenceModel.load(tmp_path / "run-3.npz").config == first.config  # also a model file


def test_resume_refuses_another_model_and_plain_model_files(tmp_path):
    X, y = memory_task(10, 4, seed=5)
    model = SequenceModel(1, 3, output="last", seed=0)
    model.fit(X, y, epochs=1, progress=False, callbacks=[ModelCheckpoint(tmp_path / "c.npz")])
    with pytest.raises(ValueError, match="the checkpoint is of a model"):
        SequenceModel(1, 4, output="last").fit(X, y, epochs=2, resume=tmp_path / "c.npz", progress=False)
    model.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="a model file, not a training checkpoint"):
        model.fit(X, y, epochs=2, resume=tmp_path / "m.npz", progress=False)


def test_loggers_write_every_epoch(tmp_path):
    X, y = memory_task(20, 4, seed=6)
    model = SequenceModel(1, 3, output="last", seed=0)
    history = model.fit(
        X,
        y,
        epochs=3,
        validation_data=(X, y),
        progress=False,
        callbacks=[CSVLogger(tmp_path / "h.csv"), JSONLogger(tmp_path / "h.json")],
    )
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy" and len(lines) == 4
    rows = json.loads((tmp_path / "h.json").read_text())["epochs"]
    assert [r["loss"] for r in rows] == history["loss"] and rows[-1]["epoch"] == 3


def test_weight_decay_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    for ours, theirs in (
        (lambda: Adam(0.1, weight_decay=0.3), lambda p: torch.optim.Adam(p, 0.1, weight_decay=0.3)),
        (lambda: AdamW(0.1, weight_decay=0.3), lambda p: torch.optim.AdamW(p, 0.1, weight_decay=0.3)),
        (
            lambda: SGD(0.1, momentum=0.5, weight_decay=0.3),
            lambda p: torch.optim.SGD(p, 0.1, momentum=0.5, weight_decay=0.3),
        ),
    ):
        p = rng.normal(size=(3, 4))
        q = torch.tensor(p.copy(), requires_grad=True)
        opt, topt = ours(), theirs([q])
        for _ in range(5):
            g = rng.normal(size=(3, 4))
            opt.step({"p": p}, {"p": g})
            q.grad = torch.tensor(g)
            topt.step()
        np.testing.assert_allclose(p, q.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("output", ["per_step", "last"])
def test_batch_first_is_the_transpose_of_time_major(output):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(5, 7, 2))  # (T, N, I)
    y = rng.normal(size=(5, 7) if output == "per_step" else (7,))
    mask = rng.random(size=y.shape) < 0.8
    a = SequenceModel(2, 3, output=output, task="regression", dtype=np.float64, seed=0)
    b = SequenceModel(2, 3, output=output, task="regression", dtype=np.float64, seed=0, batch_first=True)
    swap = (lambda v: v.swapaxes(0, 1)) if output == "per_step" else (lambda v: v)
    la, ga = a.loss_and_gradients(X, y, mask)
    lb, gb = b.loss_and_gradients(X.swapaxes(0, 1), swap(y), swap(mask))
    assert la == lb and all(np.array_equal(ga[k], gb[k]) for k in ga)
    np.testing.assert_array_equal(swap(a.predict(X)), b.predict(X.swapaxes(0, 1)))
    with pytest.raises(ValueError, match=r"X: expected a 3-D array \(N, T, I\) with I = 2 \(batch_first\)"):
        b.predict(X[0])
    if output == "per_step":
        with pytest.raises(ValueError, match=r"y: expected shape \(N, T, O\) = \(7, 5, 1\)"):
            b.fit(X.swapaxes(0, 1), y, progress=False)  # time-major targets given to a batch-first model


@pytest.mark.parametrize("output", ["per_step", "last"])
@pytest.mark.parametrize(
    "task,loss,weights",
    [("multiclass", None, None), ("multiclass", None, [0.5, 2.0, 1.0]), ("regression", "huber", None)],
)
def test_model_gradients_of_the_new_losses_match_finite_differences(output, task, loss, weights):
    """As test_models' check (float64, centred differences, eps 1e-6: truncation ~1e-12,
    rounding ~1e-10), for the multiclass (with class weights) and Huber losses."""
    from lstmfast.training.loop import _class_weight

    rng = np.random.default_rng(9)
    model = SequenceModel(2, [3, 2], 3, output=output, task=task, loss=loss, dtype=np.float64, seed=1)
    T, N = 4, 3
    X = rng.normal(size=(T, N, 2))
    shape = (T, N) if output == "per_step" else (N,)
    y = rng.integers(0, 3, shape) if task == "multiclass" else rng.normal(size=(*shape, 3)) * 3
    lengths = np.array([4, 2, 3])
    cw = _class_weight(model, weights)
    Xc, yc, mc, lc = model._check_data(X, y, None, lengths)
    task_ = model._task(cw)

    def loss_value():
        logits, _, _ = model._forward(Xc, False, lc)
        total, _, count = task_.loss(logits, yc, model._loss_mask(mc, lc, T))
        return total / count

    total, count, grads, _, _ = model._train_batch(Xc, yc, mc, lc, task_)
    assert total / count == pytest.approx(loss_value(), rel=1e-12)
    for name, p in model.parameters().items():
        np.testing.assert_allclose(
            grads[name], numeric_grad(lambda _, p=p: loss_value(), p), rtol=1e-6, atol=1e-7, err_msg=name
        )
