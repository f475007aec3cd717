"""Bad input gives a clear exception naming the argument; good input is normalised."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lstmfast
from lstmfast import reference as ref
from lstmfast._checks import (
    check_grad,
    check_gru_args,
    check_lengths,
    check_lstm_args,
    check_nonlinearity,
    check_reverse,
    check_rnn_args,
)

T, B, I, H = 5, 3, 2, 4

# The public functions of both paths must report the same errors.
impls = pytest.mark.parametrize("impl", [ref, lstmfast], ids=["reference", "fast"])


def lstm_args(dtype=np.float64, **override):
    args = {
        "x": np.zeros((T, B, I), dtype),
        "w_ih": np.zeros((4 * H, I), dtype),
        "w_hh": np.zeros((4 * H, H), dtype),
        "b_ih": np.zeros(4 * H, dtype),
        "b_hh": np.zeros(4 * H, dtype),
        "h0": np.zeros((B, H), dtype),
        "c0": np.zeros((B, H), dtype),
    }
    args.update(override)
    return args


def rnn_args(dtype=np.float64, **override):
    args = {
        "x": np.zeros((T, B, I), dtype),
        "w_ih": np.zeros((H, I), dtype),
        "w_hh": np.zeros((H, H), dtype),
        "b_ih": np.zeros(H, dtype),
        "b_hh": np.zeros(H, dtype),
        "h0": np.zeros((B, H), dtype),
    }
    args.update(override)
    return args


def raises(exc, message):
    """pytest.raises matching ``message`` literally (not as a regex)."""
    return pytest.raises(exc, match=re.escape(message))


# ---------------------------------------------------------------- shapes

LSTM_SHAPE_CASES = [
    ({"x": np.zeros((T, B))}, "x: expected a 3-D array (T, B, I), got shape (5, 3)"),
    ({"x": np.zeros((1, T, B, I))}, "x: expected a 3-D array (T, B, I), got shape (1, 5, 3, 2)"),
    ({"w_hh": np.zeros(4 * H)}, "w_hh: expected a 2-D array (4*H, H), got shape (16,)"),
    ({"w_hh": np.zeros((4 * H, H - 1))}, "w_hh: expected shape (4*H, H) = (12, 3), got (16, 3)"),
    ({"w_hh": np.zeros((H, H))}, "w_hh: expected shape (4*H, H) = (16, 4), got (4, 4)"),
    ({"w_ih": np.zeros((4 * H, I, 1))}, "w_ih: expected a 2-D array (4*H, I), got shape (16, 2, 1)"),
    ({"w_ih": np.zeros((4 * H, I + 1))}, "w_ih: expected shape (4*H, I) = (16, 2), got (16, 3)"),
    ({"w_ih": np.zeros((3 * H, I))}, "w_ih: expected shape (4*H, I) = (16, 2), got (12, 2)"),
    ({"b_ih": np.zeros(H)}, "b_ih: expected shape (4*H,) = (16,), got (4,)"),
    ({"b_ih": np.zeros((4 * H, 1))}, "b_ih: expected a 1-D array (4*H,), got shape (16, 1)"),
    ({"b_hh": np.zeros(4 * H + 1)}, "b_hh: expected shape (4*H,) = (16,), got (17,)"),
    ({"h0": np.zeros((B + 1, H))}, "h0: expected shape (B, H) = (3, 4), got (4, 4)"),
    ({"h0": np.zeros((1, B, H))}, "h0: expected a 2-D array (B, H), got shape (1, 3, 4)"),
    ({"c0": np.zeros((B, H + 1))}, "c0: expected shape (B, H) = (3, 4), got (3, 5)"),
    (
        {"x": np.zeros((T, B, 0)), "w_ih": np.zeros((4 * H, 0))},
        "x: input size I = x.shape[2] must be >= 1, got shape (5, 3, 0)",
    ),
    ({"w_hh": np.zeros((0, 0))}, "w_hh: hidden size H = w_hh.shape[1] must be >= 1, got shape (0, 0)"),
]


@pytest.mark.parametrize("override,message", LSTM_SHAPE_CASES)
@impls
def test_lstm_shape_errors(override, message, impl):
    with raises(ValueError, message):
        check_lstm_args(**lstm_args(**override))
    with raises(ValueError, message):  # the public function reports the same
        impl.lstm_forward(**lstm_args(**override))


RNN_SHAPE_CASES = [
    ({"w_hh": np.zeros((H, H + 1))}, "w_hh: expected shape (H, H) = (5, 5), got (4, 5)"),
    ({"w_hh": np.zeros((4 * H, H))}, "w_hh: expected shape (H, H) = (4, 4), got (16, 4)"),
    ({"w_ih": np.zeros((H, I + 2))}, "w_ih: expected shape (H, I) = (4, 2), got (4, 4)"),
    ({"b_ih": np.zeros(4 * H)}, "b_ih: expected shape (H,) = (4,), got (16,)"),
    ({"b_hh": np.zeros((H, 1))}, "b_hh: expected a 1-D array (H,), got shape (4, 1)"),
    ({"h0": np.zeros((B, H - 1))}, "h0: expected shape (B, H) = (3, 4), got (3, 3)"),
]


@pytest.mark.parametrize("override,message", RNN_SHAPE_CASES)
@impls
def test_rnn_shape_errors(override, message, impl):
    with raises(ValueError, message):
        check_rnn_args(**rnn_args(**override), nonlinearity="tanh")
    with raises(ValueError, message):
        impl.rnn_forward(**rnn_args(**override))


def test_ragged_input_is_a_value_error():
    with raises(ValueError, "x: cannot be converted to an array"):
        check_lstm_args(**lstm_args(x=[[[1.0], [1.0, 2.0]]]))


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float16, np.complex128, object, bool])
def test_unsupported_dtype(dtype):
    with raises(TypeError, f"x: unsupported dtype {np.dtype(dtype)}; expected float32 or float64"):
        check_lstm_args(**lstm_args(x=np.zeros((T, B, I), dtype)))
    with raises(TypeError, f"b_hh: unsupported dtype {np.dtype(dtype)}"):
        check_rnn_args(**rnn_args(b_hh=np.zeros(H, dtype)), nonlinearity="relu")


def test_mixed_dtypes_name_every_offender():
    msg = "w_hh: dtype float64 does not match x's dtype float32; all arrays of one call must share a dtype"
    with raises(TypeError, msg):
        check_lstm_args(**lstm_args(np.float32, w_hh=np.zeros((4 * H, H))))
    with pytest.raises(
        TypeError,
        match=r"b_ih: dtype float32 does not match x's dtype float64; "
        r"c0: dtype float32 does not match x's dtype float64",
    ):
        check_lstm_args(**lstm_args(b_ih=np.zeros(4 * H, np.float32), c0=np.zeros((B, H), np.float32)))
    with raises(TypeError, "h0: dtype float32 does not match x's dtype float64"):
        ref.rnn_forward(**rnn_args(h0=np.zeros((B, H), np.float32)))


def test_float32_and_none_defaults():
    a = check_lstm_args(**lstm_args(np.float32, h0=None, c0=None, b_ih=None, b_hh=None))
    assert a.dtype == np.float32 and (a.T, a.B, a.I, a.H) == (T, B, I, H)
    assert a.b_ih is None and a.b_hh is None
    for s in (a.h0, a.c0):
        assert s.shape == (B, H) and s.dtype == np.float32 and not s.any()
    r = check_rnn_args(**rnn_args(np.float32, h0=None), nonlinearity="relu")
    assert r.h0.dtype == np.float32 and r.h0.shape == (B, H) and r.H == H


def test_big_endian_input_is_converted():
    x = np.zeros((T, B, I), dtype=">f8")
    a = check_lstm_args(**lstm_args(x=x))
    assert a.x.dtype == np.float64 and a.x.dtype.isnative


# ---------------------------------------------------------------- layouts


@pytest.mark.parametrize("T_,B_", [(0, B), (T, 0), (0, 0)])
def test_empty_time_and_batch_are_allowed(T_, B_):
    a = check_lstm_args(**lstm_args(x=np.zeros((T_, B_, I)), h0=None, c0=np.zeros((B_, H))))
    assert (a.T, a.B) == (T_, B_) and a.h0.shape == (B_, H)


def test_contiguous_input_is_not_copied_and_awkward_input_is_normalised():
    args = lstm_args()
    a = check_lstm_args(**args)
    for k in ("x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0"):
        assert getattr(a, k) is args[k], k

    w = np.asfortranarray(np.arange(4.0 * H * H).reshape(4 * H, H))
    x = np.zeros((T, B, 2 * I))[:, :, ::2]  # non-contiguous view
    x_ro = np.ones((T, B, I))
    x_ro.flags.writeable = False
    for kw in ({"w_hh": w, "x": x}, {"x": x_ro}, {"x": np.zeros((T, B, I)).tolist()}):
        a = check_lstm_args(**lstm_args(**kw))
        assert all(arr.flags.c_contiguous and arr.flags.aligned for arr in a[:7])
    np.testing.assert_array_equal(check_lstm_args(**lstm_args(w_hh=w)).w_hh, w)
    assert check_lstm_args(**lstm_args(x=x_ro)).x is x_ro  # read-only is fine, no copy needed
    assert w.flags.f_contiguous and not x.flags.c_contiguous  # inputs untouched


# ---------------------------------------------------------------- nonlinearity


def test_nonlinearity():
    assert check_nonlinearity("tanh") == "tanh" and check_nonlinearity("relu") == "relu"
    with raises(ValueError, "nonlinearity: expected one of ('tanh', 'relu'), got 'sigmoid'"):
        check_nonlinearity("sigmoid")
    with raises(ValueError, "got 'Tanh'"):
        ref.rnn_forward(**rnn_args(), nonlinearity="Tanh")
    with raises(TypeError, "nonlinearity: expected a str, one of ('tanh', 'relu'), got NoneType"):
        check_rnn_args(**rnn_args(), nonlinearity=None)


# ---------------------------------------------------------------- gradients and tapes


def test_check_grad():
    assert check_grad("dh_n", None, (B, H), np.float64) is None
    dy = np.zeros((T, B, H))
    assert check_grad("dy", dy, (T, B, H), np.float64) is dy
    with raises(ValueError, "dy: expected shape (T, B, H) = (5, 3, 4), got (5, 3, 3)"):
        check_grad("dy", np.zeros((T, B, H - 1)), (T, B, H), np.float64)
    with raises(ValueError, "dy: expected a 3-D array (T, B, H), got shape (5, 3)"):
        check_grad("dy", np.zeros((T, B)), (T, B, H), np.float64)
    with raises(TypeError, "dy: dtype float64 does not match the forward pass dtype float32"):
        check_grad("dy", dy, (T, B, H), np.float32)
    with raises(TypeError, "dc_n: unsupported dtype int64"):
        check_grad("dc_n", np.zeros((B, H), int), (B, H), np.float64)


@impls
def test_backward_checks_its_gradients(impl):
    _, _, _, tape = impl.lstm_forward(**lstm_args(), training=True)
    with raises(ValueError, "dy: expected shape (T, B, H) = (5, 3, 4), got (5, 3, 2)"):
        impl.lstm_backward(tape, np.zeros((T, B, 2)))
    with raises(ValueError, "dh_n: expected shape (B, H) = (3, 4), got (4, 3)"):
        impl.lstm_backward(tape, np.zeros((T, B, H)), np.zeros((H, B)))
    with raises(ValueError, "dc_n: expected a 2-D array (B, H), got shape (3, 4, 1)"):
        impl.lstm_backward(tape, np.zeros((T, B, H)), None, np.zeros((B, H, 1)))
    with raises(TypeError, "dy: dtype float32 does not match the forward pass dtype float64"):
        impl.lstm_backward(tape, np.zeros((T, B, H), np.float32))
    _, _, rtape = impl.rnn_forward(**rnn_args(), training=True)
    with raises(ValueError, "dh_n: expected a 2-D array (B, H), got shape (4,)"):
        impl.rnn_backward(rtape, np.zeros((T, B, H)), np.zeros(H))


@impls
def test_backward_on_none_tape(impl):
    with raises(ValueError, "lstm_backward: tape is None; call lstm_forward(..., training=True)"):
        impl.lstm_backward(None, np.zeros((T, B, H)))
    with raises(ValueError, "rnn_backward: tape is None; call rnn_forward(..., training=True)"):
        impl.rnn_backward(None, np.zeros((T, B, H)))
    with raises(TypeError, "lstm_backward: expected the LSTMTape returned by lstm_forward"):
        impl.lstm_backward({"not": "a tape"}, np.zeros((T, B, H)))


@impls
def test_public_functions_reject_bad_dtypes_values_and_tapes(impl):
    with raises(TypeError, "w_hh: dtype float64 does not match x's dtype float32"):
        impl.lstm_forward(**lstm_args(np.float32, w_hh=np.zeros((4 * H, H))))
    with raises(TypeError, "x: unsupported dtype int64"):
        impl.rnn_forward(**rnn_args(x=np.zeros((T, B, I), np.int64)))
    with raises(ValueError, "nonlinearity: expected one of ('tanh', 'relu'), got 'sigmoid'"):
        impl.rnn_forward(**rnn_args(), nonlinearity="sigmoid")
    with raises(TypeError, "nonlinearity: expected a str"):
        impl.rnn_forward(**rnn_args(), nonlinearity=None)
    _, _, rtape = impl.rnn_forward(**rnn_args(), training=True)
    with raises(TypeError, "lstm_backward: expected the LSTMTape returned by lstm_forward"):
        impl.lstm_backward(rtape, np.zeros((T, B, H)))
    _, _, _, ltape = impl.lstm_forward(**lstm_args(), training=True)
    with raises(TypeError, "rnn_backward: expected the RNNTape returned by rnn_forward"):
        impl.rnn_backward(ltape, np.zeros((T, B, H)))


def test_compiled_module_checks_its_buffers_too():
    """lstmfast._core is private, but called directly it must raise, not crash."""
    from lstmfast import _core

    a = lstm_args()
    args = [a["x"], a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"], a["h0"], a["c0"]]
    with raises(ValueError, "x: expected a C-contiguous array"):
        _core.lstm_forward(np.asfortranarray(np.zeros((T, B, I + 1)))[:, :, :I], *args[1:], False)
    with raises(TypeError, "w_hh: expected dtype float64, got float32"):
        _core.lstm_forward(*args[:2], a["w_hh"].astype(np.float32), *args[3:], False)
    with raises(ValueError, "h0: expected shape (3, 4), got (4, 3)"):
        _core.lstm_forward(*args[:5], np.zeros((H, B)), a["c0"], False)
    with raises(TypeError, "x: expected dtype float32 or float64, got int64"):
        _core.rnn_forward(np.zeros((T, B, I), np.int64), *list(rnn_args().values())[1:], "tanh", False)
    with raises(ValueError, "nonlinearity: expected 'tanh' or 'relu', got 'elu'"):
        _core.rnn_forward(*rnn_args().values(), "elu", False)


# ---------------------------------------------------------------- GRU shapes
# (reference only for now; the fast path joins through `impls` once it has a GRU)


def gru_args(dtype=np.float64, **override):
    args = {
        "x": np.zeros((T, B, I), dtype),
        "w_ih": np.zeros((3 * H, I), dtype),
        "w_hh": np.zeros((3 * H, H), dtype),
        "b_ih": np.zeros(3 * H, dtype),
        "b_hh": np.zeros(3 * H, dtype),
        "h0": np.zeros((B, H), dtype),
    }
    args.update(override)
    return args


GRU_SHAPE_CASES = [
    ({"w_hh": np.zeros((4 * H, H))}, "w_hh: expected shape (3*H, H) = (12, 4), got (16, 4)"),
    ({"w_hh": np.zeros((3 * H, H + 1))}, "w_hh: expected shape (3*H, H) = (15, 5), got (12, 5)"),
    ({"w_hh": np.zeros(3 * H)}, "w_hh: expected a 2-D array (3*H, H), got shape (12,)"),
    ({"w_ih": np.zeros((4 * H, I))}, "w_ih: expected shape (3*H, I) = (12, 2), got (16, 2)"),
    ({"w_ih": np.zeros((3 * H, I + 1))}, "w_ih: expected shape (3*H, I) = (12, 2), got (12, 3)"),
    ({"b_ih": np.zeros(4 * H)}, "b_ih: expected shape (3*H,) = (12,), got (16,)"),
    ({"b_hh": np.zeros((3 * H, 1))}, "b_hh: expected a 1-D array (3*H,), got shape (12, 1)"),
    ({"h0": np.zeros((B, H + 1))}, "h0: expected shape (B, H) = (3, 4), got (3, 5)"),
    ({"x": np.zeros((T, B))}, "x: expected a 3-D array (T, B, I), got shape (5, 3)"),
]


@pytest.mark.parametrize("override,message", GRU_SHAPE_CASES)
@impls
def test_gru_shape_errors(override, message, impl):
    with raises(ValueError, message):
        check_gru_args(**gru_args(**override))
    with raises(ValueError, message):
        impl.gru_forward(**gru_args(**override))


def test_gru_args_dtypes_and_defaults():
    a = check_gru_args(**gru_args(np.float32, h0=None, b_ih=None))
    assert a.dtype == np.float32 and (a.T, a.B, a.I, a.H) == (T, B, I, H)
    assert a.b_ih is None and a.h0.shape == (B, H) and a.h0.dtype == np.float32 and not a.h0.any()
    with raises(TypeError, "b_hh: dtype float32 does not match x's dtype float64"):
        ref.gru_forward(**gru_args(b_hh=np.zeros(3 * H, np.float32)))
    with raises(TypeError, "x: unsupported dtype int64"):
        ref.gru_forward(**gru_args(x=np.zeros((T, B, I), np.int64)))


@impls
def test_gru_backward_checks_its_gradients_and_tape(impl):
    _, _, tape = impl.gru_forward(**gru_args(), training=True)
    with raises(ValueError, "dy: expected shape (T, B, H) = (5, 3, 4), got (5, 3, 2)"):
        impl.gru_backward(tape, np.zeros((T, B, 2)))
    with raises(ValueError, "dh_n: expected shape (B, H) = (3, 4), got (4, 3)"):
        impl.gru_backward(tape, np.zeros((T, B, H)), np.zeros((H, B)))
    with raises(TypeError, "dy: dtype float32 does not match the forward pass dtype float64"):
        impl.gru_backward(tape, np.zeros((T, B, H), np.float32))
    with raises(ValueError, "gru_backward: tape is None; call gru_forward(..., training=True)"):
        impl.gru_backward(None, np.zeros((T, B, H)))
    _, _, _, ltape = impl.lstm_forward(**lstm_args(), training=True)
    with raises(
        TypeError, "gru_backward: expected the GRUTape returned by gru_forward(..., training=True), got LSTMTape"
    ):
        impl.gru_backward(ltape, np.zeros((T, B, H)))
    with raises(TypeError, "lstm_backward: expected the LSTMTape returned by lstm_forward"):
        impl.lstm_backward(tape, np.zeros((T, B, H)))


# ---------------------------------------------------------------- lengths and reverse


def test_check_lengths_accepts_and_normalises():
    assert check_lengths(None, T, B) is None
    for given in ([5, 1, 3], (5, 1, 3), np.array([5, 1, 3], np.uint8), np.array([5, 1, 3], ">i2")):
        out = check_lengths(given, T, B)
        assert out.dtype == np.int64 and out.dtype.isnative and out.tolist() == [5, 1, 3]
    given = np.array([5, 1, 3])
    saved = given.copy()
    out = check_lengths(given, T, B)
    assert out is not given and not np.shares_memory(out, given)  # a copy, never the input
    out[:] = 0
    np.testing.assert_array_equal(given, saved)


@pytest.mark.parametrize(
    "lengths,message",
    [
        ([5, 1], "lengths: expected shape (B,) = (3,), got (2,)"),
        ([5, 1, 3, 2], "lengths: expected shape (B,) = (3,), got (4,)"),
        ([[5, 1, 3]], "lengths: expected a 1-D array (B,), got shape (1, 3)"),
        (4, "lengths: expected a 1-D array (B,), got shape ()"),
        ([[1], [2, 3]], "lengths: cannot be converted to an array"),
    ],
)
def test_lengths_shape_errors(lengths, message):
    with raises(ValueError, message):
        check_lengths(lengths, T, B)


@pytest.mark.parametrize(
    "lengths,dtype",
    [
        ([5.0, 1.0, 3.0], "float64"),
        (np.array([5, 1, 3], np.float32), "float32"),
        ([True, True, False], "bool"),
        (["5", "1", "3"], "<U1"),
        (np.array([5, 1, 3], object), "object"),
    ],
)
def test_lengths_must_be_integers(lengths, dtype):
    with raises(TypeError, f"lengths: expected an integer array, got dtype {dtype}"):
        check_lengths(lengths, T, B)


@pytest.mark.parametrize(
    "lengths,message",
    [
        ([5, 0, 3], "lengths: every length must be in [1, T] = [1, 5], got 0 at index 1"),
        ([6, 1, 3], "lengths: every length must be in [1, T] = [1, 5], got 6 at index 0"),
        ([5, 1, -2], "got -2 at index 2"),
        ([0, 1, 9], "got 0 at index 0, 9 at index 2"),
        (np.array([2**63, 1, 1], np.uint64), f"got {2**63} at index 0"),
    ],
)
def test_lengths_out_of_range(lengths, message):
    with raises(ValueError, message):
        check_lengths(lengths, T, B)


def test_many_bad_lengths_are_counted_not_all_listed():
    with raises(
        ValueError, "got 0 at index 0, 0 at index 1, 0 at index 2, 0 at index 3, 0 at index 4 (8 invalid in all)"
    ):
        check_lengths(np.zeros(8, int), 50, 8)
    with raises(ValueError, "lengths: every length must be in [1, T] = [1, 50], got 0 at index 3"):
        check_lengths([1, 50, 7, 0], 50, 4)


def test_lengths_with_empty_batch_or_empty_time():
    for empty in ([], np.zeros(0, np.int32), np.zeros(0)):  # [] converts to float64: accepted
        out = check_lengths(empty, T, 0)
        assert out.shape == (0,) and out.dtype == np.int64
        assert check_lengths(empty, 0, 0).shape == (0,)
    with raises(ValueError, "lengths: expected shape (B,) = (0,), got (1,)"):
        check_lengths([1], T, 0)
    with raises(ValueError, "lengths: every length must be in [1, T], but T = x.shape[0] = 0"):
        check_lengths([1, 1, 1], 0, B)
    # the recurrent functions accept empty sequences, so T = 0 with lengths 0 too
    np.testing.assert_array_equal(check_lengths([0, 0, 0], 0, B, empty_allowed=True), [0, 0, 0])
    with raises(ValueError, "lengths: every length must be in [0, T] = [0, 0], got 1 at index 2"):
        check_lengths([0, 0, 1], 0, B, empty_allowed=True)
    for impl in (ref, lstmfast):
        y, h_n, _, _ = impl.lstm_forward(**lstm_args(x=np.zeros((0, B, I))), lengths=[0, 0, 0])
        assert y.shape == (0, B, H) and not h_n.any()


def test_check_reverse():
    assert check_reverse(True) is True and check_reverse(False) is False
    assert check_reverse(np.bool_(True)) is True
    for bad, name in ((1, "int"), (None, "NoneType"), ("yes", "str"), (np.int64(0), "int64")):
        with raises(TypeError, f"reverse: expected a bool, got {name}"):
            check_reverse(bad)


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
@impls
def test_forward_functions_check_lengths_and_reverse(cell, impl):
    fwd, args = {
        "lstm": (impl.lstm_forward, lstm_args),
        "rnn": (impl.rnn_forward, rnn_args),
        "gru": (impl.gru_forward, gru_args),
    }[cell]
    with raises(ValueError, "lengths: every length must be in [0, T] = [0, 5], got 6 at index 2"):
        fwd(**args(), lengths=[5, 1, 6])
    with raises(ValueError, "lengths: every length must be in [0, T] = [0, 5], got -1 at index 0"):
        fwd(**args(), lengths=[-1, 1, 2])
    with raises(ValueError, "lengths: expected shape (B,) = (3,), got (2,)"):
        fwd(**args(), lengths=[5, 1])
    with raises(TypeError, "lengths: expected an integer array, got dtype float64"):
        fwd(**args(), lengths=np.array([5.0, 1.0, 2.0]))
    with raises(TypeError, "reverse: expected a bool, got int"):
        fwd(**args(), reverse=1)
    with raises(TypeError, "reverse: expected a bool, got str"):
        fwd(**args(), lengths=[1, 2, 3], reverse="True")
    # the arrays are checked first, then lengths, then reverse
    with raises(ValueError, "h0: expected shape (B, H)"):
        fwd(**args(h0=np.zeros((B + 1, H))), lengths=[0, 0, 9], reverse=1)
    with raises(ValueError, "lengths:"):
        fwd(**args(), lengths=[0, 0, 9], reverse=1)
