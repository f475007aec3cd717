"""The ONNX options under attack: bad values of peepholes, clip, input_forget and
reset_after give an exception naming the argument, from every entry point (the
functional API, the reference, the layers and cells, the compiled module itself,
an ONNX file); and the compiled module's hardening (tests/test_hostile_kernels.py)
holds with the options on: padding past each end never reaches the numbers, a
tape's parts hold zeros there, Ctrl-C stops the GRU whose steps are two products.

NaN and infinity inside the peepholes are not refused: the package's rule for every
weight array (python/lstmfast/_checks.py) is that they propagate."""

from __future__ import annotations

import os
import re
import threading
import time

import numpy as np
import pytest

import lstmfast
from lstmfast import _core
from lstmfast import reference as ref

T, B, I, H = 4, 3, 2, 5
SLOWDOWN = float(os.environ.get("LSTMFAST_TEST_SLOWDOWN", "1"))  # as in tests/test_hostile_kernels.py
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def arrays(cell: str, dtype=np.float32, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    G = GATES[cell] * H
    out = {
        "x": rng.standard_normal((T, B, I)),
        "w_ih": rng.uniform(-0.5, 0.5, (G, I)),
        "w_hh": rng.uniform(-0.5, 0.5, (G, H)),
        "b_ih": rng.uniform(-0.5, 0.5, G),
        "b_hh": rng.uniform(-0.5, 0.5, G),
    }
    return {k: v.astype(dtype) for k, v in out.items()}


def raises(error: type[Exception], message: str):
    return pytest.raises(error, match=re.escape(message))


# -- clip ---------------------------------------------------------------------------------------

BAD_CLIPS = [
    (float("nan"), ValueError, "clip: expected None or a finite number > 0, got nan"),
    (np.float32("nan"), ValueError, "clip: expected None or a finite number > 0, got nan"),
    (-1.0, ValueError, "clip: expected None or a finite number > 0, got -1.0"),
    (0, ValueError, "clip: expected None or a finite number > 0, got 0.0"),
    (float("inf"), ValueError, "clip: expected None or a finite number > 0, got inf"),
    (-np.inf, ValueError, "clip: expected None or a finite number > 0, got -inf"),
    (1e308 * 10, ValueError, "clip: expected None or a finite number > 0, got inf"),
    (10**400, ValueError, "clip: expected None or a finite number > 0, got an int beyond the float range"),
    ("1", TypeError, "clip: expected None or a number > 0, got str '1'"),
    (True, TypeError, "clip: expected None or a number > 0, got bool True"),
    (1 + 2j, TypeError, "clip: expected None or a number > 0, got complex (1+2j)"),
    (np.array([1.0]), TypeError, "clip: expected None or a number > 0, got ndarray array([1.])"),
]


@pytest.mark.parametrize("clip, error, message", BAD_CLIPS, ids=[repr(c[0])[:20] for c in BAD_CLIPS])
@pytest.mark.parametrize("cell", sorted(GATES))
def test_bad_clips_are_refused_by_name_everywhere(cell, clip, error, message):
    a = arrays(cell)
    for forward in (getattr(lstmfast, f"{cell}_forward"), getattr(ref, f"{cell}_forward")):
        with raises(error, message):
            forward(**a, clip=clip)
    layer_class = {"lstm": lstmfast.LSTM, "gru": lstmfast.GRU, "rnn": lstmfast.RNN}[cell]
    cell_class = {"lstm": lstmfast.LSTMCell, "gru": lstmfast.GRUCell, "rnn": lstmfast.RNNCell}[cell]
    for cls in (layer_class, cell_class):
        with raises(error, message):
            cls(I, H, clip=clip)


@pytest.mark.parametrize(
    "clip, error, message",
    [
        (float("nan"), ValueError, "clip: expected None or a finite number > 0, got nan"),
        (-1.0, ValueError, "clip: expected None or a finite number > 0, got -1.0"),
        (0.0, ValueError, "clip: expected None or a finite number > 0, got 0.0"),
        (float("inf"), ValueError, "clip: expected None or a finite number > 0, got inf"),
        (10**400, ValueError, "clip: expected None or a finite number > 0, got an int beyond the float range"),
        ("1", TypeError, "clip: expected None or a number > 0, got str '1'"),
        (True, TypeError, "clip: expected None or a number > 0, got bool True"),
        (np.float32(0.5), TypeError, "clip: expected None or a number > 0, got float32"),
    ],
)
def test_the_compiled_module_refuses_bad_clips_by_name(clip, error, message):
    """The module takes a Python float or int (the package converts NumPy scalars)."""
    a = arrays("rnn")
    with pytest.raises(error, match=re.escape(message)):
        _core.rnn_forward(*a.values(), None, "tanh", False, clip=clip)


def test_a_layer_whose_clip_is_changed_by_hand_still_refuses_a_bad_one():
    layer = lstmfast.GRU(I, H, seed=0, clip=1.0)
    layer.clip = -2.0  # an attribute, checked again at the call
    with raises(ValueError, "clip: expected None or a finite number > 0, got -2.0"):
        layer(arrays("gru")["x"])


# -- peepholes ------------------------------------------------------------------------------------

BAD_PEEPHOLES = [
    ("abc", TypeError, "peepholes: unsupported dtype <U3; expected float32 or float64"),
    (np.zeros(3 * H + 1, np.float32), ValueError, f"peepholes: expected shape (3*H,) = ({3 * H},), got ({3 * H + 1},)"),
    (np.zeros((3, H), np.float32), ValueError, f"peepholes: expected a 1-D array (3*H,), got shape (3, {H})"),
    (np.zeros(3 * H), TypeError, "peepholes: dtype float64 does not match x's dtype float32"),
    (np.zeros(3 * H, complex), TypeError, "peepholes: unsupported dtype complex128; expected float32 or float64"),
    (np.zeros(3 * H, int), TypeError, "peepholes: unsupported dtype int64; expected float32 or float64"),
    (np.zeros(3 * H, object), TypeError, "peepholes: unsupported dtype object; expected float32 or float64"),
    (np.float32(1.5), ValueError, "peepholes: expected a 1-D array (3*H,), got shape ()"),
]


@pytest.mark.parametrize("peepholes, error, message", BAD_PEEPHOLES, ids=[m for *_, m in BAD_PEEPHOLES])
def test_bad_peepholes_are_refused_by_name(peepholes, error, message):
    a = arrays("lstm")
    with raises(error, message):
        lstmfast.lstm_forward(**a, peepholes=peepholes, training=True)
    if error is ValueError:  # the reference computes in float64 and converts what it can
        with raises(error, message):
            ref.lstm_forward(**a, peepholes=peepholes)


def test_peepholes_that_need_a_copy_are_copied_and_never_modified():
    a = arrays("lstm")
    wide = np.linspace(-1, 1, 6 * H).astype(np.float32)
    strided = wide[::2]  # not contiguous
    before = wide.copy()
    y = lstmfast.lstm_forward(**a, peepholes=strided)[0]
    np.testing.assert_array_equal(y, lstmfast.lstm_forward(**a, peepholes=strided.copy())[0])
    np.testing.assert_array_equal(wide, before)


@pytest.mark.parametrize("training", [False, True])
def test_the_compiled_module_refuses_bad_peepholes_by_name(training):
    """Checked before anything is computed or copied into a tape, training or not."""
    a = list(arrays("lstm").values())
    cases = [
        ("abc", TypeError, "peepholes: expected a numpy array or None"),
        (np.zeros(3 * H + 1, np.float32), ValueError, f"peepholes: expected shape ({3 * H},), got ({3 * H + 1},)"),
        (np.zeros(3 * H), TypeError, "peepholes: expected dtype float32, got float64"),
        (np.zeros(6 * H, np.float32)[::2], ValueError, "peepholes: expected a C-contiguous array"),
    ]
    for peepholes, error, message in cases:
        with raises(error, message):
            _core.lstm_forward(*a, None, None, training, peepholes=peepholes)


def test_nan_peepholes_propagate_like_any_weight():
    a = arrays("lstm")
    p = np.zeros(3 * H, np.float32)
    p[0] = np.nan  # unit 0's input gate
    y = lstmfast.lstm_forward(**a, peepholes=p)[0]
    # the first step's unit 0 only; through w_hh it reaches every unit at the next
    assert np.isnan(y[0, :, 0]).all() and np.isfinite(y[0, :, 1:]).all() and np.isnan(y[1:]).all()


def test_a_tape_keeps_its_own_read_only_peepholes():
    a = arrays("lstm", np.float64)
    p = np.linspace(-1, 1, 3 * H)
    y, h, c, tape = lstmfast.lstm_forward(**a, peepholes=p, training=True)
    dy = np.ones_like(y)
    expected = lstmfast.lstm_backward(tape, dy)
    p[:] = 100.0  # the caller's array changes after forward
    with pytest.raises(ValueError, match="read-only"):
        tape.peepholes[0] = 1.0
    got = lstmfast.lstm_backward(tape, dy)
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


# -- flags --------------------------------------------------------------------------------------

BAD_FLAGS = [1, 0, None, "False", 1.0, [True]]


@pytest.mark.parametrize("value", BAD_FLAGS, ids=repr)
def test_flags_must_be_bools_everywhere(value):
    """``reset_after=0`` or ``input_forget=None`` would silently pick a formulation: every
    entry point refuses anything but a bool, naming the argument (NumPy's bools are
    bools to the package)."""
    name = type(value).__name__
    for cell, flag in (("gru", "reset_after"), ("lstm", "input_forget")):
        a = arrays(cell)
        message = f"{flag}: expected a bool, got {name} {value!r}"
        for forward in (getattr(lstmfast, f"{cell}_forward"), getattr(ref, f"{cell}_forward")):
            with raises(TypeError, message):
                forward(**a, **{flag: value})
        layer_class, cell_class = {
            "gru": (lstmfast.GRU, lstmfast.GRUCell),
            "lstm": (lstmfast.LSTM, lstmfast.LSTMCell),
        }[cell]
        for cls in (layer_class, cell_class):
            if value is None:  # the layers' one signature for every cell: None is the cell's default
                made = cls(I, H, **{flag: value})
                layer = made if cls is layer_class else made._layer
                assert getattr(layer, flag) is dict(layer_class.cell.flags)[flag]
                continue
            with raises(TypeError, message):
                cls(I, H, **{flag: value})
        states = (None,) * (2 if cell == "lstm" else 1)
        with raises(TypeError, message):  # the compiled module: no conversion of None, 0 or 1
            getattr(_core, f"{cell}_forward")(*a.values(), *states, False, **{flag: value})


def test_numpy_bools_are_bools_to_the_package():
    a = arrays("gru")
    np.testing.assert_array_equal(
        lstmfast.gru_forward(**a, reset_after=np.False_)[0], lstmfast.gru_forward(**a, reset_after=False)[0]
    )


def test_options_a_cell_does_not_have_are_refused_by_the_functions():
    with pytest.raises(TypeError, match="reset_after"):
        lstmfast.lstm_forward(**arrays("lstm"), reset_after=False)
    with pytest.raises(TypeError, match="peepholes"):
        lstmfast.gru_forward(**arrays("gru"), peepholes=np.zeros(3 * H, np.float32))


# -- an ONNX file's attributes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"clip": -1.0}, "clip"),
        ({"clip": float("nan")}, "clip"),
        ({"clip": float("inf")}, "clip"),
        ({"input_forget": 2}, "input_forget=2 is not 0 or 1"),
        ({"layout": 2}, "layout=2 is not 0 or 1"),
        ({"activations": ["Relu", "Tanh", "Tanh"]}, "activations"),
        ({"activation_alpha": [1.0]}, "activation_alpha"),
    ],
)
def test_onnx_attributes_the_kernels_cannot_honour_are_refused_by_name(tmp_path, attributes, message):
    pytest.importorskip("onnx")
    from lstmfast.integrations import onnx as lonnx
    from test_onnx_io import node_model

    path = node_model(tmp_path, "LSTM", 4, inputs_=["x", "W", "R", "B"], extra={}, **attributes)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        lonnx.load(path)
    assert "LSTM" in str(info.value)  # the node is named too


