"""The reference's options from ONNX (LSTM peepholes, input_forget, clip; the GRU
with the reset before the product; the RNN's clip; sequences of length 0):
finite differences over every element, and ONNX's own NumPy equations.

Finite differences use the rule of tests/test_reference.py (FD_TOL = 1e-7 on
|num - ana| / max(1, |num| + |ana|)). A clip has kinks at ±clip, like relu at 0: the
problems are drawn so that no pre-activation lies within MARGIN of a kink (a centred
difference straddling one would measure a slope of neither side), and so that some
are clipped and some not.
"""

from __future__ import annotations

import numpy as np
import pytest

from lstmfast import reference as ref
from test_reference import FD_TOL, SHAPES, fd_error, lstm_inputs, numeric_grads, rnn_inputs
from test_reference_gru import gru_inputs

MARGIN = 0.05  # >> FD_EPS * |dz/dp| (at most ~10 here)
INPUTS = {"lstm": lstm_inputs, "gru": gru_inputs, "rnn": rnn_inputs}
FORWARD = {"lstm": ref.lstm_forward, "gru": ref.gru_forward, "rnn": ref.rnn_forward}
BACKWARD = {"lstm": ref.lstm_backward, "gru": ref.gru_backward, "rnn": ref.rnn_backward}


def lengths_for(T: int, B: int, with_empty: bool) -> np.ndarray | None:
    """A ragged batch whose first sequence is empty (when asked and B > 1)."""
    if not with_empty:
        return None
    lengths = (np.arange(B) % (T + 1)).astype(np.int64)
    lengths[-1] = T
    return lengths


def clip_away_from_kinks(cell: str, inputs: dict, options: dict) -> float | None:
    """A clip between the pre-activations' magnitudes (in the middle of a gap between
    them, widest gaps first), at least MARGIN from each of them when clipping with it
    (the trajectory depends on the clip), clipping some and not others (clipping the
    only one of a 1-unit, 1-step RNN); or None if this problem has none."""

    def magnitudes(clip: float) -> np.ndarray:
        z = np.abs(FORWARD[cell](**inputs, **options, clip=clip, training=True)[-1].zs)
        return np.sort(z[z != 0])  # padding holds zeros

    z = magnitudes(1e30)
    gaps = np.argsort(np.diff(z))[::-1]
    candidates = [float((z[k] + z[k + 1]) / 2) for k in gaps[:20]] + [float(z[-1] / 2)]
    for clip in candidates:
        clipped = magnitudes(clip)
        both = (clipped > clip).any() and ((clipped < clip).any() or clipped.size == 1)
        if np.min(np.abs(clipped - clip)) > MARGIN and both:
            return clip
    return None


def draw_with_clip(cell: str, rng: np.random.Generator, shape: tuple[int, ...], options: dict) -> tuple[dict, dict]:
    """Inputs of ``cell`` and ``options`` plus a clip away from the kinks: new draws
    until there is one (a few at most)."""
    for _ in range(50):
        inputs = INPUTS[cell](rng, *shape)
        clip = clip_away_from_kinks(cell, inputs, options)
        if clip is not None:
            return inputs, {**options, "clip": clip}
    raise AssertionError("no problem with a clip away from the kinks")  # pragma: no cover


def check_gradients(cell: str, inputs: dict, options: dict, rng: np.random.Generator) -> dict:
    """Analytic gradients of L = Σ y·R + Σ final·S against centred differences over
    every element of every array (peepholes included); returns the analytic ones."""
    T, B, _ = inputs["x"].shape
    H = inputs["w_hh"].shape[1]
    seeds = [rng.standard_normal((T, B, H))] + [rng.standard_normal((B, H)) for _ in range(2 if cell == "lstm" else 1)]
    arrays = dict(inputs)
    if options.get("peepholes") is not None:
        arrays["peepholes"] = options["peepholes"]
    rest_options = {k: v for k, v in options.items() if k != "peepholes"}

    def loss(p: dict) -> float:
        out = FORWARD[cell](**p, **rest_options)
        return float(sum(np.sum(o * s) for o, s in zip(out[:-1], seeds)))

    out = FORWARD[cell](**arrays, **rest_options, training=True)
    ana = BACKWARD[cell](out[-1], *seeds)
    num = numeric_grads(loss, arrays)
    assert set(ana) == set(num)
    assert fd_error(num, ana) < FD_TOL
    return ana


