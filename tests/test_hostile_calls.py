"""Careless and hostile calls from Python get a clear exception that names the
argument, never a crash, a wrong answer or an error from deep inside."""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast import reference as ref

IMPLS = pytest.mark.parametrize("impl", [lstmfast, ref], ids=["fast", "reference"])


def lstm_args(rng, T=3, B=2, I=2, H=4):
    return {
        "x": rng.standard_normal((T, B, I)),
        "w_ih": rng.standard_normal((4 * H, I)),
        "w_hh": rng.standard_normal((4 * H, H)),
        "b_ih": None,
        "b_hh": None,
    }


@IMPLS
@pytest.mark.parametrize("name", ["x", "w_ih", "w_hh"])
def test_none_for_a_required_array_names_it(impl, name):
    args = {**lstm_args(np.random.default_rng(0)), name: None}
    with pytest.raises(TypeError, match=f"^{name}: expected an array, got None"):
        impl.lstm_forward(**args)


@IMPLS
def test_none_for_dy_names_it(impl):
    *_, tape = impl.lstm_forward(**lstm_args(np.random.default_rng(0)), training=True)
    with pytest.raises(TypeError, match="^dy: expected an array, got None"):
        impl.lstm_backward(tape, None)
    with pytest.raises(TypeError, match="^dy: expected an array, got None"):
        impl.gru_backward(
            impl.gru_forward(np.zeros((2, 1, 1)), np.zeros((3, 1)), np.zeros((3, 1)), None, None, training=True)[2],
            None,
        )


@pytest.mark.parametrize("cls", [lstmfast.LSTM, lstmfast.GRU, lstmfast.RNN])
def test_a_layer_refuses_the_tape_of_another_layer(cls):
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    mine, other = cls(3, 4, seed=0), cls(3, 4, seed=1)  # same shapes, other weights
    y, _, tape = other.forward(x, training=True)
    with pytest.raises(ValueError, match="tape: made by the forward of another layer"):
        mine.backward(tape, np.ones_like(y))
    assert set(other.backward(tape, np.ones_like(y))) >= set(other.parameters())  # its own layer takes it