# -- the compiled module's hardening, with the options on ---------------------------------------------

OPTION_SETS = [
    ("lstm", {"peepholes": True}),
    ("lstm", {"input_forget": True, "clip": 0.7}),
    ("lstm", {"peepholes": True, "input_forget": True, "clip": 0.7}),
    ("gru", {"reset_after": False}),
    ("gru", {"clip": 0.6}),
    ("gru", {"reset_after": False, "clip": 0.6}),
    ("rnn", {"clip": 0.5}),
]
IDS = [f"{c}-{'+'.join(o)}" for c, o in OPTION_SETS]


def with_values(cell: str, options: dict, dtype) -> dict:
    out = dict(options)
    if options.get("peepholes"):
        out["peepholes"] = np.linspace(-1, 1, 3 * H).astype(dtype)
    return out


@pytest.mark.parametrize("cell, options", OPTION_SETS, ids=IDS)
@pytest.mark.parametrize("reverse", [False, True])
def test_nan_padding_does_not_reach_the_numbers_with_options(isa, cell, options, reverse):
    """Past each end (a sequence of length 0 included) x may hold NaN: outputs,
    final states and every gradient are those of zero padding, exactly."""
    a = arrays(cell, np.float64, seed=2)
    kw = {**with_values(cell, options, np.float64), "lengths": np.array([T, 0, 2]), "reverse": reverse}
    clean, dirty = a["x"].copy(), a["x"].copy()
    for b, n in enumerate(kw["lengths"]):
        clean[n:, b] = 0.0
        dirty[n:, b] = np.nan
    fwd, bwd = getattr(lstmfast, f"{cell}_forward"), getattr(lstmfast, f"{cell}_backward")
    out_clean = fwd(**{**a, "x": clean}, **kw, training=True)
    out_dirty = fwd(**{**a, "x": dirty}, **kw, training=True)
    for p, q in zip(out_clean[:-1], out_dirty[:-1]):
        np.testing.assert_array_equal(p, q)
    rng = np.random.default_rng(3)
    seeds = [rng.standard_normal(o.shape) for o in out_clean[:-1]]
    g_clean, g_dirty = bwd(out_clean[-1], *seeds), bwd(out_dirty[-1], *seeds)
    assert g_clean.keys() == g_dirty.keys()
    for key, value in g_clean.items():
        if value is not None:
            assert np.isfinite(g_dirty[key]).all(), key
            np.testing.assert_array_equal(g_dirty[key], value, err_msg=key)