LSTM_OPTIONS = [
    {"peepholes": True},
    {"input_forget": True},
    {"clip": True},
    {"peepholes": True, "input_forget": True, "clip": True},
]


@pytest.mark.parametrize("options", LSTM_OPTIONS, ids=lambda o: "+".join(o))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("empty", [False, True])
@pytest.mark.parametrize("T,B,I,H", SHAPES)
def test_lstm_options_match_finite_differences(T, B, I, H, options, reverse, empty):
    rng = np.random.default_rng([T, B, I, H, len(options), reverse, empty])
    given: dict = {"reverse": reverse, "lengths": lengths_for(T, B, empty)}
    if options.get("peepholes"):
        given["peepholes"] = 0.8 * rng.standard_normal(3 * H)
    if options.get("input_forget"):
        given["input_forget"] = True
    if options.get("clip"):
        inputs, given = draw_with_clip("lstm", rng, (T, B, I, H), given)
    else:
        inputs = lstm_inputs(rng, T, B, I, H)
    ana = check_gradients("lstm", inputs, given, rng)
    if options.get("input_forget"):  # the forget gate's rows are unused: zero gradient
        assert not np.any(ana["w_ih"][H : 2 * H]) and not np.any(ana["w_hh"][H : 2 * H])
        if "peepholes" in ana:
            assert not np.any(ana["peepholes"][H : 2 * H])


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("empty", [False, True])
@pytest.mark.parametrize("T,B,I,H", SHAPES)
def test_gru_options_match_finite_differences(T, B, I, H, reset_after, clip, reverse, empty):
    rng = np.random.default_rng([T, B, I, H, reset_after, clip, reverse, empty])
    given: dict = {"reverse": reverse, "lengths": lengths_for(T, B, empty), "reset_after": reset_after}
    if clip:
        inputs, given = draw_with_clip("gru", rng, (T, B, I, H), given)
    else:
        inputs = gru_inputs(rng, T, B, I, H)
    check_gradients("gru", inputs, given, rng)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("empty", [False, True])
@pytest.mark.parametrize("T,B,I,H", SHAPES)
def test_rnn_clip_matches_finite_differences(T, B, I, H, reverse, empty):
    rng = np.random.default_rng([T, B, I, H, reverse, empty])
    inputs, given = draw_with_clip("rnn", rng, (T, B, I, H), {"reverse": reverse, "lengths": lengths_for(T, B, empty)})
    check_gradients("rnn", inputs, given, rng)


def test_clip_changes_the_result_and_a_large_clip_does_not():
    """The options are not silently ignored: each one changes y; a clip above every
    pre-activation gives exactly the unclipped result."""
    rng = np.random.default_rng(3)
    inputs = lstm_inputs(rng, 5, 3, 4, 6)
    plain = ref.lstm_forward(**inputs)[0]
    for options in ({"clip": 0.5}, {"input_forget": True}, {"peepholes": rng.standard_normal(18)}):
        assert np.abs(ref.lstm_forward(**inputs, **options)[0] - plain).max() > 1e-3
    np.testing.assert_array_equal(ref.lstm_forward(**inputs, clip=1e6)[0], plain)
    g = gru_inputs(rng, 5, 3, 4, 6)
    assert np.abs(ref.gru_forward(**g, reset_after=False)[0] - ref.gru_forward(**g)[0]).max() > 1e-3


# ----------------------------------------------------------------- length 0


@pytest.mark.parametrize("cell", sorted(INPUTS))
@pytest.mark.parametrize("reverse", [False, True])
def test_a_sequence_of_length_zero_keeps_its_state_and_passes_its_gradient(cell, reverse):
    """Length 0: outputs 0, final state = initial state, and backward hands the final
    state's gradient to the initial state unchanged (exactly: nothing is computed)."""
    T, B, I, H = 4, 3, 2, 5
    rng = np.random.default_rng(7)
    inputs = INPUTS[cell](rng, T, B, I, H)
    lengths = np.array([0, 4, 2])
    out = FORWARD[cell](**inputs, lengths=lengths, reverse=reverse, training=True)
    y, finals, tape = out[0], out[1:-1], out[-1]
    assert not np.any(y[:, 0])
    initial = [inputs["h0"]] + ([inputs["c0"]] if cell == "lstm" else [])
    for final, start in zip(finals, initial):
        np.testing.assert_array_equal(final[0], start[0])
    dfinal = [rng.standard_normal((B, H)) for _ in finals]
    grads = BACKWARD[cell](tape, rng.standard_normal((T, B, H)), *dfinal)
    for part, d in zip(("h0", "c0"), dfinal):
        np.testing.assert_array_equal(grads[part][0], d[0])
    assert not np.any(grads["x"][:, 0])
    # the other sequences are those of the batch without it
    others = dict(inputs, x=inputs["x"][:, 1:], h0=inputs["h0"][1:])
    if cell == "lstm":
        others["c0"] = inputs["c0"][1:]
    np.testing.assert_allclose(y[:, 1:], FORWARD[cell](**others, lengths=lengths[1:], reverse=reverse)[0], atol=1e-14)


