"""Tests of lstmfast.course: the course's step-by-step API.

Three checks for every function: the NumPy reference (lstmfast.reference, with the
parameters converted by lstmfast.convert and the layouts transposed), centred finite
differences over every element, and the values the course's notebook prints.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from lstmfast import convert
from lstmfast import reference as ref
from lstmfast.teaching import course

# Finite differences as in test_reference.py: (L(p + ε) − L(p − ε)) / 2ε with ε = 1e-6 is
# good to ~1e-8 absolute here; we accept |num − ana| ≤ FD_TOL·max(1, |num| + |ana|).
FD_EPS = 1e-6
FD_TOL = 1e-7

# (n_x, m, T_x, n_a, n_y), small so that differences over every element stay fast.
SIZES = [(1, 1, 1, 1, 1), (2, 3, 3, 3, 2), (3, 2, 4, 2, 3)]


# --------------------------------------------------------------------------- helpers


def rnn_params(rng, n_x, n_a, n_y):
    return {
        "Wax": 0.7 * rng.standard_normal((n_a, n_x)),
        "Waa": 0.7 * rng.standard_normal((n_a, n_a)),
        "Wya": rng.standard_normal((n_y, n_a)),
        "ba": 0.3 * rng.standard_normal((n_a, 1)),
        "by": 0.3 * rng.standard_normal((n_y, 1)),
    }


def lstm_params(rng, n_x, n_a, n_y):
    p = {}
    for g in "fico":
        p["W" + g] = 0.7 * rng.standard_normal((n_a, n_a + n_x))
        p["b" + g] = 0.3 * rng.standard_normal((n_a, 1))
    p["Wy"] = rng.standard_normal((n_y, n_a))
    p["by"] = 0.3 * rng.standard_normal((n_y, 1))
    return p


def to_tbi(x):
    """Course layout (n, m, T) -> reference layout (T, m, n), and back (it is its own inverse)."""
    return np.ascontiguousarray(np.transpose(x, (2, 1, 0)))


def naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=0)


def numeric_grads(loss, inputs: dict) -> dict:
    """Centred differences of loss(inputs) with respect to every element of every array."""
    grads = {}
    for name, value in inputs.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus, minus = value.copy(), value.copy()
            plus[idx] += FD_EPS
            minus[idx] -= FD_EPS
            g[idx] = (loss({**inputs, name: plus}) - loss({**inputs, name: minus})) / (2 * FD_EPS)
        grads[name] = g
    return grads


def assert_fd_close(num: dict, ana: dict) -> None:
    for name, n in num.items():
        a = ana[name]
        assert a.shape == n.shape, name
        err = np.max(np.abs(n - a) / np.maximum(1, np.abs(n) + np.abs(a)))
        assert err < FD_TOL, (name, err)


def split(inputs: dict, keys) -> tuple[dict, dict]:
    params = {k: v for k, v in inputs.items() if k in keys}
    rest = {k: v for k, v in inputs.items() if k not in keys}
    return params, rest


# --------------------------------------------------------------------------- RNN


@pytest.mark.parametrize("n_x,m,T_x,n_a,n_y", SIZES)
def test_rnn_matches_reference(n_x, m, T_x, n_a, n_y):
    rng = np.random.default_rng([n_x, m, T_x, n_a, n_y])
    p = rnn_params(rng, n_x, n_a, n_y)
    x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x))

    a, y_pred, caches = course.rnn_forward(x, a0, p)
    g = course.rnn_backward(da, caches)

    params = convert.from_course_rnn(p)
    y, h_n, tape = ref.rnn_forward(to_tbi(x), **params, h0=a0.T, training=True)
    np.testing.assert_allclose(a, to_tbi(y), rtol=1e-13, atol=1e-14)
    for t in range(T_x):
        np.testing.assert_allclose(
            y_pred[:, :, t], naive_softmax(p["Wya"] @ a[:, :, t] + p["by"]), rtol=1e-13, atol=1e-15
        )
    r = ref.rnn_backward(tape, to_tbi(da))
    np.testing.assert_allclose(g["dx"], to_tbi(r["x"]), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g["da0"], r["h0"].T, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g["dWax"], r["w_ih"], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g["dWaa"], r["w_hh"], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g["dba"][:, 0], r["b_ih"], rtol=1e-12, atol=1e-13)
    assert set(g) == {"dx", "da0", "dWax", "dWaa", "dba"}


@pytest.mark.parametrize("n_x,m,T_x,n_a,n_y", SIZES)
def test_rnn_backward_matches_finite_differences(n_x, m, T_x, n_a, n_y):
    rng = np.random.default_rng([7, n_x, m, T_x, n_a, n_y])
    inputs = {
        **rnn_params(rng, n_x, n_a, n_y),
        "x": rng.standard_normal((n_x, m, T_x)),
        "a0": rng.standard_normal((n_a, m)),
    }
    G = rng.standard_normal((n_a, m, T_x))

    def loss(inp):  # L = Σ G·a, so da = G
        p, rest = split(inp, course.RNN_KEYS)
        a, _, _ = course.rnn_forward(rest["x"], rest["a0"], p)
        return np.sum(G * a)

    p, rest = split(inputs, course.RNN_KEYS)
    _, _, caches = course.rnn_forward(rest["x"], rest["a0"], p)
    g = course.rnn_backward(G, caches)
    wrt = {k: inputs[k] for k in ("Wax", "Waa", "ba", "x", "a0")}
    assert_fd_close(
        numeric_grads(lambda q: loss({**inputs, **q}), wrt),
        {"Wax": g["dWax"], "Waa": g["dWaa"], "ba": g["dba"], "x": g["dx"], "a0": g["da0"]},
    )


def test_rnn_cell_backward_matches_finite_differences():
    rng = np.random.default_rng(11)
    n_x, m, n_a, n_y = 3, 2, 4, 2
    inputs = {
        **rnn_params(rng, n_x, n_a, n_y),
        "xt": rng.standard_normal((n_x, m)),
        "a_prev": rng.standard_normal((n_a, m)),
    }
    G = rng.standard_normal((n_a, m))

    def loss(inp):
        p, rest = split(inp, course.RNN_KEYS)
        a_next, _, _ = course.rnn_cell_forward(rest["xt"], rest["a_prev"], p)
        return np.sum(G * a_next)

    p, rest = split(inputs, course.RNN_KEYS)
    _, _, cache = course.rnn_cell_forward(rest["xt"], rest["a_prev"], p)
    g = course.rnn_cell_backward(G, cache)
    assert set(g) == {"dxt", "da_prev", "dWax", "dWaa", "dba"}
    wrt = {k: inputs[k] for k in ("Wax", "Waa", "ba", "xt", "a_prev")}
    assert_fd_close(
        numeric_grads(lambda q: loss({**inputs, **q}), wrt),
        {"Wax": g["dWax"], "Waa": g["dWaa"], "ba": g["dba"], "xt": g["dxt"], "a_prev": g["da_prev"]},
    )


def test_rnn_cells_chain_to_the_sequence():
    rng = np.random.default_rng(3)
    n_x, m, T_x, n_a, n_y = 3, 4, 5, 2, 3
    p = rnn_params(rng, n_x, n_a, n_y)
    x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x))
    a, y_pred, caches = course.rnn_forward(x, a0, p)
    list_of_caches, x_cached = caches
    assert isinstance(caches, tuple) and len(list_of_caches) == T_x
    np.testing.assert_array_equal(x_cached, x)

    a_prev = a0
    for t in range(T_x):
        a_next, yt, cache = course.rnn_cell_forward(x[:, :, t], a_prev, p)
        np.testing.assert_array_equal(a[:, :, t], a_next)
        np.testing.assert_array_equal(y_pred[:, :, t], yt)
        for got, want in zip(list_of_caches[t][:3], (a_next, a_prev, x[:, :, t])):
            np.testing.assert_array_equal(got, want)
        assert set(list_of_caches[t][3]) == set(course.RNN_KEYS)
        a_prev = a_next

    # backward: the cell backward chained by hand, da_next = da<t> + da_prev
    g = course.rnn_backward(da, caches)
    da_prev = np.zeros((n_a, m))
    sums = {"dWax": 0, "dWaa": 0, "dba": 0}
    for t in reversed(range(T_x)):
        gt = course.rnn_cell_backward(da[:, :, t] + da_prev, list_of_caches[t])
        np.testing.assert_allclose(g["dx"][:, :, t], gt["dxt"], rtol=1e-14, atol=1e-15)
        da_prev = gt["da_prev"]
        sums = {k: sums[k] + gt[k] for k in sums}
    np.testing.assert_allclose(g["da0"], da_prev, rtol=1e-14, atol=1e-15)
    for k in sums:
        np.testing.assert_allclose(g[k], sums[k], rtol=1e-13, atol=1e-14)


# --------------------------------------------------------------------------- LSTM


@pytest.mark.parametrize("n_x,m,T_x,n_a,n_y", SIZES)
def test_lstm_matches_reference(n_x, m, T_x, n_a, n_y):
    rng = np.random.default_rng([1, n_x, m, T_x, n_a, n_y])
    p = lstm_params(rng, n_x, n_a, n_y)
    x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x))

    a, y, c, caches = course.lstm_forward(x, a0, p)
    g = course.lstm_backward(da, caches)

    params = convert.from_course_lstm(p)
    h, _, _, tape = ref.lstm_forward(to_tbi(x), **params, h0=a0.T, c0=np.zeros((m, n_a)), training=True)
    np.testing.assert_allclose(a, to_tbi(h), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(c, to_tbi(tape.cs[:T_x]), rtol=1e-13, atol=1e-14)
    for t in range(T_x):
        np.testing.assert_allclose(y[:, :, t], naive_softmax(p["Wy"] @ a[:, :, t] + p["by"]), rtol=1e-13, atol=1e-15)

    r = ref.lstm_backward(tape, to_tbi(da))
    # The reference's weight gradients, in the course's per-gate layout.
    rc = convert.to_course_lstm({"w_ih": r["w_ih"], "w_hh": r["w_hh"], "b_ih": r["b_ih"]})
    assert set(g) == {"dx", "da0", "dWf", "dWi", "dWc", "dWo", "dbf", "dbi", "dbc", "dbo"}
    np.testing.assert_allclose(g["dx"], to_tbi(r["x"]), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g["da0"], r["h0"].T, rtol=1e-12, atol=1e-13)
    for k in ("Wf", "Wi", "Wc", "Wo", "bf", "bi", "bc", "bo"):
        np.testing.assert_allclose(g["d" + k], rc[k], rtol=1e-12, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("n_x,m,T_x,n_a,n_y", SIZES)
def test_lstm_backward_matches_finite_differences(n_x, m, T_x, n_a, n_y):
    rng = np.random.default_rng([8, n_x, m, T_x, n_a, n_y])
    inputs = {
        **lstm_params(rng, n_x, n_a, n_y),
        "x": rng.standard_normal((n_x, m, T_x)),
        "a0": rng.standard_normal((n_a, m)),
    }
    G = rng.standard_normal((n_a, m, T_x))

    def loss(inp):
        p, rest = split(inp, course.LSTM_KEYS)
        a, _, _, _ = course.lstm_forward(rest["x"], rest["a0"], p)
        return np.sum(G * a)

    p, rest = split(inputs, course.LSTM_KEYS)
    _, _, _, caches = course.lstm_forward(rest["x"], rest["a0"], p)
    g = course.lstm_backward(G, caches)
    names = ("Wf", "Wi", "Wc", "Wo", "bf", "bi", "bc", "bo")
    wrt = {k: inputs[k] for k in (*names, "x", "a0")}
    assert_fd_close(
        numeric_grads(lambda q: loss({**inputs, **q}), wrt),
        {**{k: g["d" + k] for k in names}, "x": g["dx"], "a0": g["da0"]},
    )


def test_lstm_cell_backward_matches_finite_differences():
    rng = np.random.default_rng(12)
    n_x, m, n_a, n_y = 2, 3, 3, 2
    inputs = {
        **lstm_params(rng, n_x, n_a, n_y),
        "xt": rng.standard_normal((n_x, m)),
        "a_prev": rng.standard_normal((n_a, m)),
        "c_prev": rng.standard_normal((n_a, m)),
    }
    Ga, Gc = rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))

    def loss(inp):  # L = Σ Ga·a<t> + Σ Gc·c<t>: da_next = Ga, dc_next = Gc
        p, rest = split(inp, course.LSTM_KEYS)
        a_next, c_next, _, _ = course.lstm_cell_forward(rest["xt"], rest["a_prev"], rest["c_prev"], p)
        return np.sum(Ga * a_next) + np.sum(Gc * c_next)

    p, rest = split(inputs, course.LSTM_KEYS)
    _, _, _, cache = course.lstm_cell_forward(rest["xt"], rest["a_prev"], rest["c_prev"], p)
    g = course.lstm_cell_backward(Ga, Gc, cache)
    names = ("Wf", "Wi", "Wc", "Wo", "bf", "bi", "bc", "bo")
    assert set(g) == {"dxt", "da_prev", "dc_prev", *("d" + k for k in names)}
    wrt = {k: inputs[k] for k in (*names, "xt", "a_prev", "c_prev")}
    assert_fd_close(
        numeric_grads(lambda q: loss({**inputs, **q}), wrt),
        {**{k: g["d" + k] for k in names}, "xt": g["dxt"], "a_prev": g["da_prev"], "c_prev": g["dc_prev"]},
    )


def test_lstm_cells_chain_to_the_sequence():
    rng = np.random.default_rng(4)
    n_x, m, T_x, n_a, n_y = 2, 3, 4, 3, 2
    p = lstm_params(rng, n_x, n_a, n_y)
    x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x))
    a, y, c, caches = course.lstm_forward(x, a0, p)
    list_of_caches, _ = caches
    assert len(list_of_caches) == T_x and all(len(cc) == 10 for cc in list_of_caches)

    a_prev, c_prev = a0, np.zeros((n_a, m))  # c<0> = 0
    for t in range(T_x):
        a_next, c_next, yt, cache = course.lstm_cell_forward(x[:, :, t], a_prev, c_prev, p)
        np.testing.assert_array_equal(a[:, :, t], a_next)
        np.testing.assert_array_equal(c[:, :, t], c_next)
        np.testing.assert_array_equal(y[:, :, t], yt)
        for got, want in zip(list_of_caches[t][:9], cache[:9]):
            np.testing.assert_array_equal(got, want)
        a_prev, c_prev = a_next, c_next

    g = course.lstm_backward(da, caches)
    da_prev, dc_prev = np.zeros((n_a, m)), np.zeros((n_a, m))
    sums: dict = {}
    for t in reversed(range(T_x)):
        gt = course.lstm_cell_backward(da[:, :, t] + da_prev, dc_prev, list_of_caches[t])
        np.testing.assert_allclose(g["dx"][:, :, t], gt["dxt"], rtol=1e-14, atol=1e-15)
        da_prev, dc_prev = gt["da_prev"], gt["dc_prev"]
        for k in gt:
            if k[:2] in ("dW", "db"):
                sums[k] = sums.get(k, 0) + gt[k]
    np.testing.assert_allclose(g["da0"], da_prev, rtol=1e-14, atol=1e-15)
    for k in sums:
        np.testing.assert_allclose(g[k], sums[k], rtol=1e-13, atol=1e-14)


def test_through_time_false_lets_no_gradient_flow_between_steps():
    rng = np.random.default_rng(5)
    n_x, m, T_x, n_a, n_y = 2, 3, 3, 2, 2
    x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x))
    zeros = np.zeros((n_a, m))

    _, _, _, caches = course.lstm_forward(x, a0, lstm_params(rng, n_x, n_a, n_y))
    g = course.lstm_backward(da, caches, through_time=False)
    steps = [course.lstm_cell_backward(da[:, :, t], zeros, caches[0][t]) for t in range(T_x)]
    for t in range(T_x):
        np.testing.assert_allclose(g["dx"][:, :, t], steps[t]["dxt"], rtol=1e-14)
    np.testing.assert_allclose(g["da0"], steps[0]["da_prev"], rtol=1e-14)
    np.testing.assert_allclose(g["dWf"], sum(s["dWf"] for s in steps), rtol=1e-13)

    _, _, caches = course.rnn_forward(x, a0, rnn_params(rng, n_x, n_a, n_y))
    g = course.rnn_backward(da, caches, through_time=False)
    steps = [course.rnn_cell_backward(da[:, :, t], caches[0][t]) for t in range(T_x)]
    np.testing.assert_allclose(g["da0"], steps[0]["da_prev"], rtol=1e-14)
    np.testing.assert_allclose(g["dWaa"], sum(s["dWaa"] for s in steps), rtol=1e-13)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_shorter_da_is_the_gradient_of_a_loss_on_the_first_steps(cell):
    rng = np.random.default_rng(6)
    n_x, m, T_x, n_a, n_y, T = 2, 2, 5, 3, 2, 3
    x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T))
    padded = np.concatenate([da, np.zeros((n_a, m, T_x - T))], axis=2)
    if cell == "rnn":
        _, _, caches = course.rnn_forward(x, a0, rnn_params(rng, n_x, n_a, n_y))
        short, full = course.rnn_backward(da, caches), course.rnn_backward(padded, caches)
    else:
        caches = course.lstm_forward(x, a0, lstm_params(rng, n_x, n_a, n_y))[3]
        short, full = course.lstm_backward(da, caches), course.lstm_backward(padded, caches)
    assert short["dx"].shape == (n_x, m, T)
    np.testing.assert_allclose(short["dx"], full["dx"][:, :, :T], rtol=1e-13, atol=1e-15)
    assert not np.any(full["dx"][:, :, T:])
    for k in full:
        if k != "dx":
            np.testing.assert_allclose(short[k], full[k], rtol=1e-13, atol=1e-15, err_msg=k)


# --------------------------------------------------------------------------- the notebook


def notebook_draws(spec):
    """np.random.seed(1), then np.random.randn of each (name, shape) in order."""
    np.random.seed(1)
    return {name: np.random.randn(*shape) for name, shape in spec}


RNN_SPEC = [("Waa", (5, 5)), ("Wax", (5, 3)), ("Wya", (2, 5)), ("ba", (5, 1)), ("by", (2, 1))]
LSTM_GATES_SPEC = [
    ("Wf", (5, 8)),
    ("bf", (5, 1)),
    ("Wi", (5, 8)),
    ("bi", (5, 1)),
    ("Wo", (5, 8)),
    ("bo", (5, 1)),
    ("Wc", (5, 8)),
    ("bc", (5, 1)),
]
LSTM_SPEC = [*LSTM_GATES_SPEC, ("Wy", (2, 5)), ("by", (2, 1))]


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def test_reproduces_the_notebooks_printed_values():
    """The numbers the notebook prints under "Expected Output" for its seeded checks.

    The notebook seeds NumPy's global generator with 1 and draws its test arrays with
    np.random.randn in a fixed order; these are the values it prints (to the digits it
    prints). lstm_backward: see test_notebook_lstm_backward_is_true_bptt.
    """
    # rnn_cell_forward: xt (3, 10), a_prev (5, 10), then Waa, Wax, Wya, ba, by
    d = notebook_draws([("xt", (3, 10)), ("a_prev", (5, 10)), *RNN_SPEC])
    a_next, yt_pred, _ = course.rnn_cell_forward(d["xt"], d["a_prev"], d)
    close(
        a_next[4],
        [
            0.59584544,
            0.18141802,
            0.61311866,
            0.99808218,
            0.85016201,
            0.99980978,
            -0.18887155,
            0.99815551,
            0.6531151,
            0.82872037,
        ],
    )
    close(
        yt_pred[1],
        [
            0.9888161,
            0.01682021,
            0.21140899,
            0.36817467,
            0.98988387,
            0.88945212,
            0.36920224,
            0.9966312,
            0.9982559,
            0.17746526,
        ],
    )

    # rnn_forward: x (3, 10, 4), a0 (5, 10), then the same parameters
    d = notebook_draws([("x", (3, 10, 4)), ("a0", (5, 10)), *RNN_SPEC])
    a, y_pred, caches = course.rnn_forward(d["x"], d["a0"], d)
    close(a[4][1], [-0.99999375, 0.77911235, -0.99861469, -0.99833267])
    close(y_pred[1][3], [0.79560373, 0.86224861, 0.11118257, 0.81515947])

    # rnn_cell_backward: xt, a_prev, then Wax, Waa (this order), Wya, ba, by, then da_next
    d = notebook_draws(
        [
            ("xt", (3, 10)),
            ("a_prev", (5, 10)),
            ("Wax", (5, 3)),
            ("Waa", (5, 5)),
            ("Wya", (2, 5)),
            ("ba", (5, 1)),
            ("by", (2, 1)),
            ("da_next", (5, 10)),
        ]
    )
    _, _, cache = course.rnn_cell_forward(d["xt"], d["a_prev"], d)
    g = course.rnn_cell_backward(d["da_next"], cache)
    close(g["dxt"][1][2], -1.3872130506)
    close(g["da_prev"][2][3], -0.152399493774)
    close(g["dWax"][3][1], 0.410772824935)
    close(g["dWaa"][1][2], 1.15034506685)
    close(g["dba"][4], [0.20023491])

    # rnn_backward: x (3, 10, 4), a0, then Wax, Waa, Wya, ba, by, then da (5, 10, 4)
    d = notebook_draws(
        [
            ("x", (3, 10, 4)),
            ("a0", (5, 10)),
            ("Wax", (5, 3)),
            ("Waa", (5, 5)),
            ("Wya", (2, 5)),
            ("ba", (5, 1)),
            ("by", (2, 1)),
        ]
    )
    _, _, caches = course.rnn_forward(d["x"], d["a0"], d)
    g = course.rnn_backward(np.random.randn(5, 10, 4), caches)
    close(g["dx"][1][2], [-2.07101689, -0.59255627, 0.02466855, 0.01483317])
    close(g["da0"][2][3], -0.314942375127)
    close(g["dWax"][3][1], 11.2641044965)
    close(g["dWaa"][1][2], 2.30333312658)
    close(g["dba"][4], [-0.74747722])

    # lstm_cell_forward: xt, a_prev, c_prev, then Wf, bf, Wi, bi, Wo, bo, Wc, bc, Wy, by
    d = notebook_draws([("xt", (3, 10)), ("a_prev", (5, 10)), ("c_prev", (5, 10)), *LSTM_SPEC])
    a_next, c_next, yt, cache = course.lstm_cell_forward(d["xt"], d["a_prev"], d["c_prev"], d)
    close(a_next[4][:3], [-0.66408471, 0.0036921, 0.02088357])
    close(c_next[2][:3], [0.63267805, 1.00570849, 0.35504474])
    close(yt[1][:3], [0.79913913, 0.15986619, 0.22412122])

    # lstm_cell_backward: the same, then da_next, dc_next
    g = course.lstm_cell_backward(np.random.randn(5, 10), np.random.randn(5, 10), cache)
    close(g["dxt"][1][2], 3.23055911511)
    close(g["da_prev"][2][3], -0.0639621419711)
    close(g["dc_prev"][2][3], 0.797522038797)
    close(g["dWf"][3][1], -0.147954838164)
    close(g["dWi"][1][2], 1.05749805523)
    close(g["dWc"][3][1], 2.30456216369)
    close(g["dWo"][1][2], 0.331311595289)
    close([g[k][4][0] for k in ("dbf", "dbi", "dbc", "dbo")], [0.18864637, -0.40142491, 0.25587763, 0.13893342])

    # lstm_forward: x (3, 10, 7), a0, then the LSTM parameters
    d = notebook_draws([("x", (3, 10, 7)), ("a0", (5, 10)), *LSTM_SPEC])
    a, y, c, _ = course.lstm_forward(d["x"], d["a0"], d)
    close(a[4][3][6], 0.172117767533)
    close(y[1][4][3], 0.95087346185)
    close(c[1][2][1], -0.855544916718)


def test_notebook_lstm_backward_is_true_bptt():
    """The current notebook's lstm_backward check prints dx[1][2] and da0[2][3] of true
    BPTT: the default reproduces them to every printed digit (atol 1e-8, the last printed
    digit of the 8-decimal values; the 12-decimal da0 is held to 1e-11). Earlier versions of
    the notebook printed the numbers of a loop with no flow between steps: through_time=False
    still reproduces those, and they differ from the exact gradient except at the last step."""
    # lstm_backward's check: x (3, 10, 7), a0, the gate parameters only (Wy, by are left
    # over from an earlier cell and do not affect the gradients), then da of 4 steps.
    d = notebook_draws([("x", (3, 10, 7)), ("a0", (5, 10)), *LSTM_GATES_SPEC])
    d["Wy"], d["by"] = np.ones((2, 5)), np.zeros((2, 1))
    _, _, _, caches = course.lstm_forward(d["x"], d["a0"], d)
    da = np.random.randn(5, 10, 4)

    exact = course.lstm_backward(da, caches)
    assert exact["dx"].shape == (3, 10, 4)
    close(exact["dx"][1][2], [0.00218254, 0.28205375, -0.48292508, -0.43281115])
    np.testing.assert_allclose(exact["da0"][2][3], 0.312770310257, rtol=0, atol=1e-11)

    old = course.lstm_backward(da, caches, through_time=False)
    close(old["dx"][1][2], [-0.00173313, 0.08287442, -0.30545663, -0.43281115])
    close(old["da0"][2][3], -0.095911501954)
    close(old["dWf"][3][1], -0.0698198561274)
    close(old["dWi"][1][2], 0.102371820249)
    close(old["dWc"][3][1], -0.0624983794927)
    close(old["dWo"][1][2], 0.0484389131444)
    close([old[k][4][0] for k in ("dbf", "dbi", "dbc", "dbo")], [-0.0565788, -0.15399065, -0.29691142, -0.29798344])
    # without the flow through time only the last step, where nothing flows in yet, agrees
    assert np.all(np.abs(old["dx"][:, :, :3] - exact["dx"][:, :, :3]).max(axis=(0, 1)) > 1e-3)
    np.testing.assert_array_equal(old["dx"][:, :, 3], exact["dx"][:, :, 3])


# --------------------------------------------------------------------------- general


def test_softmax_columns_sum_to_one_and_are_stable():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 6)) * 3
    s = course.softmax(z)
    np.testing.assert_allclose(s.sum(axis=0), 1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(s, naive_softmax(z), rtol=1e-14)
    big = np.array([[1000.0, -1000.0], [999.0, -2000.0]])  # exp would overflow / underflow
    s = course.softmax(big)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s[:, 0], [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))])
    np.testing.assert_allclose(s[:, 1], [1, 0], atol=1e-300)
    # every prediction of the forward passes is a distribution over axis 0
    p = rnn_params(rng, 2, 3, 4)
    _, y_pred, _ = course.rnn_forward(rng.standard_normal((2, 5, 3)), np.zeros((3, 5)), p)
    np.testing.assert_allclose(y_pred.sum(axis=0), 1, rtol=0, atol=1e-15)
    assert np.all(y_pred > 0)
    _, y, _, _ = course.lstm_forward(rng.standard_normal((2, 5, 3)), np.zeros((3, 5)), lstm_params(rng, 2, 3, 4))
    np.testing.assert_allclose(y.sum(axis=0), 1, rtol=0, atol=1e-15)
    assert course.sigmoid(np.array([-1e4, 0.0, 1e4])).tolist() == [0.0, 0.5, 1.0]


def test_inputs_and_caches_are_not_modified():
    rng = np.random.default_rng(9)
    n_x, m, T_x, n_a, n_y = 2, 3, 3, 2, 2
    args = {
        "x": rng.standard_normal((n_x, m, T_x)),
        "a0": rng.standard_normal((n_a, m)),
        "c_prev": rng.standard_normal((n_a, m)),
        "da": rng.standard_normal((n_a, m, T_x)),
        "dc": rng.standard_normal((n_a, m)),
        "rnn": rnn_params(rng, n_x, n_a, n_y),
        "lstm": lstm_params(rng, n_x, n_a, n_y),
    }
    saved = copy.deepcopy(args)
    x, a0, da = args["x"], args["a0"], args["da"]

    _, _, rc = course.rnn_cell_forward(x[:, :, 0], a0, args["rnn"])
    _, _, _, lc = course.lstm_cell_forward(x[:, :, 0], a0, args["c_prev"], args["lstm"])
    _, _, rcs = course.rnn_forward(x, a0, args["rnn"])
    _, _, _, lcs = course.lstm_forward(x, a0, args["lstm"])
    saved_caches = copy.deepcopy((rc, lc, rcs, lcs))
    course.rnn_cell_backward(da[:, :, 0], rc)
    course.lstm_cell_backward(da[:, :, 0], args["dc"], lc)
    for through_time in (True, False):
        course.rnn_backward(da, rcs, through_time=through_time)
        course.lstm_backward(da, lcs, through_time=through_time)

    for key, value in saved.items():
        if isinstance(value, dict):
            for k in value:
                np.testing.assert_array_equal(args[key][k], value[k], err_msg=f"{key}[{k}]")
        else:
            np.testing.assert_array_equal(args[key], value, err_msg=key)

    def same(a, b):
        if isinstance(a, dict):
            assert a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        elif isinstance(a, (tuple, list)):
            assert len(a) == len(b) and all(same(u, v) for u, v in zip(a, b))
        else:
            np.testing.assert_array_equal(a, b)
        return True

    same((rc, lc, rcs, lcs), saved_caches)

    # The caches hold copies: updating the parameters in place does not change them.
    args["rnn"]["Waa"] += 1.0
    np.testing.assert_array_equal(rc[3]["Waa"], saved["rnn"]["Waa"])


def test_outputs_are_float64_for_other_input_dtypes():
    rng = np.random.default_rng(10)
    p = {k: v.astype(np.float32) for k, v in rnn_params(rng, 2, 3, 2).items()}
    x = rng.integers(-2, 3, size=(2, 4, 3))  # integers are fine too
    a, y_pred, caches = course.rnn_forward(x, np.zeros((3, 4), dtype=np.float32), p)
    assert a.dtype == y_pred.dtype == np.float64
    g = course.rnn_backward(np.ones((3, 4, 3), dtype=np.float32), caches)
    assert all(v.dtype == np.float64 for v in g.values())
    # and the result equals the float64 computation
    a64, _, _ = course.rnn_forward(
        x.astype(np.float64), np.zeros((3, 4)), {k: v.astype(np.float64) for k, v in p.items()}
    )
    np.testing.assert_array_equal(a, a64)


def test_bad_input_raises_clear_errors():
    rng = np.random.default_rng(13)
    rp, lp = rnn_params(rng, 3, 5, 2), lstm_params(rng, 3, 5, 2)
    x, a0 = rng.standard_normal((3, 10, 4)), rng.standard_normal((5, 10))

    def raises(exc, match, fn, *a, **kw):
        with pytest.raises(exc, match=match):
            fn(*a, **kw)

    raises(ValueError, r"x: expected a 3-D array \(n_x, m, T_x\)", course.rnn_forward, x[:, :, 0], a0, rp)
    raises(ValueError, r"a0: expected shape \(n_a, m\) = \(5, 10\), got \(5, 9\)", course.rnn_forward, x, a0[:, :9], rp)
    raises(
        ValueError,
        r'parameters\["Wax"\]: expected shape \(n_a, n_x\) = \(5, 2\), got \(5, 3\)',
        course.rnn_forward,
        x[:2],
        a0,
        rp,
    )
    raises(
        ValueError,
        r'parameters\["ba"\]: expected shape \(n_a, 1\) = \(5, 1\), got \(5,\)',
        course.rnn_forward,
        x,
        a0,
        {**rp, "ba": rp["ba"][:, 0]},
    )
    raises(
        ValueError,
        r"parameters: missing keys \['Wya'\]",
        course.rnn_cell_forward,
        x[:, :, 0],
        a0,
        {k: v for k, v in rp.items() if k != "Wya"},
    )
    raises(TypeError, r"parameters: expected a dict", course.rnn_forward, x, a0, [1, 2])
    raises(TypeError, r"xt: expected real numbers", course.rnn_cell_forward, x[:, :, 0].astype(complex), a0, rp)
    raises(ValueError, r"c_prev: expected shape \(n_a, m\)", course.lstm_cell_forward, x[:, :, 0], a0, a0[:4], lp)
    raises(
        ValueError,
        r'parameters\["Wc"\]: expected shape \(n_a, n_a \+ n_x\) = \(5, 8\)',
        course.lstm_forward,
        x,
        a0,
        {**lp, "Wc": lp["Wc"][:, :7]},
    )
    raises(ValueError, r"x: expected a 3-D array .* no empty axis", course.lstm_forward, x[:, :, :0], a0, lp)

    _, _, rcaches = course.rnn_forward(x, a0, rp)
    _, _, _, lcaches = course.lstm_forward(x, a0, lp)
    raises(
        ValueError,
        r"da: expected shape \(n_a, m, T\) = \(5, 10, T\) with 1 <= T <= T_x = 4",
        course.rnn_backward,
        np.zeros((5, 10, 5)),
        rcaches,
    )
    raises(ValueError, r"da: expected shape", course.lstm_backward, np.zeros((4, 10, 4)), lcaches)
    raises(
        ValueError,
        r"caches: expected the pair \(list_of_caches, x\) returned by lstm_forward",
        course.lstm_backward,
        np.zeros((5, 10, 4)),
        lcaches[0],
    )
    raises(
        ValueError,
        r"cache: expected the tuple \(a_next, a_prev, xt, parameters\)",
        course.rnn_cell_backward,
        np.zeros((5, 10)),
        rcaches[0][0][:3],
    )
    raises(
        ValueError,
        r"da_next: expected shape \(n_a, m\) = \(5, 10\)",
        course.rnn_cell_backward,
        np.zeros((10, 5)),
        rcaches[0][0],
    )
    raises(
        ValueError,
        r"dc_next: expected shape \(n_a, m\)",
        course.lstm_cell_backward,
        np.zeros((5, 10)),
        np.zeros((5, 1)),
        lcaches[0][0],
    )
    raises(
        TypeError,
        r"through_time: expected a bool",
        course.rnn_backward,
        np.zeros((5, 10, 4)),
        rcaches,
        through_time="no",
    )
    raises(ValueError, r"x: expected an array \(n_y, m\) with n_y >= 1", course.softmax, np.zeros((0, 3)))