@pytest.mark.parametrize("cell, options", [o for o in OPTION_SETS if o[0] != "rnn"], ids=IDS[:-1])
def test_tape_gates_hold_zeros_past_each_end_with_options(cell, options):
    x = np.ones((5, 3, I), np.float32)
    a = {**arrays(cell), "x": x}
    tape = getattr(lstmfast, f"{cell}_forward")(
        **a, **with_values(cell, options, np.float32), training=True, lengths=np.array([5, 2, 0])
    )[-1]
    gates = tape.gates
    assert np.all(gates[2:, 1] == 0) and np.any(gates[:2, 1] != 0)
    assert np.all(gates[:, 2] == 0)


@pytest.mark.parametrize("cell", sorted(GATES))
def test_a_clipped_tape_counts_its_pre_activations(cell):
    a = arrays(cell)
    fwd = getattr(lstmfast, f"{cell}_forward")
    plain, clipped = fwd(**a, training=True)[-1], fwd(**a, training=True, clip=1.0)[-1]
    assert clipped.nbytes - plain.nbytes == T * B * GATES[cell] * H * 4
    assert clipped.clip == 1.0 and plain.clip is None


def test_a_tape_with_a_length_zero_changed_to_minus_one_is_refused():
    *_, tape = lstmfast.gru_forward(**arrays("gru"), training=True, lengths=np.array([4, 0, 2]), reset_after=False)
    tape.lengths.flags.writeable = True
    tape.lengths[1] = -1
    with raises(ValueError, "lengths: every length must be in [0, T] = [0, 4], got -1 at index 1"):
        _core.gru_backward(tape, np.zeros((T, B, H), np.float32), None)