def test_all_sequences_empty_with_no_steps():
    """T = 0 with lengths all 0 is valid now (ONNX allows it)."""
    rng = np.random.default_rng(1)
    inputs = lstm_inputs(rng, 0, 2, 3, 4)
    y, h_n, c_n, tape = ref.lstm_forward(**inputs, lengths=[0, 0], training=True)
    assert y.shape == (0, 2, 4)
    np.testing.assert_array_equal(h_n, inputs["h0"])
    g = ref.lstm_backward(tape, np.zeros((0, 2, 4)), np.ones((2, 4)))
    np.testing.assert_array_equal(g["h0"], np.ones((2, 4)))


# ----------------------------------------------------------------- ONNX's equations
# (each test skips without onnx, not the module: the finite differences above need
# no onnx, and tests/test_core_onnx_options.py imports their helpers)


def test_lstm_peepholes_equal_onnx_numpy_helper():
    """ONNX's LSTMHelper (its operator tests' NumPy LSTM, with peepholes P in the order
    i, o, f) against the reference, through convert.from_onnx."""
    onnx_cases = pytest.importorskip("onnx.backend.test.case.node.lstm", reason="the onnx package's NumPy helpers")
    from lstmfast import convert

    rng = np.random.default_rng(11)
    T, B, I, H = 5, 3, 4, 6
    X = rng.standard_normal((T, B, I))
    W, R = 0.5 * rng.standard_normal((1, 4 * H, I)), 0.5 * rng.standard_normal((1, 4 * H, H))
    Bias, P = 0.3 * rng.standard_normal((1, 8 * H)), rng.standard_normal((1, 3 * H))
    h0, c0 = rng.standard_normal((1, B, H)), rng.standard_normal((1, B, H))
    Y, Y_h, Y_c = onnx_cases.LSTMHelper(X=X, W=W, R=R, B=Bias, P=P, initial_h=h0, initial_c=c0).step()
    p = convert.from_onnx(W, R, Bias, P, cell="lstm")
    weights = [p[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh")]
    y, h_n, c_n, _ = ref.lstm_forward(X, *weights, h0[0], c0[0], peepholes=p["peepholes"])
    # float64, different orders of the same sums: a few ulps
    np.testing.assert_allclose(y, Y[:, 0], rtol=0, atol=1e-13)
    np.testing.assert_allclose(h_n, Y_h[0], rtol=0, atol=1e-13)
    np.testing.assert_allclose(c_n, Y_c[0], rtol=0, atol=1e-13)


@pytest.mark.parametrize("linear_before_reset", [0, 1])
def test_gru_both_resets_equal_onnx_numpy_helper(linear_before_reset):
    GRUHelper = pytest.importorskip(
        "onnx.backend.test.case.node.gru", reason="the onnx package's NumPy helpers"
    ).GRUHelper

    from lstmfast import convert

    rng = np.random.default_rng(12)
    T, B, I, H = 5, 3, 4, 6
    X = rng.standard_normal((T, B, I))
    W, R = 0.5 * rng.standard_normal((1, 3 * H, I)), 0.5 * rng.standard_normal((1, 3 * H, H))
    Bias, h0 = 0.3 * rng.standard_normal((1, 6 * H)), rng.standard_normal((1, B, H))
    helper = GRUHelper(X=X, W=W, R=R, B=Bias, initial_h=h0, linear_before_reset=linear_before_reset)
    Y, Y_h = helper.step()
    p = convert.from_onnx(W, R, Bias, cell="gru")
    y, h_n, _ = ref.gru_forward(X, *p.values(), h0[0], reset_after=bool(linear_before_reset))
    np.testing.assert_allclose(y, Y[:, 0], rtol=0, atol=1e-13)
    np.testing.assert_allclose(h_n, Y_h[0], rtol=0, atol=1e-13)
