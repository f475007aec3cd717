"""The LSTM cell's graph in the course's notation: it computes the package's LSTM gate for
gate (so the picture and the printed equations, drawn and printed from it, are the code's),
its names map to PyTorch's as the README's table says, and the picture is drawn."""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast import cells, reference
from lstmfast.teaching.cell_graph import LSTM_GRAPH


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_graph_computes_the_packages_lstm(dtype, rtol):
    """One step from a random state, against the C++ kernels and the NumPy reference. The
    tolerances are the package's own for each dtype (README, Accuracy)."""
    rng = np.random.default_rng(0)
    B, I, H = 3, 4, 5
    layer = lstmfast.LSTM(I, H, dtype=dtype, forget_bias=1.0, seed=1)
    p = layer.parameters()
    w = (p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    x = rng.standard_normal((1, B, I)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    c0 = rng.standard_normal((B, H)).astype(dtype)
    values = LSTM_GRAPH.evaluate(x[0], h0, c0, *w)
    for fn in (lstmfast.lstm_forward, reference.lstm_forward):
        y, h, c, tape = fn(x, *w, h0, c0, training=True)
        np.testing.assert_allclose(values["a<t>"], h, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(values["c<t>"], c, rtol=rtol, atol=rtol)
    gates = lstmfast.lstm_forward(x, *w, h0, c0, training=True)[-1].gates[0]  # i, f, g, o
    for node in LSTM_GRAPH.gates:
        np.testing.assert_allclose(values[node.name], gates[:, LSTM_GRAPH.rows(node, H)], rtol=rtol, atol=rtol)


def test_every_gate_of_the_cell_record_once_with_the_course_names():
    assert sorted(n.pytorch for n in LSTM_GRAPH.gates) == sorted(cells.LSTM.gate_names)
    assert LSTM_GRAPH.describe() == {"Γf": "f", "Γu": "i", "c~<t>": "g", "Γo": "o", "c<t>": "c", "a<t>": "h"}
    text = LSTM_GRAPH.equations()
    for line in (
        "Γf = σ(W_f [a<t-1>, x<t>] + b_f)",
        "Γu = σ(W_u [a<t-1>, x<t>] + b_u)",
        "c~<t> = tanh(W_c [a<t-1>, x<t>] + b_c)",
        "Γo = σ(W_o [a<t-1>, x<t>] + b_o)",
        "c<t> = Γf * c<t-1> + Γu * c~<t>",
        "a<t> = Γo * tanh(c<t>)",
        "PyTorch i: rows 0:H",
        "PyTorch f: rows H:2H",
    ):
        assert line in text, line
    with pytest.raises(ValueError, match=r"c_prev: expected shape \(2, 3\)"):
        LSTM_GRAPH.evaluate(
            np.zeros((2, 1)), np.zeros((2, 3)), np.zeros((2, 2)), *[np.zeros(s) for s in ((12, 1), (12, 3), 12, 12)]
        )


def test_picture_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    from lstmfast.app.plotting import _math, plot_cell

    path = tmp_path / "cell.png"
    assert plot_cell(str(path)) == str(path)
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert _math("c~<t>") == r"$\tilde{c}^{\langle t \rangle}$" and _math("Γf") == r"$\Gamma_f$"