def interrupt_after(seconds: float) -> list[float]:
    sent: list[float] = []

    def send():
        sent.append(time.perf_counter())
        import _thread

        _thread.interrupt_main()

    threading.Timer(seconds, send).start()
    return sent


@pytest.mark.parametrize("training", [False, True])
def test_ctrl_c_stops_the_gru_of_two_products_per_step(training):
    """The GRU with reset_after=False takes two products per step (two phases, two
    barriers): Ctrl-C still stops it within a blink, forward and backward. Allowance
    as in tests/test_hostile_kernels.py: 0.5 s on this shared machine (times
    LSTMFAST_TEST_SLOWDOWN under the sanitizers)."""
    rng = np.random.default_rng(4)
    Tn, Hn = 30_000, 1024  # B = 1: slow steps (~65 us) over little memory (the tape ~0.6 GB)
    x = rng.standard_normal((Tn, 1, 8)).astype(np.float32)
    w = [rng.uniform(-0.05, 0.05, s).astype(np.float32) for s in ((3 * Hn, 8), (3 * Hn, Hn))] + [None, None]
    start = time.perf_counter()
    lstmfast.gru_forward(x[:1_000], *w, reset_after=False, training=training)
    assert (time.perf_counter() - start) * Tn / 1_000 > 1.0, "the call must take long enough to be interrupted"
    sent = interrupt_after(0.1)
    with pytest.raises(KeyboardInterrupt):
        lstmfast.gru_forward(x, *w, reset_after=False, training=training)
        time.sleep(5)  # only if the call finished first: the interrupt lands here, which fails below
    assert time.perf_counter() - sent[0] < 0.5 * SLOWDOWN
    if training:
        y, _, tape = lstmfast.gru_forward(x[:20_000], *w, reset_after=False, training=True)
        sent = interrupt_after(0.05)
        with pytest.raises(KeyboardInterrupt):
            lstmfast.gru_backward(tape, np.ones_like(y))
            time.sleep(5)
        assert time.perf_counter() - sent[0] < 0.5 * SLOWDOWN
    small = x[:10]
    np.testing.assert_array_equal(  # the module still works
        lstmfast.gru_forward(small, *w, reset_after=False)[0], lstmfast.gru_forward(small, *w, reset_after=False)[0]
    )
