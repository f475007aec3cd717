"""A user's script, type-checked with ``mypy --strict`` in CI (see pyproject.toml) and run
here: the public API as a typed caller sees it. Each ``type: ignore[...]`` below marks a
mistake the type checker must catch; mypy's ``warn_unused_ignores`` (part of --strict)
fails CI if it stops catching one."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

import lstmfast
from lstmfast.datasets import timeseries as ts
from lstmfast.training import Adam, SequenceModel, losses


def test_layers_and_functional_api_as_typed_code() -> None:
    rng = np.random.default_rng(0)
    x: npt.NDArray[np.float32] = rng.standard_normal((7, 3, 2)).astype(np.float32)
    lstm = lstmfast.LSTM(2, 4, num_layers=2, bidirectional=True, seed=0)
    y, (h_n, c_n) = lstm(x)
    assert y.shape == (7, 3, 8) and h_n.shape == c_n.shape == (4, 3, 4)
    y, _, tape = lstm.forward(x, training=True)
    assert tape is not None
    grads = lstm.backward(tape, np.ones_like(y))
    assert set(lstm.parameters()) <= set(grads)

    p = lstm.parameters()
    out, h, c, ftape = lstmfast.lstm_forward(x, p["weight_ih_l0"], p["weight_hh_l0"], None, None, training=True)
    assert ftape is not None and ftape.shape == (7, 3, 2, 4) and ftape.gates.shape == (7, 3, 16)
    g = lstmfast.lstm_backward(ftape, np.ones_like(out))
    assert g["w_hh"] is not None and g["b_ih"] is None

    gru = lstmfast.GRU(2, 4, batch_first=True)
    assert gru(x.swapaxes(0, 1))[0].shape == (3, 7, 4)
    assert lstmfast.cells.get("gru").gates == 3


def test_training_api_as_typed_code() -> None:
    _, series = ts.synthetic_series(n=120, seed=0)
    X, y = ts.make_windows(series, 8)
    model = SequenceModel(1, 8, cell="gru", output="last", task="regression", seed=0)
    history: dict[str, list[float]] = model.fit(X, y, epochs=1, optimizer=Adam(1e-2), seed=0, progress=False)
    assert len(history["loss"]) == 1
    pred = model.predict(X)
    loss, dpred = losses.mse_loss(pred, y)
    assert loss >= 0 and dpred.shape == pred.shape
    assert isinstance(lstmfast.SequenceModel(1, 2), SequenceModel)


def mistakes_the_type_checker_catches(model: SequenceModel, x: npt.NDArray[np.float32]) -> None:
    """Never run: each line is an error mypy must report (else its ignore is unused)."""
    lstmfast.LSTM(2, 4, num_layer=2)  # type: ignore[call-arg]
    lstmfast.RNN(2, "4")  # type: ignore[arg-type]
    model.fit(x, x, epoch=1)  # type: ignore[call-arg]
    lstmfast.lstm_backward(lstmfast.gru_forward(x, x, x, None, None)[2], x)  # type: ignore[arg-type]
